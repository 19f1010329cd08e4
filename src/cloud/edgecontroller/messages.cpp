#include "cloud/edgecontroller/messages.hpp"

#include <boost/json/value.hpp>

#include "bus/constants.hpp"
#include "bus/resource.hpp"
#include "kube/object.hpp"
#include "kube/status.hpp"

namespace kedge::cloud::edgecontroller {

namespace json = boost::json;

bool is_downstream_type(std::string_view type) {
    for (auto t : kDownstreamTypes)
        if (t == type) return true;
    return false;
}

bool is_cluster_scoped_type(std::string_view type) { return type == bus::kResNode; }

std::string_view kind_of_type(std::string_view type) {
    if (type == "pod") return "Pod";
    if (type == "configmap") return "ConfigMap";
    if (type == "secret") return "Secret";
    if (type == "node") return "Node";
    if (type == "service") return "Service";
    if (type == "endpoints") return "Endpoints";
    return {};
}

namespace {

std::pair<std::string_view, std::string_view> split_key(std::string_view key) {
    auto slash = key.find('/');
    if (slash == std::string_view::npos) return {{}, key};
    return {key.substr(0, slash), key.substr(slash + 1)};
}

std::string_view plural_of_type(std::string_view type) {
    if (type == "pod") return "pods";
    if (type == "configmap") return "configmaps";
    if (type == "secret") return "secrets";
    if (type == "node") return "nodes";
    if (type == "service") return "services";
    if (type == "endpoints") return "endpoints";
    if (type == "lease") return "leases";
    if (type == "event") return "events";
    return type;
}

}  // namespace

std::string resource_for_key(std::string_view type, std::string_view key) {
    auto [ns, name] = split_key(key);
    return bus::format_resource(ns, type, name);
}

bus::Message object_message(std::string_view operation, std::string_view type,
                            const json::object& obj, bus::Content content, const Clock& clock) {
    if (content.is_null()) content = bus::Content::encoded(json::value(obj));
    auto msg =
        bus::Message::make(std::string(bus::kModuleEdgeController),
                           std::string(bus::kGroupResource), std::string(operation),
                           bus::format_resource(kube::namespace_of(obj), type, kube::name(obj)),
                           std::move(content), clock);
    msg.header.resource_version = std::string(kube::resource_version(obj));
    return msg;
}

bus::Message delete_by_key(std::string_view type, std::string_view key, const Clock& clock) {
    auto [ns, name] = split_key(key);
    json::object md{{"name", name}};
    if (!ns.empty()) md["namespace"] = ns;
    json::object obj{{"apiVersion", "v1"}, {"kind", kind_of_type(type)}, {"metadata", md}};
    return bus::Message::make(std::string(bus::kModuleEdgeController),
                              std::string(bus::kGroupResource), std::string(bus::kOpDelete),
                              resource_for_key(type, key), bus::Content::from_value(std::move(obj)),
                              clock);
}

bus::Content object_resp(const json::object* obj, const Error* err, std::string_view resource,
                         std::string_view name) {
    json::object out;
    out["Object"] = obj ? json::value(*obj) : json::value(nullptr);
    if (err) {
        auto status =
            kube::status_from_error(*err, {"", std::string(plural_of_type(resource))}, name);
        out["Err"] = json::object{{"ErrStatus", status.to_json()}};
    } else {
        out["Err"] = nullptr;
    }
    return bus::Content::from_value(std::move(out));
}

bus::Message reply(const bus::Message& request, bus::Content content, bool error,
                   const Clock& clock) {
    auto msg = error ? bus::make_error_response(request, std::move(content), clock)
                     : bus::make_response(request, std::move(content), clock);
    msg.route.source = std::string(bus::kModuleEdgeController);
    msg.route.destination.clear();
    return msg;
}

}  // namespace kedge::cloud::edgecontroller
