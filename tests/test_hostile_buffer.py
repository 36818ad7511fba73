"""ByteBuffer under hostile Python (issue 13): finalizers run by the cyclic GC
inside the C core's allocations, sources that lie, exports held across
commits, patched internals.

On 3.11 a collection runs inside the allocation that triggers it: with
gc.set_threshold(1) and a finalizer on cyclic garbage, the finalizer runs
inside (almost) the next allocation of a GC object the C code makes.  The
`hostile` fixture plants such garbage, re-planted by each collection until
armed; `hostile.arm(fn)` makes the next collection call fn() -- from inside
the C call that follows, which `inside(hostile.log)` (tests/finalizers.py)
asserts right after it.  Exact Views come from a free list (no allocation),
so the tests hold `_drain()` to empty it first.

Each test's docstring names the issue row it covers.
"""
import gc
import io
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from finalizers import Fired, inside
from nocopy import ByteBuffer, LimitOverrun, StaleViewError, View
from budget import heavy
from nocopy.errors import IncompleteRead
from nocopy.io import Reader
from nocopy.pool import Pool


class _Ctl:
    def __init__(self):
        self.log = None
        self.fn = None
        self.fired = 0
        self.active = True
        self.errors = []
        self.pads = []

    def arm(self, fn):
        """fn() runs at the next allocation of a GC object.  Garbage freed
        now may refill the View free list: drain it after.  Then a collection
        leaves the count at 0, one object kept alive makes it 1, so with
        threshold 1 the next allocation collects."""
        self.log = Fired(depth=1)  # inside(hostile.log): where it ran
        self.fired = 0
        self.fn = None
        gc.set_threshold(1 << 30)  # no collection (freeing Views) while draining
        gc.collect(0)
        self.pads.append(_drain())
        gc.set_threshold(1)
        gc.collect(0)
        self.pads.append(_Pad())  # not a list: lists come from a free list, uncounted
        self.fn = fn


class _Pad:
    pass


class _Bomb:
    """Cyclic garbage whose finalizer runs the armed hook once, or plants the
    next bomb for the next collection."""

    def __init__(self, ctl):
        self.ctl = ctl
        self.me = self

    def __del__(self):
        ctl = self.ctl
        fn = ctl.fn
        if fn is not None:
            ctl.fn = None
            ctl.log.note()
            ctl.log.append(True)
            ctl.fired += 1
            try:
                fn()
            except Exception as e:  # noqa: BLE001 -- reported by the test
                ctl.errors.append(e)
        if ctl.active:
            _Bomb(ctl)


@pytest.fixture
def hostile():
    ctl = _Ctl()
    old = gc.get_threshold()
    gc.collect()
    try:
        _Bomb(ctl)
        gc.set_threshold(1)
        yield ctl
        ctl.pads.clear()
    finally:
        gc.set_threshold(*old)
        ctl.active = False
        ctl.fn = None
        gc.collect()


def _drain():
    """Empty the View free list (128 entries) so the next View is a real
    allocation."""
    return [View(b"") for _ in range(130)]


def _filled(cap, data, consumed=0):
    b = ByteBuffer(cap)
    b.write(data)
    b.consume(consumed)
    return b


def _check_cursors(b):
    n = b.readable
    assert 0 <= n <= b.capacity and 0 <= b.free <= b.capacity - n
    assert len(b) == n
    assert len(bytes(b.peek())) == n


# ---- row 3: the line iterator type ---------------------------------------------------

def test_row3_line_iterator_type_not_patchable():
    """Row 3: iterlines() must not build its iterator from a class attribute
    that Python code can rebind (main: the rebinding works and iterlines
    allocates a View-sized object and writes an iterator into it)."""
    saved = ByteBuffer.__dict__.get("_LineIter")
    try:
        try:
            ByteBuffer._LineIter = View
        except TypeError:
            pass  # immutable type: the fix
        b = _filled(64, b"a\nbb\nccc")
        it = b.iterlines(None)
        assert type(it).__name__ == "_LineIter"
        assert [bytes(x) for x in it] == [b"a", b"bb", b"ccc"]
        assert "_LineIter" not in ByteBuffer.__dict__
    finally:
        if saved is not None and ByteBuffer.__dict__.get("_LineIter") is not saved:
            ByteBuffer._LineIter = saved


