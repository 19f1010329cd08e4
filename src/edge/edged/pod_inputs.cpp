#include "edge/edged/pod_inputs.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <boost/json.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iterator>
#include <set>

#include "base/log.hpp"
#include "edge/edged/node_status.hpp"
#include "kube/object.hpp"

namespace kedge::edge {

namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

// ---------------------------------------------------------------- JSON access

const json::object* obj_at(const json::object& o, std::string_view key) {
    auto it = o.find(key);
    return it != o.end() && it->value().is_object() ? &it->value().get_object() : nullptr;
}

const json::array* arr_at(const json::object& o, std::string_view key) {
    auto it = o.find(key);
    return it != o.end() && it->value().is_array() ? &it->value().get_array() : nullptr;
}

std::string str_at(const json::object& o, std::string_view key) {
    auto it = o.find(key);
    return it != o.end() && it->value().is_string() ? std::string(it->value().get_string())
                                                    : std::string();
}

bool bool_at(const json::object& o, std::string_view key) {
    auto it = o.find(key);
    return it != o.end() && it->value().is_bool() && it->value().get_bool();
}

std::string pod_namespace(const json::object& pod) {
    auto ns = kube::namespace_of(pod);
    return ns.empty() ? std::string("default") : std::string(ns);
}

// File modes are plain JSON integers (decimal 420 = 0644); API validation allows 0..0777.
Result<int> mode_at(const json::object& o, std::string_view key, int fallback,
                    const std::string& what) {
    auto it = o.find(key);
    if (it == o.end() || it->value().is_null()) return fallback;
    if (!it->value().is_int64() && !it->value().is_uint64()) {
        return Error(errc::invalid_argument, what + ": " + std::string(key) + " is not a number");
    }
    auto v = it->value().to_number<std::int64_t>();
    if (v < 0 || v > 0777) {
        return Error(errc::invalid_argument, what + ": " + std::string(key) + " " +
                                                 std::to_string(v) + " is not between 0 and 0777");
    }
    return static_cast<int>(v);
}

// ---------------------------------------------------------------- base64 (std alphabet)

Result<std::string> base64_decode(std::string_view in) {
    auto value_of = [](char c) -> int {
        if (c >= 'A' && c <= 'Z') return c - 'A';
        if (c >= 'a' && c <= 'z') return c - 'a' + 26;
        if (c >= '0' && c <= '9') return c - '0' + 52;
        if (c == '+') return 62;
        if (c == '/') return 63;
        return -1;
    };
    if (in.size() % 4 != 0) return Error(errc::parse_error, "length is not a multiple of 4");
    std::string out;
    out.reserve(in.size() / 4 * 3);
    for (std::size_t i = 0; i < in.size(); i += 4) {
        int v[4];
        int pad = 0;
        for (int j = 0; j < 4; ++j) {
            char c = in[i + j];
            bool last_group = i + 4 == in.size();
            if (c == '=' && last_group && j >= 2 && (j == 3 || in[i + 3] == '=')) {
                v[j] = 0;
                ++pad;
                continue;
            }
            v[j] = value_of(c);
            if (v[j] < 0 || pad > 0) {
                return Error(errc::parse_error,
                             "invalid character at offset " + std::to_string(i + j));
            }
        }
        std::uint32_t n =
            (static_cast<std::uint32_t>(v[0]) << 18) | (static_cast<std::uint32_t>(v[1]) << 12) |
            (static_cast<std::uint32_t>(v[2]) << 6) | static_cast<std::uint32_t>(v[3]);
        out.push_back(static_cast<char>((n >> 16) & 0xff));
        if (pad < 2) out.push_back(static_cast<char>((n >> 8) & 0xff));
        if (pad < 1) out.push_back(static_cast<char>(n & 0xff));
    }
    return out;
}

// ---------------------------------------------------------------- quantities

__extension__ typedef unsigned __int128 U128;
constexpr U128 kU128Limit = static_cast<U128>(1) << 120;  // far below overflow of one multiply

// A non-negative resource.Quantity as the exact fraction num/den.
struct Quantity {
    U128 num = 0;
    U128 den = 1;
    // ceil(q * scale), as MilliValue (scale 1000) / Value (scale 1) round.
    std::int64_t ceil_scaled(std::int64_t scale) const {
        U128 n = num * static_cast<U128>(scale);
        U128 v = (n + den - 1) / den;
        constexpr auto kMax = static_cast<U128>(INT64_MAX);
        return static_cast<std::int64_t>(v > kMax ? kMax : v);
    }
};

Result<Quantity> parse_quantity(std::string_view text) {
    auto bad = [&] {
        return Error(errc::invalid_argument, "\"" + std::string(text) + "\" is not a quantity");
    };
    std::size_t i = 0;
    if (i < text.size() && text[i] == '+') ++i;
    Quantity q;
    bool digits = false;
    bool in_fraction = false;
    for (; i < text.size(); ++i) {
        char c = text[i];
        if (c == '.' && !in_fraction) {
            in_fraction = true;
            continue;
        }
        if (c < '0' || c > '9') break;
        digits = true;
        q.num = q.num * 10 + static_cast<U128>(c - '0');
        if (in_fraction) q.den *= 10;
        if (q.num > kU128Limit / 16 || q.den > kU128Limit / 16) return bad();  // no overflow
    }
    if (!digits) return bad();
    std::string_view suffix = text.substr(i);
    bool overflow = false;
    auto times = [&](U128 f) {
        if (q.num > kU128Limit / f) overflow = true;
        q.num *= f;
    };
    auto divide = [&](U128 f) {
        if (q.den > kU128Limit / f) overflow = true;
        q.den *= f;
    };
    auto pow10 = [](int e) {
        U128 r = 1;
        while (e-- > 0) r *= 10;
        return r;
    };
    static const std::pair<std::string_view, int> kBinary[] = {{"Ki", 10}, {"Mi", 20}, {"Gi", 30},
                                                               {"Ti", 40}, {"Pi", 50}, {"Ei", 60}};
    static const std::pair<std::string_view, int> kDecimal[] = {
        {"n", -9}, {"u", -6}, {"m", -3}, {"", 0},   {"k", 3},
        {"M", 6},  {"G", 9},  {"T", 12}, {"P", 15}, {"E", 18}};
    int exp10 = 0;
    bool matched = false;
    for (auto& [s, shift] : kBinary) {
        if (suffix == s) {
            times(static_cast<U128>(1) << shift);
            matched = true;
        }
    }
    for (auto& [s, e] : kDecimal) {
        if (suffix == s) {
            exp10 = e;
            matched = true;
        }
    }
    if (!matched && suffix.size() >= 2 && (suffix[0] == 'e' || suffix[0] == 'E')) {
        std::size_t j = 1;
        bool neg = false;
        if (suffix[j] == '+' || suffix[j] == '-') neg = suffix[j++] == '-';
        if (j == suffix.size() || suffix.size() - j > 2) return bad();
        for (; j < suffix.size(); ++j) {
            if (suffix[j] < '0' || suffix[j] > '9') return bad();
            exp10 = exp10 * 10 + (suffix[j] - '0');
        }
        if (neg) exp10 = -exp10;
        matched = true;
    }
    if (!matched || exp10 > 18 || exp10 < -18) return bad();
    if (exp10 > 0) times(pow10(exp10));
    if (exp10 < 0) divide(pow10(-exp10));
    if (overflow || q.num > kU128Limit / 1000) return bad();
    return q;
}

// ---------------------------------------------------------------- Go's %q (fieldpath.FormatMap)

std::size_t utf8_rune(std::string_view s, std::size_t i, std::uint32_t* rune) {
    auto b = static_cast<unsigned char>(s[i]);
    std::size_t len = b < 0x80           ? 1
                      : (b >> 5) == 0x6  ? 2
                      : (b >> 4) == 0xe  ? 3
                      : (b >> 3) == 0x1e ? 4
                                         : 0;
    if (len == 0 || i + len > s.size()) return 0;
    std::uint32_t r = len == 1 ? b : b & (0xff >> (len + 1));
    for (std::size_t k = 1; k < len; ++k) {
        auto c = static_cast<unsigned char>(s[i + k]);
        if ((c & 0xc0) != 0x80) return 0;
        r = (r << 6) | (c & 0x3f);
    }
    static constexpr std::uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (r < kMin[len] || r > 0x10ffff || (r >= 0xd800 && r <= 0xdfff)) return 0;
    *rune = r;
    return len;
}

std::string go_quote(std::string_view s) {
    std::string out = "\"";
    static const char kHex[] = "0123456789abcdef";
    for (std::size_t i = 0; i < s.size();) {
        std::uint32_t r = 0;
        std::size_t len = utf8_rune(s, i, &r);
        if (len == 0) {  // invalid UTF-8 byte
            auto b = static_cast<unsigned char>(s[i]);
            out += "\\x";
            out += kHex[b >> 4];
            out += kHex[b & 0xf];
            ++i;
            continue;
        }
        switch (r) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\a':
                out += "\\a";
                break;
            case '\b':
                out += "\\b";
                break;
            case '\f':
                out += "\\f";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            case '\v':
                out += "\\v";
                break;
            default:
                if (r < 0x20 || r == 0x7f) {
                    out += "\\x";
                    out += kHex[r >> 4];
                    out += kHex[r & 0xf];
                } else if (r >= 0x80 && r < 0xa0) {
                    out += "\\u00";
                    out += kHex[r >> 4];
                    out += kHex[r & 0xf];
                } else {
                    out.append(s.substr(i, len));
                }
        }
        i += len;
    }
    out += '"';
    return out;
}

