"""The field parse of issue 18 allocates nothing per line: split_into() into
a reused list, to_int / startswith / find / == on the fields, reslice() of a
scratch View, over Reader and ByteBuffer lines (counted by the C core's
allocation counter and by tracemalloc)."""
import io
import itertools
import tracemalloc
import gc


from nocopy import View, _core
from nocopy.io import Reader

LINE = (b'47.62.229.86 - - [16/Nov/2024:15:11:30 +0000] "GET /api/users/31117 HTTP/1.1" '
        b'200 - "-" "Mozilla/5.0 (X11; Linux x86_64)"\n')


def parse(line, fields, scratch, out):
    # the example's parse step; statuses below 257 are CPython's cached ints
    if line.split_into(fields, None, 10) < 10 or not fields[5].startswith(b'"'):
        return
    url = fields[6]
    status = fields[8].to_int()
    size = 0 if fields[9] == b"-" else fields[9].to_int()
    i = url.find(b"/", 1)
    scratch.reslice(url, 0, i)
    if status != 200 or size != 0 or scratch != b"/api":
        out.append(line.tobytes())  # a wrong parse (summing would allocate ints)


def test_steady_parse_loop_allocates_nothing_per_line(counting):
    data = LINE * 5000
    r = Reader(io.BytesIO(data), 1 << 16)
    fields, scratch, out = [], View(), []
    it = r.lines(reuse=True)
    for line in itertools.islice(it, 10):  # warm: the field Views exist
        parse(line, fields, scratch, out)
    a = _core._alloc_count()
    for line in it:
        parse(line, fields, scratch, out)
    b = _core._alloc_count()
    assert out == []
    # 4990 lines, and about one allocation per 64 KiB refill of the Reader
    # (its source's readinto), none per line
    refills = len(data) // (1 << 16) + 1
    assert b - a <= refills + 2, (b - a, refills)


def test_split_into_and_reslice_keep_nothing():
    buf = bytearray(LINE * 3)
    v = View(buf, len(LINE), 2 * len(LINE))
    fields, scratch = [], View()
    loop = itertools.repeat(None, 20000)
    gc.collect()
    tracemalloc.start()
    try:
        # warm, traced: the list's item array, reallocated as it shrinks
        # and grows, is then known to both snapshots
        for _ in range(3):
            v.split_into(fields, None, 10)
            v.split_into(fields, b" ", 3)
        before = tracemalloc.take_snapshot()
        for _ in loop:
            v.split_into(fields, None, 10)
            v.split_into(fields, b" ", 3)
            scratch.reslice(fields[2], 1, -1)
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    mine = [tracemalloc.Filter(False, tracemalloc.__file__)]
    stats = after.filter_traces(mine).compare_to(before.filter_traces(mine), "lineno")
    # net count: the item array moves from the warm-up's line to the loop's
    assert sum(s.count_diff for s in stats) <= 0, [str(s) for s in stats if s.count_diff]


def test_split_into_reuses_across_lines_of_changing_length(counting):
    """Fewer fields drops Views (back to the free list), more takes them:
    neither reaches the allocator once warm."""
    lines = [View(bytearray(b"a b c d e f")), View(bytearray(b"a b")), View(bytearray(b"x y z"))]
    fields = []
    for v in lines * 3:
        v.split_into(fields)
    six, two, three = lines
    loop = itertools.repeat(None, 2000)  # range() and a list's iterator allocate
    a = _core._alloc_count()
    for _ in loop:
        six.split_into(fields)
        two.split_into(fields)
        three.split_into(fields)
    # 6000 calls: at most a one-off block of the interpreter's, none per call
    assert _core._alloc_count() - a <= 2


def test_the_examples_loop_as_written_allocates_nothing_per_line(counting):
    """examples/log_processor.py's loop body inline (`url` outlives its line,
    so fields[6] is replaced from the free list, not reused: still no
    allocation), with a nocopy.Counter keyed by a View slice."""
    import nocopy

    data = LINE * 5000
    r = Reader(io.BytesIO(data), 1 << 16)
    fields = []
    sizes = nocopy.Counter()
    it = r.lines(reuse=True)
    for line in itertools.islice(it, 10):
        line.split_into(fields, None, 10)
    a = _core._alloc_count()
    for line in it:
        if line.split_into(fields, None, 10) < 10 or not fields[5].startswith(b'"'):
            continue
        url = fields[6]
        status = fields[8].to_int()
        size = 0 if fields[9] == b"-" else fields[9].to_int()
        i = url.find(b"/", 1)
        # (a running count past 256 is a new int object per line: CPython's,
        # the same in the stdlib version, so no count is kept here)
        assert status == 200
        sizes[url if i < 0 else url[:i]] += size
    b = _core._alloc_count()
    assert dict(sizes) == {b"/api": 0}
    refills = len(data) // (1 << 16) + 1
    # the refills and the one new key (its bytes copy, the dict's table)
    assert b - a <= refills + 6, (b - a, refills)
