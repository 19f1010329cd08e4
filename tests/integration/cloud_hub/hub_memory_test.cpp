// Heap per idle hub session, the number that decides how many edge nodes one cloudcore holds.
// The edges are a separate (Python) process so that only the hub's heap is counted.
#include "cloud/hub/cloud_hub.hpp"

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <malloc.h>

#include <thread>

#include "pki/issue.hpp"
#include "support/test_support.hpp"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KEDGE_NO_MALLINFO 1
#endif
#endif

namespace kedge::cloud {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

[[maybe_unused]] constexpr int kSessions = 200;

TEST(CloudHubMemory, IdleSessionCostsLittleOnTopOfTheWebSocket) {
#ifdef KEDGE_NO_MALLINFO
    GTEST_SKIP() << "heap numbers are meaningless under ASan";
#else
    kedge::test::TempDir dir;
    auto ca = pki::create_ca().value();
    auto server =
        pki::issue_server_cert(ca.cert, ca.key, {"KubeEdge", {"KubeEdge"}}, {{"127.0.0.1"}, {}})
            .value();
    // One legacy certificate for every simulated node keeps the client side cheap.
    auto key = pki::PrivateKey::generate().value();
    auto csr = pki::CertificateRequest::create(key, {"kubeedge.io", {"kubeEdge"}}).value();
    auto cert = pki::sign_csr(ca.cert, ca.key, csr).value();
    kedge::test::write_file(dir.file("ca.crt"), ca.cert.to_pem());
    kedge::test::write_file(dir.file("edge.crt"), cert.to_pem());
    kedge::test::write_file(dir.file("edge.key"), key.to_pem());

    CloudHubOptions o;
    o.address = "127.0.0.1";
    o.port = 0;
    o.allow_legacy_node_certificates = true;
    o.keepalive_interval = 120s;
    o.tls = net::TlsContext::make_server({net::PemSource::from_pem(ca.cert.to_pem()),
                                          net::PemSource::from_pem(server.cert.to_pem()),
                                          net::PemSource::from_pem(server.key.to_pem()),
                                          net::ClientAuth::require})
                .value();
    asio::io_context ioc;
    auto work = asio::make_work_guard(ioc);
    std::thread thread([&] { ioc.run(); });
    auto hub = CloudHub::make(ioc.get_executor(), o, nullptr).value();
    ASSERT_TRUE(hub->start());

    malloc_trim(0);
    auto before = mallinfo2().uordblks;
    auto out = dir.file("edges.out");
    kedge::test::Process edges(
        {"/usr/bin/python3",
         kedge::test::source_path("tests/integration/cloud_hub/hub_many_edges.py"),
         "wss://127.0.0.1:" + std::to_string(hub->port()) + "/p/", dir.file("ca.crt"),
         dir.file("edge.crt"), dir.file("edge.key"), std::to_string(kSessions)},
        out);
    ASSERT_TRUE(kedge::test::wait_until(
        [&] { return kedge::test::read_file(out).find("READY") != std::string::npos; }, 60s))
        << kedge::test::read_file(out);
    ASSERT_TRUE(kedge::test::wait_until(
        [&] { return hub->stats().messages_in["keepalive"] == kSessions; }, 10s));
    auto after = mallinfo2().uordblks;
    double per_session = static_cast<double>(after - before) / kSessions;
    RecordProperty("bytes_per_idle_hub_session", static_cast<int>(per_session));
    std::printf("hub heap per idle node session (WebSocket included): %.0f bytes\n", per_session);
    EXPECT_EQ(hub->connected_nodes().size(), static_cast<std::size_t>(kSessions));
    // The WebSocket session alone is ~34 KB (net_ws WsMemory); the hub may add at most 40 KiB.
    EXPECT_LT(per_session, 34 * 1024 + 40 * 1024);

    edges.kill9();
    EXPECT_TRUE(kedge::test::wait_until([&] { return hub->connected_nodes().empty(); }, 20s));
    hub->stop();
    hub.reset();
    work.reset();
    ioc.stop();
    thread.join();
#endif
}

}  // namespace
}  // namespace kedge::cloud
