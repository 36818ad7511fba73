"""Rope file segments (Rope.append_file): every Rope operation against the
bytes oracle on Ropes mixing file segments, bytes, bytearrays and Views;
write_to to sockets (blocking, non-blocking with partial sends, timeout
sockets), pipes, regular files (sendfile, and the pread+write fallback for an
O_APPEND file), write() and sendmsg() objects; laziness (nothing is read
until bytes are needed; sending 8 MiB costs no Python memory); errors."""
import fcntl
import gc
import hashlib
import io
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import tracemalloc

import pytest
from hypothesis import given, settings, strategies as st

from nocopy import Rope, View

_DIR = tempfile.mkdtemp(prefix="nocopy-rope-file-")
_DATA = os.urandom(1 << 16)
_PATH = os.path.join(_DIR, "data")
with open(_PATH, "wb") as _f:
    _f.write(_DATA)
_FD = os.open(_PATH, os.O_RDONLY)


def fds_open():
    return len(os.listdir("/proc/self/fd"))


def unloaded(r):
    """How many segments are still file segments not in memory."""
    return sum(type(s) is tuple for s in r.raw_segments())


def read_file(p):
    with open(p, "rb") as f:
        return f.read()


def make_file(data, name="f"):
    p = os.path.join(tempfile.mkdtemp(dir=_DIR), name)
    with open(p, "wb") as f:
        f.write(data)
    return p


part = st.one_of(
    st.tuples(st.just("file"), st.integers(0, len(_DATA)), st.integers(0, 3000)),
    st.tuples(st.just("bytes"), st.binary(max_size=40)),
    st.tuples(st.just("bytearray"), st.binary(max_size=40)),
    st.tuples(st.just("view"), st.binary(max_size=40), st.integers(0, 5), st.integers(0, 5)),
)


def build(spec):
    """(Rope, oracle bytes) for a list of part specs."""
    r = Rope()
    want = bytearray()
    for p in spec:
        if p[0] == "file":
            off = p[1]
            n = min(p[2], len(_DATA) - off)
            r.append_file(_FD, off, n)
            want += _DATA[off:off + n]
        elif p[0] == "bytes":
            r.append(p[1])
            want += p[1]
        elif p[0] == "bytearray":
            r.append(bytearray(p[1]))
            want += p[1]
        else:
            b = p[1]
            a, z = min(p[2], len(b)), max(0, len(b) - p[3])
            r.append(View(b, a, max(a, z)))
            want += b[a:max(a, z)]
    return r, bytes(want)


specs = st.lists(part, max_size=8)


def file_bytes(r):
    """Bytes of r still in unloaded file segments."""
    return sum(s[2] for s in r.raw_segments() if type(s) is tuple)


def file_mask(spec):
    mask = bytearray()
    for p in spec:
        if p[0] == "file":
            mask += b"\1" * min(p[2], len(_DATA) - p[1])
        elif p[0] == "view":
            a, z = min(p[2], len(p[1])), max(0, len(p[1]) - p[3])
            mask += b"\0" * (max(a, z) - a)
        else:
            mask += b"\0" * len(p[1])
    return mask


@settings(max_examples=150, deadline=None)
@given(specs, st.integers(0, 10 ** 6), st.integers(0, 10 ** 6))
def test_length_only_operations_do_not_load(spec, x, y):
    r, want = build(spec)
    mask = file_mask(spec)
    assert file_bytes(r) == mask.count(1)
    assert len(r) == len(want)
    assert r.nsegments >= unloaded(r)
    a = x % (len(r) + 1)
    s = r[a:]
    assert len(s) == len(want) - a
    t = r.take(a)
    k = y % (len(r) + 1)
    r.skip(k)
    repr(r), r.raw_segments()
    # nothing above read a file: every file byte is still in a file segment
    assert file_bytes(s) == mask[a:].count(1)
    assert file_bytes(t) == mask[:a].count(1)
    assert file_bytes(r) == mask[a + k:].count(1)
    assert bytes(t) + bytes(s) == want
    assert bytes(r) == want[a + k:]


