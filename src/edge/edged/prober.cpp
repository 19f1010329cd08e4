#include "edge/edged/prober.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cerrno>
#include <cstring>
#include <string_view>

#include "edge/edged/node_status.hpp"

namespace kedge::edge {
namespace {

namespace json = boost::json;
using SteadyClock = std::chrono::steady_clock;
using TimePoint = SteadyClock::time_point;

constexpr int kMaxRedirects = 10;  // Go's http.Client default, kept by the kubelet
constexpr std::size_t kMaxHeaderBytes = 64 << 10;

// ---- parsing -------------------------------------------------------------------------------

Result<std::int32_t> int_field(const json::object& o, std::string_view key, std::int32_t dflt,
                               bool zero_means_default) {
    auto it = o.find(key);
    if (it == o.end() || it->value().is_null()) return dflt;
    const json::value& v = it->value();
    std::int64_t n = 0;
    if (v.is_int64()) {
        n = v.as_int64();
    } else if (v.is_uint64() && v.as_uint64() <= INT32_MAX) {
        n = static_cast<std::int64_t>(v.as_uint64());
    } else {
        return Error(errc::invalid_argument, std::string(key) + " must be an integer");
    }
    if (n < 0 || n > INT32_MAX)
        return Error(
            errc::invalid_argument,
            std::string(key) + " must be between 0 and 2147483647, got " + std::to_string(n));
    if (n == 0 && zero_means_default) return dflt;  // the API server's SetDefaults_Probe
    return static_cast<std::int32_t>(n);
}

Result<std::string> string_field(const json::object& o, std::string_view key) {
    auto it = o.find(key);
    if (it == o.end() || it->value().is_null()) return std::string();
    if (!it->value().is_string())
        return Error(errc::invalid_argument, std::string(key) + " must be a string");
    return std::string(it->value().as_string());
}

// The kubelet's extractPort: a number, or a named container port, or a number in a string.
Result<std::string> resolve_port(const json::value* port, const json::object& container,
                                 std::string_view where) {
    std::string ctx = std::string(where) + ".port";
    if (!port || port->is_null()) return Error(errc::invalid_argument, ctx + " is required");
    std::int64_t n = -1;
    if (port->is_int64()) {
        n = port->as_int64();
    } else if (port->is_uint64()) {
        return Error(errc::invalid_argument,
                     ctx + ": invalid port number: " + std::to_string(port->as_uint64()));
    } else if (port->is_string()) {
        std::string name(port->as_string());
        bool found = false;
        if (auto* ports = container.if_contains("ports"); ports && ports->is_array()) {
            for (const auto& p : ports->as_array()) {
                const auto* po = p.if_object();
                if (!po) continue;
                const auto* pn = po->if_contains("name");
                const auto* cp = po->if_contains("containerPort");
                if (pn && pn->is_string() && pn->as_string() == name && cp && cp->is_int64()) {
                    n = cp->as_int64();
                    found = true;
                    break;
                }
            }
        }
        if (!found) {
            bool digits =
                !name.empty() && name.size() < 10 &&
                std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; });
            if (!digits) {
                const auto* cn = container.if_contains("name");
                std::string cname = cn && cn->is_string() ? std::string(cn->as_string()) : "";
                return Error(
                    errc::invalid_argument,
                    ctx + ": port \"" + name + "\" not found in container \"" + cname + "\"");
            }
            n = std::stoll(name);
        }
    } else {
        return Error(errc::invalid_argument, ctx + " must be a number or a port name");
    }
    if (n <= 0 || n >= 65536)
        return Error(errc::invalid_argument, ctx + ": invalid port number: " + std::to_string(n));
    return std::to_string(n);
}

bool valid_header_name(std::string_view name) {
    if (name.empty()) return false;
    return std::all_of(name.begin(), name.end(), [](unsigned char c) {
        return c > 32 && c < 127 && !std::strchr("()<>@,;:\\\"/[]?={}", c);
    });
}

// ---- sockets -------------------------------------------------------------------------------

std::string errno_text(int err) {
    std::string s = std::strerror(err);
    if (!s.empty()) s[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[0])));
    return s;
}

std::string join_host_port(const std::string& host, int port) {
    if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
    return host + ":" + std::to_string(port);
}

// Waits until fd is ready for events or the deadline passes. 1 ready, 0 timeout, -1 error.
int wait_fd(int fd, short events, TimePoint deadline) {
    for (;;) {
        auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
        if (left.count() <= 0) return 0;
        pollfd p{fd, events, 0};
        int r = ::poll(&p, 1, static_cast<int>(std::min<std::int64_t>(left.count() + 1, 1 << 30)));
        if (r > 0) return 1;
        if (r == 0) continue;  // re-check the deadline (rounding)
        if (errno != EINTR) return -1;
    }
}

