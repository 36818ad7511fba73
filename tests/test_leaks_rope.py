"""Leak checks: the whole Rope API (error paths included) run many times in a
subprocess must not grow the allocated block count or the parts' refcounts."""
import subprocess
import sys
import textwrap

import pytest
import leakcheck

from leakcheck import assert_no_leak, raises
from nocopy import Rope, View

SCRIPT = textwrap.dedent(r"""
    import gc, hashlib, io, os, socket, sys, zlib
    from nocopy import Rope, View, LimitOverrun
    from nocopy.io import read_chunks, write_all

    ba = bytearray(b"0123456789" * 10)
    bs = b"abcdefghij" * 10
    rd, wr = os.pipe()
    s1, s2 = socket.socketpair()
    s1.setblocking(False)
    s2.setblocking(False)
    big = [bytes(65536)] * 64
    import tempfile
    tf = tempfile.TemporaryFile()
    tf.write(bs * 3)
    tf.flush()
    tfd = tf.fileno()

    def once():
        r = Rope([bs, ba, View(ba, 3, 50), b"", memoryview(bs)[5:20]])
        r2 = Rope([r, b"xyz"], max_segments=3)
        r.append(b"tail")
        r.extend([b"a", View(bs, 1, 9), r2])
        r += b"more"
        c = r + r2
        c = b"pre" + c
        Rope.join([b"a", b"b"])
        for bad in (1, "s", object()):
            try:
                r.append(bad)
            except TypeError:
                pass
        try:
            r.extend([b"ok", 5])
        except TypeError:
            pass
        try:
            Rope(max_segments=1)
        except ValueError:
            pass
        len(r); r[5]; r[-1]; r[3:40]; r[::1]
        try:
            r[::2]
        except ValueError:
            pass
        try:
            r[10**6]
        except IndexError:
            pass
        r.find(b"89ab"); r.rfind(b"j0", 2, -2); r.count(b"1"); r.count(b"ij")
        r.find(55); r.startswith((b"x", b"abc")); r.endswith(b"more", 0, None)
        try:
            r.index(b"@@@")
        except ValueError:
            pass
        try:
            r.startswith("s")
        except TypeError:
            pass
        try:
            r.find(b"x", "a")
        except TypeError:
            pass
        b"89" in r; 300 in r if False else None
        r == c; r < c; r == bs; r != "str"
        list(r[:20]); r.segments()
        t = r.take(7); r.skip(3)
        try:
            r.take(10**9)
        except ValueError:
            pass
        f = r.frozen(); v = r.flatten(); bytes(r); r.tobytes()
        hashlib.sha256(r).digest(); zlib.crc32(c)
        m = memoryview(c)
        try:
            c.append(b"x")
        except BufferError:
            pass
        m.release()
        r.write_to(io.BytesIO()); r.write_to(wr); os.read(rd, 100000)
        write_all(wr, [b"a", b"b"]); os.read(rd, 10)
        try:
            Rope(big).write_to(s1)
        except BlockingIOError:
            pass
        while True:
            try:
                s2.recv(1 << 20)
            except BlockingIOError:
                break
        try:
            r.write_to(object())
        except TypeError:
            pass
        read_chunks(io.BytesIO(bs), 7)
        os.lseek(tfd, 0, 0)
        read_chunks(tfd, 64)
        os.lseek(tfd, 0, 0)
        try:
            read_chunks(tfd, 64, limit=100)
        except LimitOverrun:
            pass
        try:
            read_chunks(s2, 64)
        except BlockingIOError:
            pass
        for bad in ((tfd, 0, -1), (tfd, 1, -2), ("x", 1, -1), (1 << 20, 1, -1)):
            try:
                Rope._read_fd(*bad)
            except (TypeError, ValueError, OSError):
                pass
        # bytes parts get a holder only when a View of them is asked for
        rb = Rope([bs, bs[:7]])
        rb.segments()
        rb[:3].flatten()
        with memoryview(Rope(bs)) as m:
            m[0]
        try:
            read_chunks(io.BytesIO(bs), 7, limit=10)
        except LimitOverrun:
            pass
        capped = Rope(max_segments=4)
        for i in range(20):
            capped.append(bs[i:i + 3])

    for _ in range(300):
        once()
    gc.collect()
    refs = (sys.getrefcount(bs), sys.getrefcount(ba))
    before = sys.getallocatedblocks()
    for _ in range(N):
        once()
    gc.collect()
    after = sys.getallocatedblocks()
    assert (sys.getrefcount(bs), sys.getrefcount(ba)) == refs, refs
    print(after - before)
""")


def test_rope_api_does_not_leak():
    n = 6000  # a leak of one block per iteration would show 6000
    out = subprocess.run([sys.executable, "-c", "N = %d\n" % n + SCRIPT],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    grown = int(out.stdout.strip().splitlines()[-1])
    if not leakcheck.BLOCKS_COUNTED:  # the refcounts were checked in the script
        pytest.skip(leakcheck.NOT_COUNTED)
    assert grown < 1000, grown  # noise (freelists, socket buffers) stays in the hundreds


# ---- in-process, one operation at a time (tests/leakcheck.py) ----------------------


_BA = bytearray(b"0123456789" * 4)
_R = Rope([b"abc", _BA, View(b"xxdefxx", 2, 5), b"ghi"])


def _build():
    r = Rope([b"ab", _BA, View(_BA, 2, 9)])
    r.append(b"cd")
    r += _R
    r.extend([b"e", _R])
    (r + b"z", b"z" + r)


def _consume():
    r = _R[2:-2]
    r.take(5)
    r.skip(3)
    r.flatten()


OPS = {
    "build": _build,
    "consume": _consume,
    "search": lambda: (_R.find(b"9a"), _R.rfind(b"c0"), _R.count(b"1"), _R.startswith(b"abc0"),
                       _R.endswith((b"x", b"hi")), b"fg" in _R, _R.find(100, 1, -1)),
    "compare": lambda: (_R == b"abc", _R < _R[1:], _R != bytearray(b"x")),
    "segments": lambda: (_R.segments(), list(_R[:8]), _R[-1]),
    "copies": lambda: (_R.tobytes(), bytes(_R[1:]), _R.frozen()),
    "export": lambda: memoryview(_R[3:]).release(),
    "bad part": raises(TypeError, Rope([b"a"]).extend, [b"b", 1]),
    "bad take": raises(ValueError, _R.take, 10**6),
    "bad find": raises(TypeError, _R.find, "s"),
}


@pytest.mark.parametrize("name", sorted(OPS))
def test_op_does_not_leak(name):
    assert_no_leak(OPS[name], n=20_000, warmup=500)
