#include "keadm/kube_ops.hpp"

#include <yaml-cpp/yaml.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/value.hpp>

#include <charconv>
#include <cstdint>
#include <thread>

#include "base/base64.hpp"
#include "kube/client/client.hpp"
#include "kube/client/config.hpp"
#include "kube/object.hpp"

namespace kedge::keadm {

namespace fs = std::filesystem;
namespace asio = boost::asio;
namespace json = boost::json;
namespace kc = kedge::kube::client;
using namespace std::chrono_literals;

namespace {

using ClientPtr = std::shared_ptr<kc::Client>;

Result<kc::ClientConfig> client_config(const fs::path& kubeconfig) {
    auto cfg = kc::load_kubeconfig(kubeconfig);
    if (!cfg) return cfg.error();
    cfg->timeout = 5s;
    cfg->user_agent = "keadm/0.1 (kedge)";
    return cfg;
}

// Runs make(client) on a private io_context for at most `deadline`.
template <class T, class Make>
Result<T> run_sync(const kc::ClientConfig& cfg, std::chrono::milliseconds deadline, Make make) {
    asio::io_context ioc;
    auto client = kc::Client::make(ioc.get_executor(), cfg);
    if (!client) return client.error();
    auto fut = asio::co_spawn(ioc, make(*client), asio::use_future);
    ioc.run_for(deadline);
    if (fut.wait_for(0s) != std::future_status::ready)
        return Error(errc::timeout, "no answer from " + cfg.server + " within " +
                                        std::to_string(deadline.count()) + " ms");
    try {
        return fut.get();
    } catch (const std::exception& e) {
        return Error(errc::internal, e.what());
    }
}

asio::awaitable<Result<int>> get_readyz(ClientPtr client) {
    net::HttpRequestSpec spec;
    spec.target = "/readyz";
    auto r = co_await client->raw(std::move(spec));
    if (!r) co_return r.error();
    co_return r->status;
}

asio::awaitable<void> pause(std::chrono::milliseconds d) {
    asio::steady_timer t(co_await asio::this_coro::executor, d);
    co_await t.async_wait(asio::use_awaitable);
}

bool established(const json::object& crd) {
    const auto* conds = kube::get_path(crd, "status.conditions");
    if (!conds || !conds->is_array()) return false;
    for (const auto& c : conds->as_array()) {
        if (!c.is_object()) continue;
        if (kube::get_path_string(c, "type") == "Established" &&
            kube::get_path_string(c, "status") == "True")
            return true;
    }
    return false;
}

asio::awaitable<Result<CrdOutcome>> ensure_crd_coro(ClientPtr client, json::object crd,
                                                    bool replace) {
    const auto res = kc::resources::custom_resource_definitions();
    const std::string name(kube::name(crd));
    auto existing = co_await client->get(res, "", name);
    CrdOutcome outcome = CrdOutcome::kUnchanged;
    if (!existing && existing.error().is(errc::not_found)) {
        auto created = co_await client->create(res, "", crd);
        if (!created && !created.error().is(errc::already_exists)) co_return created.error();
        outcome = CrdOutcome::kCreated;
    } else if (!existing) {
        co_return existing.error();
    } else if (replace) {
        kube::set_resource_version(crd, kube::resource_version(*existing));
        auto updated = co_await client->update(res, crd);
        if (!updated) co_return updated.error();
        outcome = CrdOutcome::kUpdated;
    }
    for (;;) {
        auto now = co_await client->get(res, "", name);
        if (now && established(*now)) co_return outcome;
        if (!now && !now.error().is(errc::not_found)) co_return now.error();
        co_await pause(100ms);
    }
}

asio::awaitable<Result<std::optional<std::string>>> read_token_coro(ClientPtr client) {
    auto secret = co_await client->get(kc::resources::secrets(), "kubeedge", "tokensecret");
    if (!secret && secret.error().is(errc::not_found)) co_return std::nullopt;
    if (!secret) co_return secret.error();
    auto data = kube::get_path_string(*secret, "data.tokendata");
    if (!data || data->empty()) co_return std::nullopt;
    std::string token;
    if (!base64_decode(*data, token))
        co_return Error(errc::parse_error, "Secret kubeedge/tokensecret: tokendata is not base64");
    co_return token;
}

// YAML -> JSON as the Kubernetes decoder reads manifests: quoted scalars stay strings, plain
// ones become booleans, null or numbers when they look like them.
json::value scalar_to_json(const YAML::Node& node) {
    const std::string& s = node.Scalar();
    if (node.Tag() == "!") return json::value(s);  // quoted
    if (s == "true" || s == "True" || s == "TRUE") return true;
    if (s == "false" || s == "False" || s == "FALSE") return false;
    if (s.empty() || s == "null" || s == "Null" || s == "NULL" || s == "~") return nullptr;
    std::int64_t i = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), i);
    if (ec == std::errc() && p == s.data() + s.size()) return i;
    double d = 0;
    auto [pd, ecd] = std::from_chars(s.data(), s.data() + s.size(), d);
    if (ecd == std::errc() && pd == s.data() + s.size()) return d;
    return json::value(s);
}

