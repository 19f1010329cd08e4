#pragma once
// A real mosquitto broker for tests: its own config file and log in the caller's directory, a
// listener on 127.0.0.1 with a free port (kept across restarts), stopped by PID. Also small
// wrappers around mosquitto_pub / mosquitto_sub, the independent MQTT client of the tests.

#include <memory>
#include <string>
#include <vector>

#include "support/test_support.hpp"

namespace kedge::test {

// What the broker's listener requires.
struct MosquittoOptions {
    // Non-empty: a TLS listener with these PEM files.
    std::string ca_file, cert_file, key_file;
    // With TLS: clients must present a certificate signed by ca_file.
    bool require_certificate = false;
    // Non-empty: anonymous clients are refused; only this user (with this password) gets in.
    std::string username, password;
};

// One mosquitto process. Throws std::runtime_error (with the broker's log) when it does not
// start accepting connections within 10 s. The broker also gets SIGTERM when the thread that
// started it dies (setpriv --pdeathsig), so a test that crashes leaves no broker behind: start
// it from the test's own thread.
class Mosquitto {
public:
    explicit Mosquitto(std::string dir, MosquittoOptions options = {});
    ~Mosquitto();
    Mosquitto(const Mosquitto&) = delete;
    Mosquitto& operator=(const Mosquitto&) = delete;

    int port() const { return port_; }
    // tcp://127.0.0.1:<port>, or ssl://... for a TLS listener.
    std::string url() const;
    // Stops the broker (SIGTERM by PID, then SIGKILL) and waits until the port is closed.
    void stop();
    // Starts it again with the same config and port; waits until it accepts.
    void start();
    bool running();
    std::string log() const;

    // mosquitto_pub -t topic -m payload (extra args appended, e.g. "-q 1 -r"); exit code and
    // output.
    CommandResult publish(const std::string& topic, const std::string& payload,
                          const std::string& extra_args = {}) const;
    // The arguments that point an MQTT CLI client at this broker (-h, -p, TLS, credentials).
    std::string client_args() const;

private:
    std::string dir_;
    MosquittoOptions options_;
    int port_ = 0;
    std::unique_ptr<Process> process_;
};

// A mosquitto_sub child subscribed to a filter, printing "topic payload" lines (-v) to a file.
class MosquittoSub {
public:
    // Waits until the broker acknowledged the subscription (SUBACK); throws if not within 10 s.
    MosquittoSub(const Mosquitto& broker, const std::string& dir, const std::string& filter,
                 const std::string& extra_args = {});
    // Received "topic payload" lines so far (debug lines filtered out).
    std::vector<std::string> lines() const;
    // Everything it printed, debug lines included (e.g. "received PUBLISH (d0, q1, r1, ...").
    std::string output() const;
    // Waits until a line equal to want arrives.
    bool wait_for_line(const std::string& want,
                       std::chrono::milliseconds deadline = std::chrono::seconds(10)) const;

private:
    std::string out_;
    std::unique_ptr<Process> process_;
};

// True when something accepts TCP connections on 127.0.0.1:port.
bool tcp_port_open(int port);

}  // namespace kedge::test
