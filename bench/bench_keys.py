"""Section "keys": counting per key (issue 18, point 1).

A 8 MB log of request lines counted per method+path-prefix key, the way a
new user writes it: nocopy.Counter over Reader.lines(reuse=True) -- one
View retargeted per line, a bytes key only for a new key -- against
collections.Counter over `for line in f` on a buffered binary file (one
bytes object per line; both keep the b"\n", so neither strips), and against collections.Counter fed
`line.tobytes()` (the copy per line hash(View) used to force).  Plus the
per-operation cost of `counts[key] += 1` on a seen key."""
import collections
import os
import tempfile

import nocopy
from nocopy import View
from nocopy.io import Reader

from .harness import best_time

PATHS = [b"/api/users", b"/api/orders", b"/static/app.js", b"/health", b"/login",
         b"/api/items", b"/index.html", b"/favicon.ico"]
METHODS = [b"GET", b"POST", b"PUT", b"DELETE"]


def _make_log(path, size=8 << 20):
    lines = []
    i = total = 0
    while total < size:
        lines.append(METHODS[i % 3 if i % 17 else 3] + b" " + PATHS[(i * 7) % len(PATHS)] + b"\n")
        total += len(lines[-1])
        i += 1
    with open(path, "wb") as f:
        f.write(b"".join(lines))
    return len(lines)


def _nocopy(path):
    counts = nocopy.Counter()
    with open(path, "rb", buffering=0) as f:
        for line in Reader(f).lines(keepends=True, reuse=True):
            counts[line] += 1
    return counts


def _nocopy_tobytes(path):
    counts = collections.Counter()
    with open(path, "rb", buffering=0) as f:
        for line in Reader(f).lines(keepends=True, reuse=True):
            counts[line.tobytes()] += 1
    return counts


def _bytes(path):
    counts = collections.Counter()
    with open(path, "rb") as f:
        for line in f:
            counts[line] += 1
    return counts


def run(report):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "access.log")
        n = _make_log(path)
        expect = _bytes(path)
        assert _nocopy(path) == expect == _nocopy_tobytes(path)
        quick = dict(min_time=1.0, repeat=3, number=1)
        t_nc = t_b = t_tb = float("inf")
        for _ in range(2):  # alternately: a load change cannot decide the ratio
            t_nc = min(t_nc, best_time(lambda: _nocopy(path), **quick))
            t_b = min(t_b, best_time(lambda: _bytes(path), **quick))
            t_tb = min(t_tb, best_time(lambda: _nocopy_tobytes(path), **quick))
        report.row("keys", f"count {n // 1000}k lines: Counter[view] += 1", t_nc,
                   "collections.Counter, for line in f", t_b)
        report.row("keys", f"count {n // 1000}k lines: Counter[view] += 1", t_nc,
                   "collections.Counter[v.tobytes()]", t_tb)

    ba = bytearray(b"xxGET /api/usersxx")
    v = View(ba, 2, 16)
    b = bytes(v)
    nc = nocopy.Counter({b: 0})
    cc = collections.Counter({b: 0})

    def nc_inc():
        nc[v] += 1

    def cc_inc():
        cc[b] += 1

    def cc_copy():
        cc[v.tobytes()] += 1
    t_nc = t_b = t_tb = float("inf")
    for _ in range(3):  # alternately, as above
        t_nc = min(t_nc, best_time(nc_inc))
        t_b = min(t_b, best_time(cc_inc))
        t_tb = min(t_tb, best_time(cc_copy))
    report.row("keys", "counts[key] += 1, seen 14-byte key", t_nc,
               "collections.Counter[bytes]", t_b)
    report.row("keys", "counts[key] += 1, seen 14-byte key", t_nc,
               "collections.Counter[v.tobytes()]", t_tb)
