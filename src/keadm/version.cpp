// keadm version: keadm's own version, then each component's when its binary answers --version.

#include <chrono>
#include <iostream>
#include <optional>
#include <string>

#include "keadm/common.hpp"
#include "keadm/keadm.hpp"

#ifndef KEDGE_VERSION
#define KEDGE_VERSION "0.1.0"
#endif

namespace kedge::keadm {

int run_version() {
    std::cout << "keadm version: v" KEDGE_VERSION " (kedge)" << std::endl;
    for (const char* name : {"cloudcore", "edgecore", "kedge-apiserver"}) {
        auto bin = find_binary(name, {});
        if (!bin) {
            std::cout << name << ": not found" << std::endl;
            continue;
        }
        auto version = ask_version(bin->path, std::chrono::seconds(3));
        std::cout << name << ": " << (version ? *version : "(does not report a version)") << " at "
                  << bin->path.string() << std::endl;
    }
    return 0;
}

}  // namespace kedge::keadm
