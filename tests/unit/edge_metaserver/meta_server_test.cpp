// The meta server over a real MetaStore in a TempDir, driven by net::HttpClient on loopback:
// discovery, get, list with selectors and paging, watch (replay, live, expired, bookmarks,
// selectors, timeouts, slow consumers) and writes through a fake RemoteWriter.

#include <atomic>
#include <mutex>

#include "base/log.hpp"
#include "support/log_capture.hpp"
#include "unit/edge_metaserver/meta_server_fixture.hpp"

namespace kedge::edge::test {
namespace {

using namespace std::chrono_literals;

std::vector<std::string> item_names(const json::object& list) {
    std::vector<std::string> out;
    for (const auto& it : list.at("items").as_array()) {
        const auto& md = it.at("metadata").as_object();
        std::string ns =
            md.contains("namespace") ? std::string(md.at("namespace").as_string()) : std::string();
        out.push_back(ns + "/" + std::string(md.at("name").as_string()));
    }
    return out;
}

const json::object* find_resource(const json::object& list, std::string_view name) {
    for (const auto& r : list.at("resources").as_array())
        if (r.at("name").as_string() == name) return &r.as_object();
    return nullptr;
}

class MetaServerTest : public MetaServerFixture {
protected:
    void put_pods() {
        put("default/pod/web-1", pod_json("default", "web-1", 11, {{"app", "web"}}));
        put("default/pod/db-1", pod_json("default", "db-1", 12, {{"app", "db"}}, "edge2"));
        put("kube-system/pod/proxy",
            pod_json("kube-system", "proxy", 13, {{"app", "proxy"}}, "edge1", "Pending"));
        put("other/pod/web-2", pod_json("other", "web-2", 14, {{"app", "web"}}));
    }
};

TEST_F(MetaServerTest, DiscoveryListsBuiltinsAndStoredResources) {
    put("default/deployment/d1",
        R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d1","namespace":"default","resourceVersion":"3"}})");
    put("null/widget/w1",
        R"({"apiVersion":"example.io/v1","kind":"Widget","metadata":{"name":"w1","resourceVersion":"4"}})");
    start();

    auto api = get_json("/api");
    EXPECT_EQ(api.at("kind"), "APIVersions");
    EXPECT_EQ(api.at("versions").as_array().at(0), "v1");

    auto v1 = get_json("/api/v1");
    EXPECT_EQ(v1.at("kind"), "APIResourceList");
    EXPECT_EQ(v1.at("groupVersion"), "v1");
    for (const char* r :
         {"pods", "nodes", "configmaps", "secrets", "services", "endpoints", "events"})
        EXPECT_NE(find_resource(v1, r), nullptr) << r;
    ASSERT_NE(find_resource(v1, "pods"), nullptr);
    EXPECT_EQ(find_resource(v1, "pods")->at("namespaced"), true);
    EXPECT_EQ(find_resource(v1, "pods")->at("kind"), "Pod");
    EXPECT_EQ(find_resource(v1, "nodes")->at("namespaced"), false);
    EXPECT_EQ(find_resource(v1, "namespaces"), nullptr);  // nothing stored
    auto verbs = find_resource(v1, "pods")->at("verbs").as_array();
    for (const char* v : {"get", "list", "watch", "create", "update", "patch", "delete"})
        EXPECT_NE(std::find(verbs.begin(), verbs.end(), json::value(v)), verbs.end()) << v;

    auto apis = get_json("/apis");
    EXPECT_EQ(apis.at("kind"), "APIGroupList");
    std::vector<std::string> groups;
    for (const auto& g : apis.at("groups").as_array())
        groups.emplace_back(g.at("name").as_string());
    for (const char* g : {"coordination.k8s.io", "devices.kubeedge.io", "apps", "example.io"})
        EXPECT_NE(std::find(groups.begin(), groups.end(), g), groups.end()) << g;

    auto devices = get_json("/apis/devices.kubeedge.io/v1beta1");
    EXPECT_NE(find_resource(devices, "devices"), nullptr);
    EXPECT_NE(find_resource(devices, "devicemodels"), nullptr);
    auto widgets = get_json("/apis/example.io/v1");
    ASSERT_NE(find_resource(widgets, "widgets"), nullptr);
    EXPECT_EQ(find_resource(widgets, "widgets")->at("kind"), "Widget");
    EXPECT_EQ(find_resource(widgets, "widgets")->at("namespaced"), false);
    EXPECT_EQ(get_json("/apis/apps").at("kind"), "APIGroup");

    EXPECT_EQ(get_json("/version").at("gitVersion"), "v1.30.0-kedge");
    EXPECT_EQ(get("/healthz").body, "ok");
    EXPECT_EQ(get("/readyz").status, 200);
    auto missing = get("/apis/nope.io/v1");
    EXPECT_EQ(missing.status, 404);
    EXPECT_EQ(json::parse(missing.body).at("reason"), "NotFound");

    // A stored unknown resource is served too.
    auto w = get_json("/apis/example.io/v1/widgets/w1");
    EXPECT_EQ(w.at("metadata").at("name"), "w1");
}

TEST_F(MetaServerTest, GetOneObjectAndNotFoundStatus) {
    put_pods();
    // Objects sent without apiVersion/kind are served with them, as kube-apiserver does.
    put("null/node/edge1", R"({"metadata":{"name":"edge1","resourceVersion":"20"}})");
    start();

    auto pod = get_json("/api/v1/namespaces/default/pods/web-1");
    EXPECT_EQ(pod.at("metadata").at("name"), "web-1");
    EXPECT_EQ(pod.at("spec").at("nodeName"), "edge1");
    EXPECT_EQ(get_json("/api/v1/namespaces/default/pods/web-1/status").at("kind"), "Pod");

    auto node = get_json("/api/v1/nodes/edge1");
    EXPECT_EQ(node.at("kind"), "Node");
    EXPECT_EQ(node.at("apiVersion"), "v1");

    auto r = get("/api/v1/namespaces/default/pods/nope");
    EXPECT_EQ(r.status, 404);
    auto st = json::parse(r.body).as_object();
    EXPECT_EQ(st.at("kind"), "Status");
    EXPECT_EQ(st.at("apiVersion"), "v1");
    EXPECT_EQ(st.at("reason"), "NotFound");
    EXPECT_EQ(st.at("code"), 404);
    EXPECT_EQ(st.at("message"), "pods \"nope\" not found");
    EXPECT_EQ(st.at("details").at("name"), "nope");
    EXPECT_EQ(st.at("details").at("kind"), "pods");
    // The right name in the wrong namespace is not found either.
    EXPECT_EQ(get("/api/v1/namespaces/other/pods/web-1").status, 404);
    // Cluster-scoped resources have no namespaced path; unknown resources are 404 Status.
    EXPECT_EQ(get("/api/v1/namespaces/default/nodes/edge1").status, 404);
    auto unknown = get("/api/v1/frobs");
    EXPECT_EQ(unknown.status, 404);
    EXPECT_EQ(json::parse(unknown.body).at("kind"), "Status");
    EXPECT_EQ(get("/api/v1/namespaces/default/pods/web-1/log").status, 404);
}

TEST_F(MetaServerTest, ListSortsScopesAndCarriesTheHighWaterMark) {
    put_pods();
    start();
    auto all = get_json("/api/v1/pods");
    EXPECT_EQ(all.at("kind"), "PodList");
    EXPECT_EQ(all.at("apiVersion"), "v1");
    EXPECT_EQ(all.at("metadata").at("resourceVersion"), "14");
    EXPECT_EQ(item_names(all), (std::vector<std::string>{"default/db-1", "default/web-1",
                                                         "kube-system/proxy", "other/web-2"}));
    EXPECT_EQ(item_names(get_json("/api/v1/namespaces/default/pods")),
              (std::vector<std::string>{"default/db-1", "default/web-1"}));
    auto empty = get_json("/api/v1/namespaces/default/configmaps");
    EXPECT_EQ(empty.at("kind"), "ConfigMapList");
    EXPECT_TRUE(empty.at("items").as_array().empty());
    // resourceVersion / resourceVersionMatch are accepted and served from the current state.
    EXPECT_EQ(item_names(get_json("/api/v1/pods?resourceVersion=0&resourceVersionMatch="
                                  "NotOlderThan"))
                  .size(),
              4u);
}

TEST_F(MetaServerTest, ListSelectors) {
    put_pods();
    start();
    auto names = [&](const std::string& query) {
        return item_names(get_json("/api/v1/pods?" + query));
    };
    EXPECT_EQ(names("labelSelector=app%3Dweb"),
              (std::vector<std::string>{"default/web-1", "other/web-2"}));
    EXPECT_EQ(names("labelSelector=app%20in%20(db,proxy)"),
              (std::vector<std::string>{"default/db-1", "kube-system/proxy"}));
    EXPECT_EQ(names("labelSelector=app!%3Dweb,app!%3Dproxy"),
              (std::vector<std::string>{"default/db-1"}));
    EXPECT_EQ(names("fieldSelector=spec.nodeName%3Dedge2"),
              (std::vector<std::string>{"default/db-1"}));
    EXPECT_EQ(names("fieldSelector=status.phase%3DPending"),
              (std::vector<std::string>{"kube-system/proxy"}));
    EXPECT_EQ(names("fieldSelector=metadata.name%3Dweb-2"),
              (std::vector<std::string>{"other/web-2"}));
    EXPECT_EQ(names("fieldSelector=metadata.namespace!%3Ddefault,spec.nodeName%3Dedge1"),
              (std::vector<std::string>{"kube-system/proxy", "other/web-2"}));
    // Generic dotted paths.
    EXPECT_EQ(names("fieldSelector=metadata.uid%3Duid-default-web-1"),
              (std::vector<std::string>{"default/web-1"}));

    for (const char* bad : {"labelSelector=app%3D%3D%3Dx", "labelSelector=a%20in%20(b",
                            "fieldSelector=spec.nodeName", "limit=x", "continue=%25%25"}) {
        auto r = get(std::string("/api/v1/pods?") + bad);
        EXPECT_EQ(r.status, 400) << bad;
        auto st = json::parse(r.body).as_object();
        EXPECT_EQ(st.at("reason"), "BadRequest") << bad;
        EXPECT_FALSE(st.at("message").as_string().empty()) << bad;
    }
}

TEST_F(MetaServerTest, ListPagesWithLimitAndContinue) {
    // Namespaces that are prefixes of each other page in (namespace, name) order.
    for (int i = 0; i < 7; ++i) {
        std::string ns = i % 2 == 0 ? "a" : "a-b";
        std::string n = "p" + std::to_string(i);
        put(ns + "/pod/" + n, pod_json(ns, n, 100 + i));
    }
    start();
    std::vector<std::string> seen;
    std::string cont;
    int pages = 0;
    do {
        std::string target = "/api/v1/pods?limit=3";
        if (!cont.empty()) target += "&continue=" + cont;
        auto page = get_json(target);
        auto names = item_names(page);
        EXPECT_LE(names.size(), 3u);
        seen.insert(seen.end(), names.begin(), names.end());
        const auto& md = page.at("metadata").as_object();
        cont = md.contains("continue") ? std::string(md.at("continue").as_string()) : "";
        if (!cont.empty()) {
            EXPECT_EQ(md.at("remainingItemCount").as_int64(),
                      static_cast<std::int64_t>(7 - seen.size()));
            // Tokens are base64: make them query-safe.
            std::string escaped;
            for (char c : cont) {
                if (c == '+')
                    escaped += "%2B";
                else if (c == '/')
                    escaped += "%2F";
                else if (c == '=')
                    escaped += "%3D";
                else
                    escaped += c;
            }
            cont = escaped;
        }
        ++pages;
    } while (!cont.empty() && pages < 10);
    EXPECT_EQ(pages, 3);
    EXPECT_EQ(seen, (std::vector<std::string>{"a/p0", "a/p2", "a/p4", "a/p6", "a-b/p1", "a-b/p3",
                                              "a-b/p5"}));
}

TEST_F(MetaServerTest, WatchWithoutVersionSendsCurrentObjectsThenLiveChanges) {
    put_pods();
    start();
    auto w = watch("/api/v1/namespaces/default/pods?watch=true");
    EXPECT_EQ(w.status(), 200);
    auto e1 = w.next();
    auto e2 = w.next();
    ASSERT_TRUE(e1 && e2);
    EXPECT_EQ(e1->type, "ADDED");
    EXPECT_EQ(e1->object.at("metadata").at("name"), "db-1");
    EXPECT_EQ(e2->object.at("metadata").at("name"), "web-1");

    put("default/pod/new", pod_json("default", "new", 20));
    put("other/pod/elsewhere", pod_json("other", "elsewhere", 21));  // another namespace
    put("default/configmap/c",
        R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","namespace":"default","resourceVersion":"22"}})");
    put("default/pod/new", pod_json("default", "new", 23, {{"v", "2"}}));
    remove("default/pod/web-1");
    auto added = w.next();
    ASSERT_TRUE(added);
    EXPECT_EQ(added->type, "ADDED");
    EXPECT_EQ(added->object.at("metadata").at("name"), "new");
    EXPECT_EQ(added->object.at("kind"), "Pod");
    auto modified = w.next();
    ASSERT_TRUE(modified);
    EXPECT_EQ(modified->type, "MODIFIED");
    EXPECT_EQ(modified->object.at("metadata").at("resourceVersion"), "23");
    auto deleted = w.next();
    ASSERT_TRUE(deleted);
    EXPECT_EQ(deleted->type, "DELETED");
    EXPECT_EQ(deleted->object.at("metadata").at("name"), "web-1");
    EXPECT_FALSE(w.next(300ms));  // nothing else: other namespace and kind were filtered
}

TEST_F(MetaServerTest, WatchFromResourceVersionReplaysOnlyLaterChanges) {
    put_pods();
    start();
    auto rv = get_json("/api/v1/pods").at("metadata").at("resourceVersion").as_string();
    put("default/pod/web-1", pod_json("default", "web-1", 30, {{"app", "web"}, {"x", "1"}}));
    put("other/pod/late", pod_json("other", "late", 31));
    auto w = watch("/api/v1/pods?watch=1&resourceVersion=" + std::string(rv));
    auto e1 = w.next();
    auto e2 = w.next();
    ASSERT_TRUE(e1 && e2);
    EXPECT_EQ(e1->type, "MODIFIED");
    EXPECT_EQ(e1->object.at("metadata").at("name"), "web-1");
    EXPECT_EQ(e2->type, "ADDED");
    EXPECT_EQ(e2->object.at("metadata").at("name"), "late");
    remove("other/pod/late");
    auto e3 = w.next();
    ASSERT_TRUE(e3);
    EXPECT_EQ(e3->type, "DELETED");
    EXPECT_EQ(e3->object.at("metadata").at("name"), "late");
    EXPECT_FALSE(w.next(300ms));
}

TEST_F(MetaServerTest, WatchFromACompactedVersionIsExpired) {
    open_store(MetaStoreOptions{.change_log_capacity = 3});
    for (int i = 0; i < 10; ++i) {
        std::string n = "p" + std::to_string(i);
        put("default/pod/" + n, pod_json("default", n, 10 + i));
    }
    start();
    auto w = watch("/api/v1/pods?watch=true&resourceVersion=11");
    EXPECT_EQ(w.status(), 200);
    auto e = w.next();
    ASSERT_TRUE(e);
    EXPECT_EQ(e->type, "ERROR");
    EXPECT_EQ(e->object.at("kind"), "Status");
    EXPECT_EQ(e->object.at("code"), 410);
    EXPECT_EQ(e->object.at("reason"), "Expired");
    EXPECT_FALSE(w.next());
    EXPECT_TRUE(w.ended());

    auto bad = get("/api/v1/pods?watch=true&resourceVersion=abc");
    EXPECT_EQ(bad.status, 400);
}

TEST_F(MetaServerTest, WatchBookmarksCarryTheHighWaterMark) {
    put_pods();
    MetaServerOptions o;
    o.bookmark_interval = 200ms;
    start({}, o);
    auto w = watch(
        "/api/v1/namespaces/default/pods?watch=1&resourceVersion=14&"
        "allowWatchBookmarks=true");
    put("kube-system/pod/other", pod_json("kube-system", "other", 40));  // filtered out
    std::optional<WatchEvent> e;
    // The bookmark reflects every change this watch has been through, also filtered ones.
    ASSERT_TRUE(kedge::test::wait_until(
        [&] {
            e = w.next(2s);
            return e && e->type == "BOOKMARK" &&
                   e->object.at("metadata").at("resourceVersion") == "40";
        },
        10s));
    EXPECT_EQ(e->object.at("kind"), "Pod");
    EXPECT_EQ(e->object.at("apiVersion"), "v1");

    // Without allowWatchBookmarks there are none.
    auto plain = watch("/api/v1/namespaces/default/pods?watch=1&resourceVersion=40");
    EXPECT_FALSE(plain.next(600ms));
}

TEST_F(MetaServerTest, WatchWithSelectorSendsDeletedWhenAnObjectStopsMatching) {
    put_pods();
    start();
    auto w = watch("/api/v1/pods?watch=true&labelSelector=app%3Dweb");
    auto a = w.next(), b = w.next();
    ASSERT_TRUE(a && b);
    EXPECT_EQ(a->object.at("metadata").at("name"), "web-1");
    EXPECT_EQ(b->object.at("metadata").at("name"), "web-2");
    put("default/pod/web-1", pod_json("default", "web-1", 50, {{"app", "other"}}));
    auto gone = w.next();
    ASSERT_TRUE(gone);
    EXPECT_EQ(gone->type, "DELETED");
    EXPECT_EQ(gone->object.at("metadata").at("name"), "web-1");
    put("default/pod/db-1", pod_json("default", "db-1", 51, {{"app", "web"}}));
    auto now_matching = w.next();
    ASSERT_TRUE(now_matching);
    EXPECT_EQ(now_matching->type, "ADDED");
    EXPECT_EQ(now_matching->object.at("metadata").at("name"), "db-1");
    EXPECT_FALSE(w.next(300ms));

    // A watch of one named object.
    auto one = watch("/api/v1/namespaces/other/pods/web-2?watch=true");
    auto first = one.next();
    ASSERT_TRUE(first);
    EXPECT_EQ(first->object.at("metadata").at("name"), "web-2");
    put("other/pod/zzz", pod_json("other", "zzz", 52));
    EXPECT_FALSE(one.next(300ms));
}

TEST_F(MetaServerTest, WatchEndsAfterTimeoutSeconds) {
    start();
    auto w = watch("/api/v1/pods?watch=true&timeoutSeconds=1");
    auto start_time = std::chrono::steady_clock::now();
    EXPECT_FALSE(w.next(5s));
    EXPECT_TRUE(w.ended());
    EXPECT_LT(std::chrono::steady_clock::now() - start_time, 4s);
}

TEST_F(MetaServerTest, StopEndsOpenWatches) {
    put_pods();
    start();
    auto w = watch("/api/v1/pods?watch=true");
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(w.next());
    auto t0 = std::chrono::steady_clock::now();
    server_->stop();
    EXPECT_FALSE(w.next(5s));
    EXPECT_TRUE(w.ended());
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 4s);
    server_->stop();  // idempotent
}

TEST_F(MetaServerTest, SlowWatchIsClosedInsteadOfBufferingWithoutBound) {
    kedge::test::LoggerCapture capture(log::get("metaserver"));
    MetaServerOptions o;
    o.watch_queue_capacity = 3;
    start({}, o);
    auto w = watch("/api/v1/pods?watch=true");
    // One committed batch bigger than the queue.
    std::vector<MetaWrite> batch;
    for (int i = 0; i < 8; ++i) {
        std::string n = "b" + std::to_string(i);
        batch.push_back(
            {MetaWrite::Op::put, MetaKey{"default", "pod", n}, pod_json("default", n, 60 + i)});
    }
    // The server may still be setting the watch up: wait until it is subscribed.
    put("default/pod/probe", pod_json("default", "probe", 59));
    ASSERT_TRUE(w.next());
    apply(batch);
    EXPECT_FALSE(w.next());
    EXPECT_TRUE(w.ended());
    EXPECT_TRUE(kedge::test::wait_until([&] {
        return capture.text().find("fell 3 changes behind") != std::string::npos;
    })) << capture.text();
}

TEST_F(MetaServerTest, WritesWithoutAWriterAreMethodNotAllowed) {
    start();
    auto r = request("POST", "/api/v1/namespaces/default/pods", pod_json("default", "x", 1));
    EXPECT_EQ(r.status, 405);
    auto st = json::parse(r.body).as_object();
    EXPECT_EQ(st.at("reason"), "MethodNotAllowed");
    EXPECT_EQ(request("DELETE", "/api/v1/namespaces/default/pods/x").status, 405);
}

struct FakeCloud {
    std::mutex mu;
    std::vector<RemoteWrite> writes;
    std::atomic<int> mode{0};  // 0 online, 1 offline, 2 timeout, 3 other error

