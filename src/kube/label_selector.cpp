#include "kube/label_selector.hpp"

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>
#include <boost/json/value.hpp>
#include <charconv>
#include <cstdint>

#include "kube/validation.hpp"

namespace kedge::kube {

namespace json = boost::json;

namespace {

Result<std::int64_t> parse_int64(std::string_view s) {
    std::int64_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc{} || end != s.data() + s.size()) {
        return Error(errc::invalid_argument, "not an integer");
    }
    return v;
}

std::string join_values(const std::vector<std::string>& values) {
    std::string out;
    for (std::size_t i = 0; i < values.size(); ++i) {
        if (i > 0) out += ',';
        out += values[i];
    }
    return out;
}

std::string_view operator_name(SelectorOperator op) {
    switch (op) {
        case SelectorOperator::kIn:
            return "in";
        case SelectorOperator::kNotIn:
            return "notin";
        case SelectorOperator::kEquals:
            return "=";
        case SelectorOperator::kDoubleEquals:
            return "==";
        case SelectorOperator::kNotEquals:
            return "!=";
        case SelectorOperator::kExists:
            return "exists";
        case SelectorOperator::kDoesNotExist:
            return "!";
        case SelectorOperator::kGreaterThan:
            return "gt";
        case SelectorOperator::kLessThan:
            return "lt";
    }
    return "?";
}

// ---- lexer: the token set of apimachinery's labels.Lexer ----

enum class Tok {
    kIdentifier,
    kDoesNotExist,
    kNotEquals,
    kEquals,
    kDoubleEquals,
    kGreaterThan,
    kLessThan,
    kIn,
    kNotIn,
    kOpenPar,
    kClosedPar,
    kComma,
    kEnd,
};

struct Token {
    Tok tok;
    std::string_view literal;
};

bool is_whitespace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
bool is_special(char c) {
    return c == '=' || c == '!' || c == '(' || c == ')' || c == ',' || c == '>' || c == '<';
}

std::vector<Token> lex(std::string_view s) {
    std::vector<Token> out;
    std::size_t i = 0;
    while (true) {
        while (i < s.size() && is_whitespace(s[i])) ++i;
        if (i == s.size()) break;
        if (is_special(s[i])) {
            std::string_view two = s.substr(i, 2);
            if (two == "!=" || two == "==") {
                out.push_back({two == "!=" ? Tok::kNotEquals : Tok::kDoubleEquals, two});
                i += 2;
                continue;
            }
            Tok t = Tok::kComma;
            switch (s[i]) {
                case '!':
                    t = Tok::kDoesNotExist;
                    break;
                case '=':
                    t = Tok::kEquals;
                    break;
                case '(':
                    t = Tok::kOpenPar;
                    break;
                case ')':
                    t = Tok::kClosedPar;
                    break;
                case '>':
                    t = Tok::kGreaterThan;
                    break;
                case '<':
                    t = Tok::kLessThan;
                    break;
                default:
                    t = Tok::kComma;
                    break;
            }
            out.push_back({t, s.substr(i, 1)});
            ++i;
            continue;
        }
        std::size_t start = i;
        while (i < s.size() && !is_whitespace(s[i]) && !is_special(s[i])) ++i;
        std::string_view word = s.substr(start, i - start);
        Tok t = word == "in" ? Tok::kIn : word == "notin" ? Tok::kNotIn : Tok::kIdentifier;
        out.push_back({t, word});
    }
    out.push_back({Tok::kEnd, ""});
    return out;
}

// Where the parser is: after a key it wants operators ("in" is a keyword); anywhere else
// "in"/"notin" are plain identifiers, as in apimachinery's ParserContext.
enum class Context { kKeyAndOperator, kValues };

class Parser {
  public:
    Parser(std::string_view text) : text_(text), tokens_(lex(text)) {}

    Result<std::vector<Requirement>> parse() {
        std::vector<Requirement> reqs;
        while (true) {
            Token t = peek(Context::kValues);
            if (t.tok == Tok::kEnd) return reqs;
            if (t.tok != Tok::kIdentifier && t.tok != Tok::kDoesNotExist) {
                return fail(t, "!, identifier, or 'end of string'");
            }
            auto r = parse_requirement();
            if (!r) return r.error();
            reqs.push_back(std::move(*r));
            Token sep = next(Context::kValues);
            if (sep.tok == Tok::kEnd) return reqs;
            if (sep.tok != Tok::kComma) return fail(sep, "',' or 'end of string'");
            Token after = peek(Context::kValues);
            if (after.tok != Tok::kIdentifier && after.tok != Tok::kDoesNotExist) {
                return fail(after, "identifier after ','");
            }
        }
    }

