"""SVG bar charts of bench/results.json: one chart per section, one bar per
(case, peer) row, its length the ratio peer cost / nocopy cost (time or
bytes, as the row says) on a log scale; right of the 1x line nocopy is
cheaper.  Written to docs/img/bench-<section>.svg, shown by the docs and the
README.  `make bench` runs this after the results are written; on its own:

    python -m bench.charts [results.json] [outdir]

The SVGs are deterministic (no date, a fixed hash salt): re-running on the
same results changes no byte, so a commit shows only real changes."""
import json
import math
import pathlib
import sys

HERE = pathlib.Path(__file__).parent
DEFAULT_RESULTS = HERE / "results.json"
DEFAULT_OUT = HERE.parent / "docs" / "img"
TITLES = {
    "view": "View vs bytes",
    "rope": "Rope vs join + write",
    "stream": "nocopy.io vs io / asyncio",
    "json": "nocopy.json vs json, orjson, msgspec, ujson",
    "aio": "nocopy.aio vs asyncio streams",
    "numfmt": "number formatting vs repr / str",
}


def load(path):
    rows = json.loads(pathlib.Path(path).read_text())
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise ValueError(f"{path}: expected a list of row objects")
    for r in rows:
        for key in ("section", "case", "peer_name", "ratio", "unit"):
            if key not in r:
                raise ValueError(f"{path}: row without {key!r}: {r}")
    return rows


def by_section(rows):
    out = {}
    for r in rows:
        ratio = r["ratio"]
        if ratio is None or not math.isfinite(ratio) or ratio <= 0:
            continue
        out.setdefault(r["section"], []).append(r)
    return out


def label(r):
    what = "memory" if r["unit"] == "bytes" else "time"
    case = r["case"]
    if what == "memory" and "memory" not in case:
        case += " (memory)"
    return f"{case}  vs {r['peer_name']}"


def chart(section, rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    matplotlib.rcParams["svg.hashsalt"] = "nocopy-bench"
    matplotlib.rcParams["svg.fonttype"] = "none"   # text stays text: smaller, searchable
    labels = [label(r) for r in rows][::-1]
    ratios = [r["ratio"] for r in rows][::-1]
    colors = ["#2e7d32" if x >= 1 else "#c62828" for x in ratios]
    height = 0.8 + 0.32 * len(rows)
    fig, ax = plt.subplots(figsize=(10, height))
    # bars grow from the 1x line: right when nocopy is cheaper, left when not
    ax.barh(range(len(rows)), [x - 1.0 for x in ratios], left=1.0, color=colors, height=0.7)
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda x, _: f"{x:g}x"))
    ax.axvline(1.0, color="#333333", linewidth=1)
    ax.set_yticks(range(len(rows)), labels, fontsize=8)
    lo = min(min(ratios), 0.5)
    hi = max(max(ratios), 2.0)
    ax.set_xlim(lo / 2.5, hi * 3)
    for i, x in enumerate(ratios):
        if x >= 1:
            ax.text(x * 1.08, i, f"{x:,.0f}x" if x >= 100 else f"{x:.3g}x", va="center", ha="left", fontsize=7)
        else:
            ax.text(x / 1.08, i, f"{x:.3g}x", va="center", ha="right", fontsize=7)
    ax.set_xlabel("peer cost / nocopy cost (log scale; > 1: nocopy is faster or smaller)")
    ax.set_title(TITLES.get(section, section), fontsize=11)
    ax.grid(axis="x", which="major", linestyle=":", linewidth=0.5)
    fig.tight_layout()
    fig.savefig(path, format="svg", metadata={"Date": None})
    plt.close(fig)


def main(argv):
    results = pathlib.Path(argv[0]) if argv else DEFAULT_RESULTS
    out = pathlib.Path(argv[1]) if len(argv) > 1 else DEFAULT_OUT
    out.mkdir(parents=True, exist_ok=True)
    sections = by_section(load(results))
    written = []
    for section, rows in sections.items():
        path = out / f"bench-{section}.svg"
        chart(section, rows, path)
        written.append(path)
    for p in written:
        print(f"chart written: {p}")
    return written


if __name__ == "__main__":
    main(sys.argv[1:])
