"""The runnable programs in examples/ run: the tour, and make demo's driver
with a small bounded load (--no-serve)."""
import os
import pathlib
import subprocess
import sys

import pytest

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


def test_demo_no_serve_compares_the_three_servers():
    r = run(EXAMPLES / "demo.py", "--no-serve", "--connections", "4", "--requests", "400",
            "--duration", "1", "--rounds", "1")
    assert r.returncode == 0, r.stderr
    assert "requests/s" in r.stdout and "p99 latency" in r.stdout
    assert "blocks allocated / request" in r.stdout and "server CPU / request" in r.stdout
    header = next(line for line in r.stdout.splitlines() if "nocopy/expert" in line)
    assert header.split() == ["nocopy", "expert", "plain", "nocopy/expert", "nocopy/plain"]


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


# ---- the line servers (examples/line_server.py, line_server_serve.py, line_server_plain.py)

def _line_oracle(script):
    """The replies line_common.py's protocol promises, from a dict."""
    store, out = {}, []
    for raw in script.split(b"\n")[:-1]:
        line = raw[:-1] if raw.endswith(b"\r") else raw
        if len(raw) > 4096:
            out.append(b"ERR line too long\n")
            break
        cmd, sp, arg = line.partition(b" ")
        if cmd == b"GET":
            out.append(b"ERR usage: GET key\n" if not arg else
                       b"NIL\n" if arg not in store else b"VALUE " + store[arg] + b"\n")
        elif cmd == b"SET":
            key, sp2, val = arg.partition(b" ")
            if not sp2 or not key:
                out.append(b"ERR usage: SET key value\n")
            else:
                store[key] = val
                out.append(b"OK\n")
        elif cmd == b"INCR":
            if not arg:
                out.append(b"ERR usage: INCR key\n")
                continue
            try:
                n = int(store.get(arg, b"0")) + 1
            except ValueError:
                out.append(b"ERR not an integer\n")
                continue
            store[arg] = b"%d" % n
            out.append(b"%d\n" % n)
        elif cmd == b"PING" and not sp:
            out.append(b"PONG\n")
        elif cmd == b"QUIT" and not sp:
            out.append(b"BYE\n")
            break
        else:
            out.append(b"ERR unknown command\n")
    return b"".join(out)


def _random_script(rnd, n, prefix):
    keys = [prefix + b"k%d" % i for i in range(8)] + [prefix + b"sp ace", prefix + b"\xff\x00"]
    vals = [b"", b"1", b"-7", b" 12 ", b"1_000", b"abc", b"x y z", b"9" * 30, b"\r", b"+3"]
    cmds = []
    for _ in range(n):
        c = rnd.choice([b"GET", b"SET", b"INCR", b"INCR", b"PING", b"QUIT ", b"get", b"", b"SET"])
        k = rnd.choice(keys)
        if c == b"SET":
            line = rnd.choice([b"SET " + k + b" " + rnd.choice(vals), b"SET " + k, b"SET  v"])
        elif c in (b"GET", b"INCR"):
            line = rnd.choice([c + b" " + k, c, c + b" "])
        else:
            line = c
        cmds.append(line + rnd.choice([b"\n", b"\n", b"\r\n"]))
    return b"".join(cmds)


def _talk(addr, script, chunks):
    """Send script in pieces of the given sizes (pipelined, no waiting),
    then read every reply until the server closes or the peer's EOF."""
    import socket
    import threading
    host, _, port = addr.rpartition(":")
    with socket.create_connection((host, int(port)), timeout=30) as s:
        def send():
            i = 0
            try:
                for n in chunks:
                    if i >= len(script):
                        break
                    s.sendall(script[i:i + n])
                    i += n
                s.sendall(script[i:])
                s.shutdown(socket.SHUT_WR)
            except OSError:
                pass  # the server closed first (QUIT, too long)
        t = threading.Thread(target=send)
        t.start()
        got = []
        while True:
            try:
                c = s.recv(65536)
            except ConnectionResetError:
                break
            if not c:
                break
            got.append(c)
        t.join(30)
    return b"".join(got)


