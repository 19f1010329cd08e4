// The meta server's pure parts: request paths, list options, the watch event state machine.

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "edge/metaserver/api_path.hpp"
#include "edge/metaserver/list_query.hpp"
#include "edge/metaserver/resources.hpp"
#include "edge/metaserver/table.hpp"
#include "edge/metaserver/watch_events.hpp"

namespace kedge::edge::metaserver {
namespace {
namespace json = boost::json;

TEST(ApiPath, ParsesResourcePathsLikeKubeApiserver) {
    auto p = parse_api_path("GET", "/api/v1/namespaces/default/pods/web/status", "");
    ASSERT_TRUE(p);
    EXPECT_TRUE(p->is_resource);
    EXPECT_EQ(p->verb, "get");
    EXPECT_EQ(p->ns, "default");
    EXPECT_EQ(p->resource, "pods");
    EXPECT_EQ(p->name, "web");
    EXPECT_EQ(p->subresource, "status");

    p = parse_api_path("GET", "/apis/coordination.k8s.io/v1/namespaces/x/leases", "true");
    ASSERT_TRUE(p);
    EXPECT_EQ(p->verb, "watch");
    EXPECT_EQ(p->group, "coordination.k8s.io");
    EXPECT_EQ(p->version, "v1");

    p = parse_api_path("GET", "/api/v1/namespaces/kube-system", "");
    ASSERT_TRUE(p);
    EXPECT_EQ(p->resource, "namespaces");
    EXPECT_EQ(p->name, "kube-system");
    EXPECT_EQ(p->ns, "");

    p = parse_api_path("GET", "/api/v1/watch/namespaces/a/pods", "");
    ASSERT_TRUE(p);
    EXPECT_EQ(p->verb, "watch");
    EXPECT_EQ(p->ns, "a");

    EXPECT_EQ(parse_api_path("POST", "/api/v1/namespaces/a/pods", "")->verb, "create");
    EXPECT_EQ(parse_api_path("PUT", "/api/v1/nodes/n", "")->verb, "update");
    EXPECT_EQ(parse_api_path("DELETE", "/api/v1/namespaces/a/pods", "")->verb, "deletecollection");
    EXPECT_EQ(parse_api_path("GET", "/api/v1/pods", "False")->verb, "list");

    for (const char* discovery :
         {"/api", "/api/v1", "/apis", "/apis/apps", "/apis/apps/v1", "/version", "/"}) {
        auto d = parse_api_path("GET", discovery, "");
        ASSERT_TRUE(d) << discovery;
        EXPECT_FALSE(d->is_resource) << discovery;
    }
    EXPECT_FALSE(parse_api_path("GET", "/api/v1/namespaces/a/pods/b/c/d", ""));
    EXPECT_FALSE(parse_api_path("GET", "/api/v1/watch", ""));
}

TEST(ListOptions, ParsesAndRejectsWithTheParsersMessage) {
    auto o = parse_list_options({{"labelSelector", "app=web"},
                                 {"fieldSelector", "spec.nodeName=n1"},
                                 {"limit", "5"},
                                 {"resourceVersion", "12"},
                                 {"allowWatchBookmarks", "true"},
                                 {"timeoutSeconds", "30"}});
    ASSERT_TRUE(o) << o.error().message();
    EXPECT_EQ(o->limit, 5u);
    EXPECT_EQ(o->resource_version, "12");
    EXPECT_TRUE(o->allow_bookmarks);
    EXPECT_EQ(o->timeout, std::chrono::seconds(30));
    EXPECT_EQ(o->labels.to_string(), "app=web");

    auto bad = parse_list_options({{"labelSelector", "a in (b"}});
    ASSERT_FALSE(bad);
    EXPECT_TRUE(bad.error().is(errc::invalid_argument));
    EXPECT_FALSE(bad.error().detail.empty());
    EXPECT_FALSE(parse_list_options({{"limit", "-1"}}));
    EXPECT_FALSE(parse_list_options({{"timeoutSeconds", "soon"}}));
    EXPECT_FALSE(parse_list_options({{"continue", "bm90IGpzb24="}}));  // "not json"

    auto token = encode_continue(7, "default/b");
    auto cont = parse_list_options({{"continue", token}});
    ASSERT_TRUE(cont);
    EXPECT_EQ(cont->continue_after, "default/b");
}

ApiResource pods() { return *find_known("", "v1", "pods"); }

MetaObject pod(const std::string& ns, const std::string& name, std::uint64_t rv,
               const std::string& app) {
    json::object o{{"apiVersion", "v1"},
                   {"kind", "Pod"},
                   {"metadata",
                    {{"name", name},
                     {"namespace", ns},
                     {"resourceVersion", std::to_string(rv)},
                     {"labels", {{"app", app}}}}}};
    return MetaObject{{ns, "pod", name}, {"core", "v1", "pods"}, rv, json::serialize(o)};
}

MetaChange change(ChangeKind k, MetaObject o) { return MetaChange{k, std::move(o), 0}; }

std::string type_of(const std::string& line) {
    if (line.empty()) return "";
    return std::string(json::parse(line).at("type").as_string());
}

TEST(WatchEvents, FreshWatchDropsRepeatsAndUnknownDeletes) {
    WatchEvents ev(pods(), ObjectFilter("pods", "", "", {}, {}), 10, true);
    EXPECT_EQ(type_of(ev.add_initial(pod("a", "p1", 9, "web"))), "ADDED");
    // A replayed change the list already covered.
    EXPECT_EQ(ev.on_change(change(ChangeKind::added, pod("a", "p1", 9, "web"))), "");
    EXPECT_EQ(type_of(ev.on_change(change(ChangeKind::modified, pod("a", "p1", 11, "web")))),
              "MODIFIED");
    // Deleted before the list: the client never saw it.
    EXPECT_EQ(ev.on_change(change(ChangeKind::deleted, pod("a", "gone", 5, "web"))), "");
    EXPECT_EQ(type_of(ev.on_change(change(ChangeKind::deleted, pod("a", "p1", 11, "web")))),
              "DELETED");
    // Other resources move the bookmark but produce nothing.
    MetaObject cm{{"a", "configmap", "c"}, {"core", "v1", "configmaps"}, 20, R"({"metadata":{}})"};
    EXPECT_EQ(ev.on_change(change(ChangeKind::added, cm)), "");
    EXPECT_EQ(ev.bookmark_rv(), 20u);
    auto bm = json::parse(ev.bookmark_line());
    EXPECT_EQ(bm.at("type"), "BOOKMARK");
    EXPECT_EQ(bm.at("object").at("metadata").at("resourceVersion"), "20");
}

TEST(WatchEvents, ResumedWatchSkipsWhatTheClientHas) {
    WatchEvents ev(pods(), ObjectFilter("pods", "a", "", {}, {}), 10, false);
    EXPECT_EQ(ev.on_change(change(ChangeKind::modified, pod("a", "p1", 8, "web"))), "");
    EXPECT_EQ(type_of(ev.on_change(change(ChangeKind::added, pod("a", "p2", 12, "web")))), "ADDED");
    EXPECT_EQ(type_of(ev.on_change(change(ChangeKind::modified, pod("a", "p3", 13, "web")))),
              "MODIFIED");
    EXPECT_EQ(ev.on_change(change(ChangeKind::added, pod("b", "p4", 14, "web"))), "");
    EXPECT_EQ(type_of(ev.on_change(change(ChangeKind::deleted, pod("a", "p1", 8, "web")))),
              "DELETED");
}

TEST(WatchEvents, SelectorTransitions) {
    auto sel = kube::LabelSelector::parse("app=web").value();
    WatchEvents ev(pods(), ObjectFilter("pods", "", "", sel, {}), 10, true);
    EXPECT_EQ(ev.add_initial(pod("a", "db", 5, "db")), "");
    EXPECT_EQ(type_of(ev.add_initial(pod("a", "w", 6, "web"))), "ADDED");
    EXPECT_EQ(type_of(ev.on_change(change(ChangeKind::modified, pod("a", "w", 11, "db")))),
              "DELETED");
    EXPECT_EQ(ev.on_change(change(ChangeKind::modified, pod("a", "w", 12, "db"))), "");
    EXPECT_EQ(type_of(ev.on_change(change(ChangeKind::modified, pod("a", "db", 13, "web")))),
              "ADDED");
    EXPECT_EQ(type_of(ev.on_change(change(ChangeKind::modified, pod("a", "db", 14, "web")))),
              "MODIFIED");
    EXPECT_EQ(ev.on_change(change(ChangeKind::deleted, pod("a", "w", 12, "db"))), "");
}

TEST(WatchEvents, ExpiredIsA410ErrorEvent) {
    auto v = json::parse(expired_event_line("too old resource version: 1 (oldest available: 5)"));
    EXPECT_EQ(v.at("type"), "ERROR");
    EXPECT_EQ(v.at("object").at("code"), 410);
    EXPECT_EQ(v.at("object").at("reason"), "Expired");
}

TEST(Resources, CatalogScopesAndUnknownDescriptions) {
    auto w = describe_unknown({"example.io", "v1", "widgets"}, "", true);
    EXPECT_EQ(w.kind, "Widget");
    EXPECT_EQ(w.singular, "widget");
    auto p = describe_unknown({"example.io", "v1", "policies"}, "Policy", false);
    EXPECT_EQ(p.singular, "policy");
    EXPECT_FALSE(p.namespaced);
    for (const char* cluster : {"nodes", "namespaces", "persistentvolumes"})
        EXPECT_FALSE(find_known("core", "v1", cluster)->namespaced) << cluster;
    EXPECT_FALSE(find_known("storage.k8s.io", "v1", "storageclasses")->namespaced);
    EXPECT_TRUE(find_known("devices.kubeedge.io", "v1beta1", "devices")->namespaced);
    EXPECT_EQ(find_known("", "v1", "endpoints")->type, "endpoints");
    ResourceCatalog cat({pods(), w});
    EXPECT_NE(cat.find("core", "v1", "pods"), nullptr);
    EXPECT_FALSE(cat.resource_list("apps", "v1"));
    EXPECT_TRUE(cat.api_group("example.io"));
}

TEST(Table, HumanDurations) {
    EXPECT_EQ(human_duration(std::chrono::seconds(5)), "5s");
    EXPECT_EQ(human_duration(std::chrono::seconds(200)), "3m20s");
    EXPECT_EQ(human_duration(std::chrono::hours(50)), "2d2h");
    EXPECT_TRUE(wants_table("application/json;as=Table;v=v1;g=meta.k8s.io"));
    EXPECT_FALSE(wants_table("application/json"));
}

}  // namespace
}  // namespace kedge::edge::metaserver
