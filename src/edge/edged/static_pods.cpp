#include "edge/edged/static_pods.hpp"

#include <openssl/evp.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/stream_parser.hpp>
#include <boost/json/value.hpp>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string_view>
#include <system_error>

#include "kube/object.hpp"
#include "kube/time.hpp"
#include "kube/validation.hpp"

namespace kedge::edge {

namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

constexpr std::string_view kConfigSource = "kubernetes.io/config.source";
constexpr std::string_view kConfigHash = "kubernetes.io/config.hash";
constexpr std::string_view kConfigSeen = "kubernetes.io/config.seen";
constexpr std::string_view kConfigMirror = "kubernetes.io/config.mirror";
constexpr std::string_view kTagStr = "tag:yaml.org,2002:str";
constexpr std::string_view kTagInt = "tag:yaml.org,2002:int";
constexpr std::string_view kTagFloat = "tag:yaml.org,2002:float";
constexpr std::string_view kTagBool = "tag:yaml.org,2002:bool";
constexpr std::string_view kTagNull = "tag:yaml.org,2002:null";
// A manifest is a pod, not a data set; the limit keeps a stray big file from being read whole.
constexpr std::uintmax_t kMaxManifestBytes = 4 << 20;
// Aliases share nodes in yaml-cpp but are copied into JSON: without a budget, a few lines of
// nested aliases ("billion laughs") expand into gigabytes.
constexpr std::size_t kMaxJsonNodes = 100'000;
constexpr int kMaxDepth = 500;

std::string position(const YAML::Mark& m) {
    if (m.is_null()) return {};
    return "line " + std::to_string(m.line + 1) + ", column " + std::to_string(m.column + 1) + ": ";
}

Error yaml_error(const YAML::Mark& m, const std::string& what) {
    return Error(errc::invalid_argument, position(m) + what);
}

bool is_null_text(std::string_view s) {
    return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL";
}

std::optional<bool> bool_text(std::string_view s) {
    if (s == "true" || s == "True" || s == "TRUE") return true;
    if (s == "false" || s == "False" || s == "FALSE") return false;
    return std::nullopt;
}

bool all_digits(std::string_view s, int base) {
    if (s.empty()) return false;
    for (char c : s) {
        int d = std::isdigit(static_cast<unsigned char>(c))
                    ? c - '0'
                    : (std::isxdigit(static_cast<unsigned char>(c))
                           ? std::tolower(static_cast<unsigned char>(c)) - 'a' + 10
                           : 99);
        if (d >= base) return false;
    }
    return true;
}

// Integers: decimal, 0x hex, 0o octal, and a leading 0 as octal too. The last is YAML 1.1 and
// what Kubernetes' decoder (go-yaml v2) does, so "defaultMode: 0644" means 420 as users expect.
std::optional<json::value> int_value(std::string_view s) {
    bool negative = false;
    std::string_view body = s;
    if (!body.empty() && (body[0] == '-' || body[0] == '+')) {
        negative = body[0] == '-';
        body.remove_prefix(1);
    }
    int base = 10;
    if (body.size() > 2 && body[0] == '0' && (body[1] == 'x' || body[1] == 'X')) {
        base = 16;
        body.remove_prefix(2);
    } else if (body.size() > 2 && body[0] == '0' && (body[1] == 'o' || body[1] == 'O')) {
        base = 8;
        body.remove_prefix(2);
    } else if (body.size() > 1 && body[0] == '0') {
        base = 8;
        body.remove_prefix(1);
    }
    if (!all_digits(body, base)) return std::nullopt;
    std::uint64_t magnitude = 0;
    auto [end, ec] = std::from_chars(body.data(), body.data() + body.size(), magnitude, base);
    if (ec != std::errc() || end != body.data() + body.size()) return std::nullopt;  // overflow
    if (!negative) {
        if (magnitude <= static_cast<std::uint64_t>(INT64_MAX))
            return json::value(static_cast<std::int64_t>(magnitude));
        return json::value(magnitude);
    }
    if (magnitude <= static_cast<std::uint64_t>(INT64_MAX))
        return json::value(-static_cast<std::int64_t>(magnitude));
    if (magnitude == static_cast<std::uint64_t>(INT64_MAX) + 1) return json::value(INT64_MIN);
    return std::nullopt;
}

// YAML 1.2 core floats: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
bool float_syntax(std::string_view s) {
    std::size_t i = 0;
    auto digits = [&] {
        std::size_t start = i;
        while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
        return i - start;
    };
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    std::size_t int_digits = digits();
    std::size_t frac_digits = 0;
    if (i < s.size() && s[i] == '.') {
        ++i;
        frac_digits = digits();
    }
    if (int_digits == 0 && frac_digits == 0) return false;
    if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
        ++i;
        if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
        if (digits() == 0) return false;
    }
    return i == s.size();
}

