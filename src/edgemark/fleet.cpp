#include "edgemark/fleet.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_future.hpp>

#include <atomic>
#include <thread>

#include "base/log.hpp"
#include "edgemark/join.hpp"
#include "net/tls_context.hpp"

namespace kedge::edgemark {

namespace asio = boost::asio;

struct Fleet::Impl {
    explicit Impl(std::size_t threads) : guard(asio::make_work_guard(ioc)) {
        for (std::size_t i = 0; i < std::max<std::size_t>(threads, 1); ++i)
            workers.emplace_back([this] { ioc.run(); });
    }
    ~Impl() { join(); }
    void join() {
        guard.reset();
        ioc.stop();
        for (auto& t : workers)
            if (t.joinable()) t.join();
    }
    asio::io_context ioc;
    asio::executor_work_guard<asio::io_context::executor_type> guard;
    std::vector<std::thread> workers;
    std::shared_ptr<ConnectGate> gate;
    bool started = false;
};

namespace {

// co_spawn with use_future needs a default-constructible result.
template <class T>
asio::awaitable<std::optional<T>> as_optional(asio::awaitable<T> aw) {
    co_return co_await std::move(aw);
}

// Joins nodes [next, n) until none is left; several of these run side by side.
asio::awaitable<Result<void>> join_worker(asio::any_io_executor ex, JoinTarget target,
                                          pki::Certificate ca, std::optional<CertCache> cache,
                                          std::vector<std::string>* names,
                                          std::vector<std::optional<NodeCredentials>>* creds,
                                          std::atomic<std::size_t>* next, FleetStats* stats) {
    for (;;) {
        auto i = next->fetch_add(1);
        if (i >= names->size()) co_return Result<void>{};
        if ((*creds)[i]) continue;
        auto c = co_await request_node_cert(ex, target, ca, (*names)[i]);
        if (!c) {
            stats->join_failures.fetch_add(1);
            co_return c.error();
        }
        if (cache) {
            if (auto r = cache->store(ca, (*names)[i], *c); !r)
                log::get("edgemark")->warn("cert cache: {}", r.error().message());
        }
        (*creds)[i] = std::move(*c);
        stats->joined.fetch_add(1);
    }
}

}  // namespace

Fleet::Fleet(FleetOptions options)
    : options_(std::move(options)),
      stats_(std::make_shared<FleetStats>()),
      impl_(std::make_unique<Impl>(options_.threads)) {
    impl_->gate = std::make_shared<ConnectGate>(std::max<std::size_t>(options_.max_connecting, 1));
}

Fleet::~Fleet() {
    stop();
    // Threads first, then the edges (their timers need the io_context's services), then the
    // io_context.
    impl_->join();
    edges_.clear();
    impl_.reset();
}

std::string Fleet::node_name(std::size_t i) const {
    return options_.name_prefix + std::to_string(i);
}

Result<void> Fleet::join() {
    JoinTarget target{"https://" + options_.cloud + ":" + std::to_string(options_.cert_port),
                      options_.token};
    auto ex = impl_->ioc.get_executor();
    auto fetched = asio::co_spawn(ex, as_optional(fetch_ca(ex, target)), asio::use_future).get();
    if (!fetched) return Error(errc::internal, "fetch_ca returned nothing");
    auto& ca = *fetched;
    if (!ca) return ca.error();

    std::vector<std::string> names;
    for (std::size_t i = 0; i < options_.nodes; ++i) names.push_back(node_name(i));
    std::vector<std::optional<NodeCredentials>> creds(names.size());
    std::optional<CertCache> cache;
    if (!options_.cert_cache_dir.empty()) cache.emplace(options_.cert_cache_dir);
    if (cache) {
        for (std::size_t i = 0; i < names.size(); ++i) {
            creds[i] = cache->load(*ca, names[i]);
            if (creds[i]) {
                ++cached_joins_;
                stats_->joined.fetch_add(1);
            }
        }
    }
    std::atomic<std::size_t> next{0};
    std::vector<std::future<Result<void>>> workers;
    for (std::size_t w = 0; w < std::max<std::size_t>(options_.max_joining, 1); ++w) {
        auto strand = asio::make_strand(ex);  // HttpClient wants one executor per user
        workers.push_back(asio::co_spawn(
            strand, join_worker(strand, target, *ca, cache, &names, &creds, &next, stats_.get()),
            asio::use_future));
    }
    Result<void> result;
    for (auto& w : workers) {
        auto r = w.get();
        if (!r && result) result = r.error();
    }
    if (!result) return result;

    auto ca_pem = net::PemSource::from_pem(ca->to_pem());
    for (std::size_t i = 0; i < names.size(); ++i) {
        net::ClientTlsOptions topts;
        topts.ca = ca_pem;
        topts.cert = net::PemSource::from_pem(creds[i]->cert.to_pem());
        topts.key = net::PemSource::from_pem(creds[i]->key.to_pem());
        auto tls = net::TlsContext::make_client(topts);
        if (!tls) return Error(tls.error().code, names[i] + ": " + tls.error().detail);
        SimEdgeOptions so;
        so.node = names[i];
        so.host = options_.cloud;
        so.port = options_.hub_port;
        so.project_id = options_.project_id;
        so.heartbeat = options_.heartbeat;
        so.reconnect = options_.reconnect;
        edges_.push_back(SimEdge::create(ex, so, *tls, stats_, impl_->gate));
    }
    return {};
}

void Fleet::start() {
    impl_->started = true;
    for (auto& e : edges_) e->start();
}

void Fleet::storm() {
    for (auto& e : edges_) e->drop();
}

void Fleet::stop() {
    if (!impl_ || !impl_->started) return;
    for (auto& e : edges_) e->stop();
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    for (auto& e : edges_) {
        while (!e->finished() && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

std::size_t Fleet::level_since(std::chrono::steady_clock::time_point t) const {
    std::size_t n = 0;
    for (const auto& e : edges_) {
        auto at = e->level_at();
        if (e->level() && at && *at >= t) ++n;
    }
    return n;
}

std::optional<std::chrono::steady_clock::time_point> Fleet::all_level_since(
    std::chrono::steady_clock::time_point t) const {
    std::chrono::steady_clock::time_point latest = t;
    for (const auto& e : edges_) {
        auto at = e->level_at();
        if (!at || *at < t) return std::nullopt;
        latest = std::max(latest, *at);
    }
    return latest;
}

}  // namespace kedge::edgemark
