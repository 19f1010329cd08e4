// keadm reset cloud: stops what init started and removes what it created under the root dir.
// A cluster given to init with --kube-config is never changed. `reset edge` is reset_edge.cpp.

#include <iostream>

#include "keadm/common.hpp"
#include "keadm/keadm.hpp"
#include "keadm/process.hpp"
#include "keadm/reset_edge.hpp"

namespace kedge::keadm {

namespace fs = std::filesystem;

namespace {

bool stop_component(StepPrinter& steps, const Layout& layout, const std::string& name) {
    steps.begin("stop " + name);
    auto stopped = stop_supervised(layout.pid_file(name));
    if (!stopped) {
        steps.failed(stopped.error().message());
        return false;
    }
    steps.done(*stopped ? "stopped" : "not running");
    return true;
}

// Removes path (recursively); returns how many entries went.
std::uintmax_t remove_path(const fs::path& path, std::vector<std::string>& errors) {
    std::error_code ec;
    auto n = fs::remove_all(path, ec);
    if (ec) {
        errors.push_back(path.string() + ": " + ec.message());
        return 0;
    }
    return n == static_cast<std::uintmax_t>(-1) ? 0 : n;
}

void remove_if_empty(const fs::path& dir) {
    std::error_code ec;
    if (fs::is_directory(dir, ec) && fs::is_empty(dir, ec)) fs::remove(dir, ec);
}

int reset_cloud(const ResetOptions& options) {
    StepPrinter steps("reset");
    Layout layout{fs::absolute(options.common.root_dir).lexically_normal()};
    const fs::path kubeconfig = cloud_kubeconfig(layout);
    const bool external = kubeconfig != admin_kubeconfig(layout);
    steps.note("root dir " + layout.root.string());

    bool ok = stop_component(steps, layout, "cloudcore");
    ok = stop_component(steps, layout, "kedge-apiserver") && ok;
    if (!ok) {
        std::cerr << "keadm reset: processes still run; nothing was removed\n";
        return 1;
    }

    steps.begin("remove files");
    std::vector<std::string> errors;
    std::uintmax_t removed = 0;
    for (const auto& path :
         {cloudcore_config_file(layout), admin_kubeconfig(layout), embedded_data_dir(layout),
          layout.data() / "pki", layout.log_file("cloudcore"), layout.log_file("kedge-apiserver"),
          layout.pid_file("cloudcore"), child_pid_file(layout.pid_file("cloudcore")),
          layout.pid_file("kedge-apiserver"), child_pid_file(layout.pid_file("kedge-apiserver"))})
        removed += remove_path(path, errors);
    // The directories go when nothing else (an edge node on the same root) uses them.
    for (const auto& dir : {layout.config_dir(), layout.etc() / "ca", layout.etc() / "certs",
                            layout.etc(), layout.data(), layout.logs(), layout.run()})
        remove_if_empty(dir);
    if (!errors.empty()) {
        std::string all;
        for (const auto& e : errors) all += "\n  - " + e;
        steps.failed("could not remove:" + all);
        return 1;
    }
    steps.done(removed == 0 ? "nothing to remove"
                            : std::to_string(removed) + " files and directories removed");
    if (external)
        steps.note("the cluster of " + kubeconfig.string() +
                   " was left untouched (its CRDs and the Secrets in namespace kubeedge remain)");
    return 0;
}

}  // namespace

int run_reset(const ResetOptions& options) {
    if (options.what == "edge") return reset_edge(options);
    if (options.what == "cloud") return reset_cloud(options);
    std::cerr << "keadm reset: say what to reset: cloud or edge\n";
    return 2;
}

}  // namespace kedge::keadm
