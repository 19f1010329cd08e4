#include "device/mapper/push.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <cerrno>
#include <cstring>

#include "base/log.hpp"
#include "mqtt/mqtt_client.hpp"

namespace kedge::device {

namespace {

using Clock = std::chrono::steady_clock;

// Closes the descriptor on every return path.
struct Fd {
    int fd = -1;
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
};

int remaining_ms(Clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

// Waits until fd is ready for events or the deadline passes.
bool wait_fd(int fd, short events, Clock::time_point deadline) {
    pollfd p{fd, events, 0};
    for (;;) {
        int n = ::poll(&p, 1, remaining_ms(deadline));
        if (n > 0) return true;
        if (n == 0) return false;
        if (errno != EINTR) return false;
    }
}

Result<int> connect_tcp(const std::string& host, int port, Clock::time_point deadline, Fd& out) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    std::string service = std::to_string(port);
    if (int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &res); rc != 0) {
        return Error(errc::unavailable, fmt::format("resolve {}: {}", host, ::gai_strerror(rc)));
    }
    std::string last = "no address";
    for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
        int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                          ai->ai_protocol);
        if (fd < 0) continue;
        Fd guard{fd};
        int rc = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
        if (rc != 0 && errno == EINPROGRESS) {
            if (!wait_fd(fd, POLLOUT, deadline)) {
                last = "connect timed out";
                continue;
            }
            int err = 0;
            socklen_t len = sizeof err;
            ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
            rc = err == 0 ? 0 : -1;
            errno = err;
        }
        if (rc != 0) {
            last = std::strerror(errno);
            continue;
        }
        out.fd = guard.fd;
        guard.fd = -1;
        ::freeaddrinfo(res);
        return out.fd;
    }
    ::freeaddrinfo(res);
    return Error(errc::unavailable, fmt::format("connect {}:{}: {}", host, port, last));
}

}  // namespace

std::string push_payload(const DeviceConfig& device, const PropertyConfig& property,
                         std::string_view value, std::int64_t timestamp_ms) {
    boost::json::object o;
    o["device"] = device.name;
    o["namespace"] = device.namespace_;
    o["property"] = property.name;
    o["value"] = value;
    o["timestamp"] = timestamp_ms;
    return boost::json::serialize(o);
}

Result<void> http_post_json(const PushHttp& target, std::string_view body) {
    std::string host = target.hostname;
    if (host.starts_with("https://")) {
        return Error(errc::invalid_argument,
                     fmt::format("push http {}: https is not supported", target.hostname));
    }
    if (host.starts_with("http://")) host.erase(0, 7);
    while (!host.empty() && host.back() == '/') host.pop_back();
    int port = target.port;
    if (auto colon = host.rfind(':');
        colon != std::string::npos && host.find(']') == host.npos && host.find(':') == colon) {
        port = std::atoi(host.c_str() + colon + 1);
        host.erase(colon);
    }
    if (host.starts_with('[') && host.ends_with(']')) host = host.substr(1, host.size() - 2);
    if (host.empty() || port <= 0 || port > 65535) {
        return Error(errc::invalid_argument,
                     fmt::format("push http: bad address {} port {}", target.hostname, port));
    }
    std::string path = target.request_path.empty() ? "/" : target.request_path;
    if (!path.starts_with('/')) path.insert(0, "/");

    auto deadline = Clock::now() + target.timeout;
    Fd fd;
    auto connected = connect_tcp(host, port, deadline, fd);
    if (!connected) return connected.error();

    std::string request = fmt::format(
        "POST {} HTTP/1.1\r\nHost: {}:{}\r\nContent-Type: application/json\r\n"
        "Content-Length: {}\r\nConnection: close\r\n\r\n{}",
        path, host, port, body.size(), body);
    std::size_t sent = 0;
    while (sent < request.size()) {
        ssize_t n = ::send(fd.fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
        if (n > 0) {
            sent += static_cast<std::size_t>(n);
        } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (!wait_fd(fd.fd, POLLOUT, deadline)) {
                return Error(errc::timeout,
                             fmt::format("push http {}:{}: send timed out", host, port));
            }
        } else {
            return Error(errc::unavailable, fmt::format("push http {}:{}: send: {}", host, port,
                                                        std::strerror(errno)));
        }
    }
    std::string response;
    char buf[1024];
    while (response.find("\r\n") == std::string::npos && response.size() < 8192) {
        if (!wait_fd(fd.fd, POLLIN, deadline)) {
            return Error(errc::timeout,
                         fmt::format("push http {}:{}: no answer in time", host, port));
        }
        ssize_t n = ::recv(fd.fd, buf, sizeof buf, 0);
        if (n == 0) break;
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) continue;
            return Error(errc::unavailable, fmt::format("push http {}:{}: recv: {}", host, port,
                                                        std::strerror(errno)));
        }
        response.append(buf, static_cast<std::size_t>(n));
    }
    std::string status_line = response.substr(0, response.find("\r\n"));
    // "HTTP/1.1 204 No Content"
    if (status_line.size() >= 12 && status_line.starts_with("HTTP/1.") && status_line[9] == '2') {
        return {};
    }
    return Error(errc::io_error,
                 fmt::format("push http {}:{}{}: answered '{}'", host, port, path, status_line));
}

Pusher::Pusher() = default;

Pusher::~Pusher() { stop(); }

void Pusher::stop() {
    std::map<std::string, std::unique_ptr<mqtt::Client>> clients;
    {
        std::lock_guard lock(mutex_);
        clients.swap(mqtt_);
    }
    for (auto& [address, client] : clients) client->stop();
}

Result<void> Pusher::push(const DeviceConfig& device, const PropertyConfig& property,
                          std::string_view value, std::int64_t timestamp_ms) {
    if (!property.push_http && !property.push_mqtt) return {};
    std::string payload = push_payload(device, property, value, timestamp_ms);
    Result<void> result;
    if (property.push_http) {
        auto r = http_post_json(*property.push_http, payload);
        if (!r) result = r;
    }
    if (property.push_mqtt) {
        auto r = push_mqtt(*property.push_mqtt, payload);
        if (!r && result) result = r;
    }
    return result;
}

Result<void> Pusher::push_mqtt(const PushMqtt& target, std::string_view payload) {
    if (target.topic.empty()) {
        return Error(errc::invalid_argument, "push mqtt " + target.address + ": empty topic");
    }
    mqtt::Client* client = nullptr;
    {
        std::lock_guard lock(mutex_);
        auto it = mqtt_.find(target.address);
        if (it == mqtt_.end()) {
            mqtt::ClientOptions options;
            options.server = target.address;
            auto made = mqtt::Client::make(options);
            if (!made) return made.error();
            if (auto started = (*made)->start(); !started) return started.error();
            it = mqtt_.emplace(target.address, std::move(*made)).first;
        }
        client = it->second.get();
    }
    // Clients live until stop(), which the runtime calls after every worker has ended.
    return client->publish(target.topic, payload, target.qos, target.retained);
}

}  // namespace kedge::device
