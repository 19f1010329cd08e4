#include "bus/go_json.hpp"

#include <boost/json/value.hpp>
#include <charconv>
#include <cmath>
#include <cstdint>

namespace kedge::bus {
namespace {

constexpr char kHex[] = "0123456789abcdef";

// Characters that need no escaping in Go's default (HTML-safe) mode.
constexpr bool plain_ascii(unsigned char c) {
    return c >= 0x20 && c < 0x80 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&';
}

// Length of a valid UTF-8 sequence starting at s[i], or 0 when it is invalid.
std::size_t utf8_length(std::string_view s, std::size_t i, std::uint32_t& cp) {
    auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
    unsigned char c = b(0);
    std::size_t n = s.size() - i;
    if (c >= 0xc2 && c <= 0xdf) {
        if (n < 2 || (b(1) & 0xc0) != 0x80) return 0;
        cp = ((c & 0x1fu) << 6) | (b(1) & 0x3fu);
        return 2;
    }
    if (c >= 0xe0 && c <= 0xef) {
        if (n < 3 || (b(1) & 0xc0) != 0x80 || (b(2) & 0xc0) != 0x80) return 0;
        cp = ((c & 0x0fu) << 12) | ((b(1) & 0x3fu) << 6) | (b(2) & 0x3fu);
        if (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
        return 3;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        if (n < 4 || (b(1) & 0xc0) != 0x80 || (b(2) & 0xc0) != 0x80 || (b(3) & 0xc0) != 0x80)
            return 0;
        cp = ((c & 0x07u) << 18) | ((b(1) & 0x3fu) << 12) | ((b(2) & 0x3fu) << 6) | (b(3) & 0x3fu);
        if (cp < 0x10000 || cp > 0x10ffff) return 0;
        return 4;
    }
    return 0;
}

void append_u(std::string& out, unsigned v) {
    char buf[6] = {
        '\\',         'u', kHex[(v >> 12) & 0xf], kHex[(v >> 8) & 0xf], kHex[(v >> 4) & 0xf],
        kHex[v & 0xf]};
    out.append(buf, 6);
}

template <class Int>
void append_int(std::string& out, Int v) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
}

}  // namespace

void append_go_string(std::string& out, std::string_view s) {
    out.push_back('"');
    std::size_t i = 0, run = 0;
    while (i < s.size()) {
        auto c = static_cast<unsigned char>(s[i]);
        if (plain_ascii(c)) {
            ++i;
            continue;
        }
        out.append(s.data() + run, i - run);
        if (c < 0x80) {
            switch (c) {
                case '"':
                    out.append("\\\"");
                    break;
                case '\\':
                    out.append("\\\\");
                    break;
                case '\b':
                    out.append("\\b");
                    break;
                case '\f':
                    out.append("\\f");
                    break;
                case '\n':
                    out.append("\\n");
                    break;
                case '\r':
                    out.append("\\r");
                    break;
                case '\t':
                    out.append("\\t");
                    break;
                default:
                    append_u(out, c);
                    break;
            }
            ++i;
        } else {
            std::uint32_t cp = 0;
            std::size_t len = utf8_length(s, i, cp);
            if (len == 0) {
                out.append("\\ufffd");
                ++i;
            } else if (cp == 0x2028 || cp == 0x2029) {
                append_u(out, cp);
                i += len;
            } else {
                out.append(s.data() + i, len);
                i += len;
            }
        }
        run = i;
    }
    out.append(s.data() + run, s.size() - run);
    out.push_back('"');
}

void append_go_double(std::string& out, double d) {
    if (!std::isfinite(d)) {
        out.append("null");
        return;
    }
    char buf[64];
    double a = std::fabs(d);
    bool exp_form = a != 0 && (a < 1e-6 || a >= 1e21);
    auto r = std::to_chars(buf, buf + sizeof buf, d,
                           exp_form ? std::chars_format::scientific : std::chars_format::fixed);
    std::size_t n = static_cast<std::size_t>(r.ptr - buf);
    // Go writes e-7, not e-07.
    if (exp_form && n >= 4 && buf[n - 4] == 'e' && buf[n - 3] == '-' && buf[n - 2] == '0') {
        buf[n - 2] = buf[n - 1];
        --n;
    }
    out.append(buf, n);
}

void append_go_json(std::string& out, const boost::json::value& v) {
    switch (v.kind()) {
        case boost::json::kind::null:
            out.append("null");
            break;
        case boost::json::kind::bool_:
            out.append(v.get_bool() ? "true" : "false");
            break;
        case boost::json::kind::int64:
            append_int(out, v.get_int64());
            break;
        case boost::json::kind::uint64:
            append_int(out, v.get_uint64());
            break;
        case boost::json::kind::double_:
            append_go_double(out, v.get_double());
            break;
        case boost::json::kind::string: {
            const auto& s = v.get_string();
            append_go_string(out, std::string_view(s.data(), s.size()));
            break;
        }
        case boost::json::kind::array: {
            out.push_back('[');
            bool first = true;
            for (const auto& e : v.get_array()) {
                if (!first) out.push_back(',');
                first = false;
                append_go_json(out, e);
            }
            out.push_back(']');
            break;
        }
        case boost::json::kind::object: {
            out.push_back('{');
            bool first = true;
            for (const auto& kv : v.get_object()) {
                if (!first) out.push_back(',');
                first = false;
                append_go_string(out, std::string_view(kv.key().data(), kv.key().size()));
                out.push_back(':');
                append_go_json(out, kv.value());
            }
            out.push_back('}');
            break;
        }
    }
}

std::string to_go_json(const boost::json::value& v) {
    std::string out;
    append_go_json(out, v);
    return out;
}

}  // namespace kedge::bus