bool special_float(std::string_view s) {
    if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
    return s == ".inf" || s == ".Inf" || s == ".INF" || s == ".nan" || s == ".NaN" || s == ".NAN";
}

std::optional<double> float_value(std::string_view s) {
    if (!float_syntax(s)) return std::nullopt;
    std::string text(s);
    errno = 0;
    char* end = nullptr;
    double d = std::strtod(text.c_str(), &end);
    if (end != text.c_str() + text.size() || errno == ERANGE) return std::nullopt;
    return d;
}

// A plain (unquoted, untagged) scalar the way the YAML 1.2 core schema resolves it.
Result<json::value> resolve_plain(const YAML::Node& n, const std::string& s) {
    if (is_null_text(s)) return json::value(nullptr);
    if (auto b = bool_text(s)) return json::value(*b);
    if (auto i = int_value(s)) return *i;
    if (auto d = float_value(s)) return json::value(*d);
    if (special_float(s))
        return yaml_error(n.Mark(),
                          "\"" + s + "\" (infinity or NaN) cannot be represented in JSON");
    return json::value(json::string(s));
}

Result<json::value> resolve_scalar(const YAML::Node& n) {
    const std::string& tag = n.Tag();
    const std::string& s = n.Scalar();
    if (tag == "?") return resolve_plain(n, s);
    if (tag == "!" || tag == kTagStr) return json::value(json::string(s));
    if (tag == kTagNull) {
        if (is_null_text(s)) return json::value(nullptr);
        return yaml_error(n.Mark(), "\"" + s + "\" is not a null");
    }
    if (tag == kTagBool) {
        if (auto b = bool_text(s)) return json::value(*b);
        return yaml_error(n.Mark(), "\"" + s + "\" is not a boolean");
    }
    if (tag == kTagInt) {
        if (auto i = int_value(s)) return *i;
        return yaml_error(n.Mark(), "\"" + s + "\" is not an integer (or out of range)");
    }
    if (tag == kTagFloat) {
        if (auto i = int_value(s)) return json::value(i->to_number<double>());
        if (auto d = float_value(s)) return json::value(*d);
        return yaml_error(n.Mark(), "\"" + s + "\" is not a finite float");
    }
    // Other tags (!!binary, local tags) carry no meaning for JSON: resolve by content.
    return resolve_plain(n, s);
}