Result<json::value> yaml_to_json(const YAML::Node& node, int depth) {
    if (depth > 100) return Error(errc::invalid_argument, "YAML nested too deeply");
    switch (node.Type()) {
        case YAML::NodeType::Null:
        case YAML::NodeType::Undefined:
            return json::value(nullptr);
        case YAML::NodeType::Scalar:
            return scalar_to_json(node);
        case YAML::NodeType::Sequence: {
            json::array arr;
            for (const auto& item : node) {
                auto v = yaml_to_json(item, depth + 1);
                if (!v) return v.error();
                arr.push_back(std::move(*v));
            }
            return json::value(std::move(arr));
        }
        case YAML::NodeType::Map: {
            json::object obj;
            for (const auto& kv : node) {
                if (!kv.first.IsScalar())
                    return Error(errc::invalid_argument,
                                 "line " + std::to_string(kv.first.Mark().line + 1) +
                                     ": a key that is not a scalar");
                auto v = yaml_to_json(kv.second, depth + 1);
                if (!v) return v.error();
                obj[kv.first.Scalar()] = std::move(*v);
            }
            return json::value(std::move(obj));
        }
    }
    return json::value(nullptr);
}

}  // namespace

Result<void> wait_api_ready(const fs::path& kubeconfig, std::chrono::milliseconds deadline) {
    auto until = std::chrono::steady_clock::now() + deadline;
    std::string last = "the kubeconfig " + kubeconfig.string() + " was not written";
    for (;;) {
        std::error_code ec;
        if (fs::exists(kubeconfig, ec)) {
            auto cfg = client_config(kubeconfig);
            if (!cfg) {
                last = cfg.error().message();
            } else {
                auto status = run_sync<int>(*cfg, 3s, [](ClientPtr c) { return get_readyz(c); });
                if (status && *status == 200) return {};
                last = status ? "/readyz answered " + std::to_string(*status)
                              : status.error().message();
            }
        }
        if (std::chrono::steady_clock::now() >= until)
            return Error(errc::timeout, "the API server is not ready: " + last);
        std::this_thread::sleep_for(100ms);
    }
}

Result<std::vector<json::object>> load_manifests(const fs::path& file) {
    std::vector<YAML::Node> docs;
    try {
        docs = YAML::LoadAllFromFile(file.string());
    } catch (const YAML::Exception& e) {
        return Error(errc::invalid_argument, file.string() + ": " + e.what());
    }
    std::vector<json::object> out;
    for (const auto& d : docs) {
        if (d.IsNull() || !d.IsDefined()) continue;
        auto v = yaml_to_json(d, 0);
        if (!v) return Error(errc::invalid_argument, file.string() + ": " + v.error().detail);
        if (!v->is_object())
            return Error(errc::invalid_argument, file.string() + ": a document is not a mapping");
        out.push_back(std::move(v->as_object()));
    }
    return out;
}

Result<CrdOutcome> ensure_crd(const fs::path& kubeconfig, const json::object& crd, bool replace,
                              std::chrono::milliseconds deadline) {
    if (kube::name(crd).empty())
        return Error(errc::invalid_argument, "a CustomResourceDefinition without metadata.name");
    auto cfg = client_config(kubeconfig);
    if (!cfg) return cfg.error();
    return run_sync<CrdOutcome>(
        *cfg, deadline, [&crd, replace](ClientPtr c) { return ensure_crd_coro(c, crd, replace); });
}

Result<std::optional<std::string>> read_token(const fs::path& kubeconfig) {
    auto cfg = client_config(kubeconfig);
    if (!cfg) return cfg.error();
    return run_sync<std::optional<std::string>>(*cfg, 10s,
                                                [](ClientPtr c) { return read_token_coro(c); });
}

}  // namespace kedge::keadm
