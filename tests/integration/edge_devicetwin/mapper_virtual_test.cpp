// The twin against the real mapper-virtual binary (the mapper SDK over real DMI gRPC): the mapper
// registers on the twin's socket and gets its device, the desired value reaches the device and
// comes back as the reported value, up to the (fake) cloud; a desired change makes the same trip.

#include "twin_fixture.hpp"

namespace kedge::edge::devicetwin::test {
namespace {

using kedge::test::wait_until;

json::object virtual_device(const std::string& desired) {
    auto d = device_object("thermo", desired);
    for (auto& p : d["spec"].as_object()["properties"].as_array()) {
        auto& prop = p.as_object();
        prop["reportCycle"] = 100;
        prop["collectCycle"] = 100;
        prop["visitors"].as_object()["configData"] = json::object{{"mode", "constant"}};
    }
    return d;
}

class MapperVirtualTest : public TwinFixture {};

TEST_F(MapperVirtualTest, DesiredValuesTravelToTheDeviceAndReportsComeBack) {
    object("insert", "devicemodel", model_object());
    object("insert", "device", virtual_device("21"));
    ASSERT_TRUE(wait_until([&] { return twin_stats().devices == 1; }, 5s));

    kedge::test::Process mapper({kedge::test::build_path("apps/mapper-virtual/mapper-virtual"),
                                 "--dmi-sock", dir_.file("kubeedge/dmi.sock"), "--sock",
                                 dir_.file("virtual.sock"), "--register-retry-ms", "100"},
                                dir_.file("mapper.log"));
    auto log = [&] { return kedge::test::read_file(dir_.file("mapper.log")); };

    ASSERT_TRUE(wait_until([&] { return twin_stats().mappers == 1; }, 10s)) << log();
    // The mapper writes the desired value, reads it back and reports it.
    ASSERT_TRUE(wait_until(
        [&] { return twin_column("default/thermo", "temperature", "actual") == "21"; }, 10s))
        << log();
    ASSERT_TRUE(wait_until([&] { return query("SELECT state FROM device") == "online"; }, 10s))
        << log();
    ASSERT_TRUE(wait_until(
        [&] {
            for (auto& up : sent_up("device/default/thermo/twin/edge_updated"))
                if (auto* t = up.at("twin").as_object().if_contains("temperature");
                    t && t->at("actual").at("value") == "21")
                    return true;
            return false;
        },
        10s));

    // The user changes the desired value: UpdateDevice -> the mapper writes it -> reported.
    object("update", "device", virtual_device("33"));
    ASSERT_TRUE(wait_until(
        [&] { return twin_column("default/thermo", "temperature", "actual") == "33"; }, 10s))
        << log();
    EXPECT_EQ(twin_stats().bad_reports, 0u);
    EXPECT_EQ(mapper.stop(), 0) << log();
}

}  // namespace
}  // namespace kedge::edge::devicetwin::test
