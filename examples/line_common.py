"""What the line servers (line_server.py on nocopy.aio, line_server_serve.py on
nocopy.serve, line_server_plain.py on asyncio streams) share: the protocol's
fixed replies, the store's rules, argument parsing and the loop runner.  The
per-line work is in each server.

The protocol, one command per line (b"\\n" or b"\\r\\n" ended), one reply line
per command:

    PING              -> PONG
    GET key           -> VALUE <value>   or NIL
    SET key value     -> OK              (value: the rest of the line, spaces too)
    INCR key          -> <new value>     (a missing key counts from 0)
                         or ERR not an integer  (the value is not an int())
    QUIT              -> BYE, and the server closes the connection
    anything else     -> ERR unknown command   (ERR usage: ... for a missing key)
    a line longer than MAX_LINE -> ERR line too long, and a close
"""
import argparse
import asyncio
import socket
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

MAX_LINE = 4096  # the longest command line, its b"\n" aside

PONG = b"PONG\n"
NIL = b"NIL\n"
OK = b"OK\n"
BYE = b"BYE\n"
UNKNOWN = b"ERR unknown command\n"
NOT_INT = b"ERR not an integer\n"
TOO_LONG = b"ERR line too long\n"
USAGE_GET = b"ERR usage: GET key\n"
USAGE_SET = b"ERR usage: SET key value\n"
USAGE_INCR = b"ERR usage: INCR key\n"


def incr(store: dict[bytes, bytes], key: Any) -> bytes:
    """INCR's reply; the store keeps the value as its decimal bytes.  key: bytes,
    or a View when store is a nocopy.KeyDict (which copies it only if new)."""
    old = store.get(key)
    try:
        n = int(old) + 1 if old is not None else 1
    except ValueError:
        return NOT_INT
    val = b"%d" % n
    store[key] = val
    return val + b"\n"


async def refuse(reader: Any, writer: Any) -> None:
    """ERR line too long, then the end: the write side is shut and what the
    peer still sends is read and dropped (for up to a second) before the
    close, so the close sends a FIN, not a reset that would discard the
    reply at the peer.  Works with either kind of stream."""
    writer.write(TOO_LONG)
    if writer.can_write_eof():
        writer.write_eof()
    try:
        async with asyncio.timeout(1.0):
            while len(await reader.read(65536)):
                pass
    except (TimeoutError, ConnectionError):
        pass


def parse_args(description: str) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=7070, help="0: any free port")
    p.add_argument("--uvloop", action="store_true", help="run on uvloop")
    return p.parse_args()


class Listener(Protocol):
    """What serve_forever needs of a server: asyncio's or nocopy.serve's."""

    @property
    def sockets(self) -> tuple[socket.socket, ...]: ...

    async def serve_forever(self) -> None: ...


def serve_forever(start: Callable[[str, int], Awaitable[Listener]],
                  args: argparse.Namespace) -> None:
    """Run start(host, port) until interrupted; print the address first
    (the tests and the bench read it)."""
    async def main() -> None:
        server = await start(args.host, args.port)
        host, port = server.sockets[0].getsockname()[:2]
        print(f"listening on {host}:{port}", flush=True)
        await server.serve_forever()

    if args.uvloop:
        import uvloop
        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    else:
        runner = asyncio.Runner()
    try:
        with runner:
            runner.run(main())
    except KeyboardInterrupt:
        pass
