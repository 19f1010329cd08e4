#include "support/mosquitto.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <sstream>
#include <stdexcept>

namespace kedge::test {

namespace {

// mosquitto run as root switches to this user; staying the current user keeps the test's files
// readable.
std::string current_user() {
    if (auto* pw = ::getpwuid(::getuid())) return pw->pw_name;
    return "root";
}

}  // namespace

bool tcp_port_open(int port) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return false;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    return ok;
}

Mosquitto::Mosquitto(std::string dir, MosquittoOptions options)
    : dir_(std::move(dir)), options_(std::move(options)), port_(free_port()) {
    std::ostringstream conf;
    conf << "listener " << port_ << " 127.0.0.1\n"
         << "persistence false\n"
         << "user " << current_user() << "\n"
         << "log_dest stdout\n"
         << "log_type all\n";
    if (!options_.ca_file.empty()) {
        conf << "cafile " << options_.ca_file << "\n"
             << "certfile " << options_.cert_file << "\n"
             << "keyfile " << options_.key_file << "\n"
             << "require_certificate " << (options_.require_certificate ? "true" : "false") << "\n";
    }
    if (!options_.username.empty()) {
        auto pwfile = dir_ + "/mosquitto.passwd";
        auto r = run_command("mosquitto_passwd -b -c " + shell_quote(pwfile) + " " +
                             shell_quote(options_.username) + " " + shell_quote(options_.password));
        if (r.exit_code != 0) throw std::runtime_error("mosquitto_passwd failed: " + r.output);
        conf << "allow_anonymous false\n"
             << "password_file " << pwfile << "\n";
    } else {
        conf << "allow_anonymous true\n";
    }
    write_file(dir_ + "/mosquitto.conf", conf.str());
    start();
}

Mosquitto::~Mosquitto() { stop(); }

std::string Mosquitto::url() const {
    return (options_.ca_file.empty() ? "tcp://127.0.0.1:" : "ssl://127.0.0.1:") +
           std::to_string(port_);
}

void Mosquitto::start() {
    if (process_ && process_->running()) return;
    // Appending keeps the log of earlier runs for a failing test's output.
    process_ = std::make_unique<Process>(
        std::vector<std::string>{"/bin/sh", "-c",
                                 "exec setpriv --pdeathsig TERM stdbuf -oL mosquitto -c " +
                                     shell_quote(dir_ + "/mosquitto.conf") + " >> " +
                                     shell_quote(dir_ + "/mosquitto.log") + " 2>&1"});
    if (!wait_until([this] { return tcp_port_open(port_) || !process_->running(); }) ||
        !process_->running())
        throw std::runtime_error("mosquitto did not start on port " + std::to_string(port_) +
                                 ":\n" + log());
}

void Mosquitto::stop() {
    if (!process_) return;
    process_->stop();
    process_.reset();
    wait_until([this] { return !tcp_port_open(port_); });
}

bool Mosquitto::running() { return process_ && process_->running(); }

std::string Mosquitto::log() const { return read_file(dir_ + "/mosquitto.log"); }

std::string Mosquitto::client_args() const {
    std::string args = "-h 127.0.0.1 -p " + std::to_string(port_);
    if (!options_.ca_file.empty()) {
        args += " --cafile " + shell_quote(options_.ca_file);
    }
    if (!options_.username.empty())
        args += " -u " + shell_quote(options_.username) + " -P " + shell_quote(options_.password);
    return args;
}

CommandResult Mosquitto::publish(const std::string& topic, const std::string& payload,
                                 const std::string& extra_args) const {
    return run_command("mosquitto_pub " + client_args() + " -t " + shell_quote(topic) + " -m " +
                       shell_quote(payload) + " " + extra_args);
}

MosquittoSub::MosquittoSub(const Mosquitto& broker, const std::string& dir,
                           const std::string& filter, const std::string& extra_args)
    : out_(dir + "/mosquitto_sub." + std::to_string(broker.port()) + "." +
           std::to_string(::getpid()) + "." +
           std::to_string(reinterpret_cast<std::uintptr_t>(this)) + ".out") {
    // -d prints the protocol exchange, so the SUBACK tells when the subscription is in place;
    // line buffering (stdbuf) makes every line reach the file as it is printed.
    process_ = std::make_unique<Process>(std::vector<std::string>{
        "/bin/sh", "-c",
        "exec setpriv --pdeathsig TERM stdbuf -oL mosquitto_sub -d -v " + broker.client_args() +
            " -t " + shell_quote(filter) + " " + extra_args + " > " + shell_quote(out_) + " 2>&1"});
    if (!wait_until(
            [this] { return read_file(out_).find("received SUBACK") != std::string::npos; }))
        throw std::runtime_error("mosquitto_sub got no SUBACK for " + filter + ":\n" +
                                 read_file(out_));
}

std::string MosquittoSub::output() const { return read_file(out_); }

std::vector<std::string> MosquittoSub::lines() const {
    std::vector<std::string> out;
    std::istringstream in(read_file(out_));
    for (std::string line; std::getline(in, line);) {
        if (line.starts_with("Client ") || line.starts_with("Subscribed (")) continue;
        out.push_back(line);
    }
    return out;
}

bool MosquittoSub::wait_for_line(const std::string& want,
                                 std::chrono::milliseconds deadline) const {
    return wait_until(
        [&] {
            for (const auto& l : lines())
                if (l == want) return true;
            return false;
        },
        deadline);
}

}  // namespace kedge::test
