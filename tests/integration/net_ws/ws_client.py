#!/usr/bin/python3
"""Independent WebSocket client (Debian python3-websocket) for kedge's WSS server.

usage: ws_client.py URL CA [CERT KEY] -- prints the echo of one message and exits 0,
or prints the handshake error and exits 3.
"""
import ssl
import sys

import websocket

url, ca = sys.argv[1], sys.argv[2]
sslopt = {"ca_certs": ca, "cert_reqs": ssl.CERT_REQUIRED}
if len(sys.argv) > 4:
    sslopt["certfile"], sslopt["keyfile"] = sys.argv[3], sys.argv[4]
headers = ["node_id: edge1", "project_id: e632aba9", "ConnectionUse: msg"]
try:
    ws = websocket.create_connection(url, sslopt=sslopt, header=headers, timeout=10)
except Exception as e:  # noqa: BLE001 - any failure is the answer
    print("HANDSHAKE-FAILED", type(e).__name__, e, flush=True)
    sys.exit(3)
ws.send('{"route":{"operation":"keepalive"},"content":"ping"}')
print("ECHO", ws.recv(), flush=True)
ws.close()
sys.exit(0)
