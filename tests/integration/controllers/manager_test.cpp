// The controller manager inside kedge-apiserver: the --controllers flag, and the fake kubelet
// harness every controller test relies on.

#include "controllers_fixture.hpp"

namespace kedge::controllers::test {
namespace {

class ManagerTest : public ControllersFixture {};

TEST_F(ManagerTest, FakeKubeletNodesAreReadyWithLeases) {
    start_kubelet({FakeNode::edge("edge-1"), FakeNode::cloud("cloud-1")});
    auto nodes = get_items("nodes");
    ASSERT_EQ(nodes.size(), 2u);
    auto out = kubectl_ok("get nodes");
    EXPECT_NE(out.find("edge-1"), std::string::npos) << out;
    EXPECT_NE(out.find("Ready"), std::string::npos) << out;
    EXPECT_TRUE(eventually([&] { return get_items("leases -n kube-node-lease").size() == 2; }));
}

TEST(ManagerFlags, UnknownControllerIsRefusedWithTheKnownNames) {
    TempDir dir;
    auto r = run_command(kedge::test::build_path("apps/kedge-apiserver/kedge-apiserver") +
                         " --data-dir " + dir.file("data") +
                         " --secure-port 0 --controllers '*,-nosuch' 2>&1");
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.output.find("unknown controller \"nosuch\""), std::string::npos) << r.output;
}

TEST(ManagerFlags, BadDurationIsRefused) {
    TempDir dir;
    auto r = run_command(kedge::test::build_path("apps/kedge-apiserver/kedge-apiserver") +
                         " --data-dir " + dir.file("data") +
                         " --secure-port 0 --node-monitor-grace-period forty 2>&1");
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.output.find("--node-monitor-grace-period"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace kedge::controllers::test
