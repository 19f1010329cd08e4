#include "edge/edged/cri_log.hpp"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <system_error>

#include "kube/time.hpp"

namespace kedge::edge {
namespace fs = std::filesystem;

Result<CriLogLine> parse_cri_log_line(std::string_view line) {
    // As the kubelet's parseCRILog: three space-separated fields, then the text.
    CriLogLine out;
    auto sp = line.find(' ');
    if (sp == std::string_view::npos) return Error(errc::parse_error, "timestamp is not found");
    out.timestamp = line.substr(0, sp);
    auto t = kube::parse_time(out.timestamp);
    if (!t) return Error(errc::parse_error, "unexpected timestamp format: " + t.error().detail);
    out.time = *t;
    line.remove_prefix(sp + 1);

    sp = line.find(' ');
    if (sp == std::string_view::npos) return Error(errc::parse_error, "stream type is not found");
    auto stream = line.substr(0, sp);
    if (stream == "stdout") {
        out.stream = LogStream::kStdout;
    } else if (stream == "stderr") {
        out.stream = LogStream::kStderr;
    } else {
        return Error(errc::parse_error, "unexpected stream type \"" + std::string(stream) + "\"");
    }
    line.remove_prefix(sp + 1);

    // The tag may end the line when the text is empty. Tags are ':'-separated for forward
    // compatibility; only the first one (P or F) matters.
    sp = line.find(' ');
    auto tags = line.substr(0, sp);
    if (tags.empty()) return Error(errc::parse_error, "log tag is not found");
    out.partial = tags.substr(0, tags.find(':')) == "P";
    out.text = sp == std::string_view::npos ? std::string_view() : line.substr(sp + 1);
    return out;
}

void CriLogFormatter::emit(std::string_view bytes, std::string& out) {
    if (options_.limit_bytes) {
        auto room = *options_.limit_bytes - std::min(written_, *options_.limit_bytes);
        bytes =
            bytes.substr(0, static_cast<std::size_t>(std::min<std::uint64_t>(room, bytes.size())));
    }
    out.append(bytes);
    written_ += bytes.size();
}

void CriLogFormatter::feed(std::string_view data, std::string& out) {
    std::size_t pos = 0;
    while (pos < data.size() && !limit_reached()) {
        auto nl = data.find('\n', pos);
        if (nl == std::string_view::npos) break;
        auto parsed = parse_cri_log_line(data.substr(pos, nl - pos));
        pos = nl + 1;
        if (!parsed) {
            ++malformed_;
            continue;
        }
        if (line_start_) skipping_ = options_.since && parsed->time < *options_.since;
        if (!skipping_) {
            if (line_start_ && options_.timestamps) {
                emit(parsed->timestamp, out);
                emit(" ", out);
            }
            emit(parsed->text, out);
            if (!parsed->partial) emit("\n", out);
        }
        line_start_ = !parsed->partial;
    }
}

std::string format_cri_log(std::string_view content, const LogOutputOptions& options) {
    CriLogFormatter f(options);
    std::string out;
    f.feed(content, out);
    return out;
}

namespace {

// Counts logical lines backwards; fed the file's lines last to first.
class TailCounter {
public:
    explicit TailCounter(std::uint64_t want) : want_(want) {}
    // line: without '\n'; end: the offset just past its '\n'. True when the start is found.
    bool line(std::string_view line, std::uint64_t end) {
        auto parsed = parse_cri_log_line(line);
        if (!parsed) return false;
        const bool first = !seen_valid_;
        seen_valid_ = true;
        if (parsed->partial) {
            // An unfinished line at the very end counts as one.
            if (first) ++count_;
            return false;
        }
        if (count_ >= want_) {
            start_ = end;
            return true;
        }
        ++count_;
        return false;
    }
    std::uint64_t start() const { return start_; }

private:
    std::uint64_t want_;
    std::uint64_t count_ = 0;
    std::uint64_t start_ = 0;
    bool seen_valid_ = false;
};

}  // namespace

std::size_t tail_offset(std::string_view content, std::uint64_t lines) {
    auto end = content.rfind('\n');
    if (end == std::string_view::npos) return lines == 0 ? content.size() : 0;
    if (lines == 0) return end + 1;
    TailCounter counter(lines);
    std::size_t line_end = end;  // index of the current line's '\n'
    while (true) {
        auto prev = line_end == 0 ? std::string_view::npos : content.rfind('\n', line_end - 1);
        std::size_t begin = prev == std::string_view::npos ? 0 : prev + 1;
        if (counter.line(content.substr(begin, line_end - begin), line_end + 1))
            return static_cast<std::size_t>(counter.start());
        if (begin == 0) return 0;
        line_end = prev;
    }
}

Result<LogChunk> read_log_lines(const fs::path& file, std::uint64_t offset, std::size_t max_bytes) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
        std::error_code ec;
        bool exists = fs::exists(file, ec);
        return Error(exists ? errc::io_error : errc::not_found,
                     "cannot open log file " + file.string());
    }
    in.seekg(static_cast<std::streamoff>(offset));
    if (!in) return Error(errc::io_error, "cannot seek in log file " + file.string());
    LogChunk chunk{{}, offset};
    std::string buf;
    std::size_t want = std::max<std::size_t>(max_bytes, 1);
    while (true) {
        std::size_t old = buf.size();
        buf.resize(old + want);
        in.read(buf.data() + old, static_cast<std::streamsize>(want));
        buf.resize(old + static_cast<std::size_t>(in.gcount()));
        auto nl = buf.rfind('\n');
        if (nl != std::string::npos) {
            buf.resize(nl + 1);
            break;
        }
        if (!in) {  // end of file inside an unfinished line
            buf.clear();
            break;
        }
    }
    chunk.next_offset = offset + buf.size();
    chunk.data = std::move(buf);
    return chunk;
}