@settings(max_examples=150, deadline=None)
@given(specs, st.binary(max_size=4), st.integers(-70000, 70000), st.integers(-70000, 70000))
def test_every_operation_matches_bytes(spec, sub, a, b):
    ops = [
        lambda r: bytes(r), lambda r: r.tobytes(), lambda r: bytes(r.flatten()),
        lambda r: r.find(sub), lambda r: r.rfind(sub, a, b), lambda r: r.count(sub, a),
        lambda r: r.startswith(sub), lambda r: r.endswith(sub, a, b), lambda r: sub in r,
        lambda r: r == Rope(_oracle), lambda r: r == _oracle, lambda r: r < sub,
        lambda r: bytes(r[a:b]), lambda r: b"".join(bytes(v) for v in r.segments()),
        lambda r: bytes(r.frozen()), lambda r: hashlib.sha256(r).digest(),
        lambda r: bytes(memoryview(r)), lambda r: list(r)[:50],
    ]
    r0, want = build(spec)
    global _oracle
    _oracle = want
    expect = [bytes(want), bytes(want), bytes(want), want.find(sub), want.rfind(sub, a, b),
              want.count(sub, a), want.startswith(sub), want.endswith(sub, a, b), sub in want,
              True, True, want < sub, want[a:b], want, want,
              hashlib.sha256(want).digest(), want, list(want)[:50]]
    for op, e in zip(ops, expect):
        r, _ = build(spec)  # a fresh, unloaded Rope for each operation
        assert op(r) == e
    # after the operations the loaded Rope is the same Rope
    for op, e in zip(ops, expect):
        assert op(r0) == e
    assert unloaded(r0) == 0 or not want


@settings(max_examples=100, deadline=None)
@given(specs, st.integers(-100, 70000))
def test_indexing_and_typed_reads(spec, i):
    r, want = build(spec)
    if -len(want) <= i < len(want):
        assert r[i] == want[i]
    else:
        with pytest.raises(IndexError):
            r[i]
    for meth, fmt in (("read_u32", ">I"), ("read_i16", ">h"), ("read_f64", ">d")):
        r, _ = build(spec)
        size = struct.calcsize(fmt)
        p = i if i >= 0 else i + len(want)  # negative: from the end
        if 0 <= p <= len(want) - size:
            got = getattr(r, meth)(i)
            exp = struct.unpack_from(fmt, want, p)[0]
            assert got == exp or (got != got and exp != exp)
        else:
            with pytest.raises(IndexError):
                getattr(r, meth)(i)
    r, _ = build(spec)
    st_ = struct.Struct("<HB")
    if 0 <= i <= len(want) - 3:
        assert r.read_struct(st_, i) == st_.unpack_from(want, i)


def test_typed_read_loads_only_the_segment_it_touches():
    r = Rope()
    r.append_file(_FD, 0, 100)
    r.append(b"mid")
    r.append_file(_FD, 100, 100)
    assert r.read_u16(101) == int.from_bytes(b"id", "big")
    assert unloaded(r) == 2, "a read inside a memory segment loads nothing"
    assert r.read_u16(99) == int.from_bytes(_DATA[99:100] + b"m", "big")
    kinds = [type(s) is tuple for s in r.raw_segments()]
    assert kinds == [False, False, True], "only the first file segment was read"
    assert r.read_u8(0) == _DATA[0]


def drain_socket(sock, out, delay=0.0):
    import time
    while True:
        x = sock.recv(1 << 16)
        if not x:
            return
        out += x
        if delay:
            time.sleep(delay)


def mixed_rope(size=1 << 20):
    p = make_file(os.urandom(size))
    fd = os.open(p, os.O_RDONLY)
    r = Rope([b"<head>"])
    r.append_file(fd, 7, size - 100)
    os.close(fd)  # the Rope has its own
    r.append(bytearray(b"<mid>"))
    with open(p, "rb") as f:
        r.append_file(f, 0, 1000)
    r.append(View(b"..<tail>..", 2, 8))
    data = read_file(p)
    want = b"<head>" + data[7:size - 93] + b"<mid>" + data[:1000] + b"<tail>"
    return r, want, p


def test_write_to_blocking_socket_sends_without_loading():
    r, want, _ = mixed_rope()
    a, b = socket.socketpair()
    out = bytearray()
    t = threading.Thread(target=drain_socket, args=(b, out))
    t.start()
    assert r.write_to(a) == len(want)
    a.close()
    t.join()
    b.close()
    assert bytes(out) == want
    assert unloaded(r) == 2, "write_to read no file segment into memory"
    assert bytes(r) == want


