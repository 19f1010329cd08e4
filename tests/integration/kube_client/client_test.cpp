// Client against the real kedge-apiserver: CRUD, the error mapping callers branch on, paging,
// watch and rate limiting.

#include "kube/object.hpp"
#include "kube_client_fixture.hpp"

namespace kedge::kube::client::test {
namespace {

class ClientTest : public KubeClientFixture {};

bool contains(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

TEST_F(ClientTest, CrudRoundTrip) {
    auto c = make_client();
    auto cms = resources::config_maps();
    auto created = loop_.run(c->create(cms, "default", config_map("default", "cm1", {{"a", "1"}})));
    ASSERT_TRUE(created) << created.error().message();
    EXPECT_FALSE(kube::uid(*created).empty());
    EXPECT_FALSE(kube::resource_version(*created).empty());

    auto got = loop_.run(c->get(cms, "default", "cm1"));
    ASSERT_TRUE(got) << got.error().message();
    EXPECT_EQ(got->at("data").at("a").as_string(), "1");
    EXPECT_EQ(kube::uid(*got), kube::uid(*created));

    // PUT with the current resourceVersion.
    auto edited = *got;
    edited["data"].as_object()["b"] = "2";
    auto updated = loop_.run(c->update(cms, edited));
    ASSERT_TRUE(updated) << updated.error().message();
    EXPECT_NE(kube::resource_version(*updated), kube::resource_version(*got));
    EXPECT_EQ(updated->at("data").at("b").as_string(), "2");

    // The three patch types, each sent with its media type.
    auto merged = loop_.run(
        c->patch(cms, "default", "cm1", PatchType::kMergePatch, R"({"data":{"c":"3","a":null}})"));
    ASSERT_TRUE(merged) << merged.error().message();
    EXPECT_FALSE(merged->at("data").as_object().contains("a"));
    EXPECT_EQ(merged->at("data").at("c").as_string(), "3");
    auto jp = loop_.run(c->patch(cms, "default", "cm1", PatchType::kJsonPatch,
                                 R"([{"op":"replace","path":"/data/c","value":"4"}])"));
    ASSERT_TRUE(jp) << jp.error().message();
    EXPECT_EQ(jp->at("data").at("c").as_string(), "4");
    auto smp = loop_.run(c->patch(cms, "default", "cm1", PatchType::kStrategicMergePatch,
                                  R"({"metadata":{"labels":{"x":"y"}}})"));
    ASSERT_TRUE(smp) << smp.error().message();
    EXPECT_EQ(kube::label(*smp, "x").value_or(""), "y");

    auto removed = loop_.run(c->remove(cms, "default", "cm1"));
    ASSERT_TRUE(removed) << removed.error().message();
    EXPECT_FALSE(removed->has_value());  // gone, not terminating
    auto after = loop_.run(c->get(cms, "default", "cm1"));
    ASSERT_FALSE(after);
    EXPECT_TRUE(after.error().is(errc::not_found));

    EXPECT_EQ(c->requests_sent("create"), 1u);
    EXPECT_EQ(c->requests_sent("get"), 2u);
    EXPECT_EQ(c->requests_sent("update"), 1u);
    EXPECT_EQ(c->requests_sent("patch"), 3u);
    EXPECT_EQ(c->requests_sent("delete"), 1u);
    EXPECT_EQ(c->requests_sent("list"), 0u);
}

TEST_F(ClientTest, ErrorMapping) {
    auto c = make_client();
    auto cms = resources::config_maps();
    auto first = loop_.run(c->create(cms, "default", config_map("default", "dup")));
    ASSERT_TRUE(first) << first.error().message();

    auto missing = loop_.run(c->get(cms, "default", "nope"));
    ASSERT_FALSE(missing);
    EXPECT_TRUE(missing.error().is(errc::not_found));
    EXPECT_EQ(missing.error().detail, "configmaps \"nope\" not found");

    // 409 AlreadyExists and 409 Conflict are told apart.
    auto dup = loop_.run(c->create(cms, "default", config_map("default", "dup")));
    ASSERT_FALSE(dup);
    EXPECT_TRUE(dup.error().is(errc::already_exists)) << dup.error().message();
    EXPECT_EQ(dup.error().detail, "configmaps \"dup\" already exists");

    auto stale = *first;
    auto bumped =
        loop_.run(c->patch(cms, "default", "dup", PatchType::kMergePatch, R"({"data":{"k":"v"}})"));
    ASSERT_TRUE(bumped);
    auto conflict = loop_.run(c->update(cms, stale));
    ASSERT_FALSE(conflict);
    EXPECT_TRUE(conflict.error().is(errc::conflict)) << conflict.error().message();
    EXPECT_TRUE(contains(conflict.error().detail, "the object has been modified"))
        << conflict.error().detail;

    // Precondition failures are conflicts too.
    DeleteOptions pre;
    pre.precondition_uid = "not-the-uid";
    auto precond = loop_.run(c->remove(cms, "default", "dup", pre));
    ASSERT_FALSE(precond);
    EXPECT_TRUE(precond.error().is(errc::conflict));
    EXPECT_TRUE(contains(precond.error().detail, "Precondition failed")) << precond.error().detail;

    // 422 Invalid.
    auto invalid = loop_.run(c->create(cms, "default", config_map("default", "Bad_Name")));
    ASSERT_FALSE(invalid);
    EXPECT_TRUE(invalid.error().is(errc::invalid_argument));
    EXPECT_TRUE(contains(invalid.error().detail, "is invalid")) << invalid.error().detail;

    // 400: a malformed patch body.
    auto bad_patch =
        loop_.run(c->patch(cms, "default", "dup", PatchType::kJsonPatch, R"({"not":"a list"})"));
    ASSERT_FALSE(bad_patch);
    EXPECT_TRUE(bad_patch.error().is(errc::invalid_argument)) << bad_patch.error().message();

    // 404 for the namespace of a create.
    auto no_ns = loop_.run(c->create(cms, "ghost", config_map("ghost", "x")));
    ASSERT_FALSE(no_ns);
    EXPECT_TRUE(no_ns.error().is(errc::not_found));

    // Refused before anything is sent.
    auto unnamed = loop_.run(c->update(cms, json::object{{"metadata", json::object{}}}));
    ASSERT_FALSE(unnamed);
    EXPECT_TRUE(unnamed.error().is(errc::invalid_argument));
}

TEST_F(ClientTest, AnonymousIsUnauthorizedAndTransportErrorsKeepNetCodes) {
    auto cfg = load_kubeconfig(kubeconfig());
    ASSERT_TRUE(cfg);
    cfg->client_cert_pem.clear();
    cfg->client_key_pem.clear();
    auto anon = Client::make(loop_.executor(), *cfg);
    ASSERT_TRUE(anon);
    auto r = loop_.run((*anon)->get(resources::config_maps(), "default", "x"));
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(errc::unauthorized)) << r.error().message();

    auto closed_cfg = *cfg;
    closed_cfg.server = "https://127.0.0.1:" + std::to_string(kedge::test::free_port());
    auto dead = Client::make(loop_.executor(), closed_cfg);
    ASSERT_TRUE(dead);
    auto r2 = loop_.run((*dead)->get(resources::config_maps(), "default", "x"));
    ASSERT_FALSE(r2);
    EXPECT_TRUE(r2.error().is(errc::unavailable)) << r2.error().message();

    ClientConfig empty;
    auto bad = Client::make(loop_.executor(), empty);
    ASSERT_FALSE(bad);
    EXPECT_TRUE(bad.error().is(errc::invalid_argument));
    ClientConfig garbage_tls = *cfg;
    garbage_tls.ca_pem = "not a certificate";
    auto bad_tls = Client::make(loop_.executor(), garbage_tls);
    ASSERT_FALSE(bad_tls);
    EXPECT_TRUE(bad_tls.error().is(errc::invalid_argument));
}

TEST_F(ClientTest, DeleteReportsObjectsThatStay) {
    auto c = make_client();
    auto cms = resources::config_maps();
    auto cm = config_map("default", "held");
    kube::set_finalizers(cm, {"example.com/hold"});
    ASSERT_TRUE(loop_.run(c->create(cms, "default", cm)));
    auto r = loop_.run(c->remove(cms, "default", "held"));
    ASSERT_TRUE(r) << r.error().message();
    ASSERT_TRUE(r->has_value());  // waits for its finalizer
    EXPECT_TRUE(kube::deletion_timestamp(**r).has_value());
    auto released = loop_.run(c->patch(cms, "default", "held", PatchType::kMergePatch,
                                       R"({"metadata":{"finalizers":null}})"));
    ASSERT_TRUE(released) << released.error().message();
    EXPECT_TRUE(loop_.run(c->get(cms, "default", "held")).error().is(errc::not_found));

    // A pod bound to a node is deleted gracefully; grace 0 removes it.
    auto pods = resources::pods();
    ASSERT_TRUE(loop_.run(c->create(pods, "default", pod("default", "bound", "edge1"))));
    auto graceful = loop_.run(c->remove(pods, "default", "bound"));
    ASSERT_TRUE(graceful) << graceful.error().message();
    ASSERT_TRUE(graceful->has_value());
    DeleteOptions now;
    now.grace_period_seconds = 0;
    auto forced = loop_.run(c->remove(pods, "default", "bound", now));
    ASSERT_TRUE(forced) << forced.error().message();
    EXPECT_FALSE(forced->has_value());
    EXPECT_TRUE(loop_.run(c->get(pods, "default", "bound")).error().is(errc::not_found));

    // An unbound pod goes at once.
    ASSERT_TRUE(loop_.run(c->create(pods, "default", pod("default", "free"))));
    auto gone = loop_.run(c->remove(pods, "default", "free"));
    ASSERT_TRUE(gone);
    EXPECT_FALSE(gone->has_value());
}

TEST_F(ClientTest, SubresourcesAndClusterScope) {
    auto c = make_client();
    auto pods = resources::pods();
    ASSERT_TRUE(loop_.run(c->create(pods, "default", pod("default", "p"))));
    json::object binding{{"apiVersion", "v1"},
                         {"kind", "Binding"},
                         {"metadata", json::object{{"name", "p"}, {"namespace", "default"}}},
                         {"target", json::object{{"kind", "Node"}, {"name", "edge7"}}}};
    auto bound = loop_.run(c->create(pods, "default", binding, "binding"));
    ASSERT_TRUE(bound) << bound.error().message();
    auto p = loop_.run(c->get(pods, "default", "p"));
    ASSERT_TRUE(p);
    EXPECT_EQ(kube::get_path_string(*p, "spec.nodeName").value_or(""), "edge7");

    auto status = loop_.run(c->patch(pods, "default", "p", PatchType::kMergePatch,
                                     R"({"status":{"phase":"Running"}})", "status"));
    ASSERT_TRUE(status) << status.error().message();
    EXPECT_EQ(kube::get_path_string(*status, "status.phase").value_or(""), "Running");

    auto nodes = resources::nodes();
    auto node = loop_.run(c->create(nodes, {},
                                    json::object{{"apiVersion", "v1"},
                                                 {"kind", "Node"},
                                                 {"metadata", json::object{{"name", "edge7"}}}}));
    ASSERT_TRUE(node) << node.error().message();
    auto listed = loop_.run(c->list(nodes, {}));
    ASSERT_TRUE(listed);
    ASSERT_EQ(listed->items.size(), 1u);
    EXPECT_EQ(kube::name(listed->items[0]), "edge7");

    auto raw = loop_.run(c->raw(net::HttpRequestSpec{.target = "/healthz"}));
    ASSERT_TRUE(raw) << raw.error().message();
    EXPECT_EQ(raw->status, 200);
    EXPECT_EQ(c->requests_sent("raw"), 1u);
}

TEST_F(ClientTest, ListPagingSelectorsAndTypeFilledIn) {
    auto c = make_client();
    create_namespace(*c, "paging");
    auto cms = resources::config_maps();
    for (int i = 0; i < 7; ++i) {
        auto r = loop_.run(c->create(cms, "paging",
                                     config_map("paging", "cm" + std::to_string(i), {},
                                                {{"parity", i % 2 == 0 ? "even" : "odd"}})));
        ASSERT_TRUE(r) << r.error().message();
    }
    ListOptions page;
    page.limit = 3;
    auto first = loop_.run(c->list(cms, "paging", page));
    ASSERT_TRUE(first) << first.error().message();
    EXPECT_EQ(first->items.size(), 3u);
    EXPECT_FALSE(first->continue_token.empty());
    EXPECT_FALSE(first->resource_version.empty());
    for (auto& item : first->items) {
        EXPECT_EQ(kube::kind(item), "ConfigMap");
        EXPECT_EQ(kube::api_version(item), "v1");
    }

    std::uint64_t lists_before = c->requests_sent("list");
    auto all = loop_.run(c->list_all(cms, "paging", page));
    ASSERT_TRUE(all) << all.error().message();
    EXPECT_EQ(all->items.size(), 7u);
    EXPECT_EQ(c->requests_sent("list") - lists_before, 3u);  // 3 + 3 + 1
    std::set<std::string> names;
    for (auto& item : all->items) names.insert(std::string(kube::name(item)));
    EXPECT_EQ(names.size(), 7u);

    ListOptions odd;
    odd.label_selector = "parity=odd";
    auto odds = loop_.run(c->list_all(cms, "paging", odd));
    ASSERT_TRUE(odds);
    EXPECT_EQ(odds->items.size(), 3u);
    ListOptions not_even;
    not_even.label_selector = "parity!=even,parity in (odd)";
    auto odds2 = loop_.run(c->list_all(cms, "paging", not_even));
    ASSERT_TRUE(odds2) << odds2.error().message();
    EXPECT_EQ(odds2->items.size(), 3u);
    ListOptions by_name;
    by_name.field_selector = "metadata.name=cm4";
    auto one = loop_.run(c->list(cms, "paging", by_name));
    ASSERT_TRUE(one) << one.error().message();
    ASSERT_EQ(one->items.size(), 1u);
    EXPECT_EQ(kube::name(one->items[0]), "cm4");
}

asio::awaitable<std::vector<WatchEvent>> collect(WatchStream& w, std::size_t n) {
    std::vector<WatchEvent> out;
    while (out.size() < n) {
        auto ev = co_await w.next();
        if (!ev || !*ev) break;
        out.push_back(std::move(**ev));
    }
    co_return out;
}

TEST_F(ClientTest, WatchDeliversEventsInOrder) {
    auto c = make_client();
    auto cms = resources::config_maps();
    auto start = loop_.run(c->list(cms, "default"));
    ASSERT_TRUE(start);
    ListOptions o;
    o.resource_version = start->resource_version;
    auto w = loop_.run(c->watch(cms, "default", o));
    ASSERT_TRUE(w) << w.error().message();

    ASSERT_TRUE(loop_.run(c->create(cms, "default", config_map("default", "w1"))));
    ASSERT_TRUE(
        loop_.run(c->patch(cms, "default", "w1", PatchType::kMergePatch, R"({"data":{"x":"1"}})")));
    ASSERT_TRUE(loop_.run(c->remove(cms, "default", "w1")));

    auto events = loop_.run(collect(**w, 3), 20s);
    ASSERT_EQ(events.size(), 3u);
    EXPECT_EQ(events[0].type, WatchEventType::kAdded);
    EXPECT_EQ(events[1].type, WatchEventType::kModified);
    EXPECT_EQ(events[2].type, WatchEventType::kDeleted);
    for (auto& e : events) {
        EXPECT_EQ(kube::name(e.object), "w1");
        EXPECT_EQ(kube::kind(e.object), "ConfigMap");
    }
    EXPECT_EQ(events[1].object.at("data").at("x").as_string(), "1");

    // close() aborts a pending next().
    auto pending = asio::co_spawn(loop_.executor(), (*w)->next(), asio::use_future);
    loop_.call([&] { (*w)->close(); });
    ASSERT_EQ(pending.wait_for(10s), std::future_status::ready);
    auto r = pending.get();
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(errc::closed)) << r.error().message();
    loop_.call([&] { w->reset(); });
}

TEST_F(ClientTest, WatchEndsWhenTheServerTimesItOut) {
    auto c = make_client();
    ListOptions o;
    o.timeout_seconds = 1;
    auto w = loop_.run(c->watch(resources::config_maps(), "default", o));
    ASSERT_TRUE(w) << w.error().message();
    auto t0 = std::chrono::steady_clock::now();
    auto ev = loop_.run(
        [](WatchStream& s) -> asio::awaitable<Result<std::optional<WatchEvent>>> {
            while (true) {
                auto e = co_await s.next();
                if (!e || !*e) co_return e;  // end or error
            }
        }(**w),
        20s);
    ASSERT_TRUE(ev) << ev.error().message();
    EXPECT_FALSE(ev->has_value());  // a normal end, not an error
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
    loop_.call([&] { w->reset(); });
}

TEST_F(ClientTest, WatchFromACompactedVersionIsAn410Error) {
    server_->stop();
    start_server({"--watch-cache-size", "3"});
    auto c = make_client();
    auto cms = resources::config_maps();
    auto first = loop_.run(c->create(cms, "default", config_map("default", "old")));
    ASSERT_TRUE(first);
    for (int i = 0; i < 10; ++i)
        ASSERT_TRUE(loop_.run(c->patch(cms, "default", "old", PatchType::kMergePatch,
                                       R"({"data":{"i":")" + std::to_string(i) + R"("}})")));
    ListOptions o;
    o.resource_version = std::string(kube::resource_version(*first));
    auto w = loop_.run(c->watch(cms, "default", o));
    // kube (and kedge) answer 200 and an ERROR event; an HTTP 410 would map to errc::expired.
    if (!w) {
        EXPECT_TRUE(w.error().is(errc::expired)) << w.error().message();
        return;
    }
    auto events = loop_.run(collect(**w, 1), 20s);
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].type, WatchEventType::kError);
    EXPECT_EQ(events[0].object.at("code").as_int64(), 410);
    loop_.call([&] { w->reset(); });
}

TEST_F(ClientTest, RateLimiterSpacesRequests) {
    auto c = make_client(5, 1);
    auto t0 = std::chrono::steady_clock::now();
    auto errors = loop_.run([](std::shared_ptr<Client> cl) -> asio::awaitable<int> {
        int failed = 0;
        for (int i = 0; i < 11; ++i)
            if (!co_await cl->get(resources::namespaces(), {}, "default")) ++failed;
        co_return failed;
    }(c));
    auto took = std::chrono::steady_clock::now() - t0;
    EXPECT_EQ(errors, 0);
    EXPECT_GE(took, 1900ms);  // 1 at once, then one every 200 ms
    EXPECT_LT(took, 6s);
    EXPECT_EQ(c->requests_sent("get"), 11u);
}

}  // namespace
}  // namespace kedge::kube::client::test
