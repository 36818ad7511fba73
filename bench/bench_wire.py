"""Typed cursors (issue 14): a stream of fixed-width fields, varints and
structs read and written through ByteBuffer / Rope, against struct with
manual offsets, a precompiled struct.Struct (the strongest per-field peer),
int.from_bytes on slices and a pure-Python LEB128.  Every timed loop handles
N values; the nocopy side pays for refilling or clearing its buffer inside
the timing, the peers read a ready bytes object."""
import random
import struct

from nocopy import ByteBuffer, Rope

from .harness import best_times

N = 1000
SECTION = "wire"


def _rows(report, case, fns, peers, budget=1.0):
    t = best_times(fns, budget=budget)
    for name in peers:
        report.row(section=SECTION, case=case, nocopy=t["nocopy"], peer_name=name, peer=t[name])


def _u32(report):
    rnd = random.Random(14)
    vals = [rnd.getrandbits(32) for _ in range(N)]
    data = struct.pack(f"!{N}I", *vals)
    offs = range(0, 4 * N, 4)
    b = ByteBuffer(8192)
    write, clear, read_u32 = b.write, b.clear, b.read_u32
    unpack_from = struct.unpack_from
    s_unpack = struct.Struct("!I").unpack_from
    from_bytes = int.from_bytes

    def nocopy():
        clear()
        write(data)
        for _ in offs:
            read_u32()

    def peer_struct():
        for o in offs:
            unpack_from("!I", data, o)[0]

    def peer_compiled():
        for o in offs:
            s_unpack(data, o)[0]

    def peer_from_bytes():
        for o in offs:
            from_bytes(data[o:o + 4], "big")

    def peer_iter():
        for (v,) in struct.iter_unpack("!I", data):
            pass

    fns = {"nocopy": nocopy, "struct.unpack_from": peer_struct,
           "Struct('!I').unpack_from": peer_compiled, "int.from_bytes(slice)": peer_from_bytes,
           "struct.iter_unpack": peer_iter}
    _rows(report, f"read {N} u32 (big-endian)", fns, list(fns)[1:])

    # writing
    ba = bytearray(4 * N)
    pack_into = struct.pack_into
    s_pack_into = struct.Struct("!I").pack_into
    write_u32 = b.write_u32
    pairs = list(zip(offs, vals))

    def w_nocopy():
        clear()
        for v in vals:
            write_u32(v)

    def w_struct():
        for o, v in pairs:
            pack_into("!I", ba, o, v)

    def w_compiled():
        for o, v in pairs:
            s_pack_into(ba, o, v)

    fns = {"nocopy": w_nocopy, "struct.pack_into": w_struct, "Struct('!I').pack_into": w_compiled}
    _rows(report, f"write {N} u32 (big-endian)", fns, list(fns)[1:])


def leb_encode_into(out, n):
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


def leb_decode(data, pos):
    x = shift = 0
    while True:
        c = data[pos]
        pos += 1
        x |= (c & 0x7F) << shift
        if c < 0x80:
            return x, pos
        shift += 7


def _varint(report):
    rnd = random.Random(15)
    vals = [rnd.getrandbits(rnd.choice((7, 14, 21, 35, 63))) for _ in range(N)]
    enc = bytearray()
    for v in vals:
        leb_encode_into(enc, v)
    data = bytes(enc)
    b = ByteBuffer(16384)
    write, clear, read_uvarint, write_uvarint = b.write, b.clear, b.read_uvarint, b.write_uvarint
    loop = range(N)

    def nocopy():
        clear()
        write(data)
        for _ in loop:
            read_uvarint()

    def peer():
        pos = 0
        for _ in loop:
            _, pos = leb_decode(data, pos)

    _rows(report, f"read {N} uvarints (mixed 1-9 bytes)",
          {"nocopy": nocopy, "Python LEB128 loop": peer}, ["Python LEB128 loop"])

    out = bytearray()

    def w_nocopy():
        clear()
        for v in vals:
            write_uvarint(v)

    def w_peer():
        out.clear()
        for v in vals:
            leb_encode_into(out, v)

    _rows(report, f"write {N} uvarints", {"nocopy": w_nocopy, "Python LEB128 loop": w_peer},
          ["Python LEB128 loop"])


def _struct(report):
    s = struct.Struct("<HIqd")
    rnd = random.Random(16)
    recs = [(rnd.getrandbits(16), rnd.getrandbits(32), rnd.getrandbits(63), rnd.random())
            for _ in range(N)]
    data = b"".join(s.pack(*r) for r in recs)
    offs = range(0, s.size * N, s.size)
    b = ByteBuffer(32768)
    write, clear, read_struct, write_struct = b.write, b.clear, b.read_struct, b.write_struct
    unpack_from, pack_into = s.unpack_from, s.pack_into

    def nocopy():
        clear()
        write(data)
        for _ in offs:
            read_struct(s)

    def peer():
        for o in offs:
            unpack_from(data, o)

    _rows(report, f"read_struct {N} x '<HIqd'", {"nocopy": nocopy, "Struct.unpack_from": peer},
          ["Struct.unpack_from"])

    ba = bytearray(len(data))
    pairs = list(zip(offs, recs))

    def w_nocopy():
        clear()
        for r in recs:
            write_struct(s, *r)

    def w_peer():
        for o, r in pairs:
            pack_into(ba, o, *r)

    _rows(report, f"write_struct {N} x '<HIqd'", {"nocopy": w_nocopy, "Struct.pack_into": w_peer},
          ["Struct.pack_into"])


def _rope(report):
    rnd = random.Random(17)
    data = bytes(rnd.getrandbits(8) for _ in range(4 * N))
    # 1000 u32 in 61-byte chunks: about one value in 15 straddles a boundary
    r = Rope([data[i:i + 61] for i in range(0, len(data), 61)])
    offs = range(0, 4 * N, 4)
    read_u32 = r.read_u32
    s_unpack = struct.Struct("!I").unpack_from

    def nocopy():
        for o in offs:
            read_u32(o)

    def peer():
        flat = bytes(r)  # the join a parser needs first
        for o in offs:
            s_unpack(flat, o)[0]

    _rows(report, f"Rope ({r.nsegments} segs): read {N} u32 at offsets",
          {"nocopy": nocopy, "bytes(rope) + Struct.unpack_from": peer},
          ["bytes(rope) + Struct.unpack_from"])


def run(report):
    _u32(report)
    _varint(report)
    _struct(report)
    _rope(report)