@pytest.mark.parametrize("attr", ["_LineIter", "read", "peek"])
def test_row3_types_are_immutable(attr):
    """Row 3 (class): attributes of the C types cannot be assigned."""
    b = _filled(16, b"a\n")
    for tp in (ByteBuffer, type(b.iterlines(None))):
        with pytest.raises(TypeError):
            setattr(tp, attr, None)


# ---- row 10: allocate, then move a cursor -------------------------------------------------

def test_row10_read_after_nested_consume_and_compact(hostile):
    """Row 10: read(n) allocates its View, a finalizer reads everything and
    compacts, then read() moved rpos by the stale n (main: len() < 0)."""
    b = _filled(16, b"0123456789", consumed=4)
    keep = _drain()
    hostile.arm(lambda: (b.read(), b.compact()))
    v = b.read(6)
    inside(hostile.log)
    assert hostile.fired == 1 and not hostile.errors
    assert bytes(v) == b""  # the finalizer ran first and took everything
    _check_cursors(b)
    assert b.readable == 0
    b.write(b"abc")
    assert bytes(b.read()) == b"abc"
    del keep


def test_row10_read_shows_its_bytes_after_nested_compact(hostile):
    """Row 10: after a nested compact() the View must show the bytes it
    consumed (main: a window at the old offsets of the moved storage)."""
    b = _filled(16, b"0123456789", consumed=4)
    keep = _drain()
    hostile.arm(b.compact)
    v = b.read(3)
    inside(hostile.log)
    assert hostile.fired == 1 and not hostile.errors
    assert bytes(v) == b"456"
    assert bytes(b.read()) == b"789"
    del keep


def test_row10_peek_after_nested_read(hostile):
    """Row 10: peek(n) clamps to what is readable after its allocation."""
    b = _filled(16, b"0123456789")
    keep = _drain()
    hostile.arm(lambda: b.read(8))
    v = b.peek(10)
    inside(hostile.log)
    assert hostile.fired == 1 and not hostile.errors
    assert bytes(v) == b"89"
    del keep


def test_row10_read_until_after_nested_compact(hostile):
    """Row 10: read_until found the delimiter, then its allocation ran a
    compact(): the result must be the line (main: cursors past the data)."""
    b = _filled(32, b"xxxxhello\nworld\n", consumed=4)
    keep = _drain()
    hostile.arm(lambda: (b.consume(6), b.compact()))
    v = b.read_until(b"\n")
    inside(hostile.log)
    assert hostile.fired == 1 and not hostile.errors
    assert bytes(v) == b"world\n"
    _check_cursors(b)
    assert b.readable == 0
    del keep


def test_row10_read_until_limit_partial_after_nested_read(hostile):
    """Row 10: LimitOverrun's partial view is made after its allocation
    (main: a window past the readable bytes)."""
    b = _filled(32, b"abcdefghij")
    keep = _drain()
    hostile.arm(lambda: (b.read(9), b.compact()))
    try:
        r = b.read_until(b"\n", limit=5)
    except LimitOverrun as e:
        assert len(e.partial) <= b.readable
    else:
        assert r is None
    inside(hostile.log)
    assert hostile.fired == 1 and not hostile.errors
    _check_cursors(b)
    assert bytes(b.peek()) == b"j"
    del keep


def test_row10_read_exact_buffered_after_nested_read(hostile):
    """Row 10: _read_exact's buffered fast path (main: rpos past wpos)."""
    b = _filled(16, b"0123456789")
    b._attach(io.BytesIO(b"ABCDEFGHIJ"))
    keep = _drain()
    hostile.arm(lambda: (b.read(8), b.compact()))
    v = b._read_exact(5)
    inside(hostile.log)
    assert hostile.fired >= 1 and not hostile.errors
    assert bytes(v) == b"89ABC"
    _check_cursors(b)
    del keep


