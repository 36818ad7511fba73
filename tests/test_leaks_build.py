"""Leak tests for headroom, prepend() and take_bytes() (issue 14, parts 3-4):
success and error paths, hand-over and copy, many times in a fresh
interpreter; sys.getallocatedblocks() must not grow with the count."""
import subprocess
import sys

from test_leaks_buffer import HARNESS

BODY = r'''
from nocopy.pool import Pool

def prepend_ops():
    b = ByteBuffer(64, headroom=16)
    b.write(b"body"); b.prepend(b"hdr:"); b.prepend(memoryview(b"xyz")[1:])
    v = b.read(3); b.prepend(b"abc")
    try:
        b.prepend(b"z" * 40)
    except BufferTooSmall:
        pass
    try:
        b.prepend("str")
    except TypeError:
        pass
    m = memoryview(b.peek()); b.prepend(b"m"); m.release()
    b.clear(); b.compact()

def take_ops():
    b = ByteBuffer(4096, headroom=8, storage="bytes")
    b.write(b"x" * 3000); b.prepend(b"h"); b.take_bytes()   # hand-over
    b.write(b"y" * 10); b.take_bytes()                       # hand-over, shrunk
    b.take_bytes()                                           # nothing: b""
    b.write(b"z" * 100); m = memoryview(b.peek()); b.take_bytes(); m.release()  # copy
    s = ByteBuffer(64, storage="bytes"); s.write(b"abc"); s.take_bytes()        # small: copy
    h = ByteBuffer(64); h.write(b"abc"); h.take_bytes()                           # heap: copy
    d = {}
    b.write(b"key"); d[b.take_bytes()] = 1

def new_ops():
    ByteBuffer(16, headroom=4, storage="bytes"); ByteBuffer(16, headroom=4)
    for bad in ({"headroom": -1}, {"storage": "x"}, {"storage": 1}, {"headroom": 1.5}):
        try:
            ByteBuffer(8, **bad)
        except (TypeError, ValueError):
            pass

pool = Pool(1024, 1, headroom=32)
def pool_ops():
    with pool.buffer() as b:
        b.write(b"abc"); b.prepend(b"H" * 32)

check("prepend", prepend_ops, 2000)
check("take_bytes", take_ops, 2000)
check("new", new_ops, 2000)
check("pool", pool_ops, 2000)
print("done")
'''


def test_no_leaks():
    out = subprocess.run([sys.executable, "-c", HARNESS + BODY], capture_output=True, text=True,
                         timeout=240)
    assert out.returncode == 0, out.stderr
    assert "LEAK" not in out.stdout, out.stdout
    assert out.stdout.strip().endswith("done"), out.stdout + out.stderr