def test_write_to_nonblocking_socket_partial_sends_resume():
    r, want, _ = mixed_rope(300_000)
    a, b = socket.socketpair()
    a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    a.setblocking(False)
    b.setblocking(False)
    out = bytearray()
    blocked = 0
    while len(r):
        try:
            n = r.write_to(a)
            r.skip(n)
        except BlockingIOError as e:
            blocked += 1
            r.skip(e.characters_written)
        while True:
            try:
                x = b.recv(1 << 14)
            except BlockingIOError:
                break
            out += x
    a.close()
    b.setblocking(True)
    drain_socket(b, out)
    b.close()
    assert blocked > 3, "the small send buffer made sends partial"
    assert bytes(out) == want


def test_write_to_timeout_socket_goes_in_chunks_through_sendmsg():
    r, want, _ = mixed_rope(200_000)
    a, b = socket.socketpair()
    a.settimeout(10)
    out = bytearray()
    t = threading.Thread(target=drain_socket, args=(b, out, 0.0005))
    t.start()
    assert r.write_to(a) == len(want)
    a.close()
    t.join()
    b.close()
    assert bytes(out) == want
    assert unloaded(r) == 2


def test_write_to_pipe_and_regular_file_and_append_file():
    r, want, _ = mixed_rope(200_000)
    rfd, wfd = os.pipe()
    out = bytearray()

    def rd():
        while True:
            x = os.read(rfd, 1 << 16)
            if not x:
                return
            out.extend(x)
    t = threading.Thread(target=rd)
    t.start()
    assert r.write_to(wfd) == len(want)
    os.close(wfd)
    t.join()
    os.close(rfd)
    assert bytes(out) == want
    p = os.path.join(tempfile.mkdtemp(dir=_DIR), "out")
    with open(p, "wb") as f:
        assert r.write_to(f) == len(want)
    assert read_file(p) == want
    # O_APPEND: the kernel refuses sendfile (EINVAL): pread + write fallback
    with open(p, "ab") as f:
        assert r.write_to(f) == len(want)
    assert read_file(p) == want + want
    assert unloaded(r) == 2


class Sink:
    def __init__(self, keep=False, step=None):
        self.out = bytearray()
        self.views = []
        self.keep = keep
        self.step = step

    def write(self, b):
        n = len(b) if self.step is None else min(self.step, len(b))
        self.out += bytes(b)[:n]
        if self.keep:
            self.views.append((b, bytes(b)))
        return n


@pytest.mark.parametrize("step", [None, 1000, 65535])
def test_write_to_write_object_in_bounded_chunks(step):
    r, want, _ = mixed_rope(300_000)
    s = Sink(step=step)
    assert r.write_to(s) == len(want)
    assert bytes(s.out) == want
    assert unloaded(r) == 2


def test_write_to_bytesio_and_kept_views_keep_their_bytes():
    r, want, _ = mixed_rope(200_000)
    bio = io.BytesIO()
    r.write_to(bio)
    assert bio.getvalue() == want
    s = Sink(keep=True)
    r.write_to(s)
    for v, snap in s.views:
        assert bytes(v) == snap, "a View the callee kept was overwritten by the next chunk"
        assert len(v) <= 1 << 16


def test_sending_8_mib_costs_no_python_memory():
    size = 8 << 20
    p = make_file(b"\x5a" * size)
    r = Rope()
    with open(p, "rb") as f:
        r.append_file(f, 0, size)
    a, b = socket.socketpair()
    out = [0]

    def rd():
        while True:
            x = b.recv(1 << 16)
            if not x:
                return
            out[0] += len(x)
    t = threading.Thread(target=rd)
    t.start()
    tracemalloc.start()
    try:
        assert r.write_to(a) == size
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    a.close()
    t.join()
    b.close()
    assert out[0] == size
    assert peak < 256 << 10, f"peak {peak} bytes while sending 8 MiB"
    # through a write() object: bounded chunks, one reused buffer
    tracemalloc.start()
    try:
        n = [0]

        class Count:
            def write(self, b):
                n[0] += len(b)
                return len(b)
        assert r.write_to(Count()) == size
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert n[0] == size
    assert peak < 512 << 10, f"peak {peak} bytes through write()"


def test_load_happens_once_and_shares_nothing_mutable():
    r = Rope()
    r.append_file(_FD, 5, 1000)
    assert unloaded(r) == 1
    r.load()
    assert unloaded(r) == 0
    v = r.flatten()
    assert bytes(v) == _DATA[5:1005]
    with pytest.raises(TypeError):
        v[0] = 1  # read-only storage


