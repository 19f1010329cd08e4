// Volumes materialised on disk the way the kubelet lays them out, checked on a real file system.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <filesystem>
#include <map>
#include <set>

#include "edge/edged/pod_inputs.hpp"
#include "support/test_support.hpp"

namespace kedge::edge {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using kedge::test::read_file;
using kedge::test::TempDir;

constexpr const char* kUid = "0b9f0c5e-uid";

json::object pod_with(json::array volumes) {
    json::object pod = json::parse(R"({
        "metadata": {"name": "web-1", "namespace": "shop", "uid": "0b9f0c5e-uid",
                     "labels": {"tier": "front \"end\"", "app": "web"},
                     "annotations": {"note": "line1\nline2"}},
        "spec": {"nodeName": "edge1", "containers": [
            {"name": "app", "resources": {"limits": {"memory": "128Mi", "cpu": "500m"}}}]}
    })")
                           .as_object();
    pod["spec"].as_object()["volumes"] = std::move(volumes);
    return pod;
}

json::object obj(const char* text) { return json::parse(text).as_object(); }

// An in-memory store of the objects the edge holds.
struct Store {
    std::map<std::string, json::object> objects;  // "<type>/<ns>/<name>"
    void put(const std::string& type, const std::string& ns, const char* text) {
        auto o = obj(text);
        objects[type + "/" + ns + "/" + std::string(o["metadata"].at("name").as_string())] = o;
    }
    ObjectLookup lookup() {
        return [this](const std::string& type, const std::string& ns,
                      const std::string& name) -> std::optional<json::object> {
            auto it = objects.find(type + "/" + ns + "/" + name);
            if (it == objects.end()) return std::nullopt;
            return it->second;
        };
    }
};

int mode_of(const fs::path& p) {
    struct stat st {};
    EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
    return static_cast<int>(st.st_mode & 07777);
}

std::set<std::string> entries(const fs::path& dir) {
    std::set<std::string> out;
    for (const auto& e : fs::directory_iterator(dir)) out.insert(e.path().filename().string());
    return out;
}

const NodeFacts kNode{"edge1", "192.0.2.10"};

class PodVolumes : public ::testing::Test {
protected:
    TempDir tmp_;
    fs::path root_{tmp_.path()};
    Store store_;

    Result<std::map<std::string, fs::path>> prepare(const json::object& pod) {
        return prepare_volumes(pod, root_, store_.lookup(), kNode);
    }
};

TEST_F(PodVolumes, ConfigMapVolumeIsWrittenWithTheKubeletLayout) {
    store_.put("configmap", "shop", R"({"metadata": {"name": "web"},
        "data": {"a.conf": "alpha", "b": "two"}, "binaryData": {"bin": "AAH/"}})");
    auto pod =
        pod_with(json::parse(R"([{"name": "cfg", "configMap": {"name": "web"}}])").as_array());
    auto vols = prepare(pod);
    ASSERT_TRUE(vols) << vols.error().message();
    fs::path dir = root_ / "pods" / kUid / "volumes" / "kubernetes.io~configmap" / "cfg";
    EXPECT_EQ(vols->at("cfg"), dir);
    EXPECT_EQ(volume_dir(root_, kUid, "configmap", "cfg"), dir);

    EXPECT_EQ(read_file((dir / "a.conf").string()), "alpha");
    EXPECT_EQ(read_file((dir / "b").string()), "two");
    EXPECT_EQ(read_file((dir / "bin").string()), std::string("\x00\x01\xff", 3));
    // Per-key links through ..data, which links to the timestamped directory.
    EXPECT_EQ(fs::read_symlink(dir / "a.conf"), fs::path("..data/a.conf"));
    auto ts = fs::read_symlink(dir / "..data").string();
    EXPECT_TRUE(ts.starts_with("..20")) << ts;
    EXPECT_TRUE(fs::is_directory(dir / ts));
    EXPECT_EQ(entries(dir), (std::set<std::string>{"..data", ts, "a.conf", "b", "bin"}));
    EXPECT_EQ(mode_of(dir / ts / "a.conf"), 0644);
    EXPECT_EQ(mode_of(dir), 0755);
}

