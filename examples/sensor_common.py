"""What the two sensor servers share: the simulated sensors, the page, the
canned responses, the request statistics, the stalled-connection watchdog and
the command line.  Only the I/O, parsing and serialization differ between
sensor_server.py (nocopy) and sensor_server_plain.py (plain asyncio)."""
import argparse
import asyncio
import math
from math import fmod
import os
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

# nocopy's allocation counter: a test hook, private on purpose (the demo
# reports allocations per request with it)
from nocopy._core import _alloc_count, _alloc_count_start  # pyright: ignore[reportPrivateUsage]
from nocopy._core import _alloc_mark, _alloc_tally, _alloc_tallied  # pyright: ignore[reportPrivateUsage]

alloc_count = _alloc_count  # the servers count with it (common.alloc_count)
count_start = _alloc_count_start

HERE = os.path.dirname(os.path.abspath(__file__))
MAX_HEAD = 8192          # bytes of request line + headers (431 past it)
HEAD_TIMEOUT = 10.0      # seconds for a request to arrive in full once started / idle keep-alive

with open(os.path.join(HERE, "sensor_page.html"), "rb") as _f:
    PAGE = _f.read()


def canned(status: int, reason: str, body: bytes = b"", ctype: bytes = b"text/plain; charset=utf-8",
           close: bool = True) -> bytes:
    head = (b"HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n"
            b"Cache-Control: no-store\r\n%s\r\n"
            % (status, reason.encode(), ctype, len(body), b"Connection: close\r\n" if close else b""))
    return head + body


PAGE_RESPONSE = canned(200, "OK", PAGE, b"text/html; charset=utf-8", close=False)
PAGE_RESPONSE_CLOSE = canned(200, "OK", PAGE, b"text/html; charset=utf-8", close=True)
BAD_REQUEST = canned(400, "Bad Request", b"bad request\n")
NOT_FOUND = canned(404, "Not Found", b"not found\n", close=False)
NOT_FOUND_CLOSE = canned(404, "Not Found", b"not found\n")
NOT_ALLOWED = canned(405, "Method Not Allowed", b"only GET and HEAD\n")
TIMEOUT = canned(408, "Request Timeout", b"request timeout\n")
TOO_LARGE = canned(431, "Request Header Fields Too Large", b"request head too large\n")

# The JSON answer's head, formatted in front of the body once its length is
# known (the nocopy servers' prepend_fmt), and what HEADROOM it needs: the
# longer one is 118 bytes with a 5-digit length.
JSON_HEAD_KEEP = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nCache-Control: no-store\r\n"
                  b"Content-Length: %d\r\n\r\n")
JSON_HEAD_CLOSE = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nCache-Control: no-store\r\n"
                   b"Content-Length: %d\r\nConnection: close\r\n\r\n")
HEADROOM = 128

# The nocopy servers' route codes, small ints, and the flags added to them.
R_SENSORS, R_STATS, R_RESET, R_PAGE, R_NOT_FOUND, R_BAD, R_METHOD = range(7)
F_HEAD, F_CLOSE = 8, 16