def test_read_exact_incomplete_with_hostile_finalizer(hostile):
    """Audit (row 10's shape): IncompleteRead's partial is copied after its
    allocation and exactly the copied bytes are consumed.  The first
    allocations are the fill's, while the buffer is busy (compact refused):
    the finalizer tries again at each allocation until it gets through.
    (It used to be armed before `with pytest.raises`, whose allocation ran
    it before the call.)"""
    b = _filled(16, b"abcdef", consumed=2)
    b._attach(io.BytesIO(b""))
    m = memoryview(b.peek())
    keep = _drain()
    err = None
    busy, done = [], []

    def damage():
        try:
            b.compact()
        except RuntimeError as e:  # being filled: at the next allocation
            busy.append(e)
            hostile.fn = damage
            return
        b.write(b"XY")
        done.append(True)

    hostile.arm(damage)
    try:  # (pytest.raises would allocate, and so run the finalizer, first)
        b._read_exact(10)
    except IncompleteRead as e:
        err = e
    hostile.fn = None
    inside(hostile.log)
    assert done, "the finalizer never got past the fill"
    assert hostile.fired >= 1 and not hostile.errors
    assert isinstance(err, IncompleteRead)
    # b"XY" is in the partial if written before the copy, else left unread
    _check_cursors(b)
    assert err.partial + bytes(b.peek()) == b"cdefXY"
    assert err.partial in (b"cdef", b"cdefXY")
    m.release()
    del keep


def test_row10_readline_after_nested_read(hostile):
    """Row 10: _readline's View allocation may move the cursors."""
    b = ByteBuffer(32)
    b._attach(io.BytesIO(b"one\ntwo\nthree\n"))
    b._fill()
    keep = _drain()
    hostile.arm(lambda: (b.read(2), b.compact()))
    line = b._readline()
    inside(hostile.log)
    assert hostile.fired >= 1 and not hostile.errors
    assert bytes(line) == b"e\n"  # main: b"e\ntw", the old window on moved bytes
    assert bytes(b._readline()) == b"two\n"
    _check_cursors(b)
    del keep


@pytest.mark.parametrize("reuse", [False, True])
def test_row10_line_iterator_after_nested_read(hostile, reuse):
    """Row 10: the line iterator's View allocation may move the cursors
    (main: rpos set from a stale newline offset)."""
    b = _filled(64, b"xxxxone\ntwo\nthree\n", consumed=4)
    it = b.iterlines(None, reuse=reuse)
    keep = _drain()
    hostile.arm(lambda: (b.read(4), b.compact()))
    first = bytes(next(it))
    inside(hostile.log)
    assert hostile.fired >= 1 and not hostile.errors
    assert first == b"two"
    assert [bytes(x) for x in it] == [b"three"]
    _check_cursors(b)
    del keep


def test_row10_line_limit_partial_after_nested_read(hostile):
    """Row 10: the line iterator's LimitOverrun partial after its allocation."""
    b = _filled(8, b"abcdefgh")
    it = b.iterlines(io.BytesIO(b"more"))
    keep = _drain()
    hostile.arm(lambda: b.read(6))
    try:
        line = next(it)
    except LimitOverrun as e:
        assert len(e.partial) <= b.readable
    else:
        assert bytes(line) == b"ghmore"
    inside(hostile.log)
    assert hostile.fired >= 1 and not hostile.errors
    _check_cursors(b)
    del keep


# ---- row 11: writable(n) -------------------------------------------------------------------

def test_row11_writable_n_after_nested_write(hostile):
    """Row 11: writable(n) allocates its View, a finalizer writes, then the
    window is set from the new wpos (main: a View past the storage)."""
    b = ByteBuffer(16)
    b.write(b"ab")
    keep = _drain()
    hostile.arm(lambda: b.write(b"x" * 10))
    try:
        w = b.writable(8)
    except Exception as e:  # noqa: BLE001
        assert type(e).__name__ == "BufferTooSmall"
    else:
        assert len(w) == 8 and len(w) <= b.free
    inside(hostile.log)
    assert hostile.fired == 1 and not hostile.errors
    assert bytes(b.peek()) == b"ab" + b"x" * 10
    _check_cursors(b)
    del keep


