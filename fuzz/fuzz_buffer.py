"""ByteBuffer and nocopy.io.Reader vs a plain model (bytes + capacity).

Random writes, commits through writable(), reads, peeks, read_until,
readinto, consume, compact, clear, held exports; every borrowed View is kept
with the bytes it showed and checked on every step: it must show exactly
those bytes or raise StaleViewError -- and it must raise once the buffer has
moved/overwritten them without an export held (compact/clear are the
documented invalidation points).  Finalizers (gc.set_threshold(1)) and
__index__ arguments compact/clear/read/write/export the buffer mid-call.
The Reader half reads a random stream through a tiny buffer and must return
the stream's bytes in order, whatever the hostile callbacks consumed.
The build half (headroom=, storage='bytes') does the same for the wire
toolkit: prepend, prepend_fmt, write_fmt/int/float, the typed reads and
writes, varints, read_struct/write_struct and take_bytes (whose hand-over
leaves the buffer detached until it next needs room), with finalizers that
take_bytes/prepend/clear the buffer mid-call.
"""
import io
import os
import struct

import atheris

import common
from common import CLEAN, Hostile, HostileIndex
from nocopy import BufferTooSmall, ByteBuffer, IncompleteRead, StaleViewError
from nocopy.io import Reader

H = Hostile()
DEBUG = bool(os.environ.get("FUZZ_DEBUG"))


def check_borrowed(borrowed, must_be_stale=False):
    """Borrowed views show their bytes or raise StaleViewError, never other bytes."""
    keep = []
    for v, want, must in borrowed:
        try:
            got = v.tobytes()
        except StaleViewError:
            continue
        except ValueError:
            continue  # released
        assert got == want, (got, want)
        assert not must, f"view of {want!r} still readable after its bytes moved"
        keep.append((v, want, False))
    borrowed[:] = keep


def _nl_lines(model, keepends):
    """Lines split at b"\n" only (bytes.splitlines also splits at \r);
    without keepends a b"\r\n" ending goes whole, as splitlines drops it (a
    lone b"\r", the unterminated last line's too, is data)."""
    parts = model.split(b"\n")
    out = [p + b"\n" if keepends else p[:-1] if p.endswith(b"\r") else p for p in parts[:-1]]
    if parts[-1]:
        out.append(parts[-1])
    return out


def invariants(b, model, cap):
    n = len(b)
    assert n == b.readable == len(model), (n, b.readable, model)
    assert b.capacity == cap
    assert 0 <= b.free and n + b.free <= cap
    with memoryview(b) as m:
        assert m.tobytes() == model
    assert b.peek().tobytes() == model


def resync(b):
    with memoryview(b) as m:
        return m.tobytes()


