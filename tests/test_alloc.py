"""Zero-copy is tested, not claimed: tracemalloc shows what View's core
operations allocate."""
import gc
import itertools
import tracemalloc

from nocopy import View


def blocks_during(fn, repeat):
    """Allocated blocks still alive after running fn() `repeat` times."""
    loop = itertools.repeat(None, repeat)  # made before the first snapshot
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        for _ in loop:
            fn()
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    mine = [tracemalloc.Filter(False, tracemalloc.__file__)]
    stats = after.filter_traces(mine).compare_to(before.filter_traces(mine), "lineno")
    return sum(s.count_diff for s in stats if s.count_diff > 0)


def peak_of(fn):
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        fn()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def test_retarget_loop_allocates_nothing():
    buf = bytearray(4096)
    view = View(buf)
    sink = []

    def step():
        view.retarget(0, 100)
        view[0] = 1
        sink.clear()

    step()
    assert blocks_during(step, 10_000) == 0


def test_slice_and_view_are_o1_in_payload():
    big = bytes(1 << 20)
    v = View(big)
    # a slice of 1 MB costs one small object, never the payload
    assert peak_of(lambda: v[10:-10]) < 1024
    assert peak_of(lambda: View(big, 5)) < 1024
    assert peak_of(lambda: View(bytearray(10), 1)) < 1024


def test_export_is_shared_not_copied():
    big = bytearray(1 << 20)
    assert peak_of(lambda: [View(big)[i:i + 10] for i in range(100)]) < 64 * 1024
