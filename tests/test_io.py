"""nocopy.io: read_into over every source kind and buffer kind, Reader and
Writer methods with their error paths, and hypothesis runs that feed random
data in random chunk sizes and check lines and frames come out intact."""
import io
import os
import socket
import struct
import threading

import pytest
from hypothesis import given, strategies as st

from nocopy import BufferTooSmall, ByteBuffer, IncompleteRead, LimitOverrun, StaleViewError, View
from nocopy.io import Reader, Writer, _readinto, read_into


class Chunky:
    """readinto returning random short counts (a slow pipe / socket)."""

    def __init__(self, data, sizes=(1,)):
        self.data = memoryview(bytes(data))
        self.pos = 0
        self.sizes = list(sizes)
        self.i = 0
        self.calls = 0

    def readinto(self, buf):
        self.calls += 1
        size = self.sizes[self.i % len(self.sizes)]
        self.i += 1
        m = memoryview(buf).cast("B")
        n = min(size, len(m), len(self.data) - self.pos)
        m[:n] = self.data[self.pos:self.pos + n]
        self.pos += n
        return n


@pytest.fixture
def pipe():
    r, w = os.pipe()
    yield r, w
    for fd in (r, w):
        try:
            os.close(fd)
        except OSError:
            pass


# ---- read_into ---------------------------------------------------------------------

def buffers():
    return [
        ("bytearray", lambda: bytearray(8), lambda b, n: bytes(b[:n])),
        ("memoryview", lambda: memoryview(bytearray(8)), lambda b, n: b[:n].tobytes()),
        ("View", lambda: View(bytearray(b"--------xx"), 1, 9), lambda v, n: bytes(v)[:n]),
        ("ByteBuffer", lambda: ByteBuffer(8), lambda b, n: bytes(b.peek())),
    ]


@pytest.mark.parametrize("name,make,content", buffers())
def test_read_into_file_kinds(tmp_path, name, make, content):
    p = tmp_path / "f"
    p.write_bytes(b"abcdef")
    for opener in (lambda: open(p, "rb"), lambda: open(p, "rb", buffering=0)):
        with opener() as f:
            buf = make()
            n = read_into(f, buf)
            assert n == 6 and content(buf, n) == b"abcdef"
            assert read_into(f, make()) == 0
    with open(p, "rb") as f:
        buf = make()
        assert read_into(f.fileno(), buf) == 6 and content(buf, 6) == b"abcdef"


def test_read_into_view_window_only():
    backing = bytearray(b"0123456789")
    v = View(backing, 3, 6)
    assert read_into(io.BytesIO(b"ABCDEFG"), v) == 3
    assert backing == b"012ABC6789"


def test_read_into_pipe_and_eof(pipe):
    r, w = pipe
    os.write(w, b"hello")
    buf = bytearray(3)
    assert read_into(r, buf) == 3 and buf == b"hel"
    os.close(w)
    assert read_into(r, buf) == 2 and buf[:2] == b"lo"
    assert read_into(r, buf) == 0


def test_read_into_nonblocking(pipe):
    r, w = pipe
    os.set_blocking(r, False)
    assert read_into(r, bytearray(4)) is None
    bb = ByteBuffer(4)
    assert read_into(r, bb) is None and len(bb) == 0
    a, c = socket.socketpair()
    with a, c:
        c.setblocking(False)
        assert read_into(c, bytearray(4)) is None


def test_read_into_tcp():
    srv = socket.create_server(("127.0.0.1", 0))
    with srv:
        cli = socket.create_connection(srv.getsockname())
        conn, _ = srv.accept()
        with cli, conn:
            cli.sendall(b"tcp payload")
            bb = ByteBuffer(64)
            got = 0
            while got < 11:
                got += read_into(conn, bb)
            assert bytes(bb.read()) == b"tcp payload"
            cli.shutdown(socket.SHUT_WR)
            assert read_into(conn, bytearray(4)) == 0


def test_read_into_socketpair_into_view():
    a, c = socket.socketpair()
    with a, c:
        a.sendall(b"xyz")
        backing = bytearray(10)
        assert read_into(c, View(backing, 5)) == 3 and backing[5:8] == b"xyz"


