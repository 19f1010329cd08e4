#include "base/config_yaml.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <set>

namespace kedge {
namespace config::detail {
namespace {

constexpr std::array<std::string_view, 22> kTrueWords{
    "true",  "True",  "TRUE",  "yes", "Yes", "YES", "on",  "On",  "ON",  "y", "Y",
    "false", "False", "FALSE", "no",  "No",  "NO",  "off", "Off", "OFF", "n", "N"};
constexpr std::array<std::string_view, 4> kNullWords{"~", "null", "Null", "NULL"};

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diag = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            std::size_t up = row[j];
            std::size_t cost = std::tolower(static_cast<unsigned char>(a[i - 1])) ==
                                       std::tolower(static_cast<unsigned char>(b[j - 1]))
                                   ? 0
                                   : 1;
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + cost});
            diag = up;
        }
    }
    return row[b.size()];
}

bool looks_like_non_string(std::string_view s) {
    if (s.empty()) return true;
    if (std::isspace(static_cast<unsigned char>(s.front())) ||
        std::isspace(static_cast<unsigned char>(s.back()))) {
        return true;
    }
    if (std::find(kTrueWords.begin(), kTrueWords.end(), s) != kTrueWords.end()) return true;
    if (std::find(kNullWords.begin(), kNullWords.end(), s) != kNullWords.end()) return true;
    std::string text(s);
    std::int64_t i = 0;
    std::uint64_t u = 0;
    double d = 0;
    return !parse_int(text, std::numeric_limits<std::int64_t>::min(),
                      std::numeric_limits<std::uint64_t>::max(), i, u) ||
           !parse_double(text, d);
}

}  // namespace

void fail_at(const Context& ctx, const YAML::Mark& mark, const std::string& path,
             std::string problem, bool path_in_problem) {
    int line = mark.is_null() ? 0 : mark.line + 1;
    int column = mark.is_null() ? 0 : mark.column + 1;
    throw ConfigError(ctx.source, path, line, column, std::move(problem), path_in_problem);
}

void fail(const Context& ctx, const YAML::Node* at, const std::string& path, std::string problem) {
    fail_at(ctx, at ? at->Mark() : YAML::Mark::null_mark(), path, std::move(problem), false);
}

std::string join_path(std::string_view parent, std::string_view key) {
    if (parent.empty()) return std::string(key);
    std::string out(parent);
    out += '.';
    out += key;
    return out;
}

std::string join_keys(std::span<const std::string> keys) {
    std::string out;
    for (const auto& k : keys) out = join_path(out, k);
    return out;
}

std::optional<YAML::Node> child_of(const YAML::Node& map, std::string_view key) {
    if (!map.IsMap()) return std::nullopt;
    for (const auto& kv : map) {
        if (kv.first.IsScalar() && kv.first.Scalar() == key) return kv.second;
    }
    return std::nullopt;
}

std::string kind_of(const YAML::Node& node) {
    if (node.IsMap()) return "a mapping";
    if (node.IsSequence()) return "a list";
    if (node.IsScalar()) return "'" + node.Scalar() + "'";
    return "null";
}

const std::string& scalar_of(const Context& ctx, const YAML::Node& node, const std::string& path,
                             std::string_view expected) {
    if (!node.IsScalar()) {
        fail(ctx, &node, path, "expected " + std::string(expected) + ", got " + kind_of(node));
    }
    return node.Scalar();
}

std::string unknown_key_problem(std::string_view key, std::string_view parent,
                                std::span<const std::string_view> known) {
    std::string problem = "unknown key '" + std::string(key) + "' ";
    problem += parent.empty() ? "at the top level" : "in " + std::string(parent);
    std::string_view best;
    std::size_t best_distance = 3;  // suggest only near misses
    for (auto k : known) {
        std::size_t d = iequals(k, key) ? 0 : edit_distance(k, key);
        if (d < best_distance && d <= k.size() / 2) {
            best = k;
            best_distance = d;
        }
    }
    if (!best.empty()) problem += " (did you mean '" + std::string(best) + "'?)";
    return problem;
}

void check_keys(const Context& ctx, const YAML::Node& map, const std::string& path,
                std::span<const std::string_view> known, bool any_key) {
    if (!map.IsMap()) return;
    std::set<std::string, std::less<>> seen;
    for (const auto& kv : map) {
        const std::string& key = scalar_of(ctx, kv.first, path, "a string key");
        if (!seen.insert(key).second) {
            fail_at(ctx, kv.first.Mark(), join_path(path, key),
                    "duplicate key '" + key + "' " +
                        (path.empty() ? std::string("at the top level") : "in " + path),
                    true);
        }
        if (!any_key && std::find(known.begin(), known.end(), key) == known.end()) {
            fail_at(ctx, kv.first.Mark(), join_path(path, key),
                    unknown_key_problem(key, path, known), true);
        }
    }
}