struct IoError {
    std::string message;
    bool timeout = false;
};

SSL_CTX* probe_ssl_ctx() {
    // Shared by every probe: configured once, then only SSL_new from it (thread-safe).
    static SSL_CTX* ctx = [] {
        SSL_CTX* c = SSL_CTX_new(TLS_client_method());
        if (c) SSL_CTX_set_verify(c, SSL_VERIFY_NONE, nullptr);  // the kubelet's InsecureSkipVerify
        return c;
    }();
    return ctx;
}

std::string openssl_error(const char* fallback) {
    unsigned long e = ERR_get_error();
    ERR_clear_error();
    if (e == 0) return fallback;
    const char* reason = ERR_reason_error_string(e);
    return std::string("tls: ") + (reason ? reason : fallback);
}

// One client connection (plain or TLS) with every operation bounded by one deadline.
class Conn {
public:
    Conn() = default;
    Conn(const Conn&) = delete;
    Conn& operator=(const Conn&) = delete;
    ~Conn() {
        if (ssl_) SSL_free(ssl_);
        if (fd_ >= 0) ::close(fd_);
    }

    std::optional<IoError> dial(const std::string& host, int port, TimePoint deadline) {
        addrinfo hints{};
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_NUMERICSERV;
        addrinfo* res = nullptr;
        std::string service = std::to_string(port);
        if (int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &res); rc != 0)
            return IoError{"dial tcp: lookup " + host + ": " + ::gai_strerror(rc)};
        std::optional<IoError> last;
        for (addrinfo* ai = res; ai; ai = ai->ai_next) {
            last = connect_one(ai, deadline);
            if (!last || last->timeout) break;
        }
        ::freeaddrinfo(res);
        return last;
    }

    std::optional<IoError> handshake(const std::string& host, TimePoint deadline) {
        SSL_CTX* ctx = probe_ssl_ctx();
        if (!ctx || !(ssl_ = SSL_new(ctx)))
            return IoError{openssl_error("cannot create a TLS session")};
        SSL_set_fd(ssl_, fd_);
        in6_addr a6{};
        in_addr a4{};
        bool is_ip = ::inet_pton(AF_INET, host.c_str(), &a4) == 1 ||
                     ::inet_pton(AF_INET6, host.c_str(), &a6) == 1;
        if (!is_ip) SSL_set_tlsext_host_name(ssl_, host.c_str());
        for (;;) {
            ERR_clear_error();
            int r = SSL_connect(ssl_);
            if (r == 1) return std::nullopt;
            if (auto e = ssl_wait(r, deadline, "TLS handshake")) return e;
        }
    }

    std::optional<IoError> write_all(std::string_view data, TimePoint deadline) {
        while (!data.empty()) {
            ssize_t n;
            if (ssl_) {
                ERR_clear_error();
                int r = SSL_write(ssl_, data.data(), static_cast<int>(data.size()));
                if (r <= 0) {
                    if (auto e = ssl_wait(r, deadline, "write")) return e;
                    continue;
                }
                n = r;
            } else {
                n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
                if (n < 0) {
                    if (errno == EINTR) continue;
                    if (errno != EAGAIN && errno != EWOULDBLOCK)
                        return IoError{"write tcp " + peer_ + ": " + errno_text(errno)};
                    int w = wait_fd(fd_, POLLOUT, deadline);
                    if (w == 0) return IoError{"write tcp " + peer_ + ": i/o timeout", true};
                    continue;
                }
            }
            data.remove_prefix(static_cast<std::size_t>(n));
        }
        return std::nullopt;
    }

    // Appends what arrives to out; false with eof set at the end of the stream.
    std::optional<IoError> read_some(std::string& out, TimePoint deadline, bool& eof) {
        char buf[4096];
        eof = false;
        for (;;) {
            if (ssl_) {
                ERR_clear_error();
                int r = SSL_read(ssl_, buf, sizeof buf);
                if (r > 0) {
                    out.append(buf, static_cast<std::size_t>(r));
                    return std::nullopt;
                }
                int err = SSL_get_error(ssl_, r);
                if (err == SSL_ERROR_ZERO_RETURN ||
                    (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)) {
                    eof = true;  // a peer that closes without close_notify: EOF as for TCP
                    return std::nullopt;
                }
                if (auto e = ssl_wait(r, deadline, "read")) return e;
                continue;
            }
            ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
            if (n > 0) {
                out.append(buf, static_cast<std::size_t>(n));
                return std::nullopt;
            }
            if (n == 0) {
                eof = true;
                return std::nullopt;
            }
            if (errno == EINTR) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                return IoError{"read tcp " + peer_ + ": " + errno_text(errno)};
            if (wait_fd(fd_, POLLIN, deadline) == 0)
                return IoError{"read tcp " + peer_ + ": i/o timeout", true};
        }
    }

