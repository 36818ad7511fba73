"""Section "dask": a 256 MiB Rope of 4 KiB segments through a Dask cluster
(nocopy.dask) against the same payload as b"".join(segments).

One LocalCluster of two worker processes.  Each run is a fresh client
process: it builds 65,536 chunks of 4 KiB (as received from a socket), then,
timed, makes the payload (a Rope: O(segments); bytes: b"".join, one copy),
scatters it (through the scheduler, the default), runs a task on it on a
worker (the identity: the payload travels back) and gathers the result.
Client peak memory: the process's ru_maxrss at the end less its resident
size just before the timed part (the chunks are resident in both cases), so
it counts every copy the client makes, Python's or C's, and the receive
buffers of the answer.  scatter(hash=False) in every case: hashing would
tokenize a bytes payload through its repr (1 GiB of str for 256 MiB).

Rows (ratio = peer / nocopy; 3 runs each, interleaved, best shown, spread
in the note):
- one frame per segment (the default): 65,536 frames per message.
- install(client, coalesce=1 MiB): runs of segments joined into 1 MiB
  frames (one copy of the payload on the sending side) -> 256 frames.
"""
import json
import os
import resource
import subprocess
import sys
import time

SEG = 4096
NSEG = int(os.environ.get("NOCOPY_BENCH_DASK_SEGMENTS", 65536))   # 256 MiB
RUNS = 3
CASES = ("rope", "coalesce", "join")


def echo(x):
    """The task: the payload itself, so it travels back to the client."""
    return x


def _rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def child(address, case):
    """One client process: prints {"time": s, "peak": bytes} as JSON."""
    from distributed import Client

    import nocopy.dask
    from nocopy import Rope

    with Client(address) as c:
        nocopy.dask.install(c, coalesce=(1 << 20) if case == "coalesce" else 0)
        chunks = [bytes([i & 255]) * SEG for i in range(NSEG)]
        base = _rss()
        t0 = time.perf_counter()
        payload = b"".join(chunks) if case == "join" else Rope(chunks, max_segments=NSEG)
        fut = c.scatter(payload, hash=False)
        back = c.submit(echo, fut).result()
        dt = time.perf_counter() - t0
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - base
        del fut
        assert type(back) is (bytes if case == "join" else Rope), type(back)
        assert len(back) == NSEG * SEG and back == b"".join(chunks)
        nseg = 1 if case == "join" else back.nsegments
    print(json.dumps({"time": dt, "peak": peak, "segments_back": nseg}))


def _one(address, case):
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run(
        [sys.executable, "-c", "import sys; from bench.bench_dask import child; child(*sys.argv[1:])",
         address, case], capture_output=True, text=True, cwd=here, timeout=300)
    if out.returncode:
        raise RuntimeError(f"bench dask child {case} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(report):
    from distributed import Client, LocalCluster

    import nocopy.dask

    got = {case: [] for case in CASES}
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster, Client(cluster) as c:
        nocopy.dask.install(c)
        for _ in range(RUNS):
            for case in CASES:
                got[case].append(_one(cluster.scheduler_address, case))

    def best(case, key):
        vals = [g[key] for g in got[case]]
        return min(vals), f"{min(vals) / 1e6:.0f}-{max(vals) / 1e6:.0f} MB" if key == "peak" \
            else f"{min(vals):.2f}-{max(vals):.2f} s"

    size = f"{NSEG * SEG >> 20} MiB in {NSEG:,} x 4 KiB"
    join_t, join_spread = best("join", "time")
    join_m, join_mspread = best("join", "peak")
    for case, label in (("rope", "Rope, one frame per segment"),
                        ("coalesce", "Rope, coalesce=1 MiB")):
        t, spread = best(case, "time")
        m, mspread = best(case, "peak")
        nback = got[case][0]["segments_back"]
        report.row("dask", f"{size}: scatter+task+gather, {label}", t,
                   "bytes (b''.join)", join_t,
                   note=f"{RUNS} runs: nocopy {spread}, bytes {join_spread}; "
                        f"{nback:,} segments back")
        report.row("dask", f"{size}: client peak memory, {label}", m,
                   "bytes (b''.join)", join_m, unit="bytes",
                   note=f"{RUNS} runs: nocopy {mspread}, bytes {join_mspread}")
