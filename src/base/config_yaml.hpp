#pragma once
// Loading, validating, overriding and writing typed configs (see config.hpp) as YAML with
// yaml-cpp. Include this where a config is loaded or printed (an app's main, a test), not in
// headers that only declare config structs.
//
// Rules, chosen to match how upstream KubeEdge reads its files (Go, via JSON):
// - Loading starts from T{} and overwrites only what the document gives. A null value (`key:`
//   or `key: ~`) empties optionals, lists and maps and leaves scalars and structs alone.
// - Lists and maps in the document replace the default list or map as a whole.
// - A key the struct does not declare is an error naming the key and where it is.
// - After reading, every field's validators and every struct's `validate()` run, defaults
//   included.

#include "base/config.hpp"

#include <yaml-cpp/yaml.h>

#include <concepts>
#include <limits>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace kedge {
namespace config::detail {

template <class T>
inline constexpr bool kIsOptional = false;
template <class T>
inline constexpr bool kIsOptional<std::optional<T>> = true;
template <class T>
inline constexpr bool kIsVector = false;
template <class T, class A>
inline constexpr bool kIsVector<std::vector<T, A>> = true;
template <class T>
inline constexpr bool kIsStringMap = false;
template <class T, class C, class A>
inline constexpr bool kIsStringMap<std::map<std::string, T, C, A>> = true;
template <class T>
inline constexpr bool kDependentFalse = false;
template <class T>
struct Unwrap {
    using type = T;
};
template <class T>
struct Unwrap<std::optional<T>> {
    using type = T;
};

// A struct may add a cross-field check: `std::optional<std::string> validate() const`.
template <class T>
concept SelfValidating = requires(const T& t) {
    { t.validate() } -> std::convertible_to<std::optional<std::string>>;
};

// Values written as a single YAML scalar (as opposed to lists, maps and structs).
template <class T>
concept Scalar = std::is_arithmetic_v<T> || std::is_same_v<T, std::string> ||
    std::is_same_v<T, Duration> || std::is_same_v<T, Seconds> || NamedEnum<T>;

struct Context {
    std::string source;
};

// at is the offending node, or nullptr when the key is absent (no line to point at).
[[noreturn]] void fail(const Context& ctx, const YAML::Node* at, const std::string& path,
                       std::string problem);
[[noreturn]] void fail_at(const Context& ctx, const YAML::Mark& mark, const std::string& path,
                          std::string problem, bool path_in_problem);

std::string join_path(std::string_view parent, std::string_view key);
// The child of a mapping, or nullopt when the key is missing.
std::optional<YAML::Node> child_of(const YAML::Node& map, std::string_view key);
// "a mapping", "a list", "'text'", "null": what was found instead of what was expected.
std::string kind_of(const YAML::Node& node);
// Fails unless node is a scalar; returns its text.
const std::string& scalar_of(const Context& ctx, const YAML::Node& node, const std::string& path,
                             std::string_view expected);
// Errors on duplicate keys of map and, unless any_key, on keys that are not in known (with a
// "did you mean" hint).
void check_keys(const Context& ctx, const YAML::Node& map, const std::string& path,
                std::span<const std::string_view> known, bool any_key = false);
// "unknown key 'foo' in modules.edgeHub" (or "at the top level").
std::string unknown_key_problem(std::string_view key, std::string_view parent,
                                std::span<const std::string_view> known = {});

// Scalar parsers: nullopt on success, otherwise the problem.
std::optional<std::string> parse_bool(const std::string& text, bool& out);
std::optional<std::string> parse_int(const std::string& text, std::int64_t lo, std::uint64_t hi,
                                     std::int64_t& out_signed, std::uint64_t& out_unsigned);
std::optional<std::string> parse_double(const std::string& text, double& out);

void emit_string(YAML::Emitter& out, std::string_view s);
void emit_double(YAML::Emitter& out, double v);

template <class T, class V>
void run_validator(const Context& ctx, const YAML::Node* at, const std::string& path,
                   const T& value, const V& validator) {
    if constexpr (kIsOptional<T>) {
        if (value) run_validator(ctx, at, path, *value, validator);
    } else {
        if (std::optional<std::string> problem = validator(value)) {
            fail(ctx, at, path, std::move(*problem));
        }
    }
}

// Reads node into value; node is nullptr when the key is absent, which only validates.
template <class T>
void read_value(const Context& ctx, const YAML::Node* node, const std::string& path, T& value);

// Reads one mapping into a struct through its visit().
class Reader {
public:
    Reader(const Context& ctx, const YAML::Node* node, const std::string& path)
        : ctx_(ctx), node_(node), path_(path) {}

