// The mapper-modbus binary end to end: a fake edgecore (DeviceManagerService on a unix socket in
// the test) hands it a DeviceModel and a Device in the MapperRegister answer; the mapper reads a
// real Modbus TCP server (pymodbus), reports twins and state, writes desired values (from the
// first answer and from a later UpdateDevice), and reports offline when the server goes away.

#include <grpcpp/grpcpp.h>

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "device/dmi/convert.hpp"
#include "dmi.grpc.pb.h"
#include "support/modbus_server.hpp"
#include "support/test_support.hpp"

namespace {

using namespace std::chrono_literals;
using kedge::test::Process;
using kedge::test::TempDir;

// What the mapper told edgecore, kept for the assertions.
class FakeEdgecore final : public v1beta1::DeviceManagerService::Service {
public:
    FakeEdgecore(v1beta1::DeviceModel model, v1beta1::Device device)
        : model_(std::move(model)), device_(std::move(device)) {}

    grpc::Status MapperRegister(grpc::ServerContext*, const v1beta1::MapperRegisterRequest* req,
                                v1beta1::MapperRegisterResponse* resp) override {
        std::lock_guard lock(mu_);
        mapper_ = req->mapper();
        *resp->add_modellist() = model_;
        *resp->add_devicelist() = device_;
        return grpc::Status::OK;
    }

    grpc::Status ReportDeviceStatus(grpc::ServerContext*,
                                    const v1beta1::ReportDeviceStatusRequest* req,
                                    v1beta1::ReportDeviceStatusResponse*) override {
        std::lock_guard lock(mu_);
        for (const auto& t : req->reporteddevice().twins()) {
            reported_[req->devicenamespace() + "/" + req->devicename() + "/" + t.propertyname()] =
                t.reported().value();
        }
        return grpc::Status::OK;
    }

    grpc::Status ReportDeviceStates(grpc::ServerContext*,
                                    const v1beta1::ReportDeviceStatesRequest* req,
                                    v1beta1::ReportDeviceStatesResponse*) override {
        std::lock_guard lock(mu_);
        states_[req->devicenamespace() + "/" + req->devicename()] = req->state();
        return grpc::Status::OK;
    }

