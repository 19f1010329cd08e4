#include <gtest/gtest.h>

#include "mqtt/mqtt_client.hpp"
#include "support/test_support.hpp"

namespace kedge::mqtt {
namespace {

Result<std::unique_ptr<Client>> make_for(std::string server) {
    ClientOptions o;
    o.server = std::move(server);
    return Client::make(std::move(o));
}

TEST(ClientOptions, AcceptsTheUpstreamUrlForms) {
    for (const char* url : {"tcp://127.0.0.1:1883", "mqtt://localhost:1883", "tcp://127.0.0.1",
                            "TCP://127.0.0.1:1883/", "tcp://[::1]:1883", "ssl://127.0.0.1:8883",
                            "mqtts://localhost"}) {
        auto c = make_for(url);
        EXPECT_TRUE(c) << url << ": " << (c ? "" : c.error().message());
    }
}

TEST(ClientOptions, RejectsBadUrlsNamingTheProblem) {
    struct Bad {
        const char* url;
        const char* says;
    };
    for (auto [url, says] : {Bad{"127.0.0.1:1883", "no scheme"}, Bad{"http://h:1", "scheme"},
                             Bad{"tcp://:1883", "no host"}, Bad{"tcp://h:0", "bad port"},
                             Bad{"tcp://h:65536", "bad port"}, Bad{"tcp://h:12x", "bad port"},
                             Bad{"tcp://h:1883/path", "path"}, Bad{"tcp://[::1:1883", "'['"}}) {
        auto c = make_for(url);
        ASSERT_FALSE(c) << url;
        EXPECT_TRUE(c.error().is(errc::invalid_argument)) << url;
        EXPECT_NE(c.error().detail.find(says), std::string::npos) << c.error().detail;
    }
}

TEST(ClientOptions, NeverEchoesCredentialsInTheUrl) {
    auto c = make_for("tcp://user:s3cret@127.0.0.1:1883");
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error().detail.find("s3cret"), std::string::npos) << c.error().detail;
}

TEST(ClientOptions, TlsFilesMustBeReadable) {
    test::TempDir dir;
    ClientOptions o;
    o.server = "ssl://127.0.0.1:8883";
    o.tls = TlsFiles{dir.file("missing-ca.crt"), "", ""};
    auto c = Client::make(o);
    ASSERT_FALSE(c);
    EXPECT_TRUE(c.error().is(errc::invalid_argument));
    EXPECT_NE(c.error().detail.find("missing-ca.crt"), std::string::npos) << c.error().detail;

    test::write_file(dir.file("ca.crt"), "x");
    o.tls = TlsFiles{dir.file("ca.crt"), dir.file("client.crt"), ""};
    c = Client::make(o);
    ASSERT_FALSE(c);
    EXPECT_NE(c.error().detail.find("both"), std::string::npos) << c.error().detail;
}

TEST(ClientOptions, PublishBeforeConnectIsUnavailableAndBadInputIsRefused) {
    ClientOptions o;
    o.server = "tcp://127.0.0.1:" + std::to_string(test::free_port());
    o.max_payload = 8;
    auto c = Client::make(o);
    ASSERT_TRUE(c);
    auto& client = **c;
    EXPECT_FALSE(client.connected());
    auto r = client.publish("a/b", "x", 0, false);
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(errc::unavailable)) << r.error().message();
    r = client.publish("a/+", "x", 0, false);
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(errc::invalid_argument));
    r = client.publish("a/b", "123456789", 0, false);
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(errc::too_large));
    r = client.publish("a/b", "x", 3, false);
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(errc::invalid_argument));
    EXPECT_FALSE(client.subscribe("a/#/b", 0));
    EXPECT_FALSE(client.subscribe("a/b", 5));
    EXPECT_TRUE(client.subscribe("a/#", 1));
}

}  // namespace
}  // namespace kedge::mqtt
