#include "edgemark/edge_model.hpp"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "base/log.hpp"
#include "bus/constants.hpp"
#include "bus/resource.hpp"
#include "kube/object.hpp"
#include "kube/time.hpp"

namespace kedge::edgemark {

namespace json = boost::json;

namespace {

bool is_object_operation(std::string_view op) {
    return op == bus::kOpInsert || op == bus::kOpUpdate || op == bus::kOpDelete;
}

// The content as an object, if it is one.
const json::object* object_of(const bus::Message& msg, std::shared_ptr<const json::value>& keep) {
    if (msg.content.is_null() || msg.content.is_string()) return nullptr;
    auto v = msg.content.value();
    if (!v || !(*v)->is_object()) return nullptr;
    keep = *v;
    return &keep->as_object();
}

// Answers carrying an object (query results, the resync summary) are ACK-mode for the cloud
// (PROTOCOL.md §3); answers to the edge's own status patches and plain "OK"/error answers are
// not.
bool is_acked_answer(const bus::Message& msg) {
    if (msg.operation() != bus::kOpResponse) return false;
    if (msg.content.is_null() || msg.content.is_string()) return false;
    auto ref = bus::parse_resource(msg.resource());
    if (!ref) return true;
    return ref->type != bus::kResPodPatch && ref->type != bus::kResNodePatch &&
           ref->type != bus::kResPodStatus && ref->type != bus::kResLease;
}

}  // namespace

EdgeModel::EdgeModel(std::string node, FleetStats& stats, const Clock& clock)
    : node_(std::move(node)), stats_(stats), clock_(clock) {}

bus::Message EdgeModel::session_opened() {
    auto msg = hub::make_inventory_message(node_, inventory_);
    pending_resync_id_ = msg.header.msg_id;
    session_start_ = clock_.steady_now();
    return msg;
}

void EdgeModel::session_closed() {
    if (level_) stats_.level.fetch_sub(1, std::memory_order_relaxed);
    level_ = false;
    pending_resync_id_.clear();
}

bus::Message EdgeModel::keepalive() const {
    return bus::Message::make(std::string(bus::kModuleEdgeHub), std::string(bus::kGroupResource),
                              std::string(bus::kOpKeepalive), std::string(bus::kResNode),
                              bus::Content::from_string(bus::kContentPing), clock_);
}

std::vector<bus::Message> EdgeModel::handle(const bus::Message& msg, std::size_t wire_bytes) {
    stats_.count_in(msg.operation(), wire_bytes);
    std::vector<bus::Message> out;
    if (is_acked_answer(msg)) {
        out.push_back(bus::make_response(msg, bus::Content::from_string(bus::kContentOk), clock_));
        stats_.acks_sent.fetch_add(1, std::memory_order_relaxed);
    }
    if (hub::is_resync_response(msg)) {
        if (msg.parent_id() != pending_resync_id_) return out;  // a stale session's answer
        auto summary = hub::parse_resync_response(msg);
        if (!summary) {
            stats_.malformed.fetch_add(1, std::memory_order_relaxed);
            log::get("edgemark")
                ->warn("{}: bad resync response: {}", node_, summary.error().message());
            return out;
        }
        pending_resync_id_.clear();
        last_resync_ = *summary;
        level_at_ = clock_.steady_now();
        if (!level_) stats_.level.fetch_add(1, std::memory_order_relaxed);
        level_ = true;
        stats_.resyncs.fetch_add(1, std::memory_order_relaxed);
        stats_.resync_inserted.fetch_add(summary->inserted, std::memory_order_relaxed);
        stats_.resync_updated.fetch_add(summary->updated, std::memory_order_relaxed);
        stats_.resync_deleted.fetch_add(summary->deleted, std::memory_order_relaxed);
        stats_.resync_unchanged.fetch_add(summary->unchanged, std::memory_order_relaxed);
        stats_.resync_latency.record(
            std::chrono::duration_cast<std::chrono::microseconds>(*level_at_ - session_start_));
        return out;
    }
    if (is_object_operation(msg.operation())) apply_object(msg, out);
    // Responses (to our pod patches), errors and anything else need no answer.
    return out;
}

void EdgeModel::apply_object(const bus::Message& msg, std::vector<bus::Message>& out) {
    auto ref = bus::parse_resource(msg.resource());
    if (!ref || ref->name.empty()) {
        stats_.malformed.fetch_add(1, std::memory_order_relaxed);
        log::get("edgemark")
            ->warn("{}: {} with unusable resource \"{}\"", node_, msg.operation(), msg.resource());
        return;
    }
    std::string key = ref->ns.empty() ? ref->name : ref->ns + "/" + ref->name;
    std::shared_ptr<const json::value> keep;
    const json::object* obj = object_of(msg, keep);

    auto& objects = inventory_.resources[ref->type];
    if (msg.operation() == bus::kOpDelete) {
        objects.erase(key);
    } else {
        std::string rv = msg.header.resource_version;
        if (rv.empty() && obj) rv = std::string(kube::resource_version(*obj));
        bool first = objects.find(key) == objects.end();
        objects[key] = rv;
        if (ref->type == bus::kResPod && first && obj && !kube::deletion_timestamp(*obj)) {
            stats_.pods_seen.fetch_add(1, std::memory_order_relaxed);
            auto created_text = kube::annotation(*obj, kCreatedAtAnnotation);
            auto created =
                kube::parse_time(created_text ? *created_text : kube::creation_timestamp(*obj));
            if (created) {
                auto latency = clock_.now() - *created;
                if (latency.count() < 0) latency = {};
                stats_.pod_latency.record(
                    std::chrono::duration_cast<std::chrono::microseconds>(latency));
            }
            out.push_back(pod_status_patch(ref->ns, ref->name, std::string(kube::uid(*obj))));
        }
    }
    // Every stored object is acknowledged, as metamanager does after its write.
    out.push_back(bus::make_response(msg, bus::Content::from_string(bus::kContentOk), clock_));
    stats_.acks_sent.fetch_add(1, std::memory_order_relaxed);
    if (objects.empty()) inventory_.resources.erase(ref->type);
}

bus::Message EdgeModel::pod_status_patch(const std::string& ns, const std::string& name,
                                         const std::string& uid) const {
    auto now = kube::format_time(clock_.now());
    json::array conditions;
    for (const char* type : {"Initialized", "Ready", "ContainersReady", "PodScheduled"})
        conditions.push_back(
            json::object{{"type", type}, {"status", "True"}, {"lastTransitionTime", now}});
    json::object status{{"phase", "Running"},
                        {"conditions", std::move(conditions)},
                        {"hostIP", "127.0.0.1"},
                        {"startTime", now}};
    json::object patch{{"status", std::move(status)}};
    if (!uid.empty()) patch["metadata"] = json::object{{"uid", uid}};
    // Upstream edged sends the strategic-merge patch as a JSON string.
    auto msg = bus::Message::make(std::string(bus::kModuleEdged), std::string(bus::kGroupResource),
                                  std::string(bus::kOpPatch),
                                  bus::format_resource(ns, bus::kResPodPatch, name),
                                  bus::Content::from_string(json::serialize(patch)), clock_);
    stats_.pod_patches_sent.fetch_add(1, std::memory_order_relaxed);
    return msg;
}

}  // namespace kedge::edgemark