    template <class T, class... V>
    void field(std::string_view key, T& value, const V&... validators) {
        known_.push_back(key);
        std::string path = join_path(path_, key);
        std::optional<YAML::Node> child = node_ ? child_of(*node_, key) : std::nullopt;
        const YAML::Node* at = child ? &*child : nullptr;
        read_value(ctx_, at, path, value);
        (run_validator(ctx_, at, path, value, validators), ...);
    }

    void finish() const {
        if (node_) check_keys(ctx_, *node_, path_, known_);
    }

private:
    const Context& ctx_;
    const YAML::Node* node_;
    const std::string& path_;
    std::vector<std::string_view> known_;
};

template <class T>
void read_scalar(const Context& ctx, const YAML::Node& node, const std::string& path, T& value) {
    auto problem = [&](std::string p) { fail(ctx, &node, path, std::move(p)); };
    if constexpr (std::is_same_v<T, bool>) {
        const auto& text = scalar_of(ctx, node, path, "a boolean (true or false)");
        if (auto p = parse_bool(text, value)) problem(std::move(*p));
    } else if constexpr (std::integral<T>) {
        const auto& text = scalar_of(ctx, node, path, "an integer");
        std::int64_t s = 0;
        std::uint64_t u = 0;
        constexpr auto lo = static_cast<std::int64_t>(std::numeric_limits<T>::min());
        constexpr auto hi = static_cast<std::uint64_t>(std::numeric_limits<T>::max());
        if (auto p = parse_int(text, lo, hi, s, u)) problem(std::move(*p));
        value = std::signed_integral<T> ? static_cast<T>(s) : static_cast<T>(u);
    } else if constexpr (std::floating_point<T>) {
        const auto& text = scalar_of(ctx, node, path, "a number");
        double d = 0;
        if (auto p = parse_double(text, d)) problem(std::move(*p));
        value = static_cast<T>(d);
    } else if constexpr (std::is_same_v<T, std::string>) {
        value = scalar_of(ctx, node, path, "a string");
    } else if constexpr (std::is_same_v<T, Duration>) {
        const auto& text = scalar_of(ctx, node, path, "a duration like '10s' or '1m30s'");
        auto d = Duration::parse(text);
        if (!d) problem("expected a duration like '10s' or '1m30s': " + d.error().detail);
        value = *d;
    } else if constexpr (std::is_same_v<T, Seconds>) {
        const auto& text = scalar_of(ctx, node, path, "a number of seconds");
        auto s = Seconds::parse(text);
        if (!s) problem(s.error().detail);
        value = *s;
    } else {
        static_assert(NamedEnum<T>);
        std::string names;
        for (const auto& n : config_enum_names(value)) {
            names += (names.empty() ? "'" : ", '") + std::string(n.name) + "'";
        }
        const auto& text = scalar_of(ctx, node, path, "one of " + names);
        for (const auto& n : config_enum_names(value)) {
            if (n.name == text) {
                value = n.value;
                return;
            }
        }
        problem("expected one of " + names + ", got '" + text + "'");
    }
}

// Null follows Go's encoding/json (upstream reads YAML through JSON): it empties optionals,
// lists and maps, and leaves scalars and structs as they are.
template <class T>
void read_value(const Context& ctx, const YAML::Node* node, const std::string& path, T& value) {
    const bool is_null = node && node->IsNull();
    if constexpr (kIsOptional<T>) {
        if (is_null) {
            value.reset();
        } else if (node) {
            if (!value) value.emplace();
            read_value(ctx, node, path, *value);
        } else if (value) {
            read_value(ctx, nullptr, path, *value);
        }
    } else if constexpr (Scalar<T>) {
        if (node && !is_null) read_scalar(ctx, *node, path, value);
    } else if constexpr (kIsVector<T>) {
        if (node && !is_null && !node->IsSequence()) {
            fail(ctx, node, path, "expected a list, got " + kind_of(*node));
        }
        if (is_null) {
            value.clear();
        } else if (node) {
            T fresh;
            fresh.resize(node->size());
            for (std::size_t i = 0; i < node->size(); ++i) {
                const YAML::Node element = (*node)[i];
                read_value(ctx, &element, path + "[" + std::to_string(i) + "]", fresh[i]);
            }
            value = std::move(fresh);
        } else {
            for (std::size_t i = 0; i < value.size(); ++i) {
                read_value(ctx, nullptr, path + "[" + std::to_string(i) + "]", value[i]);
            }
        }
    } else if constexpr (kIsStringMap<T>) {
        if (node && !is_null && !node->IsMap()) {
            fail(ctx, node, path, "expected a mapping, got " + kind_of(*node));
        }
        if (is_null) {
            value.clear();
        } else if (node) {
            check_keys(ctx, *node, path, {}, true);
            T fresh;
            for (const auto& kv : *node) {
                const auto& key = scalar_of(ctx, kv.first, path, "a string key");
                const YAML::Node item = kv.second;
                read_value(ctx, &item, join_path(path, key), fresh[key]);
            }
            value = std::move(fresh);
        } else {
            for (auto& [key, v] : value) read_value(ctx, nullptr, join_path(path, key), v);
        }
    } else if constexpr (Visitable<T>) {
        if (node && !is_null && !node->IsMap()) {
            fail(ctx, node, path,
                 std::string("expected a mapping") + (path.empty() ? " at the top level" : "") +
                     ", got " + kind_of(*node));
        }
        Reader reader(ctx, is_null ? nullptr : node, path);
        value.visit(reader);
        reader.finish();
        if constexpr (SelfValidating<T>) {
            if (std::optional<std::string> problem = value.validate()) {
                fail(ctx, node, path, std::move(*problem));
            }
        }
    } else {
        static_assert(kDependentFalse<T>, "unsupported config field type");
    }
}

template <class T>
void write_value(YAML::Emitter& out, const T& value);

// Writes every field of a struct as one mapping.
class Writer {
public:
    explicit Writer(YAML::Emitter& out) : out_(out) {}
    template <class T, class... V>
    void field(std::string_view key, T& value, const V&...) {
        out_ << YAML::Key;
        emit_string(out_, key);
        out_ << YAML::Value;
        write_value(out_, value);
    }

private:
    YAML::Emitter& out_;
};

template <class T>
void write_value(YAML::Emitter& out, const T& value) {
    if constexpr (kIsOptional<T>) {
        if (value) {
            write_value(out, *value);
        } else {
            out << YAML::Null;
        }
    } else if constexpr (std::is_same_v<T, bool>) {
        out << (value ? "true" : "false");
    } else if constexpr (std::integral<T>) {
        out << (std::signed_integral<T> ? std::to_string(static_cast<std::int64_t>(value))
                                        : std::to_string(static_cast<std::uint64_t>(value)));
    } else if constexpr (std::floating_point<T>) {
        emit_double(out, static_cast<double>(value));
    } else if constexpr (std::is_same_v<T, std::string>) {
        emit_string(out, value);
    } else if constexpr (std::is_same_v<T, Duration> || std::is_same_v<T, Seconds>) {
        out << value.to_string();
    } else if constexpr (NamedEnum<T>) {
        for (const auto& n : config_enum_names(value)) {
            if (n.value == value) {
                out << std::string(n.name);
                return;
            }
        }
        out << std::to_string(static_cast<std::int64_t>(value));
    } else if constexpr (kIsVector<T>) {
        if (value.empty()) out << YAML::Flow;
        out << YAML::BeginSeq;
        for (const auto& v : value) write_value(out, v);
        out << YAML::EndSeq;
    } else if constexpr (kIsStringMap<T>) {
        if (value.empty()) out << YAML::Flow;
        out << YAML::BeginMap;
        for (const auto& [k, v] : value) {
            out << YAML::Key;
            emit_string(out, k);
            out << YAML::Value;
            write_value(out, v);
        }
        out << YAML::EndMap;
    } else if constexpr (Visitable<T>) {
        out << YAML::BeginMap;
        Writer writer(out);
        // visit() is declared non-const because the same description also loads; Writer only
        // reads through the references it is given.
        const_cast<T&>(value).visit(writer);  // NOLINT(cppcoreguidelines-pro-type-const-cast)
        out << YAML::EndMap;
    } else {
        static_assert(kDependentFalse<T>, "unsupported config field type");
    }
}

// The YAML node a `--set` value stands for: scalars are taken verbatim, lists, maps and structs
// are parsed as YAML ("[a, b]", "{k: v}").
YAML::Node parse_set_value(const Context& ctx, const std::string& path, const std::string& text,
                           bool verbatim);

template <class T>
void set_value(const Context& ctx, const std::string& path, std::span<const std::string> rest,
               const std::string& text, T& value);

// Finds the field named by the first path component and sets it (or descends into it).
class Setter {
public:
    Setter(const Context& ctx, const std::string& path, std::span<const std::string> keys,
           const std::string& text)
        : ctx_(ctx), path_(path), keys_(keys), text_(text) {}