@pytest.mark.parametrize("name,make,content", buffers())
def test_read_into_udp_with_address(name, make, content):
    u1 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u2 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with u1, u2:
        u1.bind(("127.0.0.1", 0))
        u2.bind(("127.0.0.1", 0))
        u2.sendto(b"dgram", u1.getsockname())
        buf = make()
        n, addr = read_into(u1, buf, with_address=True)
        assert n == 5 and addr == u2.getsockname() and content(buf, n) == b"dgram"
        u2.sendto(b"plain", u1.getsockname())
        buf = make()
        assert read_into(u1, buf) == 5 and content(buf, 5) == b"plain"
        u1.setblocking(False)
        assert read_into(u1, make(), with_address=True) is None


def test_read_into_with_address_errors():
    with pytest.raises(TypeError, match="needs a socket"):
        read_into(io.BytesIO(b""), bytearray(1), with_address=True)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with u:
        bb = ByteBuffer(2)
        bb.write(b"xx")
        with pytest.raises(BufferTooSmall):
            read_into(u, bb, with_address=True)


def test_read_into_errors():
    with pytest.raises(TypeError, match="read-only View"):
        read_into(io.BytesIO(b"a"), View(b"abc"))
    with pytest.raises(TypeError):
        read_into(io.BytesIO(b"a"), b"immutable")
    with pytest.raises(TypeError, match="cannot read from 'str'"):
        read_into("path", bytearray(3))
    with pytest.raises(ValueError):
        read_into(-1, bytearray(3))
    with pytest.raises(OSError):
        read_into(99999, bytearray(1))  # EBADF


@pytest.mark.parametrize("ret,exc", [(10, OSError), (-2, OSError), ("1", TypeError)])
def test_readinto_untrusted(ret, exc):
    class Liar:
        def readinto(self, buf):
            return ret
    with pytest.raises(exc):
        read_into(Liar(), bytearray(4))
    with pytest.raises(exc):
        _readinto(Liar(), memoryview(bytearray(4)))


def test_readinto_none_from_raw():
    class Raw:
        def readinto(self, buf):
            return None
    assert _readinto(Raw(), bytearray(2)) is None


# ---- Reader ------------------------------------------------------------------------

def test_reader_methods():
    data = b"line one\nline two\nHEADER:value;rest"
    r = Reader(Chunky(data, [3, 5]), 16)
    assert bytes(r.readline()) == b"line one\n"
    assert bytes(r.peek(4)) == b"line"
    assert bytes(r.read_exact(5)) == b"line "
    assert bytes(r.read_until(b"\n")) == b"two\n"
    assert bytes(r.read_until(b":")) == b"HEADER:"
    assert r.read_bytes(5) == b"value"
    out = bytearray(2)
    assert r.readinto(out) == 2 and out == b";r"
    v = r.read(2)
    assert isinstance(v, View) and bytes(v) == b"es"
    assert bytes(r.read()) == b"t"
    assert bytes(r.read()) == b"" and r.at_eof
    assert bytes(r.readline()) == b""
    assert r.read_bytes() == b"" and r.readinto(bytearray(3)) == 0
    assert "Reader" in repr(r) and isinstance(r.buffer, ByteBuffer)


def test_reader_peek_none_and_read_zero():
    r = Reader(io.BytesIO(b"abc"), 8)
    assert bytes(r.peek()) == b"abc"
    assert bytes(r.read(0)) == b""
    assert bytes(r.read(None)) == b"abc"
    with pytest.raises(ValueError):
        r.peek(9)


def test_reader_read_exact_incomplete():
    r = Reader(Chunky(b"abcdefg", [2]), 16)
    assert bytes(r.read_exact(3)) == b"abc"
    with pytest.raises(IncompleteRead) as ei:
        r.read_exact(10)
    assert ei.value.partial == b"defg" and ei.value.expected == 10
    assert isinstance(ei.value, EOFError)


def test_reader_read_exact_larger_than_buffer():
    data = bytes(range(256)) * 10
    src = Chunky(data, [100, 1000])
    r = Reader(src, 64)
    assert bytes(r.read_exact(3)) == data[:3]
    big = r.read_exact(2000)
    assert bytes(big) == data[3:2003]
    with pytest.raises(IncompleteRead) as ei:
        r.read_exact(1000)
    assert ei.value.partial == data[2003:]


def test_reader_read_bytes_forms():
    data = bytes(range(200))
    r = Reader(Chunky(data, [7]), 16)
    assert r.read_bytes(10) == data[:10]
    assert r.read_bytes(50) == data[10:60]  # larger than the buffer
    assert r.read_bytes(None) == data[60:]
    r = Reader(io.BytesIO(b"abc"), 16)
    assert r.read_bytes(10) == b"abc"
    r = Reader(io.BytesIO(b"abc" * 20), 16)
    assert r.read_bytes(100) == b"abc" * 20


