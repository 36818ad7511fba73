"""Typed cursors (issue 14, part 2): fixed-width integers and floats in both
byte orders, LEB128 varints and read_struct/write_struct on ByteBuffer,
Writer, Reader and Rope, differential against struct, int.from_bytes and a
reference LEB128 written here.  Errors: their types, and the caller's data
as it was (nothing consumed, nothing written)."""
import io
import math
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nocopy import BufferTooSmall, ByteBuffer, IncompleteRead, Rope, VarintError, View
from nocopy.io import Reader, Writer

# name -> (struct code, size, signed, float)
KINDS = {
    "u8": ("B", 1, False, False), "u16": ("H", 2, False, False),
    "u32": ("I", 4, False, False), "u64": ("Q", 8, False, False),
    "i8": ("b", 1, True, False), "i16": ("h", 2, True, False),
    "i32": ("i", 4, True, False), "i64": ("q", 8, True, False),
    "f32": ("f", 4, False, True), "f64": ("d", 8, False, True),
}
ORDERS = {"big": ">", "little": "<"}
INT_KINDS = [k for k, v in KINDS.items() if not v[3]]


def bounds(kind):
    _, size, signed, _ = KINDS[kind]
    if signed:
        return -(1 << (8 * size - 1)), (1 << (8 * size - 1)) - 1
    return 0, (1 << (8 * size)) - 1


def fmt(kind, order):
    return ORDERS[order] + KINDS[kind][0]


def same(a, b):
    """Equal values, floats bit for bit (NaNs included)."""
    if isinstance(a, float) or isinstance(b, float):
        return type(a) is type(b) and struct.pack("<d", a) == struct.pack("<d", b)
    return type(a) is type(b) and a == b


@st.composite
def values(draw, kind):
    code, size, signed, is_float = KINDS[kind]
    if is_float:
        if size == 4:
            # any binary32 pattern (NaNs, infinities, subnormals) as a double
            raw = draw(st.binary(min_size=4, max_size=4))
            return struct.unpack("<f", raw)[0]
        return draw(st.floats(allow_nan=True, allow_infinity=True))
    lo, hi = bounds(kind)
    return draw(st.one_of(st.integers(lo, hi), st.sampled_from([lo, hi, 0, -1 if signed else 1])))


@st.composite
def items(draw):
    kind = draw(st.sampled_from(list(KINDS)))
    return kind, draw(st.sampled_from(list(ORDERS))), draw(values(kind))


def packed(seq):
    return b"".join(struct.pack(fmt(k, o), v) for k, o, v in seq)


# ---- a reference LEB128 --------------------------------------------------------

def leb_encode(n):
    assert n >= 0
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def leb_decode(data, pos=0):
    """(value, next) or None when truncated; raises ValueError when over-long."""
    x = shift = 0
    for i in range(10):
        if pos + i >= len(data):
            return None
        c = data[pos + i]
        if i == 9 and c > 1:
            raise ValueError("over-long")
        x |= (c & 0x7F) << shift
        shift += 7
        if c < 0x80:
            return x, pos + i + 1
    raise ValueError("over-long")


def zigzag(n):
    return 2 * n if n >= 0 else -2 * n - 1


def unzigzag(u):
    return u >> 1 if not u & 1 else -((u + 1) >> 1)


U64 = st.one_of(st.integers(0, (1 << 64) - 1),
                st.sampled_from([0, 1, 127, 128, 255, 16383, 16384, (1 << 63), (1 << 64) - 1]))
I64 = st.one_of(st.integers(-(1 << 63), (1 << 63) - 1),
                st.sampled_from([0, -1, 1, -64, 63, -65, 64, -(1 << 63), (1 << 63) - 1]))


# ---- ByteBuffer: writes and reads against struct ------------------------------

