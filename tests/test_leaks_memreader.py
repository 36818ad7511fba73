"""Leak tests of nocopy.io.MemoryReader: every method and its error
paths, repeated, with allocated blocks flat (see leakcheck.py)."""
import io
import os

import pytest

from nocopy.io import MemoryReader
from leakcheck import assert_no_leak, raises

N = 5_000 if os.environ.get("NOCOPY_UNDER_SANITIZER") else 20_000

LEAK_BUF = bytearray(b"alpha\nbeta\r\ngamma\n" * 4)
LEAK_READER = MemoryReader(LEAK_BUF)
LEAK_BYTES = MemoryReader(bytes(LEAK_BUF), views=False)
CLOSED = MemoryReader(b"x")
CLOSED.close()
WHOLE = MemoryReader(b"no newline at all", views=False)  # returns the object itself
RELEASED = MemoryReader(b"x")
RELEASED._view.release()


def _cycle(r):
    r.seek(0)
    r.read(3), r.read1(2), r.readline(), r.readline(2), r.readlines(5), r.peek(2)
    r.readinto(bytearray(4)), r.readinto1(memoryview(bytearray(3))), r.getvalue()
    r.getbuffer().release()
    next(r), list(r.lines(reuse=True)), r.seek(-1, 2), r.tell(), r.readall()
    r.seek(5)
    list(r.lines(True)), r.seek(0), list(r), r.readlines(), r.seek(3, 1)


def _open_close():
    with MemoryReader(LEAK_BUF) as r:
        r.read(2)


def _dropped_open():
    MemoryReader(LEAK_BUF).read(1)  # closed by its finalizer


LEAK_CASES = {
    "views": lambda: _cycle(LEAK_READER),
    "bytes": lambda: _cycle(LEAK_BYTES),
    "open_close": _open_close,
    "dropped_open": _dropped_open,
    "closed_read": raises(ValueError, CLOSED.read),
    "closed_next": raises(ValueError, next, CLOSED),
    "closed_readinto": raises(ValueError, CLOSED.readinto, bytearray(2)),
    "closed_readline": raises(ValueError, CLOSED.readline, 3),
    "closed_readlines": raises(ValueError, CLOSED.readlines),
    "closed_read1": raises(ValueError, CLOSED.read1),
    "iterate_views": lambda: (LEAK_READER.seek(0), list(LEAK_READER)),
    "iterate_bytes": lambda: (LEAK_BYTES.seek(0), list(LEAK_BYTES)),
    "readlines_hint": lambda: (LEAK_READER.seek(0), LEAK_READER.readlines(7),
                               LEAK_BYTES.seek(0), LEAK_BYTES.readlines(7)),
    "whole_bytes": lambda: (WHOLE.seek(0), WHOLE.read(), WHOLE.seek(0), WHOLE.readline()),
    "bad_readline_size": raises(TypeError, LEAK_READER.readline, "x"),
    "readline_overflow": raises(OverflowError, LEAK_READER.readline, 2 ** 64),
    "readline_args": raises(TypeError, LEAK_READER.readline, 1, 2),
    "readlines_overflow": raises(OverflowError, LEAK_READER.readlines, 2 ** 64),
    "released_view": raises(ValueError, RELEASED.readline),
    "bad_pos": raises(ValueError, setattr, LEAK_READER, "_pos", -1),
    "bad_seek": raises(ValueError, LEAK_READER.seek, -1),
    "bad_whence": raises(ValueError, LEAK_READER.seek, 0, 3),
    "seek_overflow": raises(OverflowError, LEAK_READER.seek, 2 ** 64),
    "bad_size": raises(TypeError, LEAK_READER.read, "x"),
    "bad_hint": raises(TypeError, LEAK_READER.readlines, "x"),
    "bad_dest": raises(TypeError, LEAK_READER.readinto, b"ro"),
    "write": raises(io.UnsupportedOperation, LEAK_READER.write, b"x"),
    "bad_buffer": raises(TypeError, MemoryReader, "text"),
}


@pytest.mark.parametrize("case", sorted(LEAK_CASES))
def test_no_leak(case):
    assert_no_leak(LEAK_CASES[case], n=N, warmup=500)
