"""Hostile Python against the C methods of nocopy.io.MemoryReader
(memcursor.c: iteration, readline, readlines, read, read1).

Two ways in: an argument whose __index__ acts on the reader (runs on every
Python), and a finalizer run by a collection inside the method's own
allocation (gc.set_threshold(1) plus an object in a cycle; CPython 3.11
collects inside the allocation, later versions at the next eval-loop check,
so the `gc_trap` tests are skipped there: see conftest.py).  The actions:
close the reader, seek it, open it again on another buffer, release or
retarget its own View (reachable as r._view).  Whatever they do, the method
returns bytes of the buffer it read (or a clean exception), never freed
memory, and the reader's state afterwards is the action's."""
import gc
import io

import pytest

from finalizers import inside
from nocopy import View
from nocopy.io import MemoryReader

CONTENT = b"".join(b"line %d\n" % i for i in range(40))


# gc_trap (conftest.py) and inside(): see tests/finalizers.py


CALLS = {
    "next": next,
    "readline": lambda r: r.readline(),
    "readline_n": lambda r: r.readline(4),
    "readlines": lambda r: r.readlines(),
    "readlines_hint": lambda r: r.readlines(20),
    "read": lambda r: r.read(),
    "read_n": lambda r: r.read(30),
    "read1": lambda r: r.read1(12),
}


def _oracle(meth, start):
    o = io.BytesIO(CONTENT)
    o.seek(start)
    res = CALLS[meth](o)
    return res, o.tell()


def _norm(res):
    return [bytes(x) for x in res] if type(res) is list else bytes(res)


@pytest.mark.parametrize("views", [True, False])
@pytest.mark.parametrize("meth", sorted(CALLS))
def test_collection_inside_the_call_closes_the_reader(gc_trap, meth, views):
    """The reader is closed by a finalizer during the method's allocation:
    the method finishes on the buffer (the result holds the holder) and
    returns what io.BytesIO returns; the reader is closed afterwards, and the
    buffer is unpinned once the result goes.  With views=False the results
    are bytes, which the collector does not track: their allocation never
    collects, so only readlines (its list, once CPython's list free list is
    emptied) can run the trap inside the call; for the others it fires
    after the call, and the result must be right all the same."""
    buf = bytearray(CONTENT)
    r = MemoryReader(buf, views=views)
    r.seek(9)
    want, _ = _oracle(meth, 9)
    lists = [[] for _ in range(100)]  # noqa: F841 -- the next list is a GC allocation
    in_call = views or meth.startswith("readlines")
    fired = gc_trap(r.close)
    res = CALLS[meth](r)
    hit = inside(fired) if in_call else bool(fired)
    gc.set_threshold(700)
    gc.collect()
    assert hit or not in_call
    assert fired and r.closed and _norm(res) == _norm(want)
    assert all(type(x) is (View if views else bytes) for x in (res if type(res) is list else [res]))
    with pytest.raises(ValueError, match="closed file"):
        r.readline()
    del res
    buf.append(0)  # nothing pins it any more


@pytest.mark.parametrize("meth", sorted(CALLS))
def test_collection_inside_the_call_seeks_the_reader(gc_trap, meth):
    """A seek made by a finalizer during the call: the method returns the
    bytes at the position it read; the position afterwards is the later of
    the two moves (the method's is made before its allocation, readlines'
    at the end of its loop, only forward)."""
    r = MemoryReader(bytearray(CONTENT))
    r.seek(9)
    want, want_pos = _oracle(meth, 9)
    fired = gc_trap(lambda: r.seek(2))
    res = CALLS[meth](r)
    inside(fired)
    gc.set_threshold(700)
    assert _norm(res) == _norm(want)
    # readlines moves the position forward to where its loop stopped, over
    # the seek; the others moved it before the seek ran
    assert r.tell() == (want_pos if meth.startswith("readlines") else 2)


@pytest.mark.parametrize("meth", sorted(CALLS))
def test_collection_inside_the_call_reopens_the_reader(gc_trap, meth):
    """The reader re-initialised on another buffer mid-call: the result is
    the old buffer's bytes, the reader reads the new one from 0 after."""
    r = MemoryReader(bytearray(CONTENT))
    r.seek(9)
    want, _ = _oracle(meth, 9)
    fired = gc_trap(lambda: r.__init__(b"other\nbuffer\n"))
    res = CALLS[meth](r)
    inside(fired)
    gc.set_threshold(700)
    assert _norm(res) == _norm(want)
    r.seek(0)
    assert r.readline() == b"other\n" and list(r) == [b"buffer\n"]


