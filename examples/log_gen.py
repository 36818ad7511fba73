"""A seeded, realistic combined-format access log for the log processor
examples and bench/bench_logs.py: varied paths (API routes with ids, static
files, query strings, scanners), statuses, sizes (some "-"), referers and
user agents, and about 0.5% malformed lines (truncated, garbage, "-"
requests, non-numeric fields, blank lines).

    python examples/log_gen.py access.log --mb 50 [--seed 18]
"""
import argparse
import os
import random
from typing import Sequence, TypeVar

T = TypeVar("T")

_PREFIXES = [
    (b"/api", 40), (b"/static", 20), (b"/", 6), (b"/images", 8), (b"/blog", 6),
    (b"/search", 4), (b"/login", 2), (b"/cart", 3), (b"/products", 6), (b"/docs", 3),
    (b"/favicon.ico", 2), (b"/robots.txt", 1), (b"/wp-login.php", 1), (b"/.env", 0.3),
    (b"/health", 4), (b"/metrics", 2),
]
_API = [b"users", b"orders", b"items", b"sessions", b"v2/users", b"v2/search", b"auth/token"]
_STATIC = [b"app.js", b"vendor.js", b"style.css", b"fonts/inter.woff2", b"logo.svg"]
_STATUSES = [(200, 70), (304, 8), (404, 6), (301, 3), (302, 3), (201, 3), (204, 2),
             (400, 1.5), (401, 1), (403, 0.7), (500, 0.5), (502, 0.2), (503, 0.3), (206, 0.5)]
_METHODS = [(b"GET", 85), (b"POST", 10), (b"PUT", 2), (b"DELETE", 1), (b"HEAD", 2)]
_AGENTS = [
    b"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    b"Chrome/120.0.0.0 Safari/537.36",
    b"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    b"Version/17.1 Safari/605.1.15",
    b"Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
    b"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    b"(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
    b"curl/8.4.0", b"python-requests/2.31.0", b"Go-http-client/1.1",
    b"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", b"-",
]
_REFERERS = [b"-", b"-", b"-", b"https://example.com/", b"https://www.google.com/",
             b"https://example.com/blog/how-we-ship", b"https://news.ycombinator.com/"]
_MONTHS = [b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct",
           b"Nov", b"Dec"]


def _pick(rng: random.Random, weighted: Sequence[tuple[T, float]]) -> T:
    return rng.choices([x for x, _ in weighted], [w for _, w in weighted])[0]


def _path(rng: random.Random) -> bytes:
    prefix = _pick(rng, _PREFIXES)
    if prefix == b"/api":
        p = b"/api/" + rng.choice(_API)
        if rng.random() < 0.6:
            p += b"/%d" % rng.randrange(1, 100000)
        if rng.random() < 0.2:
            p += b"?page=%d&limit=50" % rng.randrange(1, 40)
        return p
    if prefix == b"/static":
        return b"/static/" + rng.choice(_STATIC) + (b"?v=%x" % rng.getrandbits(32))
    if prefix == b"/images":
        return b"/images/%d/%s.jpg" % (rng.randrange(1000), b"photo-%d" % rng.randrange(50))
    if prefix in (b"/blog", b"/products", b"/docs"):
        return prefix + b"/" + b"-".join(rng.choice([b"fast", b"python", b"buffers", b"zero",
                                                     b"copy", b"guide", b"intro", b"2024"])
                                         for _ in range(rng.randrange(1, 4)))
    if prefix == b"/search":
        return b"/search/" + rng.choice([b"shoes", b"red+hat", b"laptop", b"%E2%9C%93"])
    return prefix


def _line(rng: random.Random) -> bytes:
    ip = b"%d.%d.%d.%d" % (rng.randrange(1, 224), rng.randrange(256), rng.randrange(256),
                           rng.randrange(1, 255))
    user = b"-" if rng.random() < 0.97 else b"alice"
    ts = b"[%02d/%s/2024:%02d:%02d:%02d +0000]" % (
        rng.randrange(1, 29), rng.choice(_MONTHS), rng.randrange(24), rng.randrange(60),
        rng.randrange(60))
    status = _pick(rng, _STATUSES)
    if status in (304, 204) or rng.random() < 0.03:
        size = b"-" if rng.random() < 0.5 else b"0"
    else:
        size = b"%d" % int(rng.lognormvariate(8, 1.8))
    req = b'"%s %s HTTP/1.1"' % (_pick(rng, _METHODS), _path(rng))
    return b'%s - %s %s %s %d %s "%s" "%s"\n' % (ip, user, ts, req, status, size,
                                                  rng.choice(_REFERERS), rng.choice(_AGENTS))


def _malformed(rng: random.Random, good: bytes) -> bytes:
    kind = rng.randrange(6)
    if kind == 0:
        return good[:rng.randrange(1, len(good) - 1)] + b"\n"       # truncated
    if kind == 1:
        return b"\n"                                                  # blank
    if kind == 2:                                                     # no request
        return b'10.0.0.1 - - [01/Jan/2024:00:00:00 +0000] "-" 400 0 "-" "-"\n'
    if kind == 3:
        return good.replace(b" HTTP/1.1\" ", b" HTTP/1.1\" OK ", 1)  # status not a number
    if kind == 4:
        return good.replace(b'"GET ', b'"GET http://evil.example', 1)  # not a path
    return bytes(rng.randrange(32, 127) for _ in range(rng.randrange(5, 80))) + b"\n"


def generate(path: "str | os.PathLike[str]", mb: float = 50, seed: int = 18) -> int:
    """Write about `mb` MB of log to path; returns the number of lines."""
    rng = random.Random(seed)
    target = int(mb * 1e6)
    written = n = 0
    with open(path, "wb") as f:
        chunk: list[bytes] = []
        while written < target:
            line = _line(rng)
            if rng.random() < 0.005:
                line = _malformed(rng, line)
            chunk.append(line)
            written += len(line)
            n += 1
            if len(chunk) == 4096:
                f.write(b"".join(chunk))
                chunk.clear()
        f.write(b"".join(chunk))
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description="Write a seeded combined-format access log.")
    ap.add_argument("path")
    ap.add_argument("--mb", type=float, default=50)
    ap.add_argument("--seed", type=int, default=18)
    a = ap.parse_args()
    n = generate(a.path, a.mb, a.seed)
    print(f"wrote {n} lines to {a.path}")


if __name__ == "__main__":
    main()
