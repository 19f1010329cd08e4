#!/usr/bin/python3
"""cloudcore fan-out benchmark: kedge-apiserver + cloudcore + kedge-edgemark on loopback.

Measures: time to connect N simulated nodes, cloudcore RSS per session, pod-to-node latency
(p50/p99 of M pods bound to random nodes, from the kedge.io/created-at annotation to arrival),
and a reconnect storm of all N (time until every node has resynced, bytes sent).
Starts only its own processes, stops them by PID, and bounds every wait.

    /usr/bin/python3 bench/cloudcore_fanout/run.py [--nodes 10000] [--pods 1000]
        [--build build/release] [--threads 2] [--timeout 900]
"""
import argparse
import datetime
import json
import os
import queue
import random
import resource
import shutil
import signal
import sys
import tempfile
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "bench", "lib"))
from kedge_bench import Proc, rss_kib, start_apiserver, start_cloudcore, wait_for  # noqa: E402


class EdgemarkReader:
    """Collects kedge-edgemark's stdout lines in a thread so waits never block on a pipe."""

    def __init__(self, proc, echo):
        self.lines = queue.Queue()
        self.events = {}
        self.bench = None
        self.last_progress = ""
        self.echo = echo
        self.t = threading.Thread(target=self._run, args=(proc.p.stdout,), daemon=True)
        self.t.start()

    def _run(self, out):
        for raw in out:
            line = raw.decode(errors="replace").rstrip()
            self.echo.write(line + "\n")
            self.echo.flush()
            if line.startswith("BENCH edgemark"):
                self.bench = line
            elif line.startswith("EDGEMARK progress"):
                self.last_progress = line
            elif line.startswith("EDGEMARK "):
                parts = line.split()
                self.events[parts[1]] = dict(kv.split("=", 1) for kv in parts[2:] if "=" in kv)
            print(line, flush=True)

    def progress_value(self, key):
        for kv in self.last_progress.split():
            if kv.startswith(key + "="):
                return int(kv.split("=", 1)[1])
        return 0


def micro_now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def create_pods(kube, nodes, count, workers=4):
    """Creates `count` pods bound (spec.nodeName) to random nodes, `workers` connections."""
    todo = queue.Queue()
    for i in range(count):
        todo.put(i)
    errors = []

    def work():
        c = kube.conn()
        while True:
            try:
                i = todo.get_nowait()
            except queue.Empty:
                return
            pod = {"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": f"fanout-{i}", "namespace": "default",
                                "annotations": {"kedge.io/created-at": micro_now()}},
                   "spec": {"nodeName": random.choice(nodes),
                            "containers": [{"name": "c", "image": "localhost:5000/busybox"}]}}
            try:
                kube.request(c, "POST", "/api/v1/namespaces/default/pods", pod)
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(str(e))
                return

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError("pod creation failed: " + errors[0])


