#include "cloud/edgecontroller/resync.hpp"

#include "kube/object.hpp"

namespace kedge::cloud::edgecontroller {

ResyncDelta compute_delta(const hub::Inventory& inventory, const ExpectedSet& expected) {
    ResyncDelta d;
    static const std::map<std::string, ObjectPtr, std::less<>> kNone;
    static const std::map<std::string, std::string, std::less<>> kEmpty;
    for (auto type : kDownstreamTypes) {
        auto eit = expected.find(type);
        const auto& want = eit == expected.end() ? kNone : eit->second;
        auto iit = inventory.resources.find(type);
        const auto& have = iit == inventory.resources.end() ? kEmpty : iit->second;
        // Both maps are sorted by key: one merge pass.
        auto w = want.begin();
        auto h = have.begin();
        while (w != want.end() || h != have.end()) {
            if (h == have.end() || (w != want.end() && w->first < h->first)) {
                d.inserts.push_back({std::string(type), w->second});
                ++w;
            } else if (w == want.end() || h->first < w->first) {
                d.deletes.push_back({std::string(type), h->first});
                ++h;
            } else {
                if (kube::resource_version(*w->second) == h->second) {
                    ++d.unchanged;
                } else {
                    d.updates.push_back({std::string(type), w->second});
                }
                ++w;
                ++h;
            }
        }
    }
    return d;
}

ResyncDelta full_delta(const ExpectedSet& expected) {
    ResyncDelta d;
    for (const auto& [type, objects] : expected)
        for (const auto& [key, obj] : objects) d.inserts.push_back({type, obj});
    return d;
}

std::size_t expected_size(const ExpectedSet& expected) {
    std::size_t n = 0;
    for (const auto& [type, objects] : expected) n += objects.size();
    return n;
}

}  // namespace kedge::cloud::edgecontroller
