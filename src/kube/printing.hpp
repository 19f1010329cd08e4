#pragma once
// What kube-apiserver's server-side printing shares between every server that answers
// `kubectl get` (kedge-apiserver, the edge's meta server): the Accept check for Tables and
// kube's duration.HumanDuration for the AGE column.

#include <chrono>
#include <string>
#include <string_view>

namespace kedge::kube {

// True when the Accept header asks for a meta.k8s.io Table.
bool wants_table(std::string_view accept);

// kube's duration.HumanDuration ("5s", "3m20s", "2d4h", ...).
std::string human_duration(std::chrono::seconds d);

}  // namespace kedge::kube
