#!/usr/bin/python3
"""Pod startup latency: kedge-apiserver + cloudcore + one real edgecore running pods on a private
containerd (tests/support/cri-env.sh: runc, bridge CNI in 10.80.0.0/12, images from a loopback
registry). For each of --pods busybox pods bound to the node (nodeName set, no scheduler):
the time from its POST to the API showing status.phase Running, as seen by a watch on the API.
The busybox image is present before the measured pods (a warm-up pod pulls it, then goes).

    /usr/bin/python3 bench/pod_startup/run.py [--build build/release] [--pods 20]
        [--mode sequential|burst] [--keep] [--report FILE]

Starts only its own processes and stops them by PID; the containerd node (pods, shims, mounts,
bridge, cgroups, registry) is torn down by cri-env.sh even when the run fails.
"""
import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import urllib.request


ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "bench", "lib"))
from kedge_bench import (CriNode, Proc, free_port, start_apiserver, start_cloudcore,  # noqa: E402
                         wait_for, write_edgecore_config)

NODE = "podbench-edge"
PODS = "/api/v1/namespaces/default/pods"


def metric(port, name):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            for line in r.read().decode().splitlines():
                if line.startswith(name + " "):
                    return float(line.split()[1])
    except OSError:
        pass
    return None


def percentile(values, p):
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(-(-p * len(s) // 100)) - 1))
    return s[k]


def stale_sources(binary):
    """Source files newer than binary (a hint that the build is not current)."""
    built = os.path.getmtime(binary)
    newer = []
    for top in ("src", "apps", "proto"):
        for d, _, files in os.walk(os.path.join(ROOT, top)):
            paths = (os.path.join(d, f) for f in files)
            newer += [p for p in paths if os.path.getmtime(p) > built]
    return newer


def pod_manifest(name, image, labels):
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "default", "labels": labels},
            "spec": {"nodeName": NODE, "terminationGracePeriodSeconds": 2,
                     "containers": [{"name": "c", "image": image,
                                     "imagePullPolicy": "IfNotPresent",
                                     "command": ["sleep", "3600"]}]}}


class Tracker:
    """First time (monotonic) the watch showed each pod Running."""

    def __init__(self):
        self.lock = threading.Lock()
        self.running = {}

    def on_event(self, ev, t):
        obj = ev.get("object") or {}
        name = (obj.get("metadata") or {}).get("name")
        phase = (obj.get("status") or {}).get("phase")
        if ev.get("type") in ("ADDED", "MODIFIED") and phase == "Running":
            with self.lock:
                self.running.setdefault(name, t)

    def seen(self, name):
        with self.lock:
            return self.running.get(name)


def edgecore_config(edgecore_bin, work, cloud, meta_port, monitor_port, node):
    edge_dir = os.path.join(work, "edge")

    def on_containerd(cfg):
        edged = cfg["modules"]["edged"]
        edged["rootDirectory"] = os.path.join(edge_dir, "kubelet")
        kubelet = edged["tailoredKubeletConfig"]
        kubelet["containerRuntimeEndpoint"] = node.endpoint
        kubelet["cgroupRoot"] = node.info["cgroup_parent"]
        cfg["kedge"]["podLogsDirectory"] = os.path.join(edge_dir, "log", "pods")
        cfg["kedge"]["containerLogsDirectory"] = os.path.join(edge_dir, "log", "containers")

    return write_edgecore_config(edgecore_bin, edge_dir, NODE, cloud, meta_port, monitor_port,
                                 on_containerd)


