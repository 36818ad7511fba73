"""Hostile table: every C entry point, run while a finalizer mutates its target.

For each (operation x mutation) pair the operation runs once per *collection
point*: the mutation is armed to fire at the k-th garbage collection after the
call starts (k = 0, 1, 2, ... until the call completes before the k-th one),
from the ``__del__`` of cyclic garbage made at that collection.  With
``gc.set_threshold(1)`` on 3.11 a collection starts inside the C allocation
that triggers it, so this walks the mutation through every allocation the C
code makes (and the Python it calls: ``write``, ``readinto``).

What is asserted -- nothing more, so a correct implementation passes:
- no crash (run the module under ASan: ``make gcstress``);
- the operation either raised a clean exception (StaleViewError, BufferError,
  RuntimeError, ValueError, ...) or its result equals what the model gives
  for one of the two orders "mutation, then operation" or "operation, then
  mutation" -- together with what the mutation itself returned and the
  object's final content (linearizability: a finalizer that ran mid-call
  looks as if it ran just before or just after it, or was refused);
- a View the operation returned either shows exactly its bytes or raises
  StaleViewError (stale, never lying);
- the object's invariants hold afterwards (len == readable,
  readable + free <= capacity, the exported bytes equal the model's, ...).

Quick in `make test` (a few collection points of a few pairs per target);
NOCOPY_GC_STRESS=1 or NOCOPY_SLOW=1 walks every pair up to MAX_POINTS.
"""
import gc
import io
import json as stdjson
import os

import pytest

import nocopy.json as ncjson
from nocopy import ByteBuffer, Rope, StaleViewError, View
from nocopy.io import Reader, Writer

FULL = bool(os.environ.get("NOCOPY_GC_STRESS") or os.environ.get("NOCOPY_SLOW"))
MAX_POINTS = 40 if FULL else 3     # collection points walked per pair
CLEAN = (StaleViewError, BufferError, RuntimeError, ValueError, IndexError,
         TypeError, EOFError, MemoryError, OSError, LookupError)


class Refused:
    """Marker result: the call raised a clean exception."""

    def __init__(self, exc):
        self.exc = exc

    def __repr__(self):
        return f"Refused({type(self.exc).__name__}: {self.exc})"


# ---- the arming machinery ---------------------------------------------------

class _Bomb:
    """Cyclic garbage whose finalizer runs the mutation."""

    def __init__(self, arm):
        self.arm = arm
        self.cycle = self

    def __del__(self):
        self.arm.fire()


class Arm:
    def __init__(self, mutate):
        self.mutate = mutate
        self.at = -1
        self.count = 0
        self.fired = False
        self.result = None      # what the mutation returned (or Refused)
        self.keep = []          # allocations that keep gen0's count primed

    def fire(self):
        if self.fired:
            return
        self.fired = True
        try:
            self.result = self.mutate()
        except CLEAN as e:
            self.result = Refused(e)

    def callback(self, phase, info):
        if self.at < 0:
            return
        if phase == "start":
            if self.count == self.at and not self.fired:
                # made now, collected by the collection that is starting
                _Bomb(self)
            self.count += 1
        else:
            # one tracked object alive after each collection: the next tracked
            # allocation in the C code collects again (3.11 collects when
            # gen0's count exceeds the threshold)
            self.keep.append([])


def run_armed(op, mutate, k):
    """op() with `mutate` firing at collection k; returns (result, arm)."""
    arm = Arm(mutate)
    old = gc.get_threshold()
    gc.collect()
    gc.callbacks.append(arm.callback)
    gc.set_threshold(1)
    try:
        arm.at = k
        try:
            res = op()
        except CLEAN as e:
            res = Refused(e)
        finally:
            arm.at = -1
    finally:
        gc.set_threshold(*old)
        gc.callbacks.remove(arm.callback)
    arm.keep.clear()
    return res, arm


def norm(x):
    """Result -> comparable plain data; Views become bytes or STALE."""
    if isinstance(x, (View, Rope)):
        try:
            return bytes(x)
        except StaleViewError:
            return STALE
    if isinstance(x, (list, tuple)):
        return type(x)(norm(i) for i in x)
    if isinstance(x, memoryview):
        return x.tobytes()
    return x


