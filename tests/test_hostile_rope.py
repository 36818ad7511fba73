"""Rope under hostile Python: a finalizer run by the cyclic GC inside one of
the Rope's own C allocations (gc.set_threshold(1) + a __del__ on cyclic
garbage) appends to, takes from, skips, flattens or exports the very Rope, or
moves the bytes of the ByteBuffer a segment came from.  Whatever it does,
the Rope must neither crash nor read outside live memory nor show other bytes
than the ones its segments were made for: the finalizer's mutation either
happens (before the call reads the Rope) or raises BufferError (the Rope is
pinned while the call holds its segments), and a segment whose bytes moved
raises StaleViewError.  Issue 13, rows 5-9 and 14, and the spots of the same
shape (slicing, tobytes, search, comparison, extend, join, +, +=).

On CPython 3.11 a collection runs inside the allocation that triggers it, so
every test here runs its finalizer inside the C call under test; each one
crashed, tripped ASan, or returned other bytes before the fix."""
import gc
import os
import sys

import pytest
from hypothesis import given, settings, strategies as st

import nocopy
from finalizers import Fired, inside
from nocopy import ByteBuffer, Rope, StaleViewError, View

# Tests that arm a finalizer need a collection *inside* the allocation that
# triggers it, which is how 3.11 collects; from 3.12 the collector waits for
# the eval loop, so there they could not fail and are skipped.  CI runs them
# on 3.11, plain, under ASan + UBSan and in GC-stress mode.
inline_gc = pytest.mark.skipif(
    sys.version_info >= (3, 12),
    reason="needs a collection inside the allocation that triggers it (3.11 and older)")

SOFT = (BufferError, ValueError, StaleViewError)
_THRESHOLD = gc.get_threshold()


@pytest.fixture(autouse=True)
def gc_every_allocation():
    old = gc.get_threshold()
    was = gc.isenabled()
    gc.collect()
    gc.enable()
    gc.set_threshold(1, 1 << 30, 1 << 30)  # only generation 0: the bombs are there
    try:
        yield
    finally:
        gc.set_threshold(*old)
        if not was:
            gc.disable()
        gc.collect()


class _Bomb:
    """Cyclic garbage: its __del__ runs the action inside whatever allocation
    starts the next collection.  Exceptions the action raises (BufferError
    from a pinned Rope, ...) are recorded, not left unraisable.  Slots: its
    creation is exactly one GC allocation (no instance dict), so arm() leaves
    the collector's count at exactly the threshold."""

    __slots__ = ("action", "log", "me")

    def __init__(self, action, log):
        self.action = action
        self.log = log
        self.me = self

    def __del__(self):
        self.log.note()
        try:
            self.log.append(("ok", self.action()))
        except SOFT as e:
            self.log.append(("raised", e))


def arm(action):
    """Arm one finalizer; returns the log it fills when it runs.  After the
    collection the GC count is 0; the bomb makes it 1, so the next GC
    allocation (the first one inside the call under test: call it straight
    after, with the method fetched beforehand) collects and runs it."""
    log = Fired(depth=1)  # see tests/finalizers.py: inside(log) checks where it ran
    gc.disable()  # no collection while the bomb is made: it must stay in generation 0
    gc.collect(0)  # (generation 0 only: cheap, and it zeroes the count)
    _Bomb(action, log)
    gc.enable()
    return log


def parts_n(n, size=10, kind=bytes):
    return [kind(bytes([97 + i % 26]) * size) for i in range(n)]


def joined(parts):
    return b"".join(bytes(p) for p in parts)


# ---- row 5: segments() --------------------------------------------------------------


@inline_gc
def test_segments_finalizer_appends():
    parts = parts_n(8, kind=bytearray)  # array exactly full: an append reallocates it
    r = Rope(parts)
    before = bytes(r)
    log = arm(lambda: r.append(b"X" * 100))
    segs = r.segments()
    inside(log)
    assert b"".join(bytes(v) for v in segs) == bytes(r)
    assert bytes(r) in (before, before + b"X" * 100)


@inline_gc
def test_segments_finalizer_takes():
    r = Rope(parts_n(8, kind=bytearray))
    log = arm(lambda: r.take(len(r) - 5))
    segs = r.segments()
    inside(log)
    assert b"".join(bytes(v) for v in segs) == bytes(r)


