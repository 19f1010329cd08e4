#include "kube/printing.hpp"

namespace kedge::kube {

bool wants_table(std::string_view accept) {
    return accept.find("as=Table") != std::string_view::npos &&
           accept.find("g=meta.k8s.io") != std::string_view::npos;
}

std::string human_duration(std::chrono::seconds d) {
    long long s = d.count();
    if (s < -1) return "<invalid>";
    if (s < 0) return "0s";
    if (s < 60 * 2) return std::to_string(s) + "s";
    long long m = s / 60;
    if (m < 10) {
        long long rest = s % 60;
        return rest == 0 ? std::to_string(m) + "m"
                         : std::to_string(m) + "m" + std::to_string(rest) + "s";
    }
    if (m < 60 * 3) return std::to_string(m) + "m";
    long long h = m / 60;
    if (h < 8) {
        long long rest = m % 60;
        return rest == 0 ? std::to_string(h) + "h"
                         : std::to_string(h) + "h" + std::to_string(rest) + "m";
    }
    if (h < 48) return std::to_string(h) + "h";
    if (h < 24 * 8) {
        long long rest = h % 24;
        return rest == 0 ? std::to_string(h / 24) + "d"
                         : std::to_string(h / 24) + "d" + std::to_string(rest) + "h";
    }
    if (h < 24 * 365 * 2) return std::to_string(h / 24) + "d";
    long long y = h / (24 * 365);
    if (y < 8) {
        long long days = (h / 24) % 365;
        return days == 0 ? std::to_string(y) + "y"
                         : std::to_string(y) + "y" + std::to_string(days) + "d";
    }
    return std::to_string(y) + "y";
}

}  // namespace kedge::kube
