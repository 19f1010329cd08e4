#!/usr/bin/python3
"""A Modbus TCP device for tests: pymodbus 3.0 (Debian's python3-pymodbus, so run it with
/usr/bin/python3), an independent implementation of the protocol kedge's driver speaks.

    modbus_server.py --port 0 --hr 0=215 --hr 1=7 --ir 3=42 --co 2=1 --di 5=1

Binds 127.0.0.1 only. Prints "ready <port>" once listening, and "write <table> <address>
<value>..." (table h = holding registers, c = coils) for every value a client writes, so a test
can check what reached the device. Addresses are the 0-based wire addresses.

It never outlives its test: it stops on SIGTERM/SIGINT, when its parent process goes away,
when stdin (if it is a pipe) reaches end of file, and after --max-seconds in any case.
"""

import argparse
import asyncio
import logging
import os
import signal
import stat
import sys
import threading

from pymodbus.datastore import (ModbusSequentialDataBlock, ModbusServerContext,
                                ModbusSlaveContext)
from pymodbus.server.async_io import ModbusTcpServer

TABLE_SIZE = 1000


def parse_presets(items, what):
    values = {}
    for item in items or []:
        try:
            address, value = item.split("=", 1)
            values[int(address, 0)] = int(value, 0)
        except ValueError:
            sys.exit(f"--{what} wants ADDRESS=VALUE, got {item!r}")
    return values


def block(presets):
    data = [0] * TABLE_SIZE
    for address, value in presets.items():
        data[address] = value
    return ModbusSequentialDataBlock(0, data)


class PrintingSlaveContext(ModbusSlaveContext):
    """Reports every write on stdout (the test's view of the device's memory)."""

    def setValues(self, fc_as_hex, address, values):
        super().setValues(fc_as_hex, address, values)
        table = self.decode(fc_as_hex)
        shown = " ".join(str(int(v)) for v in values)
        print(f"write {table} {address} {shown}", flush=True)


def watch_stdin(loop, stop):
    """Stops the server when a piped stdin closes (not for /dev/null or a terminal)."""
    try:
        mode = os.fstat(0).st_mode
    except OSError:
        return
    if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)):
        return

    def reader():
        try:
            while sys.stdin.buffer.read(4096):
                pass
        finally:
            loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=reader, daemon=True).start()


async def watch_parent(parent, stop):
    while not stop.is_set():
        if os.getppid() != parent:
            stop.set()
            return
        await asyncio.sleep(0.5)


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--slave", type=int, default=None,
                        help="answer only this unit id (default: every id)")
    parser.add_argument("--hr", action="append", help="holding register ADDRESS=VALUE")
    parser.add_argument("--ir", action="append", help="input register ADDRESS=VALUE")
    parser.add_argument("--co", action="append", help="coil ADDRESS=0|1")
    parser.add_argument("--di", action="append", help="discrete input ADDRESS=0|1")
    parser.add_argument("--max-seconds", type=float, default=300.0,
                        help="stop after this long (0: never; for demos)")
    parser.add_argument("--outlive-parent", action="store_true",
                        help="keep running when the starting process exits (for demos)")
    args = parser.parse_args()
    # A client closing its connection is logged as an ERROR by pymodbus 3.0; not news here.
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)

    slave = PrintingSlaveContext(
        hr=block(parse_presets(args.hr, "hr")),
        ir=block(parse_presets(args.ir, "ir")),
        co=block(parse_presets(args.co, "co")),
        di=block(parse_presets(args.di, "di")),
        zero_mode=True,
    )
    if args.slave is None:
        context = ModbusServerContext(slaves=slave, single=True)
    else:
        context = ModbusServerContext(slaves={args.slave: slave}, single=False)

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    watch_stdin(loop, stop)
    parent_watch = None if args.outlive_parent else asyncio.create_task(
        watch_parent(os.getppid(), stop))

    server = ModbusTcpServer(context, address=("127.0.0.1", args.port), allow_reuse_address=True)
    serving = asyncio.create_task(server.serve_forever())
    await server.serving
    port = server.server.sockets[0].getsockname()[1]
    print(f"ready {port}", flush=True)

    try:
        await asyncio.wait_for(stop.wait(),
                               timeout=args.max_seconds if args.max_seconds > 0 else None)
    except asyncio.TimeoutError:
        print("max-seconds reached, stopping", flush=True)
    if parent_watch:
        parent_watch.cancel()
    await server.server_close()
    serving.cancel()
    try:
        await serving
    except asyncio.CancelledError:
        pass


if __name__ == "__main__":
    asyncio.run(main())
