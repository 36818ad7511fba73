"""A short, honest tour of nocopy: each capability next to the plain-bytes way,
with what each one allocated (tracemalloc) and how long it took.

Run: make demo   (or: python examples/tour.py)"""
import gc
import itertools
import time
import tracemalloc

import os
import tempfile
from collections.abc import Callable

import nocopy.json
from nocopy import ByteBuffer, Rope, View
from nocopy.io import Reader, read_chunks

Measure = tuple[int, int, float]
ROWS: list[tuple[str, Measure, Measure]] = []


def measure(fn: Callable[[], object], repeat: int = 1) -> Measure:
    """(peak bytes allocated, blocks still held after the loop, seconds per call).

    Memory is traced in one run, time is taken in another without tracemalloc
    (tracing slows every allocation and would flatter the side that allocates less)."""
    fn()  # warm up caches that settle once
    loop = itertools.repeat(None, repeat)
    gc.collect()
    tracemalloc.start()
    try:
        base_size = tracemalloc.get_traced_memory()[0]
        before = tracemalloc.take_snapshot()
        for _ in loop:
            fn()
        after = tracemalloc.take_snapshot()
        peak = tracemalloc.get_traced_memory()[1] - base_size
    finally:
        tracemalloc.stop()
    skip = [tracemalloc.Filter(False, tracemalloc.__file__)]
    held = sum(s.count_diff for s in after.filter_traces(skip).compare_to(
        before.filter_traces(skip), "lineno") if s.count_diff > 0)
    loop = itertools.repeat(None, repeat)
    t0 = time.perf_counter()
    for _ in loop:
        fn()
    return peak, held, (time.perf_counter() - t0) / repeat


def show(title: str, nocopy_fn: Callable[[], object], plain_fn: Callable[[], object],
         repeat: int = 1, unit: str = "") -> None:
    a = measure(nocopy_fn, repeat)
    b = measure(plain_fn, repeat)
    ROWS.append((title, a, b))
    print(f"\n{title}{unit}")
    print(f"  {'':10} {'peak alloc':>12} {'blocks held':>12} {'time':>12}")
    for name, (peak, held, dt) in (("nocopy", a), ("plain", b)):
        print(f"  {name:10} {peak:>10,} B {held:>12,} {dt * 1e6:>9.1f} us")


def tour_view() -> None:
    # A 1 MB request body with a header block in front: find the body, strip
    # it and split its first line, the way a protocol parser does.
    payload = b"Content-Length: 1048576\r\n\r\n" + b"  " + b"x" * (1 << 20) + b"  \r\n"
    v = View(payload)

    def with_views() -> tuple[int, int]:
        _, _, body = v.partition(b"\r\n\r\n")
        body = body.strip()
        return body.find(b"y"), len(body)

    def with_bytes() -> tuple[int, int]:
        _, _, body = payload.partition(b"\r\n\r\n")
        body = body.strip()
        return body.find(b"y"), len(body)

    assert with_views() == with_bytes()
    show("View.partition + strip + find on a 1 MB message", with_views, with_bytes, repeat=20)

    lines = b"".join(b"key%d: value %d\r\n" % (i, i) for i in range(10_000))
    lv = View(lines)

    def iter_views() -> int:
        n = 0
        for line in lv.iterlines(reuse=True):
            n += len(line)
        return n

    def iter_bytes() -> int:
        n = 0
        for line in lines.splitlines():
            n += len(line)
        return n

    assert iter_views() == iter_bytes()
    show("10,000 header lines: iterlines(reuse=True) vs bytes.splitlines", iter_views, iter_bytes,
         repeat=5)

    out = bytearray(256)
    window = View(out)
    sink: list[object] = []

    def respond() -> None:
        n = window.retarget(0, 256).copy_from(b"HTTP/1.1 204 No Content\r\n\r\n")
        sink.append(window.retarget(0, n))
        sink.clear()

    def respond_plain() -> None:
        msg = b"HTTP/1.1 204 No Content\r\n\r\n"
        sink.append(bytes(out[:len(msg)]))
        sink.clear()

    show("build a response in a preallocated buffer (per message)", respond, respond_plain,
         repeat=10_000)