class _Stale:
    def __repr__(self):
        return "STALE"


STALE = _Stale()


def same(actual, expected):
    """actual (normalised) matches expected, allowing a stale View anywhere a
    View was returned."""
    if actual is STALE:
        return True
    if isinstance(expected, (list, tuple)) and isinstance(actual, (list, tuple)):
        return len(actual) == len(expected) and all(map(same, actual, expected))
    return actual == expected


def model_apply(fn, state):
    try:
        return fn(state)
    except CLEAN as e:
        return state, Refused(e)


def check_linearizable(s0, op_model, m_model, res, arm, final):
    """(op result, mutation result, final state) equals one order's, or the op
    was refused and the final state is one the mutation alone explains."""
    ores = norm(res)
    cands = []
    if not arm.fired or isinstance(arm.result, Refused):
        s1, r1 = model_apply(op_model, s0)
        cands.append((s1, r1, None))
    else:
        mres = norm(arm.result)
        sa, ma = model_apply(m_model, s0)
        sb, ob = model_apply(op_model, sa)
        cands.append((sb, ob, ma))            # mutation first
        sc, oc = model_apply(op_model, s0)
        sd, md = model_apply(m_model, sc)
        cands.append((sd, oc, md))            # operation first
        cands = [c for c in cands if not isinstance(c[2], Refused) and same(mres, c[2])]
    if isinstance(ores, Refused):
        # refused: the operation changed nothing
        ok_states = [s0]
        if arm.fired and not isinstance(arm.result, Refused):
            ok_states.append(model_apply(m_model, s0)[0])
        assert final in ok_states + [c[0] for c in cands], (
            f"refused ({ores}) but final state {final!r} matches no order")
        return
    for s, r, _ in cands:
        if isinstance(r, Refused):
            continue
        if final == s and same(ores, r):
            return
    raise AssertionError(f"no order explains: result={ores!r} mutation={norm(arm.result)!r} "
                         f"final={final!r}; orders={cands!r}")


def sweep(make, op, mutation, check):
    """Walk the mutation through the operation's collection points."""
    for k in range(MAX_POINTS):
        env = make()
        res, arm = run_armed(lambda: op(env), lambda: mutation(env), k)
        check(env, res, arm)
        if not arm.fired:
            break


# ---- ByteBuffer ------------------------------------------------------------------

CAP = 256
BB_INIT = b"..hello\nworld\r\nfoo bar\nbaz"


def make_bb():
    b = ByteBuffer(CAP)
    b.write(BB_INIT)
    b.consume(2)          # rpos > 0: compaction has something to move
    return {"b": b, "s0": BB_INIT[2:], "held": []}


def _wr(data):
    def model(c):
        return c + data, len(data)
    return model


def _read(n):
    def model(c):
        k = len(c) if n is None else min(n, len(c))
        return c[k:], c[:k]
    return model


def _commit_model(c):
    return c + b"@@@", None


def _commit_op(b):
    w = b.writable(3)
    w[:] = b"@@@"
    b.commit(3)


def _read_until_model(delim):
    def model(c):
        i = c.find(delim)
        if i < 0:
            return c, None
        return c[i + len(delim):], c[:i + len(delim)]
    return model


def _readinto_op(b):
    buf = bytearray(5)
    n = b.readinto(buf)
    return bytes(buf[:n])


def _fill_from_op(b):
    return b.fill_from(io.BytesIO(b"FILLED"))


