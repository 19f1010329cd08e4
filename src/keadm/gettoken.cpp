// keadm gettoken: prints the join token (and nothing else, so that scripts can capture it).

#include <iostream>

#include "base/config_yaml.hpp"
#include "cloud/config/cloudcore_config.hpp"
#include "keadm/common.hpp"
#include "keadm/keadm.hpp"
#include "keadm/kube_ops.hpp"

namespace kedge::keadm {

namespace fs = std::filesystem;

fs::path cloud_kubeconfig(const Layout& layout) {
    // cloudcore.yaml names the cluster init set up (embedded or --kube-config).
    std::error_code ec;
    const auto config = cloudcore_config_file(layout);
    if (fs::exists(config, ec)) {
        try {
            auto cfg = load_yaml_file<cloud::CloudCoreConfig>(config.string());
            if (!cfg.kube_api_config.kube_config.empty()) return cfg.kube_api_config.kube_config;
        } catch (const std::exception&) {
            // Fall back to the admin kubeconfig below; the caller reports what fails.
        }
    }
    return admin_kubeconfig(layout);
}

int run_gettoken(const GetTokenOptions& options) {
    Layout layout{fs::absolute(options.common.root_dir).lexically_normal()};
    fs::path kubeconfig =
        options.kube_config.empty() ? cloud_kubeconfig(layout) : fs::path(options.kube_config);
    std::error_code ec;
    if (!fs::exists(kubeconfig, ec)) {
        std::cerr << "keadm gettoken: no kubeconfig at " << kubeconfig.string()
                  << " (run keadm init first, or pass --kube-config)\n";
        return 1;
    }
    auto token = read_token(kubeconfig);
    if (!token) {
        std::cerr << "keadm gettoken: " << token.error().message() << "\n";
        return 1;
    }
    if (!*token) {
        std::cerr << "keadm gettoken: Secret kubeedge/tokensecret has no token yet (is cloudcore "
                     "running?)\n";
        return 1;
    }
    std::cout << **token << std::endl;
    return 0;
}

}  // namespace kedge::keadm