def test_row11_writable_after_nested_write(hostile):
    """Row 11: writable() covers exactly the free space after its allocation."""
    b = ByteBuffer(16)
    keep = _drain()
    hostile.arm(lambda: b.write(b"x" * 10))
    w = b.writable()
    inside(hostile.log)
    assert hostile.fired == 1 and not hostile.errors
    assert len(w) == b.free == 6
    w[:] = b"y" * 6
    assert bytes(b.peek()) == b"x" * 10
    del keep


# ---- row 12: nested relocation with an export held ------------------------------------------

def test_row12_nested_relocation_with_export(hostile):
    """Row 12: compact() with an export held allocates fresh storage; the
    finalizer compacts again (main: the old storage is dropped twice and the
    held memoryview reads freed memory)."""
    b = _filled(4096, b"abcdefgh" * 100)
    v = b.read(8)
    m = memoryview(v)
    hostile.arm(b.compact)
    b.compact()
    inside(hostile.log)
    assert hostile.fired == 1 and not hostile.errors
    del v
    junk = [ByteBuffer(4096) for _ in range(20)]  # reuse freed memory
    for j in junk:
        j.write(b"Z" * 4096)
    assert m.tobytes() == b"abcdefgh"
    assert bytes(b.peek()) == b"abcdefgh" * 99
    m.release()
    del junk


def test_row12_nested_relocation_via_write(hostile):
    """Row 12: a write that must move to fresh storage, with a finalizer that
    moves it too: the data must come out once, intact."""
    b = _filled(64, b"0123456789" * 5, consumed=40)
    m = memoryview(b.peek())
    hostile.arm(lambda: b.write(b"!"))
    b.write(b"x" * 30)
    inside(hostile.log)
    assert hostile.fired == 1 and not hostile.errors
    assert bytes(b.read()) in (b"0123456789!" + b"x" * 30, b"0123456789" + b"x" * 30 + b"!")
    assert m.tobytes() == b"0123456789"
    m.release()


# ---- row 16: every writable() View goes stale on commit -------------------------------------

def test_row16_older_writable_view_stale_after_commit():
    """Row 16: an older writable() View (not the cached one) must not write
    into bytes that became readable (main: it does)."""
    b = ByteBuffer(16)
    w1 = b.writable()
    w2 = b.writable()  # w1 is held: a second View
    w1[:3] = b"abc"
    b.commit(3)
    with pytest.raises(StaleViewError):
        w1[:3] = b"XYZ"
    with pytest.raises(StaleViewError):
        w2[:3] = b"XYZ"
    assert bytes(b.peek()) == b"abc"


@pytest.mark.parametrize("how", ["slice", "View", "sub_of_sub"])
def test_row16_sub_views_of_writable_stale_after_commit(how):
    """Row 16: sub-views of a writable() View go stale with it (main: they
    take the storage's epoch and keep writing)."""
    b = ByteBuffer(16)
    w = b.writable()
    sub = {"slice": lambda: w[0:4], "View": lambda: View(w, 0, 4),
           "sub_of_sub": lambda: w[0:8][0:4]}[how]()
    sub[:] = b"abcd"
    b.commit(4)
    with pytest.raises(StaleViewError):
        sub[:] = b"XXXX"
    assert bytes(b.peek()) == b"abcd"


@pytest.mark.parametrize("op", ["write", "fill_from", "commit"])
def test_row16_stale_after_every_kind_of_commit(op):
    """Row 16: write(), fill_from() and commit() all stale every writable View."""
    b = ByteBuffer(16)
    old = [b.writable(), b.writable()[1:5], b.writable(8)]
    if op == "write":
        b.write(b"data")
    elif op == "fill_from":
        b.fill_from(io.BytesIO(b"data"))
    else:
        b.writable()[:4] = b"data"
        b.commit(4)
    for w in old:
        with pytest.raises(StaleViewError):
            w[:1] = b"X"
    assert bytes(b.peek()) == b"data"


def test_row16_retargeted_writable_view_cannot_reach_readable_bytes():
    """Row 16: a writable() View is confined to the free space: retargeting it
    cannot reach readable bytes (main: retarget(0) covers them)."""
    b = ByteBuffer(16)
    b.write(b"abc")
    w = b.writable()
    w.retarget(0)
    w[:3] = b"XYZ"
    assert bytes(b.peek()) == b"abc"
    with pytest.raises(ValueError):
        w.retarget(0, 16)
    b.commit(3)
    assert bytes(b.peek()) == b"abcXYZ"


