#include "edge/metaserver/table.hpp"

#include <boost/json.hpp>

#include "kube/object.hpp"
#include "kube/time.hpp"

namespace kedge::edge::metaserver {
namespace json = boost::json;

namespace {

struct Column {
    const char* name;
    int priority;  // 1 = only with -o wide
};

std::vector<Column> columns_for(const ApiResource& r) {
    if (r.kind == "Pod" && r.group.empty())
        return {{"Name", 0}, {"Ready", 0}, {"Status", 0}, {"Restarts", 0},
                {"Age", 0},  {"IP", 1},    {"Node", 1}};
    if (r.kind == "Node" && r.group.empty())
        return {{"Name", 0}, {"Status", 0}, {"Roles", 0}, {"Age", 0}, {"Version", 0}};
    return {{"Name", 0}, {"Age", 0}};
}

std::string str_at(const json::object& o, std::string_view path) {
    return kube::get_path_string(o, path).value_or("");
}

std::string age(const json::object& obj, Clock::time_point now) {
    auto created = kube::parse_time(kube::creation_timestamp(obj));
    if (!created) return "<unknown>";
    return human_duration(std::chrono::duration_cast<std::chrono::seconds>(now - *created));
}

std::string or_none(std::string s) { return s.empty() ? "<none>" : s; }

void pod_cells(const json::object& o, Clock::time_point now, json::array& c) {
    std::int64_t ready = 0, restarts = 0, total = 0;
    if (const auto* cs = kube::get_path(o, "spec.containers"); cs && cs->is_array())
        total = static_cast<std::int64_t>(cs->as_array().size());
    if (const auto* st = kube::get_path(o, "status.containerStatuses"); st && st->is_array()) {
        for (const auto& s : st->as_array()) {
            if (!s.is_object()) continue;
            const auto* r = s.as_object().if_contains("ready");
            if (r && r->is_bool() && r->as_bool()) ++ready;
            const auto* n = s.as_object().if_contains("restartCount");
            if (n && n->is_int64()) restarts += n->as_int64();
        }
    }
    std::string status = str_at(o, "status.phase");
    if (kube::deletion_timestamp(o)) status = "Terminating";
    c.push_back(json::string(std::to_string(ready) + "/" + std::to_string(total)));
    c.push_back(json::string(status));
    c.push_back(restarts);
    c.push_back(json::string(age(o, now)));
    c.push_back(json::string(or_none(str_at(o, "status.podIP"))));
    c.push_back(json::string(or_none(str_at(o, "spec.nodeName"))));
}

void node_cells(const json::object& o, Clock::time_point now, json::array& c) {
    std::string status = "NotReady";
    if (const auto* cs = kube::get_path(o, "status.conditions"); cs && cs->is_array())
        for (const auto& cond : cs->as_array())
            if (cond.is_object() && str_at(cond.as_object(), "type") == "Ready")
                status = str_at(cond.as_object(), "status") == "True" ? "Ready" : "NotReady";
    if (str_at(o, "spec.unschedulable") == "true") status += ",SchedulingDisabled";
    std::string roles;
    if (const auto* labels = kube::labels_json(o)) {
        constexpr std::string_view kRolePrefix = "node-role.kubernetes.io/";
        for (const auto& [key, value] : *labels) {
            if (!key.starts_with(kRolePrefix)) continue;
            if (!roles.empty()) roles += ",";
            roles += std::string(key.substr(kRolePrefix.size()));
        }
    }
    c.push_back(json::string(status));
    c.push_back(json::string(or_none(roles)));
    c.push_back(json::string(age(o, now)));
    c.push_back(json::string(str_at(o, "status.nodeInfo.kubeletVersion")));
}

json::object row(const ApiResource& r, const json::object& o, Clock::time_point now) {
    json::array c;
    c.push_back(json::string(kube::name(o)));
    if (r.kind == "Pod" && r.group.empty())
        pod_cells(o, now, c);
    else if (r.kind == "Node" && r.group.empty())
        node_cells(o, now, c);
    else
        c.push_back(json::string(age(o, now)));
    json::object md;
    if (const auto* m = kube::metadata(o)) md = *m;
    json::object partial{{"kind", "PartialObjectMetadata"},
                         {"apiVersion", "meta.k8s.io/v1"},
                         {"metadata", std::move(md)}};
    return {{"cells", std::move(c)}, {"object", std::move(partial)}};
}

json::array column_definitions(const ApiResource& r) {
    json::array out;
    for (const auto& c : columns_for(r)) {
        bool is_name = std::string_view(c.name) == "Name";
        bool is_int = std::string_view(c.name) == "Restarts";
        out.push_back(json::object{{"name", c.name},
                                   {"type", is_int ? "integer" : "string"},
                                   {"format", is_name ? "name" : ""},
                                   {"description", ""},
                                   {"priority", c.priority}});
    }
    return out;
}

}  // namespace

json::object table_of_list(const ApiResource& resource, const json::object& list,
                           Clock::time_point now) {
    json::array rows;
    if (const auto* items = list.if_contains("items"); items && items->is_array())
        for (const auto& it : items->as_array())
            if (it.is_object()) rows.push_back(row(resource, it.as_object(), now));
    json::object md;
    if (const auto* m = list.if_contains("metadata"); m && m->is_object()) md = m->as_object();
    return {{"kind", "Table"},
            {"apiVersion", "meta.k8s.io/v1"},
            {"metadata", std::move(md)},
            {"columnDefinitions", column_definitions(resource)},
            {"rows", std::move(rows)}};
}

json::object table_of_object(const ApiResource& resource, const json::object& obj,
                             Clock::time_point now, bool with_columns) {
    json::object md{{"resourceVersion", kube::resource_version(obj)}};
    return {{"kind", "Table"},
            {"apiVersion", "meta.k8s.io/v1"},
            {"metadata", std::move(md)},
            {"columnDefinitions", with_columns ? column_definitions(resource) : json::array{}},
            {"rows", json::array{row(resource, obj, now)}}};
}


}  // namespace kedge::edge::metaserver
