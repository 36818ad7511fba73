"""nocopy.json on the documents everyone benchmarks with (issue 19).

The corpus: the four public documents of the JSON benchmarks (twitter.json,
citm_catalog.json, canada.json, github.json, stored xz-compressed in
bench/corpus/, see its README for their source), plus generated documents of
each shape that issue 19 found us slow on, each at two sizes, generated here
from a fixed seed (deterministic, never stored).

For every document, rows for nocopy.json.dumps_into (into a reused bytearray)
and nocopy.json.dumps against orjson.dumps and against msgspec's
Encoder.encode_into / Encoder.encode.  Each row is the median of 3 runs of
harness.best_times (all five encoders interleaved in one run); the note gives
the spread of the ratio over those runs.  orjson is first in every run, so it
is the first encoder that meets the document: the UTF-8 cache CPython keeps on
a non-ASCII str exists from then on for every encoder alike (nocopy reads such
a cache but never creates one).  The non-ASCII shape also has rows on strings
built anew for every call (no cache), as the issue measured it.

Before timing, the output of both nocopy calls is checked against the
stdlib's compact output (json.dumps(obj, separators=(",", ":"),
ensure_ascii=False).encode()); a difference stops the run.  A peer whose output
differs is still timed, and its rows say so in their note.  The last line
names the worst row (lowest peer/nocopy ratio)."""
import importlib
import json
import lzma
import pathlib
import random

from .harness import best_times, best_times_fresh

SECTION = "corpus"
CORPUS_DIR = pathlib.Path(__file__).parent / "corpus"
CORPUS = ("twitter", "citm_catalog", "canada", "github")
RUNS = 3


def load_corpus(name):
    """The parsed document bench/corpus/<name>.json.xz."""
    with lzma.open(CORPUS_DIR / f"{name}.json.xz", "rb") as f:
        return json.loads(f.read())


# --- generated shapes: fn(rnd, n) -> document; n is the element count -----

def random_doubles(rnd, n):
    """Doubles of 15-17 significant digits, the slow case of shortest repr."""
    return [rnd.uniform(-1e6, 1e6) for _ in range(n)]


def two_decimal_floats(rnd, n):
    """Prices: short shortest-reprs (1234.56)."""
    return [round(rnd.uniform(0, 10000), 2) for _ in range(n)]


def geojson_polygon(rnd, n):
    """A canada.json-like FeatureCollection: one Polygon whose rings hold
    n [lon, lat] pairs in all, each coordinate with 12 significant digits."""
    rings = []
    left = n
    while left:
        k = min(left, 1000)
        rings.append([[round(rnd.uniform(-141.0, -52.0), 10), round(rnd.uniform(41.0, 83.0), 10)]
                      for _ in range(k)])
        left -= k
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "Canada"},
         "geometry": {"type": "Polygon", "coordinates": rings}}]}


_WORDS = ("größe", "näher", "çà et là", "Ελληνικά", "русский", "日本語", "東京都",
          "한국어", "emoji😀", "🎉🎉", "Zoë", "Ångström")


def nonascii_dicts(rnd, n):
    """Short dicts whose values mix UCS-1, UCS-2 and UCS-4 strings.  Every
    str is built by join (two or more words), so each call of this function
    gives new str objects, without a UTF-8 cache."""
    def text(lo, hi):
        return " ".join(rnd.choice(_WORDS) for _ in range(rnd.randint(lo, hi)))
    return [{"name": text(2, 3), "city": text(2, 2), "note": text(2, 6)} for _ in range(n)]


def nested_int_dicts(rnd, n):
    """Dicts of ints, nested dicts of ints and lists of ints."""
    return [{"id": i, "parent": rnd.randrange(n), "score": rnd.randrange(-10**6, 10**6),
             "stats": {"views": rnd.randrange(10**9), "likes": rnd.randrange(10**4),
                       "shares": rnd.randrange(100), "hist": [rnd.randrange(1000) for _ in range(6)]},
             "tags": [rnd.randrange(50) for _ in range(rnd.randint(0, 5))]}
            for i in range(n)]


def bool_null_lists(rnd, n):
    """Lists of 1-16 items, each true, false or null."""
    choices = (True, False, None)
    return [[rnd.choice(choices) for _ in range(rnd.randint(1, 16))] for _ in range(n)]


# name -> (generator, small n, large n); the large sizes are the issue's
SHAPES = {
    "random doubles": (random_doubles, 1000, 10000),
    "two-decimal floats": (two_decimal_floats, 1000, 10000),
    "GeoJSON polygon, 12-digit coordinates": (geojson_polygon, 2000, 20000),
    "short dicts of non-ASCII strings": (nonascii_dicts, 300, 3000),
    "nested dicts of ints and lists": (nested_int_dicts, 300, 3000),
    "lists of true/false/null": (bool_null_lists, 300, 3000),
}
SIZES = ("small", "large")


def generate(shape, size):
    """The generated document (label, obj) of SHAPES[shape] at size "small"
    or "large"; the same objects' values on every call (seeded)."""
    fn, small, large = SHAPES[shape]
    n = small if size == "small" else large
    seed = sorted(SHAPES).index(shape) * 2 + SIZES.index(size)
    return f"{shape} ({n:,})", fn(random.Random(19_000 + seed), n)


