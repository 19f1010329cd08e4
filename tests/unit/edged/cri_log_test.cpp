// The CRI log format as containerd writes it and the kubelet reads it for `kubectl logs`.
#include "edge/edged/cri_log.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "kube/time.hpp"
#include "support/test_support.hpp"

namespace kedge::edge {
namespace {

namespace fs = std::filesystem;

constexpr const char* kT1 = "2024-05-01T10:00:00.000000001Z";
constexpr const char* kT2 = "2024-05-01T10:00:01.5Z";
constexpr const char* kT3 = "2024-05-01T10:00:02.123456789+02:00";

std::string line(const char* ts, const char* stream, const char* tag, const std::string& text) {
    return std::string(ts) + " " + stream + " " + tag + " " + text + "\n";
}

void append(const fs::path& p, const std::string& s) {
    std::ofstream out(p, std::ios::binary | std::ios::app);
    out << s;
}

TEST(CriLog, ParsesAFullStdoutLine) {
    auto l = parse_cri_log_line("2024-05-01T10:00:00.000000001Z stdout F hello world");
    ASSERT_TRUE(l) << l.error().message();
    EXPECT_EQ(l->timestamp, "2024-05-01T10:00:00.000000001Z");
    EXPECT_EQ(l->time, *kube::parse_time("2024-05-01T10:00:00.000000001Z"));
    EXPECT_EQ(l->stream, LogStream::kStdout);
    EXPECT_FALSE(l->partial);
    EXPECT_EQ(l->text, "hello world");  // spaces inside the text are kept
}

TEST(CriLog, ParsesStderrPartialAndEmptyText) {
    // The parsed line views the text: keep it alive.
    const std::string partial_line = std::string(kT3) + " stderr P part";
    auto p = parse_cri_log_line(partial_line);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->stream, LogStream::kStderr);
    EXPECT_TRUE(p->partial);
    EXPECT_EQ(p->text, "part");
    // An empty line, with or without the separator after the tag.
    const std::string empty1 = std::string(kT1) + " stdout F ";
    const std::string empty2 = std::string(kT1) + " stdout F";
    auto e1 = parse_cri_log_line(empty1);
    auto e2 = parse_cri_log_line(empty2);
    ASSERT_TRUE(e1);
    ASSERT_TRUE(e2);
    EXPECT_EQ(e1->text, "");
    EXPECT_EQ(e2->text, "");
    // Extra tags after ':' are ignored (forward compatibility, as the kubelet).
    const std::string tagged = std::string(kT1) + " stdout P:x text";
    auto t = parse_cri_log_line(tagged);
    ASSERT_TRUE(t);
    EXPECT_TRUE(t->partial);
}

TEST(CriLog, RejectsMalformedLines) {
    for (const std::string& bad : std::vector<std::string>{
             "", "nospace", "not-a-time stdout F x", std::string(kT1),
             std::string(kT1) + " stdin F x", std::string(kT1) + " stdout",
             std::string(kT1) + " stdout  x", "2024-13-01T10:00:00Z stdout F x"}) {
        auto r = parse_cri_log_line(bad);
        EXPECT_FALSE(r) << "accepted: " << bad;
        if (!r) EXPECT_TRUE(r.error().is(errc::parse_error));
    }
}

TEST(CriLog, FormatterJoinsPartialsAndSkipsMalformed) {
    std::string content = line(kT1, "stdout", "F", "one") + line(kT2, "stderr", "P", "tw") +
                          "garbage line\n" + line(kT2, "stderr", "P", "o ") +
                          line(kT3, "stderr", "F", "two") + line(kT3, "stdout", "F", "");
    CriLogFormatter f({});
    std::string out;
    f.feed(content, out);
    EXPECT_EQ(out, "one\ntwo two\n\n");
    EXPECT_EQ(f.malformed_lines(), 1u);
}

TEST(CriLog, TimestampsPrefixEachLogicalLineOnce) {
    std::string content = line(kT1, "stdout", "F", "one") + line(kT2, "stdout", "P", "a") +
                          line(kT3, "stdout", "F", "b");
    LogOutputOptions o;
    o.timestamps = true;
    EXPECT_EQ(format_cri_log(content, o), std::string(kT1) + " one\n" + kT2 + " ab\n");
}

TEST(CriLog, SinceSkipsWholeLogicalLines) {
    // The partial line began before `since`; its continuation after it is skipped too.
    std::string content = line(kT1, "stdout", "P", "old-") + line(kT2, "stdout", "F", "line") +
                          line(kT2, "stdout", "F", "new");
    LogOutputOptions o;
    o.since = *kube::parse_time("2024-05-01T10:00:01Z");
    EXPECT_EQ(format_cri_log(content, o), "new\n");
}

TEST(CriLog, LimitBytesCutsMidLineAcrossFeeds) {
    LogOutputOptions o;
    o.limit_bytes = 6;
    o.timestamps = false;
    CriLogFormatter f(o);
    std::string out;
    f.feed(line(kT1, "stdout", "F", "abcd"), out);
    EXPECT_FALSE(f.limit_reached());
    f.feed(line(kT1, "stdout", "F", "efgh"), out);
    EXPECT_TRUE(f.limit_reached());
    f.feed(line(kT1, "stdout", "F", "more"), out);
    EXPECT_EQ(out, "abcd\ne");
}

TEST(CriLog, FeedIgnoresAnUnterminatedLastLine) {
    std::string out;
    CriLogFormatter f({});
    f.feed(line(kT1, "stdout", "F", "done") + kT1 + " stdout F half", out);
    EXPECT_EQ(out, "done\n");
}

TEST(CriLog, TailOffsetCountsLogicalLines) {
    std::string a = line(kT1, "stdout", "F", "a");
    std::string b1 = line(kT1, "stdout", "P", "b1");
    std::string b2 = line(kT1, "stdout", "F", "b2");
    std::string c = line(kT1, "stdout", "F", "c");
    std::string content = a + b1 + b2 + "junk\n" + c;
    EXPECT_EQ(format_cri_log(content.substr(tail_offset(content, 1)), {}), "c\n");
    EXPECT_EQ(format_cri_log(content.substr(tail_offset(content, 2)), {}), "b1b2\nc\n");
    EXPECT_EQ(format_cri_log(content.substr(tail_offset(content, 3)), {}), "a\nb1b2\nc\n");
    EXPECT_EQ(tail_offset(content, 10), 0u);
    EXPECT_EQ(tail_offset(content, 0), content.size());
    // An unfinished partial line at the end counts as the last line.
    std::string open = a + b1;
    EXPECT_EQ(format_cri_log(open.substr(tail_offset(open, 1)), {}), "b1");
    EXPECT_EQ(tail_offset("", 3), 0u);
}

TEST(CriLog, FindTailOffsetInALargeFileMatchesTheInMemoryOne) {
    test::TempDir dir;
    fs::path file = fs::path(dir.path()) / "0.log";
    std::string content;
    // ~300 KiB over several 64 KiB blocks, with partial runs crossing block boundaries.
    for (int i = 0; i < 3000; ++i) {
        std::string text =
            "line-" + std::to_string(i) + std::string(static_cast<std::size_t>(i % 97), 'x');
        if (i % 7 == 0) {
            content += line(kT1, "stdout", "P", text);
            content += line(kT1, "stdout", "P", "-mid-");
        }
        content += line(kT2, "stderr", "F", text);
    }
    append(file, content + kT3 + " stdout F unfinished");  // still being written
    for (std::uint64_t n : {0u, 1u, 2u, 7u, 100u, 1234u, 2999u, 3000u, 5000u}) {
        auto off = find_tail_offset(file, n);
        ASSERT_TRUE(off) << off.error().message();
        EXPECT_EQ(*off, tail_offset(content, n)) << "tail " << n;
    }
    auto last = find_tail_offset(file, 1);
    EXPECT_EQ(format_cri_log(content.substr(*last), {}),
              "line-2999" + std::string(2999 % 97, 'x') + "\n");
    EXPECT_FALSE(find_tail_offset(fs::path(dir.path()) / "missing.log", 1));
}

TEST(CriLog, ReadLogLinesStopsBeforeAnUnfinishedLine) {
    test::TempDir dir;
    fs::path file = fs::path(dir.path()) / "0.log";
    std::string first = line(kT1, "stdout", "F", "first");
    append(file, first + kT2 + " stdout F sec");
    auto c = read_log_lines(file, 0);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->data, first);
    EXPECT_EQ(c->next_offset, first.size());
    auto again = read_log_lines(file, c->next_offset);
    ASSERT_TRUE(again);
    EXPECT_EQ(again->data, "");
    EXPECT_EQ(again->next_offset, first.size());
    append(file, "ond\n");
    again = read_log_lines(file, c->next_offset);
    ASSERT_TRUE(again);
    EXPECT_EQ(format_cri_log(again->data, {}), "second\n");
    // Small max_bytes still returns whole lines, one long line included.
    std::string big = line(kT1, "stdout", "F", std::string(1000, 'z'));
    append(file, big);
    auto small = read_log_lines(file, again->next_offset, 10);
    ASSERT_TRUE(small);
    EXPECT_EQ(small->data, big);
    auto missing = read_log_lines(fs::path(dir.path()) / "nope.log", 0);
    ASSERT_FALSE(missing);
    EXPECT_TRUE(missing.error().is(errc::not_found));
}

