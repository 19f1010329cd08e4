#!/usr/bin/python3
"""An independent edge for kedge's cloud hub (Debian python3-websocket).

usage: hub_edge.py URL CA CERT KEY NODE_ID
Connects with the upstream edgecore headers, prints "CONNECTED", sends a keepalive, a ping and a
pod status patch (msg_id "py-patch-1"), prints the answer to the ping ("PING-ANSWER <content>
<parent>"), then acks every downstream message it reads ("GOT <msg_id> <operation> <resource>")
until the server closes or 20 s pass. A refused handshake prints "REFUSED <status>" and exits 3.
"""
import json
import ssl
import sys
import time
import uuid

import websocket

url, ca, cert, key, node = sys.argv[1:6]
sslopt = {"ca_certs": ca, "cert_reqs": ssl.CERT_REQUIRED, "certfile": cert, "keyfile": key}
headers = ["node_id: " + node, "project_id: e632aba927ea4ac2b575ec1603d56f10",
           "ConnectionUse: msg"]


def message(source, group, operation, resource, content, msg_id=None, parent=None):
    header = {"msg_id": msg_id or str(uuid.uuid4()), "timestamp": int(time.time() * 1000)}
    if parent:
        header["parent_msg_id"] = parent
    return json.dumps({"header": header,
                       "route": {"source": source, "group": group, "operation": operation,
                                 "resource": resource},
                       "content": content})


try:
    ws = websocket.create_connection(url, sslopt=sslopt, header=headers, timeout=10)
except websocket.WebSocketBadStatusException as e:
    print("REFUSED", e.status_code, flush=True)
    sys.exit(3)
except Exception as e:  # noqa: BLE001 - any failure is the answer
    print("FAILED", type(e).__name__, e, flush=True)
    sys.exit(4)
print("CONNECTED", flush=True)
ws.send(message("websocket", "resource", "keepalive", "node", "ping"))
ws.send(message("websocket", "resource", "ping", "node", "ping", msg_id="py-ping-1"))
ws.send(message("edged", "resource", "patch", "default/podpatch/p1",
                '{"status":{"phase":"Running"}}', msg_id="py-patch-1"))
deadline = time.time() + 20
while time.time() < deadline:
    try:
        raw = ws.recv()
    except Exception as e:  # noqa: BLE001 - the end of the session is the end of the test
        print("ENDED", type(e).__name__, flush=True)
        break
    if not raw:
        print("ENDED empty", flush=True)
        break
    m = json.loads(raw)
    h, r = m.get("header", {}), m.get("route", {})
    if h.get("parent_msg_id") == "py-ping-1":
        print("PING-ANSWER", m.get("content"), h.get("parent_msg_id"), flush=True)
        continue
    print("GOT", h.get("msg_id"), r.get("operation"), r.get("resource"), flush=True)
    ws.send(message(r.get("source", ""), r.get("group", ""), "response", r.get("resource", ""),
                    "OK", parent=h.get("msg_id")))
sys.exit(0)
