#include "kube/client/config.hpp"

#include <yaml-cpp/yaml.h>

#include <array>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <system_error>

namespace kedge::kube::client {
namespace {

namespace fs = std::filesystem;

Result<std::string> read_text_file(const fs::path& path, const std::string& what) {
    std::error_code ec;
    if (!fs::exists(path, ec))
        return Error(errc::not_found, what + ": file " + path.string() + " does not exist");
    std::ifstream in(path, std::ios::binary);
    if (!in) return Error(errc::io_error, what + ": cannot read " + path.string());
    std::ostringstream ss;
    ss << in.rdbuf();
    if (in.bad()) return Error(errc::io_error, what + ": error reading " + path.string());
    return ss.str();
}

// Standard base64 (kubeconfig *-data fields); whitespace is skipped, padding optional.
std::optional<std::string> base64_decode(std::string_view in) {
    static constexpr auto kTable = [] {
        std::array<signed char, 256> t{};
        t.fill(-1);
        const char* chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        for (int i = 0; i < 64; ++i)
            t[static_cast<unsigned char>(chars[i])] = static_cast<signed char>(i);
        return t;
    }();
    std::string out;
    std::uint32_t acc = 0;
    int bits = 0;
    bool padding = false;
    for (char c : in) {
        if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
        if (c == '=') {
            padding = true;
            continue;
        }
        int v = kTable[static_cast<unsigned char>(c)];
        if (v < 0 || padding) return std::nullopt;
        acc = (acc << 6) | static_cast<std::uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<char>((acc >> bits) & 0xff));
        }
    }
    if (bits >= 6) return std::nullopt;  // a dangling sextet cannot end a valid encoding
    return out;
}

// Parsing state: where errors point to and how relative paths resolve.
struct Parser {
    std::string source;  // "kubeconfig /path/to/file" or "kubeconfig"
    fs::path base_dir;

    Error error(const std::string& what) const {
        return Error(errc::invalid_argument, source + ": " + what);
    }

    // A string field of a map; "" when absent or null; an error for non-scalars.
    Result<std::string> string_field(const YAML::Node& map, const char* key,
                                     const std::string& where) const {
        YAML::Node n = map[key];
        if (!n || n.IsNull()) return std::string();
        if (!n.IsScalar()) return error(where + "." + key + " must be a string");
        return n.Scalar();
    }

    Result<bool> bool_field(const YAML::Node& map, const char* key,
                            const std::string& where) const {
        YAML::Node n = map[key];
        if (!n || n.IsNull()) return false;
        bool v = false;
        if (!n.IsScalar() || !YAML::convert<bool>::decode(n, v))
            return error(where + "." + key + " must be true or false");
        return v;
    }

    // YAML::Node converts from anything, so the error alternative must be named.
    Result<YAML::Node> node_error(const std::string& what) const {
        return Result<YAML::Node>(boost::system::in_place_error, error(what));
    }

    fs::path resolve(const std::string& file) const {
        fs::path p(file);
        if (p.is_relative() && !base_dir.empty()) p = base_dir / p;
        return p;
    }

    // PEM from `<key>-data` (base64) or from the file `<key>` names; "" when neither is set.
    Result<std::string> pem_field(const YAML::Node& map, const std::string& key,
                                  const std::string& where) const {
        auto data = string_field(map, (key + "-data").c_str(), where);
        if (!data) return data.error();
        auto file = string_field(map, key.c_str(), where);
        if (!file) return file.error();
        if (!data->empty()) {
            auto decoded = base64_decode(*data);
            if (!decoded) return error(where + "." + key + "-data is not valid base64");
            return *decoded;
        }
        if (!file->empty()) {
            auto text = read_text_file(resolve(*file), source + ": " + where + "." + key);
            if (!text) return text.error();
            return *text;
        }
        return std::string();
    }

    // The entry of a named list (clusters, users, contexts) called `name`, or an error.
    Result<YAML::Node> find_named(const YAML::Node& root, const char* list, const char* field,
                                  const std::string& name) const {
        YAML::Node entries = root[list];
        if (entries && !entries.IsNull() && !entries.IsSequence())
            return node_error(std::string(list) + " must be a list");
        if (entries && entries.IsSequence()) {
            for (const auto& e : entries) {
                if (!e.IsMap()) return node_error(std::string(list) + " entries must be maps");
                YAML::Node n = e["name"];
                if (n && n.IsScalar() && n.Scalar() == name) {
                    YAML::Node body = e[field];
                    if (!body || body.IsNull()) return YAML::Node(YAML::NodeType::Map);
                    if (!body.IsMap())
                        return node_error(std::string(list) + " entry \"" + name + "\": " + field +
                                          " must be a map");
                    return body;
                }
            }
        }
        return node_error(std::string(field) + " \"" + name + "\" not found in " + list);
    }

