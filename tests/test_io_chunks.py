"""nocopy.io.read_chunks and write_all over files, fds, pipes, socket pairs
and readinto objects."""
import errno
import io
import os
import socket
import sys
import threading
import time

import pytest

from nocopy import LimitOverrun, Rope, View
from nocopy.io import read_chunks, write_all

DATA = os.urandom(200_003)


def feed(fd, data, step=7001):
    """Write data to fd from a thread in uneven pieces, then close it."""
    def run():
        with memoryview(data) as m:
            for i in range(0, len(data), step):
                os.write(fd, m[i:i + step])
        os.close(fd)
    t = threading.Thread(target=run)
    t.start()
    return t


def drain(fd_or_sock, out):
    def run():
        while True:
            b = fd_or_sock.recv(65536) if isinstance(fd_or_sock, socket.socket) else os.read(fd_or_sock, 65536)
            if not b:
                return
            out.append(b)
    t = threading.Thread(target=run)
    t.start()
    return t


def check_chunks(rope, data, chunk_size):
    assert type(rope) is Rope and rope == data
    sizes = [len(s) for s in rope.segments()]
    assert all(s == chunk_size for s in sizes[:-1]) and 0 < sizes[-1] <= chunk_size if sizes else not data
    # the last chunk is a window on its own chunk, not a trimmed copy: a
    # full-size bytearray (readinto path) or the chunk's storage, owned by the
    # Rope and shrunk to the data (direct read(2) path: obj is None)
    if sizes and sizes[-1] < chunk_size:
        last = rope.segments()[-1]
        assert (type(last.obj) is bytearray and len(last.obj) == chunk_size) or last.obj is None
    direct = [s.obj is None for s in rope.segments()]
    assert all(direct) or not any(direct)
    return direct[0] if direct else None


@pytest.mark.parametrize("chunk_size", [1000, 65536])
def test_from_file(tmp_path, chunk_size):
    p = tmp_path / "d"
    p.write_bytes(DATA)
    with open(p, "rb") as f:
        check_chunks(read_chunks(f, chunk_size), DATA, chunk_size)
    with open(p, "rb", buffering=0) as f:
        check_chunks(read_chunks(f, chunk_size), DATA, chunk_size)


def test_direct_path_for_fds_fileio_and_fresh_buffered_readers(tmp_path):
    p = tmp_path / "d"
    p.write_bytes(DATA)
    with open(p, "rb", buffering=0) as f:
        assert check_chunks(read_chunks(f, 4096), DATA, 4096) is True
        f.seek(12345)
        assert check_chunks(read_chunks(f, 4096), DATA[12345:], 4096) is True
        assert f.tell() == len(DATA)
    with open(p, "rb") as f:
        assert check_chunks(read_chunks(f, 4096), DATA, 4096) is True
        # the BufferedReader's position follows the raw reads
        assert f.tell() == len(DATA) and f.read() == b""
        f.seek(0)
        assert f.read(3) == DATA[:3]
        # bytes buffered by the read above: the readinto path keeps them
        assert check_chunks(read_chunks(f, 4096), DATA[3:], 4096) is False
        f.seek(7)
        assert check_chunks(read_chunks(f, 4096), DATA[7:], 4096) is True
        f.seek(0)
        assert f.read() == DATA
    # the chunks are the Rope's own storage: writable through segments(), like bytearrays
    with open(p, "rb", buffering=0) as f:
        r = read_chunks(f, 4096)
    seg = r.segments()[0]
    assert not seg.readonly
    seg[:1] = b"\x00"
    assert r[0] == 0 and r[1:] == DATA[1:]


def test_direct_path_keeps_the_source_errors(tmp_path):
    p = tmp_path / "d"
    p.write_bytes(DATA)
    with open(p, "wb", buffering=0) as f:
        with pytest.raises(io.UnsupportedOperation):
            read_chunks(f)
    f = open(p, "rb", buffering=0)
    f.close()
    with pytest.raises(ValueError):
        read_chunks(f)
    f = open(p, "rb")
    f.close()
    with pytest.raises(ValueError):
        read_chunks(f)
    with pytest.raises(ValueError):
        read_chunks(-1)
    fd = os.open(p, os.O_RDONLY)
    os.close(fd)
    with pytest.raises(OSError) as ei:
        read_chunks(fd)
    assert ei.value.errno == errno.EBADF


