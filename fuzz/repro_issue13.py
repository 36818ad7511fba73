"""Standalone reproducers of what the GC-stress table and the fuzzers found on
the unfixed code (issue 13).  Each runs in its own interpreter:

    PYTHONPATH=src python fuzz/repro_issue13.py            # all
    PYTHONPATH=src python fuzz/repro_issue13.py rope_segments_append

prints, per reproducer, "ok" (behaves) or what went wrong (a crash signal,
an ASan report when run under the sanitizer, or the wrong bytes it showed).
Every reproducer uses `inside(k, call, action)`: run call() with action()
run by the finalizer of cyclic garbage at the k-th garbage collection after
the call starts (gc.set_threshold(1): on 3.11 that is inside the C code's
k-th allocation), for k = 0, 1, 2, ...
"""
import os
import subprocess
import sys

HELPER = r'''
import gc, sys
from nocopy import ByteBuffer, Rope, View, StaleViewError

def inside(k, call, action):
    """(result or exception, fired) of call() with action() fired from a
    finalizer at the k-th collection."""
    st = {"n": 0, "fired": False}
    keep = []
    class Bomb:
        def __init__(self):
            self.me = self
        def __del__(self):
            st["fired"] = True
            try:
                action()
            except Exception:
                pass
    def cb(phase, info):
        if phase == "start":
            if st["n"] == k and not st["fired"]:
                Bomb()
            st["n"] += 1
        else:
            keep.append([])   # gen0 count stays primed: the next allocation collects
    gc.collect()
    gc.callbacks.append(cb)
    gc.set_threshold(1)
    try:
        res = call()
    except Exception as e:
        res = e
    finally:
        gc.set_threshold(700, 10, 10)
        gc.callbacks.remove(cb)
    return res, st["fired"]

def wrong(msg):
    print("WRONG:", msg)
    sys.exit(2)
'''