@given(st.lists(items(), max_size=20), st.binary(max_size=12), st.integers(0, 12))
def test_bytebuffer_writes_match_struct_pack(seq, prefix, consumed):
    b = ByteBuffer(512)
    b.write(prefix)
    b.consume(min(consumed, len(prefix)))
    before = bytes(b.peek())
    for kind, order, v in seq:
        method = getattr(b, "write_" + kind)
        # every argument form: positional, keyword, default
        if order == "big" and len(seq) % 3 == 0:
            n = method(v)
        elif len(seq) % 3 == 1:
            n = method(v, byteorder=order)
        else:
            n = method(v, order)
        assert n == KINDS[kind][1]
    assert bytes(b.peek()) == before + packed(seq)


@given(st.lists(items(), max_size=20), st.binary(max_size=12))
def test_bytebuffer_reads_match_unpack_from(seq, prefix):
    data = prefix + packed(seq)
    b = ByteBuffer(512)
    b.write(data)
    b.consume(len(prefix))
    off = len(prefix)
    for kind, order, v in seq:
        f = fmt(kind, order)
        expected = struct.unpack_from(f, data, off)[0]
        read = getattr(b, "read_" + kind)
        got = read(order) if order == "little" else read()
        assert same(got, expected)
        if not KINDS[kind][3]:
            size = KINDS[kind][1]
            assert got == int.from_bytes(data[off:off + size], order, signed=KINDS[kind][2])
        off += KINDS[kind][1]
    assert len(b) == 0


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("order", list(ORDERS))
def test_every_kind_round_trips_its_extremes(kind, order):
    vals = [0.0, -0.0, 1.5, float("inf"), float("-inf"), float("nan"), 3.4e38, 5e-324] \
        if KINDS[kind][3] else list(bounds(kind)) + [0, 1]
    if kind == "f32":
        vals[-1] = 1e-45
    b = ByteBuffer(128)
    for v in vals:
        getattr(b, "write_" + kind)(v, byteorder=order)
    assert bytes(b.peek()) == b"".join(struct.pack(fmt(kind, order), v) for v in vals)
    for v in vals:
        assert same(getattr(b, "read_" + kind)(byteorder=order),
                    struct.unpack(fmt(kind, order), struct.pack(fmt(kind, order), v))[0])


def test_float_writes_bit_identical_to_struct_for_rounding_cases():
    b = ByteBuffer(64)
    for v in (0.1, 1 / 3, 3.4028234e38, 3.4028235677973366e38, 3.4028235677973362e38,
              1.401298464324817e-45, 2.0 ** -149 * 0.5, 2.0 ** -150 * 1.5):
        try:
            expected = struct.pack(">f", v)
        except OverflowError:
            with pytest.raises(OverflowError):
                b.write_f32(v)
            assert len(b) == 0
            continue
        b.write_f32(v)
        assert bytes(b.read(4)) == expected


# ---- errors on writes: types, ranges, nothing written ---------------------------

class Idx:
    def __init__(self, v):
        self.v = v

    def __index__(self):
        return self.v


class Flt:
    def __float__(self):
        return 2.5


@pytest.mark.parametrize("kind", INT_KINDS)
def test_int_write_range_and_types(kind):
    lo, hi = bounds(kind)
    f = ">" + KINDS[kind][0]
    b = ByteBuffer(32)
    b.write(b"keep")
    w = getattr(b, "write_" + kind)
    for bad in (lo - 1, hi + 1, 1 << 70, -(1 << 70)):
        with pytest.raises(OverflowError, match=r"out of range"):
            w(bad)
        with pytest.raises(struct.error):  # struct says no too (its own class)
            struct.pack(f, bad)
    for bad in (1.0, "1", None, b"1", 1j):
        with pytest.raises(TypeError, match="must be an integer"):
            w(bad)
    assert bytes(b.peek()) == b"keep" and b.free == 28
    # __index__ and bool are honoured as struct does
    w(Idx(hi))
    w(True)
    assert bytes(b.peek()) == b"keep" + struct.pack(f, hi) + struct.pack(f, True)


@pytest.mark.parametrize("kind", ["f32", "f64"])
def test_float_write_types(kind):
    b = ByteBuffer(32)
    w = getattr(b, "write_" + kind)
    for bad in ("1", None, b"x"):
        with pytest.raises(TypeError):
            w(bad)
        with pytest.raises(struct.error):
            struct.pack(">" + KINDS[kind][0], bad)
    assert len(b) == 0
    w(Flt())
    w(Idx(7))  # __index__ as a float, like struct and float()
    w(3)
    f = ">" + KINDS[kind][0]
    assert bytes(b.peek()) == struct.pack(f, 2.5) + struct.pack(f, 7) + struct.pack(f, 3)