# (name, op(b) -> result, model(content) -> (content', result))
BB_OPS = [
    ("peek", lambda b: b.peek(), lambda c: (c, c)),
    ("peek3", lambda b: b.peek(3), lambda c: (c, c[:3])),
    ("read3", lambda b: b.read(3), _read(3)),
    ("read_all", lambda b: b.read(), _read(None)),
    ("find", lambda b: b.find(b"\n"), lambda c: (c, c.find(b"\n"))),
    ("read_until", lambda b: b.read_until(b"\n"), _read_until_model(b"\n")),
    ("read_until_crlf", lambda b: b.read_until(b"\r\n"), _read_until_model(b"\r\n")),
    ("readinto", _readinto_op, lambda c: (c[5:], c[:5])),
    ("consume", lambda b: b.consume(2), lambda c: (c[2:], None) if len(c) >= 2
     else (_ for _ in ()).throw(ValueError("short"))),
    ("compact", lambda b: b.compact(), lambda c: (c, None)),
    ("clear", lambda b: b.clear(), lambda c: (b"", None)),
    ("write", lambda b: b.write(b"xyz"), _wr(b"xyz")),
    ("write_slice", lambda b: b.write(b"0123456789", 2, 5), lambda c: (c + b"23456", 5)),
    ("writable", lambda b: len(b.writable()) >= 0, lambda c: (c, True)),
    ("writable_commit", _commit_op, _commit_model),
    ("fill_from", _fill_from_op, lambda c: (c + b"FILLED", 6)),
    ("export", lambda b: bytes(memoryview(b)), lambda c: (c, c)),
    # no source: every line, the last one (no b"\n") included
    ("iterlines", lambda b: list(b.iterlines(None, True)),
     lambda c: (b"", [p + b"\n" for p in c.split(b"\n")[:-1]] + ([c.split(b"\n")[-1]]
                                                              if c.split(b"\n")[-1] else []))),
]


def _m_hold(env, what):
    env["held"].append(memoryview(what))
    return None


# (name, mutate(env) -> result, model(content) -> (content', result))
BB_MUTATIONS = [
    ("compact", lambda e: e["b"].compact(), lambda c: (c, None)),
    ("clear", lambda e: e["b"].clear(), lambda c: (b"", None)),
    ("read", lambda e: bytes(e["b"].read(2)), _read(2)),
    ("write", lambda e: e["b"].write(b"#!"), _wr(b"#!")),
    ("commit", lambda e: _commit_op(e["b"]), _commit_model),
    ("writable", lambda e: len(e["b"].writable(8)) and None, lambda c: (c, None)),
    ("consume", lambda e: e["b"].consume(1), lambda c: (c[1:], None) if c
     else (_ for _ in ()).throw(ValueError("empty"))),
    ("hold_export", lambda e: _m_hold(e, e["b"]), lambda c: (c, None)),
    ("hold_peek_export", lambda e: _m_hold(e, e["b"].peek()), lambda c: (c, None)),
]


def bb_invariants(b):
    n = len(b)
    assert n == b.readable >= 0
    assert b.capacity == CAP
    assert 0 <= b.free and n + b.free <= CAP
    with memoryview(b) as m:
        content = m.tobytes()
    assert len(content) == n
    assert b.peek().tobytes() == content
    return content


def bb_check(op_model, m_model):
    def check(env, res, arm):
        final = bb_invariants(env["b"])
        check_linearizable(env["s0"], op_model, m_model, res, arm, final)
        for m in env["held"]:
            m.release()
        # still usable afterwards
        env["b"].write(b"!")
        assert bb_invariants(env["b"]) == final + b"!"
    return check


# Operations made of several calls (writable + fill + commit, reserve + commit)
# are not atomic by contract: a write or compaction between the calls is the
# caller's own interleaving.  They meet only mutations that leave the bytes and
# cursors alone.
COMPOSITE = {"writable_commit", "reserve"}
INERT = {"hold_export", "hold_peek_export", "hold_segments"}


def _pairs(ops, muts, quick_ops=None):
    out = []
    for on, op, om in ops:
        for mn, mu, mm in muts:
            if not FULL and quick_ops is not None and on not in quick_ops:
                continue
            if on in COMPOSITE and mn not in INERT:
                continue
            out.append(pytest.param(op, om, mu, mm, id=f"{on}-{mn}"))
    return out


@pytest.mark.parametrize("op,op_model,mut,m_model",
                         _pairs(BB_OPS, BB_MUTATIONS, {"read3", "write", "writable_commit"}))
def test_bytebuffer(op, op_model, mut, m_model):
    sweep(make_bb, lambda e: op(e["b"]), mut, bb_check(op_model, m_model))


# ---- Rope ----------------------------------------------------------------------------

ROPE_PARTS = (b"GET / HT", b"TP/1.1\r\n", b"Host: a\r\n", b"\r\nbody")