class Sensors:
    """Eight simulated sensors.  update() changes the readings in place and
    returns the same dict every time: storing into existing keys allocates no
    new slots.  Each sensor walks a precomputed waveform (a sine with a slow
    drift, quantized to 1/32 so it prints short), one step per request, so
    the readings change on every request and cost the same in both servers."""

    # Steps per period stay under 256: positions are then CPython's cached small ints.
    SPECS = [  # id, kind, unit, base, amplitude, steps per period
        ("temp-1", "temperature", "C", 21.5, 1.8, 247),
        ("temp-2", "temperature", "C", 19.0, 2.5, 211),
        ("hum-1", "humidity", "%", 45.0, 6.0, 229),
        ("pres-1", "pressure", "hPa", 1013.2, 1.5, 241),
        ("accel-x", "acceleration", "m/s2", 0.0, 0.6, 31),
        ("accel-y", "acceleration", "m/s2", 0.0, 0.4, 43),
        ("accel-z", "acceleration", "m/s2", 9.81, 0.3, 57),
        ("light-1", "illuminance", "lx", 320.0, 120.0, 230),
    ]

    def __init__(self) -> None:
        self.t0 = time.time()
        self.seq = 0
        self.items: list[dict[str, Any]] = [{"id": sid, "kind": kind, "unit": unit, "value": base}
                      for sid, kind, unit, base, _, _ in self.SPECS]
        self.waves: list[list[float]] = []
        for i, (_, _, _, base, amp, steps) in enumerate(self.SPECS):
            wave: list[float] = []
            for k in range(steps):
                v = base + amp * math.sin(2 * math.pi * k / steps + i * 0.7) \
                    + 0.05 * amp * math.sin(2 * math.pi * k / 7.3)
                wave.append(v - math.fmod(v, 0.03125))
            self.waves.append(wave)
        self.pos = [0] * len(self.SPECS)
        self.pairs = list(zip(self.items, self.waves, range(len(self.SPECS))))
        self.doc: dict[str, Any] = {"device": "nocopy-sensor-demo", "timestamp": self.t0, "seq": 0,
                    "uptime": 0.0, "sensors": self.items}

    def update(self) -> dict[str, Any]:
        now = time.time()
        self.seq += 1
        doc = self.doc
        doc["timestamp"] = now - fmod(now, 0.0009765625)
        doc["seq"] = self.seq
        t = now - self.t0
        doc["uptime"] = t - fmod(t, 0.0009765625)
        pos = self.pos
        for item, wave, i in self.pairs:
            k = pos[i] + 1
            if k == len(wave):
                k = 0
            pos[i] = k
            item["value"] = wave[k]
        return doc


class Stats:
    """Per-server request statistics, exposed by GET /stats (reset by GET
    /stats/reset).  Allocation counts come from nocopy's allocation counter
    (every malloc/calloc/moving realloc of Python's mem and object domains,
    freed or not — what sys.getallocatedblocks() cannot show):

    * alloc_per_request: every block the whole server process allocated
      since the reset (event loop, transports, tasks and handler), per request;
    * handling_alloc_per_request: blocks allocated by the handler from the
      moment a request head is in hand to the moment its response is handed
      to the transport (begin() ... end());
    * cpu_us_per_request: the server process's CPU time per request;
    * retained_blocks_per_request: growth of sys.getallocatedblocks() since
      the reset, per request (0 in a steady state without leaks).

    The per-request bookkeeping (begin, end, count) is kept in C
    (nocopy._core._alloc_tally): it allocates nothing itself, so the
    measurement does not add to what it measures, in any of the servers."""

    _slots = iter(range(1 << 30))

    def __init__(self, name: str) -> None:
        self.name = name
        self.slot = next(Stats._slots) % 16
        try:
            count_start()
        except RuntimeError:
            pass  # already counting (two servers in one process)
        self.reset()

    def begin(self) -> None:
        """A request head is in hand: measure from here."""
        _alloc_mark()

    def end(self) -> None:
        """Its response is handed over: one request, its blocks counted."""
        _alloc_tally(self.slot)

    def count(self) -> None:
        """One request answered on a path that is not measured (errors)."""
        _alloc_mark()
        _alloc_tally(self.slot)

    @property
    def requests(self) -> int:
        return _alloc_tallied(self.slot)[0]

    def reset(self) -> None:
        _alloc_tallied(self.slot, True)
        self.base_blocks = sys.getallocatedblocks()
        self.base_allocs = alloc_count()
        self.base_cpu = time.process_time()

    def snapshot(self) -> dict[str, Any]:
        n, handling = _alloc_tallied(self.slot)
        allocs = alloc_count() - self.base_allocs
        blocks = sys.getallocatedblocks() - self.base_blocks
        def per(v: float) -> float | None:
            return round(v / n, 2) if n else None
        return {
            "server": self.name,
            "requests": n,
            "alloc_per_request": per(allocs),
            "handling_alloc_per_request": per(handling),
            "retained_blocks_per_request": per(blocks),
            "cpu_us_per_request": per((time.process_time() - self.base_cpu) * 1e6),
            "pid": os.getpid(),
        }