def test_f32_overflow_matches_struct():
    b = ByteBuffer(8)
    with pytest.raises(OverflowError) as e:
        b.write_f32(1e300)
    with pytest.raises(OverflowError) as e2:
        struct.pack("<f", 1e300)
    assert str(e.value) == str(e2.value)
    assert len(b) == 0 and b.free == 8


def test_byteorder_argument():
    b = ByteBuffer(32)
    b.write_u16(258, "".join(["lit", "tle"]))  # not the interned string
    b.write_u16(258, byteorder="big")
    assert bytes(b.peek()) == b"\x02\x01\x01\x02"
    with pytest.raises(ValueError, match="byteorder must be either 'little' or 'big'"):
        b.write_u16(1, "native")
    with pytest.raises(TypeError, match="byteorder must be str"):
        b.write_u16(1, b"big")
    with pytest.raises(ValueError):
        b.read_u16("BIG")
    with pytest.raises(TypeError):
        b.read_u16(byteorder=None)
    with pytest.raises(TypeError, match="unexpected keyword"):
        b.read_u16(order="big")
    with pytest.raises(TypeError, match="multiple values"):
        b.write_u16(1, "big", byteorder="big")
    with pytest.raises(TypeError, match="at most"):
        b.read_u16("big", "little")
    with pytest.raises(TypeError, match="missing required argument 'value'"):
        b.write_u16(byteorder="big")
    assert b.write_u16(value=5, byteorder="little") == 2
    assert bytes(b.peek()) == b"\x02\x01\x01\x02\x05\x00"


def test_write_too_small_nothing_written():
    b = ByteBuffer(8)
    b.write(b"abcde")
    with pytest.raises(BufferTooSmall) as e:
        b.write_u32(1)
    assert e.value.needed == 4
    assert bytes(b.peek()) == b"abcde"
    b.consume(2)
    b.write_u32(0x01020304)  # compacts to make room
    assert bytes(b.peek()) == b"cde\x01\x02\x03\x04"
    with pytest.raises(BufferTooSmall):
        b.write_uvarint(1 << 63)
    with pytest.raises(BufferTooSmall):
        b.write_struct(struct.Struct("<HH"), 1, 2)
    assert bytes(b.peek()) == b"cde\x01\x02\x03\x04"


# ---- errors on reads: nothing consumed ---------------------------------------

@pytest.mark.parametrize("kind", list(KINDS))
def test_short_read_is_incomplete_read_nothing_consumed(kind):
    size = KINDS[kind][1]
    b = ByteBuffer(16)
    b.write(b"\x01\x02\x03\x04\x05\x06\x07\x08"[:size - 1])
    with pytest.raises(IncompleteRead) as e:
        getattr(b, "read_" + kind)()
    assert e.value.partial == b"\x01\x02\x03\x04\x05\x06\x07"[:size - 1]
    assert e.value.expected == size
    assert isinstance(e.value, EOFError)
    assert len(b) == size - 1 and bytes(b.peek()) == e.value.partial


def test_read_while_filling_refused():
    b = ByteBuffer(16)
    b.write(b"\x00" * 8)

    class Src:
        def readinto(self, m):
            with pytest.raises(RuntimeError, match="being filled"):
                b.read_u32()
            with pytest.raises(RuntimeError, match="being filled"):
                b.write_u32(1)
            with pytest.raises(RuntimeError, match="being filled"):
                b.read_struct(struct.Struct("B"))
            with pytest.raises(RuntimeError, match="being filled"):
                b.write_struct(struct.Struct("B"), 1)
            return 0

    assert b.fill_from(Src()) == 0
    assert len(b) == 8


# ---- varints ---------------------------------------------------------------------

