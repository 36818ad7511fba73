"""Leak checks for ByteBuffer/Writer.write_json, dumps_into into a Writer
and at a ByteBuffer offset, and View.memoryview(): success and error paths
repeated many times, the allocated block count stays flat."""
import io

from leakcheck import assert_no_leak, raises
from nocopy import BufferTooSmall, ByteBuffer, View
from nocopy.io import Writer
import nocopy.json as nj

DOC = {"id": 1, "name": "é" * 3, "v": [1.5, None, True]}


def test_write_json_paths_do_not_leak():
    b = ByteBuffer(256)
    small = ByteBuffer(8)

    def once():
        b.clear()
        b.write_json(DOC, prefix="u32")
        b.write_json([object()], prefix="u8", default=str, sort_keys=True, indent=2)
        nj.dumps_into(DOC, b, 3)

    assert_no_leak(once, n=20_000)
    assert_no_leak(raises(BufferTooSmall, small.write_json, DOC, prefix="u32"), n=20_000)
    assert_no_leak(raises(OverflowError, b.write_json, "x" * 300, prefix="u8"), n=5_000)
    assert_no_leak(raises(ValueError, b.write_json, 1, prefix="u7"), n=20_000)
    assert_no_leak(raises(TypeError, b.write_json, {1, 2}), n=20_000)
    assert_no_leak(raises(BufferTooSmall, nj.dumps_into, DOC, small, 20), n=20_000)


def test_writer_frames_and_flushes_do_not_leak():
    w = Writer(io.BytesIO(), 64)

    def once():
        w.write_json(DOC, prefix="u32")
        w.write_json({"big": "b" * 100}, prefix="u16")  # larger than the buffer
        nj.dumps_into(DOC, w)
        w._buf.clear() if len(w._buf) > 32 else None
        w.flush()

    assert_no_leak(once, n=20_000)
    assert_no_leak(raises(ValueError, nj.dumps_into, DOC, w, 1), n=20_000)


def test_memoryview_does_not_leak():
    v = View(bytearray(b"payload"), 1, 5)

    def once():
        v.memoryview()
        with v.memoryview() as m:
            m[0]
        bytes(v)

    assert_no_leak(once, n=50_000)


def test_closed_buffer_and_huge_offset_refusals_do_not_leak():
    import sys

    closed = ByteBuffer(64)
    closed.close()
    w = Writer(io.BytesIO(), 16)
    w.buffer.close()
    assert_no_leak(raises(ValueError, closed.write_json, DOC, prefix="u32"), n=20_000)
    assert_no_leak(raises(ValueError, w.write_json, {"big": "b" * 100}, prefix="u16"), n=20_000)
    assert_no_leak(raises(ValueError, w.write, b"x" * 100), n=20_000)
    assert_no_leak(raises(OverflowError, nj.dumps_into, DOC, ByteBuffer(8), sys.maxsize), n=20_000)
