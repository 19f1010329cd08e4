#pragma once
// Records core/v1 Events about objects ("Scheduled", "FailedScheduling", "SuccessfulCreate"...),
// what `kubectl describe` shows at the bottom. Fire-and-forget: a failure to write an event is
// logged, never returned. Repeats of the same (object, type, reason, message) within ten minutes
// update count and lastTimestamp of the existing Event instead of creating a new one.

#include <boost/asio/any_io_executor.hpp>
#include <boost/json/object.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "base/clock.hpp"
#include "kube/client/client.hpp"

namespace kedge::controllers {

inline constexpr std::string_view kEventNormal = "Normal";
inline constexpr std::string_view kEventWarning = "Warning";

class EventRecorder : public std::enable_shared_from_this<EventRecorder> {
  public:
    // component: source.component / reportingController, e.g. "default-scheduler",
    // "deployment-controller".
    EventRecorder(boost::asio::any_io_executor ex, std::shared_ptr<kube::client::Client> client,
                  std::string component, const Clock& clock);

    // involved: the object the event is about (kind, apiVersion, namespace, name, uid and
    // resourceVersion are copied into involvedObject). Cluster-scoped objects' events go to
    // the "default" namespace, as Kubernetes does.
    void event(const boost::json::object& involved, std::string_view type, std::string_view reason,
               std::string message);

    // Events written (created or updated) so far.
    std::uint64_t written() const { return written_; }

  private:
    struct Seen {
        std::string event_name;
        std::string event_namespace;
        int count = 0;
        Clock::time_point last;
    };
    boost::asio::any_io_executor ex_;
    std::shared_ptr<kube::client::Client> client_;
    std::string component_;
    const Clock& clock_;
    std::map<std::string, Seen> seen_;  // by uid/type/reason/message
    std::uint64_t written_ = 0;
};

}  // namespace kedge::controllers
