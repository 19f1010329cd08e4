#pragma once
// The device twin on a real bus::Context and a real SQLite file (TempDir), with recording fakes
// at its seams: "websocket" (the cloud: records what goes up, answers each request), "eventbus"
// (records MQTT publishes), a mapper (DeviceMapperService on a temp unix socket, records calls)
// and a DMI client (DeviceManagerService stub on the twin's socket).

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>

#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include "bus/constants.hpp"
#include "bus/context.hpp"
#include "dmi.grpc.pb.h"
#include "edge/devicetwin/device_twin.hpp"
#include "edge/edgehub/edge_hub.hpp"
#include "sqlite/sqlite_db.hpp"
#include "support/bus_modules.hpp"
#include "support/test_support.hpp"

namespace kedge::edge::devicetwin::test {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;

// DeviceMapperService that records every call.
class FakeMapper final : public v1beta1::DeviceMapperService::Service {
public:
    struct Call {
        std::string rpc;
        std::string subject;  // "<ns>/<name>"
        v1beta1::Device device;
        v1beta1::DeviceModel model;
    };

    explicit FakeMapper(std::string socket) : socket_(std::move(socket)) {
        grpc::ServerBuilder b;
        b.AddListeningPort("unix:" + socket_, grpc::InsecureServerCredentials());
        b.RegisterService(this);
        server_ = b.BuildAndStart();
    }
    ~FakeMapper() override { server_->Shutdown(std::chrono::system_clock::now() + 1s); }
    const std::string& socket() const { return socket_; }

    std::vector<Call> calls(std::string_view rpc = {}) {
        std::lock_guard lock(mu_);
        std::vector<Call> out;
        for (auto& c : calls_)
            if (rpc.empty() || c.rpc == rpc) out.push_back(c);
        return out;
    }

    grpc::Status RegisterDevice(grpc::ServerContext*, const v1beta1::RegisterDeviceRequest* r,
                                v1beta1::RegisterDeviceResponse*) override {
        record({"RegisterDevice", id(r->device()), r->device(), {}});
        return grpc::Status::OK;
    }
    grpc::Status UpdateDevice(grpc::ServerContext*, const v1beta1::UpdateDeviceRequest* r,
                              v1beta1::UpdateDeviceResponse*) override {
        record({"UpdateDevice", id(r->device()), r->device(), {}});
        return grpc::Status::OK;
    }
    grpc::Status RemoveDevice(grpc::ServerContext*, const v1beta1::RemoveDeviceRequest* r,
                              v1beta1::RemoveDeviceResponse*) override {
        record({"RemoveDevice", r->devicenamespace() + "/" + r->devicename(), {}, {}});
        return grpc::Status::OK;
    }
    grpc::Status CreateDeviceModel(grpc::ServerContext*, const v1beta1::CreateDeviceModelRequest* r,
                                   v1beta1::CreateDeviceModelResponse*) override {
        record({"CreateDeviceModel",
                r->model().namespace_() + "/" + r->model().name(),
                {},
                r->model()});
        return grpc::Status::OK;
    }
    grpc::Status RemoveDeviceModel(grpc::ServerContext*, const v1beta1::RemoveDeviceModelRequest* r,
                                   v1beta1::RemoveDeviceModelResponse*) override {
        record({"RemoveDeviceModel", r->modelnamespace() + "/" + r->modelname(), {}, {}});
        return grpc::Status::OK;
    }
    grpc::Status UpdateDeviceModel(grpc::ServerContext*, const v1beta1::UpdateDeviceModelRequest* r,
                                   v1beta1::UpdateDeviceModelResponse*) override {
        record({"UpdateDeviceModel",
                r->model().namespace_() + "/" + r->model().name(),
                {},
                r->model()});
        return grpc::Status::OK;
    }

private:
    static std::string id(const v1beta1::Device& d) { return d.namespace_() + "/" + d.name(); }
    void record(Call c) {
        std::lock_guard lock(mu_);
        calls_.push_back(std::move(c));
    }
    std::string socket_;
    std::unique_ptr<grpc::Server> server_;
    std::mutex mu_;
    std::vector<Call> calls_;
};

// A DeviceModel and a Device as kubectl would store them (devices.kubeedge.io/v1beta1).
inline json::object model_object(const std::string& name = "thermo-model") {
    return json::parse(R"({"apiVersion":"devices.kubeedge.io/v1beta1","kind":"DeviceModel",
        "metadata":{"name":")" +
                       name + R"(","namespace":"default","resourceVersion":"3"},
        "spec":{"protocol":"virtual","properties":[
          {"name":"temperature","type":"INT","accessMode":"ReadWrite","minimum":"-40","maximum":"100"},
          {"name":"switch","type":"BOOLEAN","accessMode":"ReadWrite"}]}})")
        .as_object();
}

