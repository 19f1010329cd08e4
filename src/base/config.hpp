#pragma once
// Typed configuration. A config is a plain struct with defaults that describes its fields once:
//
//     struct WebSocketConfig {
//         bool enable = true;
//         std::string server;
//         Seconds handshake_timeout{30};
//         template <class V> void visit(V& v) {
//             v.field("enable", enable);
//             v.field("server", server);
//             v.field("handshakeTimeout", handshake_timeout,
//                     config::range(Seconds(1), Seconds(600)));
//         }
//     };
//
// That one description drives loading, validation, `--set` overrides and writing the defaults
// (see config_yaml.hpp). This header is all a config struct's header needs; it does not include
// yaml-cpp.

#include "base/duration.hpp"

#include <concepts>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace kedge {

// A config file, string or `--set` override that cannot be used. what() reads like
// "edgecore.yaml:12:7: modules.edgeHub.websocket.handshakeTimeout: expected an integer, got 'abc'".
class ConfigError : public std::runtime_error {
public:
    // line and column are 1-based; 0 when unknown. path is the full dotted key path ("" for the
    // whole document); what() repeats it before problem unless problem already names it.
    ConfigError(std::string source, std::string path, int line, int column, std::string problem,
                bool path_in_problem = false);

    const std::string& source() const noexcept { return source_; }
    const std::string& path() const noexcept { return path_; }
    int line() const noexcept { return line_; }
    int column() const noexcept { return column_; }
    const std::string& problem() const noexcept { return problem_; }

private:
    std::string source_;
    std::string path_;
    int line_;
    int column_;
    std::string problem_;
};

namespace config {

// Enums are written by name. Declare the names next to the enum (found by argument-dependent
// lookup):
//     enum class CgroupDriver { kCgroupfs, kSystemd };
//     constexpr auto config_enum_names(CgroupDriver) {
//         using N = kedge::config::EnumName<CgroupDriver>;
//         return std::array{N{CgroupDriver::kCgroupfs, "cgroupfs"},
//                           N{CgroupDriver::kSystemd, "systemd"}};
//     }
template <class E>
struct EnumName {
    E value;
    std::string_view name;
};

template <class E>
concept NamedEnum = std::is_enum_v<E> && requires(E e) {
    {config_enum_names(e)};
};

// A visitor that does nothing, to ask whether a type describes itself with visit().
struct ProbeVisitor {
    template <class T, class... V>
    void field(std::string_view, T&, const V&...) {}
};

template <class T>
concept Visitable = requires(T& t, ProbeVisitor& v) {
    t.visit(v);
};

// Human-readable form of a value for error messages.
std::string describe(bool v);
std::string describe(std::int64_t v);
std::string describe(std::uint64_t v);
std::string describe(double v);
std::string describe(std::string_view v);
inline std::string describe(const Duration& v) { return v.to_string(); }
inline std::string describe(const Seconds& v) { return v.to_string() + "s"; }

template <class T>
std::string describe(const T& v) {
    if constexpr (std::is_same_v<T, bool>) {
        return describe(static_cast<bool>(v));
    } else if constexpr (std::signed_integral<T>) {
        return describe(static_cast<std::int64_t>(v));
    } else if constexpr (std::unsigned_integral<T>) {
        return describe(static_cast<std::uint64_t>(v));
    } else if constexpr (std::floating_point<T>) {
        return describe(static_cast<double>(v));
    } else if constexpr (std::convertible_to<const T&, std::string_view>) {
        return describe(std::string_view(v));
    } else if constexpr (NamedEnum<T>) {
        for (const auto& n : config_enum_names(v)) {
            if (n.value == v) return "'" + std::string(n.name) + "'";
        }
        return "(unnamed value " + describe(static_cast<std::int64_t>(v)) + ")";
    } else if constexpr (requires { Duration(v); }) {
        return Duration(v).to_string();
    } else {
        return "(value)";
    }
}

namespace detail {
// Comparisons that are right for mixed signed/unsigned integers (a range(1, 100) on a uint16).
template <class A, class B>
bool less(const A& a, const B& b) {
    if constexpr (std::integral<A> && std::integral<B> && !std::is_same_v<A, bool> &&
                  !std::is_same_v<B, bool>) {
        return std::cmp_less(a, b);
    } else {
        return a < b;
    }
}
template <class A, class B>
bool equal(const A& a, const B& b) {
    if constexpr (std::integral<A> && std::integral<B> && !std::is_same_v<A, bool> &&
                  !std::is_same_v<B, bool>) {
        return std::cmp_equal(a, b);
    } else {
        return a == b;
    }
}
}  // namespace detail

// Validators: callables given the field's value, returning the problem or nullopt when the value
// is fine. On an std::optional field they check the contained value when there is one.

// lo <= value <= hi.
template <class B>
struct Range {
    B lo;
    B hi;
    template <class T>
    std::optional<std::string> operator()(const T& v) const {
        if (detail::less(v, lo) || detail::less(hi, v)) {
            return "must be between " + describe(lo) + " and " + describe(hi) + ", got " +
                   describe(v);
        }
        return std::nullopt;
    }
};
template <class B>
Range<B> range(B lo, B hi) {
    return {std::move(lo), std::move(hi)};
}

// value >= lo.
template <class B>
struct AtLeast {
    B lo;
    template <class T>
    std::optional<std::string> operator()(const T& v) const {
        if (detail::less(v, lo)) return "must be at least " + describe(lo) + ", got " + describe(v);
        return std::nullopt;
    }
};
template <class B>
AtLeast<B> at_least(B lo) {
    return {std::move(lo)};
}

// value is one of a fixed set.
template <class B>
struct OneOf {
    std::vector<B> allowed;
    template <class T>
    std::optional<std::string> operator()(const T& v) const {
        for (const auto& a : allowed) {
            if (detail::equal(v, a)) return std::nullopt;
        }
        std::string list;
        for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + describe(a);
        return "must be one of " + list + ", got " + describe(v);
    }
};
template <class B>
OneOf<B> one_of(std::initializer_list<B> allowed) {
    return {std::vector<B>(allowed)};
}
inline OneOf<std::string> one_of(std::initializer_list<const char*> allowed) {
    return {std::vector<std::string>(allowed.begin(), allowed.end())};
}

// Strings, lists and maps that must not be empty.
struct NonEmpty {
    template <class T>
    std::optional<std::string> operator()(const T& v) const {
        if (v.empty()) return "must not be empty";
        return std::nullopt;
    }
};
inline NonEmpty non_empty() { return {}; }

// Any predicate with the message to show when it is false.
template <class P>
struct Check {
    P pred;
    std::string message;
    template <class T>
    std::optional<std::string> operator()(const T& v) const {
        if (!pred(v)) return message;
        return std::nullopt;
    }
};
template <class P>
Check<P> check(P pred, std::string message) {
    return {std::move(pred), std::move(message)};
}

}  // namespace config
}  // namespace kedge
