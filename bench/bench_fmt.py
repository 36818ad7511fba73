"""fmt: formatting straight into buffers (ByteBuffer.write_fmt / write_int /
write_float, nocopy.format_into) against the stdlib's strongest ways of
getting the same bytes into a buffer: `fmt % args` (a new bytes) then
`bytearray +=` or a slice assignment into a preallocated bytearray, and
struct.pack_into where the record is binary.

Every case writes BATCH items and then resets the output (clear(), del [:],
offset 0), so both sides run in a steady state and the reset is shared
over the batch; times are per item."""
import struct

from nocopy import ByteBuffer, format_into

from .harness import best_times

BATCH = 16
HDR = b"Content-Length: %d\r\n"
N = 123456
X = 3.141592653589793


def _per_item(t):
    return {k: v / BATCH for k, v in t.items()}


def _rows(report, case, ours, peers):
    t = _per_item(best_times({"ours": ours, **peers}, budget=1.5))
    for name in peers:
        report.row("fmt", case, t["ours"], name, t[name])


def run(report):
    bb = ByteBuffer(1 << 16)
    ba = bytearray(1 << 16)
    grow = bytearray()
    rng = range(BATCH)
    write_fmt, write_int, write_float, clear = bb.write_fmt, bb.write_int, bb.write_float, bb.clear

    # -- an HTTP header line ----------------------------------------------------
    def ours_hdr():
        for _ in rng:
            write_fmt(HDR, N)
        clear()

    def mod_append():
        for _ in rng:
            grow.extend(HDR % N)
        del grow[:]

    def mod_iadd():
        g = grow
        for _ in rng:
            g += HDR % N
        del g[:]

    def mod_slice():
        o = 0
        for _ in rng:
            d = HDR % N
            e = o + len(d)
            ba[o:e] = d
            o = e

    _rows(report, 'bb.write_fmt(b"Content-Length: %d\\r\\n", n)', ours_hdr,
          {"% then bytearray +=": mod_iadd, "% then bytearray.extend": mod_append,
           "% then ba[i:j] = ": mod_slice})

    def ours_into():
        o = 0
        for _ in rng:
            o = format_into(ba, o, HDR, N)

    _rows(report, 'format_into(ba, off, b"Content-Length: %d\\r\\n", n)', ours_into,
          {"% then ba[i:j] = ": mod_slice})

    # -- a mixed line: ints, a float, bytes -------------------------------------------
    LINE = b"%s %d %.3f %x\n"
    key = b"sensor-7"

    def ours_line():
        for _ in rng:
            write_fmt(LINE, key, N, X, N)
        clear()

    def mod_line():
        o = 0
        for _ in rng:
            d = LINE % (key, N, X, N)
            e = o + len(d)
            ba[o:e] = d
            o = e

    _rows(report, 'bb.write_fmt(b"%s %d %.3f %x\\n", ...)', ours_line, {"% then ba[i:j] = ": mod_line})

    # -- a binary record: where struct.pack_into applies ---------------------------------
    REC = b"%c%c%s"
    payload = b"payload!"
    pack_into = struct.Struct(">BB8s").pack_into

    def ours_rec():
        o = 0
        for _ in rng:
            o = format_into(ba, o, REC, 1, 2, payload)

    def struct_rec():
        o = 0
        for _ in rng:
            pack_into(ba, o, 1, 2, payload)
            o += 10

    _rows(report, 'format_into(ba, off, b"%c%c%s", 1, 2, payload)', ours_rec,
          {"struct.pack_into('>BB8s')": struct_rec})

    # -- numbers ---------------------------------------------------------------------------
    def ours_int():
        for _ in rng:
            write_int(N)
        clear()

    def mod_int():
        o = 0
        for _ in rng:
            d = b"%d" % N
            e = o + len(d)
            ba[o:e] = d
            o = e

    def str_int():
        o = 0
        for _ in rng:
            d = str(N).encode()
            e = o + len(d)
            ba[o:e] = d
            o = e

    _rows(report, "bb.write_int(123456)", ours_int,
          {'b"%d" % n then ba[i:j] = ': mod_int, "str(n).encode() then ba[i:j] = ": str_int})

    def ours_float():
        for _ in rng:
            write_float(X)
        clear()

    def repr_float():
        o = 0
        for _ in rng:
            d = repr(X).encode()
            e = o + len(d)
            ba[o:e] = d
            o = e

    _rows(report, "bb.write_float(3.141592653589793)", ours_float,
          {"repr(x).encode() then ba[i:j] = ": repr_float})