class _Reader(Protocol):
    async def read(self, n: int = -1, /) -> Any: ...


class _Writer(Protocol):
    def write(self, data: bytes, /) -> object: ...
    def can_write_eof(self) -> bool: ...
    def write_eof(self) -> None: ...
    def close(self) -> None: ...


async def answer_and_linger(reader: _Reader, writer: _Writer, response: bytes, seconds: float = 1.0,
                           max_bytes: int = 1 << 20) -> None:
    """Send an error response and close without losing it: closing a socket
    with unread input makes the kernel send RST, which can destroy the
    response in flight.  So: response, FIN, then read and drop what the
    client still sends (bounded in time and bytes), then close."""
    writer.write(response)
    try:
        if writer.can_write_eof():
            writer.write_eof()
        async with asyncio.timeout(seconds):
            dropped = 0
            while dropped < max_bytes:
                chunk = await reader.read(65536)
                if not chunk:
                    break
                dropped += len(chunk)
    except (TimeoutError, ConnectionError, RuntimeError, OSError):
        pass


class Watchdog:
    """Closes connections whose request does not arrive in full (or that sit
    idle) past their deadline: one sweep for all connections, nothing armed
    per request.  A connection registers a mutable [deadline] slot; the
    handler refreshes it when it starts waiting for a request."""

    def __init__(self, timeout: float = HEAD_TIMEOUT) -> None:
        self.timeout = timeout
        self.conns: dict[_Writer, tuple[list[float], Callable[[], int]]] = {}  # writer -> (slot, buffered)
        self._task: asyncio.Future[None] | None = None

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._sweep())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    def register(self, writer: _Writer, buffered: Callable[[], int]) -> list[float]:
        slot = [asyncio.get_running_loop().time() + self.timeout]
        self.conns[writer] = (slot, buffered)
        return slot

    def unregister(self, writer: _Writer) -> None:
        self.conns.pop(writer, None)

    async def _sweep(self) -> None:
        loop = asyncio.get_running_loop()
        period = min(1.0, self.timeout / 4)
        while True:
            await asyncio.sleep(period)
            now = loop.time()
            for writer, (slot, buffered) in list(self.conns.items()):
                if slot[0] < now:
                    self.conns.pop(writer, None)
                    try:
                        if buffered():
                            writer.write(TIMEOUT)  # a request started and never finished
                        writer.close()
                    except (RuntimeError, ConnectionError):
                        pass


def parse_args(description: str) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080, help="0: any free port")
    p.add_argument("--uvloop", action="store_true", help="run on uvloop")
    p.add_argument("--head-timeout", type=float, default=HEAD_TIMEOUT)
    return p.parse_args()


class _Serving(Protocol):
    """What serve_forever needs of a server: asyncio's and nocopy.serve's."""
    @property
    def sockets(self) -> Sequence[Any]: ...
    async def serve_forever(self) -> None: ...


class _Stoppable(Protocol):
    def stop(self) -> None: ...


def serve_forever(make_server: Callable[[str, int, float], Awaitable[tuple[_Serving, _Stoppable]]],
                  args: argparse.Namespace) -> None:
    """Run make_server(host, port, head_timeout) -> (server, watchdog)
    until interrupted; print the URL first (the demo and tests read it)."""
    async def main() -> None:
        server, dog = await make_server(args.host, args.port, args.head_timeout)
        host, port = server.sockets[0].getsockname()[:2]
        print(f"serving on http://{host}:{port}/", flush=True)
        try:
            await server.serve_forever()
        finally:
            dog.stop()

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
