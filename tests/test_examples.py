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


def test_json_frames_every_sender_receiver_pair_agrees():
    """examples/json_frames.py: nocopy and plain senders and receivers, in
    every pairing, over a socketpair and over TCP: same frames, same digest."""
    outs = set()
    for sender in ("nocopy", "plain"):
        for receiver in ("nocopy", "plain"):
            r = run(EXAMPLES / "json_frames.py", "--sender", sender, "--receiver", receiver,
                    "--frames", "2000")
            assert r.returncode == 0, r.stderr
            assert f"sender={sender} receiver={receiver}" in r.stdout
            assert "frames 2000\n" in r.stdout
            outs.add(r.stdout.split("\n", 1)[1])
    r = run(EXAMPLES / "json_frames.py", "--port", "0", "--frames", "2000")
    assert r.returncode == 0, r.stderr
    outs.add(r.stdout.split("\n", 1)[1])
    assert len(outs) == 1, outs


def test_json_frames_senders_put_the_same_bytes_on_the_wire():
    import socket
    import sys
    import threading
    sys.path.insert(0, str(EXAMPLES))
    try:
        import json_frames as jf
    finally:
        sys.path.remove(str(EXAMPLES))
    wires = {}
    for name, send in jf.SENDERS.items():
        a, b = socket.socketpair()
        chunks = []

        def drain(b=b, chunks=chunks):
            while True:
                c = b.recv(65536)
                if not c:
                    return
                chunks.append(c)
        t = threading.Thread(target=drain)
        t.start()
        with a:
            send(a, jf.documents(3000))
            a.shutdown(socket.SHUT_WR)
        t.join(30)
        b.close()
        wires[name] = b"".join(chunks)
    assert wires["nocopy"] == wires["plain"] and len(wires["plain"]) > 3000 * 100
    # and a receiver stops with an error on a frame cut short, either kind
    for name, receive in jf.RECEIVERS.items():
        a, b = socket.socketpair()
        with a:
            a.sendall(wires["plain"][:1000])
            a.shutdown(socket.SHUT_WR)
            got = []
            try:
                receive(b, got.append)
            except Exception as e:  # IncompleteRead / EOFError: a truncated stream
                assert "cut short" in str(e) or type(e).__name__ == "IncompleteRead", e
            else:
                raise AssertionError(f"{name} receiver accepted a truncated stream")
            assert got and all(d["id"] >= 100000 for d in got)
        b.close()
