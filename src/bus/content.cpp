#include "bus/content.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <mutex>

#include "bus/go_json.hpp"
#include "bus/json_validate.hpp"

namespace kedge::bus {

struct Content::Rep {
    std::shared_ptr<const void> owner;  // keeps `raw` alive
    std::string_view raw;               // empty when the content only has a value
    // Set at construction and never changed afterwards: safe to read from any thread.
    std::shared_ptr<const boost::json::value> eager;
    // Written once under `once`; read only after call_once returned.
    mutable std::once_flag once;
    mutable std::shared_ptr<const boost::json::value> lazy;
    mutable Error error;

    // Parses raw once; copies of a Content on other threads may race to get here.
    std::shared_ptr<const boost::json::value> parsed() const {
        if (eager) return eager;
        std::call_once(once, [this] {
            boost::json::parse_options opts;
            opts.max_depth = kMaxJsonDepth;
            boost::json::error_code ec;
            auto v =
                boost::json::parse(boost::json::string_view(raw.data(), raw.size()), ec, {}, opts);
            if (ec) {
                error =
                    Error(errc::parse_error, "message content is not valid JSON: " + ec.message());
            } else {
                lazy = std::make_shared<const boost::json::value>(std::move(v));
            }
        });
        return lazy;
    }
};

namespace {

std::string_view trim(std::string_view s) {
    auto ws = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
    while (!s.empty() && ws(s.front())) s.remove_prefix(1);
    while (!s.empty() && ws(s.back())) s.remove_suffix(1);
    return s;
}

}  // namespace

Content Content::from_value(boost::json::value v) {
    if (v.is_null()) return Content();
    auto rep = std::make_shared<Rep>();
    rep->eager = std::make_shared<const boost::json::value>(std::move(v));
    return Content(std::move(rep));
}

Content Content::encoded(boost::json::value v) {
    if (v.is_null()) return Content();
    auto text = std::make_shared<std::string>();
    append_go_json(*text, v);
    auto rep = std::make_shared<Rep>();
    rep->raw = *text;
    rep->owner = std::move(text);
    rep->eager = std::make_shared<const boost::json::value>(std::move(v));
    return Content(std::move(rep));
}

Content Content::from_string(std::string_view s) {
    auto text = std::make_shared<std::string>();
    text->reserve(s.size() + 2);
    append_go_string(*text, s);
    return from_trusted_json(std::move(text));
}

Result<Content> Content::from_json(std::string text) {
    auto ok = validate_json(text);
    if (!ok) return ok.error();
    return from_trusted_json(std::make_shared<const std::string>(std::move(text)));
}

Content Content::from_trusted_json(std::shared_ptr<const std::string> text) {
    std::string_view span = *text;
    return from_validated_span(std::move(text), span);
}

Content Content::from_validated_span(std::shared_ptr<const void> owner, std::string_view span) {
    auto rep = std::make_shared<Rep>();
    rep->owner = std::move(owner);
    rep->raw = span;
    return Content(std::move(rep));
}

bool Content::is_null() const {
    if (!rep_) return true;
    if (!rep_->raw.empty()) return trim(rep_->raw) == "null";
    return rep_->eager && rep_->eager->is_null();
}

bool Content::is_string() const {
    if (!rep_) return false;
    if (!rep_->raw.empty()) {
        auto t = trim(rep_->raw);
        return !t.empty() && t.front() == '"';
    }
    return rep_->eager && rep_->eager->is_string();
}

Result<std::string> Content::as_string() const {
    if (!is_string()) return Error(errc::invalid_argument, "message content is not a JSON string");
    if (rep_->eager) {
        const auto& s = rep_->eager->get_string();
        return std::string(s.data(), s.size());
    }
    auto t = trim(rep_->raw);
    // Fast path for the common "OK"/"ping": no escapes, no need to build a DOM.
    if (t.size() >= 2 && t.back() == '"' &&
        t.substr(1, t.size() - 2).find_first_of("\\\"") == std::string_view::npos)
        return std::string(t.substr(1, t.size() - 2));
    auto v = value();
    if (!v) return v.error();
    const auto& s = (*v)->get_string();
    return std::string(s.data(), s.size());
}

bool Content::string_equals(std::string_view s) const {
    auto str = as_string();
    return str && *str == s;
}

bool Content::has_raw() const { return rep_ && !rep_->raw.empty(); }

std::string_view Content::raw() const { return rep_ ? rep_->raw : std::string_view{}; }

Result<std::shared_ptr<const boost::json::value>> Content::value() const {
    if (!rep_) {
        static const auto null_value = std::make_shared<const boost::json::value>();
        return null_value;
    }
    auto v = rep_->parsed();
    if (!v) return rep_->error;
    return v;
}

void Content::append_json(std::string& out) const {
    if (!rep_) {
        out.append("null");
    } else if (!rep_->raw.empty()) {
        out.append(rep_->raw);
    } else if (rep_->eager) {
        append_go_json(out, *rep_->eager);
    } else {
        out.append("null");
    }
}

std::string Content::to_json() const {
    std::string out;
    append_json(out);
    return out;
}

bool Content::same_value(const Content& other) const {
    if (has_raw() && other.has_raw() && raw() == other.raw()) return true;
    auto a = value();
    auto b = other.value();
    return a && b && **a == **b;
}

}  // namespace kedge::bus
