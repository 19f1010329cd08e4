#include "bus/codec.hpp"

#include <charconv>
#include <cstdint>
#include <limits>
#include <optional>

#include "bus/go_json.hpp"
#include "bus/json_validate.hpp"

namespace kedge::bus {
namespace {

// ---- encoding ----

void append_field(std::string& out, std::string_view key, std::string_view value, bool& first) {
    if (!first) out.push_back(',');
    first = false;
    out.push_back('"');
    out.append(key);
    out.append("\":");
    append_go_string(out, value);
}

void append_optional(std::string& out, std::string_view key, std::string_view value, bool& first) {
    if (!value.empty()) append_field(out, key, value, first);
}

// ---- decoding ----

// Walks JSON text that validate_json() already accepted, so it only needs to find structure
// and types; it still checks every bound so that a bug here cannot read past the input.
class Scanner {
  public:
    explicit Scanner(std::string_view text)
        : begin_(text.data()), p_(text.data()), end_(text.data() + text.size()) {}

    void skip_ws() {
        while (p_ < end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
    }
    char peek() {
        skip_ws();
        return p_ < end_ ? *p_ : '\0';
    }
    bool eat(char c) {
        if (peek() != c) return false;
        ++p_;
        return true;
    }
    const char* pos() const { return p_; }
    std::size_t offset() const { return static_cast<std::size_t>(p_ - begin_); }

    // What kind of value comes next, for error messages.
    const char* next_kind() {
        switch (peek()) {
            case '"':
                return "a string";
            case '{':
                return "an object";
            case '[':
                return "an array";
            case 't':
            case 'f':
                return "a boolean";
            case 'n':
                return "null";
            default:
                return "a number";
        }
    }

    bool eat_literal(std::string_view lit) {
        skip_ws();
        if (static_cast<std::size_t>(end_ - p_) < lit.size() ||
            std::string_view(p_, lit.size()) != lit)
            return false;
        p_ += lit.size();
        return true;
    }

    // Reads a string at the current position into out (unescaped).
    bool string(std::string& out) {
        out.clear();
        if (!eat('"')) return false;
        while (p_ < end_) {
            const char* run = p_;
            while (p_ < end_ && *p_ != '"' && *p_ != '\\') ++p_;
            out.append(run, p_);
            if (p_ >= end_) return false;
            if (*p_ == '"') {
                ++p_;
                return true;
            }
            if (++p_ >= end_) return false;
            char e = *p_++;
            switch (e) {
                case '"':
                    out.push_back('"');
                    break;
                case '\\':
                    out.push_back('\\');
                    break;
                case '/':
                    out.push_back('/');
                    break;
                case 'b':
                    out.push_back('\b');
                    break;
                case 'f':
                    out.push_back('\f');
                    break;
                case 'n':
                    out.push_back('\n');
                    break;
                case 'r':
                    out.push_back('\r');
                    break;
                case 't':
                    out.push_back('\t');
                    break;
                case 'u': {
                    std::uint32_t cp = 0;
                    if (!hex4(cp)) return false;
                    if (cp >= 0xd800 && cp <= 0xdbff) {
                        std::uint32_t lo = 0;
                        if (!eat_raw('\\') || !eat_raw('u') || !hex4(lo) || lo < 0xdc00 ||
                            lo > 0xdfff)
                            return false;
                        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                    }
                    append_utf8(out, cp);
                    break;
                }
                default:
                    return false;
            }
        }
        return false;
    }

    // Skips one value of validated JSON.
    bool skip_value() {
        char c = peek();
        if (c == '"') {
            ++p_;
            while (p_ < end_) {
                if (*p_ == '\\') {
                    if (end_ - p_ < 2) break;
                    p_ += 2;
                } else if (*p_ == '"') {
                    ++p_;
                    return true;
                } else {
                    ++p_;
                }
            }
            p_ = end_;
            return false;
        }
        if (c == '{' || c == '[') {
            int depth = 0;
            while (p_ < end_) {
                char d = *p_;
                if (d == '"') {
                    if (!skip_value()) return false;
                    continue;
                }
                ++p_;
                if (d == '{' || d == '[') {
                    ++depth;
                } else if (d == '}' || d == ']') {
                    if (--depth == 0) return true;
                }
            }
            return false;
        }
        // number, true, false, null
        const char* start = p_;
        while (p_ < end_ && *p_ != ',' && *p_ != '}' && *p_ != ']' && *p_ != ' ' && *p_ != '\t' &&
               *p_ != '\n' && *p_ != '\r')
            ++p_;
        return p_ > start;
    }

    // Reads an integer number token (no fraction or exponent) into v.
    bool int64(std::int64_t& v, bool& range_error) {
        skip_ws();
        const char* start = p_;
        if (!skip_value()) return false;
        auto r = std::from_chars(start, p_, v);
        range_error = r.ec == std::errc::result_out_of_range;
        return r.ec == std::errc() && r.ptr == p_;
    }

  private:
    bool eat_raw(char c) {
        if (p_ >= end_ || *p_ != c) return false;
        ++p_;
        return true;
    }
    bool hex4(std::uint32_t& v) {
        if (end_ - p_ < 4) return false;
        v = 0;
        for (int i = 0; i < 4; ++i) {
            char c = *p_++;
            v <<= 4;
            if (c >= '0' && c <= '9')
                v |= static_cast<std::uint32_t>(c - '0');
            else if (c >= 'a' && c <= 'f')
                v |= static_cast<std::uint32_t>(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F')
                v |= static_cast<std::uint32_t>(c - 'A' + 10);
            else
                return false;
        }
        return true;
    }
    static void append_utf8(std::string& out, std::uint32_t cp) {
        if (cp < 0x80) {
            out.push_back(static_cast<char>(cp));
        } else if (cp < 0x800) {
            out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
            out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
        } else if (cp < 0x10000) {
            out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
            out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
            out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
        } else {
            out.push_back(static_cast<char>(0xf0 | (cp >> 18)));
            out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
            out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
            out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
        }
    }

    const char* begin_;
    const char* p_;
    const char* end_;
};

// Go matches JSON keys to struct fields case-insensitively (exact match preferred; with one
// field per name the two agree).
bool key_is(std::string_view key, std::string_view name) {
    if (key.size() != name.size()) return false;
    for (std::size_t i = 0; i < key.size(); ++i) {
        char a = key[i];
        if (a >= 'A' && a <= 'Z') a = static_cast<char>(a - 'A' + 'a');
        if (a != name[i]) return false;
    }
    return true;
}

class Decoder {
  public:
    Decoder(std::string_view text, std::shared_ptr<const std::string> owner)
        : owner_(std::move(owner)), s_(text) {}

    Result<Message> run() {
        if (s_.peek() != '{')
            return fail(std::string("a message must be a JSON object, got ") + s_.next_kind());
        Message msg;
        bool ok = members([&](std::string_view key) -> bool {
            if (key_is(key, "header")) return header(msg.header);
            if (key_is(key, "route")) return route(msg.route);
            if (key_is(key, "content")) return content(msg.content);
            return skip();
        });
        if (!ok) return error_ ? *error_ : fail("malformed message");
        return msg;
    }

  private:
    Error fail(std::string what) {
        return Error(errc::parse_error,
                     "message: " + what + " (at byte " + std::to_string(s_.offset()) + ")");
    }
    bool set_error(std::string what) {
        if (!error_) error_ = fail(std::move(what));
        return false;
    }
    bool skip() { return s_.skip_value() || set_error("malformed value"); }

    // Calls on_member(key) for each member of the object at the current position.
    template <class F>
    bool members(F&& on_member) {
        if (!s_.eat('{')) return set_error("expected an object");
        if (s_.eat('}')) return true;
        do {
            if (!s_.string(key_)) return set_error("malformed object key");
            if (!s_.eat(':')) return set_error("expected ':' after an object key");
            std::string key = std::move(key_);
            if (!on_member(key)) return false;
        } while (s_.eat(','));
        return s_.eat('}') || set_error("expected ',' or '}' in an object");
    }

    // An object-valued field; null leaves it untouched, as Go does.
    template <class F>
    bool object_field(const char* name, F&& on_member) {
        if (s_.peek() == 'n') return s_.eat_literal("null") || set_error("malformed null");
        if (s_.peek() != '{')
            return set_error(std::string(name) + ": expected an object, got " + s_.next_kind());
        return members(on_member);
    }

    bool string_field(const char* name, std::string& out) {
        char c = s_.peek();
        if (c == 'n') return s_.eat_literal("null") || set_error("malformed null");
        if (c != '"')
            return set_error(std::string(name) + ": expected a string, got " + s_.next_kind());
        return s_.string(out) || set_error(std::string(name) + ": malformed string");
    }

    bool header(MessageHeader& h) {
        return object_field("header", [&](std::string_view key) -> bool {
            if (key_is(key, "msg_id")) return string_field("header.msg_id", h.msg_id);
            if (key_is(key, "parent_msg_id"))
                return string_field("header.parent_msg_id", h.parent_msg_id);
            if (key_is(key, "resourceversion"))
                return string_field("header.resourceversion", h.resource_version);
            if (key_is(key, "type")) return string_field("header.type", h.type);
            if (key_is(key, "timestamp")) return timestamp(h.timestamp);
            if (key_is(key, "sync")) return sync(h.sync);
            return skip();
        });
    }

    bool timestamp(std::int64_t& out) {
        char c = s_.peek();
        if (c == 'n') return s_.eat_literal("null") || set_error("malformed null");
        if (c != '-' && (c < '0' || c > '9'))
            return set_error(std::string("header.timestamp: expected an integer, got ") +
                             s_.next_kind());
        bool range = false;
        if (!s_.int64(out, range))
            return set_error(range ? "header.timestamp: out of the int64 range"
                                   : "header.timestamp: expected an integer (no fraction or "
                                     "exponent)");
        return true;
    }

    bool sync(bool& out) {
        char c = s_.peek();
        if (c == 'n') return s_.eat_literal("null") || set_error("malformed null");
        if (s_.eat_literal("true")) return out = true, true;
        if (s_.eat_literal("false")) return out = false, true;
        return set_error(std::string("header.sync: expected a boolean, got ") + s_.next_kind());
    }

    bool route(MessageRoute& r) {
        return object_field("route", [&](std::string_view key) -> bool {
            if (key_is(key, "source")) return string_field("route.source", r.source);
            if (key_is(key, "destination")) return string_field("route.destination", r.destination);
            if (key_is(key, "group")) return string_field("route.group", r.group);
            if (key_is(key, "operation")) return string_field("route.operation", r.operation);
            if (key_is(key, "resource")) return string_field("route.resource", r.resource);
            return skip();
        });
    }

    bool content(Content& out) {
        s_.skip_ws();
        const char* start = s_.pos();
        if (!s_.skip_value()) return set_error("malformed content");
        std::string_view span(start, static_cast<std::size_t>(s_.pos() - start));
        if (span == "null") {
            out = Content();
        } else if (owner_) {
            out = Content::from_validated_span(owner_, span);
        } else {
            out = Content::from_trusted_json(std::make_shared<const std::string>(span));
        }
        return true;
    }

    std::shared_ptr<const std::string> owner_;
    Scanner s_;
    std::string key_;
    std::optional<Error> error_;
};

Result<Message> decode_impl(std::string_view json, std::shared_ptr<const std::string> owner,
                            const DecodeOptions& opts) {
    if (json.size() > opts.max_size) {
        return Error(errc::too_large, "message of " + std::to_string(json.size()) +
                                          " bytes exceeds the limit of " +
                                          std::to_string(opts.max_size) + " bytes");
    }
    // One strict pass over everything (content included) so that the scanner below only sees
    // valid JSON and lazily parsed content can never fail later.
    if (auto ok = validate_json(json); !ok) {
        return Error(errc::parse_error, "message: " + ok.error().detail);
    }
    return Decoder(json, std::move(owner)).run();
}

}  // namespace

void encode_to(const Message& msg, std::string& out) {
    const auto& h = msg.header;
    const auto& r = msg.route;
    out.append("{\"header\":{\"msg_id\":");
    append_go_string(out, h.msg_id);
    bool first = false;
    append_optional(out, "parent_msg_id", h.parent_msg_id, first);
    out.append(",\"timestamp\":");
    char buf[24];
    auto res = std::to_chars(buf, buf + sizeof buf, h.timestamp);
    out.append(buf, res.ptr);
    append_optional(out, "resourceversion", h.resource_version, first);
    if (h.sync) out.append(",\"sync\":true");
    append_optional(out, "type", h.type, first);
    out.append("},\"route\":{");
    first = true;
    append_optional(out, "source", r.source, first);
    append_optional(out, "destination", r.destination, first);
    append_optional(out, "group", r.group, first);
    append_optional(out, "operation", r.operation, first);
    append_optional(out, "resource", r.resource, first);
    out.append("},\"content\":");
    msg.content.append_json(out);
    out.push_back('}');
}

std::string encode(const Message& msg) {
    std::string out;
    const auto& h = msg.header;
    const auto& r = msg.route;
    out.reserve(160 + h.msg_id.size() + h.parent_msg_id.size() + h.resource_version.size() +
                r.source.size() + r.destination.size() + r.group.size() + r.operation.size() +
                r.resource.size() + msg.content.raw().size());
    encode_to(msg, out);
    return out;
}

Result<Message> decode(std::string_view json, const DecodeOptions& opts) {
    return decode_impl(json, nullptr, opts);
}

Result<Message> decode(std::shared_ptr<const std::string> json, const DecodeOptions& opts) {
    if (!json) return Error(errc::invalid_argument, "decode: null buffer");
    std::string_view view = *json;
    return decode_impl(view, std::move(json), opts);
}

}  // namespace kedge::bus
