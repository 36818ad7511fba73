"""Zero-copy is tested, not claimed: tracemalloc shows what
nocopy.io.MemoryReader allocates (construction O(1) where io.BytesIO copies;
chunked reads and line loops copy no payload)."""
import gc
import io
import itertools
import tracemalloc


from nocopy import View, _core
from nocopy.io import MemoryReader

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


def test_construction_is_o1_while_bytesio_copies():
    big = bytearray(64 * MiB)
    keep = []
    assert traced_peak(lambda: keep.append(MemoryReader(big))) < 4096
    assert traced_peak(lambda: keep.append(MemoryReader(memoryview(big)[1:]))) < 4096
    keep.clear()
    # the contrast: io.BytesIO copies a bytearray it is given
    assert traced_peak(lambda: keep.append(io.BytesIO(big))) >= 64 * MiB
    keep.clear()


def test_chunked_read_copies_no_payload():
    big = bytearray(64 * MiB)
    chunk = 64 * 1024

    def read_all(r):
        total = 0
        while True:
            v = r.read(chunk)
            if not v:
                return total
            total += len(v)

    r = MemoryReader(big)
    peak = traced_peak(lambda: read_all(r))
    assert r.tell() == len(big)
    assert peak < 4096  # 1024 chunks, a small View each, freed as it goes: no payload
    # views=False copies each chunk: the peak is at least one chunk
    assert traced_peak(lambda: read_all(MemoryReader(big, views=False))) >= chunk


def blocks_during(fn, repeat):
    """Net blocks still allocated after fn() ran `repeat` times.  Net, not
    per line, and with one traced step before the first snapshot: the
    position past 256 is a new int object each step, and the one alive at
    the end may come from another line than the one alive at the start."""
    loop = itertools.repeat(None, repeat)
    gc.collect()
    tracemalloc.start()
    try:
        fn()
        before = tracemalloc.take_snapshot()
        for _ in loop:
            fn()
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    mine = [tracemalloc.Filter(False, tracemalloc.__file__)]
    stats = after.filter_traces(mine).compare_to(before.filter_traces(mine), "lineno")
    return sum(s.count_diff for s in stats)


def test_steady_loops_keep_nothing():
    buf = bytearray(b"some line of text\n" * 1000)
    r = MemoryReader(buf)
    dst = bytearray(100)
    dv = View(dst)

    def step():
        # positions past 256 at the start and the end: int objects, one alive
        r.seek(300)
        assert r.readinto(dv) == 100
        assert r.readline()
        assert r.read(10)
        for line in r:
            break

    step()
    assert blocks_during(step, 5000) == 0


def test_readline_iteration_peak_is_o1():
    buf = bytearray(b"x" * 200 + b"\n") * 20000  # ~4 MB
    r = MemoryReader(buf)
    assert traced_peak(lambda: sum(1 for _ in r)) < 4096
    r.seek(0)
    assert traced_peak(lambda: sum(1 for _ in r.lines(reuse=True))) < 4096


def test_line_loops_allocate_nothing_per_line_in_views_mode(counting):
    """Iteration and readline run in C and make each line's View from the
    free list the previous line's View went back to: no allocation per
    line (io.BytesIO allocates a bytes object per line; so does views=False,
    one per line and nothing else)."""
    lines = 20000
    buf = bytearray(b"x" * 60 + b"\n") * lines
    r = MemoryReader(buf)
    next(r)  # warm: the first View
    a = _core._alloc_count()
    for line in r:
        pass
    b = _core._alloc_count()
    assert b - a <= 4
    r.seek(0)
    readline = r.readline
    a = _core._alloc_count()
    while readline():
        pass
    b = _core._alloc_count()
    assert b - a <= 4
    rb = MemoryReader(buf, views=False)
    a = _core._alloc_count()
    for line in rb:
        pass
    b = _core._alloc_count()
    assert lines <= b - a <= lines + 4
