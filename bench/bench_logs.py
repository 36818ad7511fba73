"""Section "logs": the log processor of issue 18, written the natural way
with nocopy (examples/log_processor.py) and the plain stdlib way an expert
writes it (examples/log_processor_plain.py), over the same seeded ~50 MB
combined-format access log (examples/log_gen.py; NOCOPY_BENCH_LOG_MB sets
the size).  Both reports are checked equal first.

Rows (ratio = peer / nocopy):
- the whole program, best of N interleaved runs; the note gives the spread
  ((worst - best) / best) of each side.  Target 1.5x.
- per line, the parse step alone: split_into() a reused field list against
  bytes.split(None, 10), View.split(None, 10) against bytes.split.
- making one small View (a slice) against slicing bytes, and reslice() of
  a scratch View against slicing.
"""
import os
import pathlib
import sys
import tempfile
import time

from nocopy import View

from .harness import best_times

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"
RUNS = 7


def _log_path(mb):
    sys.path.insert(0, str(EXAMPLES))
    import log_gen
    path = pathlib.Path(tempfile.gettempdir()) / f"nocopy-bench-access-{mb:g}mb-seed18.log"
    if not path.exists():
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        log_gen.generate(tmp, mb, 18)
        tmp.replace(path)
    return path


def run(report):
    mb = float(os.environ.get("NOCOPY_BENCH_LOG_MB", "50"))
    path = _log_path(mb)
    import log_processor
    import log_processor_plain
    res_nc = log_processor.process(path)
    res_plain = log_processor_plain.process(path)
    assert res_nc == res_plain, "the two log processors disagree"
    times = {"nocopy": [], "plain": []}
    cpu = {"nocopy": [], "plain": []}
    for _ in range(RUNS):
        for name, fn in (("nocopy", log_processor.process), ("plain", log_processor_plain.process)):
            t0, c0 = time.perf_counter(), time.process_time()
            fn(path)
            times[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
    spread = {k: (max(v) - min(v)) / min(v) for k, v in times.items()}
    # CPU time too: on a shared machine it is the steadier of the two
    report.row("logs", f"log processor, {mb:g} MB, {res_plain[0]} lines (best of {RUNS})",
               min(times["nocopy"]), "stdlib: for line in f, split, int", min(times["plain"]),
               target=1.5,
               note=f"spread nocopy {spread['nocopy']:.0%}, plain {spread['plain']:.0%}; "
                    f"CPU-time ratio {min(cpu['plain']) / min(cpu['nocopy']):.2f}x")

    line = (b'47.62.229.86 - - [16/Nov/2024:15:11:30 +0000] "GET /api/users/31117 HTTP/1.1" '
            b'200 2326 "https://example.com/" "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) '
            b'Gecko/20100101 Firefox/121.0"')
    buf = bytearray(b"x" * 64 + line + b"x" * 64)
    v = View(buf, 64, 64 + len(line))
    fields = []
    v.split_into(fields, None, 10)
    url = fields[6]
    scratch = View(buf)
    best = best_times({
        "split_into": lambda: v.split_into(fields, None, 10),
        "vsplit": lambda: v.split(None, 10),
        "bsplit": lambda: line.split(None, 10),
        "vslice": lambda: url[:4],
        "bslice": lambda: line[:4],
        "reslice": lambda: scratch.reslice(url, 0, 4),
    }, budget=2.0)
    report.row("logs", "one log line: v.split_into(fields, None, 10)", best["split_into"],
               "bytes.split(None, 10)", best["bsplit"])
    report.row("logs", "one log line: v.split(None, 10)", best["vsplit"],
               "bytes.split(None, 10)", best["bsplit"])
    report.row("logs", "a 4-byte piece: v[:4] (a new View)", best["vslice"],
               "bytes[:4]", best["bslice"])
    report.row("logs", "a 4-byte piece: scratch.reslice(v, 0, 4)", best["reslice"],
               "bytes[:4]", best["bslice"])
