// Our api.proto must speak the same wire format as every CRI runtime: these tests pin field
// numbers by decoding and producing hand-written bytes, so a renumbered field fails here.
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <string>

#include "api.pb.h"

namespace runtime::v1 {
namespace {

using google::protobuf::util::MessageDifferencer;

std::string bytes(std::initializer_list<int> values) {
    std::string out;
    for (int v : values) {
        out.push_back(static_cast<char>(v));
    }
    return out;
}

PodSandboxConfig edged_sandbox_config() {
    PodSandboxConfig config;
    auto* md = config.mutable_metadata();
    md->set_name("web-0");
    md->set_uid("0b6f3c1e-uid");
    md->set_namespace_("default");
    md->set_attempt(2);
    config.set_hostname("web-0");
    config.set_log_directory("/var/lib/kedge/pods/default_web-0_uid");
    auto* dns = config.mutable_dns_config();
    dns->add_servers("10.96.0.10");
    dns->add_searches("default.svc.cluster.local");
    dns->add_options("ndots:5");
    auto* pm = config.add_port_mappings();
    pm->set_protocol(UDP);
    pm->set_container_port(53);
    pm->set_host_port(5353);
    pm->set_host_ip("127.0.0.1");
    (*config.mutable_labels())["io.kubernetes.pod.name"] = "web-0";
    (*config.mutable_annotations())["kubernetes.io/config.source"] = "api";
    auto* lx = config.mutable_linux();
    lx->set_cgroup_parent("/kedge/pod-uid");
    auto* ns = lx->mutable_security_context()->mutable_namespace_options();
    ns->set_network(NODE);
    ns->set_pid(CONTAINER);
    ns->set_ipc(POD);
    (*lx->mutable_sysctls())["net.ipv4.ip_unprivileged_port_start"] = "0";
    return config;
}

TEST(CriApiProto, PodSandboxConfigRoundTrips) {
    PodSandboxConfig config = edged_sandbox_config();
    std::string wire;
    ASSERT_TRUE(config.SerializeToString(&wire));
    PodSandboxConfig parsed;
    ASSERT_TRUE(parsed.ParseFromString(wire));
    EXPECT_TRUE(MessageDifferencer::Equals(config, parsed)) << parsed.DebugString();
    EXPECT_EQ(parsed.linux().security_context().namespace_options().network(), NODE);
    EXPECT_EQ(parsed.metadata().namespace_(), "default");
}

TEST(CriApiProto, PodSandboxConfigFieldNumbersMatchCriApi) {
    // metadata=1 {name=1 "p", namespace=3 "n", attempt=4 1}, hostname=2 "h",
    // log_directory=3 "/l", linux=8 {cgroup_parent=1 "/c",
    //   security_context=2 {namespace_options=1 {network=1 NODE(2)}}}
    std::string wire =
        bytes({0x0a, 0x08, 0x0a, 0x01, 'p', 0x1a, 0x01, 'n',  0x20, 0x01,  //
               0x12, 0x01, 'h',                                            //
               0x1a, 0x02, '/',  'l',                                      //
               0x42, 0x0a, 0x0a, 0x02, '/', 'c',  0x12, 0x04, 0x0a, 0x02, 0x08, 0x02});
    PodSandboxConfig parsed;
    ASSERT_TRUE(parsed.ParseFromString(wire));
    EXPECT_EQ(parsed.metadata().name(), "p");
    EXPECT_EQ(parsed.metadata().namespace_(), "n");
    EXPECT_EQ(parsed.metadata().attempt(), 1u);
    EXPECT_EQ(parsed.hostname(), "h");
    EXPECT_EQ(parsed.log_directory(), "/l");
    EXPECT_EQ(parsed.linux().cgroup_parent(), "/c");
    EXPECT_EQ(parsed.linux().security_context().namespace_options().network(), NODE);

    // And the other way: what we send is exactly those bytes (fields go out in number order).
    PodSandboxConfig built;
    built.mutable_metadata()->set_name("p");
    built.mutable_metadata()->set_namespace_("n");
    built.mutable_metadata()->set_attempt(1);
    built.set_hostname("h");
    built.set_log_directory("/l");
    built.mutable_linux()->set_cgroup_parent("/c");
    built.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_network(
        NODE);
    EXPECT_EQ(built.SerializeAsString(), wire);
}

TEST(CriApiProto, ContainerConfigFieldNumbersMatchCriApi) {
    ContainerConfig config;
    config.mutable_image()->set_image("i");                     // 2 {1}
    config.add_command("sh");                                   // 3
    config.set_log_path("c/0.log");                             // 11
    auto* res = config.mutable_linux()->mutable_resources();    // 15 {1 {...}}
    res->set_cpu_shares(2);                                     // 3
    res->set_memory_limit_in_bytes(300);                        // 4 (varint ac 02)
    std::string expected = bytes({0x12, 0x03, 0x0a, 0x01, 'i',  //
                                  0x1a, 0x02, 's',  'h',        //
                                  0x5a, 0x07, 'c',  '/',  '0',  '.',  'l',  'o',  'g',  //
                                  0x7a, 0x07, 0x0a, 0x05, 0x18, 0x02, 0x20, 0xac, 0x02});
    EXPECT_EQ(config.SerializeAsString(), expected);
}

TEST(CriApiProto, StatusMessagesDecodeRuntimeBytes) {
    // PodSandboxStatus: id=1 "s", state=3 NOTREADY(1), network=5 {ip=1 "10.80.1.2"}
    std::string status_wire = bytes({0x0a, 0x01, 's', 0x18, 0x01, 0x2a, 0x0b, 0x0a, 0x09, '1', '0',
                                     '.', '8', '0', '.', '1', '.', '2'});
    PodSandboxStatus status;
    ASSERT_TRUE(status.ParseFromString(status_wire));
    EXPECT_EQ(status.id(), "s");
    EXPECT_EQ(status.state(), SANDBOX_NOTREADY);
    EXPECT_EQ(status.network().ip(), "10.80.1.2");

    // ContainerStatus: state=3 EXITED(2), exit_code=7 137, reason=10 "OOMKilled", log_path=15 "l"
    std::string cs_wire = bytes({0x18, 0x02, 0x38, 0x89, 0x01, 0x52, 0x09, 'O', 'O', 'M', 'K', 'i',
                                 'l', 'l', 'e', 'd', 0x7a, 0x01, 'l'});
    ContainerStatus cs;
    ASSERT_TRUE(cs.ParseFromString(cs_wire));
    EXPECT_EQ(cs.state(), CONTAINER_EXITED);
    EXPECT_EQ(cs.exit_code(), 137);
    EXPECT_EQ(cs.reason(), "OOMKilled");
    EXPECT_EQ(cs.log_path(), "l");

    // ExecSyncResponse: stdout=1 "hi\n", exit_code=3 1
    ExecSyncResponse exec;
    ASSERT_TRUE(exec.ParseFromString(bytes({0x0a, 0x03, 'h', 'i', '\n', 0x18, 0x01})));
    EXPECT_EQ(exec.stdout(), "hi\n");
    EXPECT_EQ(exec.exit_code(), 1);
}

}  // namespace
}  // namespace runtime::v1
