#include "edge/devicetwin/device_twin.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>

#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <set>

#include "base/log.hpp"
#include "base/uuid.hpp"
#include "bus/constants.hpp"
#include "bus/context.hpp"
#include "bus/resource.hpp"
#include "edge/devicetwin/device_spec.hpp"
#include "edge/devicetwin/dmi_grpc.hpp"
#include "edge/devicetwin/mapper_sync.hpp"
#include "edge/devicetwin/twin_messages.hpp"
#include "edge/devicetwin/twin_store.hpp"
#include "edge/edgehub/edge_hub.hpp"
#include "net/run_blocking.hpp"

namespace kedge::edge::devicetwin {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

constexpr std::string_view kKindTwin = "twin";
constexpr std::string_view kKindState = "state";
// The operation of the membership/detail request (upstream's "get"; not a bus constant).
constexpr std::string_view kOpGet = "get";
// `error` answers after which a pending report is dropped (the cloud will not take it).
constexpr int kMaxRefusals = 5;

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string string_at(const json::object* o, std::string_view key) {
    if (!o) return {};
    auto* v = o->if_contains(key);
    return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

}  // namespace

struct DeviceTwin::Impl : std::enable_shared_from_this<DeviceTwin::Impl> {
    DeviceTwinOptions options;
    std::unique_ptr<TwinStore> store;
    bus::Context* ctx = nullptr;
    std::optional<asio::strand<asio::any_io_executor>> strand;
    std::shared_ptr<spdlog::logger> log = kedge::log::get("twin");
    std::atomic<bool> stopped{false};
    std::atomic<bool> dmi_up{false};
    asio::thread_pool store_pool{1};
    std::unique_ptr<DmiServer> dmi;
    std::optional<asio::steady_timer> resend_timer;

    // ---- strand-owned state ----
    enum class Link { unknown, up, down };
    Link link = Link::unknown;
    std::map<std::string, DeviceRecord> devices;
    std::map<std::string, json::object> device_objects;  // id -> Device
    std::map<std::string, json::object> model_objects;   // "<ns>/<name>" -> DeviceModel
    std::unique_ptr<MapperSync> mappers;
    struct Pending {
        json::object content;
        bool in_flight = false;
        int refusals = 0;  // `error` answers to this content so far
    };
    std::map<std::pair<std::string, std::string>, Pending> pending;  // (id, kind) ->

    mutable std::mutex stats_mu;
    DeviceTwinStats stats;

    template <class F>
    void count(F&& f) {
        std::lock_guard lock(stats_mu);
        f(stats);
    }
    void refresh_gauges() {
        count([&](auto& s) {
            s.devices = devices.size();
            s.mappers = mappers ? mappers->mapper_count() : 0;
            s.mapper_calls = mappers ? mappers->calls() : 0;
            s.mapper_failures = mappers ? mappers->failures() : 0;
            s.pending = pending.size();
        });
    }

    void spawn(asio::awaitable<void> task, const char* what) {
        asio::co_spawn(*strand, std::move(task), log::log_exceptions(log, what));
    }

    // ---- start-up ----

    Result<void> load() {
        auto loaded = store->load_devices();
        if (!loaded) return loaded.error();
        for (auto& d : *loaded) devices[d.id] = std::move(d);
        auto pend = store->list_pending();
        if (!pend) return pend.error();
        for (auto& p : *pend) {
            boost::system::error_code ec;
            auto v = json::parse(p.content, ec);
            if (ec || !v.is_object()) {
                log->warn("dropping unreadable pending {} report of {}", p.kind, p.device_id);
                (void)store->remove_pending(p);
                continue;
            }
            pending[{p.device_id, p.kind}].content = std::move(v.as_object());
        }
        auto objects = store->load_objects();
        if (!objects) return objects.error();
        for (auto& o : *objects) {
            boost::system::error_code ec;
            auto v = json::parse(o.json, ec);
            if (ec || !v.is_object()) continue;
            // key "<ns>/<type>/<name>"
            auto first = o.key.find('/');
            auto second = o.key.find('/', first == std::string::npos ? 0 : first + 1);
            if (first == std::string::npos || second == std::string::npos) continue;
            std::string id = o.key.substr(0, first) + "/" + o.key.substr(second + 1);
            if (o.type == "device")
                device_objects[id] = std::move(v.as_object());
            else
                model_objects[id] = std::move(v.as_object());
        }
        refresh_gauges();
        return {};
    }

