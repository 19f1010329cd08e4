#include "device/mapper/mapper.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>
#include <CLI/CLI.hpp>

#include <pthread.h>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <set>

#include "base/log.hpp"
#include "device/mapper/runtime.hpp"

namespace kedge::device {

namespace {

std::string scalar(const YAML::Node& node, const std::string& where) {
    if (!node.IsScalar()) throw std::runtime_error(where + ": expected a string");
    return node.as<std::string>();
}

// Reads upstream mapper-framework's config.yaml (grpc_server.socket_path, common.name/version/
// api_version/edgecore_sock). Keys upstream has but kedge does not use are accepted; any other
// key is an error naming it.
void load_config_file(const std::string& file, MapperOptions& options) {
    YAML::Node root = YAML::LoadFile(file);
    if (!root.IsMap()) throw std::runtime_error(file + ": expected a mapping");
    static const std::set<std::string> kIgnoredCommon = {"protocol", "address", "http_port"};
    for (const auto& section : root) {
        std::string name = section.first.as<std::string>();
        const YAML::Node& body = section.second;
        if (name == "grpc_server") {
            for (const auto& kv : body) {
                std::string key = kv.first.as<std::string>();
                std::string where = fmt::format("{}: grpc_server.{}", file, key);
                if (key == "socket_path") {
                    options.socket = scalar(kv.second, where);
                } else {
                    throw std::runtime_error(where + ": unknown key");
                }
            }
        } else if (name == "common") {
            for (const auto& kv : body) {
                std::string key = kv.first.as<std::string>();
                std::string where = fmt::format("{}: common.{}", file, key);
                if (key == "name") {
                    options.name = scalar(kv.second, where);
                } else if (key == "version") {
                    options.version = scalar(kv.second, where);
                } else if (key == "api_version") {
                    options.api_version = scalar(kv.second, where);
                } else if (key == "edgecore_sock") {
                    options.dmi_socket = scalar(kv.second, where);
                } else if (!kIgnoredCommon.contains(key)) {
                    throw std::runtime_error(where + ": unknown key");
                }
            }
        } else {
            throw std::runtime_error(fmt::format("{}: {}: unknown key", file, name));
        }
    }
}

}  // namespace

MapperOptions parse_mapper_flags(int argc, char** argv, std::string default_name) {
    MapperOptions options;
    options.name = std::move(default_name);
    std::string config_file, dmi_sock, sock, name, log_level;
    std::int64_t register_retry_ms = 0;
    CLI::App app{"kedge device mapper: serves DeviceMapperService and reports to edgecore"};
    app.add_option("--config", config_file,
                   "upstream mapper config.yaml (grpc_server.socket_path, common.*)")
        ->check(CLI::ExistingFile);
    app.add_option("--dmi-sock", dmi_sock,
                   "edgecore's DMI socket (default /etc/kubeedge/dmi.sock)");
    app.add_option("--sock", sock, "this mapper's socket (default /etc/kubeedge/<protocol>.sock)");
    app.add_option("--name", name, "mapper name announced to edgecore");
    app.add_option("--register-retry-ms", register_retry_ms,
                   "delay between MapperRegister attempts")
        ->check(CLI::Range(int64_t{10}, int64_t{600000}));
    app.add_option("--log-level", log_level, "trace|debug|info|warn|error or a KEDGE_LOG spec");
    try {
        app.parse(argc, argv);
        if (!config_file.empty()) load_config_file(config_file, options);
    } catch (const CLI::ParseError& e) {
        std::exit(app.exit(e));
    } catch (const std::exception& e) {
        std::cerr << "error: " << e.what() << "\n";
        std::exit(2);
    }
    // Flags win over the file.
    if (!dmi_sock.empty()) options.dmi_socket = dmi_sock;
    if (!sock.empty()) options.socket = sock;
    if (!name.empty()) options.name = name;
    if (register_retry_ms > 0)
        options.register_retry = std::chrono::milliseconds(register_retry_ms);
    log::init();
    if (!log_level.empty()) log::apply_spec(log_level);
    return options;
}

int run_mapper(std::unique_ptr<Driver> driver, MapperOptions options) {
    log::init();
    // Block the stop signals in every thread (threads inherit the mask) and take them here.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    auto logger = log::get("mapper");
    MapperRuntime runtime(std::move(driver), std::move(options));
    if (auto r = runtime.start(); !r) {
        logger->error("{}", r.error().message());
        return 1;
    }
    int sig = 0;
    while (sigwait(&signals, &sig) != 0) {
    }
    logger->info("signal {}: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
    runtime.stop();
    return 0;
}

}  // namespace kedge::device
