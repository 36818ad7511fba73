"""Leak checks for the typed cursors: every entry point, success and error
paths, repeated many times: the allocated block count stays flat."""
import io
import struct

from leakcheck import assert_no_leak, raises
from nocopy import BufferTooSmall, ByteBuffer, IncompleteRead, Rope, VarintError
from nocopy.io import Reader, Writer

S = struct.Struct("<HIq")
BIG = 1 << 60


class Idx:
    def __index__(self):
        return 300


def test_bytebuffer_typed_cursors_do_not_leak():
    b = ByteBuffer(256)

    def once():
        b.write_u8(1); b.write_u16(BIG >> 48, "little"); b.write_u32(BIG >> 30)  # noqa: E702
        b.write_u64(BIG, byteorder="big"); b.write_i8(-1); b.write_i16(-300)  # noqa: E702
        b.write_i32(-BIG >> 40); b.write_i64(-BIG)  # noqa: E702
        b.write_f32(1.5); b.write_f64(-2.25)  # noqa: E702
        b.write_uvarint(BIG); b.write_varint(-BIG); b.write_uvarint(Idx())  # noqa: E702
        b.write_struct(S, 1, 2, -3)
        b.read_u8(); b.read_u16("little"); b.read_u32(); b.read_u64(byteorder="big")  # noqa: E702
        b.read_i8(); b.read_i16(); b.read_i32(); b.read_i64()  # noqa: E702
        b.read_f32(); b.read_f64()  # noqa: E702
        b.read_uvarint(); b.read_varint(); b.read_uvarint(); b.read_struct(S)  # noqa: E702

    assert_no_leak(once, n=20_000)


def test_bytebuffer_error_paths_do_not_leak():
    b = ByteBuffer(16)
    b.write(b"\xff" * 11)
    full = ByteBuffer(4)
    full.write(b"abc")
    calls = [
        raises(VarintError, b.read_uvarint),
        raises(OverflowError, b.write_u8, 256),
        raises(OverflowError, b.write_u64, -BIG),
        raises(OverflowError, b.write_varint, 1 << 70),
        raises(TypeError, b.write_u32, 1.5),
        raises(TypeError, b.write_f64, "x"),
        raises(OverflowError, b.write_f32, 1e300),
        raises(ValueError, b.read_u32, "middle"),
        raises(TypeError, b.read_u32, order="big"),
        raises(BufferTooSmall, full.write_u32, 1),
        raises(BufferTooSmall, full.write_struct, S, 1, 2, 3),
        raises(IncompleteRead, full.read_u32),
        raises(IncompleteRead, full.read_struct, S),
        raises(struct.error, b.write_struct, struct.Struct("<I"), "x"),
        raises(TypeError, b.write_struct, "<I", 1),
    ]

    def once():
        for c in calls:
            c()

    assert_no_leak(once, n=10_000)


def test_reader_writer_typed_do_not_leak():
    data = struct.pack(">IQd", 1, BIG, 2.5) + b"\x80\x80\x01" + S.pack(1, 2, 3)

    def once():
        out = io.BytesIO()
        w = Writer(out, 12)
        w.write_u32(1); w.write_u64(BIG); w.write_f64(2.5); w.write_uvarint(1 << 14)  # noqa: E702
        w.write_struct(S, 1, 2, 3)
        w.write_struct(struct.Struct("<20s"), b"x")
        w.close()
        r = Reader(io.BytesIO(data), 16)
        r.read_u32(); r.read_u64(); r.read_f64(); r.read_uvarint(); r.read_struct(S)  # noqa: E702
        try:
            r.read_u8()
        except IncompleteRead:
            pass

    assert_no_leak(once, n=5_000)


def test_rope_typed_reads_do_not_leak():
    data = struct.pack(">IQd", 1, BIG, 2.5) + b"\x80\x80\x01" + b"\xff" * 11
    r = Rope([data[i:i + 3] for i in range(0, len(data), 3)])

    errors = (raises(VarintError, r.read_uvarint, 23), raises(IndexError, r.read_u64, -3),
              raises(IndexError, r.read_uvarint, len(data) + 1), raises(TypeError, r.read_u8, "x"))

    def once():
        r.read_u32(); r.read_u64(4, "little"); r.read_f64(offset=12)  # noqa: E702
        r.read_uvarint(20); r.read_varint(20); r.read_struct(S, 1)  # noqa: E702
        for c in errors:
            c()

    assert_no_leak(once, n=10_000)