def test_row16_source_keeping_a_sub_view():
    """Row 16: a source that keeps a sub-view of the View it was lent cannot
    write into the bytes it committed (main: it can)."""
    kept = []

    class Src:
        def readinto(self, v):
            v[:4] = b"good"
            kept.append(v[0:4])
            return 4

    b = ByteBuffer(16)
    assert b.fill_from(Src()) == 4
    with pytest.raises(StaleViewError):
        kept[0][:] = b"EVIL"
    assert bytes(b.peek()) == b"good"


def test_row16_export_of_writable_held_across_commit():
    """Row 16: memoryview(b.writable()) held across commit(): the committed
    bytes handed out as Views never change under them (main: they do)."""
    b = ByteBuffer(16)
    with memoryview(b.writable()) as m:
        m[:5] = b"hello"
        b.commit(5)
        v = b.read(5)  # the export is still held: the bytes move to fresh storage
        m[:5] = b"EVIL!"
        assert bytes(v) == b"hello"
        b.write(b"more")
        m[5:9] = b"EVIL"
        assert bytes(b.peek()) == b"more"
    assert bytes(v) == b"hello"


def test_row16_export_released_before_read_costs_no_move():
    """Design (row 16): the uvloop pattern -- export held across commit, let
    go before the bytes are read -- keeps the storage and the views made
    before: no move, no allocation."""
    b = ByteBuffer(16)
    b.write(b"ab")
    p = b.peek()
    m = memoryview(b.writable())
    m[:3] = b"cde"
    b.commit(3)
    m.release()
    assert bytes(b.read()) == b"abcde"
    assert bytes(p) == b"ab"  # not stale: nothing moved


# ---- row 17: no uninitialised bytes ------------------------------------------------------------

def test_row17_fresh_storage_is_zeroed():
    """Row 17: the free space of a new ByteBuffer holds zeros, not the freed
    bytes of an earlier object (main: pymalloc hands back a freed secret)."""
    for cap in (24, 200, 500, 5000):
        for _ in range(20):
            secret = bytearray(b"S" * cap)
            del secret
            b = ByteBuffer(cap)
            assert b.writable().tobytes() == bytes(cap)


def test_row17_fresh_storage_after_relocation_is_zeroed():
    """Row 17: storage made by a move to fresh storage is zeroed too."""
    for _ in range(20):
        b = _filled(200, b"k" * 150, consumed=100)
        m = memoryview(b.peek())
        secret = bytearray(b"S" * 200)
        del secret
        b.compact()  # export held: fresh storage
        assert b.writable().tobytes() == bytes(150)
        m.release()


def test_row17_readinto_claiming_unwritten_bytes():
    """Row 17: a readinto() that claims bytes it never wrote shows zeros."""
    class Liar:
        def readinto(self, v):
            return 10

    for _ in range(20):
        secret = bytearray(b"S" * 64)
        del secret
        b = ByteBuffer(64)
        assert b.fill_from(Liar()) == 10
        assert bytes(b.read()) == bytes(10)


@pytest.mark.parametrize("ret,exc", [(-1, OSError), (17, OSError), (2 ** 70, OverflowError),
                                     ("3", TypeError), (3.0, TypeError)])
def test_row17_readinto_bogus_count_refused(ret, exc):
    """Audit (row 17): counts outside 0 <= n <= room are refused, nothing
    committed."""
    class Src:
        def readinto(self, v):
            return ret

    b = ByteBuffer(16)
    with pytest.raises(exc):
        b.fill_from(Src())
    assert b.readable == 0 and b.free == 16


def test_row17_read_exact_large_lends_no_heap_garbage():
    """Row 17: _read_exact(n > capacity) lends the rest of a new bytearray to
    readinto(): it must not hold old heap bytes (main: uninitialised)."""
    seen = []

    class Src:
        def readinto(self, v):
            seen.append(v.tobytes())
            v[:] = b"r" * len(v)
            return len(v)

    for _ in range(10):
        secret = bytearray(b"S" * 400)
        del secret
        b = _filled(64, b"head")
        b._attach(Src())
        assert bytes(b._read_exact(400)) == b"head" + b"r" * 396
    assert all(s == bytes(len(s)) for s in seen)