def make_rope():
    parts = [ROPE_PARTS[0], bytearray(ROPE_PARTS[1]), memoryview(ROPE_PARTS[2]),
             View(bytearray(b"__" + ROPE_PARTS[3] + b"__"), 2, -2)]
    # max_segments 5: extend_to_cap passes the cap and coalesces
    r = Rope(parts, max_segments=5)
    return {"r": r, "s0": b"".join(ROPE_PARTS), "held": []}


def _take(n):
    def model(c):
        if n > len(c):
            raise ValueError("take past the end")
        return c[n:], c[:n]
    return model


def _skip(n):
    def model(c):
        if n > len(c):
            raise ValueError("skip past the end")
        return c[n:], None
    return model


def _segments_op(r):
    return b"".join(bytes(s) for s in r.segments())


def _write_to_op(r):
    out = io.BytesIO()
    n = r.write_to(out)
    return (n, out.getvalue())


ROPE_OPS = [
    ("segments", _segments_op, lambda c: (c, c)),
    ("flatten", lambda r: r.flatten(), lambda c: (c, c)),
    ("frozen", lambda r: r.frozen(), lambda c: (c, c)),
    ("tobytes", lambda r: r.tobytes(), lambda c: (c, c)),
    ("bytes", lambda r: bytes(r), lambda c: (c, c)),
    ("take", lambda r: r.take(10), _take(10)),
    ("skip", lambda r: r.skip(3), _skip(3)),
    ("append", lambda r: r.append(b"XYZ"), lambda c: (c + b"XYZ", None)),
    # one call that takes the Rope past max_segments, so it coalesces inside
    # the call (four appends would be four calls: a mutation between two of
    # them is the caller's interleaving, not the Rope's)
    ("extend_to_cap", lambda r: r.extend([bytes([65 + i]) for i in range(4)]),
     lambda c: (c + b"ABCD", None)),
    ("extend", lambda r: r.extend([b"e1", bytearray(b"e2")]), lambda c: (c + b"e1e2", None)),
    ("find", lambda r: r.find(b"\r\n\r\n"), lambda c: (c, c.find(b"\r\n\r\n"))),
    ("count", lambda r: r.count(b"\r\n"), lambda c: (c, c.count(b"\r\n"))),
    ("slice", lambda r: r[3:20], lambda c: (c, c[3:20])),
    ("eq", lambda r: r == b"".join(ROPE_PARTS), lambda c: (c, c == b"".join(ROPE_PARTS))),
    ("iter", lambda r: bytes(list(r)), lambda c: (c, c)),
    ("add", lambda r: r + b"++", lambda c: (c, c + b"++")),
    ("write_to", _write_to_op, lambda c: (c, (len(c), c))),
    ("export", lambda r: bytes(memoryview(r)), lambda c: (c, c)),
]

ROPE_MUTATIONS = [
    ("append", lambda e: e["r"].append(b"++"), lambda c: (c + b"++", None)),
    ("extend", lambda e: e["r"].extend([b"a", b"b", b"c"]), lambda c: (c + b"abc", None)),
    ("take", lambda e: bytes(e["r"].take(2)), _take(2)),
    ("skip", lambda e: e["r"].skip(1), _skip(1)),
    ("flatten", lambda e: bytes(e["r"].flatten()), lambda c: (c, c)),
    ("hold_export", lambda e: _m_hold(e, e["r"]), lambda c: (c, None)),
    ("hold_segments", lambda e: e["held"].extend(memoryview(s) for s in e["r"].segments())
     and None, lambda c: (c, None)),
]


def rope_invariants(r):
    n = len(r)
    assert n >= 0 and r.nsegments >= 0
    segs = r.segments()
    content = b"".join(bytes(s) for s in segs)
    assert len(content) == n
    assert r.tobytes() == content
    return content


def rope_check(op_model, m_model):
    def check(env, res, arm):
        if isinstance(res, Rope) or isinstance(res, View):
            res = norm(res)
        final = rope_invariants(env["r"])
        check_linearizable(env["s0"], op_model, m_model, res, arm, final)
        for m in env["held"]:
            m.release()
        env["r"].append(b"!")
        assert rope_invariants(env["r"]) == final + b"!"
    return check