  private:
    Token peek(Context c) const { return in_context(tokens_[pos_], c); }
    Token next(Context c) {
        Token t = in_context(tokens_[pos_], c);
        if (t.tok != Tok::kEnd) ++pos_;
        return t;
    }
    static Token in_context(Token t, Context c) {
        if (c == Context::kValues && (t.tok == Tok::kIn || t.tok == Tok::kNotIn)) {
            t.tok = Tok::kIdentifier;
        }
        return t;
    }

    Error fail(const Token& found, std::string_view expected) const {
        std::string f = found.tok == Tok::kEnd ? "end of string" : std::string(found.literal);
        return Error(errc::invalid_argument, "invalid label selector \"" + std::string(text_) +
                                                 "\": found '" + f +
                                                 "', expected: " + std::string(expected));
    }
    Error wrap(const Error& e) const {
        return Error(e.code, "invalid label selector \"" + std::string(text_) + "\": " + e.detail);
    }

    Result<Requirement> parse_requirement() {
        bool negated = false;
        Token key = next(Context::kValues);
        if (key.tok == Tok::kDoesNotExist) {
            negated = true;
            key = next(Context::kValues);
        }
        if (key.tok != Tok::kIdentifier) return fail(key, "identifier");
        Tok after = peek(Context::kValues).tok;
        if (negated || after == Tok::kEnd || after == Tok::kComma) {
            auto r = Requirement::make(
                std::string(key.literal),
                negated ? SelectorOperator::kDoesNotExist : SelectorOperator::kExists, {});
            if (!r) return wrap(r.error());
            return r;
        }
        Token op_tok = next(Context::kKeyAndOperator);
        SelectorOperator op{};
        switch (op_tok.tok) {
            case Tok::kIn:
                op = SelectorOperator::kIn;
                break;
            case Tok::kNotIn:
                op = SelectorOperator::kNotIn;
                break;
            case Tok::kEquals:
                op = SelectorOperator::kEquals;
                break;
            case Tok::kDoubleEquals:
                op = SelectorOperator::kDoubleEquals;
                break;
            case Tok::kNotEquals:
                op = SelectorOperator::kNotEquals;
                break;
            case Tok::kGreaterThan:
                op = SelectorOperator::kGreaterThan;
                break;
            case Tok::kLessThan:
                op = SelectorOperator::kLessThan;
                break;
            default:
                return fail(op_tok, "=, !=, ==, in, notin, >, <");
        }
        std::vector<std::string> values;
        if (op == SelectorOperator::kIn || op == SelectorOperator::kNotIn) {
            auto v = parse_values();
            if (!v) return v.error();
            values = std::move(*v);
        } else {
            Token v = peek(Context::kValues);
            if (v.tok == Tok::kEnd || v.tok == Tok::kComma) {
                values.emplace_back();  // "a=" selects the empty value
            } else if (v.tok == Tok::kIdentifier) {
                values.emplace_back(next(Context::kValues).literal);
            } else {
                return fail(v, "identifier");
            }
        }
        auto r = Requirement::make(std::string(key.literal), op, std::move(values));
        if (!r) return wrap(r.error());
        return r;
    }

    // "(a,b)", "()" = {""}, "(a,)" = {"a",""}, as in apimachinery's parseIdentifiersList.
    Result<std::vector<std::string>> parse_values() {
        Token open = next(Context::kValues);
        if (open.tok != Tok::kOpenPar) return fail(open, "'('");
        std::vector<std::string> out;
        Token t = peek(Context::kValues);
        if (t.tok == Tok::kClosedPar) {
            next(Context::kValues);
            out.emplace_back();
            return out;
        }
        if (t.tok != Tok::kIdentifier && t.tok != Tok::kComma) {
            return fail(t, "',', ')' or identifier");
        }
        while (true) {
            Token v = next(Context::kValues);
            if (v.tok == Tok::kIdentifier) {
                out.emplace_back(v.literal);
                Token after = peek(Context::kValues);
                if (after.tok == Tok::kComma) continue;
                if (after.tok == Tok::kClosedPar) {
                    next(Context::kValues);
                    return out;
                }
                return fail(after, "',' or ')'");
            }
            if (v.tok != Tok::kComma) return fail(v, "',', or identifier");
            if (out.empty()) out.emplace_back();  // "(,"
            Token after = peek(Context::kValues);
            if (after.tok == Tok::kClosedPar) {
                next(Context::kValues);
                out.emplace_back();  // ",)"
                return out;
            }
            if (after.tok == Tok::kComma) {
                next(Context::kValues);
                out.emplace_back();  // ",,"
            }
        }
    }

