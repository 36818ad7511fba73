"""Hostile Python against close() (issue 15 part 2): an __index__ argument
or a finalizer run by the GC inside a C allocation closes the View, or the
wrapped ByteBuffer, the call is working on -- and then closes the mmap under
it, so a read or write through a pointer taken before the close would fault
(SIGSEGV: the pages are unmapped), not just read stale bytes.

Outcomes allowed: the result bytes give for the content (the call finished
reading first), StaleViewError / ValueError("closed") (the call saw the
close), BufferError (the call held an export, so close() refused and the
mapping stayed).  The finalizer tests need CPython 3.11's collector (see
conftest.py: skipped on 3.12+, run by CI on 3.11 and under ASan)."""
import functools
import gc
import mmap
import operator
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

import nocopy.json
from finalizers import inside
from nocopy import ByteBuffer, Rope, StaleViewError, View
from nocopy.io import MemoryReader


# gc_trap (conftest.py) and inside(): see tests/finalizers.py


class _Idx:
    """An int whose __index__ first runs an action (once)."""

    def __init__(self, value, action):
        self.value = value
        self.action = action

    def __index__(self):
        action, self.action = self.action, None
        if action is not None:
            action()
        return self.value


class _Mapped:
    """A View over an anonymous mapping holding data, and the damage: close
    the View, then unmap (refused -- and the mapping kept -- while an export
    is held)."""

    def __init__(self, data, writable=False):
        self.mm = mmap.mmap(-1, max(len(data), 1))
        self.mm[:len(data)] = data
        self.view = View(self.mm)[:len(data)]
        self.base = self.view  # the holder is shared: closing any closes all
        self.closed = False

    def damage(self):
        try:
            self.view.close()
        except BufferError:
            return  # an export is held for the call: nothing closed
        self.mm.close()
        self.closed = True


_calls = [
    ("find", lambda i, j: (b"a", i, j)), ("rfind", lambda i, j: (b"ab", i, j)),
    ("count", lambda i, j: (b"a", i, j)), ("index", lambda i, j: (b"", i, j)),
    ("startswith", lambda i, j: ((b"x", b"a"), i, j)), ("endswith", lambda i, j: (b"b", i, j)),
    ("split", lambda i, j: (b"a", i)), ("rsplit", lambda i, j: (None, i)),
    ("expandtabs", lambda i, j: (i,)), ("center", lambda i, j: (i,)),
    ("ljust", lambda i, j: (i, b"*")), ("zfill", lambda i, j: (i,)),
    ("replace", lambda i, j: (b"a", b"XY", i)), ("__getitem__", lambda i, j: (slice(i, j),)),
    ("__mul__", lambda i, j: (i,)), ("hex", lambda i, j: (":", i)),
    ("translate", lambda i, j: (None, b"a")), ("join", lambda i, j: ([b"1", b"2"],)),
    ("strip", lambda i, j: ()), ("partition", lambda i, j: (b"a",)),
    ("splitlines", lambda i, j: ()), ("tobytes", lambda i, j: ()), ("lower", lambda i, j: ()),
]


def _materialize(r):
    if isinstance(r, View):
        return bytes(r)
    if isinstance(r, (list, tuple)):
        return type(r)(_materialize(x) for x in r)
    return r


def _expect(m, name, data, plain, fn):
    try:
        got = _materialize(fn())
    except StaleViewError:
        assert m.closed
        return
    except (ValueError, TypeError, OverflowError) as e:
        got = e
    if m.closed:
        # finished reading before the close: results must already be copies
        # or Views that are now stale
        if isinstance(got, Exception):
            return
    try:
        want = _materialize(getattr(data, name)(*plain))
    except Exception as e:  # noqa: BLE001 -- compared by type
        want = e
    if isinstance(got, Exception):
        assert type(got) is type(want), (got, want)
    else:
        assert got == want


@given(data=st.binary(max_size=40) | st.just(b"ab\tab a\nb ab"),
       call=st.sampled_from(_calls), i=st.integers(-6, 50), j=st.integers(-6, 50))
def test_view_methods_with_an_index_that_closes(data, call, i, j):
    """Every View method whose argument's __index__ closes the View and
    unmaps its memory raises StaleViewError (or, when it held an export,
    the close was refused); none reads the unmapped pages."""
    name, make_args = call
    m = _Mapped(data)
    args = make_args(_Idx(i, m.damage), j)
    plain = make_args(i, j)
    if not any(isinstance(a, _Idx) for a in args if not isinstance(a, slice)) and name != "__getitem__":
        m.damage()  # no index argument: close before the call
    if name == "__getitem__":
        args = (slice(_Idx(i, m.damage), j),)
    target = {"__getitem__": operator.getitem, "__mul__": operator.mul}.get(name)
    fn = functools.partial(target or getattr(View, name), m.view, *args)
    _expect(m, name, data, plain, fn)
    if not m.closed:
        m.view.close()
        m.mm.close()


