"""A length-prefixed JSON frame written into a ByteBuffer allocates nothing
in a steady loop (ints, floats, short strings, bools, None, lists, dicts:
the encoder's no-allocation set), and neither does a Writer between its
flushes.  Counted with the allocator hook (nocopy._core._alloc_count)."""
import io

from nocopy import ByteBuffer
from nocopy.io import Writer
import nocopy.json as nj

from test_alloc_wire import allocations

DOC = {"id": 123456, "kind": "reading", "ts": 1700000000.25, "ok": True, "none": None,
       "values": [1.5, -2.25, 3.0], "meta": {"fw": "2.4.1", "site": "lyon"}}


def test_write_json_frame_loop_allocates_nothing():
    b = ByteBuffer(4096)
    write_json, clear = b.write_json, b.clear

    def step():
        clear()
        write_json(DOC, prefix="u32")
        write_json(DOC, prefix="u16", byteorder="little")
        write_json(DOC)

    assert allocations(step) == 0


def test_writer_frames_between_flushes_allocate_nothing():
    w = Writer(io.BytesIO(), 1 << 20)  # room for every frame of the count: no flush
    write_json = w.write_json

    def step():
        write_json(DOC, prefix="u32")

    assert allocations(step) == 0
    assert len(w.buffer) == 6200 * (4 + len(nj.dumps(DOC)))  # 200 warm-up + 3 rounds of 2000
