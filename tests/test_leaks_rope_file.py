"""Leak checks for Rope file segments: appending, loading, sending (sendfile
and the write() chunk path), raw_segments and the error paths keep the
allocated-block count and the open-fd count flat."""
import io
import os
import socket
import tempfile

from leakcheck import assert_no_leak, raises

from nocopy import Rope

_DATA = os.urandom(20_000)
_PATH = os.path.join(tempfile.mkdtemp(prefix="nocopy-leak-file-"), "f")
with open(_PATH, "wb") as _f:
    _f.write(_DATA)
_FD = os.open(_PATH, os.O_RDONLY)


def fds_open():
    return len(os.listdir("/proc/self/fd"))


def flat_fds(fn, n=20_000):
    before = fds_open()
    assert_no_leak(fn, n=n, warmup=500)
    assert fds_open() == before


def test_append_and_drop():
    def op():
        r = Rope([b"x"])
        r.append_file(_FD, 10, 100)
        r.append_file(_FD)
    flat_fds(op)


def test_load_paths():
    def op():
        r = Rope()
        r.append_file(_FD, 5, 300)
        r.append(b"y")
        r.append_file(_FD, 0, 10)
        bytes(r[2:8])
        r.find(b"\0\0\0")
        r.read_u32(1)
        r.raw_segments()
        r.segments()
        r.frozen()
    flat_fds(op)


def test_write_to_fd_and_objects():
    a, b = socket.socketpair()
    bio = io.BytesIO()
    r = Rope([b"<"])
    r.append_file(_FD, 0, 2000)
    r.append(b">")

    def op():
        r.write_to(a)
        b.recv(8192)
        bio.seek(0)
        r.write_to(bio)
    try:
        flat_fds(op, n=10_000)
    finally:
        a.close()
        b.close()


def test_error_paths():
    rfd, wfd = os.pipe()
    r = Rope()
    p = os.path.join(tempfile.mkdtemp(prefix="nocopy-leak-file-"), "t")
    with open(p, "wb") as f:
        f.write(b"q" * 100)
    t = Rope()
    with open(p, "rb") as f:
        t.append_file(f, 0, 100)
    os.truncate(p, 10)
    try:
        flat_fds(raises(ValueError, r.append_file, rfd), n=5_000)
        flat_fds(raises(ValueError, r.append_file, _FD, 0, 10 ** 6), n=5_000)
        flat_fds(raises(TypeError, r.append_file, object()), n=5_000)
        flat_fds(raises(OSError, t.tobytes), n=5_000)
        flat_fds(raises(OSError, t.write_to, io.BytesIO()), n=5_000)
    finally:
        os.close(rfd)
        os.close(wfd)
