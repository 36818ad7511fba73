"""Typed cursors allocate nothing in a steady loop: the value's bytes go
through the C stack, small results are CPython's cached ints, write_struct
reuses the buffer's cached window View.  Counted with the allocator hook
(nocopy._core._alloc_count): every block, freed or not."""
import itertools
import struct

from nocopy import ByteBuffer, Rope, _core


def allocations(fn, n=2000, rounds=3):
    """Blocks allocated (freed or not) by n calls of fn after a warm-up (long
    enough for 3.11's adaptive interpreter to specialise the caller's code,
    which allocates once): the least of `rounds` rounds, as a one-off
    elsewhere in the process (a dict resized by a finalizer from an earlier
    test) shows in one round only, and an allocation per call in all."""
    for _ in itertools.repeat(None, 200):
        fn()
    counts = []
    for _ in range(rounds):
        loop = itertools.repeat(None, n)  # no int per iteration
        _core._alloc_count_start()
        try:
            a = _core._alloc_count()
            a2 = _core._alloc_count()  # reading the counter allocates its int (> 256)
            for _ in loop:
                fn()
            counts.append(_core._alloc_count() - a2 - (a2 - a))
        finally:
            _core._alloc_count_stop()
    return min(counts)


def test_write_read_u32_loop_allocates_nothing():
    b = ByteBuffer(4096)
    w, r = b.write_u32, b.read_u32

    def step():
        w(7)
        w(200, "little")
        w(255, byteorder="big")
        r()
        r("little")
        r(byteorder="big")

    assert allocations(step) == 0
    assert len(b) == 0


def test_all_widths_varints_and_write_struct_allocate_nothing():
    b = ByteBuffer(4096)
    s = struct.Struct("<HBx")
    names = ["u8", "u16", "u32", "u64", "i8", "i16", "i32", "i64"]
    writers = tuple(getattr(b, "write_" + n) for n in names)
    readers = tuple(getattr(b, "read_" + n) for n in names)

    def step():
        # unrolled: a for loop would allocate its iterator
        w0, w1, w2, w3, w4, w5, w6, w7 = writers
        r0, r1, r2, r3, r4, r5, r6, r7 = readers
        w0(100); w1(100); w2(100); w3(100); w4(-5); w5(-5); w6(-5); w7(-5)  # noqa: E702
        r0(); r1(); r2(); r3(); r4(); r5(); r6(); r7()  # noqa: E702
        b.write_uvarint(200)
        b.write_varint(-5)  # small ints are cached from -5 to 256
        b.read_uvarint()
        b.read_varint()
        b.write_struct(s, 5, 6)
        b.consume(4)

    assert allocations(step) == 0
    assert len(b) == 0


def test_rope_reads_across_segments_allocate_nothing():
    data = bytes(60) + b"\x00\x00\x00\x05"
    r = Rope([data[i:i + 3] for i in range(0, 64, 3)])  # 3-byte segments

    def step():
        r.read_u16(2)  # straddles a boundary
        r.read_u32(58)
        r.read_u64(-8, "little")  # 5 << 56: a new int ...
        r.read_i64(56, byteorder="big")  # 5
        r.read_f32(4)  # 0.0

    # the new int is the only allocation: 0.0 comes from the float free list
    assert allocations(step) == 2000
    assert r.nsegments == 22 and bytes(r) == data


def test_read_struct_allocates_no_view():
    b = ByteBuffer(4096)
    s = struct.Struct("<HBB")
    ws, rs = b.write_struct, b.read_struct

    def step():
        ws(s, 1, 2, 3)
        rs(s)

    # the result tuple comes from CPython's tuple free list, its items are
    # cached small ints, and the Struct reads through the buffer's reused
    # View: nothing at all (a View per call would be 2000)
    assert allocations(step) == 0