    Result<void> read_cluster(const YAML::Node& cluster, const std::string& name,
                              ClientConfig& out) const {
        std::string where = "clusters[" + name + "].cluster";
        auto server = string_field(cluster, "server", where);
        if (!server) return server.error();
        if (server->empty()) return error(where + ".server is missing");
        out.server = *server;
        while (out.server.size() > 1 && out.server.back() == '/') out.server.pop_back();
        auto ca = pem_field(cluster, "certificate-authority", where);
        if (!ca) return ca.error();
        out.ca_pem = std::move(*ca);
        auto insecure = bool_field(cluster, "insecure-skip-tls-verify", where);
        if (!insecure) return insecure.error();
        out.insecure_skip_tls_verify = *insecure;
        auto sni = string_field(cluster, "tls-server-name", where);
        if (!sni) return sni.error();
        out.tls_server_name = std::move(*sni);
        return {};
    }

    Result<void> read_user(const YAML::Node& user, const std::string& name,
                           ClientConfig& out) const {
        std::string where = "users[" + name + "].user";
        for (const char* unsupported : {"exec", "auth-provider", "username", "password"}) {
            YAML::Node n = user[unsupported];
            if (n && !n.IsNull())
                return error(where + "." + unsupported +
                             " is not supported (use a client certificate or a token)");
        }
        auto cert = pem_field(user, "client-certificate", where);
        if (!cert) return cert.error();
        auto key = pem_field(user, "client-key", where);
        if (!key) return key.error();
        if (cert->empty() != key->empty())
            return error(where + " has a client " + (cert->empty() ? "key" : "certificate") +
                         " without the matching " + (cert->empty() ? "certificate" : "key"));
        out.client_cert_pem = std::move(*cert);
        out.client_key_pem = std::move(*key);
        auto token = string_field(user, "token", where);
        if (!token) return token.error();
        auto token_file = string_field(user, "tokenFile", where);
        if (!token_file) return token_file.error();
        if (!token->empty()) {
            out.bearer_token = std::move(*token);
        } else if (!token_file->empty()) {
            auto text = read_text_file(resolve(*token_file), source + ": " + where + ".tokenFile");
            if (!text) return text.error();
            std::string t = std::move(*text);
            while (!t.empty() && (t.back() == '\n' || t.back() == '\r' || t.back() == ' '))
                t.pop_back();
            if (t.empty()) return error(where + ".tokenFile " + *token_file + " is empty");
            out.bearer_token = std::move(t);
        }
        return {};
    }

    Result<ClientConfig> parse(std::string_view yaml, std::string_view context) const {
        YAML::Node root;
        try {
            root = YAML::Load(std::string(yaml));
        } catch (const YAML::Exception& e) {
            return Error(errc::parse_error, source + ": not valid YAML: " + e.what());
        }
        if (!root.IsMap()) return Error(errc::parse_error, source + ": not a YAML map");
        std::string ctx_name(context);
        if (ctx_name.empty()) {
            auto current = string_field(root, "current-context", "");
            if (!current) return current.error();
            if (current->empty()) return error("no context given and current-context is not set");
            ctx_name = *current;
        }
        auto ctx = find_named(root, "contexts", "context", ctx_name);
        if (!ctx) return ctx.error();
        std::string where = "contexts[" + ctx_name + "].context";
        auto cluster_name = string_field(*ctx, "cluster", where);
        if (!cluster_name) return cluster_name.error();
        if (cluster_name->empty()) return error(where + ".cluster is missing");
        auto user_name = string_field(*ctx, "user", where);
        if (!user_name) return user_name.error();

        ClientConfig out;
        auto cluster = find_named(root, "clusters", "cluster", *cluster_name);
        if (!cluster) return cluster.error();
        if (auto r = read_cluster(*cluster, *cluster_name, out); !r) return r.error();
        if (!user_name->empty()) {  // a context without a user is anonymous
            auto user = find_named(root, "users", "user", *user_name);
            if (!user) return user.error();
            if (auto r = read_user(*user, *user_name, out); !r) return r.error();
        }
        return out;
    }
};

}  // namespace

Result<ClientConfig> parse_kubeconfig(std::string_view yaml, const fs::path& base_dir,
                                      std::string_view context) {
    return Parser{"kubeconfig", base_dir}.parse(yaml, context);
}

Result<ClientConfig> load_kubeconfig(const fs::path& path, std::string_view context) {
    auto text = read_text_file(path, "kubeconfig");
    if (!text) return text.error();
    fs::path dir = path.parent_path();
    if (dir.empty()) dir = ".";
    return Parser{"kubeconfig " + path.string(), dir}.parse(*text, context);
}

Result<ClientConfig> in_cluster_config(const fs::path& dir) {
    const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
    const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
    if (!host || !*host || !port || !*port)
        return Error(errc::not_found,
                     "not running in a cluster: KUBERNETES_SERVICE_HOST and "
                     "KUBERNETES_SERVICE_PORT must be set");
    ClientConfig out;
    std::string h(host);
    if (h.find(':') != std::string::npos) h = "[" + h + "]";
    out.server = "https://" + h + ":" + port;
    auto token = read_text_file(dir / "token", "in-cluster config");
    if (!token) return token.error();
    out.bearer_token = std::move(*token);
    while (!out.bearer_token.empty() &&
           (out.bearer_token.back() == '\n' || out.bearer_token.back() == '\r'))
        out.bearer_token.pop_back();
    auto ca = read_text_file(dir / "ca.crt", "in-cluster config");
    if (!ca) return ca.error();
    out.ca_pem = std::move(*ca);
    return out;
}

}  // namespace kedge::kube::client
