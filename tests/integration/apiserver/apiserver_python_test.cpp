// python3-kubernetes (Debian's, run by /usr/bin/python3) against the real kedge-apiserver:
// list/watch/resume/410, and durability of acknowledged writes across kill -9.

#include <sys/wait.h>

#include "apiserver_fixture.hpp"

namespace kedge::apiserver::test {
namespace {

constexpr const char* kPython = "/usr/bin/python3";
std::string script(const std::string& name) {
    return kedge::test::source_path("tests/integration/apiserver/" + name);
}

class PythonClientTest : public ApiServerFixture {
  protected:
    // Runs a script to completion; returns {exit code, output}.
    CommandResult python(const std::string& name, const std::string& args) {
        return run_command(std::string(kPython) + " " + script(name) + " " + args + " 2>&1");
    }
};

TEST_P(PythonClientTest, ListWatchResumeAndExpired) {
    start_server({"--watch-cache-size", "100"});
    auto r = python("watch_resume.py", kubeconfig() + " 100");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("OK"), std::string::npos) << r.output;
    // Restarting keeps the data.
    auto count = [&] {
        return run_command("kubectl --kubeconfig " + kubeconfig() +
                           " get configmaps -n py -o name | wc -l")
            .output;
    };
    auto before = count();
    server_->stop();
    start_server({"--watch-cache-size", "100"});
    EXPECT_EQ(count(), before);
    EXPECT_NE(before, "0\n");
}

TEST_P(PythonClientTest, KillDashNineLosesNoAcknowledgedWrite) {
    start_server();
    std::string acks = dir_.file("acks.txt");
    Process writer({kPython, script("writer.py"), kubeconfig(), acks}, dir_.file("writer.log"));
    ASSERT_TRUE(kedge::test::wait_until(
        [&] {
            auto text = kedge::test::read_file(acks);
            return std::count(text.begin(), text.end(), '\n') >= 40;
        },
        std::chrono::seconds(30)))
        << kedge::test::read_file(dir_.file("writer.log"));
    server_->kill9();
    ASSERT_TRUE(kedge::test::wait_until([&] { return !writer.running(); },
                                        std::chrono::seconds(20)));
    start_server();
    auto r = python("verify_acks.py", kubeconfig() + " " + acks);
    EXPECT_EQ(r.exit_code, 0) << r.output;
}

KEDGE_APISERVER_BACKENDS(PythonClientTest);

}  // namespace
}  // namespace kedge::apiserver::test
