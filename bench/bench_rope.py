"""Rope: scatter-gather writes against join + write, read_chunks against
f.read(), and search across segment boundaries against bytes.find."""
import fcntl
import os
import socket
import threading
import time

from nocopy import Rope
from nocopy.io import read_chunks

from .harness import best_time, peak_memory


def paired(ours, peer, *, rounds, number=1):
    """Best seconds per call of each, measured alternately round by round, so
    both see the same machine load (the I/O rows depend on thread scheduling)."""
    best = [float("inf"), float("inf")]
    for _ in range(rounds):
        for k, fn in enumerate((ours, peer)):
            t0 = time.perf_counter()
            for _ in range(number):
                fn()
            best[k] = min(best[k], (time.perf_counter() - t0) / number)
    return best

SECTION = "rope"


class Drain:
    """A reader thread that empties a pipe or socket for the whole section."""

    def __init__(self, kind):
        sink = bytearray(1 << 20)  # drained into one buffer: the reader allocates nothing
        if kind == "pipe":
            self.rd, self.wr = os.pipe()
            try:  # fewer writer/reader round trips, for both sides alike
                fcntl.fcntl(self.wr, fcntl.F_SETPIPE_SZ, 1 << 20)
            except (AttributeError, OSError):
                pass
            self.dst = self.wr
            read = lambda: os.readv(self.rd, [sink])  # noqa: E731
        else:
            self.a, self.b = socket.socketpair()
            self.dst = self.a
            read = lambda: self.b.recv_into(sink)  # noqa: E731
        self.thread = threading.Thread(target=self._run, args=(read,), daemon=True)
        self.thread.start()

    @staticmethod
    def _run(read):
        while read():
            pass

    def close(self):
        if hasattr(self, "wr"):
            os.close(self.wr)
            self.thread.join()
            os.close(self.rd)
        else:
            self.a.shutdown(socket.SHUT_WR)
            self.thread.join()
            self.a.close()
            self.b.close()


def bench_writes(report):
    for kind in ("pipe", "socket"):
        d = Drain(kind)
        try:
            for size in (1024, 65536):
                parts = [os.urandom(size) for _ in range(1000)]
                total = size * len(parts)
                dst = d.dst
                if kind == "pipe":
                    def peer():
                        data = b"".join(parts)
                        with memoryview(data) as m:
                            n = 0
                            while n < total:
                                n += os.write(dst, m[n:])
                else:
                    def peer():
                        dst.sendall(b"".join(parts))

                def ours():
                    Rope(parts, max_segments=4096).write_to(dst)
                ours()
                peer()  # warm up both paths
                t_ours, t_peer = paired(ours, peer, rounds=30 if size == 1024 else 6,
                                        number=5 if size == 1024 else 1)
                report.row(SECTION, f"build+write_to 1000 x {size // 1024} KiB, {kind}", t_ours,
                           "b''.join + write" if kind == "pipe" else "b''.join + sendall",
                           t_peer, target=1.0)
        finally:
            d.close()


def pipe_reader_run(reader, total):
    block = bytes(1 << 20)
    rd, wr = os.pipe()

    def feed():
        try:
            for _ in range(total >> 20):
                os.write(wr, block)
        finally:
            os.close(wr)
    t = threading.Thread(target=feed)
    t.start()
    try:
        got = reader(rd)
    finally:
        t.join()
        os.close(rd)
    assert len(got) == total
    return got


def bench_read_chunks(report):
    total = 64 << 20

    def ours():
        pipe_reader_run(read_chunks, total)

    def peer():
        pipe_reader_run(lambda fd: open(fd, "rb", closefd=False).read(), total)

    t_ours, t_peer = paired(ours, peer, rounds=7)
    report.row(SECTION, "read_chunks 64 MiB from a pipe", t_ours, "f.read()", t_peer, target=1.0)
    report.row(SECTION, "read_chunks 64 MiB peak memory", peak_memory(ours), "f.read() peak",
               peak_memory(peer), unit="bytes",
               note="tracemalloc sees f.read()'s realloc growth as one block")

    def joined():
        pipe_reader_run(lambda fd: b"".join(iter(lambda f=open(fd, "rb", closefd=False): f.read(65536), b"")),
                        total)
    report.row(SECTION, "read_chunks 64 MiB peak memory", peak_memory(ours),
               "f.read(64K) chunks + join", peak_memory(joined), unit="bytes", target=1.8)


def bench_read_file(report):
    """A regular file through the direct read(2) path, raw and buffered."""
    import tempfile
    total = 4 << 20
    with tempfile.NamedTemporaryFile(delete=False) as f:
        f.write(os.urandom(total))
        path = f.name
    try:
        for buffering, label in ((0, "FileIO"), (-1, "BufferedReader")):
            def ours():
                with open(path, "rb", buffering=buffering) as f:
                    return read_chunks(f)

            def peer():
                with open(path, "rb", buffering=buffering) as f:
                    return f.read()
            assert ours() == peer()
            t_ours, t_peer = paired(ours, peer, rounds=200)
            report.row(SECTION, f"read_chunks 4 MiB file, {label}", t_ours, "f.read()", t_peer,
                       target=1.0)
        report.row(SECTION, "read_chunks 4 MiB file peak memory", peak_memory(ours), "f.read() peak",
                   peak_memory(peer), unit="bytes", target=1 / 1.1)
    finally:
        os.unlink(path)


def bench_find(report):
    parts = [bytes([97 + i % 20]) * 1024 for i in range(1000)]
    needle = parts[-3][-6:] + parts[-2][:6]   # straddles the last boundary but one
    r = Rope(parts, max_segments=4096)
    data = b"".join(parts)
    assert r.find(needle) == data.find(needle) and r.find(needle) > 0
    t_ours = best_time(lambda: r.find(needle))
    report.row(SECTION, "find across boundaries, 1000 x 1 KiB", t_ours, "bytes.find (pre-joined)",
               best_time(lambda: data.find(needle)))
    report.row(SECTION, "find across boundaries, 1000 x 1 KiB", t_ours, "b''.join + bytes.find",
               best_time(lambda: b"".join(parts).find(needle)), target=1.0)
    t_ours, t_peer = paired(lambda: Rope(parts, max_segments=4096).find(needle),
                            lambda: b"".join(parts).find(needle), rounds=300)
    report.row(SECTION, "Rope(parts).find, 1000 x 1 KiB", t_ours, "b''.join + bytes.find", t_peer,
               target=1.0)


def run(report):
    bench_writes(report)
    bench_read_chunks(report)
    bench_read_file(report)
    bench_find(report)