def test_segments_shared_between_ropes_load_separately():
    r = Rope()
    r.append_file(_FD, 0, 5000)
    s = r[100:200]
    t = Rope([r, b"x"])
    assert bytes(s) == _DATA[100:200]
    assert unloaded(r) == 1 and unloaded(t) == 1
    assert bytes(t) == _DATA[:5000] + b"x"
    assert unloaded(r) == 1


def test_file_changes_are_seen_until_loaded():
    p = make_file(b"a" * 100)
    r = Rope()
    with open(p, "rb") as f:
        r.append_file(f)
    with open(p, "r+b") as f:
        f.write(b"b" * 10)
    assert bytes(r) == b"b" * 10 + b"a" * 90
    with open(p, "r+b") as f:
        f.write(b"c" * 10)
    assert bytes(r) == b"b" * 10 + b"a" * 90, "loaded once: later changes not seen"


def test_truncated_file_raises_and_leaves_the_rope():
    p = make_file(b"q" * 5000)
    r = Rope([b"pre"])
    with open(p, "rb") as f:
        r.append_file(f, 1000)
    os.truncate(p, 2000)
    for op in (bytes, lambda r: r.find(b"z"), lambda r: r[10], lambda r: r.flatten(),
               lambda r: r.segments(), lambda r: r.read_u32(3000), lambda r: r == b"x" * 4003):
        with pytest.raises(OSError, match="truncated"):
            op(r)
        assert len(r) == 4003 and unloaded(r) == 1
    a, b = socket.socketpair()
    out = bytearray()
    t = threading.Thread(target=drain_socket, args=(b, out))
    t.start()
    with pytest.raises(OSError, match="truncated"):
        r.write_to(a)
    a.close()
    t.join()
    b.close()
    with pytest.raises(OSError, match="truncated"):
        r.write_to(Sink())
    assert len(r) == 4003
    # the file grows back: the segment is readable again
    with open(p, "ab") as f:
        f.write(b"w" * 3000)
    assert bytes(r) == b"pre" + b"q" * 1000 + b"w" * 3000


def test_caller_may_close_their_fd_and_fds_are_not_leaked():
    before = fds_open()
    fd = os.open(_PATH, os.O_RDONLY)
    r = Rope()
    r.append_file(fd, 10, 10)
    r.append_file(fd, 20, 10)
    os.close(fd)
    assert bytes(r) == _DATA[10:30]
    assert fds_open() == before  # both regions were closed at load
    r2 = Rope()
    r2.append_file(_FD)
    assert fds_open() == before + 1
    del r2
    assert fds_open() == before


def test_bad_arguments():
    r = Rope([b"keep"])
    rfd, wfd = os.pipe()
    try:
        with pytest.raises(ValueError, match="regular file"):
            r.append_file(rfd)
    finally:
        os.close(rfd)
        os.close(wfd)
    with pytest.raises(OSError):
        r.append_file(wfd)  # closed
    with open(os.path.join(tempfile.mkdtemp(dir=_DIR), "w"), "wb") as f:
        f.write(b"abc")
        with pytest.raises(ValueError, match="write-only"):
            r.append_file(f)
    dfd = os.open(_DIR, os.O_RDONLY)
    try:
        with pytest.raises(ValueError, match="regular file"):
            r.append_file(dfd)  # a directory
    finally:
        os.close(dfd)
    with pytest.raises(ValueError, match="past the end"):
        r.append_file(_FD, len(_DATA) + 1)
    with pytest.raises(ValueError, match="past the end"):
        r.append_file(_FD, 10, len(_DATA))
    with pytest.raises(ValueError, match="negative"):
        r.append_file(_FD, -1)
    with pytest.raises(ValueError, match="negative"):
        r.append_file(_FD, 0, -1)
    with pytest.raises(ValueError):
        r.append_file(-3)
    with pytest.raises(TypeError):
        r.append_file("path")
    with pytest.raises(TypeError):
        r.append_file(_FD, 1.5)
    with pytest.raises(TypeError):
        r.append_file(_FD, 0, "x")
    with pytest.raises(TypeError):
        r.append_file()
    with pytest.raises(TypeError):
        r.append_file(_FD, 0, 1, 2)
    with pytest.raises(TypeError):
        r.append_file(_FD, offset=1, bogus=2)
    with pytest.raises(TypeError):
        r.append_file(_FD, 0, offset=1)

    class BadFileno:
        def fileno(self):
            return "3"
    with pytest.raises(TypeError, match="fileno"):
        r.append_file(BadFileno())
    assert bytes(r) == b"keep" and r.nsegments == 1
    r.append_file(_FD, len(_DATA))  # empty: nothing appended
    r.append_file(_FD, 5, 0)
    assert r.nsegments == 1
    r.append_file(file=_FD, length=3, offset=2)
    assert bytes(r) == b"keep" + _DATA[2:5]


