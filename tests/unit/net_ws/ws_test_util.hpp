#pragma once
// Shared by the net_ws unit and integration tests: an io_context driven until a coroutine
// finishes (servers keep it busy forever, so run_for would always hit its limit), TLS contexts
// from the openssl-made test PKI, an echo handler and a log capture.

#include "base/log.hpp"
#include "net/tls_context.hpp"
#include "net/ws_client.hpp"
#include "net/ws_server.hpp"
#include "support/log_capture.hpp"
#include "support/test_support.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <spdlog/sinks/ostream_sink.h>

#include <chrono>
#include <mutex>
#include <sstream>
#include <stdexcept>

namespace kedge::net::test {

namespace asio = boost::asio;
using namespace std::chrono_literals;

// Runs aw on ioc, driving ioc until it completes or limit passes.
template <class T>
T run(asio::io_context& ioc, asio::awaitable<T> aw, std::chrono::seconds limit = 20s) {
    auto fut = asio::co_spawn(ioc, std::move(aw), asio::use_future);
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (fut.wait_for(0s) != std::future_status::ready) {
        if (std::chrono::steady_clock::now() > deadline)
            throw std::runtime_error("coroutine did not finish within the test's time limit");
        if (ioc.stopped()) ioc.restart();
        ioc.run_one_for(20ms);
    }
    return fut.get();
}

// Drives ioc until pred holds (or the deadline passes); false on timeout.
template <class Pred>
bool drive_until(asio::io_context& ioc, Pred pred, std::chrono::milliseconds limit = 10s) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (!pred()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        if (ioc.stopped()) ioc.restart();
        ioc.run_one_for(20ms);
    }
    return true;
}

struct Pki {
    kedge::test::TestPki files;
    std::shared_ptr<TlsContext> server;
    std::shared_ptr<TlsContext> client;        // CA + client cert from the same CA
    std::shared_ptr<TlsContext> other_client;  // client cert from the unrelated CA

    explicit Pki(const std::string& dir) : files(kedge::test::make_test_pki(dir)) {
        server = TlsContext::make_server({PemSource::from_file(files.ca_cert),
                                          PemSource::from_file(files.server_cert),
                                          PemSource::from_file(files.server_key),
                                          ClientAuth::require})
                     .value();
        client = TlsContext::make_client({PemSource::from_file(files.ca_cert),
                                          PemSource::from_file(files.client_cert),
                                          PemSource::from_file(files.client_key)})
                     .value();
        other_client = TlsContext::make_client({PemSource::from_file(files.ca_cert),
                                                PemSource::from_file(files.other_client_cert),
                                                PemSource::from_file(files.other_client_key)})
                           .value();
    }
};

// Echoes every message until the connection ends.
inline asio::awaitable<void> echo(std::shared_ptr<WsConnection> c) {
    for (;;) {
        auto m = co_await c->read();
        if (!m) co_return;
        (void)c->send(std::move(*m));
    }
}

// Collects what one component's logger ("net.ws" by default) writes while it is alive.
class LogCapture {
public:
    explicit LogCapture(std::string_view component = "net.ws") : capture_(log::get(component)) {}
    std::string text() { return capture_.text(); }

private:
    kedge::test::LoggerCapture capture_;
};

}  // namespace kedge::net::test
