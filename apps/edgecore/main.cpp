// edgecore: parses flags, loads edgecore.yaml and runs the edge side (src/edge/edgecore).

#include <CLI/CLI.hpp>

#include <exception>
#include <iostream>

#include "base/config_yaml.hpp"
#include "base/log.hpp"
#include "edge/edgecore/edgecore.hpp"

int main(int argc, char** argv) {
    std::string config_file = "/etc/kubeedge/config/edgecore.yaml";
    std::vector<std::string> sets;
    std::string log_level = "info";
    bool default_config = false, min_config = false;
    CLI::App app{"edgecore: the edge side of kedge (KubeEdge-compatible)"};
    app.set_version_flag("--version", "edgecore v" KEDGE_VERSION " (kedge)");
    app.add_option("--config", config_file, "edgecore.yaml to load");
    app.add_flag("--defaultconfig", default_config, "print a complete default config and exit");
    app.add_flag("--minconfig", min_config, "print a minimal config and exit");
    app.add_option("--set", sets, "override a config key: modules.edgeHub.heartbeat=5");
    app.add_option("--log-level", log_level, "log spec, e.g. info or debug,edgehub=trace");
    CLI11_PARSE(app, argc, argv);

    kedge::edge::EdgeCoreConfig cfg;
    if (default_config) {
        std::cout << kedge::to_yaml(cfg);
        return 0;
    }
    if (min_config) {
        std::cout << kedge::edge::min_config_yaml(cfg);
        return 0;
    }
    kedge::log::init();
    kedge::log::apply_spec(log_level);
    try {
        cfg = kedge::load_yaml_file<kedge::edge::EdgeCoreConfig>(config_file);
        for (const auto& s : sets) kedge::apply_set(cfg, s);
        kedge::validate_config(cfg, config_file);
    } catch (const std::exception& e) {
        std::cerr << "edgecore: " << e.what() << "\n";
        return 2;
    }
    try {
        return kedge::edge::run_edgecore({.config = cfg});
    } catch (const std::exception& e) {
        std::cerr << "edgecore: " << e.what() << "\n";
        return 1;
    }
}