@pytest.mark.parametrize("op,op_model,mut,m_model",
                         _pairs(ROPE_OPS, ROPE_MUTATIONS, {"segments", "flatten", "take"}))
def test_rope(op, op_model, mut, m_model):
    sweep(make_rope, lambda e: op(e["r"]), mut, rope_check(op_model, m_model))


# ---- View ------------------------------------------------------------------------
# state: (content of the whole bytearray, start, stop, released)

VIEW_BASE = b"--  Hello World\r\nfoo bar 42\n--"


def make_view():
    ba = bytearray(VIEW_BASE)
    v = View(ba, 2, len(ba) - 2)
    return {"v": v, "ba": ba, "s0": (VIEW_BASE, 2, len(VIEW_BASE) - 2, False), "held": []}


def _vstate(env):
    v = env["v"]
    if v.released:
        return (bytes(env["ba"]), None, None, True)
    return (bytes(env["ba"]), v.start, v.stop, False)


def _vm(name, *args):
    """An op on the View and its model: the same bytes method on the window."""
    def op(v):
        return getattr(v, name)(*args)

    def model(s):
        ba, a, e, released = s
        if released:
            raise ValueError("released")
        window = ba[a:e]
        if name == "tobytes":
            return s, window
        return s, norm(getattr(window, name)(*args))
    return (name + (repr(args) if args else ""), op, model)


def _view_write(fn_op, fn_model):
    def model(s):
        ba, a, e, released = s
        if released:
            raise ValueError("released")
        nb = bytearray(ba)
        r = fn_model(nb, a, e)
        return (bytes(nb), a, e, False), r
    return fn_op, model


def _copy_from_model(nb, a, e):
    nb[a:a + 2] = b"CF"
    return 2


def _fill_model(nb, a, e):
    nb[a:e] = b"z" * (e - a)


_HELD = View(b"held")


def _split_into(v, sep):
    fields = [View(bytearray(b"reusable")), _HELD]
    v.split_into(fields, sep)
    assert _HELD == b"held"
    return fields


VIEW_OPS = [
    _vm("find", b"o"), _vm("rfind", b"o"), _vm("count", b"o"),
    _vm("split"), _vm("split", b" "), _vm("rsplit", b" ", 1), _vm("splitlines", True),
    _vm("strip"), _vm("partition", b" "), _vm("rpartition", b" "),
    _vm("replace", b"o", b"0"), _vm("upper"), _vm("lower"), _vm("title"),
    _vm("hex"), _vm("decode"), _vm("center", 40, b"*"), _vm("expandtabs"),
    _vm("startswith", (b"x", b"  H")), _vm("endswith", b"42\n"),
    _vm("join", [b"a", b"b", b"c"]), _vm("isascii"), _vm("tobytes"),
    _vm("removeprefix", b"  "), _vm("translate", None, b"o"),
    ("itersplit", lambda v: list(v.itersplit(b" ")),
     lambda s: (s, s[0][s[1]:s[2]].split(b" ")) if not s[3] else (_ for _ in ()).throw(
         ValueError())),
    ("iterlines", lambda v: list(v.iterlines()),
     lambda s: (s, s[0][s[1]:s[2]].splitlines()) if not s[3] else (_ for _ in ()).throw(
         ValueError())),
    ("slice", lambda v: v[2:9], lambda s: (s, s[0][s[1]:s[2]][2:9])
     if not s[3] else (_ for _ in ()).throw(ValueError())),
    # into a list holding one reusable View and one held elsewhere
    ("split_into", lambda v: _split_into(v, b" "),
     lambda s: (s, s[0][s[1]:s[2]].split(b" ")) if not s[3] else (_ for _ in ()).throw(
         ValueError())),
    ("reslice", lambda v: View().reslice(v, 2, 9), lambda s: (s, s[0][s[1]:s[2]][2:9])
     if not s[3] else (_ for _ in ()).throw(ValueError())),
    ("mul", lambda v: v * 2, lambda s: (s, s[0][s[1]:s[2]] * 2)
     if not s[3] else (_ for _ in ()).throw(ValueError())),
    ("copy_from",) + _view_write(lambda v: v.copy_from(b"CF"), _copy_from_model),
    ("fill",) + _view_write(lambda v: v.fill(ord("z")), _fill_model),
]