    // ---- the receive loop ----

    asio::awaitable<void> run() {
        auto self = shared_from_this();
        log->info("device twin: {} device(s), {} pending report(s)", devices.size(),
                  pending.size());
        std::vector<std::string> ids;
        for (const auto& [id, obj] : device_objects) ids.push_back(id);
        for (const auto& id : ids) {
            // A Device the meta manager stored while the twin was not running has no twin yet.
            if (!devices.contains(id)) {
                apply_spec(id);
                co_await persist(id);
            }
            kick(mappers->sync(id));
        }
        refresh_gauges();
        for (;;) {
            auto next = co_await ctx->receive(std::string(bus::kModuleTwin));
            if (!next) {
                if (!next.error().is(errc::closed))
                    log->warn("receive: {}", next.error().message());
                co_return;
            }
            co_await dispatch(std::move(*next));
        }
    }

    asio::awaitable<void> dispatch(bus::Message m) {
        const std::string& res = m.resource();
        if (res == kConnectionResource) {
            on_connection(m);
            co_return;
        }
        if (res.starts_with("$hw/") || m.source() == bus::kModuleEventBus) {
            co_await on_mqtt(m);
            co_return;
        }
        if (res == bus::kResMembership || res.ends_with("/membership")) {
            co_await on_membership(m);
            co_return;
        }
        if (res.starts_with("device/") && res.ends_with(bus::kResTwinCloudUpdated)) {
            co_await on_cloud_updated(m);
            co_return;
        }
        if (auto ref = bus::parse_resource(res); ref && !ref->name.empty()) {
            if (ref->type == bus::kResDevice) {
                co_await on_device_object(m, *ref);
                co_return;
            }
            if (ref->type == bus::kResDeviceModel) {
                co_await on_model_object(m, *ref);
                co_return;
            }
        }
        log->debug("ignoring {} {} from {}", m.operation(), res, m.source());
    }

    // ---- persistence and publishing ----

    asio::awaitable<void> persist(const std::string& id) {
        auto it = devices.find(id);
        Result<void> r;
        if (it == devices.end()) {
            r = co_await net::run_blocking(store_pool,
                                           [this, id] { return store->remove_device(id); });
        } else {
            r = co_await net::run_blocking(store_pool,
                                           [this, d = it->second] { return store->put_device(d); });
        }
        if (!r) log->error("device {}: storing the twin failed: {}", id, r.error().message());
    }

    void publish(std::string topic, std::string payload) {
        if (!ctx->is_enabled(bus::kModuleEventBus)) {
            log->debug("no event bus: not publishing {}", topic);
            return;
        }
        auto m = bus::Message::make(std::string(bus::kModuleTwin), std::string(bus::kGroupBus),
                                    std::string(bus::kOpPublish), std::move(topic),
                                    bus::Content::from_string(payload));
        if (auto r = ctx->send(bus::kModuleEventBus, std::move(m)); !r)
            log->warn("publishing to the event bus failed: {}", r.error().message());
    }

    void publish_delta(const std::string& id) {
        auto it = devices.find(id);
        if (it == devices.end()) return;
        if (auto delta = delta_payload(new_uuid(), now_ms(), it->second))
            publish(device_topic(id, "twin/update/delta"), std::move(*delta));
    }

    // ---- reports from mappers (DMI and MQTT) ----

