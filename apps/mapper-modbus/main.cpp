// mapper-modbus: a KubeEdge device mapper for Modbus TCP devices (protocol "modbus").
#include "device/mapper/mapper.hpp"
#include "device/modbus/modbus_driver.hpp"

int main(int argc, char** argv) {
    auto options = kedge::device::parse_mapper_flags(argc, argv, "modbus-mapper");
    return kedge::device::run_mapper(kedge::device::modbus::make_modbus_driver(),
                                     std::move(options));
}
