// Strategic merge patch (apimachinery util/strategicpatch) driven by a per-kind table of list
// merge keys instead of Go struct tags.

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <boost/json/value.hpp>
#include <map>

#include "kube/object.hpp"
#include "kube/patch.hpp"

namespace kedge::kube {

namespace json = boost::json;

namespace {

constexpr std::string_view kDirective = "$patch";
constexpr std::string_view kRetainKeys = "$retainKeys";
constexpr std::string_view kDeleteFromPrimitiveList = "$deleteFromPrimitiveList/";
constexpr std::string_view kSetElementOrder = "$setElementOrder/";

Error malformed(std::string detail) {
    return Error(make_error_code(patch_errc::malformed_patch), std::move(detail));
}

std::string join_path(std::string_view base, std::string_view key) {
    if (base.empty()) return std::string(key);
    std::string out(base);
    out += '.';
    out += key;
    return out;
}

bool is_scalar(const json::value& v) { return !v.is_object() && !v.is_array(); }

class Merger {
  public:
    explicit Merger(const StrategicSchema& schema) : schema_(schema) {}

    Result<void> merge_object(json::object& original, const json::object& patch,
                              const std::string& path) {
        if (const json::value* d = patch.if_contains(kDirective)) {
            std::string_view directive = d->is_string() ? std::string_view(d->get_string()) : "";
            if (directive == "delete") {
                original.clear();
                return {};
            }
            if (directive != "replace") {
                return malformed("unknown patch type: " + json::serialize(*d) + " in map at \"" +
                                 path + "\"");
            }
            original.clear();
        }
        if (const json::value* rk = patch.if_contains(kRetainKeys)) {
            if (auto r = retain_keys(original, *rk, path); !r) return r;
        }
        std::vector<std::pair<std::string, const json::value*>> orders;
        for (const auto& kv : patch) {
            std::string_view key = kv.key();
            const json::value& v = kv.value();
            if (key == kDirective || key == kRetainKeys) continue;
            if (key.starts_with(kSetElementOrder)) {
                orders.emplace_back(std::string(key.substr(kSetElementOrder.size())), &v);
                continue;
            }
            if (key.starts_with(kDeleteFromPrimitiveList)) {
                if (auto r = delete_from_list(original, key.substr(kDeleteFromPrimitiveList.size()),
                                              v, path);
                    !r) {
                    return r;
                }
                continue;
            }
            if (v.is_null()) {
                original.erase(key);  // unmatched nulls are ignored, as in kube-apiserver
                continue;
            }
            std::string child_path = join_path(path, key);
            json::value* existing = original.if_contains(key);
            if (v.is_object()) {
                if (existing == nullptr || !existing->is_object()) {
                    json::object fresh;
                    if (auto r = merge_object(fresh, v.get_object(), child_path); !r) return r;
                    original[key] = std::move(fresh);
                    continue;
                }
                if (auto r = merge_object(existing->get_object(), v.get_object(), child_path); !r) {
                    return r;
                }
                continue;
            }
            if (v.is_array()) {
                auto merge_key = schema_.list_merge_key(child_path);
                if (!merge_key) {
                    original[key] = v;  // atomic list: the patch replaces it
                    continue;
                }
                json::array empty;
                json::array& base =
                    existing != nullptr && existing->is_array() ? existing->get_array() : empty;
                auto merged = merge_list(base, v.get_array(), child_path, *merge_key);
                if (!merged) return merged.error();
                original[key] = std::move(*merged);
                continue;
            }
            original[key] = v;
        }
        for (const auto& [field, order] : orders) {
            if (auto r = set_element_order(original, field, *order, path); !r) return r;
        }
        return {};
    }

  private:
    Result<void> retain_keys(json::object& original, const json::value& keys,
                             const std::string& path) {
        const json::array* list = keys.if_array();
        if (list == nullptr) {
            return malformed("$retainKeys at \"" + path + "\" must be a list of strings");
        }
        std::vector<std::string_view> keep;
        for (const json::value& k : *list) {
            if (!k.is_string()) {
                return malformed("$retainKeys at \"" + path + "\" must be a list of strings");
            }
            keep.emplace_back(k.get_string());
        }
        std::vector<std::string> drop;
        for (const auto& kv : original) {
            if (std::find(keep.begin(), keep.end(), kv.key()) == keep.end()) {
                drop.emplace_back(kv.key());
            }
        }
        for (const auto& k : drop) original.erase(k);
        return {};
    }

    Result<void> delete_from_list(json::object& original, std::string_view field,
                                  const json::value& values, const std::string& path) {
        const json::array* remove = values.if_array();
        if (remove == nullptr) {
            return malformed("$deleteFromPrimitiveList/" + std::string(field) + " at \"" + path +
                             "\" must be a list");
        }
        json::value* existing = original.if_contains(field);
        if (existing == nullptr || !existing->is_array()) return {};
        json::array& list = existing->get_array();
        json::array kept;
        for (const json::value& item : list) {
            bool drop = std::any_of(remove->begin(), remove->end(),
                                    [&](const json::value& r) { return json_equal(r, item); });
            if (!drop) kept.push_back(item);
        }
        list = std::move(kept);
        return {};
    }

