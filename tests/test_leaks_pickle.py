"""Leak checks for pickling and copying View, Rope and ByteBuffer: every
protocol, out of band, copy/deepcopy, the error paths (stale, released,
reconstructors refusing their arguments) run many times must not grow the
allocated block count (tests/leakcheck.py) or the sources' refcounts."""
import copy
import pickle
import sys

import pytest

from leakcheck import assert_no_leak, raises
from nocopy import ByteBuffer, Rope, StaleViewError, View
from nocopy import _core

_BA = bytearray(b"0123456789" * 4)
_BS = b"abcdefghij" * 4
_V = View(_BA, 3, 30)
_R = Rope([_BS, _BA, View(_BS, 2, 9), b"tail"])
_BB = ByteBuffer(64, headroom=4, storage="bytes")
_BB.write(b"readable bytes")


class _Sub(View):
    pass


_SUB = _Sub(_BS)
_SUB.tag = "x"


def _stale():
    b = ByteBuffer(32)
    b.write(b"abc")
    v = b.peek()
    r = Rope([b"x", v])
    b.clear()
    return b, v, r


_STALE_BB, _STALE_V, _STALE_R = _stale()
_RELEASED = View(b"abc")
_RELEASED.release()


def _every_protocol(obj):
    def run():
        for proto in range(6):
            pickle.loads(pickle.dumps(obj, proto))
    return run


def _oob(obj):
    def run():
        bufs = []
        data = pickle.dumps(obj, 5, buffer_callback=bufs.append)
        pickle.loads(data, buffers=bufs)
        pickle.loads(data, buffers=[b.raw().toreadonly() for b in bufs])
    return run


def _stale_errors():
    for obj in (_STALE_V, _STALE_R):
        for f in (lambda: pickle.dumps(obj, 5), lambda: pickle.dumps(obj, 2),
                  lambda: copy.copy(obj), lambda: copy.deepcopy(obj)):
            try:
                f()
            except StaleViewError:
                pass
            else:
                raise AssertionError("not refused")


def _reconstructor_errors():
    for f, args in ((_core._view_from_pickle, (bytes, b"x")), (_core._view_from_pickle, (View, "s")),
                    (_core._rope_from_pickle, ((b"a", 1), 4)), (_core._rope_from_pickle, ((b"a",), 1)),
                    (_core._bytebuffer_from_pickle, (b"x" * 9, 8, 0, "heap")),
                    (_core._bytebuffer_from_pickle, (b"x", 8, 0, "stack")),
                    (_core._bytebuffer_from_pickle, (b"x",))):
        try:
            f(*args)
        except (TypeError, ValueError):
            pass
        else:
            raise AssertionError("not refused")


OPS = {
    "view protocols": _every_protocol(_V),
    "view oob": _oob(_V),
    "view subclass": _every_protocol(_SUB),
    "rope protocols": _every_protocol(_R),
    "rope oob": _oob(_R),
    "bytebuffer protocols": _every_protocol(_BB),
    "bytebuffer oob": _oob(_BB),
    "copies": lambda: (copy.copy(_V), copy.deepcopy(_V), copy.copy(_R), copy.deepcopy(_R),
                       copy.copy(_BB), copy.deepcopy(_BB), copy.copy(_SUB), copy.deepcopy(_SUB)),
    "stale": _stale_errors,
    "released": raises(ValueError, pickle.dumps, _RELEASED, 5),
    "reconstructors": _reconstructor_errors,
}


@pytest.mark.parametrize("name", sorted(OPS))
def test_op_does_not_leak(name):
    refs = (sys.getrefcount(_BA), sys.getrefcount(_BS))
    assert_no_leak(OPS[name], n=3_000, warmup=1_500)
    assert (sys.getrefcount(_BA), sys.getrefcount(_BS)) == refs
