#pragma once
// The content of a message: any JSON value, carried as shared immutable serialized text, as a
// shared parsed value, or both. Pass-through never re-encodes: content decoded from the wire
// keeps its exact bytes and is parsed only when someone looks inside; content serialized once
// (Content::encoded) is spliced as-is into every message that shares it, so fanning one pod out
// to N nodes serializes it once. Copies are cheap (one shared_ptr) and thread-safe.

#include <boost/json/fwd.hpp>
#include <memory>
#include <string>
#include <string_view>

#include "base/error.hpp"

namespace kedge::bus {

class Content {
  public:
    // JSON null.
    Content() = default;

    // A parsed value; every encode serializes it (use encoded() when it is sent more than once).
    static Content from_value(boost::json::value v);
    // Serializes v once (Go-compatible bytes) and keeps both the text and the value.
    static Content encoded(boost::json::value v);
    // A JSON string such as "OK" or "ping".
    static Content from_string(std::string_view s);
    // Serialized JSON from an untrusted source: validated, kept as-is (whitespace and all).
    static Result<Content> from_json(std::string text);
    // Serialized JSON the caller vouches for (it produced it, or validated it already).
    static Content from_trusted_json(std::shared_ptr<const std::string> text);
    // A span of a buffer that `owner` keeps alive; the bytes must already be validated. Used by
    // the decoder to keep content as a slice of the received frame.
    static Content from_validated_span(std::shared_ptr<const void> owner, std::string_view span);

    bool is_null() const;
    bool is_string() const;
    // True when the content is the JSON string s (e.g. content_is("OK")).
    bool string_equals(std::string_view s) const;
    // The decoded string; invalid_argument when the content is not a string.
    Result<std::string> as_string() const;

    // The serialized bytes when the content has them (decoded or encoded content).
    bool has_raw() const;
    std::string_view raw() const;

    // The parsed value, parsed on first access and shared by every copy. A parse error can only
    // come from from_trusted_json() text that was not JSON after all.
    Result<std::shared_ptr<const boost::json::value>> value() const;

    // Appends the JSON: the raw bytes when present, otherwise the value serialized Go-style.
    void append_json(std::string& out) const;
    std::string to_json() const;

    // True when both hold the same JSON value (compares parsed values when bytes differ).
    bool same_value(const Content& other) const;

  private:
    struct Rep;
    explicit Content(std::shared_ptr<const Rep> rep) : rep_(std::move(rep)) {}

    std::shared_ptr<const Rep> rep_;  // null means JSON null
};

}  // namespace kedge::bus
