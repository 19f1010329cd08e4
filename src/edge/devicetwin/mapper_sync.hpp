#pragma once
// Keeps each mapper level with the devices of its protocol (internal to the twin): remembers
// protocol -> mapper address from MapperRegister, answers it (withData: every device and model of
// that protocol), and turns device/model changes into DeviceMapperService calls — CreateDeviceModel
// once per model and mapper, RegisterDevice once, UpdateDevice when the spec changed (how desired
// values reach the mapper), RemoveDevice (+ RemoveDeviceModel when no device uses it any more).
// A call that fails is logged; the device is registered again when its mapper registers again.
//
// Threads: every member runs on the twin's strand; calls are queued and run one at a time in
// order on a one-thread pool (blocking gRPC with a deadline) by drain(), which the twin awaits
// from a coroutine that keeps it alive.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/json/object.hpp>

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "base/error.hpp"
#include "dmi.pb.h"

namespace spdlog {
class logger;
}

namespace kedge::edge::devicetwin {

class MapperClient;

class MapperSync {
public:
    using Objects = std::map<std::string, boost::json::object>;
    // Called (and awaited) when a device's model is not on the edge, once until it is.
    using ModelMissing = std::function<boost::asio::awaitable<void>(std::string id)>;

    // devices ("<ns>/<name>" -> Device) and models ("<ns>/<name>" -> DeviceModel) are the twin's
    // maps, read when a queued call runs.
    MapperSync(const Objects& devices, const Objects& models, std::chrono::milliseconds timeout,
               ModelMissing model_missing);
    ~MapperSync();
    MapperSync(const MapperSync&) = delete;
    MapperSync& operator=(const MapperSync&) = delete;

    // Queue work; each returns true when the caller must start drain() (nothing is running).
    bool sync(std::string id);
    bool remove(const std::string& id);
    bool model_changed(std::string model_key);
    // Runs the queued calls until the queue is empty.
    boost::asio::awaitable<void> drain();

    // MapperRegister: a (re)registered mapper holds nothing yet. With withData the reply carries
    // every device of its protocol whose model is here (and those models); without, they are
    // queued for RegisterDevice. Devices whose model is missing are queued (sync logs them).
    Result<v1beta1::MapperRegisterResponse> on_register(const v1beta1::MapperRegisterRequest& req,
                                                        bool& needs_drain);

    std::size_t mapper_count() const { return mappers_.size(); }
    std::uint64_t calls() const { return calls_; }
    std::uint64_t failures() const { return failures_; }
    void stop() { stopped_ = true; }

private:
    struct Op {
        enum class Kind { sync, remove, update_model };
        Kind kind = Kind::sync;
        std::string id;
        std::string protocol;
        std::string model_key;
    };
    struct Mapper {
        std::string address;
        std::shared_ptr<MapperClient> client;
        std::set<std::string> models;  // model keys created on this mapper
    };
    struct Registration {
        std::string protocol;
        std::string model_key;
        std::string spec;  // the Device spec the mapper was given (JSON text)
    };

    bool enqueue(Op op);
    boost::asio::awaitable<void> sync_device(std::string id);
    boost::asio::awaitable<void> unregister(Op op);
    boost::asio::awaitable<void> update_model(std::string key);
    template <class F>
    boost::asio::awaitable<Result<void>> call(F f);

    const Objects& devices_;
    const Objects& models_;
    std::chrono::milliseconds timeout_;
    ModelMissing model_missing_;
    std::shared_ptr<spdlog::logger> log_;
    boost::asio::thread_pool pool_{1};
    std::map<std::string, Mapper> mappers_;           // protocol ->
    std::map<std::string, Registration> registered_;  // device id ->
    std::set<std::string> missing_;                   // devices told about already
    std::deque<Op> ops_;
    bool busy_ = false;
    std::atomic<bool> stopped_{false};
    std::atomic<std::uint64_t> calls_{0}, failures_{0};
};

}  // namespace kedge::edge::devicetwin