inline json::object device_object(const std::string& name, const std::string& desired_temp,
                                  const std::string& model = "thermo-model") {
    return json::parse(R"({"apiVersion":"devices.kubeedge.io/v1beta1","kind":"Device",
        "metadata":{"name":")" +
                       name + R"(","namespace":"default","resourceVersion":"7"},
        "spec":{"deviceModelRef":{"name":")" +
                       model + R"("},"nodeName":"edge-1",
          "protocol":{"protocolName":"virtual","configData":{"seed":1}},
          "properties":[
            {"name":"temperature","desired":{"value":")" +
                       desired_temp + R"("},
             "visitors":{"protocolName":"virtual","configData":{"mode":"constant"}},
             "reportCycle":1000,"collectCycle":1000,"reportToCloud":true},
            {"name":"switch","desired":{"value":"false"},
             "visitors":{"protocolName":"virtual","configData":{"mode":"constant"}},
             "reportCycle":1000,"collectCycle":1000,"reportToCloud":true}]}})")
        .as_object();
}

// A membership device with an int "temperature" (desired 20) and a boolean "switch".
inline json::object member(const std::string& id) {
    return json::parse(R"({"id":")" + id + R"(","name":")" + id.substr(id.find('/') + 1) +
                       R"(","description":"","state":"","last_online":"","attributes":{},
        "twin":{"temperature":{"expected":{"value":"20","metadata":{"timestamp":1700000000000}},
                               "optional":false,"metadata":{"type":"int"}},
                "switch":{"expected":{"value":"false","metadata":{"timestamp":1700000000000}},
                          "optional":false,"metadata":{"type":"boolean"}}}})")
        .as_object();
}

class TwinFixture : public ::testing::Test {
protected:
    void SetUp() override {
        hub_ = std::make_shared<kedge::test::RecordingModule>(std::string(bus::kModuleEdgeHub),
                                                              std::string(bus::kGroupHub));
        hub_->answer = [this](const bus::Message& m) -> std::optional<bus::Message> {
            if (offline_) {
                return bus::make_error_response(m, bus::Content::from_string(kCloudNotConnected));
            }
            return bus::make_response(m, bus::Content::from_string("OK"));
        };
        bus_ = std::make_shared<kedge::test::RecordingModule>(std::string(bus::kModuleEventBus),
                                                              std::string(bus::kGroupBus));
        start_twin();
    }
    void TearDown() override { stop_twin(); }

    DeviceTwinOptions options() {
        DeviceTwinOptions o;
        o.node = "edge-1";
        o.database = dir_.file("edgecore.db");
        o.dmi_socket = dir_.file("kubeedge/dmi.sock");
        o.cloud_timeout = 2s;
        o.resend_interval = 200ms;
        o.mapper_timeout = 2s;
        o.detail_timeout = 2s;
        return o;
    }

