#!/usr/bin/python3
"""An edge node written independently of kedge's C++ code (Python ssl + websocket-client + the
openssl CLI), for cloudcore's process-level tests. It behaves like an upstream edgecore's hub
client: join (PROTOCOL.md §4), connect with the upstream headers, keepalive, store and ack every
downstream message. It never sends an inventory unless --inventory is given, so by default it is
an "upstream-style" edge.

Files under --dir:
  ca.crt, node.key, node.crt   credentials (reused when present)
  inbox.jsonl                  every message received, one JSON object per line
  outbox/*.json                messages to send: the edge sends each file once, then renames it
                               to *.sent
  connected                    exists while a session is up (contains the session count)
Exit codes: 3 join refused, 4 connection refused (the reason goes to stderr).
"""
import argparse
import base64
import glob
import hashlib
import json
import os
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
import uuid

import websocket

PROJECT = "e632aba927ea4ac2b575ec1603d56f10"
stop = False


def now_ms():
    return int(time.time() * 1000)


def message(source, group, op, resource, content, parent=None, rv=None):
    header = {"msg_id": str(uuid.uuid4()), "timestamp": now_ms()}
    if parent:
        header["parent_msg_id"] = parent
    if rv:
        header["resourceversion"] = rv
    return {"header": header,
            "route": {"source": source, "group": group, "operation": op, "resource": resource},
            "content": content}


def remember(store, msg):
    """What the edge stores, as kedge's inventory wants it: type -> "<ns>/<name>" -> rv."""
    route = msg.get("route", {})
    op = route.get("operation")
    parts = route.get("resource", "").split("/")
    if op not in ("insert", "update", "delete") or len(parts) != 3:
        return
    ns, rtype, name = parts
    key = name if ns == "null" else ns + "/" + name
    objects = store.setdefault(rtype, {})
    if op == "delete":
        objects.pop(key, None)
    else:
        rv = msg.get("header", {}).get("resourceversion")
        content = msg.get("content")
        if not rv and isinstance(content, dict):
            rv = content.get("metadata", {}).get("resourceVersion")
        if rv:
            objects[key] = rv


def load_store(d):
    try:
        with open(os.path.join(d, "store.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def save_store(d, store):
    tmp = os.path.join(d, "store.json.tmp")
    with open(tmp, "w") as f:
        json.dump(store, f)
    os.replace(tmp, os.path.join(d, "store.json"))


def join(args):
    d = args.dir
    if os.path.exists(os.path.join(d, "node.crt")):
        return
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the CA is not trusted yet: its hash is checked instead
    base = "https://%s:%d" % (args.cloud, args.cert_port)
    ca_der = urllib.request.urlopen(base + "/ca.crt", context=ctx, timeout=10).read()
    want, _, jwt = args.token.partition(".")
    if hashlib.sha256(ca_der).hexdigest() != want:
        print("join: CA hash does not match the token", file=sys.stderr)
        sys.exit(3)
    pem = "-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(ca_der).decode() + \
        "-----END CERTIFICATE-----\n"
    with open(os.path.join(d, "ca.crt"), "w") as f:
        f.write(pem)
    key = os.path.join(d, "node.key")
    subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key],
                   check=True)
    cn = args.csr_cn or ("system:node:" + args.node)
    csr = subprocess.run(["openssl", "req", "-new", "-key", key, "-subj",
                          "/O=system:nodes/CN=" + cn, "-outform", "DER"],
                         check=True, capture_output=True).stdout
    vctx = ssl.create_default_context(cafile=os.path.join(d, "ca.crt"))
    req = urllib.request.Request(base + "/edge.crt", data=csr, method="GET",
                                 headers={"Authorization": "Bearer " + jwt,
                                          "NodeName": args.node,
                                          "Content-Type": "application/octet-stream"})
    try:
        cert_der = urllib.request.urlopen(req, context=vctx, timeout=10).read()
    except urllib.error.HTTPError as e:
        print("join: /edge.crt refused: %d %s" % (e.code, e.read().decode(errors="replace")),
              file=sys.stderr)
        sys.exit(3)
    with open(os.path.join(d, "node.crt"), "w") as f:
        f.write("-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(cert_der).decode() +
                "-----END CERTIFICATE-----\n")