@pytest.mark.parametrize("meth", sorted(CALLS))
def test_collection_inside_the_call_releases_the_readers_view(gc_trap, meth):
    """r._view.release() mid-call: the method returns the right bytes or
    (readlines, which re-checks the View every line) the released-View
    ValueError; later calls raise it, nothing crashes."""
    r = MemoryReader(bytearray(CONTENT))
    r.seek(9)
    want, _ = _oracle(meth, 9)
    fired = gc_trap(lambda: r._view.release())
    try:
        res = CALLS[meth](r)
    except ValueError as e:
        inside(fired)
        assert meth.startswith("readlines") and "released" in str(e)
    else:
        inside(fired)
        assert _norm(res) == _norm(want)
    finally:
        gc.set_threshold(700)
    with pytest.raises(ValueError, match="released"):
        r.readline()


@pytest.mark.parametrize("meth", sorted(CALLS))
def test_collection_inside_the_call_retargets_the_readers_view(gc_trap, meth):
    """r._view shrunk to 5 bytes mid-call: nothing is read outside the new
    window afterwards (every line readlines makes after the shrink is inside
    it), and the reader reads the new window after."""
    r = MemoryReader(bytearray(CONTENT))
    r.seek(9)

    def shrink():
        r._view.stop = 5

    fired = gc_trap(shrink)
    res = CALLS[meth](r)
    inside(fired)
    gc.set_threshold(700)
    for piece in (res if type(res) is list else [res]):
        assert CONTENT.find(bytes(piece), 9) >= 9
    r.seek(0)
    assert r.read() == CONTENT[:5] and r.tell() == 5


# ---- arguments whose __index__ acts on the reader ---------------------------------

class Hostile:
    def __init__(self, action, n):
        self.action, self.n = action, n

    def __index__(self):
        self.action()
        return self.n


SIZED = ["read", "read1", "readline"]


@pytest.mark.parametrize("views", [True, False])
@pytest.mark.parametrize("meth", SIZED)
def test_index_that_reopens_the_reader(meth, views):
    r = MemoryReader(bytearray(CONTENT), views=views)
    r.seek(9)
    res = getattr(r, meth)(Hostile(lambda: r.__init__(b"abc\ndef\n", views=views), 5))
    assert bytes(res) == getattr(io.BytesIO(b"abc\ndef\n"), meth)(5)
    assert r.tell() == (4 if meth == "readline" else 5)


@pytest.mark.parametrize("meth", SIZED)
def test_index_that_releases_the_readers_view(meth):
    r = MemoryReader(bytearray(CONTENT))
    with pytest.raises(ValueError, match="released"):
        getattr(r, meth)(Hostile(lambda: r._view.release(), 3))
    assert r.tell() == 0


@pytest.mark.parametrize("meth", SIZED)
def test_index_that_shrinks_the_readers_view(meth):
    r = MemoryReader(bytearray(CONTENT))
    r.seek(3)

    def shrink():
        r._view.stop = 6

    res = getattr(r, meth)(Hostile(shrink, 100))
    assert bytes(res) == CONTENT[3:6] and r.tell() == 6
    assert r.read() == b"" and r.readline() == b"" and list(r) == [] and r.readlines() == []


@pytest.mark.parametrize("meth", ["readline", "read"])
def test_index_that_closes_then_reopens_on_a_freed_buffer(meth):
    """The old buffer's export goes while the argument is converted; the
    method reads the new one (state read after the conversion)."""
    old = bytearray(CONTENT)
    r = MemoryReader(old)

    def swap():
        r.close()
        old.extend(b"x" * 100000)  # unpinned: the old storage moves or is freed
        r.__init__(bytearray(b"fresh\nbytes\n"))

    res = getattr(r, meth)(Hostile(swap, 100))
    assert bytes(res) == (b"fresh\n" if meth == "readline" else b"fresh\nbytes\n")
