// MetaKey / GroupVersionResource helpers: pure string work, no SQLite.
#include <algorithm>
#include <array>
#include <cctype>

#include "edge/metastore/meta_store.hpp"

namespace kedge::edge {

namespace {

struct TypeGvr {
    std::string_view type;
    std::string_view group;
    std::string_view version;
    std::string_view resource;
};

// Every KubeEdge resource type of PROTOCOL.md §1 that is a Kubernetes object.
constexpr std::array kTypeGvrs{
    TypeGvr{"pod", "core", "v1", "pods"},
    TypeGvr{"node", "core", "v1", "nodes"},
    TypeGvr{"configmap", "core", "v1", "configmaps"},
    TypeGvr{"secret", "core", "v1", "secrets"},
    TypeGvr{"service", "core", "v1", "services"},
    TypeGvr{"endpoints", "core", "v1", "endpoints"},
    TypeGvr{"event", "core", "v1", "events"},
    TypeGvr{"persistentvolume", "core", "v1", "persistentvolumes"},
    TypeGvr{"persistentvolumeclaim", "core", "v1", "persistentvolumeclaims"},
    TypeGvr{"lease", "coordination.k8s.io", "v1", "leases"},
    TypeGvr{"volumeattachment", "storage.k8s.io", "v1", "volumeattachments"},
    TypeGvr{"certificatesigningrequest", "certificates.k8s.io", "v1", "certificatesigningrequests"},
    TypeGvr{"device", "devices.kubeedge.io", "v1beta1", "devices"},
    TypeGvr{"devicemodel", "devices.kubeedge.io", "v1beta1", "devicemodels"},
    TypeGvr{"rule", "rules.kubeedge.io", "v1", "rules"},
    TypeGvr{"ruleendpoint", "rules.kubeedge.io", "v1", "ruleendpoints"},
};

bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool is_vowel(char c) { return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u'; }

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

// English plural of a lower-cased kind, the way Kubernetes names resources.
std::string plural(std::string kind) {
    if (kind == "endpoints") return kind;
    if (ends_with(kind, "s") || ends_with(kind, "x") || ends_with(kind, "ch") ||
        ends_with(kind, "sh")) {
        return kind + "es";
    }
    if (kind.size() >= 2 && kind.back() == 'y' && !is_vowel(kind[kind.size() - 2])) {
        kind.pop_back();
        return kind + "ies";
    }
    return kind + "s";
}

}  // namespace

std::string MetaKey::str() const { return ns + "/" + type + "/" + name; }

Result<MetaKey> MetaKey::parse(std::string_view key) {
    auto first = key.find('/');
    auto second = first == std::string_view::npos ? first : key.find('/', first + 1);
    if (second == std::string_view::npos || key.find('/', second + 1) != std::string_view::npos) {
        return Error(errc::invalid_argument,
                     "meta key '" + std::string(key) + "' is not <namespace>/<type>/<name>");
    }
    MetaKey k{std::string(key.substr(0, first)),
              std::string(key.substr(first + 1, second - first - 1)),
              std::string(key.substr(second + 1))};
    if (k.ns.empty() || k.type.empty() || k.name.empty()) {
        return Error(errc::invalid_argument,
                     "meta key '" + std::string(key) + "' has an empty part");
    }
    return k;
}

std::string GroupVersionResource::str() const { return group + "/" + version + "/" + resource; }

Result<GroupVersionResource> gvr_for(std::string_view api_version, std::string_view kind) {
    if (api_version.empty() || kind.empty()) {
        return Error(errc::invalid_argument, "apiVersion and kind are required (got '" +
                                                 std::string(api_version) + "', '" +
                                                 std::string(kind) + "')");
    }
    GroupVersionResource gvr;
    auto slash = api_version.find('/');
    if (slash == std::string_view::npos) {
        gvr.group = "core";
        gvr.version = std::string(api_version);
    } else {
        gvr.group = std::string(api_version.substr(0, slash));
        gvr.version = std::string(api_version.substr(slash + 1));
        if (gvr.group.empty() || gvr.version.empty() ||
            gvr.version.find('/') != std::string::npos) {
            return Error(errc::invalid_argument, "apiVersion '" + std::string(api_version) +
                                                     "' is not [<group>/]<version>");
        }
    }
    gvr.resource = plural(lower(kind));
    return gvr;
}

std::optional<GroupVersionResource> gvr_for_type(std::string_view type) {
    for (const auto& t : kTypeGvrs) {
        if (t.type == type) {
            return GroupVersionResource{std::string(t.group), std::string(t.version),
                                        std::string(t.resource)};
        }
    }
    return std::nullopt;
}

std::optional<std::string> type_for_resource(std::string_view resource) {
    for (const auto& t : kTypeGvrs) {
        if (t.resource == resource) return std::string(t.type);
    }
    std::string r(resource);
    if (r.empty()) return std::nullopt;
    if (ends_with(r, "ies") && r.size() > 3) return r.substr(0, r.size() - 3) + "y";
    if (ends_with(r, "sses") || ends_with(r, "xes") || ends_with(r, "ches") ||
        ends_with(r, "shes")) {
        return r.substr(0, r.size() - 2);
    }
    if (ends_with(r, "s") && r.size() > 1) return r.substr(0, r.size() - 1);
    return std::nullopt;
}

}  // namespace kedge::edge
