#pragma once
// Helpers shared by every kedge test binary: temp dirs, waiting on conditions with a deadline,
// child processes stopped by PID, and test certificates made by the openssl CLI (an independent
// implementation, so tests of our TLS code do not trust our own pki library).

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <memory>
#include <vector>

namespace kedge::test {

// A fresh directory under $TMPDIR, removed (recursively) when the object goes away.
class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::string& path() const { return path_; }
    std::string file(const std::string& name) const { return path_ + "/" + name; }

private:
    std::string path_;
};

// Polls pred every few milliseconds until it is true or the deadline passes.
bool wait_until(const std::function<bool()>& pred,
                std::chrono::milliseconds deadline = std::chrono::seconds(10));

// A child process started with argv (no shell). Stopped by PID (SIGTERM, then SIGKILL) when
// the object goes away; never touches processes it did not start.
class Process {
public:
    explicit Process(std::vector<std::string> argv, std::string stdout_file = {},
                     std::map<std::string, std::string> extra_env = {});
    ~Process();
    Process(const Process&) = delete;
    Process& operator=(const Process&) = delete;
    int pid() const { return pid_; }
    bool running();
    // Sends SIGTERM, waits up to grace, then SIGKILL. Returns the exit status (waitpid form).
    int stop(std::chrono::milliseconds grace = std::chrono::seconds(5));
    void kill9();

private:
    int pid_ = -1;
    int status_ = 0;
    bool reaped_ = false;
};

// True in CI (CI=true): a test that would skip for a missing tool or capability fails there
// instead, since CI installs everything (scripts/setup).
bool in_ci();

// s as one single-quoted shell word (for run_command lines).
std::string shell_quote(const std::string& s);

// Runs a command through /bin/sh -c, returns {exit code, combined stdout+stderr}.
struct CommandResult {
    int exit_code;
    std::string output;
};
CommandResult run_command(const std::string& command);

std::string read_file(const std::string& path);
void write_file(const std::string& path, const std::string& content);

// A free TCP port on 127.0.0.1 (bound then released; fine for tests that start a child).
int free_port();

// Certificates made with the openssl CLI: an ECDSA P-256 CA, a server certificate for
// 127.0.0.1/localhost, a client certificate (CN/O given), and a second unrelated CA with its own
// client certificate for "wrong CA" tests. All PEM files in dir.
struct TestPki {
    std::string ca_cert, ca_key;
    std::string server_cert, server_key;
    std::string client_cert, client_key;
    std::string other_ca_cert, other_ca_key;
    std::string other_client_cert, other_client_key;
};
TestPki make_test_pki(const std::string& dir, const std::string& client_cn = "system:node:edge1",
                      const std::string& client_o = "system:nodes");

// Absolute path of a file in the source tree (KEDGE_SOURCE_DIR is set by ctest).
std::string source_path(const std::string& relative);

// Absolute path of a file in the build tree, e.g. "apps/kedge-apiserver/kedge-apiserver".
std::string build_path(const std::string& relative);

// Starts the kedge-apiserver binary (args after the binary; --write-kubeconfig <kubeconfig> is
// added) with its output in log, and waits up to 20 s until the kubeconfig names the server.
// On failure returns nullptr and puts the reason and the log in *error.
std::unique_ptr<Process> start_kedge_apiserver(const std::vector<std::string>& args,
                                               const std::string& kubeconfig,
                                               const std::string& log, std::string* error);

}  // namespace kedge::test
