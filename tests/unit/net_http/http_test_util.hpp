#pragma once
// Helpers of the net_http tests: an io_context on a background thread (the server never runs
// out of work, so run_coro does not fit), a blocking raw TCP client for malformed input, and a
// log capture for checking why the server closed a connection.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include "base/log.hpp"
#include "support/coro.hpp"
#include "support/log_capture.hpp"
#include "support/test_support.hpp"

namespace kedge::test {

// A blocking TCP client on 127.0.0.1 for sending bytes no HTTP library would send.
class RawConn {
  public:
    explicit RawConn(int port) {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(static_cast<uint16_t>(port));
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
            throw std::runtime_error("connect failed");
    }
    ~RawConn() { close(); }
    RawConn(const RawConn&) = delete;
    RawConn& operator=(const RawConn&) = delete;

    // False once the peer has closed (EPIPE/ECONNRESET).
    bool send(const std::string& data) {
        std::size_t off = 0;
        while (off < data.size()) {
            auto n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
            if (n <= 0) return false;
            off += static_cast<std::size_t>(n);
        }
        return true;
    }
    // Reads until the peer closes or nothing arrives for `quiet`.
    std::string read_all(std::chrono::milliseconds quiet = std::chrono::milliseconds(3000)) {
        std::string out;
        char buf[4096];
        while (true) {
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(quiet.count())) <= 0) break;
            auto n = ::recv(fd_, buf, sizeof buf, 0);
            if (n <= 0) {
                peer_closed_ = true;
                break;
            }
            out.append(buf, static_cast<std::size_t>(n));
        }
        return out;
    }
    // True if the peer closes the connection within `limit` (data before it is discarded).
    bool wait_closed(std::chrono::milliseconds limit) {
        auto end = std::chrono::steady_clock::now() + limit;
        char buf[4096];
        while (std::chrono::steady_clock::now() < end) {
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, 50) <= 0) continue;
            auto n = ::recv(fd_, buf, sizeof buf, 0);
            if (n <= 0) return true;
        }
        return false;
    }
    bool peer_closed() const { return peer_closed_; }
    void close() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

  private:
    int fd_ = -1;
    bool peer_closed_ = false;
};

// Captures the lines of one logger for the life of the object.
class LogCapture {
  public:
    explicit LogCapture(std::shared_ptr<spdlog::logger> logger) : capture_(std::move(logger)) {}
    bool contains(const std::string& needle) const {
        return capture_.text().find(needle) != std::string::npos;
    }
    std::string all() const { return capture_.text(); }

  private:
    kedge::test::LoggerCapture capture_;
};

// A server certificate signed by ca with the given subjectAltName (e.g. "IP:127.0.0.9"); writes
// dir/name.crt and dir/name.key.
inline void make_server_cert(const std::string& dir, const std::string& ca_cert,
                             const std::string& ca_key, const std::string& name,
                             const std::string& san) {
    std::string p = dir + "/" + name;
    write_file(p + ".ext", "subjectAltName=" + san + "\nextendedKeyUsage=serverAuth\n");
    auto r = run_command(
        "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "
        "'/CN=" +
        name + "' -keyout " + p + ".key -out " + p +
        ".csr && "
        "openssl x509 -req -in " +
        p + ".csr -CA " + ca_cert + " -CAkey " + ca_key + " -CAcreateserial -days 30 -extfile " +
        p + ".ext -out " + p + ".crt");
    if (r.exit_code != 0) throw std::runtime_error("openssl failed: " + r.output);
}

}  // namespace kedge::test