    // Checks every property first, so a bad report changes nothing; returns the changed ones.
    Result<std::vector<std::string>> apply_report(
        const std::string& id, const TwinReport& report,
        std::map<std::string, std::optional<Twin>>& last) {
        auto it = devices.find(id);
        if (it == devices.end())
            return Error(errc::not_found, "device " + id + " is not a member of this node");
        auto& d = it->second;
        for (const auto& [name, rv] : report.twins) {
            auto t = d.twins.find(name);
            if (t == d.twins.end())
                return Error(errc::invalid_argument, "device " + id + " has no property " + name);
            if (auto ok = check_value_type(t->second.type, rv.value); !ok)
                return Error(errc::invalid_argument, "property " + name + ": " + ok.error().detail);
        }
        std::vector<std::string> changed;
        for (const auto& [name, rv] : report.twins) {
            auto& t = d.twins[name];
            if (t.actual && t.actual->value == rv.value) continue;
            last[name] = t;
            t.actual = TwinValue{rv.value, rv.timestamp ? rv.timestamp : now_ms()};
            ++t.actual_version.edge;
            changed.push_back(name);
        }
        return changed;
    }

    asio::awaitable<Result<void>> handle_report(std::string id, TwinReport report) {
        std::map<std::string, std::optional<Twin>> last;
        auto changed = apply_report(id, report, last);
        auto result_topic = device_topic(id, "twin/update/result");
        if (!changed) {
            bad_report(id, report.event_id, changed.error());
            co_return changed.error();
        }
        count([](auto& s) { ++s.reports; });
        if (!changed->empty()) {
            co_await persist(id);
            if (auto it = devices.find(id); it != devices.end())
                publish(device_topic(id, "twin/update/document"),
                        document_payload(report.event_id, now_ms(), last, it->second));
            co_await queue_twin_report(id, *changed);
        }
        publish(result_topic, result_payload(report.event_id, now_ms()));
        co_return Result<void>{};
    }

    void bad_report(const std::string& id, const std::string& event_id, const Error& e) {
        count([](auto& s) { ++s.bad_reports; });
        log->warn("device {}: bad twin report: {}", id, e.detail);
        publish(device_topic(id, "twin/update/result"),
                result_payload(event_id, now_ms(), 400, e.detail));
    }

    asio::awaitable<Result<void>> handle_state(std::string id, std::string state) {
        auto it = devices.find(id);
        if (it == devices.end())
            co_return Error(errc::not_found, "device " + id + " is not a member of this node");
        if (state.empty() || !valid_twin_value(state))
            co_return Error(errc::invalid_argument, "invalid device state \"" + state + "\"");
        auto& d = it->second;
        bool changed = d.state != state;
        d.state = state;
        if (state == "online") {
            d.last_online = rfc3339_now();
            changed = true;
        }
        count([](auto& s) { ++s.reports; });
        if (!changed) co_return Result<void>{};
        co_await persist(id);
        co_await queue_state_report(id);
        co_return Result<void>{};
    }

    // ---- MQTT (via the event bus) ----

    asio::awaitable<void> on_mqtt(const bus::Message& m) {
        auto topic = parse_topic(m.resource());
        std::string payload;
        if (auto s = m.content.as_string(); s)
            payload = std::move(*s);
        else
            payload = m.content.to_json();
        switch (topic.kind) {
            case TwinTopic::Kind::twin_update: {
                auto report = parse_twin_report(payload);
                if (!report) {
                    bad_report(topic.subject, event_id_of(payload), report.error());
                    co_return;
                }
                (void)co_await handle_report(topic.subject, std::move(*report));
                co_return;
            }
            case TwinTopic::Kind::twin_get: {
                auto event_id = event_id_of(payload);
                auto it = devices.find(topic.subject);
                publish(device_topic(topic.subject, "twin/get/result"),
                        it == devices.end()
                            ? result_payload(event_id, now_ms(), 404,
                                             "device " + topic.subject + " not found")
                            : get_result_payload(event_id, now_ms(), it->second));
                co_return;
            }
            case TwinTopic::Kind::state_update: {
                boost::system::error_code ec;
                auto v = json::parse(payload, ec);
                std::string state, event_id = event_id_of(payload);
                if (!ec && v.is_object()) state = string_at(&v.as_object(), "state");
                auto r = co_await handle_state(topic.subject, state);
                if (!r) {
                    count([](auto& s) { ++s.bad_reports; });
                    log->warn("device {}: bad state update: {}", topic.subject, r.error().detail);
                }
                publish(device_topic(topic.subject, "state/update/result"),
                        r ? result_payload(event_id, now_ms())
                          : result_payload(event_id, now_ms(), 400, r.error().detail));
                co_return;
            }
            case TwinTopic::Kind::membership_get: {
                std::vector<const DeviceRecord*> list;
                for (const auto& [id, d] : devices) list.push_back(&d);
                publish(membership_result_topic(topic.subject),
                        membership_payload(event_id_of(payload), now_ms(), list));
                co_return;
            }
            case TwinTopic::Kind::unknown:
                log->debug("ignoring MQTT topic {}", m.resource());
                co_return;
        }
    }