    template <class T, class... V>
    void field(std::string_view key, T& value, const V&... validators) {
        known_.push_back(key);
        if (found_ || key != keys_.front()) return;
        found_ = true;
        std::string path = join_path(path_, key);
        set_value(ctx_, path, keys_.subspan(1), text_, value);
        (run_validator(ctx_, nullptr, path, value, validators), ...);
    }

    bool found() const { return found_; }
    std::span<const std::string_view> known() const { return known_; }

private:
    const Context& ctx_;
    const std::string& path_;
    std::span<const std::string> keys_;
    const std::string& text_;
    bool found_ = false;
    std::vector<std::string_view> known_;
};

std::string join_keys(std::span<const std::string> keys);

template <class T>
void set_value(const Context& ctx, const std::string& path, std::span<const std::string> rest,
               const std::string& text, T& value) {
    if (rest.empty()) {
        if constexpr (kIsOptional<T>) {
            if (text == "null" || text == "~") {
                value.reset();
                return;
            }
        }
        constexpr bool verbatim = Scalar<typename Unwrap<T>::type>;
        const YAML::Node node = parse_set_value(ctx, path, text, verbatim);
        read_value(ctx, &node, path, value);
    } else if constexpr (kIsOptional<T>) {
        if (!value) value.emplace();
        set_value(ctx, path, rest, text, *value);
    } else if constexpr (kIsStringMap<T>) {
        // Map keys may contain dots (node labels): with scalar values the whole rest is the key.
        using Mapped = typename T::mapped_type;
        bool nested = Visitable<Mapped> || kIsStringMap<Mapped>;
        std::string key = nested ? rest.front() : join_keys(rest);
        auto remaining = nested ? rest.subspan(1) : std::span<const std::string>();
        set_value(ctx, join_path(path, key), remaining, text, value[key]);
    } else if constexpr (Visitable<T>) {
        Setter setter(ctx, path, rest, text);
        value.visit(setter);
        if (!setter.found()) {
            fail_at(ctx, YAML::Mark::null_mark(), join_path(path, rest.front()),
                    unknown_key_problem(rest.front(), path, setter.known()), true);
        }
    } else {
        fail(ctx, nullptr, path,
             "has no field '" + rest.front() + "' (it is a single value or a list)");
    }
}

// The key path and value text of "a.b.c=value"; ConfigError when malformed.
void split_set(std::string_view assignment, std::vector<std::string>& keys, std::string& text);
// The whole file; ConfigError naming the file when it cannot be read.
std::string read_config_file(const std::string& path);

}  // namespace config::detail

