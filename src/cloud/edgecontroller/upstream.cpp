// Messages from edges (PROTOCOL.md §1, §12): node registration and status, pod status, leases,
// events and queries, each authorized for the authenticated node and answered with a response
// whose parent_msg_id is the request's msg_id.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/json.hpp>

#include "bus/constants.hpp"
#include "cloud/edgecontroller/controller_impl.hpp"
#include "kube/object.hpp"

namespace kedge::cloud::edgecontroller::detail {

namespace asio = boost::asio;
namespace json = boost::json;
namespace kc = kube::client;

namespace {

bool from_cloud_module(std::string_view source) {
    for (auto m : {bus::kModuleCloudHub, bus::kModuleEdgeController, bus::kModuleDeviceController,
                   bus::kModuleSyncController, bus::kModuleCloudStream})
        if (source == m) return true;
    return false;
}

// A patch travels as a JSON string (upstream) or as an object.
std::string patch_body(const bus::Message& msg) {
    if (msg.content.is_string()) {
        auto s = msg.content.as_string();
        return s ? *s : std::string();
    }
    return msg.content.to_json();
}

Result<json::object> content_object(const bus::Message& msg) {
    auto v = msg.content.value();
    if (!v) return v.error();
    if ((*v)->is_object()) return (*v)->as_object();
    // Some edges wrap the object as a JSON string.
    if ((*v)->is_string()) {
        boost::system::error_code ec;
        auto parsed = json::parse((*v)->as_string(), ec);
        if (!ec && parsed.is_object()) return parsed.as_object();
    }
    return Error(errc::invalid_argument, "the content of " + msg.resource() + " is not an object");
}

// The ObjectResp of an API call's outcome.
bus::Content resp_of(const Result<json::object>& r, std::string_view resource,
                     std::string_view name) {
    if (r) return object_resp(&*r, nullptr, resource, name);
    auto e = r.error();
    return object_resp(nullptr, &e, resource, name);
}

bus::Message with_rv(bus::Message m, const json::object& obj) {
    m.header.resource_version = std::string(kube::resource_version(obj));
    return m;
}

}  // namespace

void ControllerImpl::upstream(const std::string& node, bus::Message msg) {
    asio::post(ex_, [self = shared_from_this(), node, msg = std::move(msg)]() mutable {
        if (!self->stopped_.load()) self->handle_upstream(node, std::move(msg));
    });
}

void ControllerImpl::acked(const std::string& node, const bus::Message& msg) {
    if (!options_.object_sync) return;
    asio::post(ex_, [self = shared_from_this(), node, msg] {
        if (self->stopped_.load()) return;
        auto it = self->nodes_state_.find(node);
        // kedge edges resync from their inventory: no ObjectSync writes for them.
        if (it == self->nodes_state_.end() || it->second.inventory_mode ||
            it->second.awaiting_inventory)
            return;
        self->spawn(self->record_object_sync(node, msg), "objectsync");
    });
}

void ControllerImpl::deny(const std::string& node, const bus::Message& request,
                          const std::string& reason) {
    with_stats([](auto& s) { ++s.denials; });
    log_->warn("[{}] denied {} {}: {}", node, request.operation(), request.resource(), reason);
    send(node, reply(request, bus::Content::from_string(reason), true, clock_));
}

void ControllerImpl::reply_error(const std::string& node, const bus::Message& request,
                                 const Error& e) {
    send(node, reply(request, bus::Content::from_string(e.message()), true, clock_));
}

void ControllerImpl::handle_upstream(const std::string& node, bus::Message msg) {
    if (from_cloud_module(msg.source())) {
        with_stats([](auto& s) { ++s.bad_messages; });
        log_->warn("[{}] dropped {} {}: source {} is a cloud module", node, msg.operation(),
                   msg.resource(), msg.source());
        return;
    }
    if (msg.operation() == bus::kOpResponse || msg.operation() == bus::kOpError) return;
    if (hub::is_inventory_message(msg)) {
        with_stats([](auto& s) { ++s.upstream_by_type["inventory"]; });
        auto ref = bus::parse_resource(msg.resource());
        if (ref && !ref->name.empty() && ref->name != node) {
            deny(node, msg,
                 "node \"" + node + "\" may not send the inventory of \"" + ref->name + "\"");
            return;
        }
        auto& st = nodes_state_[node];
        if (!synced_) {
            st.pending_inventory = std::move(msg);
            return;
        }
        resync_inventory(node, msg);
        return;
    }
    auto ref = bus::parse_resource(msg.resource());
    if (!ref) {
        with_stats([](auto& s) { ++s.bad_messages; });
        log_->warn("[{}] bad resource in {} {}: {}", node, msg.operation(), msg.resource(),
                   ref.error().message());
        reply_error(node, msg, ref.error());
        return;
    }
    with_stats([&](auto& s) { ++s.upstream_by_type[ref->type]; });
    auto d = authorize(node, msg, *ref, *this);
    if (d.verdict == Verdict::kDeny && !enforce_denial(node, msg, d)) d.verdict = Verdict::kAllow;
    if (d.verdict == Verdict::kDeny) {
        deny(node, msg, d.reason);
        return;
    }
    if (d.verdict == Verdict::kNotFound) {
        Error e(errc::not_found, d.reason);
        if (ref->type == bus::kResPodPatch) {
            send(node, reply(msg, object_resp(nullptr, &e, "pod", ref->name), false, clock_));
        } else {
            reply_error(node, msg, e);
        }
        return;
    }
    auto& in_flight = upstream_in_flight_[node];
    if (in_flight >= options_.max_upstream_in_flight) {
        with_stats([](auto& s) { ++s.upstream_throttled; });
        log_->warn("[{}] {} {}: refused, {} requests of this node are already being served",
                   node, msg.operation(), msg.resource(), in_flight);
        reply_error(node, msg,
                    Error(errc::unavailable, "too many requests in flight from node \"" + node +
                                                 "\" (limit " +
                                                 std::to_string(options_.max_upstream_in_flight) +
                                                 "); retry later"));
        return;
    }
    ++in_flight;
    spawn(serve_counted(node, std::move(msg), std::move(*ref)), "upstream " + node);
}

asio::awaitable<void> ControllerImpl::serve_counted(std::string node, bus::Message msg,
                                                    bus::ResourceRef ref) {
    auto self = shared_from_this();
    struct Release {
        ControllerImpl* c;
        const std::string& node;
        ~Release() {
            auto it = c->upstream_in_flight_.find(node);
            if (it != c->upstream_in_flight_.end() && --it->second == 0)
                c->upstream_in_flight_.erase(it);
        }
    } release{this, node};
    co_await serve(node, std::move(msg), std::move(ref));
}

asio::awaitable<void> ControllerImpl::serve(std::string node, bus::Message msg,
                                            bus::ResourceRef ref) {
    const auto& t = ref.type;
    if (t == bus::kResNode || t == bus::kResNodeStatus || t == bus::kResNodePatch)
        co_await serve_node(std::move(node), std::move(msg), std::move(ref));
    else if (t == bus::kResPodPatch || t == bus::kResPodStatus || t == bus::kResPod)
        co_await serve_pod_status(std::move(node), std::move(msg), std::move(ref));
    else if (t == bus::kResLease)
        co_await serve_lease(std::move(node), std::move(msg), std::move(ref));
    else if (t == bus::kResEvent)
        co_await serve_event(std::move(node), std::move(msg), std::move(ref));
    else
        co_await serve_query(std::move(node), std::move(msg), std::move(ref));
}

asio::awaitable<void> ControllerImpl::serve_node(std::string node, bus::Message msg,
                                                 bus::ResourceRef ref) {
    auto self = shared_from_this();
    auto nodes = kc::resources::nodes();
    auto api_error = [&](const Error& e) {
        with_stats([](auto& s) { ++s.api_errors; });
        log_->warn("[{}] {} {}: {}", node, msg.operation(), msg.resource(), e.message());
    };
    if (ref.type == bus::kResNodePatch) {
        auto r = co_await client_->patch(nodes, {}, node, kube::PatchType::kStrategicMergePatch,
                                         patch_body(msg), "status");
        if (!r) api_error(r.error());
        auto resp = reply(msg, resp_of(r, "nodes", node), false, clock_);
        send(node, r ? with_rv(std::move(resp), *r) : std::move(resp));
        co_return;
    }
    if (msg.operation() == bus::kOpQuery) {
        auto cached = nodes_->store().get(node);
        if (cached) {
            send(node,
                 with_rv(reply(msg, bus::Content::from_value(json::value(*cached)), false, clock_),
                         *cached));
            co_return;
        }
        auto r = co_await client_->get(nodes, {}, node);
        if (!r) {
            api_error(r.error());
            reply_error(node, msg, r.error());
            co_return;
        }
        send(node,
             with_rv(reply(msg, bus::Content::from_value(json::value(*r)), false, clock_), *r));
        co_return;
    }
    auto obj = content_object(msg);
    if (!obj) {
        with_stats([](auto& s) { ++s.bad_messages; });
        reply_error(node, msg, obj.error());
        co_return;
    }
    if (ref.type == bus::kResNode && msg.operation() == bus::kOpInsert) {
        // Registration: the node is created as an edge node held by this cloudcore.
        auto& n = *obj;
        kube::set_name(n, node);
        kube::set_api_version(n, "v1");
        kube::set_kind(n, "Node");
        kube::set_label(n, kEdgeNodeLabel, "");
        kube::set_annotation(n, kCloudcoreAnnotation, options_.cloudcore_id);
        if (auto* md = n.if_contains("metadata"); md && md->is_object()) {
            md->as_object().erase("resourceVersion");
            md->as_object().erase("uid");
        }
        auto r = co_await client_->create(nodes, {}, n);
        if (!r && r.error().code != make_error_code(errc::already_exists)) {
            api_error(r.error());
            reply_error(node, msg, r.error());
            co_return;
        }
        log_->info("[{}] {}", node, r ? "registered" : "registered again (node exists)");
        send(node, reply(msg, bus::Content::from_string(bus::kContentOk), false, clock_));
        co_return;
    }
    // Status update (nodestatus, or node update): upstream's NodeStatusRequest carries "Status";
    // a whole Node carries "status".
    const json::value* status = obj->if_contains("Status");
    if (!status) status = obj->if_contains("status");
    if (!status || !status->is_object()) {
        with_stats([](auto& s) { ++s.bad_messages; });
        reply_error(node, msg, Error(errc::invalid_argument, "no status in " + msg.resource()));
        co_return;
    }
    auto body = json::serialize(json::object{{"status", *status}});
    auto r = co_await client_->patch(nodes, {}, node, kube::PatchType::kStrategicMergePatch,
                                     std::move(body), "status");
    if (!r) {
        api_error(r.error());
        reply_error(node, msg, r.error());
        co_return;
    }
    send(node, with_rv(reply(msg, bus::Content::from_string(bus::kContentOk), false, clock_), *r));
}

asio::awaitable<void> ControllerImpl::serve_pod_status(std::string node, bus::Message msg,
                                                       bus::ResourceRef ref) {
    auto self = shared_from_this();
    auto pods = kc::resources::pods();
    if (ref.type == bus::kResPod && msg.operation() == bus::kOpQuery) {
        // The edge's start-up pod list: only pods bound to it.
        json::array items;
        for (const auto& pod : pods_->store().by_index(kNodeIndex, node))
            if (ref.ns == bus::kClusterScopedNamespace || ref.ns.empty() ||
                kube::namespace_of(*pod) == ref.ns)
                items.push_back(json::value(*pod));
        send(node, reply(msg, bus::Content::from_value(std::move(items)), false, clock_));
        co_return;
    }
    if (ref.type == bus::kResPod && msg.operation() == bus::kOpInsert) {
        // The mirror pod of a static pod (authorized above): create it; one that exists is fine.
        auto obj = content_object(msg);
        if (!obj) {
            reply_error(node, msg, Error(errc::invalid_argument, "the content is not a Pod"));
            co_return;
        }
        json::object pod = *obj;
        auto created = co_await client_->create(pods, ref.ns, std::move(pod));
        if (!created && created.error().is(errc::already_exists)) {
            send(node, reply(msg, bus::Content::from_string(bus::kContentOk), false, clock_));
            co_return;
        }
        if (!created) {
            with_stats([](auto& s) { ++s.api_errors; });
            reply_error(node, msg, created.error());
            co_return;
        }
        send(node, reply(msg, object_resp(&*created, nullptr, "pod", ref.name), false, clock_));
        co_return;
    }
    if (ref.type == bus::kResPod && msg.operation() == bus::kOpDelete) {
        // edged finished a graceful deletion: remove the pod for good (UID-guarded).
        kc::DeleteOptions opts;
        opts.grace_period_seconds = 0;
        if (auto obj = content_object(msg); obj && !kube::uid(*obj).empty())
            opts.precondition_uid = std::string(kube::uid(*obj));
        auto r = co_await client_->remove(pods, ref.ns, ref.name, opts);
        if (!r && r.error().code != make_error_code(errc::not_found)) {
            with_stats([](auto& s) { ++s.api_errors; });
            reply_error(node, msg, r.error());
            co_return;
        }
        send(node, reply(msg, bus::Content::from_string(bus::kContentOk), false, clock_));
        co_return;
    }
    std::string body;
    if (ref.type == bus::kResPodPatch) {
        body = patch_body(msg);
    } else {
        // The older podstatus update: {"Status": {...}} (or "status").
        auto obj = content_object(msg);
        const json::value* status = nullptr;
        if (obj)
            status = obj->if_contains("Status") ? obj->if_contains("Status")
                                                : obj->if_contains("status");
        if (!status || !status->is_object()) {
            with_stats([](auto& s) { ++s.bad_messages; });
            reply_error(node, msg, Error(errc::invalid_argument, "no status in " + msg.resource()));
            co_return;
        }
        body = json::serialize(json::object{{"status", *status}});
    }
    auto r = co_await client_->patch(pods, ref.ns, ref.name, kube::PatchType::kStrategicMergePatch,
                                     std::move(body), "status");
    if (!r) {
        with_stats([](auto& s) { ++s.api_errors; });
        log_->warn("[{}] {} {}: {}", node, msg.operation(), msg.resource(), r.error().message());
    }
    if (ref.type == bus::kResPodPatch) {
        auto resp = reply(msg, resp_of(r, "pods", ref.name), false, clock_);
        send(node, r ? with_rv(std::move(resp), *r) : std::move(resp));
    } else if (r) {
        send(node,
             with_rv(reply(msg, bus::Content::from_string(bus::kContentOk), false, clock_), *r));
    } else {
        reply_error(node, msg, r.error());
    }
}

asio::awaitable<void> ControllerImpl::serve_lease(std::string node, bus::Message msg,
                                                  bus::ResourceRef ref) {
    auto self = shared_from_this();
    auto leases = kc::resources::leases();
    Result<json::object> r = Error(errc::internal);
    if (msg.operation() == bus::kOpQuery) {
        r = co_await client_->get(leases, ref.ns, ref.name);
    } else {
        auto obj = content_object(msg);
        if (!obj) {
            with_stats([](auto& s) { ++s.bad_messages; });
            reply_error(node, msg, obj.error());
            co_return;
        }
        auto& lease = *obj;
        kube::set_api_version(lease, "coordination.k8s.io/v1");
        kube::set_kind(lease, "Lease");
        kube::set_name(lease, ref.name);
        kube::set_namespace(lease, ref.ns);
        if (!kube::resource_version(lease).empty()) r = co_await client_->update(leases, lease);
        if (kube::resource_version(lease).empty() ||
            (!r && r.error().code == make_error_code(errc::not_found))) {
            if (auto* md = lease.if_contains("metadata"); md && md->is_object())
                md->as_object().erase("resourceVersion");
            r = co_await client_->create(leases, ref.ns, lease);
        }
        // Exists already, or the edge's copy is stale: renew on top of the current one.
        if (!r && (r.error().code == make_error_code(errc::already_exists) ||
                   r.error().code == make_error_code(errc::conflict))) {
            auto cur = co_await client_->get(leases, ref.ns, ref.name);
            if (cur) {
                kube::set_resource_version(lease, kube::resource_version(*cur));
                r = co_await client_->update(leases, lease);
            } else {
                r = cur.error();
            }
        }
    }
    if (!r) {
        with_stats([](auto& s) { ++s.api_errors; });
        log_->warn("[{}] {} {}: {}", node, msg.operation(), msg.resource(), r.error().message());
    }
    auto resp = reply(msg, resp_of(r, "leases", ref.name), false, clock_);
    send(node, r ? with_rv(std::move(resp), *r) : std::move(resp));
}

asio::awaitable<void> ControllerImpl::serve_event(std::string node, bus::Message msg,
                                                  bus::ResourceRef ref) {
    auto self = shared_from_this();
    auto events = kc::resources::events();
    Result<json::object> r = Error(errc::internal);
    if (msg.operation() == bus::kOpPatch) {
        auto cur = co_await client_->get(events, ref.ns, ref.name);
        if (!cur) {
            r = cur.error();
        } else if (auto d = authorize_event(node, *cur, *this);
                   !d.allowed() && enforce_denial(node, msg, d)) {
            deny(node, msg, d.reason);
            co_return;
        } else {
            r = co_await client_->patch(events, ref.ns, ref.name,
                                        kube::PatchType::kStrategicMergePatch, patch_body(msg));
        }
    } else {
        auto obj = content_object(msg);
        if (!obj) {
            with_stats([](auto& s) { ++s.bad_messages; });
            reply_error(node, msg, obj.error());
            co_return;
        }
        kube::set_api_version(*obj, "v1");
        kube::set_kind(*obj, "Event");
        kube::set_namespace(*obj, ref.ns);
        if (kube::name(*obj).empty()) kube::set_name(*obj, ref.name);
        if (msg.operation() == bus::kOpUpdate && !kube::resource_version(*obj).empty())
            r = co_await client_->update(events, *obj);
        else
            r = co_await client_->create(events, ref.ns, *obj);
    }
    if (!r) {
        with_stats([](auto& s) { ++s.api_errors; });
        log_->warn("[{}] {} {}: {}", node, msg.operation(), msg.resource(), r.error().message());
    }
    send(node, reply(msg, resp_of(r, "events", ref.name), false, clock_));
}

asio::awaitable<void> ControllerImpl::serve_query(std::string node, bus::Message msg,
                                                  bus::ResourceRef ref) {
    auto self = shared_from_this();
    Result<json::object> r = Error(errc::internal);
    if (ref.type == bus::kResServiceAccountToken) {
        auto obj = content_object(msg);
        json::object req = obj ? *obj : json::object{};
        kube::set_api_version(req, "authentication.k8s.io/v1");
        kube::set_kind(req, "TokenRequest");
        kube::set_name(req, ref.name);
        kube::set_namespace(req, ref.ns);
        r = co_await client_->create(kc::resources::service_accounts(), ref.ns, req, "token");
    } else {
        auto* store = store_for(ref.type);
        if (auto cached = store ? store->get(ref.ns, ref.name) : nullptr) {
            r = json::object(*cached);
        } else {
            auto res = ref.type == bus::kResSecret ? kc::resources::secrets()
                                                   : kc::resources::config_maps();
            r = co_await client_->get(res, ref.ns, ref.name);
        }
    }
    if (!r) {
        if (r.error().code != make_error_code(errc::not_found))
            with_stats([](auto& s) { ++s.api_errors; });
        log_->info("[{}] {} {}: {}", node, msg.operation(), msg.resource(), r.error().message());
        reply_error(node, msg, r.error());
        co_return;
    }
    send(node, with_rv(reply(msg, bus::Content::from_value(json::value(*r)), false, clock_), *r));
}

bool ControllerImpl::enforce_denial(const std::string& node, const bus::Message& msg,
                                    const Decision& d) {
    if (options_.authorization && !options_.authorization_debug) return true;
    if (options_.authorization_debug)
        log_->warn("[{}] authorization (debug mode) would deny {} {}: {}", node, msg.operation(),
                   msg.resource(), d.reason);
    return false;
}

}  // namespace kedge::cloud::edgecontroller::detail