TEST_F(PodVolumes, ConfigMapUpdateSwitchesDataAndRemovesStaleKeys) {
    auto pod =
        pod_with(json::parse(R"([{"name": "cfg", "configMap": {"name": "web"}}])").as_array());
    store_.put("configmap", "shop",
               R"({"metadata": {"name": "web"}, "data": {"a": "1", "b": "2"}})");
    ASSERT_TRUE(prepare(pod));
    fs::path dir = volume_dir(root_, kUid, "configmap", "cfg");
    auto first = fs::read_symlink(dir / "..data").string();

    // Unchanged content: no new directory.
    ASSERT_TRUE(prepare(pod));
    EXPECT_EQ(fs::read_symlink(dir / "..data").string(), first);

    store_.put("configmap", "shop",
               R"({"metadata": {"name": "web"}, "data": {"a": "changed", "c": "3"}})");
    auto again = prepare(pod);
    ASSERT_TRUE(again) << again.error().message();
    auto second = fs::read_symlink(dir / "..data").string();
    EXPECT_NE(second, first);
    EXPECT_FALSE(fs::exists(dir / first));
    EXPECT_FALSE(fs::exists(fs::symlink_status(dir / "b")));
    EXPECT_EQ(read_file((dir / "a").string()), "changed");
    EXPECT_EQ(read_file((dir / "c").string()), "3");
    EXPECT_EQ(entries(dir), (std::set<std::string>{"..data", second, "a", "c"}));
}

TEST_F(PodVolumes, ItemsModeAndDefaultModeAndSubdirectories) {
    store_.put("configmap", "shop",
               R"({"metadata": {"name": "web"}, "data": {"a": "A", "b": "B", "skip": "S"}})");
    // 256 = 0400, 384 = 0600.
    auto pod = pod_with(json::parse(R"([{"name": "cfg", "configMap": {"name": "web",
        "defaultMode": 384,
        "items": [{"key": "a", "path": "sub/dir/a.txt", "mode": 256}, {"key": "b", "path": "b"}]}}])")
                            .as_array());
    ASSERT_TRUE(prepare(pod));
    fs::path dir = volume_dir(root_, kUid, "configmap", "cfg");
    auto ts = fs::read_symlink(dir / "..data").string();
    EXPECT_EQ(entries(dir), (std::set<std::string>{"..data", ts, "sub", "b"}));
    EXPECT_EQ(fs::read_symlink(dir / "sub"), fs::path("..data/sub"));
    EXPECT_EQ(read_file((dir / "sub/dir/a.txt").string()), "A");
    EXPECT_EQ(mode_of(dir / ts / "sub/dir/a.txt"), 0400);
    EXPECT_EQ(mode_of(dir / ts / "b"), 0600);
    EXPECT_EQ(mode_of(dir / ts / "sub"), 0755);
}

TEST_F(PodVolumes, ItemsNamingAMissingKey) {
    store_.put("configmap", "shop", R"({"metadata": {"name": "web"}, "data": {"a": "A"}})");
    auto pod = pod_with(json::parse(R"([{"name": "cfg", "configMap": {"name": "web",
        "items": [{"key": "nope", "path": "x"}]}}])")
                            .as_array());
    auto r = prepare(pod);
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(errc::not_found));
    EXPECT_EQ(r.error().detail, "configmap references non-existent config key: nope");

    auto optional = pod_with(json::parse(R"([{"name": "cfg", "configMap": {"name": "web",
        "optional": true, "items": [{"key": "nope", "path": "x"}, {"key": "a", "path": "y"}]}}])")
                                 .as_array());
    ASSERT_TRUE(prepare(optional));
    fs::path dir = volume_dir(root_, kUid, "configmap", "cfg");
    EXPECT_EQ(read_file((dir / "y").string()), "A");
    EXPECT_FALSE(fs::exists(dir / "x"));
}

TEST_F(PodVolumes, ItemPathsThatLeaveTheVolumeAreRejected) {
    store_.put("configmap", "shop", R"({"metadata": {"name": "web"}, "data": {"a": "A"}})");
    for (const char* path : {"../escape", "/etc/passwd", "ok/../../x", "..hidden", ""}) {
        json::array vols = json::parse(R"([{"name": "cfg", "configMap": {"name": "web",
            "items": [{"key": "a", "path": "P"}]}}])")
                               .as_array();
        vols[0].as_object()["configMap"].as_object()["items"].as_array()[0].as_object()["path"] =
            path;
        auto r = prepare(pod_with(vols));
        ASSERT_FALSE(r) << path;
        EXPECT_TRUE(r.error().is(errc::invalid_argument)) << path;
        EXPECT_NE(r.error().detail.find("invalid path"), std::string::npos) << r.error().detail;
    }
    EXPECT_FALSE(fs::exists(root_ / "escape"));
}