def wait_running(tracker, name, timeout, edge):
    wait_for(lambda: tracker.seen(name) is not None or not edge.alive(), timeout,
             f"pod {name} Running")
    if not edge.alive():
        raise RuntimeError("edgecore exited; see " + edge.log_path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build", "release"))
    ap.add_argument("--pods", type=int, default=20)
    ap.add_argument("--mode", choices=("sequential", "burst"), default="sequential",
                    help="sequential: one pod at a time, each waits for the previous to run; "
                         "burst: all POSTs back to back")
    ap.add_argument("--timeout", type=int, default=120, help="per-pod (or burst) wait, s")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--report", default="pod_startup_report.json")
    args = ap.parse_args()

    if os.geteuid() != 0:
        sys.exit("needs root (containerd, bridges, cgroups)")
    edgecore_bin = os.path.join(args.build, "apps/edgecore/edgecore")
    for b in (edgecore_bin, os.path.join(args.build, "apps/cloudcore/cloudcore"),
              os.path.join(args.build, "apps/kedge-apiserver/kedge-apiserver")):
        if not os.access(b, os.X_OK):
            sys.exit(f"missing binary {b} (build it first)")
    newer = stale_sources(edgecore_bin)
    if newer:
        print(f"# WARNING: {len(newer)} source file(s) newer than {edgecore_bin}, e.g. "
              f"{newer[0]}", flush=True)

    # SIGTERM/SIGINT unwind through the finally below, so the node is always torn down.
    def on_signal(signum, frame):
        raise SystemExit(f"signal {signum}")
    signal.signal(signal.SIGTERM, on_signal)

    work = tempfile.mkdtemp(prefix="podbench.", dir="/tmp")
    os.chmod(work, 0o755)
    procs = []
    node = CriNode(os.path.join(work, "cri"), f"podbench-{os.getpid()}")
    watch = None
    results = {"pods": args.pods, "mode": args.mode, "build": os.path.relpath(args.build, ROOT),
               "stale_sources": len(newer)}
    failed = False
    try:
        node.up()
        image = node.info["busybox_image"]
        print(f"# containerd {node.info['containerd_pid']} at {node.info['sock']}, subnet "
              f"{node.subnet}, bridge {node.info['bridge']}, image {image}", flush=True)
        kube, kubeconfig = start_apiserver(args.build, work, procs)
        cloud = start_cloudcore(args.build, work, kubeconfig, procs)
        meta_port, monitor_port = free_port(), free_port()
        cfg_path = edgecore_config(edgecore_bin, work, cloud, meta_port, monitor_port, node)
        edge = Proc("edgecore", [edgecore_bin, "--config", cfg_path, "--log-level", "warn"],
                    os.path.join(work, "edgecore.log"))
        procs.append(edge)
        wait_for(lambda: metric(monitor_port, "edgecore_cloud_connected") == 1 or not edge.alive(),
                 60, "edgecore connected")
        if not edge.alive():
            raise RuntimeError("edgecore exited; see " + edge.log_path)

        c = kube.conn()
        listing = kube.get_json(c, PODS)
        tracker = Tracker()
        watch = kube.watch(
            f"{PODS}?resourceVersion={listing['metadata']['resourceVersion']}",
            tracker.on_event, timeout=3600)

        # Warm-up: pulls the image (and starts containerd's CNI and snapshotter paths) once.
        t0 = time.monotonic()
        kube.request(c, "POST", PODS, pod_manifest("warmup", image, {"app": "podbench-warmup"}))
        wait_running(tracker, "warmup", args.timeout, edge)
        results["warmup_ms"] = round((tracker.seen("warmup") - t0) * 1000, 1)
        kube.request(c, "DELETE", f"{PODS}/warmup")

        def gone():
            try:
                kube.get_json(kube.conn(), f"{PODS}/warmup")
                return False
            except RuntimeError as e:
                return "HTTP 404" in str(e)
        wait_for(gone, 60, "warm-up pod deleted")
        print(f"# warm-up pod (image pull included): {results['warmup_ms']} ms", flush=True)

        # Other work on the machine shows in the figures: record how busy it was.
        results["loadavg_before"] = os.getloadavg()[0]
        names = [f"pod-{i:03d}" for i in range(args.pods)]
        posted = {}
        for n in names:
            posted[n] = time.monotonic()
            kube.request(c, "POST", PODS, pod_manifest(n, image, {"app": "podbench"}))
            if args.mode == "sequential":
                wait_running(tracker, n, args.timeout, edge)
        for n in names:
            wait_running(tracker, n, args.timeout, edge)
        if watch.error:
            raise RuntimeError(f"watch failed: {watch.error}")

        results["loadavg_after"] = os.getloadavg()[0]
        lat = {n: round((tracker.seen(n) - posted[n]) * 1000, 1) for n in names}
        values = list(lat.values())
        results["latency_ms"] = lat
        results["p50_ms"] = percentile(values, 50)
        results["p99_ms"] = percentile(values, 99)
        results["max_ms"] = max(values)
        results["min_ms"] = min(values)
        results["targets"] = {"p50_ms": 500, "p99_ms": 1000}
        results["met"] = results["p50_ms"] <= 500 and results["p99_ms"] <= 1000
        print(f"# POST -> Running (ms): {' '.join(str(v) for v in values)}", flush=True)
        print(f"# p50 {results['p50_ms']} ms, p99 {results['p99_ms']} ms, max "
              f"{results['max_ms']} ms (targets: p50 <= 500, p99 <= 1000); load average "
              f"{results['loadavg_before']:.2f} -> {results['loadavg_after']:.2f}", flush=True)
        print(f"BENCH pod_startup pods={args.pods} mode={args.mode} p50_ms={results['p50_ms']} "
              f"p99_ms={results['p99_ms']} max_ms={results['max_ms']}", flush=True)
        with open(args.report, "w") as f:
            json.dump(results, f, indent=2)
    except BaseException:
        failed = True
        raise
    finally:
        if watch:
            watch.close()
        # edgecore first (it would restart what the teardown removes), then the node.
        for p in reversed(procs):
            if p.name == "edgecore":
                p.stop()
        for err in node.down():
            print(f"# teardown: {err}", file=sys.stderr)
        for p in reversed(procs):
            p.stop()
        if failed:
            for p in procs:
                try:
                    with open(p.log_path, errors="replace") as f:
                        print(f"---- {p.name} log (tail) ----\n{f.read()[-4000:]}",
                              file=sys.stderr)
                except OSError:
                    pass
        with open("/proc/self/mounts") as f:
            mounted = any(line.split()[1].startswith(work + "/") for line in f)
        if args.keep or failed or mounted:
            # Never delete through a live mount: it could reach outside the work directory.
            print(f"# work directory kept{' (mounts remain)' if mounted else ''}: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
