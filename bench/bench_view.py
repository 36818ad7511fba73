"""View methods against the same bytes methods, at 64 bytes (target: at most
1.2x the bytes time) and at 1 MB (where a View's O(1) results should win)."""
from nocopy import View

from .harness import best_time, peak_memory

TARGET = 1 / 1.2

LINE = b"  GET /index.html HTTP/1.1 Host: example.com key=value; x=123  \n"
assert len(LINE) == 64
MB = 1 << 20
BIG = b"  " + (b"lorem ipsum dolor sit amet, " * (MB // 28 + 1))[:MB - 4] + b"  "


def _cases():
    return [
        ("strip", lambda o: o.strip()),
        ("find", lambda o: o.find(b"key=")),
        ("split", lambda o: o.split()),
        ("partition", lambda o: o.partition(b"=")),
        ("startswith", lambda o: o.startswith(b"  GET")),
    ]


def _pair(f_view, f_bytes, rounds=3, **kw):
    """Best times of both, measured alternately so a change of machine load
    between the two measurements cannot decide the ratio."""
    t_view = t_bytes = float("inf")
    for _ in range(rounds):
        t_view = min(t_view, best_time(f_view, **kw))
        t_bytes = min(t_bytes, best_time(f_bytes, **kw))
    return t_view, t_bytes


def _window(data):
    # A window in the middle of a larger buffer, as parsers see data.
    return View(b"<pad>" + data + b"<pad>", 5, 5 + len(data))


def run(report):
    small = _window(LINE)
    for name, fn in _cases():
        t_view, t_bytes = _pair(lambda: fn(small), lambda: fn(LINE))
        report.row(section="view", case=f"{name} 64 B", nocopy=t_view, peer_name="bytes",
                   peer=t_bytes, target=TARGET)
    if hasattr(View, "to_int"):
        digits = b"1234567890123456"
        v = _window(digits)
        t_view, t_int = _pair(v.to_int, lambda: int(digits))
        report.row(section="view", case="to_int 16 digits", nocopy=t_view,
                   peer_name="int(bytes)", peer=t_int, target=TARGET)

    big = _window(BIG)
    quick = dict(min_time=0.1, repeat=3)
    for name, fn in [("strip", lambda o: o.strip()), ("find (absent)", lambda o: o.find(b"key=")),
                     ("partition", lambda o: o.partition(b"amet, ")),
                     ("startswith", lambda o: o.startswith(b"  lorem"))]:
        t_view, t_bytes = _pair(lambda: fn(big), lambda: fn(BIG), rounds=2, **quick)
        report.row(section="view", case=f"{name} 1 MB", nocopy=t_view, peer_name="bytes", peer=t_bytes)
    t_view, t_bytes = _pair(lambda: big.split(b","), lambda: BIG.split(b","), rounds=2, **quick)
    report.row(section="view", case="split 1 MB (37k pieces)", nocopy=t_view, peer_name="bytes",
               peer=t_bytes)
    # O(1): strip of a megabyte is a new window, not a megabyte copy.
    report.row(section="view", case="strip 1 MB: peak memory", unit="bytes",
               nocopy=max(peak_memory(big.strip), 1), peer_name="bytes.strip",
               peer=peak_memory(BIG.strip), note="O(1) vs O(n)")
    count = sum(1 for _ in big.itersplit(b",", reuse=True))
    report.row(section="view", case=f"itersplit(reuse) 1 MB: peak memory ({count} items)",
               unit="bytes", nocopy=max(peak_memory(lambda: sum(1 for _ in big.itersplit(b",", reuse=True))), 1),
               peer_name="bytes.split", peer=peak_memory(lambda: BIG.split(b",")), note="O(1) vs O(n)")