TEST_F(PodVolumes, SecretIsDecodedIntoA0750Directory) {
    // "s3cr3t" and "a\nb"
    store_.put("secret", "shop", R"({"metadata": {"name": "creds"},
        "data": {"password": "czNjcjN0", "multi": "YQpi"}})");
    auto pod =
        pod_with(json::parse(R"([{"name": "sec", "secret": {"secretName": "creds"}}])").as_array());
    auto vols = prepare(pod);
    ASSERT_TRUE(vols) << vols.error().message();
    fs::path dir = volume_dir(root_, kUid, "secret", "sec");
    EXPECT_EQ(vols->at("sec"), dir);
    EXPECT_EQ(read_file((dir / "password").string()), "s3cr3t");
    EXPECT_EQ(read_file((dir / "multi").string()), "a\nb");
    EXPECT_EQ(mode_of(dir), 0750);
    EXPECT_EQ(mode_of(dir / fs::read_symlink(dir / "..data") / "password"), 0644);

    store_.put("secret", "shop",
               R"({"metadata": {"name": "creds"}, "data": {"bad": "not*base64"}})");
    auto bad = prepare(pod);
    ASSERT_FALSE(bad);
    EXPECT_TRUE(bad.error().is(errc::invalid_argument));
    EXPECT_NE(bad.error().detail.find("\"bad\" is not base64"), std::string::npos)
        << bad.error().detail;
}

TEST_F(PodVolumes, MissingObjectIsAnErrorAndTouchesNothing) {
    auto pod = pod_with(json::parse(R"([{"name": "scratch", "emptyDir": {}},
        {"name": "cfg", "configMap": {"name": "absent"}}])")
                            .as_array());
    auto r = prepare(pod);
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(errc::not_found));
    EXPECT_EQ(r.error().detail, "configmap \"absent\" not found");
    EXPECT_FALSE(fs::exists(root_ / "pods"));

    auto secret =
        pod_with(json::parse(R"([{"name": "s", "secret": {"secretName": "gone"}}])").as_array());
    auto rs = prepare(secret);
    ASSERT_FALSE(rs);
    EXPECT_EQ(rs.error().detail, "secret \"gone\" not found");
}

TEST_F(PodVolumes, OptionalMissingObjectGivesAnEmptyVolume) {
    auto pod = pod_with(
        json::parse(R"([{"name": "cfg", "configMap": {"name": "absent", "optional": true}}])")
            .as_array());
    auto r = prepare(pod);
    ASSERT_TRUE(r) << r.error().message();
    fs::path dir = volume_dir(root_, kUid, "configmap", "cfg");
    auto ts = fs::read_symlink(dir / "..data").string();
    EXPECT_EQ(entries(dir), (std::set<std::string>{"..data", ts}));
    EXPECT_TRUE(fs::is_empty(dir / ts));
}

