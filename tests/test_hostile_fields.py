"""Hostile Python against View.split_into and View.reslice: __index__ hooks
that release, move or mutate what the call works on, finalizers run by the
GC inside the allocation of a new field View (CPython 3.11 collects there:
see conftest), finalizers run when replaced or trailing items are dropped.
Nothing may crash, read freed or moved bytes, or move a View someone else
holds."""

import gcstress
import pytest

from finalizers import inside
from nocopy import ByteBuffer, StaleViewError, View


# gc_trap (conftest.py) and inside(): see tests/finalizers.py


class Hook:
    def __init__(self, action, value=-1):
        self.action, self.value = action, value

    def __index__(self):
        self.action()
        return self.value


def _scribble():
    return [bytearray(b"\xa5" * n) for n in (64, 128, 256, 512) for _ in range(8)]


def test_reslice_refuses_a_released_view():
    a = View(b"hello world")
    r = View(b"xyz")
    r.release()
    with pytest.raises(ValueError, match="released"):
        r.reslice(a, 0, 5)
    assert r.released
    s = View(b"abc")
    with pytest.raises(ValueError, match="released"):
        s.reslice(a, Hook(s.release, 0), 5)
    assert s.released


# ---- __index__ hooks -----------------------------------------------------------------------

def test_maxsplit_hook_releases_the_line():
    v = View(bytearray(b"a b c"))
    fields = [b"kept"]
    with pytest.raises(ValueError, match="released"):
        v.split_into(fields, None, Hook(v.release))
    assert fields == [b"kept"]


def test_maxsplit_hook_moves_bytebuffer_bytes():
    b = ByteBuffer(32)
    b.write(b"xx a b c")
    b.consume(2)
    line = b.peek()

    def move():
        b.consume(1)
        b.compact()

    fields = []
    with pytest.raises(StaleViewError):
        line.split_into(fields, None, Hook(move))
    assert fields == []


def test_maxsplit_hook_changes_the_list_first():
    v = View(bytearray(b"a b c"))
    outside = View(b"outside")
    fields = [View(b"x")]
    n = v.split_into(fields, None, Hook(lambda: fields.extend([outside, 3, outside])))
    assert n == 3 and fields == [b"a", b"b", b"c"]
    assert outside == b"outside"  # held here too: replaced, never moved


def test_sep_over_the_same_buffer():
    buf = bytearray(b"a,b,c|,")
    v = View(buf, 0, 5)
    fields = []
    assert v.split_into(fields, View(buf, 6, 7)) == 3 and fields == [b"a", b"b", b"c"]


def test_reslice_hooks():
    other = View(bytearray(b"hello world"))
    s = View(b"scratch")
    with pytest.raises(ValueError, match="released"):
        s.reslice(other, Hook(other.release, 1))
    assert s == b"scratch"
    # releasing the scratch itself: it stays released, as retarget's
    other = View(bytearray(b"hello world"))
    with pytest.raises(ValueError, match="released"):
        s.reslice(other, Hook(s.release, 6))
    assert s.released
    # an export of the scratch taken by the hook keeps it on its buffer
    t = View(bytearray(b"scratch"))
    held = []
    with pytest.raises(BufferError):
        t.reslice(other, Hook(lambda: held.append(memoryview(t)), 0))
    assert t == b"scratch" and bytes(held[0]) == b"scratch"
    # the other View's ByteBuffer moves its bytes: stale, not wrong
    b = ByteBuffer(32)
    b.write(b"xxhello")
    b.consume(2)
    v = b.peek()

    def move():
        b.consume(1)
        b.compact()

    with pytest.raises(StaleViewError):
        s.reslice(v, Hook(move, 1))


# ---- finalizers inside a new field View's allocation -------------------------------------------

def test_finalizer_clears_the_list(gc_trap):
    v = View(bytearray(b"one two three four"))
    fields = [View(b"x")]
    err = None
    fired = gc_trap(fields.clear)
    try:
        v.split_into(fields)
    except RuntimeError as e:
        err = e
    if inside(fired):
        assert "changed size" in str(err)
    junk = _scribble()
    assert all(isinstance(f, View) for f in fields)
    del junk


