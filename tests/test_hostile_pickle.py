"""Pickling and copying under hostile Python: a finalizer run by the cyclic GC
inside one of __reduce_ex__/__copy__/__deepcopy__'s own allocations (or the
protocol argument's __index__) releases the View, mutates the Rope, or moves
the ByteBuffer being pickled.  The call must neither crash nor read freed
memory nor pickle other bytes than the object shows: it raises (ValueError
for a released View, StaleViewError for moved bytes, BufferError inside the
finalizer for a pinned Rope) or returns a pickle of a consistent state.

On CPython 3.11 a collection runs inside the allocation that triggers it, so
each armed test runs its finalizer inside the C call under test (asserted
through the log); from 3.12 they are skipped (see tests/test_hostile_rope.py)."""
import copy
import gc
import pickle
import sys

import pytest

from finalizers import Fired, inside
from nocopy import ByteBuffer, Rope, StaleViewError, View

inline_gc = pytest.mark.skipif(
    sys.version_info >= (3, 12),
    reason="needs a collection inside the allocation that triggers it (3.11 and older)")

SOFT = (BufferError, ValueError, StaleViewError)


@pytest.fixture(autouse=True)
def gc_every_allocation():
    old = gc.get_threshold()
    was = gc.isenabled()
    gc.collect()
    gc.enable()
    gc.set_threshold(1, 1 << 30, 1 << 30)
    try:
        yield
    finally:
        gc.set_threshold(*old)
        if not was:
            gc.disable()
        gc.collect()


class _Bomb:
    """Cyclic garbage whose __del__ runs `action` inside the next GC
    allocation (tests/test_hostile_rope.py's pattern)."""

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
    log = Fired(depth=1)  # see tests/finalizers.py: inside(log) checks where it ran
    gc.disable()
    gc.collect(0)
    _Bomb(action, log)
    gc.enable()
    return log


def loads_oob(reduced):
    """Load a __reduce_ex__ result the way pickle would, in process."""
    func, args = reduced[0], reduced[1]
    return func(*args)


# ---- View --------------------------------------------------------------------------------


@inline_gc
def test_view_released_inside_reduce():
    v = View(bytearray(b"payload"))
    f = v.__reduce_ex__
    err = None
    log = arm(v.release)
    try:  # (pytest.raises would allocate, and so run the finalizer, first)
        f(5)
    except ValueError as e:
        err = e
    inside(log)
    assert "released" in str(err)
    assert log == [("ok", None)]


@inline_gc
def test_borrowed_view_moved_inside_reduce():
    b = ByteBuffer(32)
    b.write(b"original")
    v = b.peek()

    def move():
        b.clear()
        b.write(b"OTHER!!!")
    f = v.__reduce_ex__
    err = None
    log = arm(move)
    try:  # (pytest.raises would allocate, and so run the finalizer, first)
        f(5)
    except StaleViewError as e:
        err = e
    inside(log)
    assert isinstance(err, StaleViewError)


@inline_gc
def test_view_deepcopy_source_moved_meanwhile():
    b = ByteBuffer(32)
    b.write(b"original")
    v = b.peek()

    def move():
        b.clear()
        b.write(b"OTHER!!!")
    f = v.__deepcopy__
    log = arm(move)
    try:
        d = f({})
    except StaleViewError:
        inside(log)
        return
    inside(log)
    assert d == b"original"  # copied before the move, or refused: never OTHER


class _Releasing(View):
    """A subclass whose __getstate__ releases or moves the View under it."""

    def __getstate__(self):
        self.action()
        return None


@pytest.mark.parametrize("proto", [0, 4, 5])
def test_subclass_getstate_releases_or_moves(proto):
    v = _Releasing(bytearray(b"payload"))
    v.action = v.release
    with pytest.raises(ValueError, match="released"):
        v.__reduce_ex__(proto)
    b = ByteBuffer(32)
    b.write(b"original")
    w = _Releasing(b.peek())

    def move():
        b.clear()
        b.write(b"OTHER!!!")
    w.action = move
    with pytest.raises(StaleViewError):
        w.__reduce_ex__(proto)
    w = _Releasing(b.peek())
    w.action = move
    c = copy.copy(w)  # made before __getstate__ moved: stale with its source
    with pytest.raises(StaleViewError):
        bytes(c)
    b.write(b"more")
    w = _Releasing(b.peek())
    w.action = move
    assert copy.deepcopy(w) == b"OTHER!!!more"  # copied before the move