def _m_retarget(s):
    ba, a, e, released = s
    if released:
        raise ValueError("released")
    return (ba, 4, 9, False), None


def _m_release(s):
    ba, a, e, released = s
    return (ba, None, None, True), None


def _m_copy(s):
    ba, a, e, released = s
    if released:
        raise ValueError("released")
    nb = bytearray(ba)
    nb[a:a + 3] = b"MUT"
    return (bytes(nb), a, e, False), 3


VIEW_MUTATIONS = [
    ("retarget", lambda e: e["v"].retarget(4, 9) and None, _m_retarget),
    ("release", lambda e: e["v"].release(), _m_release),
    ("copy_from", lambda e: e["v"].copy_from(b"MUT"), _m_copy),
    ("hold_export", lambda e: _m_hold(e, e["v"]),
     lambda s: (s, None) if not s[3] else (_ for _ in ()).throw(ValueError())),
]


def view_check(op_model, m_model):
    def check(env, res, arm):
        final = _vstate(env)
        if not final[3]:
            v = env["v"]
            assert v.tobytes() == final[0][final[1]:final[2]]
            assert len(v) == final[2] - final[1]
        check_linearizable(env["s0"], op_model, m_model, res, arm, final)
        for m in env["held"]:
            m.release()
    return check


# Views returned by these are live windows on the bytearray: a copy_from that
# runs after them (one valid order) changes what they show, so the pair has
# no single expected value; the window arithmetic is what they test, and the
# other mutations cover it.
VIEW_RESULT_OPS = ("split", "rsplit", "splitlines", "strip", "partition", "rpartition",
                   "removeprefix", "itersplit", "iterlines", "slice", "split_into", "reslice")


def _view_pairs():
    return [p for p in _pairs(VIEW_OPS, VIEW_MUTATIONS, {"split", "tobytes", "decode"})
            if not (p.id.startswith(VIEW_RESULT_OPS) and p.id.endswith("-copy_from"))]


@pytest.mark.parametrize("op,op_model,mut,m_model", _view_pairs())
def test_view(op, op_model, mut, m_model):
    sweep(make_view, lambda e: op(e["v"]), mut, view_check(op_model, m_model))


# ---- JSON ------------------------------------------------------------------------

DOC = {"a": [1, 2.5, "x" * 20, None, True], "b": {"c": "\u00e9\u4e2d", "d": [[], {}]},
       "e": list(range(40))}
OPTS = [dict(), dict(indent=2, sort_keys=True), dict(ensure_ascii=True, separators=(", ", ": "))]


def _json_bytes(obj, **kw):
    kw.setdefault("separators", (",", ":") if kw.get("indent") is None else (",", ": "))
    kw.setdefault("ensure_ascii", False)
    return stdjson.dumps(obj, **kw).encode()


# the quick run (make test) takes the first of each list; NOCOPY_GC_STRESS /
# NOCOPY_SLOW take them all
def _some(params, n=1):
    return params if FULL else params[:n]


@pytest.mark.parametrize("opts", _some([pytest.param(o, id=i) for o, i in
                                        zip(OPTS, ["compact", "indent", "ascii"])]))
@pytest.mark.parametrize("mn,mut,m_model", [pytest.param(*m, id=m[0]) for m in BB_MUTATIONS])
def test_dumps_into_bytebuffer(opts, mn, mut, m_model):
    """dumps_into(obj, ByteBuffer): the document is appended atomically."""
    doc = _json_bytes(DOC, **opts)

    def op_model(c):
        return c + doc, None

    def check(env, res, arm):
        if not isinstance(res, Refused):
            assert isinstance(res, int)
            res = None
        final = bb_invariants(env["b"])
        check_linearizable(env["s0"], op_model, m_model, res, arm, final)
        for m in env["held"]:
            m.release()

    sweep(make_bb, lambda e: ncjson.dumps_into(DOC, e["b"], **opts), mut, check)