std::optional<std::string> parse_bool(const std::string& text, bool& out) {
    auto it = std::find(kTrueWords.begin(), kTrueWords.end(), text);
    if (it == kTrueWords.end()) {
        return "expected a boolean (true or false), got '" + text + "'";
    }
    out = (it - kTrueWords.begin()) < 11;
    return std::nullopt;
}

std::optional<std::string> parse_int(const std::string& text, std::int64_t lo, std::uint64_t hi,
                                     std::int64_t& out_signed, std::uint64_t& out_unsigned) {
    std::string_view s = text;
    bool neg = false;
    if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
        neg = s[0] == '-';
        s.remove_prefix(1);
    }
    int base = 10;
    if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s.remove_prefix(2);
    } else if (s.size() > 2 && s[0] == '0' && (s[1] == 'o' || s[1] == 'O')) {
        base = 8;
        s.remove_prefix(2);
    }
    std::uint64_t magnitude = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), magnitude, base);
    if (s.empty() || end != s.data() + s.size() || ec == std::errc::invalid_argument) {
        return "expected an integer, got '" + text + "'";
    }
    auto range = [&] {
        return "value " + text + " is out of range (" + std::to_string(lo) + ".." +
               std::to_string(hi) + ")";
    };
    if (ec == std::errc::result_out_of_range) return range();
    if (neg && magnitude != 0) {
        if (lo == 0) return "must not be negative, got '" + text + "'";
        // |lo| as unsigned without overflowing on INT64_MIN.
        std::uint64_t limit = static_cast<std::uint64_t>(-(lo + 1)) + 1;
        if (magnitude > limit) return range();
        out_signed = static_cast<std::int64_t>(0 - magnitude);
        out_unsigned = 0;
        return std::nullopt;
    }
    if (magnitude > hi) return range();
    out_signed = static_cast<std::int64_t>(magnitude);
    out_unsigned = magnitude;
    return std::nullopt;
}

std::optional<std::string> parse_double(const std::string& text, double& out) {
    std::string_view s = text;
    bool neg = false;
    if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
        neg = s[0] == '-';
        s.remove_prefix(1);
    }
    if (s == ".inf" || s == ".Inf" || s == ".INF") {
        out = neg ? -HUGE_VAL : HUGE_VAL;
        return std::nullopt;
    }
    if (text == ".nan" || text == ".NaN" || text == ".NAN") {
        out = std::nan("");
        return std::nullopt;
    }
    double v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    bool ok = !s.empty() && end == s.data() + s.size() && ec == std::errc() && std::isfinite(v) &&
              (std::isdigit(static_cast<unsigned char>(s[0])) || s[0] == '.');
    if (!ok) return "expected a number, got '" + text + "'";
    out = neg ? -v : v;
    return std::nullopt;
}

void emit_string(YAML::Emitter& out, std::string_view s) {
    // Go reads YAML through JSON: an unquoted 123 or yes would not be a string there.
    if (looks_like_non_string(s)) out << YAML::DoubleQuoted;
    out << std::string(s);
}

void emit_double(YAML::Emitter& out, double v) { out << describe(v); }

YAML::Node parse_set_value(const Context& ctx, const std::string& path, const std::string& text,
                           bool verbatim) {
    if (verbatim) return YAML::Node(text);
    try {
        return YAML::Load(text);
    } catch (const YAML::ParserException& e) {
        fail_at(ctx, YAML::Mark::null_mark(), path, "invalid YAML value: " + e.msg, false);
    }
}

void split_set(std::string_view assignment, std::vector<std::string>& keys, std::string& text) {
    auto fail = [&](std::string problem) {
        throw ConfigError("--set " + std::string(assignment), "", 0, 0, std::move(problem));
    };
    auto eq = assignment.find('=');
    if (eq == std::string_view::npos) {
        fail("expected key=value, e.g. modules.edgeHub.heartbeat=20");
    }
    std::string_view key = assignment.substr(0, eq);
    text = std::string(assignment.substr(eq + 1));
    keys.clear();
    while (true) {
        auto dot = key.find('.');
        auto part = key.substr(0, dot);
        if (part.empty())
            fail("empty component in key '" + std::string(assignment.substr(0, eq)) + "'");
        keys.emplace_back(part);
        if (dot == std::string_view::npos) break;
        key.remove_prefix(dot + 1);
    }
}

std::string read_config_file(const std::string& path) {
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
    if (!f) throw ConfigError(path, "", 0, 0, "cannot open: " + std::string(std::strerror(errno)));
    std::string content;
    std::array<char, 8192> buf{};
    while (std::size_t n = std::fread(buf.data(), 1, buf.size(), f.get())) {
        content.append(buf.data(), n);
    }
    if (std::ferror(f.get())) {
        throw ConfigError(path, "", 0, 0, "cannot read: " + std::string(std::strerror(errno)));
    }
    return content;
}

}  // namespace config::detail
}  // namespace kedge