// key="value" lines, sorted, no trailing newline.
std::string format_map(const kube::Labels& m) {
    std::string out;
    for (const auto& [k, v] : m) {
        if (!out.empty()) out += '\n';
        out += k + "=" + go_quote(v);
    }
    return out;
}

// ---------------------------------------------------------------- downward API values

// fieldpath.ExtractFieldPathAsString: what downwardAPI volume items support.
Result<std::string> metadata_field(const json::object& pod, const std::string& path) {
    if (path.size() > 2 && path.ends_with("']")) {
        auto open = path.find("['");
        if (open != std::string::npos && open > 0) {
            auto base = path.substr(0, open);
            auto key = path.substr(open + 2, path.size() - open - 4);
            if (base == "metadata.labels") return std::string(kube::label(pod, key).value_or(""));
            if (base == "metadata.annotations") {
                return std::string(kube::annotation(pod, key).value_or(""));
            }
            return Error(errc::invalid_argument,
                         "fieldPath \"" + base + "\" does not support subscript");
        }
    }
    if (path == "metadata.name") return std::string(kube::name(pod));
    if (path == "metadata.namespace") return std::string(kube::namespace_of(pod));
    if (path == "metadata.uid") return std::string(kube::uid(pod));
    if (path == "metadata.labels") return format_map(kube::labels(pod));
    if (path == "metadata.annotations") return format_map(kube::annotations(pod));
    return Error(errc::invalid_argument, "unsupported fieldPath: " + path);
}