def documents(sizes=SIZES):
    """Every document of the corpus: (label, obj), the four public ones
    first, then each generated shape at each of `sizes`."""
    return [(label, obj) for label, obj, _ in _cases(sizes)]


def _cases(sizes=SIZES):
    """(label, obj, remake): remake() builds the document anew (new str
    objects, no UTF-8 cache) for the shape whose cost is the strings', else
    None."""
    for name in CORPUS:
        yield f"{name}.json", load_corpus(name), None
    for shape, (fn, _, _) in SHAPES.items():
        for size in sizes:
            label, obj = generate(shape, size)
            yield label, obj, (_remaker(shape, size) if fn is nonascii_dicts else None)


def _remaker(shape, size):
    def remake():
        return generate(shape, size)[1]
    return remake


def stdlib_compact(obj):
    """The reference output every encoder here is held to."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


# --- timing ---------------------------------------------------------------

def _peer(name):
    try:
        return importlib.import_module(name)
    except ImportError:
        print(f"  (peer {name} not installed: its rows are skipped; pip install {name})")
        return None


def _encoders(nj, orjson, msgspec, size):
    """name -> fn(doc).  orjson first: see the module docstring."""
    fns = {}
    if orjson is not None:
        fns["orjson.dumps"] = orjson.dumps
    buf = bytearray(size + 64)
    fns["nocopy dumps_into"] = lambda d: nj.dumps_into(d, buf)
    fns["nocopy dumps"] = nj.dumps
    if msgspec is not None:
        enc = msgspec.json.Encoder()
        mbuf = bytearray(size + 64)
        fns["msgspec encode_into"] = lambda d: enc.encode_into(d, mbuf)
        fns["msgspec encode"] = enc.encode
    return fns, buf, (mbuf if msgspec is not None else None)


# (nocopy candidate, peer candidate): one row each, target ratio 1.0
PAIRS = (("nocopy dumps_into", "orjson.dumps"), ("nocopy dumps_into", "msgspec encode_into"),
         ("nocopy dumps", "orjson.dumps"), ("nocopy dumps", "msgspec encode"))


def _check(label, doc, expected, fns, buf, mbuf):
    """Stop on a nocopy output that is not the stdlib's; return the set of
    peers whose output differs (their rows are still reported, with a note)."""
    n = fns["nocopy dumps_into"](doc)
    got_into = bytes(buf[:n])
    got = fns["nocopy dumps"](doc)
    for how, out in (("dumps_into", got_into), ("dumps", got)):
        if out != expected:
            at = next((i for i, (a, b) in enumerate(zip(out, expected)) if a != b),
                      min(len(out), len(expected)))
            raise AssertionError(f"corpus {label}: nocopy.json.{how} differs from the stdlib at "
                                 f"byte {at}: {out[at - 20:at + 20]!r} != {expected[at - 20:at + 20]!r}")
    differ = set()
    for name, fn in fns.items():
        if name.startswith("nocopy"):
            continue
        out = fn(doc)
        if name == "msgspec encode_into":
            out = bytes(mbuf)  # encode_into truncates the bytearray to the output
        if bytes(out) != expected:
            differ.add(name)
            print(f"  (note: {name} output differs from the stdlib's on {label})")
    return differ


def _pair_rows(report, case, runs, differ, note=""):
    for nc, peer in PAIRS:
        if peer not in runs[0]:
            continue
        ratios = sorted(((r[peer] / r[nc]), r) for r in runs)
        ratio, t = ratios[len(ratios) // 2]
        parts = [f"{len(runs)} runs: {ratios[0][0]:.2f}-{ratios[-1][0]:.2f}x"]
        if note:
            parts.append(note)
        if peer in differ:
            parts.append("peer output differs from stdlib")
        report.row(SECTION, f"{nc.split()[1]}: {case}", t[nc], peer, t[peer], target=1.0,
                   note="; ".join(parts))


def run(report):
    import nocopy.json as nj
    orjson = _peer("orjson")
    msgspec = _peer("msgspec")
    if orjson is not None:
        print("  orjson runs first on every document: UTF-8 caches of non-ASCII str exist for all")
    start = len(report.rows)
    for label, doc, remake in _cases():
        expected = stdlib_compact(doc)
        size = len(expected)
        fns, buf, mbuf = _encoders(nj, orjson, msgspec, size)
        differ = _check(label, doc, expected, fns, buf, mbuf)
        case = f"{label} ({size:,} B)"
        if remake is not None:
            fresh = [best_times_fresh(remake, fns, rounds=20) for _ in range(RUNS)]
            _pair_rows(report, f"{case}, fresh str", fresh, differ, note="no UTF-8 cache")
        runs = [best_times({name: (lambda f=f: f(doc)) for name, f in fns.items()}, budget=1.0)
                for _ in range(RUNS)]
        _pair_rows(report, case, runs, differ)
    mine = report.rows[start:]
    if mine:
        worst = min(mine, key=lambda r: r["ratio"])
        print(f"  worst row: {worst['case']} vs {worst['peer_name']}: {worst['ratio']:.2f}x "
              f"(peer time / nocopy time; {worst['note']})")
