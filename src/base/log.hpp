#pragma once
// Per-component logging on spdlog: every library asks for its logger by component name
// ("cloudhub", "net.http") so that levels can be set per component from config or KEDGE_LOG.

#include <spdlog/spdlog.h>

#include <memory>
#include <string_view>

namespace kedge::log {

// The logger of one component, created on first use with the current default level.
std::shared_ptr<spdlog::logger> get(std::string_view component);

// Sets the level of every component, or of one when component is non-empty.
void set_level(spdlog::level::level_enum level, std::string_view component = {});

// Applies a spec like "info" or "debug,cloudhub=trace,net.ws=warn" (also read from the
// KEDGE_LOG environment variable by init()). Unknown level names are ignored with a warning.
void apply_spec(std::string_view spec);

// Sets up the sink (stderr, colour when a terminal) and applies KEDGE_LOG. Idempotent.
void init();

}  // namespace kedge::log
