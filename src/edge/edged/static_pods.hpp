#pragma once
// Static pods: pod manifests in edged.tailoredKubeletConfig.staticPodPath (/etc/kubeedge/
// manifests), run by edged without the cloud, as the kubelet's file source does. Pure apart from
// reading the directory.
//
// Each *.yaml / *.yml / *.json file holds one Pod (YAML or JSON; other files, hidden files and
// sub-directories are ignored). A manifest becomes the pod edged runs: namespace "default" when
// unset, name "<name>-<node in lower case>", spec.nodeName = node, the kubelet's annotations
// kubernetes.io/config.source = "file", kubernetes.io/config.hash = the UID and
// kubernetes.io/config.seen, and a UID that is a hash of the manifest content, the node name and
// the file path (so a changed manifest is a new pod, and an unchanged one keeps its UID across
// restarts; a uid written in the manifest is kept instead, as the kubelet does). Like the kubelet
// it also adds a toleration of every NoExecute taint and sets status.phase Pending. A staticPodPath
// that names one regular file is read as the only manifest. The mirror pod is what the API shows
// for it: the same object with kubernetes.io/config.mirror = the hash, no UID, no status, and an
// ownerReference to the Node.

#include <boost/json/object.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "base/clock.hpp"
#include "base/error.hpp"

namespace kedge::edge {

// One usable manifest and the pod edged runs for it.
struct StaticPod {
    std::filesystem::path file;
    boost::json::object pod;  // what edged runs (with metadata.uid)
    std::string hash;         // == metadata.uid
};

// The result of reading staticPodPath once: the pods, and why the other manifests were skipped.
struct StaticPodScan {
    std::vector<StaticPod> pods;
    // One line per manifest that could not be used: "<file>: <why>" (bad YAML with line and
    // column, not a Pod, no name, a duplicate name).
    std::vector<std::string> errors;
};

// Reads every manifest of dir. A missing directory is no pods and no error (the kubelet's
// behaviour); an unreadable one is an error line.
// kubernetes.io/config.seen is the time of the scan (RFC 3339 with nanoseconds); the kubelet keeps
// the first one seen for an unchanged pod, so compare scans by hash, not by annotations.
StaticPodScan scan_static_pods(const std::filesystem::path& dir, const std::string& node);
// The same with the config.seen time given.
StaticPodScan scan_static_pods(const std::filesystem::path& dir, const std::string& node,
                               Clock::time_point seen);

// YAML text -> JSON, as the Kubernetes YAML decoder does: plain scalars become booleans
// (true/false), null (null, ~, empty), integers and floats where they parse as such, quoted
// scalars stay strings. Booleans are YAML 1.2's (true/True/TRUE/false/...; not yes/on), integers
// are decimal, 0x hex, 0o octal and, as go-yaml v2 reads them, 0-prefixed octal ("0644" = 420);
// "<<" merge keys are applied. Of a multi-document text the one non-empty document is used; a
// second one is an error. No document at all gives null. invalid_argument with "line L, column
// C: " on bad YAML, a non-scalar or null key, a duplicate key, .inf/.nan (not JSON).
Result<boost::json::value> yaml_to_json(const std::string& yaml);

// The mirror pod for the API (see above), given the node's UID for the ownerReference (may be
// empty: then no ownerReference).
boost::json::object mirror_pod(const StaticPod& pod, const std::string& node,
                               const std::string& node_uid);

// True for a mirror pod (annotation kubernetes.io/config.mirror): edged does not run those, it
// runs the static pod they mirror.
bool is_mirror_pod(const boost::json::object& pod);

}  // namespace kedge::edge