def test_reader_read_until_limits_and_eof():
    r = Reader(io.BytesIO(b"abcdefghij\nrest"), 8)
    with pytest.raises(LimitOverrun) as ei:
        r.read_until(b"\n")
    assert bytes(ei.value.partial) == b"abcdefgh"
    assert bytes(r.read(8)) == b"abcdefgh"  # kept
    assert bytes(r.read_until(b"\n", limit=3)) == b"ij\n"
    with pytest.raises(IncompleteRead) as ei:
        r.read_until(b"\n")
    assert ei.value.partial == b"rest"
    with pytest.raises(IncompleteRead) as ei:
        r.read_until(b"\n")
    assert ei.value.partial == b""
    with pytest.raises(ValueError):
        r.read_until(b"\n", limit=9)
    with pytest.raises(ValueError):
        r.read_until(b"\n", limit=-1)
    with pytest.raises(TypeError):
        r.read_until(b"\n", limit="3")


def test_reader_readline_too_long():
    r = Reader(io.BytesIO(b"0123456789\n"), 8)
    with pytest.raises(LimitOverrun):
        r.readline()
    assert bytes(r.read()) == b"01234567"
    assert bytes(r.readline()) == b"89\n"


def test_reader_readinto_direct_for_large_buffers():
    src = Chunky(b"x" * 100, [1000])
    r = Reader(src, 16)
    big = bytearray(50)
    assert r.readinto(big) == 50 and src.calls == 1
    assert len(r.buffer) == 0  # went straight into big, not through the buffer
    small = bytearray(4)
    assert r.readinto(small) == 4 and len(r.buffer) == 12


def test_reader_bad_args():
    with pytest.raises(TypeError):
        Reader("path")
    with pytest.raises(ValueError):
        Reader(io.BytesIO(), -1)
    with pytest.raises(TypeError):
        Reader(io.BytesIO(), "64")
    r = Reader(io.BytesIO(b"abc"))
    for meth in (r.read_exact, r.read_bytes, r.peek, r.read):
        with pytest.raises(ValueError):
            meth(-5)
        with pytest.raises(TypeError):
            meth(1.5)


def test_reader_non_blocking_source():
    a, c = socket.socketpair()
    with a, c:
        c.setblocking(False)
        r = Reader(c, 16)
        with pytest.raises(BlockingIOError):
            r.read_exact(1)
        a.sendall(b"ab")
        with pytest.raises(BlockingIOError):
            r.read_exact(3)
        a.sendall(b"c")
        assert bytes(r.read_exact(3)) == b"abc"  # nothing was lost


def test_reader_lines_and_iteration():
    data = b"a\nbb\n\nccc"
    assert [bytes(x) for x in Reader(io.BytesIO(data), 4)] == data.splitlines(True)
    assert [bytes(x) for x in Reader(io.BytesIO(data), 4).lines()] == data.split(b"\n")
    assert [bytes(x) for x in Reader(io.BytesIO(data), 4).lines(keepends=True)] == \
        data.splitlines(True)
    seen = [(id(x), bytes(x)) for x in Reader(io.BytesIO(data), 4).lines(reuse=True)]
    assert len({i for i, _ in seen}) == 1 and [s for _, s in seen] == data.split(b"\n")
    r = Reader(io.BytesIO(data), 4)
    assert bytes(r.readline()) == b"a\n"
    assert [bytes(x) for x in r.lines()] == [b"bb", b"", b"ccc"]
    r = Reader(io.BytesIO(b"x\ny"), 4)
    r.peek(3)
    assert r.buffer._fill() == 0  # EOF seen: lines() must not read again
    assert [bytes(x) for x in r.lines()] == [b"x", b"y"]


def test_reader_lines_calls_source_only_when_needed():
    data = b"".join(b"%05d\n" % i for i in range(1000))
    src = Chunky(data, [4096])
    assert sum(1 for _ in Reader(src, 4096).lines()) == 1000
    assert src.calls <= 3


def test_reader_lines_limit_overrun():
    r = Reader(io.BytesIO(b"ok\n" + b"z" * 20 + b"\nend"), 8)
    it = r.lines()
    assert bytes(next(it)) == b"ok"
    with pytest.raises(LimitOverrun) as ei:
        next(it)
    assert bytes(ei.value.partial) == b"z" * 8


