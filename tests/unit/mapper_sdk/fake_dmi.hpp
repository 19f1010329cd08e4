#pragma once
// An in-test edgecore DeviceManagerService on a unix socket: records what mappers send and
// answers MapperRegister with the devices/models the test gives it. Also helpers to build DMI
// devices and to call a mapper's DeviceMapperService as edgecore does.

#include <google/protobuf/wrappers.pb.h>
#include <grpcpp/grpcpp.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "dmi.grpc.pb.h"

namespace kedge::device::test {

class FakeDmi final : public v1beta1::DeviceManagerService::Service {
public:
    explicit FakeDmi(std::string socket) : socket_(std::move(socket)) {}
    ~FakeDmi() override { stop(); }

    bool start() {
        grpc::ServerBuilder builder;
        builder.AddListeningPort("unix:" + socket_, grpc::InsecureServerCredentials());
        builder.RegisterService(this);
        server_ = builder.BuildAndStart();
        return server_ != nullptr;
    }
    void stop() {
        if (server_) {
            server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
            server_->Wait();
            server_.reset();
        }
    }

    void set_register_response(v1beta1::MapperRegisterResponse r) {
        std::lock_guard lock(mutex_);
        response_ = std::move(r);
    }

    grpc::Status MapperRegister(grpc::ServerContext*, const v1beta1::MapperRegisterRequest* req,
                                v1beta1::MapperRegisterResponse* resp) override {
        std::lock_guard lock(mutex_);
        registers_.push_back(*req);
        *resp = response_;
        return grpc::Status::OK;
    }
    grpc::Status ReportDeviceStatus(grpc::ServerContext*,
                                    const v1beta1::ReportDeviceStatusRequest* req,
                                    v1beta1::ReportDeviceStatusResponse*) override {
        std::lock_guard lock(mutex_);
        statuses_.push_back({*req, std::chrono::steady_clock::now()});
        return grpc::Status::OK;
    }
    grpc::Status ReportDeviceStates(grpc::ServerContext*,
                                    const v1beta1::ReportDeviceStatesRequest* req,
                                    v1beta1::ReportDeviceStatesResponse*) override {
        std::lock_guard lock(mutex_);
        states_.push_back(*req);
        return grpc::Status::OK;
    }

    struct Status {
        v1beta1::ReportDeviceStatusRequest request;
        std::chrono::steady_clock::time_point at;
    };

    std::vector<v1beta1::MapperRegisterRequest> registers() const {
        std::lock_guard lock(mutex_);
        return registers_;
    }
    std::vector<Status> statuses(const std::string& device) const {
        std::lock_guard lock(mutex_);
        std::vector<Status> out;
        for (const auto& s : statuses_) {
            if (s.request.devicename() == device) out.push_back(s);
        }
        return out;
    }
    std::vector<std::string> states(const std::string& device) const {
        std::lock_guard lock(mutex_);
        std::vector<std::string> out;
        for (const auto& s : states_) {
            if (s.devicename() == device) out.push_back(s.state());
        }
        return out;
    }
    // The twin of property in the latest status report of device; nullptr when none yet.
    std::optional<v1beta1::Twin> last_twin(const std::string& device,
                                           const std::string& property) const {
        std::lock_guard lock(mutex_);
        for (auto it = statuses_.rbegin(); it != statuses_.rend(); ++it) {
            if (it->request.devicename() != device) continue;
            for (const auto& t : it->request.reporteddevice().twins()) {
                if (t.propertyname() == property) return t;
            }
            return std::nullopt;
        }
        return std::nullopt;
    }

private:
    std::string socket_;
    std::unique_ptr<grpc::Server> server_;
    mutable std::mutex mutex_;
    v1beta1::MapperRegisterResponse response_;
    std::vector<v1beta1::MapperRegisterRequest> registers_;
    std::vector<Status> statuses_;
    std::vector<v1beta1::ReportDeviceStatesRequest> states_;
};

inline google::protobuf::Any any_string(const std::string& s) {
    google::protobuf::StringValue v;
    v.set_value(s);
    google::protobuf::Any a;
    a.PackFrom(v);
    return a;
}
inline google::protobuf::Any any_int(std::int64_t i) {
    google::protobuf::Int64Value v;
    v.set_value(i);
    google::protobuf::Any a;
    a.PackFrom(v);
    return a;
}
inline google::protobuf::Any any_bool(bool b) {
    google::protobuf::BoolValue v;
    v.set_value(b);
    google::protobuf::Any a;
    a.PackFrom(v);
    return a;
}

// A model with an INT ReadOnly "temperature" and an INT ReadWrite "setpoint" (0..100).
inline v1beta1::DeviceModel make_model(const std::string& name, const std::string& ns = "default") {
    v1beta1::DeviceModel m;
    m.set_name(name);
    m.set_namespace_(ns);
    auto* t = m.mutable_spec()->add_properties();
    t->set_name("temperature");
    t->set_type("INT");
    t->set_accessmode("ReadOnly");
    auto* s = m.mutable_spec()->add_properties();
    s->set_name("setpoint");
    s->set_type("INT");
    s->set_accessmode("ReadWrite");
    s->set_minimum("0");
    s->set_maximum("100");
    return m;
}

// A device of that model; cycles in ms.
inline v1beta1::Device make_device(const std::string& name, const std::string& protocol,
                                   const std::string& model, std::int64_t collect_ms,
                                   std::int64_t report_ms, const std::string& ns = "default") {
    v1beta1::Device d;
    d.set_name(name);
    d.set_namespace_(ns);
    d.mutable_spec()->set_devicemodelreference(model);
    d.mutable_spec()->mutable_protocol()->set_protocolname(protocol);
    for (const char* prop : {"temperature", "setpoint"}) {
        auto* p = d.mutable_spec()->add_properties();
        p->set_name(prop);
        p->set_collectcycle(collect_ms);
        p->set_reportcycle(report_ms);
        p->set_reporttocloud(true);
        p->mutable_visitors()->set_protocolname(protocol);
        (*p->mutable_visitors()->mutable_configdata()->mutable_data())["register"] =
            any_string(prop);
    }
    return d;
}

// edgecore's side of DeviceMapperService.
inline std::unique_ptr<v1beta1::DeviceMapperService::Stub> mapper_stub(const std::string& socket) {
    return v1beta1::DeviceMapperService::NewStub(
        grpc::CreateChannel("unix:" + socket, grpc::InsecureChannelCredentials()));
}

inline void set_deadline(grpc::ClientContext& ctx) {
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
}

}  // namespace kedge::device::test
