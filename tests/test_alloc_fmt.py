"""Formatting into buffers allocates nothing for int, float and bytes-like
arguments (issue 14): every block is counted, freed or not
(nocopy._core._alloc_count), and tracemalloc confirms nothing stays."""
import gc
import tracemalloc

import pytest

from nocopy import ByteBuffer, View, _core, format_into

INTS = [(i * 7919) ** 2 * (-1) ** i for i in range(64)]        # beyond the small-int cache
FLOATS = [i / 7 for i in range(1, 65)] + [1e300, -5e-324]    # made before the loop
BIGINT = 2**62 + 12345
# the loops iterate over made objects: range() past 256 would make ints
PAIRS = list(zip(INTS, FLOATS)) * (3000 // 64)


def blocks_allocated(make):
    """Blocks allocated (freed or not) by make()'s loop over PAIRS (its
    setup -- buffers, views -- is made before the count)."""
    fn = make()
    fn(PAIRS[:20])  # warm-up: method caches, interned names
    gc.collect()
    a = _core._alloc_count()
    fn(PAIRS)
    return _core._alloc_count() - a


def live_blocks(make):
    fn = make()
    fn(PAIRS[:20])
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        fn(PAIRS)
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    mine = [tracemalloc.Filter(False, tracemalloc.__file__)]
    stats = after.filter_traces(mine).compare_to(before.filter_traces(mine), "lineno")
    return sum(s.count_diff for s in stats if s.count_diff > 0)


def write_fmt_loop():
    b = ByteBuffer(4096)
    body = bytearray(b"payload bytes")
    mv = memoryview(b"from a memoryview")
    v = View(b"__window__", 2, 8)
    write_fmt = b.write_fmt
    clear = b.clear

    def run(pairs):
        for n, x in pairs:
            write_fmt(b"Content-Length: %d\r\n", n)
            write_fmt(b"%s %b %s|%-8.3f|%+e|%g|%x|%#o|%c%%|%d", body, mv, v, x, x, x, n, BIGINT, 65, x)
            write_fmt(b"%*d|%.*f", 12, n, 2, x)
            clear()
    return run


def format_into_loop():
    buf = bytearray(256)
    view = View(bytearray(300), 10, 290)

    def run(pairs):
        for n, x in pairs:
            end = format_into(buf, 0, b"GET /item/%d HTTP/1.1\r\nX-Load: %.2f\r\n", n, x)
            format_into(view, 5, b"%s=%d", b"key", end)
    return run


def write_numbers_loop():
    b = ByteBuffer(1024)
    write_int, write_float, clear = b.write_int, b.write_float, b.clear

    def run(pairs):
        for n, x in pairs:
            write_int(n)
            write_int(BIGINT)
            write_float(x)
            clear()
    return run


def prepend_loop():
    b = ByteBuffer(1024)
    pad = b" " * 40

    def run(pairs):
        for n, _ in pairs:
            b.write(pad)
            b.consume(40)
            b.write(b"body")
            b.prepend_fmt(b"%d\r\n", n)
            b.clear()
    return run


def empty_loop():
    def run(pairs):
        for n, x in pairs:
            pass
    return run


@pytest.mark.parametrize("loop", [write_fmt_loop, format_into_loop, write_numbers_loop, prepend_loop])
def test_steady_loop_allocates_nothing(counting, loop):
    # the same as a loop doing nothing (the call and its list iterator):
    # not one block per item, freed or not
    assert blocks_allocated(loop) == blocks_allocated(empty_loop) <= 4


@pytest.mark.parametrize("loop", [write_fmt_loop, format_into_loop, write_numbers_loop, prepend_loop])
def test_steady_loop_keeps_nothing(loop):
    assert live_blocks(loop) == 0


def test_the_counter_sees_the_documented_temporaries(counting):
    """The cases that do allocate (an int beyond 64 bits, %r, __bytes__, a
    float text longer than the inline room) are seen by the same counter,
    so the zeros above are not the counter missing them."""
    b = ByteBuffer(4096)
    big = 2**100

    def run(fmt, arg):
        def loop(pairs):
            for _ in pairs:
                b.write_fmt(fmt, arg)
                b.clear()
        return blocks_allocated(lambda: loop)

    assert run(b"%d", big) >= len(PAIRS)
    assert run(b"%r", "x") >= len(PAIRS)
    assert run(b"%.100f", 1.5) >= len(PAIRS)
    assert run(b"%d", 5) == blocks_allocated(empty_loop)