@given(st.lists(U64, max_size=20), st.binary(max_size=5))
def test_uvarint_round_trip_against_reference(vals, prefix):
    b = ByteBuffer(256)
    b.write(prefix)
    b.consume(len(prefix))
    for v in vals:
        assert b.write_uvarint(v) == len(leb_encode(v))
    assert bytes(b.peek()) == b"".join(leb_encode(v) for v in vals)
    assert [b.read_uvarint() for _ in vals] == vals
    assert len(b) == 0


@given(st.lists(I64, max_size=20))
def test_varint_zigzag_against_reference(vals):
    b = ByteBuffer(256)
    for v in vals:
        b.write_varint(v)
    assert bytes(b.peek()) == b"".join(leb_encode(zigzag(v)) for v in vals)
    assert [b.read_varint() for _ in vals] == vals


def test_zigzag_mapping():
    b = ByteBuffer(64)
    for v in (0, -1, 1, -2, 2, 63, -64, 64):
        b.write_varint(v)
    assert list(bytes(b.peek())) == [0, 1, 2, 3, 4, 126, 127, 128, 1]
    for u in (0, 1, 2, 3, (1 << 64) - 1, (1 << 64) - 2):
        b.clear()
        b.write_uvarint(u)
        assert b.read_varint() == unzigzag(u)


@given(st.binary(max_size=14), st.binary(max_size=4))
def test_uvarint_decode_any_bytes_against_reference(data, prefix):
    """Every byte string: decoded as the reference does, or the same error,
    and the cursor unchanged on errors.  Non-canonical encodings (0x80 0x00)
    decode, as Go's binary.Uvarint does."""
    b = ByteBuffer(64)
    b.write(prefix + data)
    b.consume(len(prefix))
    try:
        ref = leb_decode(data)
    except ValueError:
        with pytest.raises(VarintError, match="over-long"):
            b.read_uvarint()
        assert bytes(b.peek()) == data
        return
    if ref is None:
        with pytest.raises(IncompleteRead) as e:
            b.read_uvarint()
        assert e.value.partial == data and e.value.expected is None
        assert bytes(b.peek()) == data
        return
    assert b.read_uvarint() == ref[0]
    assert bytes(b.peek()) == data[ref[1]:]


def test_varint_edges():
    b = ByteBuffer(64)
    b.write(b"\xff" * 9 + b"\x01")  # 2**64 - 1: the longest valid
    assert b.read_uvarint() == (1 << 64) - 1
    for bad in (b"\xff" * 9 + b"\x02", b"\x80" * 10 + b"\x00", b"\xff" * 11):
        b.clear()
        b.write(bad)
        with pytest.raises(VarintError):
            b.read_uvarint()
        with pytest.raises(VarintError):
            b.read_varint()
        assert bytes(b.peek()) == bad
    assert issubclass(VarintError, ValueError)
    b.clear()
    b.write(b"\x80\x80")
    with pytest.raises(IncompleteRead):
        b.read_varint()
    assert len(b) == 2
    b.write(b"\x00")
    assert b.read_varint() == 0 and len(b) == 0
    b.clear()
    for bad, exc in ((-1, OverflowError), (1 << 64, OverflowError), (1.0, TypeError),
                     ("1", TypeError)):
        with pytest.raises(exc):
            b.write_uvarint(bad)
    for bad, exc in ((1 << 63, OverflowError), (-(1 << 63) - 1, OverflowError), (None, TypeError)):
        with pytest.raises(exc):
            b.write_varint(bad)
    assert len(b) == 0
    assert b.write_uvarint(Idx(300)) == 2 and b.read_uvarint() == 300
    with pytest.raises(TypeError):
        b.read_uvarint(0)
    with pytest.raises(TypeError):
        b.write_uvarint()


# ---- read_struct / write_struct ------------------------------------------------

FIELDS = st.lists(st.sampled_from("bBhHiIqQfd?x"), min_size=1, max_size=6)


