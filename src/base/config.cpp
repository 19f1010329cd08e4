#include "base/config.hpp"

#include <array>
#include <charconv>
#include <cmath>

namespace kedge {
namespace {

std::string compose(const std::string& source, const std::string& path, int line, int column,
                    const std::string& problem, bool path_in_problem) {
    std::string out = source.empty() ? "config" : source;
    if (line > 0) out += ":" + std::to_string(line) + ":" + std::to_string(column);
    out += ": ";
    if (!path.empty() && !path_in_problem) out += path + ": ";
    out += problem;
    return out;
}

}  // namespace

ConfigError::ConfigError(std::string source, std::string path, int line, int column,
                         std::string problem, bool path_in_problem)
    : std::runtime_error(compose(source, path, line, column, problem, path_in_problem)),
      source_(std::move(source)),
      path_(std::move(path)),
      line_(line),
      column_(column),
      problem_(std::move(problem)) {}

namespace config {

std::string describe(bool v) { return v ? "true" : "false"; }
std::string describe(std::int64_t v) { return std::to_string(v); }
std::string describe(std::uint64_t v) { return std::to_string(v); }

std::string describe(double v) {
    if (std::isnan(v)) return ".nan";
    if (std::isinf(v)) return v < 0 ? "-.inf" : ".inf";
    std::array<char, 64> buf{};
    auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v);
    return std::string(buf.data(), end);
}

std::string describe(std::string_view v) { return "'" + std::string(v) + "'"; }

}  // namespace config
}  // namespace kedge
