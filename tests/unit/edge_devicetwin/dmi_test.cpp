// DMI end to end: a fake mapper (DeviceMapperService on a temp unix socket) and a DMI client in
// the test talk to the twin's DeviceManagerService over real gRPC.

#include <sys/stat.h>

#include "twin_fixture.hpp"

namespace kedge::edge::devicetwin::test {
namespace {

using kedge::test::wait_until;

class DmiTest : public TwinFixture {
protected:
    void SetUp() override {
        TwinFixture::SetUp();
        mapper_ = std::make_unique<FakeMapper>(dir_.file("mapper.sock"));
        ASSERT_TRUE(wait_until([&] { return twin_->dmi_listening(); }, 5s));
    }
    void TearDown() override {
        TwinFixture::TearDown();
        mapper_.reset();
    }

    grpc::Status register_mapper(bool with_data, v1beta1::MapperRegisterResponse* resp) {
        v1beta1::MapperRegisterRequest req;
        req.set_withdata(with_data);
        auto* info = req.mutable_mapper();
        info->set_name("virtual-mapper");
        info->set_version("v1.0");
        info->set_api_version("v1beta1");
        info->set_protocol("virtual");
        info->set_address(mapper_->socket());
        info->set_state("ok");
        grpc::ClientContext c;
        c.set_deadline(std::chrono::system_clock::now() + 5s);
        return dmi_->MapperRegister(&c, req, resp);
    }
    grpc::Status report(const std::string& name, const std::string& prop,
                        const std::string& value) {
        v1beta1::ReportDeviceStatusRequest req;
        req.set_devicename(name);
        req.set_devicenamespace("default");
        auto* t = req.mutable_reporteddevice()->add_twins();
        t->set_propertyname(prop);
        t->mutable_reported()->set_value(value);
        (*t->mutable_reported()->mutable_metadata())["timestamp"] = "1700000002000";
        (*t->mutable_reported()->mutable_metadata())["type"] = "integer";
        v1beta1::ReportDeviceStatusResponse resp;
        grpc::ClientContext c;
        c.set_deadline(std::chrono::system_clock::now() + 5s);
        return dmi_->ReportDeviceStatus(&c, req, &resp);
    }
    grpc::Status state(const std::string& name, const std::string& s) {
        v1beta1::ReportDeviceStatesRequest req;
        req.set_devicename(name);
        req.set_devicenamespace("default");
        req.set_state(s);
        v1beta1::ReportDeviceStatesResponse resp;
        grpc::ClientContext c;
        c.set_deadline(std::chrono::system_clock::now() + 5s);
        return dmi_->ReportDeviceStates(&c, req, &resp);
    }
    std::string desired_temperature(const v1beta1::Device& d) {
        for (const auto& p : d.spec().properties())
            if (p.name() == "temperature") return p.desired().value();
        return "<none>";
    }

