#pragma once
// The CRI container log format and the kubelet's log layout: containerd writes every container's
// output to <podLogsRoot>/<ns>_<pod>_<uid>/<container>/<restart>.log, one line per write,
// "<RFC3339Nano> <stdout|stderr> <F|P> <text>" (P: a partial line the next one continues), and
// the kubelet turns those files into what `kubectl logs` shows. Parsing, the kubelet's output
// rules (text only, optional timestamps, sinceTime, limitBytes, tail) and the blocking file
// helpers the kubelet server runs on its pool. No Asio.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/clock.hpp"
#include "base/error.hpp"

namespace kedge::edge {

enum class LogStream { kStdout, kStderr };

// One parsed line of a CRI log file; the views point into the parsed text.
struct CriLogLine {
    std::string_view timestamp;  // as written (RFC3339Nano)
    Clock::time_point time;
    LogStream stream = LogStream::kStdout;
    bool partial = false;   // tag P: the next line continues this one
    std::string_view text;  // without the line's '\n'
};

// line: one file line without its '\n'. parse_error saying what is wrong.
Result<CriLogLine> parse_cri_log_line(std::string_view line);

// The output options of a log request (the kubelet's PodLogOptions minus the file selection).
struct LogOutputOptions {
    bool timestamps = false;
    std::optional<Clock::time_point> since;    // logical lines that began earlier are skipped
    std::optional<std::uint64_t> limit_bytes;  // output is cut here, mid-line if need be
};

// Turns CRI log lines into the bytes `kubectl logs` shows: each logical line's text (partial
// pieces joined) ending in "\n", prefixed by its first piece's timestamp and a space when asked.
// Malformed lines are skipped, as the kubelet does. Feed it in file order.
class CriLogFormatter {
public:
    explicit CriLogFormatter(LogOutputOptions options) : options_(std::move(options)) {}

    // data: whole file lines, each ending in '\n' (a last line without one is ignored).
    // Appends the output to out.
    void feed(std::string_view data, std::string& out);
    // Nothing more will be written: limit_bytes is used up.
    bool limit_reached() const { return options_.limit_bytes && written_ >= *options_.limit_bytes; }
    std::uint64_t malformed_lines() const { return malformed_; }

private:
    void emit(std::string_view bytes, std::string& out);

    LogOutputOptions options_;
    bool line_start_ = true;  // the next piece starts a logical line
    bool skipping_ = false;   // the current logical line is before `since`
    std::uint64_t written_ = 0;
    std::uint64_t malformed_ = 0;
};

// Whole CRI content -> output, in one call (tests, small files).
std::string format_cri_log(std::string_view content, const LogOutputOptions& options);

// Byte offset in `content` (whole lines) where its last `lines` logical lines start: a logical
// line ends with an F piece, or is the unfinished run of P pieces at the end. Malformed lines
// do not count. 0 when there are fewer; content.size() when lines is 0.
std::size_t tail_offset(std::string_view content, std::uint64_t lines);

// --- Files (blocking) ---

// Complete lines of a log file read from a byte offset.
struct LogChunk {
    std::string data;           // whole lines, each ending in '\n' ("" at the end of the file)
    std::uint64_t next_offset;  // where the next read starts
};

// Reads whole lines from `offset`, about max_bytes of them (more when one line is longer). A
// line still being written (no '\n' yet) is left for the next read. io_error / not_found.
Result<LogChunk> read_log_lines(const std::filesystem::path& file, std::uint64_t offset,
                                std::size_t max_bytes = 64 * 1024);

// tail_offset() over a file, reading it backwards in blocks (files are not rotated and may be
// large). Only complete lines count.
Result<std::uint64_t> find_tail_offset(const std::filesystem::path& file, std::uint64_t lines);

// The log files of one container in the kubelet layout.
struct ContainerLogFiles {
    std::filesystem::path pod_dir;  // <root>/<ns>_<pod>_<uid>
    // (restart count, <pod_dir>/<container>/<restart>.log), ascending; empty when the
    // container has no log yet (or no such container).
    std::vector<std::pair<std::uint32_t, std::filesystem::path>> files;
};

// Finds pod `ns/pod` under root by its directory name (several uids: the newest by mtime), then
// the container's numbered log files. not_found when the pod has no directory.
Result<ContainerLogFiles> find_container_logs(const std::filesystem::path& root,
                                              std::string_view ns, std::string_view pod,
                                              std::string_view container);

}  // namespace kedge::edge
