// Informer against the real kedge-apiserver: sync, handler order, indexes, watch resumption
// without relisting, and the relist (only) after the server forgot our resourceVersion.

#include <map>

#include "kube/object.hpp"
#include "kube_client_fixture.hpp"

namespace kedge::kube::client::test {
namespace {

class InformerTest : public KubeClientFixture {
protected:
    // Handler calls as "add:<key>", "update:<key>", "delete:<key>" (touched on the loop only).
    struct Log {
        std::vector<std::string> entries;
    };

    EventHandlers recorder(std::shared_ptr<Log> log) {
        EventHandlers h;
        h.on_add = [log](const ObjectPtr& o) { log->entries.push_back("add:" + cache_key(*o)); };
        h.on_update = [log](const ObjectPtr&, const ObjectPtr& o) {
            log->entries.push_back("update:" + cache_key(*o));
        };
        h.on_delete = [log](const ObjectPtr& o) {
            log->entries.push_back("delete:" + cache_key(*o));
        };
        return h;
    }

    std::vector<std::string> entries(const std::shared_ptr<Log>& log) {
        return loop_.call([log] { return log->entries; });
    }

    bool wait_entries(const std::shared_ptr<Log>& log, std::size_t n,
                      std::chrono::milliseconds limit = 15s) {
        return kedge::test::wait_until([&] { return entries(log).size() >= n; }, limit);
    }

    std::shared_ptr<Informer> make_informer(std::shared_ptr<Client> c, ApiResource r,
                                            std::string ns = {}, int watch_timeout = 300) {
        InformerOptions o;
        o.resource = std::move(r);
        o.namespace_ = std::move(ns);
        o.page_size = 2;  // exercise paging on every list
        o.watch_timeout_seconds = watch_timeout;
        o.min_backoff = 50ms;
        o.max_backoff = 500ms;
        return Informer::make(loop_.executor(), std::move(c), std::move(o));
    }

    // name -> resourceVersion of the informer's store, read on the loop.
    std::map<std::string, std::string> store_state(const std::shared_ptr<Informer>& inf) {
        return loop_.call([inf] {
            std::map<std::string, std::string> out;
            for (auto& o : inf->store().list())
                out[cache_key(*o)] = std::string(kube::resource_version(*o));
            return out;
        });
    }

    std::map<std::string, std::string> server_state(Client& c, const ApiResource& r,
                                                    const std::string& ns) {
        auto l = loop_.run(c.list_all(r, ns));
        EXPECT_TRUE(l) << l.error().message();
        std::map<std::string, std::string> out;
        if (l)
            for (auto& o : l->items) out[cache_key(o)] = std::string(kube::resource_version(o));
        return out;
    }

