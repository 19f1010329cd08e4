#pragma once
// A real etcd (Debian's etcd-server) for one test: loopback ports, its own data dir, stopped by
// PID. Restartable on the same data dir and ports.

#include <memory>
#include <string>

#include "apiserver/storage/etcd_storage.hpp"
#include "support/test_support.hpp"

namespace kedge::test {

class EtcdServer {
public:
    explicit EtcdServer(std::string data_dir);
    ~EtcdServer();
    EtcdServer(const EtcdServer&) = delete;
    EtcdServer& operator=(const EtcdServer&) = delete;

    void start();
    void stop();   // SIGTERM, waits
    void kill9();  // no clean shutdown
    bool running() const { return process_ != nullptr; }

    std::string url() const { return "http://127.0.0.1:" + std::to_string(client_port_); }
    apiserver::storage::EtcdOptions options(std::string key_prefix = "/kedge-test") const;
    // The etcd log (stdout + stderr), for failure messages.
    std::string log() const;

private:
    std::string data_dir_;
    int client_port_;
    int peer_port_;
    int starts_ = 0;
    std::unique_ptr<Process> process_;
};

}  // namespace kedge::test
