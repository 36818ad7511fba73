"""Typed cursors under hostile Python: an argument whose __index__/__float__
clears, fills or reads the very buffer being written, Struct subclasses that
keep the memory they were lent or call back into the buffer, finalizers run
by the C code's own allocations, a source that reads back reentrantly, a
Rope changed by its offset's __index__."""
import io
import struct

import pytest

from nocopy import BufferTooSmall, ByteBuffer, Rope
from nocopy.io import Reader
from finalizers import inside
from test_hostile_buffer import _drain, hostile  # noqa: F401  (the fixture)


class Hook:
    """An int-like (and float-like) value whose conversion runs fn first."""

    def __init__(self, value, fn):
        self.value = value
        self.fn = fn

    def __index__(self):
        self.fn()
        return self.value

    def __float__(self):
        self.fn()
        return float(self.value)


def test_index_clears_before_write():
    b = ByteBuffer(16)
    b.write(b"abcdef")
    v = b.peek()
    assert b.write_u32(Hook(0x01020304, b.clear)) == 4
    assert bytes(b.peek()) == b"\x01\x02\x03\x04"
    with pytest.raises(Exception):
        bytes(v)  # stale, never other bytes


def test_index_fills_before_write():
    b = ByteBuffer(8)
    b.write(b"ab")
    b.write_u16(Hook(0x0102, lambda: b.write(b"cd")), "little")
    assert bytes(b.peek()) == b"abcd\x02\x01"
    # conversion fills the buffer up: no room any more, nothing written
    with pytest.raises(BufferTooSmall):
        b.write_u32(Hook(1, lambda: b.write(b"z")))
    assert bytes(b.peek()) == b"abcd\x02\x01z"


def test_index_reads_and_consumes_before_write():
    b = ByteBuffer(8)
    b.write(b"\x00\x07rest")
    b.write_u8(Hook(9, lambda: b.read_u16()))
    assert bytes(b.peek()) == b"rest\x09"


def test_float_clears_before_write():
    b = ByteBuffer(16)
    b.write(b"junkjunk")
    b.write_f64(Hook(2, b.clear))
    assert bytes(b.peek()) == struct.pack(">d", 2.0)


def test_varint_index_clears():
    b = ByteBuffer(16)
    b.write(b"x" * 16)
    assert b.write_uvarint(Hook(300, b.clear)) == 2
    assert bytes(b.peek()) == b"\xac\x02"


@pytest.mark.parametrize("action", ["clear", "write", "read", "writable", "compact", "commit"])
def test_write_struct_value_mutating_buffer_is_refused(action):
    b = ByteBuffer(32)
    b.write(b"keep")
    fns = {
        "clear": b.clear, "write": lambda: b.write(b"zz"), "read": lambda: b.read_u8(),
        "writable": lambda: b.writable(4), "compact": b.compact, "commit": lambda: b.commit(1),
    }
    seen = []

    def fn():
        try:
            fns[action]()
        except RuntimeError as e:
            seen.append(e)
            raise
    with pytest.raises(RuntimeError, match="being filled"):
        b.write_struct(struct.Struct("<II"), 1, Hook(2, fn))
    assert len(seen) == 1
    assert bytes(b.peek()) == b"keep" and b.free == 28  # nothing committed
    b.write_struct(struct.Struct("<II"), 1, 2)  # not left busy
    assert bytes(b.peek()) == b"keep" + struct.pack("<II", 1, 2)


def test_write_struct_value_may_peek():
    b = ByteBuffer(32)
    b.write(b"keep")
    got = []
    b.write_struct(struct.Struct("<I"), Hook(5, lambda: got.append(bytes(b.peek()))))
    assert got == [b"keep"] and bytes(b.peek()) == b"keep\x05\x00\x00\x00"


def test_struct_subclass_keeping_the_window():
    """pack_into keeps an export of the window it was lent: the commit marks
    the buffer tainted, and the bytes move before a View of them goes out,
    so writes through the kept export never show in the buffer."""
    kept = []

    class S(struct.Struct):
        def pack_into(self, buf, offset, *v):
            kept.append(memoryview(buf))
            return super().pack_into(buf, offset, *v)
    b = ByteBuffer(32)
    b.write_struct(S("<I"), 0x11223344)
    view = b.peek()
    kept[0][0] = 0xEE
    assert bytes(view) == struct.pack("<I", 0x11223344)
    assert b.read_u32("little") == 0x11223344
    kept[0].release()


