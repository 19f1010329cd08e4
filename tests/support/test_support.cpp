#include "support/test_support.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace kedge::test {

TempDir::TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/kedge-test-XXXXXX";
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
}

TempDir::~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds deadline) {
    auto end = std::chrono::steady_clock::now() + deadline;
    while (true) {
        if (pred()) return true;
        if (std::chrono::steady_clock::now() >= end) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

Process::Process(std::vector<std::string> argv, std::string stdout_file,
                 std::map<std::string, std::string> extra_env) {
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);

    std::vector<std::string> env_storage;
    for (char** e = environ; *e; ++e) env_storage.emplace_back(*e);
    for (auto& [k, v] : extra_env) env_storage.push_back(k + "=" + v);
    std::vector<char*> env;
    for (auto& e : env_storage) env.push_back(e.data());
    env.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    if (!stdout_file.empty()) {
        posix_spawn_file_actions_addopen(&actions, 1, stdout_file.c_str(),
                                         O_WRONLY | O_CREAT | O_TRUNC, 0644);
        posix_spawn_file_actions_adddup2(&actions, 1, 2);
    }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    int rc = posix_spawnp(&pid_, args[0], &actions, nullptr, args.data(), env.data());
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) throw std::runtime_error("posix_spawn failed for " + argv[0]);
}

Process::~Process() {
    if (!reaped_) stop(std::chrono::seconds(3));
}

bool Process::running() {
    if (reaped_) return false;
    int st = 0;
    int r = waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
        reaped_ = true;
        status_ = st;
        return false;
    }
    return true;
}

int Process::stop(std::chrono::milliseconds grace) {
    if (!running()) return status_;
    ::kill(pid_, SIGTERM);
    if (!wait_until([this] { return !running(); }, grace)) {
        ::kill(pid_, SIGKILL);
        waitpid(pid_, &status_, 0);
        reaped_ = true;
    }
    return status_;
}

void Process::kill9() {
    if (!running()) return;
    ::kill(pid_, SIGKILL);
    waitpid(pid_, &status_, 0);
    reaped_ = true;
}

bool in_ci() {
    const char* ci = std::getenv("CI");
    return ci != nullptr && std::string(ci) == "true";
}

std::string shell_quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) {
        if (c == '\'')
            out += "'\\''";
        else
            out += c;
    }
    return out + "'";
}

CommandResult run_command(const std::string& command) {
    std::string full = command + " 2>&1";
    FILE* pipe = popen(full.c_str(), "r");
    if (!pipe) return {-1, "popen failed"};
    std::string out;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
    int st = pclose(pipe);
    return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void write_file(const std::string& path, const std::string& content) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
}

int free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    int port = ntohs(addr.sin_port);
    ::close(fd);
    return port;
}

namespace {

void must(const std::string& cmd) {
    auto r = run_command(cmd);
    if (r.exit_code != 0) throw std::runtime_error("command failed: " + cmd + "\n" + r.output);
}

void make_ca(const std::string& dir, const std::string& name, const std::string& cn) {
    must("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30"
         " -subj '/CN=" + cn + "' -keyout " + dir + "/" + name + ".key -out " + dir + "/" + name +
         ".crt -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign");
}

void make_leaf(const std::string& dir, const std::string& ca, const std::string& name,
               const std::string& subj, const std::string& ext) {
    std::string p = dir + "/" + name;
    must("openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj '" + subj +
         "' -keyout " + p + ".key -out " + p + ".csr");
    write_file(p + ".ext", ext);
    must("openssl x509 -req -in " + p + ".csr -CA " + dir + "/" + ca + ".crt -CAkey " + dir + "/" +
         ca + ".key -CAcreateserial -days 30 -extfile " + p + ".ext -out " + p + ".crt");
}

}  // namespace

TestPki make_test_pki(const std::string& dir, const std::string& client_cn,
                      const std::string& client_o) {
    make_ca(dir, "ca", "kedge-test-ca");
    make_ca(dir, "other-ca", "other-test-ca");
    make_leaf(dir, "ca", "server", "/CN=kedge-test-server",
              "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
    std::string client_subj = "/O=" + client_o + "/CN=" + client_cn;
    make_leaf(dir, "ca", "client", client_subj, "extendedKeyUsage=clientAuth\n");
    make_leaf(dir, "other-ca", "other-client", client_subj, "extendedKeyUsage=clientAuth\n");
    TestPki p;
    p.ca_cert = dir + "/ca.crt";
    p.ca_key = dir + "/ca.key";
    p.server_cert = dir + "/server.crt";
    p.server_key = dir + "/server.key";
    p.client_cert = dir + "/client.crt";
    p.client_key = dir + "/client.key";
    p.other_ca_cert = dir + "/other-ca.crt";
    p.other_ca_key = dir + "/other-ca.key";
    p.other_client_cert = dir + "/other-client.crt";
    p.other_client_key = dir + "/other-client.key";
    return p;
}

std::string source_path(const std::string& relative) {
    const char* root = std::getenv("KEDGE_SOURCE_DIR");
    return std::string(root ? root : ".") + "/" + relative;
}

std::string build_path(const std::string& relative) {
    return std::string(KEDGE_BUILD_DIR) + "/" + relative;
}

std::unique_ptr<Process> start_kedge_apiserver(const std::vector<std::string>& args,
                                               const std::string& kubeconfig,
                                               const std::string& log, std::string* error) {
    std::vector<std::string> argv = {build_path("apps/kedge-apiserver/kedge-apiserver")};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back("--write-kubeconfig");
    argv.push_back(kubeconfig);
    std::filesystem::remove(kubeconfig);
    auto p = std::make_unique<Process>(argv, log);
    if (!wait_until(
            [&] { return read_file(kubeconfig).find("server: https://") != std::string::npos; },
            std::chrono::seconds(20))) {
        if (error) *error = "kedge-apiserver did not write its kubeconfig; log:\n" + read_file(log);
        return nullptr;
    }
    return p;
}

}  // namespace kedge::test