@inline_gc
def test_segments_of_a_segment_that_goes_stale_meanwhile():
    b = ByteBuffer(64)
    b.write(b"original-bytes")
    r = Rope([b"head:", b.peek()])

    def move():
        b.clear()
        b.write(b"OTHER-BYTES!!!")
    log = arm(move)
    try:
        segs = r.segments()
    except StaleViewError:
        inside(log)
        return
    inside(log)
    try:
        got = b"".join(bytes(v) for v in segs)
    except StaleViewError:
        return
    assert got == b"head:original-bytes"


# ---- rows 6, 7: flatten(), frozen(), tobytes() ----------------------------------------


@inline_gc
@pytest.mark.parametrize("method", ["flatten", "frozen"])
def test_copy_finalizer_appends(method):
    r = Rope(parts_n(6, kind=bytearray))
    before = bytes(r)
    f = getattr(r, method)
    log = arm(lambda: r.append(bytearray(b"Y" * 100000)))
    out = f()
    inside(log)
    assert bytes(out) == bytes(r)
    assert bytes(r) in (before, before + b"Y" * 100000)


@inline_gc
@pytest.mark.parametrize("method", ["flatten", "frozen"])
def test_copy_of_a_segment_that_goes_stale_meanwhile(method):
    b = ByteBuffer(64)
    b.write(b"0123456789")
    r = Rope([b.peek(), bytearray(b"-tail")])

    def move():
        b.clear()
        b.write(b"abcdefghij")
    f = getattr(r, method)
    log = arm(move)
    try:
        out = bytes(f())
    except StaleViewError:
        inside(log)
        return
    inside(log)
    assert out == b"0123456789-tail"


# ---- row 8: coalescing at max_segments -------------------------------------------------


@inline_gc
def test_coalesce_finalizer_appends():
    r = Rope(max_segments=4)
    model = b""
    for p in parts_n(4, size=3, kind=bytearray):
        r.append(p)
        model += bytes(p)
    extra = [bytearray(b"Z" * 5) for _ in range(12)]  # enough to reallocate the array
    log = arm(lambda: r.extend(extra))
    # a bytes part allocates nothing: the first allocation is the merged block
    r.append(b"QQQ")
    inside(log)
    ok = [e for e in log if e[0] == "ok"]
    assert bytes(r) == model + b"QQQ" + b"Z" * 60 * len(ok)
    assert len(r) == len(bytes(r))


@inline_gc
def test_coalesce_finalizer_takes():
    r = Rope(max_segments=4)
    model = b""
    for p in parts_n(4, size=3, kind=bytearray):
        r.append(p)
        model += bytes(p)
    log = arm(lambda: r.take(7))
    r.append(b"QQQ")
    inside(log)
    ok = [e for e in log if e[0] == "ok"]
    assert bytes(r) == (model + b"QQQ")[7 * len(ok):]
    assert len(r) == len(bytes(r))


@inline_gc
def test_coalesce_never_copies_a_segment_that_goes_stale_meanwhile():
    b = ByteBuffer(64)
    b.write(b"abcdef")
    r = Rope(max_segments=4)
    r.append(b.peek())
    for p in parts_n(3, size=3, kind=bytearray):
        r.append(p)

    def move():
        b.clear()
        b.write(b"XXXXXX")
    log = arm(move)
    r.append(b"QQQ")
    inside(log)
    # the ByteBuffer moved its bytes: the Rope must say so, not show "XXXXXX"
    # (nor keep a copy of them as if they were the segment's)
    try:
        data = bytes(r)
    except StaleViewError:
        return
    assert data.startswith(b"abcdef")


# ---- row 9: take() ---------------------------------------------------------------


@inline_gc
def test_take_finalizer_skips_everything():
    r = Rope(parts_n(4))
    n = len(r) - 2
    log = arm(lambda: r.skip(len(r)))
    try:  # (pytest.raises would allocate, and so run the finalizer, first)
        r.take(n)
    except ValueError:
        pass
    else:
        pytest.fail("take() of more than the Rope now holds did not raise")
    inside(log)
    assert len(r) == 0 and bytes(r) == b""


@inline_gc
def test_take_finalizer_exports():
    r = Rope(parts_n(4, kind=bytearray))
    before = bytes(r)
    held = []
    log = arm(lambda: held.append(memoryview(r)))
    try:
        r.take(len(r) - 1)
    except BufferError:
        pass
    else:
        pytest.fail("take() of an exported Rope did not raise BufferError")
    inside(log)
    assert held
    assert bytes(held[0]) == before
    held[0].release()