# ---- the pool ---------------------------------------------------------------------------------

def test_pool_previous_borrower_views_cannot_touch_next_borrower():
    """Pool: every View of the previous borrower -- an older writable(), a
    sub-view of one, a retargeted empty peek() -- is stale once the buffer is
    back (main: they write into the next borrower's data)."""
    pool = Pool(64, 1)
    with pool.buffer() as b:
        w_old = b.writable()
        b.writable()
        sub = w_old[0:8]
        p = b.peek()
    with pool.buffer() as b2:
        assert b2 is b
        b2.write(b"next borrower's data")
        for v in (w_old, sub, p):
            with pytest.raises(StaleViewError):
                v.retarget(0, 5)[:] = b"EVIL!"
        assert bytes(b2.peek()) == b"next borrower's data"


def test_pool_previous_borrower_line_iterator_stale():
    """Pool: a line iterator of the previous borrower cannot consume the next
    borrower's lines."""
    pool = Pool(64, 1)
    with pool.buffer() as b:
        b.write(b"a\n")
        it = b.iterlines(None)
        assert bytes(next(it)) == b"a"
    with pool.buffer() as b2:
        b2.write(b"mine\n")
        with pytest.raises(StaleViewError):
            next(it)
        assert bytes(b2.read()) == b"mine\n"


def test_pool_previous_borrower_source_detached():
    """Pool: a source or overflow handler the previous borrower attached does
    not stay attached."""
    pool = Pool(64, 1)
    with pool.buffer() as b:
        b._attach(io.BytesIO(b"old source"))
        b._set_overflow(lambda *a: 0)
    with pool.buffer() as b2:
        with pytest.raises(RuntimeError):
            b2._fill()
        with pytest.raises(Exception) as ei:
            b2.write(b"x" * 100)
        assert type(ei.value).__name__ == "BufferTooSmall"


def test_pool_return_with_export_held_moves():
    """Audit (pool): a memoryview the previous borrower still holds keeps its
    bytes; the next borrower gets other storage."""
    pool = Pool(64, 1)
    with pool.buffer() as b:
        b.write(b"secret")
        m = memoryview(b.peek())
    with pool.buffer() as b2:
        b2.write(b"public")
        assert m.tobytes() == b"secret"
        assert bytes(b2.peek()) == b"public"
    m.release()


# ---- busy: nothing mutates during a fill -------------------------------------------------------

def test_busy_covers_every_mutator():
    """Audit: during a fill every mutator refuses, reading is allowed."""
    b = _filled(64, b"abc\n")
    seen = {}

    class Src:
        def readinto(self, v):
            for name, call in (("write", lambda: b.write(b"x")), ("commit", lambda: b.commit(0)),
                               ("writable", b.writable), ("read", b.read),
                               ("read_until", lambda: b.read_until(b"\n")),
                               ("consume", lambda: b.consume(1)), ("compact", b.compact),
                               ("clear", b.clear), ("readinto", lambda: b.readinto(bytearray(2))),
                               ("fill_from", lambda: b.fill_from(io.BytesIO(b"z"))),
                               ("_attach", lambda: b._attach(io.BytesIO())),
                               ("_reset", b._reset)):
                try:
                    call()
                except RuntimeError:
                    seen[name] = "refused"
                else:
                    seen[name] = "ran"
            assert bytes(b.peek()) == b"abc\n"
            v[:2] = b"de"
            return 2

    assert b.fill_from(Src()) == 2
    assert set(seen.values()) == {"refused"}, seen
    assert bytes(b.read()) == b"abc\nde"


def test_overflow_handler_result_checked():
    """Audit: write() returns what the overflow handler returns only when it
    is an int."""
    b = ByteBuffer(4)
    b._set_overflow(lambda *a: "nonsense")
    with pytest.raises(TypeError):
        b.write(b"123456")


def test_overflow_handler_can_replace_itself():
    """Audit: the handler may drop itself while it runs (write() holds its
    own reference)."""
    b = ByteBuffer(4)
    calls = []

    def handler(buf, data, off, n):
        buf._set_overflow(None)
        calls.append(bytes(data))
        return n

    b._set_overflow(handler)
    del handler
    assert b.write(b"123456") == 6
    assert calls == [b"123456"]


