"""Render bench/results.json as the README's markdown table."""
import json
import pathlib

from .harness import fmt_time


def main():
    rows = json.loads((pathlib.Path(__file__).parent / "results.json").read_text())
    print("| section | case | nocopy | peer | peer value | peer / nocopy | target |")
    print("|---|---|---:|---|---:|---:|---|")
    for r in rows:
        f = fmt_time if r["unit"] == "time" else (lambda b: f"{b / 1e6:.2f} MB")
        tgt = "" if r["target"] is None else (f"≥ {r['target']:.2f}x " + ("✓" if r["meets"] else "✗ miss"))
        print(f"| {r['section']} | {r['case']} | {f(r['nocopy']).strip()} | {r['peer_name']} | "
              f"{f(r['peer']).strip()} | {r['ratio']:.2f}x | {tgt} |")


if __name__ == "__main__":
    main()