def test_finalizer_appends_to_the_list(gc_trap):
    v = View(bytearray(b"one two three"))
    outside = View(b"outside")
    fields = []
    fired = gc_trap(lambda: fields.append(outside))
    n = v.split_into(fields)  # not in an assert: pytest's rewrite allocates first
    inside(fired)
    assert n == 3
    assert fields == [b"one", b"two", b"three"] and outside == b"outside"


@pytest.mark.parametrize("held", [False, True], ids=["fresh", "held-field"])
@pytest.mark.parametrize("change", ["insert", "replace", "nested"])
def test_finalizer_changes_items_already_placed(gc_trap, change, held):
    # fields[0] is reused in place (no allocation); the allocation for
    # fields[1] runs the finalizer, which changes fields[0] without changing
    # the size the size check looks at (or, for the insert, in a way it
    # absorbs).  The result would be a wrong list with the right count.
    # held: the caller holds fields[1] (url = fields[6] in the log
    # processor), so it gets a new View; the trap drained the View free
    # list, so that one is allocated and collects -- split_into skips its
    # re-check only for a View from the free list, which runs no Python.
    v = View(bytearray(b"one two three"))
    fields = [View(bytearray(b"x"))] + ([View(bytearray(b"y"))] if held else [])
    kept = fields[1] if held else None
    actions = {
        "insert": lambda: fields.insert(0, b"INSERTED"),
        "replace": lambda: fields.__setitem__(0, b"REPLACED"),
        "nested": lambda: View(b"p q r s").split_into(fields),
    }
    fired = gc_trap(actions[change])
    err = None
    try:
        n = v.split_into(fields)
    except RuntimeError as e:
        err = e
    if inside(fired):
        assert err is not None and "changed during the split" in str(err)
    elif err is None:
        assert n == 3 and fields == [b"one", b"two", b"three"]
    junk = _scribble()
    assert v == b"one two three"
    del junk
    if held:
        assert kept == b"y"


def test_finalizer_changes_the_bytes_being_split(gc_trap):
    # the list untouched, the bytes changed: the re-check finds the pieces
    # (or their count) differ and says so
    ba = bytearray(b"a b c")
    v = View(ba)
    fields = []
    fired = gc_trap(lambda: ba.__setitem__(4, 0x20))
    err = None
    try:
        n = v.split_into(fields)
    except RuntimeError as e:
        err = e
    if inside(fired):
        assert err is not None and "bytes being split were changed" in str(err)
    elif err is None:
        assert n == len(fields) and fields == bytes(ba).split()


def test_finalizer_releases_the_line(gc_trap):
    v = View(bytearray(b"one two three"))
    fields = []
    fired = gc_trap(v.release)
    try:
        n = v.split_into(fields)
    except ValueError:  # stress mode: released before the call
        assert fired and gcstress.ENABLED
        return
    if not inside(fired):
        return
    junk = _scribble()
    assert v.released and n == 3
    assert fields == [b"one", b"two", b"three"]
    del junk


def test_finalizer_moves_bytebuffer_bytes(gc_trap):
    b = ByteBuffer(64)
    b.write(b"xxone two three")
    b.consume(2)
    line = b.peek()
    fields = []

    def move():
        b.consume(1)
        b.compact()

    err = None
    fired = gc_trap(move)
    try:
        line.split_into(fields)
    except StaleViewError as e:
        err = e
    if not inside(fired):
        return
    assert isinstance(err, StaleViewError)
    for f in fields:  # whatever was placed is stale, never showing moved bytes
        with pytest.raises(StaleViewError):
            bytes(f)


def test_finalizer_takes_a_reused_field(gc_trap):
    v = View(bytearray(b"one two three"))
    first = View(b"x")
    fields = [first]
    del first
    taken = []
    fired = gc_trap(lambda: taken.append(fields[0]))
    n = v.split_into(fields)
    assert n == 3
    if not inside(fired):
        return
    assert taken[0] is fields[0] and taken[0] == b"one"
    # now held twice: the next split replaces it and leaves it alone
    View(b"four five").split_into(fields)
    assert taken[0] == b"one" and fields == [b"four", b"five"]


# ---- finalizers of dropped items -----------------------------------------------------------------