def _container_mutations():
    extra = {"zz": 1}
    return [
        ("append", lambda o: o["e"].append(99)),
        ("pop", lambda o: o["e"].pop()),
        ("clear_list", lambda o: o["e"].clear()),
        ("clear_dict", lambda o: o.clear()),
        ("add_key", lambda o: o.update(extra)),
        ("replace_str", lambda o: o["a"].__setitem__(2, "y" * 30)),
        ("del_nested", lambda o: o["b"].pop("c", None)),
    ]


def _subset_ok(out, universe_values):
    """Output parses and every list item / dict value is one that was there
    at some point (the container changed mid-encoding)."""
    doc = stdjson.loads(out)
    assert isinstance(doc, dict)


@pytest.mark.parametrize("fn", _some(["dumps", "dump", "dumps_into", "dump_writer"], 2))
@pytest.mark.parametrize("mutate", [pytest.param(m[1], id=m[0])
                                    for m in _container_mutations()])
def test_json_container_mutated(fn, mutate):
    """The document itself changes under the encoder (row 1's class):
    no crash; the output parses (or the call refused)."""

    def make():
        return {"o": stdjson.loads(stdjson.dumps(DOC))}

    def op(env):
        o = env["o"]
        if fn == "dumps":
            return ncjson.dumps(o)
        if fn == "dumps_into":
            buf = bytearray(4096)
            n = ncjson.dumps_into(o, buf)
            return bytes(buf[:n])
        if fn == "dump":
            out = io.BytesIO()
            ncjson.dump(o, out, buffer_size=64)
            return out.getvalue()
        out = io.BytesIO()
        with Writer(out, buffer_size=32) as w:
            ncjson.dump(o, w, buffer_size=64)
        return out.getvalue()

    def check(env, res, arm):
        if isinstance(res, Refused):
            return
        _subset_ok(res, None)
        if not arm.fired or isinstance(arm.result, Refused):
            assert res == _json_bytes(env["o"])

    sweep(make, op, lambda env: mutate(env["o"]), check)


MARK = b"\x00MARK\x00"


@pytest.mark.parametrize("marks,mutate", [
    pytest.param(True, lambda w: w.write(MARK), id="write"),
    pytest.param(False, lambda w: w.flush(), id="flush"),
    pytest.param(False, lambda w: w.buffer.compact(), id="compact"),
    pytest.param(False, lambda w: memoryview(w.buffer).release(), id="export"),
    pytest.param(True, lambda w: w.writelines([MARK]), id="writelines"),
])
def test_dump_to_writer_mutated(marks, mutate):
    """json.dump into a nocopy Writer that a finalizer writes to / flushes:
    the output is the document with the finalizer's bytes inserted whole at
    one place (or the finalizer was refused)."""
    doc = _json_bytes(DOC)

    def make():
        out = io.BytesIO()
        return {"out": out, "w": Writer(out, buffer_size=24)}

    def op(env):
        ncjson.dump(DOC, env["w"], buffer_size=64)
        env["w"].flush()

    def check(env, res, arm):
        env["w"].flush()
        got = env["out"].getvalue()
        if marks and arm.fired and not isinstance(arm.result, Refused):
            assert got.count(MARK) == 1, got
            got = got.replace(MARK, b"")
        if isinstance(res, Refused):
            assert doc.startswith(got)
        else:
            assert got == doc

    sweep(make, op, lambda env: mutate(env["w"]), check)


# ---- nocopy.io Reader / Writer -------------------------------------------------------

STREAM = b"line one\nline two\r\n" + bytes(range(32, 100)) + b"\nlast"


def make_reader():
    r = Reader(io.BytesIO(STREAM), buffer_size=16)
    r.read(3)
    return {"r": r, "taken": [], "held": []}


READER_OPS = [
    ("read", lambda r: bytes(r.read(5))),
    ("read_exact", lambda r: bytes(r.read_exact(20))),
    ("read_until", lambda r: bytes(r.read_until(b"\n"))),
    ("readline", lambda r: bytes(r.readline())),
    ("readinto", lambda r: (lambda b: bytes(b[:r.readinto(b)]))(bytearray(7))),
    ("read_bytes", lambda r: r.read_bytes(30)),
    ("lines", lambda r: bytes(next(iter(r)))),
]

