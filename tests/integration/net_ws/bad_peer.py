#!/usr/bin/python3
"""A misbehaving peer for kedge's WSS server: each mode breaks one rule and reports how the
server ended the connection ("CLOSE <code>", "EOF", "HTTP <status>", "TLS-ERROR ...").

usage: bad_peer.py MODE PORT CA CERT KEY
modes: garbage_tls garbage_http oversized bad_opcode unmasked
"""
import base64
import os
import socket
import ssl
import struct
import sys

mode, port, ca, cert, key = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]


def tls_socket():
    ctx = ssl.create_default_context(cafile=ca)
    ctx.load_cert_chain(cert, key)
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    return ctx.wrap_socket(raw, server_hostname="localhost")


def upgraded():
    s = tls_socket()
    key_b64 = base64.b64encode(os.urandom(16)).decode()
    s.sendall(("GET /p/edge1/events HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: " + key_b64 + "\r\n"
               "Sec-WebSocket-Version: 13\r\nnode_id: edge1\r\n\r\n").encode())
    response = b""
    while b"\r\n\r\n" not in response:
        chunk = s.recv(4096)
        if not chunk:
            raise SystemExit("no 101")
        response += chunk
    assert response.startswith(b"HTTP/1.1 101"), response
    return s


def report_end(s):
    """Reads until the server closes; prints the close code it sent, if any."""
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except (ConnectionError, ssl.SSLError, socket.timeout) as e:
        if not data:
            print("TLS-ERROR", type(e).__name__, e, flush=True)
            return
    if data.startswith(b"HTTP/"):
        print("HTTP", data.split(b" ")[1].decode(), flush=True)
    elif len(data) >= 4 and data[0] == 0x88:  # FIN + close opcode, unmasked (server frame)
        print("CLOSE", struct.unpack("!H", data[2:4])[0], flush=True)
    else:
        print("EOF", len(data), flush=True)


def masked_frame(b0, payload, length=None):
    n = len(payload) if length is None else length
    mask = os.urandom(4)
    body = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
    if n < 126:
        head = struct.pack("!BB", b0, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", b0, 0x80 | 127, n)
    return head + mask + body


if mode == "garbage_tls":
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"this is not a TLS ClientHello\r\n" * 10)
    report_end(s)
elif mode == "garbage_http":
    s = tls_socket()
    s.sendall(b"\x00\x01GARBAGE \xff\xfe not http at all\r\n\r\n")
    report_end(s)
elif mode == "oversized":
    s = upgraded()
    # Announces 64 MiB; the server must refuse from the header alone, without reading it all.
    s.sendall(masked_frame(0x81, b"x" * 1024, length=64 * 1024 * 1024)[:14 + 1024])
    report_end(s)
elif mode == "bad_opcode":
    s = upgraded()
    s.sendall(masked_frame(0x83, b"reserved opcode 3"))
    report_end(s)
elif mode == "unmasked":
    s = upgraded()
    s.sendall(struct.pack("!BB", 0x81, 5) + b"hello")  # clients must mask
    report_end(s)
else:
    raise SystemExit("unknown mode " + mode)
