"""ByteBuffer.wrap(): a ByteBuffer whose storage is a caller's writable
buffer (SharedMemory.buf, mmap, bytearray), and ByteBuffer.close() (issue 15
part 2).  The storage never moves: where a heap ByteBuffer takes fresh
storage, a wrapped one raises BufferError and changes nothing."""
import mmap
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

import nocopy.json
from nocopy import BufferTooSmall, ByteBuffer, StaleViewError, View


def test_writes_land_in_the_callers_buffer():
    ba = bytearray(32)
    b = ByteBuffer.wrap(ba)
    assert b.storage == "external" and b.capacity == 32 and b.headroom == 0
    assert b.readable == 0 and b.free == 32 and not b.closed
    b.write(b"abc")
    b.write_u32(0xDEADBEEF)
    nocopy.json.dumps_into([1, "x"], b)
    assert ba[:7] == b"abc" + struct.pack(">I", 0xDEADBEEF)
    assert bytes(ba[7:7 + len(b'[1,"x"]')]) == b'[1,"x"]'
    assert bytes(b.peek()) == bytes(ba[:b.readable])


def test_headroom_and_prepend_inside_the_buffer():
    ba = bytearray(16)
    b = ByteBuffer.wrap(ba, headroom=4)
    assert b.capacity == 12 and b.headroom == 4
    b.write(b"body")
    b.prepend(b"hd")
    assert ba[2:8] == b"hdbody"
    assert bytes(b.read()) == b"hdbody"


def test_compaction_in_place_keeps_the_storage():
    ba = bytearray(8)
    b = ByteBuffer.wrap(ba)
    b.write(b"abcdef")
    old = b.read(4)
    b.write(b"XYZ")  # needs a compaction: in place, the old View goes stale
    assert ba[:5] == b"efXYZ"
    with pytest.raises(StaleViewError):
        bytes(old)
    assert bytes(b.peek()) == b"efXYZ"


@pytest.mark.parametrize("op", ["write", "compact", "clear", "write_u32", "prepend"])
def test_held_export_refuses_instead_of_moving(op):
    ba = bytearray(8)
    b = ByteBuffer.wrap(ba, headroom=0)
    b.write(b"abcdef")
    b.consume(4)
    v = b.peek()
    m = memoryview(v)
    state = (bytes(ba), b.readable, b.free)
    with pytest.raises(BufferError, match="export"):
        if op == "write":
            b.write(b"123")
        elif op == "compact":
            b.compact()
        elif op == "clear":
            b.clear()
        elif op == "write_u32":
            b.write_u32(1)
        else:
            b.consume(1)
            state = (bytes(ba), b.readable, b.free)
            b.prepend(b"Q")
    assert (bytes(ba), b.readable, b.free) == state
    assert bytes(m) == bytes(ba[4:6])
    m.release()
    b.compact()  # let go: in place again
    assert bytes(b.peek()) == bytes(ba[:b.readable])


def test_writable_export_kept_across_commit_refuses_a_view():
    ba = bytearray(16)
    b = ByteBuffer.wrap(ba)
    m = memoryview(b.writable())
    m[:3] = b"abc"
    b.commit(3)
    with pytest.raises(BufferError, match="writable"):
        b.peek()
    m.release()
    assert bytes(b.peek()) == b"abc"


def test_source_keeping_the_free_space_refuses():
    ba = bytearray(16)
    b = ByteBuffer.wrap(ba)
    kept = []

    class Src:
        def readinto(self, buf):
            kept.append(memoryview(buf))
            buf[:2] = b"hi"
            return 2

    with pytest.raises(BufferError, match="source kept"):
        b.fill_from(Src())
    assert b.readable == 0
    kept[0].release()
    assert ba[:2] == b"hi"  # written by the source, never committed


