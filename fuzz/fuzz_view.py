"""View vs bytes: every bytes method on a window inside a larger buffer.

The window [a, b) of a random buffer (bytes or bytearray) is compared with
bytes(buf[a:b]) method by method; hostile __index__ arguments and finalizers
retarget, release or write the View mid-call (then only "no crash, clean
exception, results of the right type" is checked and the model is re-read).
"""
import sys

import atheris

import common
from common import CLEAN, Hostile, HostileIndex
from nocopy import StaleViewError, View  # noqa: F401

H = Hostile()

SUBS = [b"", b"a", b"ab", b" ", b"\n", b"\r\n", b"\x00", b"aa", b"A"]


def norm(x):
    if isinstance(x, View):
        return bytes(x)
    if isinstance(x, (list, tuple)):
        return type(x)(norm(i) for i in x)
    return x


def exc_kind(e):
    return type(e).__name__


def call_both(v, model, name, args):
    """Same method on the View and on bytes: same result or same exception type."""
    margs = tuple(a.value if isinstance(a, HostileIndex) else a for a in args)
    try:
        want = getattr(model, name)(*margs)
        want_exc = None
    except Exception as e:  # the model's own error is the contract
        want, want_exc = None, e
    try:
        got = norm(getattr(v, name)(*args))
        got_exc = None
    except Exception as e:
        got, got_exc = None, e
    if H.fired:
        if got_exc is not None and not isinstance(got_exc, CLEAN):
            raise got_exc
        return
    if want_exc is not None or got_exc is not None:
        assert want_exc is not None and got_exc is not None, (
            name, args, want, want_exc, got, got_exc)
        assert isinstance(got_exc, type(want_exc)) or isinstance(want_exc, type(got_exc)), (
            name, args, want_exc, got_exc)
        return
    assert got == want, (name, args, got, want)


def one_op(fdp, v, buf, lo, hi):
    H.reset()
    model = bytes(buf[lo:hi])
    op = fdp.ConsumeIntInRange(0, 40)
    sub = SUBS[fdp.ConsumeIntInRange(0, len(SUBS) - 1)] if fdp.ConsumeBool() else \
        fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 4))
    n = fdp.ConsumeIntInRange(-3, len(model) + 3)
    m = fdp.ConsumeIntInRange(-3, len(model) + 3)
    hostile = fdp.ConsumeIntInRange(0, 7)
    action_kind = fdp.ConsumeIntInRange(0, 4)

    def action():
        if action_kind == 0:
            v.retarget(0, 0)
        elif action_kind == 1:
            v.release()
        elif action_kind == 2 and not v.readonly:
            v.fill(0x41)
        elif action_kind == 3:
            memoryview(v).release()
        else:
            v[:1].tobytes()

    if hostile == 1:
        n = HostileIndex(H, n, action)
    elif hostile == 2:
        H.arm(action, fdp.ConsumeIntInRange(0, 4))
    names = [
        ("find", (sub,)), ("find", (sub, n, m)), ("rfind", (sub, n)), ("count", (sub,)),
        ("index", (sub,)), ("rindex", (sub, n, m)), ("startswith", (sub, n)),
        ("endswith", ((sub, b"a"),)), ("split", ()), ("split", (sub or None, n)),
        ("rsplit", (sub or None, n)), ("splitlines", (bool(m & 1),)), ("strip", ()),
        ("lstrip", (sub,)), ("rstrip", (sub or None,)), ("partition", (sub or b"a",)),
        ("rpartition", (sub or b"a",)), ("removeprefix", (sub,)), ("removesuffix", (sub,)),
        ("replace", (sub or b"a", b"XY", n)), ("lower", ()), ("upper", ()),
        ("swapcase", ()), ("capitalize", ()), ("title", ()), ("translate", (None, sub)),
        ("expandtabs", (n % 9 if isinstance(n, int) else n,)), ("center", (n, b"*")),
        ("ljust", (m,)), ("rjust", (n,)), ("zfill", (n,)), ("join", ([b"1", sub],)),
        ("isalnum", ()), ("isalpha", ()), ("isascii", ()), ("isdigit", ()), ("islower", ()),
        ("isspace", ()), ("istitle", ()), ("isupper", ()), ("hex", ()),
    ]
    name, args = names[op % len(names)]
    call_both(v, model, name, args)
    common.settle()
    # slices, items, iteration, comparisons, decode, to_int
    if H.fired:
        return
    if isinstance(n, HostileIndex):
        n = n.value
    kind = fdp.ConsumeIntInRange(0, 6)
    if kind == 0:
        assert bytes(v[n:m]) == model[n:m]
    elif kind == 1 and model:
        i = n % len(model)
        assert v[i] == model[i] and v[-1] == model[-1]
    elif kind == 2:
        assert list(v) == list(model)
        assert [bytes(x) for x in v.itersplit(sub or None)] == model.split(sub or None)
        assert [bytes(x) for x in v.iterlines(True, reuse=False)] == model.splitlines(True)
    elif kind == 3:
        assert (v == model) and (v <= model) and not (v < model) and hash(bytes(v)) is not None
    elif kind == 4:
        call_both(v, model, "decode", ("latin-1",))
    elif kind == 5:
        try:
            want = int(model)
        except ValueError:
            want = ValueError
        try:
            got = v.to_int()
        except ValueError:
            got = ValueError
        assert got == want, (model, got, want)
    else:
        for x in v.itersplit(sub or None, reuse=True):
            x.tobytes()


def check_invariants(v, buf, lo, hi):
    if v.released:
        return
    assert 0 <= v.start <= v.stop <= len(buf)
    assert v.tobytes() == bytes(buf[v.start:v.stop])
    with memoryview(v) as mv:
        assert mv.tobytes() == bytes(buf[v.start:v.stop])


def test_one_input(data):
    fdp = atheris.FuzzedDataProvider(data)
    size = fdp.ConsumeIntInRange(0, 64)
    raw = fdp.ConsumeBytes(size)
    buf = bytearray(raw) if fdp.ConsumeBool() else raw
    lo = fdp.ConsumeIntInRange(0, len(buf))
    hi = fdp.ConsumeIntInRange(lo, len(buf))
    v = View(buf, lo, hi)
    try:
        for _ in range(fdp.ConsumeIntInRange(1, 8)):
            if v.released:
                break
            lo, hi = v.start, v.stop
            one_op(fdp, v, buf, lo, hi)
            H.disarm()
            check_invariants(v, buf, lo, hi)
            if fdp.ConsumeIntInRange(0, 5) == 0 and not v.released:
                a = fdp.ConsumeIntInRange(0, len(buf))
                v.retarget(a, fdp.ConsumeIntInRange(a, len(buf)))
    finally:
        H.disarm()
        common.settle()


if __name__ == "__main__":
    common.main(test_one_input)