def test_exported_rope_refuses_append_file():
    r = Rope([b"a", b"b"])
    m = memoryview(r)
    before = fds_open()
    with pytest.raises(BufferError):
        r.append_file(_FD)
    assert fds_open() == before
    m.release()


def test_segment_cap_keeps_file_segments():
    r = Rope(max_segments=4)
    want = b""
    for i in range(20):
        r.append(b"x%d" % i)
        r.append_file(_FD, i * 10, 10)
        want += b"x%d" % i + _DATA[i * 10:i * 10 + 10]
    assert unloaded(r) == 20, "coalescing never reads a file segment"
    assert bytes(r) == want


def test_load_while_write_to_runs_in_another_thread():
    r, want, _ = mixed_rope(2 << 20)
    a, b = socket.socketpair()
    a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8192)
    out = bytearray()
    t = threading.Thread(target=drain_socket, args=(b, out, 0.0002))
    t.start()
    res = []
    w = threading.Thread(target=lambda: res.append(r.write_to(a)))
    w.start()
    for _ in range(5):
        assert bytes(r) == want  # loads the segments while they are being sent
    w.join()
    a.close()
    t.join()
    b.close()
    assert res == [len(want)]
    assert bytes(out) == want


def test_nonblocking_reader_fd_is_fine():
    # the Rope's dup shares the open file description: O_NONBLOCK on a
    # regular file changes nothing
    fd = os.open(_PATH, os.O_RDONLY | os.O_NONBLOCK)
    r = Rope()
    r.append_file(fd, 0, 100)
    fcntl.fcntl(fd, fcntl.F_SETFL, 0)
    os.close(fd)
    assert bytes(r) == _DATA[:100]


_READER = """
import socket, sys
s = socket.socket(fileno=int(sys.argv[1]))
n, buf = 0, bytearray(1 << 16)
while True:
    k = s.recv_into(buf)
    if not k:
        break
    n += k
sys.exit(0 if n == int(sys.argv[2]) else 1)
"""


def test_sending_a_file_segment_allocates_what_a_memory_segment_does():
    from nocopy import _core
    p = make_file(os.urandom(256 << 10))
    with open(p, "rb") as f:
        file_rope = Rope([b"h"])
        file_rope.append_file(f)
        file_rope.append(b"t")
    mem_rope = Rope([b"h", read_file(p), b"t"])
    a, b = socket.socketpair()
    a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
    # the reader is another process: the counter counts this process's
    # allocations, and a reader thread's would blur them
    reader = subprocess.Popen([sys.executable, "-c", _READER, str(b.fileno()),
                               str(102 * len(mem_rope))], pass_fds=[b.fileno()])
    b.close()

    def allocs(r, n=50):
        r.write_to(a)
        _core._alloc_count_start()
        try:
            c0 = _core._alloc_count()
            for _ in range(n):
                r.write_to(a)
            return (_core._alloc_count() - c0) / n
        finally:
            _core._alloc_count_stop()
    try:
        per_file, per_mem = allocs(file_rope), allocs(mem_rope)
    finally:
        a.close()
    assert reader.wait(30) == 0, "the reader got other bytes"
    # write_to's fixed cost (the iovec array, the result, the socket checks);
    # nothing per byte or per 64 KiB of the file
    assert per_file <= per_mem + 0.5, (per_file, per_mem)
    assert per_mem < 40, per_mem


def test_write_all_and_iterables_of_ropes_keep_file_segments():
    import nocopy.io
    r, want, _ = mixed_rope(100_000)
    rfd, wfd = os.pipe()
    out = bytearray()

    def rd():
        while True:
            x = os.read(rfd, 1 << 16)
            if not x:
                return
            out.extend(x)
    t = threading.Thread(target=rd)
    t.start()
    assert nocopy.io.write_all(wfd, [b"[", r, b"]"]) == len(want) + 2
    os.close(wfd)
    t.join()
    os.close(rfd)
    assert bytes(out) == b"[" + want + b"]"
    assert unloaded(r) == 2


