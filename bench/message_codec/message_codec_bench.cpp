// Encode/decode throughput of a pod-insert message carrying a ~3 KB Pod, the hub's hot path.
// Rates are per CPU second (Google Benchmark's default), so a busy machine skews them less.
// Prints `BENCH message_codec encode_msgs_per_s=<x> decode_msgs_per_s=<y>` and writes a JSON
// report (--report=<file>, default message_codec_report.json).

#include <benchmark/benchmark.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "bus/codec.hpp"
#include "fixtures/pod_fixture.hpp"

namespace {

using kedge::bus::Content;
using kedge::bus::Message;

Message pod_insert(Content content) {
    Message m = Message::make("edgecontroller", "resource", "insert", "default/pod/nginx",
                              std::move(content));
    m.header.resource_version = "184467";
    return m;
}

const boost::json::value& pod_value() {
    static const boost::json::value v = boost::json::parse(kedge::bus::test::kPodJson);
    return v;
}

void BM_EncodeRawContent(benchmark::State& state) {
    Message m = pod_insert(Content::encoded(pod_value()));
    std::string out;
    for (auto _ : state) {
        out.clear();
        kedge::bus::encode_to(m, out);
        benchmark::DoNotOptimize(out.data());
    }
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(out.size()));
}
BENCHMARK(BM_EncodeRawContent);

void BM_EncodeValueContent(benchmark::State& state) {
    Message m = pod_insert(Content::from_value(pod_value()));
    std::string out;
    for (auto _ : state) {
        out.clear();
        kedge::bus::encode_to(m, out);
        benchmark::DoNotOptimize(out.data());
    }
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(out.size()));
}
BENCHMARK(BM_EncodeValueContent);

const std::string& wire() {
    static const std::string w = kedge::bus::encode(pod_insert(Content::encoded(pod_value())));
    return w;
}

// Decode from a borrowed buffer: content bytes are validated and copied out.
void BM_Decode(benchmark::State& state) {
    const std::string& in = wire();
    for (auto _ : state) {
        auto m = kedge::bus::decode(in);
        if (!m) state.SkipWithError("decode failed");
        benchmark::DoNotOptimize(m);
    }
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(in.size()));
}
BENCHMARK(BM_Decode);

// Decode from a shared frame buffer: content stays a slice of it (the hub's path).
void BM_DecodeShared(benchmark::State& state) {
    auto in = std::make_shared<const std::string>(wire());
    for (auto _ : state) {
        auto m = kedge::bus::decode(in);
        if (!m) state.SkipWithError("decode failed");
        benchmark::DoNotOptimize(m);
    }
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(in->size()));
}
BENCHMARK(BM_DecodeShared);

// Decode and then look inside the content (lazy parse into a boost::json::value).
void BM_DecodeAndAccessContent(benchmark::State& state) {
    const std::string& in = wire();
    for (auto _ : state) {
        auto m = kedge::bus::decode(in);
        if (!m) state.SkipWithError("decode failed");
        auto v = m->content.value();
        if (!v) state.SkipWithError("content parse failed");
        benchmark::DoNotOptimize(v);
    }
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(in.size()));
}
BENCHMARK(BM_DecodeAndAccessContent);

// Console output as usual, plus the per-benchmark rates for the summary line and report.
class CapturingReporter : public benchmark::ConsoleReporter {
  public:
    void ReportRuns(const std::vector<Run>& runs) override {
        for (const auto& run : runs) {
            if (run.error_occurred || run.run_type != Run::RT_Iteration) continue;
            auto it = run.counters.find("items_per_second");
            auto bt = run.counters.find("bytes_per_second");
            Result& r = results[run.run_name.function_name];
            if (it != run.counters.end()) r.items_per_s = it->second.value;
            if (bt != run.counters.end()) r.bytes_per_s = bt->second.value;
            r.cpu_ns_per_op = run.GetAdjustedCPUTime();
        }
        ConsoleReporter::ReportRuns(runs);
    }
    struct Result {
        double items_per_s = 0, bytes_per_s = 0, cpu_ns_per_op = 0;
    };
    std::map<std::string, Result> results;
};

}  // namespace

int main(int argc, char** argv) {
    std::string report_path = "message_codec_report.json";
    std::vector<char*> args;
    for (int i = 0; i < argc; ++i) {
        std::string a = argv[i];
        if (a.rfind("--report=", 0) == 0) {
            report_path = a.substr(9);
        } else {
            args.push_back(argv[i]);
        }
    }
    int n = static_cast<int>(args.size());
    benchmark::Initialize(&n, args.data());
    if (benchmark::ReportUnrecognizedArguments(n, args.data())) return 1;
    CapturingReporter reporter;
    benchmark::RunSpecifiedBenchmarks(&reporter);
    benchmark::Shutdown();

    auto rate = [&](const char* name) {
        auto it = reporter.results.find(name);
        return it == reporter.results.end() ? 0.0 : it->second.items_per_s;
    };
    double enc = rate("BM_EncodeRawContent");
    double dec = rate("BM_Decode");
    std::printf("BENCH message_codec encode_msgs_per_s=%.0f decode_msgs_per_s=%.0f\n", enc, dec);

    std::ofstream out(report_path);
    out << "{\n  \"benchmark\": \"message_codec\",\n  \"message_bytes\": " << wire().size()
        << ",\n  \"content_bytes\": " << kedge::bus::test::kPodJson.size()
        << ",\n  \"encode_msgs_per_s\": " << static_cast<long long>(enc)
        << ",\n  \"decode_msgs_per_s\": " << static_cast<long long>(dec) << ",\n  \"runs\": {";
    bool first = true;
    for (const auto& [name, r] : reporter.results) {
        out << (first ? "\n" : ",\n") << "    \"" << name
            << "\": {\"msgs_per_s\": " << static_cast<long long>(r.items_per_s)
            << ", \"bytes_per_s\": " << static_cast<long long>(r.bytes_per_s)
            << ", \"cpu_ns_per_msg\": " << r.cpu_ns_per_op << "}";
        first = false;
    }
    out << "\n  }\n}\n";
    if (!out) {
        std::fprintf(stderr, "cannot write report %s\n", report_path.c_str());
        return 1;
    }
    std::printf("report written to %s\n", report_path.c_str());
    return 0;
}
