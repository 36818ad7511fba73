"""Files to sockets: a 256 MiB file sent to a local socket (a Unix socketpair
drained by a forked reader) by Rope.append_file + write_to (sendfile(2), no
Python memory), against f.read() + sock.sendall() (the naive way) and
socket.sendfile() (the stdlib's sendfile: the expert's way, the fair peer).

Each send runs in a fresh process, so the peak memory of the sender is its
ru_maxrss rise during the send; CPU is the sending thread's user+system time
(the reader is another process).  Best of 3 runs each, interleaved in a rotating order; the note
gives the spread (min-max).  The file is written once to a temp dir and is in
the page cache, so this measures the send, not the disk."""
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time

SECTION = "sendfile"
SIZE = 256 << 20
RUNS = 3
METHODS = ("nocopy", "read_sendall", "socket_sendfile")


def _reader(sock):
    buf = bytearray(1 << 20)
    while sock.recv_into(buf):
        pass


def one(method, path):
    """In a fresh process: send the file by `method`, print the measures."""
    from nocopy import Rope
    a, b = socket.socketpair()
    pid = os.fork()
    if pid == 0:  # the reader
        a.close()
        _reader(b)
        os._exit(0)
    b.close()
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    w0, c0 = time.perf_counter(), time.thread_time()
    with open(path, "rb") as f:
        if method == "nocopy":
            r = Rope()
            r.append_file(f)
            sent = r.write_to(a)
        elif method == "read_sendall":
            data = f.read()
            a.sendall(data)
            sent = len(data)
            del data
        else:
            sent = a.sendfile(f)
    wall, cpu = time.perf_counter() - w0, time.thread_time() - c0
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    a.close()
    os.waitpid(pid, 0)
    assert sent == os.path.getsize(path), sent
    print(json.dumps({"wall": wall, "cpu": cpu, "peak": (rss1 - rss0) * 1024}))


def _measure(method, path):
    out = subprocess.run([sys.executable, "-m", "bench.bench_sendfile", method, path],
                         check=True, capture_output=True, text=True,
                         cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return json.loads(out.stdout)


def _spread(vals, scale=1e3, unit="ms"):
    return f"{min(vals) * scale:.0f}-{max(vals) * scale:.0f} {unit}"


def run(report):
    with tempfile.TemporaryDirectory(prefix="nocopy-bench-sendfile-") as d:
        path = os.path.join(d, "file")
        block = os.urandom(1 << 20)
        with open(path, "wb") as f:
            for _ in range(SIZE // len(block)):
                f.write(block)
            f.flush()
            os.fsync(f.fileno())  # no writeback under the first runs
        for m in METHODS:  # one untimed run each: the page cache and the
            _measure(m, path)  # allocator settle before anything counts
        res = {m: [] for m in METHODS}
        for i in range(RUNS):
            # rotated each round: no method always follows the 256 MiB read
            for m in METHODS[i:] + METHODS[:i]:
                res[m].append(_measure(m, path))
    best = {m: {k: min(x[k] for x in res[m]) for k in ("wall", "cpu", "peak")} for m in METHODS}

    def spreads(m):
        return (f"runs: wall {_spread([x['wall'] for x in res[m]])}, "
                f"CPU {_spread([x['cpu'] for x in res[m]])}, "
                f"peak {_spread([x['peak'] for x in res[m]], 1 / 2 ** 20, 'MiB')}")
    nc = best["nocopy"]
    for peer, label in (("read_sendall", "f.read() + sock.sendall()"),
                        ("socket_sendfile", "socket.sendfile() (stdlib)")):
        p = best[peer]
        report.row(SECTION, "256 MiB file -> socket: wall", nc["wall"], label, p["wall"],
                   note=f"nocopy {spreads('nocopy')}; peer {spreads(peer)}")
        report.row(SECTION, "256 MiB file -> socket: sender CPU", nc["cpu"], label, p["cpu"])
        # a rise under 1 MiB counts as 1 MiB: ru_maxrss often shows none at
        # all, and a zero would make the ratio infinite
        report.row(SECTION, "256 MiB file -> socket: sender peak RSS rise",
                   max(nc["peak"], 1 << 20), label, max(p["peak"], 1 << 20), unit="bytes",
                   note=f"measured {nc['peak'] / 2 ** 20:.1f} vs {p['peak'] / 2 ** 20:.1f} MiB "
                        "(under 1 MiB shown as 1 MiB)")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] in METHODS:
        one(sys.argv[1], sys.argv[2])
    else:
        from .harness import Report
        run(Report())
