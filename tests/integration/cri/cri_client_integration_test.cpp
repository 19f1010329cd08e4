// CriClient against a real containerd 1.6 (private instance, loopback registry, bridge CNI):
// the calls edged makes to run a pod, and what it reads back.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "cri/cri_client.hpp"
#include "support/cri_env.hpp"
#include "support/test_support.hpp"

namespace kedge::cri {
namespace {

using namespace std::chrono_literals;

// True when ip (v4) lies in cidr ("10.80.3.0/24").
bool ip_in_subnet(const std::string& ip, const std::string& cidr) {
    auto slash = cidr.find('/');
    if (slash == std::string::npos) {
        return false;
    }
    in_addr a{}, net{};
    if (inet_pton(AF_INET, ip.c_str(), &a) != 1 ||
        inet_pton(AF_INET, cidr.substr(0, slash).c_str(), &net) != 1) {
        return false;
    }
    int bits = std::stoi(cidr.substr(slash + 1));
    uint32_t mask = bits == 0 ? 0 : htonl(~uint32_t{0} << (32 - bits));
    return (a.s_addr & mask) == (net.s_addr & mask);
}

bool cgroup_v1() { return access("/sys/fs/cgroup/cgroup.controllers", F_OK) != 0; }

class CriIntegration : public ::testing::Test {
protected:
    void SetUp() override {
        KEDGE_START_CRI_ENV(env, "cri");
        env_ = std::move(env);
        CriClientOptions options;
        options.endpoint = env_->endpoint();
        options.timeout = 60s;
        options.pull_timeout = 120s;
        auto client = CriClient::connect(options);
        ASSERT_TRUE(client) << client.error().message();
        client_ = *client;
    }

    // Pods go away through CRI even when an assertion failed half-way.
    void TearDown() override {
        if (!client_) {
            return;
        }
        for (const auto& id : sandboxes_) {
            (void)client_->stop_pod_sandbox(id);
            (void)client_->remove_pod_sandbox(id);
        }
    }

    v1::PodSandboxConfig sandbox_config(const std::string& name, bool host_network) {
        v1::PodSandboxConfig config;
        auto* md = config.mutable_metadata();
        md->set_name(name);
        md->set_namespace_("default");
        md->set_uid("uid-" + name + "-" + std::to_string(getpid()));
        md->set_attempt(0);
        if (!host_network) {
            config.set_hostname(name);  // runc refuses a hostname without a UTS namespace
        }
        config.set_log_directory(logs_.path() + "/" + name);
        (*config.mutable_labels())["kedge.io/test"] = test_label_;
        (*config.mutable_labels())["kedge.io/pod"] = name;
        (*config.mutable_annotations())["kedge.io/note"] = "cri integration";
        auto* linux_config = config.mutable_linux();
        linux_config->set_cgroup_parent(env_->cgroup_parent());
        auto* ns = linux_config->mutable_security_context()->mutable_namespace_options();
        ns->set_network(host_network ? v1::NODE : v1::POD);
        ns->set_pid(v1::CONTAINER);
        ns->set_ipc(host_network ? v1::NODE : v1::POD);
        return config;
    }

    v1::ContainerConfig busybox_config(const std::string& name) {
        v1::ContainerConfig config;
        config.mutable_metadata()->set_name(name);
        config.mutable_image()->set_image(env_->busybox_image());
        config.add_command("sh");
        config.add_args("-c");
        config.add_args("echo hello; sleep 3600");
        auto* env = config.add_envs();
        env->set_key("KEDGE_TEST");
        env->set_value("1");
        config.set_working_dir("/tmp");
        config.set_log_path(name + "/0.log");
        auto* mount = config.add_mounts();
        mount->set_container_path("/data");
        mount->set_host_path(data_.path());
        mount->set_readonly(true);
        (*config.mutable_labels())["kedge.io/test"] = test_label_;
        (*config.mutable_labels())["kedge.io/container"] = name;
        auto* res = config.mutable_linux()->mutable_resources();
        res->set_cpu_shares(256);
        res->set_memory_limit_in_bytes(64 * 1024 * 1024);
        return config;
    }

    std::string run_sandbox(const v1::PodSandboxConfig& config) {
        auto id = client_->run_pod_sandbox(config);
        EXPECT_TRUE(id) << id.error().message();
        if (!id) {
            return {};
        }
        sandboxes_.push_back(*id);
        return *id;
    }

    std::string pull_busybox() {
        auto ref = client_->pull_image(env_->busybox_image());
        EXPECT_TRUE(ref) << ref.error().message();
        return ref ? *ref : std::string();
    }

