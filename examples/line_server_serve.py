"""A line-protocol key-value server on nocopy.serve: the protocol of
line_common.py as a plain function called once per line.

    python examples/line_server_serve.py [--port 7070] [--uvloop]

The C connection receives into its input buffer, cuts it at b"\\n"
(``Delimited(b"\\n", limit=MAX_LINE)``) and calls ``handle(line, out)`` with
a borrowed View of each line: no coroutine, no ``await``, no bytes object per
line.  The replies are appended to ``out``, the connection's output
ByteBuffer, and go out in one send for all the lines that arrived together.
A line longer than MAX_LINE gets the engine's ``limit_reply`` and a lingering
close; QUIT returns CLOSE.  The store is the same ``nocopy.KeyDict`` as in
line_server.py (a View looks its key up with no copy).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import line_common as common  # noqa: E402
from nocopy import ByteBuffer, KeyDict, View  # noqa: E402
from nocopy.serve import CLOSE, Delimited, Server, start_server  # noqa: E402

STORE: KeyDict[bytes, bytes] = KeyDict()


def handle(line: View, out: ByteBuffer) -> object:
    store = STORE
    cmd, sp, arg = line.removesuffix(b"\r").partition(b" ")
    if cmd == b"GET":
        if not arg:
            out.write(common.USAGE_GET)
        else:
            val = store.get(arg)
            if val is None:
                out.write(common.NIL)
            else:
                out.write_fmt(b"VALUE %s\n", val)
    elif cmd == b"SET":
        key, sp, value = arg.partition(b" ")
        if not sp or not key:
            out.write(common.USAGE_SET)
        else:
            store[key] = value.tobytes()
            out.write(common.OK)
    elif cmd == b"INCR":
        out.write(common.incr(store, arg) if arg else common.USAGE_INCR)
    elif cmd == b"PING" and not sp:
        out.write(common.PONG)
    elif cmd == b"QUIT" and not sp:
        out.write(common.BYE)
        return CLOSE
    else:
        out.write(common.UNKNOWN)
    return None


async def start(host: str, port: int) -> Server:
    return await start_server(handle, host, port,
                              framing=Delimited(b"\n", limit=common.MAX_LINE),
                              limit_reply=common.TOO_LONG)


if __name__ == "__main__":
    common.serve_forever(start, common.parse_args((__doc__ or "").splitlines()[0]))