def test_direct_path_limit(tmp_path):
    p = tmp_path / "d"
    p.write_bytes(DATA)
    for limit in (0, 999, 1000, 1001, 5000, len(DATA) - 1):
        with open(p, "rb", buffering=0) as f:
            with pytest.raises(LimitOverrun) as ei:
                read_chunks(f, 1000, limit=limit)
            assert type(ei.value.partial) is Rope and ei.value.partial == DATA[:limit + 1]
            assert f.tell() == limit + 1  # read exactly one byte past the limit
    with open(p, "rb", buffering=0) as f:
        assert read_chunks(f, 1000, limit=len(DATA)) == DATA


def test_read_fd_arguments():
    rd, wr = os.pipe()
    try:
        os.write(wr, b"abc")
        os.close(wr)
        wr = None
        with pytest.raises(TypeError, match="exactly 3"):
            Rope._read_fd(rd, 10)
        with pytest.raises(TypeError, match="'str'"):
            Rope._read_fd("3", 10, -1)
        with pytest.raises(TypeError, match="'float'"):
            Rope._read_fd(rd, 1.0, -1)
        with pytest.raises(ValueError, match="chunk_size"):
            Rope._read_fd(rd, 0, -1)
        with pytest.raises(ValueError, match="budget"):
            Rope._read_fd(rd, 10, -2)
        with pytest.raises(ValueError):
            Rope._read_fd(-1, 10, -1)
        r, blocked = Rope._read_fd(rd, 2, 0)
        assert r == b"" and blocked is False
        r, blocked = Rope._read_fd(rd, 2, -1)
        assert r == b"abc" and blocked is False and r.nsegments == 2
        assert r.max_segments == sys.maxsize
    finally:
        os.close(rd)
        if wr is not None:
            os.close(wr)


def test_nonblocking_socket_raises_with_partial():
    a, b = socket.socketpair()
    with a, b:
        a.setblocking(False)
        b.sendall(b"y" * 2500)
        with pytest.raises(BlockingIOError) as ei:
            read_chunks(a, 1000)
        assert ei.value.partial == b"y" * 2500 and ei.value.partial.nsegments == 3
        a.settimeout(0.05)  # timeout mode: recv_into, which raises TimeoutError itself
        with pytest.raises(TimeoutError):
            read_chunks(a, 1000)


def test_from_fd(tmp_path):
    p = tmp_path / "d"
    p.write_bytes(DATA)
    fd = os.open(p, os.O_RDONLY)
    try:
        check_chunks(read_chunks(fd, 4096), DATA, 4096)
    finally:
        os.close(fd)


def test_from_pipe():
    rd, wr = os.pipe()
    t = feed(wr, DATA)
    try:
        check_chunks(read_chunks(rd, 50_000), DATA, 50_000)
    finally:
        t.join()
        os.close(rd)


def test_from_socketpair():
    a, b = socket.socketpair()
    with a, b:
        def send():
            b.sendall(DATA)
            b.shutdown(socket.SHUT_WR)
        t = threading.Thread(target=send)
        t.start()
        check_chunks(read_chunks(a, 30_000), DATA, 30_000)
        t.join()


class Trickle:
    """A readinto source that hands out at most 333 bytes per call."""

    def __init__(self, data):
        self.data, self.pos = data, 0

    def readinto(self, buf):
        n = min(len(buf), 333, len(self.data) - self.pos)
        buf[:n] = self.data[self.pos:self.pos + n]
        self.pos += n
        return n


def test_from_readinto_object_fills_whole_chunks():
    check_chunks(read_chunks(Trickle(DATA), 10_000), DATA, 10_000)
    check_chunks(read_chunks(io.BytesIO(DATA), 10_000), DATA, 10_000)


def test_empty_source():
    r = read_chunks(io.BytesIO(b""))
    assert r == b"" and r.nsegments == 0


def test_limit():
    assert read_chunks(io.BytesIO(DATA), 1000, limit=len(DATA)) == DATA
    with pytest.raises(LimitOverrun) as ei:
        read_chunks(io.BytesIO(DATA), 1000, limit=5000)
    partial = ei.value.partial
    assert type(partial) is Rope and partial == DATA[:5001]
    with pytest.raises(LimitOverrun) as ei:
        read_chunks(io.BytesIO(b"ab"), limit=0)
    assert ei.value.partial == b"a"
    assert read_chunks(io.BytesIO(b""), limit=0) == b""


