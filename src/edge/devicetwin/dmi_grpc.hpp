#pragma once
// The gRPC side of DMI for the device twin: a client of one mapper's DeviceMapperService and the
// DeviceManagerService server on the DMI unix socket. Both are synchronous gRPC; the twin calls
// the client from a worker pool and the server hands each call to the twin's executor.
// Including this header pulls in the generated DMI messages ("dmi.pb.h"), not gRPC itself.

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "base/error.hpp"
#include "dmi.pb.h"
#include "edge/devicetwin/twin_messages.hpp"

namespace kedge::edge::devicetwin {

// The socket path from modules.deviceTwin.dmiSockPath: a path ending in ".sock" is the socket,
// anything else is the directory holding `dmi.sock` (as upstream treats it).
std::string dmi_socket_path(std::string_view dmi_sock_path);

// The gRPC target of a mapper's announced address: "unix:<path>" (kept as is when it already
// starts with "unix:"). invalid_argument for an empty address.
Result<std::string> mapper_target(std::string_view address);

// The device id of a DMI request: "<ns>/<name>", namespace "default" when empty.
std::string dmi_device_id(std::string_view ns, std::string_view name);
// A ReportDeviceStatus as a twin report (event_id left empty): reported values with their
// metadata timestamp; twins with an empty value (nothing read yet) are skipped.
// invalid_argument when a name or value breaks upstream's patterns.
Result<TwinReport> report_from_dmi(const v1beta1::ReportDeviceStatusRequest& req);

// One mapper's DeviceMapperService. Thread-safe; every call is blocking with its own deadline
// (call it from a worker pool, never from an event loop). Errors say which RPC on which mapper
// failed: unavailable (not listening), timeout, invalid_argument/not_found (the mapper refused).
class MapperClient {
public:
    static Result<std::shared_ptr<MapperClient>> create(std::string address,
                                                        std::chrono::milliseconds timeout);
    ~MapperClient();

    const std::string& address() const;

    Result<void> register_device(const v1beta1::Device& device);
    Result<void> update_device(const v1beta1::Device& device);
    Result<void> remove_device(const std::string& ns, const std::string& name);
    Result<void> create_model(const v1beta1::DeviceModel& model);
    Result<void> update_model(const v1beta1::DeviceModel& model);
    Result<void> remove_model(const std::string& ns, const std::string& name);

    struct Impl;

private:
    explicit MapperClient(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// What the DMI server does with each call; called on gRPC threads, each must return within its
// own deadline. An Error becomes the gRPC status (invalid_argument -> INVALID_ARGUMENT,
// not_found -> NOT_FOUND, timeout -> DEADLINE_EXCEEDED, unavailable/closed -> UNAVAILABLE,
// anything else -> INTERNAL) with the detail as message.
struct DmiHandlers {
    std::function<Result<v1beta1::MapperRegisterResponse>(const v1beta1::MapperRegisterRequest&)>
        mapper_register;
    std::function<Result<void>(const v1beta1::ReportDeviceStatusRequest&)> report_status;
    std::function<Result<void>(const v1beta1::ReportDeviceStatesRequest&)> report_states;
};

// DeviceManagerService on a unix socket: creates the parent directory, removes a stale socket
// file, listens, then restricts the socket to its owner (0600, like upstream's root-owned one).
class DmiServer {
public:
    static Result<std::unique_ptr<DmiServer>> start(std::string socket_path, DmiHandlers handlers);
    // shutdown().
    ~DmiServer();
    DmiServer(const DmiServer&) = delete;
    DmiServer& operator=(const DmiServer&) = delete;

    const std::string& socket_path() const;
    // Stops accepting, waits for running calls (they end within their deadlines), removes the
    // socket file. Idempotent.
    void shutdown();

    struct Impl;

private:
    explicit DmiServer(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace kedge::edge::devicetwin
