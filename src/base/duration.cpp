#include "base/duration.hpp"

#include <array>
#include <charconv>
#include <cstdint>
#include <string>

namespace kedge {
namespace {

constexpr std::uint64_t kMaxMagnitude = std::uint64_t{1} << 63;  // |INT64_MIN|

struct Unit {
    std::string_view name;
    std::uint64_t ns;
};
constexpr std::array<Unit, 8> kUnits{{
    {"ns", 1},
    {"us", 1'000},
    {"\xC2\xB5s", 1'000},  // U+00B5 micro sign
    {"\xCE\xBCs", 1'000},  // U+03BC Greek small letter mu
    {"ms", 1'000'000},
    {"s", 1'000'000'000},
    {"m", 60'000'000'000},
    {"h", 3'600'000'000'000},
}};

bool is_digit(char c) { return c >= '0' && c <= '9'; }

Error invalid(std::string_view text, std::string_view why) {
    return Error(errc::parse_error,
                 "invalid duration '" + std::string(text) + "': " + std::string(why));
}

// Appends the decimal fraction v / 10^prec without trailing zeros (and without the point when
// the fraction is zero); returns v / 10^prec. Mirrors Go's fmtFrac.
std::uint64_t take_fraction(std::uint64_t v, int prec, std::string& frac) {
    std::string digits;
    bool printed = false;
    for (int i = 0; i < prec; ++i) {
        auto digit = static_cast<char>('0' + v % 10);
        printed = printed || digit != '0';
        if (printed) digits.insert(digits.begin(), digit);
        v /= 10;
    }
    if (printed) frac = "." + digits;
    return v;
}

}  // namespace

Result<Duration> Duration::parse(std::string_view text) {
    std::string_view s = text;
    bool neg = false;
    if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
        neg = s[0] == '-';
        s.remove_prefix(1);
    }
    if (s == "0") return Duration();
    if (s.empty()) return invalid(text, "empty");

    std::uint64_t total = 0;
    while (!s.empty()) {
        if (!(s[0] == '.' || is_digit(s[0]))) return invalid(text, "expected a number");
        // Integer part.
        std::uint64_t whole = 0;
        std::size_t i = 0;
        for (; i < s.size() && is_digit(s[i]); ++i) {
            if (whole > (kMaxMagnitude - 1) / 10) return invalid(text, "overflows 64 bits");
            whole = whole * 10 + static_cast<std::uint64_t>(s[i] - '0');
            if (whole > kMaxMagnitude) return invalid(text, "overflows 64 bits");
        }
        bool pre = i > 0;
        s.remove_prefix(i);
        // Fraction: digits beyond what fits are consumed but ignored, as Go does.
        std::uint64_t frac = 0;
        double scale = 1;
        bool post = false;
        if (!s.empty() && s[0] == '.') {
            s.remove_prefix(1);
            bool overflow = false;
            for (i = 0; i < s.size() && is_digit(s[i]); ++i) {
                if (overflow) continue;
                std::uint64_t next = frac * 10 + static_cast<std::uint64_t>(s[i] - '0');
                if (frac > (kMaxMagnitude - 1) / 10 || next > kMaxMagnitude) {
                    overflow = true;
                    continue;
                }
                frac = next;
                scale *= 10;
            }
            post = i > 0;
            s.remove_prefix(i);
        }
        if (!pre && !post) return invalid(text, "expected digits around '.'");
        // Unit: everything up to the next number.
        for (i = 0; i < s.size() && !(s[i] == '.' || is_digit(s[i])); ++i) {
        }
        if (i == 0) return invalid(text, "missing unit (one of ns, us, ms, s, m, h)");
        auto unit_name = s.substr(0, i);
        s.remove_prefix(i);
        const Unit* unit = nullptr;
        for (const auto& u : kUnits) {
            if (u.name == unit_name) unit = &u;
        }
        if (!unit) {
            return invalid(
                text, "unknown unit '" + std::string(unit_name) + "' (one of ns, us, ms, s, m, h)");
        }
        if (whole > kMaxMagnitude / unit->ns) return invalid(text, "overflows 64 bits");
        std::uint64_t v = whole * unit->ns;
        if (frac > 0) {
            v += static_cast<std::uint64_t>(static_cast<double>(frac) *
                                            (static_cast<double>(unit->ns) / scale));
            if (v > kMaxMagnitude) return invalid(text, "overflows 64 bits");
        }
        total += v;
        if (total > kMaxMagnitude) return invalid(text, "overflows 64 bits");
    }
    if (neg) {
        // -2^63 is representable; negate in unsigned space to avoid signed overflow.
        return Duration(std::chrono::nanoseconds(static_cast<std::int64_t>(0 - total)));
    }
    if (total > kMaxMagnitude - 1) return invalid(text, "overflows 64 bits");
    return Duration(std::chrono::nanoseconds(static_cast<std::int64_t>(total)));
}

std::string Duration::to_string() const {
    std::int64_t ns = ns_.count();
    bool neg = ns < 0;
    std::uint64_t u = neg ? 0 - static_cast<std::uint64_t>(ns) : static_cast<std::uint64_t>(ns);
    std::string out;
    if (u < 1'000'000'000) {
        // Below a second Go switches to the largest unit that keeps an integer part.
        if (u == 0) return "0s";
        std::string frac;
        std::string unit;
        if (u < 1'000) {
            unit = "ns";
        } else if (u < 1'000'000) {
            u = take_fraction(u, 3, frac);
            unit = "\xC2\xB5s";
        } else {
            u = take_fraction(u, 6, frac);
            unit = "ms";
        }
        out = std::to_string(u) + frac + unit;
    } else {
        std::string frac;
        u = take_fraction(u, 9, frac);
        out = std::to_string(u % 60) + frac + "s";
        u /= 60;
        if (u > 0) {
            out = std::to_string(u % 60) + "m" + out;
            u /= 60;
            if (u > 0) out = std::to_string(u) + "h" + out;
        }
    }
    return neg ? "-" + out : out;
}

Result<Seconds> Seconds::parse(std::string_view text) {
    std::string_view digits = text;
    if (!digits.empty() && digits[0] == '+') digits.remove_prefix(1);
    std::int64_t n = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
    if (!digits.empty() && end == digits.data() + digits.size()) {
        if (ec == std::errc()) return Seconds(n);
        return Error(errc::parse_error, "'" + std::string(text) + "' is out of range");
    }
    auto d = Duration::parse(text);
    if (!d) {
        std::string got(text);
        return Error(errc::parse_error,
                     "expected a number of seconds or a duration like '30s', got '" + got + "'");
    }
    if (d->count_ns() % 1'000'000'000 != 0) {
        return Error(errc::parse_error,
                     "'" + std::string(text) + "' is not a whole number of seconds");
    }
    return Seconds(d->count_ns() / 1'000'000'000);
}

std::string Seconds::to_string() const { return std::to_string(s_.count()); }

}  // namespace kedge
