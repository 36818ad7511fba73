"""nocopy.io.Reader at the end of a stream and around it (issue 18, points 6,
8, 10, 11 and 16): EndOfStream vs IncompleteRead, eof() / at_eof, close() and
`with`, CRLF lines, LimitOverrun's message, the asyncio exception bases.
io.BufferedReader over the same bytes is the oracle."""
import asyncio
import io
import os
import pickle
import struct
import subprocess
import sys

import pytest
from hypothesis import given, strategies as st

import nocopy
from nocopy import EndOfStream, IncompleteRead, LimitOverrun
from nocopy.io import Reader


class Chunky:
    """readinto returning short counts (a slow pipe / socket)."""

    def __init__(self, data, sizes=(1,)):
        self.data = memoryview(bytes(data))
        self.pos = 0
        self.sizes = list(sizes)
        self.i = 0
        self.closed = False

    def readinto(self, buf):
        size = self.sizes[self.i % len(self.sizes)]
        self.i += 1
        m = memoryview(buf).cast("B")
        n = min(size, len(m), len(self.data) - self.pos)
        m[:n] = self.data[self.pos:self.pos + n]
        self.pos += n
        return n

    def close(self):
        self.closed = True


def oracle_frames(data):
    """(frames, outcome) of reading length-prefixed frames with
    io.BufferedReader: outcome 'end' (clean EOF between frames) or
    ('truncated', partial bytes, expected)."""
    f = io.BufferedReader(io.BytesIO(data))
    frames = []
    while True:
        head = f.read(4)
        if not head:
            return frames, "end"
        if len(head) < 4:
            return frames, ("truncated", head, 4)
        n = struct.unpack(">I", head)[0]
        body = f.read(n)
        if len(body) < n:
            return frames, ("truncated", body, n)
        frames.append(body)


@given(st.lists(st.binary(max_size=90), max_size=12), st.integers(0, 12),
       st.lists(st.integers(1, 70), min_size=1, max_size=6), st.sampled_from([8, 64, 4096]))
def test_frame_loop_tells_clean_end_from_truncation(payloads, cut, sizes, bufsize):
    whole = b"".join(struct.pack(">I", len(p)) + p for p in payloads)
    data = whole[:len(whole) - cut] if cut <= len(whole) else b""
    want_frames, want_end = oracle_frames(data)
    # the exception way: EndOfStream ends the loop, IncompleteRead is a truncation
    r = Reader(Chunky(data, sizes), bufsize)
    got, end = [], None
    while end is None:
        try:
            n = r.read_u32()
        except EndOfStream as e:
            assert e.partial == b"" and isinstance(e, IncompleteRead)
            end = "end"
            break
        except IncompleteRead as e:
            end = ("truncated", bytes(e.partial), e.expected)
            break
        try:
            got.append(bytes(r.read_exact(n)))
        except EndOfStream:
            end = ("truncated", b"", n)  # the header came, the body did not
        except IncompleteRead as e:
            end = ("truncated", bytes(e.partial), e.expected)
    assert (got, end) == (want_frames, want_end)
    # the eof() way
    r = Reader(Chunky(data, sizes), bufsize)
    got, end = [], "end"
    while not r.eof():
        assert not r.at_eof
        try:
            head = r.read_exact(4)
            got.append(bytes(r.read_exact(struct.unpack(">I", head)[0])))
        except IncompleteRead as e:
            end = ("truncated", bytes(e.partial), e.expected)
            break
    if end == "end":
        assert r.at_eof and r.eof()
    assert (got, end) == (want_frames, want_end)