TEST_F(PodVolumes, DownwardApiFiles) {
    auto pod = pod_with(json::parse(R"([{"name": "info", "downwardAPI": {"items": [
        {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
        {"path": "annotations", "fieldRef": {"fieldPath": "metadata.annotations"}},
        {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}},
        {"path": "namespace", "fieldRef": {"fieldPath": "metadata.namespace"}},
        {"path": "uid", "fieldRef": {"fieldPath": "metadata.uid"}},
        {"path": "app", "fieldRef": {"fieldPath": "metadata.labels['app']"}},
        {"path": "mem", "resourceFieldRef": {"containerName": "app", "resource": "limits.memory",
                                             "divisor": "1Mi"}},
        {"path": "cpu", "resourceFieldRef": {"containerName": "app", "resource": "limits.cpu",
                                             "divisor": "1m"}}]}}])")
                            .as_array());
    auto r = prepare(pod);
    ASSERT_TRUE(r) << r.error().message();
    fs::path dir = volume_dir(root_, kUid, "downward-api", "info");
    EXPECT_EQ(r->at("info"), dir);
    // Sorted key="value" lines with Go quoting, no trailing newline.
    EXPECT_EQ(read_file((dir / "labels").string()), "app=\"web\"\ntier=\"front \\\"end\\\"\"");
    EXPECT_EQ(read_file((dir / "annotations").string()), "note=\"line1\\nline2\"");
    EXPECT_EQ(read_file((dir / "name").string()), "web-1");
    EXPECT_EQ(read_file((dir / "namespace").string()), "shop");
    EXPECT_EQ(read_file((dir / "uid").string()), kUid);
    EXPECT_EQ(read_file((dir / "app").string()), "web");
    EXPECT_EQ(read_file((dir / "mem").string()), "128");
    EXPECT_EQ(read_file((dir / "cpu").string()), "500");

    // The volume form has no spec/status fields.
    auto bad = pod_with(json::parse(R"([{"name": "info", "downwardAPI": {"items": [
        {"path": "node", "fieldRef": {"fieldPath": "spec.nodeName"}}]}}])")
                            .as_array());
    auto rb = prepare(bad);
    ASSERT_FALSE(rb);
    EXPECT_TRUE(rb.error().is(errc::invalid_argument));
    EXPECT_NE(rb.error().detail.find("unsupported fieldPath: spec.nodeName"), std::string::npos);
}

TEST_F(PodVolumes, ProjectedVolumeCombinesSources) {
    store_.put("configmap", "shop", R"({"metadata": {"name": "web"}, "data": {"a": "A"}})");
    store_.put("secret", "shop", R"({"metadata": {"name": "creds"}, "data": {"s": "Uw=="}})");
    auto pod = pod_with(json::parse(R"([{"name": "all", "projected": {"defaultMode": 288,
        "sources": [{"configMap": {"name": "web"}}, {"secret": {"name": "creds"}},
                    {"downwardAPI": {"items": [{"path": "n",
                                                "fieldRef": {"fieldPath": "metadata.name"}}]}}]}}])")
                            .as_array());
    auto r = prepare(pod);
    ASSERT_TRUE(r) << r.error().message();
    fs::path dir = volume_dir(root_, kUid, "projected", "all");
    EXPECT_EQ(read_file((dir / "a").string()), "A");
    EXPECT_EQ(read_file((dir / "s").string()), "S");
    EXPECT_EQ(read_file((dir / "n").string()), "web-1");
    EXPECT_EQ(mode_of(dir / fs::read_symlink(dir / "..data") / "s"), 0440);

    auto token = pod_with(json::parse(R"([{"name": "tok", "projected": {"sources": [
        {"serviceAccountToken": {"path": "token"}}]}}])")
                              .as_array());
    auto rt = prepare(token);
    ASSERT_FALSE(rt);
    EXPECT_TRUE(rt.error().is(errc::invalid_argument));
    EXPECT_NE(rt.error().detail.find("serviceAccountToken is not supported"), std::string::npos)
        << rt.error().detail;
}

TEST_F(PodVolumes, EmptyDirIsAPlainDirectoryEvenForMemory) {
    auto pod = pod_with(json::parse(R"([{"name": "scratch", "emptyDir": {}},
        {"name": "ram", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}}])")
                            .as_array());
    auto r = prepare(pod);
    ASSERT_TRUE(r) << r.error().message();
    for (const char* name : {"scratch", "ram"}) {
        fs::path dir = volume_dir(root_, kUid, "empty-dir", name);
        EXPECT_EQ(r->at(name), dir);
        EXPECT_TRUE(fs::is_directory(dir));
        EXPECT_EQ(mode_of(dir), 0777);
    }
    // Re-preparing keeps what the containers wrote.
    kedge::test::write_file((r->at("scratch") / "state").string(), "kept");
    ASSERT_TRUE(prepare(pod));
    EXPECT_EQ(read_file((r->at("scratch") / "state").string()), "kept");

    auto huge =
        pod_with(json::parse(R"([{"name": "h", "emptyDir": {"medium": "HugePages"}}])").as_array());
    auto rh = prepare(huge);
    ASSERT_FALSE(rh);
    EXPECT_TRUE(rh.error().is(errc::invalid_argument));
}

TEST_F(PodVolumes, UnsupportedVolumeTypeIsNamed) {
    auto pod =
        pod_with(json::parse(R"([{"name": "data", "persistentVolumeClaim": {"claimName": "pvc"}}])")
                     .as_array());
    auto r = prepare(pod);
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(errc::invalid_argument));
    EXPECT_EQ(r.error().detail,
              "volume \"data\": volume type persistentVolumeClaim is not supported");
}