_writers = {
    "setitem": lambda v, h: v.__setitem__(h, 65),
    "setitem_value": lambda v, h: v.__setitem__(0, _Idx(65, h.action)),
    "slice_assign": lambda v, h: v.__setitem__(slice(h, 3), b"ABC"),
    "copy_from": lambda v, h: v.copy_from(b"AB", h),
    "fill": lambda v, h: v.fill(_Idx(65, h.action)),
    "retarget": lambda v, h: v.retarget(h, 4),
    "set_start": lambda v, h: setattr(v, "start", h),
    "to_int": lambda v, h: v.to_int(_Idx(16, h.action)),
    "contains": lambda v, h: _Idx(65, h.action) in v,
    "format_into": lambda v, h: nocopy.format_into(v, h, b"%d", 5),
    "dumps_into": lambda v, h: nocopy.json.dumps_into([1], v, h),
}


@pytest.mark.parametrize("op", sorted(_writers))
def test_writes_with_an_index_that_closes(op):
    """A write whose index argument closes the View and unmaps it raises
    StaleViewError (a write into the unmapped pages would fault)."""
    m = _Mapped(b"abcdefgh")
    h = _Idx(1, m.damage)
    with pytest.raises((StaleViewError, BufferError)):
        _writers[op](m.view, h)
    if m.closed:
        assert m.view.closed
    else:
        m.view.close()
        m.mm.close()


def test_json_default_closing_the_target_is_refused():
    """dumps_into holds an export of a View target: a default() that closes
    it gets BufferError, and the mapping stays for the encoder."""
    m = _Mapped(bytes(64))
    seen = []

    def default(o):
        try:
            m.view.close()
        except BufferError as e:
            seen.append(e)
        return 0

    n = nocopy.json.dumps_into([object()], m.view, default=default)
    assert seen and bytes(m.view[:n]) == b"[0]"


def test_json_default_closing_a_wrapped_bytebuffer_is_refused():
    mm = mmap.mmap(-1, 64)
    b = ByteBuffer.wrap(mm)
    seen = []

    def default(o):
        try:
            b.close()
        except RuntimeError as e:
            seen.append(e)
        return 1

    nocopy.json.dumps_into([object()], b, default=default)
    assert seen and bytes(b.peek()) == b"[1]" == mm[:3]
    b.close()
    mm.close()


def _wrapped():
    mm = mmap.mmap(-1, 32)
    b = ByteBuffer.wrap(mm, headroom=4)
    b.write(b"0123456789")
    b.consume(2)

    def damage():
        b.close()
        mm.close()
    return b, damage


_bb_ops = {
    "write_offset": lambda b, h: b.write(b"abcdef", h),
    "write_length": lambda b, h: b.write(b"abcdef", 0, h),
    "write_u32": lambda b, h: b.write_u32(h),
    "write_u8": lambda b, h: b.write_u8(h),
    "writable": lambda b, h: b.writable(h),
    "commit": lambda b, h: b.commit(h),
    "read": lambda b, h: bytes(b.read(h)),
    "peek": lambda b, h: bytes(b.peek(h)),
    "consume": lambda b, h: b.consume(h),
    "read_until": lambda b, h: b.read_until(b"5", limit=h),
    "write_int": lambda b, h: b.write_int(h),
    "write_fmt": lambda b, h: b.write_fmt(b"%d-%d", 1, h),
}


@pytest.mark.parametrize("op", sorted(_bb_ops))
def test_wrapped_bytebuffer_closed_by_an_index(op):
    """A wrapped ByteBuffer whose storage is closed and unmapped by an
    argument's __index__: the call raises ValueError (closed) or returns
    what an empty buffer gives; nothing is written into the unmapped pages
    (that would fault)."""
    b, damage = _wrapped()
    try:
        r = _bb_ops[op](b, _Idx(2, damage))
    except ValueError as e:
        # closed, or a read / consume that found the closed buffer empty
        assert "closed" in str(e) or "only 0 readable" in str(e)
    except StaleViewError:
        pass
    else:
        assert r in (None, b"", 0) or isinstance(r, int) and op.startswith(("write", "commit"))
        assert b.closed
    assert b.closed and b.readable == 0
    with pytest.raises(ValueError):
        b.write(b"x")


# ---- finalizers run inside the C call's allocations (CPython 3.11) -----------------------------