private:
    std::optional<IoError> connect_one(const addrinfo* ai, TimePoint deadline) {
        char ip[INET6_ADDRSTRLEN] = "?";
        int port = 0;
        if (ai->ai_family == AF_INET) {
            auto* sa = reinterpret_cast<const sockaddr_in*>(ai->ai_addr);
            ::inet_ntop(AF_INET, &sa->sin_addr, ip, sizeof ip);
            port = ntohs(sa->sin_port);
        } else if (ai->ai_family == AF_INET6) {
            auto* sa = reinterpret_cast<const sockaddr_in6*>(ai->ai_addr);
            ::inet_ntop(AF_INET6, &sa->sin6_addr, ip, sizeof ip);
            port = ntohs(sa->sin6_port);
        }
        if (fd_ >= 0) ::close(fd_);
        peer_ = join_host_port(ip, port);
        std::string prefix = "dial tcp " + peer_ + ": ";
        fd_ = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                       ai->ai_protocol);
        if (fd_ < 0) return IoError{prefix + "socket: " + errno_text(errno)};
        if (::connect(fd_, ai->ai_addr, ai->ai_addrlen) == 0) return std::nullopt;
        if (errno != EINPROGRESS) return IoError{prefix + "connect: " + errno_text(errno)};
        int w = wait_fd(fd_, POLLOUT, deadline);
        if (w == 0) return IoError{prefix + "i/o timeout", true};
        int err = 0;
        socklen_t len = sizeof err;
        if (w < 0 || ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
        if (err != 0) return IoError{prefix + "connect: " + errno_text(err)};
        return std::nullopt;
    }

    // After an SSL_* call returned r <= 0: waits for the socket when OpenSSL asks for it.
    std::optional<IoError> ssl_wait(int r, TimePoint deadline, const char* what) {
        int err = SSL_get_error(ssl_, r);
        short events = 0;
        if (err == SSL_ERROR_WANT_READ) events = POLLIN;
        if (err == SSL_ERROR_WANT_WRITE) events = POLLOUT;
        if (events == 0) {
            if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
                return IoError{errno != 0 ? std::string(what) + ": " + errno_text(errno) : "EOF"};
            return IoError{openssl_error(what)};
        }
        if (wait_fd(fd_, events, deadline) == 0)
            return IoError{std::string(what) + " " + peer_ + ": i/o timeout", true};
        return std::nullopt;
    }

    int fd_ = -1;
    SSL* ssl_ = nullptr;
    std::string peer_;
};

// ---- probes --------------------------------------------------------------------------------

ProbeOutcome failure(std::string message) { return {false, std::move(message), false}; }
ProbeOutcome errored(std::string message) { return {false, std::move(message), true}; }

std::string probe_host(const std::string& spec_host, const ProbeTarget& target) {
    return spec_host.empty() ? target.pod_ip : spec_host;
}

int port_number(const std::string& port) {
    if (port.empty() || port.size() > 5 ||
        !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return -1;
    int n = std::stoi(port);
    return n > 0 && n < 65536 ? n : -1;
}

ProbeOutcome tcp_probe(const ProbeSpec& spec, const ProbeTarget& target) {
    std::string host = probe_host(spec.host, target);
    int port = port_number(spec.port);
    if (host.empty()) return errored("tcpSocket probe: the pod has no IP yet");
    if (port < 0) return errored("tcpSocket probe: invalid port \"" + spec.port + "\"");
    Conn c;
    auto deadline = SteadyClock::now() + std::chrono::seconds(spec.timeout_seconds);
    if (auto e = c.dial(host, port, deadline)) return failure(e->message);
    return {true, "", false};
}

// What the kubelet's http client needs of a URL.
struct Url {
    std::string scheme;  // "http" / "https"
    std::string host;    // no brackets
    int port = 0;
    std::string authority;  // as written in the URL
    std::string target;     // path and query, starts with '/'
    std::string str() const { return scheme + "://" + authority + target; }
};

std::string canonical_header(std::string_view name) {
    // Go's textproto.CanonicalMIMEHeaderKey, which the kubelet's http.Header.Add applies.
    std::string out(name);
    bool upper = true;
    for (char& c : out) {
        c = upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c)))
                  : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        upper = c == '-';
    }
    return out;
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

