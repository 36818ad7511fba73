"""Leak tests: repeat each operation (success and error paths) many times
after a warm-up and check leakcheck.blocks() stays flat."""
import gc
import io
import sys

import pytest
import leakcheck

import nocopy.json as nj
from nocopy import BufferTooSmall, View

DOC = {"temperature": 21, "humidity": 45, "s": "héllo \U0001f600", "big": 2**70,
       "l": [1.5, None, True, -2**63], ("skip",): 1}


class Null:
    def write(self, data):
        return len(data)


class Committing:
    """A ByteBuffer-like destination: writable() + commit(n)."""
    storage = bytearray(64)

    def writable(self):
        return memoryview(self.storage)

    def commit(self, n):
        pass


def _circular():
    x = []
    x.append(x)
    return x


CIRC = _circular()


class Boom(Exception):
    pass


def _raise(o):
    raise Boom


def _sink_raises(data):
    raise Boom


CASES = {
    "dumps_into": lambda buf: nj.dumps_into(DOC, buf, 2, skipkeys=True),
    "dumps_into_view": lambda buf: nj.dumps_into(DOC, View(buf, 1, 200), skipkeys=True, indent=2),
    "dumps": lambda buf: nj.dumps(DOC, skipkeys=True, sort_keys=False, ensure_ascii=True),
    "dumps_sorted": lambda buf: nj.dumps({"b": [1], "a": {"c": 2}}, sort_keys=True, indent="\t"),
    "dumps_big": lambda buf: nj.dumps(["x" * 3000] * 3),
    "dump": lambda buf: nj.dump(DOC, Null(), buffer_size=64, skipkeys=True),
    "default": lambda buf: nj.dumps([object(), {1j}], default=repr),
    "too_small": (lambda buf: nj.dumps_into(DOC, bytearray(10), skipkeys=True), BufferTooSmall),
    "bad_key": (lambda buf: nj.dumps(DOC), TypeError),
    "unserializable": (lambda buf: nj.dumps([1, object()]), TypeError),
    "circular": (lambda buf: nj.dumps(CIRC), ValueError),
    "default_raises": (lambda buf: nj.dumps_into([1, object()], buf, default=_raise), Boom),
    "surrogate": (lambda buf: nj.dumps(["ok", "\ud800"]), UnicodeEncodeError),
    "nan": (lambda buf: nj.dumps_into([float("nan")], buf, allow_nan=False), ValueError),
    "bad_option": (lambda buf: nj.dumps([1], indent=1.5), TypeError),
    "sink_raises": (lambda buf: nj.dump(["x" * 100], type("S", (), {"write": lambda s, d: _sink_raises(d)})(),
                                        buffer_size=64), Boom),
    "deep": (lambda buf: nj.dumps(DEEP), RecursionError),
    "dump_surrogate": (lambda buf: nj.dump(["ok", "\ud800"], Null()), UnicodeEncodeError),
    "committing": lambda buf: nj.dumps_into([1, "x"], Committing()),
    "committing_too_small": (lambda buf: nj.dumps_into(["x" * 300], Committing()), BufferTooSmall),
    # the key cache holds the keys it caches until the end of the call
    "key_cache": lambda buf: nj.dumps(KEYED),
    "key_cache_into": lambda buf: nj.dumps_into(KEYED[:3], buf),
    "key_cache_fresh_keys": lambda buf: nj.dumps([{f"k{i % 7}x": i} for i in range(80)]),
    "key_cache_error": (lambda buf: nj.dumps(KEYED + [{"a": object()}]), TypeError),
    "key_cache_dump": lambda buf: nj.dump(KEYED, Null(), buffer_size=64),
    # dumps() starts a document past its stack scratch at the last one's size
    "dumps_hint_sizes": lambda buf: [nj.dumps(["y" * n]) for n in (5000, 70000, 5000, 20000)],
    # floats in a row go out in batches; a nan or a subclass ends a batch
    "float_runs": lambda buf: nj.dumps_into([0.5] * 40 + [float("nan"), FloatSub(1.5)] + [2.5] * 20, buf),
    "float_runs_nan": (lambda buf: nj.dumps([0.5] * 20 + [float("inf")], allow_nan=False), ValueError),
}

class FloatSub(float):
    pass


KEYED = [{"a": 1, "bb": 2, "k" * 40: 3, "é": 4, "q\"": 5}] * 3 + [{f"k{i}": i for i in range(100)}]

DEEP = 1
for _ in range(100_000):  # beyond any version's limit (3.13 counts C depth to 10,000)
    DEEP = [DEEP]


def _run(fn, exc, buf, n):
    for _ in range(n):
        if exc is None:
            fn(buf)
        else:
            try:
                fn(buf)
            except exc:
                pass
            else:
                raise AssertionError("expected an exception")


@pytest.mark.parametrize("name", sorted(CASES))
def test_no_leak(name):
    case = CASES[name]
    fn, exc = case if isinstance(case, tuple) else (case, None)
    rounds = 200 if name == "deep" else 2_000 if name == "dumps_big" else 100_000 if name in ("dumps_into",) else 20_000
    buf = bytearray(300)
    _run(fn, exc, buf, 200)
    gc.collect()
    before = leakcheck.blocks()
    _run(fn, exc, buf, rounds)
    gc.collect()
    after = leakcheck.blocks()
    assert after - before < 50, (name, after - before)


def test_buffer_too_small_exception_is_complete():
    try:
        nj.dumps_into(DOC, bytearray(10), skipkeys=True)
    except BufferTooSmall as e:
        assert e.needed == len(nj.dumps(DOC, skipkeys=True))
        assert "needs" in str(e)
    out = io.BytesIO()
    nj.dump(DOC, out, skipkeys=True)
    assert out.getvalue() == nj.dumps(DOC, skipkeys=True)
