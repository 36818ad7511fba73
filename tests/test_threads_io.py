"""Rope.write_to racing a thread that mutates the ByteBuffer whose views are
in the Rope (issue 13, row 15, and the same shape for every destination).

write_to releases the GIL in writev/sendmsg and calls Python write(): while
it runs, another thread compacts, clears and rewrites the ByteBuffer.  The
bytes received must be exactly the bytes the views were made for, or
write_to raises StaleViewError (having sent a prefix of them) -- never other
bytes.  Each test is bounded to a few rounds and a couple of seconds."""
import os
import socket
import threading
import time

from nocopy import BufferTooSmall, ByteBuffer, Rope, StaleViewError
from nocopy.io import write_all

CAP = 1 << 18          # 256 KiB of ByteBuffer storage: several pipe-fulls
SEG = 4096
ROUNDS = 6
DEADLINE = 2.5         # seconds per test, whatever the rounds


def _build(seg=SEG):
    """A ByteBuffer full of a pattern, and a Rope of its borrowed read()
    views interleaved with bytes parts; returns (buffer, rope, expected)."""
    b = ByteBuffer(CAP)
    pattern = bytes((i * 7 + i // 251) & 0xFF for i in range(CAP))
    b.write(pattern)
    parts = []
    i = 0
    while b.readable:
        parts.append(b.read(min(seg, b.readable)))
        if i % 4 == 0:
            parts.append(b"<%d>" % i)
        i += 1
    r = Rope(parts)
    return b, r, b"".join(bytes(p) for p in parts)


def _mutator(b, go, stop):
    """Compact, clear, overwrite: the moves a ByteBuffer's owner makes."""
    junk = b"\xee" * CAP
    go.wait()
    while not stop.is_set():
        try:
            b.clear()
            b.write(junk, 0, b.free)
            b.read(1000)
            b.compact()
            b.write(junk, 0, b.free)
        except (BufferTooSmall, RuntimeError):
            pass
        time.sleep(0)


def _drain(fileobj_read, out):
    while True:
        chunk = fileobj_read(1 << 16)
        if not chunk:
            return
        out.append(chunk)


def _race(send, recv_setup, seg=SEG):
    """Run ROUNDS races (within DEADLINE); each: a reader thread drains the
    destination, a mutator thread moves the buffer, this thread sends."""
    t_end = time.monotonic() + DEADLINE
    outcomes = []
    for _ in range(ROUNDS):
        if time.monotonic() > t_end and outcomes:
            break
        b, r, expected = _build(seg)
        dst, read, close_dst, close_src = recv_setup()
        got = []
        reader = threading.Thread(target=_drain, args=(read, got))
        go, stop = threading.Event(), threading.Event()
        mut = threading.Thread(target=_mutator, args=(b, go, stop))
        reader.start()
        mut.start()
        err = None
        try:
            go.set()
            send(r, dst)
        except StaleViewError as e:
            err = e
        finally:
            stop.set()
            mut.join(5)
            close_dst()
            reader.join(5)
            close_src()
        assert not reader.is_alive() and not mut.is_alive()
        data = b"".join(got)
        if err is None:
            assert data == expected, _diff(data, expected)
        else:
            assert expected.startswith(data), _diff(data, expected)
        outcomes.append(err is None)
    print("rounds sent whole (True) / stale (False):", outcomes)
    return outcomes


def _diff(data, expected):
    n = min(len(data), len(expected))
    at = next((i for i in range(n) if data[i] != expected[i]), n)
    return f"other bytes on the wire at {at} (got {len(data)} bytes, want {len(expected)})"


def _pipe():
    rfd, wfd = os.pipe()
    closed = []

    def close_w():
        if not closed:
            closed.append(1)
            os.close(wfd)
    return wfd, lambda n: os.read(rfd, n), close_w, lambda: os.close(rfd)


def _socketpair(timeout=None):
    def setup():
        a, c = socket.socketpair()
        a.settimeout(timeout)
        closed = []

        def close_a():
            if not closed:
                closed.append(1)
                a.shutdown(socket.SHUT_WR)
                a.close()
        return a, c.recv, close_a, c.close
    return setup


class _PipeWriter:
    """A file-like object with only write(): one os.write per call (GIL
    released in it), partial writes reported as such."""

    def __init__(self, fd):
        self.fd = fd

    def write(self, data):
        return os.write(self.fd, data)


def test_write_to_fd_pipe_races_mutation():
    _race(lambda r, fd: r.write_to(fd), _pipe)


def test_write_to_blocking_socket_races_mutation():
    _race(lambda r, s: r.write_to(s), _socketpair(None))


def test_write_to_timeout_socket_sendmsg_races_mutation():
    # small segments: more than IOV_MAX of them, so several sendmsg batches
    _race(lambda r, s: r.write_to(s), _socketpair(30.0), seg=96)


def test_write_to_object_with_write_races_mutation():
    _race(lambda r, fd: r.write_to(_PipeWriter(fd)), _pipe)


def test_write_all_races_mutation():
    _race(lambda r, fd: write_all(fd, r), _pipe)


def test_rope_cannot_change_while_write_to_runs():
    """The Rope itself is pinned for the call: another thread's append or
    take raises BufferError instead of freeing segments under writev."""
    b, r, expected = _build()
    rfd, wfd = os.pipe()
    got, errors = [], []
    reader = threading.Thread(target=_drain, args=(lambda n: os.read(rfd, n), got))
    started = threading.Event()

    def meddle():
        started.wait()
        for _ in range(200):
            try:
                r.take(10)
            except BufferError:
                errors.append(1)
            except ValueError:
                pass
    m = threading.Thread(target=meddle)
    reader.start()
    m.start()
    try:
        started.set()
        sent = r.write_to(wfd)
    finally:
        m.join(5)
        os.close(wfd)
        reader.join(5)
        os.close(rfd)
    data = b"".join(got)
    # whatever take() managed before or after the call, the bytes sent are a
    # contiguous piece of the original content, as long as the count says
    assert len(data) == sent
    assert data in expected
