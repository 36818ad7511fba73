"""nocopy.json vs the stdlib json: random documents built from the fuzz input,
every option (indent int/str, separators tuple/list, sort_keys, ensure_ascii,
allow_nan, skipkeys, check_circular, default), through dumps, dumps_into
(bytearray at an offset, View, ByteBuffer) and dump (small buffer, BytesIO
or a Writer).  Output must equal json.dumps(...).encode() byte for byte, or
both must raise the same kind of error.

Hostile callbacks: default= and a write() that mutate the document (drop the
list item being written, clear a dict, replace separators' strings),
finalizers armed inside the encoder's allocations, and writes into the very
ByteBuffer being encoded into.  When one ran, the output only has to be
valid JSON or a clean exception."""
import io
import json as stdjson
import math

import atheris

import common
from common import CLEAN, Hostile
from nocopy import ByteBuffer, View
from nocopy import json as ncjson
from nocopy.io import Writer

H = Hostile()

STRS = ["", "a", "key", "\u00e9", "\u4e2d\u6587", "\U0001f600", "\x00\x1f", '"\\/',
        "line\nbreak", "x" * 40]


class Opaque:
    def __init__(self, v):
        self.v = v


def make_value(fdp, depth, hostile_box):
    kind = fdp.ConsumeIntInRange(0, 13 if depth < 4 else 8)
    if kind == 0:
        return None
    if kind == 1:
        return fdp.ConsumeBool()
    if kind == 2:
        return fdp.ConsumeIntInRange(-2**40, 2**40)
    if kind == 3:
        return fdp.ConsumeInt(fdp.ConsumeIntInRange(1, 24))
    if kind == 4:
        return fdp.ConsumeFloat()
    if kind == 5:
        return STRS[fdp.ConsumeIntInRange(0, len(STRS) - 1)]
    if kind == 6:
        return fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 12))
    if kind == 7:
        return [math.inf, -math.inf, math.nan, 0.1, -0.0, 1e300][fdp.ConsumeIntInRange(0, 5)]
    if kind == 8:
        return Opaque(fdp.ConsumeIntInRange(0, 9))
    if kind in (9, 10):
        n = fdp.ConsumeIntInRange(0, 6)
        items = [make_value(fdp, depth + 1, hostile_box) for _ in range(n)]
        if kind == 10:
            hostile_box.append(items)
            return items
        return tuple(items)
    n = fdp.ConsumeIntInRange(0, 6)
    d = {}
    for _ in range(n):
        kk = fdp.ConsumeIntInRange(0, 5)
        key = [STRS[fdp.ConsumeIntInRange(0, len(STRS) - 1)], fdp.ConsumeIntInRange(-5, 5),
               fdp.ConsumeFloat(), True, None, (1, 2)][kk]
        d[key] = make_value(fdp, depth + 1, hostile_box)
    hostile_box.append(d)
    return d


def options(fdp):
    o = {}
    if fdp.ConsumeBool():
        o["sort_keys"] = True
    if fdp.ConsumeBool():
        o["ensure_ascii"] = True
    if fdp.ConsumeBool():
        o["allow_nan"] = False
    if fdp.ConsumeBool():
        o["skipkeys"] = True
    if fdp.ConsumeBool():
        o["check_circular"] = False
    ind = fdp.ConsumeIntInRange(0, 4)
    if ind == 1:
        o["indent"] = fdp.ConsumeIntInRange(-1, 6)
    elif ind == 2:
        o["indent"] = ["", "\t", "  ", "\u00e9"][fdp.ConsumeIntInRange(0, 3)]  # é: not JSON
    sep = fdp.ConsumeIntInRange(0, 3)
    if sep == 1:
        o["separators"] = (", ", ": ")
    elif sep == 2:
        o["separators"] = [",", ":"]
    elif sep == 3:
        o["separators"] = (fdp.ConsumeUnicodeNoSurrogates(2) or ",",
                           fdp.ConsumeUnicodeNoSurrogates(2) or ":")
    return o


def std_bytes(obj, o):
    o = dict(o)
    o.setdefault("ensure_ascii", False)
    if "separators" not in o:
        o["separators"] = (",", ":") if o.get("indent") is None else (",", ": ")
    else:
        o["separators"] = tuple(o["separators"])
    return stdjson.dumps(obj, **o).encode("utf-8", "surrogatepass")


def run_nc(fdp, obj, o, target):
    try:
        return _run_nc(fdp, obj, o, target)
    except ValueError as e:
        # a fixed-size destination (View, ByteBuffer) too small for the
        # document: BufferTooSmall with the size it needed
        if type(e).__name__ == "BufferTooSmall":
            return ("too small", e.needed)
        raise