// The kubelet's podFieldSelectorRuntimeValue: env also sees spec and status fields.
Result<std::string> env_field(const json::object& pod, const std::string& path,
                              const NodeFacts& node, const std::string& pod_ip) {
    const json::object* spec = obj_at(pod, "spec");
    static const json::object kEmpty;
    const json::object& s = spec ? *spec : kEmpty;
    if (path == "spec.nodeName") {
        auto n = str_at(s, "nodeName");
        return n.empty() ? node.node_name : n;
    }
    if (path == "spec.serviceAccountName") return str_at(s, "serviceAccountName");
    if (path == "status.hostIP" || path == "status.hostIPs") return node.host_ip;
    if (path == "status.podIP" || path == "status.podIPs") {
        // A host-network sandbox has the node's address.
        return pod_ip.empty() && bool_at(s, "hostNetwork") ? node.host_ip : pod_ip;
    }
    return metadata_field(pod, path);
}

const json::object* find_container(const json::object& pod, const std::string& name) {
    const json::object* spec = obj_at(pod, "spec");
    if (!spec) return nullptr;
    for (auto list : {"containers", "initContainers"}) {
        if (const json::array* a = arr_at(*spec, list)) {
            for (const auto& c : *a) {
                if (c.is_object() && str_at(c.get_object(), "name") == name) return &c.get_object();
            }
        }
    }
    return nullptr;
}

// The node's allocatable, the default of an unset limit (defaultPodLimitsForDownwardAPI);
// the same numbers the node status reports as allocatable.
Result<Quantity> allocatable(const std::string& resource) {
    static const MachineInfo machine = MachineInfo::read();
    Quantity q;
    if (resource == "cpu") {
        q.num = static_cast<U128>(machine.cpus);
    } else if (resource == "memory") {
        q.num = static_cast<U128>(machine.memory_kib) * 1024;
    } else if (resource == "ephemeral-storage") {
        std::error_code ec;
        q.num = static_cast<U128>(fs::space("/", ec).capacity);
        if (ec) q.num = 0;
    }
    return q;
}

// ExtractContainerResourceValue: ceil(value / divisor), CPU in milli units.
Result<std::string> resource_field(const json::object& pod, const json::object* self,
                                   const json::object& ref, const std::string& what) {
    auto container_name = str_at(ref, "containerName");
    const json::object* container = self;
    if (!container_name.empty()) container = find_container(pod, container_name);
    if (!container) {
        return Error(errc::invalid_argument,
                     what + ": resourceFieldRef names no container" +
                         (container_name.empty() ? "" : " \"" + container_name + "\""));
    }
    auto resource = str_at(ref, "resource");
    auto dot = resource.find('.');
    auto kind = resource.substr(0, dot == std::string::npos ? 0 : dot);
    auto name = dot == std::string::npos ? std::string() : resource.substr(dot + 1);
    bool known = name == "cpu" || name == "memory" || name == "ephemeral-storage" ||
                 name.starts_with("hugepages-");
    if ((kind != "limits" && kind != "requests") || !known) {
        return Error(errc::invalid_argument, "unsupported container resource : " + resource);
    }
    Quantity divisor;
    divisor.num = 1;
    auto div_it = ref.find("divisor");
    if (div_it != ref.end() && !div_it->value().is_null()) {
        std::string text = div_it->value().is_string() ? std::string(div_it->value().get_string())
                                                       : json::serialize(div_it->value());
        auto d = parse_quantity(text);
        if (!d) return Error(errc::invalid_argument, what + ": divisor " + d.error().detail);
        divisor = *d;
    }
    Quantity value;
    bool present = false;
    if (const json::object* res = obj_at(*container, "resources")) {
        if (const json::object* m = obj_at(*res, kind)) {
            auto it = m->find(name);
            if (it != m->end()) {
                std::string text = it->value().is_string() ? std::string(it->value().get_string())
                                                           : json::serialize(it->value());
                auto v = parse_quantity(text);
                if (!v) return Error(errc::invalid_argument, what + ": " + v.error().detail);
                value = *v;
                present = value.num != 0;
            }
        }
    }
    if (!present && kind == "limits" && !name.starts_with("hugepages-")) {
        auto a = allocatable(name);
        if (!a) return a.error();
        value = *a;
    }
    std::int64_t scale = name == "cpu" ? 1000 : 1;
    std::int64_t d = divisor.ceil_scaled(scale);
    if (d <= 0) return Error(errc::invalid_argument, what + ": divisor must be positive");
    std::int64_t v = value.ceil_scaled(scale);
    return std::to_string(v / d + (v % d != 0 ? 1 : 0));
}

// ---------------------------------------------------------------- objects

// Looks objects up once per call, so that one pod sees one version of each.
class Objects {
public:
    Objects(const ObjectLookup& lookup, std::string ns) : lookup_(lookup), ns_(std::move(ns)) {}
    const std::string& ns() const { return ns_; }

    const json::object* get(const std::string& type, const std::string& name) {
        auto key = type + "/" + name;
        auto it = cache_.find(key);
        if (it == cache_.end()) {
            std::optional<json::object> o;
            if (lookup_) o = lookup_(type, ns_, name);
            it = cache_.emplace(key, std::move(o)).first;
        }
        return it->second ? &*it->second : nullptr;
    }

private:
    const ObjectLookup& lookup_;
    std::string ns_;
    std::map<std::string, std::optional<json::object>> cache_;
};

Error missing(const std::string& type, const std::string& name) {
    return Error(errc::not_found, type + " \"" + name + "\" not found");
}

