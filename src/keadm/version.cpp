// keadm version: keadm's own version, then each component's when its binary answers --version.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <optional>
#include <string>

#include "keadm/common.hpp"
#include "keadm/keadm.hpp"

#ifndef KEDGE_VERSION
#define KEDGE_VERSION "0.1.0"
#endif

namespace kedge::keadm {

namespace {

// The first output line of `bin --version` when it exits 0 within the deadline.
std::optional<std::string> ask_version(const std::filesystem::path& bin,
                                       std::chrono::milliseconds deadline) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return std::nullopt;
    std::string path = bin.string(), flag = "--version";
    char* argv[] = {path.data(), flag.data(), nullptr};
    pid_t pid = ::fork();
    if (pid < 0) {
        ::close(fds[0]);
        ::close(fds[1]);
        return std::nullopt;
    }
    if (pid == 0) {
        ::dup2(fds[1], 1);
        ::dup2(fds[1], 2);
        ::execv(argv[0], argv);
        ::_exit(127);
    }
    ::close(fds[1]);
    std::string out;
    auto until = std::chrono::steady_clock::now() + deadline;
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            until - std::chrono::steady_clock::now());
        if (left.count() <= 0) break;
        pollfd p{fds[0], POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
        char buf[512];
        auto n = ::read(fds[0], buf, sizeof buf);
        if (n <= 0) break;
        if (out.size() < 4096) out.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fds[0]);
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == 0) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        return std::nullopt;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return std::nullopt;
    auto line = out.substr(0, out.find('\n'));
    if (line.empty()) return std::nullopt;
    return line;
}

}  // namespace

int run_version() {
    std::cout << "keadm version: v" KEDGE_VERSION " (kedge)" << std::endl;
    for (const char* name : {"cloudcore", "edgecore", "kedge-apiserver"}) {
        auto bin = find_binary(name, {});
        if (!bin) {
            std::cout << name << ": not found" << std::endl;
            continue;
        }
        auto version = ask_version(bin->path, std::chrono::seconds(3));
        std::cout << name << ": " << (version ? *version : "(does not report a version)") << " at "
                  << bin->path.string() << std::endl;
    }
    return 0;
}

}  // namespace kedge::keadm
