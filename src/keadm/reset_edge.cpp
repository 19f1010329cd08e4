// keadm reset edge: stops edgecore (through its pid file), optionally removes the pods'
// sandboxes through CRI, and removes what `keadm join` created under the root dir. Anything a
// cloud install on the same root owns (cloudcore.yaml, the embedded API server's data) stays.
// Idempotent: a second run finds nothing and succeeds.

#include <iostream>

#include "base/config_yaml.hpp"
#include "cri/cri_client.hpp"
#include "edge/config/edgecore_config.hpp"
#include "keadm/common.hpp"
#include "keadm/preflight.hpp"
#include "keadm/process.hpp"
#include "keadm/reset_edge.hpp"

namespace kedge::keadm {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

// The label every pod sandbox made by edged (or a kubelet) carries; sandboxes without it were
// made by someone else and are left alone.
constexpr const char* kPodUidLabel = "io.kubernetes.pod.uid";

// Stops and removes every pod sandbox (and with it its containers) on the runtime.
bool remove_pod_containers(StepPrinter& steps, const std::string& endpoint) {
    steps.begin("remove pod containers (" + endpoint + ")");
    cri::CriClientOptions options;
    options.endpoint = endpoint;
    options.timeout = 30s;
    auto client = cri::CriClient::connect(options);
    if (!client) {
        steps.failed(client.error().detail);
        return false;
    }
    auto sandboxes = (*client)->list_pod_sandboxes();
    if (!sandboxes) {
        steps.failed(sandboxes.error().detail);
        return false;
    }
    int removed = 0, left = 0;
    std::vector<std::string> errors;
    for (const auto& sb : *sandboxes) {
        if (!sb.labels().contains(kPodUidLabel)) {
            ++left;
            continue;
        }
        const auto& meta = sb.metadata();
        std::string what = meta.namespace_() + "/" + meta.name();
        if (auto s = (*client)->stop_pod_sandbox(sb.id()); !s) {
            errors.push_back(what + ": " + s.error().detail);
            continue;
        }
        if (auto r = (*client)->remove_pod_sandbox(sb.id()); !r) {
            errors.push_back(what + ": " + r.error().detail);
            continue;
        }
        ++removed;
    }
    if (!errors.empty()) {
        std::string all;
        for (const auto& e : errors) all += "\n  - " + e;
        steps.failed("could not remove:" + all);
        return false;
    }
    steps.done(std::to_string(removed) + " pod sandboxes removed" +
               (left ? ", " + std::to_string(left) + " not made for pods left alone" : ""));
    return true;
}

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

}  // namespace

int reset_edge(const ResetOptions& options) {
    StepPrinter steps("reset");
    Layout layout{fs::absolute(options.common.root_dir).lexically_normal()};
    const fs::path config_file = layout.config_dir() / "edgecore.yaml";
    steps.note("root dir " + layout.root.string());

    // The runtime endpoint is read before the config goes.
    std::string endpoint;
    std::error_code ec;
    if (options.remove_containers) {
        if (fs::exists(config_file, ec)) {
            try {
                endpoint = load_yaml_file<edge::EdgeCoreConfig>(config_file.string())
                               .modules.edged.tailored_kubelet_config.container_runtime_endpoint;
            } catch (const std::exception& e) {
                std::cerr << "keadm reset: --remove-containers: " << e.what() << "\n";
                return 1;
            }
        } else {
            steps.note("--remove-containers: no edgecore.yaml, so no runtime to clean");
        }
    }

    steps.begin("stop edgecore");
    auto stopped = stop_supervised(layout.pid_file("edgecore"));
    if (!stopped) {
        steps.failed(stopped.error().message());
        return 1;
    }
    // An edgecore started by hand (or `join --foreground`) with this root's config.
    if (auto running = check_edgecore_not_running(layout, config_file); !running.ok) {
        steps.failed(running.message + "; nothing was removed");
        return 1;
    }
    steps.done(*stopped ? "stopped" : "not running");

    if (!endpoint.empty() && !remove_pod_containers(steps, endpoint)) return 1;

    steps.begin("remove files");
    std::vector<std::string> errors;
    std::uintmax_t removed = 0;
    const auto pid_file = layout.pid_file("edgecore");
    for (const auto& path :
         {config_file, layout.etc() / "ca", layout.etc() / "certs", layout.etc() / "manifests",
          layout.etc() / "dmi.sock", layout.data() / "edgecore.db",
          layout.data() / "edgecore.db-wal", layout.data() / "edgecore.db-shm",
          layout.data() / "edgecore.db-journal", layout.log_file("edgecore"), pid_file,
          child_pid_file(pid_file), layout.root / "var/lib/kubelet", layout.root / "var/log/pods",
          layout.root / "var/log/containers"})
        removed += remove_path(path, errors);
    // The shared directories go when nothing else (a cloud on the same root) uses them.
    for (const auto& dir :
         {layout.config_dir(), layout.etc(), layout.data(), layout.logs(), layout.run()})
        remove_if_empty(dir);
    if (!errors.empty()) {
        std::string all;
        for (const auto& e : errors) all += "\n  - " + e;
        steps.failed("could not remove:" + all);
        return 1;
    }
    steps.done(removed == 0 ? "nothing to remove"
                            : std::to_string(removed) + " files and directories removed");
    if (!options.remove_containers)
        steps.note(
            "pod containers were left running on the runtime; --remove-containers "
            "removes them");
    steps.note(
        "the node object stays in the cloud: delete it there (kubectl delete node "
        "<name>) before joining again under the same name");
    return 0;
}

}  // namespace kedge::keadm
