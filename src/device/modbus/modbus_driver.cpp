#include "device/modbus/modbus_driver.hpp"

#include <modbus.h>

#include <cerrno>
#include <string>
#include <vector>

#include "base/log.hpp"
#include "device/modbus/modbus_codec.hpp"
#include "device/modbus/modbus_config.hpp"

namespace kedge::device::modbus {
namespace {

std::shared_ptr<spdlog::logger> logger() {
    static auto l = log::get("device.modbus");
    return l;
}

// What a failed libmodbus call means for the device, and whether the connection is still
// usable (a late or garbled reply would desynchronise the transaction ids, so drop it).
struct Failure {
    Error error;
    bool drop_connection;
};

Failure classify(int err, const std::string& what) {
    std::string detail = what + ": " + modbus_strerror(err);
    switch (err) {
        case ETIMEDOUT:
        case EAGAIN:
        case EINPROGRESS:
            return {Error(errc::timeout, detail), true};
        case ECONNREFUSED:
        case ECONNRESET:
        case ECONNABORTED:
        case EPIPE:
        case ENOTCONN:
        case EBADF:
        case EHOSTUNREACH:
        case EHOSTDOWN:
        case ENETUNREACH:
        case ENETDOWN:
        case EADDRNOTAVAIL:
            return {Error(errc::unavailable, detail), true};
        // The device answered with an exception: the request, not the link, was wrong.
        case EMBXILFUN:
        case EMBXILADD:
        case EMBXILVAL:
            return {Error(errc::invalid_argument, "the device refused " + detail), false};
        // The device (or a gateway in front of it) is there but cannot serve right now.
        case EMBXSFAIL:
        case EMBXSBUSY:
        case EMBXACK:
        case EMBXNACK:
        case EMBXMEMPAR:
        case EMBXGPATH:
        case EMBXGTAR:
            return {Error(errc::unavailable, "the device answered " + detail), false};
        default:
            return {Error(errc::io_error, detail), true};
    }
}

std::string where(const VisitorConfig& v) {
    std::string s = std::string(to_string(v.kind)) + " " + std::to_string(v.offset);
    if (v.limit > 1) s += " (" + std::to_string(v.limit) + " registers)";
    return s;
}

Result<VisitorConfig> visitor_of(const PropertyConfig& property) {
    if (!property.visitor_protocol.empty() && property.visitor_protocol != kProtocolName) {
        return Error(errc::invalid_argument, "property " + property.name +
                                                 ": visitors.protocolName is \"" +
                                                 property.visitor_protocol + "\", not modbus");
    }
    auto v = parse_visitor_config(property.visitor, property.type);
    if (!v) return Error(v.error().code, "property " + property.name + ": " + v.error().detail);
    return v;
}

// One Modbus TCP connection (a libmodbus context) to one device.
class ModbusTcpClient final : public DeviceClient {
public:
    ModbusTcpClient(std::string device, TcpConfig config, ModbusDriverOptions options)
        : device_(std::move(device)), config_(std::move(config)), options_(options) {}

    ~ModbusTcpClient() override { disconnect(); }

    Result<void> connect() override {
        disconnect();
        std::string port = std::to_string(config_.port);
        ctx_ = modbus_new_tcp_pi(config_.ip.c_str(), port.c_str());
        if (ctx_ == nullptr) {
            return Error(errc::invalid_argument, "device " + device_ + ": cannot use address " +
                                                     endpoint() + ": " + modbus_strerror(errno));
        }
        auto timeout = options_.response_timeout.count();
        modbus_set_response_timeout(ctx_, static_cast<std::uint32_t>(timeout / 1000),
                                    static_cast<std::uint32_t>((timeout % 1000) * 1000));
        if (modbus_set_slave(ctx_, config_.slave_id) == -1) {
            int err = errno;
            disconnect();
            return Error(errc::invalid_argument, "device " + device_ + ": slaveID " +
                                                     std::to_string(config_.slave_id) + ": " +
                                                     modbus_strerror(err));
        }
        if (modbus_connect(ctx_) == -1) {
            int err = errno;
            disconnect();
            auto failure = classify(err, "device " + device_ + ": connect to " + endpoint());
            return failure.error;
        }
        logger()->info("device {}: connected to {} (slave {})", device_, endpoint(),
                       config_.slave_id);
        return {};
    }