def fuzz_buffer(fdp):
    cap = fdp.ConsumeIntInRange(1, 48)
    b = ByteBuffer(cap)
    model = b""
    borrowed = []      # (view, bytes it showed, must be stale now)
    held = []          # exports held on purpose
    # ids of borrowed views made while an export may have been held: a move
    # forced by the export leaves their storage behind, unchanged, so they
    # stay valid through a later compact()/clear() of the new storage
    exempt = set()

    def export_taken():
        exempt.update(id(v) for v, _, _ in borrowed)
    for _ in range(fdp.ConsumeIntInRange(1, 32)):
        H.reset()
        op = fdp.ConsumeIntInRange(0, 15)
        n = fdp.ConsumeIntInRange(0, cap + 2)
        data = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, cap + 2))
        hostile = fdp.ConsumeIntInRange(0, 5)
        akind = fdp.ConsumeIntInRange(0, 6)

        def action():
            if akind == 0:
                b.compact()
            elif akind == 1:
                b.clear()
            elif akind == 2:
                b.read(1)
            elif akind == 3:
                b.write(b"#")
            elif akind == 4:
                held.append(memoryview(b))
                export_taken()
            elif akind == 5:
                b.writable(1)
            else:
                w = b.writable()
                if len(w):
                    w[0] = 0x2A
                    b.commit(1)

        n_arg = n
        if hostile == 1:
            n_arg = HostileIndex(H, n, action)
        elif hostile >= 2:
            H.arm(action, fdp.ConsumeIntInRange(0, 5))
        try:
            if op == 0:
                k = b.write(data)
                want = (len(data), model + data)
            elif op == 1:
                k = b.write(data, n_arg, 2)
                piece = data[n:n + 2]
                want = (len(piece), model + piece)
            elif op == 2:
                v = b.read(n_arg)
                k = v.tobytes()
                borrowed.append((v, k, False))
                want = (model[:n], model[n:])
            elif op == 3:
                v = b.peek(n_arg)
                k = v.tobytes()
                borrowed.append((v, k, False))
                want = (model[:n], model)
            elif op == 4:
                v = b.read_until(data[:2] or b"\n")
                k = None if v is None else v.tobytes()
                d = data[:2] or b"\n"
                i = model.find(d)
                want = (None, model) if i < 0 else (model[:i + len(d)], model[i + len(d):])
                if v is not None:
                    borrowed.append((v, k, False))
            elif op == 5:
                out = bytearray(n)
                k = out[:b.readinto(out)]
                want = (model[:n], model[n:])
            elif op == 6:
                k = b.consume(n_arg)
                want = (None, model[n:]) if n <= len(model) else ValueError
            elif op == 7:
                # consumed bytes before the read cursor: only then does
                # compact() move anything (with nothing to move, views stay)
                moves = b.capacity - b.free - len(b) > 0
                k = b.compact()
                want = (None, model)
                if moves and not held:
                    borrowed[:] = [(v, w, id(v) not in exempt) for v, w, _ in borrowed]
            elif op == 8:
                k = b.clear()
                want = (None, b"")
                if not held:
                    borrowed[:] = [(v, w, id(v) not in exempt) for v, w, _ in borrowed]
            elif op == 9:
                w = b.writable(n_arg)
                m = min(len(data), len(w))
                w[:m] = data[:m]
                k = b.commit(m)
                want = (None, model + data[:m])
            elif op == 10:
                w = b.writable()
                m = min(len(data), len(w))
                w[:m] = data[:m]
                b.commit(m)
                k = None
                want = (None, model + data[:m])
            elif op == 11:
                k = b.find(data[:2], n_arg)
                want = (model.find(data[:2], n), model)
            elif op == 12:
                held.append(memoryview(b))
                export_taken()
                k = held[-1].tobytes()
                want = (model, model)
            elif op == 13:
                for m in held:
                    m.release()
                held.clear()
                k, want = None, (None, model)
            elif op == 14:
                k = b.fill_from(io.BytesIO(data))
                assert 0 <= k <= len(data) and (k > 0 or not data), (k, data)
                want = (k, model + data[:k])
            else:
                # no source: every line, the last one without b"\n" too
                k = [v.tobytes() for v in b.iterlines(None, bool(n & 1))]
                want = (_nl_lines(model, n & 1), b"")
        except CLEAN as e:
            k = type(e)
            if isinstance(e, StaleViewError) or H.fired:
                want = None
            elif op in (0, 1, 9, 10, 14) or (op == 6 and n > len(model)):
                # too big for the free space / past the end: nothing changed
                want = (k, model)
            else:
                raise
        finally:
            H.disarm()
        if held:
            export_taken()  # this op may have moved to fresh storage
        if H.fired or want is None:
            model = resync(b)
            common.settle()
        else:
            if isinstance(want, type):
                assert k is want, (op, k, want)
            else:
                assert k == want[0], (op, n, k, want, model)
                model = want[1]
        invariants(b, model, cap)
        check_borrowed(borrowed)
    for m in held:
        m.release()