// The data of a configMap (data, then binaryData decoded) or a secret (data decoded), by key.
// The environment sees only `data` (with_binary false), volumes also configMap binaryData.
Result<std::map<std::string, std::string>> object_data(const json::object& obj,
                                                       const std::string& type,
                                                       const std::string& ns, bool with_binary) {
    std::map<std::string, std::string> out;
    const bool secret = type == "secret";
    const std::string label =
        (secret ? "Secret " : "ConfigMap ") + ns + "/" + std::string(kube::name(obj));
    auto add = [&](const char* field, bool encoded) -> Result<void> {
        const json::object* data = obj_at(obj, field);
        if (!data) return {};
        for (const auto& kv : *data) {
            if (!kv.value().is_string()) continue;
            std::string_view text = kv.value().get_string();
            if (!encoded) {
                out.emplace(std::string(kv.key()), std::string(text));
                continue;
            }
            auto decoded = base64_decode(text);
            if (!decoded) {
                return Error(errc::invalid_argument,
                             label + ": " + field + " key \"" + std::string(kv.key()) +
                                 "\" is not base64: " + decoded.error().detail);
            }
            out.emplace(std::string(kv.key()), std::move(*decoded));
        }
        return {};
    };
    if (auto r = add("data", secret); !r) return r.error();
    if (!secret && with_binary) {
        if (auto r = add("binaryData", true); !r) return r.error();
    }
    return out;
}

// ---------------------------------------------------------------- payloads

struct FileProjection {
    std::string data;
    int mode = 0644;
};
using Payload = std::map<std::string, FileProjection>;

// The AtomicWriter's validatePath, plus the clean path it stores.
Result<std::string> clean_payload_path(const std::string& p, const std::string& what) {
    auto bad = [&](const std::string& why) {
        return Error(errc::invalid_argument, what + ": invalid path \"" + p + "\": " + why);
    };
    if (p.empty()) return bad("must not be empty");
    if (p.front() == '/') return bad("must be relative path");
    if (p.size() > 4096) return bad("must be less than or equal to 4096 characters");
    std::string clean;
    std::size_t start = 0;
    bool first = true;
    while (start <= p.size()) {
        auto end = p.find('/', start);
        if (end == std::string::npos) end = p.size();
        auto item = p.substr(start, end - start);
        if (item == "..") return bad("must not contain '..'");
        if (item.size() > 255) return bad("filenames must be less than or equal to 255 characters");
        if (first && item.size() > 2 && item.starts_with(".."))
            return bad("must not start with '..'");
        first = false;
        if (!item.empty() && item != ".") clean += (clean.empty() ? "" : "/") + item;
        start = end + 1;
    }
    if (clean.empty()) return bad("must not be empty");
    return clean;
}

// configMap / secret volume or projection (MakePayload).
Result<void> add_object_payload(Payload& payload, const json::object& source, Objects& objects,
                                const std::string& type, const std::string& name_key,
                                int default_mode, const std::string& what) {
    auto name = str_at(source, name_key);
    bool optional = bool_at(source, "optional");
    const json::object* obj = objects.get(type, name);
    if (!obj) {
        if (optional) return {};
        return missing(type, name);
    }
    auto data = object_data(*obj, type, objects.ns(), true);
    if (!data) return data.error();
    const json::array* items = arr_at(source, "items");
    if (!items || items->empty()) {
        for (auto& [k, v] : *data) {
            auto p = clean_payload_path(k, what);
            if (!p) return p.error();
            payload[*p] = FileProjection{v, default_mode};
        }
        return {};
    }
    for (const auto& iv : *items) {
        if (!iv.is_object()) continue;
        const auto& item = iv.get_object();
        auto key = str_at(item, "key");
        auto it = data->find(key);
        if (it == data->end()) {
            if (optional) continue;
            return Error(errc::not_found, type + " references non-existent " +
                                              (type == "secret" ? "secret" : "config") +
                                              " key: " + key);
        }
        auto mode = mode_at(item, "mode", default_mode, what);
        if (!mode) return mode.error();
        auto p = clean_payload_path(str_at(item, "path"), what);
        if (!p) return p.error();
        payload[*p] = FileProjection{it->second, *mode};
    }
    return {};
}

Result<void> add_downward_payload(Payload& payload, const json::object& source,
                                  const json::object& pod, int default_mode,
                                  const std::string& what) {
    const json::array* items = arr_at(source, "items");
    if (!items) return {};
    for (const auto& iv : *items) {
        if (!iv.is_object()) continue;
        const auto& item = iv.get_object();
        auto mode = mode_at(item, "mode", default_mode, what);
        if (!mode) return mode.error();
        auto p = clean_payload_path(str_at(item, "path"), what);
        if (!p) return p.error();
        Result<std::string> value =
            Error(errc::invalid_argument,
                  what + ": item \"" + *p + "\" has neither fieldRef nor resourceFieldRef");
        if (const json::object* f = obj_at(item, "fieldRef")) {
            value = metadata_field(pod, str_at(*f, "fieldPath"));
        } else if (const json::object* r = obj_at(item, "resourceFieldRef")) {
            value = resource_field(pod, nullptr, *r, what);
        }
        if (!value) return Error(value.error().code, what + ": " + value.error().detail);
        payload[*p] = FileProjection{std::move(*value), *mode};
    }
    return {};
}

Result<void> add_projected_payload(Payload& payload, const json::object& source,
                                   const json::object& pod, Objects& objects,
                                   const std::string& what) {
    auto default_mode = mode_at(source, "defaultMode", 0644, what);
    if (!default_mode) return default_mode.error();
    const json::array* sources = arr_at(source, "sources");
    if (!sources) return {};
    for (const auto& sv : *sources) {
        if (!sv.is_object()) continue;
        const auto& s = sv.get_object();
        Result<void> r;
        if (const json::object* cm = obj_at(s, "configMap")) {
            r = add_object_payload(payload, *cm, objects, "configmap", "name", *default_mode, what);
        } else if (const json::object* sec = obj_at(s, "secret")) {
            r = add_object_payload(payload, *sec, objects, "secret", "name", *default_mode, what);
        } else if (const json::object* d = obj_at(s, "downwardAPI")) {
            r = add_downward_payload(payload, *d, pod, *default_mode, what);
        } else {
            std::string type = s.empty() ? std::string("(empty)") : std::string(s.begin()->key());
            r = Error(errc::invalid_argument,
                      what + ": projected source " + type + " is not supported yet");
        }
        if (!r) return r;
    }
    return {};
}

