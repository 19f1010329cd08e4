#include <gtest/gtest.h>

#include "bus/codec.hpp"
#include "hub/inventory.hpp"

namespace kedge::hub {
namespace {

bus::Message round_trip(const bus::Message& m) {
    auto wire = bus::encode(m);
    auto back = bus::decode(wire);
    EXPECT_TRUE(back) << wire;
    return *back;
}

TEST(Inventory, RoundTripsThroughTheWire) {
    Inventory inv;
    inv.resources["pod"]["default/web-1"] = "101";
    inv.resources["pod"]["default/web-2"] = "102";
    inv.resources["node"]["edge-1"] = "7";
    auto msg = round_trip(make_inventory_message("edge-1", inv));
    EXPECT_EQ(msg.resource(), "null/inventory/edge-1");
    EXPECT_EQ(msg.operation(), "resync");
    EXPECT_TRUE(is_inventory_message(msg));
    auto parsed = parse_inventory(msg);
    ASSERT_TRUE(parsed) << parsed.error().message();
    EXPECT_EQ(parsed->resources, inv.resources);
    EXPECT_EQ(parsed->size(), 3u);

    // The cloud hub prefixes node/<n>/ on the way up; still recognised.
    msg.route.resource = "node/edge-1/" + msg.route.resource;
    EXPECT_TRUE(is_inventory_message(msg));
    EXPECT_TRUE(parse_inventory(msg));
}

TEST(Inventory, TenThousandObjectsStayWellUnderAMegabyte) {
    Inventory inv;
    for (int i = 0; i < 10'000; ++i)
        inv.resources["pod"]["default/app-" + std::to_string(i) + "-7d9f8c6b5-x2kzq"] =
            std::to_string(1'000'000 + i);
    auto wire = bus::encode(make_inventory_message("edge-1", inv));
    EXPECT_LT(wire.size(), 600'000u);
}

TEST(Inventory, MalformedInventoriesAreRefusedWithTheReason) {
    auto with = [](std::string content) {
        auto m = bus::Message::make("edgehub", "resource", "resync", "null/inventory/e",
                                    *bus::Content::from_json(std::move(content)));
        return parse_inventory(m);
    };
    struct Case {
        const char* content;
        const char* says;
    } cases[] = {
        {R"("text")", "not an object"},
        {R"({"resources":{}})", "version"},
        {R"({"version":2,"resources":{}})", "unsupported version 2"},
        {R"({"version":1})", "\"resources\""},
        {R"({"version":1,"resources":{"pod":[]}})", "resources.pod"},
        {R"({"version":1,"resources":{"pod":{"a/b":5}}})", "resourceVersion string"},
    };
    for (const auto& c : cases) {
        auto r = with(c.content);
        ASSERT_FALSE(r) << c.content;
        EXPECT_TRUE(r.error().is(errc::invalid_argument));
        EXPECT_NE(r.error().detail.find(c.says), std::string::npos) << r.error().detail;
    }
    auto other = bus::Message::make("edged", "resource", "update", "default/pod/x");
    EXPECT_FALSE(is_inventory_message(other));
    EXPECT_FALSE(parse_inventory(other));
}

TEST(Inventory, ResyncResponseAnswersTheInventory) {
    auto inv = make_inventory_message("edge-1", Inventory{});
    ResyncSummary s{.inserted = 1, .updated = 5, .deleted = 1, .unchanged = 94};
    auto resp = round_trip(make_resync_response(inv, s));
    EXPECT_EQ(resp.parent_id(), inv.id());
    EXPECT_EQ(resp.operation(), "response");
    EXPECT_TRUE(is_resync_response(resp));
    EXPECT_FALSE(is_inventory_message(resp));
    auto parsed = parse_resync_response(resp);
    ASSERT_TRUE(parsed) << parsed.error().message();
    EXPECT_EQ(*parsed, s);
}

}  // namespace
}  // namespace kedge::hub
