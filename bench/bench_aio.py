"""nocopy.aio side by side with asyncio's streams.

Rows (time per item; ratio = asyncio's time / nocopy's):
* lines: 40-byte lines over a socket pair, ``reader.lines(reuse=True)`` and
  ``async for line in reader`` against ``asyncio.StreamReader.readline``;
* frames: 4-byte length + 96-byte payload frames, ``read_exact`` against
  ``readexactly``;
* the sensor server (examples/sensor_server.py) against its plain-asyncio
  twin under the same load (examples/load.py, 32 keep-alive connections),
  both on asyncio's loop, then both on uvloop: seconds per request
  (1 / requests per second, best of 3 alternating rounds) and server CPU per
  request.

The sender is a forked child doing a blocking ``sendall`` of a prepared
payload, so both readers see the same byte stream and share no GIL with it."""
import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request

import nocopy.aio as aio
from nocopy import IncompleteRead

from .harness import best_time  # noqa: F401  (the shared harness; rounds are timed here)

SECTION = "aio"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
N_LINES = 200_000
LINE = b"sensor-000042,21.53125,0.125,ok,xyzzy--\n"  # 40 bytes
N_FRAMES = 100_000
FRAME = (96).to_bytes(4, "big") + b"p" * 96


def _sender(sock, payload):
    """A forked child sends the payload (no GIL shared with the reader)."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        try:
            sock.sendall(payload)
            sock.shutdown(socket.SHUT_WR)
        finally:
            os._exit(0)
    return pid


def _timed(consume, payload, nocopy):
    """Seconds for consume(reader) to take the whole payload over a socket pair."""
    a, b = socket.socketpair()

    async def main():
        if nocopy:
            r, w = await aio.open_connection(sock=a)
        else:
            r, w = await asyncio.open_connection(sock=a)
        t0 = time.perf_counter()
        pid = _sender(b, payload)
        b.close()
        n = await consume(r)
        dt = time.perf_counter() - t0
        os.waitpid(pid, 0)
        w.close()
        return dt, n
    return asyncio.run(main())


def _best(consume, payload, nocopy, expect, rounds=3):
    best = float("inf")
    for _ in range(rounds):
        dt, n = _timed(consume, payload, nocopy)
        assert n == expect, (n, expect)
        best = min(best, dt)
    return best


async def nc_lines_reuse(r):
    n = 0
    async for _ in r.lines(reuse=True):
        n += 1
    return n


async def nc_lines_iter(r):
    n = 0
    async for _ in r:
        n += 1
    return n


async def nc_readline(r):
    n = 0
    readline = r.readline
    while await readline():
        n += 1
    return n


async def aio_readline(r):
    n = 0
    readline = r.readline
    while await readline():
        n += 1
    return n


async def aio_lines_iter(r):
    n = 0
    async for _ in r:
        n += 1
    return n


async def nc_frames(r):
    n = 0
    read_exact = r.read_exact
    while True:
        try:
            hdr = await read_exact(4)
        except IncompleteRead:
            break
        await read_exact(int.from_bytes(hdr, "big"))
        n += 1
    return n


async def aio_frames(r):
    n = 0
    readexactly = r.readexactly
    while True:
        try:
            hdr = await readexactly(4)
        except asyncio.IncompleteReadError:
            break
        await readexactly(int.from_bytes(hdr, "big"))
        n += 1
    return n


def _start(script, extra=()):
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "examples", script), "--port", "0",
                             *extra], stdout=subprocess.PIPE, text=True)
    url = re.search(r"http://\S+", proc.stdout.readline()).group(0)
    return proc, url


def _get(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def _load(url, requests=20000, duration=4.0):
    out = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "load.py"), url,
                          "-c", "32", "-n", str(requests), "-d", str(duration), "--json"],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def servers(report, rounds=3, uvloop=False):
    extra = ("--uvloop",) if uvloop else ()
    where = " (uvloop)" if uvloop else ""
    procs = [_start("sensor_server.py", extra), _start("sensor_server_plain.py", extra)]
    try:
        best = {}
        for _ in range(rounds):  # alternate, so a busy machine hurts both alike
            for name, (_, url) in zip(("nocopy", "plain"), procs):
                _get(url + "stats/reset")
                res = _load(url + "sensors")
                res["stats"] = _get(url + "stats")
                if name not in best or res["rps"] > best[name]["rps"]:
                    best[name] = res
        a, b = best["nocopy"], best["plain"]
        report.row(SECTION, f"sensor server{where}: time per request (1/rps)", 1 / a["rps"],
                   "plain asyncio server", 1 / b["rps"], target=1.5,
                   note=f"{a['rps']:.0f} vs {b['rps']:.0f} req/s, p99 {a['p99_ms']:.1f} vs "
                        f"{b['p99_ms']:.1f} ms")
        report.row(SECTION, f"sensor server{where}: CPU per request",
                   a["stats"]["cpu_us_per_request"] / 1e6,
                   "plain asyncio server", b["stats"]["cpu_us_per_request"] / 1e6,
                   note=f"allocations/request {a['stats']['alloc_per_request']:.0f} vs "
                        f"{b['stats']['alloc_per_request']:.0f}")
    finally:
        for proc, _ in procs:
            proc.terminate()
            proc.wait(10)
            proc.stdout.close()


def run(report):
    lines = LINE * N_LINES
    peer = _best(aio_readline, lines, False, N_LINES) / N_LINES
    report.row(SECTION, "lines: reader.lines(reuse=True)",
               _best(nc_lines_reuse, lines, True, N_LINES) / N_LINES,
               "asyncio StreamReader.readline", peer, target=3.0)
    report.row(SECTION, "lines: async for line in reader",
               _best(nc_lines_iter, lines, True, N_LINES) / N_LINES,
               "async for in asyncio reader", _best(aio_lines_iter, lines, False, N_LINES) / N_LINES)
    report.row(SECTION, "lines: await reader.readline()",
               _best(nc_readline, lines, True, N_LINES) / N_LINES,
               "asyncio StreamReader.readline", peer)
    frames = FRAME * N_FRAMES
    report.row(SECTION, "frames: read_exact(4) + read_exact(96)",
               _best(nc_frames, frames, True, N_FRAMES) / N_FRAMES,
               "asyncio readexactly x2", _best(aio_frames, frames, False, N_FRAMES) / N_FRAMES)
    servers(report)
    try:
        import uvloop  # noqa: F401  (in the test extra, which make bench installs)
    except ImportError:
        print("  (uvloop not installed: the uvloop server rows are skipped)")
    else:
        servers(report, uvloop=True)


if __name__ == "__main__":
    from .harness import Report
    run(Report())