// ---------------------------------------------------------------- atomic writer

constexpr std::string_view kDataDir = "..data";
constexpr std::string_view kDataTmp = "..data_tmp";

std::string timestamp_prefix() {
    std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    std::tm tm{};
    gmtime_r(&now, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "..%Y_%m_%d_%H_%M_%S.", &tm);
    return buf;
}

void write_file(const fs::path& p, const std::string& data, int mode) {
    int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        throw fs::filesystem_error("open", p, std::error_code(errno, std::generic_category()));
    std::size_t done = 0;
    int err = 0;
    while (done < data.size()) {
        auto n = ::write(fd, data.data() + done, data.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            err = errno;
            break;
        }
        done += static_cast<std::size_t>(n);
    }
    if (err == 0 && ::fchmod(fd, static_cast<mode_t>(mode)) != 0) err = errno;
    if (::close(fd) != 0 && err == 0) err = errno;
    if (err != 0)
        throw fs::filesystem_error("write", p, std::error_code(err, std::generic_category()));
}

bool same_content(const fs::path& dir, const Payload& payload) {
    std::error_code ec;
    std::size_t files = 0;
    for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
         it.increment(ec)) {
        if (it->is_symlink(ec)) return false;
        if (it->is_regular_file(ec)) ++files;
    }
    if (ec || files != payload.size()) return false;
    for (const auto& [rel, f] : payload) {
        auto p = dir / rel;
        auto st = fs::symlink_status(p, ec);
        if (ec || !fs::is_regular_file(st)) return false;
        if ((static_cast<int>(st.permissions()) & 07777) != f.mode) return false;
        std::ifstream in(p, std::ios::binary);
        std::string got((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (!in.good() && !in.eof()) return false;
        if (got != f.data) return false;
    }
    return true;
}

std::set<std::string> top_level(const Payload& payload) {
    std::set<std::string> out;
    for (const auto& [rel, f] : payload) out.insert(rel.substr(0, rel.find('/')));
    return out;
}

// Writes the payload into a new `..<timestamp>.<random>` directory and points `..data` at it.
std::string write_timestamped(const fs::path& dir, const Payload& payload, fs::perms dir_mode) {
    std::string tmpl = (dir / timestamp_prefix()).string() + "XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) {
        throw fs::filesystem_error("mkdtemp", fs::path(tmpl),
                                   std::error_code(errno, std::generic_category()));
    }
    const fs::path ts_dir(tmpl);
    try {
        fs::permissions(ts_dir, dir_mode);
        for (const auto& [rel, f] : payload) {
            for (fs::path d = ts_dir; const auto& part : fs::path(rel).parent_path()) {
                d /= part;
                if (fs::create_directory(d)) fs::permissions(d, dir_mode);
            }
            write_file(ts_dir / rel, f.data, f.mode);
        }
        const fs::path tmp_link = dir / kDataTmp;
        fs::remove(tmp_link);
        fs::create_symlink(ts_dir.filename(), tmp_link);
        fs::rename(tmp_link, dir / kDataDir);  // rename(2) replaces the old link atomically
    } catch (...) {
        std::error_code ec;
        fs::remove_all(ts_dir, ec);
        throw;
    }
    return ts_dir.filename().string();
}

// The kubelet's AtomicWriter.Write; throws fs::filesystem_error (caught by the caller).
void atomic_write(const fs::path& dir, const Payload& payload, fs::perms dir_mode) {
    fs::create_directories(dir);
    fs::permissions(dir, dir_mode);
    std::string old_ts;
    std::error_code ec;
    if (fs::is_symlink(fs::symlink_status(dir / kDataDir, ec))) {
        old_ts = fs::read_symlink(dir / kDataDir).string();
        if (old_ts.find('/') != std::string::npos || !old_ts.starts_with("..")) old_ts.clear();
    }
    std::set<std::string> old_top;
    bool unchanged = false;
    if (!old_ts.empty() && fs::is_directory(fs::symlink_status(dir / old_ts, ec))) {
        unchanged = same_content(dir / old_ts, payload);
        for (const auto& e : fs::directory_iterator(dir / old_ts)) {
            old_top.insert(e.path().filename().string());
        }
    }
    const std::string new_ts = unchanged ? old_ts : write_timestamped(dir, payload, dir_mode);

    // Key links, stale links and old directories are also repaired when the content is
    // unchanged (after an interrupted earlier write).
    auto new_top = top_level(payload);
    for (const auto& name : new_top) {
        auto p = dir / name;
        if (!fs::exists(fs::symlink_status(p, ec))) {
            fs::create_symlink(fs::path(kDataDir) / name, p);
        }
    }
    for (const auto& name : old_top) {
        auto p = dir / name;
        if (!new_top.contains(name) && fs::is_symlink(fs::symlink_status(p, ec))) fs::remove(p);
    }
    for (const auto& e : fs::directory_iterator(dir)) {
        auto n = e.path().filename().string();
        if (n.starts_with("..") && n != new_ts && n != kDataDir && !e.is_symlink() &&
            e.is_directory()) {
            fs::remove_all(e.path());
        }
    }
}

bool safe_component(const std::string& s) {
    return !s.empty() && s != "." && s != ".." && s.find('/') == std::string::npos &&
           s.find('\0') == std::string::npos;
}

// ---------------------------------------------------------------- host paths

