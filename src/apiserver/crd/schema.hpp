#pragma once
// The structural-schema engine of CustomResourceDefinitions: an openAPIV3Schema compiled once,
// then used to prune unknown fields, apply defaults and validate custom objects with
// kube-apiserver's field paths and messages. Pure (no I/O); a compiled schema is immutable and may
// be shared by any number of threads.

#include <boost/json/fwd.hpp>
#include <boost/json/value.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.hpp"
#include "kube/status.hpp"

namespace kedge::apiserver::crd {

struct SchemaNode;  // defined in schema.cpp

// What process() did to an object: the fields it dropped and the problems it found.
struct SchemaOutcome {
    // Paths of unknown fields that were pruned ("spec.foo", "spec.items[0].bar"); the server
    // answers fieldValidation=Strict with 400 when this is not empty, Warn with warnings
    // (`unknown field "spec.foo"`).
    std::vector<std::string> pruned;
    // Validation failures (kube-apiserver answers 422 Invalid with these as causes).
    std::vector<kube::StatusCause> errors;
};

// A compiled, structural openAPIV3Schema (one CRD version's `schema.openAPIV3Schema`).
class StructuralSchema {
public:
    // Checks `schema` against the structural-schema rules and compiles it. Every problem becomes
    // a cause whose field is rooted at `path` (e.g.
    // "spec.versions[0].schema.openAPIV3Schema.properties[spec].type"). Causes are appended to
    // `errors`; the result is empty when there was at least one.
    static std::shared_ptr<const StructuralSchema> compile(const boost::json::value& schema,
                                                           const std::string& path,
                                                           std::vector<kube::StatusCause>& errors);
    // The same for callers without a field path: invalid_argument naming the first problem.
    static Result<std::shared_ptr<const StructuralSchema>> compile(
        const boost::json::value& schema);

    // Removes fields the schema does not know (apiVersion, kind and metadata are always kept at
    // the root and in x-kubernetes-embedded-resource objects; x-kubernetes-preserve-unknown-fields
    // and additionalProperties keep the rest). Returns the pruned paths.
    std::vector<std::string> prune(boost::json::value& object) const;
    // Fills in `default` values of absent fields (and of non-nullable fields set to null),
    // top-down so that defaults of a defaulted object apply too; non-nullable nulls without a
    // default are removed, as kube-apiserver does before defaulting.
    void apply_defaults(boost::json::value& object) const;
    // Validates without changing anything; empty when the object is valid.
    std::vector<kube::StatusCause> validate(const boost::json::value& object) const;

    // What the server does to a custom object on create/update: prune, default, validate.
    SchemaOutcome process(boost::json::value& object) const;

    // The raw schema as given in the CRD (for /openapi and kubectl explain).
    const boost::json::value& source() const { return source_; }

    StructuralSchema(std::shared_ptr<const SchemaNode> root, boost::json::value source);

private:
    std::shared_ptr<const SchemaNode> root_;
    boost::json::value source_;
};

}  // namespace kedge::apiserver::crd
