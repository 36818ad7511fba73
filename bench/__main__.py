"""make bench: every section side by side with its peers, in one process.

python -m bench [section ...]   (sections: the bench_<name>.py files here)
Rows are written to bench/results.json; `python -m bench.table` turns them
into the README's table, bench/charts.py into docs/img/bench-*.svg."""
import importlib
import os
import pathlib
import sys

from .harness import Report

HERE = pathlib.Path(__file__).parent
ORDER = ["view", "keys", "rope", "stream", "memreader", "json", "fmt", "aio", "lines", "sendfile", "build",
         "frames", "dask", "logs", "corpus"]


def sections():
    found = sorted(p.stem[len("bench_"):] for p in HERE.glob("bench_*.py"))
    return sorted(found, key=lambda s: (ORDER.index(s) if s in ORDER else len(ORDER), s))


def main(argv):
    wanted = argv or sections()
    report = Report()
    from nocopy import _core
    # the JSON rows depend on it: setup.py's profile-guided build, or not
    print(f"nocopy's JSON encoder: the {_core._json_build} build", flush=True)
    for name in wanted:
        print(f"== {name}", flush=True)
        mod = importlib.import_module(f"bench.bench_{name}")
        mod.run(report)
    out = os.environ.get("NOCOPY_BENCH_OUT", str(HERE / "results.json"))
    if not argv:
        report.save(out)
        print(f"rows written to {out}")
        # the docs' and README's SVG charts, from the rows just written
        from . import charts
        charts.main([out])
    misses = [r for r in report.rows if r["meets"] is False]
    print(f"{len(report.rows)} rows, {len(misses)} below target")


if __name__ == "__main__":
    main(sys.argv[1:])
