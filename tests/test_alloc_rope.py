"""Zero-copy checks under tracemalloc: building, slicing and consuming a Rope
cost O(1) in the payload size, and read_chunks reads a stream with peak
memory about the data size."""
import gc
import os
import threading
import tracemalloc

import pytest

from nocopy import Rope, View
from nocopy.io import read_chunks


def peak_of(fn):
    gc.collect()
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def ops_peak(part_size):
    parts = [os.urandom(16) * (part_size // 16) for _ in range(4)]
    extra = bytearray(part_size)
    r = Rope(parts)
    keep = []

    def ops():
        keep.append(r + extra)           # new Rope sharing the segments
        r.append(extra)                  # O(1): one holder, no payload
        r.append(View(extra, 1, -1))
        keep.append(r[3:-3])             # slice shares segments
        keep.append(r[part_size + 1:3 * part_size - 1])
        keep.append(r.take(part_size + 7))
        r.skip(5)
        keep.append(r.find(b"\xff\xfe\xfd\xfc"))
    return peak_of(ops)


def test_build_slice_take_are_o1_in_payload():
    small = ops_peak(1 << 10)
    big = ops_peak(8 << 20)            # 8192x the payload
    assert big < 16_384, big           # 40 MiB of parts: a few KiB of bookkeeping
    assert big <= small + 2048, (small, big)


def test_steady_append_take_loop_allocates_nothing_per_iteration():
    block = bytes(1 << 20)
    r = Rope()
    for _ in range(100):               # warm up: segment array at its size
        r.append(block)
        r.skip(len(block))

    def loop():
        for _ in range(2000):
            r.append(block)
            r.skip(len(block))
    assert peak_of(loop) < 4096


def feed_pipe(wr, total):
    block = bytes(1 << 20)

    def run():
        try:
            for _ in range(total >> 20):
                os.write(wr, block)
        finally:
            os.close(wr)
    t = threading.Thread(target=run)
    t.start()
    return t


def read_pipe_peak(reader, total):
    rd, wr = os.pipe()
    t = feed_pipe(wr, total)
    out = []
    try:
        peak = peak_of(lambda: out.append(reader(rd)))
    finally:
        t.join()
        os.close(rd)
    assert len(out[0]) == total
    out.clear()
    return peak / total


def test_read_chunks_peak_near_data_size():
    total = (32 if os.environ.get("NOCOPY_UNDER_SANITIZER") else 256) << 20
    ours = read_pipe_peak(lambda fd: read_chunks(fd), total)
    # The peers, for the record: f.read() grows one bytes object by realloc,
    # which tracemalloc sees as one block (~1.05x, while the allocator copies
    # on every move); reading in chunks and joining them, the usual way to
    # avoid that realloc, holds the chunks and the joined copy: 2x.
    f_read = read_pipe_peak(lambda fd: open(fd, "rb", closefd=False).read(), total)
    joined = read_pipe_peak(
        lambda fd: b"".join(iter(lambda f=open(fd, "rb", closefd=False): f.read(65536), b"")), total)
    print(f"\npeak / data: read_chunks {ours:.3f}x, f.read() {f_read:.3f}x, chunks+join {joined:.3f}x")
    assert ours <= 1.1, ours
    assert joined >= 1.9, joined


@pytest.mark.parametrize("chunk_size", [4096, 65536, 1 << 24])
def test_read_chunks_regular_file_peak_is_the_data(tmp_path, chunk_size):
    # The direct path reads a file's rest into one block sized by fstat: no
    # chunk past the end, and a chunk_size larger than the file costs nothing
    # (the block is the file's size, not chunk_size).
    total = (4 << 20) + 123
    p = tmp_path / "d"
    p.write_bytes(os.urandom(total))
    for buffering in (0, -1):
        out = []

        def run():
            with open(p, "rb", buffering=buffering) as f:
                out.append(read_chunks(f, chunk_size))
        peak = peak_of(run)
        assert len(out[0]) == total
        out.clear()
        assert peak <= total * 1.01 + 65536, (peak, total)
