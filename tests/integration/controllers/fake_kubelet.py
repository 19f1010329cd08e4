#!/usr/bin/python3
"""A stand-in for the kubelets of several nodes, written with python3-kubernetes (an independent
client), for controller tests that need nodes but no container runtime.

It registers the Node objects described in --nodes (a JSON list of
{"name", "labels", "taints", "capacity"}), then every --interval seconds, for each node that is
not paused (a file <control-dir>/paused/<node> exists while it is paused):
  - posts the node's status (Ready condition with a fresh lastHeartbeatTime) and renews its Lease
    in kube-node-lease, as a kubelet does;
  - marks pods bound to the node Running and Ready;
  - completes the deletion of pods on the node that are terminating (delete with grace 0), as a
    kubelet does once the containers are gone.
A paused node does none of this, like a node whose kubelet or network is down. It writes
<control-dir>/ready once the nodes are registered and stops on SIGTERM.
"""
import argparse
import datetime
import json
import os
import signal
import sys
import time

from kubernetes import client, config
from kubernetes.client.rest import ApiException

stop = False


def on_term(*_):
    global stop
    stop = True


def now():
    return datetime.datetime.now(datetime.timezone.utc)


def stamp(t=None):
    return (t or now()).strftime("%Y-%m-%dT%H:%M:%SZ")


def conditions(t):
    ts = stamp(t)
    conds = []
    for ctype, status, reason, msg in [
            ("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
            ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
            ("Ready", "True", "KubeletReady", "kubelet is posting ready status")]:
        conds.append({"type": ctype, "status": status, "reason": reason, "message": msg,
                      "lastHeartbeatTime": ts, "lastTransitionTime": ts})
    return conds


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kubeconfig", required=True)
    ap.add_argument("--nodes", required=True)
    ap.add_argument("--control-dir", required=True)
    ap.add_argument("--interval", type=float, default=1.0)
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, on_term)
    config.load_kube_config(config_file=args.kubeconfig)
    core = client.CoreV1Api()
    coord = client.CoordinationV1Api()
    with open(args.nodes) as f:
        nodes = json.load(f)
    names = {n["name"] for n in nodes}
    os.makedirs(os.path.join(args.control_dir, "paused"), exist_ok=True)

    for n in nodes:
        capacity = {"cpu": "4", "memory": "8Gi", "pods": "110"}
        capacity.update(n.get("capacity", {}))
        body = {"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": n["name"], "labels": dict(n.get("labels", {}))},
                "spec": {"taints": n.get("taints", [])}}
        body["metadata"]["labels"].setdefault("kubernetes.io/hostname", n["name"])
        try:
            core.create_node(body)
        except ApiException as e:
            if e.status != 409:
                raise
        n["capacity"] = capacity
    started = {}

    def heartbeat(n):
        t = now()
        status = {"status": {
            "capacity": n["capacity"], "allocatable": n["capacity"],
            "conditions": conditions(t),
            "addresses": [{"type": "Hostname", "address": n["name"]}],
            "nodeInfo": {"kubeletVersion": "v1.29.0-fake", "operatingSystem": "linux",
                         "architecture": "amd64", "containerRuntimeVersion": "fake://0",
                         "kernelVersion": "", "osImage": "fake", "kubeProxyVersion": "",
                         "machineID": "", "systemUUID": "", "bootID": ""}}}
        core.patch_node_status(n["name"], status)
        micro = t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                 "metadata": {"name": n["name"], "namespace": "kube-node-lease"},
                 "spec": {"holderIdentity": n["name"], "leaseDurationSeconds": 40,
                          "renewTime": micro}}
        try:
            coord.patch_namespaced_lease(n["name"], "kube-node-lease", {"spec": lease["spec"]})
        except ApiException as e:
            if e.status != 404:
                raise
            coord.create_namespaced_lease("kube-node-lease", lease)

    def run_pods(live):
        for p in core.list_pod_for_all_namespaces().items:
            node = p.spec.node_name
            if node not in live:
                continue
            ns, name = p.metadata.namespace, p.metadata.name
            if p.metadata.deletion_timestamp is not None:
                try:
                    core.delete_namespaced_pod(name, ns, grace_period_seconds=0)
                except ApiException as e:
                    if e.status != 404:
                        raise
                continue
            if p.status is not None and p.status.phase == "Running":
                continue
            t = stamp()
            start = started.setdefault(p.metadata.uid, t)
            statuses = [{"name": c.name, "ready": True, "restartCount": 0, "started": True,
                         "image": c.image or "", "imageID": "", "containerID": "fake://" + c.name,
                         "state": {"running": {"startedAt": start}}} for c in p.spec.containers]
            conds = [{"type": ct, "status": "True", "lastTransitionTime": t}
                     for ct in ("Initialized", "Ready", "ContainersReady", "PodScheduled")]
            body = {"status": {"phase": "Running", "conditions": conds, "hostIP": "10.80.0.1",
                               "podIP": "10.80.1.1", "startTime": start,
                               "containerStatuses": statuses}}
            try:
                core.patch_namespaced_pod_status(name, ns, body)
            except ApiException as e:
                if e.status not in (404, 409):
                    raise

    for n in nodes:
        heartbeat(n)
    with open(os.path.join(args.control_dir, "ready"), "w") as f:
        f.write("ready\n")
    while not stop:
        live = {n["name"] for n in nodes
                if not os.path.exists(os.path.join(args.control_dir, "paused", n["name"]))}
        try:
            for n in nodes:
                if n["name"] in live:
                    heartbeat(n)
            run_pods(live)
        except ApiException as e:
            print("fake kubelet: %s %s" % (e.status, e.reason), file=sys.stderr, flush=True)
        except Exception as e:  # the API server may be restarting: keep going
            print("fake kubelet: %r" % (e,), file=sys.stderr, flush=True)
        deadline = time.time() + args.interval
        while not stop and time.time() < deadline:
            time.sleep(0.05)
    return 0


if __name__ == "__main__":
    sys.exit(main())
