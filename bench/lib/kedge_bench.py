"""Shared pieces of kedge's Python benchmarks: child processes stopped by PID only, bounded
waits, a minimal Kubernetes REST client, and starting kedge-apiserver and cloudcore on loopback.
"""
import base64
import fcntl
import http.client
import json
import os
import signal
import socket
import ssl
import subprocess
import threading
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

    def get_json(self, conn, path):
        """GET path; the decoded JSON body (raises on an HTTP error)."""
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = "Bearer " + self.token
        conn.request("GET", path, headers=headers)
        r = conn.getresponse()
        data = r.read()
        if r.status >= 300:
            raise RuntimeError(f"GET {path}: HTTP {r.status} {data[:300]!r}")
        return json.loads(data)

    def watch(self, path, on_event, timeout=300):
        """Starts a watch of path (a list URL, e.g. with &resourceVersion=...) on a thread of its
        own that calls on_event(event_dict, received_monotonic) per event. Returns a Watch; its
        close() ends the stream. The server ends it after timeout seconds anyway."""
        return Watch(self, path, on_event, timeout)



class Watch:
    """One Kubernetes watch stream read on a daemon thread (see Kube.watch)."""

    def __init__(self, kube, path, on_event, timeout):
        self.conn = http.client.HTTPSConnection(kube.host, kube.port, context=kube.ctx,
                                                timeout=timeout + 30)
        headers = {"Accept": "application/json"}
        if kube.token:
            headers["Authorization"] = "Bearer " + kube.token
        sep = "&" if "?" in path else "?"
        self.conn.request("GET", f"{path}{sep}watch=1&timeoutSeconds={int(timeout)}",
                          headers=headers)
        self.resp = self.conn.getresponse()
        if self.resp.status >= 300:
            raise RuntimeError(f"watch {path}: HTTP {self.resp.status} {self.resp.read()[:300]!r}")
        self.closed = False
        self.error = None
        self.thread = threading.Thread(target=self._run, args=(on_event,), daemon=True)
        self.thread.start()

    def _run(self, on_event):
        try:
            while not self.closed:
                line = self.resp.readline()
                if not line:
                    return
                if line.strip():
                    on_event(json.loads(line), time.monotonic())
        except Exception as e:  # noqa: BLE001 - reported through .error unless we closed it
            if not self.closed:
                self.error = e

    def close(self):
        self.closed = True
        try:
            if self.conn.sock:
                self.conn.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.thread.join(5)
        self.conn.close()


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


def write_edgecore_config(edgecore_bin, edge_dir, node_name, cloud, meta_port, monitor_port,
                          customize=None):
    """edgecore.yaml for one node on loopback, from edgecore's own --defaultconfig (upstream's
    timers): joins the cloud of start_cloudcore() with its token, keeps every file under
    edge_dir. customize(cfg) adjusts the dict before it is written. Returns the file's path."""
    cfg = yaml.safe_load(subprocess.run([edgecore_bin, "--defaultconfig"], check=True,
                                        capture_output=True).stdout)
    os.makedirs(edge_dir, exist_ok=True)
    with open(cloud["token_file"]) as f:
        token = f.read().strip()
    cfg["database"]["dataSource"] = os.path.join(edge_dir, "edgecore.db")
    edged = cfg["modules"]["edged"]
    edged["hostnameOverride"] = node_name
    edged["nodeIP"] = "127.0.0.1"
    hub = cfg["modules"]["edgeHub"]
    hub["token"] = token
    hub["httpServer"] = f"https://127.0.0.1:{cloud['cert_port']}"
    hub["websocket"]["server"] = f"127.0.0.1:{cloud['hub_port']}"
    hub["tlsCaFile"] = os.path.join(edge_dir, "ca", "rootCA.crt")
    hub["tlsCertFile"] = os.path.join(edge_dir, "certs", "server.crt")
    hub["tlsPrivateKeyFile"] = os.path.join(edge_dir, "certs", "server.key")
    cfg["modules"]["metaManager"]["metaServer"]["server"] = f"127.0.0.1:{meta_port}"
    cfg["modules"]["deviceTwin"]["dmiSockPath"] = os.path.join(edge_dir, "dmi.sock")
    cfg["kedge"]["monitorServer"]["bindAddress"] = f"127.0.0.1:{monitor_port}"
    if customize:
        customize(cfg)
    path = os.path.join(edge_dir, "edgecore.yaml")
    with open(path, "w") as f:
        yaml.safe_dump(cfg, f)
    return path


