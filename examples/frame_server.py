"""A length-prefixed JSON request server on nocopy.serve: each frame is a u32
big-endian length, then that many bytes of JSON (the frames of
examples/json_frames.py); each request gets one reply frame, in order.

    python examples/frame_server.py [--port 7071] [--uvloop]
    python examples/frame_server.py --selftest [--uvloop]

Requests:
    {"op": "add", "a": 1, "b": 2.5}   -> {"ok": true, "result": 3.5}
    {"op": "echo", ...}               -> {"ok": true, "echo": <the request>}
    {"op": "quit"}                    -> {"ok": true, "bye": true}, then the close
    anything else (bad JSON, no op, an add of non-numbers, ...)
                                      -> {"ok": false, "error": "..."}
    a frame longer than MAX_FRAME     -> the TOO_LARGE frame, then the close

The C connection cuts the frames (``LengthPrefixed("u32", limit=MAX_FRAME)``:
a length past the limit is refused as soon as its 4 bytes are in) and calls
``handle(msg, out)`` with a borrowed View of the payload; the reply is
encoded by ``out.write_json(reply, prefix="u32")`` straight into the
connection's output buffer behind its length -- no bytes object for it, no
struct.pack, no await.  --selftest starts the server on a free port, runs
the client below against it (nocopy.io's Reader and Writer over a blocking
socket, in a thread) and checks every reply.
"""
import argparse
import asyncio
import json
import socket
import sys
from typing import Any

from nocopy import ByteBuffer, View
from nocopy.io import Reader, Writer
from nocopy.serve import CLOSE, LengthPrefixed, Server, start_server

MAX_FRAME = 1 << 16  # the longest request payload


def frame(doc: Any) -> bytes:
    """A whole reply frame as bytes (for limit_reply, which is sent as is)."""
    b = ByteBuffer(256)
    b.write_json(doc, prefix="u32")
    return b.take_bytes()


TOO_LARGE = frame({"ok": False, "error": f"frame too large (limit {MAX_FRAME} bytes)"})


def reply(req: Any) -> tuple[dict[str, Any], bool]:
    """The reply to a decoded request, and whether to close after it."""
    match req:
        case {"op": "add", "a": int() | float() as a, "b": int() | float() as b}:
            return {"ok": True, "result": a + b}, False
        case {"op": "echo"}:
            return {"ok": True, "echo": req}, False
        case {"op": "quit"}:
            return {"ok": True, "bye": True}, True
        case {"op": str() as op}:
            return {"ok": False, "error": f"bad request for op {op!r}"}, False
        case _:
            return {"ok": False, "error": "not a request (an object with an op)"}, False


def handle(msg: View, out: ByteBuffer) -> object:
    try:
        # the stdlib (and orjson) want bytes, not a View: one copy of the payload
        answer, close = reply(json.loads(msg.tobytes()))
    except ValueError as e:  # JSONDecodeError, UnicodeDecodeError
        answer, close = {"ok": False, "error": f"bad JSON: {e}"}, False
    try:
        out.write_json(answer, prefix="u32")
    except ValueError as e:  # a lone surrogate in a string; BufferTooSmall
        out.write_json({"ok": False, "error": f"cannot send the reply: {e}"}, prefix="u32")
    return CLOSE if close else None


async def start(host: str, port: int) -> Server:
    # a reply up to out_size // 2 always fits: twice the longest request (an
    # echo re-encoded can outgrow it: the handler answers an error instead)
    return await start_server(handle, host, port, framing=LengthPrefixed("u32", limit=MAX_FRAME),
                              out_size=4 * MAX_FRAME, limit_reply=TOO_LARGE)


# ---- a tiny client --------------------------------------------------------------------

class Client:
    """Blocking: call() sends its requests in one write (pipelined) and
    returns their replies, in order."""

    def __init__(self, host: str, port: int) -> None:
        self.sock = socket.create_connection((host, port))
        self.reader = Reader(self.sock)
        self.writer = Writer(self.sock)

    def send_raw(self, data: bytes) -> None:
        self.writer.write(data)
        self.writer.flush()

    def call(self, *requests: Any) -> list[Any]:
        for req in requests:
            self.writer.write_json(req, prefix="u32")
        self.writer.flush()
        return [self.receive() for _ in requests]

    def receive(self) -> Any:
        n = self.reader.read_u32()
        return json.loads(self.reader.read_exact(n).tobytes())

    def at_eof(self) -> bool:
        return self.reader.eof()

    def close(self) -> None:
        self.writer.close()
        self.reader.close()
        self.sock.close()


def selftest(host: str, port: int) -> int:
    """Every kind of request against the server at host:port; the count of
    replies checked (AssertionError on a wrong one)."""
    c = Client(host, port)
    doc = {"op": "echo", "text": "h\u00e9llo \u2603", "list": [1, 2.5, None, True], "n": {"x": -1}}
    got = c.call({"op": "add", "a": 1, "b": 2}, {"op": "add", "a": 0.5, "b": -2}, doc,
                 {"op": "add", "a": "1", "b": 2}, {"op": "nope"}, [1, 2], {"a": 1})
    assert got[:3] == [{"ok": True, "result": 3}, {"ok": True, "result": -1.5},
                       {"ok": True, "echo": doc}], got
    assert all(r["ok"] is False and r["error"] for r in got[3:]), got
    c.send_raw(b"\x00\x00\x00\x05{nope")  # bad JSON: an error reply, the connection goes on
    bad = c.receive()
    assert bad["ok"] is False and bad["error"].startswith("bad JSON"), bad
    many = c.call(*({"op": "add", "a": i, "b": i} for i in range(2000)))  # pipelined
    assert [r["result"] for r in many] == [2 * i for i in range(2000)], "pipelined adds"
    big = {"op": "echo", "pad": "x" * (MAX_FRAME - 100)}
    assert c.call(big) == [{"ok": True, "echo": big}], "the echo of a frame near the limit"
    # valid JSON whose echo cannot be encoded (a lone surrogate is not UTF-8)
    body = b'{"op": "echo", "s": "\\ud800"}'
    c.send_raw(len(body).to_bytes(4, "big") + body)
    lone = c.receive()
    assert lone["ok"] is False and lone["error"].startswith("cannot send the reply"), lone
    assert c.call({"op": "quit"}) == [{"ok": True, "bye": True}] and c.at_eof()
    c.close()
    # a frame past the limit: refused once its length is in, then the close
    c = Client(host, port)
    c.send_raw((MAX_FRAME + 1).to_bytes(4, "big"))
    too = c.receive()
    assert too["ok"] is False and "too large" in too["error"] and c.at_eof(), too
    c.close()
    return len(got) + 1 + len(many) + 4


async def main(args: argparse.Namespace) -> int:
    server = await start(args.host, args.port)
    host, port = server.sockets[0].getsockname()[:2]
    if args.selftest:
        async with server:
            n = await asyncio.to_thread(selftest, host, port)
        print(f"selftest ok: {n} replies checked")
        return 0
    print(f"listening on {host}:{port}", flush=True)
    await server.serve_forever()
    return 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=7071, help="0: any free port")
    ap.add_argument("--uvloop", action="store_true", help="run on uvloop")
    ap.add_argument("--selftest", action="store_true",
                    help="serve on a free port, check a client's replies, exit")
    args = ap.parse_args()
    if args.selftest:
        args.port = 0
    if args.uvloop:
        import uvloop
        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    else:
        runner = asyncio.Runner()
    try:
        with runner:
            sys.exit(runner.run(main(args)))
    except KeyboardInterrupt:
        pass