def _run_nc(fdp, obj, o, target):
    how = fdp.ConsumeIntInRange(0, 6)
    if how == 0:
        return ncjson.dumps(obj, **o)
    if how == 1:
        buf = bytearray(b"\xee" * fdp.ConsumeIntInRange(0, 512))
        off = fdp.ConsumeIntInRange(0, min(8, len(buf)))
        try:
            end = ncjson.dumps_into(obj, buf, off, **o)
        except ValueError as e:
            if type(e).__name__ == "BufferTooSmall":
                assert all(c == 0xEE for c in buf[:off])
                return ("too small", e.needed)
            raise
        assert all(c == 0xEE for c in buf[:off])
        return bytes(buf[off:end])
    if how == 2:
        ba = bytearray(600)
        v = View(ba, 3, 590)
        end = ncjson.dumps_into(obj, v, **o)
        return bytes(ba[3:3 + end])
    if how == 3:
        b = target["bb"]
        b.clear()
        b.write(b"pre")
        b.consume(1)
        n = ncjson.dumps_into(obj, b, **o)
        got = bytes(b.read())
        # the document is the last n readable bytes; what is before it is
        # b"re" unless a callback (a finalizer run by an allocation before
        # the encode began) wrote to or cleared the buffer first
        assert 0 <= n <= len(got), (n, got)
        assert H.fired or got[:-n or None] == b"re", (n, got)
        return got[len(got) - n:]
    if how == 4:
        out = io.BytesIO()
        ncjson.dump(obj, out, buffer_size=64 + fdp.ConsumeIntInRange(0, 64), **o)
        return out.getvalue()
    if how == 5:
        out = io.BytesIO()
        with Writer(out, buffer_size=fdp.ConsumeIntInRange(1, 80)) as w:
            ncjson.dump(obj, w, buffer_size=64, **o)
        return out.getvalue()
    chunks = []

    class Sink:
        def write(self, data):
            chunks.append(bytes(data))
            target["on_write"]()
            return len(data)

    ncjson.dump(obj, Sink(), buffer_size=64, **o)
    return b"".join(chunks)


def test_one_input(data):
    fdp = atheris.FuzzedDataProvider(data)
    box = []
    H.reset()
    obj = make_value(fdp, 0, box)
    o = options(fdp)
    hostile = fdp.ConsumeIntInRange(0, 6)
    akind = fdp.ConsumeIntInRange(0, 4)
    target = {"bb": ByteBuffer(1024), "on_write": lambda: None}

    def action():
        if not box:
            return
        c = box[-1]
        if akind == 0:
            c.clear()
        elif akind == 1 and isinstance(c, list):
            c[:] = [Opaque(1), "z" * 50]
        elif akind == 2 and isinstance(c, dict):
            c["new"] = [1, 2]
        elif akind == 3:
            target["bb"].compact()
            target["bb"].write(b"!")
        else:
            target["bb"].clear()
            memoryview(target["bb"]).release()

    calls = [0]

    def default(x):
        if isinstance(x, Opaque):
            if hostile == 1 and calls[0] == 0:
                calls[0] += 1
                H.run(action)
            return {"opaque": x.v}
        raise TypeError(f"Object of type {type(x).__name__} is not JSON serializable")

    o_nc = dict(o)
    o_nc["default"] = default
    if hostile == 2:
        target["on_write"] = lambda: H.run(action)
    if "separators" in o and isinstance(o["separators"], list) and hostile == 3:
        seps = o_nc["separators"] = list(o["separators"])
        o_nc["default"] = lambda x: (H.run(lambda: seps.__setitem__(0, "Q" * 10)), default(x))[1]
    if hostile >= 4:
        H.arm(action, fdp.ConsumeIntInRange(0, 12))
    try:
        want = std_bytes(obj, dict(o, default=lambda x: {"opaque": x.v}
                                   if isinstance(x, Opaque) else default(x)))
        want_exc = None
    except (ValueError, TypeError, RecursionError) as e:
        want, want_exc = None, e
    try:
        got = run_nc(fdp, obj, o_nc, target)
        got_exc = None
    except CLEAN as e:
        got, got_exc = None, e
    finally:
        H.disarm()
    common.settle()
    parses = o.get("indent") != "\u00e9" and not (
        o.get("separators") and tuple(o["separators"]) not in ((",", ":"), (", ", ": ")))
    if H.fired:
        if got is not None and not isinstance(got, tuple) and parses:
            try:
                stdjson.loads(got.decode("utf-8", "surrogatepass") or "null")
            except ValueError:
                raise AssertionError(f"invalid JSON after a hostile callback: {got!r} {o}")
        return
    if isinstance(got, tuple):  # BufferTooSmall: it did not fit
        assert want is not None and got[1] > 0, (got, want, want_exc)
        return
    if want_exc is not None or got_exc is not None:
        assert want_exc is not None and got_exc is not None, (o, want, want_exc, got, got_exc)
        return
    assert got == want, (o, got, want)


if __name__ == "__main__":
    common.main(test_one_input)