_gc_calls = {
    "split": lambda v: v.split(b","),
    "splitlines": lambda v: v.splitlines(),
    "partition": lambda v: v.partition(b","),
    "rsplit": lambda v: v.rsplit(),
    "getitem": lambda v: v[1:3],
    "itersplit": lambda v: list(v.itersplit(b",")),
    "iterlines_reuse": lambda v: [bytes(x) for x in v.iterlines(reuse=True)],
    "rope_segments": lambda v: Rope([v, v[1:]]).segments(),
    "rope_find": lambda v: Rope([v[:3], b"x", v[3:]]).find(b","),
    "rope_bytes": lambda v: bytes(Rope([v, b"x"])),
    "rope_flatten": lambda v: Rope([v[:2], v[2:]]).flatten(),
    "memreader_lines": lambda v: MemoryReader(v).readlines(),
    "memreader_read": lambda v: MemoryReader(v).read(),
}


@pytest.mark.parametrize("op", sorted(_gc_calls))
def test_finalizer_closes_mid_call(gc_trap, op):
    """A finalizer run by one of the call's allocations closes the View and
    unmaps: the call raises StaleViewError or BufferError, or returns
    results made before (now stale Views, or copies of the content)."""
    data = b"a,b,c\nd,e,f\n" * 20
    m = _Mapped(data)
    fired = gc_trap(m.damage)
    try:
        r = _gc_calls[op](m.view)
    except (StaleViewError, BufferError):
        inside(fired)
        return
    finally:
        gc.set_threshold(700, 10, 10)
    inside(fired)
    try:
        got = _materialize(r)
    except StaleViewError:
        assert m.closed
        return
    assert got is not None


def test_finalizer_closes_mid_split_is_refused_or_stale(gc_trap):
    """split pins the holder while it reads across allocations: a close
    from a finalizer then is refused (BufferError inside the finalizer,
    reported as unraisable) and the pieces are right."""
    data = b"x," * 300
    m = _Mapped(data)
    outcome = []

    def damage():
        try:
            m.view.close()
            outcome.append("closed")
        except BufferError:
            outcome.append("refused")

    fired = gc_trap(damage)
    try:
        pieces = m.view.split(b",")
    except StaleViewError:
        inside(fired)
        assert outcome == ["closed"]
        return
    finally:
        gc.set_threshold(700, 10, 10)
    inside(fired)
    if outcome == ["refused"]:
        assert [bytes(p) for p in pieces] == data.split(b",")
    m.view.close()
    m.mm.close()


@pytest.mark.skipif(sys.version_info < (3, 12), reason="__release_buffer__ is 3.12+")
def test_exporter_release_hook_reenters_close():
    """A Python exporter's __release_buffer__ runs inside close(): the holder
    is already final (closed, empty), so a nested close() is a no-op and a
    read raises StaleViewError instead of reading the released memory."""
    seen = []

    class Exporter:
        def __init__(self):
            self.data = bytearray(b"abcdef")

        def __buffer__(self, flags):
            return memoryview(self.data)

        def __release_buffer__(self, mv):
            mv.release()
            v.close()
            try:
                bytes(piece)
            except StaleViewError as e:
                seen.append(e)
            self.data.clear()

    v = View(Exporter())
    piece = v[1:3]
    assert bytes(piece) == b"bc"
    v.close()
    assert seen and v.closed


def test_on_close_error_propagates_after_the_close():
    """map_file's on_close (mmap.close) failing: close() raises it, the Views
    are closed all the same."""
    from nocopy import _core

    def boom():
        raise OSError("on_close failed")

    v = _core._owning_view(bytearray(b"xy"), boom)
    with pytest.raises(OSError, match="on_close failed"):
        v.close()
    assert v.closed
    v.close()  # already closed: on_close is not called again
    with pytest.raises(TypeError, match="callable"):
        _core._owning_view(b"", 1)
    with pytest.raises(TypeError):
        _core._owning_view(b"")


def test_finalizer_closes_during_a_move_to_fresh_storage(gc_trap):
    """A write into a buffer whose storage was handed over (take_bytes)
    allocates fresh storage; a finalizer run by that allocation closes the
    buffer.  The write must not install the fresh storage behind
    closed == True (a closed buffer that still takes writes)."""
    b = ByteBuffer(4096, storage="bytes")
    b.write(b"x" * 4000)
    assert len(b.take_bytes()) == 4000  # handed over: the buffer is detached
    closed = []

    def damage():
        b.close()
        closed.append(True)

    fired = gc_trap(damage)
    try:
        b.write(b"after")
    except ValueError as e:
        assert "closed" in str(e)
    finally:
        gc.set_threshold(700, 10, 10)
    inside(fired)
    assert closed and b.closed
    assert b.readable == 0 and b.free == 0
    with pytest.raises(ValueError, match="closed"):
        b.write(b"more")
