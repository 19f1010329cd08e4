#include "apiserver/object_rules.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <array>
#include <ctime>
#include <map>
#include <random>
#include <set>

#include "kube/object.hpp"
#include "kube/patch.hpp"
#include "kube/validation.hpp"

namespace kedge::apiserver {
namespace json = boost::json;

namespace {

using FieldSet = std::set<std::string, std::less<>>;

// Top-level fields of the built-in kinds (from the Go types' json tags).
const FieldSet* top_level_fields(const ResourceType& type) {
    static const std::map<std::string, FieldSet, std::less<>> table = {
        {"Namespace", {"spec", "status"}},
        {"Node", {"spec", "status"}},
        {"Pod", {"spec", "status"}},
        {"ConfigMap", {"data", "binaryData", "immutable"}},
        {"Secret", {"data", "stringData", "type", "immutable"}},
        {"Service", {"spec", "status"}},
        {"Endpoints", {"subsets"}},
        {"Event",
         {"involvedObject", "reason", "message", "source", "firstTimestamp", "lastTimestamp",
          "count", "type", "eventTime", "series", "action", "related", "reportingComponent",
          "reportingInstance"}},
        {"ServiceAccount", {"secrets", "imagePullSecrets", "automountServiceAccountToken"}},
        {"Lease", {"spec"}},
        {"Deployment", {"spec", "status"}},
        {"ReplicaSet", {"spec", "status"}},
        {"DaemonSet", {"spec", "status"}},
        {"ControllerRevision", {"data", "revision"}},
        {"CustomResourceDefinition", {"spec", "status"}},
        {"Role", {"rules"}},
        {"ClusterRole", {"rules", "aggregationRule"}},
        {"RoleBinding", {"subjects", "roleRef"}},
        {"ClusterRoleBinding", {"subjects", "roleRef"}},
    };
    if (type.custom) return nullptr;
    auto it = table.find(type.kind);
    return it == table.end() ? nullptr : &it->second;
}

const FieldSet kMetadataFields = {
    "name",          "generateName",      "namespace",
    "selfLink",      "uid",               "resourceVersion",
    "generation",    "creationTimestamp", "deletionTimestamp",
    "deletionGracePeriodSeconds",         "labels",
    "annotations",   "ownerReferences",   "finalizers",
    "managedFields", "clusterName",
};

void set_if_absent(json::object& o, std::string_view key, json::value v) {
    if (!o.contains(key)) o[key] = std::move(v);
}

json::object& child_object(json::object& o, std::string_view key) {
    auto* v = o.if_contains(key);
    if (!v || !v->is_object()) {
        o[key] = json::object{};
        v = o.if_contains(key);
    }
    return v->as_object();
}

void default_pod(json::object& pod) {
    auto& spec = child_object(pod, "spec");
    set_if_absent(spec, "restartPolicy", "Always");
    set_if_absent(spec, "terminationGracePeriodSeconds", 30);
    set_if_absent(spec, "dnsPolicy", "ClusterFirst");
    set_if_absent(spec, "schedulerName", "default-scheduler");
    set_if_absent(spec, "securityContext", json::object{});
    if (auto* cs = spec.if_contains("containers"); cs && cs->is_array()) {
        for (auto& c : cs->as_array()) {
            if (!c.is_object()) continue;
            auto& co = c.as_object();
            std::string_view image;
            if (auto* im = co.if_contains("image"); im && im->is_string()) image = im->as_string();
            bool latest = image.find(':') == std::string_view::npos ||
                          image.ends_with(":latest");
            set_if_absent(co, "imagePullPolicy", latest ? "Always" : "IfNotPresent");
            set_if_absent(co, "terminationMessagePath", "/dev/termination-log");
            set_if_absent(co, "terminationMessagePolicy", "File");
        }
    }
    // Status is the kubelet's (edged's) to write; a new pod is Pending.
    pod["status"] = json::object{{"phase", "Pending"}, {"qosClass", "BestEffort"}};
}

void default_secret(json::object& secret) {
    set_if_absent(secret, "type", "Opaque");
    if (auto* sd = secret.if_contains("stringData"); sd && sd->is_object()) {
        auto& data = child_object(secret, "data");
        for (const auto& [k, v] : sd->as_object())
            if (v.is_string()) data[k] = base64_encode(v.as_string());
    }
    secret.erase("stringData");
}

void default_workload(json::object& obj, std::string_view kind) {
    auto& spec = child_object(obj, "spec");
    if (kind != "DaemonSet") set_if_absent(spec, "replicas", 1);
    if (kind != "ReplicaSet") set_if_absent(spec, "revisionHistoryLimit", 10);
    // Update strategies as kube-apiserver defaults them (kubectl rollout status reads them).
    auto default_strategy = [&](std::string_view field, json::object rolling) {
        auto& strategy = child_object(spec, field);
        set_if_absent(strategy, "type", "RollingUpdate");
        if (auto* t = strategy.if_contains("type"); t && t->is_string() && *t == "RollingUpdate") {
            auto& ru = child_object(strategy, "rollingUpdate");
            for (auto& [k, v] : rolling) set_if_absent(ru, k, v);
        }
    };
    if (kind == "Deployment") {
        set_if_absent(spec, "progressDeadlineSeconds", 600);
        default_strategy("strategy", {{"maxUnavailable", "25%"}, {"maxSurge", "25%"}});
    } else if (kind == "DaemonSet") {
        default_strategy("updateStrategy", {{"maxUnavailable", 1}, {"maxSurge", 0}});
    }
    obj["status"] = json::object{};
}

}  // namespace

std::vector<std::string> unknown_fields(const ResourceType& type, const json::object& obj) {
    std::vector<std::string> out;
    const FieldSet* fields = top_level_fields(type);
    if (!fields) return out;
    for (const auto& [k, v] : obj) {
        if (k == "apiVersion" || k == "kind" || k == "metadata") continue;
        if (!fields->contains(std::string_view(k))) out.push_back(std::string(k));
    }
    if (const auto* md = kube::metadata(obj)) {
        for (const auto& [k, v] : *md)
            if (!kMetadataFields.contains(std::string_view(k)))
                out.push_back("metadata." + std::string(k));
    }
    return out;
}

void apply_create_defaults(const ResourceType& type, json::object& obj) {
    if (type.custom) return;
    const std::string& k = type.kind;
    if (k == "Pod") {
        default_pod(obj);
    } else if (k == "Namespace") {
        auto& spec = child_object(obj, "spec");
        set_if_absent(spec, "finalizers", json::array{"kubernetes"});
        obj["status"] = json::object{{"phase", "Active"}};
    } else if (k == "Secret") {
        default_secret(obj);
    } else if (k == "Deployment" || k == "ReplicaSet" || k == "DaemonSet") {
        default_workload(obj, k);
    } else if (k == "Service") {
        auto& spec = child_object(obj, "spec");
        set_if_absent(spec, "type", "ClusterIP");
        set_if_absent(spec, "sessionAffinity", "None");
        obj["status"] = json::object{{"loadBalancer", json::object{}}};
    }
}

std::vector<kube::StatusCause> validate_object(const ResourceType& type, const json::object& obj) {
    std::vector<kube::StatusCause> causes;
    std::string_view name = kube::name(obj);
    if (name.empty()) {
        causes.push_back(kube::field_required("metadata.name", "name or generateName is required"));
    } else {
        // Namespaces are DNS labels; most other names are DNS subdomains. Events are named
        // "<object>.<hex>" which is a subdomain too.
        auto r = type.kind == "Namespace" ? kube::validate_dns1123_label(name)
                                          : kube::validate_dns1123_subdomain(name);
        if (type.group == "rbac.authorization.k8s.io") {
            // RBAC names only have to be valid path segments (system:node-proxier).
            r = name == "." || name == ".." || name.find('/') != std::string_view::npos ||
                        name.find('%') != std::string_view::npos
                    ? Result<void>(Error(errc::invalid_argument, "may not contain '/' or '%'"))
                    : Result<void>();
        }
        if (!r) causes.push_back(kube::field_invalid("metadata.name", json::string(name),
                                                     r.error().detail));
    }
    if (const auto* md = kube::metadata(obj)) {
        if (auto* l = md->if_contains("labels"); l && !l->is_null()) {
            if (!l->is_object()) {
                causes.push_back(kube::field_invalid("metadata.labels", *l, "must be a map"));
            } else {
                for (const auto& [k, v] : l->as_object()) {
                    if (auto r = kube::validate_qualified_name(k); !r)
                        causes.push_back(kube::field_invalid("metadata.labels", json::string(k),
                                                             r.error().detail));
                    if (!v.is_string()) {
                        causes.push_back(kube::field_invalid("metadata.labels", v,
                                                             "label values must be strings"));
                    } else if (auto r2 = kube::validate_label_value(v.as_string()); !r2) {
                        causes.push_back(
                            kube::field_invalid("metadata.labels", v, r2.error().detail));
                    }
                }
            }
        }
        if (auto* a = md->if_contains("annotations"); a && !a->is_null()) {
            if (!a->is_object()) {
                causes.push_back(kube::field_invalid("metadata.annotations", *a, "must be a map"));
            } else {
                for (const auto& [k, v] : a->as_object()) {
                    if (auto r = kube::validate_qualified_name(k); !r)
                        causes.push_back(kube::field_invalid("metadata.annotations",
                                                             json::string(k), r.error().detail));
                    if (!v.is_string())
                        causes.push_back(kube::field_invalid("metadata.annotations", v,
                                                             "annotation values must be strings"));
                }
            }
        }
    }
    return causes;
}

bool spec_changed(const json::object& before, const json::object& after) {
    auto strip = [](const json::object& o) {
        json::object c = o;
        c.erase("metadata");
        c.erase("status");
        return json::value(std::move(c));
    };
    return !kube::json_equal(strip(before), strip(after));
}

bool has_generation(const ResourceType& type, const json::object& obj) {
    return type.custom || obj.contains("spec");
}

std::string random_name_suffix() {
    static constexpr std::string_view kAlphabet = "bcdfghjklmnpqrstvwxz2456789";
    thread_local std::mt19937_64 rng{std::random_device{}()};
    std::uniform_int_distribution<std::size_t> pick(0, kAlphabet.size() - 1);
    std::string s;
    for (int i = 0; i < 5; ++i) s += kAlphabet[pick(rng)];
    return s;
}

std::string rfc3339(Clock::time_point t) {
    auto secs = std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
    std::time_t tt = static_cast<std::time_t>(secs);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

}  // namespace kedge::apiserver
