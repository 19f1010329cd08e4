// The Modbus driver against a real, independent Modbus TCP server (pymodbus 3.0 through
// tests/support/modbus_server.py on 127.0.0.1): reads with scale and swaps from each table,
// writes checked on the server's side, device exceptions, slave ids, unreachable and silent
// servers, and reconnecting after the server restarts.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "device/modbus/modbus_driver.hpp"
#include "support/modbus_server.hpp"
#include "support/test_support.hpp"

namespace kedge::device::modbus {
namespace {

using namespace std::chrono_literals;
using kedge::test::Process;
using kedge::test::TempDir;

using kedge::test::ModbusServer;

PropertyConfig property(std::string name, std::string type, std::string_view visitor) {
    PropertyConfig p;
    p.name = std::move(name);
    p.type = std::move(type);
    p.visitor_protocol = "modbus";
    p.visitor = boost::json::parse(visitor).as_object();
    return p;
}

DeviceConfig device(int port, int slave = 1) {
    DeviceConfig d;
    d.name = "sensor";
    d.namespace_ = "default";
    d.protocol_name = "modbus";
    d.protocol = boost::json::object{{"ip", "127.0.0.1"}, {"port", port}, {"slaveID", slave}};
    return d;
}

std::unique_ptr<DeviceClient> open(const DeviceConfig& d) {
    auto client = make_modbus_driver()->open(d);
    if (!client) throw std::runtime_error(client.error().message());
    return std::move(*client);
}

std::string must_read(DeviceClient& client, const PropertyConfig& p) {
    auto r = client.read(p);
    EXPECT_TRUE(r) << p.name << ": " << r.error().message();
    return r ? *r : "<error>";
}

template <class F>
std::chrono::milliseconds timed(F&& f) {
    auto start = std::chrono::steady_clock::now();
    f();
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 start);
}

TEST(ModbusDriverIntegration, ReadsHoldingRegistersWithScaleAndWordOrder) {
    KEDGE_REQUIRE_PYMODBUS();
    TempDir dir;
    // hr 0 = 215 (21.5 at scale 0.1); hr 1..2 = 65538 low word first; hr 3..4 = 21.5f (ABCD).
    ModbusServer server(dir.path(), {"--hr", "0=215", "--hr", "1=2", "--hr", "2=1", "--hr",
                                     "3=0x41AC", "--hr", "4=0", "--hr", "5=0xFFFE"});
    auto d = device(server.port());
    auto temperature =
        property("temperature", "FLOAT", R"({"register":"HoldingRegister","offset":0,"limit":1,
                                             "scale":0.1})");
    auto counter = property("counter", "INT", R"({"register":"HoldingRegister","offset":1,
                                                 "limit":2,"isRegisterSwap":true})");
    auto setpoint = property("setpoint", "FLOAT", R"({"register":"HoldingRegister","offset":3,
                                                     "limit":2})");
    auto delta = property("delta", "INT", R"({"register":"HoldingRegister","offset":5})");
    auto raw = property("raw", "INT", R"({"register":"HoldingRegister","offset":5,
                                         "dataType":"uint16"})");
    d.properties = {temperature, counter, setpoint, delta, raw};
    auto client = open(d);
    ASSERT_TRUE(client->connect()) << "connect";
    EXPECT_EQ(must_read(*client, temperature), "21.5");
    EXPECT_EQ(must_read(*client, counter), "65538");
    EXPECT_EQ(must_read(*client, setpoint), "21.5");
    EXPECT_EQ(must_read(*client, delta), "-2");
    EXPECT_EQ(must_read(*client, raw), "65534");
}

TEST(ModbusDriverIntegration, ReadsInputRegistersCoilsAndDiscreteInputs) {
    KEDGE_REQUIRE_PYMODBUS();
    TempDir dir;
    ModbusServer server(dir.path(), {"--ir", "3=42", "--co", "2=1", "--di", "5=1"});
    auto level = property("level", "INT", R"({"register":"InputRegister","offset":3})");
    auto pump = property("pump", "BOOLEAN", R"({"register":"CoilRegister","offset":2,"limit":1})");
    auto valve = property("valve", "BOOLEAN", R"({"register":"CoilRegister","offset":3})");
    auto door = property("door", "BOOLEAN", R"({"register":"DiscreteInputRegister","offset":5})");
    auto d = device(server.port());
    d.properties = {level, pump, valve, door};
    auto client = open(d);
    // No explicit connect(): the first read connects.
    EXPECT_EQ(must_read(*client, level), "42");
    EXPECT_EQ(must_read(*client, pump), "true");
    EXPECT_EQ(must_read(*client, valve), "false");
    EXPECT_EQ(must_read(*client, door), "true");
}

