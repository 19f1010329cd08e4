// The main() of every kedge test binary: gtest plus KEDGE_LOG-driven logging, and SIGPIPE
// ignored so a peer that goes away shows up as an error code, not a dead test process.
#include "base/log.hpp"

#include <gtest/gtest.h>

#include <csignal>

int main(int argc, char** argv) {
    std::signal(SIGPIPE, SIG_IGN);
    kedge::log::init();
    testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}
