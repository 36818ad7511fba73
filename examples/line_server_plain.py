"""The line-protocol key-value server on asyncio's streams, as an expert
writes it: bound methods hoisted, ``readline()`` per line, one ``partition``
per field, a reply written per line, ``await writer.drain()`` in the loop.

    python examples/line_server_plain.py [--port 7070] [--uvloop]

The twin of examples/line_server.py (nocopy.aio): same protocol
(line_common.py), same replies.
"""
import asyncio
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import line_common as common  # noqa: E402

STORE: dict[bytes, bytes] = {}


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    store = STORE
    readline = reader.readline
    write = writer.write
    drain = writer.drain
    try:
        while True:
            try:
                line = await readline()
            except ValueError:  # LimitOverrunError: longer than MAX_LINE
                await common.refuse(reader, writer)
                break
            if not line:
                break
            # the b"\n" or b"\r\n" ending off, as bytes.splitlines()
            if line[-1:] == b"\n":
                line = line[:-2] if line[-2:-1] == b"\r" else line[:-1]
            cmd, sp, arg = line.partition(b" ")
            if cmd == b"GET":
                if not arg:
                    write(common.USAGE_GET)
                else:
                    val = store.get(arg)
                    write(common.NIL if val is None else b"VALUE " + val + b"\n")
            elif cmd == b"SET":
                key, sp, val = arg.partition(b" ")
                if not sp or not key:
                    write(common.USAGE_SET)
                else:
                    store[key] = val
                    write(common.OK)
            elif cmd == b"INCR":
                write(common.incr(store, arg) if arg else common.USAGE_INCR)
            elif cmd == b"PING" and not sp:
                write(common.PONG)
            elif cmd == b"QUIT" and not sp:
                write(common.BYE)
                break
            else:
                write(common.UNKNOWN)
            await drain()
    except (ConnectionError, RuntimeError):
        pass  # the peer went away mid-reply (uvloop: RuntimeError on a closed handle)
    finally:
        writer.close()


async def start(host: str, port: int) -> asyncio.Server:
    return await asyncio.start_server(handle, host, port, limit=common.MAX_LINE)


if __name__ == "__main__":
    common.serve_forever(start, common.parse_args((__doc__ or "").splitlines()[0]))