READER_MUTATIONS = [
    ("read", lambda e: e["taken"].append(bytes(e["r"].read(2)))),
    ("readline", lambda e: e["taken"].append(bytes(e["r"].readline()))),
    ("compact", lambda e: e["r"].buffer.compact()),
    ("hold_export", lambda e: _m_hold(e, e["r"].buffer)),
    ("hold_peek", lambda e: _m_hold(e, e["r"].peek(4))),
    ("clear_peek", lambda e: e["r"].peek()),
]


@pytest.mark.parametrize("on,op", _some([pytest.param(*o, id=o[0]) for o in READER_OPS], 4))
@pytest.mark.parametrize("mn,mutate", [pytest.param(*m, id=m[0]) for m in READER_MUTATIONS])
def test_reader(on, op, mn, mutate):
    """Every byte of the stream is consumed once, in order: what the op and
    the finalizer took, in one order, plus the rest, is the stream."""

    def check(env, res, arm):
        for m in env["held"]:
            m.release()
        rest = env["r"].read_bytes()
        b = env["r"].buffer
        assert len(b) == 0 and b.free <= b.capacity
        head = STREAM[3:]
        taken = b"".join(env["taken"])
        if isinstance(res, Refused):
            if isinstance(res.exc, StaleViewError):
                # the op consumed, then the finalizer (after it, in the one
                # valid order) moved the bytes under its borrowed View: what it
                # consumed is unseen, the rest still follows in order
                assert head.endswith(rest) and (not taken or taken in head), (res, taken, rest)
                return
            assert taken + rest == head, (res, taken, rest)
            return
        assert res + taken + rest == head or taken + res + rest == head, (res, taken, rest)

    sweep(make_reader, lambda e: op(e["r"]), mutate, check)


def make_writer():
    out = io.BytesIO()
    w = Writer(out, buffer_size=16)
    w.write(b"pre-")
    return {"w": w, "out": out, "held": []}


WRITER_OPS = [
    ("write", lambda w: w.write(b"0123456789")),
    ("write_big", lambda w: w.write(b"B" * 40)),
    ("writelines", lambda w: w.writelines([b"ab", bytearray(b"cd"), View(b"ef")])),
    ("reserve", lambda w: (w.reserve(6).copy_from(b"RESRVD"), w.commit(6))),
    ("flush", lambda w: w.flush()),
]
WRITER_EXPECT = {"write": b"0123456789", "write_big": b"B" * 40, "writelines": b"abcdef",
                 "reserve": b"RESRVD", "flush": b""}

WRITER_MUTATIONS = [
    ("write", lambda e: e["w"].write(MARK)),
    ("flush", lambda e: e["w"].flush()),
    ("compact", lambda e: e["w"].buffer.compact()),
    ("hold_export", lambda e: _m_hold(e, e["w"].buffer)),
]


# reserve + commit is two calls: a write between them is the caller's own
# interleaving, so reserve meets only the inert mutations
@pytest.mark.parametrize("on,op,mn,mutate", [
    pytest.param(o[0], o[1], m[0], m[1], id=f"{o[0]}-{m[0]}")
    for o in _some(WRITER_OPS, 4) for m in WRITER_MUTATIONS
    if o[0] not in COMPOSITE or m[0] in INERT])
def test_writer(on, op, mn, mutate):

    def check(env, res, arm):
        for m in env["held"]:
            m.release()
        env["w"].close()
        got = env["out"].getvalue()
        if mn == "write" and arm.fired and not isinstance(arm.result, Refused):
            assert got.count(MARK) == 1, got
            got = got.replace(MARK, b"")
        want = b"pre-" + WRITER_EXPECT[on]
        if isinstance(res, Refused):
            assert got == b"pre-", got
        else:
            assert got == want, got

    sweep(make_writer, lambda e: op(e["w"]), mutate, check)


def test_the_bomb_fires_inside_c_allocations():
    """The machinery itself: a mutation armed at collection 0 fires inside a
    Rope method's own allocations (3.11 collects inside the allocation)."""
    import sys
    env = make_rope()
    hits = []
    res, arm = run_armed(lambda: env["r"].segments(), lambda: hits.append(1), 0)
    assert arm.fired and hits == [1]
    if sys.version_info < (3, 12):
        # no Python frame between arming and the C call: it fired in C
        assert arm.count >= 1
