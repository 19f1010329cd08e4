#include "base/error.hpp"

namespace kedge {
namespace {

// boost::system::error_category has a protected non-virtual destructor by design (categories
// are never deleted through a base pointer); g++ warns about it anyway.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
class KedgeCategory final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "kedge"; }
    std::string message(int ev) const override {
        switch (static_cast<errc>(ev)) {
            case errc::ok: return "ok";
            case errc::invalid_argument: return "invalid argument";
            case errc::parse_error: return "parse error";
            case errc::not_found: return "not found";
            case errc::already_exists: return "already exists";
            case errc::conflict: return "conflict";
            case errc::queue_full: return "queue full";
            case errc::timeout: return "timed out";
            case errc::unauthorized: return "unauthorized";
            case errc::forbidden: return "forbidden";
            case errc::too_large: return "too large";
            case errc::unavailable: return "unavailable";
            case errc::closed: return "closed";
            case errc::expired: return "expired";
            case errc::crypto_error: return "crypto error";
            case errc::io_error: return "i/o error";
            case errc::internal: return "internal error";
        }
        return "unknown kedge error";
    }
};
#pragma GCC diagnostic pop

}  // namespace

const boost::system::error_category& kedge_category() noexcept {
    static const KedgeCategory category;
    return category;
}

std::string Error::message() const {
    if (detail.empty()) return code.message();
    return detail + " (" + code.message() + ")";
}

void throw_exception_from_error(const Error& e, const boost::source_location&) {
    throw ErrorException(e);
}

}  // namespace kedge
