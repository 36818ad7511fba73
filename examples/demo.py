"""make demo: the seed's sensor server on nocopy, side by side with the same
server written the plain asyncio way.

Starts both servers on 127.0.0.1 (examples/sensor_server.py and
examples/sensor_server_plain.py), runs the same bounded load against each
(wrk when installed, else examples/load.py: many keep-alive connections, a
fixed number of requests or seconds), prints requests/s, p50 and p99 latency
and the blocks each server process allocates per request (its /stats), then
keeps both serving with their URLs printed until Ctrl-C.

    python examples/demo.py [--no-serve] [--requests N] [--duration S]
                            [--connections C] [--uvloop | --asyncio-loop]
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def start_server(script: str, loop_flag: list[str]) -> tuple["subprocess.Popen[str]", str]:
    cmd = [sys.executable, os.path.join(HERE, script), "--port", "0"] + loop_flag
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    m = re.search(r"http://\S+", line)
    if not m:
        proc.kill()
        raise RuntimeError(f"{script} did not start: {line!r}")
    return proc, m.group(0)


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def _search(pattern: str, text: str) -> str:
    m = re.search(pattern, text)
    if m is None:
        raise RuntimeError(f"wrk output without {pattern!r}: {text!r}")
    return m.group(1)


def run_wrk(url: str, connections: int, duration: float) -> dict[str, Any]:
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{max(1, int(duration))}s",
                          "--latency", url], capture_output=True, text=True, check=True).stdout

    def ms(label: str) -> float:
        m = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", out)
        if not m:
            return float("nan")
        v, unit = float(m.group(1)), m.group(2)
        return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v
    rps = float(_search(r"Requests/sec:\s+([\d.]+)", out))
    n = int(_search(r"(\d+) requests in", out))
    return {"requests": n, "rps": rps, "p50_ms": ms("50"), "p99_ms": ms("99"), "errors": 0,
            "tool": "wrk"}


def run_load(url: str, connections: int, requests: int, duration: float) -> dict[str, Any]:
    if shutil.which("wrk"):
        return run_wrk(url, connections, duration)
    out = subprocess.run([sys.executable, os.path.join(HERE, "load.py"), url, "-c", str(connections),
                          "-n", str(requests), "-d", str(duration), "--json"],
                         capture_output=True, text=True)
    if not out.stdout.strip():
        raise RuntimeError(f"load.py failed: {out.stderr}")
    res: dict[str, Any] = json.loads(out.stdout)
    res["tool"] = "examples/load.py"
    return res


def compare(urls: dict[str, str], connections: int, requests: int, duration: float,
            rounds: int = 2) -> dict[str, dict[str, Any]]:
    """Alternate the servers `rounds` times (so a busy machine hurts both
    alike) and keep each server's best round."""
    best: dict[str, dict[str, Any]] = {}
    for _ in range(rounds):
        for name, url in urls.items():
            get_json(url + "stats/reset")
            res = run_load(url + "sensors", connections, requests, duration)
            res["stats"] = get_json(url + "stats")
            if name not in best or res["rps"] > best[name]["rps"]:
                best[name] = res
    return best


def table(best: dict[str, dict[str, Any]]) -> str:
    a, b = best["nocopy"], best["plain"]
    rows: list[tuple[str, str, str, float | None]] = [
        ("requests/s", f"{a['rps']:.0f}", f"{b['rps']:.0f}", a["rps"] / b["rps"]),
        ("p50 latency (ms)", f"{a['p50_ms']:.2f}", f"{b['p50_ms']:.2f}", b["p50_ms"] / a["p50_ms"]),
        ("p99 latency (ms)", f"{a['p99_ms']:.2f}", f"{b['p99_ms']:.2f}", b["p99_ms"] / a["p99_ms"]),
        ("blocks allocated / request (process)", f"{a['stats']['alloc_per_request']:.1f}",
         f"{b['stats']['alloc_per_request']:.1f}",
         b["stats"]["alloc_per_request"] / max(a["stats"]["alloc_per_request"], 1e-9)),
        ("  of which in the handler", f"{a['stats']['handling_alloc_per_request']:.1f}",
         f"{b['stats']['handling_alloc_per_request']:.1f}",
         b["stats"]["handling_alloc_per_request"]
         / max(a["stats"]["handling_alloc_per_request"], 1e-9)),
        ("blocks retained / request", f"{a['stats']['retained_blocks_per_request']:.2f}",
         f"{b['stats']['retained_blocks_per_request']:.2f}", None),
        ("server CPU / request (us)", f"{a['stats']['cpu_us_per_request']:.1f}",
         f"{b['stats']['cpu_us_per_request']:.1f}",
         b["stats"]["cpu_us_per_request"] / a["stats"]["cpu_us_per_request"]),
    ]
    lines = [f"  {'':38} {'nocopy':>10} {'plain asyncio':>14} {'ratio':>7}"]
    for label, x, y, r in rows:
        lines.append(f"  {label:38} {x:>10} {y:>14} {'' if r is None else f'{r:6.2f}x':>7}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--no-serve", action="store_true", help="exit after the comparison")
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--requests", type=int, default=20000)
    p.add_argument("--duration", type=float, default=4.0)
    p.add_argument("--rounds", type=int, default=2)
    g = p.add_mutually_exclusive_group()
    g.add_argument("--uvloop", action="store_true", help="both servers on uvloop")
    g.add_argument("--asyncio-loop", action="store_true", help="both servers on asyncio's loop (default)")
    a = p.parse_args(argv)
    loop_flag = ["--uvloop"] if a.uvloop else []
    procs: list[tuple[subprocess.Popen[str], str]] = []
    try:
        for script in ("sensor_server.py", "sensor_server_plain.py"):
            procs.append(start_server(script, loop_flag))
        urls = {"nocopy": procs[0][1], "plain": procs[1][1]}
        tool = "wrk" if shutil.which("wrk") else "examples/load.py"
        print(f"nocopy sensor server   {urls['nocopy']}\nplain asyncio version  {urls['plain']}")
        print(f"load: {tool}, {a.connections} keep-alive connections, up to {a.requests} requests "
              f"or {a.duration:g} s, best of {a.rounds} alternating rounds, "
              f"servers on {'uvloop' if a.uvloop else 'asyncio'}'s loop\n", flush=True)
        best = compare(urls, a.connections, a.requests, a.duration, a.rounds)
        print(table(best))
        errors = best["nocopy"]["errors"] + best["plain"]["errors"]
        if errors:
            print(f"\n  {errors} errors during the load")
        if a.no_serve:
            return 0 if not errors else 1
        print(f"\nOpen {urls['nocopy']} in a browser (live chart of /sensors); the plain version is at "
              f"{urls['plain']}.  Ctrl-C to stop.", flush=True)
        while all(proc.poll() is None for proc, _ in procs):
            time.sleep(0.5)
        return 1
    except KeyboardInterrupt:
        print()
        return 0
    finally:
        for proc, _ in procs:
            proc.terminate()
        for proc, _ in procs:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
            if proc.stdout is not None:
                proc.stdout.close()


if __name__ == "__main__":
    sys.exit(main())