    Result<json::array> merge_list(const json::array& original, const json::array& patch,
                                   const std::string& path, std::string_view merge_key) {
        if (merge_key.empty()) {
            json::array out;
            auto append_unique = [&](const json::value& v) {
                bool seen = std::any_of(out.begin(), out.end(),
                                        [&](const json::value& o) { return json_equal(o, v); });
                if (!seen) out.push_back(v);
            };
            for (const json::value& v : original) append_unique(v);
            for (const json::value& v : patch) {
                if (!is_scalar(v)) {
                    return malformed("list \"" + path +
                                     "\" merges as a set of primitive values, "
                                     "but the patch contains " +
                                     json::serialize(v));
                }
                append_unique(v);
            }
            return out;
        }

        json::array out = original;
        std::vector<const json::object*> items;
        bool replace = false;
        for (const json::value& v : patch) {
            const json::object* item = v.if_object();
            if (item == nullptr) {
                return malformed("list \"" + path + "\" is merged by \"" + std::string(merge_key) +
                                 "\", but the patch contains " + json::serialize(v));
            }
            const json::value* d = item->if_contains(kDirective);
            if (d == nullptr) {
                items.push_back(item);
                continue;
            }
            std::string_view directive = d->is_string() ? std::string_view(d->get_string()) : "";
            if (directive == "delete") {
                const json::value* key = item->if_contains(merge_key);
                if (key == nullptr) return no_merge_key(*item, merge_key);
                json::array kept;
                for (const json::value& o : out) {
                    const json::value* ok =
                        o.is_object() ? o.get_object().if_contains(merge_key) : nullptr;
                    if (ok == nullptr || !json_equal(*ok, *key)) kept.push_back(o);
                }
                out = std::move(kept);
            } else if (directive == "replace") {
                replace = true;
            } else if (directive == "merge") {
                return malformed("merging lists cannot yet be specified in the patch");
            } else {
                return malformed("unknown patch type: " + json::serialize(*d) + " in list \"" +
                                 path + "\"");
            }
        }
        if (replace) out.clear();
        for (const json::object* item : items) {
            const json::value* key = item->if_contains(merge_key);
            if (key == nullptr) return no_merge_key(*item, merge_key);
            auto it = std::find_if(out.begin(), out.end(), [&](const json::value& o) {
                const json::value* ok =
                    o.is_object() ? o.get_object().if_contains(merge_key) : nullptr;
                return ok != nullptr && json_equal(*ok, *key);
            });
            if (it != out.end() && !replace) {
                if (auto r = merge_object(it->get_object(), *item, path); !r) return r.error();
            } else {
                json::object fresh;
                if (auto r = merge_object(fresh, *item, path); !r) return r.error();
                out.push_back(std::move(fresh));
            }
        }
        return out;
    }

    static Error no_merge_key(const json::object& item, std::string_view merge_key) {
        return malformed("map: " + json::serialize(item) +
                         " does not contain declared merge key: " + std::string(merge_key));
    }

    // Entries named in the order list come first, in that order; the rest (server-only entries)
    // keep their relative order after them.
    Result<void> set_element_order(json::object& original, const std::string& field,
                                   const json::value& order, const std::string& path) {
        const json::array* wanted = order.if_array();
        if (wanted == nullptr) {
            return malformed("$setElementOrder/" + field + " at \"" + path + "\" must be a list");
        }
        json::value* existing = original.if_contains(field);
        if (existing == nullptr || !existing->is_array()) return {};
        auto merge_key = schema_.list_merge_key(join_path(path, field));
        auto identity = [&](const json::value& v) -> const json::value* {
            if (merge_key && !merge_key->empty()) {
                return v.is_object() ? v.get_object().if_contains(*merge_key) : nullptr;
            }
            return &v;
        };
        json::array& list = existing->get_array();
        std::vector<bool> used(list.size(), false);
        json::array out;
        for (const json::value& w : *wanted) {
            const json::value* wid = identity(w);
            if (wid == nullptr) continue;
            for (std::size_t i = 0; i < list.size(); ++i) {
                const json::value* id = identity(list[i]);
                if (!used[i] && id != nullptr && json_equal(*id, *wid)) {
                    used[i] = true;
                    out.push_back(list[i]);
                    break;
                }
            }
        }
        for (std::size_t i = 0; i < list.size(); ++i) {
            if (!used[i]) out.push_back(list[i]);
        }
        list = std::move(out);
        return {};
    }

