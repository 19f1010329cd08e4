// keadm upgrade edge / keadm rollback edge: replace the edgecore binary a joined node runs with
// the one in --bin-dir, keeping the node's identity, config and store. The steps a user would do
// by hand, with a safety net: back up edgecore.yaml and the SQLite store (after edgecore stopped,
// so the copy is consistent) together with the old binary's path, start the new binary under the
// same supervisor files, and wait until the node is connected and Ready again; if it is not,
// restore the backup and bring the old binary back. `rollback` does the same restore on demand.

#include <ctime>
#include <iostream>
#include <vector>

#include "base/config_yaml.hpp"
#include "edge/config/edgecore_config.hpp"
#include "keadm/common.hpp"
#include "keadm/edge_health.hpp"
#include "keadm/keadm.hpp"
#include "keadm/process.hpp"

namespace kedge::keadm {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

// What a joined node is running now.
struct Installed {
    Layout layout;
    fs::path config_file;
    edge::EdgeCoreConfig config;
    std::string node;
    fs::path binary;  // argv[0] of the running edgecore
};

Result<Installed> installed_edge(const UpgradeOptions& o) {
    Installed in;
    in.layout = Layout{fs::absolute(o.common.root_dir).lexically_normal()};
    in.config_file = in.layout.config_dir() / "edgecore.yaml";
    std::error_code ec;
    if (!fs::exists(in.config_file, ec))
        return Error(errc::not_found, "no " + in.config_file.string() +
                                          ": this node was not joined with keadm under " +
                                          in.layout.root.string() + " (see --root-dir)");
    try {
        in.config = load_yaml_file<edge::EdgeCoreConfig>(in.config_file.string());
    } catch (const std::exception& e) {
        return Error(errc::invalid_argument, e.what());
    }
    in.node = in.config.modules.edged.hostname_override;
    auto child = running_child(in.layout.pid_file("edgecore"));
    if (!child)
        return Error(errc::unavailable,
                     "edgecore is not running under keadm (pid file " +
                         in.layout.pid_file("edgecore").string() +
                         "): upgrade replaces a running node; start it first (keadm join --force)");
    auto argv = process_cmdline(*child);
    if (argv.empty()) return Error(errc::unavailable, "edgecore exited while keadm looked at it");
    in.binary = fs::absolute(argv.front()).lexically_normal();
    return in;
}

// A backup already put back is renamed with this suffix, so the next rollback goes further back.
constexpr std::string_view kRestored = ".restored";

// A new backup directory's name: UTC time to the millisecond (sorts by age), never reused.
fs::path new_backup_dir(const Layout& l) {
    auto now = std::chrono::system_clock::now();
    std::time_t secs = std::chrono::system_clock::to_time_t(now);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
    std::tm tm{};
    ::gmtime_r(&secs, &tm);
    char buf[48];
    std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%S", &tm);
    std::string base = std::string(buf) + "." + std::to_string(1000 + ms.count()).substr(1) + "Z";
    fs::path dir = l.etc() / "backup" / base;
    std::error_code ec;
    for (int i = 1; fs::exists(dir, ec) || fs::exists(dir.string() + std::string(kRestored), ec); ++i)
        dir = l.etc() / "backup" / (base + "-" + std::to_string(i));
    return dir;
}

// The store's files: the database and SQLite's WAL companions.
std::vector<fs::path> store_files(const edge::EdgeCoreConfig& cfg) {
    fs::path db = cfg.database.data_source;
    return {db, fs::path(db.string() + "-wal"), fs::path(db.string() + "-shm")};
}

Result<void> copy_into(const fs::path& from, const fs::path& to) {
    std::error_code ec;
    fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
    if (ec) return Error(errc::io_error, "copy " + from.string() + " to " + to.string() + ": " +
                                             ec.message());
    return {};
}

// edgecore.yaml, the store and the old binary's path + version into dir (edgecore stopped).
Result<void> write_backup(const Installed& in, const fs::path& dir, const std::string& version) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return Error(errc::io_error, "create " + dir.string() + ": " + ec.message());
    fs::permissions(dir, fs::perms::owner_all, ec);
    if (auto r = copy_into(in.config_file, dir / "edgecore.yaml"); !r) return r;
    for (const auto& f : store_files(in.config))
        if (fs::exists(f, ec))
            if (auto r = copy_into(f, dir / f.filename()); !r) return r;
    return write_file_atomic(dir / "binary", in.binary.string() + "\n" + version + "\n");
}

// The reverse of write_backup (edgecore stopped). Returns the binary the backup names.
Result<fs::path> restore_backup(const Installed& in, const fs::path& dir) {
    auto binary = read_text_file(dir / "binary");
    if (!binary) return binary.error();
    if (auto r = copy_into(dir / "edgecore.yaml", in.config_file); !r) return r.error();
    std::error_code ec;
    for (const auto& f : store_files(in.config)) {
        fs::remove(f, ec);  // a WAL of the newer run must not be replayed onto the old store
        if (fs::exists(dir / f.filename(), ec))
            if (auto r = copy_into(dir / f.filename(), f); !r) return r.error();
    }
    return fs::path(binary->substr(0, binary->find('\n')));
}

Result<int> start_edgecore(const Installed& in, const fs::path& binary) {
    return start_supervised(in.layout.pid_file("edgecore"), in.layout.log_file("edgecore"),
                            {binary.string(), "--config", in.config_file.string()});
}

