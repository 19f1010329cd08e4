#!/usr/bin/python3
"""Holds many idle hub sessions open (Debian python3-websocket), for the memory test.

usage: hub_many_edges.py URL_PREFIX CA CERT KEY COUNT
Node i dials URL_PREFIX + "edge-<i>/events" with node_id edge-<i>, sends one keepalive, and stays
idle. Prints "READY <COUNT>" once all are connected, then waits until killed or 120 s pass.
"""
import ssl
import sys
import time

import websocket

prefix, ca, cert, key, count = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
sslopt = {"ca_certs": ca, "cert_reqs": ssl.CERT_REQUIRED, "certfile": cert, "keyfile": key}
conns = []
for i in range(count):
    node = "edge-%d" % i
    headers = ["node_id: " + node, "project_id: p", "ConnectionUse: msg"]
    ws = websocket.create_connection(prefix + node + "/events", sslopt=sslopt, header=headers,
                                     timeout=10)
    ws.send('{"header":{"msg_id":"k%d","timestamp":1},"route":{"source":"websocket",'
            '"group":"resource","operation":"keepalive","resource":"node"},"content":"ping"}' % i)
    conns.append(ws)
print("READY", len(conns), flush=True)
time.sleep(120)