    const StrategicSchema& schema_;
};

// ---- the built-in table (patchStrategy/patchMergeKey tags of k8s.io/api) ----

void add_object_meta(StrategicSchema& s, const std::string& prefix) {
    s.add_merge_list(prefix + "metadata.finalizers", "");
    s.add_merge_list(prefix + "metadata.ownerReferences", "uid");
}

void add_pod_spec(StrategicSchema& s, const std::string& prefix) {
    s.add_merge_list(prefix + "volumes", "name");
    s.add_merge_list(prefix + "imagePullSecrets", "name");
    s.add_merge_list(prefix + "hostAliases", "ip");
    s.add_merge_list(prefix + "topologySpreadConstraints", "topologyKey");
    s.add_merge_list(prefix + "schedulingGates", "name");
    s.add_merge_list(prefix + "resourceClaims", "name");
    for (std::string list : {"initContainers", "containers", "ephemeralContainers"}) {
        std::string c = prefix + list;
        s.add_merge_list(c, "name");
        s.add_merge_list(c + ".ports", "containerPort");
        s.add_merge_list(c + ".env", "name");
        s.add_merge_list(c + ".volumeMounts", "mountPath");
        s.add_merge_list(c + ".volumeDevices", "devicePath");
    }
}

void add_pod_template(StrategicSchema& s, const std::string& prefix) {
    add_object_meta(s, prefix);
    add_pod_spec(s, prefix + "spec.");
}

std::map<std::string, StrategicSchema, std::less<>> build_table() {
    std::map<std::string, StrategicSchema, std::less<>> t;
    auto with_meta = [&](std::string_view kind) -> StrategicSchema& {
        StrategicSchema& s = t[std::string(kind)];
        add_object_meta(s, "");
        return s;
    };
    {
        StrategicSchema& s = with_meta("Pod");
        add_pod_spec(s, "spec.");
        s.add_merge_list("status.conditions", "type");
        s.add_merge_list("status.podIPs", "ip");
        s.add_merge_list("status.hostIPs", "ip");
    }
    for (std::string_view kind :
         {"Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "ReplicationController"}) {
        StrategicSchema& s = with_meta(kind);
        add_pod_template(s, "spec.template.");
        s.add_merge_list("status.conditions", "type");
    }
    {
        StrategicSchema& s = with_meta("CronJob");
        add_pod_template(s, "spec.jobTemplate.spec.template.");
    }
    add_pod_template(with_meta("PodTemplate"), "template.");
    {
        StrategicSchema& s = with_meta("Node");
        s.add_merge_list("spec.podCIDRs", "");
        s.add_merge_list("status.conditions", "type");
        s.add_merge_list("status.addresses", "type");
    }
    {
        StrategicSchema& s = with_meta("Service");
        s.add_merge_list("spec.ports", "port");
        s.add_merge_list("status.conditions", "type");
    }
    with_meta("ServiceAccount").add_merge_list("secrets", "name");
    with_meta("Namespace").add_merge_list("status.conditions", "type");
    with_meta("PersistentVolumeClaim").add_merge_list("status.conditions", "type");
    return t;
}

bool is_builtin_group(std::string_view group) {
    static constexpr std::string_view kGroups[] = {
        "",
        "apps",
        "batch",
        "autoscaling",
        "policy",
        "coordination.k8s.io",
        "events.k8s.io",
        "discovery.k8s.io",
        "networking.k8s.io",
        "node.k8s.io",
        "rbac.authorization.k8s.io",
        "scheduling.k8s.io",
        "storage.k8s.io",
        "certificates.k8s.io",
        "admissionregistration.k8s.io",
        "apiextensions.k8s.io",
        "apiregistration.k8s.io",
        "authentication.k8s.io",
        "authorization.k8s.io",
        "flowcontrol.apiserver.k8s.io",
    };
    return std::find(std::begin(kGroups), std::end(kGroups), group) != std::end(kGroups);
}

}  // namespace

void StrategicSchema::add_merge_list(std::string path, std::string merge_key) {
    lists_[std::move(path)] = std::move(merge_key);
}

std::optional<std::string_view> StrategicSchema::list_merge_key(std::string_view path) const {
    auto it = lists_.find(std::string(path));
    if (it == lists_.end()) return std::nullopt;
    return std::string_view(it->second);
}

const StrategicSchema* builtin_strategic_schema(std::string_view api_version,
                                                std::string_view kind) {
    auto gv = parse_api_version(api_version);
    if (!gv || !is_builtin_group(gv->group) || kind.empty()) return nullptr;
    static const auto table = build_table();
    static const StrategicSchema generic = [] {
        StrategicSchema s;
        add_object_meta(s, "");
        return s;
    }();
    auto it = table.find(kind);
    return it != table.end() ? &it->second : &generic;
}

Result<json::value> apply_strategic_merge_patch(const json::value& target, const json::value& patch,
                                                const StrategicSchema& schema) {
    const json::object* p = patch.if_object();
    if (p == nullptr) return malformed("a strategic merge patch must be a JSON object");
    json::value result = target.is_object() ? target : json::value(json::object());
    Merger merger(schema);
    if (auto r = merger.merge_object(result.get_object(), *p, ""); !r) return r.error();
    return result;
}

}  // namespace kedge::kube
