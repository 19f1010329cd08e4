#include "cri/grpc_mapping.hpp"

#include <gtest/gtest.h>

namespace kedge::cri {
namespace {

TEST(CriGrpcMapping, UnixEndpointsBecomeGrpcTargets) {
    EXPECT_EQ(grpc_target("unix:///run/containerd/containerd.sock").value(),
              "unix:/run/containerd/containerd.sock");
    EXPECT_EQ(grpc_target("unix:/tmp/x.sock").value(), "unix:/tmp/x.sock");
    EXPECT_EQ(grpc_target("/var/run/crio/crio.sock").value(), "unix:/var/run/crio/crio.sock");
}

TEST(CriGrpcMapping, OtherEndpointsAreInvalid) {
    for (const char* bad :
         {"", "tcp://127.0.0.1:1234", "npipe:////./pipe/containerd", "relative/path.sock",
          "unix://", "unix:", "unix://relative.sock", "localhost:1234"}) {
        auto r = grpc_target(bad);
        ASSERT_FALSE(r) << bad;
        EXPECT_TRUE(r.error().is(errc::invalid_argument)) << bad;
        EXPECT_NE(r.error().detail.find(std::string("'") + bad + "'"), std::string::npos)
            << r.error().detail;
    }
    EXPECT_NE(grpc_target("tcp://127.0.0.1:1").error().detail.find("only unix sockets"),
              std::string::npos);
}

}  // namespace
}  // namespace kedge::cri