def kv_of(line):
    return dict(kv.split("=", 1) for kv in line.split() if "=" in kv and "{" not in kv)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=10000)
    ap.add_argument("--pods", type=int, default=1000)
    ap.add_argument("--build", default=os.path.join(ROOT, "build", "release"))
    ap.add_argument("--threads", type=int, default=2, help="edgemark I/O threads")
    ap.add_argument("--timeout", type=int, default=900, help="bound on each phase (s)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--report", default="cloudcore_fanout_report.json", help="JSON results file")
    args = ap.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # children inherit it
    if hard < args.nodes * 2 + 1000:
        print(f"# warning: RLIMIT_NOFILE hard limit {hard} may be too low for {args.nodes} nodes")

    apiserver_bin = os.path.join(args.build, "apps/kedge-apiserver/kedge-apiserver")
    cloudcore_bin = os.path.join(args.build, "apps/cloudcore/cloudcore")
    edgemark_bin = os.path.join(args.build, "apps/kedge-edgemark/kedge-edgemark")
    for b in (apiserver_bin, cloudcore_bin, edgemark_bin):
        if not os.access(b, os.X_OK):
            sys.exit(f"missing binary {b} (build it first)")

    work = tempfile.mkdtemp(prefix="cloudcore_fanout.")
    procs = []
    results = {"nodes": args.nodes, "pods": args.pods}
    try:
        # 1. API server, controllers off (pods are bound by spec.nodeName).
        kube, kubeconfig = start_apiserver(args.build, work, procs)

        # 2. cloudcore from its own default config with loopback ports.
        cloudcore = start_cloudcore(args.build, work, kubeconfig, procs,
                                    node_limit=args.nodes + 100)
        cloud = cloudcore["proc"]
        hub_port, cert_port = cloudcore["hub_port"], cloudcore["cert_port"]
        token_file = cloudcore["token_file"]
        time.sleep(1)  # let the informers' first lists settle before measuring the baseline
        rss_before = rss_kib(cloud.p.pid)
        results["cloudcore_rss_before_kib"] = rss_before

        # 3. edgemark: join, connect all, resync.
        edgemark_cmd = [edgemark_bin, "--cloud", "127.0.0.1", "--hub-port", str(hub_port),
                        "--cert-port", str(cert_port), "--token-file", token_file,
                        "--nodes", str(args.nodes), "--name-prefix", "edgemark-",
                        "--cert-cache", os.path.join(work, "certs"), "--duration", "0",
                        "--report-every", "1", "--threads", str(args.threads)]
        em = Proc("kedge-edgemark", edgemark_cmd, os.path.join(work, "edgemark.log"),
                  stdout_pipe=True)
        procs.append(em)
        reader = EdgemarkReader(em, open(os.path.join(work, "edgemark.out"), "w"))
        wait_for(lambda: "all-level" in reader.events or not em.alive(), args.timeout,
                 "all nodes connected and resynced")
        if not em.alive():
            raise RuntimeError("edgemark exited; see " + em.log_path)
        results["join_s"] = float(reader.events["joined"]["seconds"])
        results["connect_all_s"] = float(reader.events["all-connected"]["seconds"])
        results["level_all_s"] = float(reader.events["all-level"]["seconds"])
        time.sleep(2)
        rss_after = rss_kib(cloud.p.pid)
        results["cloudcore_rss_after_kib"] = rss_after
        results["rss_per_session_kib"] = round((rss_after - rss_before) / args.nodes, 2)

        # 4. Pod-to-node latency: Node objects for the targets, then M pods.
        targets = sorted({f"edgemark-{random.randrange(args.nodes)}" for _ in range(args.pods)})
        c = kube.conn()
        for n in targets:
            kube.request(c, "POST", "/api/v1/nodes",
                         {"apiVersion": "v1", "kind": "Node",
                          "metadata": {"name": n,
                                       "labels": {"node-role.kubernetes.io/edge": ""}}})
        t = time.monotonic()
        create_pods(kube, targets, args.pods)
        results["pod_create_s"] = round(time.monotonic() - t, 3)
        wait_for(lambda: reader.progress_value("pods") >= args.pods, args.timeout,
                 f"{args.pods} pods at their nodes")
        results["pods_delivered_s"] = round(time.monotonic() - t, 3)

        # 5. Reconnect storm: every node drops and reconnects at once.
        em.p.send_signal(signal.SIGUSR1)
        wait_for(lambda: "storm-resynced" in reader.events, args.timeout, "storm resync")
        storm = reader.events["storm-resynced"]
        results["storm_resync_s"] = float(storm["seconds"])
        results["storm_bytes_to_edges"] = int(storm["bytes_in"])
        results["storm_bytes_from_edges"] = int(storm["bytes_out"])
        results["storm_messages_to_edges"] = int(storm["messages_in"])
        results["cloudcore_rss_after_storm_kib"] = rss_kib(cloud.p.pid)

        em.p.send_signal(signal.SIGTERM)
        em.p.wait(60)
        reader.t.join(10)
        if reader.bench:
            b = kv_of(reader.bench)
            for k in ("pod_latency_n", "pod_p50_ms", "pod_p90_ms", "pod_p99_ms", "pod_max_ms",
                      "resync_p50_ms", "resync_p99_ms", "bytes_in", "bytes_out"):
                results[k] = b.get(k)
            print(reader.bench)
        print("BENCH cloudcore_fanout " + " ".join(f"{k}={v}" for k, v in results.items()))
        print("# command: /usr/bin/python3 " + " ".join(sys.argv))
        print("# edgemark: " + " ".join(edgemark_cmd))
        with open(args.report, "w") as f:
            json.dump(results, f, indent=1)
    finally:
        for p in reversed(procs):
            p.stop()
        if args.keep:
            print("# work directory kept: " + work)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
