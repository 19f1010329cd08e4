#include "yaml_json.hpp"

#include <yaml-cpp/yaml.h>
#include <boost/json.hpp>

#include <charconv>
#include <regex>

namespace kedge::test {
namespace json = boost::json;

namespace {

json::value scalar(const YAML::Node& n) {
    const std::string& s = n.Scalar();
    if (n.Tag() != "?") return json::value(s);  // quoted or explicitly tagged: a string
    if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
    if (s == "true" || s == "True" || s == "TRUE") return true;
    if (s == "false" || s == "False" || s == "FALSE") return false;
    static const std::regex kInt(R"(^[-+]?[0-9]+$)");
    static const std::regex kFloat(R"(^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$)");
    if (std::regex_match(s, kInt)) {
        std::int64_t v = 0;
        const char* begin = s.data() + (s[0] == '+' ? 1 : 0);
        auto r = std::from_chars(begin, s.data() + s.size(), v);
        if (r.ec == std::errc()) return v;
    }
    if (std::regex_match(s, kFloat)) return std::stod(s);
    return json::value(s);
}

json::value convert(const YAML::Node& n) {
    switch (n.Type()) {
        case YAML::NodeType::Null:
        case YAML::NodeType::Undefined:
            return nullptr;
        case YAML::NodeType::Scalar:
            return scalar(n);
        case YAML::NodeType::Sequence: {
            json::array a;
            for (const auto& item : n) a.push_back(convert(item));
            return a;
        }
        case YAML::NodeType::Map: {
            json::object o;
            for (const auto& kv : n) o[kv.first.Scalar()] = convert(kv.second);
            return o;
        }
    }
    return nullptr;
}

}  // namespace

json::value yaml_to_json(const std::string& yaml) { return convert(YAML::Load(yaml)); }

std::vector<json::value> yaml_file_to_json(const std::string& path) {
    std::vector<json::value> out;
    for (const auto& doc : YAML::LoadAllFromFile(path)) out.push_back(convert(doc));
    return out;
}

}  // namespace kedge::test
