"""make demo: the seed's sensor server on nocopy, side by side with the same
server written the plain asyncio way and the way an expert writes it without
nocopy (asyncio.Protocol + orjson).

Starts the three servers on 127.0.0.1 (examples/sensor_server.py,
examples/sensor_server_plain.py, examples/sensor_server_expert.py), runs the
same bounded load against each in alternating rounds (wrk when installed,
else examples/load.py: many keep-alive connections, a fixed number of
requests or seconds), prints requests/s, p50 and p99 latency, the server's
CPU time and the blocks its process allocates per request (its /stats), with
the ratios nocopy/expert and nocopy/plain, then keeps them serving with their
URLs printed until Ctrl-C.

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
from collections.abc import Callable
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
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {"requests": n, "rps": rps, "p50_ms": ms("50"), "p99_ms": ms("99"),
            "errors": int(bad.group(1)) if bad else 0, "tool": "wrk"}


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
    """Alternate the servers `rounds` times (so a busy machine hurts them
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


SERVERS = {"nocopy": "sensor_server.py", "plain": "sensor_server_plain.py",
           "expert": "sensor_server_expert.py"}


def table(best: dict[str, dict[str, Any]]) -> str:
    """One row per measure, a column per server, then nocopy's value divided
    by the expert's and by the plain server's."""
    a, e, p = best["nocopy"], best["expert"], best["plain"]

    def st(key: str) -> Callable[[dict[str, Any]], float]:
        return lambda r: r["stats"][key]
    rows: list[tuple[str, Callable[[dict[str, Any]], float], str]] = [
        ("requests/s", lambda r: r["rps"], ".0f"),
        ("p50 latency (ms)", lambda r: r["p50_ms"], ".2f"),
        ("p99 latency (ms)", lambda r: r["p99_ms"], ".2f"),
        ("server CPU / request (us)", st("cpu_us_per_request"), ".1f"),
        ("blocks allocated / request (process)", st("alloc_per_request"), ".1f"),
        ("  of which in the handler", st("handling_alloc_per_request"), ".1f"),
        ("blocks retained / request", st("retained_blocks_per_request"), ".2f"),
    ]

    def ratio(label: str, x: float, y: float) -> str:
        return f"{x / y:.2f}x" if y and "retained" not in label else ""
    lines = [f"  {'':38} {'nocopy':>9} {'expert':>9} {'plain':>9} {'nocopy/expert':>14} "
             f"{'nocopy/plain':>13}"]
    for label, get, f in rows:
        x, y, z = get(a), get(e), get(p)
        lines.append(f"  {label:38} {x:>9{f}} {y:>9{f}} {z:>9{f}} {ratio(label, x, y):>14} "
                     f"{ratio(label, x, z):>13}")
    lines.append("\n  expert: asyncio.Protocol + regex + orjson (sensor_server_expert.py);"
                 "\n  plain: asyncio streams + json (sensor_server_plain.py)."
                 "\n  Ratios: nocopy's value / the other's (requests/s: above 1 favours nocopy;"
                 " the rest: below 1).")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--no-serve", action="store_true", help="exit after the comparison")
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--requests", type=int, default=20000)
    p.add_argument("--duration", type=float, default=4.0)
    p.add_argument("--rounds", type=int, default=2)
    g = p.add_mutually_exclusive_group()
    g.add_argument("--uvloop", action="store_true", help="the servers on uvloop")
    g.add_argument("--asyncio-loop", action="store_true", help="the servers on asyncio's loop (default)")
    a = p.parse_args(argv)
    loop_flag = ["--uvloop"] if a.uvloop else []
    procs: list[tuple[subprocess.Popen[str], str]] = []
    try:
        for script in SERVERS.values():
            procs.append(start_server(script, loop_flag))
        urls = {name: url for name, (_, url) in zip(SERVERS, procs)}
        tool = "wrk" if shutil.which("wrk") else "examples/load.py"
        print(f"nocopy sensor server     {urls['nocopy']}\n"
              f"plain asyncio version    {urls['plain']}\n"
              f"expert asyncio version   {urls['expert']}")
        print(f"load: {tool}, {a.connections} keep-alive connections, up to {a.requests} requests "
              f"or {a.duration:g} s, best of {a.rounds} alternating rounds, "
              f"servers on {'uvloop' if a.uvloop else 'asyncio'}'s loop\n", flush=True)
        best = compare(urls, a.connections, a.requests, a.duration, a.rounds)
        print(table(best))
        errors = sum(res["errors"] for res in best.values())
        if errors:
            print(f"\n  {errors} errors during the load")
        if a.no_serve:
            return 0 if not errors else 1
        print(f"\nOpen {urls['nocopy']} in a browser (live chart of /sensors); the plain version is at "
              f"{urls['plain']}, the expert one at {urls['expert']}.  Ctrl-C to stop.", flush=True)
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
