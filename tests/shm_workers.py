"""The processes of tests/test_shared_memory.py: module-level functions a
'spawn' child can import without pytest (kept light: each child imports
only this and nocopy)."""
from multiprocessing import shared_memory

import nocopy.json
from nocopy import ByteBuffer, Rope, StaleViewError, View

HEADER = 8  # the writer's committed length (u64, big-endian) lives here


def records(round_no):
    """What the writer sends in round `round_no` (the reader's oracle too)."""
    out = [(i, b"rec-%d-%d" % (round_no, i) * (i % 5 + 1)) for i in range(40)]
    out.append((99, nocopy.json.dumps({"round": round_no, "ok": True})))
    return out


def writer(name, rounds, ready, done):
    """Write each round's records through ByteBuffer.wrap(shm.buf) -- typed
    writes, write() and json.dumps_into -- publish the length, and wait for
    the reader before reusing the segment (clear(): in place, never fresh
    storage).  Closes the ByteBuffer, then the segment."""
    shm = shared_memory.SharedMemory(name=name)
    try:
        b = ByteBuffer.wrap(shm.buf, headroom=HEADER)
        for r in range(rounds):
            b.clear()
            for tag, payload in records(r)[:-1]:
                b.write_u16(tag)
                b.write_u32(len(payload))
                b.write(payload)
            # the last record: its length is known only after dumps_into
            b.write_u16(99)
            at = b.readable
            b.write_u32(0)
            n = nocopy.json.dumps_into({"round": r, "ok": True}, b)
            View(shm.buf)[HEADER + at:HEADER + at + 4] = n.to_bytes(4, "big")
            View(shm.buf)[:HEADER] = b.readable.to_bytes(HEADER, "big")
            ready.set()
            assert done.wait(30), "reader did not finish"
            done.clear()
        try:
            shm.close()  # the ByteBuffer still holds an export of shm.buf
        except BufferError:
            pass
        else:
            raise AssertionError("shm.close() succeeded with a live ByteBuffer")
        b.close()
    finally:
        shm.close()


def reader(name, rounds, ready, done, results):
    """Read each round through Views over this process's own mapping of the
    segment; send back what was read and what the closing rule did."""
    shm = shared_memory.SharedMemory(name=name)
    try:
        whole = View(shm.buf)
        for r in range(rounds):
            assert ready.wait(30), "writer did not publish"
            ready.clear()
            n = int.from_bytes(whole[:HEADER], "big")
            data = whole[HEADER:HEADER + n]
            got, p = [], 0
            while p < len(data):
                tag = int.from_bytes(data[p:p + 2], "big")
                size = Rope([data[p + 2:p + 6]]).read_u32()
                got.append((tag, bytes(data[p + 6:p + 6 + size])))
                p += 6 + size
            results.put(("records", r, got))
            done.set()
        message = ""
        keep = data.split(b"-")[0]
        segment = Rope([data[:4]])
        try:
            shm.close()
            closed_early = True
        except BufferError as e:
            closed_early = False
            message = str(e)
        whole.close()  # every View of the export goes stale at once
        shm.close()  # and now the segment closes
        stale = []
        for fn in (lambda: bytes(keep), lambda: bytes(data), lambda: bytes(segment)):
            try:
                fn()
                stale.append(False)
            except StaleViewError:
                stale.append(True)
        results.put(("closing", closed_early, message, stale))
    finally:
        shm.close()
