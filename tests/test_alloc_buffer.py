"""Zero-copy and zero-allocation checks under tracemalloc: steady read/parse
loops over ByteBuffer, Reader and Writer allocate nothing per item."""
import io
import os
import tracemalloc

import pytest

from nocopy import ByteBuffer
from nocopy.io import Reader, Writer

LINE = b"x" * 74 + b"\n"  # 75-byte lines


def traced(fn):
    """(allocated bytes still live, peak above the start) while fn runs."""
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        result = fn()
        cur, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, cur - base, peak - base


@pytest.fixture(scope="module")
def big_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("alloc") / "lines.txt"
    block = LINE * (1 << 14)  # 1.2 MB
    with open(path, "wb") as f:
        for _ in range((64 << 20) // len(block) + 1):
            f.write(block)
    return path


def test_lines_reuse_64mb_allocates_nothing_per_line(big_file):
    fd = os.open(big_file, os.O_RDONLY)
    try:
        reader = Reader(fd)
        it = reader.lines(reuse=True)
        first = next(it)
        ident = id(first)
        del first

        def loop():
            n = 1
            same = True
            for line in it:
                n += 1
                same &= id(line) == ident
            return n, same
        (n, same), live, peak = traced(loop)
    finally:
        os.close(fd)
    assert n * 75 == os.path.getsize(big_file) and n > 64e6 / 75
    assert same  # one View object, retargeted, for every line
    # no block per line: a single one per line would be ~900,000 blocks, and
    # even freed at once each would show in the peak of a traced run
    assert peak < 4096, peak
    assert live < 1024, live


def test_reader_iteration_recycles_dropped_views():
    data = LINE * 20000
    reader = Reader(io.BytesIO(data), 65536)
    it = iter(reader)
    next(it)

    def loop():
        return sum(1 for _ in it)
    n, live, peak = traced(loop)
    assert n == 19999
    assert peak < 4096 and live < 1024, (peak, live)


def test_fill_parse_loop_allocates_nothing():
    frame = b"\x00\x10" + b"p" * 16
    data = frame * 5000
    buf = ByteBuffer(4096)

    class Src:
        pos = 0

        def readinto(self, b):
            with memoryview(b) as m:
                n = min(len(m), 1000, len(data) - self.pos)
                m[:n] = data[self.pos:self.pos + n]
            self.pos += n
            return n
    src = Src()

    def loop():
        count = 0
        while True:
            while len(buf) >= 18:
                buf.consume(2)
                buf.read(16)
                count += 1
            if not buf.fill_from(src):
                return count
    assert loop() == 5000  # warm-up: caches settle, the writable view is cached
    src.pos = 0
    buf.clear()
    n, live, peak = traced(loop)
    assert n == 5000
    assert live < 1024 and peak < 4096, (live, peak)


def test_writer_small_writes_allocate_nothing():
    sink = open(os.devnull, "wb", buffering=0)
    w = Writer(sink, 65536)
    payload = b"0123456789abcdef"

    def loop():
        for _ in range(100000):
            w.write(payload)
    loop()  # warm-up
    _, live, peak = traced(loop)
    w.close()
    sink.close()
    # 1.6 MB went through a 64 KB buffer: the flushes reuse it
    assert live < 1024 and peak < 4096, (live, peak)


def test_large_write_is_not_copied():
    sink = open(os.devnull, "wb", buffering=0)
    with sink, Writer(sink, 4096) as w:
        w.write(b"head")
        big = bytes(8 << 20)

        def loop():
            w.write(big)
        _, live, peak = traced(loop)
    assert peak < 64 * 1024, peak  # no 8 MB intermediate copy
