// cloudcore: parses flags, loads cloudcore.yaml and runs the cloud side (src/cloud/cloudcore).

#include <CLI/CLI.hpp>

#include <exception>
#include <iostream>

#include "base/config_yaml.hpp"
#include "base/log.hpp"
#include "cloud/cloudcore/cloudcore.hpp"

int main(int argc, char** argv) {
    std::string config_file = "/etc/kubeedge/config/cloudcore.yaml";
    std::vector<std::string> sets;
    std::string log_level = "info";
    std::string instance;
    bool default_config = false, min_config = false;
    CLI::App app{"cloudcore: the cloud side of kedge (KubeEdge-compatible)"};
    app.set_version_flag("--version", "cloudcore v" KEDGE_VERSION " (kedge)");
    app.add_option("--config", config_file, "cloudcore.yaml to load");
    app.add_flag("--defaultconfig", default_config, "print a complete default config and exit");
    app.add_flag("--minconfig", min_config, "print a minimal config and exit");
    app.add_option("--set", sets, "override a config key: modules.cloudHub.nodeLimit=5000");
    app.add_option("--instance-id", instance, "this replica's name (default: host name)");
    app.add_option("--log-level", log_level, "log spec, e.g. info or debug,cloudhub=trace");
    CLI11_PARSE(app, argc, argv);

    kedge::cloud::CloudCoreConfig cfg;
    if (default_config) {
        std::cout << kedge::to_yaml(cfg);
        return 0;
    }
    if (min_config) {
        std::cout << kedge::cloud::min_config_yaml(cfg);
        return 0;
    }
    kedge::log::init();
    kedge::log::apply_spec(log_level);
    try {
        cfg = kedge::load_yaml_file<kedge::cloud::CloudCoreConfig>(config_file);
        for (const auto& s : sets) kedge::apply_set(cfg, s);
        kedge::validate_config(cfg, config_file);
    } catch (const std::exception& e) {
        std::cerr << "cloudcore: " << e.what() << "\n";
        return 2;
    }
    try {
        return kedge::cloud::run_cloudcore({.config = cfg, .instance_id = instance});
    } catch (const std::exception& e) {
        std::cerr << "cloudcore: " << e.what() << "\n";
        return 1;
    }
}
