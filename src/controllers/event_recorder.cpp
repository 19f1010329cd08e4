#include "controllers/event_recorder.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/json/serialize.hpp>

#include <cstdio>

#include "base/log.hpp"
#include "kube/object.hpp"
#include "kube/time.hpp"

namespace kedge::controllers {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

// Kubernetes' window for folding repeats into one Event.
constexpr auto kAggregationWindow = std::chrono::minutes(10);
constexpr std::size_t kMaxRemembered = 4'096;

}  // namespace

EventRecorder::EventRecorder(asio::any_io_executor ex, std::shared_ptr<kube::client::Client> client,
                             std::string component, const Clock& clock)
    : ex_(std::move(ex)), client_(std::move(client)), component_(std::move(component)),
      clock_(clock) {}

void EventRecorder::event(const json::object& involved, std::string_view type,
                          std::string_view reason, std::string message) {
    const auto now = clock_.now();
    const std::string stamp = kube::format_time(now);
    std::string ns(kube::namespace_of(involved));
    if (ns.empty()) ns = "default";
    std::string key = std::string(kube::uid(involved)) + "\n" + std::string(kube::name(involved)) +
                      "\n" + std::string(type) + "\n" + std::string(reason) + "\n" + message;

    if (seen_.size() > kMaxRemembered) {
        for (auto it = seen_.begin(); it != seen_.end();)
            it = now - it->second.last > kAggregationWindow ? seen_.erase(it) : std::next(it);
    }
    auto log = log::get("events");
    auto it = seen_.find(key);
    if (it != seen_.end() && now - it->second.last <= kAggregationWindow) {
        Seen& s = it->second;
        s.count += 1;
        s.last = now;
        json::object patch{{"count", s.count}, {"lastTimestamp", stamp}};
        asio::co_spawn(
            ex_,
            [self = shared_from_this(), ns = s.event_namespace, name = s.event_name,
             body = json::serialize(patch), log]() -> asio::awaitable<void> {
                auto r = co_await self->client_->patch(kube::client::resources::events(), ns, name,
                                                       kube::PatchType::kMergePatch, body);
                if (r) ++self->written_;
                else log->warn("updating event {}/{}: {}", ns, name, r.error().message());
            },
            asio::detached);
        return;
    }

    char suffix[24];
    std::snprintf(suffix, sizeof suffix, ".%llx",
                  static_cast<unsigned long long>(
                      std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch())
                          .count()) +
                      static_cast<unsigned long long>(seen_.size()));
    std::string name = std::string(kube::name(involved)) + suffix;
    json::object ref{{"kind", kube::kind(involved)},
                     {"apiVersion", kube::api_version(involved)},
                     {"name", kube::name(involved)},
                     {"uid", kube::uid(involved)},
                     {"resourceVersion", kube::resource_version(involved)}};
    if (!kube::namespace_of(involved).empty()) ref["namespace"] = kube::namespace_of(involved);
    json::object ev{{"apiVersion", "v1"},
                    {"kind", "Event"},
                    {"metadata", json::object{{"name", name}, {"namespace", ns}}},
                    {"involvedObject", std::move(ref)},
                    {"reason", reason},
                    {"message", message},
                    {"type", type},
                    {"source", json::object{{"component", component_}}},
                    {"firstTimestamp", stamp},
                    {"lastTimestamp", stamp},
                    {"count", 1},
                    {"reportingComponent", component_},
                    {"reportingInstance", component_}};
    seen_[key] = Seen{name, ns, 1, now};
    asio::co_spawn(
        ex_,
        [self = shared_from_this(), ns, ev = std::move(ev), log]() -> asio::awaitable<void> {
            auto r = co_await self->client_->create(kube::client::resources::events(), ns, ev);
            if (r) ++self->written_;
            else log->warn("writing event in {}: {}", ns, r.error().message());
        },
        asio::detached);
}

}  // namespace kedge::controllers