// Stops edgecore, restores dir, starts the binary it names, waits Ready.
Result<fs::path> restore_and_restart(const Installed& in, const fs::path& dir,
                                     std::chrono::seconds wait) {
    if (auto s = stop_supervised(in.layout.pid_file("edgecore")); !s) return s.error();
    auto binary = restore_backup(in, dir);
    if (!binary) return binary.error();
    if (auto s = start_edgecore(in, *binary); !s) return s.error();
    auto ready = wait_edge_ready(in.layout, in.config, in.node, wait);
    if (!ready) return ready.error();
    return *binary;
}

void mark_restored(const fs::path& backup) {
    std::error_code ec;
    fs::rename(backup, backup.string() + std::string(kRestored), ec);
}

std::optional<fs::path> latest_backup(const Layout& l) {
    std::error_code ec;
    std::optional<fs::path> best;
    for (const auto& e : fs::directory_iterator(l.etc() / "backup", ec))
        if (e.is_directory() && fs::exists(e.path() / "binary") &&
            !e.path().filename().string().ends_with(kRestored) &&
            (!best || e.path().filename() > best->filename()))
            best = e.path();
    return best;
}

}  // namespace

int run_upgrade(const UpgradeOptions& o) {
    const auto started = std::chrono::steady_clock::now();
    StepPrinter steps("upgrade");
    auto in = installed_edge(o);
    if (!in) {
        std::cerr << "keadm upgrade edge: " << in.error().detail << "\n";
        return 1;
    }
    auto next = find_binary("edgecore", o.common.bin_dir);
    if (!next) {
        std::cerr << "keadm upgrade edge: " << next.error().detail << "\n";
        return 1;
    }
    const fs::path new_bin = fs::absolute(next->path).lexically_normal();
    std::error_code ec;
    if (fs::equivalent(new_bin, in->binary, ec) && !o.common.force) {
        std::cout << "[upgrade] node " << in->node << " already runs " << new_bin.string()
                  << "; nothing to do (--force goes through the steps anyway)" << std::endl;
        return 0;
    }
    steps.begin("new edgecore " + new_bin.string());
    auto new_version = ask_version(new_bin, 5s);
    if (!new_version) {
        steps.failed("`" + new_bin.string() +
                     " --version` did not answer: not an edgecore binary, or it cannot run here");
        return 1;
    }
    const std::string old_version = ask_version(in->binary, 5s).value_or("version unknown");
    steps.done(*new_version + " (now running: " + old_version + ", " + in->binary.string() + ")");

    steps.begin("stop edgecore");
    if (auto s = stop_supervised(in->layout.pid_file("edgecore")); !s) {
        steps.failed(s.error().message());
        return 1;
    }
    steps.done("stopped");

    const fs::path backup = new_backup_dir(in->layout);
    steps.begin("back up edgecore.yaml and the store");
    if (auto b = write_backup(*in, backup, old_version); !b) {
        steps.failed(b.error().detail + "; starting the old edgecore again");
        (void)start_edgecore(*in, in->binary);
        return 1;
    }
    steps.done(backup.string());

    steps.begin("start the new edgecore");
    auto sup = start_edgecore(*in, new_bin);
    std::string why;
    if (sup) {
        steps.done("started (supervisor pid " + std::to_string(*sup) + ")");
        steps.begin("wait until node " + in->node + " is Ready");
        auto ready = wait_edge_ready(in->layout, in->config, in->node, o.wait_ready);
        if (ready) {
            steps.done(*ready);
            std::cout << "node " << in->node << " upgraded: " << old_version << " ("
                      << in->binary.string() << ") -> " << *new_version << " ("
                      << new_bin.string() << ") in "
                      << seconds_text(std::chrono::steady_clock::now() - started)
                      << "; backup " << backup.string()
                      << "; undo with: keadm rollback edge --root-dir "
                      << in->layout.root.string() << std::endl;
            return 0;
        }
        why = ready.error().detail;
    } else {
        why = sup.error().message();
    }
    steps.failed(why);

    steps.begin("roll back to " + in->binary.string());
    auto back = restore_and_restart(*in, backup, o.wait_ready);
    if (!back) {
        steps.failed(back.error().detail + "\nthe backup is in " + backup.string());
        return 1;
    }
    steps.done("node " + in->node + " is Ready again on " + back->string());
    mark_restored(backup);
    std::cerr << "keadm upgrade edge: the new edgecore did not become Ready; rolled back to "
              << old_version << " (" << in->binary.string() << ")" << std::endl;
    return 1;
}

int run_rollback(const UpgradeOptions& o) {
    StepPrinter steps("rollback");
    auto in = installed_edge(o);
    if (!in) {
        std::cerr << "keadm rollback edge: " << in.error().detail << "\n";
        return 1;
    }
    auto backup = latest_backup(in->layout);
    if (!backup) {
        std::cerr << "keadm rollback edge: no backup under " << (in->layout.etc() / "backup")
                  << ": nothing was upgraded with keadm upgrade edge\n";
        return 1;
    }
    steps.begin("restore " + backup->string());
    auto back = restore_and_restart(*in, *backup, o.wait_ready);
    if (!back) {
        steps.failed(back.error().detail);
        return 1;
    }
    steps.done("node " + in->node + " is Ready on " + back->string());
    mark_restored(*backup);
    return 0;
}

}  // namespace kedge::keadm
