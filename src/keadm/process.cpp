#include "keadm/process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>
#include <thread>

#include "keadm/common.hpp"
#include "keadm/keadm.hpp"

namespace kedge::keadm {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

fs::path child_pid_file(const fs::path& pid_file) {
    auto out = pid_file;
    out.replace_extension(".child.pid");
    return out;
}

std::optional<int> read_pid_file(const fs::path& file) {
    std::ifstream in(file);
    long pid = 0;
    if (!(in >> pid) || pid <= 1 || pid > 4'194'304) return std::nullopt;
    return static_cast<int>(pid);
}

namespace {

// The second line of a child pid file: the component's argv[0].
std::string read_recorded_argv0(const fs::path& file) {
    std::ifstream in(file);
    std::string line;
    std::getline(in, line);
    std::getline(in, line);
    return line;
}

fs::path normal_absolute(const fs::path& p) {
    std::error_code ec;
    auto abs = fs::absolute(p, ec);
    return (ec ? p : abs).lexically_normal();
}

bool is_zombie(int pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat;
    std::getline(in, stat);
    // "pid (comm) S ...": comm may hold spaces and parentheses, the state follows the last ')'.
    auto close = stat.rfind(')');
    return close == std::string::npos || close + 2 >= stat.size() || stat[close + 2] == 'Z' ||
           stat[close + 2] == 'X';
}

// Polls until gone(pid) or the deadline; true when it went.
template <class Pred>
bool wait_for(Pred done, std::chrono::milliseconds deadline) {
    auto until = std::chrono::steady_clock::now() + deadline;
    while (!done()) {
        if (std::chrono::steady_clock::now() >= until) return false;
        std::this_thread::sleep_for(20ms);
    }
    return true;
}

std::string timestamp() {
    std::time_t now = std::time(nullptr);
    std::tm tm{};
    ::gmtime_r(&now, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

// Supervisor log lines go to stderr, which is the component's log file.
template <class... Args>
void say(const char* fmt, Args... args) {
    std::fprintf(stderr, "%s keadm supervise: ", timestamp().c_str());
    std::fprintf(stderr, fmt, args...);
    std::fputc('\n', stderr);
    std::fflush(stderr);
}

std::string tail_of(const fs::path& file, std::size_t max_bytes = 2000) {
    auto text = read_text_file(file);
    if (!text) return {};
    return text->size() > max_bytes ? text->substr(text->size() - max_bytes) : *text;
}

// Alive and not a zombie. Unlike an empty cmdline this does not flicker while the process execs.
bool process_alive(int pid) { return pid > 0 && ::kill(pid, 0) == 0 && !is_zombie(pid); }

}  // namespace

std::vector<std::string> process_cmdline(int pid) {
    std::vector<std::string> out;
    if (pid <= 0 || is_zombie(pid)) return out;
    std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
    std::string arg;
    while (std::getline(in, arg, '\0')) out.push_back(arg);
    return out;
}

std::optional<int> running_supervisor(const fs::path& pid_file) {
    auto pid = read_pid_file(pid_file);
    if (!pid) return std::nullopt;
    auto cmd = process_cmdline(*pid);
    const std::string want = normal_absolute(pid_file).string();
    bool supervise = std::find(cmd.begin(), cmd.end(), "supervise") != cmd.end();
    for (std::size_t i = 0; supervise && i + 1 < cmd.size(); ++i)
        if (cmd[i] == "--pid-file" && cmd[i + 1] == want) return pid;
    return std::nullopt;
}

std::optional<int> running_child(const fs::path& pid_file) {
    auto file = child_pid_file(pid_file);
    auto pid = read_pid_file(file);
    if (!pid) return std::nullopt;
    auto cmd = process_cmdline(*pid);
    auto argv0 = read_recorded_argv0(file);
    if (cmd.empty() || argv0.empty() || cmd[0] != argv0) return std::nullopt;
    return pid;
}

bool is_running(const fs::path& pid_file) { return running_supervisor(pid_file).has_value(); }

std::chrono::milliseconds RestartBackoff::after_exit(std::chrono::milliseconds ran_for) {
    if (ran_for > max || next.count() == 0)
        next = initial;
    else
        next = std::min(next * 2, max);
    return next;
}

Result<int> start_supervised(const fs::path& pid_file_in, const fs::path& log_file_in,
                             const std::vector<std::string>& argv,
                             std::chrono::milliseconds deadline, const fs::path& keadm_in) {
    if (argv.empty()) return Error(errc::invalid_argument, "no command to supervise");
    const fs::path pid_file = normal_absolute(pid_file_in);
    const fs::path log_file = normal_absolute(log_file_in);
    const fs::path keadm = keadm_in.empty() ? self_exe() : keadm_in;
    if (auto pid = running_supervisor(pid_file))
        return Error(errc::already_exists,
                     pid_file.string() + ": already running (pid " + std::to_string(*pid) + ")");
    std::error_code ec;
    for (const auto& dir : {pid_file.parent_path(), log_file.parent_path()}) {
        fs::create_directories(dir, ec);
        if (ec) return Error(errc::io_error, "cannot create " + dir.string() + ": " + ec.message());
    }
    fs::remove(pid_file, ec);
    fs::remove(child_pid_file(pid_file), ec);

    std::vector<std::string> args = {
        keadm.string(), "supervise",       "--pid-file", pid_file.string(),
        "--log-file",   log_file.string(), "--"};
    args.insert(args.end(), argv.begin(), argv.end());
    std::vector<char*> cargs;
    for (auto& a : args) cargs.push_back(a.data());
    cargs.push_back(nullptr);

    int log_fd = ::open(log_file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (log_fd < 0)
        return Error(errc::io_error,
                     "cannot open " + log_file.string() + ": " + std::strerror(errno));
    int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    int pipe_fds[2];
    if (null_fd < 0 || ::pipe2(pipe_fds, O_CLOEXEC) != 0) {
        ::close(log_fd);
        if (null_fd >= 0) ::close(null_fd);
        return Error(errc::io_error, std::string("pipe: ") + std::strerror(errno));
    }
    // Double fork: the supervisor is nobody's child here, lives in its own session and survives
    // keadm's exit; the middle process reports its pid through the pipe.
    pid_t middle = ::fork();
    if (middle < 0) {
        ::close(log_fd);
        ::close(null_fd);
        ::close(pipe_fds[0]);
        ::close(pipe_fds[1]);
        return Error(errc::io_error, std::string("fork: ") + std::strerror(errno));
    }
    if (middle == 0) {
        ::setsid();
        pid_t sup = ::fork();
        if (sup == 0) {
            ::dup2(null_fd, 0);
            ::dup2(log_fd, 1);
            ::dup2(log_fd, 2);
            // Inherited descriptors (a caller's pipes) must not stay open for the daemon's life.
            ::close_range(3, ~0U, 0);
            ::execv(cargs[0], cargs.data());
            const char msg[] = "keadm supervise: exec of keadm failed\n";
            [[maybe_unused]] auto n = ::write(2, msg, sizeof msg - 1);
            ::_exit(127);
        }
        int value = sup;
        [[maybe_unused]] auto n = ::write(pipe_fds[1], &value, sizeof value);
        ::_exit(sup < 0 ? 1 : 0);
    }
    ::close(pipe_fds[1]);
    ::close(log_fd);
    ::close(null_fd);
    int sup_pid = -1;
    auto got = ::read(pipe_fds[0], &sup_pid, sizeof sup_pid);
    ::close(pipe_fds[0]);
    int status = 0;
    ::waitpid(middle, &status, 0);
    if (got != sizeof sup_pid || sup_pid <= 0)
        return Error(errc::io_error, "could not start the supervisor (fork failed)");

    bool up = wait_for(
        [&] { return running_child(pid_file).has_value() || !process_alive(sup_pid); }, deadline);
    if (!up || !running_child(pid_file)) {
        if (process_alive(sup_pid)) ::kill(sup_pid, SIGKILL);
        return Error(errc::unavailable, "the supervisor of " + argv[0] + " did not start it; log " +
                                            log_file.string() + ":\n" + tail_of(log_file));
    }
    return sup_pid;
}

Result<bool> stop_supervised(const fs::path& pid_file_in, std::chrono::milliseconds grace) {
    const fs::path pid_file = normal_absolute(pid_file_in);
    auto sup = running_supervisor(pid_file);
    auto child = running_child(pid_file);
    bool was_running = sup || child;
    // Only the pids checked above are waited for and killed.
    auto all_gone = [&] {
        return (!sup || !process_alive(*sup)) && (!child || !process_alive(*child));
    };
    if (sup)
        ::kill(*sup, SIGTERM);
    else if (child)
        ::kill(*child, SIGTERM);
    if (was_running && !wait_for(all_gone, grace)) {
        // Identity checked again: never SIGKILL a process that merely reused the pid.
        if (child && running_child(pid_file) == child) ::kill(*child, SIGKILL);
        if (sup && running_supervisor(pid_file) == sup) ::kill(*sup, SIGKILL);
        if (!wait_for(all_gone, 5s))
            return Error(errc::timeout, pid_file.string() + ": the process survived SIGKILL");
    }
    std::error_code ec;
    fs::remove(pid_file, ec);
    fs::remove(child_pid_file(pid_file), ec);
    return was_running;
}

namespace {

// One run of the component. Returns its pid or -1.
pid_t spawn(const std::vector<std::string>& argv) {
    std::vector<std::string> copy = argv;
    std::vector<char*> cargs;
    for (auto& a : copy) cargs.push_back(a.data());
    cargs.push_back(nullptr);
    pid_t pid = ::fork();
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        ::execv(cargs[0], cargs.data());
        std::fprintf(stderr, "keadm supervise: exec %s: %s\n", cargs[0], std::strerror(errno));
        ::_exit(127);
    }
    return pid;
}

std::string describe_status(int status) {
    if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
    return "ended (status " + std::to_string(status) + ")";
}

bool is_stop_signal(int sig) { return sig == SIGTERM || sig == SIGINT || sig == SIGHUP; }

// Waits for a signal of the mask up to `timeout` (forever when negative); 0 on timeout.
int wait_signal(const sigset_t& mask, std::chrono::milliseconds timeout) {
    if (timeout.count() < 0) {
        int sig = 0;
        return ::sigwait(&mask, &sig) == 0 ? sig : 0;
    }
    timespec ts{static_cast<time_t>(timeout.count() / 1000),
                static_cast<long>((timeout.count() % 1000) * 1'000'000)};
    int sig = ::sigtimedwait(&mask, nullptr, &ts);
    return sig > 0 ? sig : 0;
}

// Stops the running child: SIGTERM, up to 10 s, then SIGKILL.
void stop_child(pid_t child, const sigset_t& mask) {
    ::kill(child, SIGTERM);
    auto until = std::chrono::steady_clock::now() + 10s;
    int status = 0;
    while (::waitpid(child, &status, WNOHANG) == 0) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            until - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            say("pid %d did not stop within 10 s: SIGKILL", static_cast<int>(child));
            ::kill(child, SIGKILL);
            ::waitpid(child, &status, 0);
            break;
        }
        wait_signal(mask, std::min(left, std::chrono::milliseconds(200)));
    }
    say("stopped %s (pid %d): %s", "the component", static_cast<int>(child),
        describe_status(status).c_str());
}

}  // namespace

int run_supervise(const fs::path& pid_file_in, const fs::path& log_file,
                  const std::vector<std::string>& argv) {
    if (argv.empty()) {
        std::fprintf(stderr, "keadm supervise: no command given\n");
        return 2;
    }
    const fs::path pid_file = normal_absolute(pid_file_in);
    int log_fd = ::open(log_file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (log_fd >= 0) {
        ::dup2(log_fd, 1);
        ::dup2(log_fd, 2);
        ::close(log_fd);
    }
    if (auto other = running_supervisor(pid_file); other && *other != ::getpid()) {
        say("%s: already supervised by pid %d", pid_file.c_str(), *other);
        return 1;
    }
    sigset_t mask;
    sigemptyset(&mask);
    for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGCHLD}) sigaddset(&mask, sig);
    ::sigprocmask(SIG_BLOCK, &mask, nullptr);
    if (auto ok = write_file_atomic(pid_file, std::to_string(::getpid()) + "\n",
                                    fs::perms::owner_read | fs::perms::owner_write |
                                        fs::perms::group_read | fs::perms::others_read);
        !ok) {
        say("%s", ok.error().detail.c_str());
        return 1;
    }
    const fs::path child_file = child_pid_file(pid_file);
    auto cleanup = [&] {
        std::error_code ec;
        fs::remove(child_file, ec);
        if (read_pid_file(pid_file) == ::getpid()) fs::remove(pid_file, ec);
    };

