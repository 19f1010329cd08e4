#include "device/mapper/device_worker.hpp"

#include <algorithm>

#include "base/log.hpp"
#include "device/mapper/device_config.hpp"
#include "device/mapper/dmi_client.hpp"
#include "device/mapper/push.hpp"

namespace kedge::device {

namespace {

auto logger() {
    static auto l = log::get("mapper");
    return l;
}

std::int64_t now_ms() { return unix_millis(std::chrono::system_clock::now()); }

bool connection_lost(const Error& e) { return e.is(errc::unavailable) || e.is(errc::timeout); }

// A property whose visitor or identity changed needs a fresh connection; cycles, desired
// values and push methods do not.
bool needs_reopen(const DeviceConfig& a, const DeviceConfig& b) {
    if (a.protocol_name != b.protocol_name || a.protocol != b.protocol) return true;
    if (a.properties.size() != b.properties.size()) return true;
    for (std::size_t i = 0; i < a.properties.size(); ++i) {
        const auto& x = a.properties[i];
        const auto& y = b.properties[i];
        if (x.name != y.name || x.type != y.type || x.visitor_protocol != y.visitor_protocol ||
            x.visitor != y.visitor) {
            return true;
        }
    }
    return false;
}

}  // namespace

DeviceWorker::DeviceWorker(const WorkerContext& context, DeviceConfig config)
    : ctx_(context), id_(object_key(config.namespace_, config.name)) {
    backoff_ = ctx_.reconnect_initial;
    apply_config(std::move(config));
}

DeviceWorker::~DeviceWorker() { stop(); }

void DeviceWorker::start() {
    thread_ = std::thread([this] { run(); });
}

void DeviceWorker::update(DeviceConfig config) {
    {
        std::lock_guard lock(mutex_);
        pending_config_ = std::move(config);
    }
    cv_.notify_all();
}

void DeviceWorker::resync() {
    {
        std::lock_guard lock(mutex_);
        resync_ = true;
    }
    cv_.notify_all();
}

void DeviceWorker::stop() {
    {
        std::lock_guard lock(mutex_);
        stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

std::vector<v1beta1::Twin> DeviceWorker::twins() const {
    std::lock_guard lock(mutex_);
    std::vector<v1beta1::Twin> out;
    for (const auto& p : props_) {
        v1beta1::Twin t;
        t.set_propertyname(p.config.name);
        if (p.value) {
            auto* r = t.mutable_reported();
            r->set_value(*p.value);
            (*r->mutable_metadata())["timestamp"] = std::to_string(p.value_ms);
            (*r->mutable_metadata())["type"] = twin_type(p.config.type);
        }
        if (p.applied_desired) {
            auto* d = t.mutable_observeddesired();
            d->set_value(*p.applied_desired);
            (*d->mutable_metadata())["timestamp"] = std::to_string(p.applied_ms);
            (*d->mutable_metadata())["type"] = twin_type(p.config.type);
        }
        out.push_back(std::move(t));
    }
    return out;
}

std::string DeviceWorker::state() const {
    std::lock_guard lock(mutex_);
    return state_;
}

void DeviceWorker::apply_config(DeviceConfig config) {
    if (!config_.name.empty()) {
        DeviceConfig old = config_;
        for (const auto& p : props_) old.properties.push_back(p.config);
        reopen_ = reopen_ || needs_reopen(old, config);
    }
    std::vector<Property> next;
    for (auto& pc : config.properties) {
        Property p;
        auto old = std::find_if(props_.begin(), props_.end(),
                                [&](const Property& o) { return o.config.name == pc.name; });
        if (old != props_.end()) p = std::move(*old);
        // Upstream edgecore resends the whole Device on every change: only a desired value
        // that differs from what was applied is written.
        bool new_desired = pc.desired && (!p.applied_desired || *p.applied_desired != *pc.desired);
        p.desired_pending = new_desired;
        if (new_desired) p.write_failures = 0;
        p.config = std::move(pc);
        next.push_back(std::move(p));
    }
    props_ = std::move(next);
    config.properties.clear();  // the copies live in props_
    config_ = std::move(config);
}

void DeviceWorker::run() {
    logger()->info("device {}: worker started ({} properties)", id_, props_.size());
    for (;;) {
        {
            std::unique_lock lock(mutex_);
            if (stop_) break;
            if (pending_config_) {
                apply_config(std::move(*pending_config_));
                pending_config_.reset();
            }
            if (resync_) {
                resync_ = false;
                next_report_ = next_state_ = Clock::now();
                reported_state_.clear();
            }
        }
        step();
        std::unique_lock lock(mutex_);
        if (stop_) break;
        cv_.wait_until(lock, next_wakeup(),
                       [&] { return stop_ || pending_config_.has_value() || resync_; });
    }
    if (client_) client_->disconnect();
    logger()->info("device {}: worker stopped", id_);
}

void DeviceWorker::step() {
    auto now = Clock::now();
    ensure_connected(now);
    if (connected_) write_desired(now);
    if (connected_) collect(now);
    {
        std::lock_guard lock(mutex_);
        state_ = std::string(connected_ && last_read_ok_ ? kStateOnline : kStateOffline);
    }
    now = Clock::now();
    report_state(now);
    report_status(now);
}

void DeviceWorker::ensure_connected(Clock::time_point now) {
    if (reopen_) {
        reopen_ = false;
        if (client_) {
            logger()->info("device {}: configuration changed, reconnecting", id_);
            client_->disconnect();
            client_.reset();
        }
        connected_ = false;
        open_failed_ = false;
        backoff_ = ctx_.reconnect_initial;
        next_connect_ = now;
    }
    if (!client_ && !open_failed_) {
        DeviceConfig full;
        {
            std::lock_guard lock(mutex_);
            full = config_;
            for (const auto& p : props_) full.properties.push_back(p.config);
        }
        auto client = ctx_.driver->open(full);
        if (!client) {
            // A configuration error: nothing changes until edgecore sends a new spec.
            logger()->error("device {}: {}", id_, client.error().message());
            open_failed_ = true;
            return;
        }
        client_ = std::move(*client);
        next_connect_ = now;
    }
    if (!client_ || connected_ || now < next_connect_) return;
    auto r = client_->connect();
    if (r) {
        if (backoff_ > ctx_.reconnect_initial) logger()->info("device {}: connected again", id_);
        connected_ = true;
        last_read_ok_ = true;
        backoff_ = ctx_.reconnect_initial;
        return;
    }
    if (backoff_ == ctx_.reconnect_initial) {
        logger()->warn("device {}: connect failed: {} (retrying with back-off)", id_,
                       r.error().message());
    } else {
        logger()->debug("device {}: connect failed: {}", id_, r.error().message());
    }
    next_connect_ = now + backoff_;
    backoff_ = std::min(backoff_ * 2, ctx_.reconnect_max);
}

void DeviceWorker::lose_connection(Clock::time_point now, const std::string& why) {
    logger()->warn("device {}: connection lost: {}", id_, why);
    client_->disconnect();
    connected_ = false;
    last_read_ok_ = false;
    next_connect_ = now + backoff_;
    backoff_ = std::min(backoff_ * 2, ctx_.reconnect_max);
}

void DeviceWorker::write_desired(Clock::time_point now) {
    constexpr int kMaxWriteAttempts = 3;
    for (std::size_t i = 0; i < props_.size() && connected_; ++i) {
        PropertyConfig pc;
        {
            std::lock_guard lock(mutex_);
            if (!props_[i].desired_pending) continue;
            pc = props_[i].config;
            if (!pc.writable) {
                logger()->warn("device {}: property {} has a desired value but is {}", id_, pc.name,
                               "ReadOnly in its model; not written");
                props_[i].desired_pending = false;
                continue;
            }
        }
        const std::string desired = *pc.desired;
        auto w = client_->write(pc, desired);
        std::optional<std::string> read_back;
        std::string failure;
        if (w) {
            auto r = client_->read(pc);
            if (r) {
                read_back = *r;
                if (!same_value(pc.type, *r, desired)) {
                    failure = "read back " + *r + " after writing " + desired;
                }
            } else {
                w = r.error();
            }
        }
        if (!w && connection_lost(w.error())) {
            lose_connection(now, w.error().message());
            return;
        }
        std::lock_guard lock(mutex_);
        Property& p = props_[i];
        if (p.config.desired != desired) continue;  // a newer spec arrived meanwhile
        if (read_back) {
            p.value = read_back;
            p.value_ms = now_ms();
        }
        if (w && failure.empty()) {
            logger()->info("device {}: property {} set to {}", id_, pc.name, desired);
            p.applied_desired = desired;
            p.applied_ms = now_ms();
            p.desired_pending = false;
            continue;
        }
        if (!w) failure = w.error().message();
        // A value the device refuses is not retried; anything else a few times.
        if ((!w && w.error().is(errc::invalid_argument)) ||
            ++p.write_failures >= kMaxWriteAttempts) {
            logger()->error("device {}: desired {}={} not applied: {}", id_, pc.name, desired,
                            failure);
            p.desired_pending = false;
        } else {
            logger()->warn("device {}: writing {}={}: {} (will retry)", id_, pc.name, desired,
                           failure);
        }
    }
}

void DeviceWorker::collect(Clock::time_point now) {
    for (std::size_t i = 0; i < props_.size() && connected_; ++i) {
        PropertyConfig pc;
        {
            std::lock_guard lock(mutex_);
            if (props_[i].next_collect > now) continue;
            props_[i].next_collect = now + props_[i].config.collect_cycle;
            pc = props_[i].config;
        }
        auto r = client_->read(pc);
        if (!r && connection_lost(r.error())) {
            lose_connection(now, r.error().message());
            return;
        }
        last_read_ok_ = static_cast<bool>(r);
        std::int64_t ts = now_ms();
        {
            std::lock_guard lock(mutex_);
            Property& p = props_[i];
            if (r) {
                p.value = *r;
                p.value_ms = ts;
                p.last_error.clear();
            } else if (p.last_error != r.error().message()) {
                p.last_error = r.error().message();
                logger()->warn("device {}: reading {}: {}", id_, pc.name, p.last_error);
            }
        }
        if (r) {
            DeviceConfig dev;
            {
                std::lock_guard lock(mutex_);
                dev.name = config_.name;
                dev.namespace_ = config_.namespace_;
            }
            if (auto pushed = ctx_.pusher->push(dev, pc, *r, ts); !pushed) {
                logger()->debug("device {}: push of {}: {}", id_, pc.name,
                                pushed.error().message());
            }
        }
    }
}

void DeviceWorker::report_state(Clock::time_point now) {
    v1beta1::ReportDeviceStatesRequest req;
    {
        std::lock_guard lock(mutex_);
        if (state_ == reported_state_ && now < next_state_) return;
        req.set_devicename(config_.name);
        req.set_devicenamespace(config_.namespace_);
        req.set_state(state_);
    }
    auto r = ctx_.dmi->report_state(req);
    if (r) {
        if (reported_state_ != req.state()) {
            logger()->info("device {}: state {}", id_, req.state());
        }
        reported_state_ = req.state();
        next_state_ = now + ctx_.state_heartbeat;
        return;
    }
    std::lock_guard lock(mutex_);
    next_state_ = now + report_cycle();
    if (r.error().is(errc::unavailable) && ctx_.on_dmi_unavailable) ctx_.on_dmi_unavailable();
}

void DeviceWorker::report_status(Clock::time_point now) {
    if (now < next_report_) return;
    v1beta1::ReportDeviceStatusRequest req;
    {
        std::lock_guard lock(mutex_);
        next_report_ = now + report_cycle();
        req.set_devicename(config_.name);
        req.set_devicenamespace(config_.namespace_);
        auto* status = req.mutable_reporteddevice();
        status->set_reportcycle(report_cycle().count());
        bool to_cloud = false;
        for (const auto& p : props_) to_cloud = to_cloud || p.config.report_to_cloud;
        status->set_reporttocloud(to_cloud);
    }
    for (auto& t : twins()) {
        if (t.has_reported()) *req.mutable_reporteddevice()->add_twins() = std::move(t);
    }
    if (req.reporteddevice().twins_size() == 0) return;  // nothing read yet
    auto r = ctx_.dmi->report_status(req);
    if (r) {
        if (dmi_down_logged_) logger()->info("device {}: reports reach edgecore again", id_);
        dmi_down_logged_ = false;
        return;
    }
    if (!dmi_down_logged_) {
        logger()->warn("device {}: {}", id_, r.error().message());
        dmi_down_logged_ = true;
    }
    if (r.error().is(errc::unavailable) && ctx_.on_dmi_unavailable) ctx_.on_dmi_unavailable();
}

std::chrono::milliseconds DeviceWorker::report_cycle() const {
    std::chrono::milliseconds shortest{0};
    for (const auto& p : props_) {
        if (shortest.count() == 0 || p.config.report_cycle < shortest) {
            shortest = p.config.report_cycle;
        }
    }
    return shortest.count() > 0 ? shortest : std::chrono::milliseconds(1000);
}

DeviceWorker::Clock::time_point DeviceWorker::next_wakeup() const {
    auto wake = std::min(next_report_, next_state_);
    if (client_ && !connected_) wake = std::min(wake, next_connect_);
    if (connected_) {
        for (const auto& p : props_) {
            wake = std::min(wake, p.next_collect);
            // A pending write is retried with the next collection of its property.
        }
    }
    return wake;
}

}  // namespace kedge::device