// Resolves a Location header against the current URL; nullopt when it is not http(s).
std::optional<Url> resolve_location(const Url& base, std::string loc) {
    Url u = base;
    auto scheme_end = loc.find("://");
    if (loc.rfind("//", 0) == 0) {
        loc = base.scheme + ":" + loc;
        scheme_end = base.scheme.size();
    }
    if (scheme_end != std::string::npos && loc.find('/') > scheme_end) {
        std::string scheme = loc.substr(0, scheme_end);
        for (char& ch : scheme)
            ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        if (scheme != "http" && scheme != "https") return std::nullopt;
        std::string rest = loc.substr(scheme_end + 3);
        auto slash = rest.find_first_of("/?");
        u.scheme = scheme;
        u.authority = rest.substr(0, slash);
        u.target = slash == std::string::npos ? "/" : rest.substr(slash);
        if (!u.target.empty() && u.target[0] == '?') u.target = "/" + u.target;
        std::string hp = u.authority.substr(u.authority.find('@') + 1);  // drop userinfo
        std::string port;
        if (!hp.empty() && hp[0] == '[') {
            auto close = hp.find(']');
            if (close == std::string::npos) return std::nullopt;
            u.host = hp.substr(1, close - 1);
            if (close + 1 < hp.size() && hp[close + 1] == ':') port = hp.substr(close + 2);
        } else {
            auto colon = hp.rfind(':');
            u.host = hp.substr(0, colon);
            if (colon != std::string::npos) port = hp.substr(colon + 1);
        }
        u.port = port.empty() ? (scheme == "https" ? 443 : 80) : port_number(port);
        if (u.port < 0 || u.host.empty()) return std::nullopt;
        return u;
    }
    if (!loc.empty() && loc[0] == '/') {
        u.target = loc;
    } else {
        std::string path = base.target.substr(0, base.target.find('?'));
        u.target = path.substr(0, path.rfind('/') + 1) + loc;
    }
    return u;
}

struct HttpResponse {
    int status = 0;
    std::string location;
};

// Reads the status line and headers (skipping 1xx responses). Errors are Go-worded.
std::optional<IoError> read_response(Conn& c, TimePoint deadline, HttpResponse& resp) {
    std::string buf;
    std::size_t start = 0;
    for (;;) {
        auto end = buf.find("\r\n\r\n", start);
        if (end == std::string::npos) {
            if (buf.size() - start > kMaxHeaderBytes)
                return IoError{"net/http: server response headers exceeded " +
                               std::to_string(kMaxHeaderBytes) + " bytes; aborted"};
            bool eof = false;
            if (auto e = c.read_some(buf, deadline, eof)) {
                if (e->timeout)
                    e->message =
                        "context deadline exceeded (Client.Timeout exceeded while awaiting "
                        "headers)";
                return e;
            }
            if (eof) return IoError{buf.size() == start ? "EOF" : "unexpected EOF"};
            continue;
        }
        std::string_view head(buf.data() + start, end - start);
        auto line_end = head.find("\r\n");
        std::string_view status_line = head.substr(0, line_end);
        int code = -1;
        if (status_line.rfind("HTTP/1.", 0) == 0 && status_line.size() >= 12 &&
            status_line[8] == ' ' &&
            std::all_of(status_line.begin() + 9, status_line.begin() + 12,
                        [](char ch) { return ch >= '0' && ch <= '9'; }) &&
            (status_line.size() == 12 || status_line[12] == ' '))
            code = std::stoi(std::string(status_line.substr(9, 3)));
        if (code < 100)
            return IoError{
                "net/http: HTTP/1.x transport connection broken: malformed HTTP response \"" +
                std::string(status_line) + "\""};
        if (code < 200 && code != 101) {  // informational: the real response follows
            start = end + 4;
            continue;
        }
        resp.status = code;
        std::string_view rest = line_end == std::string_view::npos ? "" : head.substr(line_end + 2);
        while (!rest.empty()) {
            auto eol = rest.find("\r\n");
            std::string_view line = rest.substr(0, eol);
            rest = eol == std::string_view::npos ? "" : rest.substr(eol + 2);
            auto colon = line.find(':');
            if (colon == std::string_view::npos) continue;
            if (iequals(line.substr(0, colon), "location")) {
                std::string_view v = line.substr(colon + 1);
                while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
                while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
                resp.location = std::string(v);
            }
        }
        return std::nullopt;
    }
}