def _line_servers(uvloop):
    import pytest
    if uvloop:
        pytest.importorskip("uvloop")  # in the test extra; absent only in a bare install
    procs = []
    for script in ("line_server.py", "line_server_serve.py", "line_server_plain.py"):
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
        p = subprocess.Popen([sys.executable, str(EXAMPLES / script), "--port", "0",
                              *(["--uvloop"] if uvloop else [])],
                             stdout=subprocess.PIPE, text=True, env=env, cwd=EXAMPLES)
        line = p.stdout.readline()
        assert line.startswith("listening on "), line
        procs.append((p, line.split()[-1]))
    return procs


def _stop(procs):
    for p, _ in procs:
        p.terminate()
        p.wait(10)
        p.stdout.close()


def test_line_servers_reply_alike_on_both_loops():
    import random
    fixed = (b"PING\nGET a\nSET a hello world\nGET a\nINCR a\nINCR n\nINCR n\r\nGET n\r\n"
             b"\n\r\nFOO\nGET\nSET x\nSET  y\nSET a 41\nINCR a\nPING x\nQUIT now\nping\n"
             b"GET a\r\r\nSET b\r\n")
    for uvloop in (False, True):
        procs = _line_servers(uvloop)
        try:
            rnd = random.Random(18 + uvloop)
            for i in range(12):
                if i == 0:
                    script = b"".join(b"%s%d:%s" % (b"x", i, line) if line[:1] == b"S" else line
                                      for line in [fixed]) + b"QUIT\nPING\n"
                else:
                    script = _random_script(rnd, rnd.choice([1, 5, 50, 400]), b"%d-%d:" % (uvloop, i))
                    if i % 4 == 0:  # a line too long ends the connection, answered first
                        script += b"GET " + b"x" * rnd.choice([4093, 5000, 70000]) + b"\nPING\n"
                # every connection writes its own keys: both servers start empty for it
                chunks = [rnd.choice([1, 3, 17, 100, 4096]) for _ in range(200)]
                want = _line_oracle(script)
                for p, addr in procs:
                    got = _talk(addr, script, chunks)
                    assert got == want, (p.args[1], uvloop, i, script[:200], got[-200:], want[-200:])
        finally:
            _stop(procs)


def test_line_servers_answer_many_connections_under_load():
    """The load client's own checks (a reply per command, per batch) on every
    server, both loops: the batches are answered whole."""
    for uvloop in (False, True):
        procs = _line_servers(uvloop)
        try:
            for p, addr in procs:
                r = run(EXAMPLES / "line_load.py", addr, "-c", "8", "-p", "32", "-d", "0.5", "--json")
                assert r.returncode == 0, r.stderr
                assert '"requests": ' in r.stdout and '"requests": 0,' not in r.stdout
        finally:
            _stop(procs)


def test_bench_lines_load_client_drives_every_line_server(tmp_path):
    """bench lines' load client: bench/line_load.c where a C compiler exists
    on Linux -- built here with warnings as errors, and it refuses a bad
    address -- else examples/line_load.py (the wheel test has no
    compiler).  Its own checks (a reply per command, per batch) hold on
    every line server, pipelined and one command per round trip."""
    import json
    import shutil
    root = EXAMPLES.parent
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc is not None and sys.platform.startswith("linux"):
        exe = tmp_path / "line_load"
        b = subprocess.run([cc, "-O2", "-Wall", "-Wextra", "-Werror", "-o", str(exe),
                            str(root / "bench" / "line_load.c")], capture_output=True, text=True)
        assert b.returncode == 0, b.stderr
        client = [str(exe)]
        r = subprocess.run([*client, "no-port-here"], capture_output=True, text=True, timeout=30)
        assert r.returncode == 2 and "HOST:PORT" in r.stderr
    else:
        client = [sys.executable, str(EXAMPLES / "line_load.py")]
    # the choice bench lines makes is this one
    sys.path.insert(0, str(root))
    try:
        from bench import bench_lines
    finally:
        sys.path.remove(str(root))
    bench_lines._client = None
    assert os.path.basename(bench_lines._client_cmd()[-1]) == os.path.basename(client[-1])
    procs = _line_servers(False)
    try:
        for p, addr in procs:
            for pipeline in ("32", "1"):
                r = subprocess.run([*client, addr, "-c", "4", "-p", pipeline, "-d", "0.3", "--json"],
                                   capture_output=True, text=True, timeout=60)
                assert r.returncode == 0, r.stderr
                res = json.loads(r.stdout)
                assert res["requests"] > 0 and res["requests"] % int(pipeline) == 0
    finally:
        _stop(procs)


