"""Timing and reporting shared by the benchmark sections.

Each section module ``bench/bench_<name>.py`` defines ``run(report)`` and calls
``report.row(...)`` once per comparison.  Every row puts nocopy and one named
peer side by side, measured in the same process, and states the ratio
peer_time / nocopy_time (> 1: nocopy is faster)."""
import gc
import json
import time
import tracemalloc


def _calibrate(fn, slice_time):
    number = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        dt = time.perf_counter() - t0
        if dt >= slice_time or number >= 1 << 24:
            return number
        number *= 2 if dt == 0 else max(2, min(10, int(slice_time / dt) + 1))


def best_time(fn, *, min_time=0.2, repeat=5, number=None):
    """Best seconds per call of fn() over `repeat` rounds of `number` calls.
    `number` is calibrated so one round lasts about min_time / repeat."""
    if number is None:
        number = _calibrate(fn, min_time / repeat)
    best = float("inf")
    gc_was = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeat):
            t0 = time.perf_counter()
            for _ in range(number):
                fn()
            best = min(best, (time.perf_counter() - t0) / number)
    finally:
        if gc_was:
            gc.enable()
    return best


def best_times(fns, *, budget=2.0, slice_time=0.003, min_rounds=15):
    """Best seconds per call of each of fns (a dict name -> callable).

    The shared machines this runs on change speed by up to 2x for tenths of
    a second at a time, so the candidates are interleaved finely: each round
    runs every candidate for about `slice_time`, and rounds repeat until
    `budget` seconds have passed (at least `min_rounds`).  A quiet moment
    then benefits all of them alike, and the minimum finds it.

    Each slice starts with one untimed call: the first call after another
    candidate pays for the state that one left (on ~1 MB documents, glibc
    hands memory just returned to the OS back with a page fault on every
    page, ~170 faults), which the candidate after json.dumps paid alone."""
    numbers = {name: _calibrate(fn, slice_time) for name, fn in fns.items()}
    best = {name: float("inf") for name in fns}
    gc_was = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        rounds = 0
        while rounds < min_rounds or time.perf_counter() - start < budget:
            for name, fn in fns.items():
                n = numbers[name]
                fn()
                t0 = time.perf_counter()
                for _ in range(n):
                    fn()
                best[name] = min(best[name], (time.perf_counter() - t0) / n)
            rounds += 1
    finally:
        if gc_was:
            gc.enable()
    return best


def best_times_fresh(make, fns, *, rounds=60):
    """Best seconds of one call of each fn(arg) on an argument make() built
    anew for every call and kept out of the timing: for costs that the
    first call on an object pays and later calls do not (CPython caches a
    str's UTF-8 form on the str once an encoder asks for it)."""
    best = {name: float("inf") for name in fns}
    gc_was = gc.isenabled()
    gc.disable()
    try:
        for _ in range(rounds):
            for name, fn in fns.items():
                arg = make()
                t0 = time.perf_counter()
                fn(arg)
                best[name] = min(best[name], time.perf_counter() - t0)
                del arg
    finally:
        if gc_was:
            gc.enable()
    return best


def peak_memory(fn):
    """Peak traced bytes allocated while fn() runs (tracemalloc)."""
    gc.collect()
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    try:
        fn()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak - base


def fmt_time(s):
    if s < 1e-6:
        return f"{s * 1e9:8.1f} ns"
    if s < 1e-3:
        return f"{s * 1e6:8.2f} us"
    if s < 1:
        return f"{s * 1e3:8.2f} ms"
    return f"{s:8.3f} s "


class Report:
    def __init__(self):
        self.rows = []

    def row(self, section, case, nocopy, peer_name, peer, *, unit="time", target=None, note=""):
        """nocopy / peer: seconds per operation (unit="time") or bytes (unit="bytes").
        target: the ratio peer/nocopy the issue asks for, e.g. 1/1.2 for
        "at most 1.2x the peer's time", 1.5 for "1.5x faster"."""
        ratio = peer / nocopy if nocopy else float("inf")
        r = dict(section=section, case=case, nocopy=nocopy, peer_name=peer_name, peer=peer,
                 unit=unit, ratio=ratio, target=target, note=note,
                 meets=None if target is None else ratio >= target)
        self.rows.append(r)
        shown = fmt_time if unit == "time" else (lambda b: f"{b / 1e6:9.2f} MB")
        verdict = "" if target is None else ("  ok" if r["meets"] else f"  MISS (target {target:.2f}x)")
        print(f"  {case:<44} nocopy {shown(nocopy)}  {peer_name:<26} {shown(peer)}  "
              f"{ratio:6.2f}x{verdict}{'  ' + note if note else ''}", flush=True)
        return r

    def save(self, path):
        with open(path, "w") as f:
            json.dump(self.rows, f, indent=1)