Result<fs::path> check_host_path(const json::object& source, const std::string& what) {
    auto path = str_at(source, "path");
    auto type = str_at(source, "type");
    if (path.empty() || path.front() != '/') {
        return Error(errc::invalid_argument,
                     what + ": hostPath path \"" + path + "\" must be an absolute path");
    }
    for (const auto& part : fs::path(path)) {
        if (part == "..") {
            return Error(errc::invalid_argument,
                         what + ": hostPath path \"" + path + "\" must not contain '..'");
        }
    }
    auto fail = [&](const std::string& is_not) {
        return Error(errc::invalid_argument,
                     what + ": hostPath type check failed: " + path + " is not " + is_not);
    };
    struct stat st {};
    bool exists = ::stat(path.c_str(), &st) == 0;
    if (!exists && errno != ENOENT && errno != ENOTDIR) {
        return Error(errc::io_error, what + ": hostPath " + path + ": " + std::strerror(errno));
    }
    if (type.empty()) return fs::path(path);
    if (type == "DirectoryOrCreate" && !exists) {
        std::error_code ec;
        fs::create_directories(path, ec);
        if (ec) return Error(errc::io_error, what + ": creating " + path + ": " + ec.message());
        fs::permissions(path, fs::perms(0755), ec);
        return fs::path(path);
    }
    if (type == "FileOrCreate" && !exists) {
        // Like the kubelet: the parent directory is not created.
        int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) {
            return Error(errc::io_error, what + ": creating " + path + ": " + std::strerror(errno));
        }
        ::close(fd);
        return fs::path(path);
    }
    auto is = [&](mode_t kind) { return exists && (st.st_mode & S_IFMT) == kind; };
    if (type == "DirectoryOrCreate" || type == "Directory") {
        if (!is(S_IFDIR)) return fail("a directory");
    } else if (type == "FileOrCreate" || type == "File") {
        if (!is(S_IFREG)) return fail("a file");
    } else if (type == "Socket") {
        if (!is(S_IFSOCK)) return fail("a socket file");
    } else if (type == "CharDevice") {
        if (!is(S_IFCHR)) return fail("a character device");
    } else if (type == "BlockDevice") {
        if (!is(S_IFBLK)) return fail("a block device");
    } else {
        return Error(errc::invalid_argument, what + ": " + type + " is an invalid volume type");
    }
    return fs::path(path);
}

// One volume resolved before anything is written, so that a missing object leaves the disk as
// it was.
struct VolumePlan {
    std::string name;
    std::string plugin;  // "" for hostPath
    fs::path host_path;  // hostPath only
    const json::object* host_source = nullptr;
    Payload payload;
    bool atomic = false;
    fs::perms dir_mode = fs::perms(0755);
};

Result<VolumePlan> plan_volume(const json::object& vol, const json::object& pod, Objects& objects) {
    VolumePlan plan;
    plan.name = str_at(vol, "name");
    const std::string what = "volume \"" + plan.name + "\"";
    if (!safe_component(plan.name)) {
        return Error(errc::invalid_argument, "invalid volume name \"" + plan.name + "\"");
    }
    const json::object* empty_dir = obj_at(vol, "emptyDir");
    const json::object* host_path = obj_at(vol, "hostPath");
    const json::object* config_map = obj_at(vol, "configMap");
    const json::object* secret = obj_at(vol, "secret");
    const json::object* downward = obj_at(vol, "downwardAPI");
    const json::object* projected = obj_at(vol, "projected");
    if (empty_dir) {
        auto medium = str_at(*empty_dir, "medium");
        if (!medium.empty() && medium != "Memory") {
            return Error(errc::invalid_argument,
                         what + ": emptyDir medium " + medium + " is not supported");
        }
        plan.plugin = "empty-dir";
        plan.dir_mode = fs::perms(0777);
        return plan;
    }
    if (host_path) {
        plan.host_source = host_path;
        return plan;
    }
    const json::object* source = config_map ? config_map : secret ? secret : downward;
    Result<void> r;
    if (source) {
        auto mode = mode_at(*source, "defaultMode", 0644, what);
        if (!mode) return mode.error();
        if (config_map) {
            r = add_object_payload(plan.payload, *source, objects, "configmap", "name", *mode,
                                   what);
            plan.plugin = "configmap";
        } else if (secret) {
            r = add_object_payload(plan.payload, *source, objects, "secret", "secretName", *mode,
                                   what);
            plan.plugin = "secret";
            plan.dir_mode = fs::perms(0750);
        } else {
            r = add_downward_payload(plan.payload, *source, pod, *mode, what);
            plan.plugin = "downward-api";
        }
    } else if (projected) {
        r = add_projected_payload(plan.payload, *projected, pod, objects, what);
        plan.plugin = "projected";
    } else {
        std::string type;
        for (const auto& kv : vol) {
            if (kv.key() != "name") type = std::string(kv.key());
        }
        return Error(errc::invalid_argument,
                     what + ": " +
                         (type.empty() ? std::string("no volume source")
                                       : "volume type " + type + " is not supported"));
    }
    if (!r) return r.error();
    plan.atomic = true;
    return plan;
}

bool read_only_plugin(const fs::path& volume_path) {
    auto plugin = volume_path.parent_path().filename().string();
    return plugin == "kubernetes.io~configmap" || plugin == "kubernetes.io~secret" ||
           plugin == "kubernetes.io~downward-api" || plugin == "kubernetes.io~projected";
}

bool is_env_var_name(const std::string& s) {
    if (s.empty()) return false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        bool ok = c == '-' || c == '.' || c == '_' || (c >= 'a' && c <= 'z') ||
                  (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9');
        if (!ok) return false;
    }
    return true;
}

