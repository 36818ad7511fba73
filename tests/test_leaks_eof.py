"""Leak checks for the end-of-stream errors raised from C (EndOfStream picked
by nc_raise_new, LimitOverrun's .consumed) and the CRLF path of lines(); and
their hostile side: a patched exception class runs none of its Python."""
import io

import pytest

from leakcheck import assert_no_leak, raises
from nocopy import ByteBuffer, EndOfStream, IncompleteRead, LimitOverrun
from nocopy.io import Reader


def test_end_of_stream_and_truncation_do_not_leak():
    def end():
        r = Reader(io.BytesIO(b""), 16)
        raises(EndOfStream, r.read_exact, 4)()
        raises(EndOfStream, r.read_u32)()
        raises(EndOfStream, r.read_exact, 40)()  # the frame larger than the buffer

    def cut():
        r = Reader(io.BytesIO(b"abc"), 16)
        raises(IncompleteRead, r.read_u64)()
        raises(IncompleteRead, r.read_exact, 4)()
        r = Reader(io.BytesIO(b"abc" * 10), 16)
        raises(IncompleteRead, r.read_exact, 40)()
    assert_no_leak(end, n=20_000, warmup=500)
    assert_no_leak(cut, n=20_000, warmup=500)


def test_limit_overrun_consumed_and_crlf_lines_do_not_leak():
    b = ByteBuffer(32)

    def once():
        b.clear()
        b.write(b"x" * 20)
        try:
            b.read_until(b"|", limit=8)
        except LimitOverrun as e:
            assert e.consumed == 8
        r = Reader(io.BytesIO(b"y" * 40), 16)
        raises(LimitOverrun, r.readline)()
        for _ in Reader(io.BytesIO(b"a\r\nb\r\n\r\nc"), 8).lines(reuse=True):
            pass
    assert_no_leak(once, n=20_000, warmup=500)


def test_patched_exception_classes_run_no_python(monkeypatch):
    def boom(self, *args, **kwargs):
        raise AssertionError("the class's Python ran")
    monkeypatch.setattr(EndOfStream, "__init__", boom)
    monkeypatch.setattr(LimitOverrun, "__init__", boom)
    monkeypatch.setattr(EndOfStream, "__new__", boom, raising=False)
    with pytest.raises(EndOfStream) as ei:
        Reader(io.BytesIO(b""), 8).read_exact(3)
    assert ei.value.partial == b"" and ei.value.expected == 3
    with pytest.raises(LimitOverrun) as ei:
        Reader(io.BytesIO(b"z" * 20), 8).readline()
    assert ei.value.consumed == 8 and ei.value.partial == b"z" * 8