    // ---- from the cloud ----

    // Adds or refreshes a device from a membership entry; the cloud's desired values win.
    bool upsert_member(const DeviceRecord& in) {
        auto [it, added] = devices.try_emplace(in.id);
        auto& d = it->second;
        if (added) {
            d.id = in.id;
            d.state = in.state;
            d.last_online = in.last_online;
        }
        if (!in.name.empty()) d.name = in.name;
        if (!in.description.empty()) d.description = in.description;
        d.attributes = in.attributes;
        bool expected_changed = false;
        for (const auto& [name, t] : in.twins) {
            auto [ti, new_twin] = d.twins.try_emplace(name, t);
            if (new_twin) {
                ti->second.actual.reset();  // reported values come from the mapper only
                if (t.expected) {
                    ti->second.expected_version.cloud = 1;
                    expected_changed = true;
                }
                continue;
            }
            auto& cur = ti->second;
            cur.type = t.type;
            cur.optional = t.optional;
            if (t.expected && (!cur.expected || cur.expected->value != t.expected->value)) {
                cur.expected = t.expected;
                ++cur.expected_version.cloud;
                expected_changed = true;
            }
        }
        return expected_changed;
    }

    asio::awaitable<void> on_membership(const bus::Message& m) {
        auto v = m.content.value();
        if (!v || !(*v)->is_object()) {
            log->warn("membership update {} is not an object", m.id());
            co_return;
        }
        const auto& o = (*v)->as_object();
        if (auto* added = o.if_contains("added_devices"); added && added->is_array()) {
            for (const auto& dv : added->as_array()) {
                auto d = device_from_json(dv);
                if (!d) {
                    log->warn("membership: skipping a device: {}", d.error().detail);
                    continue;
                }
                log->info("device {} added to this node", d->id);
                bool delta = upsert_member(*d);
                co_await persist(d->id);
                if (delta) publish_delta(d->id);
            }
        }
        if (auto* removed = o.if_contains("removed_devices"); removed && removed->is_array()) {
            for (const auto& dv : removed->as_array()) {
                std::string id = dv.is_object() ? string_at(&dv.as_object(), "id") : std::string();
                if (id.empty()) continue;
                co_await remove_device(id);
            }
        }
        refresh_gauges();
    }

    asio::awaitable<void> remove_device(std::string id) {
        bool known = devices.erase(id) > 0;
        known = device_objects.erase(id) > 0 || known;
        for (auto kind : {kKindTwin, kKindState}) pending.erase({id, std::string(kind)});
        kick(mappers->remove(id));
        if (known) log->info("device {} removed from this node", id);
        co_await persist(id);
        refresh_gauges();
    }

    // The twins of a device from its Device object (and its model's types, when here).
    bool apply_spec(const std::string& id) {
        auto obj = device_objects.find(id);
        if (obj == device_objects.end()) return false;
        auto model = model_objects.find(spec_view(id, obj->second).model_key);
        return apply_device_spec(devices[id], id, obj->second,
                                 model == model_objects.end() ? nullptr : &model->second, now_ms());
    }