def test_reader_every_source_kind(tmp_path, pipe):
    data = b"".join(b"row %d\n" % i for i in range(500))
    p = tmp_path / "f"
    p.write_bytes(data)
    expect = data.split(b"\n")[:-1]
    with open(p, "rb") as f:
        assert [bytes(x) for x in Reader(f, 256).lines()] == expect
    with open(p, "rb", buffering=0) as f:
        assert [bytes(x) for x in Reader(f.fileno(), 256).lines()] == expect
    r, w = pipe

    def feed(fd):
        os.write(fd, data)
        os.close(fd)
    t = threading.Thread(target=feed, args=(w,))
    t.start()
    assert [bytes(x) for x in Reader(r, 256).lines()] == expect
    t.join()
    a, c = socket.socketpair()
    with a, c:
        t = threading.Thread(target=lambda: (a.sendall(data), a.shutdown(socket.SHUT_WR)))
        t.start()
        assert [bytes(x) for x in Reader(c, 256).lines()] == expect
        t.join()


# ---- hypothesis: lines and frames through random chunking ----------------------------

@given(st.lists(st.binary(max_size=40).map(lambda s: s.replace(b"\n", b"")), max_size=40),
       st.lists(st.integers(1, 70), min_size=1, max_size=8), st.booleans())
def test_lines_random_chunks(lines, sizes, trailing):
    data = b"\n".join(lines) + (b"\n" if trailing else b"")
    # lines() without ends drops a terminator whole, b"\r\n" included (as
    # splitlines); a lone b"\r", and one ending the unterminated last line, stay
    parts = data.split(b"\n")
    expect = [p.removesuffix(b"\r") for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])
    assert [bytes(x) for x in Reader(Chunky(data, sizes), 48).lines()] == expect
    assert [bytes(x) for x in Reader(Chunky(data, sizes), 48).lines(reuse=True)] == expect
    assert b"".join(bytes(x) for x in Reader(Chunky(data, sizes), 48)) == data
    r = Reader(Chunky(data, sizes), 48)
    got = []
    while True:
        line = r.readline()
        if not len(line):
            break
        got.append(bytes(line))
    assert b"".join(got) == data


@given(st.lists(st.binary(max_size=100), max_size=30),
       st.lists(st.integers(1, 70), min_size=1, max_size=8))
def test_frames_random_chunks(payloads, sizes):
    data = b"".join(struct.pack(">I", len(p)) + p for p in payloads)
    r = Reader(Chunky(data, sizes), 64)
    got = []
    while True:
        try:
            head = r.read_exact(4)
        except IncompleteRead as e:
            assert e.partial == b""
            break
        (n,) = struct.unpack(">I", head)
        got.append(bytes(r.read_exact(n)))
    assert got == payloads


@given(st.binary(min_size=1, max_size=300), st.integers(0, 299),
       st.lists(st.integers(1, 70), min_size=1, max_size=8))
def test_truncated_frame_keeps_data(data, cut, sizes):
    cut = min(cut, len(data) - 1)
    r = Reader(Chunky(data[:cut], sizes), 64)
    with pytest.raises(IncompleteRead) as ei:
        r.read_exact(len(data))
    assert ei.value.partial == data[:cut]


# ---- Writer ------------------------------------------------------------------------

class Dribble:
    """write() accepting at most `chunk` bytes per call (a raw, slow pipe)."""

    def __init__(self, chunk):
        self.chunk = chunk
        self.out = bytearray()
        self.calls = 0

    def write(self, b):
        self.calls += 1
        m = memoryview(b)
        n = min(self.chunk, len(m))
        self.out += m[:n]
        return n


def test_writer_small_and_large_writes():
    f = io.BytesIO()
    w = Writer(f, 16)
    assert w.write(b"abc") == 3
    assert w.write(b"0123456789", 2, 3) == 3
    assert w.write(b"0123456789", offset=8) == 2
    assert f.getvalue() == b""  # buffered
    assert w.write(b"L" * 40) == 40  # larger than the free space: straight out
    assert f.getvalue() == b"abc23489" + b"L" * 40
    w.writelines([b"x", bytearray(b"y"), memoryview(b"z"), View(b"--w--", 2, 3)])
    w.flush()
    assert f.getvalue() == b"abc23489" + b"L" * 40 + b"xyzw"
    assert "Writer" in repr(w) and isinstance(w.buffer, ByteBuffer)