class HostPathVolumes : public PodVolumes {
protected:
    Result<std::map<std::string, fs::path>> host(const std::string& path, const std::string& type) {
        json::object hp{{"path", path}};
        if (!type.empty()) hp["type"] = type;
        json::array vols{json::object{{"name", "h"}, {"hostPath", hp}}};
        return prepare(pod_with(vols));
    }
    fs::path base_{fs::path(tmp_.path()) / "host"};
};

TEST_F(HostPathVolumes, DirectoryTypes) {
    auto made = host((base_ / "a/b").string(), "DirectoryOrCreate");
    ASSERT_TRUE(made) << made.error().message();
    EXPECT_EQ(made->at("h"), base_ / "a/b");
    EXPECT_TRUE(fs::is_directory(base_ / "a/b"));
    EXPECT_TRUE(host((base_ / "a/b").string(), "Directory"));

    auto missing = host((base_ / "nope").string(), "Directory");
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().detail, "volume \"h\": hostPath type check failed: " +
                                          (base_ / "nope").string() + " is not a directory");
    EXPECT_FALSE(fs::exists(base_ / "nope"));

    kedge::test::write_file((base_ / "file").string(), "x");
    auto not_dir = host((base_ / "file").string(), "DirectoryOrCreate");
    ASSERT_FALSE(not_dir);
    EXPECT_NE(not_dir.error().detail.find("is not a directory"), std::string::npos);
}

TEST_F(HostPathVolumes, FileTypes) {
    fs::create_directories(base_);
    auto made = host((base_ / "f").string(), "FileOrCreate");
    ASSERT_TRUE(made) << made.error().message();
    EXPECT_TRUE(fs::is_regular_file(base_ / "f"));
    EXPECT_TRUE(host((base_ / "f").string(), "File"));

    // FileOrCreate does not create the parent directory (as the kubelet).
    auto no_parent = host((base_ / "missing/f").string(), "FileOrCreate");
    ASSERT_FALSE(no_parent);
    EXPECT_TRUE(no_parent.error().is(errc::io_error));
    EXPECT_FALSE(fs::exists(base_ / "missing"));

    auto dir = host(base_.string(), "File");
    ASSERT_FALSE(dir);
    EXPECT_NE(dir.error().detail.find(base_.string() + " is not a file"), std::string::npos);
}

TEST_F(HostPathVolumes, SocketAndUncheckedAndInvalid) {
    fs::create_directories(base_);
    fs::path sock = base_ / "s.sock";
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    ASSERT_LT(sock.string().size(), sizeof addr.sun_path);
    std::strcpy(addr.sun_path, sock.c_str());
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_TRUE(host(sock.string(), "Socket"));
    ::close(fd);
    kedge::test::write_file((base_ / "plain").string(), "x");
    auto not_sock = host((base_ / "plain").string(), "Socket");
    ASSERT_FALSE(not_sock);
    EXPECT_NE(not_sock.error().detail.find("is not a socket file"), std::string::npos);

    // No type: no check, nothing created.
    auto unchecked = host((base_ / "later").string(), "");
    ASSERT_TRUE(unchecked);
    EXPECT_FALSE(fs::exists(base_ / "later"));

    auto relative = host("relative/path", "");
    ASSERT_FALSE(relative);
    EXPECT_TRUE(relative.error().is(errc::invalid_argument));
    auto dotdot = host((base_ / "../x").string(), "DirectoryOrCreate");
    ASSERT_FALSE(dotdot);
    EXPECT_FALSE(fs::exists(fs::path(tmp_.path()) / "x"));
    auto bogus = host(base_.string(), "Folder");
    ASSERT_FALSE(bogus);
    EXPECT_NE(bogus.error().detail.find("Folder is an invalid volume type"), std::string::npos);
}