@pytest.mark.parametrize("proto", [0, 4, 5])
def test_protocol_index_releases_or_moves(proto):
    class Proto:
        def __init__(self, action):
            self.action = action

        def __index__(self):
            self.action()
            return proto

    v = View(b"abc")
    with pytest.raises(ValueError, match="released"):
        v.__reduce_ex__(Proto(v.release))
    b = ByteBuffer(32)
    b.write(b"original")
    w = b.peek()

    def move():
        b.clear()
        b.write(b"OTHER!!!")
    with pytest.raises(StaleViewError):
        w.__reduce_ex__(Proto(move))
    # the ByteBuffer pickles the state the __index__ left it in
    red = b.__reduce_ex__(Proto(lambda: b.consume(3)))
    assert loads_oob(red).peek() == b"ER!!!" == b.peek()
    r = Rope([b"ab"])
    red = r.__reduce_ex__(Proto(lambda: r.append(b"cd")))
    assert loads_oob(red) == b"abcd" and loads_oob(red).nsegments == 2


# ---- Rope ------------------------------------------------------------------------------------


@inline_gc
@pytest.mark.parametrize("proto", [4, 5])
def test_rope_mutated_inside_reduce_is_pinned(proto):
    # more segments than the tuple freelist serves: the parts tuple is a
    # GC allocation, where the finalizer runs
    r = Rope([bytearray(b"one"), b"two", View(b"xthreex", 1, 6)] * 9)
    before = bytes(r)
    f = r.__reduce_ex__
    log = arm(lambda: r.append(b"four"))
    red = f(proto)
    inside(log)
    assert log[0][0] == "raised" and isinstance(log[0][1], BufferError)
    assert loads_oob(red) == before == bytes(r)


@inline_gc
@pytest.mark.parametrize("proto", [4, 5])
def test_rope_segment_moved_inside_reduce(proto):
    b = ByteBuffer(32)
    b.write(b"0123456789")
    r = Rope([bytearray(b"head:")] * 24 + [b.peek()])

    def move():
        b.clear()
        b.write(b"abcdefghij")
    f = r.__reduce_ex__
    log = arm(move)
    try:
        red = f(proto)
    except StaleViewError:
        inside(log)
        return
    inside(log)
    assert loads_oob(red) == b"head:" * 24 + b"0123456789"


@inline_gc
def test_rope_copy_while_finalizer_appends():
    r = Rope([bytearray(b"one"), b"two"])
    f = r.__copy__
    log = arm(lambda: r.append(b"three"))
    c = f()
    inside(log)
    assert bytes(c) == bytes(r) or bytes(c) == b"onetwo"


@inline_gc
def test_rope_deepcopy_segment_moved_meanwhile():
    b = ByteBuffer(32)
    b.write(b"0123456789")
    r = Rope([b.peek(), bytearray(b"-tail")])

    def move():
        b.clear()
        b.write(b"abcdefghij")
    f = r.__deepcopy__
    log = arm(move)
    try:
        d = f({})
    except StaleViewError:
        inside(log)
        return
    inside(log)
    assert d == b"0123456789-tail"


# ---- ByteBuffer ------------------------------------------------------------------------------


@inline_gc
@pytest.mark.parametrize("proto", [4, 5])
def test_bytebuffer_moved_inside_reduce(proto):
    b = ByteBuffer(16)
    b.write(b"0123456789")

    def move():
        b.consume(10)
        b.write(b"abcdefghijklmnop")  # a compaction or a move to fresh storage
    f = b.__reduce_ex__
    log = arm(move)
    red = f(proto)
    inside(log)
    got = loads_oob(red).peek()
    assert got in (b"0123456789", b"abcdefghijklmnop")
    if got == b"0123456789":  # exported before the move: those bytes stayed put
        assert b.peek() == b"abcdefghijklmnop"


@inline_gc
def test_bytebuffer_copy_while_moved():
    b = ByteBuffer(16)
    b.write(b"0123456789")

    def move():
        b.clear()
        b.write(b"ZZZZ")
    f = b.__copy__
    log = arm(move)
    c = f()
    inside(log)
    assert c.peek() in (b"0123456789", b"ZZZZ")
    assert c.capacity == 16


def test_pickled_bytebuffer_survives_every_mutation_while_pending():
    b = ByteBuffer(16, headroom=4)
    b.write(b"0123456789")
    bufs = []
    data = pickle.dumps(b, protocol=5, buffer_callback=bufs.append)
    for op in (lambda: b.consume(4), b.compact, lambda: b.prepend(b"pp"), b.clear,
               lambda: b.write(b"x" * 16)):
        op()
    assert pickle.loads(data, buffers=bufs).peek() == b"0123456789"
    # a copy of the pending PickleBuffer's bytes is also right after the moves
    assert bytes(bufs[0].raw()) == b"0123456789"
    assert copy.copy(b).peek() == b.peek()


def test_pending_pickle_buffer_and_take_bytes():
    b = ByteBuffer(16, storage="bytes")
    b.write(b"0123456789")
    bufs = []
    data = pickle.dumps(b, protocol=5, buffer_callback=bufs.append)
    taken = b.take_bytes()  # the export pins the storage: take_bytes copies instead
    b.write(b"abcdefghijklmnop")
    assert taken == b"0123456789"
    assert pickle.loads(data, buffers=bufs).peek() == b"0123456789"
    assert bytes(bufs[0].raw()) == b"0123456789"