    asio::awaitable<void> on_device_object(const bus::Message& m, const bus::ResourceRef& ref) {
        std::string id = ref.ns + "/" + ref.name;
        if (m.operation() == bus::kOpDelete) {
            co_await remove_device(id);
            co_return;
        }
        auto v = m.content.value();
        if (!v || !(*v)->is_object()) {
            log->warn("device {}: the object is not JSON", id);
            co_return;
        }
        device_objects[id] = (*v)->as_object();
        bool delta = apply_spec(id);
        co_await persist(id);
        if (delta) publish_delta(id);
        refresh_gauges();
        kick(mappers->sync(id));
    }

    asio::awaitable<void> on_model_object(const bus::Message& m, const bus::ResourceRef& ref) {
        std::string key = ref.ns + "/" + ref.name;
        if (m.operation() == bus::kOpDelete) {
            model_objects.erase(key);
            co_return;
        }
        auto v = m.content.value();
        if (!v || !(*v)->is_object()) {
            log->warn("device model {}: the object is not JSON", key);
            co_return;
        }
        bool update = model_objects.contains(key);
        model_objects[key] = (*v)->as_object();
        if (update) kick(mappers->model_changed(key));
        // Types of the devices of this model may be known only now.
        std::vector<std::string> ids;
        for (const auto& [id, obj] : device_objects)
            if (spec_view(id, obj).model_key == key) ids.push_back(id);
        for (const auto& id : ids) {
            apply_spec(id);
            co_await persist(id);
            kick(mappers->sync(id));
        }
    }

    asio::awaitable<void> on_cloud_updated(const bus::Message& m) {
        auto res = bus::parse_device_resource(m.resource());
        auto v = m.content.value();
        if (!res || !v || !(*v)->is_object()) {
            log->warn("unreadable twin/cloud_updated {}", m.resource());
            co_return;
        }
        std::string id = bus::format_device_id(res->id);
        auto* twins = (*v)->as_object().if_contains("twin");
        if (!twins || !twins->is_object()) co_return;
        auto& d = devices[id];
        d.id = id;
        if (d.name.empty()) d.name = res->id.name;
        bool changed = false;
        for (const auto& [key, tv] : twins->as_object()) {
            std::string name(key);
            if (!valid_twin_key(name) || !tv.is_object()) continue;
            Twin t = d.twins.contains(name) ? d.twins[name] : Twin{};
            t.name = name;
            auto before = t.expected;
            if (auto r = apply_msg_twin(t, tv.as_object()); !r) {
                log->warn("device {}: cloud twin {}: {}", id, name, r.error().detail);
                continue;
            }
            if (t.expected && (!before || before->value != t.expected->value)) {
                ++t.expected_version.cloud;
                changed = true;
                if (auto obj = device_objects.find(id); obj != device_objects.end())
                    patch_desired(obj->second, name, t.expected->value);
            }
            d.twins[name] = std::move(t);
        }
        co_await persist(id);
        refresh_gauges();
        if (!changed) co_return;
        publish_delta(id);
        kick(mappers->sync(id));
    }

    // ---- up to the cloud ----

    void on_connection(const bus::Message& m) {
        if (m.content.string_equals(kCloudConnected)) {
            link = Link::up;
            log->info("cloud connected ({} report(s) pending)", pending.size());
            flush_pending();
            arm_resend_timer();
            spawn(request_detail(), "membership detail");
        } else if (m.content.string_equals(kCloudDisconnected)) {
            link = Link::down;
            log->info("cloud disconnected: twin reports are kept until it is back");
        }
    }

    asio::awaitable<void> queue_twin_report(std::string id, std::vector<std::string> changed) {
        auto it = devices.find(id);
        if (it == devices.end()) co_return;
        std::vector<std::string> props;
        for (auto& p : changed)
            if (auto t = it->second.twins.find(p);
                t != it->second.twins.end() && t->second.report_to_cloud)
                props.push_back(p);
        if (props.empty()) co_return;
        auto fresh = edge_updated_content(new_uuid(), now_ms(), it->second, props);
        auto& p = pending[{id, std::string(kKindTwin)}];
        if (auto* old = p.content.if_contains("twin"); old && old->is_object()) {
            // Coalesce: properties not acked yet stay, newer values replace older ones.
            auto merged = old->as_object();
            for (auto& [k, v] : fresh["twin"].as_object()) merged[k] = v;
            fresh["twin"] = std::move(merged);
        }
        p.content = std::move(fresh);
        p.refusals = 0;
        co_await save_pending(id, std::string(kKindTwin));
    }