    void stop(const std::shared_ptr<Informer>& inf) {
        loop_.call([inf] { inf->stop(); });
    }
};

TEST_F(InformerTest, SyncHandlersInOrderAndIndexes) {
    auto c = make_client();
    auto pods = resources::pods();
    for (auto [name, node] : {std::pair{"a", "edge1"}, {"b", "edge1"}, {"c", "edge2"}})
        ASSERT_TRUE(loop_.run(c->create(pods, "default", pod("default", name, node))));

    auto inf = make_informer(c, pods);
    inf->add_index("node", indexers::by_node_name());
    auto log = std::make_shared<Log>();
    inf->add_handlers(recorder(log));
    inf->start();
    inf->start();  // idempotent
    ASSERT_TRUE(loop_.run(inf->wait_synced(15s)));
    EXPECT_TRUE(inf->has_synced());
    EXPECT_EQ(entries(log),
              (std::vector<std::string>{"add:default/a", "add:default/b", "add:default/c"}));
    auto by_node = [&](const std::string& n) {
        return loop_.call([&] {
            std::vector<std::string> out;
            for (auto& o : inf->store().by_index("node", n)) out.push_back(cache_key(*o));
            std::sort(out.begin(), out.end());
            return out;
        });
    };
    EXPECT_EQ(by_node("edge1"), (std::vector<std::string>{"default/a", "default/b"}));

    ASSERT_TRUE(loop_.run(c->create(pods, "default", pod("default", "d", "edge2"))));
    ASSERT_TRUE(loop_.run(c->patch(pods, "default", "a", PatchType::kMergePatch,
                                   R"({"metadata":{"labels":{"x":"1"}}})")));
    DeleteOptions now;
    now.grace_period_seconds = 0;
    ASSERT_TRUE(loop_.run(c->remove(pods, "default", "b", now)));
    ASSERT_TRUE(wait_entries(log, 6));
    EXPECT_EQ(entries(log),
              (std::vector<std::string>{"add:default/a", "add:default/b", "add:default/c",
                                        "add:default/d", "update:default/a", "delete:default/b"}));
    EXPECT_EQ(by_node("edge1"), (std::vector<std::string>{"default/a"}));
    EXPECT_EQ(by_node("edge2"), (std::vector<std::string>{"default/c", "default/d"}));
    EXPECT_EQ(store_state(inf), server_state(*c, pods, ""));
    auto label = loop_.call([&] {
        auto a = inf->store().get("default", "a");
        return a ? std::string(kube::label(*a, "x").value_or("")) : std::string("missing");
    });
    EXPECT_EQ(label, "1");

    // A handler added after the sync first sees every stored object as an add.
    auto late = std::make_shared<Log>();
    inf->add_handlers(recorder(late));
    ASSERT_TRUE(wait_entries(late, 3));
    auto l = entries(late);
    std::sort(l.begin(), l.end());
    EXPECT_EQ(l, (std::vector<std::string>{"add:default/a", "add:default/c", "add:default/d"}));

    auto s = inf->stats();
    EXPECT_EQ(s.lists, 1u);
    EXPECT_EQ(s.events, 3u);
    EXPECT_GE(c->requests_sent("list"), 2u);  // 3 pods at page size 2
    stop(inf);
    // No handler runs after stop().
    ASSERT_TRUE(loop_.run(c->create(pods, "default", pod("default", "e", "edge1"))));
    ASSERT_TRUE(loop_.run(c->get(pods, "default", "e")));
    EXPECT_EQ(entries(log).size(), 6u);
}

TEST_F(InformerTest, NamespaceAndSelectorScope) {
    auto c = make_client();
    create_namespace(*c, "team");
    auto cms = resources::config_maps();
    ASSERT_TRUE(loop_.run(c->create(cms, "team", config_map("team", "in", {}, {{"app", "x"}}))));
    ASSERT_TRUE(loop_.run(c->create(cms, "team", config_map("team", "other", {}, {{"app", "y"}}))));
    ASSERT_TRUE(
        loop_.run(c->create(cms, "default", config_map("default", "out", {}, {{"app", "x"}}))));
    InformerOptions o;
    o.resource = cms;
    o.namespace_ = "team";
    o.label_selector = "app=x";
    auto inf = Informer::make(loop_.executor(), c, o);
    inf->start();
    ASSERT_TRUE(loop_.run(inf->wait_synced(15s)));
    auto keys = store_state(inf);
    ASSERT_EQ(keys.size(), 1u);
    EXPECT_EQ(keys.begin()->first, "team/in");
    stop(inf);
}

TEST_F(InformerTest, ResumesWatchWithoutRelisting) {
    auto c = make_client();
    auto cms = resources::config_maps();
    auto inf = make_informer(c, cms, "default", /*watch_timeout=*/1);
    auto log = std::make_shared<Log>();
    inf->add_handlers(recorder(log));
    inf->start();
    ASSERT_TRUE(loop_.run(inf->wait_synced(15s)));
    // The server ends each watch after 1 s; the informer watches again from where it was.
    ASSERT_TRUE(kedge::test::wait_until([&] { return inf->stats().watches >= 3; }, 20s));
    ASSERT_TRUE(loop_.run(c->create(cms, "default", config_map("default", "late"))));
    ASSERT_TRUE(wait_entries(log, 1));
    EXPECT_EQ(entries(log), (std::vector<std::string>{"add:default/late"}));
    auto s = inf->stats();
    EXPECT_EQ(s.lists, 1u);
    EXPECT_EQ(s.errors, 0u);
    EXPECT_EQ(c->requests_sent("list"), 1u);
    stop(inf);
}

TEST_F(InformerTest, ResumesAfterServerRestartWithoutRelisting) {
    auto c = make_client();
    auto cms = resources::config_maps();
    ASSERT_TRUE(loop_.run(c->create(cms, "default", config_map("default", "before"))));
    auto inf = make_informer(c, cms, "default");
    auto log = std::make_shared<Log>();
    inf->add_handlers(recorder(log));
    inf->start();
    ASSERT_TRUE(loop_.run(inf->wait_synced(15s)));
    server_->stop();
    ASSERT_TRUE(kedge::test::wait_until([&] { return inf->stats().errors >= 1; }, 15s));
    start_server();  // default watch cache: our resourceVersion is still served
    ASSERT_TRUE(loop_.run(c->create(cms, "default", config_map("default", "after"))));
    ASSERT_TRUE(wait_entries(log, 2));
    EXPECT_EQ(entries(log), (std::vector<std::string>{"add:default/before", "add:default/after"}));
    EXPECT_EQ(inf->stats().lists, 1u);
    stop(inf);
}

TEST_F(InformerTest, RelistsOnlyWhenTheServerForgotTheVersion) {
    auto c = make_client();
    auto cms = resources::config_maps();
    for (const char* n : {"keep", "change", "drop1", "drop2"})
        ASSERT_TRUE(loop_.run(c->create(cms, "default", config_map("default", n))));
    auto inf = make_informer(c, cms, "default");
    auto log = std::make_shared<Log>();
    inf->add_handlers(recorder(log));
    inf->start();
    ASSERT_TRUE(loop_.run(inf->wait_synced(15s)));
    ASSERT_TRUE(wait_entries(log, 4));

    // While the informer cannot reach the server, many writes happen (on another port, so the
    // informer cannot see them live), and the server comes back with a tiny watch cache.
    server_->stop();
    int side_port = kedge::test::free_port();
    start_server({"--watch-cache-size", "3"}, side_port);
    auto side = make_client();
    for (const char* n : {"drop1", "drop2"})
        ASSERT_TRUE(loop_.run(side->remove(cms, "default", n)));
    ASSERT_TRUE(loop_.run(
        side->patch(cms, "default", "change", PatchType::kMergePatch, R"({"data":{"v":"2"}})")));
    for (int i = 0; i < 10; ++i)
        ASSERT_TRUE(loop_.run(
            side->create(cms, "default", config_map("default", "new" + std::to_string(i)))));
    server_->stop();
    EXPECT_EQ(inf->stats().lists, 1u);
    start_server({"--watch-cache-size", "3"});

    ASSERT_TRUE(kedge::test::wait_until([&] { return inf->stats().lists == 2; }, 20s))
        << "errors " << inf->stats().errors;
    ASSERT_TRUE(kedge::test::wait_until(
        [&] { return store_state(inf) == server_state(*c, cms, "default"); }, 10s));
    auto got = entries(log);
    std::vector<std::string> after(got.begin() + 4, got.end());
    std::sort(after.begin(), after.end());
    std::vector<std::string> want = {"delete:default/drop1", "delete:default/drop2",
                                     "update:default/change"};
    for (int i = 0; i < 10; ++i) want.push_back("add:default/new" + std::to_string(i));
    std::sort(want.begin(), want.end());
    EXPECT_EQ(after, want);
    EXPECT_EQ(inf->stats().lists, 2u);
    stop(inf);
}

TEST_F(InformerTest, StopClosesAPendingWatchAndReleasesTheInformer) {
    auto c = make_client();
    auto inf = make_informer(c, resources::config_maps(), "default");  // 300 s watches
    auto log = std::make_shared<Log>();
    inf->add_handlers(recorder(log));
    inf->start();
    ASSERT_TRUE(loop_.run(inf->wait_synced(15s)));
    ASSERT_TRUE(kedge::test::wait_until([&] { return inf->stats().watches >= 1; }));
    std::weak_ptr<Informer> weak = inf;
    inf->stop();  // from another thread than the loop, with the watch pending
    inf.reset();
    // The coroutine held the informer; it lets go once the closed watch returns.
    EXPECT_TRUE(kedge::test::wait_until([&] { return weak.expired(); }, 5s));
    ASSERT_TRUE(
        loop_.run(c->create(resources::config_maps(), "default", config_map("default", "unseen"))));
    EXPECT_TRUE(entries(log).empty());
}

TEST_F(InformerTest, WaitSyncedGivesUpOnStopAndTimeout) {
    auto cfg = load_kubeconfig(kubeconfig());
    ASSERT_TRUE(cfg);
    cfg->server = "https://127.0.0.1:" + std::to_string(kedge::test::free_port());  // nobody
    auto c = Client::make(loop_.executor(), *cfg);
    ASSERT_TRUE(c);
    auto inf = make_informer(*c, resources::pods());
    inf->start();
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_FALSE(loop_.run(inf->wait_synced(300ms)));
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 300ms);
    EXPECT_TRUE(kedge::test::wait_until([&] { return inf->stats().errors >= 2; }));
    EXPECT_EQ(inf->stats().lists, 0u);
    inf->stop();
    EXPECT_FALSE(loop_.run(inf->wait_synced(30s), 5s));
}

TEST_F(InformerTest, FactorySharesOneInformerPerResource) {
    auto c = make_client();
    InformerFactory f(loop_.executor(), c);
    auto a = f.get(resources::pods());
    auto b = f.get(resources::pods());
    auto n = f.get(resources::nodes());
    EXPECT_EQ(a, b);
    EXPECT_NE(a, n);
    f.start_all();
    EXPECT_TRUE(loop_.run(f.wait_synced(15s)));
    EXPECT_TRUE(a->has_synced());
    EXPECT_TRUE(n->has_synced());
    loop_.call([&] { f.stop_all(); });
}

TEST_F(InformerTest, ResyncCallsUpdateForEveryObject) {
    auto c = make_client();
    auto cms = resources::config_maps();
    ASSERT_TRUE(loop_.run(c->create(cms, "default", config_map("default", "r"))));
    InformerOptions o;
    o.resource = cms;
    o.namespace_ = "default";
    o.resync_period = 200ms;
    auto inf = Informer::make(loop_.executor(), c, o);
    auto log = std::make_shared<Log>();
    inf->add_handlers(recorder(log));
    inf->start();
    ASSERT_TRUE(wait_entries(log, 3));
    auto e = entries(log);
    EXPECT_EQ(e[0], "add:default/r");
    EXPECT_EQ(e[1], "update:default/r");
    EXPECT_EQ(inf->stats().lists, 1u);
    stop(inf);
}

}  // namespace
}  // namespace kedge::kube::client::test
