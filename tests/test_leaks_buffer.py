"""Leak tests for ByteBuffer, its line iterator, Reader and Writer: each
scenario (success and error paths) runs many times in a fresh interpreter and
sys.getallocatedblocks() must not grow with the repetition count."""
import subprocess
import sys
import textwrap

import pytest
import leakcheck

HARNESS = textwrap.dedent(r'''
    import gc, io, os, socket, sys
    from nocopy import ByteBuffer, View, BufferTooSmall, LimitOverrun, StaleViewError, IncompleteRead
    from nocopy.io import Reader, Writer, read_into

    def blocks():
        gc.collect()
        return sys.getallocatedblocks()

    def check(name, fn, n):
        # warm-up as long as a measured round: caches, free lists and
        # interned objects settle first
        for _ in range(n):
            fn()
        growth = []
        for _ in range(3):
            before = blocks()
            for _ in range(n):
                fn()
            growth.append(blocks() - before)
        # a leak grows every round by about n blocks per leaked object per
        # call; one-off settling shows in one round only: take the least
        if min(growth) > 20:
            print(f"LEAK {name}: +{growth} blocks per {n} runs")
''')

BUFFER = r'''
DATA = b"".join(b"line %d\n" % i for i in range(40))
R, W = os.pipe()

def bb_ops():
    b = ByteBuffer(64)
    b.write(b"hello\nworld\n", 1, 10)
    b.peek(3); b.find(b"wor"); b.find(b"o", 1, 9); b.read_until(b"\n"); b.read(2)
    w = b.writable(); b.commit(1); b.writable(4); b.compact(); b.consume(1)
    m = memoryview(b.peek()); b.compact(); b.write(b"x" * 10); m.release()
    b.readinto(bytearray(3)); b.clear(); repr(b); len(b); b.capacity; b.free; b.readable
    b.fill_from(io.BytesIO(b"abc"))

def bb_errors():
    b = ByteBuffer(8)
    b.write(b"abcdefgh")
    for fn in (lambda: b.write(b"x"), lambda: b.read_until(b"\n", limit=4),
               lambda: b.fill_from(io.BytesIO(b"z")), lambda: b.write("s"),
               lambda: b.write(b"a", 9), lambda: b.consume(99), lambda: b.commit(-1),
               lambda: b.read_until(b""), lambda: ByteBuffer(-1), lambda: b.fill_from("x"),
               lambda: b.peek("1"), lambda: b.readinto(b"ro"), lambda: b.writable(99)):
        try:
            fn()
        except (ValueError, TypeError, BufferTooSmall, LimitOverrun):
            pass
    v = b.read(2); b.compact()
    try:
        bytes(v)
    except StaleViewError:
        pass

class Liar:
    def readinto(self, buf):
        return 99

def bb_fill_paths():
    b = ByteBuffer(16)
    os.write(W, b"pipe")
    b.fill_from(R)
    try:
        b.fill_from(Liar())
    except OSError:
        pass
    a, c = socket.socketpair()
    a.sendall(b"s"); b.fill_from(c); c.setblocking(False); b.fill_from(c)
    a.close(); c.close()

def lines(reuse, keep):
    for x in ByteBuffer(64).iterlines(io.BytesIO(DATA), keep, reuse):
        pass

def lines_overrun():
    it = ByteBuffer(4).iterlines(io.BytesIO(b"0123456789"))
    try:
        next(it)
    except LimitOverrun:
        pass

check("bytebuffer ops", bb_ops, 3000)
check("bytebuffer errors", bb_errors, 2000)
check("fill paths", bb_fill_paths, 500)
check("iterlines", lambda: lines(False, False), 1000)
check("iterlines reuse", lambda: lines(True, True), 1000)
check("iterlines overrun", lines_overrun, 2000)
print("done")
'''

IO = r'''
DATA = b"".join(b"line %d\n" % i for i in range(40)) + b"\x00\x00\x00\x05frame"

def reader_ops():
    r = Reader(io.BytesIO(DATA), 32)
    r.readline(); r.peek(4); r.read(3); r.read_exact(5); r.read_until(b"\n"); r.read_bytes(4)
    r.readinto(bytearray(3)); r.readinto(bytearray(64))
    for x in r.lines(reuse=True):
        pass
    try:
        r.read_exact(4)
    except IncompleteRead:
        pass
    r = Reader(io.BytesIO(DATA), 16)
    r.read_exact(100); r.read_bytes(50); r.read_bytes()
    try:
        r.read_until(b"\n")
    except IncompleteRead:
        pass
    try:
        Reader(io.BytesIO(b"z" * 40), 8).readline()
    except LimitOverrun:
        pass

def writer_ops():
    f = io.BytesIO()
    with Writer(f, 32) as w:
        w.write(b"abc"); w.write(b"0123456789", 2, 3); w.write(b"L" * 100)
        w.writelines([b"x", b"y"]); v = w.reserve(8); v[:2] = b"ok"; w.commit(2)
        try:
            w.reserve(99)
        except BufferTooSmall:
            pass

def read_into_ops():
    ba = bytearray(8)
    read_into(io.BytesIO(b"abc"), ba); read_into(io.BytesIO(b"abc"), View(ba, 2))
    read_into(io.BytesIO(b"abc"), ByteBuffer(8))
    try:
        read_into("x", ba)
    except TypeError:
        pass

check("reader", reader_ops, 1000)
check("writer", writer_ops, 1000)
check("read_into", read_into_ops, 2000)
print("done")
'''


@pytest.mark.parametrize("body", [BUFFER, IO], ids=["bytebuffer", "io"])
def test_no_leaks(body):
    out = subprocess.run([sys.executable, "-c", HARNESS + body], capture_output=True, text=True,
                         timeout=240)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("done"), out.stdout + out.stderr
    if not leakcheck.BLOCKS_COUNTED:
        pytest.skip(leakcheck.NOT_COUNTED)
    assert "LEAK" not in out.stdout, out.stdout