std::string user_agent() {
    // "kube-probe/<major>.<minor>" of the Kubernetes version edged reports (v1.30.0-kubeedge-...).
    std::string v = edgecore_kubelet_version();
    if (!v.empty() && v[0] == 'v') v.erase(0, 1);
    auto first = v.find('.');
    auto second = v.find_first_of(".-", first == std::string::npos ? 0 : first + 1);
    return "kube-probe/" + v.substr(0, second);
}

std::string build_request(const Url& url, const ProbeSpec& spec, bool keep_host) {
    std::string host_header = url.authority;
    bool has_ua = false, has_accept = false;
    std::string accept, ua, extra;
    for (const auto& [name, value] : spec.http_headers) {
        std::string n = canonical_header(name);
        if (n == "Host") {
            if (keep_host && !value.empty()) host_header = value;
        } else if (n == "User-Agent") {
            has_ua = true;
            if (!value.empty()) extra += n + ": " + value + "\r\n";
        } else if (n == "Accept") {
            has_accept = true;
            if (!value.empty()) extra += n + ": " + value + "\r\n";
        } else {
            extra += n + ": " + value + "\r\n";
        }
    }
    std::string req = "GET " + url.target + " HTTP/1.1\r\nHost: " + host_header + "\r\n";
    if (!has_ua) req += "User-Agent: " + user_agent() + "\r\n";
    if (!has_accept) req += "Accept: */*\r\n";
    req += extra;
    req += "Connection: close\r\n\r\n";  // the kubelet's transport disables keep-alives
    return req;
}

ProbeOutcome http_probe(const ProbeSpec& spec, const ProbeTarget& target) {
    Url url;
    for (char ch : spec.scheme)
        url.scheme += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (url.scheme.empty()) url.scheme = "http";
    if (url.scheme != "http" && url.scheme != "https")
        return errored("httpGet probe: unsupported scheme \"" + spec.scheme + "\"");
    url.host = probe_host(spec.host, target);
    url.port = port_number(spec.port);
    if (url.host.empty()) return errored("httpGet probe: the pod has no IP yet");
    if (url.port < 0) return errored("httpGet probe: invalid port \"" + spec.port + "\"");
    url.authority = join_host_port(url.host, url.port);
    url.target = spec.path.empty() || spec.path[0] != '/' ? "/" + spec.path : spec.path;

    const std::string first_host = url.host;
    auto deadline = SteadyClock::now() + std::chrono::seconds(spec.timeout_seconds);
    bool keep_host = true;  // a Host header survives relative redirects only (as in Go)
    for (int redirects = 0;; ++redirects) {
        auto fail = [&](const IoError& e) {
            return failure("Get \"" + url.str() + "\": " + e.message);
        };
        Conn c;
        if (auto e = c.dial(url.host, url.port, deadline)) {
            if (e->timeout) {
                return failure("Get \"" + url.str() +
                               "\": context deadline exceeded (Client.Timeout exceeded while "
                               "awaiting headers)");
            }
            return fail(*e);
        }
        if (url.scheme == "https") {
            if (auto e = c.handshake(url.host, deadline)) {
                if (e->timeout) e->message = "net/http: TLS handshake timeout";
                return fail(*e);
            }
        }
        if (auto e = c.write_all(build_request(url, spec, keep_host), deadline)) return fail(*e);
        HttpResponse resp;
        if (auto e = read_response(c, deadline, resp)) return fail(*e);

        bool redirect = resp.status == 301 || resp.status == 302 || resp.status == 303 ||
                        resp.status == 307 || resp.status == 308;
        if (redirect && !resp.location.empty()) {
            auto next = resolve_location(url, resp.location);
            // Redirects to another host are not followed: the 3xx itself is the answer.
            if (next && next->host == first_host) {
                if (redirects + 1 >= kMaxRedirects)  // Go: len(via) >= 10
                    return failure("Get \"" + next->str() + "\": stopped after " +
                                   std::to_string(kMaxRedirects) + " redirects");
                keep_host = keep_host && resp.location.find("//") == std::string::npos;
                url = *next;
                continue;
            }
        }
        if (resp.status >= 200 && resp.status < 400) {
            if (resp.status >= 300) return {true, "Probe terminated redirects", false};
            return {true, "", false};
        }
        return failure("HTTP probe failed with statuscode: " + std::to_string(resp.status));
    }
}