def test_writer_large_write_with_offset_length():
    f = io.BytesIO()
    w = Writer(f, 8)
    w.write(b"ab")
    assert w.write(b"0123456789ABCDEF", 3, 10) == 10
    w.close()
    assert f.getvalue() == b"ab3456789ABC"


def test_writer_reserve_commit():
    f = io.BytesIO()
    with Writer(f, 16) as w:
        w.write(b"head:")
        v = w.reserve(8)
        assert len(v) == 8
        v[:4] = b"1234"
        w.commit(4)
        with pytest.raises(StaleViewError):
            v[0] = 0  # committed: cannot overwrite data any more
        v = w.reserve(16)  # flushes first
        v[:2] = b"ok"
        w.commit(2)
        with pytest.raises(BufferTooSmall) as ei:
            w.reserve(17)
        assert ei.value.needed == 17
        with pytest.raises(ValueError):
            w.commit(100)
    assert f.getvalue() == b"head:1234ok"
    assert w.closed


def test_writer_closed():
    w = Writer(io.BytesIO(), 8)
    w.close()
    w.close()
    for op in (lambda: w.write(b"x"), w.flush, lambda: w.reserve(1), lambda: w.commit(0)):
        with pytest.raises(ValueError, match="closed"):
            op()
    with pytest.raises(ValueError):
        with w:
            pass


def test_writer_bad_args():
    with pytest.raises(TypeError):
        Writer("path")
    with pytest.raises(ValueError):
        Writer(-1)
    with pytest.raises(ValueError):
        Writer(io.BytesIO(), -1)
    w = Writer(io.BytesIO(), 8)
    with pytest.raises(TypeError):
        w.write("text")
    with pytest.raises(ValueError):
        w.write(b"abc", 4)
    with pytest.raises(ValueError):
        w.write(b"abc", 1, 5)
    with pytest.raises(TypeError):
        w.reserve("1")
    with pytest.raises(ValueError):
        w.reserve(-1)


def test_writer_partial_writes():
    d = Dribble(3)
    with Writer(d, 8) as w:
        for i in range(30):
            w.write(b"%d," % i)
        w.write(b"X" * 50)
    assert bytes(d.out) == b"".join(b"%d," % i for i in range(30)) + b"X" * 50


def test_writer_bad_write_results():
    class Liar:
        def write(self, b):
            return 10 ** 6

    w = Writer(Liar(), 4)
    w.write(b"ab")
    with pytest.raises(OSError, match="invalid length"):
        w.flush()

    class NoneWriter:
        def __init__(self):
            self.out = bytearray()

        def write(self, b):
            self.out += b

    nw = NoneWriter()
    with Writer(nw, 4) as w:
        w.write(b"abcdefgh")
    assert nw.out == b"abcdefgh"


def test_writer_fd_socket_fileio(tmp_path, pipe):
    payload = [b"small", b"S" * 100, b"tail"]
    expect = b"".join(payload)
    r, wfd = pipe
    with Writer(wfd, 16) as w:
        w.writelines(payload)
    assert os.read(r, 1000) == expect
    a, c = socket.socketpair()
    with a, c:
        with Writer(a, 16) as w:
            w.writelines(payload)
        got = b""
        while len(got) < len(expect):
            got += c.recv(1000)
        assert got == expect
    p = tmp_path / "o"
    with open(p, "wb", buffering=0) as f:
        with Writer(f, 16) as w:
            w.writelines(payload)
    assert p.read_bytes() == expect
    with open(p, "wb") as f:
        with Writer(f, 16) as w:
            w.writelines(payload)
    assert p.read_bytes() == expect


@given(st.lists(st.binary(max_size=60), max_size=40), st.integers(1, 32), st.integers(1, 10))
def test_writer_random(parts, size, chunk):
    d = Dribble(chunk)
    with Writer(d, size) as w:
        for p in parts:
            assert w.write(p) == len(p)
    assert bytes(d.out) == b"".join(parts)


# ---- the C fast paths behind Reader and Writer --------------------------------------

def test_read_exact_large_from_fd_and_socket(pipe):
    r, w = pipe
    data = bytes(range(256)) * 40
    t = threading.Thread(target=lambda: (os.write(w, data), os.close(w)))
    t.start()
    rd = Reader(r, 64)
    assert bytes(rd.read_exact(10)) == data[:10]
    assert bytes(rd.read_exact(5000)) == data[10:5010]
    with pytest.raises(IncompleteRead) as ei:
        rd.read_exact(6000)
    assert ei.value.partial == data[5010:] and ei.value.expected == 6000
    t.join()
    a, c = socket.socketpair()
    with a, c:
        a.sendall(data[:3000])
        a.shutdown(socket.SHUT_WR)
        assert bytes(Reader(c, 64).read_exact(3000)) == data[:3000]