def test_bad_arguments():
    with pytest.raises(ValueError):
        read_chunks(io.BytesIO(b"x"), 0)
    with pytest.raises(TypeError):
        read_chunks(io.BytesIO(b"x"), 1.5)
    with pytest.raises(ValueError):
        read_chunks(io.BytesIO(b"x"), limit=-1)
    with pytest.raises(TypeError):
        read_chunks(io.BytesIO(b"x"), limit="3")
    with pytest.raises(TypeError, match="'object'"):
        read_chunks(object())


def test_nonblocking_source_raises_with_partial():
    rd, wr = os.pipe()
    os.set_blocking(rd, False)
    try:
        with pytest.raises(BlockingIOError) as ei:
            read_chunks(rd)
        assert ei.value.partial == b""
        os.write(wr, b"x" * 2500)
        with pytest.raises(BlockingIOError) as ei:
            read_chunks(rd, 1000)
        assert ei.value.partial == b"x" * 2500 and ei.value.partial.nsegments == 3
    finally:
        os.close(rd)
        os.close(wr)


# ---- write_all -----------------------------------------------------------------

PARTS = [DATA[i:i + 997] for i in range(0, len(DATA), 997)]
FORMS = {
    "bytes": lambda: DATA,
    "view": lambda: View(b"--" + DATA + b"--", 2, 2 + len(DATA)),
    "rope": lambda: Rope(PARTS, max_segments=100_000),
    "list": lambda: list(PARTS),
    "generator": lambda: (p for p in PARTS),
    "memoryview": lambda: memoryview(bytearray(DATA)),
}


@pytest.mark.parametrize("form", sorted(FORMS))
def test_write_all_pipe(form):
    rd, wr = os.pipe()
    out = []
    t = drain(rd, out)
    try:
        assert write_all(wr, FORMS[form]()) == len(DATA)
    finally:
        os.close(wr)
        t.join()
        os.close(rd)
    assert b"".join(out) == DATA


@pytest.mark.parametrize("form", ["rope", "list", "bytes"])
def test_write_all_file(tmp_path, form):
    p = tmp_path / "o"
    with open(p, "wb") as f:
        f.write(b"<")
        write_all(f, FORMS[form]())
        f.write(b">")
    assert p.read_bytes() == b"<" + DATA + b">"
    b = io.BytesIO()
    write_all(b, FORMS[form]())
    assert b.getvalue() == DATA


@pytest.mark.parametrize("form", ["rope", "list", "view"])
def test_write_all_socketpair(form):
    a, b = socket.socketpair()
    out = []
    with a, b:
        t = drain(b, out)
        assert write_all(a, FORMS[form]()) == len(DATA)
        a.shutdown(socket.SHUT_WR)
        t.join()
    assert b"".join(out) == DATA


def test_write_all_nonblocking_socket_reports_progress():
    a, b = socket.socketpair()
    with a, b:
        a.setblocking(False)
        big = [os.urandom(65536)] * 256  # 16 MiB: more than any socket buffer
        with pytest.raises(BlockingIOError) as ei:
            write_all(a, big)
        n = ei.value.characters_written
        assert 0 < n < 65536 * 256
        got = bytearray()
        b.setblocking(False)
        while True:
            try:
                chunk = b.recv(1 << 20)
            except BlockingIOError:
                break
            got += chunk
        assert len(got) == n and got == b"".join(big)[:n]


def test_write_all_nonblocking_pipe_reports_progress():
    rd, wr = os.pipe()
    os.set_blocking(wr, False)
    try:
        data = Rope([bytes(100_000)] * 40, max_segments=100)
        with pytest.raises(BlockingIOError) as ei:
            write_all(wr, data)
        n = ei.value.characters_written
        assert 0 < n < len(data)
        os.set_blocking(rd, False)
        got = 0
        while True:
            try:
                got += len(os.read(rd, 1 << 20))
            except BlockingIOError:
                break
        assert got == n
        data.skip(n)  # resume where it stopped
        assert len(data) == 4_000_000 - n
    finally:
        os.close(rd)
        os.close(wr)


def test_write_all_bad_data():
    with pytest.raises(TypeError, match="'str'"):
        write_all(io.BytesIO(), "text")
    with pytest.raises(TypeError, match="'int'"):
        write_all(io.BytesIO(), [b"a", 3])