def test_dropped_items_finalizers_run_after_the_split():
    fields = []
    log = []

    class Noisy(View):
        def __del__(self):
            # runs once split_into has placed everything: it sees the result
            log.append([bytes(f) for f in fields])
            fields.append(b"added by __del__")

    fields.extend([View(b"reused"), Noisy(b"n1"), Noisy(b"n2"), Noisy(b"n3")])
    n = View(bytearray(b"a b")).split_into(fields)
    assert n == 2
    assert log and all(entry[:2] == [b"a", b"b"] for entry in log)
    assert fields[:2] == [b"a", b"b"]


def test_moved_view_gives_its_old_export_back():
    a = bytearray(b"old buffer")
    fields = []
    View(a).split_into(fields)
    View(b"new pieces").split_into(fields)
    a.extend(b"!")  # BufferError if a View still held its export
    assert fields == [b"new", b"pieces"]


# ---- a View resliced onto another buffer, then reused by a ByteBuffer ------------------------
# ByteBuffer keeps and re-points Views (writable()'s, iterlines(reuse=True)'s) assuming that
# dropping their old holder runs no Python code.  reslice() can put any buffer there, one
# whose release runs a finalizer after the cursors were read: such a View must not be reused.

def test_writable_view_resliced_elsewhere_is_not_reused():
    bb = ByteBuffer(64)

    class Foreign(bytearray):
        def __del__(self):
            bb.write(b"y" * 40)  # moves the write window under the pending writable()

    v = bb.writable()
    v.reslice(View(Foreign(b"foreign")))
    del v
    w = bb.writable()
    assert len(bb) == 40
    assert len(w) == 24 and bytes(w) == bytes(24)  # only the free space, never past it
    w[:] = b"z" * 24


def test_iterlines_reuse_view_resliced_elsewhere_is_not_reused():
    bb = ByteBuffer(4096, storage="bytes")
    bb.write(b"first line\n" + b"x" * 2000 + b"\n" + b"rest\n")
    taken = []

    class Foreign(bytearray):
        def __del__(self):
            taken.append(bb.take_bytes())  # the storage leaves the buffer

    it = bb.iterlines(None, reuse=True)
    line = next(it)
    line.reslice(View(Foreign(b"foreign")))
    second = next(it)
    assert second is not line and bytes(second) == b"x" * 2000
    del line  # the finalizer runs now, outside the iterator
    assert taken == [b"rest\n"]
    with pytest.raises(StaleViewError):
        bytes(second)


def test_iterlines_spare_view_resliced_elsewhere_is_not_reused():
    bb = ByteBuffer(4096, storage="bytes")
    bb.write(b"l1\nl2\n" + b"x" * 2000 + b"\nrest\n")
    taken = []

    class Foreign(bytearray):
        def __del__(self):
            taken.append(bb.take_bytes())

    it = bb.iterlines(None)  # reuse=False recycles Views only it still holds
    a = next(it)
    b = next(it)
    a.reslice(View(Foreign(b"foreign")))
    del a
    # the recycled slot is let go (after the new View's allocation): its finalizer
    # takes the bytes, and the iterator sees them gone instead of reading freed storage
    with pytest.raises(StopIteration):
        next(it)
    assert taken == [b"x" * 2000 + b"\nrest\n"]
    with pytest.raises(StaleViewError):
        bytes(b)


def test_memoryreader_lines_reuse_after_the_caller_resliced_the_view():
    from nocopy.io import MemoryReader

    elsewhere = View(bytearray(b"SECRET-" * 10))
    r = MemoryReader(b"one\r\ntwo\r\nthree\r\n")  # a b"\r": the Python keepends loop
    out = []
    for line in r.lines(keepends=True, reuse=True):
        out.append(bytes(line))
        line.reslice(elsewhere)  # the loop View used as a scratch View
    assert out == [b"one\r\n", b"two\r\n", b"three\r\n"]


def test_itersplit_reuse_after_the_caller_resliced_the_view():
    elsewhere = View(bytearray(b"SECRET-" * 10))
    dropped = []

    class Foreign(bytearray):
        def __del__(self):
            dropped.append(True)

    out = []
    for piece in View(b"a b c d").itersplit(reuse=True):
        out.append(bytes(piece))
        piece.reslice(elsewhere if len(out) % 2 else View(Foreign(b"xyz")))
    assert out == [b"a", b"b", b"c", b"d"] and dropped == [True]
    assert bytes(elsewhere) == b"SECRET-" * 10