def test_read_exact_large_non_blocking_keeps_partial():
    a, c = socket.socketpair()
    with a, c:
        c.setblocking(False)
        a.sendall(b"z" * 100)
        r = Reader(c, 16)
        with pytest.raises(BlockingIOError) as ei:
            r.read_exact(500)
        assert ei.value.partial == b"z" * 100


def test_read_exact_large_untrusted_source():
    class Liar:
        def readinto(self, buf):
            return len(buf) + 1
    with pytest.raises(OSError, match="invalid length"):
        Reader(Liar(), 8).read_exact(100)

    class Nothing:
        def readinto(self, buf):
            return None
    with pytest.raises(BlockingIOError):
        Reader(Nothing(), 8).read_exact(100)
    with pytest.raises(BlockingIOError):
        Reader(Nothing(), 8).read_exact(4)


def test_attached_source_internals():
    b = ByteBuffer(8)
    with pytest.raises(RuntimeError, match="no source"):
        b._fill()
    b.write(b"abc")
    assert bytes(b._read_exact(2)) == b"ab"  # buffered: no source needed
    with pytest.raises(RuntimeError, match="no source"):
        b._read_exact(5)
    with pytest.raises(TypeError):
        b._attach("nope")
    b._attach(io.BytesIO(b"defgh"))
    assert bytes(b._read_exact(6)) == b"cdefgh"
    assert b._fill() == 0 and b._src_eof and b._fill() == 0
    with pytest.raises(ValueError):
        b._read_exact(-1)
    with pytest.raises(TypeError):
        b._read_exact("1")


def test_overflow_handler():
    b = ByteBuffer(4)
    calls = []
    b._set_overflow(lambda buf, data, off, n: calls.append((buf, bytes(data), off, n)) or n)
    assert b.write(b"ab") == 2
    assert b.write(b"xyzw", 1) == 3
    assert calls == [(b, b"xyzw", 1, 3)] and bytes(b.peek()) == b"ab"
    b._set_overflow(None)
    with pytest.raises(BufferTooSmall):
        b.write(b"xyz")
    with pytest.raises(TypeError):
        b._set_overflow(3)


def test_writer_write_is_one_c_call():
    f = io.BytesIO()
    w = Writer(f, 8)
    assert type(w.write).__name__ == "builtin_function_or_method"
    w.close()
    with pytest.raises(ValueError, match="closed"):
        w.write(b"x")


@given(st.lists(st.binary(max_size=20), max_size=20), st.sampled_from([b"\r\n", b"|", b"END"]),
       st.lists(st.integers(1, 40), min_size=1, max_size=8))
def test_read_until_random_chunks(fields, delim, sizes):
    fields = [f.replace(delim[:1], b"") for f in fields]
    data = b"".join(f + delim for f in fields)
    r = Reader(Chunky(data, sizes), 64)
    got = [bytes(r.read_until(delim)) for _ in fields]
    assert got == [f + delim for f in fields]
    with pytest.raises(IncompleteRead) as ei:
        r.read_until(delim)
    assert ei.value.partial == b""


def test_writer_flushes_when_dropped():
    f = io.BytesIO()
    w = Writer(f, 64)
    w.write(b"pending")
    del w
    assert f.getvalue() == b"pending"
    a, c = socket.socketpair()
    w = Writer(a, 64)
    w.write(b"lost")
    a.close()
    c.close()
    del w  # the send fails: nothing escapes from the collector
    with pytest.raises(TypeError):
        Writer(object())  # a half-built Writer is collected quietly too


def test_readline_non_blocking_and_internals():
    a, c = socket.socketpair()
    with a, c:
        c.setblocking(False)
        r = Reader(c, 16)
        a.sendall(b"par")
        with pytest.raises(BlockingIOError):
            r.readline()
        a.sendall(b"tial\nnext")
        assert bytes(r.readline()) == b"partial\n"  # nothing lost
        a.shutdown(socket.SHUT_WR)
        assert bytes(r.readline()) == b"next"
        assert bytes(r.readline()) == b"" and r.at_eof
    with pytest.raises(RuntimeError, match="no source"):
        ByteBuffer(8)._readline()