    RemoteWriter writer() {
        return [this](RemoteWrite w) -> asio::awaitable<Result<RemoteResult>> {
            {
                std::lock_guard lock(mu);
                writes.push_back(w);
            }
            switch (mode.load()) {
                case 1:
                    co_return Error(errc::unavailable, "no hub connection");
                case 2:
                    co_return Error(errc::timeout, "no answer within 10s");
                case 3:
                    co_return Error(errc::internal, "boom");
                default:
                    break;
            }
            co_return RemoteResult{
                w.verb == "create" ? 201 : 200,
                R"({"kind":"Pod","apiVersion":"v1","metadata":{"name":"from-cloud"}})"};
        };
    }
};

TEST_F(MetaServerTest, WritesGoToTheCloudAndFailClearlyOffline) {
    FakeCloud cloud;
    start(cloud.writer());

    auto created = request("POST", "/api/v1/namespaces/default/pods", pod_json("default", "x", 1),
                           {{"Content-Type", "application/json"}});
    EXPECT_EQ(created.status, 201);
    EXPECT_EQ(json::parse(created.body).at("metadata").at("name"), "from-cloud");
    auto patched = request("PATCH", "/api/v1/namespaces/default/pods/x/status",
                           R"({"status":{"phase":"Failed"}})",
                           {{"Content-Type", "application/merge-patch+json"}});
    EXPECT_EQ(patched.status, 200);
    EXPECT_EQ(request("PUT", "/api/v1/nodes/edge1", "{}").status, 200);
    EXPECT_EQ(request("DELETE",
                      "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/"
                      "leases/edge1")
                  .status,
              200);
    {
        std::lock_guard lock(cloud.mu);
        ASSERT_EQ(cloud.writes.size(), 4u);
        EXPECT_EQ(cloud.writes[0].verb, "create");
        EXPECT_EQ(cloud.writes[0].key, (MetaKey{"default", "pod", "x"}));
        EXPECT_EQ(cloud.writes[0].gvr, (GroupVersionResource{"core", "v1", "pods"}));
        EXPECT_EQ(cloud.writes[1].verb, "patch");
        EXPECT_EQ(cloud.writes[1].subresource, "status");
        EXPECT_EQ(cloud.writes[1].patch_type, "application/merge-patch+json");
        EXPECT_EQ(cloud.writes[1].body, R"({"status":{"phase":"Failed"}})");
        EXPECT_EQ(cloud.writes[2].verb, "update");
        EXPECT_EQ(cloud.writes[2].key, (MetaKey{"null", "node", "edge1"}));
        EXPECT_EQ(cloud.writes[3].verb, "delete");
        EXPECT_EQ(cloud.writes[3].gvr,
                  (GroupVersionResource{"coordination.k8s.io", "v1", "leases"}));
    }

    cloud.mode = 1;
    auto offline = request("POST", "/api/v1/namespaces/default/pods", pod_json("default", "y", 1));
    EXPECT_EQ(offline.status, 503);
    auto st = json::parse(offline.body).as_object();
    EXPECT_EQ(st.at("reason"), "ServiceUnavailable");
    EXPECT_EQ(st.at("message"),
              "the cloud is not connected: no hub connection; the edge meta server serves reads "
              "only while offline");
    cloud.mode = 2;
    auto timeout = request("DELETE", "/api/v1/namespaces/default/pods/y");
    EXPECT_EQ(timeout.status, 504);
    EXPECT_EQ(json::parse(timeout.body).at("reason"), "Timeout");
    cloud.mode = 3;
    EXPECT_EQ(request("DELETE", "/api/v1/namespaces/default/pods/y").status, 500);
    // Reads keep working offline.
    EXPECT_EQ(get("/api/v1/pods").status, 200);
}

TEST_F(MetaServerTest, TableOutputForKubectl) {
    put_pods();
    start();
    auto r = request("GET", "/api/v1/namespaces/default/pods", {},
                     {{"Accept", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"}});
    ASSERT_EQ(r.status, 200);
    auto t = json::parse(r.body).as_object();
    EXPECT_EQ(t.at("kind"), "Table");
    auto cols = t.at("columnDefinitions").as_array();
    ASSERT_GE(cols.size(), 4u);
    EXPECT_EQ(cols[0].at("name"), "Name");
    EXPECT_EQ(cols[2].at("name"), "Status");
    auto rows = t.at("rows").as_array();
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[0].at("cells").at(0), "db-1");
    EXPECT_EQ(rows[0].at("cells").at(1), "0/1");
    EXPECT_EQ(rows[0].at("cells").at(2), "Running");
    EXPECT_EQ(rows[0].at("object").at("metadata").at("namespace"), "default");
}

TEST_F(MetaServerTest, PortInUseIsAnError) {
    start();
    MetaServerOptions o;
    o.port = server_->port();
    auto second = MetaServer::start(io_.executor(), store_, {}, o);
    ASSERT_FALSE(second);
    EXPECT_TRUE(second.error().is(errc::unavailable));
    EXPECT_NE(second.error().detail.find(std::to_string(o.port)), std::string::npos)
        << second.error().detail;
}

}  // namespace
}  // namespace kedge::edge::test
