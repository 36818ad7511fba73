"""Rope vs joined bytes: random appends (bytes, bytearray, memoryview, View,
borrowed ByteBuffer views, other Ropes), take/skip, search, slices,
segments(), flatten/frozen/tobytes, write_to, with a small max_segments so the
coalescing path runs; finalizers (gc.set_threshold(1)) and __index__
arguments append/take/skip/flatten/export the Rope mid-call."""
import io

import atheris

import common
from common import CLEAN, Hostile, HostileIndex
from nocopy import ByteBuffer, Rope, StaleViewError, View

H = Hostile()


def part_from(fdp, keep):
    data = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 12))
    kind = fdp.ConsumeIntInRange(0, 5)
    if kind == 0:
        return data
    if kind == 1:
        return bytearray(data)
    if kind == 2:
        return memoryview(data)
    if kind == 3:
        ba = bytearray(b"<" + data + b">")
        return View(ba, 1, 1 + len(data))
    if kind == 4:
        return Rope([data[:3], data[3:]])
    # a borrowed ByteBuffer view: stale once the buffer compacts (kept in
    # `keep` so the harness can compact it later)
    b = ByteBuffer(32)
    b.write(b"..")
    b.write(data[:30])
    b.consume(2)
    keep.append(b)
    return b.peek()


def seg_bytes(r):
    return b"".join(bytes(s) for s in r.segments())


def test_one_input(data):
    fdp = atheris.FuzzedDataProvider(data)
    keep = []
    r = Rope(max_segments=fdp.ConsumeIntInRange(2, 6))
    model = b""
    stale_possible = False
    try:
        for _ in range(fdp.ConsumeIntInRange(1, 24)):
            H.reset()
            op = fdp.ConsumeIntInRange(0, 17)
            n = fdp.ConsumeIntInRange(-2, len(model) + 3)
            m = fdp.ConsumeIntInRange(-2, len(model) + 3)
            sub = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 3))
            hostile = fdp.ConsumeIntInRange(0, 5)
            akind = fdp.ConsumeIntInRange(0, 5)
            want = None

            def action():
                if akind == 0:
                    r.append(b"H!")
                elif akind == 1:
                    r.take(1)
                elif akind == 2:
                    r.skip(1)
                elif akind == 3:
                    r.flatten()
                elif akind == 4:
                    memoryview(r).release()
                else:
                    for b in keep:
                        b.compact()

            n_arg = n
            if hostile == 1:
                n_arg = HostileIndex(H, n, action)
            elif hostile >= 2:
                H.arm(action, fdp.ConsumeIntInRange(0, 6))
            try:
                if op <= 3:
                    p = part_from(fdp, keep)
                    stale_possible |= bool(keep)
                    pb = bytes(p)
                    if op == 3:
                        r.extend([p, pb])
                        pb = pb + pb
                    elif op == 2:
                        r += p
                    else:
                        r.append(p)
                    new_model = model + pb
                    want = res = None
                elif op == 4:
                    want = model[:n] if 0 <= n <= len(model) else ValueError
                    res = bytes(r.take(n_arg))
                elif op == 5:
                    want = None if 0 <= n <= len(model) else ValueError
                    r.skip(n_arg)
                    res = None
                elif op == 6:
                    res = r.find(sub, n_arg, m)
                    want = model.find(sub, n, m)
                elif op == 7:
                    res = r.rfind(sub, n_arg)
                    want = model.rfind(sub, n)
                elif op == 8:
                    res = r.count(sub)
                    want = model.count(sub)
                elif op == 9:
                    res = bytes(r[n:m])
                    want = model[n:m]
                elif op == 10:
                    res = seg_bytes(r)
                    want = model
                elif op == 11:
                    res = bytes(r.flatten())
                    want = model
                elif op == 12:
                    res = bytes(r.frozen())
                    want = model
                elif op == 13:
                    out = io.BytesIO()
                    k = r.write_to(out)
                    res = (k, out.getvalue())
                    want = (len(model), model)
                elif op == 14:
                    res = (r.startswith(sub, n_arg), r.endswith(sub))
                    want = (model.startswith(sub, n), model.endswith(sub))
                elif op == 15:
                    res = (r == model, r == sub, r < sub)
                    want = (True, model == sub, model < sub)
                elif op == 16:
                    res = (bytes(r + sub), bytes(sub + r) if isinstance(sub, bytes) else None)
                    want = (model + sub, sub + model)
                else:
                    if model:
                        i = n % len(model)
                        res = (r[i], list(r)[-1], sub[:1] in r if sub else True)
                        want = (model[i], model[-1], sub[:1] in model if sub else True)
                    else:
                        res = want = None
            except StaleViewError:
                if not stale_possible and not H.fired:
                    raise
                res = StaleViewError
            except CLEAN as e:
                res = type(e)
                if not H.fired and not isinstance(want, type):
                    raise
            finally:
                H.disarm()
            if H.fired or res is StaleViewError:
                # a hostile callback ran mid-call (or a borrowed part went
                # stale): re-read the model from the Rope, if it can be read
                try:
                    model = r.tobytes()
                except StaleViewError:
                    r = Rope(max_segments=r.max_segments)
                    model = b""
                    stale_possible = False
                common.settle()
                continue
            if isinstance(want, type):
                assert res is want or res is None, (op, res, want)
                if res is None and op in (4, 5):
                    raise AssertionError(f"op {op} accepted n={n} on {len(model)} bytes")
                continue
            assert res == want, (op, res, want, model)
            if op <= 3:
                model = new_model
            elif op == 4:
                model = model[n:]
            elif op == 5:
                model = model[n:]
            # invariants
            assert len(r) == len(model)
            assert r.nsegments >= (1 if model else 0)
            try:
                assert r.tobytes() == model
                assert seg_bytes(r) == model
            except StaleViewError:
                if not stale_possible:
                    raise
                r = Rope(max_segments=r.max_segments)
                model = b""
                stale_possible = False
            if fdp.ConsumeIntInRange(0, 7) == 0:
                for b in keep:
                    b.compact()
    finally:
        H.disarm()
        common.settle()


if __name__ == "__main__":
    common.main(test_one_input)
