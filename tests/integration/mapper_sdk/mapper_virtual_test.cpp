// The real mapper-virtual binary against an in-test edgecore DMI server, with its HTTP push
// going to an in-test HTTP listener and its MQTT push to a real mosquitto.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json/parse.hpp>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <thread>

#include "fake_dmi.hpp"
#include "support/mosquitto.hpp"
#include "support/test_support.hpp"

namespace kedge::device {
namespace {

using namespace std::chrono_literals;
using kedge::test::wait_until;

// Accepts HTTP/1.1 requests on 127.0.0.1:<port>, keeps their bodies, answers 200.
class HttpSink {
public:
    HttpSink() {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
        ::listen(fd_, 16);
        socklen_t len = sizeof addr;
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
        port_ = ntohs(addr.sin_port);
        thread_ = std::thread([this] { serve(); });
    }
    ~HttpSink() {
        stop_ = true;
        ::shutdown(fd_, SHUT_RDWR);
        ::close(fd_);
        thread_.join();
    }
    int port() const { return port_; }
    std::vector<std::string> bodies() {
        std::lock_guard lock(mutex_);
        return bodies_;
    }

private:
    void serve() {
        while (!stop_) {
            int c = ::accept(fd_, nullptr, nullptr);
            if (c < 0) return;
            timeval tv{2, 0};
            ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            std::string req;
            char buf[4096];
            for (;;) {
                auto head = req.find("\r\n\r\n");
                if (head != std::string::npos) {
                    auto cl = req.find("Content-Length: ");
                    std::size_t len = cl == std::string::npos ? 0 : std::stoul(req.substr(cl + 16));
                    if (req.size() >= head + 4 + len) {
                        std::lock_guard lock(mutex_);
                        bodies_.push_back(req.substr(head + 4, len));
                        break;
                    }
                }
                ssize_t n = ::recv(c, buf, sizeof buf, 0);
                if (n <= 0) break;
                req.append(buf, static_cast<std::size_t>(n));
            }
            const char* ok = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
            ::send(c, ok, std::strlen(ok), MSG_NOSIGNAL);
            ::close(c);
        }
    }