TEST(CriLog, FindContainerLogsUsesTheKubeletLayout) {
    test::TempDir dir;
    fs::path root = dir.path();
    fs::create_directories(root / "default_web_uid-old" / "app");
    append(root / "default_web_uid-old" / "app" / "0.log", "x\n");
    // Same pod name, newer uid: it wins by mtime.
    fs::path pod = root / "default_web_uid-new";
    fs::create_directories(pod / "app");
    for (const char* n : {"0.log", "2.log", "10.log", "1.log", "notes.txt", "x.log"})
        append(pod / "app" / n, "");
    fs::last_write_time(root / "default_web_uid-old",
                        fs::file_time_type::clock::now() - std::chrono::hours(1));
    // Prefix look-alikes are not this pod.
    fs::create_directories(root / "default_web-2_uid" / "app");
    fs::create_directories(root / "default_webx_uid" / "app");

    auto found = find_container_logs(root, "default", "web", "app");
    ASSERT_TRUE(found) << found.error().message();
    EXPECT_EQ(found->pod_dir, pod);
    ASSERT_EQ(found->files.size(), 4u);
    EXPECT_EQ(found->files[0].first, 0u);
    EXPECT_EQ(found->files[3].first, 10u);
    EXPECT_EQ(found->files[3].second, pod / "app" / "10.log");

    auto no_container = find_container_logs(root, "default", "web", "other");
    ASSERT_TRUE(no_container);
    EXPECT_TRUE(no_container->files.empty());

    auto no_pod = find_container_logs(root, "default", "we", "app");
    ASSERT_FALSE(no_pod);
    EXPECT_TRUE(no_pod.error().is(errc::not_found));
    EXPECT_FALSE(find_container_logs(root / "missing", "default", "web", "app"));
}

}  // namespace
}  // namespace kedge::edge