    asio::awaitable<void> queue_state_report(std::string id) {
        auto it = devices.find(id);
        if (it == devices.end()) co_return;
        auto& p = pending[{id, std::string(kKindState)}];
        p.content = state_content(new_uuid(), now_ms(), it->second);
        p.refusals = 0;
        co_await save_pending(id, std::string(kKindState));
    }

    asio::awaitable<void> save_pending(std::string id, std::string kind) {
        auto it = pending.find({id, kind});
        if (it == pending.end()) co_return;
        PendingReport p{id, kind, json::serialize(it->second.content)};
        auto r =
            co_await net::run_blocking(store_pool, [this, p] { return store->put_pending(p); });
        if (!r)
            log->error("device {}: keeping the {} report failed: {}", id, kind,
                       r.error().message());
        refresh_gauges();
        try_send({id, kind});
    }

    void flush_pending() {
        for (const auto& [key, p] : pending) try_send(key);
    }

    void try_send(std::pair<std::string, std::string> key) {
        if (link == Link::down || stopped) return;
        auto it = pending.find(key);
        if (it == pending.end() || it->second.in_flight) return;
        it->second.in_flight = true;
        spawn(send_pending(std::move(key)), "report to the cloud");
    }

    asio::awaitable<void> send_pending(std::pair<std::string, std::string> key) {
        auto self = shared_from_this();
        auto it = pending.find(key);
        if (it == pending.end()) co_return;
        std::string text = json::serialize(it->second.content);
        std::string resource = "device/" + key.first +
                               (key.second == kKindTwin ? "/twin/edge_updated" : "/state/update");
        auto msg = bus::Message::make(
            std::string(bus::kModuleTwin), std::string(bus::kGroupTwin),
            std::string(bus::kOpUpdate), resource,
            bus::Content::from_trusted_json(std::make_shared<const std::string>(text)));
        auto reply = co_await ctx->request(std::string(bus::kModuleEdgeHub), std::move(msg),
                                           options.cloud_timeout);
        it = pending.find(key);
        if (it != pending.end()) it->second.in_flight = false;
        bool not_connected = reply && reply->operation() == bus::kOpError &&
                             reply->content.string_equals(kCloudNotConnected);
        if (!reply || not_connected) {
            log->debug("{} not delivered ({}); kept for later", resource,
                       reply ? std::string(kCloudNotConnected) : reply.error().message());
            co_return;
        }
        bool current = it != pending.end() && json::serialize(it->second.content) == text;
        if (reply->operation() == bus::kOpError) {
            // Often transient ("not ready; retry later"), but a report the cloud keeps refusing
            // must not be retried forever.
            if (current && ++it->second.refusals < kMaxRefusals) {
                log->warn("the cloud refused {} ({} of {}), retrying later: {}", resource,
                          it->second.refusals, kMaxRefusals, reply->content.to_json());
                co_return;
            }
            log->warn("the cloud refused {}: {}; dropping it", resource, reply->content.to_json());
            count([](auto& s) { ++s.refused_by_cloud; });
        } else {
            count([](auto& s) { ++s.sent_to_cloud; });
        }
        if (it == pending.end()) co_return;
        if (!current) {
            try_send(key);  // a newer report came while this one was on its way
            co_return;
        }
        pending.erase(it);
        refresh_gauges();
        PendingReport p{key.first, key.second, text};
        if (auto r = co_await net::run_blocking(store_pool,
                                                [this, p] { return store->remove_pending(p); });
            !r)
            log->warn("forgetting the delivered {} report of {}: {}", key.second, key.first,
                      r.error().message());
    }