TEST_F(PodVolumes, ContainerMountsWithSubPathAndReadOnly) {
    store_.put("configmap", "shop",
               R"({"metadata": {"name": "web"}, "data": {"nginx.conf": "x"}})");
    auto pod = pod_with(json::parse(R"([{"name": "scratch", "emptyDir": {}},
        {"name": "cfg", "configMap": {"name": "web"}}])")
                            .as_array());
    auto vols = prepare(pod);
    ASSERT_TRUE(vols) << vols.error().message();
    auto container = obj(R"({"name": "app", "volumeMounts": [
        {"name": "scratch", "mountPath": "/data"},
        {"name": "scratch", "mountPath": "/logs", "subPath": "logs/app", "readOnly": true},
        {"name": "cfg", "mountPath": "/etc/cfg"},
        {"name": "cfg", "mountPath": "/etc/nginx/nginx.conf", "subPath": "nginx.conf"}]})");
    auto mounts = container_mounts(container, *vols);
    ASSERT_TRUE(mounts) << mounts.error().message();
    ASSERT_EQ(mounts->size(), 4u);
    fs::path scratch = volume_dir(root_, kUid, "empty-dir", "scratch");
    fs::path cfg = volume_dir(root_, kUid, "configmap", "cfg");
    EXPECT_EQ((*mounts)[0].container_path, "/data");
    EXPECT_EQ((*mounts)[0].host_path, scratch.string());
    EXPECT_FALSE((*mounts)[0].read_only);
    // subPath directories are created inside the volume.
    EXPECT_EQ((*mounts)[1].host_path, fs::canonical(scratch / "logs/app").string());
    EXPECT_TRUE(fs::is_directory(scratch / "logs/app"));
    EXPECT_TRUE((*mounts)[1].read_only);
    // configMap volumes are always read-only; a key subPath resolves to the file itself.
    EXPECT_EQ((*mounts)[2].host_path, cfg.string());
    EXPECT_TRUE((*mounts)[2].read_only);
    EXPECT_EQ((*mounts)[3].host_path,
              fs::canonical(cfg / fs::read_symlink(cfg / "..data") / "nginx.conf").string());
    EXPECT_TRUE((*mounts)[3].read_only);
}

TEST_F(PodVolumes, ContainerMountErrors) {
    auto pod = pod_with(json::parse(R"([{"name": "scratch", "emptyDir": {}}])").as_array());
    auto vols = prepare(pod);
    ASSERT_TRUE(vols);
    auto unknown = container_mounts(
        obj(R"({"name": "app", "volumeMounts": [{"name": "other", "mountPath": "/x"}]})"), *vols);
    ASSERT_FALSE(unknown);
    EXPECT_TRUE(unknown.error().is(errc::not_found));
    EXPECT_EQ(unknown.error().detail,
              "cannot find volume \"other\" to mount into container \"app\"");

    fs::path scratch = vols->at("scratch");
    fs::create_directory_symlink(tmp_.path(), scratch / "out");
    for (const char* sub : {"../up", "/abs", "a/../../b", "out/pods", "out/newdir"}) {
        json::object c = obj(R"({"name": "app", "volumeMounts": [
            {"name": "scratch", "mountPath": "/x"}]})");
        c["volumeMounts"].as_array()[0].as_object()["subPath"] = sub;
        auto r = container_mounts(c, *vols);
        ASSERT_FALSE(r) << sub;
        EXPECT_TRUE(r.error().is(errc::invalid_argument)) << sub << ": " << r.error().detail;
    }
    EXPECT_FALSE(fs::exists(fs::path(tmp_.path()) / "up"));
    EXPECT_FALSE(fs::exists(fs::path(tmp_.path()) / "newdir"));
}

TEST_F(PodVolumes, RemovePodDir) {
    auto pod = pod_with(json::parse(R"([{"name": "scratch", "emptyDir": {}}])").as_array());
    ASSERT_TRUE(prepare(pod));
    EXPECT_TRUE(fs::exists(root_ / "pods" / kUid));
    ASSERT_TRUE(remove_pod_dir(root_, kUid));
    EXPECT_FALSE(fs::exists(root_ / "pods" / kUid));
    EXPECT_TRUE(fs::exists(root_ / "pods"));
    EXPECT_TRUE(remove_pod_dir(root_, kUid));  // already gone is fine

    for (const char* uid : {"", "..", "../pods", "a/b"}) {
        auto r = remove_pod_dir(root_, uid);
        ASSERT_FALSE(r) << uid;
        EXPECT_TRUE(r.error().is(errc::invalid_argument));
    }
    EXPECT_TRUE(fs::exists(root_ / "pods"));
}

}  // namespace
}  // namespace kedge::edge
