#include "controllers/daemonset/revision_logic.hpp"

#include <boost/json/serialize.hpp>

#include <algorithm>

#include "controllers/daemonset/daemonset_logic.hpp"
#include "kube/object.hpp"
#include "kube/patch.hpp"

namespace kedge::controllers::daemonset {

namespace json = boost::json;

namespace {

json::value template_of(const json::object& ds) {
    if (const auto* t = kube::get_path(ds, "spec.template")) return *t;
    return json::object{};
}

}  // namespace

std::string template_hash(const json::value& pod_template,
                          std::optional<std::int64_t> collision_count) {
    std::string text = kube::canonical_json(pod_template);
    if (collision_count) text += std::to_string(*collision_count);
    std::uint32_t h = 2166136261u;
    for (unsigned char c : text) {
        h ^= c;
        h *= 16777619u;
    }
    static constexpr std::string_view kAlphabet = "bcdfghjklmnpqrstvwxz2456789";
    std::string out;
    for (char d : std::to_string(h))
        out += kAlphabet[static_cast<unsigned char>(d) % kAlphabet.size()];
    return out;
}

json::object revision_template(const json::object& revision) {
    const auto* t = kube::get_path(revision, "data.spec.template");
    if (!t || !t->is_object()) return {};
    json::object out = t->as_object();
    out.erase("$patch");
    return out;
}

json::object new_revision(const json::object& ds, std::string_view hash, std::int64_t revision) {
    json::object tmpl = template_of(ds).is_object() ? template_of(ds).as_object() : json::object{};
    tmpl["$patch"] = "replace";
    json::object rev{{"apiVersion", "apps/v1"},
                     {"kind", "ControllerRevision"},
                     {"metadata",
                      {{"name", std::string(kube::name(ds)) + "-" + std::string(hash)},
                       {"namespace", kube::namespace_of(ds)}}},
                     {"data", {{"spec", {{"template", std::move(tmpl)}}}}},
                     {"revision", revision}};
    if (const auto* labels = kube::get_path(ds, "spec.template.metadata.labels");
        labels && labels->is_object())
        rev["metadata"].as_object()["labels"] = *labels;
    kube::set_label(rev, kRevisionHashLabel, hash);
    rev["metadata"].as_object()["ownerReferences"] =
        json::array{json::object{{"apiVersion", "apps/v1"},
                                 {"kind", "DaemonSet"},
                                 {"name", kube::name(ds)},
                                 {"uid", kube::uid(ds)},
                                 {"controller", true},
                                 {"blockOwnerDeletion", true}}};
    return rev;
}

std::int64_t revision_number(const json::object& revision) {
    const auto* v = revision.if_contains("revision");
    if (v && v->is_int64()) return v->as_int64();
    if (v && v->is_uint64()) return static_cast<std::int64_t>(v->as_uint64());
    return 0;
}

const json::object* find_matching_revision(const std::vector<const json::object*>& revisions,
                                           const json::object& ds) {
    const json::value current = template_of(ds);
    const json::object* best = nullptr;
    for (const auto* r : revisions) {
        if (!kube::json_equal(revision_template(*r), current)) continue;
        if (!best || revision_number(*r) > revision_number(*best)) best = r;
    }
    return best;
}

std::vector<std::string> revisions_to_prune(const std::vector<const json::object*>& revisions,
                                            std::string_view current_name,
                                            const std::set<std::string, std::less<>>& live_hashes,
                                            std::int64_t limit) {
    std::vector<const json::object*> old;
    for (const auto* r : revisions) {
        if (kube::name(*r) == current_name) continue;
        auto hash = kube::label(*r, kRevisionHashLabel);
        if (hash && live_hashes.contains(*hash)) continue;
        old.push_back(r);
    }
    std::vector<std::string> out;
    if (static_cast<std::int64_t>(old.size()) <= limit) return out;
    std::sort(old.begin(), old.end(),
              [](auto* a, auto* b) { return revision_number(*a) < revision_number(*b); });
    const auto excess = old.size() - static_cast<std::size_t>(std::max<std::int64_t>(limit, 0));
    for (std::size_t i = 0; i < excess; ++i) out.emplace_back(kube::name(*old[i]));
    return out;
}

}  // namespace kedge::controllers::daemonset