    void arm_resend_timer() {
        if (!resend_timer) resend_timer.emplace(*strand);
        resend_timer->expires_after(options.resend_interval);
        resend_timer->async_wait([w = weak_from_this()](boost::system::error_code ec) {
            auto self = w.lock();
            if (ec || !self || self->stopped || self->link != Link::up) return;
            self->flush_pending();
            self->arm_resend_timer();
        });
    }

    asio::awaitable<void> request_detail() {
        auto self = shared_from_this();
        json::object content{{"event_id", new_uuid()}, {"timestamp", now_ms()}};
        auto msg = bus::Message::make(std::string(bus::kModuleTwin), std::string(bus::kGroupTwin),
                                      std::string(kOpGet), std::string(bus::kResMembershipDetail),
                                      bus::Content::encoded(std::move(content)));
        auto reply = co_await ctx->request(std::string(bus::kModuleEdgeHub), std::move(msg),
                                           options.detail_timeout);
        if (!reply) {
            log->info("membership detail: no answer ({})", reply.error().message());
            co_return;
        }
        if (reply->operation() != bus::kOpResponse) {
            log->info("membership detail refused: {}", reply->content.to_json());
            co_return;
        }
        auto v = reply->content.value();
        const json::array* list = nullptr;
        if (v && (*v)->is_object())
            if (auto* d = (*v)->as_object().if_contains("devices"); d && d->is_array())
                list = &d->as_array();
        if (!list) {
            log->debug("membership detail answer without a device list");
            co_return;
        }
        std::set<std::string> listed;
        for (const auto& dv : *list) {
            auto d = device_from_json(dv);
            if (!d) {
                log->warn("membership detail: skipping a device: {}", d.error().detail);
                continue;
            }
            listed.insert(d->id);
            bool delta = upsert_member(*d);
            co_await persist(d->id);
            if (delta) publish_delta(d->id);
        }
        std::vector<std::string> gone;
        for (const auto& [id, d] : devices)
            if (!listed.contains(id)) gone.push_back(id);
        for (auto& id : gone) co_await remove_device(id);
        log->info("membership detail: {} device(s) bound to this node, {} removed", listed.size(),
                  gone.size());
        refresh_gauges();
    }

    // ---- mappers ----

    void kick(bool needs_drain) {
        if (needs_drain) spawn(drain_mappers(), "mapper calls");
    }

    asio::awaitable<void> drain_mappers() {
        auto self = shared_from_this();
        co_await mappers->drain();
        refresh_gauges();
    }

    // A device whose model is not on the edge is kept, and the cloud hears "unknown" once.
    asio::awaitable<void> model_missing(std::string id) {
        auto d = devices.find(id);
        if (d == devices.end() || d->second.state == "unknown") co_return;
        d->second.state = "unknown";
        co_await persist(id);
        co_await queue_state_report(id);
    }

    asio::awaitable<Result<v1beta1::MapperRegisterResponse>> mapper_register(
        v1beta1::MapperRegisterRequest req) {
        auto self = shared_from_this();
        bool needs_drain = false;
        auto r = mappers->on_register(req, needs_drain);
        kick(needs_drain);
        refresh_gauges();
        co_return r;
    }

    // ---- DMI server (calls arrive on gRPC threads) ----

    template <class T>
    Result<T> on_strand(asio::awaitable<Result<T>> work) {
        if (stopped) return Error(errc::closed, "edgecore is stopping");
        auto fut = asio::co_spawn(*strand, std::move(work), asio::use_future);
        auto deadline = std::chrono::steady_clock::now() + options.dmi_timeout;
        while (fut.wait_for(std::chrono::milliseconds(50)) != std::future_status::ready) {
            if (stopped) return Error(errc::closed, "edgecore is stopping");
            if (std::chrono::steady_clock::now() > deadline)
                return Error(errc::timeout, "the device twin did not answer in time");
        }
        try {
            return fut.get();
        } catch (const std::exception& e) {
            return Error(errc::internal, e.what());
        }
    }

