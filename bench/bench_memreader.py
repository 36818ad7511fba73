"""Section "memreader": nocopy.io.MemoryReader against io.BytesIO.

Rows (ratio = peer / nocopy):
- chunks: construct a file over 16 MiB and read it in 64 KiB chunks.
  io.BytesIO(bytearray) copies the buffer on construction; io.BytesIO(bytes)
  does not (it shares an exact bytes object until written), so it is the
  strongest peer; its reads are bytes copies, MemoryReader's are Views.
  Peak traced memory of the same loop, bytearray source.
- lines: a ~4 MB text log, line by line: iterating the reader (C, both
  modes), a readline() loop, and MemoryReader.lines() (the whole loop in C)
  against iterating / a readline() loop over an io.BytesIO(bytes) (C).
- zip: open a zip archive held in a bytearray (as received from a socket)
  and read one 1 MiB member: zipfile over MemoryReader against zipfile over
  io.BytesIO(bytearray) (which copies the whole 8 MiB archive first); the
  same archive as bytes against io.BytesIO(bytes).
"""
import io
import random
import zipfile

from nocopy.io import MemoryReader

from .harness import best_times, peak_memory

SIZE = 16 << 20
CHUNK = 64 << 10


def drain(f):
    read = f.read
    n = 0
    while True:
        b = read(CHUNK)
        if not b:
            return n
        n += len(b)


def count_lines(it):
    n = 0
    for _ in it:
        n += 1
    return n


def count_readline(f):
    readline = f.readline
    n = 0
    while readline():
        n += 1
    return n


def make_log(nbytes):
    rnd = random.Random(5)
    levels = [b"INFO", b"WARN", b"DEBUG", b"ERROR"]
    paths = [b"/api/v1/items", b"/api/v1/users/42", b"/health", b"/static/app.js"]
    out = bytearray()
    i = 0
    while len(out) < nbytes:
        out += b"2026-12-03T11:%02d:%02d.%03dZ %s http: %s %d %dms\n" % (
            i // 3600 % 60, i // 60 % 60, i % 1000, rnd.choice(levels), rnd.choice(paths),
            rnd.choice((200, 200, 200, 404, 500)), rnd.randrange(1, 900))
        i += 1
    return out


def make_zip():
    rnd = random.Random(9)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for i in range(6):  # ~7 MiB of other members, stored (already-compressed data)
            z.writestr(f"blob{i}.bin", rnd.randbytes(1200 << 10), compress_type=zipfile.ZIP_STORED)
        z.writestr("target.txt", make_log(1 << 20), compress_type=zipfile.ZIP_DEFLATED)
    return bytearray(out.getvalue())


def run(report):
    ba = bytearray(SIZE)
    by = bytes(SIZE)
    assert drain(MemoryReader(ba)) == drain(io.BytesIO(ba)) == SIZE
    best = best_times({
        "mr": lambda: drain(MemoryReader(ba)),
        "mr_bytes": lambda: drain(MemoryReader(by, views=False)),
        "bio_ba": lambda: drain(io.BytesIO(ba)),
        "bio_by": lambda: drain(io.BytesIO(by)),
    }, budget=1.5)
    report.row("memreader", "16 MiB in 64 KiB reads: MemoryReader(bytearray)", best["mr"],
               "io.BytesIO(bytearray) (copies)", best["bio_ba"])
    report.row("memreader", "16 MiB in 64 KiB reads: MemoryReader(bytearray)", best["mr"],
               "io.BytesIO(bytes) (no copy)", best["bio_by"])
    report.row("memreader", "16 MiB in 64 KiB reads: MemoryReader(bytes, views=False)",
               best["mr_bytes"], "io.BytesIO(bytes) (no copy)", best["bio_by"])
    report.row("memreader", "16 MiB in 64 KiB reads, peak memory: MemoryReader(bytearray)",
               peak_memory(lambda: drain(MemoryReader(ba))), "io.BytesIO(bytearray)",
               peak_memory(lambda: drain(io.BytesIO(ba))), unit="bytes")

    log = make_log(4 << 20)
    logb = bytes(log)
    nlines = logb.count(b"\n")
    assert count_lines(MemoryReader(log)) == count_lines(io.BytesIO(logb)) == nlines
    assert count_lines(MemoryReader(log).lines(reuse=True)) == nlines
    assert count_readline(MemoryReader(log)) == count_readline(io.BytesIO(logb)) == nlines
    best = best_times({
        "iter": lambda: count_lines(MemoryReader(log)),
        "iter_bytes": lambda: count_lines(MemoryReader(logb, views=False)),
        "rl": lambda: count_readline(MemoryReader(log)),
        "rl_bytes": lambda: count_readline(MemoryReader(logb, views=False)),
        "lines_keep": lambda: count_lines(MemoryReader(log).lines(keepends=True)),
        "lines_reuse": lambda: count_lines(MemoryReader(log).lines(reuse=True)),
        "bio": lambda: count_lines(io.BytesIO(logb)),
        "bio_rl": lambda: count_readline(io.BytesIO(logb)),
    }, budget=3.0)
    case = f"{nlines} log lines (4 MB)"
    report.row("memreader", f"{case}: iterate MemoryReader(bytearray)", best["iter"],
               "iterate io.BytesIO(bytes)", best["bio"])
    report.row("memreader", f"{case}: iterate MemoryReader(bytes, views=False)",
               best["iter_bytes"], "iterate io.BytesIO(bytes)", best["bio"])
    report.row("memreader", f"{case}: readline() loop, MemoryReader(bytearray)", best["rl"],
               "readline() loop, io.BytesIO(bytes)", best["bio_rl"])
    report.row("memreader", f"{case}: readline() loop, MemoryReader(bytes, views=False)",
               best["rl_bytes"], "readline() loop, io.BytesIO(bytes)", best["bio_rl"])
    report.row("memreader", f"{case}: MemoryReader.lines(keepends=True)", best["lines_keep"],
               "iterate io.BytesIO(bytes)", best["bio"])
    report.row("memreader", f"{case}: MemoryReader.lines(reuse=True)", best["lines_reuse"],
               "iterate io.BytesIO(bytes)", best["bio"])

    archive = make_zip()
    want = make_log(1 << 20)

    def open_read(f):
        with zipfile.ZipFile(f) as z:
            return z.read("target.txt")

    assert open_read(MemoryReader(archive)) == open_read(io.BytesIO(archive)) == want
    archive_b = bytes(archive)
    best = best_times({
        "mr": lambda: open_read(MemoryReader(archive)),
        "mr_bytes": lambda: open_read(MemoryReader(archive, views=False)),
        "bio": lambda: open_read(io.BytesIO(archive)),
        "mr_b": lambda: open_read(MemoryReader(archive_b)),
        "bio_b": lambda: open_read(io.BytesIO(archive_b)),
    }, budget=2.0)
    case = f"zip of {len(archive) >> 20} MiB, open + read a 1 MiB member"
    report.row("memreader", f"{case}: MemoryReader(bytearray)", best["mr"],
               "io.BytesIO(bytearray) (copies)", best["bio"])
    report.row("memreader", f"{case}: MemoryReader(bytearray, views=False)", best["mr_bytes"],
               "io.BytesIO(bytearray) (copies)", best["bio"])
    report.row("memreader", f"{case}: MemoryReader(bytes)", best["mr_b"],
               "io.BytesIO(bytes) (no copy)", best["bio_b"])