ProbeOutcome exec_probe(const ProbeSpec& spec, const ProbeTarget& target, const ExecFn& exec) {
    if (!exec) return errored("exec probe: no runtime to exec in");
    if (target.container_id.empty()) return errored("exec probe: the container has no id");
    auto r = exec(target.container_id, spec.command, std::chrono::seconds(spec.timeout_seconds));
    if (!r) {
        if (r.error().is(errc::timeout)) {
            std::string cmd;
            for (const auto& part : spec.command) cmd += (cmd.empty() ? "" : " ") + part;
            return failure("command \"" + cmd + "\" timed out");
        }
        return errored(r.error().detail.empty() ? r.error().message() : r.error().detail);
    }
    if (r->first == 0) return {true, r->second, false};
    return failure(r->second);  // the kubelet's message is the command's output
}

}  // namespace

Result<ProbeSpec> parse_probe(const json::object& probe, const json::object& container) {
    ProbeSpec spec;
    const char* handlers[] = {"exec", "httpGet", "tcpSocket", "grpc"};
    int count = 0;
    for (const char* h : handlers)
        if (auto* v = probe.if_contains(h); v && !v->is_null()) ++count;
    if (count == 0) return Error(errc::invalid_argument, "must specify a handler type");
    if (count > 1) return Error(errc::invalid_argument, "may not specify more than 1 handler type");

    if (auto* v = probe.if_contains("exec"); v && !v->is_null()) {
        spec.handler = ProbeSpec::Handler::exec;
        const auto* cmd = v->is_object() ? v->as_object().if_contains("command") : nullptr;
        if (!cmd || !cmd->is_array() || cmd->as_array().empty())
            return Error(errc::invalid_argument, "exec.command: Required value");
        for (const auto& part : cmd->as_array()) {
            if (!part.is_string())
                return Error(errc::invalid_argument, "exec.command must be a list of strings");
            spec.command.emplace_back(part.as_string());
        }
    } else if (auto* hv = probe.if_contains("httpGet"); hv && !hv->is_null()) {
        spec.handler = ProbeSpec::Handler::http_get;
        if (!hv->is_object()) return Error(errc::invalid_argument, "httpGet must be an object");
        const auto& h = hv->as_object();
        auto port = resolve_port(h.if_contains("port"), container, "httpGet");
        if (!port) return port.error();
        spec.port = *port;
        auto host = string_field(h, "host");
        auto path = string_field(h, "path");
        auto scheme = string_field(h, "scheme");
        if (!host) return host.error();
        if (!path) return path.error();
        if (!scheme) return scheme.error();
        spec.host = *host;
        if (!path->empty()) spec.path = *path;
        if (!scheme->empty()) spec.scheme = *scheme;
        if (spec.scheme != "HTTP" && spec.scheme != "HTTPS")
            return Error(errc::invalid_argument, "httpGet.scheme: Unsupported value: \"" +
                                                     spec.scheme +
                                                     "\": supported values: \"HTTP\", \"HTTPS\"");
        if (spec.path.find_first_of("\r\n ") != std::string::npos)
            return Error(errc::invalid_argument,
                         "httpGet.path: must not contain spaces or line breaks");
        if (auto* hh = h.if_contains("httpHeaders"); hh && !hh->is_null()) {
            if (!hh->is_array())
                return Error(errc::invalid_argument, "httpGet.httpHeaders must be a list");
            for (const auto& e : hh->as_array()) {
                const auto* eo = e.if_object();
                if (!eo)
                    return Error(errc::invalid_argument,
                                 "httpGet.httpHeaders entries must be objects");
                auto name = string_field(*eo, "name");
                auto value = string_field(*eo, "value");
                if (!name) return name.error();
                if (!value) return value.error();
                if (!valid_header_name(*name))
                    return Error(errc::invalid_argument,
                                 "httpGet.httpHeaders: invalid header name \"" + *name + "\"");
                if (value->find_first_of("\r\n") != std::string::npos)
                    return Error(errc::invalid_argument, "httpGet.httpHeaders: the value of \"" +
                                                             *name + "\" contains a line break");
                spec.http_headers.emplace_back(*name, *value);
            }
        }
    } else if (auto* tv = probe.if_contains("tcpSocket"); tv && !tv->is_null()) {
        spec.handler = ProbeSpec::Handler::tcp_socket;
        if (!tv->is_object()) return Error(errc::invalid_argument, "tcpSocket must be an object");
        auto port = resolve_port(tv->as_object().if_contains("port"), container, "tcpSocket");
        if (!port) return port.error();
        spec.port = *port;
        auto host = string_field(tv->as_object(), "host");
        if (!host) return host.error();
        spec.host = *host;
    } else {
        spec.handler = ProbeSpec::Handler::grpc;
        const auto* g = probe.at("grpc").if_object();
        if (!g) return Error(errc::invalid_argument, "grpc must be an object");
        auto port = resolve_port(g->if_contains("port"), container, "grpc");
        if (!port) return port.error();
        spec.port = *port;
    }

    struct Field {
        const char* key;
        std::int32_t* out;
        bool zero_means_default;
    };
    for (const Field& f : {Field{"initialDelaySeconds", &spec.initial_delay_seconds, false},
                           Field{"periodSeconds", &spec.period_seconds, true},
                           Field{"timeoutSeconds", &spec.timeout_seconds, true},
                           Field{"successThreshold", &spec.success_threshold, true},
                           Field{"failureThreshold", &spec.failure_threshold, true}}) {
        auto v = int_field(probe, f.key, *f.out, f.zero_means_default);
        if (!v) return v.error();
        *f.out = *v;
    }
    return spec;
}

