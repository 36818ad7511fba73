"""Compare nocopy's own times between two sets of `make bench` runs.

    python tools/bench_compare.py before1.json [before2.json ...] -- after1.json [...]

Each file is a bench/results.json (NOCOPY_BENCH_OUT=... python -m bench).  For
every row the best nocopy time over each side's runs is taken (the machines
this runs on only ever slow a run down), and after/before is printed with the
spread of each side (max/min over its runs).  Rows slower by more than
--gate (default 3%) are listed at the end; exit status 1 if any."""
import argparse
import json
import sys


def load(paths):
    rows = {}
    for p in paths:
        with open(p) as f:
            for r in json.load(f):
                key = (r["section"], r["case"], r["peer_name"])
                rows.setdefault(key, []).append(r)
    return rows


def main(argv):
    if "--" not in argv:
        sys.exit(__doc__)
    i = argv.index("--")
    ap = argparse.ArgumentParser()
    ap.add_argument("--gate", type=float, default=0.03)
    opts, before_paths = ap.parse_known_args(argv[:i])
    before, after = load(before_paths), load(argv[i + 1:])
    slower = []
    print(f"{'section':8} {'case':44} {'peer':22} {'before':>10} {'after':>10} {'after/before':>12}  spread b/a")
    for key in before:
        if key not in after:
            continue
        # Time rows: smaller is better.  Memory rows (unit != 'time') are
        # compared the same way: the nocopy figure should not grow.
        b = [r["nocopy"] for r in before[key]]
        a = [r["nocopy"] for r in after[key]]
        bb, ab = min(b), min(a)
        ratio = ab / bb if bb else float("nan")
        sb = max(b) / bb if bb else 1.0
        sa = max(a) / ab if ab else 1.0
        unit = before[key][0].get("unit", "time")
        fmt = (lambda x: f"{x * 1e6:9.3f}u") if unit == "time" else (lambda x: f"{x:10.4g}")
        print(f"{key[0]:8} {key[1][:44]:44} {key[2][:22]:22} {fmt(bb)} {fmt(ab)} {ratio:12.3f}  {sb:.2f}/{sa:.2f}")
        if ratio > 1 + opts.gate:
            slower.append((key, ratio))
    if slower:
        print(f"\n{len(slower)} rows slower than the {opts.gate:.0%} gate:")
        for key, ratio in slower:
            print(f"  {key}: {ratio:.3f}")
        return 1
    print(f"\nno row slower than the {opts.gate:.0%} gate")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