class YamlConverter {
public:
    Result<json::value> convert(const YAML::Node& n, int depth) {
        if (++nodes_ > kMaxJsonNodes)
            return yaml_error(n.Mark(), "the document expands to more than " +
                                            std::to_string(kMaxJsonNodes) + " values (aliases?)");
        if (depth > kMaxDepth)
            return yaml_error(n.Mark(), "nested deeper than " + std::to_string(kMaxDepth) +
                                            " levels (a recursive alias?)");
        switch (n.Type()) {
            case YAML::NodeType::Undefined:
            case YAML::NodeType::Null:
                if (n.Tag() == kTagStr) return json::value(json::string());
                return json::value(nullptr);
            case YAML::NodeType::Scalar:
                return resolve_scalar(n);
            case YAML::NodeType::Sequence: {
                json::array out;
                out.reserve(n.size());
                for (const auto& item : n) {
                    auto v = convert(item, depth + 1);
                    if (!v) return v;
                    out.push_back(std::move(*v));
                }
                return json::value(std::move(out));
            }
            case YAML::NodeType::Map:
                return convert_map(n, depth);
        }
        return yaml_error(n.Mark(), "unknown YAML node type");
    }

private:
    Result<json::value> convert_map(const YAML::Node& n, int depth) {
        json::object out;
        std::vector<YAML::Node> merges;  // "<<" values, applied after the explicit keys
        for (const auto& entry : n) {
            // Copies: yaml-cpp's iterator hands out a proxy, and references into it dangle.
            const YAML::Node key = entry.first;
            const YAML::Node value = entry.second;
            if (!key.IsScalar())
                return yaml_error(key.Mark(), key.IsNull() ? "a mapping key is null"
                                                           : "a mapping key is not a string");
            const std::string& k = key.Scalar();
            if (k == "<<" && key.Tag() == "?") {
                merges.push_back(value);
                continue;
            }
            if (out.contains(k)) return yaml_error(key.Mark(), "duplicate key \"" + k + "\"");
            auto v = convert(value, depth + 1);
            if (!v) return v;
            out.emplace(k, std::move(*v));
        }
        // Merge keys (YAML 1.1, which Kubernetes' decoder honours): explicit keys win, then
        // earlier merged maps win over later ones.
        for (const auto& m : merges) {
            std::vector<YAML::Node> sources;
            if (m.IsMap()) {
                sources.push_back(m);
            } else if (m.IsSequence()) {
                for (const auto& s : m) sources.push_back(s);
            }
            for (const auto& src : sources) {
                if (!src.IsMap())
                    return yaml_error(src.Mark(),
                                      "a merge key (<<) needs a mapping or a list "
                                      "of mappings");
                auto v = convert(src, depth + 1);
                if (!v) return v;
                for (auto& [mk, mv] : v->as_object())
                    if (!out.contains(mk)) out.emplace(mk, std::move(mv));
            }
            if (sources.empty())
                return yaml_error(m.Mark(),
                                  "a merge key (<<) needs a mapping or a list of "
                                  "mappings");
        }
        return json::value(std::move(out));
    }

    std::size_t nodes_ = 0;
};

// 1-based "line L, column C: " of a byte offset, for JSON parse errors.
std::string text_position(std::string_view text, std::size_t offset) {
    offset = std::min(offset, text.size());
    std::size_t line = 1, column = 1;
    for (std::size_t i = 0; i < offset; ++i) {
        if (text[i] == '\n') {
            ++line;
            column = 1;
        } else {
            ++column;
        }
    }
    return "line " + std::to_string(line) + ", column " + std::to_string(column) + ": ";
}

// Kubernetes' decoder takes text that starts with '{' as JSON (apimachinery yaml.ToJSON), which
// also spares JSON files YAML's rules on tabs.
bool looks_like_json(std::string_view text) {
    if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
    auto pos = text.find_first_not_of(" \t\r\n");
    return pos != std::string_view::npos && text[pos] == '{';
}

Result<json::value> parse_json(std::string_view text) {
    if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
    json::stream_parser p;
    boost::system::error_code ec;
    std::size_t n = p.write(text.data(), text.size(), ec);
    if (!ec) p.finish(ec);
    if (ec) return Error(errc::invalid_argument, text_position(text, n) + ec.message());
    return p.release();
}

Result<std::string> read_manifest(const fs::path& file) {
    std::error_code ec;
    auto size = fs::file_size(file, ec);
    if (ec) return Error(errc::io_error, "cannot read: " + ec.message());
    if (size > kMaxManifestBytes)
        return Error(errc::too_large, "larger than " + std::to_string(kMaxManifestBytes) +
                                          " bytes; not a pod manifest");
    std::ifstream in(file, std::ios::binary);
    if (!in) return Error(errc::io_error, "cannot open for reading");
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) return Error(errc::io_error, "read failed");
    return data;
}

