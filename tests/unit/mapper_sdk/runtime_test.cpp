// The mapper runtime against an in-test edgecore (FakeDmi) and an in-test driver.
#include "device/mapper/runtime.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>

#include "fake_dmi.hpp"
#include "support/test_support.hpp"

namespace kedge::device {
namespace {

using namespace std::chrono_literals;
using kedge::test::TempDir;
using kedge::test::wait_until;
using test::FakeDmi;

// Values live in a table the test controls: "<device>/<property>" -> twin text. Devices whose
// protocol configData has {"down": true} refuse to connect.
struct FakeDevices {
    std::mutex mutex;
    std::map<std::string, std::string> values;
    std::vector<std::string> writes;  // "<device>/<property>=<value>"
    std::atomic<int> connects{0};

    std::string get(const std::string& key) {
        std::lock_guard lock(mutex);
        auto it = values.find(key);
        return it == values.end() ? "7" : it->second;
    }
    void set(const std::string& key, std::string v) {
        std::lock_guard lock(mutex);
        values[key] = std::move(v);
    }
    std::vector<std::string> all_writes() {
        std::lock_guard lock(mutex);
        return writes;
    }
};

class FakeClient final : public DeviceClient {
public:
    FakeClient(FakeDevices& d, std::string name, bool down) : d_(d), name_(name), down_(down) {}
    Result<void> connect() override {
        ++d_.connects;
        if (down_) return Error(errc::unavailable, "device unreachable");
        return {};
    }
    Result<std::string> read(const PropertyConfig& p) override {
        return d_.get(name_ + "/" + p.name);
    }
    Result<void> write(const PropertyConfig& p, std::string_view value) override {
        std::lock_guard lock(d_.mutex);
        d_.writes.push_back(name_ + "/" + p.name + "=" + std::string(value));
        d_.values[name_ + "/" + p.name] = std::string(value);
        return {};
    }
    void disconnect() override {}

private:
    FakeDevices& d_;
    std::string name_;
    bool down_;
};

class FakeDriver final : public Driver {
public:
    explicit FakeDriver(FakeDevices& d) : d_(d) {}
    std::string protocol() const override { return "fake"; }
    Result<std::unique_ptr<DeviceClient>> open(const DeviceConfig& device) override {
        const auto* down = device.protocol.if_contains("down");
        return std::unique_ptr<DeviceClient>(std::make_unique<FakeClient>(
            d_, device.name, down != nullptr && down->is_bool() && down->get_bool()));
    }

private:
    FakeDevices& d_;
};

class RuntimeTest : public ::testing::Test {
protected:
    void SetUp() override {
        options_.name = "fake-mapper";
        options_.dmi_socket = dir_.file("dmi.sock");
        options_.socket = dir_.file("fake.sock");
        options_.register_retry = 100ms;
        options_.rpc_timeout = 2s;
    }

    std::unique_ptr<MapperRuntime> start_runtime() {
        auto rt = std::make_unique<MapperRuntime>(std::make_unique<FakeDriver>(devices_), options_);
        auto r = rt->start();
        EXPECT_TRUE(r) << (r ? "" : r.error().message());
        return rt;
    }

    // A started fake edgecore that hands out the given devices (all of model "thermo").
    std::unique_ptr<FakeDmi> start_dmi(std::vector<v1beta1::Device> devices) {
        auto dmi = std::make_unique<FakeDmi>(options_.dmi_socket);
        v1beta1::MapperRegisterResponse resp;
        *resp.add_modellist() = test::make_model("thermo");
        for (auto& d : devices) *resp.add_devicelist() = std::move(d);
        dmi->set_register_response(resp);
        EXPECT_TRUE(dmi->start());
        return dmi;
    }

