// edgecore's kubelet check with a real process named "kubelet". In its own binary, run serially
// (RUN_SERIAL): while the fake kubelet lives, any other edgecore starting on this machine would
// (rightly) refuse to start.

#include <gtest/gtest.h>

#include <sys/wait.h>

#include "integration/edgecore/edgecore_fixture.hpp"

namespace kedge::edge::test {
namespace {

using kedge::test::read_file;
using namespace std::chrono_literals;

using EdgeCoreKubeletTest = EdgeCoreFixture;


TEST_F(EdgeCoreKubeletTest, RefusesToStartBesideAKubeletUnlessTold) {
    // A process whose name is "kubelet" (a copy of sleep): what edgecore looks for.
    std::string fake = dir_.file("kubelet");
    std::filesystem::copy_file("/bin/sleep", fake);
    Process kubelet({fake, "120"});
    configure_edgecore("edge-k");
    auto& e = start_edgecore("edge-k", /*wait=*/false);
    ASSERT_TRUE(eventually([&] { return !e.process->running(); }, 20s));
    int status = e.process->stop();
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << status;
    auto log = read_file(e.log());
    EXPECT_NE(log.find("a kubelet is running on this host (pid " + std::to_string(kubelet.pid()) +
                       ")"),
              std::string::npos)
        << log;
    EXPECT_NE(log.find("allowKubeletRunning"), std::string::npos) << log;

    // Told explicitly, it starts.
    configure_edgecore("edge-k", "  allowKubeletRunning: true\n");
    start_edgecore("edge-k");
    EXPECT_TRUE(eventually([&] { return node_registered("edge-k"); }, 30s));
    kubelet.stop();
}

}  // namespace
}  // namespace kedge::edge::test
