// libFuzzer target for the message decoder: whatever decodes must re-encode, decode again to
// the same message, and have content that parses. Build with clang and -DKEDGE_FUZZ=ON.

#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "bus/codec.hpp"
#include "bus/resource.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    (void)kedge::bus::parse_resource(in);
    (void)kedge::bus::parse_device_resource(in);
    auto m = kedge::bus::decode(in);
    if (!m) return 0;
    auto again = kedge::bus::decode(kedge::bus::encode(*m));
    if (!again || !(again->header == m->header) || !(again->route == m->route) ||
        again->content.raw() != m->content.raw() || !m->content.value())
        std::abort();
    (void)m->content.as_string();
    return 0;
}
