"""Section "stream": lines and frames from a 64 MB file, buffered writes.

Rows (times per full pass over the data; ratio = peer / nocopy):
- lines: Reader iteration and Reader.lines(reuse=True) against iterating an
  io.BufferedReader (target 1.5x), bytes.split per chunk, a bytearray +
  ``del buf[:n]`` parser, and asyncio.StreamReader.readline fed by
  feed_data() from chunks in one event loop (target 20x).
- frames: Reader.read_exact of length-prefixed frames against struct +
  BufferedReader.read.
- writes: Writer small writes against io.BufferedWriter (both to /dev/null).
"""
import asyncio
import io
import os
import random
import struct
import tempfile

from nocopy import IncompleteRead
from nocopy.io import Reader, Writer

from .harness import best_time, best_times

SIZE = 64 << 20
LINE = b"x" * 74 + b"\n"  # 75-byte lines
CHUNK = 65536
HEAD = struct.Struct(">I")


def make_files(tmp):
    lines = os.path.join(tmp, "lines.txt")
    with open(lines, "wb") as f:
        block = LINE * (1 << 14)
        for _ in range(SIZE // len(block)):
            f.write(block)
    frames = os.path.join(tmp, "frames.bin")
    rnd = random.Random(7)
    payloads = [bytes([i % 256]) * rnd.randrange(16, 240) for i in range(4096)]
    framed = [HEAD.pack(len(p)) + p for p in payloads]
    with open(frames, "wb") as f:
        total = 0
        i = 0
        while total < SIZE:
            fr = framed[i % len(framed)]
            f.write(fr)
            total += len(fr)
            i += 1
    return lines, frames


# ---- lines ---------------------------------------------------------------------

def nocopy_iter(path):
    with open(path, "rb", buffering=0) as f:
        n = 0
        for _ in Reader(f):
            n += 1
    return n


def nocopy_lines_reuse(path):
    with open(path, "rb", buffering=0) as f:
        n = 0
        for _ in Reader(f).lines(reuse=True):
            n += 1
    return n


def buffered_iter(path):
    with open(path, "rb") as f:
        n = 0
        for _ in f:
            n += 1
    return n


def split_per_chunk(path):
    n = 0
    carry = b""
    with open(path, "rb", buffering=0) as f:
        while True:
            chunk = f.read(CHUNK)
            if not chunk:
                break
            parts = (carry + chunk).split(b"\n")
            carry = parts.pop()
            for _ in parts:
                n += 1
    return n + (1 if carry else 0)


def bytearray_parser(path):
    n = 0
    buf = bytearray()
    with open(path, "rb", buffering=0) as f:
        while True:
            chunk = f.read(CHUNK)
            if not chunk:
                break
            buf += chunk
            while True:
                i = buf.find(b"\n")
                if i < 0:
                    break
                _line = bytes(buf[:i])
                del buf[:i + 1]
                n += 1
    return n


def asyncio_readline(path):
    async def main():
        reader = asyncio.StreamReader(limit=CHUNK)

        async def produce():
            with open(path, "rb", buffering=0) as f:
                while True:
                    chunk = f.read(CHUNK)
                    if not chunk:
                        break
                    reader.feed_data(chunk)
                    await asyncio.sleep(0)
            reader.feed_eof()

        task = asyncio.get_running_loop().create_task(produce())
        n = 0
        while True:
            line = await reader.readline()
            if not line:
                break
            n += 1
        await task
        return n
    return asyncio.run(main())


# ---- frames ----------------------------------------------------------------------

def nocopy_frames(path):
    unpack = HEAD.unpack
    n = 0
    with open(path, "rb", buffering=0) as f:
        r = Reader(f)
        read_exact = r.read_exact
        while True:
            try:
                (size,) = unpack(read_exact(4))
            except IncompleteRead:
                break
            read_exact(size)
            n += 1
    return n


def buffered_frames(path):
    unpack = HEAD.unpack
    n = 0
    with open(path, "rb") as f:
        read = f.read
        while True:
            head = read(4)
            if len(head) < 4:
                break
            (size,) = unpack(head)
            if len(read(size)) < size:
                raise EOFError
            n += 1
    return n


# ---- writes ------------------------------------------------------------------------

WRITES = 200000


def nocopy_writes():
    with open(os.devnull, "wb", buffering=0) as f, Writer(f) as w:
        write = w.write
        for _ in range(WRITES):
            write(LINE)


def buffered_writes():
    with open(os.devnull, "wb") as f:
        write = f.write
        for _ in range(WRITES):
            write(LINE)


def run(report):
    with tempfile.TemporaryDirectory() as tmp:
        lines, frames = make_files(tmp)
        count = os.path.getsize(lines) // len(LINE)
        for fn in (nocopy_iter, nocopy_lines_reuse, buffered_iter, split_per_chunk,
                   bytearray_parser, asyncio_readline):
            got = fn(lines)
            assert got == count, (fn.__name__, got, count)
        assert nocopy_frames(frames) == buffered_frames(frames)

        def t(fn, path, repeat=5):
            return best_time(lambda: fn(path), repeat=repeat, number=1)

        # the rows with targets, measured interleaved (see harness.best_times)
        best = best_times({"it": lambda: nocopy_iter(lines), "reuse": lambda: nocopy_lines_reuse(lines),
                           "buffered": lambda: buffered_iter(lines)}, budget=0, min_rounds=5)
        it, reuse, buffered = best["it"], best["reuse"], best["buffered"]
        report.row("stream", "lines 64MB: Reader iteration", it,
                   "io.BufferedReader iteration", buffered, target=1.5)
        report.row("stream", "lines 64MB: Reader.lines(reuse=True)", reuse,
                   "io.BufferedReader iteration", buffered, target=1.5)
        report.row("stream", "lines 64MB: Reader.lines(reuse=True)", reuse,
                   "bytes.split per chunk", t(split_per_chunk, lines))
        report.row("stream", "lines 64MB: Reader.lines(reuse=True)", reuse,
                   "bytearray + del buf[:n]", t(bytearray_parser, lines, 3))
        aio = t(asyncio_readline, lines, 2)
        report.row("stream", "lines 64MB: Reader iteration", it,
                   "asyncio.StreamReader.readline", aio, target=20)
        report.row("stream", "lines 64MB: Reader.lines(reuse=True)", reuse,
                   "asyncio.StreamReader.readline", aio, target=20)
        report.row("stream", "frames 64MB: Reader.read_exact", t(nocopy_frames, frames),
                   "struct + BufferedReader.read", t(buffered_frames, frames))
        report.row("stream", f"{WRITES} writes of 75 B: Writer.write",
                   best_time(nocopy_writes, repeat=5, number=1),
                   "io.BufferedWriter.write", best_time(buffered_writes, repeat=5, number=1))
