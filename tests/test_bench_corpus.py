"""The benchmark corpus of issue 19 (bench/bench_corpus.py, bench/corpus/):
every stored document loads, the document list holds all of them and every
generated shape at both sizes, and nocopy.json's output equals the stdlib's
compact output on each (the generated ones at their small size)."""
import hashlib
import json
import lzma
import pathlib
import sys

import pytest

import nocopy.json as nj

ROOT = pathlib.Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import bench_corpus as bc  # noqa: E402

# the decompressed files' SHA-256, as bench/corpus/README.md states them
SHA256 = {
    "canada": "bfbc12b8b6da35cdcc15046304be1739a82a335de17ef9959ea3dd75225467a4",
    "citm_catalog": "a73e7a883f6ea8de113dff59702975e60119b4b58d451d518a929f31c92e2059",
    "github": "275e688d9081f1528483eccc7d87290957a67768d4413817e30e092a68cb2124",
    "twitter": "a08b769f32b95f426cbc3abafcec65c1a19d3eb544d4ddf320eae142c99efc5d",
}


def stdlib(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def test_corpus_lists_every_stored_file_and_the_four_documents():
    stored = sorted(p.name[:-len(".json.xz")] for p in bc.CORPUS_DIR.glob("*.json.xz"))
    assert stored == sorted(bc.CORPUS) == sorted(SHA256)
    readme = (bc.CORPUS_DIR / "README.md").read_text()
    for name, digest in SHA256.items():
        assert f"{digest}  {name}.json" in readme


@pytest.mark.parametrize("name", sorted(SHA256))
def test_stored_document_is_intact_and_round_trips(name):
    raw = lzma.decompress((bc.CORPUS_DIR / f"{name}.json.xz").read_bytes())
    assert hashlib.sha256(raw).hexdigest() == SHA256[name]
    obj = bc.load_corpus(name)
    assert obj == json.loads(raw)
    expected = stdlib(obj)
    assert json.loads(expected) == obj
    assert nj.dumps(obj) == expected
    buf = bytearray(len(expected))
    n = nj.dumps_into(obj, buf)
    assert bytes(buf[:n]) == expected


def test_document_list_is_complete():
    labels = [label for label, _ in bc.documents(sizes=("small",))]
    assert labels[:4] == [f"{name}.json" for name in bc.CORPUS]
    # the table: each shape it measured, every one at two sizes
    assert set(bc.SHAPES) == {
        "random doubles", "two-decimal floats", "GeoJSON polygon, 12-digit coordinates",
        "short dicts of non-ASCII strings", "nested dicts of ints and lists",
        "lists of true/false/null"}
    assert len(labels) == 4 + len(bc.SHAPES)
    for shape, (_, small, large) in bc.SHAPES.items():
        assert 0 < small < large
        assert bc.generate(shape, "small")[0] in labels
        assert bc.generate(shape, "large")[0] != bc.generate(shape, "small")[0]
    cases = [label for label, _, _ in bc._cases()]
    assert len(cases) == 4 + 2 * len(bc.SHAPES)
    assert len(set(cases)) == len(cases)


@pytest.mark.parametrize("shape", sorted(bc.SHAPES))
def test_generated_small_document_matches_stdlib(shape):
    label, obj = bc.generate(shape, "small")
    again = bc.generate(shape, "small")[1]
    assert again == obj and stdlib(again) == stdlib(obj)  # seeded: the same every time
    expected = stdlib(obj)
    assert len(expected) > 1000
    assert nj.dumps(obj) == expected
    buf = bytearray(len(expected))
    assert bytes(buf[:nj.dumps_into(obj, buf)]) == expected
    assert bc.stdlib_compact(obj) == expected


def test_generated_shapes_have_the_property_they_are_named_for():
    doubles = bc.generate("random doubles", "small")[1]
    assert all(isinstance(x, float) and len(repr(abs(x)).replace(".", "").lstrip("0")) >= 15
               for x in doubles[:200])
    prices = bc.generate("two-decimal floats", "small")[1]
    assert all(round(x, 2) == x for x in prices)
    geo = bc.generate("GeoJSON polygon, 12-digit coordinates", "small")[1]
    rings = geo["features"][0]["geometry"]["coordinates"]
    assert sum(len(r) for r in rings) == bc.SHAPES["GeoJSON polygon, 12-digit coordinates"][1]
    strings = [v for d in bc.generate("short dicts of non-ASCII strings", "small")[1] for v in d.values()]
    assert all(not s.isascii() for s in strings)
    kinds = {1 if max(map(ord, s)) <= 0xFF else 2 if max(map(ord, s)) <= 0xFFFF else 4 for s in strings}
    assert kinds == {1, 2, 4}  # CPython's three str kinds, each transcoded differently
    lists = bc.generate("lists of true/false/null", "small")[1]
    assert {x for lst in lists for x in lst} == {True, False, None}


def test_nonascii_remake_gives_new_strings():
    label, obj, remake = next(c for c in bc._cases(sizes=("small",)) if c[2] is not None)
    fresh = remake()
    assert fresh == obj
    assert fresh[0]["name"] is not obj[0]["name"]