    std::optional<std::string> reported(const std::string& key) {
        std::lock_guard lock(mu_);
        auto it = reported_.find(key);
        if (it == reported_.end()) return std::nullopt;
        return it->second;
    }
    std::optional<std::string> state(const std::string& key) {
        std::lock_guard lock(mu_);
        auto it = states_.find(key);
        if (it == states_.end()) return std::nullopt;
        return it->second;
    }
    v1beta1::MapperInfo mapper() {
        std::lock_guard lock(mu_);
        return mapper_;
    }

private:
    std::mutex mu_;
    v1beta1::DeviceModel model_;
    v1beta1::Device device_;
    v1beta1::MapperInfo mapper_;
    std::map<std::string, std::string> reported_;
    std::map<std::string, std::string> states_;
};

v1beta1::DeviceModel model() {
    v1beta1::DeviceModel m;
    m.set_name("thermostat");
    m.set_namespace_("default");
    auto* t = m.mutable_spec()->add_properties();
    t->set_name("temperature");
    t->set_type("FLOAT");
    t->set_accessmode("ReadOnly");
    auto* s = m.mutable_spec()->add_properties();
    s->set_name("target");
    s->set_type("FLOAT");
    s->set_accessmode("ReadWrite");
    s->set_minimum("0");
    s->set_maximum("100");
    auto* f = m.mutable_spec()->add_properties();
    f->set_name("fan");
    f->set_type("BOOLEAN");
    f->set_accessmode("ReadOnly");
    return m;
}

void add_property(v1beta1::Device& d, const std::string& name, std::string_view visitor,
                  std::optional<std::string> desired = {}) {
    auto* p = d.mutable_spec()->add_properties();
    p->set_name(name);
    p->set_reportcycle(200);
    p->set_collectcycle(200);
    p->set_reporttocloud(true);
    p->mutable_visitors()->set_protocolname("modbus");
    *p->mutable_visitors()->mutable_configdata() =
        kedge::device::dmi::json_to_customized(boost::json::parse(visitor).as_object());
    if (desired) p->mutable_desired()->set_value(*desired);
}

v1beta1::Device device(int port, std::optional<std::string> target) {
    v1beta1::Device d;
    d.set_name("thermo");
    d.set_namespace_("default");
    d.mutable_spec()->set_devicemodelreference("thermostat");
    d.mutable_spec()->mutable_protocol()->set_protocolname("modbus");
    *d.mutable_spec()->mutable_protocol()->mutable_configdata() =
        kedge::device::dmi::json_to_customized(
            boost::json::object{{"ip", "127.0.0.1"}, {"port", port}, {"slaveID", 1}});
    add_property(d, "temperature", R"({"register":"InputRegister","offset":0,"scale":0.1})");
    add_property(d, "target", R"({"register":"HoldingRegister","offset":10,"scale":0.1})", target);
    add_property(d, "fan", R"({"register":"CoilRegister","offset":4})");
    return d;
}

TEST(MapperModbus, ReportsReadsWritesDesiredAndGoesOffline) {
    KEDGE_REQUIRE_PYMODBUS();
    TempDir dir;
    auto server = std::make_unique<kedge::test::ModbusServer>(
        dir.path(), std::vector<std::string>{"--ir", "0=215", "--hr", "10=200", "--co", "4=1"});
    const int port = server->port();
    const std::string server_log = server->log_path();

    FakeEdgecore edgecore(model(), device(port, "30.5"));
    std::string dmi_sock = dir.file("dmi.sock");
    grpc::ServerBuilder builder;
    builder.AddListeningPort("unix:" + dmi_sock, grpc::InsecureServerCredentials());
    builder.RegisterService(&edgecore);
    auto grpc_server = builder.BuildAndStart();
    ASSERT_TRUE(grpc_server);

    std::string mapper_sock = dir.file("modbus.sock");
    std::string mapper_log = dir.file("mapper.log");
    Process mapper({kedge::test::build_path("apps/mapper-modbus/mapper-modbus"), "--dmi-sock",
                    dmi_sock, "--sock", mapper_sock, "--register-retry-ms", "100"},
                   mapper_log);
    auto logs = [&] {
        return "mapper:\n" + kedge::test::read_file(mapper_log) + "\nserver:\n" +
               kedge::test::read_file(server_log);
    };

    ASSERT_TRUE(kedge::test::wait_until(
        [&] { return edgecore.reported("default/thermo/temperature") == "21.5"; }, 15s))
        << logs();
    EXPECT_EQ(edgecore.mapper().protocol(), "modbus");
    EXPECT_TRUE(
        kedge::test::wait_until([&] { return edgecore.state("default/thermo") == "online"; }, 10s))
        << logs();
    EXPECT_TRUE(kedge::test::wait_until(
        [&] { return edgecore.reported("default/thermo/fan") == "true"; }, 10s))
        << logs();

    // The desired value from the first answer reached the device's memory (raw 305 at 0.1).
    EXPECT_TRUE(kedge::test::wait_until(
        [&] {
            return kedge::test::read_file(server_log).find("write h 10 305\n") != std::string::npos;
        },
        10s))
        << logs();
    EXPECT_TRUE(kedge::test::wait_until(
        [&] { return edgecore.reported("default/thermo/target") == "30.5"; }, 10s))
        << logs();

    // A new desired value through the mapper's own DeviceMapperService.
    auto channel = grpc::CreateChannel("unix:" + mapper_sock, grpc::InsecureChannelCredentials());
    auto stub = v1beta1::DeviceMapperService::NewStub(channel);
    v1beta1::UpdateDeviceRequest update;
    *update.mutable_device() = device(port, "42");
    v1beta1::UpdateDeviceResponse update_resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 5s);
    auto status = stub->UpdateDevice(&ctx, update, &update_resp);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_TRUE(kedge::test::wait_until(
        [&] {
            return kedge::test::read_file(server_log).find("write h 10 420\n") != std::string::npos;
        },
        10s))
        << logs();
    EXPECT_TRUE(kedge::test::wait_until(
        [&] { return edgecore.reported("default/thermo/target") == "42"; }, 10s))
        << logs();

    // The device goes away: the mapper notices within its response timeout and reports it.
    server->stop();
    EXPECT_TRUE(
        kedge::test::wait_until([&] { return edgecore.state("default/thermo") == "offline"; }, 10s))
        << logs();

    mapper.stop();
    grpc_server->Shutdown(std::chrono::system_clock::now() + 2s);
}

}  // namespace