// An environment in declaration order where a later entry replaces the value of an earlier one.
class OrderedEnv {
public:
    void set(const std::string& name, std::string value) {
        auto [it, inserted] = index_.emplace(name, entries_.size());
        if (inserted) {
            entries_.emplace_back(name, std::move(value));
        } else {
            entries_[it->second].second = std::move(value);
        }
    }
    const std::string* find(const std::string& name) const {
        auto it = index_.find(name);
        return it == index_.end() ? nullptr : &entries_[it->second].second;
    }
    std::vector<std::pair<std::string, std::string>> take() { return std::move(entries_); }

private:
    std::vector<std::pair<std::string, std::string>> entries_;
    std::map<std::string, std::size_t> index_;
};

// third_party/forked/golang/expansion.Expand with MappingFuncFor(env): $$ -> $, $(VAR) -> value
// or left as written when VAR is not defined, anything else verbatim.
std::string expand(const std::string& in, const OrderedEnv& env) {
    std::string out;
    std::size_t checkpoint = 0;
    for (std::size_t cursor = 0; cursor < in.size(); ++cursor) {
        if (in[cursor] != '$' || cursor + 1 >= in.size()) continue;
        out.append(in, checkpoint, cursor - checkpoint);
        char next = in[cursor + 1];
        std::size_t advance = 1;
        if (next == '$') {
            out += '$';
        } else if (next == '(') {
            auto close = in.find(')', cursor + 2);
            if (close == std::string::npos) {
                out += "$(";
            } else {
                auto name = in.substr(cursor + 2, close - cursor - 2);
                const std::string* v = env.find(name);
                out += v ? *v : "$(" + name + ")";
                advance = close - cursor;
            }
        } else {
            out += '$';
            out += next;
        }
        cursor += advance;
        checkpoint = cursor + 1;
    }
    out.append(in, checkpoint);
    return out;
}

// One valueFrom; nullopt when an optional source is missing (the variable is skipped).
Result<std::optional<std::string>> value_from(const json::object& from, const json::object& pod,
                                              const json::object& container, Objects& objects,
                                              const NodeFacts& node, const std::string& pod_ip,
                                              const std::string& var) {
    const std::string what = "env " + var;
    if (const json::object* f = obj_at(from, "fieldRef")) {
        auto v = env_field(pod, str_at(*f, "fieldPath"), node, pod_ip);
        if (!v) return Error(v.error().code, what + ": " + v.error().detail);
        return std::optional<std::string>(std::move(*v));
    }
    if (const json::object* r = obj_at(from, "resourceFieldRef")) {
        auto v = resource_field(pod, &container, *r, what);
        if (!v) return v.error();
        return std::optional<std::string>(std::move(*v));
    }
    for (const char* type : {"configmap", "secret"}) {
        const bool secret = std::string_view(type) == "secret";
        const json::object* ref = obj_at(from, secret ? "secretKeyRef" : "configMapKeyRef");
        if (!ref) continue;
        auto name = str_at(*ref, "name");
        auto key = str_at(*ref, "key");
        bool optional = bool_at(*ref, "optional");
        const json::object* obj = objects.get(type, name);
        if (!obj) {
            if (optional) return std::optional<std::string>();
            return missing(type, name);
        }
        auto data = object_data(*obj, type, objects.ns(), false);
        if (!data) return data.error();
        auto it = data->find(key);
        if (it == data->end()) {
            if (optional) return std::optional<std::string>();
            return Error(errc::not_found, "couldn't find key \"" + key + "\" in " +
                                              (secret ? "Secret " : "ConfigMap ") + objects.ns() +
                                              "/" + name);
        }
        return std::optional<std::string>(it->second);
    }
    return Error(errc::invalid_argument, what + ": valueFrom has no supported source");
}

}  // namespace

// ---------------------------------------------------------------- public API

fs::path volume_dir(const fs::path& root, const std::string& pod_uid, const std::string& plugin,
                    const std::string& volume) {
    return root / "pods" / pod_uid / "volumes" / ("kubernetes.io~" + plugin) / volume;
}

Result<std::map<std::string, fs::path>> prepare_volumes(const json::object& pod,
                                                        const fs::path& root,
                                                        const ObjectLookup& lookup,
                                                        const NodeFacts& node) {
    std::string uid(kube::uid(pod));
    if (!safe_component(uid)) {
        return Error(errc::invalid_argument, "pod has an invalid metadata.uid \"" + uid + "\"");
    }
    Objects objects(lookup, pod_namespace(pod));
    std::vector<VolumePlan> plans;
    if (const json::object* spec = obj_at(pod, "spec")) {
        if (const json::array* vols = arr_at(*spec, "volumes")) {
            for (const auto& v : *vols) {
                if (!v.is_object()) continue;
                auto plan = plan_volume(v.get_object(), pod, objects);
                if (!plan) return plan.error();
                plans.push_back(std::move(*plan));
            }
        }
    }
    std::map<std::string, fs::path> out;
    for (auto& plan : plans) {
        const std::string what = "volume \"" + plan.name + "\"";
        if (plan.host_source) {
            auto p = check_host_path(*plan.host_source, what);
            if (!p) return p.error();
            out[plan.name] = *p;
            continue;
        }
        fs::path dir = volume_dir(root, uid, plan.plugin, plan.name);
        try {
            if (plan.atomic) {
                atomic_write(dir, plan.payload, plan.dir_mode);
            } else if (fs::create_directories(dir)) {
                fs::permissions(dir, plan.dir_mode);
            }
        } catch (const fs::filesystem_error& e) {
            return Error(errc::io_error, what + ": " + e.what());
        }
        out[plan.name] = dir;
    }
    return out;
}