    std::unique_ptr<FakeMapper> mapper_;
    std::unique_ptr<v1beta1::DeviceManagerService::Stub> dmi_ = dmi_client();
};

TEST_F(DmiTest, TheSocketIsOwnerOnly) {
    struct stat st {};
    ASSERT_EQ(::stat(dir_.file("kubeedge/dmi.sock").c_str(), &st), 0);
    EXPECT_TRUE(S_ISSOCK(st.st_mode));
    EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(DmiTest, MapperRegistersReportsAndTheCloudHearsOfIt) {
    object("insert", "devicemodel", model_object());
    object("insert", "device", device_object("thermo", "20"));
    ASSERT_TRUE(wait_until([&] { return twin_stats().devices == 1; }, 5s));

    v1beta1::MapperRegisterResponse resp;
    auto st = register_mapper(true, &resp);
    ASSERT_TRUE(st.ok()) << st.error_message();
    ASSERT_EQ(resp.devicelist_size(), 1);
    EXPECT_EQ(resp.devicelist(0).name(), "thermo");
    EXPECT_EQ(resp.devicelist(0).namespace_(), "default");
    EXPECT_EQ(desired_temperature(resp.devicelist(0)), "20");
    ASSERT_EQ(resp.modellist_size(), 1);
    EXPECT_EQ(resp.modellist(0).name(), "thermo-model");
    // withData hands everything over in the reply: no RegisterDevice call on top.
    EXPECT_TRUE(mapper_->calls("RegisterDevice").empty());

    st = report("thermo", "temperature", "27");
    ASSERT_TRUE(st.ok()) << st.error_message();
    EXPECT_EQ(twin_column("default/thermo", "temperature", "actual"), "27");
    EXPECT_EQ(twin_column("default/thermo", "temperature", "actual_meta"),
              "{\"timestamp\":1700000002000}");
    ASSERT_TRUE(wait_until(
        [&] { return !sent_up("device/default/thermo/twin/edge_updated").empty(); }, 5s));
    EXPECT_EQ(sent_up("device/default/thermo/twin/edge_updated")[0]
                  .at("twin")
                  .at("temperature")
                  .at("actual")
                  .at("value"),
              "27");
    EXPECT_FALSE(published("$hw/events/device/default/thermo/twin/update/document").empty());

    st = state("thermo", "online");
    ASSERT_TRUE(st.ok()) << st.error_message();
    EXPECT_EQ(query("SELECT state FROM device"), "online");
    ASSERT_TRUE(
        wait_until([&] { return !sent_up("device/default/thermo/state/update").empty(); }, 5s));
    EXPECT_EQ(sent_up("device/default/thermo/state/update")[0].at("state"), "online");

    // Bad reports are refused with INVALID_ARGUMENT / NOT_FOUND and change nothing.
    EXPECT_EQ(report("thermo", "pressure", "1").error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(report("thermo", "temperature", "warm").error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(report("thermo", "temperature", "1;2").error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(report("ghost", "temperature", "1").error_code(), grpc::StatusCode::NOT_FOUND);
    EXPECT_EQ(state("thermo", "").error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(twin_column("default/thermo", "temperature", "actual"), "27");
    EXPECT_EQ(twin_stats().bad_reports, 5u);
    auto results = published("$hw/events/device/default/thermo/twin/update/result");
    ASSERT_FALSE(results.empty());
    EXPECT_EQ(results.back().at("code"), 400);
}

TEST_F(DmiTest, DevicesAreRegisteredDesiredValuesReachTheMapperAndDeletesRemove) {
    v1beta1::MapperRegisterResponse resp;
    ASSERT_TRUE(register_mapper(false, &resp).ok());
    EXPECT_EQ(resp.devicelist_size(), 0);

    object("insert", "devicemodel", model_object());
    object("insert", "device", device_object("thermo", "20"));
    ASSERT_TRUE(wait_until([&] { return mapper_->calls("RegisterDevice").size() == 1; }, 5s));
    auto created = mapper_->calls("CreateDeviceModel");
    ASSERT_EQ(created.size(), 1u);
    EXPECT_EQ(created[0].subject, "default/thermo-model");
    EXPECT_EQ(created[0].model.spec().properties_size(), 2);
    EXPECT_EQ(desired_temperature(mapper_->calls("RegisterDevice")[0].device), "20");

    // A second device of the same model: the model is created once.
    object("insert", "device", device_object("thermo2", "5"));
    ASSERT_TRUE(wait_until([&] { return mapper_->calls("RegisterDevice").size() == 2; }, 5s));
    EXPECT_EQ(mapper_->calls("CreateDeviceModel").size(), 1u);

    // The user changes the desired value: delta on MQTT and UpdateDevice with the new value.
    object("update", "device", device_object("thermo", "30"));
    ASSERT_TRUE(wait_until([&] { return mapper_->calls("UpdateDevice").size() == 1; }, 5s));
    EXPECT_EQ(desired_temperature(mapper_->calls("UpdateDevice")[0].device), "30");
    auto delta = published("$hw/events/device/default/thermo/twin/update/delta");
    ASSERT_FALSE(delta.empty());
    EXPECT_EQ(delta.back().at("delta").at("temperature"), "30");
    EXPECT_EQ(twin_column("default/thermo", "temperature", "expected"), "30");
    EXPECT_EQ(twin_column("default/thermo", "temperature", "expected_version"),
              "{\"cloud\":2,\"edge\":0}");

    // twin/cloud_updated on its own also reaches the mapper.
    json::object cu{
        {"event_id", "c"},
        {"timestamp", 1},
        {"twin",
         json::object{{"temperature", json::object{{"expected", json::object{{"value", "35"}}},
                                                   {"optional", false},
                                                   {"metadata", json::object{{"type", "int"}}}}}}}};
    to_twin(bus::Message::make("devicecontroller", "twin", "update",
                               "device/default/thermo/twin/cloud_updated",
                               bus::Content::encoded(std::move(cu))));
    ASSERT_TRUE(wait_until([&] { return mapper_->calls("UpdateDevice").size() == 2; }, 5s));
    EXPECT_EQ(desired_temperature(mapper_->calls("UpdateDevice")[1].device), "35");

    // An unchanged update does not bother the mapper.
    auto same = device_object("thermo", "35");
    object("update", "device", same);
    object("delete", "device", device_object("thermo2", "5"));
    ASSERT_TRUE(wait_until([&] { return mapper_->calls("RemoveDevice").size() == 1; }, 5s));
    EXPECT_EQ(mapper_->calls("UpdateDevice").size(), 2u);
    EXPECT_TRUE(mapper_->calls("RemoveDeviceModel").empty());  // thermo still uses it

    object("delete", "device", device_object("thermo", "35"));
    ASSERT_TRUE(wait_until([&] { return mapper_->calls("RemoveDeviceModel").size() == 1; }, 5s));
    EXPECT_EQ(mapper_->calls("RemoveDevice")[1].subject, "default/thermo");
    EXPECT_EQ(twin_stats().devices, 0u);
    EXPECT_FALSE(query("SELECT id FROM device").has_value());
}

TEST_F(DmiTest, ADeviceWithoutItsModelIsKeptReportedUnknownAndRegisteredWhenTheModelComes) {
    v1beta1::MapperRegisterResponse resp;
    ASSERT_TRUE(register_mapper(false, &resp).ok());
    object("insert", "device", device_object("thermo", "20", "late-model"));
    ASSERT_TRUE(
        wait_until([&] { return !sent_up("device/default/thermo/state/update").empty(); }, 5s));
    EXPECT_EQ(sent_up("device/default/thermo/state/update")[0].at("state"), "unknown");
    EXPECT_EQ(query("SELECT state FROM device"), "unknown");
    EXPECT_TRUE(mapper_->calls("RegisterDevice").empty());

    object("insert", "devicemodel", model_object("late-model"));
    ASSERT_TRUE(wait_until([&] { return mapper_->calls("RegisterDevice").size() == 1; }, 5s));
    EXPECT_EQ(sent_up("device/default/thermo/state/update").size(), 1u);  // told once
    // The model's types now apply: a non-boolean switch is refused.
    EXPECT_EQ(report("thermo", "switch", "3").error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(DmiTest, AnUnreachableMapperGetsTheDeviceWhenItRegistersAgain) {
    auto gone = dir_.file("gone.sock");
    v1beta1::MapperRegisterRequest req;
    req.mutable_mapper()->set_protocol("virtual");
    req.mutable_mapper()->set_address(gone);  // nobody listens there
    v1beta1::MapperRegisterResponse resp;
    grpc::ClientContext c;
    ASSERT_TRUE(dmi_->MapperRegister(&c, req, &resp).ok());
    object("insert", "devicemodel", model_object());
    object("insert", "device", device_object("thermo", "20"));
    ASSERT_TRUE(wait_until([&] { return twin_stats().mapper_failures >= 1; }, 10s));

    ASSERT_TRUE(register_mapper(false, &resp).ok());
    ASSERT_TRUE(wait_until([&] { return mapper_->calls("RegisterDevice").size() == 1; }, 5s));
    EXPECT_EQ(mapper_->calls("CreateDeviceModel").size(), 1u);
}

}  // namespace
}  // namespace kedge::edge::devicetwin::test
