#include "apiserver/table.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <cctype>
#include <ctime>

#include "kube/object.hpp"

namespace kedge::apiserver {
namespace json = boost::json;

namespace {

struct Column {
    const char* name;
    const char* type;
    int priority;  // 1 = only with -o wide
};

std::vector<Column> columns_for(const ResourceType& t) {
    const std::string& k = t.kind;
    if (k == "Pod")
        return {{"Name", "string", 0},   {"Ready", "string", 0}, {"Status", "string", 0},
                {"Restarts", "string", 0}, {"Age", "string", 0},   {"IP", "string", 1},
                {"Node", "string", 1}};
    if (k == "Node")
        return {{"Name", "string", 0}, {"Status", "string", 0}, {"Roles", "string", 0},
                {"Age", "string", 0},  {"Version", "string", 0}};
    if (k == "Deployment" || k == "ReplicaSet")
        return {{"Name", "string", 0},
                {"Ready", "string", 0},
                {k == "Deployment" ? "Up-to-date" : "Current", "integer", 0},
                {"Available", "integer", 0},
                {"Age", "string", 0}};
    if (k == "Namespace") return {{"Name", "string", 0}, {"Status", "string", 0}, {"Age", "string", 0}};
    if (k == "ConfigMap") return {{"Name", "string", 0}, {"Data", "integer", 0}, {"Age", "string", 0}};
    if (k == "Secret")
        return {{"Name", "string", 0}, {"Type", "string", 0}, {"Data", "integer", 0},
                {"Age", "string", 0}};
    if (k == "Service")
        return {{"Name", "string", 0},        {"Type", "string", 0},    {"Cluster-IP", "string", 0},
                {"External-IP", "string", 0}, {"Port(s)", "string", 0}, {"Age", "string", 0}};
    if (k == "Event")
        return {{"Last Seen", "string", 0}, {"Type", "string", 0}, {"Reason", "string", 0},
                {"Object", "string", 0},    {"Message", "string", 0}};
    if (k == "Lease")
        return {{"Name", "string", 0}, {"Holder", "string", 0}, {"Age", "string", 0}};
    if (k == "DaemonSet")
        return {{"Name", "string", 0},       {"Desired", "integer", 0},   {"Current", "integer", 0},
                {"Ready", "integer", 0},     {"Up-to-date", "integer", 0}, {"Available", "integer", 0},
                {"Age", "string", 0}};
    return {{"Name", "string", 0}, {"Age", "string", 0}};
}

std::int64_t int_at(const json::object& o, std::string_view path) {
    const auto* v = kube::get_path(o, path);
    return v && v->is_int64() ? v->as_int64() : 0;
}

std::string str_at(const json::object& o, std::string_view path) {
    return kube::get_path_string(o, path).value_or("");
}

std::size_t size_at(const json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    return v && v->is_object() ? v->as_object().size() : 0;
}

std::string age(const json::object& obj, Clock::time_point now) {
    std::string ts(kube::creation_timestamp(obj));
    std::tm tm{};
    if (ts.size() < 19 || !strptime(ts.c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) return "<unknown>";
    auto created = std::chrono::system_clock::from_time_t(timegm(&tm));
    return human_duration(
        std::chrono::duration_cast<std::chrono::seconds>(now - Clock::time_point(created)));
}

std::string lower(std::string s) {
    for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return s;
}

std::string since(std::string_view ts, Clock::time_point now) {
    std::tm tm{};
    std::string t(ts);
    if (t.size() < 19 || !strptime(t.c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) return "<unknown>";
    auto at = std::chrono::system_clock::from_time_t(timegm(&tm));
    return human_duration(
        std::chrono::duration_cast<std::chrono::seconds>(now - Clock::time_point(at)));
}

json::array cells(const ResourceType& t, const json::object& o, Clock::time_point now) {
    json::array c;
    const std::string& k = t.kind;
    if (k == "Event" && !t.custom) {
        std::string last = str_at(o, "lastTimestamp");
        if (last.empty()) last = str_at(o, "eventTime");
        if (last.empty()) last = std::string(kube::creation_timestamp(o));
        c.push_back(json::string(since(last, now)));
        c.push_back(json::string(str_at(o, "type")));
        c.push_back(json::string(str_at(o, "reason")));
        c.push_back(json::string(lower(str_at(o, "involvedObject.kind")) + "/" +
                                 str_at(o, "involvedObject.name")));
        c.push_back(json::string(str_at(o, "message")));
        return c;
    }
    c.push_back(json::string(kube::name(o)));
    if (t.custom) {
        c.push_back(json::string(age(o, now)));
        return c;
    }
    if (k == "Pod") {
        std::int64_t ready = 0, restarts = 0, total = 0;
        if (const auto* cs = kube::get_path(o, "spec.containers"); cs && cs->is_array())
            total = static_cast<std::int64_t>(cs->as_array().size());
        if (const auto* st = kube::get_path(o, "status.containerStatuses"); st && st->is_array()) {
            for (const auto& s : st->as_array()) {
                if (!s.is_object()) continue;
                if (const auto* r = s.as_object().if_contains("ready"); r && r->is_bool() &&
                                                                        r->as_bool())
                    ++ready;
                if (const auto* r = s.as_object().if_contains("restartCount"); r && r->is_int64())
                    restarts += r->as_int64();
            }
        }
        std::string status = str_at(o, "status.phase");
        if (kube::deletion_timestamp(o)) status = "Terminating";
        c.push_back(json::string(std::to_string(ready) + "/" + std::to_string(total)));
        c.push_back(json::string(status));
        c.push_back(json::string(std::to_string(restarts)));
        c.push_back(json::string(age(o, now)));
        std::string ip = str_at(o, "status.podIP"), node = str_at(o, "spec.nodeName");
        c.push_back(json::string(ip.empty() ? "<none>" : ip));
        c.push_back(json::string(node.empty() ? "<none>" : node));
    } else if (k == "Node") {
        std::string status = "NotReady";
        if (const auto* cs = kube::get_path(o, "status.conditions"); cs && cs->is_array())
            for (const auto& cond : cs->as_array())
                if (cond.is_object() && str_at(cond.as_object(), "type") == "Ready")
                    status = str_at(cond.as_object(), "status") == "True" ? "Ready" : "NotReady";
        if (str_at(o, "spec.unschedulable") == "true") status += ",SchedulingDisabled";
        std::string version = str_at(o, "status.nodeInfo.kubeletVersion");
        // Roles as kubectl shows them: node-role.kubernetes.io/<role> labels, and the legacy
        // kubernetes.io/role label.
        std::vector<std::string> roles;
        if (const auto* labels = kube::get_path(o, "metadata.labels"); labels && labels->is_object()) {
            constexpr std::string_view kPrefix = "node-role.kubernetes.io/";
            for (const auto& [label, value] : labels->as_object()) {
                std::string_view key(label.data(), label.size());
                if (key.starts_with(kPrefix) && key.size() > kPrefix.size())
                    roles.emplace_back(key.substr(kPrefix.size()));
                else if (key == "kubernetes.io/role" && value.is_string() &&
                         !value.as_string().empty())
                    roles.emplace_back(value.as_string());
            }
        }
        std::sort(roles.begin(), roles.end());
        std::string role_text;
        for (const auto& r : roles) role_text += (role_text.empty() ? "" : ",") + r;
        c.push_back(json::string(status));
        c.push_back(json::string(role_text.empty() ? "<none>" : role_text));
        c.push_back(json::string(age(o, now)));
        c.push_back(json::string(version));
    } else if (k == "Deployment" || k == "ReplicaSet") {
        c.push_back(json::string(std::to_string(int_at(o, "status.readyReplicas")) + "/" +
                                 std::to_string(int_at(o, "spec.replicas"))));
        c.push_back(k == "Deployment" ? int_at(o, "status.updatedReplicas")
                                      : int_at(o, "status.replicas"));
        c.push_back(int_at(o, "status.availableReplicas"));
        c.push_back(json::string(age(o, now)));
    } else if (k == "Service") {
        std::string ports;
        if (const auto* ps = kube::get_path(o, "spec.ports"); ps && ps->is_array()) {
            for (const auto& p : ps->as_array()) {
                if (!p.is_object()) continue;
                if (!ports.empty()) ports += ",";
                ports += std::to_string(int_at(p.as_object(), "port"));
                if (auto np = int_at(p.as_object(), "nodePort")) ports += ":" + std::to_string(np);
                std::string proto = str_at(p.as_object(), "protocol");
                ports += "/" + (proto.empty() ? std::string("TCP") : proto);
            }
        }
        std::string ip = str_at(o, "spec.clusterIP");
        c.push_back(json::string(str_at(o, "spec.type")));
        c.push_back(json::string(ip.empty() ? "<none>" : ip));
        c.push_back("<none>");
        c.push_back(json::string(ports.empty() ? "<none>" : ports));
        c.push_back(json::string(age(o, now)));
    } else if (k == "Lease") {
        c.push_back(json::string(str_at(o, "spec.holderIdentity")));
        c.push_back(json::string(age(o, now)));
    } else if (k == "DaemonSet") {
        for (const char* f : {"status.desiredNumberScheduled", "status.currentNumberScheduled",
                              "status.numberReady", "status.updatedNumberScheduled",
                              "status.numberAvailable"})
            c.push_back(int_at(o, f));
        c.push_back(json::string(age(o, now)));
    } else if (k == "Namespace") {
        c.push_back(json::string(str_at(o, "status.phase")));
        c.push_back(json::string(age(o, now)));
    } else if (k == "ConfigMap") {
        c.push_back(static_cast<std::int64_t>(size_at(o, "data") + size_at(o, "binaryData")));
        c.push_back(json::string(age(o, now)));
    } else if (k == "Secret") {
        c.push_back(json::string(str_at(o, "type")));
        c.push_back(static_cast<std::int64_t>(size_at(o, "data")));
        c.push_back(json::string(age(o, now)));
    } else {
        c.push_back(json::string(age(o, now)));
    }
    return c;
}

json::object row(const ResourceType& t, const json::object& o, IncludeObject include,
                 Clock::time_point now) {
    json::object r{{"cells", cells(t, o, now)}};
    if (include == IncludeObject::kObject) {
        r["object"] = o;
    } else if (include == IncludeObject::kMetadata) {
        json::object md;
        if (const auto* m = kube::metadata(o)) md = *m;
        r["object"] = json::object{{"kind", "PartialObjectMetadata"},
                                   {"apiVersion", "meta.k8s.io/v1"},
                                   {"metadata", std::move(md)}};
    }
    return r;
}

json::array column_definitions(const ResourceType& t) {
    json::array out;
    for (const auto& c : columns_for(t)) {
        out.push_back(json::object{{"name", c.name},
                                   {"type", c.type},
                                   {"format", c.name == std::string_view("Name") ? "name" : ""},
                                   {"description", ""},
                                   {"priority", c.priority}});
    }
    return out;
}

}  // namespace

IncludeObject parse_include_object(std::string_view value) {
    if (value == "None") return IncludeObject::kNone;
    if (value == "Object") return IncludeObject::kObject;
    return IncludeObject::kMetadata;
}

json::object table_of_list(const ResourceType& type, const json::object& list,
                           IncludeObject include, Clock::time_point now) {
    json::array rows;
    if (const auto* items = list.if_contains("items"); items && items->is_array())
        for (const auto& it : items->as_array())
            if (it.is_object()) rows.push_back(row(type, it.as_object(), include, now));
    json::object md;
    if (const auto* m = list.if_contains("metadata"); m && m->is_object()) md = m->as_object();
    return json::object{{"kind", "Table"},
                        {"apiVersion", "meta.k8s.io/v1"},
                        {"metadata", std::move(md)},
                        {"columnDefinitions", column_definitions(type)},
                        {"rows", std::move(rows)}};
}

json::object table_of_object(const ResourceType& type, const json::object& obj,
                             IncludeObject include, Clock::time_point now, bool with_columns) {
    json::object md{{"resourceVersion", kube::resource_version(obj)}};
    json::object t{{"kind", "Table"}, {"apiVersion", "meta.k8s.io/v1"}, {"metadata", md}};
    t["columnDefinitions"] = with_columns ? column_definitions(type) : json::array{};
    t["rows"] = json::array{row(type, obj, include, now)};
    return t;
}


}  // namespace kedge::apiserver
