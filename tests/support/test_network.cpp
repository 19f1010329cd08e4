#include "support/test_network.hpp"

#include <unistd.h>

#include <functional>

namespace kedge::test {

namespace {

std::string short_hash(const std::string& s) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%08zx", std::hash<std::string>{}(s) & 0xffffffffu);
    return std::string(buf).substr(0, 8);
}

bool ip(const std::string& args, std::string* reason) {
    auto r = run_command("ip " + args + " 2>&1");
    if (r.exit_code != 0 && reason) *reason = "ip " + args + ": " + r.output;
    return r.exit_code == 0;
}

}  // namespace

CommandResult in_netns(const std::string& netns, const std::string& command) {
    return run_command("nsenter --net=/var/run/netns/" + netns + " sh -c '" + command + "' 2>&1");
}

std::unique_ptr<TestNetwork> TestNetwork::create(std::string* reason) {
    if (::geteuid() != 0) {
        *reason = "network namespaces need root";
        return nullptr;
    }
    std::unique_ptr<TestNetwork> n(new TestNetwork());
    n->subnet_ = ClaimedSubnet::claim();
    if (!n->subnet_) {
        *reason = "no free /24 left in 10.80.0.0/12";
        return nullptr;
    }
    // Safety net (TESTING.md): addresses of 10.80.0.0/12 that are not on our links fail locally.
    (void)run_command("ip route replace unreachable 10.80.0.0/12");
    n->bridge_ = "kb" + short_hash(n->subnet_->cidr() + std::to_string(::getpid()));
    if (!ip("link add " + n->bridge_ + " type bridge", reason) ||
        !ip("addr add " + n->host_address() + "/24 dev " + n->bridge_, reason) ||
        !ip("link set " + n->bridge_ + " up", reason))
        return nullptr;
    return n;
}

TestNetwork::~TestNetwork() {
    for (auto& [ns, link] : links_) (void)run_command("ip link del " + link.host_end + " 2>&1");
    if (!bridge_.empty()) (void)run_command("ip link del " + bridge_ + " 2>&1");
}

std::string TestNetwork::attach(const std::string& netns, std::string* reason) {
    Link l;
    std::string h = short_hash(netns + bridge_);
    l.host_end = "kh" + h;
    l.ns_end = "kn" + h;
    l.address = subnet_->address(next_host_++);
    if (!ip("link add " + l.host_end + " type veth peer name " + l.ns_end, reason) ||
        !ip("link set " + l.host_end + " master " + bridge_ + " up", reason) ||
        !ip("link set " + l.ns_end + " netns " + netns, reason) ||
        !ip("-n " + netns + " addr add " + l.address + "/24 dev " + l.ns_end, reason) ||
        !ip("-n " + netns + " link set " + l.ns_end + " up", reason) ||
        !ip("-n " + netns + " link set lo up", reason))
        return "";
    links_[netns] = l;
    return l.address;
}

bool TestNetwork::cut(const std::string& netns) {
    auto it = links_.find(netns);
    return it != links_.end() && ip("link set " + it->second.host_end + " down", nullptr);
}

bool TestNetwork::restore(const std::string& netns) {
    auto it = links_.find(netns);
    return it != links_.end() && ip("link set " + it->second.host_end + " up", nullptr);
}

}  // namespace kedge::test