def fuzz_reader(fdp):
    stream = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 200))
    size = fdp.ConsumeIntInRange(1, 24)
    r = Reader(io.BytesIO(stream), buffer_size=size)
    got = []          # bytes consumed, in order, by the harness or a callback
    pos = 0           # how far into the stream they account for
    unseen = False    # an op consumed bytes whose borrowed View went stale
    for _ in range(fdp.ConsumeIntInRange(1, 24)):
        H.reset()
        op = fdp.ConsumeIntInRange(0, 7)
        n = fdp.ConsumeIntInRange(0, size + 4)
        if fdp.ConsumeIntInRange(0, 3) == 0:
            akind = fdp.ConsumeIntInRange(0, 3)

            def action():
                if akind == 0:
                    got.append(("cb", bytes(r.read(1))))
                elif akind == 1:
                    r.buffer.compact()
                elif akind == 2:
                    memoryview(r.buffer).release()
                else:
                    r.peek()
            H.arm(action, fdp.ConsumeIntInRange(0, 4))
        mark = len(got)
        if DEBUG:
            print("reader op", op, n, got, flush=True)
        try:
            if op == 0:
                got.append(("op", bytes(r.read(n))))
            elif op == 1:
                got.append(("op", bytes(r.read_exact(n))))
            elif op == 2:
                got.append(("op", bytes(r.read_until(b"\n", limit=min(max(n, 1), size)))))
            elif op == 3:
                got.append(("op", bytes(r.readline())))
            elif op == 4:
                buf = bytearray(n)
                got.append(("op", bytes(buf[:r.readinto(buf)])))
            elif op == 5:
                got.append(("op", r.read_bytes(n)))
            elif op == 6:
                pk = bytes(r.peek(min(n, size)))
                assert H.fired or stream.startswith(pk, pos), (pk, stream[pos:])
            else:
                # one line: a callback between two lines would interleave
                for line in r.lines(keepends=True):
                    got.append(("op", bytes(line)))
                    break
        except EOFError as e:
            part = getattr(e, "partial", None)
            if part is not None:
                got.append(("op", bytes(part)))
        except CLEAN as e:
            if isinstance(e, ValueError) and type(e).__name__ == "LimitOverrun":
                pass
            elif not H.fired:
                raise
            elif isinstance(e, StaleViewError):
                # The op consumed its bytes and got a borrowed View; the
                # callback then read from the same Reader, whose refill moved
                # them: the View raises instead of showing other bytes, and
                # how many bytes the op took is not known here.
                unseen = True
        finally:
            H.disarm()
        common.settle()
        if unseen:
            cbs = b"".join(p for who, p in got[mark:] if who == "cb")
            assert stream.find(cbs, pos) >= 0, (stream[pos:], got[mark:])
            rest = r.read_bytes()
            assert stream.endswith(rest), (stream, rest, got)
            return
        # this step's pieces: the op's in order, the callback's in order; the
        # callback ran somewhere inside the op, so either may come first
        ops = b"".join(p for who, p in got[mark:] if who == "op")
        cbs = b"".join(p for who, p in got[mark:] if who == "cb")
        if stream.startswith(ops + cbs, pos):
            pos += len(ops) + len(cbs)
        else:
            assert stream.startswith(cbs + ops, pos), (stream[pos:], got[mark:])
            pos += len(ops) + len(cbs)
    rest = r.read_bytes()
    assert stream[pos:] == rest, (stream, pos, rest, got)


# (method, struct format) of the fixed-size typed cursors
WIRE = [("u8", "B"), ("u16", "H"), ("u32", "I"), ("u64", "Q"), ("i8", "b"), ("i16", "h"),
        ("i32", "i"), ("i64", "q"), ("f32", "f"), ("f64", "d")]
S2 = struct.Struct("<hI")


def _uvarint(x):
    out = bytearray()
    while x >= 0x80:
        out.append((x & 0x7F) | 0x80)
        x >>= 7
    out.append(x)
    return bytes(out)


