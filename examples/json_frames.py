"""Length-prefixed JSON over a socket: each frame is a u32 big-endian length,
then that many bytes of JSON.  Both sides written the natural way with
nocopy, each next to its plain-stdlib twin, and any sender talks to any
receiver (they speak the same bytes).

    python examples/json_frames.py [--sender nocopy|plain] [--receiver nocopy|plain]
                                   [--frames 10000] [--port 0]

Without --port the two sides run over a socketpair in one process (the
sender in a thread); with it the receiver listens on 127.0.0.1:PORT and the
sender connects.  The receiver prints how many frames and bytes arrived and
a digest of the decoded documents: the same whichever pair ran.

Where the time goes (python -m bench frames): the sender's frame is one C
call, Writer.write_json(doc, prefix="u32"), which encodes straight into the
Writer's buffer after the header's room and stores the length in front;
the plain sender makes a bytes for the document and one for the header and
copies both into its BufferedWriter.  The receiver's framing is two C calls
(read_u32, read_exact: a borrowed View, no copy) against read(4) +
struct.unpack + read(n); orjson.loads is the same on both sides and is most
of a receiver's time.
"""
import argparse
import hashlib
import importlib
import random
import socket
import struct
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from nocopy import IncompleteRead
from nocopy.io import Reader, Writer

# orjson parses on both sides (and sends on the plain one); imported by name
# so that the type-checking environments need not install it
orjson: Any = importlib.import_module("orjson")
Doc = dict[str, Any]
Handler = Callable[[Any], None]

HEADER = struct.Struct(">I")


# ---- the nocopy sides ------------------------------------------------------------------

def send_nocopy(sock: socket.socket, docs: Iterable[Doc]) -> None:
    """One C call a frame: the document is encoded into the Writer's buffer
    behind its length; full buffers go out in one send."""
    with Writer(sock) as w:
        for doc in docs:
            w.write_json(doc, prefix="u32")


def receive_nocopy(sock: socket.socket, handle: Handler) -> None:
    """read_u32 then read_exact: the body is a borrowed View of the Reader's
    buffer; orjson takes a copy of those few hundred bytes (tobytes() costs
    less than a memoryview at this size: see View.memoryview)."""
    r = Reader(sock)
    while True:
        try:
            n = r.read_u32()
        except IncompleteRead as e:
            if e.partial:  # a header cut short: the peer broke the protocol
                raise
            return  # clean end of stream between frames
        handle(orjson.loads(r.read_exact(n).tobytes()))


# ---- the plain-stdlib twins ----------------------------------------------------------------

def send_plain(sock: socket.socket, docs: Iterable[Doc]) -> None:
    with sock.makefile("wb") as f:
        for doc in docs:
            body = orjson.dumps(doc)
            f.write(HEADER.pack(len(body)))
            f.write(body)


def receive_plain(sock: socket.socket, handle: Handler) -> None:
    with sock.makefile("rb") as f:
        while True:
            head = f.read(4)
            if not head:
                return
            if len(head) < 4:
                raise EOFError("a header cut short")
            (n,) = HEADER.unpack(head)
            body = f.read(n)
            if len(body) < n:
                raise EOFError(f"a frame cut short: {len(body)} of {n} bytes")
            handle(orjson.loads(body))


SENDERS: dict[str, Callable[[socket.socket, Iterable[Doc]], None]] = {
    "nocopy": send_nocopy, "plain": send_plain}
RECEIVERS: dict[str, Callable[[socket.socket, Handler], None]] = {
    "nocopy": receive_nocopy, "plain": receive_plain}


# ---- the workload ------------------------------------------------------------------------

def documents(n: int, seed: int = 18) -> Iterator[Doc]:
    """Small dicts of 100-600 bytes: ints, floats, strings, bools, None, a
    list and a nested dict, as telemetry and RPC messages are."""
    rnd = random.Random(seed)
    for i in range(n):
        yield {
            "id": 100000 + i,
            "kind": rnd.choice(["reading", "event", "heartbeat"]),
            "sensor": f"node-{rnd.randrange(500):03d}",
            "ts": 1700000000.0 + i * 0.25,
            "ok": rnd.random() < 0.9,
            "values": [round(rnd.uniform(-40, 60), 2) for _ in range(rnd.randrange(1, 48))],
            "meta": {"fw": "2.4.1", "site": rnd.choice(["berlin", "lyon", "turin"]),
                     "note": None if rnd.random() < 0.5 else "recalibrated " * rnd.randrange(1, 8)},
        }


class Tally:
    def __init__(self) -> None:
        self.frames = 0
        self.digest = hashlib.sha256()

    def __call__(self, doc: Any) -> None:
        self.frames += 1
        self.digest.update(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--sender", choices=SENDERS, default="nocopy")
    ap.add_argument("--receiver", choices=RECEIVERS, default="nocopy")
    ap.add_argument("--frames", type=int, default=10000)
    ap.add_argument("--port", type=int, default=None)
    args = ap.parse_args(argv)
    if args.port is None:
        a, b = socket.socketpair()
    else:
        server = socket.create_server(("127.0.0.1", args.port))
        a = socket.create_connection(server.getsockname())
        b, _ = server.accept()
        server.close()
    errors: list[BaseException] = []

    def sender() -> None:
        try:
            with a:
                SENDERS[args.sender](a, documents(args.frames))
                a.shutdown(socket.SHUT_WR)
        except BaseException as e:  # shown by the main thread
            errors.append(e)

    t = threading.Thread(target=sender)
    t.start()
    tally = Tally()
    with b:
        RECEIVERS[args.receiver](b, tally)
    t.join()
    if errors:
        raise errors[0]
    print(f"sender={args.sender} receiver={args.receiver}")
    print(f"frames {tally.frames}")
    print(f"digest {tally.digest.hexdigest()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