def test_take_bytes_copies_and_keeps_the_storage():
    ba = bytearray(8)
    b = ByteBuffer.wrap(ba)
    b.write(b"abc")
    assert b.take_bytes() == b"abc"
    b.write(b"de")
    assert bytes(ba[:5]) == b"abcde" and b.storage == "external"


def test_bytebuffer_full_raises_buffer_too_small():
    b = ByteBuffer.wrap(bytearray(4))
    b.write(b"abc")
    with pytest.raises(BufferTooSmall):
        b.write(b"de")


@pytest.mark.parametrize("bad, exc, match", [
    (b"abc", TypeError, "writable"),
    ("abc", TypeError, "bytes-like"),
    (bytearray(0), ValueError, "no capacity"),
    (memoryview(bytearray(8))[::2], BufferError, "contiguous"),
])
def test_wrap_errors(bad, exc, match):
    with pytest.raises(exc, match=match):
        ByteBuffer.wrap(bad)


def test_wrap_argument_errors():
    ba = bytearray(8)
    with pytest.raises(ValueError, match="no capacity"):
        ByteBuffer.wrap(ba, headroom=8)
    with pytest.raises(ValueError):
        ByteBuffer.wrap(ba, headroom=-1)
    with pytest.raises(TypeError):
        ByteBuffer.wrap(ba, 2)
    with pytest.raises(TypeError):
        ByteBuffer.wrap(ba, capacity=2)
    with pytest.raises(TypeError):
        ByteBuffer.wrap()
    with pytest.raises(TypeError, match="writable"):
        ByteBuffer.wrap(mmap.mmap(-1, 64, access=mmap.ACCESS_READ))
    ba.append(1)  # every failure gave the export back


@pytest.mark.parametrize("make", [
    lambda: ByteBuffer.wrap(bytearray(16)),
    lambda: ByteBuffer(16),
    lambda: ByteBuffer(16, storage="bytes", headroom=2),
])
def test_close(make):
    b = make()
    b.write(b"hello")
    r = b.read(2)
    p = b.peek()
    w = b.writable()
    sub = p[1:]
    it = b.iterlines(None)
    b.close()
    assert b.closed and b.readable == 0 and b.free == 0 and len(b) == 0
    for v in (r, p, w, sub):
        with pytest.raises(StaleViewError, match="closed"):
            bytes(v)
    assert list(it) == []  # the line iterator reads the buffer: empty now
    for fn in (lambda: b.write(b"x"), lambda: b.write_u8(1), lambda: b.writable(1),
               lambda: b.commit(1), lambda: b.compact() or b.write(b"y"),
               lambda: b.clear(), lambda: nocopy.json.dumps_into(1, b)):
        with pytest.raises(ValueError):
            fn()
    assert bytes(b.peek()) == b"" and b.take_bytes() == b""
    b.close()  # idempotent
    with pytest.raises(ValueError, match="closed"):
        b.__enter__()


def test_close_gives_a_wrapped_export_back():
    ba = bytearray(8)
    with ByteBuffer.wrap(ba) as b:
        b.write(b"ab")
        with pytest.raises(BufferError):
            ba.append(0)
    assert b.closed
    ba.append(0)
    assert ba[:2] == b"ab"


def test_close_refused_while_a_view_is_exported():
    ba = bytearray(8)
    b = ByteBuffer.wrap(ba)
    b.write(b"abc")
    m = memoryview(b.peek())
    with pytest.raises(BufferError, match="cannot close ByteBuffer: 1"):
        b.close()
    assert not b.closed and bytes(b.peek()) == b"abc"
    m.release()
    w = memoryview(b.writable())
    with pytest.raises(BufferError, match="cannot close ByteBuffer"):
        b.close()
    w.release()
    b.close()


def test_close_during_a_fill_is_refused():
    b = ByteBuffer.wrap(bytearray(8))
    errors = []

    class Src:
        def readinto(self, buf):
            try:
                b.close()
            except RuntimeError as e:
                errors.append(e)
            buf[:1] = b"z"
            return 1

    b.fill_from(Src())
    assert errors and bytes(b.peek()) == b"z" and not b.closed