@st.composite
def struct_and_values(draw):
    order = draw(st.sampled_from("<>!=@"))
    codes = draw(FIELDS)
    s = struct.Struct(order + "".join(codes))
    vals = []
    for c in codes:
        if c == "x":
            continue
        if c == "?":
            vals.append(draw(st.booleans()))
        elif c in "fd":
            vals.append(draw(st.floats(width=32 if c == "f" else 64, allow_nan=False)))
        else:
            size = struct.calcsize("<" + c)
            if c.islower():
                vals.append(draw(st.integers(-(1 << (8 * size - 1)), (1 << (8 * size - 1)) - 1)))
            else:
                vals.append(draw(st.integers(0, (1 << (8 * size)) - 1)))
    return s, vals


@given(struct_and_values(), st.binary(max_size=7))
def test_struct_round_trip_against_struct(sv, prefix):
    s, vals = sv
    b = ByteBuffer(256)
    b.write(prefix)
    b.consume(len(prefix))
    assert b.write_struct(s, *vals) == s.size
    assert bytes(b.peek()) == s.pack(*vals)
    b.write(b"tail")
    assert b.read_struct(s) == s.unpack(s.pack(*vals))
    assert bytes(b.peek()) == b"tail"


def test_struct_errors_nothing_written_or_consumed():
    s = struct.Struct("<HI")
    b = ByteBuffer(32)
    b.write(b"abc")
    with pytest.raises(struct.error):
        b.write_struct(s, 1)  # too few values
    with pytest.raises(struct.error):
        b.write_struct(s, 1, 1 << 40)
    with pytest.raises(struct.error):
        b.write_struct(s, 1, "x")
    with pytest.raises(TypeError, match="struct.Struct"):
        b.write_struct("<HI", 1, 2)
    with pytest.raises(TypeError, match="struct.Struct"):
        b.read_struct("<HI")
    with pytest.raises(TypeError):
        b.write_struct()
    assert bytes(b.peek()) == b"abc" and b.free == 29
    with pytest.raises(IncompleteRead) as e:
        b.read_struct(s)
    assert e.value.partial == b"abc" and e.value.expected == 6
    assert bytes(b.peek()) == b"abc"


def test_struct_subclass_accepted():
    class S(struct.Struct):
        pass
    s = S(">HH")
    b = ByteBuffer(16)
    b.write_struct(s, 1, 2)
    assert b.read_struct(s) == (1, 2)


def test_struct_empty():
    s = struct.Struct("")
    b = ByteBuffer(4)
    assert b.write_struct(s) == 0 and b.read_struct(s) == ()


MIXED = st.one_of(items(), st.tuples(st.just("uvarint"), U64), st.tuples(st.just("varint"), I64))


# ---- Writer -------------------------------------------------------------------------

@given(st.lists(MIXED, max_size=40),
       st.integers(10, 40))
def test_writer_matches_struct(seq, bufsize):
    out = io.BytesIO()
    w = Writer(out, bufsize)
    expected = bytearray()
    for it in seq:
        if it[0] == "uvarint":
            assert w.write_uvarint(it[1]) == len(leb_encode(it[1]))
            expected += leb_encode(it[1])
        elif it[0] == "varint":
            w.write_varint(it[1])
            expected += leb_encode(zigzag(it[1]))
        else:
            kind, order, v = it
            getattr(w, "write_" + kind)(v, byteorder=order)
            expected += struct.pack(fmt(kind, order), v)
    w.close()
    assert out.getvalue() == bytes(expected)


def test_writer_struct_larger_than_buffer_and_closed():
    out = io.BytesIO()
    w = Writer(out, 16)
    w.write_u32(7)
    big = struct.Struct("<40sI")
    assert w.write_struct(big, b"x" * 40, 9) == 44
    w.write_struct(struct.Struct(">Q"), 5)
    w.close()
    assert out.getvalue() == struct.pack(">I", 7) + big.pack(b"x" * 40, 9) + struct.pack(">Q", 5)
    for name in ("write_u8", "write_f64", "write_uvarint", "write_struct"):
        with pytest.raises(ValueError, match="closed"):
            getattr(w, name)(1)


def test_writer_error_writes_nothing():
    out = io.BytesIO()
    w = Writer(out, 16)
    w.write(b"ab")
    with pytest.raises(OverflowError):
        w.write_u8(256)
    with pytest.raises(TypeError):
        w.write_u32(1.5)
    w.close()
    assert out.getvalue() == b"ab"


