#include "kube/time.hpp"

#include <cctype>
#include <cstdio>
#include <ctime>

namespace kedge::kube {

namespace {

std::string format_seconds(Clock::time_point t, const char* fraction) {
    auto secs = std::chrono::floor<std::chrono::seconds>(t).time_since_epoch().count();
    std::time_t tt = static_cast<std::time_t>(secs);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[48];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d%sZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, fraction);
    return buf;
}

bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
    if (pos + n > s.size()) return false;
    out = 0;
    for (std::size_t i = pos; i < pos + n; ++i) {
        if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
        out = out * 10 + (s[i] - '0');
    }
    return true;
}

}  // namespace

std::string format_time(Clock::time_point t) { return format_seconds(t, ""); }

std::string format_micro_time(Clock::time_point t) {
    auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                      t - std::chrono::floor<std::chrono::seconds>(t))
                      .count();
    char frac[16];
    std::snprintf(frac, sizeof frac, ".%06lld", static_cast<long long>(micros));
    return format_seconds(t, frac);
}

Result<Clock::time_point> parse_time(std::string_view s) {
    auto bad = [&] {
        return Error(errc::invalid_argument,
                     "\"" + std::string(s) + "\" is not an RFC 3339 time");
    };
    int year, mon, day, hour, min, sec;
    if (!digits(s, 0, 4, year) || s.size() < 20 || s[4] != '-' || !digits(s, 5, 2, mon) ||
        s[7] != '-' || !digits(s, 8, 2, day) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        !digits(s, 11, 2, hour) || s[13] != ':' || !digits(s, 14, 2, min) || s[16] != ':' ||
        !digits(s, 17, 2, sec))
        return bad();
    if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60)
        return bad();
    std::size_t pos = 19;
    std::chrono::nanoseconds fraction{0};
    if (pos < s.size() && s[pos] == '.') {
        ++pos;
        std::int64_t ns = 0;
        int n = 0;
        while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) {
            if (n < 9) {
                ns = ns * 10 + (s[pos] - '0');
                ++n;
            }
            ++pos;
        }
        if (n == 0) return bad();
        for (; n < 9; ++n) ns *= 10;
        fraction = std::chrono::nanoseconds(ns);
    }
    int offset_minutes = 0;
    if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
        ++pos;
    } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
        int oh, om;
        if (!digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
            !digits(s, pos + 4, 2, om))
            return bad();
        offset_minutes = (oh * 60 + om) * (s[pos] == '-' ? -1 : 1);
        pos += 6;
    } else {
        return bad();
    }
    if (pos != s.size()) return bad();
    std::chrono::year_month_day ymd{std::chrono::year(year), std::chrono::month(mon),
                                    std::chrono::day(day)};
    if (!ymd.ok()) return bad();
    auto t = std::chrono::sys_days(ymd).time_since_epoch() + std::chrono::hours(hour) +
             std::chrono::minutes(min - offset_minutes) + std::chrono::seconds(sec) + fraction;
    return Clock::time_point(std::chrono::duration_cast<Clock::duration>(t));
}

}  // namespace kedge::kube
