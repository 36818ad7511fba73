"""prepend() and take_bytes() in test_gcstress_ops' linearizability sweep:
each operation runs with a mutation fired from a finalizer at each of its
collection points in turn, and the result, the mutation's result and the
final content must be those of one order (mutation first, or operation
first), or the operation refused cleanly with nothing changed.

Both directions: the ByteBuffer operations of test_gcstress_ops against
prepend/take_bytes as the mutation, and prepend/take_bytes against its
mutations and their own.  Heap storage (take_bytes copies) and bytes storage
large enough to be handed over, with headroom."""
import pytest

from nocopy import ByteBuffer
from test_gcstress_ops import BB_INIT, BB_MUTATIONS, BB_OPS, FULL, check_linearizable, sweep

CAP = 1024
HEAD = 8


def _make(storage):
    def make():
        b = ByteBuffer(CAP, headroom=HEAD, storage=storage)
        b.write(BB_INIT)
        b.consume(2)
        return {"b": b, "s0": BB_INIT[2:], "held": []}
    return make


def _invariants(b):
    n = len(b)
    assert n == b.readable >= 0
    assert b.capacity == CAP and b.headroom == HEAD
    assert 0 <= b.free and n + b.free <= CAP + HEAD
    with memoryview(b) as m:
        content = m.tobytes()
    assert len(content) == n
    assert b.peek().tobytes() == content
    return content


def _check(op_model, m_model):
    def check(env, res, arm):
        final = _invariants(env["b"])
        check_linearizable(env["s0"], op_model, m_model, res, arm, final)
        for m in env["held"]:
            m.release()
        env["b"].write(b"!")
        assert _invariants(env["b"]) == final + b"!"
        assert env["b"].prepend(b"<") == 1  # the room is there again
    return check


def _prepend_held(b):
    with memoryview(b.peek()):  # the export forces the move (allocations) first
        return b.prepend(b"pp")


def _take_model(c):
    return b"", c


BUILD_OPS = [
    ("prepend", lambda b: b.prepend(b"pp"), lambda c: (b"pp" + c, 2)),
    ("prepend_held", _prepend_held, lambda c: (b"pp" + c, 2)),
    ("take_bytes", lambda b: b.take_bytes(), _take_model),
]

BUILD_MUTATIONS = [
    ("prepend", lambda e: e["b"].prepend(b"<"), lambda c: (b"<" + c, 1)),
    ("take_bytes", lambda e: e["b"].take_bytes(), _take_model),
]


def _pairs():
    out = []
    for storage in ("heap", "bytes"):
        for ops, muts in ((BUILD_OPS, BB_MUTATIONS + BUILD_MUTATIONS), (BB_OPS, BUILD_MUTATIONS)):
            for on, op, om in ops:
                if on == "writable_commit":  # not atomic by contract (test_gcstress_ops)
                    continue
                for mn, mu, mm in muts:
                    if not FULL and ops is BB_OPS and on not in {"read3", "write", "clear",
                                                                 "export", "fill_from"}:
                        continue
                    out.append(pytest.param(storage, op, om, mu, mm, id=f"{storage}-{on}-{mn}"))
    return out


@pytest.mark.parametrize("storage,op,op_model,mut,m_model", _pairs())
def test_build_linearizable(storage, op, op_model, mut, m_model):
    sweep(_make(storage), lambda e: op(e["b"]), mut, _check(op_model, m_model))
