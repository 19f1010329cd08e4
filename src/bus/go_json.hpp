#pragma once
// JSON output byte-compatible with Go's encoding/json defaults, so that what kedge writes on the
// wire matches what upstream KubeEdge writes: `<`, `>`, `&`, U+2028 and U+2029 escaped as
// \u003c \u003e \u0026 \u2028 \u2029, invalid UTF-8 replaced by \ufffd, floats in Go's
// shortest form (1e21 and up or below 1e-6 in exponent form, "e-7" not "e-07").

#include <boost/json/fwd.hpp>
#include <string>
#include <string_view>

namespace kedge::bus {

// Appends s as a quoted JSON string, escaped the way Go (>= 1.22) does.
void append_go_string(std::string& out, std::string_view s);

// Appends v as compact JSON. Object members keep their stored order (Go sorts map keys, but
// Kubernetes objects come from structs whose order the parsed value already carries).
void append_go_json(std::string& out, const boost::json::value& v);

// Appends a double the way Go formats a float64. Non-finite values (which JSON cannot carry
// and Go refuses to encode) become null.
void append_go_double(std::string& out, double d);

std::string to_go_json(const boost::json::value& v);

}  // namespace kedge::bus