    std::string_view text_;
    std::vector<Token> tokens_;
    std::size_t pos_ = 0;
};

void sort_by_key(std::vector<Requirement>& reqs) {
    std::stable_sort(reqs.begin(), reqs.end(),
                     [](const Requirement& a, const Requirement& b) { return a.key < b.key; });
}

}  // namespace

Result<Requirement> Requirement::make(std::string key, SelectorOperator op,
                                      std::vector<std::string> values) {
    auto bad = [&](std::string why) {
        return Error(errc::invalid_argument, "requirement on key \"" + key + "\": " + why);
    };
    if (auto k = validate_qualified_name(key); !k) return bad("invalid key: " + k.error().detail);
    switch (op) {
        case SelectorOperator::kIn:
        case SelectorOperator::kNotIn:
            if (values.empty())
                return bad("for 'in', 'notin' operators, values set can't be empty");
            break;
        case SelectorOperator::kEquals:
        case SelectorOperator::kDoubleEquals:
        case SelectorOperator::kNotEquals:
            if (values.size() != 1)
                return bad("exact-match compatibility requires one single value");
            break;
        case SelectorOperator::kExists:
        case SelectorOperator::kDoesNotExist:
            if (!values.empty())
                return bad("values set must be empty for exists and does not exist");
            break;
        case SelectorOperator::kGreaterThan:
        case SelectorOperator::kLessThan:
            if (values.size() != 1) {
                return bad("for 'Gt', 'Lt' operators, exactly one value is required");
            }
            if (!parse_int64(values[0])) {
                return bad("for 'Gt', 'Lt' operators, the value must be an integer, got \"" +
                           values[0] + "\"");
            }
            break;
    }
    for (const auto& v : values) {
        if (auto r = validate_label_value(v); !r) return bad("invalid value: " + r.error().detail);
    }
    std::sort(values.begin(), values.end());
    values.erase(std::unique(values.begin(), values.end()), values.end());
    return Requirement{std::move(key), op, std::move(values)};
}

bool Requirement::matches(std::optional<std::string_view> value) const {
    auto has = [&](std::string_view v) {
        return std::binary_search(values.begin(), values.end(), v, std::less<>{});
    };
    switch (op) {
        case SelectorOperator::kIn:
        case SelectorOperator::kEquals:
        case SelectorOperator::kDoubleEquals:
            return value.has_value() && has(*value);
        case SelectorOperator::kNotIn:
        case SelectorOperator::kNotEquals:
            return !value.has_value() || !has(*value);
        case SelectorOperator::kExists:
            return value.has_value();
        case SelectorOperator::kDoesNotExist:
            return !value.has_value();
        case SelectorOperator::kGreaterThan:
        case SelectorOperator::kLessThan: {
            if (!value.has_value() || values.size() != 1) return false;
            auto have = parse_int64(*value);
            auto want = parse_int64(values[0]);
            if (!have || !want) return false;
            return op == SelectorOperator::kGreaterThan ? *have > *want : *have < *want;
        }
    }
    return false;
}

std::string Requirement::to_string() const {
    std::string out;
    if (op == SelectorOperator::kDoesNotExist) out += '!';
    out += key;
    switch (op) {
        case SelectorOperator::kExists:
        case SelectorOperator::kDoesNotExist:
            return out;
        case SelectorOperator::kIn:
        case SelectorOperator::kNotIn:
            return out + " " + std::string(operator_name(op)) + " (" + join_values(values) + ")";
        case SelectorOperator::kEquals:
            out += '=';
            break;
        case SelectorOperator::kDoubleEquals:
            out += "==";
            break;
        case SelectorOperator::kNotEquals:
            out += "!=";
            break;
        case SelectorOperator::kGreaterThan:
            out += '>';
            break;
        case SelectorOperator::kLessThan:
            out += '<';
            break;
    }
    return out + join_values(values);
}

LabelSelector LabelSelector::nothing() {
    LabelSelector s;
    s.nothing_ = true;
    return s;
}

Result<LabelSelector> LabelSelector::parse(std::string_view text) {
    Parser p(text);
    auto reqs = p.parse();
    if (!reqs) return reqs.error();
    LabelSelector s;
    s.requirements_ = std::move(*reqs);
    sort_by_key(s.requirements_);
    return s;
}