@inline_gc
def test_take_finalizer_appends():
    r = Rope(parts_n(8))
    before = bytes(r)
    log = arm(lambda: r.append(b"W" * 33))
    t = r.take(20)
    inside(log)
    assert bytes(t) == before[:20]
    assert bytes(r) == before[20:] + b"W" * 33
    assert len(r) == len(bytes(r))


# ---- slicing --------------------------------------------------------------------------


@inline_gc
def test_slice_finalizer_skips():
    r = Rope(parts_n(8))
    log = arm(lambda: r.skip(len(r) - 4))
    s = r[10:70]
    inside(log)
    assert bytes(s) == bytes(r)[10:70]


class _Idx:
    def __init__(self, n, action):
        self.n = n
        self.action = action

    def __index__(self):
        self.action()
        return self.n


def test_slice_index_mutates():
    r = Rope(parts_n(8))
    s = r[_Idx(5, lambda: r.skip(len(r) - 3)):_Idx(60, lambda: None)]
    assert bytes(s) == bytes(r)[5:60]


# ---- row 14: segments carry the source View's epoch -------------------------------------


class _Writer:
    def __init__(self, on_write=None):
        self.out = bytearray()
        self.on_write = on_write

    def write(self, data):
        n = len(data)
        self.out += bytes(data)
        if self.on_write is not None:
            self.on_write()
        return n


@inline_gc
def test_write_to_writer_segment_goes_stale_during_allocation():
    b = ByteBuffer(64)
    b.write(b"payload-one")
    r = Rope([b"<", b"(", b.peek(), b">"])

    def move():
        b.clear()
        b.write(b"PAYLOAD-TWO")
    logs = []
    # armed from the first write(): the finalizer runs in the allocation of
    # the next segment's View, inside write_to
    w = _Writer(lambda: logs or logs.append(arm(move)))
    try:
        r.write_to(w)
    except StaleViewError:
        return
    assert logs and logs[0]
    assert bytes(w.out) == b"<(payload-one>"


def test_write_to_writer_moves_the_buffer_between_segments():
    b = ByteBuffer(64)
    b.write(b"first")
    v1 = b.read(5)
    b.write(b"second")
    v2 = b.peek()
    r = Rope([v1, b"|", v2])

    def move():
        if b.readable:
            b.clear()
            b.write(b"XXXXXXXXXXX")
    w = _Writer(move)
    try:
        r.write_to(w)
    except StaleViewError:
        assert bytes(w.out) in (b"first", b"first|")
        return
    assert bytes(w.out) == b"first|second"


def test_write_to_stale_before_the_call():
    b = ByteBuffer(64)
    b.write(b"abc")
    r = Rope([b.peek()])
    b.clear()
    b.write(b"xyz")
    w = _Writer()
    with pytest.raises(StaleViewError):
        r.write_to(w)
    assert w.out == b""
    rfd, wfd = os.pipe()
    try:
        with pytest.raises(StaleViewError):
            r.write_to(wfd)
    finally:
        os.close(rfd)
        os.close(wfd)


def test_segment_of_a_stale_view_is_stale():
    b = ByteBuffer(64)
    b.write(b"abcdef")
    v = b.peek()
    b.clear()
    b.write(b"uvwxyz")
    with pytest.raises(StaleViewError):
        Rope([v])
    # a Rope taken before the move goes stale with it, in every reading path
    b2 = ByteBuffer(64)
    b2.write(b"abcdef")
    r = Rope([b2.peek(), b"!"])
    b2.clear()
    b2.write(b"uvwxyz")
    for f in (bytes, lambda x: x.flatten(), lambda x: x.frozen(), lambda x: x.segments(),
              lambda x: x.find(b"w"), lambda x: x == b"uvwxyz!", lambda x: x.startswith(b"u"),
              lambda x: b"u" in x, lambda x: x[0], lambda x: list(x), lambda x: memoryview(x)):
        with pytest.raises(StaleViewError):
            f(r)


# ---- search, comparison ---------------------------------------------------------------


@pytest.mark.parametrize("method", ["find", "rfind", "count", "startswith", "endswith"])
def test_search_index_argument_mutates(method):
    r = Rope(parts_n(8))
    n = len(r)
    res = getattr(r, method)(b"ab", _Idx(2, lambda: r.skip(n - 5)), _Idx(n, lambda: None))
    assert res == getattr(bytes(r), method)(b"ab", 2, n)


