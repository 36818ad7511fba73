"""A bounded HTTP/1.1 load client: many keep-alive connections, each sending
its next GET as soon as the previous response is in; stops after a fixed
number of requests or a fixed time, whichever comes first.

    python examples/load.py http://127.0.0.1:8080/sensors [-c 32] [-n 20000] [-d 10] [--json]

Reports requests/s, p50 and p99 latency (and errors).  Runs on uvloop when
installed (--no-uvloop to refuse), so the client is not the bottleneck; the
parsing is a plain Protocol counting Content-Length, no streams.
"""
import argparse
import asyncio
import json
import sys
import time
from collections.abc import Callable
from typing import Any, cast
from urllib.parse import urlsplit


class _Conn(asyncio.Protocol):
    __slots__ = ("run", "transport", "buf", "t0", "need", "done")

    def __init__(self, run: "_Run") -> None:
        self.run = run
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.t0 = 0
        self.need = -1
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # a stream transport (uvloop's does not subclass asyncio.Transport)
        self.transport = cast(asyncio.Transport, transport)
        self._send()

    def _send(self) -> None:
        run = self.run
        transport = self.transport
        assert transport is not None  # set by connection_made, before any send
        if run.remaining <= 0 or time.perf_counter() >= run.deadline:
            transport.close()
            return
        run.remaining -= 1
        self.t0 = time.perf_counter_ns()
        transport.write(run.request)

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        while True:
            if self.need < 0:
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    return
                head = bytes(buf[:end]).lower()
                i = head.find(b"\r\ncontent-length:")
                if i < 0:
                    self.run.errors += 1
                    assert self.transport is not None
                    self.transport.close()
                    return
                j = head.find(b"\r\n", i + 2)
                clen = int(head[i + 17:j if j >= 0 else len(head)])
                if head[9:12] != b"200":
                    self.run.errors += 1
                self.need = end + 4 + clen
            if len(buf) < self.need:
                return
            del buf[:self.need]
            self.need = -1
            self.run.latencies.append(time.perf_counter_ns() - self.t0)
            self._send()

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None or self.need >= 0:
            self.run.errors += 1
        if not self.done.done():
            self.done.set_result(None)


class _Run:
    def __init__(self, request: bytes, total: int, deadline: float) -> None:
        self.request = request
        self.remaining = total
        self.deadline = deadline
        self.latencies: list[int] = []
        self.errors = 0


def percentile(sorted_values: list[int], q: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(q / 100 * (len(sorted_values) - 1))))
    return sorted_values[k]


async def run_load(url: str, connections: int = 32, requests: int = 20000, duration: float = 10.0,
                   warmup: int = 200) -> dict[str, Any]:
    """Run the load and return a dict: requests, seconds, rps, p50_ms, p99_ms, errors."""
    u = urlsplit(url)
    host, port = u.hostname, u.port or 80
    if host is None:
        raise ValueError(f"no host in {url!r}")
    path = u.path or "/"
    request = (f"GET {path} HTTP/1.1\r\nHost: {u.netloc}\r\nUser-Agent: nocopy-load\r\n"
               f"Accept: */*\r\n\r\n").encode()
    loop = asyncio.get_running_loop()
    if warmup:
        w = _Run(request, warmup, time.perf_counter() + 5)
        conns = [(await loop.create_connection(lambda: _Conn(w), host, port))[1]
                 for _ in range(min(connections, 4))]
        await asyncio.gather(*(c.done for c in conns))
    run = _Run(request, requests, float("inf"))
    t0 = time.perf_counter()
    run.deadline = t0 + duration
    pairs = await asyncio.gather(*(loop.create_connection(lambda: _Conn(run), host, port)
                                   for _ in range(connections)))
    await asyncio.gather(*(p.done for _, p in pairs))
    elapsed = time.perf_counter() - t0
    lat = sorted(run.latencies)
    n = len(lat)
    return {
        "url": url, "connections": connections, "requests": n, "seconds": round(elapsed, 3),
        "rps": round(n / elapsed, 1) if elapsed else 0.0,
        "p50_ms": round(percentile(lat, 50) / 1e6, 3), "p99_ms": round(percentile(lat, 99) / 1e6, 3),
        "errors": run.errors,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("url")
    p.add_argument("-c", "--connections", type=int, default=32)
    p.add_argument("-n", "--requests", type=int, default=20000)
    p.add_argument("-d", "--duration", type=float, default=10.0, help="seconds, at most")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--no-uvloop", action="store_true")
    a = p.parse_args(argv)
    factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    if not a.no_uvloop:
        try:
            import uvloop
            factory = uvloop.new_event_loop
        except ImportError:
            pass
    with asyncio.Runner(loop_factory=factory) as r:
        res = r.run(run_load(a.url, a.connections, a.requests, a.duration))
    if a.json:
        print(json.dumps(res))
    else:
        print(f"{res['requests']} requests in {res['seconds']} s over {a.connections} connections: "
              f"{res['rps']} req/s, p50 {res['p50_ms']} ms, p99 {res['p99_ms']} ms, "
              f"{res['errors']} errors")
    return 0 if res["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