def run(args):
    d = args.dir
    os.makedirs(os.path.join(d, "outbox"), exist_ok=True)
    inbox = open(os.path.join(d, "inbox.jsonl"), "a", buffering=1)
    sessions = 0
    store = load_store(d)
    node_header = args.node_id or args.node
    while not stop:
        url = "wss://%s:%d/%s/%s/events" % (args.cloud, args.hub_port, PROJECT, args.node)
        sslopt = {"certfile": os.path.join(d, "node.crt"), "keyfile": os.path.join(d, "node.key"),
                  "ca_certs": os.path.join(d, "ca.crt"), "cert_reqs": ssl.CERT_REQUIRED}
        try:
            ws = websocket.create_connection(
                url, timeout=5, sslopt=sslopt,
                header=["node_id: " + node_header, "project_id: " + PROJECT,
                        "ConnectionUse: msg"])
        except websocket.WebSocketBadStatusException as e:
            print("connect refused: %s" % e, file=sys.stderr, flush=True)
            sys.exit(4)
        except Exception as e:  # cloud not up (yet / any more): retry
            print("connect failed: %r" % (e,), file=sys.stderr, flush=True)
            time.sleep(0.5)
            continue
        ws.settimeout(0.1)
        sessions += 1
        with open(os.path.join(d, "connected"), "w") as f:
            f.write(str(sessions))
        lock = threading.Lock()

        def send(msg):
            with lock:
                ws.send(json.dumps(msg))

        if args.inventory:
            send(message("edgehub", "resource", "resync", "null/inventory/" + args.node,
                         {"version": 1, "resources": store}))
        last_keepalive = 0
        try:
            while not stop:
                if time.time() - last_keepalive >= args.heartbeat:
                    send(message("websocket", "resource", "keepalive", "node", "ping"))
                    last_keepalive = time.time()
                for path in sorted(glob.glob(os.path.join(d, "outbox", "*.json")) +
                                   glob.glob(os.path.join(d, "outbox", "*.raw"))):
                    with open(path) as f:
                        if path.endswith(".raw"):
                            with lock:
                                ws.send(f.read())  # verbatim, e.g. garbage for bad-input tests
                        else:
                            send(json.load(f))
                    os.rename(path, path + ".sent")
                try:
                    frame = ws.recv()
                except websocket.WebSocketTimeoutException:
                    continue
                if frame is None or frame == "":
                    break
                msg = json.loads(frame)
                inbox.write(json.dumps(msg) + "\n")
                remember(store, msg)
                save_store(d, store)
                route = msg.get("route", {})
                # Acks are answers with content "OK"; everything else the edge stored is acked.
                if msg.get("content") != "OK" and route.get("operation") != "error" \
                        and not args.no_ack:
                    send(message(route.get("source", ""), route.get("group", ""), "response",
                                 route.get("resource", ""), "OK",
                                 parent=msg.get("header", {}).get("msg_id")))
        except websocket.WebSocketConnectionClosedException:
            pass
        except Exception as e:
            print("session error: %r" % (e,), file=sys.stderr, flush=True)
        finally:
            try:
                ws.close()
            except Exception:
                pass
            try:
                os.remove(os.path.join(d, "connected"))
            except OSError:
                pass
        time.sleep(0.2)


def main():
    global stop
    ap = argparse.ArgumentParser()
    ap.add_argument("--cloud", default="127.0.0.1")
    ap.add_argument("--hub-port", type=int, required=True)
    ap.add_argument("--cert-port", type=int, required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--node", required=True)
    ap.add_argument("--node-id", help="node_id header to claim (default: --node)")
    ap.add_argument("--csr-cn", help="CN to put in the CSR (default system:node:<node>)")
    ap.add_argument("--dir", required=True)
    ap.add_argument("--heartbeat", type=float, default=5)
    ap.add_argument("--inventory", action="store_true")
    ap.add_argument("--no-ack", action="store_true")
    args = ap.parse_args()
    import signal

    def on_term(*_):
        global stop
        stop = True
    signal.signal(signal.SIGTERM, on_term)
    os.makedirs(args.dir, exist_ok=True)
    join(args)
    run(args)


if __name__ == "__main__":
    main()