@pytest.mark.parametrize("method,sub,expect", [
    ("startswith", [b"<he", bytearray(b"llo")], True),
    ("endswith", [b"wor", bytearray(b"ld")], True),
    ("find", [b"wor", bytearray(b"ld")], 7),
    ("count", [b"l", bytearray(b"o")], 2),
])
@inline_gc
def test_search_with_a_rope_argument_that_moves_a_buffer(method, sub, expect):
    """The argument's export flattens it: that allocation runs a finalizer
    that moves the ByteBuffer under r's segment.  r is checked after it."""
    b = ByteBuffer(64)
    b.write(b"hello world")
    r = Rope([b"<", b.peek()])
    sub = Rope(sub)

    def move():
        b.clear()
        b.write(b"XXXXXXXXXXX")
    f = getattr(r, method)
    log = arm(move)
    try:
        res = f(sub)
    except StaleViewError:
        inside(log)
        return
    inside(log)
    assert res == expect


# ---- building -------------------------------------------------------------------------


def test_extend_generator_mutates_the_rope():
    r = Rope(parts_n(3))

    def gen():
        for i in range(20):
            if i % 3 == 0:
                r.append(b"g" * 7)
            elif i % 3 == 1 and len(r) > 4:
                r.take(4)
            yield bytearray(b"p%d" % i)
    r.extend(gen())
    assert len(r) == len(bytes(r))
    assert bytes(r).endswith(b"".join(b"p%d" % i for i in range(20)))


@inline_gc
def test_extend_and_join_and_add_with_finalizers():
    r = Rope(parts_n(8, kind=bytearray))
    for op in (lambda: r.extend([bytearray(b"e1"), memoryview(b"e2")]),
               lambda: Rope.join([r, bytearray(b"j")]),
               lambda: r + bytearray(b"+"),
               lambda: bytearray(b"+") + r):
        before = bytes(r)
        log = arm(lambda: r.append(b"F" * 9))
        res = op()
        inside(log)
        assert len(r) == len(bytes(r))
        if res is not None:
            assert bytes(res) in (before + b"e1e2", before + b"j", before + b"+",
                                  b"+" + before, before + b"F" * 9 + b"j",
                                  before + b"F" * 9 + b"+", b"+" + before + b"F" * 9)


@inline_gc
def test_inplace_add_with_finalizer():
    r = Rope(parts_n(8, kind=bytearray))
    before = bytes(r)
    log = arm(lambda: r.take(3))
    r += bytearray(b"++")
    inside(log)
    assert bytes(r) == before[3:] + b"++"


def test_rope_type_is_immutable():
    with pytest.raises(TypeError):
        Rope.find = lambda *a: 0
    with pytest.raises(TypeError):
        Rope.extra = 1


# ---- hypothesis: random ops with a hostile finalizer, against joined bytes --------------

OPS = st.lists(st.tuples(
    st.sampled_from(["append", "append_bb", "extend", "take", "skip", "flatten", "frozen",
                     "tobytes", "segments", "slice", "find", "count", "eq", "iadd", "export"]),
    st.sampled_from(["none", "append", "take", "skip", "flatten", "export", "move"]),
    st.integers(0, 40)), max_size=25)


# cheap examples (about 2 ms each): more of them than the profile's default
@inline_gc
@settings(max_examples=max(1000, settings.default.max_examples))
@given(OPS)
def test_random_ops_with_hostile_finalizer(ops):
    # collections at every allocation only inside the example: hypothesis's
    # own work between examples would be slowed down 10x for nothing
    gc.set_threshold(1, 1 << 30, 1 << 30)  # only generation 0: the bombs are there
    try:
        _random_ops(ops)
    finally:
        gc.set_threshold(*_THRESHOLD)