    RestartBackoff backoff;
    for (;;) {
        auto started = std::chrono::steady_clock::now();
        pid_t child = spawn(argv);
        if (child < 0) {
            say("fork: %s", std::strerror(errno));
        } else {
            (void)write_file_atomic(child_file, std::to_string(child) + "\n" + argv[0] + "\n",
                                    fs::perms::owner_read | fs::perms::owner_write |
                                        fs::perms::group_read | fs::perms::others_read);
            say("started %s (pid %d)", argv[0].c_str(), static_cast<int>(child));
            int status = 0;
            for (;;) {
                int sig = wait_signal(mask, -1ms);
                if (is_stop_signal(sig)) {
                    say("signal %d: stopping", sig);
                    stop_child(child, mask);
                    cleanup();
                    return 0;
                }
                if (sig == SIGCHLD && ::waitpid(child, &status, WNOHANG) == child) break;
            }
            std::error_code ec;
            fs::remove(child_file, ec);
            say("%s (pid %d) %s", argv[0].c_str(), static_cast<int>(child),
                describe_status(status).c_str());
        }
        auto ran_for = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now() - started);
        auto delay = backoff.after_exit(ran_for);
        say("restarting in %lld ms", static_cast<long long>(delay.count()));
        auto until = std::chrono::steady_clock::now() + delay;
        for (;;) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                until - std::chrono::steady_clock::now());
            if (left.count() <= 0) break;
            int sig = wait_signal(mask, left);
            if (is_stop_signal(sig)) {
                say("signal %d: stopping", sig);
                cleanup();
                return 0;
            }
        }
    }
}

}  // namespace kedge::keadm