# ---- random operations with a hostile finalizer, against a model --------------------------------

_ops = st.lists(st.one_of(
    st.tuples(st.just("write"), st.binary(min_size=1, max_size=12)),
    st.tuples(st.just("read"), st.integers(0, 12)),
    st.tuples(st.just("peek"), st.integers(0, 12)),
    st.tuples(st.just("consume"), st.integers(0, 12)),
    st.tuples(st.just("read_until"), st.just(b"\n")),
    st.tuples(st.just("commit"), st.binary(max_size=12)),
    st.tuples(st.just("compact"), st.none()),
    st.tuples(st.just("clear"), st.none()),
    st.tuples(st.just("export"), st.none()),
    st.tuples(st.just("wexport"), st.none()),
    st.tuples(st.just("unexport"), st.none()),
), max_size=40)

_fin_kinds = st.lists(st.sampled_from(["write", "read", "compact", "clear", "consume", None]),
                      min_size=40, max_size=40)

_CAP = 24


def _model(model, op, arg):
    """Run op on the model (a bytearray of the readable bytes): the bytes a
    returned View must show, False when the op must fail for room."""
    if op in ("write", "commit"):
        if len(arg) > _CAP - len(model):
            return False
        model += arg
    elif op in ("read", "peek"):
        want = bytes(model[:arg])
        if op == "read":
            del model[:arg]
        return want
    elif op == "consume":
        del model[:min(arg, len(model))]
    elif op == "read_until":
        i = model.find(arg)
        if i < 0:
            return None
        want = bytes(model[:i + 1])
        del model[:i + 1]
        return want
    elif op == "clear":
        del model[:]
    return None


def _fin_model(model, kind):
    if kind == "write":
        _model(model, "write", b"F")
    elif kind in ("read", "consume"):
        del model[:1]
    elif kind == "clear":
        del model[:]