    TempDir dir_;
    MapperOptions options_;
    FakeDevices devices_;
};

TEST_F(RuntimeTest, RegistrationIsRetriedUntilEdgecoreAnswers) {
    auto rt = start_runtime();
    EXPECT_FALSE(rt->registered());
    // edgecore comes up after the mapper: the mapper keeps trying.
    auto dmi = start_dmi({});
    ASSERT_TRUE(wait_until([&] { return rt->registered(); }, 10s));
    auto regs = dmi->registers();
    ASSERT_FALSE(regs.empty());
    const auto& req = regs.front();
    EXPECT_TRUE(req.withdata());
    EXPECT_EQ(req.mapper().name(), "fake-mapper");
    EXPECT_EQ(req.mapper().protocol(), "fake");
    EXPECT_EQ(req.mapper().version(), "v1.0.0");
    EXPECT_EQ(req.mapper().api_version(), "v1beta1");
    EXPECT_EQ(req.mapper().address(), options_.socket);
    EXPECT_EQ(req.mapper().state(), "ok");
}

TEST_F(RuntimeTest, ServesItsSocketWithMode0660AndRemovesItOnStop) {
    // A stale socket file of a previous run.
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", options_.socket.c_str());
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ::close(fd);
    ASSERT_TRUE(std::filesystem::exists(options_.socket));

    auto rt = start_runtime();
    struct stat st {};
    ASSERT_EQ(::stat(options_.socket.c_str(), &st), 0);
    EXPECT_TRUE(S_ISSOCK(st.st_mode));
    EXPECT_EQ(st.st_mode & 0777, 0660u);
    // It answers: an unknown device is NOT_FOUND.
    auto stub = test::mapper_stub(options_.socket);
    grpc::ClientContext ctx;
    test::set_deadline(ctx);
    v1beta1::GetDeviceRequest req;
    req.set_devicename("nope");
    v1beta1::GetDeviceResponse resp;
    EXPECT_EQ(stub->GetDevice(&ctx, req, &resp).error_code(), grpc::StatusCode::NOT_FOUND);

    rt->stop();
    EXPECT_FALSE(std::filesystem::exists(options_.socket));
}

TEST_F(RuntimeTest, ARegularFileAtTheSocketPathIsNotRemoved) {
    kedge::test::write_file(options_.socket, "precious");
    MapperRuntime rt(std::make_unique<FakeDriver>(devices_), options_);
    auto r = rt.start();
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().detail.find("not a socket"), std::string::npos) << r.error().detail;
    EXPECT_EQ(kedge::test::read_file(options_.socket), "precious");
}

TEST_F(RuntimeTest, ReportsTwinsOnTheReportCycle) {
    devices_.set("thermo-1/temperature", "21");
    devices_.set("thermo-1/setpoint", "20");
    auto dmi = start_dmi({test::make_device("thermo-1", "fake", "thermo", 50, 200)});
    auto rt = start_runtime();

    ASSERT_TRUE(wait_until([&] { return dmi->statuses("thermo-1").size() >= 4; }, 10s));
    auto statuses = dmi->statuses("thermo-1");
    const auto& req = statuses.back().request;
    EXPECT_EQ(req.devicenamespace(), "default");
    EXPECT_EQ(req.reporteddevice().reportcycle(), 200);
    EXPECT_TRUE(req.reporteddevice().reporttocloud());
    ASSERT_EQ(req.reporteddevice().twins_size(), 2);
    const auto& t = req.reporteddevice().twins(0);
    EXPECT_EQ(t.propertyname(), "temperature");
    EXPECT_EQ(t.reported().value(), "21");
    EXPECT_EQ(t.reported().metadata().at("type"), "int");
    std::int64_t ts = std::stoll(t.reported().metadata().at("timestamp"));
    auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
    EXPECT_LE(ts, now_ms);
    EXPECT_GT(ts, now_ms - 60000);
    EXPECT_EQ(req.reporteddevice().twins(1).reported().value(), "20");
    // No desired value was ever applied.
    EXPECT_FALSE(t.has_observeddesired());

    // Spaced by the report cycle (200 ms), not by the collect cycle (50 ms).
    for (std::size_t i = 1; i < statuses.size(); ++i) {
        EXPECT_GE(statuses[i].at - statuses[i - 1].at, 150ms) << "report " << i;
    }
    // A new value is collected and shows up in a later report.
    devices_.set("thermo-1/temperature", "25");
    ASSERT_TRUE(wait_until([&] {
        auto t2 = dmi->last_twin("thermo-1", "temperature");
        return t2 && t2->reported().value() == "25";
    }));
    auto states = dmi->states("thermo-1");
    ASSERT_FALSE(states.empty());
    EXPECT_EQ(states.front(), "online");
}

TEST_F(RuntimeTest, DesiredValueFromUpdateDeviceIsWrittenAndObserved) {
    auto device = test::make_device("thermo-1", "fake", "thermo", 50, 100);
    auto dmi = start_dmi({device});
    auto rt = start_runtime();
    ASSERT_TRUE(wait_until([&] { return !dmi->statuses("thermo-1").empty(); }));
    EXPECT_TRUE(devices_.all_writes().empty());

    // edgecore resends the whole device with a desired value on the writable property.
    device.mutable_spec()->mutable_properties(1)->mutable_desired()->set_value("42");
    auto stub = test::mapper_stub(options_.socket);
    {
        grpc::ClientContext ctx;
        test::set_deadline(ctx);
        v1beta1::UpdateDeviceRequest req;
        *req.mutable_device() = device;
        v1beta1::UpdateDeviceResponse resp;
        ASSERT_TRUE(stub->UpdateDevice(&ctx, req, &resp).ok());
    }
    ASSERT_TRUE(wait_until([&] {
        auto t = dmi->last_twin("thermo-1", "setpoint");
        return t && t->observeddesired().value() == "42" && t->reported().value() == "42";
    }));
    EXPECT_EQ(devices_.all_writes(), std::vector<std::string>{"thermo-1/setpoint=42"});

    // The same spec again (edgecore resends on any change) does not write again.
    {
        grpc::ClientContext ctx;
        test::set_deadline(ctx);
        v1beta1::UpdateDeviceRequest req;
        *req.mutable_device() = device;
        v1beta1::UpdateDeviceResponse resp;
        ASSERT_TRUE(stub->UpdateDevice(&ctx, req, &resp).ok());
    }
    // GetDevice returns the current twins.
    grpc::ClientContext ctx;
    test::set_deadline(ctx);
    v1beta1::GetDeviceRequest get;
    get.set_devicename("thermo-1");
    get.set_devicenamespace("default");
    v1beta1::GetDeviceResponse got;
    ASSERT_TRUE(stub->GetDevice(&ctx, get, &got).ok());
    EXPECT_EQ(got.device().name(), "thermo-1");
    ASSERT_EQ(got.device().status().twins_size(), 2);
    EXPECT_EQ(got.device().status().twins(1).propertyname(), "setpoint");
    EXPECT_EQ(got.device().status().twins(1).reported().value(), "42");
    EXPECT_EQ(got.device().status().twins(1).observeddesired().value(), "42");
    EXPECT_EQ(devices_.all_writes().size(), 1u);
    // A new desired value is no reason to reconnect.
    EXPECT_EQ(devices_.connects.load(), 1);
}

TEST_F(RuntimeTest, DesiredValueOfAReadOnlyPropertyIsNotWritten) {
    auto device = test::make_device("thermo-1", "fake", "thermo", 50, 100);
    device.mutable_spec()->mutable_properties(0)->mutable_desired()->set_value("99");
    auto dmi = start_dmi({device});
    auto rt = start_runtime();
    ASSERT_TRUE(wait_until([&] { return dmi->statuses("thermo-1").size() >= 2; }));
    EXPECT_TRUE(devices_.all_writes().empty());
}

TEST_F(RuntimeTest, ConnectFailureReportsOfflineWhileOtherDevicesReport) {
    auto bad = test::make_device("broken", "fake", "thermo", 50, 100);
    (*bad.mutable_spec()->mutable_protocol()->mutable_configdata()->mutable_data())["down"] =
        test::any_bool(true);
    auto dmi = start_dmi({bad, test::make_device("good", "fake", "thermo", 50, 100)});
    auto rt = start_runtime();

    ASSERT_TRUE(wait_until([&] {
        auto s = dmi->states("broken");
        return !s.empty() && s.back() == "offline";
    }));
    ASSERT_TRUE(wait_until([&] { return dmi->statuses("good").size() >= 3; }));
    EXPECT_TRUE(dmi->statuses("broken").empty());
    EXPECT_EQ(rt->device_state("default", "broken"), "offline");
    EXPECT_EQ(rt->device_state("default", "good"), "online");
    auto good_states = dmi->states("good");
    ASSERT_FALSE(good_states.empty());
    EXPECT_EQ(good_states.back(), "online");
}

TEST_F(RuntimeTest, RemovingADeviceStopsItsReports) {
    auto dmi = start_dmi({test::make_device("a", "fake", "thermo", 50, 50),
                          test::make_device("b", "fake", "thermo", 50, 50)});
    auto rt = start_runtime();
    ASSERT_TRUE(wait_until([&] { return dmi->statuses("a").size() >= 2; }));
    EXPECT_EQ(rt->device_count(), 2u);

    auto stub = test::mapper_stub(options_.socket);
    grpc::ClientContext ctx;
    test::set_deadline(ctx);
    v1beta1::RemoveDeviceRequest req;
    req.set_devicename("a");
    req.set_devicenamespace("default");
    v1beta1::RemoveDeviceResponse resp;
    ASSERT_TRUE(stub->RemoveDevice(&ctx, req, &resp).ok());
    EXPECT_EQ(rt->device_count(), 1u);

    // RemoveDevice returns after the worker has ended: no report of "a" may follow.
    std::size_t after_remove = dmi->statuses("a").size();
    std::size_t b_before = dmi->statuses("b").size();
    ASSERT_TRUE(wait_until([&] { return dmi->statuses("b").size() >= b_before + 5; }));
    EXPECT_EQ(dmi->statuses("a").size(), after_remove);
}

TEST_F(RuntimeTest, DevicesWaitForTheirModelAndRegisterDeviceAddsThem) {
    auto dmi = std::make_unique<FakeDmi>(options_.dmi_socket);
    ASSERT_TRUE(dmi->start());  // registers with no devices and no models
    auto rt = start_runtime();
    ASSERT_TRUE(wait_until([&] { return rt->registered(); }));

    auto stub = test::mapper_stub(options_.socket);
    {
        grpc::ClientContext ctx;
        test::set_deadline(ctx);
        v1beta1::RegisterDeviceRequest req;
        *req.mutable_device() = test::make_device("late", "fake", "thermo", 50, 50);
        v1beta1::RegisterDeviceResponse resp;
        ASSERT_TRUE(stub->RegisterDevice(&ctx, req, &resp).ok());
        EXPECT_EQ(resp.devicename(), "late");
    }
    EXPECT_EQ(rt->device_state("default", "late"), std::nullopt);  // no model yet
    {
        grpc::ClientContext ctx;
        test::set_deadline(ctx);
        v1beta1::CreateDeviceModelRequest req;
        *req.mutable_model() = test::make_model("thermo");
        v1beta1::CreateDeviceModelResponse resp;
        ASSERT_TRUE(stub->CreateDeviceModel(&ctx, req, &resp).ok());
        EXPECT_EQ(resp.devicemodelname(), "thermo");
    }
    ASSERT_TRUE(wait_until([&] { return !dmi->statuses("late").empty(); }));

    // A device of another protocol is refused.
    grpc::ClientContext ctx;
    test::set_deadline(ctx);
    v1beta1::RegisterDeviceRequest req;
    *req.mutable_device() = test::make_device("other", "modbus", "thermo", 50, 50);
    v1beta1::RegisterDeviceResponse resp;
    auto status = stub->RegisterDevice(&ctx, req, &resp);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(status.error_message().find("modbus"), std::string::npos);
}

TEST_F(RuntimeTest, KeepsCollectingWhileEdgecoreIsDownAndRegistersAgain) {
    auto dmi = start_dmi({test::make_device("thermo-1", "fake", "thermo", 50, 100)});
    auto rt = start_runtime();
    ASSERT_TRUE(wait_until([&] { return !dmi->statuses("thermo-1").empty(); }));
    dmi->stop();
    dmi.reset();
    ASSERT_TRUE(wait_until([&] { return !rt->registered(); }));

    // The worker keeps running; the new edgecore gets a registration and the latest value.
    devices_.set("thermo-1/temperature", "33");
    auto dmi2 = start_dmi({test::make_device("thermo-1", "fake", "thermo", 50, 100)});
    ASSERT_TRUE(wait_until([&] { return !dmi2->registers().empty(); }, 15s));
    ASSERT_TRUE(wait_until([&] {
        auto t = dmi2->last_twin("thermo-1", "temperature");
        return t && t->reported().value() == "33";
    }));
    // The state is sent again after re-registering.
    ASSERT_TRUE(wait_until([&] { return !dmi2->states("thermo-1").empty(); }));
    EXPECT_EQ(dmi2->states("thermo-1").front(), "online");
}

TEST_F(RuntimeTest, ReRegistrationDropsDevicesEdgecoreNoLongerHas) {
    auto dmi = start_dmi({test::make_device("a", "fake", "thermo", 50, 100),
                          test::make_device("b", "fake", "thermo", 50, 100)});
    auto rt = start_runtime();
    ASSERT_TRUE(wait_until([&] { return rt->device_count() == 2; }));
    dmi->stop();
    dmi.reset();
    ASSERT_TRUE(wait_until([&] { return !rt->registered(); }));
    auto dmi2 = start_dmi({test::make_device("b", "fake", "thermo", 50, 100)});
    ASSERT_TRUE(wait_until([&] { return rt->registered() && rt->device_count() == 1; }, 15s));
    EXPECT_EQ(rt->device_state("default", "a"), std::nullopt);
}

}  // namespace
}  // namespace kedge::device