    Result<std::string> read(const PropertyConfig& property) override {
        auto visitor = visitor_of(property);
        if (!visitor) return visitor.error();
        if (auto c = ensure_connected(); !c) return c.error();
        const auto& v = *visitor;
        if (v.kind == RegisterKind::kCoil || v.kind == RegisterKind::kDiscreteInput) {
            std::uint8_t bit = 0;
            int rc = v.kind == RegisterKind::kCoil
                         ? modbus_read_bits(ctx_, v.offset, 1, &bit)
                         : modbus_read_input_bits(ctx_, v.offset, 1, &bit);
            if (rc != 1) return fail(rc, "read " + property.name + " from " + where(v));
            return decode_bit(bit != 0, property);
        }
        std::vector<std::uint16_t> regs(static_cast<std::size_t>(v.limit));
        int rc = v.kind == RegisterKind::kHolding
                     ? modbus_read_registers(ctx_, v.offset, v.limit, regs.data())
                     : modbus_read_input_registers(ctx_, v.offset, v.limit, regs.data());
        if (rc != v.limit) return fail(rc, "read " + property.name + " from " + where(v));
        return decode_registers(v, property, regs);
    }

    Result<void> write(const PropertyConfig& property, std::string_view value) override {
        auto visitor = visitor_of(property);
        if (!visitor) return visitor.error();
        const auto& v = *visitor;
        if (v.kind == RegisterKind::kDiscreteInput || v.kind == RegisterKind::kInput) {
            return Error(errc::invalid_argument, "property " + property.name + ": " +
                                                     std::string(to_string(v.kind)) +
                                                     " is read-only");
        }
        // Validate before touching the network: a bad desired value is the user's error.
        if (v.kind == RegisterKind::kCoil) {
            auto bit = encode_bit(property, value);
            if (!bit) return bit.error();
            if (auto c = ensure_connected(); !c) return c.error();
            int rc = modbus_write_bit(ctx_, v.offset, *bit ? 1 : 0);
            if (rc != 1) return fail(rc, "write " + property.name + " to " + where(v)).error();
            return {};
        }
        auto regs = encode_registers(v, property, value);
        if (!regs) return regs.error();
        if (auto c = ensure_connected(); !c) return c.error();
        int n = static_cast<int>(regs->size());
        // A single register uses function 6, which simple devices support more widely than 16.
        int rc = n == 1 ? modbus_write_register(ctx_, v.offset, (*regs)[0])
                        : modbus_write_registers(ctx_, v.offset, n, regs->data());
        if (rc != (n == 1 ? 1 : n)) {
            return fail(rc, "write " + property.name + " to " + where(v)).error();
        }
        return {};
    }

    void disconnect() override {
        if (ctx_ == nullptr) return;
        modbus_close(ctx_);
        modbus_free(ctx_);
        ctx_ = nullptr;
    }

private:
    std::string endpoint() const { return config_.ip + ":" + std::to_string(config_.port); }

    Result<void> ensure_connected() {
        if (ctx_ != nullptr) return {};
        return connect();
    }

    // rc is libmodbus' return value: -1 with errno set, or a short count.
    Result<std::string> fail(int rc, const std::string& what) {
        int err = rc == -1 ? errno : EMBMDATA;
        auto failure = classify(err, "device " + device_ + ": " + what + " at " + endpoint());
        if (failure.drop_connection) disconnect();
        return failure.error;
    }

    std::string device_;
    TcpConfig config_;
    ModbusDriverOptions options_;
    modbus_t* ctx_ = nullptr;
};

class ModbusDriver final : public Driver {
public:
    explicit ModbusDriver(ModbusDriverOptions options) : options_(options) {}

    std::string protocol() const override { return std::string(kProtocolName); }

    Result<std::unique_ptr<DeviceClient>> open(const DeviceConfig& device) override {
        std::string id =
            device.namespace_.empty() ? device.name : device.namespace_ + "/" + device.name;
        if (!device.protocol_name.empty() && device.protocol_name != kProtocolName) {
            return Error(errc::invalid_argument, "device " + id + ": protocolName \"" +
                                                     device.protocol_name + "\" is not modbus");
        }
        auto tcp = parse_protocol_config(device.protocol);
        if (!tcp) return Error(tcp.error().code, "device " + id + ": " + tcp.error().detail);
        for (const auto& property : device.properties) {
            if (auto v = visitor_of(property); !v) {
                return Error(v.error().code, "device " + id + ": " + v.error().detail);
            }
        }
        return std::unique_ptr<DeviceClient>(
            std::make_unique<ModbusTcpClient>(id, std::move(*tcp), options_));
    }

private:
    ModbusDriverOptions options_;
};

}  // namespace

std::unique_ptr<Driver> make_modbus_driver(ModbusDriverOptions options) {
    return std::make_unique<ModbusDriver>(options);
}

}  // namespace kedge::device::modbus