def test_struct_subclass_lying_about_size():
    class Short(struct.Struct):
        size = 2

    class Long(struct.Struct):
        size = 6
    b = ByteBuffer(32)
    with pytest.raises(struct.error):
        b.write_struct(Short("<I"), 1)  # the window is only 2 bytes
    assert len(b) == 0
    b.write_struct(Long("<I"), 1)  # commits its claimed 6 bytes, never beyond them
    assert len(b) == 6 and bytes(b.peek(4)) == b"\x01\x00\x00\x00"
    b.clear()
    b.write(b"\x01\x00")
    with pytest.raises(struct.error):
        b.read_struct(Short("<I"))  # unpack_from sees the 2 readable bytes only
    assert len(b) == 2


def test_struct_subclass_unpack_calling_back():
    b = ByteBuffer(16)

    class S(struct.Struct):
        def unpack_from(self, buf, offset=0):
            with pytest.raises(RuntimeError):
                b.read_u8()
            with pytest.raises(RuntimeError):
                b.clear()
            return super().unpack_from(buf, offset)
    b.write(b"\x00\x05\x09")
    assert b.read_struct(S(">H")) == (5,)
    assert bytes(b.peek()) == b"\x09"


def test_reentrant_read_from_source_refused():
    r = None

    class Src(io.RawIOBase):
        def readinto(self, m):
            with pytest.raises(RuntimeError):
                r.read_u32()
            m[:4] = b"\x00\x00\x00\x07"
            return 4
    r = Reader(Src(), 16)
    assert r.read_u32() == 7


def test_rope_offset_index_mutating_the_rope():
    r = Rope([b"\x00\x01", b"\x02\x03", b"\x04\x05"])
    assert r.read_u16(Hook(0, lambda: r.skip(2))) == 0x0203
    assert r.read_u16(Hook(2, lambda: r.append(b"\x06\x07"))) == 0x0405
    assert r.read_u16(4) == 0x0607
    with pytest.raises(IndexError):
        r.read_u32(Hook(2, lambda: r.skip(4)))
    assert r.read_uvarint(Hook(0, lambda: r.append(b"\x05"))) == (6, 1)


def test_gc_finalizer_clears_during_write_struct(hostile):  # noqa: F811
    b = ByteBuffer(32)
    b.write(b"abcd")
    b.write(b"x" * 20)
    b.consume(24)
    s = struct.Struct(">I")
    # the first GC allocation inside write_struct is its window View: the
    # finalizer clears and writes before room is reserved
    hostile.arm(lambda: (b.clear(), b.write(b"zz")))
    b.write_struct(s, 0x01020304)
    inside(hostile.log)
    assert hostile.fired == 1 and not hostile.errors
    assert bytes(b.peek()) == b"zz\x01\x02\x03\x04"


def test_read_struct_after_commit_with_held_window_export():
    """An export of writable() held across the commit can still write into
    the committed bytes: read_struct moves them to fresh storage first (as
    every View of readable bytes does), so it reads what was committed."""
    s = struct.Struct("<I")
    b = ByteBuffer(32)
    m = memoryview(b.writable(8))
    m[:8] = struct.pack("<II", 5, 6)
    b.commit(8)
    assert b.read_struct(s) == (5,)
    m[4:8] = b"\xff\xff\xff\xff"  # the old storage: nobody reads it any more
    assert b.read_struct(s) == (6,)
    m.release()


def test_read_struct_subclass_keeping_the_view():
    kept = []

    class S(struct.Struct):
        def unpack_from(self, buf, offset=0):
            kept.append(buf)
            return super().unpack_from(buf, offset)
    b = ByteBuffer(16)
    b.write(b"\x00\x01\x00\x02")
    assert b.read_struct(S(">H")) == (1,)
    assert bytes(kept[0]) == b"\x00\x01"
    w = b.writable(2)  # not the kept View: that one is still referenced
    assert w is not kept[0]
    b.clear()
    b.write(b"zzzz")
    from nocopy import StaleViewError
    with pytest.raises(StaleViewError):
        bytes(kept[0])  # never the new bytes
