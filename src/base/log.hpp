#pragma once
// Per-component logging on spdlog: every library asks for its logger by component name
// ("cloudhub", "net.http") so that levels can be set per component from config or KEDGE_LOG.

#include <spdlog/spdlog.h>

#include <exception>
#include <memory>
#include <string>
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

// A co_spawn completion handler that logs an exception escaping the coroutine ("<what>:
// unexpected exception: ...") instead of swallowing it, as asio::detached would. No Asio here:
// it is only a callable taking std::exception_ptr.
inline auto log_exceptions(std::shared_ptr<spdlog::logger> logger, std::string what) {
    return [logger = std::move(logger), what = std::move(what)](std::exception_ptr e) {
        if (!e) return;
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& ex) {
            logger->error("{}: unexpected exception: {}", what, ex.what());
        } catch (...) {
            logger->error("{}: unexpected exception", what);
        }
    };
}

}  // namespace kedge::log