# ---- Reader -------------------------------------------------------------------------

class OneByte(io.RawIOBase):
    """A source that returns one byte per readinto: every value straddles
    refills."""

    def __init__(self, data):
        self.data = data
        self.pos = 0

    def readable(self):
        return True

    def readinto(self, m):
        if self.pos >= len(self.data) or not len(m):
            return 0
        m[0] = self.data[self.pos]
        self.pos += 1
        return 1


@given(st.lists(MIXED, max_size=30),
       st.integers(10, 40), st.booleans())
def test_reader_matches_struct(seq, bufsize, onebyte):
    data = bytearray()
    for it in seq:
        if it[0] == "uvarint":
            data += leb_encode(it[1])
        elif it[0] == "varint":
            data += leb_encode(zigzag(it[1]))
        else:
            data += struct.pack(fmt(it[0], it[1]), it[2])
    data = bytes(data)
    r = Reader(OneByte(data) if onebyte else io.BytesIO(data), bufsize)
    for it in seq:
        if it[0] == "uvarint":
            assert r.read_uvarint() == it[1]
        elif it[0] == "varint":
            assert r.read_varint() == it[1]
        else:
            kind, order, v = it
            got = getattr(r, "read_" + kind)(byteorder=order)
            assert same(got, struct.unpack(fmt(kind, order), struct.pack(fmt(kind, order), v))[0])
    assert r.read_bytes() == b""


@given(st.integers(2, 8), st.booleans())
def test_reader_eof_mid_value_nothing_consumed(size, onebyte):
    data = bytes(range(1, size))
    r = Reader(OneByte(data) if onebyte else io.BytesIO(data), 16)
    name = {2: "read_u16", 4: "read_i32", 8: "read_f64"}.get(size, "read_u64")
    with pytest.raises(IncompleteRead) as e:
        getattr(r, name)()
    assert e.value.partial == data[:len(e.value.partial)]
    assert r.read_bytes() == data  # nothing consumed


def test_reader_varint_eof_and_capacity():
    r = Reader(OneByte(b"\x80\x80\x80"), 16)
    with pytest.raises(IncompleteRead) as e:
        r.read_uvarint()
    assert e.value.partial == b"\x80\x80\x80" and e.value.expected is None
    assert r.read_bytes() == b"\x80\x80\x80"
    r = Reader(OneByte(b"\xff" * 12), 16)
    with pytest.raises(VarintError):
        r.read_uvarint()
    assert r.read_bytes() == b"\xff" * 12
    r = Reader(io.BytesIO(b"\x00" * 8), 4)
    with pytest.raises(BufferTooSmall) as e2:
        r.read_u64()
    assert e2.value.needed == 8
    assert r.read_bytes() == b"\x00" * 8


def test_reader_struct_larger_than_buffer():
    s = struct.Struct("<I60sI")
    data = s.pack(1, b"y" * 60, 2) + b"rest"
    r = Reader(OneByte(data), 16)
    assert r.read_struct(s) == (1, b"y" * 60, 2)
    assert r.read_bytes() == b"rest"
    r = Reader(io.BytesIO(data[:30]), 16)
    with pytest.raises(IncompleteRead):
        r.read_struct(s)


def test_reader_fd_source(tmp_path):
    import os
    p = tmp_path / "f"
    p.write_bytes(struct.pack(">IHq", 1, 2, -3) + leb_encode(1 << 40))
    fd = os.open(p, os.O_RDONLY)
    try:
        r = Reader(fd, 12)
        assert (r.read_u32(), r.read_u16(), r.read_i64(), r.read_uvarint()) == (1, 2, -3, 1 << 40)
        with pytest.raises(IncompleteRead):
            r.read_u8()
    finally:
        os.close(fd)


# ---- Rope ----------------------------------------------------------------------------

@st.composite
def segmented(draw):
    data = draw(st.binary(min_size=0, max_size=40))
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=len(data) + 1)))
    parts, last = [], 0
    for c in cuts + [len(data)]:
        parts.append(data[last:c])
        last = c
    # windows inside larger buffers too
    wrapped = [View(b"<<" + p + b">>")[2:2 + len(p)] if i % 2 else p for i, p in enumerate(parts)]
    return data, Rope(wrapped)


