#include "etcd_server.hpp"

#include <chrono>

namespace kedge::test {

EtcdServer::EtcdServer(std::string data_dir)
    : data_dir_(std::move(data_dir)), client_port_(free_port()), peer_port_(free_port()) {
    start();
}

EtcdServer::~EtcdServer() { stop(); }

void EtcdServer::start() {
    if (process_) return;
    auto peer = "http://127.0.0.1:" + std::to_string(peer_port_);
    ++starts_;
    process_ = std::make_unique<Process>(
        std::vector<std::string>{"/usr/bin/etcd", "--name", "kedge-test", "--data-dir", data_dir_,
                                 "--listen-client-urls", url(), "--advertise-client-urls", url(),
                                 "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                                 "--initial-cluster", "kedge-test=" + peer},
        data_dir_ + ".log." + std::to_string(starts_));
}

void EtcdServer::stop() {
    if (!process_) return;
    process_->stop(std::chrono::seconds(10));
    process_.reset();
}

void EtcdServer::kill9() {
    if (!process_) return;
    process_->kill9();
    process_.reset();
}

apiserver::storage::EtcdOptions EtcdServer::options(std::string key_prefix) const {
    apiserver::storage::EtcdOptions o;
    o.endpoints = {url()};
    o.key_prefix = std::move(key_prefix);
    o.dial_timeout = std::chrono::seconds(15);
    o.request_timeout = std::chrono::seconds(15);
    return o;
}

std::string EtcdServer::log() const {
    return read_file(data_dir_ + ".log." + std::to_string(starts_));
}

}  // namespace kedge::test