// The kubelet hashes the decoded pod with md5 (hash.DeepHashObject) and then "host:<node>" and
// "file:<path>". kedge hashes the manifest bytes instead (so a whitespace edit is a new pod, which
// is harmless) with sha256 cut to 128 bits: the same 32 hex characters as upstream, not the same
// value.
std::string manifest_hash(std::string_view content, const std::string& node,
                          const std::string& path) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
    std::string host = "host:" + node;
    std::string file = "file:" + path;
    if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1 ||
        EVP_DigestUpdate(ctx.get(), content.data(), content.size()) != 1 ||
        EVP_DigestUpdate(ctx.get(), host.data(), host.size()) != 1 ||
        EVP_DigestUpdate(ctx.get(), file.data(), file.size()) != 1 ||
        EVP_DigestFinal_ex(ctx.get(), digest, &len) != 1 || len < 16)
        return {};  // only on allocation failure; the caller reports it
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    out.reserve(32);
    for (unsigned i = 0; i < 16; ++i) {
        out.push_back(kHex[digest[i] >> 4]);
        out.push_back(kHex[digest[i] & 0xf]);
    }
    return out;
}

// Go's time.RFC3339Nano: fractional seconds with trailing zeros dropped (none when whole).
std::string format_rfc3339_nano(Clock::time_point t) {
    std::string base = kube::format_time(t);  // "...:SSZ"
    auto nanos = (t - std::chrono::floor<std::chrono::seconds>(t)).count();
    if (nanos == 0) return base;
    char frac[16];
    std::snprintf(frac, sizeof frac, ".%09lld", static_cast<long long>(nanos));
    std::string f(frac);
    while (f.back() == '0') f.pop_back();
    base.insert(base.size() - 1, f);
    return base;
}

std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

bool is_manifest_name(const std::string& name) {
    if (name.empty() || name[0] == '.') return false;
    auto ext = fs::path(name).extension().string();
    return ext == ".yaml" || ext == ".yml" || ext == ".json";
}

// What the kubelet's decoder and validation would refuse and later code relies on (the types of
// the fields this file writes into).
Result<void> check_pod_shape(json::object& pod) {
    if (auto k = kube::kind(pod); k != "Pod")
        return Error(errc::invalid_argument, k.empty()
                                                 ? std::string("not a Pod: no kind")
                                                 : "not a Pod: kind is \"" + std::string(k) + "\"");
    if (auto* av = pod.if_contains("apiVersion");
        av && !(av->is_string() && av->as_string() == "v1"))
        return Error(errc::invalid_argument,
                     "not a Pod: apiVersion is " + json::serialize(*av) + ", expected \"v1\"");
    if (auto* md = pod.if_contains("metadata"); md && !md->is_object())
        return Error(errc::invalid_argument, "metadata is not a mapping");
    if (auto* sp = pod.if_contains("spec"); !sp || !sp->is_object())
        return Error(errc::invalid_argument, "spec is missing or not a mapping");
    const auto* containers = kube::get_path(pod, "spec.containers");
    if (!containers || !containers->is_array() || containers->as_array().empty())
        return Error(errc::invalid_argument, "spec.containers: at least one container is required");
    if (auto* t = kube::get_path(pod, "spec.tolerations"); t && !t->is_array())
        return Error(errc::invalid_argument, "spec.tolerations is not a list");
    if (auto* ns = kube::get_path(pod, "metadata.namespace"); ns && !ns->is_string())
        return Error(errc::invalid_argument, "metadata.namespace is not a string");
    if (auto* a = kube::get_path(pod, "metadata.annotations"); a && !a->is_object())
        return Error(errc::invalid_argument, "metadata.annotations is not a mapping");
    return {};
}

