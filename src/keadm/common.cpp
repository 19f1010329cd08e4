#include "keadm/common.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <deque>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <system_error>

namespace kedge::keadm {

namespace fs = std::filesystem;

fs::path self_exe() {
    std::error_code ec;
    auto p = fs::read_symlink("/proc/self/exe", ec);
    return ec ? fs::path("keadm") : p;
}

namespace {

bool is_executable_file(const fs::path& p) {
    std::error_code ec;
    return fs::is_regular_file(p, ec) && ::access(p.c_str(), X_OK) == 0;
}

}  // namespace

Result<BinaryLocation> find_binary(const std::string& name, const fs::path& bin_dir) {
    fs::path dir = bin_dir.empty() ? self_exe().parent_path() : bin_dir;
    std::string looked;
    auto candidate = dir / name;
    if (is_executable_file(candidate)) return BinaryLocation{fs::absolute(candidate), "bin-dir"};
    looked += candidate.string();
    // In a build tree every binary has its own directory: build/x/apps/<name>/<name>.
    candidate = dir / ".." / name / name;
    if (is_executable_file(candidate))
        return BinaryLocation{fs::absolute(candidate).lexically_normal(), "build tree"};
    looked += ", " + candidate.string();
    if (const char* path = std::getenv("PATH")) {
        std::stringstream ss(path);
        std::string entry;
        while (std::getline(ss, entry, ':')) {
            if (entry.empty()) continue;
            candidate = fs::path(entry) / name;
            if (is_executable_file(candidate))
                return BinaryLocation{fs::absolute(candidate), "PATH"};
        }
    }
    looked += ", $PATH";
    return Error(errc::not_found,
                 name + " not found (looked in " + looked + "); build it or pass --bin-dir");
}

void StepPrinter::begin(std::string what) {
    what_ = std::move(what);
    start_ = std::chrono::steady_clock::now();
}

void StepPrinter::done(std::string_view outcome) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - start_)
                  .count();
    std::cout << "[" << command_ << "] " << what_ << ": " << outcome << " (" << ms << " ms)"
              << std::endl;
}

void StepPrinter::failed(std::string_view why) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - start_)
                  .count();
    std::cout << "[" << command_ << "] " << what_ << ": FAILED (" << ms << " ms)" << std::endl;
    std::cerr << "keadm " << command_ << ": " << what_ << ": " << why << std::endl;
}

void StepPrinter::note(std::string_view text) const {
    std::cout << "[" << command_ << "] " << text << std::endl;
}

Result<void> write_file_atomic(const fs::path& path, std::string_view content, fs::perms mode) {
    std::error_code ec;
    if (path.has_parent_path()) {
        fs::create_directories(path.parent_path(), ec);
        if (ec)
            return Error(errc::io_error,
                         "cannot create " + path.parent_path().string() + ": " + ec.message());
    }
    auto tmp = path;
    tmp += ".tmp." + std::to_string(::getpid());
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        if (!out) return Error(errc::io_error, "cannot write " + tmp.string());
        out.write(content.data(), static_cast<std::streamsize>(content.size()));
        out.flush();
        if (!out) return Error(errc::io_error, "cannot write " + tmp.string());
    }
    fs::permissions(tmp, mode, ec);
    fs::rename(tmp, path, ec);
    if (ec) {
        fs::remove(tmp, ec);
        return Error(errc::io_error, "cannot rename into " + path.string());
    }
    return {};
}

Result<std::string> read_text_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        std::error_code ec;
        if (!fs::exists(path, ec)) return Error(errc::not_found, path.string() + " does not exist");
        return Error(errc::io_error, "cannot read " + path.string());
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

bool systemd_detected() {
    std::error_code ec;
    return fs::is_directory("/run/systemd/system", ec);
}

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
    // EOF comes a moment before the exit status: give the child until the deadline to exit.
    int status = 0;
    pid_t done = 0;
    while ((done = ::waitpid(pid, &status, WNOHANG)) == 0 &&
           std::chrono::steady_clock::now() < until)
        ::usleep(5000);
    if (done == 0) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        return std::nullopt;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return std::nullopt;
    auto line = out.substr(0, out.find('\n'));
    if (line.empty()) return std::nullopt;
    return line;
}


std::string log_tail_lines(const std::filesystem::path& file, std::size_t lines) {
    std::ifstream in(file);
    std::deque<std::string> last;
    std::string line;
    while (std::getline(in, line)) {
        last.push_back(line);
        if (last.size() > lines) last.pop_front();
    }
    std::string out = "---- last lines of " + file.string() + " ----";
    for (const auto& l : last) out += "\n" + l;
    return out;
}

std::string seconds_text(std::chrono::steady_clock::duration d) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f s", std::chrono::duration<double>(d).count());
    return buf;
}

}  // namespace kedge::keadm
