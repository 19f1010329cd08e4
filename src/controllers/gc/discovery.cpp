#include "controllers/gc/discovery.hpp"

#include <boost/json.hpp>

namespace kedge::controllers::gc {
namespace json = boost::json;
using boost::asio::awaitable;

namespace {

awaitable<Result<json::object>> get_document(std::shared_ptr<kube::client::Client> client,
                                             std::string target) {
    net::HttpRequestSpec spec;
    spec.method = "GET";
    spec.target = target;
    spec.headers.emplace_back("Accept", "application/json");
    auto resp = co_await client->raw(std::move(spec));
    if (!resp) co_return Error(resp.error().code, "GET " + target + ": " + resp.error().detail);
    if (resp->status != 200)
        co_return Error(resp->status == 404 ? errc::not_found : errc::unavailable,
                        "GET " + target + ": HTTP " + std::to_string(resp->status));
    boost::system::error_code ec;
    auto v = json::parse(resp->body, ec);
    if (ec || !v.is_object())
        co_return Error(errc::parse_error, "GET " + target + ": the answer is not a JSON object");
    co_return std::move(v.as_object());
}

}  // namespace

awaitable<Result<Discovery>> discover(std::shared_ptr<kube::client::Client> client) {
    Discovery out;
    auto core = co_await get_document(client, "/api/v1");
    if (!core) co_return core.error();
    out.resources = parse_resource_list(*core);
    auto groups = co_await get_document(client, "/apis");
    if (!groups) co_return groups.error();
    for (const auto& gv : preferred_group_versions(*groups)) {
        auto list = co_await get_document(client, "/apis/" + gv);
        if (!list) {
            out.failed.push_back(gv);
            continue;
        }
        for (auto& r : parse_resource_list(*list)) out.resources.push_back(std::move(r));
    }
    co_return out;
}

}  // namespace kedge::controllers::gc