_ops = st.lists(st.one_of(
    st.tuples(st.just("write"), st.binary(max_size=12)),
    st.tuples(st.just("u32"), st.integers(0, 2**32 - 1)),
    st.tuples(st.just("read"), st.integers(0, 12)),
    st.tuples(st.just("consume"), st.integers(0, 12)),
    st.tuples(st.just("compact"), st.none()),
    st.tuples(st.just("clear"), st.none()),
    st.tuples(st.just("prepend"), st.binary(max_size=4)),
), max_size=30)


def _apply(b, op, arg):
    try:
        if op == "write":
            b.write(arg)
        elif op == "u32":
            b.write_u32(arg)
        elif op == "read":
            return bytes(b.read(min(arg, b.readable)))
        elif op == "consume":
            b.consume(min(arg, b.readable))
        elif op == "compact":
            b.compact()
        elif op == "clear":
            b.clear()
        else:
            b.prepend(arg)
    except BufferTooSmall as e:
        return ("BufferTooSmall", e.needed)
    return None


@given(cap=st.integers(1, 40), head=st.integers(0, 6), ops=_ops)
def test_wrapped_behaves_as_a_heap_bytebuffer(cap, head, ops):
    """Without exports held, a wrapped buffer does what a heap one does, and
    its readable bytes are where the cursors say, in the caller's buffer."""
    ba = bytearray(b"\xee" * (cap + head))
    w = ByteBuffer.wrap(ba, headroom=head)
    h = ByteBuffer(cap, headroom=head)
    for op, arg in ops:
        assert _apply(w, op, arg) == _apply(h, op, arg)
        assert (w.readable, w.free) == (h.readable, h.free)
        shown = bytes(w.peek())
        assert shown == bytes(h.peek())
        assert shown in bytes(ba)
    w.close()
    ba.append(0)


def test_pool_takes_back_a_closed_buffer():
    """A borrower that closed a pooled (heap) ByteBuffer: the pool's reset
    gives it fresh storage instead of losing it."""
    from nocopy.pool import Pool
    pool = Pool(64, 1)
    b = pool.acquire()
    b.write(b"old")
    v = b.peek()
    b.close()
    pool.release(b)
    assert pool.available == 1
    b2 = pool.acquire()
    assert b2 is b and not b.closed and b.readable == 0 and b.free == 64
    b.write(b"new")
    assert bytes(b.peek()) == b"new"
    with pytest.raises(StaleViewError):
        bytes(v)
    pool.release(b)


def test_reset_keeps_a_closed_wrapped_buffer_closed():
    b = ByteBuffer.wrap(bytearray(8))
    b.close()
    with pytest.raises(ValueError, match="closed"):
        b._reset()
    assert b.closed


@pytest.mark.parametrize("make", [
    lambda: ByteBuffer(64), lambda: ByteBuffer(64, storage="bytes"),
    lambda: ByteBuffer.wrap(bytearray(64), headroom=4)])
def test_closed_buffer_refuses_empty_writes_too(make):
    """Every write into a closed buffer raises ValueError("closed"), even
    one of nothing: dumps_into used to say BufferTooSmall ("needs 5 bytes,
    it has 0"), which a writer answers by draining and retrying, and
    write(b"") / writable(0) used to succeed (io's closed files raise)."""
    b = make()
    b.close()
    calls = [
        lambda: nocopy.json.dumps_into([1, 2], b), lambda: nocopy.json.dumps_into("", b),
        lambda: nocopy.format_into(b, 0, b"%d", 5), lambda: b.write(b""), lambda: b.write(b"x"),
        lambda: b.writable(0), lambda: b.write_fmt(b""), lambda: b.write_u8(1),
        lambda: b.write_struct(struct.Struct("<0s"), b""),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="closed"):
            call()
    assert b.closed and b.readable == 0 and b.free == 0
