#pragma once
// The mapper's client of edgecore's DeviceManagerService (MapperRegister, ReportDeviceStatus,
// ReportDeviceStates) on a unix socket. Thread-safe: device workers report concurrently.

#include <chrono>
#include <memory>
#include <string>

#include "base/error.hpp"
#include "dmi.pb.h"

namespace kedge::device {

// One gRPC channel to edgecore's DMI socket; every call has a deadline. A gRPC UNAVAILABLE
// comes back as errc::unavailable (edgecore not running), DEADLINE_EXCEEDED as errc::timeout.
class DmiClient {
public:
    // reconnect_max bounds how long the channel waits between connection attempts once
    // edgecore has gone, so a returning edgecore is noticed within about that time.
    DmiClient(std::string socket_path, std::chrono::milliseconds timeout,
              std::chrono::milliseconds reconnect_max);
    ~DmiClient();
    DmiClient(const DmiClient&) = delete;
    DmiClient& operator=(const DmiClient&) = delete;

    Result<v1beta1::MapperRegisterResponse> register_mapper(const v1beta1::MapperInfo& info);
    Result<void> report_status(const v1beta1::ReportDeviceStatusRequest& request);
    Result<void> report_state(const v1beta1::ReportDeviceStatesRequest& request);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace kedge::device