// Parses text as a T, starting from T{}. source_name names the text in errors (a file name).
// Throws ConfigError.
template <class T>
T load_yaml_string(std::string_view text, std::string_view source_name = "config") {
    config::detail::Context ctx{std::string(source_name)};
    const YAML::Node root = [&] {
        try {
            return YAML::Load(std::string(text));
        } catch (const YAML::ParserException& e) {
            config::detail::fail_at(ctx, e.mark, "", "invalid YAML: " + e.msg, false);
        }
    }();
    T value{};
    config::detail::read_value(ctx, &root, "", value);
    return value;
}

// Reads the file at path (missing or unreadable is a ConfigError) and parses it as a T.
template <class T>
T load_yaml_file(const std::string& path) {
    return load_yaml_string<T>(config::detail::read_config_file(path), path);
}

// Runs every field validator and struct validate() on value, e.g. after apply_set().
template <class T>
void validate_config(const T& value, std::string_view source_name = "config") {
    config::detail::Context ctx{std::string(source_name)};
    // With no document to read, read_value only validates; it never writes through value.
    config::detail::read_value(ctx, nullptr, "", const_cast<T&>(value));  // NOLINT
}

// A complete YAML document with every key of value (for `--defaultconfig`).
template <class T>
std::string to_yaml(const T& value) {
    YAML::Emitter out;
    config::detail::write_value(out, value);
    return std::string(out.c_str()) + "\n";
}

// Applies one `key.path=value` override (keadm's `--set`), e.g.
// "modules.edgeHub.heartbeat=20" or "modules.edged.nodeLabels.zone=a". Scalars take the text
// verbatim; lists, maps and structs parse it as YAML ("[a, b]"); "null" empties an optional.
// Runs the validators of the fields on the path; call validate_config() after the last one for
// the cross-field checks. Throws ConfigError naming "--set"; after an error value may be partly
// changed and should be discarded. Lists cannot be indexed into: set the whole list.

template <class T>
void apply_set(T& value, std::string_view assignment) {
    config::detail::Context ctx{"--set " + std::string(assignment)};
    std::vector<std::string> keys;
    std::string text;
    config::detail::split_set(assignment, keys, text);
    config::detail::set_value(ctx, "", keys, text, value);
}

}  // namespace kedge
