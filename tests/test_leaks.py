"""Leak tests of View's core: every operation and its error paths, 100,000
times each, with allocated blocks flat (see leakcheck.py)."""
import os

import pytest

from nocopy import BufferTooSmall, View
from leakcheck import assert_no_leak, raises

N = 20_000 if os.environ.get("NOCOPY_UNDER_SANITIZER") else 100_000

ro = View(b"0123456789" * 10, 5, 95)
rw_buf = bytearray(b"0123456789" * 10)
rw = View(rw_buf, 5, 95)
table = bytes(range(256))


def _released():
    v = View(bytearray(b"abc"))
    v.release()
    return v


def _release_cycle():
    v = View(rw_buf)
    m = memoryview(v)
    m.release()
    v.release()


def _ctx():
    with View(rw_buf, 1, 2) as v:
        v[0]


CASES = {
    "new_bytes": lambda: View(b"abc", 1),
    "new_bytearray": lambda: View(rw_buf, 1, -1),
    "new_of_view": lambda: View(ro, 2, 5),
    "len": lambda: len(ro),
    "item": lambda: ro[3],
    "item_neg": lambda: ro[-3],
    "slice": lambda: ro[2:9],
    "iter": lambda: list(View(b"abc")),
    "contains": lambda: b"45" in ro,
    "eq": lambda: ro == b"abc",
    "lt": lambda: ro < rw,
    "hash": lambda: hash(ro),
    "repr": lambda: repr(ro),
    "bytes": lambda: bytes(ro),
    "tobytes": lambda: ro.tobytes(),
    "hex": lambda: ro.hex(),
    "hex_sep": lambda: ro.hex(":", 2),
    "decode": lambda: ro.decode(),
    "decode_latin1": lambda: ro.decode("latin-1"),
    "memoryview": lambda: memoryview(ro).release(),
    "retarget": lambda: rw.retarget(5, 95),
    "set_start": lambda: setattr(rw, "start", 5),
    "attrs": lambda: (ro.obj, ro.start, ro.stop, ro.readonly, ro.nbytes),
    "setitem": lambda: rw.__setitem__(0, 53),
    "setslice": lambda: rw.__setitem__(slice(0, 3), b"567"),
    "copy_from": lambda: rw.copy_from(b"56", 0),
    "fill": lambda: View(rw_buf, 0, 0).fill(1),
    "lower_inplace": lambda: rw.lower_inplace(),
    "translate_inplace": lambda: rw.translate_inplace(table),
    "concat": lambda: ro + b"x",
    "release": _release_cycle,
    "context": _ctx,
    # error paths
    "err_index": raises(IndexError, lambda: ro[1000]),
    "err_step": raises(ValueError, lambda: ro[::2]),
    "err_type": raises(TypeError, View, "str"),
    "err_retarget": raises(ValueError, rw.retarget, 0, 10_000),
    "err_readonly": raises(TypeError, ro.__setitem__, 0, 1),
    "err_copy_from": raises(BufferTooSmall, rw.copy_from, b"x" * 200),
    "hash_writable": lambda: hash(rw),  # writable Views hash too (issue 18)
    "err_hash": raises(ValueError, hash, _released()),
    "err_decode": raises(UnicodeDecodeError, View(b"\xff").decode),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_no_leak(name):
    assert_no_leak(CASES[name], n=N)


def test_the_check_fails_on_a_leak():
    # The check itself: one object kept per call must fail every round.
    kept = []
    with pytest.raises(AssertionError, match="5000 calls"):
        assert_no_leak(lambda: kept.append(object()), n=5_000, warmup=10)