// Static pods tolerate every NoExecute taint so node problems do not evict them; as the kubelet's
// AddOrUpdateTolerationInPod, one that matches (key, operator, value, effect) is replaced.
void tolerate_no_execute(json::object& spec) {
    json::object tolerate{{"operator", "Exists"}, {"effect", "NoExecute"}};
    auto* tolerations = spec.if_contains("tolerations");
    if (!tolerations) tolerations = &(spec["tolerations"] = json::array());
    auto& list = tolerations->as_array();
    auto text = [](const json::object& o, std::string_view k) -> std::string_view {
        auto* v = o.if_contains(k);
        return v && v->is_string() ? std::string_view(v->as_string()) : std::string_view();
    };
    auto match = std::find_if(list.begin(), list.end(), [&](const json::value& t) {
        if (!t.is_object()) return false;
        const auto& o = t.as_object();
        return text(o, "key").empty() && text(o, "value").empty() &&
               text(o, "operator") == "Exists" && text(o, "effect") == "NoExecute";
    });
    if (match != list.end()) {
        *match = std::move(tolerate);
    } else {
        list.push_back(std::move(tolerate));
    }
}

// The kubelet's applyDefaults for a file source. The error is the "<why>" of a scan error line.
Result<StaticPod> make_static_pod(const fs::path& file, const std::string& content,
                                  const std::string& node, Clock::time_point seen) {
    auto parsed = looks_like_json(content) ? parse_json(content) : yaml_to_json(content);
    if (!parsed) return parsed.error();
    if (parsed->is_null()) return Error(errc::invalid_argument, "empty manifest");
    if (!parsed->is_object())
        return Error(errc::invalid_argument, "not a Pod: the document is not a mapping");
    json::object pod = std::move(parsed->as_object());
    if (auto ok = check_pod_shape(pod); !ok) return ok.error();
    std::string name(kube::name(pod));
    if (name.empty()) return Error(errc::invalid_argument, "metadata.name is missing");
    std::string full_name = name + "-" + lower(node);
    if (auto ok = kube::validate_dns1123_subdomain(full_name); !ok)
        return Error(errc::invalid_argument,
                     "pod name \"" + full_name + "\" is invalid: " + ok.error().detail);
    std::string ns(kube::namespace_of(pod));
    if (ns.empty()) ns = "default";
    if (auto ok = kube::validate_dns1123_label(ns); !ok)
        return Error(errc::invalid_argument,
                     "namespace \"" + ns + "\" is invalid: " + ok.error().detail);

    // As the kubelet: a UID written in the manifest is kept (and is then the hash).
    std::string hash(kube::uid(pod));
    if (hash.empty()) hash = manifest_hash(content, node, file.string());
    if (hash.empty()) return Error(errc::crypto_error, "sha256 of the manifest failed");
    pod["apiVersion"] = "v1";
    kube::set_uid(pod, hash);
    kube::set_name(pod, full_name);
    kube::set_namespace(pod, ns);
    kube::set_annotation(pod, kConfigHash, hash);
    kube::set_annotation(pod, kConfigSource, "file");
    kube::set_annotation(pod, kConfigSeen, format_rfc3339_nano(seen));
    auto& spec = pod["spec"].as_object();
    spec["nodeName"] = node;
    tolerate_no_execute(spec);
    auto* status = pod.if_contains("status");
    if (!status || !status->is_object()) status = &(pod["status"] = json::object());
    status->as_object()["phase"] = "Pending";
    return StaticPod{file, std::move(pod), hash};
}

}  // namespace

Result<json::value> yaml_to_json(const std::string& yaml) {
    std::vector<YAML::Node> docs;
    try {
        docs = YAML::LoadAll(yaml);
    } catch (const YAML::Exception& e) {
        return yaml_error(e.mark, e.msg);
    }
    const YAML::Node* first = nullptr;
    for (const auto& d : docs) {
        if (d.IsNull() || !d.IsDefined()) continue;
        if (first) return yaml_error(d.Mark(), "a second YAML document: a manifest holds one pod");
        first = &d;
    }
    if (!first) return json::value(nullptr);
    try {
        YamlConverter c;
        return c.convert(*first, 0);
    } catch (const YAML::Exception& e) {
        return yaml_error(e.mark, e.msg);
    }
}

