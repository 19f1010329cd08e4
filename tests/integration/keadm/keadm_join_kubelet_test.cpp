// keadm join's kubelet check with a real process named "kubelet" (a copy of sleep). In its own
// binary, run serially (RUN_SERIAL): while the fake kubelet lives, every edgecore and keadm join
// on this machine (rightly) refuses to start.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "support/test_support.hpp"

namespace kedge::keadm::test {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

TEST(KeadmJoinKubelet, RunningKubeletStopsJoinWithHowToStopIt) {
    kedge::test::TempDir dir;
    std::string fake = dir.file("kubelet");
    std::filesystem::copy_file("/bin/sleep", fake);
    kedge::test::Process kubelet({fake, "120"});
    ASSERT_TRUE(kedge::test::wait_until(
        [&] {
            return kedge::test::read_file("/proc/" + std::to_string(kubelet.pid()) + "/comm") ==
                   "kubelet\n";
        },
        10s));
    auto r = kedge::test::run_command(
        kedge::test::build_path("apps/keadm/keadm") + " join --root-dir " + dir.file("root") +
        " --cloudcore-ipport 127.0.0.1:" + std::to_string(kedge::test::free_port()) +
        " --certport " + std::to_string(kedge::test::free_port()) + " --token " +
        std::string(64, 'a') + ".x.y.z --edgenode-name kubelet-node" +
        " --remote-runtime-endpoint unix://" + dir.file("none.sock") + " 2>&1");
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_THAT(r.output, HasSubstr("[preflight] kubelet: FAIL: a kubelet is running (pid " +
                                    std::to_string(kubelet.pid())));
    EXPECT_THAT(r.output, HasSubstr("systemctl stop kubelet"));
    EXPECT_FALSE(std::filesystem::exists(dir.file("root/etc/kubeedge")));
    kubelet.stop();
}

}  // namespace
}  // namespace kedge::keadm::test