Result<std::vector<VolumeMount>> container_mounts(const json::object& container,
                                                  const std::map<std::string, fs::path>& volumes) {
    std::vector<VolumeMount> out;
    const json::array* mounts = arr_at(container, "volumeMounts");
    if (!mounts) return out;
    auto cname = str_at(container, "name");
    for (const auto& mv : *mounts) {
        if (!mv.is_object()) continue;
        const auto& m = mv.get_object();
        auto name = str_at(m, "name");
        auto it = volumes.find(name);
        if (it == volumes.end()) {
            return Error(errc::not_found, "cannot find volume \"" + name +
                                              "\" to mount into container \"" + cname + "\"");
        }
        VolumeMount vm;
        vm.container_path = str_at(m, "mountPath");
        if (vm.container_path.empty() || vm.container_path.front() != '/') {
            return Error(errc::invalid_argument, "volumeMount \"" + name + "\" of container \"" +
                                                     cname + "\": mountPath \"" +
                                                     vm.container_path + "\" is not absolute");
        }
        if (!str_at(m, "subPathExpr").empty()) {
            return Error(errc::invalid_argument, "volumeMount \"" + name + "\" of container \"" +
                                                     cname + "\": subPathExpr is not supported");
        }
        vm.read_only = bool_at(m, "readOnly") || read_only_plugin(it->second);
        vm.host_path = it->second.string();
        auto sub = str_at(m, "subPath");
        if (!sub.empty()) {
            if (sub.front() == '/') {
                return Error(errc::invalid_argument,
                             "error SubPath `" + sub + "` must not be an absolute path");
            }
            for (const auto& part : fs::path(sub)) {
                if (part == "..") {
                    return Error(errc::invalid_argument, "unable to provision SubPath `" + sub +
                                                             "`: must not contain '..'");
                }
            }
            std::error_code ec;
            fs::path volume = fs::canonical(it->second, ec);
            if (ec) {
                return Error(errc::io_error, "volume \"" + name + "\": " + ec.message());
            }
            // Each existing component must resolve inside the volume before anything is
            // created under it, so a symlink in the volume cannot redirect the creation.
            auto inside = [&](const fs::path& p) {
                auto resolved = fs::canonical(p, ec);
                auto rel = resolved.lexically_relative(volume);
                return !ec && !rel.empty() && *rel.begin() != "..";
            };
            auto perms = fs::status(volume, ec).permissions();
            fs::path resolved = volume;
            for (fs::path d = volume; const auto& part : fs::path(sub)) {
                d /= part;
                if (!fs::exists(fs::symlink_status(d, ec))) {
                    // Created with the volume's own mode, as the kubelet does.
                    if (fs::create_directory(d, ec)) fs::permissions(d, perms, ec);
                    if (ec) {
                        return Error(errc::io_error,
                                     "failed to create subPath directory for volumeMount \"" +
                                         name + "\" of container \"" + cname + "\"");
                    }
                }
                if (!inside(d)) {
                    return Error(errc::invalid_argument, "subPath `" + sub + "` of volumeMount \"" +
                                                             name + "\" leaves the volume");
                }
                resolved = fs::canonical(d, ec);
            }
            vm.host_path = resolved.string();
        }
        out.push_back(std::move(vm));
    }
    return out;
}

Result<std::vector<std::pair<std::string, std::string>>> container_env(
    const json::object& pod, const json::object& container, const ObjectLookup& lookup,
    const NodeFacts& node, const std::string& pod_ip) {
    Objects objects(lookup, pod_namespace(pod));
    OrderedEnv env;
    if (const json::array* from = arr_at(container, "envFrom")) {
        for (const auto& fv : *from) {
            if (!fv.is_object()) continue;
            const auto& f = fv.get_object();
            auto prefix = str_at(f, "prefix");
            const json::object* ref = obj_at(f, "configMapRef");
            std::string type = "configmap";
            if (!ref) {
                ref = obj_at(f, "secretRef");
                type = "secret";
            }
            if (!ref) continue;
            auto name = str_at(*ref, "name");
            const json::object* obj = objects.get(type, name);
            if (!obj) {
                if (bool_at(*ref, "optional")) continue;
                return missing(type, name);
            }
            // Sorted by key (the kubelet iterates a Go map: any order).
            auto data = object_data(*obj, type, objects.ns(), false);
            if (!data) return data.error();
            std::vector<std::string> invalid;
            for (auto& [k, v] : *data) {
                auto var = prefix + k;
                if (!is_env_var_name(var)) {
                    invalid.push_back(var);
                    continue;
                }
                env.set(var, v);
            }
            if (!invalid.empty()) {
                std::string keys;
                for (const auto& k : invalid) keys += (keys.empty() ? "" : ", ") + k;
                log::get("edged")->warn(
                    "pod {}/{}: keys [{}] from the envFrom {} {} were skipped since they are "
                    "invalid environment variable names",
                    objects.ns(), kube::name(pod), keys, type, name);
            }
        }
    }
    if (const json::array* vars = arr_at(container, "env")) {
        for (const auto& ev : *vars) {
            if (!ev.is_object()) continue;
            const auto& e = ev.get_object();
            auto name = str_at(e, "name");
            auto value = str_at(e, "value");
            const json::object* from = obj_at(e, "valueFrom");
            if (!value.empty() || !from) {
                env.set(name, expand(value, env));
                continue;
            }
            auto v = value_from(*from, pod, container, objects, node, pod_ip, name);
            if (!v) return v.error();
            if (*v) env.set(name, std::move(**v));
        }
    }
    return env.take();
}

Result<void> remove_pod_dir(const fs::path& root, const std::string& pod_uid) {
    if (!safe_component(pod_uid)) {
        return Error(errc::invalid_argument, "invalid pod uid \"" + pod_uid + "\"");
    }
    std::error_code ec;
    fs::remove_all(root / "pods" / pod_uid, ec);
    if (ec) {
        return Error(errc::io_error,
                     "removing " + (root / "pods" / pod_uid).string() + ": " + ec.message());
    }
    return {};
}

}  // namespace kedge::edge