Result<std::uint64_t> find_tail_offset(const fs::path& file, std::uint64_t lines) {
    std::error_code ec;
    auto size = fs::file_size(file, ec);
    if (ec) return Error(errc::not_found, "cannot stat log file " + file.string());
    std::ifstream in(file, std::ios::binary);
    if (!in) return Error(errc::io_error, "cannot open log file " + file.string());
    // carry holds the file's bytes from carry_start up to the end of the line looked at next.
    std::string carry;
    std::uint64_t carry_start = size;
    bool read_error = false;
    auto load_more = [&]() -> bool {
        if (carry_start == 0) return false;
        constexpr std::uint64_t kBlock = 64 * 1024;
        auto step = std::min(kBlock, carry_start);
        std::string block(static_cast<std::size_t>(step), '\0');
        in.seekg(static_cast<std::streamoff>(carry_start - step));
        in.read(block.data(), static_cast<std::streamsize>(step));
        if (static_cast<std::uint64_t>(in.gcount()) != step) {
            read_error = true;
            return false;
        }
        carry_start -= step;
        carry.insert(0, block);
        return true;
    };
    auto short_read = [&] {
        return Error(errc::io_error, "short read in log file " + file.string());
    };

    // Only complete lines count: drop a last line still being written.
    std::size_t nl;
    while ((nl = carry.rfind('\n')) == std::string::npos) {
        if (!load_more()) {
            if (read_error) return short_read();
            return std::uint64_t{0};
        }
    }
    if (lines == 0) return carry_start + nl + 1;
    carry.resize(nl + 1);
    TailCounter counter(lines);
    while (true) {
        // carry ends with the current line's '\n'.
        const std::size_t last = carry.size() - 1;
        auto prev = last == 0 ? std::string::npos : carry.rfind('\n', last - 1);
        if (prev == std::string::npos && carry_start > 0) {
            if (!load_more()) return short_read();
            continue;
        }
        const std::size_t begin = prev == std::string::npos ? 0 : prev + 1;
        std::string_view line(carry.data() + begin, last - begin);
        if (counter.line(line, carry_start + last + 1)) return counter.start();
        if (prev == std::string::npos) return std::uint64_t{0};
        carry.resize(begin);
    }
}

namespace {

std::optional<std::uint32_t> restart_number(const std::string& name) {
    // "<n>.log"
    if (name.size() < 5 || name.compare(name.size() - 4, 4, ".log") != 0) return std::nullopt;
    std::uint32_t n = 0;
    auto digits = std::string_view(name).substr(0, name.size() - 4);
    auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
    if (ec != std::errc() || p != digits.data() + digits.size()) return std::nullopt;
    return n;
}

}  // namespace

Result<ContainerLogFiles> find_container_logs(const fs::path& root, std::string_view ns,
                                              std::string_view pod, std::string_view container) {
    const std::string prefix = std::string(ns) + "_" + std::string(pod) + "_";
    ContainerLogFiles out;
    fs::file_time_type newest{};
    std::error_code ec;
    for (fs::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
        auto name = it->path().filename().string();
        // Namespaces, names and uids never contain '_', so the prefix match is exact.
        if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0 ||
            name.find('_', prefix.size()) != std::string::npos)
            continue;
        std::error_code ec2;
        if (!it->is_directory(ec2)) continue;
        auto mtime = fs::last_write_time(it->path(), ec2);
        if (out.pod_dir.empty() || mtime > newest) {
            out.pod_dir = it->path();
            newest = mtime;
        }
    }
    if (out.pod_dir.empty())
        return Error(errc::not_found, "no log directory for pod " + std::string(ns) + "/" +
                                          std::string(pod) + " under " + root.string());
    const fs::path dir = out.pod_dir / std::string(container);
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        if (auto n = restart_number(it->path().filename().string())) {
            std::error_code ec2;
            if (it->is_regular_file(ec2)) out.files.emplace_back(*n, it->path());
        }
    }
    std::sort(out.files.begin(), out.files.end());
    return out;
}

}  // namespace kedge::edge