StaticPodScan scan_static_pods(const fs::path& dir, const std::string& node) {
    return scan_static_pods(dir, node, SystemClock::instance().now());
}

StaticPodScan scan_static_pods(const fs::path& dir, const std::string& node,
                               Clock::time_point seen) {
    StaticPodScan scan;
    std::error_code ec;
    auto st = fs::status(dir, ec);
    if (ec || !fs::exists(st)) {
        if (ec && ec != std::errc::no_such_file_or_directory && ec != std::errc::not_a_directory)
            scan.errors.push_back(dir.string() + ": " + ec.message());
        return scan;
    }
    std::vector<fs::path> files;
    if (fs::is_regular_file(st)) {
        // staticPodPath may name a single manifest, as the kubelet allows.
        files.push_back(dir);
    } else if (fs::is_directory(st)) {
        fs::directory_iterator it(dir, ec);
        if (ec) {
            scan.errors.push_back(dir.string() + ": cannot read the directory: " + ec.message());
            return scan;
        }
        for (; it != fs::directory_iterator(); it.increment(ec)) {
            auto name = it->path().filename().string();
            if (!is_manifest_name(name)) continue;
            std::error_code fec;
            if (!fs::is_regular_file(it->path(), fec)) continue;  // sub-directories, sockets...
            files.push_back(it->path());
        }
        if (ec)
            scan.errors.push_back(dir.string() + ": cannot read the directory: " + ec.message());
        // Directory order is arbitrary; sorting decides which of two same-named pods wins.
        std::sort(files.begin(), files.end());
    } else {
        scan.errors.push_back(dir.string() + ": neither a directory nor a regular file");
        return scan;
    }

    std::map<std::string, fs::path> seen_names;  // "<ns>/<name>" -> file
    for (const auto& file : files) {
        auto content = read_manifest(file);
        if (!content) {
            scan.errors.push_back(file.string() + ": " + content.error().detail);
            continue;
        }
        auto pod = make_static_pod(file, *content, node, seen);
        if (!pod) {
            scan.errors.push_back(file.string() + ": " + pod.error().detail);
            continue;
        }
        std::string key = kube::cache_key(pod->pod);
        auto [it, inserted] = seen_names.emplace(key, file);
        if (!inserted) {
            scan.errors.push_back(file.string() + ": duplicate pod " + key + " (also in " +
                                  it->second.string() + ")");
            continue;
        }
        scan.pods.push_back(std::move(*pod));
    }
    return scan;
}

json::object mirror_pod(const StaticPod& pod, const std::string& node,
                        const std::string& node_uid) {
    json::object out;
    for (const auto& [k, v] : pod.pod) {
        if (k == "status") continue;  // the API server sets a new pod's status
        out.emplace(k, v);
    }
    auto& metadata = kube::ensure_metadata(out);
    metadata.erase("uid");
    metadata.erase("resourceVersion");
    metadata.erase("creationTimestamp");
    metadata.erase("ownerReferences");
    kube::set_annotation(out, kConfigMirror, pod.hash);
    if (!node_uid.empty()) {
        metadata["ownerReferences"] = json::array{json::object{{"apiVersion", "v1"},
                                                               {"kind", "Node"},
                                                               {"name", node},
                                                               {"uid", node_uid},
                                                               {"controller", true}}};
    }
    return out;
}

bool is_mirror_pod(const json::object& pod) {
    const auto* annotations = kube::get_path(pod, "metadata.annotations");
    return annotations && annotations->is_object() &&
           annotations->as_object().contains(kConfigMirror);
}

}  // namespace kedge::edge
