"""Rope: differential tests against b"".join(parts) for every method, over
random splits of random data (empty parts, Views in the middle of larger
buffers and nested Ropes included), plus sharing, export and error cases."""
import array
import hashlib
import io
import os
import struct
import zlib

import pytest
from hypothesis import given, strategies as st

from nocopy import Rope, View

ALPHA = st.binary(max_size=48).map(lambda b: bytes(x % 3 + 97 for x in b))  # b"abc" soup: many hits


@st.composite
def split_parts(draw, data_st=ALPHA):
    """(data, parts): parts of mixed buffer kinds whose concatenation is data."""
    data = draw(data_st)
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=8)))
    bounds = [0] + cuts + [len(data)]
    parts = []
    for a, b in zip(bounds, bounds[1:]):
        piece = data[a:b]
        kind = draw(st.integers(0, 5))
        if kind == 0:
            parts.append(piece)
        elif kind == 1:
            parts.append(bytearray(piece))
        elif kind == 2:
            parts.append(memoryview(b"<<" + piece + b">>")[2:2 + len(piece)])
        elif kind == 3:
            parts.append(View(b"xyz" + piece + b"zyx", 3, 3 + len(piece)))
        elif kind == 4:
            parts.append(Rope([piece[:len(piece) // 2], piece[len(piece) // 2:]]))
        else:
            parts.append(array.array("B", piece))
    return data, parts


def idx():
    return st.none() | st.integers(-60, 60)


def call(fn, *args):
    """Result or exception type, for differential comparison."""
    try:
        return ("ok", fn(*args))
    except Exception as e:  # noqa: BLE001 - the type is the result
        return ("raise", type(e))


# ---- building ------------------------------------------------------------------


@given(split_parts())
def test_build_forms_agree(dp):
    data, parts = dp
    r = Rope(parts)
    assert bytes(r) == data and r.tobytes() == data and len(r) == len(data)
    assert Rope.join(parts) == data
    r2 = Rope()
    for p in parts:
        r2.append(p)
    assert r2 == data
    r3 = Rope()
    r3.extend(parts)
    assert r3 == data
    r4 = Rope()
    for p in parts:
        r4 += p
    assert r4 == data
    assert r.nsegments <= sum(max(1, Rope([p]).nsegments) for p in parts)
    assert all(len(s) > 0 for s in r.segments())


@given(split_parts(), split_parts())
def test_concat_shares_and_keeps_operands(a, b):
    ra, rb = Rope(a[1]), Rope(b[1])
    c = ra + rb
    assert c == a[0] + b[0] and ra == a[0] and rb == b[0]
    assert (ra + b[0]) == a[0] + b[0]
    left = b[0] + ra
    assert type(left) is Rope and left == b[0] + a[0]
    assert c.nsegments == ra.nsegments + rb.nsegments


def test_empty_parts_skipped():
    r = Rope([b"", bytearray(), b"a", View(b"xyz", 1, 1), Rope(), b"b", memoryview(b"")])
    assert r == b"ab" and r.nsegments == 2
    assert Rope().nsegments == 0 and len(Rope()) == 0 and bytes(Rope()) == b""


def test_single_buffer_is_one_part():
    assert Rope(b"abc") == b"abc"
    r = Rope()
    r.extend(bytearray(b"xy"))
    assert r == b"xy"


def test_bad_parts_append_nothing():
    r = Rope([b"ab"])
    with pytest.raises(TypeError, match="not 'int'"):
        r.append(1)
    with pytest.raises(TypeError, match="not 'str'"):
        r.extend([b"x", "oops", b"y"])
    with pytest.raises(TypeError, match="not 'object'"):
        r.extend([b"x", object()])
    with pytest.raises(TypeError, match="not 'int'"):
        r.extend(5)
    with pytest.raises(TypeError, match="not 'str'"):
        Rope("abc")
    with pytest.raises(TypeError, match="'int'"):
        r += 5
    with pytest.raises(TypeError):
        r + "x"
    with pytest.raises(TypeError, match="not 'str'"):
        Rope.join([b"a", "b"])

    def gen():
        yield b"1"
        raise RuntimeError("boom")
    with pytest.raises(RuntimeError):
        r.extend(gen())
    assert r == b"ab" and r.nsegments == 1


def test_max_segments_validation():
    with pytest.raises(ValueError, match="at least 2"):
        Rope(max_segments=1)
    with pytest.raises(TypeError):
        Rope(max_segments="3")
    assert Rope().max_segments == 1024 and Rope(max_segments=2).max_segments == 2


@given(st.lists(st.binary(max_size=20), max_size=60), st.integers(2, 9))
def test_segment_cap_bounds_count_and_keeps_content(parts, cap):
    r = Rope(max_segments=cap)
    for p in parts:
        r.append(p)
        assert r.nsegments <= cap
    assert r == b"".join(parts)
    r2 = Rope(parts, max_segments=cap)
    assert r2.nsegments <= cap and r2 == b"".join(parts)


def test_segment_cap_spares_big_segments():
    big = bytes(1 << 16)
    pattern = [big] + [b"x"] * 40 + [big] + [b"yz"] * 40
    r = Rope(max_segments=8)
    for p in pattern:
        r.append(p)
        assert r.nsegments <= 8
    assert r == b"".join(pattern)
    shared = [s for s in r.segments() if s.obj is big]
    assert len(shared) == 2  # the 64 KiB segments were never copied
    assert r.nsegments <= 8


# ---- reading -------------------------------------------------------------------


@given(split_parts(), st.integers(-60, 60))
def test_item(dp, i):
    data, parts = dp
    r = Rope(parts)
    assert call(lambda: r[i]) == call(lambda: data[i])
    assert list(r) == list(data)


@given(split_parts(), idx(), idx(), st.sampled_from([None, 1, 2, -1]))
def test_slice(dp, a, b, step):
    data, parts = dp
    r = Rope(parts)
    if step in (None, 1):
        s = r[a:b:step]
        assert type(s) is Rope and s == data[a:b]
        assert s.nsegments <= r.nsegments
    else:
        with pytest.raises(ValueError, match="step 1"):
            r[a:b:step]
    with pytest.raises(TypeError):
        r["x"]


@given(split_parts(), st.data())
def test_search_methods(dp, d):
    data, parts = dp
    r = Rope(parts)
    if data and d.draw(st.booleans()):
        i = d.draw(st.integers(0, len(data)))
        sub = data[i:i + d.draw(st.integers(0, 6))]
    else:
        sub = d.draw(ALPHA.map(lambda b: b[:5]))
    sub = d.draw(st.sampled_from([bytes, bytearray, memoryview, View]))(sub)
    nargs = d.draw(st.integers(0, 2))
    extra = tuple(d.draw(idx()) for _ in range(nargs))
    for name in ("find", "rfind", "count", "index", "rindex"):
        assert call(getattr(r, name), sub, *extra) == call(getattr(data, name), sub, *extra), name
    for name in ("startswith", "endswith"):
        assert call(getattr(r, name), sub, *extra) == call(getattr(data, name), sub, *extra), name
        tup = (b"zz", sub)
        assert call(getattr(r, name), tup, *extra) == call(getattr(data, name), tup, *extra)
    assert (sub in r) == (bytes(sub) in data)


@given(split_parts(), st.integers(0, 255) | st.integers(-3, 300), idx(), idx())
def test_search_int_sub(dp, byte, a, b):
    data, parts = dp
    r = Rope(parts)
    for name in ("find", "rfind", "count", "index", "rindex"):
        assert call(getattr(r, name), byte, a, b) == call(getattr(data, name), byte, a, b)
    assert call(lambda: byte in r) == call(lambda: byte in data)


def test_search_errors_match_bytes():
    r = Rope([b"ab", b"cd"])
    for name in ("find", "rfind", "count", "index", "rindex", "startswith", "endswith"):
        for args in [(), ("x",), (b"a", "1"), (b"a", 1, 2, 3), (1.5,)]:
            got = call(getattr(r, name), *args)
            want = call(getattr(b"abcd", name), *args)
            assert got == want, (name, args)
    with pytest.raises(TypeError, match="startswith first arg must be bytes or a tuple of bytes, not str"):
        r.startswith("a")
    with pytest.raises(ValueError, match="subsection not found"):
        r.index(b"x")


def test_find_straddles_many_tiny_segments():
    data = b"xx" + b"needle" + b"yy" + b"needle"
    r = Rope([bytes([c]) for c in data])
    assert r.nsegments == len(data)
    assert r.find(b"needle") == 2 and r.rfind(b"needle") == 10 and r.count(b"needle") == 2
    long_sub = bytes(range(200))
    r2 = Rope([b"q" * 5 + long_sub[:77], long_sub[77:150], long_sub[150:] + b"q"])
    assert r2.find(long_sub) == 5 and r2.rfind(long_sub) == 5 and r2.count(long_sub) == 1
    assert long_sub in r2


@given(split_parts(), split_parts(ALPHA.map(lambda b: b[:6])))
def test_comparisons(a, b):
    ra, rb = Rope(a[1]), Rope(b[1])
    x, y = a[0], b[0]
    for other, oy in ((rb, y), (y, y), (bytearray(y), y), (View(y), y)):
        assert (ra == other) == (x == oy)
        assert (ra != other) == (x != oy)
        assert (ra < other) == (x < oy)
        assert (ra <= other) == (x <= oy)
        assert (ra > other) == (x > oy)
        assert (ra >= other) == (x >= oy)
    assert ra == Rope([x])
    assert (ra == "str") is False and (ra != 5) is True
    with pytest.raises(TypeError):
        ra < "abc"
    with pytest.raises(TypeError, match="unhashable"):
        hash(ra)


# ---- consuming -----------------------------------------------------------------


@given(split_parts(), st.lists(st.tuples(st.sampled_from(["take", "skip", "slice", "append"]),
                                         st.integers(-2, 20)), max_size=12))
def test_take_skip_sequences(dp, ops):
    data, parts = dp
    r = Rope(parts)
    model = data
    for op, n in ops:
        if op == "append":
            piece = bytes([97 + n % 3]) * (n % 4)
            r.append(piece)
            model += piece
        elif op == "slice":
            assert r[n:n + 5] == model[n:n + 5]
        elif 0 <= n <= len(model):
            if op == "take":
                t = r.take(n)
                assert t == model[:n]
            else:
                assert r.skip(n) is None
            model = model[n:]
        else:
            with pytest.raises(ValueError):
                getattr(r, op)(n)
        assert r == model and len(r) == len(model)
        assert r.find(b"ab") == model.find(b"ab")
        assert b"".join(bytes(s) for s in r.segments()) == model
    with pytest.raises(TypeError):
        r.take("1")


def test_take_skip_shares_memory():
    ba = bytearray(b"0123456789")
    r = Rope([ba, b"abc"])
    head = r.take(4)
    ba[0:1] = b"X"
    assert head == b"X123" and r == b"456789abc"


# ---- flatten, export, copies --------------------------------------------------------


def test_flatten_single_segment_shares():
    ba = bytearray(b"hello")
    r = Rope([ba])
    v = r.flatten()
    assert v.obj is ba and v == b"hello"
    assert Rope().flatten() == b""


def test_flatten_copies_once_and_keeps_flat():
    r = Rope([b"ab", b"cd", bytearray(b"ef")])
    v1 = r.flatten()
    assert v1 == b"abcdef" and r.nsegments == 1 and v1.readonly
    v2 = r.flatten()
    assert v2.obj is None and v2.start == v1.start and v2 == v1
    assert r == b"abcdef"
    r.append(b"g")
    assert r.nsegments == 2 and r == b"abcdefg"


def test_buffer_protocol_consumers():
    data = os.urandom(300)
    r = Rope([data[:7], data[7:100], bytearray(data[100:])])
    assert hashlib.sha256(r).digest() == hashlib.sha256(data).digest()
    assert zlib.crc32(r) == zlib.crc32(data)
    assert struct.unpack_from("<IQ", r, 5) == struct.unpack_from("<IQ", data, 5)
    with memoryview(r) as m:
        assert m.readonly and m.tobytes() == data
    assert bytes(memoryview(Rope())) == b""


def test_export_pins_the_rope():
    r = Rope([b"ab", b"cd"])
    m = memoryview(r)
    for op in (lambda: r.append(b"x"), lambda: r.extend([b"x"]), lambda: r.take(1),
               lambda: r.skip(1), lambda: r.__iadd__(b"x")):
        with pytest.raises(BufferError):
            op()
    assert r == b"abcd" and r.find(b"bc") == 1 and r[1:3] == b"bc" and r.flatten() == b"abcd"
    m.release()
    r.append(b"x")
    assert r == b"abcdx"
    with pytest.raises(TypeError):
        memoryview(r)[0] = 1


def test_writable_export_refused():
    r = Rope([bytearray(b"ab")])
    with pytest.raises(TypeError):
        struct.pack_into("B", r, 0, 1)
    assert r == b"ab"


def test_bytearray_held_cannot_resize():
    ba = bytearray(b"abc")
    r = Rope([ba])
    with pytest.raises(BufferError):
        ba.extend(b"d")
    del r
    ba.extend(b"d")


def test_mutable_segment_shows_current_content_frozen_snapshots():
    ba = bytearray(b"abc")
    r = Rope([b"xy", ba, View(ba, 1)])
    f = r.frozen()
    snap = bytes(r)
    ba[0] = ord("Z")
    assert r == b"xyZbcbc" and f == snap == b"xyabcbc"
    assert f.nsegments == r.nsegments
    seg_objs = [s.obj for s in f.segments()]
    assert seg_objs[0] == b"xy"  # the bytes segment is shared, not copied
    assert f.frozen() == f


def test_segments_share_memory_and_feed_writev():
    ba = bytearray(b"hello ")
    r = Rope([ba, b"world"])
    segs = r.segments()
    assert [type(s) for s in segs] == [View, View] and segs[0].obj is ba
    rd, wr = os.pipe()
    try:
        assert os.writev(wr, segs) == 11
        assert os.read(rd, 100) == b"hello world"
    finally:
        os.close(rd)
        os.close(wr)


def test_repr_and_attrs():
    r = Rope([b"a", b"bc"])
    assert repr(r) == "<nocopy.Rope: 3 bytes in 2 segments>"
    assert "Rope" in Rope.__doc__ and "O(1" in Rope.append.__doc__


# ---- write_to ---------------------------------------------------------------------


@given(split_parts())
def test_write_to_bytesio_and_pipe(dp):
    data, parts = dp
    r = Rope(parts)
    b = io.BytesIO()
    assert r.write_to(b) == len(data) and b.getvalue() == data
    rd, wr = os.pipe()
    try:
        assert r.write_to(wr) == len(data)
        os.close(wr)
        wr = -1
        assert os.read(rd, 1000) == data
    finally:
        os.close(rd)
        if wr >= 0:
            os.close(wr)
    assert r == data  # write_to does not consume


def test_write_to_many_segments_batches_iov_max(tmp_path):
    parts = [bytes([i % 256]) * 3 for i in range(3000)]
    r = Rope(parts, max_segments=10_000)
    assert r.nsegments == 3000
    path = tmp_path / "out"
    with open(path, "wb") as f:
        f.write(b"head:")  # buffered: write_to must flush it first
        assert r.write_to(f) == 9000
        f.write(b":tail")
    assert path.read_bytes() == b"head:" + b"".join(parts) + b":tail"


def test_write_to_bad_destinations():
    r = Rope([b"x"])
    with pytest.raises(TypeError, match="not 'object'"):
        r.write_to(object())
    with pytest.raises(ValueError):
        r.write_to(-1)
    rd, wr = os.pipe()
    os.close(wr)
    os.close(rd)
    with pytest.raises(OSError):
        r.write_to(wr)


@given(split_parts())
def test_copies_and_exports_agree(dp):
    data, parts = dp
    r = Rope(parts)
    assert r.frozen() == data and r.frozen().tobytes() == data
    assert b"".join(bytes(s) for s in r.segments()) == data
    assert list(iter(r)) == list(data) and [x for x in r[1:]] == list(data[1:])
    with memoryview(r) as m:
        assert m.tobytes() == data and m.nbytes == len(data)
    assert r.nsegments <= 1 and r == data  # the export flattened it, once
    v = r.flatten()
    assert v == data and (r.nsegments == 0 or v.obj is r.segments()[0].obj)


# ---- hostile callbacks: Python code running in the middle of a call ----------


class Evil:
    """An index whose __index__ changes the Rope it is used on."""

    def __init__(self, rope, value, action):
        self.rope, self.value, self.action = rope, value, action

    def __index__(self):
        self.action(self.rope)
        return self.value


def need(b, n):
    """b, or take()'s ValueError when it is shorter than n."""
    if len(b) < n:
        raise ValueError("too short")
    return b


HOSTILE_CASES = [
    (lambda r, e: r[e(1):], lambda b: b[1:]),
    (lambda r, e: r[e(-1)], lambda b: b[-1]),
    (lambda r, e: r.find(b"gh", e(0)), lambda b: b.find(b"gh", 0)),
    (lambda r, e: r.rfind(b"e", e(1)), lambda b: b.rfind(b"e", 1)),
    (lambda r, e: r.count(b"e", 0, e(8)), lambda b: b.count(b"e", 0, 8)),
    (lambda r, e: r.startswith(b"ab", e(0)), lambda b: b.startswith(b"ab", 0)),
    (lambda r, e: r.endswith(b"hi", 0, e(99)), lambda b: b.endswith(b"hi", 0, 99)),
    (lambda r, e: (r.take(e(2)), bytes(r)), lambda b: (need(b, 2)[:2], b[2:])),
    (lambda r, e: (r.skip(e(2)), bytes(r)), lambda b: (need(b, 2) and None, b[2:])),
]


@pytest.mark.parametrize("action", [lambda r: r.skip(len(r)), lambda r: r.take(3),
                                    lambda r: r.append(b"new!"), lambda r: r.flatten()])
@pytest.mark.parametrize("case", range(len(HOSTILE_CASES)))
def test_index_callbacks_that_change_the_rope(action, case):
    """The Rope is read after __index__ ran: results match bytes on the new content."""
    def fresh():
        return Rope([b"abc", bytearray(b"def"), b"ghi"])
    model = fresh()
    action(model)
    op, oracle = HOSTILE_CASES[case]
    r = fresh()
    assert call(op, r, lambda v: Evil(r, v, action)) == call(oracle, bytes(model))


def test_extend_generator_that_changes_the_rope():
    r = Rope([b"abc"])

    def parts():
        yield b"1"
        r.skip(2)
        r.append(b"X")
        yield b"2"
    r.extend(parts())
    assert r == b"cX12"


def test_write_to_flush_callback_may_append():
    r = Rope([b"ab"])

    class Sink(io.BytesIO):
        def flush(self):
            if len(r) == 2:
                r.append(b"cd")  # allowed: the write has not started
            return super().flush()

        def fileno(self):
            raise io.UnsupportedOperation

    s = Sink()
    assert r.write_to(s) == 4 and s.getvalue() == b"abcd"


def test_write_to_pins_against_reentrant_mutation():
    r = Rope([b"ab", b"cd"])
    seen = []

    class Sink:
        def write(self, b):
            for op in (lambda: r.append(b"x"), lambda: r.skip(1), lambda: r.take(1)):
                try:
                    op()
                except BufferError:
                    seen.append(1)
            return len(b)
    assert r.write_to(Sink()) == 4 and r == b"abcd" and len(seen) == 6


def test_write_to_socket_with_timeout():
    import socket
    a, b = socket.socketpair()
    with a, b:
        a.settimeout(5)
        r = Rope([b"x" * 1000] * 50)
        assert r.write_to(a) == 50_000
        got = b""
        while len(got) < 50_000:
            got += b.recv(65536)
        assert got == b"x" * 50_000


# ---- segments borrowed from a ByteBuffer go stale with it ----------------------


def test_stale_segments_raise_never_show_other_bytes():
    from nocopy import ByteBuffer, StaleViewError
    b = ByteBuffer(16)
    b.write(b"hello world")
    r = Rope([b">", b.read(5)], max_segments=2)
    snap = r.frozen()
    b.clear()
    b.write(b"XXXXXXXXXXXXXX")
    for op in (bytes, lambda r: r.find(b"l"), lambda r: r[1], lambda r: r == b">hello",
               lambda r: r.segments(), lambda r: r.flatten(), lambda r: r.frozen(),
               lambda r: r.write_to(io.BytesIO()), memoryview, lambda r: list(r),
               lambda r: r.count(b"l"), lambda r: r.startswith(b">h"), lambda r: b"x" in r):
        with pytest.raises(StaleViewError):
            op(r)
    assert snap == b">hello"          # frozen() before the move kept a copy
    assert r[:1] == b">" and len(r) == 6
    r.append(b"!")                    # the cap never launders a stale segment into a copy
    with pytest.raises(StaleViewError):
        bytes(r)
    r.skip(6)                         # consumed: the stale segment is gone
    assert r == b"!"
