#include "kube/quantity.hpp"

#include <boost/json/value.hpp>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <string>
#include <utility>

namespace kedge::kube {
namespace {

__extension__ typedef __int128 Wide;

bool is_digit(char c) { return c >= '0' && c <= '9'; }

Error bad_quantity(std::string_view text, std::string_view why) {
    return Error(errc::invalid_argument,
                 "quantity \"" + std::string(text) + "\" is not valid: " + std::string(why));
}

// More significant digits than this are rounded up: D then always fits in 63 bits, so
// D * 2^60 (Ei) still fits in __int128.
constexpr int kMaxDigits = 18;

// Exponents beyond these saturate or round to the smallest unit; keeps 10^n inside __int128.
constexpr int kMaxExp10 = 36;

Wide pow10(int n) {
    Wide r = 1;
    for (int i = 0; i < n; ++i) r *= 10;
    return r;
}

}  // namespace

Result<std::int64_t> parse_quantity_milli(std::string_view text) {
    std::size_t i = 0;
    bool negative = false;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
        negative = text[i] == '-';
        ++i;
    }
    // Mantissa: digits [. digits]; at least one digit overall.
    std::int64_t mantissa = 0;
    int digits = 0;        // significant digits kept in mantissa
    int exp10 = 0;         // power of ten the mantissa is scaled by
    bool dropped = false;  // nonzero digits beyond kMaxDigits
    bool any_digit = false;
    auto take = [&](char c, bool fractional) {
        any_digit = true;
        int d = c - '0';
        if (digits == 0 && d == 0) {
            if (fractional) --exp10;
            return;
        }
        if (digits < kMaxDigits) {
            mantissa = mantissa * 10 + d;
            ++digits;
            if (fractional) --exp10;
        } else {
            if (d != 0) dropped = true;
            if (!fractional) ++exp10;
        }
    };
    while (i < text.size() && is_digit(text[i])) take(text[i++], false);
    if (i < text.size() && text[i] == '.') {
        ++i;
        while (i < text.size() && is_digit(text[i])) take(text[i++], true);
    }
    if (!any_digit) return bad_quantity(text, "expected a number");
    if (dropped) ++mantissa;  // round the truncated mantissa up, keeping the ceiling

    int shift2 = 0;
    std::string_view suffix = text.substr(i);
    constexpr std::string_view kBinary = "KMGTPE";  // Ki = 2^10 ... Ei = 2^60
    // Decimal SI suffixes and their powers of ten.
    constexpr std::pair<char, int> kDecimal[] = {{'n', -9}, {'u', -6}, {'m', -3},
                                                 {'k', 3},  {'M', 6},  {'G', 9},
                                                 {'T', 12}, {'P', 15}, {'E', 18}};
    if (suffix.empty()) {
    } else if (suffix.size() == 2 && suffix[1] == 'i') {
        auto pos = kBinary.find(suffix[0]);
        if (pos == std::string_view::npos) return bad_quantity(text, "unknown binary suffix");
        shift2 = 10 * static_cast<int>(pos + 1);
    } else if (suffix.size() == 1) {
        const auto* it = std::find_if(std::begin(kDecimal), std::end(kDecimal),
                                      [&](const auto& d) { return d.first == suffix[0]; });
        if (it == std::end(kDecimal)) return bad_quantity(text, "unknown suffix");
        exp10 += it->second;
    } else if (suffix[0] == 'e' || suffix[0] == 'E') {
        std::size_t j = 1;
        bool exp_negative = false;
        if (j < suffix.size() && (suffix[j] == '+' || suffix[j] == '-')) {
            exp_negative = suffix[j] == '-';
            ++j;
        }
        if (j == suffix.size()) return bad_quantity(text, "exponent without digits");
        int e = 0;
        for (; j < suffix.size(); ++j) {
            if (!is_digit(suffix[j])) return bad_quantity(text, "unexpected character in exponent");
            if (e < 100'000) e = e * 10 + (suffix[j] - '0');
        }
        exp10 += exp_negative ? -e : e;
    } else {
        return bad_quantity(text, "unknown suffix");
    }

    exp10 += 3;  // milli-units
    Wide n = static_cast<Wide>(mantissa) << shift2;
    const Wide limit = kMaxMilli;
    Wide result = 0;
    if (n == 0) {
        result = 0;
    } else if (exp10 >= 0) {
        if (exp10 > kMaxExp10) {
            result = limit;
        } else {
            Wide p = pow10(exp10);
            result = n > limit / p ? limit : n * p;
        }
    } else if (-exp10 > kMaxExp10) {
        result = 1;  // a positive amount smaller than one milli-unit rounds up to one
    } else {
        Wide p = pow10(-exp10);
        result = n / p + (n % p != 0 ? 1 : 0);
    }
    if (result > limit) result = limit;
    auto out = static_cast<std::int64_t>(result);
    return negative ? -out : out;
}

Result<std::int64_t> parse_quantity_milli(const boost::json::value& v) {
    if (v.is_string()) return parse_quantity_milli(std::string_view(v.get_string()));
    if (v.is_int64()) {
        std::int64_t x = v.get_int64();
        if (x > kMaxMilli / 1000) return kMaxMilli;
        if (x < -(kMaxMilli / 1000)) return -kMaxMilli;
        return x * 1000;
    }
    if (v.is_uint64()) {
        std::uint64_t x = v.get_uint64();
        if (x > static_cast<std::uint64_t>(kMaxMilli / 1000)) return kMaxMilli;
        return static_cast<std::int64_t>(x) * 1000;
    }
    if (v.is_double()) {
        double d = v.get_double();
        if (!std::isfinite(d)) return Error(errc::invalid_argument, "quantity is not finite");
        double m = std::ceil(d * 1000.0);
        if (m >= 9.2e18) return kMaxMilli;
        if (m <= -9.2e18) return -kMaxMilli;
        return static_cast<std::int64_t>(m);
    }
    return Error(errc::invalid_argument, "quantity must be a string or a number");
}

}  // namespace kedge::kube