def tour_rope() -> None:
    parts = [bytes([65 + i % 26]) * 1024 for i in range(1000)]  # 1,000 received chunks of 1 KiB
    show("stitch 1,000 x 1 KiB chunks and find a marker across a boundary",
         lambda: Rope(parts).find(b"AB"), lambda: b"".join(parts).find(b"AB"), repeat=50)

    fd, path = tempfile.mkstemp()
    os.write(fd, os.urandom(1 << 22))
    os.close(fd)

    def chunks() -> int:
        with open(path, "rb", buffering=0) as f:
            return len(read_chunks(f))

    def whole() -> int:
        with open(path, "rb", buffering=0) as f:
            return len(f.read())

    show("read a 4 MiB file: read_chunks (fixed chunks in a Rope) vs f.read()", chunks, whole,
         repeat=5)
    os.unlink(path)


def tour_stream() -> None:
    fd, path = tempfile.mkstemp()
    with os.fdopen(fd, "wb") as f:
        f.write(b"".join(b"sensor-%05d,%d\n" % (i, i * 7) for i in range(50_000)))

    def reader_lines() -> int:
        total = 0
        with open(path, "rb", buffering=0) as f:
            for line in Reader(f).lines(reuse=True):
                total += line.partition(b",")[2].to_int() if hasattr(line, "to_int") else len(line)
        return total

    def plain_lines() -> int:
        total = 0
        with open(path, "rb") as f:
            for line in f:
                total += int(line.rstrip(b"\n").partition(b",")[2]) if hasattr(View, "to_int") \
                    else len(line.rstrip(b"\n"))
        return total

    assert reader_lines() == plain_lines()
    show("50,000 lines: Reader.lines(reuse=True) + partition + to_int vs file iteration",
         reader_lines, plain_lines, repeat=3)
    os.unlink(path)

    bb = ByteBuffer(4096)

    def frames() -> int:
        bb.clear()
        bb.write(b"\x00\x05hello\x00\x05world")
        out = 0
        while len(bb) >= 2:
            n = int.from_bytes(bb.peek(2), "big")
            bb.consume(2)
            out += len(bb.read(n))
        return out

    raw = b"\x00\x05hello\x00\x05world"

    def frames_plain() -> int:
        buf = bytearray(raw)
        out = 0
        while len(buf) >= 2:
            n = int.from_bytes(buf[:2], "big")
            del buf[:2]
            out += len(bytes(buf[:n]))
            del buf[:n]
        return out

    show("length-prefixed frames through a ByteBuffer vs bytearray + del buf[:n] (per batch)",
         frames, frames_plain, repeat=10_000)


def tour_json() -> None:
    sensors = {"temperature": 21, "humidity": 40, "pressure": 1013, "time": 0}
    out = bytearray(1024)
    window = View(out)
    sink: list[object] = []

    def into_buffer() -> None:
        sensors["time"] += 1
        n = nocopy.json.dumps_into(sensors, out)
        sink.append(window.retarget(0, n))
        sink.clear()

    def plain() -> None:
        sensors["time"] += 1
        sink.append(__import__("json").dumps(sensors).encode())
        sink.clear()

    show("the seed's sensor loop: dumps_into a preallocated buffer vs json.dumps().encode()",
         into_buffer, plain, repeat=10_000)


def main() -> None:
    print("nocopy tour: nocopy next to the plain-bytes way (tracemalloc)")
    tour_view()
    tour_rope()
    tour_stream()
    tour_json()
    print("\nEvery row: 'peak alloc' is the most memory held at once during the loop,")
    print("'blocks held' what was still allocated after it, 'time' per call.")


if __name__ == "__main__":
    main()