    // Declared first so it goes last: pods are removed through CRI before containerd stops, and
    // the log directory outlives the containers writing into it.
    test::TempDir logs_;
    test::TempDir data_;  // mounted read-only at /data
    std::unique_ptr<test::CriEnv> env_;
    std::shared_ptr<CriClient> client_;
    std::string test_label_ = "cri-" + std::to_string(getpid());
    std::vector<std::string> sandboxes_;
};

TEST_F(CriIntegration, VersionAndStatus) {
    auto version = client_->version();
    ASSERT_TRUE(version) << version.error().message();
    EXPECT_EQ(version->runtime_name(), "containerd");
    EXPECT_EQ(version->runtime_api_version(), "v1");
    EXPECT_FALSE(version->runtime_version().empty());

    auto status = client_->status();
    ASSERT_TRUE(status) << status.error().message();
    bool runtime_ready = false, network_ready = false;
    for (const auto& c : status->conditions()) {
        if (c.type() == "RuntimeReady") runtime_ready = c.status();
        if (c.type() == "NetworkReady") network_ready = c.status();
    }
    EXPECT_TRUE(runtime_ready) << status->DebugString();
    EXPECT_TRUE(network_ready) << status->DebugString();
}

TEST_F(CriIntegration, PullImageThenStatusListAndRemove) {
    std::string ref = pull_busybox();
    ASSERT_TRUE(ref.starts_with("sha256:")) << ref;

    auto status = client_->image_status(env_->busybox_image());
    ASSERT_TRUE(status) << status.error().message();
    ASSERT_TRUE(status->has_value());
    const v1::Image& image = **status;
    EXPECT_EQ(image.id(), ref);
    EXPECT_GT(image.size(), 0u);
    bool tagged = false;
    for (const auto& tag : image.repo_tags()) tagged |= tag == env_->busybox_image();
    EXPECT_TRUE(tagged) << image.DebugString();

    auto images = client_->list_images();
    ASSERT_TRUE(images) << images.error().message();
    bool listed = false;
    for (const auto& i : *images) listed |= i.id() == ref;
    EXPECT_TRUE(listed);

    auto fs = client_->image_fs_info();
    ASSERT_TRUE(fs) << fs.error().message();
    ASSERT_GT(fs->image_filesystems_size(), 0);
    EXPECT_FALSE(fs->image_filesystems(0).fs_id().mountpoint().empty());

    ASSERT_TRUE(client_->remove_image(env_->busybox_image()));
    auto gone = client_->image_status(env_->busybox_image());
    ASSERT_TRUE(gone) << gone.error().message();
    EXPECT_FALSE(gone->has_value());
}

TEST_F(CriIntegration, PullMissingImageIsNotFoundWithRuntimeMessage) {
    std::string missing = "localhost:" + env_->registry().substr(env_->registry().rfind(':') + 1) +
                          "/test/does-not-exist:1";
    auto ref = client_->pull_image(missing);
    ASSERT_FALSE(ref);
    EXPECT_TRUE(ref.error().is(errc::not_found)) << ref.error().message();
    EXPECT_TRUE(ref.error().detail.starts_with("PullImage " + missing + ": "))
        << ref.error().detail;
    EXPECT_NE(ref.error().detail.find("not found"), std::string::npos) << ref.error().detail;
}

TEST_F(CriIntegration, PodLifecycle) {
    test::write_file(data_.file("greeting"), "from the host\n");
    pull_busybox();
    auto config = sandbox_config("web", false);
    std::string sandbox = run_sandbox(config);
    ASSERT_FALSE(sandbox.empty());

    auto sandbox_status = client_->pod_sandbox_status(sandbox);
    ASSERT_TRUE(sandbox_status) << sandbox_status.error().message();
    EXPECT_EQ(sandbox_status->state(), v1::SANDBOX_READY);
    EXPECT_EQ(sandbox_status->metadata().name(), "web");
    EXPECT_TRUE(ip_in_subnet(sandbox_status->network().ip(), env_->subnet()))
        << sandbox_status->network().ip() << " not in " << env_->subnet();
    EXPECT_TRUE(env_->routes_via_bridge(sandbox_status->network().ip()));
    EXPECT_EQ(sandbox_status->annotations().at("kedge.io/note"), "cri integration");

    auto container_config = busybox_config("app");
    auto container = client_->create_container(sandbox, container_config, config);
    ASSERT_TRUE(container) << container.error().message();
    ASSERT_TRUE(client_->start_container(*container));

    auto status = client_->container_status(*container);
    ASSERT_TRUE(status) << status.error().message();
    EXPECT_EQ(status->state(), v1::CONTAINER_RUNNING) << status->DebugString();
    EXPECT_EQ(status->metadata().name(), "app");
    EXPECT_GT(status->started_at(), 0);

    // The CRI log format: "<RFC3339Nano> stdout F hello".
    std::string log_file = config.log_directory() + "/" + container_config.log_path();
    EXPECT_EQ(status->log_path(), log_file);
    bool logged = test::wait_until(
        [&] { return test::read_file(log_file).find(" stdout F hello\n") != std::string::npos; },
        10s);
    EXPECT_TRUE(logged) << log_file << ": " << test::read_file(log_file);

    auto hi = client_->exec_sync(*container, {"echo", "hi"}, 10s);
    ASSERT_TRUE(hi) << hi.error().message();
    EXPECT_EQ(hi->stdout_data, "hi\n");
    EXPECT_EQ(hi->stderr_data, "");
    EXPECT_EQ(hi->exit_code, 0);

    auto failing = client_->exec_sync(*container, {"sh", "-c", "echo oops >&2; exit 3"}, 10s);
    ASSERT_TRUE(failing) << failing.error().message();
    EXPECT_EQ(failing->stderr_data, "oops\n");
    EXPECT_EQ(failing->exit_code, 3);

    auto env_var = client_->exec_sync(*container, {"sh", "-c", "echo $KEDGE_TEST"}, 10s);
    ASSERT_TRUE(env_var);
    EXPECT_EQ(env_var->stdout_data, "1\n");

    // ContainerConfig fields reached the OCI spec: working dir, resources, read-only mount.
    auto pwd = client_->exec_sync(*container, {"sh", "-c", "pwd"}, 10s);
    ASSERT_TRUE(pwd);
    EXPECT_EQ(pwd->stdout_data, "/tmp\n");
    auto limit =
        client_->exec_sync(*container,
                           {"sh", "-c",
                            "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || "
                            "cat /sys/fs/cgroup/memory.max"},
                           10s);
    ASSERT_TRUE(limit);
    EXPECT_EQ(limit->stdout_data, std::to_string(64 * 1024 * 1024) + "\n");
    auto mounted = client_->exec_sync(*container, {"cat", "/data/greeting"}, 10s);
    ASSERT_TRUE(mounted);
    EXPECT_EQ(mounted->stdout_data, "from the host\n");
    auto write = client_->exec_sync(*container, {"sh", "-c", "echo x > /data/new"}, 10s);
    ASSERT_TRUE(write);
    EXPECT_NE(write->exit_code, 0) << "the mount is read-only";

    if (cgroup_v1()) {  // without a cgroup namespace the container sees its full cgroup path
        auto cg = client_->exec_sync(*container, {"cat", "/proc/self/cgroup"}, 10s);
        ASSERT_TRUE(cg);
        EXPECT_NE(cg->stdout_data.find(":memory:" + env_->cgroup_parent() + "/"), std::string::npos)
            << cg->stdout_data;
    }

    ASSERT_TRUE(client_->reopen_container_log(*container));

    // List filters: by label, by sandbox, by state.
    v1::ContainerFilter by_label;
    (*by_label.mutable_label_selector())["kedge.io/test"] = test_label_;
    auto listed = client_->list_containers(by_label);
    ASSERT_TRUE(listed) << listed.error().message();
    ASSERT_EQ(listed->size(), 1u);
    EXPECT_EQ((*listed)[0].id(), *container);
    EXPECT_EQ((*listed)[0].pod_sandbox_id(), sandbox);
    EXPECT_EQ((*listed)[0].state(), v1::CONTAINER_RUNNING);

    v1::ContainerFilter other_label;
    (*other_label.mutable_label_selector())["kedge.io/test"] = "someone-else";
    auto none = client_->list_containers(other_label);
    ASSERT_TRUE(none);
    EXPECT_TRUE(none->empty());

    v1::PodSandboxFilter sandbox_filter;
    (*sandbox_filter.mutable_label_selector())["kedge.io/pod"] = "web";
    (*sandbox_filter.mutable_label_selector())["kedge.io/test"] = test_label_;
    auto pods = client_->list_pod_sandboxes(sandbox_filter);
    ASSERT_TRUE(pods) << pods.error().message();
    ASSERT_EQ(pods->size(), 1u);
    EXPECT_EQ((*pods)[0].id(), sandbox);
    EXPECT_EQ((*pods)[0].state(), v1::SANDBOX_READY);

    // Stop: the runtime kills sleep after the grace period (0: at once).
    ASSERT_TRUE(client_->stop_container(*container, 0));
    auto stopped = client_->container_status(*container);
    ASSERT_TRUE(stopped);
    EXPECT_EQ(stopped->state(), v1::CONTAINER_EXITED);
    EXPECT_NE(stopped->exit_code(), 0);
    EXPECT_GT(stopped->finished_at(), 0);

    v1::ContainerFilter exited;
    exited.mutable_state()->set_state(v1::CONTAINER_EXITED);
    exited.set_pod_sandbox_id(sandbox);
    auto exited_list = client_->list_containers(exited);
    ASSERT_TRUE(exited_list);
    EXPECT_EQ(exited_list->size(), 1u);

    ASSERT_TRUE(client_->remove_container(*container));
    auto removed = client_->container_status(*container);
    ASSERT_FALSE(removed);
    EXPECT_TRUE(removed.error().is(errc::not_found)) << removed.error().message();

    ASSERT_TRUE(client_->stop_pod_sandbox(sandbox));
    auto not_ready = client_->pod_sandbox_status(sandbox);
    ASSERT_TRUE(not_ready);
    EXPECT_EQ(not_ready->state(), v1::SANDBOX_NOTREADY);
    ASSERT_TRUE(client_->remove_pod_sandbox(sandbox));
    auto gone = client_->pod_sandbox_status(sandbox);
    ASSERT_FALSE(gone);
    EXPECT_TRUE(gone.error().is(errc::not_found)) << gone.error().message();
    auto after = client_->list_pod_sandboxes(sandbox_filter);
    ASSERT_TRUE(after);
    EXPECT_TRUE(after->empty());
    // Removal is idempotent, as edged's retries rely on.
    EXPECT_TRUE(client_->remove_pod_sandbox(sandbox));
}

TEST_F(CriIntegration, HostNetworkSandbox) {
    pull_busybox();
    auto config = sandbox_config("hostnet", true);
    std::string sandbox = run_sandbox(config);
    ASSERT_FALSE(sandbox.empty());

    auto status = client_->pod_sandbox_status(sandbox);
    ASSERT_TRUE(status) << status.error().message();
    EXPECT_EQ(status->state(), v1::SANDBOX_READY);
    EXPECT_EQ(status->linux().namespaces().options().network(), v1::NODE);
    EXPECT_FALSE(ip_in_subnet(status->network().ip(), env_->subnet())) << status->network().ip();

    auto container_config = busybox_config("probe");
    auto container = client_->create_container(sandbox, container_config, config);
    ASSERT_TRUE(container) << container.error().message();
    ASSERT_TRUE(client_->start_container(*container));

    // The host's network namespace: the container sees the host's hostname.
    char host[256] = {};
    ASSERT_EQ(gethostname(host, sizeof(host) - 1), 0);
    auto name = client_->exec_sync(*container, {"hostname"}, 10s);
    ASSERT_TRUE(name) << name.error().message();
    EXPECT_EQ(name->stdout_data, std::string(host) + "\n");
}

TEST_F(CriIntegration, ClientRecoversAfterContainerdRestart) {
    pull_busybox();
    auto config = sandbox_config("survivor", false);
    std::string sandbox = run_sandbox(config);
    ASSERT_FALSE(sandbox.empty());

    env_->stop_containerd();
    auto down = client_->version();
    ASSERT_FALSE(down);
    EXPECT_TRUE(down.error().is(errc::unavailable)) << down.error().message();

    std::string reason;
    ASSERT_TRUE(env_->start_containerd(&reason)) << reason;
    // kubelet's reconnect backoff (at most 3 s): the same client works again within seconds,
    // not after gRPC's default two minutes.
    auto restarted = std::chrono::steady_clock::now();
    ASSERT_TRUE(test::wait_until([&] { return bool(client_->version()); }, 10s));
    EXPECT_LT(std::chrono::steady_clock::now() - restarted, 5s);
    auto status = client_->pod_sandbox_status(sandbox);
    ASSERT_TRUE(status) << status.error().message();
    EXPECT_EQ(status->state(), v1::SANDBOX_READY);
}

TEST_F(CriIntegration, UnknownIdsAreNotFound) {
    auto status = client_->container_status("0123456789abcdef");
    ASSERT_FALSE(status);
    EXPECT_TRUE(status.error().is(errc::not_found)) << status.error().message();
    EXPECT_NE(status.error().detail.find("ContainerStatus 0123456789abcdef: "), std::string::npos);
    auto start = client_->start_container("0123456789abcdef");
    ASSERT_FALSE(start);
    EXPECT_TRUE(start.error().is(errc::not_found)) << start.error().message();
}

}  // namespace
}  // namespace kedge::cri