Result<LabelSelector> LabelSelector::from_json(const json::value& selector) {
    if (selector.is_null()) return nothing();
    const json::object* o = selector.if_object();
    if (o == nullptr) return Error(errc::invalid_argument, "label selector must be an object");
    LabelSelector s;
    if (const json::value* ml = o->if_contains("matchLabels"); ml != nullptr && !ml->is_null()) {
        const json::object* m = ml->if_object();
        if (m == nullptr) return Error(errc::invalid_argument, "matchLabels must be an object");
        for (const auto& kv : *m) {
            const json::string* v = kv.value().if_string();
            if (v == nullptr) {
                return Error(errc::invalid_argument,
                             "matchLabels[\"" + std::string(kv.key()) + "\"] must be a string");
            }
            auto r = Requirement::make(std::string(kv.key()), SelectorOperator::kEquals,
                                       {std::string(*v)});
            if (!r) return r.error();
            s.requirements_.push_back(std::move(*r));
        }
    }
    const json::value* me = o->if_contains("matchExpressions");
    if (me != nullptr && !me->is_null()) {
        const json::array* exprs = me->if_array();
        if (exprs == nullptr)
            return Error(errc::invalid_argument, "matchExpressions must be a list");
        for (const json::value& e : *exprs) {
            const json::object* eo = e.if_object();
            const json::value* key = eo != nullptr ? eo->if_contains("key") : nullptr;
            const json::value* op = eo != nullptr ? eo->if_contains("operator") : nullptr;
            if (key == nullptr || !key->is_string() || op == nullptr || !op->is_string()) {
                return Error(errc::invalid_argument,
                             "each matchExpressions entry needs string 'key' and 'operator'");
            }
            std::string_view ops = op->get_string();
            SelectorOperator sop{};
            if (ops == "In") {
                sop = SelectorOperator::kIn;
            } else if (ops == "NotIn") {
                sop = SelectorOperator::kNotIn;
            } else if (ops == "Exists") {
                sop = SelectorOperator::kExists;
            } else if (ops == "DoesNotExist") {
                sop = SelectorOperator::kDoesNotExist;
            } else {
                return Error(errc::invalid_argument,
                             "\"" + std::string(ops) + "\" is not a valid label selector operator");
            }
            std::vector<std::string> values;
            if (const json::value* vs = eo->if_contains("values");
                vs != nullptr && !vs->is_null()) {
                const json::array* va = vs->if_array();
                if (va == nullptr) return Error(errc::invalid_argument, "values must be a list");
                for (const json::value& v : *va) {
                    if (!v.is_string()) {
                        return Error(errc::invalid_argument, "values must be strings");
                    }
                    values.emplace_back(v.get_string());
                }
            }
            auto r = Requirement::make(std::string(key->get_string()), sop, std::move(values));
            if (!r) return r.error();
            s.requirements_.push_back(std::move(*r));
        }
    }
    sort_by_key(s.requirements_);
    return s;
}

Result<LabelSelector> LabelSelector::from_labels(const Labels& labels) {
    LabelSelector s;
    for (const auto& [k, v] : labels) {
        auto r = Requirement::make(k, SelectorOperator::kEquals, {v});
        if (!r) return r.error();
        s.requirements_.push_back(std::move(*r));
    }
    return s;
}

void LabelSelector::add(Requirement r) {
    requirements_.push_back(std::move(r));
    sort_by_key(requirements_);
}

template <class Lookup>
bool LabelSelector::matches_with(const Lookup& lookup) const {
    if (nothing_) return false;
    return std::all_of(requirements_.begin(), requirements_.end(),
                       [&](const Requirement& r) { return r.matches(lookup(r.key)); });
}

bool LabelSelector::matches(const Labels& labels) const {
    return matches_with([&](const std::string& key) -> std::optional<std::string_view> {
        auto it = labels.find(key);
        if (it == labels.end()) return std::nullopt;
        return std::string_view(it->second);
    });
}

bool LabelSelector::matches_json_labels(const json::object* labels) const {
    return matches_with([&](const std::string& key) -> std::optional<std::string_view> {
        if (labels == nullptr) return std::nullopt;
        const json::value* v = labels->if_contains(key);
        if (v == nullptr || !v->is_string()) return std::nullopt;
        return std::string_view(v->get_string());
    });
}

bool LabelSelector::matches_object(const json::object& obj) const {
    return matches_json_labels(labels_json(obj));
}

std::optional<std::string> LabelSelector::requires_exact_match(std::string_view key) const {
    for (const auto& r : requirements_) {
        if (r.key != key || r.values.size() != 1) continue;
        if (r.op == SelectorOperator::kEquals || r.op == SelectorOperator::kDoubleEquals ||
            r.op == SelectorOperator::kIn) {
            return r.values[0];
        }
    }
    return std::nullopt;
}

std::string LabelSelector::to_string() const {
    std::string out;
    for (const auto& r : requirements_) {
        if (!out.empty()) out += ',';
        out += r.to_string();
    }
    return out;
}

}  // namespace kedge::kube