def test_at_eof_is_known_state_eof_finds_out():
    r = Reader(io.BytesIO(b"ab"), 16)
    assert not r.at_eof  # nothing read yet
    assert not r.eof()   # one read: two bytes buffered
    assert bytes(r.read_exact(2)) == b"ab"
    assert not r.at_eof  # the source has not said EOF yet
    assert r.eof() and r.at_eof
    assert r.eof()       # no read past EOF needed again
    with pytest.raises(EndOfStream) as ei:
        r.read_exact(1)
    assert ei.value.expected == 1 and "0 bytes read" in str(ei.value)
    with pytest.raises(EndOfStream):
        r.read_until(b"\n")
    for name in ("read_u8", "read_u64", "read_f64", "read_uvarint"):
        with pytest.raises(EndOfStream):
            getattr(r, name)()
    with pytest.raises(EndOfStream):
        r.read_struct(struct.Struct("<hI"))
    # a truncated record is not an end of stream
    r = Reader(io.BytesIO(b"abc"), 16)
    with pytest.raises(IncompleteRead) as ei:
        r.read_until(b"\n")
    assert type(ei.value) is IncompleteRead and ei.value.partial == b"abc"
    r = Reader(io.BytesIO(b"\x01\x02"), 16)
    with pytest.raises(IncompleteRead) as ei:
        r.read_u32()
    assert type(ei.value) is IncompleteRead and ei.value.partial == b"\x01\x02"
    # a frame larger than the buffer, cut: IncompleteRead; none of it: EndOfStream
    r = Reader(io.BytesIO(b"x" * 20), 8)
    with pytest.raises(IncompleteRead) as ei:
        r.read_exact(30)
    assert type(ei.value) is IncompleteRead and ei.value.partial == b"x" * 20
    with pytest.raises(EndOfStream):
        r.read_exact(30)


def test_eof_non_blocking_source():
    a, b = os.pipe()
    os.set_blocking(a, False)
    try:
        r = Reader(a, 16)
        with pytest.raises(BlockingIOError):
            r.eof()
        os.write(b, b"z")
        assert not r.eof() and bytes(r.read()) == b"z"
        os.close(b)
        b = -1
        assert r.eof()
    finally:
        os.close(a)
        if b >= 0:
            os.close(b)


def test_end_of_stream_pickles_and_is_exported():
    e = pickle.loads(pickle.dumps(EndOfStream(b"", 4)))
    assert type(e) is EndOfStream and e.partial == b"" and e.expected == 4
    assert nocopy.EndOfStream is EndOfStream and "EndOfStream" in nocopy.__all__
    assert issubclass(EndOfStream, EOFError)


# ---- close() and with -------------------------------------------------------------------

def test_close_and_with():
    src = Chunky(b"one\ntwo\nthree\n", [64])
    with Reader(src, 16) as r:
        assert not r.closed
        first = r.readline()
        assert first == b"one\n"
    assert r.closed and not src.closed  # the caller owns src
    assert first == b"one\n"  # a View handed out before stays valid
    assert len(r.buffer) == 0  # the buffered bytes were dropped
    calls = [lambda: r.read_exact(1), r.readline, r.read_u32, r.read_uvarint, r.read, r.peek,
             lambda: r.read_until(b"\n"), lambda: r.readinto(bytearray(4)), r.read_bytes,
             r.lines, lambda: iter(r), r.eof, lambda: r.__enter__(),
             lambda: r.read_struct(struct.Struct("<I"))]
    for call in calls:
        with pytest.raises(ValueError, match="closed Reader"):
            call()
    r.close()  # idempotent
    assert "closed" in repr(r)
    # the same as io.BufferedReader
    f = io.BufferedReader(io.BytesIO(b"x"))
    f.close()
    with pytest.raises(ValueError):
        f.read()


# ---- lines() and CRLF -----------------------------------------------------------------

@given(st.lists(st.sampled_from([b"a", b"bc", b"\r", b"\n", b"\r\n", b"\n\r", b"xyz"]),
                max_size=40),
       st.lists(st.integers(1, 9), min_size=1, max_size=5), st.sampled_from([8, 16, 64]))
def test_lines_drop_crlf_whole(pieces, sizes, bufsize):
    data = b"".join(pieces)
    # the oracle: lines split at b"\n"; a terminated line loses b"\r\n" or
    # b"\n" (what splitlines drops for CRLF), an unterminated last line is
    # kept as is
    parts = data.split(b"\n")
    expect = [p.removesuffix(b"\r") for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])
    if any(len(p) + 1 > bufsize for p in parts):
        return  # LimitOverrun territory, tested below
    assert [bytes(x) for x in Reader(Chunky(data, sizes), bufsize).lines()] == expect
    assert [bytes(x) for x in Reader(Chunky(data, sizes), bufsize).lines(reuse=True)] == expect
    # keepends: exactly the bytes, as iterating a binary file
    keep = [bytes(x) for x in Reader(Chunky(data, sizes), bufsize).lines(keepends=True)]
    assert keep == io.BytesIO(data).readlines()
    # where splitlines agrees (no lone b"\r"), the same lines
    if b"\r" not in data.replace(b"\r\n", b""):
        assert expect == data.splitlines()