ProbeOutcome run_probe(const ProbeSpec& spec, const ProbeTarget& target, const ExecFn& exec) {
    try {
        switch (spec.handler) {
            case ProbeSpec::Handler::exec:
                return exec_probe(spec, target, exec);
            case ProbeSpec::Handler::http_get:
                return http_probe(spec, target);
            case ProbeSpec::Handler::tcp_socket:
                return tcp_probe(spec, target);
            case ProbeSpec::Handler::grpc:
                return errored("gRPC probes are not supported by kedge's edged");
            case ProbeSpec::Handler::none:
                break;
        }
        return errored("probe has no handler");
    } catch (const std::exception& e) {  // allocation failures and the like: never throw
        return errored(std::string("probe failed to run: ") + e.what());
    }
}

// ---- PodProber -----------------------------------------------------------------------------

namespace {

enum class Outcome { unknown, success, failure };

const char* probe_field(ProbeKind kind) {
    switch (kind) {
        case ProbeKind::liveness:
            return "livenessProbe";
        case ProbeKind::readiness:
            return "readinessProbe";
        case ProbeKind::startup:
            return "startupProbe";
    }
    return "";
}

const char* kind_name(ProbeKind kind) {
    switch (kind) {
        case ProbeKind::liveness:
            return "liveness";
        case ProbeKind::readiness:
            return "readiness";
        case ProbeKind::startup:
            return "startup";
    }
    return "";
}

Outcome initial_value(ProbeKind kind) {
    switch (kind) {
        case ProbeKind::liveness:
            return Outcome::success;
        case ProbeKind::readiness:
            return Outcome::failure;
        case ProbeKind::startup:
            return Outcome::unknown;
    }
    return Outcome::unknown;
}

}  // namespace

struct PodProber::State {
    ProbeSpec spec;
    std::string spec_error;  // the probe cannot run (the kubelet would keep the initial value)
    TimePoint started_at;
    std::optional<TimePoint> last_run;
    Outcome current = Outcome::unknown;
    Outcome last = Outcome::unknown;  // the run being counted against the thresholds
    int run = 0;
    bool on_hold = false;  // liveness/startup failed: wait for a new instance
    bool in_flight = false;
    std::string last_failure;

    TimePoint due_at() const {
        TimePoint first = started_at + std::chrono::seconds(spec.initial_delay_seconds);
        if (!last_run) return first;
        return std::max(first, *last_run + std::chrono::seconds(spec.period_seconds));
    }
};

void PodProber::observe(const json::object& pod_spec,
                        const std::map<std::string, std::pair<std::string, TimePoint>>& running,
                        TimePoint now) {
    const json::object* spec = &pod_spec;
    if (!spec->contains("containers")) {
        if (auto* s = pod_spec.if_contains("spec"); s && s->is_object()) spec = &s->as_object();
    }
    std::map<ProbeKey, std::shared_ptr<State>> next;
    const auto* containers = spec->if_contains("containers");
    if (containers && containers->is_array()) {
        for (const auto& cv : containers->as_array()) {
            const auto* c = cv.if_object();
            if (!c) continue;
            const auto* nv = c->if_contains("name");
            if (!nv || !nv->is_string()) continue;
            std::string name(nv->as_string());
            auto run_it = running.find(name);
            if (run_it == running.end()) continue;  // not running: no probe results
            for (ProbeKind kind : {ProbeKind::startup, ProbeKind::liveness, ProbeKind::readiness}) {
                const auto* pv = c->if_contains(probe_field(kind));
                if (!pv || !pv->is_object()) continue;
                ProbeKey key{name, run_it->second.first, kind};
                if (auto old = probes_.find(key); old != probes_.end()) {
                    next.emplace(key, old->second);
                    continue;
                }
                auto st = std::make_shared<State>();
                st->started_at = run_it->second.second;
                st->current = initial_value(kind);
                auto parsed = parse_probe(pv->as_object(), *c);
                if (!parsed) {
                    st->spec_error = std::string(probe_field(kind)) + ": " + parsed.error().detail;
                } else {
                    st->spec = std::move(*parsed);
                    if (kind != ProbeKind::readiness && st->spec.success_threshold != 1)
                        st->spec_error =
                            std::string(probe_field(kind)) + ".successThreshold: must be 1";
                }
                st->last_failure = st->spec_error;
                next.emplace(std::move(key), std::move(st));
            }
        }
    }
    (void)now;
    probes_ = std::move(next);
}