class SubSocket(socket.socket):
    """Not exactly socket.socket: write_to goes through sendmsg."""


def test_write_all_socket_subclass_uses_sendmsg_and_reports_progress():
    a0, b = socket.socketpair()
    a = SubSocket(fileno=a0.detach())
    with a, b:
        a.setblocking(False)
        b.setblocking(False)
        big = [os.urandom(65536)] * 256
        with pytest.raises(BlockingIOError) as ei:
            write_all(a, big)
        n = ei.value.characters_written
        got = bytearray()
        while True:
            try:
                got += b.recv(1 << 20)
            except BlockingIOError:
                break
        assert 0 < n == len(got) and got == b"".join(big)[:n]


def test_write_all_without_sendmsg_support_falls_back_to_send():
    class TLSLike:
        """Like ssl.SSLSocket: sendmsg raises NotImplementedError; send may be partial."""

        def __init__(self):
            self.out = bytearray()

        def sendmsg(self, buffers):
            raise NotImplementedError("sendmsg not allowed on instances of SSLSocket")

        def send(self, data):
            n = min(len(data), 1000)
            self.out += memoryview(data)[:n]
            return n
    s = TLSLike()
    assert write_all(s, [DATA[:5000], DATA[5000:12345]]) == 12345 and s.out == DATA[:12345]


@pytest.mark.parametrize("make", [lambda s: s, lambda s: SubSocket(fileno=s.detach())],
                         ids=["socket-writev", "subclass-sendmsg"])
def test_write_all_more_segments_than_iov_max(make):
    parts = [bytes([i % 256]) * 7 for i in range(3000)]  # 3000 > IOV_MAX (1024)
    a0, b = socket.socketpair()
    a = make(a0)
    out = []
    with a, b:
        t = drain(b, out)
        assert write_all(a, Rope(parts, max_segments=10_000)) == 21_000
        a.shutdown(socket.SHUT_WR)
        t.join()
    assert b"".join(out) == b"".join(parts)


@pytest.mark.skipif(not os.path.exists("/proc/self/cmdline"), reason="needs Linux /proc")
def test_direct_path_file_larger_than_its_stat_size():
    # /proc files are regular files that report size 0: the EOF probe finds
    # data, which goes into a chunk of its own and reading goes on chunk by chunk
    with open("/proc/self/cmdline", "rb", buffering=0) as f:
        expected = f.read()
    assert len(expected) > 20
    for chunk_size in (1, 7, 65536):
        with open("/proc/self/cmdline", "rb", buffering=0) as f:
            assert check_chunks(read_chunks(f, chunk_size), expected, chunk_size) is True
        with open("/proc/self/cmdline", "rb", buffering=0) as f:
            with pytest.raises(LimitOverrun) as ei:
                read_chunks(f, chunk_size, limit=10)
            assert ei.value.partial == expected[:11]


def test_direct_path_file_growing_while_read(tmp_path):
    # The last chunk is sized to the file's end at fstat time.  A thread that
    # waits for the GIL appends while read(2) runs without it, so the EOF
    # probe finds more: that chunk becomes a full one and reading goes on.
    # Every result is a prefix of the file with fixed-size chunks.  Timing
    # decides whether an attempt sees the growth: attempts go on until a few
    # have.
    # Under load (the other core busy) the writer thread may not get a CPU
    # within a short read: later attempts read larger files (a longer window
    # with the GIL released), for up to 30 seconds.
    p = tmp_path / "g"
    grown = 0
    deadline = time.monotonic() + 30
    for attempt in range(400):
        if time.monotonic() > deadline:
            break
        base = os.urandom((4 << 20) * (1 + min(attempt // 20, 7)) + 500)
        p.write_bytes(base)
        go = threading.Event()
        w = open(p, "ab", buffering=0)

        def grow():
            go.wait()
            w.write(b"z" * 3000)
        t = threading.Thread(target=grow)
        t.start()
        try:
            with open(p, "rb", buffering=0) as f:
                go.set()
                r = read_chunks(f, 1000)
        finally:
            t.join()
            w.close()
        assert len(base) <= len(r) <= len(base) + 3000
        check_chunks(r, base + b"z" * (len(r) - len(base)), 1000)
        grown += len(r) > len(base)
        if grown >= 3:
            break
    assert grown > 0
