"""Zero-copy of the shared-memory and mapped-file paths, measured: map_file
costs O(1) Python memory whatever the file's size; ByteBuffer.wrap() and a
steady write/read loop over it allocate nothing; close() allocates nothing."""
import gc
import itertools
import mmap
import tracemalloc

from nocopy import ByteBuffer, View, _core
from nocopy.io import map_file

MiB = 1 << 20


def traced_peak(fn):
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        fn()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def test_map_file_256_mib_is_o1(tmp_path):
    p = tmp_path / "big"
    with open(p, "wb") as f:
        f.truncate(256 * MiB)
    keep = []

    def run():
        v = map_file(p)
        keep.append(v[128 * MiB:128 * MiB + 4].tobytes())
        keep.append(v.find(b"\x01", 256 * MiB - 4096))
        v.close()

    assert traced_peak(run) < 16 * 1024
    assert keep == [bytes(4), -1]


def test_wrap_is_o1():
    big = bytearray(64 * MiB)
    keep = []
    assert traced_peak(lambda: keep.append(ByteBuffer.wrap(big))) < 4096
    keep[0].close()


def allocations(fn, n=2000, rounds=3):
    """Blocks allocated by n calls of fn after a warm-up (as
    test_alloc_wire.py counts them: the least of `rounds` rounds)."""
    for _ in itertools.repeat(None, 200):
        fn()
    counts = []
    for _ in range(rounds):
        loop = itertools.repeat(None, n)
        _core._alloc_count_start()
        try:
            a = _core._alloc_count()
            a2 = _core._alloc_count()
            for _ in loop:
                fn()
            counts.append(_core._alloc_count() - a2 - (a2 - a))
        finally:
            _core._alloc_count_stop()
    return min(counts)


def test_steady_loop_over_a_wrapped_mmap_allocates_nothing():
    mm = mmap.mmap(-1, 4096)
    b = ByteBuffer.wrap(mm, headroom=8)
    rec = b"payload-" * 4
    n = len(rec)
    write_u32, write, consume = b.write_u32, b.write, b.consume

    def step():
        write_u32(n)
        write(rec)
        consume(36)

    assert allocations(step) == 0
    b.close()
    mm.close()


def test_close_allocates_nothing():
    views = [View(bytearray(64)) for _ in range(3 * 2200)]
    wrapped = [ByteBuffer.wrap(bytearray(64)) for _ in range(3 * 2200)]
    vs, ws = iter(views), iter(wrapped)
    assert allocations(lambda: next(vs).close()) == 0
    assert allocations(lambda: next(ws).close()) == 0
