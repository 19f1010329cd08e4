"""Shared pieces of kedge's Python benchmarks: child processes stopped by PID only, bounded
waits, a minimal Kubernetes REST client, and starting kedge-apiserver and cloudcore on loopback.
"""
import base64
import http.client
import json
import os
import signal
import socket
import ssl
import subprocess
import time

import yaml


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def wait_for(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.05)
    raise RuntimeError(f"timed out after {timeout}s waiting for {what}")


class Proc:
    """A child process we started; stopped by its PID only."""

    def __init__(self, name, argv, log_path, stdout_pipe=False):
        self.name = name
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.p = subprocess.Popen(argv, stdout=subprocess.PIPE if stdout_pipe else self.log,
                                  stderr=self.log, stdin=subprocess.DEVNULL)
        print(f"# started {name} pid={self.p.pid}: {' '.join(argv)}", flush=True)

    def stop(self, grace=15):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(grace)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.log.close()

    def alive(self):
        return self.p.poll() is None


class Kube:
    """Minimal Kubernetes REST client from the kubeconfig kedge-apiserver writes."""

    def __init__(self, kubeconfig, tmp):
        with open(kubeconfig) as f:
            kc = yaml.safe_load(f)
        cluster = kc["clusters"][0]["cluster"]
        user = kc["users"][0]["user"]
        server = cluster["server"]
        self.host, port = server.split("://")[1].split(":")
        self.port = int(port.rstrip("/"))
        files = {}
        for key, name in (("certificate-authority-data", "ca"), ("client-certificate-data", "crt"),
                          ("client-key-data", "key")):
            src = cluster if name == "ca" else user
            path = os.path.join(tmp, f"kube-{name}.pem")
            with open(path, "wb") as f:
                f.write(base64.b64decode(src[key]))
            files[name] = path
        self.ctx = ssl.create_default_context(cafile=files["ca"])
        self.ctx.load_cert_chain(files["crt"], files["key"])
        self.token = user.get("token")

    def conn(self):
        return http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=30)

    def request(self, conn, method, path, body=None):
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.token:
            headers["Authorization"] = "Bearer " + self.token
        conn.request(method, path, body=json.dumps(body) if body is not None else None,
                     headers=headers)
        r = conn.getresponse()
        data = r.read()
        if r.status >= 300 and r.status != 409:
            raise RuntimeError(f"{method} {path}: HTTP {r.status} {data[:300]!r}")
        return r.status



def port_open(port):
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def start_apiserver(build, work, procs):
    """kedge-apiserver on a free loopback port, controllers off; returns (Kube, kubeconfig)."""
    binary = os.path.join(build, "apps/kedge-apiserver/kedge-apiserver")
    api_port = free_port()
    kubeconfig = os.path.join(work, "kubeconfig")
    api = Proc("kedge-apiserver",
               [binary, "--data-dir", os.path.join(work, "api"), "--bind-address", "127.0.0.1",
                "--secure-port", str(api_port), "--write-kubeconfig", kubeconfig,
                "--log-level", "warn", "--controllers", ""],
               os.path.join(work, "apiserver.log"))
    procs.append(api)
    wait_for(lambda: os.path.exists(kubeconfig) or not api.alive(), 60, "kubeconfig")
    kube = Kube(kubeconfig, work)

    def ready():
        try:
            kube.request(kube.conn(), "GET", "/api/v1/namespaces/default")
            return True
        except Exception:  # noqa: BLE001 - not up yet
            return False
    wait_for(ready, 60, "kedge-apiserver")
    kube.request(kube.conn(), "POST", "/api/v1/namespaces",
                 {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kubeedge"}})
    return kube, kubeconfig


def start_cloudcore(build, work, kubeconfig, procs, node_limit=1000):
    """cloudcore from its own --defaultconfig with loopback ports and a file PKI store.
    Returns a dict: hub_port, cert_port, metrics_port, token_file, proc."""
    binary = os.path.join(build, "apps/cloudcore/cloudcore")
    hub_port, cert_port, metrics_port = free_port(), free_port(), free_port()
    cfg = yaml.safe_load(subprocess.run([binary, "--defaultconfig"], check=True,
                                        capture_output=True).stdout)
    cfg["kubeAPIConfig"]["kubeConfig"] = kubeconfig
    hub = cfg["modules"]["cloudHub"]
    hub["advertiseAddress"] = ["127.0.0.1"]
    hub["nodeLimit"] = node_limit
    hub["websocket"]["address"] = "127.0.0.1"
    hub["websocket"]["port"] = hub_port
    hub["https"]["port"] = cert_port
    if "address" in hub["https"]:
        hub["https"]["address"] = "127.0.0.1"
    cfg["commonConfig"]["monitorServer"]["bindAddress"] = f"127.0.0.1:{metrics_port}"
    pki_dir = os.path.join(work, "pki")
    cfg.setdefault("kedge", {}).setdefault("pkiStore", {})
    cfg["kedge"]["pkiStore"]["type"] = "file"
    cfg["kedge"]["pkiStore"]["directory"] = pki_dir
    cfg_path = os.path.join(work, "cloudcore.yaml")
    with open(cfg_path, "w") as f:
        yaml.safe_dump(cfg, f)
    cloud = Proc("cloudcore", [binary, "--config", cfg_path, "--log-level", "warn"],
                 os.path.join(work, "cloudcore.log"))
    procs.append(cloud)
    token_file = os.path.join(pki_dir, "tokensecret", "tokendata")
    wait_for(lambda: not cloud.alive() or (os.path.exists(token_file) and port_open(hub_port)
                                           and port_open(cert_port)), 120, "cloudcore")
    if not cloud.alive():
        raise RuntimeError("cloudcore exited; see " + cloud.log_path)
    return {"hub_port": hub_port, "cert_port": cert_port, "metrics_port": metrics_port,
            "token_file": token_file, "proc": cloud}