    int fd_ = -1;
    int port_ = 0;
    std::atomic<bool> stop_{false};
    std::thread thread_;
    std::mutex mutex_;
    std::vector<std::string> bodies_;
};

v1beta1::DeviceModel model() {
    auto m = test::make_model("thermo");
    m.mutable_spec()->mutable_properties(0)->set_type("FLOAT");
    return m;
}

v1beta1::Device device(int http_port, const std::string& mqtt_url) {
    auto d = test::make_device("room-1", "virtual", "thermo", 100, 200);
    auto* t = d.mutable_spec()->mutable_properties(0);
    auto& tv = *t->mutable_visitors()->mutable_configdata()->mutable_data();
    tv.clear();
    tv["mode"] = test::any_string("random");
    tv["min"] = test::any_int(10);
    tv["max"] = test::any_int(20);
    t->mutable_pushmethod()->mutable_http()->set_hostname("http://127.0.0.1");
    t->mutable_pushmethod()->mutable_http()->set_port(http_port);
    t->mutable_pushmethod()->mutable_http()->set_requestpath("/values");
    auto* s = d.mutable_spec()->mutable_properties(1);
    auto& sv = *s->mutable_visitors()->mutable_configdata()->mutable_data();
    sv.clear();
    sv["mode"] = test::any_string("constant");
    sv["value"] = test::any_int(20);
    s->mutable_pushmethod()->mutable_mqtt()->set_address(mqtt_url);
    s->mutable_pushmethod()->mutable_mqtt()->set_topic("devices/room-1/setpoint");
    return d;
}

TEST(MapperVirtual, RegistersReportsWritesPushesAndStopsCleanly) {
    kedge::test::TempDir dir;
    kedge::test::Mosquitto broker(dir.path());
    kedge::test::MosquittoSub sub(broker, dir.path(), "devices/#");
    HttpSink http;
    const std::string dmi_sock = dir.file("dmi.sock");
    const std::string sock = dir.file("virtual.sock");

    test::FakeDmi dmi(dmi_sock);
    v1beta1::MapperRegisterResponse resp;
    *resp.add_modellist() = model();
    *resp.add_devicelist() = device(http.port(), broker.url());
    dmi.set_register_response(resp);
    ASSERT_TRUE(dmi.start());

    kedge::test::Process mapper(
        {kedge::test::build_path("apps/mapper-virtual/mapper-virtual"), "--dmi-sock", dmi_sock,
         "--sock", sock, "--register-retry-ms", "100"},
        dir.file("mapper.log"));

    ASSERT_TRUE(wait_until([&] { return !dmi.registers().empty(); }))
        << kedge::test::read_file(dir.file("mapper.log"));
    const auto info = dmi.registers().front().mapper();
    EXPECT_EQ(info.protocol(), "virtual");
    EXPECT_EQ(info.name(), "virtual-mapper");
    EXPECT_EQ(info.address(), sock);

    // Simulated values arrive in reports, in range and typed.
    ASSERT_TRUE(wait_until([&] { return dmi.statuses("room-1").size() >= 3; }))
        << kedge::test::read_file(dir.file("mapper.log"));
    auto temp = dmi.last_twin("room-1", "temperature");
    ASSERT_TRUE(temp);
    double v = std::stod(temp->reported().value());
    EXPECT_GE(v, 10.0);
    EXPECT_LE(v, 20.0);
    EXPECT_EQ(temp->reported().metadata().at("type"), "float");
    EXPECT_EQ(dmi.last_twin("room-1", "setpoint")->reported().value(), "20");
    ASSERT_TRUE(wait_until([&] {
        auto s = dmi.states("room-1");
        return !s.empty() && s.back() == "online";
    }));

    // A desired value from edgecore is written to the (simulated) device and read back.
    auto updated = device(http.port(), broker.url());
    updated.mutable_spec()->mutable_properties(1)->mutable_desired()->set_value("55");
    {
        auto stub = test::mapper_stub(sock);
        grpc::ClientContext ctx;
        test::set_deadline(ctx);
        v1beta1::UpdateDeviceRequest req;
        *req.mutable_device() = updated;
        v1beta1::UpdateDeviceResponse r;
        ASSERT_TRUE(stub->UpdateDevice(&ctx, req, &r).ok());
    }
    ASSERT_TRUE(wait_until([&] {
        auto t = dmi.last_twin("room-1", "setpoint");
        return t && t->reported().value() == "55" && t->observeddesired().value() == "55";
    })) << kedge::test::read_file(dir.file("mapper.log"));

    // HTTP push of the temperature.
    ASSERT_TRUE(wait_until([&] { return !http.bodies().empty(); }))
        << kedge::test::read_file(dir.file("mapper.log"));
    auto body = boost::json::parse(http.bodies().back()).as_object();
    EXPECT_EQ(body.at("device"), "room-1");
    EXPECT_EQ(body.at("namespace"), "default");
    EXPECT_EQ(body.at("property"), "temperature");
    EXPECT_TRUE(body.at("value").is_string());
    EXPECT_TRUE(body.at("timestamp").is_int64());
    // MQTT push of the setpoint (the first publishes may precede the broker connection).
    ASSERT_TRUE(wait_until([&] {
        for (const auto& line : sub.lines()) {
            if (line.starts_with("devices/room-1/setpoint ") &&
                line.find(R"("value":"55")") != std::string::npos) {
                return true;
            }
        }
        return false;
    })) << sub.output()
        << kedge::test::read_file(dir.file("mapper.log"));

    // SIGTERM: clean exit, socket removed.
    int status = mapper.stop(10s);
    ASSERT_TRUE(WIFEXITED(status)) << kedge::test::read_file(dir.file("mapper.log"));
    EXPECT_EQ(WEXITSTATUS(status), 0);
    EXPECT_FALSE(std::filesystem::exists(sock));
}

TEST(MapperVirtual, AnOfflineDeviceIsReportedOffline) {
    kedge::test::TempDir dir;
    const std::string dmi_sock = dir.file("dmi.sock");
    test::FakeDmi dmi(dmi_sock);
    v1beta1::MapperRegisterResponse resp;
    *resp.add_modellist() = model();
    auto d = test::make_device("gone", "virtual", "thermo", 100, 200);
    (*d.mutable_spec()->mutable_protocol()->mutable_configdata()->mutable_data())["offline"] =
        test::any_bool(true);
    *resp.add_devicelist() = d;
    dmi.set_register_response(resp);
    ASSERT_TRUE(dmi.start());
    kedge::test::Process mapper(
        {kedge::test::build_path("apps/mapper-virtual/mapper-virtual"), "--dmi-sock", dmi_sock,
         "--sock", dir.file("v.sock"), "--register-retry-ms", "100"},
        dir.file("mapper.log"));
    ASSERT_TRUE(wait_until([&] {
        auto s = dmi.states("gone");
        return !s.empty() && s.back() == "offline";
    })) << kedge::test::read_file(dir.file("mapper.log"));
}

}  // namespace
}  // namespace kedge::device