def test_iteration_and_readline_keep_crlf():
    data = b"a\r\nb\r\n"
    assert [bytes(x) for x in Reader(io.BytesIO(data), 8)] == [b"a\r\n", b"b\r\n"]
    r = Reader(io.BytesIO(data), 8)
    assert r.readline() == b"a\r\n"


# ---- LimitOverrun -----------------------------------------------------------------------

def test_line_limit_message_names_the_size_and_the_setting():
    r = Reader(io.BytesIO(b"y" * 100 + b"\n"), 32)
    with pytest.raises(LimitOverrun) as ei:
        r.readline()
    msg = str(ei.value)
    assert "32 bytes" in msg and "buffer_size=" in msg
    assert ei.value.partial == b"y" * 32 and ei.value.consumed == 32
    with pytest.raises(LimitOverrun) as ei:
        next(iter(r.lines()))
    assert "32 bytes" in str(ei.value)
    assert bytes(r.read_exact(32)) == b"y" * 32  # kept: skip it, then go on


# ---- the asyncio exception bases ----------------------------------------------------------

def test_errors_are_asyncio_errors_once_asyncio_is_used():
    import nocopy.aio  # noqa: F401  (adopts the bases)
    assert issubclass(IncompleteRead, asyncio.IncompleteReadError)
    assert issubclass(EndOfStream, asyncio.IncompleteReadError)
    assert issubclass(LimitOverrun, asyncio.LimitOverrunError)
    assert issubclass(LimitOverrun, ValueError) and issubclass(IncompleteRead, EOFError)
    r = Reader(io.BytesIO(b"abc"), 8)
    with pytest.raises(asyncio.IncompleteReadError) as ei:
        r.read_exact(5)
    assert ei.value.partial == b"abc" and ei.value.expected == 5
    r = Reader(io.BytesIO(b"z" * 20), 8)
    with pytest.raises(asyncio.LimitOverrunError) as ei:
        r.readline()
    assert ei.value.consumed == 8
    with pytest.raises(asyncio.LimitOverrunError) as ei:
        r.read_until(b"|", limit=5)
    assert ei.value.consumed == 5
    e = pickle.loads(pickle.dumps(LimitOverrun("m", b"abc")))
    assert e.consumed == 3 and e.partial == b"abc" and e.args == ("m",)
    assert LimitOverrun("m").consumed == 0 and LimitOverrun("m", None, 7).consumed == 7


def _run(code):
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def test_import_nocopy_does_not_import_asyncio():
    assert _run("import sys, nocopy, nocopy.io; print('asyncio' in sys.modules, "
                "nocopy.IncompleteRead.__mro__[1].__name__)") == ["False", "_IncompleteReadBase"]
    # asyncio imported first: adopted at once
    assert _run("import asyncio, nocopy; print(issubclass(nocopy.IncompleteRead, "
                "asyncio.IncompleteReadError), issubclass(nocopy.LimitOverrun, "
                "asyncio.LimitOverrunError))") == ["True", "True"]
    # after, by nocopy.aio; errors raised from C are caught too
    assert _run("import nocopy, io\nimport nocopy.aio, asyncio\n"
                "from nocopy.io import Reader\n"
                "try:\n    Reader(io.BytesIO(b'a'), 4).read_u32()\n"
                "except asyncio.IncompleteReadError as e:\n    print(type(e).__name__)\n"
                "try:\n    Reader(io.BytesIO(b''), 4).read_u32()\n"
                "except asyncio.IncompleteReadError as e:\n    print(type(e).__name__)") == \
        ["IncompleteRead", "EndOfStream"]
