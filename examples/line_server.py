"""A line-protocol key-value server on nocopy.aio, written the way the README
shows: ``async for line in reader.lines(reuse=True)``, a reply written per
line, ``await writer.drain()`` in the loop.

    python examples/line_server.py [--port 7070] [--uvloop]

The protocol is in line_common.py; examples/line_server_plain.py is the same
server on asyncio's streams, reply for reply.  What nocopy changes here: the
transport receives straight into the connection's ByteBuffer, each line is
the same View retargeted (no bytes object per line), and the command is split
off it as Views.  The store is a ``nocopy.KeyDict``: a View looks its key up
with no copy, and becomes a bytes key only when SET/INCR adds a new one; a
value that is stored is copied (``tobytes()``).
"""
import asyncio
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import line_common as common  # noqa: E402
from nocopy import KeyDict, LimitOverrun  # noqa: E402
from nocopy.aio import StreamReader, StreamWriter, start_server  # noqa: E402

STORE: KeyDict[bytes, bytes] = KeyDict()


async def handle(reader: StreamReader, writer: StreamWriter) -> None:
    store = STORE
    write = writer.write
    try:
        try:
            async for line in reader.lines(reuse=True):
                cmd, sp, arg = line.partition(b" ")
                if cmd == b"GET":
                    if not arg:
                        write(common.USAGE_GET)
                    else:
                        val = store.get(arg)
                        write(common.NIL if val is None else b"VALUE " + val + b"\n")
                elif cmd == b"SET":
                    key, sp, value = arg.partition(b" ")
                    if not sp or not key:
                        write(common.USAGE_SET)
                    else:
                        store[key] = value.tobytes()
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
                await writer.drain()
        except LimitOverrun:
            await common.refuse(reader, writer)
    except (ConnectionError, RuntimeError):
        pass  # the peer went away mid-reply (uvloop: RuntimeError on a closed handle)
    finally:
        writer.close()


async def start(host: str, port: int) -> asyncio.Server:
    return await start_server(handle, host, port, limit=common.MAX_LINE)


if __name__ == "__main__":
    common.serve_forever(start, common.parse_args((__doc__ or "").splitlines()[0]))
