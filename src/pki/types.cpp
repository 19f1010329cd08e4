#include "pki/types.hpp"

namespace kedge::pki {

std::string Subject::to_string() const {
    std::string out;
    for (const auto& o : organizations) {
        out += "O=" + o + ", ";
    }
    out += "CN=" + common_name;
    return out;
}

Result<ExtKeyUsage> ext_key_usage_from_go(int value) {
    switch (value) {
        case 1:
            return ExtKeyUsage::kServerAuth;
        case 2:
            return ExtKeyUsage::kClientAuth;
        default:
            return Error(errc::invalid_argument, "unsupported extended key usage " +
                                                     std::to_string(value) +
                                                     " (only 1 = serverAuth and 2 = clientAuth)");
    }
}

}  // namespace kedge::pki