def _random_ops(ops):
    """Each op runs with one armed finalizer.  The finalizer's mutation takes
    effect before the op reads the Rope, or after it, or raises BufferError
    (pinned): the Rope must equal the model under one of those orders, every
    result must match that model, and a moved ByteBuffer segment raises
    StaleViewError -- never other bytes."""
    bufs = []
    r = Rope(max_segments=6)
    model = b""
    held = []

    def fin_action(kind, n):
        if kind == "append":
            r.append(bytearray(b"F" * (n % 5 + 1)))
            return ("append", b"F" * (n % 5 + 1))
        if kind == "take":
            k = min(n, len(r))
            return ("take", bytes(r.take(k)))
        if kind == "skip":
            k = min(n, len(r))
            r.skip(k)
            return ("skip", k)
        if kind == "flatten":
            r.flatten()
            return ("flatten",)
        if kind == "export":
            held.append(memoryview(r))
            return ("export",)
        if kind == "move":
            for b in bufs:
                b.clear()
                b.write(b"?" * 8)
            return ("move",)
        return None

    def apply(m, ev):
        if ev is None or ev[0] in ("flatten", "export", "move"):
            return m
        if ev[0] == "append":
            return m + ev[1]
        if ev[0] == "take":
            assert ev[1] == m[:len(ev[1])]
            return m[len(ev[1]):]
        return m[ev[1]:]

    for op, fin, n in ops:
        for mv in held:
            mv.release()
        held.clear()
        stale_possible = fin == "move" and bufs
        log = None  # (rebinding a list here would free one after arm(): count - 1)

        def events():
            return [e[1] for e in log if e[0] == "ok" and e[1] is not None]
        action = (lambda: fin_action(fin, n))
        # nothing that allocates between arm() and the op: the finalizer
        # must run inside the op
        log = arm(action)
        try:
            if op == "append":
                part = bytes([65 + n % 26]) * (n % 7 + 1)
                r.append(part)
                res, expect = None, lambda m: (m + part, None)
            elif op == "append_bb":
                b = ByteBuffer(16)
                b.write(b"%08d" % n)
                bufs.append(b)
                r.append(b.peek())
                res, expect = None, lambda m: (m + b"%08d" % n, None)
            elif op == "extend":
                ps = [bytearray(b"e" * (n % 3 + 1)), b"x", memoryview(b"yz")]
                r.extend(ps)
                res, expect = None, lambda m: (m + joined(ps), None)
            elif op == "iadd":
                r += bytearray(b"+" * (n % 3 + 1))
                res, expect = None, lambda m: (m + b"+" * (n % 3 + 1), None)
            elif op == "take":
                k = min(n, len(r))
                res = bytes(r.take(k))
                expect = lambda m: (m[k:], m[:k]) if k <= len(m) else None  # noqa: E731
            elif op == "skip":
                k = min(n, len(r))
                r.skip(k)
                res, expect = None, lambda m: (m[k:], None) if k <= len(m) else None
            elif op in ("flatten", "frozen", "tobytes"):
                res = bytes(getattr(r, op)())
                expect = lambda m: (m, m)  # noqa: E731
            elif op == "segments":
                res = b"".join(bytes(v) for v in r.segments())
                expect = lambda m: (m, m)  # noqa: E731
            elif op == "slice":
                res = bytes(r[n % 7:n])
                expect = lambda m: (m, m[n % 7:n])  # noqa: E731
            elif op == "find":
                res = r.find(b"F+"[n % 2:], n % 5)
                expect = lambda m: (m, m.find(b"F+"[n % 2:], n % 5))  # noqa: E731
            elif op == "count":
                res = r.count(b"e")
                expect = lambda m: (m, m.count(b"e"))  # noqa: E731
            elif op == "eq":
                res = r == bytearray(model)
                expect = lambda m: (m, m == model)  # noqa: E731
            else:
                mv = memoryview(r)
                res = bytes(mv)
                mv.release()
                expect = lambda m: (m, m)  # noqa: E731
        except (BufferError, ValueError):
            # the finalizer exported, or shortened the Rope first
            res, expect = "raised", None
        except StaleViewError:
            assert stale_possible or any(e[0] == "move" for e in events())
            return  # the ByteBuffer segments are gone stale for good
        gc.collect(0)  # a finalizer not run inside the op runs now: "after"
        evs = events()
        # candidate orders: the finalizer's effect before the op's, or after
        cands = []

        def replay(m, evs):
            for ev in evs:
                m = apply(m, ev)  # AssertionError: not a possible order
            return m
        try:
            m_before = replay(model, evs)
            if expect is None:
                cands.append((m_before, "raised"))
            elif expect(m_before) is not None:
                cands.append(expect(m_before))
        except AssertionError:
            pass
        if expect is not None and expect(model) is not None:
            m_op, r_op = expect(model)
            try:
                cands.append((replay(m_op, evs), r_op))
            except AssertionError:
                pass
        try:
            now = bytes(r)
        except StaleViewError:
            assert any(e[0] == "move" for e in evs) or stale_possible
            return
        assert (now, res) in cands, (op, fin, n, now, res, cands)
        assert len(r) == len(now)
        model = now
        if any(e[0] == "move" for e in evs):
            return
    for mv in held:
        mv.release()


def test_module_exports():
    assert nocopy.Rope is Rope
