// upstream's reliable-sync bookkeeping for edges that send no inventory (PROTOCOL.md §3):
// ObjectSync (namespaced) / ClusterObjectSync named "<node>.<objectUID>" recording the last
// resourceVersion the node acknowledged, and deletes for recorded objects that are gone.
#include <boost/json.hpp>

#include "bus/constants.hpp"
#include "cloud/edgecontroller/controller_impl.hpp"
#include "kube/object.hpp"

namespace kedge::cloud::edgecontroller::detail {

namespace asio = boost::asio;
namespace json = boost::json;
namespace kc = kube::client;

namespace {

std::string_view type_of_kind(std::string_view kind) {
    if (kind == "Pod") return "pod";
    if (kind == "ConfigMap") return "configmap";
    if (kind == "Secret") return "secret";
    if (kind == "Node") return "node";
    if (kind == "Service") return "service";
    if (kind == "Endpoints") return "endpoints";
    return {};
}

}  // namespace

asio::awaitable<void> ControllerImpl::record_object_sync(std::string node, bus::Message msg) {
    auto self = shared_from_this();
    auto ref = bus::parse_resource(msg.resource());
    if (!ref || !is_downstream_type(ref->type)) co_return;
    auto v = msg.content.value();
    if (!v || !(*v)->is_object()) co_return;
    const auto& obj = (*v)->as_object();
    std::string uid(kube::uid(obj));
    if (uid.empty()) co_return;
    bool cluster = is_cluster_scoped_type(ref->type);
    auto res = cluster ? kc::resources::cluster_object_syncs() : kc::resources::object_syncs();
    std::string name = node + "." + uid;
    std::string ns = cluster ? std::string() : ref->ns;
    std::string cache = ns + "/" + name;

    if (msg.operation() == bus::kOpDelete) {
        recorded_.erase(cache);
        auto r = co_await client_->remove(res, ns, name);
        if (!r && r.error().code != make_error_code(errc::not_found)) {
            with_stats([](auto& s) { ++s.api_errors; });
            log_->warn("[{}] delete {} {}: {}", node, res.kind, name, r.error().message());
        }
        co_return;
    }
    std::string rv(kube::resource_version(obj));
    if (auto it = recorded_.find(cache); it != recorded_.end()) {
        auto cmp = kube::compare_resource_versions(rv, it->second);
        if (cmp && *cmp != std::strong_ordering::greater) co_return;
    }
    json::object sync{{"apiVersion", res.api_version()},
                      {"kind", res.kind},
                      {"metadata", json::object{{"name", name}}},
                      {"spec", json::object{{"objectAPIVersion", kube::api_version(obj)},
                                            {"objectKind", kube::kind(obj)},
                                            {"objectName", kube::name(obj)}}}};
    if (!cluster) kube::set_namespace(sync, ns);
    auto created = co_await client_->create(res, ns, sync);
    if (!created && created.error().code != make_error_code(errc::already_exists)) {
        with_stats([](auto& s) { ++s.api_errors; });
        log_->warn("[{}] create {} {}: {}", node, res.kind, name, created.error().message());
        co_return;
    }
    // status is a subresource: a second write, as upstream does.
    auto body =
        json::serialize(json::object{{"status", json::object{{"objectResourceVersion", rv}}}});
    auto r = co_await client_->patch(res, ns, name, kube::PatchType::kMergePatch, std::move(body),
                                     "status");
    if (!r) {
        with_stats([](auto& s) { ++s.api_errors; });
        log_->warn("[{}] status of {} {}: {}", node, res.kind, name, r.error().message());
        co_return;
    }
    recorded_[cache] = rv;
    with_stats([](auto& s) { ++s.object_syncs_written; });
}

std::vector<DeltaDelete> ControllerImpl::object_sync_deletes(const std::string& node,
                                                             const ExpectedSet& expected) const {
    std::vector<DeltaDelete> out;
    auto scan = [&](const std::shared_ptr<kc::Informer>& inf) {
        if (!inf || !inf->has_synced()) return;
        inf->store().for_each([&](const kc::ObjectPtr& sync) {
            auto name = kube::name(*sync);
            auto dot = name.rfind('.');
            if (dot == std::string_view::npos || name.substr(0, dot) != node) return;
            auto uid = name.substr(dot + 1);
            auto type = type_of_kind(kube::get_path_string(*sync, "spec.objectKind").value_or(""));
            if (type.empty()) return;
            auto obj_name = kube::get_path_string(*sync, "spec.objectName").value_or("");
            std::string key = is_cluster_scoped_type(type)
                                  ? obj_name
                                  : std::string(kube::namespace_of(*sync)) + "/" + obj_name;
            auto tit = expected.find(type);
            if (tit != expected.end()) {
                auto oit = tit->second.find(key);
                if (oit != tit->second.end() && kube::uid(*oit->second) == uid) return;
            }
            out.push_back({std::string(type), key});
        });
    };
    scan(object_syncs_);
    scan(cluster_object_syncs_);
    return out;
}

}  // namespace kedge::cloud::edgecontroller::detail