@pytest.mark.parametrize("how", ["none", "raise"])
def test_write_object_that_would_block_resumes(how):
    r, want, _ = mixed_rope(300_000)
    got = bytearray()

    class Stingy:
        budget = 0

        def write(self, b):
            if self.budget <= 0:
                if how == "none":
                    return None
                raise BlockingIOError(11, "would block", 0)
            n = min(len(b), self.budget)
            got.extend(bytes(b)[:n])
            self.budget -= n
            return n
    s = Stingy()
    rounds = 0
    while len(r):
        s.budget = 70_001
        try:
            r.skip(r.write_to(s))
        except BlockingIOError as e:
            assert e.characters_written == 70_001 or not len(r)
            r.skip(e.characters_written)
        rounds += 1
    assert bytes(got) == want
    assert rounds == -(-len(want) // 70_001)


def _sparse_fd(size):
    """A read-write fd on a sparse file of `size` bytes (tmpfs allows 2**62;
    ext4 stops at 16 TiB, hence /dev/shm first)."""
    for d in ("/dev/shm", _DIR):
        if not os.path.isdir(d):
            continue
        fd, path = tempfile.mkstemp(dir=d, prefix="nocopy-sparse-")
        os.unlink(path)
        try:
            os.ftruncate(fd, size)
            return fd
        except OSError:
            os.close(fd)
    pytest.skip(f"no file system here takes a sparse file of {size} bytes")


def test_length_past_py_ssize_t_max_is_refused():
    # file segments are not bounded by memory: two of 2**62 bytes made the
    # length wrap to -2**63 (len() then failed with SystemError)
    fd = _sparse_fd(2**62)
    try:
        r = Rope([b"ab"])
        r.append_file(fd)
        with pytest.raises(OverflowError):
            r.append_file(fd)
        assert len(r) == 2**62 + 2 and r.nsegments == 2
        for op in (lambda: r.append(r), lambda: r.extend([r, b"x"]), lambda: r + r,
                   lambda: Rope([r, r]), lambda: Rope.join([r, r]), lambda: r.__iadd__(r)):
            with pytest.raises(OverflowError):
                op()
            assert len(r) == 2**62 + 2 and r.nsegments == 2
        assert len(r + b"cd") == 2**62 + 4
    finally:
        os.close(fd)


def test_consuming_past_py_ssize_t_max_bytes_rebases():
    # the base frame grows with every byte consumed: a stream of big file
    # segments taken one by one must not overflow the segments' ends
    fd = _sparse_fd(2**62)
    try:
        r = Rope([b"x"])
        for i in range(6):
            r.append_file(fd)
            r.append(bytes([i]))
            r.skip(1 + 2**62)
            assert len(r) == 1 and r[0] == i and bytes(r) == bytes([i])
            assert r.take(1) == Rope([bytes([i])])
            r.append(bytes([i]))
    finally:
        os.close(fd)


def test_file_segments_past_the_cap_do_not_recopy_the_array():
    # file segments cannot be coalesced: with more of them than max_segments,
    # every append ran up to log2(len) coalescing passes, each allocating and
    # copying the whole array (an append_file loop went quadratic: 8000
    # appends took about a minute under ASan)
    from nocopy import _core
    r = Rope(max_segments=16)
    for i in range(200):
        r.append_file(_FD, i, 100)
    base = Rope(max_segments=1 << 20)
    for i in range(200):
        base.append_file(_FD, i, 100)

    def allocs(rope, step):
        # the counter sees every allocation in the process: a collection's
        # finalizers (garbage of earlier tests) or another thread's work
        # added ~85 once in CI.  No collection while counting, and the
        # fewest of three rounds (each appends 100 more: the same regime)
        gc.collect()
        gc.disable()
        try:
            counts = []
            for _ in range(3):
                _core._alloc_count_start()
                try:
                    c0 = _core._alloc_count()
                    for i in range(100):
                        step(rope, i)
                    counts.append(_core._alloc_count() - c0)
                finally:
                    _core._alloc_count_stop()
            return min(counts)
        finally:
            gc.enable()
    for step in (lambda q, i: q.append_file(_FD, i, 100), lambda q, i: q.append(b"x")):
        capped, uncapped = allocs(r, step), allocs(base, step)
        # what is mergeable (the bytes) is merged once per max_segments/4
        # appends, as under a reachable cap: one pass (the new array, the
        # merged block's holder and storage) per 4 appends
        assert capped <= uncapped + 3 * 100 // (16 // 4) + 8, (capped, uncapped)
    assert bytes(r) == bytes(base)
