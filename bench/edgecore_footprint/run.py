#!/usr/bin/python3
"""edgecore footprint benchmark: kedge-apiserver + cloudcore + one real edgecore on loopback.

Measures edgecore's resident memory (VmRSS, sampled every second) and CPU (utime + stime from
/proc/<pid>/stat) while it is idle and connected, holding --pods pods bound to its node plus one
configmap, with upstream's default timers (heartbeat 15 s, node status every 10 s). Then the
same with the cloud gone (offline, reconnect attempts running). Starts only its own processes,
stops them by PID, and bounds every wait.

    /usr/bin/python3 bench/edgecore_footprint/run.py [--build build/release] [--duration 60]
        [--pods 20] [--offline 30]
"""
import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "bench", "lib"))
from kedge_bench import (Proc, free_port, rss_kib, start_apiserver, start_cloudcore,  # noqa: E402
                         wait_for, write_edgecore_config)

NODE = "footprint-edge"


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[11], fields[12] = utime, stime (fields 14 and 15 of proc(5), after pid and comm)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def metric(port, name):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            for line in r.read().decode().splitlines():
                if line.startswith(name + " "):
                    return float(line.split()[1])
    except OSError:
        pass
    return None


def rollup(pid):
    """PSS and private memory (KiB): RSS counts shared library pages in full."""
    out = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if parts and parts[0] in ("Pss:", "Private_Clean:", "Private_Dirty:"):
                out[parts[0][:-1]] = int(parts[1])
    return {"pss_kib": out.get("Pss", 0),
            "private_kib": out.get("Private_Clean", 0) + out.get("Private_Dirty", 0)}


def measure(pid, seconds):
    """RSS samples every second and the CPU used over `seconds`."""
    samples = []
    cpu0, t0 = cpu_seconds(pid), time.monotonic()
    while time.monotonic() - t0 < seconds:
        samples.append(rss_kib(pid))
        time.sleep(1)
    cpu = cpu_seconds(pid) - cpu0
    elapsed = time.monotonic() - t0
    result = {"rss_kib_max": max(samples), "rss_kib_last": samples[-1],
              "cpu_pct_of_core": round(100.0 * cpu / elapsed, 3), "seconds": round(elapsed, 1)}
    result.update(rollup(pid))
    return result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build", "release"))
    ap.add_argument("--duration", type=int, default=60, help="connected idle window (s)")
    ap.add_argument("--offline", type=int, default=30, help="offline idle window (s), 0 = skip")
    ap.add_argument("--pods", type=int, default=20)
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--report", default="edgecore_footprint_report.json")
    args = ap.parse_args()

    edgecore_bin = os.path.join(args.build, "apps/edgecore/edgecore")
    for b in (edgecore_bin, os.path.join(args.build, "apps/cloudcore/cloudcore"),
              os.path.join(args.build, "apps/kedge-apiserver/kedge-apiserver")):
        if not os.access(b, os.X_OK):
            sys.exit(f"missing binary {b} (build it first)")

    work = tempfile.mkdtemp(prefix="edgecore_footprint.")
    procs = []
    results = {"pods": args.pods}
    try:
        kube, kubeconfig = start_apiserver(args.build, work, procs)
        cloud = start_cloudcore(args.build, work, kubeconfig, procs)

        # edgecore from its own --defaultconfig: upstream's timers, loopback addresses.
        meta_port, monitor_port = free_port(), free_port()
        cfg_path = write_edgecore_config(edgecore_bin, os.path.join(work, "edge"), NODE, cloud,
                                         meta_port, monitor_port)
        edge = Proc("edgecore", [edgecore_bin, "--config", cfg_path, "--log-level", "warn"],
                    os.path.join(work, "edgecore.log"))
        procs.append(edge)
        wait_for(lambda: metric(monitor_port, "edgecore_cloud_connected") == 1 or not edge.alive(),
                 60, "edgecore connected")
        if not edge.alive():
            raise RuntimeError("edgecore exited; see " + edge.log_path)

        # Give it something to hold: a configmap and pods bound to the node that use it.
        c = kube.conn()
        kube.request(c, "POST", "/api/v1/namespaces/default/configmaps",
                     {"apiVersion": "v1", "kind": "ConfigMap",
                      "metadata": {"name": "footprint", "namespace": "default"},
                      "data": {"app.conf": "x" * 1024}})
        for i in range(args.pods):
            kube.request(c, "POST", "/api/v1/namespaces/default/pods",
                         {"apiVersion": "v1", "kind": "Pod",
                          "metadata": {"name": f"footprint-{i}", "namespace": "default",
                                       "labels": {"app": "footprint"}},
                          "spec": {"nodeName": NODE, "containers": [
                              {"name": "c", "image": "busybox",
                               "envFrom": [{"configMapRef": {"name": "footprint"}}]}]}})
        wait_for(lambda: (metric(monitor_port, "edgecore_meta_objects") or 0) >= args.pods + 2,
                 60, f"{args.pods} pods at the edge")
        time.sleep(5)  # the first node status / lease round trips

        pid = edge.p.pid
        results["connected"] = measure(pid, args.duration)
        print(f"# connected: {results['connected']}", flush=True)
        if args.offline:
            cloud["proc"].stop()
            wait_for(lambda: metric(monitor_port, "edgecore_cloud_connected") == 0, 60,
                     "edgecore noticing the cloud is gone")
            results["offline"] = measure(pid, args.offline)
            print(f"# offline: {results['offline']}", flush=True)
        results["objects"] = metric(monitor_port, "edgecore_meta_objects")
        results["binary_bytes"] = os.path.getsize(edgecore_bin)

        con = results["connected"]
        line = (f"BENCH edgecore_footprint pods={args.pods} "
                f"connected_rss_kib={con['rss_kib_max']} connected_pss_kib={con['pss_kib']} "
                f"connected_private_kib={con['private_kib']} "
                f"connected_cpu_pct={con['cpu_pct_of_core']}")
        if "offline" in results:
            off = results["offline"]
            line += (f" offline_rss_kib={off['rss_kib_max']} "
                     f"offline_cpu_pct={off['cpu_pct_of_core']}")
        print(line, flush=True)
        with open(args.report, "w") as f:
            json.dump(results, f, indent=2)
    finally:
        for p in reversed(procs):
            p.stop()
        if args.keep:
            print(f"# work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
