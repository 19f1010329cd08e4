#pragma once
// What a pod's containers get from the node: volumes materialised on disk (emptyDir, hostPath,
// configMap, secret, downwardAPI) and environment variables (literal, valueFrom configMapKeyRef /
// secretKeyRef / fieldRef / resourceFieldRef, envFrom configMapRef / secretRef), resolved from
// the objects the edge holds (so it works offline). Pure functions over JSON plus the file
// system; no CRI, no Asio. The pod manager turns the results into CRI mounts and envs.
//
// Layout (the kubelet's): <root>/pods/<uid>/volumes/kubernetes.io~<plugin>/<volume>/..., where
// root is edged.rootDirectory (/var/lib/kubelet). configMap / secret / downwardAPI volumes are
// written atomically like the kubelet's AtomicWriter: files in a timestamped directory,
// a `..data` symlink switched with rename, and per-key symlinks `<key>` -> `..data/<key>`, so a
// reader never sees half an update; re-running with a changed object updates the files.
// Secret files are 0644 unless defaultMode/mode says otherwise (the kubelet's default), the
// directories 0755; secret volume directories are 0750 (not tmpfs here: documented).

#include <boost/json/fwd.hpp>

#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/error.hpp"

namespace kedge::edge {

// Looks up an object the edge holds: kind "configmap" / "secret", namespace, name. nullopt when
// the edge does not have it (the caller's status message then says which one is missing).
using ObjectLookup = std::function<std::optional<boost::json::object>(
    const std::string& type, const std::string& ns, const std::string& name)>;

// Node facts the downward API and fieldRef need.
struct NodeFacts {
    std::string node_name;
    std::string host_ip;
};

// One bind mount for a container (CRI Mount).
struct VolumeMount {
    std::string container_path;
    std::string host_path;
    bool read_only = false;
};

// Errors are kedge::Error values whose detail is the message the kubelet would show, e.g.
// `configmap "web" not found` or `couldn't find key "a" in ConfigMap default/web` (the pod
// manager puts it in the container's waiting message with reason CreateContainerConfigError, or
// in a FailedMount-style condition for volumes). errc::not_found for missing objects/keys,
// invalid_argument for unsupported or malformed specs, io_error for the file system.

// The directory of one volume: <root>/pods/<uid>/volumes/kubernetes.io~<plugin>/<name>.
std::filesystem::path volume_dir(const std::filesystem::path& root, const std::string& pod_uid,
                                 const std::string& plugin, const std::string& volume);

// Creates or refreshes every volume of the pod (spec.volumes). Returns volume name -> host path.
// A missing configMap/secret that is not `optional: true` is an error naming it (the pod
// waits; nothing else is touched). Unsupported volume types are an error naming the type.
Result<std::map<std::string, std::filesystem::path>> prepare_volumes(
    const boost::json::object& pod, const std::filesystem::path& root, const ObjectLookup& lookup,
    const NodeFacts& node);

// The mounts of one container (its volumeMounts, subPath supported) given prepare_volumes'
// result; an unknown volume name is an error.
Result<std::vector<VolumeMount>> container_mounts(
    const boost::json::object& container, const std::map<std::string, std::filesystem::path>& volumes);

// The environment of one container in order: envFrom first, then env (later entries win, as in
// the kubelet), $(VAR) references expanded against earlier entries. A missing referenced
// configMap/secret/key that is not optional is a CreateContainerConfigError naming it.
Result<std::vector<std::pair<std::string, std::string>>> container_env(
    const boost::json::object& pod, const boost::json::object& container,
    const ObjectLookup& lookup, const NodeFacts& node, const std::string& pod_ip);

// Removes <root>/pods/<uid> (after the pod's containers are gone).
Result<void> remove_pod_dir(const std::filesystem::path& root, const std::string& pod_uid);

}  // namespace kedge::edge
