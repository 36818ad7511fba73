"""The line servers on nocopy -- examples/line_server.py (nocopy.aio streams)
and examples/line_server_serve.py (nocopy.serve: a plain function per line)
-- each against their asyncio twin (examples/line_server_plain.py) under the
same load, on asyncio's loop and on uvloop.

Load: bench/line_load.c (built here with the C compiler; the same client as
examples/line_load.py, which is used where there is no compiler), 16
connections; "pipelined" sends 32 commands per batch (GET/SET/INCR) and
waits for their 32 replies, "round trips" one command at a time.  The C
client matters for the round trips: the Python one spends about as much CPU
per round trip as the servers, so it set the pace for all of them.  The three servers run at once; the rounds alternate
between them so a busy moment of the (shared) machine hurts all alike.
Rows: seconds per request (1 / requests per second, best of ROUNDS) and the
server's CPU per request (utime + stime from /proc, best of ROUNDS); the
note gives the spread of the per-round ratios (min-max)."""
import os
import shutil
import subprocess
import sys
import tempfile

SECTION = "lines"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROUNDS = 3
DURATION = 1.5
_TICK = os.sysconf("SC_CLK_TCK")
# started together, measured in this order in every round
SERVERS = (("nocopy", "line_server.py"), ("serve", "line_server_serve.py"),
           ("plain", "line_server_plain.py"))
# the rows: each nocopy server against the plain one (name, row label, time target)
# (issue 18's target, 1.5x, holds for both: nocopy.serve is what the docs
# point round-trip servers to, the streams row shows the await floor)
VARIANTS = (("nocopy", "line server", 1.5), ("serve", "line server, nocopy.serve", 1.5))


def _start(script, uvloop):
    extra = ["--uvloop"] if uvloop else []
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "src"))
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "examples", script), "--port", "0",
                             *extra], stdout=subprocess.PIPE, text=True, env=env)
    line = proc.stdout.readline()
    if not line.startswith("listening on "):
        proc.kill()
        raise RuntimeError(f"{script} did not start: {line!r}")
    return proc, line.split()[-1]


def _cpu(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime


_client = None


def _client_cmd():
    """The load client's command: bench/line_load.c compiled once per
    process (Linux with a C compiler), else examples/line_load.py."""
    global _client
    if _client is None:
        cc = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc") or shutil.which("clang")
        if cc and sys.platform.startswith("linux"):
            exe = os.path.join(tempfile.mkdtemp(prefix="nocopy-line-load-"), "line_load")
            r = subprocess.run([cc, "-O2", "-o", exe, os.path.join(ROOT, "bench", "line_load.c")],
                               capture_output=True, text=True)
            if r.returncode == 0:
                _client = [exe]
            else:
                print(f"  (line_load.c did not build, using the Python client: {r.stderr.strip()[:200]})")
        if _client is None:
            _client = [sys.executable, os.path.join(ROOT, "examples", "line_load.py")]
        print(f"  load client: {os.path.basename(_client[-1])}")
    return _client


def _load(addr, pipeline):
    import json
    out = subprocess.run([*_client_cmd(), addr,
                          "-c", "16", "-p", str(pipeline), "-d", str(DURATION), "--json"],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def measure(uvloop, pipeline, rounds=ROUNDS):
    """{name: [(seconds per request, cpu seconds per request), ...]} per round."""
    procs = {name: _start(script, uvloop) for name, script in SERVERS}
    try:
        got = {name: [] for name in procs}
        for _ in range(rounds):
            for name, (proc, addr) in procs.items():
                c0 = _cpu(proc.pid)
                res = _load(addr, pipeline)
                cpu = _cpu(proc.pid) - c0
                got[name].append((1 / res["rps"], cpu / res["requests"]))
        return got
    finally:
        for proc, _ in procs.values():
            proc.terminate()
            proc.wait(10)
            proc.stdout.close()


def _rows(report, got, what):
    b = got["plain"]
    for name, label, target in VARIANTS:
        a = got[name]
        for i, unit in ((0, "time per request (1/rps)"), (1, "server CPU per request")):
            ratios = [p[i] / n[i] for n, p in zip(a, b)]
            report.row(SECTION, f"{label}{what}: {unit}", min(x[i] for x in a),
                       "plain asyncio streams", min(x[i] for x in b),
                       target=target if i == 0 else None,
                       note=f"per-round ratios {min(ratios):.2f}-{max(ratios):.2f}x")


def run(report):
    loops = [False]
    try:
        import uvloop  # noqa: F401
        loops.append(True)
    except ImportError:
        print("  (uvloop not installed: the uvloop rows are skipped)")
    for uv in loops:
        where = ", uvloop" if uv else ""
        _rows(report, measure(uv, 32), f" (pipelined 32{where})")
        _rows(report, measure(uv, 1), f" (round trips{where})")


if __name__ == "__main__":
    from .harness import Report
    run(Report())