namespace {

template <class Map>
bool gated(const Map& probes, const ProbeKey& key, const PodProber::State& st,
           bool (*is_started)(const PodProber::State&)) {
    if (key.kind == ProbeKind::startup) return is_started(st);  // done for this instance
    auto it = probes.find(ProbeKey{key.container, key.container_id, ProbeKind::startup});
    return it != probes.end() && !is_started(*it->second);
}

}  // namespace

std::vector<std::pair<ProbeKey, ProbeSpec>> PodProber::due(TimePoint now) const {
    std::vector<std::pair<ProbeKey, ProbeSpec>> out;
    auto started = [](const State& s) { return s.current == Outcome::success; };
    for (const auto& [key, st] : probes_) {
        if (!st->spec_error.empty() || st->on_hold || st->in_flight) continue;
        if (gated(probes_, key, *st, +started)) continue;
        if (now >= st->due_at()) out.emplace_back(key, st->spec);
    }
    return out;
}

void PodProber::begin(const ProbeKey& key, TimePoint now) {
    auto it = probes_.find(key);
    if (it == probes_.end()) return;
    it->second->in_flight = true;
    it->second->last_run = now;
}

bool PodProber::record(const ProbeKey& key, const ProbeOutcome& outcome, TimePoint now) {
    auto it = probes_.find(key);
    if (it == probes_.end()) return false;
    State& st = *it->second;
    if (!st.in_flight) st.last_run = now;
    st.in_flight = false;
    if (outcome.errored) {  // thrown away, as the kubelet does with a probe error
        st.last_failure = outcome.message;
        return false;
    }
    Outcome result = outcome.success ? Outcome::success : Outcome::failure;
    if (!outcome.success) st.last_failure = outcome.message;
    if (st.last == result) {
        ++st.run;
    } else {
        st.last = result;
        st.run = 1;
    }
    if ((result == Outcome::failure && st.run < st.spec.failure_threshold) ||
        (result == Outcome::success && st.run < st.spec.success_threshold))
        return false;  // below the threshold: the result stays as it was
    bool flipped = st.current != result;
    st.current = result;
    if (key.kind != ProbeKind::readiness && result == Outcome::failure) {
        // The container will be restarted; stop probing until a new instance shows up.
        st.on_hold = true;
        st.run = 0;
    }
    return flipped;
}

bool PodProber::ready(const std::string& container) const {
    if (!started(container)) return false;
    for (const auto& [key, st] : probes_)
        if (key.container == container && key.kind == ProbeKind::readiness)
            return st->current == Outcome::success;
    return true;
}

bool PodProber::started(const std::string& container) const {
    for (const auto& [key, st] : probes_)
        if (key.container == container && key.kind == ProbeKind::startup)
            return st->current == Outcome::success;
    return true;
}

bool PodProber::live(const std::string& container) const {
    return restart_message(container).empty();
}

std::string PodProber::restart_message(const std::string& container) const {
    // Liveness first, as the kubelet's computePodActions checks it first.
    for (ProbeKind kind : {ProbeKind::liveness, ProbeKind::startup}) {
        for (const auto& [key, st] : probes_) {
            if (key.container == container && key.kind == kind && st->current == Outcome::failure)
                return "Container " + container + " failed " + kind_name(kind) +
                       " probe, will be restarted";
        }
    }
    return {};
}

std::string PodProber::last_failure(const std::string& container, ProbeKind kind) const {
    for (const auto& [key, st] : probes_)
        if (key.container == container && key.kind == kind) return st->last_failure;
    return {};
}

std::optional<TimePoint> PodProber::next_due() const {
    std::optional<TimePoint> best;
    auto started = [](const State& s) { return s.current == Outcome::success; };
    for (const auto& [key, st] : probes_) {
        if (!st->spec_error.empty() || st->on_hold || st->in_flight) continue;
        if (gated(probes_, key, *st, +started)) continue;
        TimePoint t = st->due_at();
        if (!best || t < *best) best = t;
    }
    return best;
}

}  // namespace kedge::edge