TEST(ModbusDriverIntegration, WritesReachTheDeviceAndReadBack) {
    KEDGE_REQUIRE_PYMODBUS();
    TempDir dir;
    ModbusServer server(dir.path(), {"--hr", "10=200"});
    auto target = property("target", "FLOAT", R"({"register":"HoldingRegister","offset":10,
                                                 "scale":0.1})");
    target.writable = true;
    target.minimum = 0;
    target.maximum = 100;
    auto total = property("total", "INT", R"({"register":"HoldingRegister","offset":20,
                                             "dataType":"int32"})");
    auto fan = property("fan", "BOOLEAN", R"({"register":"CoilRegister","offset":4})");
    auto d = device(server.port());
    d.properties = {target, total, fan};
    auto client = open(d);
    ASSERT_TRUE(client->connect());

    EXPECT_EQ(must_read(*client, target), "20");
    auto w = client->write(target, "30.5");
    ASSERT_TRUE(w) << w.error().message();
    // The device's own view of its memory (function 6, one register).
    EXPECT_TRUE(kedge::test::wait_until([&] { return server.saw("write h 10 305"); }, 5s))
        << server.output();
    EXPECT_EQ(must_read(*client, target), "30.5");

    ASSERT_TRUE(client->write(total, "65538"));  // function 16, two registers
    EXPECT_TRUE(kedge::test::wait_until([&] { return server.saw("write h 20 1 2"); }, 5s))
        << server.output();
    EXPECT_EQ(must_read(*client, total), "65538");

    ASSERT_TRUE(client->write(fan, "true"));
    EXPECT_TRUE(kedge::test::wait_until([&] { return server.saw("write c 4 1"); }, 5s))
        << server.output();
    EXPECT_EQ(must_read(*client, fan), "true");

    // Out of the model's range: refused before anything is sent, and the device is unchanged.
    auto too_hot = client->write(target, "150");
    ASSERT_FALSE(too_hot);
    EXPECT_TRUE(too_hot.error().is(errc::invalid_argument));
    EXPECT_EQ(must_read(*client, target), "30.5");
}

TEST(ModbusDriverIntegration, DeviceExceptionIsInvalidArgumentAndKeepsTheConnection) {
    KEDGE_REQUIRE_PYMODBUS();
    TempDir dir;
    ModbusServer server(dir.path(), {"--hr", "0=7"});
    auto missing = property("missing", "INT", R"({"register":"HoldingRegister","offset":5000})");
    auto ok = property("ok", "INT", R"({"register":"HoldingRegister","offset":0})");
    auto d = device(server.port());
    d.properties = {missing, ok};
    auto client = open(d);
    auto r = client->read(missing);
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(errc::invalid_argument)) << r.error().message();
    EXPECT_NE(r.error().detail.find("HoldingRegister 5000"), std::string::npos) << r.error().detail;
    EXPECT_EQ(must_read(*client, ok), "7");
}

TEST(ModbusDriverIntegration, SlaveIdIsAddressed) {
    KEDGE_REQUIRE_PYMODBUS();
    TempDir dir;
    ModbusServer server(dir.path(), {"--slave", "3", "--hr", "0=9"});
    auto value = property("value", "INT", R"({"register":"HoldingRegister","offset":0})");
    auto right = device(server.port(), 3);
    right.properties = {value};
    EXPECT_EQ(must_read(*open(right), value), "9");

    // The server ignores other unit ids, as a gateway with no such device would.
    auto wrong = device(server.port(), 4);
    wrong.properties = {value};
    auto client = open(wrong);
    std::optional<Result<std::string>> r;
    auto took = timed([&] { r = client->read(value); });
    ASSERT_FALSE(*r);
    EXPECT_TRUE(r->error().is(errc::timeout)) << r->error().message();
    EXPECT_LT(took, 2500ms);
}

TEST(ModbusDriverIntegration, UnreachablePortFailsFastAsUnavailable) {
    TempDir dir;
    int port = kedge::test::free_port();  // released: nothing listens there
    auto value = property("value", "INT", R"({"register":"HoldingRegister","offset":0})");
    auto d = device(port);
    d.properties = {value};
    auto client = open(d);
    std::optional<Result<void>> c;
    auto took = timed([&] { c = client->connect(); });
    ASSERT_FALSE(*c);
    EXPECT_TRUE(c->error().is(errc::unavailable) || c->error().is(errc::timeout))
        << c->error().message();
    EXPECT_NE(c->error().detail.find("127.0.0.1:" + std::to_string(port)), std::string::npos)
        << c->error().detail;
    EXPECT_LT(took, 2000ms);
    auto r = client->read(value);
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(errc::unavailable) || r.error().is(errc::timeout));
}

TEST(ModbusDriverIntegration, SilentServerTimesOutWithinTheResponseTimeout) {
    // A socket that completes TCP handshakes (kernel backlog) but never answers.
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ASSERT_EQ(::listen(fd, 4), 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);

    auto value = property("value", "INT", R"({"register":"HoldingRegister","offset":0})");
    auto d = device(ntohs(addr.sin_port));
    d.properties = {value};
    auto client = open(d);
    ASSERT_TRUE(client->connect());
    std::optional<Result<std::string>> r;
    auto took = timed([&] { r = client->read(value); });
    ::close(fd);
    ASSERT_FALSE(*r);
    EXPECT_TRUE(r->error().is(errc::timeout)) << r->error().message();
    EXPECT_GE(took, 900ms);
    EXPECT_LT(took, 2000ms);
}

TEST(ModbusDriverIntegration, ReconnectsAfterTheServerRestarts) {
    KEDGE_REQUIRE_PYMODBUS();
    TempDir dir;
    auto first =
        std::make_unique<ModbusServer>(dir.path(), std::vector<std::string>{"--hr", "0=1"});
    int port = first->port();
    auto value = property("value", "INT", R"({"register":"HoldingRegister","offset":0})");
    auto d = device(port);
    d.properties = {value};
    auto client = open(d);
    EXPECT_EQ(must_read(*client, value), "1");

    first->stop();
    auto lost = client->read(value);
    ASSERT_FALSE(lost);
    EXPECT_TRUE(lost.error().is(errc::unavailable) || lost.error().is(errc::timeout))
        << lost.error().message();

    ModbusServer second(dir.path(), {"--hr", "0=2"}, port, "second");
    ASSERT_TRUE(client->connect()) << "reconnect";
    EXPECT_EQ(must_read(*client, value), "2");
}

}  // namespace
}  // namespace kedge::device::modbus