@given(segmented(), st.sampled_from(list(KINDS)), st.sampled_from(list(ORDERS)))
def test_rope_reads_at_every_offset(dr, kind, order):
    data, r = dr
    size = KINDS[kind][1]
    for off in range(-len(data) - 1, len(data) + 2):
        try:
            expected = struct.unpack_from(fmt(kind, order), data, off)[0]
        except struct.error:
            with pytest.raises(IndexError):
                getattr(r, "read_" + kind)(off, order)
            continue
        got = getattr(r, "read_" + kind)(off, byteorder=order)
        assert same(got, expected)
        if order == "big":
            assert same(getattr(r, "read_" + kind)(offset=off), expected)
        if not KINDS[kind][3] and off >= 0:
            assert got == int.from_bytes(data[off:off + size], order, signed=KINDS[kind][2])
    assert bytes(r) == data  # nothing consumed, nothing flattened
    if len(data) >= size:
        assert same(getattr(r, "read_" + kind)(0, order),
                    struct.unpack_from(fmt(kind, order), data)[0])


def test_rope_one_byte_segments_do_not_flatten():
    data = struct.pack(">Qd", 0x0102030405060708, -2.5)
    r = Rope([data[i:i + 1] for i in range(len(data))])
    assert r.read_u64() == 0x0102030405060708
    assert r.read_f64(8) == -2.5
    assert r.read_i32(6, "little") == struct.unpack_from("<i", data, 6)[0]
    assert r.nsegments == len(data)


@given(st.lists(U64, max_size=8), st.data())
def test_rope_varints(vals, data):
    enc = b"".join(leb_encode(v) for v in vals)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(enc)), max_size=12)))
    parts, last = [], 0
    for c in cuts + [len(enc)]:
        parts.append(enc[last:c])
        last = c
    r = Rope(parts)
    off = 0
    for v in vals:
        got, off2 = r.read_uvarint(off)
        assert got == v and off2 - off == len(leb_encode(v))
        assert r.read_varint(off) == (unzigzag(v), off2)
        off = off2
    with pytest.raises(IndexError):
        r.read_uvarint(len(enc) + 1)
    assert bytes(r) == enc


def test_rope_varint_errors():
    r = Rope([b"\x05\xff", b"\xff"])
    assert r.read_uvarint() == (5, 1)
    with pytest.raises(IndexError, match="runs past the end"):
        r.read_uvarint(1)
    with pytest.raises(IndexError):
        r.read_uvarint(3)
    r = Rope([b"\xff" * 5, b"\xff" * 5, b"\x01"])
    with pytest.raises(VarintError):
        r.read_uvarint()
    assert r.read_uvarint(1) == ((1 << 64) - 1, 11)
    assert r.read_uvarint(-10) == ((1 << 64) - 1, 11)
    with pytest.raises(TypeError):
        r.read_uvarint(1.0)


def test_rope_read_struct():
    s = struct.Struct("<HIq")
    data = b"ab" + s.pack(1, 2, -3)
    r = Rope([data[:3], data[3:5], data[5:]])
    assert r.read_struct(s, 2) == (1, 2, -3)
    assert r.read_struct(s, -s.size) == (1, 2, -3)
    with pytest.raises(IndexError):
        r.read_struct(s, 3)
    with pytest.raises(TypeError):
        r.read_struct("<H")
    assert r.nsegments == 3


def test_rope_argument_errors():
    r = Rope([b"\x00\x01", b"\x02\x03"])
    with pytest.raises(TypeError):
        r.read_u16("0")
    with pytest.raises(TypeError, match="unexpected keyword"):
        r.read_u16(off=0)
    with pytest.raises(TypeError, match="multiple values"):
        r.read_u16(0, offset=0)
    with pytest.raises(ValueError):
        r.read_u16(0, "middle")
    with pytest.raises(TypeError):
        r.read_u16(0, "big", 1)
    with pytest.raises(IndexError):
        r.read_u16(1 << 80)
    assert r.read_u16(Idx(1)) == 0x0102


