// mapper-virtual: a KubeEdge device mapper for the "virtual" protocol (simulated devices).
#include "device/mapper/mapper.hpp"
#include "virtual_driver.hpp"

int main(int argc, char** argv) {
    auto options = kedge::device::parse_mapper_flags(argc, argv, "virtual-mapper");
    return kedge::device::run_mapper(std::make_unique<kedge::device::virt::VirtualDriver>(),
                                     std::move(options));
}
