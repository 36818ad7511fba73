"""View.close(): the export given back for every View sharing it (issue 15
part 2).  release() drops one View's share; close() detaches the holder, so
the exporter (bytearray, mmap, SharedMemory.buf) can be resized or closed at
once, and every View, iterator and Rope segment of it raises
StaleViewError from then on."""
import io
import mmap

import pytest
from hypothesis import given
from hypothesis import strategies as st

import nocopy.json
from nocopy import ByteBuffer, Rope, StaleViewError, View
from nocopy.io import MemoryReader


def _stale(fn, *args):
    with pytest.raises(StaleViewError, match="closed"):
        fn(*args)


def test_close_frees_the_exporter_for_resize():
    ba = bytearray(b"hello world")
    v = View(ba)
    piece = v[6:]
    with pytest.raises(BufferError):
        ba.extend(b"!")  # the export is held
    v.close()
    ba.extend(b"!")  # given back: the bytearray may move its bytes
    assert ba == b"hello world!"
    assert v.closed and piece.closed and not v.released
    for view in (v, piece):
        _stale(bytes, view)
        _stale(view.find, b"o")
        _stale(len, view)
        _stale(view.__getitem__, slice(0, 2))
        _stale(memoryview, view)


def test_every_sharer_goes_stale():
    ba = bytearray(b"a,b,c\nd,e\n")
    v = View(ba)
    sub = v[2:]
    pieces = v.split(b",")
    it_split = v.itersplit(b",")
    it_lines = v.iterlines()
    next(it_lines)
    rope = Rope([sub, b"tail"])
    reader = MemoryReader(v)
    v.close()
    for p in pieces + [sub]:
        _stale(bytes, p)
    _stale(next, it_split)
    _stale(next, it_lines)
    with pytest.raises(StaleViewError):
        bytes(rope)
    with pytest.raises(StaleViewError):
        reader.read()
    # a View made from the holder now is stale at once
    _stale(View, sub)


def test_close_is_idempotent_and_release_after_close_works():
    v = View(bytearray(3))
    s = v[1:]
    v.close()
    v.close()
    s.close()
    s.release()
    assert s.released and not s.closed
    s.close()  # a released View: nothing to do
    v.release()


def test_close_refused_while_a_memoryview_is_held():
    ba = bytearray(b"abcdef")
    v = View(ba)
    other = v[1:3]
    m = memoryview(other)
    with pytest.raises(BufferError, match=r"cannot close View: 1 buffer export"):
        v.close()
    assert bytes(v) == b"abcdef" and not v.closed  # nothing changed
    m.release()
    v.close()
    assert v.closed and other.closed


@pytest.mark.parametrize("make", [
    lambda: ByteBuffer(16),
    lambda: ByteBuffer(16, storage="bytes"),
    lambda: ByteBuffer.wrap(bytearray(16)),
])
def test_views_of_a_bytebuffer_refuse_close(make):
    b = make()
    b.write(b"abcd")
    for v in (b.peek(), b.read(2), b.writable(), b.peek()[1:]):
        with pytest.raises(TypeError, match="ByteBuffer"):
            v.close()
    assert bytes(b.peek()) == b"cd"


def test_views_of_nocopys_own_copies_refuse_close():
    """A frozen Rope's copy lives in storage nocopy owns, read by its frozen
    segments without an epoch check: close() must not free it."""
    r = Rope([bytearray(b"ab"), bytearray(b"cd")])
    frozen = r.frozen()
    segs = frozen.segments()
    assert segs
    for seg in segs:
        with pytest.raises(TypeError, match="owns"):
            seg.close()
    assert bytes(frozen) == b"abcd" and b"".join(map(bytes, segs)) == b"abcd"
    flat = r.flatten()
    with pytest.raises(TypeError, match="owns"):
        flat.close()
    assert bytes(flat) == b"abcd"


def test_bytes_exporter_closes_views_but_keeps_frozen_rope_segments():
    data = bytes(range(200))
    v = View(data)
    r = Rope([v[10:20]])  # a frozen segment: reads the bytes object directly
    v.close()
    _stale(bytes, v)
    assert bytes(r) == data[10:20]


def test_mmap_can_close_after_view_close():
    mm = mmap.mmap(-1, 4096)
    mm[:5] = b"hello"
    v = View(mm)
    s = v[:5]
    with pytest.raises(BufferError):
        mm.close()
    assert bytes(s) == b"hello"
    v.close()
    mm.close()
    _stale(bytes, s)


def test_json_dumps_into_a_closed_view():
    ba = bytearray(64)
    v = View(ba)
    v.close()
    with pytest.raises(StaleViewError):
        nocopy.json.dumps_into({"a": 1}, v)


def test_with_view_still_releases_only():
    ba = bytearray(b"xyz")
    v = View(ba)
    keep = v[1:]
    with v:
        pass
    assert v.released
    assert bytes(keep) == b"yz"  # release() is per View; the export stays
    with pytest.raises(BufferError):
        ba.append(1)
    keep.close()
    ba.append(1)


@given(data=st.binary(max_size=64), a=st.integers(-70, 70), b=st.integers(-70, 70))
def test_views_before_close_match_bytes_then_go_stale(data, a, b):
    ba = bytearray(data)
    v = View(ba)
    w = v[a:b]
    assert bytes(w) == data[a:b]
    v.close()
    ba.clear()
    with pytest.raises(StaleViewError):
        bytes(w)
    with pytest.raises(StaleViewError):
        w.count(b"x")


def test_rope_segment_of_a_closed_view_says_the_buffer_was_closed():
    v = View(bytearray(b"abcdef"))
    r = Rope([v[1:3], b"!"])
    v.close()
    with pytest.raises(StaleViewError, match="buffer was closed"):
        bytes(r)
