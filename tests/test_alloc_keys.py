"""Zero-copy counting (issue 18, point 1): a steady `counts[view] += 1`
over keys already seen allocates nothing -- no bytes copy, no View, no
hash object -- with nocopy.Counter and KeyDict; a new key costs its one
bytes copy.  Counted with nocopy._core's allocation counter (every block,
freed or not)."""
import io

import pytest

from nocopy import ByteBuffer, Counter, KeyDict, View, _core
from nocopy.io import Reader

WORDS = [b"GET", b"POST", b"PUT", b"DELETE", b"HEAD", b"OPTIONS"]


def _allocs(fn, rounds=40):
    """Blocks allocated by `rounds` calls of fn (after one warm-up call)."""
    loop = [None] * rounds
    fn()
    a = _core._alloc_count()
    for _ in loop:
        fn()
    return _core._alloc_count() - a


def _extra(fn, control, rounds=40):
    """Blocks fn allocates beyond control, the same loop doing nothing
    (the list iterator of `for v in views` is one block per call)."""
    return _allocs(fn, rounds) - _allocs(control, rounds)


def _views():
    """Windows on a writable buffer, one per word, made before counting."""
    ba = bytearray(b"|".join(WORDS))
    out, p = [], 0
    for w in WORDS:
        out.append(View(ba, p, p + len(w)))
        p += len(w) + 1
    return out


@pytest.mark.parametrize("tp", [Counter, KeyDict])
def test_seen_key_increment_allocates_nothing(counting, tp):
    views = _views()
    counts = tp()
    for v in views:
        counts[v] = 0
    # counts stay small ints (cached): no int allocation
    if tp is Counter:
        def step():
            for v in views:
                counts[v] += 1
                counts[v] -= 1
    else:
        def step():
            for v in views:
                counts[v] = counts[v] + 1
                counts[v] = counts[v] - 1
    def control():
        for v in views:
            pass
    extra = _extra(step, control)
    assert extra <= 1, extra
    assert counts == dict.fromkeys(WORDS, 0)


def test_setdefault_and_get_of_seen_key_allocate_nothing(counting):
    views = _views()
    d = KeyDict((v, 1) for v in views)

    def step():
        for v in views:
            d.setdefault(v, 2)
            d.get(v)
            v in d

    def control():
        for v in views:
            pass
    extra = _extra(step, control)
    assert extra <= 1, extra


def test_new_key_costs_one_bytes_object(counting):
    views = _views()
    d = KeyDict()
    for v in views[:3]:
        d[v] = 1
    # a 3-key dict has room for a 4th and a 5th (8 slots, 5 usable): each
    # new key is exactly its bytes copy
    v3, v4 = views[3], views[4]
    a = _core._alloc_count()
    base = _core._alloc_count() - a  # the int the call returns
    a = _core._alloc_count()
    d[v3] = 1
    assert _core._alloc_count() - a - base == 1
    a = _core._alloc_count()
    d.setdefault(v4, 1)
    assert _core._alloc_count() - a - base == 1
    a = _core._alloc_count()
    d[v4] = 2  # now seen
    assert _core._alloc_count() - a - base == 0
    assert all(type(k) is bytes for k in d)


def test_counting_reader_lines_allocates_nothing_per_line(counting):
    """The log processor's loop: Reader lines (reuse=True) into a Counter
    whose keys are all seen.  The counts stay below 257 (cached ints)."""
    line_block = b"".join(w + b"\n" for w in WORDS) * 40  # each word 40 times
    data = line_block * 1
    counts = Counter()
    for w in WORDS:
        counts[w] = 0

    class Source(io.RawIOBase):
        """Refills from the same bytes: no allocation per read."""
        def __init__(self):
            self.pos = 0

        def readable(self):
            return True

        def readinto(self, b):
            n = min(len(b), len(data) - self.pos)
            b[:n] = memoryview(data)[self.pos:self.pos + n]
            self.pos += n
            return n

    def run(count):
        it = Reader(Source(), 4096).lines(reuse=True)
        first = next(it)
        counts[first] += 1
        del first
        a = _core._alloc_count()
        if count:
            for line in it:
                counts[line] += 1
        else:
            for line in it:
                pass
        return _core._alloc_count() - a

    control = run(False)
    allocated = run(True)
    # one run counted every line, the other only its first (a GET)
    assert counts == {**dict.fromkeys(WORDS, 40), b"GET": 41}
    assert allocated - control <= 1, (allocated, control)


def test_bytebuffer_borrowed_views_into_counter(counting):
    b = ByteBuffer(64)
    counts = Counter(dict.fromkeys(WORDS, 0))

    def step():
        for w in WORDS:
            b.clear()
            b.write(w)
            v = b.peek()
            counts[v] += 1

    def control():
        for w in WORDS:
            b.clear()
            b.write(w)
            v = b.peek()
    extra = _extra(step, control, rounds=30)
    assert counts == dict.fromkeys(WORDS, 31)
    assert extra <= 1, extra
