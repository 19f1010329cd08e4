#pragma once
// Everything cloudcore does after flag parsing: the Kubernetes client and shared informers, the
// PKI (CA, server certificate, join token in the kubeedge Secrets), the join server (:10002),
// the hub (:10000), the edge controller, and metrics/health on 127.0.0.1:9091, run until
// SIGTERM/SIGINT.

#include <string>

#include "cloud/config/cloudcore_config.hpp"

namespace kedge::cloud {

struct CloudCoreRunOptions {
    CloudCoreConfig config;
    // Names this cloudcore in node annotations and logs; default: the host name.
    std::string instance_id;
};

// Prints "cloudcore serving hub=<port> certs=<port> metrics=<port>" on stdout once every
// listener is up (tests and keadm wait for it). Returns the exit code: start-up failures
// (config, kubeconfig, PKI, ports) are logged with what to fix and return 1.
int run_cloudcore(const CloudCoreRunOptions& options);

}  // namespace kedge::cloud