@heavy(deadline=None, suppress_health_check=list(HealthCheck))
@given(_ops, _fin_kinds)
def test_random_ops_with_hostile_finalizer(ops, fin_kinds):
    """Random operations on a ByteBuffer, each run with a finalizer that
    reads, writes, compacts or clears the same buffer from inside the op's
    allocations, while memoryviews of read and writable() views are held and
    scribbled on.  Every C call allocates first and mutates after, so the
    buffer must match the model with the finalizer's op run first; every View
    ever handed out shows its bytes or raises StaleViewError; every
    writable() View is stale once committed; held exports of readable bytes
    never change, and scribbling through writable exports never reaches
    readable bytes."""
    b = ByteBuffer(_CAP)
    model = bytearray()
    views, exports, wexports = [], [], []
    ctl = _Ctl()
    old = gc.get_threshold()
    gc.collect()
    keep = _drain()
    fired = []

    def make_fin(kind):
        def run():
            try:
                if kind == "write":
                    b.write(b"F")
                elif kind == "read":
                    b.read(1)
                elif kind == "compact":
                    b.compact()
                elif kind == "clear":
                    b.clear()
                elif kind == "consume":
                    b.consume(min(1, b.readable))
            except Exception:  # noqa: BLE001 -- the model does nothing then
                fired.append((kind, False))
            else:
                fired.append((kind, True))
        return run

    try:
        _Bomb(ctl)
        gc.set_threshold(1)
        for (op, arg), kind in zip(ops, fin_kinds):
            if op == "export":
                exports.append((memoryview(b.peek()), bytes(model)))
                continue
            if op == "wexport":
                wexports.append(memoryview(b.writable()))
                continue
            if op == "unexport":
                for m, _ in exports:
                    m.release()
                for m in wexports:
                    m.release()
                exports.clear()
                wexports.clear()
                continue
            fired.clear()
            ctl.pads.clear()
            fn = make_fin(kind) if kind else None
            result = err = None
            try:
                # the finalizer is armed only around the one C call
                if op == "write":
                    ctl.arm(fn); b.write(arg)
                elif op == "read":
                    ctl.arm(fn); result = b.read(arg)
                elif op == "peek":
                    ctl.arm(fn); result = b.peek(arg)
                elif op == "consume":
                    arg = min(arg, b.readable)
                    ctl.arm(fn); b.consume(arg)
                elif op == "read_until":
                    ctl.arm(fn); result = b.read_until(arg)
                elif op == "commit":
                    ctl.arm(fn); w = b.writable(len(arg))
                    ctl.fn = None
                    w[:] = arg
                    b.commit(len(arg))
                    views.append((w, None))
                elif op == "compact":
                    ctl.arm(fn); b.compact()
                elif op == "clear":
                    ctl.arm(fn); b.clear()
            except Exception as e:  # noqa: BLE001 -- checked against the model
                err = e
            ctl.fn = None
            before = bytearray(model)
            want = _model(model, op, arg)
            if fired and fired[0][1] and not (want is False and err is not None):
                # the finalizer ran first: every C call allocates before it
                # changes anything.  (Only an error raised for the state
                # before it -- the exception's allocation runs it -- sees it
                # second.)
                model[:] = before
                _fin_model(model, fired[0][0])
                want = _model(model, op, arg)
            elif fired and fired[0][1]:
                _fin_model(model, fired[0][0])
            if want is False:
                assert type(err).__name__ == "BufferTooSmall", (op, arg, err)
            else:
                assert err is None, (op, arg, err, fired)
            if op in ("read", "peek", "read_until"):
                if want is None:
                    assert result is None
                else:
                    assert bytes(result) == want, (op, arg, fired)
                    views.append((result, want))
            for m in wexports:  # a hostile exporter scribbles all the time
                m[:] = b"\xee" * len(m)
            _check_cursors(b)
            assert bytes(b.peek()) == bytes(model), (op, arg, fired)
            for v, vwant in views:
                try:
                    got = bytes(v)
                except StaleViewError:
                    continue
                assert vwant is not None, "writable() View still usable after commit"
                assert got == vwant
            for m, mwant in exports:
                assert m.tobytes() == mwant
    finally:
        gc.set_threshold(*old)
        ctl.active = False
        ctl.fn = None
        for m, _ in exports:
            m.release()
        for m in wexports:
            m.release()
        gc.collect()
        del keep


# ---- Reader.readinto straight into the caller's buffer ---------------------------------

class _ReenteringSource(io.RawIOBase):
    """A source whose readinto reads from the Reader it feeds, once: what a
    finalizer run by an allocation inside the read could do too."""

    def __init__(self, data):
        self.f = io.BytesIO(data)
        self.reader = None
        self.inside = False
        self.nested = []

    def readable(self):
        return True

    def readinto(self, b):
        if self.reader is not None and not self.inside and not self.nested:
            self.inside = True
            try:
                self.nested.append(bytes(self.reader.read(1)))
            except RuntimeError as e:
                self.nested.append(e)
            finally:
                self.inside = False
        return self.f.readinto(b)


def test_reader_readinto_direct_keeps_the_stream_in_order():
    # Nothing buffered and a destination at least the buffer's size: the
    # Reader reads straight into it.  A read through the same Reader during
    # that call filled the buffer with the bytes *after* the ones the
    # destination got, and handed them out later: the stream out of order
    # (the fuzzer found it).  The buffer is busy meanwhile now.
    data = bytes(range(64))
    src = _ReenteringSource(data)
    r = Reader(src, buffer_size=4)
    src.reader = r
    out = bytearray(8)
    n = r.readinto(out)
    assert len(src.nested) == 1 and isinstance(src.nested[0], RuntimeError), src.nested
    got = bytes(out[:n]) + r.read_bytes()
    assert got == data


def test_readinto_direct_of_nothing_is_not_eof():
    # A 0-byte destination reads nothing; that 0 must not be taken for EOF
    # (the source was then never read again and its bytes were lost).
    r, w = os.pipe()
    try:
        os.write(w, b"abc")
        b = ByteBuffer(8)
        b._attach(r)
        assert b._readinto_direct(bytearray(0)) == 0
        assert not b._src_eof
        assert b._fill() == 3 and bytes(b.read()) == b"abc"
    finally:
        os.close(r)
        os.close(w)
