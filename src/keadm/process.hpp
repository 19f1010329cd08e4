#pragma once
// Supervised background processes: `keadm supervise` runs a component, restarts it with
// back-off when it exits and stops it on SIGTERM. Two pid files per component:
//   <name>.pid        the supervisor (what stop_supervised signals)
//   <name>.child.pid  the component itself: its pid, then its argv[0] on the second line
// Every pid read from a file is checked against /proc/<pid>/cmdline before it is trusted, so a
// stale pid file never makes keadm signal an unrelated process that reused the pid.

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "base/error.hpp"

namespace kedge::keadm {

// <dir>/<name>.child.pid for <dir>/<name>.pid.
std::filesystem::path child_pid_file(const std::filesystem::path& pid_file);

// The pid on the first line of a pid file; nullopt when missing or malformed.
std::optional<int> read_pid_file(const std::filesystem::path& file);

// The argv of a live (not zombie) process from /proc; empty when it is gone.
std::vector<std::string> process_cmdline(int pid);

// The supervisor's pid when it runs: alive and its cmdline is `... supervise --pid-file <file>`.
std::optional<int> running_supervisor(const std::filesystem::path& pid_file);
// The component's pid when it runs: alive and its argv[0] is the one recorded in the child pid
// file.
std::optional<int> running_child(const std::filesystem::path& pid_file);
// running_supervisor(pid_file) has a value.
bool is_running(const std::filesystem::path& pid_file);

// Starts `<keadm> supervise --pid-file F --log-file L -- argv...` detached (own session, stdin
// /dev/null, stdout/stderr appended to the log file) and waits until the component runs (its
// child pid file names a live process), up to `deadline`. Returns the supervisor's pid.
// keadm defaults to self_exe().
Result<int> start_supervised(const std::filesystem::path& pid_file,
                             const std::filesystem::path& log_file,
                             const std::vector<std::string>& argv,
                             std::chrono::milliseconds deadline = std::chrono::seconds(10),
                             const std::filesystem::path& keadm = {});

// Stops a supervised component: SIGTERM to the supervisor (which stops the component), waits
// up to grace, then SIGKILL to both. A component left without its supervisor is stopped too.
// Removes both pid files. Returns true when something was running.
Result<bool> stop_supervised(const std::filesystem::path& pid_file,
                             std::chrono::milliseconds grace = std::chrono::seconds(15));

// Restart delays of the supervisor: 1 s doubling to 30 s; back to 1 s after a run that lasted
// longer than the largest delay.
struct RestartBackoff {
    std::chrono::milliseconds initial = std::chrono::seconds(1);
    std::chrono::milliseconds max = std::chrono::seconds(30);
    std::chrono::milliseconds next{0};
    // The delay before the next start, given how long the last run lasted.
    std::chrono::milliseconds after_exit(std::chrono::milliseconds ran_for);
};

}  // namespace kedge::keadm