    void start_twin() {
        ioc_.emplace();
        guard_.emplace(ioc_->get_executor());
        ctx_ = std::make_unique<bus::Context>(ioc_->get_executor());
        auto twin = DeviceTwin::create(options());
        ASSERT_TRUE(twin) << twin.error().message();
        twin_ = *twin;
        ASSERT_TRUE(ctx_->add_module(hub_));
        ASSERT_TRUE(ctx_->add_module(bus_));
        ASSERT_TRUE(ctx_->add_module(twin_));
        ctx_->start_modules();
        runner_ = std::thread([this] { ioc_->run(); });
    }
    void stop_twin() {
        if (!ctx_) return;
        ctx_->shutdown();
        guard_.reset();
        ioc_->stop();
        runner_.join();
        ctx_.reset();
        twin_.reset();
        ioc_.reset();
    }
    // A new process on the same database file.
    void restart_twin() {
        stop_twin();
        hub_->clear();
        bus_->clear();
        start_twin();
    }

    DeviceTwinStats twin_stats() { return twin_->stats(); }

    void to_twin(bus::Message m) { ASSERT_TRUE(ctx_->send(bus::kModuleTwin, std::move(m))); }

    void membership(json::array added, json::array removed = {}) {
        json::object c{{"event_id", "e1"},
                       {"timestamp", 1700000000000},
                       {"added_devices", std::move(added)},
                       {"removed_devices", std::move(removed)}};
        to_twin(bus::Message::make("devicecontroller", "twin", "update", "membership",
                                   bus::Content::encoded(std::move(c))));
    }
    void object(std::string_view op, const std::string& type, const json::object& obj) {
        auto name = std::string(obj.at("metadata").at("name").as_string());
        to_twin(bus::Message::make("devicecontroller", "resource", std::string(op),
                                   "default/" + type + "/" + name, bus::Content::encoded(obj)));
    }
    void mqtt(const std::string& topic, const std::string& payload) {
        to_twin(bus::Message::make("eventbus", "twin", "publish", topic,
                                   bus::Content::from_string(payload)));
    }
    void connection(std::string_view state) {
        to_twin(bus::Message::make("edgehub", "resource", "publish",
                                   std::string(kConnectionResource),
                                   bus::Content::from_string(state)));
    }

    // Published payloads on a topic, parsed.
    std::vector<json::object> published(const std::string& topic) {
        std::vector<json::object> out;
        for (auto& m : bus_->with(topic, "publish"))
            out.push_back(json::parse(m.content.as_string().value()).as_object());
        return out;
    }
    std::vector<json::object> sent_up(const std::string& resource) {
        std::vector<json::object> out;
        for (auto& m : hub_->with(resource, "update"))
            out.push_back((*m.content.value().value()).as_object());
        return out;
    }

    // One column of the database, read on a connection of the test's own.
    std::optional<std::string> query(const std::string& sql) {
        auto db = sqlite::Db::open(dir_.file("edgecore.db"), false, 5000);
        if (!db) return std::nullopt;
        auto s = sqlite::Stmt::prepare(*db, sql);
        if (!s) return std::nullopt;
        auto row = s->step();
        if (!row || !*row) return std::nullopt;
        return s->column_text(0);
    }
    std::string twin_column(const std::string& device, const std::string& prop,
                            const std::string& column) {
        return query("SELECT " + column + " FROM device_twin WHERE deviceid='" + device +
                     "' AND name='" + prop + "'")
            .value_or("<none>");
    }

    std::unique_ptr<v1beta1::DeviceManagerService::Stub> dmi_client() {
        return v1beta1::DeviceManagerService::NewStub(grpc::CreateChannel(
            "unix:" + dir_.file("kubeedge/dmi.sock"), grpc::InsecureChannelCredentials()));
    }

    kedge::test::TempDir dir_;
    std::optional<asio::io_context> ioc_;
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard_;
    std::unique_ptr<bus::Context> ctx_;
    std::shared_ptr<kedge::test::RecordingModule> hub_, bus_;
    std::shared_ptr<DeviceTwin> twin_;
    std::thread runner_;
    std::atomic<bool> offline_{false};
};

}  // namespace kedge::edge::devicetwin::test
