"""Leak checks for View's content-producing methods and number parsers: each
operation runs 100,000 times (error paths 20,000 times) after a warm-up, and
sys.getallocatedblocks() must stay flat (a small constant slack, nothing
proportional to the number of calls).

Under the sanitizer build (PYTHONMALLOC=malloc) getallocatedblocks() is always
0, so there the same loops are measured in traced bytes with tracemalloc."""
import gc
import itertools
import os
import sys
import tracemalloc

import pytest

from nocopy import View

SANITIZER = bool(os.environ.get("NOCOPY_UNDER_SANITIZER"))
N = 20_000 if SANITIZER else 100_000
N_ERR = 5_000 if SANITIZER else 20_000
SLACK_BLOCKS = 30  # interpreter noise (caches, free lists), not per-call growth
SLACK_BYTES = 4096


def _blocks_counted():
    return sys.getallocatedblocks() > 0


def leak_growth(fn, n):
    """Growth after n calls of fn, as a multiple of the allowed slack (< 1: flat)."""
    for _ in range(200):  # warm-up: method caches, free lists, interned names
        fn()
    gc.collect()
    if _blocks_counted():
        before = sys.getallocatedblocks()
        for _ in itertools.repeat(None, n):
            fn()
        gc.collect()
        return (sys.getallocatedblocks() - before) / SLACK_BLOCKS
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in itertools.repeat(None, n):
            fn()
        gc.collect()
        return (tracemalloc.get_traced_memory()[0] - before) / SLACK_BYTES
    finally:
        tracemalloc.stop()


def _view():
    buf = bytearray(b"--[ Hello\tWorld, -42 aXbXc 1_000 ]--")
    return View(buf, 4, len(buf) - 4)


V = _view()
TABLE = bytes(range(255, -1, -1))
PARTS = [b"a", bytearray(b"bc"), memoryview(b"def"), View(b"xyz", 1)]

OPS = {
    "replace": lambda: V.replace(b"X", b"--"),
    "replace_same_len": lambda: V.replace(b"X", b"Y", 1),
    "replace_empty_old": lambda: V.replace(b"", b".", 3),
    "replace_delete": lambda: V.replace(b"l", b""),
    "lower": V.lower,
    "upper": V.upper,
    "swapcase": V.swapcase,
    "capitalize": V.capitalize,
    "title": V.title,
    "translate": lambda: V.translate(TABLE),
    "translate_delete": lambda: V.translate(None, delete=b"lo"),
    "expandtabs": lambda: V.expandtabs(tabsize=4),
    "center": lambda: V.center(60, b"*"),
    "ljust": lambda: V.ljust(60),
    "rjust": lambda: V.rjust(60, bytearray(b"_")),
    "zfill": lambda: V.zfill(60),
    "join": lambda: V.join(PARTS),
    "join_many": lambda: V.join(PARTS * 4),
    "repeat": lambda: V * 3,
    "rrepeat": lambda: 3 * V,
    "format": lambda: View(b"%d-%s") % (1, b"x"),
    "to_int_fast": View(b"  -1234567890123 ").to_int,
    "to_int_slow": lambda: View(b" 0x_ffff_ffff_ffff_ffff_ffff ").to_int(0),
    "to_float": View(b" 1_234.5e-3 ").to_float,
}

ERRORS = {
    "replace_type": lambda: V.replace("x", b""),
    "pad_fill": lambda: V.center(50, b"ab"),
    "translate_table": lambda: V.translate(b"short"),
    "join_item": lambda: V.join([b"a", b"b", "c"]),
    "join_many_item": lambda: V.join(PARTS * 4 + [1]),
    "to_int_literal": lambda: View(b"12a").to_int(),
    "to_int_long_literal": lambda: View(b"9" * 300 + b"x").to_int(),
    "to_int_base": lambda: View(b"1").to_int(99),
    "to_float_literal": lambda: View(b"1.5x").to_float(),
    "to_float_underscore": lambda: View(b"1__0").to_float(),
    "expandtabs_kw": lambda: V.expandtabs(size=2),
}


@pytest.mark.parametrize("name", sorted(OPS))
def test_no_leak(name):
    assert leak_growth(OPS[name], N) < 1


def _raising(fn):
    def call():
        try:
            fn()
        except (TypeError, ValueError):
            pass
        else:
            raise AssertionError("expected an error")
    return call


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_no_leak_on_error_paths(name):
    assert leak_growth(_raising(ERRORS[name]), N_ERR) < 1


def test_slack_would_catch_a_leak():
    # The measure itself: one retained object per call shows as growth.
    kept = []
    assert leak_growth(lambda: kept.append(V.lower()), 1000) >= 5


def test_arguments_keep_their_reference_counts():
    old, new, fill = bytearray(b"X"), memoryview(b"--"), bytearray(b"*")
    table, dele = bytearray(TABLE), memoryview(b"lo")
    parts = [bytearray(b"p"), View(b"q"), b"r" * 3]
    watched = [old, new, fill, table, dele, *parts]
    before = [sys.getrefcount(o) for o in watched]
    for _ in range(1000):
        V.replace(old, new)
        V.center(70, fill)
        V.translate(table, dele)
        V.join(parts)
        try:
            V.join(parts + ["bad"])
        except TypeError:
            pass
    assert [sys.getrefcount(o) for o in watched] == before
