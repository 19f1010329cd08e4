#pragma once
// Pieces every keadm command shares: finding the kedge binaries, printing timed steps, and small
// file helpers. No Asio here.

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "base/error.hpp"
#include "keadm/keadm.hpp"

namespace kedge::keadm {

// Files of the cloud side beyond Layout: the embedded API server's admin kubeconfig and data,
// and cloudcore's config.
inline std::filesystem::path admin_kubeconfig(const Layout& l) {
    return l.etc() / "admin.kubeconfig";
}
inline std::filesystem::path embedded_data_dir(const Layout& l) { return l.data() / "apiserver"; }
inline std::filesystem::path cloudcore_config_file(const Layout& l) {
    return l.config_dir() / "cloudcore.yaml";
}

// The kubeconfig of the cluster `init` set up: cloudcore.yaml's kubeAPIConfig.kubeConfig, else
// the embedded API server's admin kubeconfig.
std::filesystem::path cloud_kubeconfig(const Layout& layout);

// The running executable (/proc/self/exe).
std::filesystem::path self_exe();

// A kedge binary and how it was found ("bin-dir", "build tree", "PATH"), so output can say which
// copy runs.
struct BinaryLocation {
    std::filesystem::path path;
    std::string how;
};

// Looks for `name` in bin_dir (default: self_exe()'s directory), then bin_dir/../<name>/<name>
// (the build tree: build/x/apps/<name>/<name>), then PATH. not_found lists where it looked.
Result<BinaryLocation> find_binary(const std::string& name, const std::filesystem::path& bin_dir);

// Prints one line per step: "[init] <what>: <result> (<ms> ms)".
class StepPrinter {
public:
    explicit StepPrinter(std::string command) : command_(std::move(command)) {}
    // Starts timing a step.
    void begin(std::string what);
    // Ends the step with its outcome ("created", "already done", "skipped: ...").
    void done(std::string_view outcome);
    // Ends the step with a failure and what to do about it (printed to stderr).
    void failed(std::string_view why);
    // A free-standing line under the command's prefix.
    void note(std::string_view text) const;

private:
    std::string command_;
    std::string what_;
    std::chrono::steady_clock::time_point start_;
};

// Writes content to path through a temporary file and a rename (never a half-written file),
// creating the parent directories; mode applied to the file.
Result<void> write_file_atomic(const std::filesystem::path& path, std::string_view content,
                               std::filesystem::perms mode = std::filesystem::perms::owner_read |
                                                             std::filesystem::perms::owner_write);
// The whole file; not_found / io_error otherwise.
Result<std::string> read_text_file(const std::filesystem::path& path);

// The last lines of a log file, under a header naming it (for failure messages).
std::string log_tail_lines(const std::filesystem::path& file, std::size_t lines = 20);
// "1.3 s".
std::string seconds_text(std::chrono::steady_clock::duration d);
// The first output line of `bin --version` when it exits 0 within the deadline.
std::optional<std::string> ask_version(const std::filesystem::path& bin,
                                       std::chrono::milliseconds deadline);

// True when running on a systemd host (/run/systemd/system exists). keadm does not use systemd
// yet; commands say so.
bool systemd_detected();

}  // namespace kedge::keadm
