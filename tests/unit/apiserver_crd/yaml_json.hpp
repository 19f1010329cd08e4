#pragma once
// YAML -> JSON for the tests (what kubectl does before sending a manifest): plain scalars become
// null/bool/int/float when they read as such, quoted scalars stay strings.

#include <boost/json/value.hpp>

#include <string>
#include <vector>

namespace kedge::test {

boost::json::value yaml_to_json(const std::string& yaml);
// Every document of a multi-document YAML file.
std::vector<boost::json::value> yaml_file_to_json(const std::string& path);

}  // namespace kedge::test
