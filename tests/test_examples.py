"""The runnable programs in examples/ run: the tour, and make demo's driver
with a small bounded load (--no-serve)."""
import os
import pathlib
import subprocess
import sys

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


def run(*args, timeout=120):
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=EXAMPLES)


def test_tour_runs_and_reports_every_capability():
    r = run(EXAMPLES / "tour.py")
    assert r.returncode == 0, r.stderr
    for title in ("View.partition", "iterlines(reuse=True)", "stitch 1,000", "read_chunks",
                  "Reader.lines(reuse=True)", "ByteBuffer", "dumps_into"):
        assert title in r.stdout, title
    assert r.stdout.count("nocopy ") >= 8 and r.stdout.count("plain ") >= 8


def test_demo_no_serve_compares_both_servers():
    r = run(EXAMPLES / "demo.py", "--no-serve", "--connections", "4", "--requests", "400",
            "--duration", "2", "--rounds", "1")
    assert r.returncode == 0, r.stderr
    assert "requests/s" in r.stdout and "p99 latency" in r.stdout
    assert "blocks allocated / request" in r.stdout


def test_dask_ropes_sends_a_rope_through_a_cluster_unjoined():
    # a cluster of one worker process (a few seconds, so once; the
    # coalesce option and worker-to-worker transfers are tested in
    # tests/test_dask.py); the example checks every result against the
    # bytes oracle itself (asserts)
    r = run(EXAMPLES / "dask_ropes.py", "--chunks", "300", "--chunk-size", "1000", "--workers", "1")
    assert r.returncode == 0, r.stderr
    assert "in 300 segments (coalesce=0)" in r.stdout
    assert "the worker received 300 segments" in r.stdout
    assert "gathered back: a Rope of 300 segments" in r.stdout