def fuzz_build(fdp):
    cap = fdp.ConsumeIntInRange(1, 48)
    head = fdp.ConsumeIntInRange(0, 16)
    bstore = fdp.ConsumeBool()
    b = ByteBuffer(cap, headroom=head, storage="bytes" if bstore else "heap")
    model = b""
    borrowed = []
    held = []
    for _ in range(fdp.ConsumeIntInRange(1, 32)):
        H.reset()
        op = fdp.ConsumeIntInRange(0, 15)
        n = fdp.ConsumeIntInRange(0, cap + head + 2)
        data = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, cap + 2))
        wkind = fdp.ConsumeIntInRange(0, len(WIRE) - 1)
        little = fdp.ConsumeBool()
        hostile = fdp.ConsumeIntInRange(0, 5)
        akind = fdp.ConsumeIntInRange(0, 7)
        if DEBUG:
            print("build op", op, n, data, wkind, hostile, akind, flush=True)

        def action():
            if akind == 0:
                b.take_bytes()
            elif akind == 1:
                b.prepend(b"<")
            elif akind == 2:
                b.clear()
            elif akind == 3:
                b.read(1)
            elif akind == 4:
                b.write_u8(0x23)
            elif akind == 5:
                held.append(memoryview(b))
            elif akind == 6:
                b.compact()
            else:
                held.append(memoryview(b.writable()))

        n_arg = n
        if hostile == 1:
            n_arg = HostileIndex(H, n, action)
        elif hostile >= 2:
            H.arm(action, fdp.ConsumeIntInRange(0, 5))
        name, code = WIRE[wkind]
        order = "little" if little else "big"
        sfmt = ("<" if little else ">") + code
        try:
            if op == 0:
                k = b.write(data)
                want = (len(data), model + data)
            elif op == 1:
                k = b.prepend(data)
                want = (len(data), data + model)
            elif op == 2:
                k = b.prepend_fmt(b"%d:%s;", n_arg, data)
                text = b"%d:%s;" % (n, data)
                want = (len(text), text + model)
            elif op == 3:
                k = b.write_fmt(b"%*d|%-4s|%x", 3, n_arg, data[:3], n)
                text = b"%*d|%-4s|%x" % (3, n, data[:3], n)
                want = (len(text), model + text)
            elif op == 4:
                k = b.write_int(n_arg)
                want = (len(str(n)), model + str(n).encode())
            elif op == 5:
                x = n / 7 - 1
                k = b.write_float(x)
                want = (len(repr(x)), model + repr(x).encode())
            elif op == 6:
                if code in "fd":
                    value = n / 4 - 2
                else:
                    bits = 8 * struct.calcsize(code)
                    value = int.from_bytes((data * 8)[:bits // 8].ljust(bits // 8, b"\x01"), "big")
                    if code.islower():
                        value -= 1 << (bits - 1)
                packed = struct.pack(sfmt, value)
                arg = HostileIndex(H, value, action) if hostile == 1 and code not in "fd" else value
                k = getattr(b, "write_" + name)(arg, order)
                want = (len(packed), model + packed)
            elif op == 7:
                size = struct.calcsize(code)
                k = getattr(b, "read_" + name)(byteorder=order)
                if len(model) < size:
                    want = IncompleteRead
                else:
                    v = struct.unpack(sfmt, model[:size])[0]
                    if k != k and v != v:  # nan: compared as such
                        k = v = "nan"
                    want = (v, model[size:])
            elif op == 8:
                value = int.from_bytes(data[:8] or b"\x00", "little") >> (n % 8)
                enc = _uvarint(value)
                k = b.write_uvarint(HostileIndex(H, value, action) if hostile == 1 else value)
                want = (len(enc), model + enc)
            elif op == 9:
                k = b.read_varint() if n & 1 else b.read_uvarint()
                want = None  # checked against the bytes it consumed below
                before = model
            elif op == 10:
                k = b.write_struct(S2, n_arg, n * 3)
                packed = S2.pack(n, n * 3)
                want = (len(packed), model + packed)
            elif op == 11:
                k = b.read_struct(S2)
                want = IncompleteRead if len(model) < S2.size else (
                    S2.unpack(model[:S2.size]), model[S2.size:])
            elif op == 12:
                k = b.take_bytes()
                want = (model, b"")
            elif op == 13:
                v = b.read(n_arg) if n & 1 else b.peek(n_arg)
                k = v.tobytes()
                borrowed.append((v, k, False))
                want = (model[:n], model[n:] if n & 1 else model)
            elif op == 14:
                if akind & 1:
                    held.append(memoryview(b))
                else:
                    for m in held:
                        m.release()
                    held.clear()
                k, want = None, (None, model)
            else:
                w = b.writable(n_arg)
                m = min(len(data), len(w))
                w[:m] = data[:m]
                if akind == 7:
                    held.append(memoryview(w))  # an export of the window kept across the commit
                k = b.commit(m)
                want = (None, model + data[:m])
        except CLEAN as e:
            k = type(e)
            if isinstance(e, StaleViewError) or H.fired:
                want = None
            elif isinstance(e, (BufferTooSmall, IncompleteRead)):
                want = (k, model)  # nothing written, nothing consumed
            elif op == 9 and type(e).__name__ == "VarintError":
                want = (k, model)
            else:
                raise
        finally:
            H.disarm()
        if op == 9 and want is None and not H.fired and isinstance(k, int):
            # a varint: the bytes it consumed decode to it (padded encodings
            # such as 0x80 0x00 are accepted, as protobuf does)
            rest = resync(b)
            used = before[:len(before) - len(rest)]
            assert before.endswith(rest) and 1 <= len(used) <= 10, (before, rest)
            assert all(c & 0x80 for c in used[:-1]) and not used[-1] & 0x80, used
            u = sum((c & 0x7F) << (7 * i) for i, c in enumerate(used))
            assert u == ((k << 1) ^ (k >> 63) if n & 1 else k), (k, used)
            model = rest
        elif H.fired or want is None:
            model = resync(b)
            common.settle()
        elif isinstance(want, type):
            assert k is want, (op, k, want)
        else:
            assert k == want[0], (op, n, k, want, model)
            model = want[1]
        assert len(b) == b.readable == len(model), (len(b), model)
        assert b.capacity == cap and b.headroom == head
        assert 0 <= b.free <= cap
        assert resync(b) == model, (resync(b), model)
        check_borrowed(borrowed)
    for m in held:
        m.release()


def test_one_input(data):
    fdp = atheris.FuzzedDataProvider(data)
    try:
        which = fdp.ConsumeIntInRange(0, 2)
        if which == 0:
            fuzz_buffer(fdp)
        elif which == 1:
            fuzz_reader(fdp)
        else:
            fuzz_build(fdp)
    finally:
        H.disarm()
        common.settle()


if __name__ == "__main__":
    common.main(test_one_input)