    asio::awaitable<Result<void>> report_status(v1beta1::ReportDeviceStatusRequest req) {
        auto self = shared_from_this();
        auto id = dmi_device_id(req.devicenamespace(), req.devicename());
        auto report = report_from_dmi(req);
        if (!report) {
            bad_report(id, {}, report.error());
            co_return report.error();
        }
        report->event_id = new_uuid();
        co_return co_await handle_report(id, std::move(*report));
    }

    asio::awaitable<Result<void>> report_states(v1beta1::ReportDeviceStatesRequest req) {
        auto self = shared_from_this();
        auto id = dmi_device_id(req.devicenamespace(), req.devicename());
        auto r = co_await handle_state(id, req.state());
        if (!r) {
            count([](auto& s) { ++s.bad_reports; });
            log->warn("device {}: bad state report: {}", id, r.error().detail);
        }
        co_return r;
    }

    void start_dmi() {
        if (options.dmi_socket.empty()) return;
        std::weak_ptr<Impl> w = weak_from_this();
        DmiHandlers h;
        h.mapper_register = [w](const v1beta1::MapperRegisterRequest& req)
            -> Result<v1beta1::MapperRegisterResponse> {
            auto self = w.lock();
            if (!self) return Error(errc::closed, "edgecore is stopping");
            return self->on_strand(self->mapper_register(req));
        };
        h.report_status = [w](const v1beta1::ReportDeviceStatusRequest& req) -> Result<void> {
            auto self = w.lock();
            if (!self) return Error(errc::closed, "edgecore is stopping");
            return self->on_strand(self->report_status(req));
        };
        h.report_states = [w](const v1beta1::ReportDeviceStatesRequest& req) -> Result<void> {
            auto self = w.lock();
            if (!self) return Error(errc::closed, "edgecore is stopping");
            return self->on_strand(self->report_states(req));
        };
        auto server = DmiServer::start(options.dmi_socket, std::move(h));
        if (!server) {
            log->error("DMI server not started (mappers cannot register): {}",
                       server.error().message());
            return;
        }
        dmi = std::move(*server);
        dmi_up = true;
        log->info("DMI server listening on {}", options.dmi_socket);
    }
};

DeviceTwin::DeviceTwin(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

DeviceTwin::~DeviceTwin() {
    stop();
    impl_->store_pool.join();
}

Result<std::shared_ptr<DeviceTwin>> DeviceTwin::create(DeviceTwinOptions options) {
    auto impl = std::make_shared<Impl>();
    impl->options = std::move(options);
    auto store = TwinStore::open(impl->options.database);
    if (!store) return store.error();
    impl->store = std::move(*store);
    if (auto r = impl->load(); !r) return r.error();
    auto* raw = impl.get();  // MapperSync is owned by the Impl and drained from its coroutines
    impl->mappers = std::make_unique<MapperSync>(
        impl->device_objects, impl->model_objects, impl->options.mapper_timeout,
        [raw](std::string id) { return raw->model_missing(std::move(id)); });
    return std::shared_ptr<DeviceTwin>(new DeviceTwin(std::move(impl)));
}

std::string DeviceTwin::name() const { return std::string(bus::kModuleTwin); }
std::string DeviceTwin::group() const { return std::string(bus::kGroupTwin); }

void DeviceTwin::start(bus::Context& ctx) {
    impl_->ctx = &ctx;
    impl_->strand.emplace(asio::make_strand(ctx.get_executor()));
    impl_->spawn(impl_->run(), "device twin loop");
    impl_->start_dmi();
}

void DeviceTwin::stop() {
    if (impl_->stopped.exchange(true)) return;
    if (impl_->dmi) impl_->dmi->shutdown();
    impl_->mappers->stop();
    impl_->dmi_up = false;
    if (impl_->strand) {
        auto impl = impl_;
        asio::post(*impl_->strand, [impl] {
            if (impl->resend_timer) impl->resend_timer->cancel();
        });
    }
}

DeviceTwinStats DeviceTwin::stats() const {
    std::lock_guard lock(impl_->stats_mu);
    return impl_->stats;
}

bool DeviceTwin::dmi_listening() const { return impl_->dmi_up; }

}  // namespace kedge::edge::devicetwin