# ---- a private containerd node (tests/support/cri-env.sh) ----

CRI_ENV = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "tests", "support",
                                       "cri-env.sh"))
SUBNET_SLOT_DIR = "/tmp/kedge-cri-subnets"  # shared with tests/support/cri_env.cpp


def _pid_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def claim_pod_subnet():
    """A /24 inside 10.80.0.0/12 that no live test or bench holds and no route uses, claimed
    the way tests/support/cri_env.cpp claims them (slot files under a flock). Returns
    (slot, subnet)."""
    os.makedirs(SUBNET_SLOT_DIR, exist_ok=True)
    with open(os.path.join(SUBNET_SLOT_DIR, ".lock"), "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            start = (os.getpid() * 7) % 4095
            for i in range(4095):
                slot = 1 + (start + i) % 4095
                path = os.path.join(SUBNET_SLOT_DIR, str(slot))
                try:
                    with open(path) as f:
                        owner = int(f.read().strip() or 0)
                except (OSError, ValueError):
                    owner = 0
                if owner and _pid_alive(owner):
                    continue
                subnet = f"10.{80 + slot // 256}.{slot % 256}.0/24"
                routes = subprocess.run(["ip", "-4", "route", "show", "root", subnet],
                                        capture_output=True, text=True)
                if routes.returncode != 0 or routes.stdout.strip():
                    continue
                with open(path, "w") as f:
                    f.write(f"{os.getpid()}\n")
                return slot, subnet
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    raise RuntimeError("no free /24 left in 10.80.0.0/12")


def release_pod_subnet(slot):
    path = os.path.join(SUBNET_SLOT_DIR, str(slot))
    try:
        with open(path) as f:
            if int(f.read().strip() or 0) == os.getpid():
                os.unlink(path)
    except (OSError, ValueError):
        pass


class CriNode:
    """One private containerd (CRI, runc, bridge CNI in its own subnet, its own cgroup parent)
    plus a loopback registry serving the locally built busybox and pause images, under base
    (keep it short: containerd's socket paths must fit in 108 bytes). down() removes
    everything the script made (pods, containerd, shims, mounts, bridge, cgroups, registry)."""

    def __init__(self, base, name):
        self.base, self.name = base, name
        self.slot = None
        self.info = {}

    def _run(self, *args):
        r = subprocess.run([CRI_ENV, *args], capture_output=True, text=True, timeout=600)
        if r.returncode != 0:
            raise RuntimeError(f"cri-env.sh {' '.join(args)} failed:\n{r.stdout}{r.stderr}")
        for line in r.stdout.splitlines():
            if "=" in line:
                k, v = line.split("=", 1)
                self.info[k] = v
        return r.stdout

    def up(self):
        os.makedirs(self.base, exist_ok=True)
        os.chmod(self.base, 0o755)
        self._run("images")
        self.port = free_port()
        self._run("registry-up", self.base, str(self.port))
        self.slot, self.subnet = claim_pod_subnet()
        self._run("node-up", self.base, str(self.port), self.name, self.subnet)
        return self

    @property
    def endpoint(self):
        return "unix://" + self.info["sock"]

    def down(self):
        errors = []
        for args in (("node-down", self.base, self.name), ("down", self.base)):
            r = subprocess.run([CRI_ENV, *args], capture_output=True, text=True, timeout=600)
            if r.returncode != 0:
                errors.append(f"cri-env.sh {' '.join(args)}: {r.stdout}{r.stderr}")
        if self.slot is not None:
            release_pod_subnet(self.slot)
            self.slot = None
        return errors
