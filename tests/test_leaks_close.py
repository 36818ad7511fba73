"""Leak tests of View.close(), ByteBuffer.wrap()/close() and map_file:
repeated, error paths included, allocated blocks flat (leakcheck.py)."""
import mmap
import os

import pytest

from nocopy import ByteBuffer, Rope, StaleViewError, View
from nocopy.io import map_file
from leakcheck import assert_no_leak, raises

N = 3_000 if os.environ.get("NOCOPY_UNDER_SANITIZER") else 20_000
BA = bytearray(b"hello, world\n" * 4)
MM = mmap.mmap(-1, 4096)


def _view_close():
    v = View(BA)
    s = v[2:]
    it = v.itersplit(b",")
    r = Rope([s])
    v.close()
    try:
        bytes(r)
    except StaleViewError:
        pass
    try:
        next(it)
    except StaleViewError:
        pass


def _close_refused():
    v = View(BA)
    m = memoryview(v)
    try:
        v.close()
    except BufferError:
        pass
    m.release()
    v.close()


def _wrap_cycle():
    with ByteBuffer.wrap(MM, headroom=4) as b:
        b.write(b"abc")
        b.write_u32(7)
        b.prepend(b"xy")
        bytes(b.read(3))
        b.compact()
        b.take_bytes()


def _wrap_refused():
    b = ByteBuffer.wrap(BA)
    b.write(b"abcdef")
    b.consume(3)
    m = memoryview(b.peek())
    try:
        b.compact()
    except BufferError:
        pass
    try:
        b.close()
    except BufferError:
        pass
    m.release()
    b.close()
    try:
        b.write(b"x")
    except ValueError:
        pass


def _heap_close():
    b = ByteBuffer(64, storage="bytes")
    b.write(b"abc")
    b.close()


@pytest.mark.parametrize("fn", [
    _view_close, _close_refused, _wrap_cycle, _wrap_refused, _heap_close,
    raises(TypeError, lambda: ByteBuffer(8).peek().close()),
    raises(TypeError, ByteBuffer.wrap, b"read-only"),
    raises(ValueError, ByteBuffer.wrap, BA, headroom=len(BA)),
    raises(TypeError, ByteBuffer.wrap, "str"),
])
def test_no_leak(fn):
    assert_no_leak(fn, n=N, warmup=500)


def test_map_file_no_leak(tmp_path):
    p = tmp_path / "f"
    p.write_bytes(b"abc\n" * 100)
    e = tmp_path / "e"
    e.write_bytes(b"")

    def cycle():
        with map_file(p) as v:
            v.splitlines()
        with map_file(e):
            pass
        map_file(p)[1:3].tobytes()  # dropped without close: unmapped by GC

    assert_no_leak(cycle, n=N // 10, warmup=200)
    assert_no_leak(raises(FileNotFoundError, map_file, tmp_path / "missing"), n=N // 10,
                   warmup=200)
