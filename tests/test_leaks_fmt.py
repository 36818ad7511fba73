"""Leak tests for formatting into buffers: every path (pinned exports,
temporaries, mapping items, the heap array of pieces, every error) repeated
many times keeps the allocated block count flat."""
import pytest

from leakcheck import assert_no_leak, raises
from nocopy import BufferTooSmall, ByteBuffer, View, format_into

BUF = bytearray(4096)
VIEWBUF = View(bytearray(512), 8, 500)
BB = ByteBuffer(8192)
OVL = bytearray(2048)
MANY = b"|".join([b"%d %s %.2f"] * 30)
MANY_ARGS = tuple(x for i in range(30) for x in (i * 1000, b"ab", i / 3))


class Bts:
    def __bytes__(self):
        return b"from __bytes__"


class Boom(Exception):
    pass


class BadIndex:
    def __index__(self):
        raise Boom


def bb_write_fmt(*args):
    BB.clear()
    return BB.write_fmt(*args)


def prepend():
    BB.clear()
    BB.write(b"x" * 64 + b"body")
    BB.consume(64)
    BB.prepend_fmt(b"%d:%s:", 12345, b"hdr")
    held = memoryview(BB.peek())  # an export forces the move to fresh storage
    BB.consume(2)
    BB.prepend_fmt(b"%c%c", 65, 66)
    held.release()


CASES = {
    "ints_floats_bytes": lambda: format_into(BUF, 3, b"%d %x %#o %.3f %e %g %s %b %c", -12345, 255, 8,
                                             1.5, 2.5, 1e-9, b"by", bytearray(b"ba"), 65),
    "view_target": lambda: format_into(VIEWBUF, 2, b"%s=%d", memoryview(b"key"), 10**6),
    "bigint": lambda: format_into(BUF, 0, b"%d %x %#X %.50o", 2**100, -2**90, 2**70, 2**65),
    "repr_ascii": lambda: format_into(BUF, 0, b"%r %a %.3r", "\xe9", [1, "x"], object),
    "dunder_bytes": lambda: format_into(BUF, 0, b"%s", Bts()),
    "long_float": lambda: format_into(BUF, 0, b"%.100f %.300e", 1 / 3, 2.5),
    "strided": lambda: format_into(BUF, 0, b"%s", memoryview(b"abcdef")[::2]),
    "mapping": lambda: format_into(BUF, 0, b"%(a)s %(b)d", {b"a": bytearray(b"v"), b"b": 7}),
    "many_pieces": lambda: format_into(BUF, 0, MANY, *MANY_ARGS),
    "overlap": lambda: (OVL.__setitem__(slice(0, 4), b"<%d>"), format_into(OVL, 1, memoryview(OVL)[:4], 5)),
    "overlap_big": lambda: (OVL.__setitem__(slice(0, 4), b"<%s>"), format_into(OVL, 1, memoryview(OVL)[:4],
                                                                             b"y" * 1000)),
    "bytebuffer": lambda: bb_write_fmt(b"Content-Length: %d\r\n", 1234),
    "bytebuffer_many": lambda: bb_write_fmt(MANY, *MANY_ARGS),
    "write_int_float": lambda: (BB.clear(), BB.write_int(2**100), BB.write_int(-5), BB.write_float(0.1)),
    "prepend": prepend,
    "too_small": raises(BufferTooSmall, format_into, bytearray(4), 0, b"%s", b"x" * 10),
    "too_small_many": raises(BufferTooSmall, format_into, bytearray(4), 0, MANY, *MANY_ARGS),
    "too_small_bb": raises(BufferTooSmall, ByteBuffer(4).write_fmt, b"%s %s", bytearray(b"xy"), b"zz"),
    "not_enough": raises(TypeError, format_into, BUF, 0, b"%s %d %d", b"x", 1),
    "not_all": raises(TypeError, format_into, BUF, 0, b"%s", b"x", 1),
    "bad_index": raises(Boom, format_into, BUF, 0, b"%s %x", b"pinned", BadIndex()),
    "bad_index_many": raises(Boom, format_into, BUF, 0, MANY + b"%x", *MANY_ARGS, BadIndex()),
    "bad_char": raises(ValueError, format_into, BUF, 0, b"%s %z", bytearray(b"x"), 1),
    "key_error": raises(KeyError, format_into, BUF, 0, b"%(a)s %(zz)s", {b"a": bytearray(b"x")}),
    "readonly_target": raises(TypeError, format_into, b"readonly", 0, b"%s", b"x"),
    "prepend_too_small": raises(BufferTooSmall, ByteBuffer(8).prepend_fmt, b"%d", 5),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_no_leak(name):
    assert_no_leak(CASES[name], n=20_000, warmup=500)