REPROS = {
    # row 10 (and the same shape in peek/read_until): the View's offsets are
    # read before its allocation; a finalizer compacts there; the View is
    # stamped with the new epoch and shows other bytes, no StaleViewError.
    "bytebuffer_read_compact": r'''
for k in range(20):
    b = ByteBuffer(64); b.write(b"..hello world"); b.consume(2)
    v, fired = inside(k, lambda: b.read(3), b.compact)
    if not fired: break
    try:
        got = bytes(v)
    except StaleViewError:
        continue
    if got != b"hel":
        wrong(f"read(3) returned a View showing {got!r}, not b'hel' (k={k})")
''',
    "bytebuffer_peek_compact": r'''
for k in range(20):
    b = ByteBuffer(64); b.write(b"..hello world"); b.consume(2)
    v, fired = inside(k, lambda: b.peek(3), b.compact)
    if not fired: break
    try:
        got = bytes(v)
    except StaleViewError:
        continue
    if got != b"hel":
        wrong(f"peek(3) returned a View showing {got!r}, not b'hel' (k={k})")
''',
    # row 10: rpos += n with the n from before a finalizer clear(): cursors
    # cross, len() is negative
    "bytebuffer_read_clear": r'''
for k in range(20):
    b = ByteBuffer(64); b.write(b"..hello world"); b.consume(2)
    v, fired = inside(k, lambda: b.read(), b.clear)
    if not fired: break
    if not (0 <= b.readable <= b.capacity and b.readable + b.free <= b.capacity):
        wrong(f"after read() + finalizer clear(): readable={b.readable} free={b.free} (k={k})")
''',
    # row 10: the finalizer's read and the outer read return the same bytes
    "bytebuffer_read_twice": r'''
for k in range(20):
    b = ByteBuffer(64); b.write(b"..hello world"); b.consume(2)
    inner = []
    v, fired = inside(k, lambda: b.read(3), lambda: inner.append(bytes(b.read(2))))
    if not fired or not inner: continue
    try:
        outer = bytes(v)
    except StaleViewError:
        continue
    if inner[0] + outer != b"hello"[:5] and outer + inner[0] != b"hello":
        wrong(f"finalizer read {inner[0]!r}, read(3) returned {outer!r}, "
              f"{bytes(b.peek())!r} left (k={k})")
''',
    # same shape: read_until consumes the count it computed before the
    # finalizer consume(1): one byte is lost
    "bytebuffer_read_until_consume": r'''
for k in range(20):
    b = ByteBuffer(64); b.write(b"..hello\nworld"); b.consume(2)
    v, fired = inside(k, lambda: b.read_until(b"\n"), lambda: b.consume(1))
    if not fired: break
    try:
        got = bytes(v)
    except StaleViewError:
        continue
    left = bytes(b.peek())
    if got + left not in (b"ello\nworld", b"hello\norld"):
        wrong(f"read_until returned {got!r} and left {left!r} after a finalizer consume(1) (k={k})")
''',
    # row 5: segments() sizes its tuple before a finalizer appends
    "rope_segments_append": r'''
for k in range(20):
    r = Rope([b"ab", bytearray(b"cd"), memoryview(b"ef")])
    segs, fired = inside(k, r.segments, lambda: r.extend([b"x", b"y", b"z"]))
    if not fired: break
    if not isinstance(segs, Exception):
        b"".join(bytes(s) for s in segs)
''',
    # row 6: flatten() allocates for the old length, copies the new one
    "rope_flatten_append": r'''
for k in range(20):
    r = Rope([b"ab", bytearray(b"cd"), memoryview(b"ef")])
    v, fired = inside(k, r.flatten, lambda: r.extend([b"x" * 100, b"y"]))
    if not fired: break
''',
    # not in the table: a finalizer that release()s the View while a
    # slice / itersplit / iterlines of it allocates its result
    "view_slice_release": r'''
for k in range(20):
    v = View(bytearray(b"--  Hello World\r\nfoo bar 42\n--"), 2, -2)
    res, fired = inside(k, lambda: v[2:9], v.release)
    if not fired: break
    if not isinstance(res, Exception):
        bytes(res)
''',
    "view_itersplit_release": r'''
for k in range(20):
    v = View(bytearray(b"--  Hello World\r\nfoo bar 42\n--"), 2, -2)
    res, fired = inside(k, lambda: list(v.itersplit(b" ")), v.release)
    if not fired: break
    if not isinstance(res, Exception):
        [bytes(x) for x in res]
''',
    # listed as "same shape" (_read_exact): a frame larger than the buffer
    # is assembled with offsets read before a finalizer peeked (which
    # refills and moves the buffer): the returned bytes have a gap
    "reader_read_exact_peek": r'''
import io
from nocopy.io import Reader
data = b"line one\nline two\r\n" + bytes(range(32, 100))
for k in range(40):
    r = Reader(io.BytesIO(data), buffer_size=16); r.read(3)
    held = []
    res, fired = inside(k, lambda: bytes(r.read_exact(20)),
                        lambda: held.append(memoryview(r.peek(4))))
    if not fired: break
    if isinstance(res, StaleViewError): continue
    if res != data[3:23]:
        wrong(f"read_exact(20) returned {res!r}, the stream has {data[3:23]!r} (k={k})")
''',
    # Python layer (nocopy.io.Writer): a finalizer that flushes a Writer
    # while it is flushing sends the buffered bytes twice
    "writer_flush_reentrant": r'''
import io
from nocopy.io import Writer
for k in range(40):
    out = io.BytesIO(); w = Writer(out, buffer_size=16); w.write(b"pre-")
    res, fired = inside(k, w.flush, w.flush)
    if not fired: break
    if out.getvalue() != b"pre-":
        wrong(f"flush() with a finalizer flush() wrote {out.getvalue()!r} (k={k})")
''',
}


def run(name):
    code = HELPER + REPROS[name]
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env=dict(os.environ), timeout=300)
    if p.returncode == 0:
        return "ok"
    if p.returncode < 0:
        return f"CRASH (signal {-p.returncode})"
    out = (p.stdout + p.stderr).splitlines()
    for i, line in enumerate(out):
        if "ERROR: AddressSanitizer" in line:
            kind = line.split("AddressSanitizer: ")[1].split(" on ")[0]
            frames = [ln.split(" in ", 1)[1] for ln in out[i:i + 40]
                      if " in " in ln and "/nocopy/_core/" in ln]
            return f"ASan {kind} in {frames[0] if frames else '?'}"
    for line in out:
        if "WRONG" in line or "runtime error" in line or "Error" in line:
            return line.strip()[:200]
    return f"exit {p.returncode}"


if __name__ == "__main__":
    names = sys.argv[1:] or list(REPROS)
    bad = 0
    for n in names:
        s = run(n)
        bad += s != "ok"
        print(f"{n:32s} {s}")
    sys.exit(1 if bad else 0)
