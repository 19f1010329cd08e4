#include "base/log.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>

#include <cstdlib>
#include <mutex>
#include <string>

namespace kedge::log {
namespace {

std::mutex g_mutex;
spdlog::level::level_enum g_default_level = spdlog::level::info;
spdlog::sink_ptr g_sink;

spdlog::sink_ptr sink_locked() {
    if (!g_sink) g_sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    return g_sink;
}

}  // namespace

std::shared_ptr<spdlog::logger> get(std::string_view component) {
    std::string name(component);
    if (auto existing = spdlog::get(name)) return existing;
    std::lock_guard lock(g_mutex);
    if (auto existing = spdlog::get(name)) return existing;
    auto logger = std::make_shared<spdlog::logger>(name, sink_locked());
    logger->set_level(g_default_level);
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%L%$ [%n] %v", spdlog::pattern_time_type::utc);
    spdlog::register_logger(logger);
    return logger;
}

void set_level(spdlog::level::level_enum level, std::string_view component) {
    if (!component.empty()) {
        get(component)->set_level(level);
        return;
    }
    {
        std::lock_guard lock(g_mutex);
        g_default_level = level;
    }
    spdlog::apply_all([level](const std::shared_ptr<spdlog::logger>& l) { l->set_level(level); });
}

void apply_spec(std::string_view spec) {
    while (!spec.empty()) {
        auto comma = spec.find(',');
        auto item = spec.substr(0, comma);
        spec = comma == std::string_view::npos ? std::string_view{} : spec.substr(comma + 1);
        if (item.empty()) continue;
        auto eq = item.find('=');
        std::string_view component = eq == std::string_view::npos ? "" : item.substr(0, eq);
        std::string level_name(eq == std::string_view::npos ? item : item.substr(eq + 1));
        auto level = spdlog::level::from_str(level_name);
        // from_str maps unknown names to "off"; only accept "off" when it was asked for.
        if (level == spdlog::level::off && level_name != "off") {
            get("log")->warn("ignoring unknown log level '{}'", level_name);
            continue;
        }
        set_level(level, component);
    }
}

void init() {
    static std::once_flag once;
    std::call_once(once, [] {
        if (const char* spec = std::getenv("KEDGE_LOG")) apply_spec(spec);
    });
}

}  // namespace kedge::log
