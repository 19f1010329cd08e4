#!/usr/bin/python3
"""Independent minimal WSS echo server: stdlib asyncio + ssl, RFC 6455 handshake and framing
written by hand (no shared code with kedge). Prints "PORT <n>" once listening on 127.0.0.1.

usage: ws_server.py CERT KEY
"""
import asyncio
import base64
import hashlib
import ssl
import struct
import sys

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


async def read_frame(reader):
    b0, b1 = await reader.readexactly(2)
    opcode, masked, n = b0 & 0x0F, b1 & 0x80, b1 & 0x7F
    if n == 126:
        (n,) = struct.unpack("!H", await reader.readexactly(2))
    elif n == 127:
        (n,) = struct.unpack("!Q", await reader.readexactly(8))
    mask = await reader.readexactly(4) if masked else b"\0\0\0\0"
    data = bytearray(await reader.readexactly(n))
    for i in range(n):
        data[i] ^= mask[i % 4]
    return opcode, bytes(data)


def frame(opcode, payload):
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, n)
    return head + payload


async def handle(reader, writer):
    try:
        request = await reader.readuntil(b"\r\n\r\n")
        headers = {}
        for line in request.decode().split("\r\n")[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        accept = base64.b64encode(hashlib.sha1(headers["sec-websocket-key"].encode() + GUID).digest())
        writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")
        while True:
            opcode, data = await read_frame(reader)
            if opcode == 8:  # close: answer and stop
                writer.write(frame(8, data[:2]))
                await writer.drain()
                break
            if opcode == 9:  # ping
                writer.write(frame(10, data))
            elif opcode in (1, 2):
                writer.write(frame(opcode, data))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError, KeyError):
        pass
    finally:
        writer.close()


async def main():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[1], sys.argv[2])
    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=ctx)
    print("PORT", server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


asyncio.run(main())