def test_log_processors_print_the_same_report(tmp_path):
    """examples/log_processor.py (nocopy) and log_processor_plain.py (stdlib)
    on the same generated log, with malformed lines: the same report."""
    log = tmp_path / "access.log"
    r = run(EXAMPLES / "log_gen.py", log, "--mb", "2", "--seed", "7")
    assert r.returncode == 0, r.stderr
    # 2 MB spans two 1 MiB refills of the nocopy Reader: a line straddles one
    outs = []
    for name in ("log_processor.py", "log_processor_plain.py"):
        r = run(EXAMPLES / name, log)
        assert r.returncode == 0, r.stderr
        outs.append(r.stdout)
    assert outs[0] == outs[1]
    lines = dict(line.split(" ", 1) for line in outs[0].splitlines()[:2])
    assert int(lines["lines"]) > 10_000 and int(lines["malformed"]) > 10
    assert "status 200 " in outs[0] and "bytes /api " in outs[0]
    # every line counted once, the last one included
    data = log.read_bytes().splitlines()
    assert int(lines["lines"]) == len(data)


# ---- the frame server (examples/frame_server.py) --------------------------------------

def test_frame_server_selftest_on_both_loops():
    import pytest
    for loop in ([], ["--uvloop"]):
        if loop:
            pytest.importorskip("uvloop")
        r = run(EXAMPLES / "frame_server.py", "--selftest", *loop)
        assert r.returncode == 0, r.stderr
        assert r.stdout.startswith("selftest ok: ") and not r.stderr, (r.stdout, r.stderr)


def test_frame_server_answers_frames_cut_anywhere():
    """examples/frame_server.py against a client of struct + json only: the
    requests in one stream sent in random pieces (so frames and their
    lengths arrive split), one reply frame each, in order; QUIT ends it."""
    import json
    import random
    import struct
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    p = subprocess.Popen([sys.executable, str(EXAMPLES / "frame_server.py"), "--port", "0"],
                         stdout=subprocess.PIPE, text=True, env=env, cwd=EXAMPLES)
    try:
        line = p.stdout.readline()
        assert line.startswith("listening on "), line
        addr = line.split()[-1]
        rnd = random.Random(17)
        reqs, want = [], []
        for i in range(300):
            k = rnd.randrange(4)
            if k == 0:
                a, b = rnd.randrange(-10**6, 10**6), rnd.choice([0.5, -3, 10**20])
                reqs.append(json.dumps({"op": "add", "a": a, "b": b}).encode())
                want.append({"ok": True, "result": a + b})
            elif k == 1:
                doc = {"op": "echo", "i": i, "s": "\u00e9" * rnd.randrange(50), "l": [None, True]}
                reqs.append(json.dumps(doc).encode())
                want.append({"ok": True, "echo": doc})
            elif k == 2:
                reqs.append(rnd.choice([b"{", b"", b"\xff", b"[1,"]))
                want.append("bad JSON")
            else:
                reqs.append(rnd.choice([b"{}", b"3", b'{"op": 1}', b'{"op": "add", "a": 1}']))
                want.append("error")
        reqs.append(b'{"op": "quit"}')
        want.append({"ok": True, "bye": True})
        reqs.append(b'{"op": "add", "a": 1, "b": 1}')  # after quit: never answered
        stream = b"".join(struct.pack(">I", len(r)) + r for r in reqs)
        chunks = [rnd.choice([1, 2, 3, 5, 64, 1000]) for _ in range(3000)]
        data = _talk(addr, stream, chunks)
        got, i = [], 0
        while i < len(data):
            (n,) = struct.unpack_from(">I", data, i)
            got.append(json.loads(data[i + 4:i + 4 + n]))
            i += 4 + n
        assert i == len(data) and len(got) == len(want), (len(got), len(want), data[-200:])
        for g, w in zip(got, want):
            if w == "bad JSON":
                assert g["ok"] is False and g["error"].startswith("bad JSON"), g
            elif w == "error":
                assert g["ok"] is False and g["error"], g
            else:
                assert g == w, (g, w)
    finally:
        p.terminate()
        p.wait(10)
        p.stdout.close()