def test_rope_stale_segment_raises():
    from nocopy import StaleViewError
    b = ByteBuffer(16)
    b.write(b"\x00\x01\x02\x03")
    r = Rope([b.peek(4)])
    b.consume(2)
    b.compact()
    with pytest.raises(StaleViewError):
        r.read_u16(0)
    with pytest.raises(StaleViewError):
        r.read_uvarint(0)


def test_float_nan_payload_bits_like_struct():
    raw = b"\x7f\xa0\x00\x01"  # a signalling NaN pattern
    b = ByteBuffer(8)
    b.write(raw)
    got = b.read_f32()
    assert math.isnan(got)
    assert struct.pack("<d", got) == struct.pack("<d", struct.unpack(">f", raw)[0])
    assert same(Rope([raw[:1], raw[1:]]).read_f32(), struct.unpack(">f", raw)[0])


def test_reader_nonblocking_source_mid_value():
    """A non-blocking source with no data in the middle of a value:
    BlockingIOError, nothing consumed; the value reads once the rest comes."""
    chunks = [b"\x00\x00", None, b"\x01\x02", b"\x80", None, b"\x01"]

    class Src(io.RawIOBase):
        def readable(self):
            return True

        def readinto(self, m):
            if not chunks:
                return 0
            c = chunks.pop(0)
            if c is None:
                return None
            m[:len(c)] = c
            return len(c)

    r = Reader(Src(), 16)
    with pytest.raises(BlockingIOError):
        r.read_u32()
    assert bytes(r.buffer.peek()) == b"\x00\x00"
    assert r.read_u32() == 0x0102
    with pytest.raises(BlockingIOError):
        r.read_uvarint()
    assert r.read_uvarint() == 128


# ---- the capacity a source-backed read can use (headroom=, take_bytes) ---------------
# Reader/Writer drive a ByteBuffer through _attach/_set_overflow; a buffer with
# headroom, or whose storage take_bytes() handed over (holder length 0 until it
# next needs room), must size its reads and writes by its capacity, not by the
# storage's current length.

@pytest.mark.parametrize("read, data, want", [
    (lambda b: b.read_u32(), struct.pack(">I", 7), 7),
    (lambda b: b.read_u16("little"), b"\x02\x01", 0x0102),
    (lambda b: b.read_uvarint(), b"\x96\x01", 150),
    (lambda b: b.read_struct(struct.Struct("<H")), b"\x05\x00", (5,)),
])
def test_typed_reads_after_take_bytes_read_the_source(read, data, want):
    b = ByteBuffer(1024, storage="bytes")
    b._attach(io.BytesIO(data + b"rest"))
    b.write(b"x" * 1000)
    assert b.take_bytes() == b"x" * 1000  # handed over: detached
    assert b.free == 1024
    assert read(b) == want
    assert bytes(b.read()) == b"rest"


def test_typed_read_larger_than_capacity_with_headroom():
    b = ByteBuffer(4, headroom=8)
    b._attach(io.BytesIO(bytes(range(16))))
    with pytest.raises(BufferTooSmall) as e:
        b.read_u64()
    assert e.value.needed == 8
    assert "capacity (4)" in str(e.value)
    assert b.read_u32() == 0x00010203  # nothing lost


def test_read_struct_larger_than_capacity_with_headroom_reads_the_frame():
    b = ByteBuffer(8, headroom=8)
    b._attach(io.BytesIO(bytes(range(20))))
    assert b.read_struct(struct.Struct("12s")) == (bytes(range(12)),)
    assert b.read_u8() == 12


def test_write_struct_larger_than_capacity_with_headroom_goes_to_the_handler():
    sent = []

    def handler(buf, data, offset, length):
        sent.append(bytes(buf.read()) + bytes(data[offset:offset + length]))
        return length

    b = ByteBuffer(8, headroom=8)
    b._set_overflow(handler)
    b.write(b"ab")
    assert b.write_struct(struct.Struct(">12s"), b"0123456789AB") == 12
    assert sent == [b"ab0123456789AB"]
