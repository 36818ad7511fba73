"""Rope file segments under hostile Python: a file object whose flush() or
fileno() (or an offset's __index__) changes or exports the Rope; a finalizer
run by the cyclic GC inside a load's allocation that appends (file segments
too), takes from or exports the Rope; write() callbacks that load, mutate or
keep what they are given while a file segment is being sent.  The Rope must
neither crash nor read through an unloaded segment nor show other bytes:
the mutation happens before the call reads the Rope, or raises BufferError
(the Rope is pinned while a call holds its segments)."""
import os
import tempfile

import pytest

from nocopy import Rope

from finalizers import inside
from test_hostile_rope import arm, gc_every_allocation, inline_gc  # noqa: F401

_DATA = os.urandom(50_000)
_PATH = os.path.join(tempfile.mkdtemp(prefix="nocopy-hostile-file-"), "f")
with open(_PATH, "wb") as _f:
    _f.write(_DATA)
_FD = os.open(_PATH, os.O_RDONLY)


def fds_open():
    return len(os.listdir("/proc/self/fd"))


class MutatingFile:
    def __init__(self, action, flush_action=None):
        self.action = action
        self.flush_action = flush_action

    def flush(self):
        if self.flush_action:
            self.flush_action()

    def fileno(self):
        self.action()
        return _FD


def test_fileno_appends_to_the_rope():
    r = Rope([b"a"])
    r.append_file(MutatingFile(lambda: r.append(b"b")), 0, 10)
    assert bytes(r) == b"ab" + _DATA[:10]


def test_flush_takes_everything():
    r = Rope([b"abc"])
    r.append_file(MutatingFile(lambda: None, lambda: r.take(len(r))), 5, 10)
    assert bytes(r) == _DATA[5:15]


def test_fileno_exports_the_rope():
    r = Rope([b"a", b"b"])
    held = []
    before = fds_open()
    with pytest.raises(BufferError):
        r.append_file(MutatingFile(lambda: held.append(memoryview(r))))
    assert fds_open() == before, "the dup was closed"
    held[0].release()
    assert bytes(r) == b"ab"


def test_offset_index_appends_a_file_segment():
    r = Rope()

    class Off:
        def __index__(self):
            r.append_file(_FD, 0, 3)
            return 3
    r.append_file(_FD, Off(), 4)
    assert bytes(r) == _DATA[:3] + _DATA[3:7]


def test_write_callback_loads_the_segment_being_sent():
    r = Rope([b"<"])
    r.append_file(_FD, 0, 40_000)
    r.append(b">")
    out = bytearray()

    class W:
        def write(self, b):
            n = min(len(b), 777)
            out.extend(bytes(b)[:n])
            bytes(r)  # loads the file segment in the middle of its sending
            return n
    assert r.write_to(W()) == 40_002
    assert bytes(out) == b"<" + _DATA[:40_000] + b">"


def test_write_callback_mutating_gets_buffererror():
    r = Rope()
    r.append_file(_FD, 0, 20_000)
    errors = []
    out = bytearray()

    class W:
        def write(self, b):
            out.extend(bytes(b))
            for op in (lambda: r.append(b"x"), lambda: r.skip(1),
                       lambda: r.append_file(_FD, 0, 1)):
                try:
                    op()
                except BufferError as e:
                    errors.append(e)
            return len(b)
    assert r.write_to(W()) == 20_000
    assert bytes(out) == _DATA[:20_000]
    assert len(errors) == 3 * -(-20_000 // 65536)


@inline_gc
def test_finalizer_during_load_appends_a_file_segment():
    r = Rope([b"x"])
    r.append_file(_FD, 0, 1000)
    tobytes = r.tobytes  # fetched first: the call itself allocates nothing
    log = arm(lambda: r.append_file(_FD, 0, 5))
    got = tobytes()
    inside(log)
    assert log[0][0] == "raised"  # pinned while loading
    assert got == b"x" + _DATA[:1000] == bytes(r)


@inline_gc
@pytest.mark.parametrize("op", [
    lambda r: r.frozen(), lambda r: r.tobytes(), lambda r: r.flatten(), lambda r: r.segments(),
    lambda r: r.find(b"\x00\x01"), lambda r: r == Rope([b"x"]), lambda r: r.read_struct(
        __import__("struct").Struct("<I"), 2),
])
def test_finalizer_appending_file_segments_never_reads_null(op):
    for _ in range(3):  # the finalizer lands in a different allocation each time
        r = Rope([b"x"])
        r.append_file(_FD, 0, 1000)
        log = arm(lambda: r.append_file(_FD, 7, 5))
        try:
            op(r)
        except (BufferError, RuntimeError):
            pass
        inside(log)
        want = b"x" + _DATA[:1000]
        assert bytes(r) in (want, want + _DATA[7:12])


@inline_gc
def test_finalizer_during_load_takes_everything():
    r = Rope([b"x"])
    r.append_file(_FD, 0, 1000)
    tobytes = r.tobytes
    log = arm(lambda: r.take(len(r)))
    got = tobytes()
    inside(log)
    assert log[0][0] == "raised"
    assert got == b"x" + _DATA[:1000]


@inline_gc
def test_finalizer_during_write_to_chunk_appends():
    r = Rope()
    r.append_file(_FD, 0, 10_000)
    out = bytearray()

    class W:
        def write(self, b):
            out.extend(bytes(b))
            return len(b)
    w = W()
    write_to = r.write_to
    log = arm(lambda: r.append_file(_FD, 0, 5))
    n = write_to(w)
    inside(log)
    # before write_to pinned the Rope (its attribute lookups allocate) the
    # append happens and is sent; after, it raises BufferError
    if log[0][0] == "ok":
        assert n == 10_005 and bytes(out) == _DATA[:10_000] + _DATA[:5]
    else:
        assert n == 10_000 and bytes(out) == _DATA[:10_000]


_BIG = os.urandom(3 * 65536 + 100)
with open(_PATH + "big", "wb") as _f:
    _f.write(_BIG)
_BIG_FD = os.open(_PATH + "big", os.O_RDONLY)


@inline_gc
def test_finalizer_loading_the_segment_inside_a_chunk_allocation():
    # write() keeps each View, so every chunk after the first allocates a new
    # buffer; a finalizer run by that allocation loads the segment being sent
    # (allowed on a pinned Rope).  The chunk was read through s->owner taken
    # after the allocation: the new holder read as a FileRegion (EBADF from
    # its buf pointer taken for an fd, or another file's bytes).
    r = Rope()
    r.append_file(_BIG_FD, 0, 3 * 65536 + 5)
    out, kept, log = bytearray(), [], []

    class W:
        def write(self, b):
            out.extend(bytes(b))
            kept.append(b)
            if len(kept) == 1:
                log.append(arm(r.load))
            return len(b)
    assert r.write_to(W()) == 3 * 65536 + 5
    assert log and log[0], "the finalizer did not run inside the call"
    assert log[0][0][0] == "ok"
    assert bytes(out) == _BIG[:3 * 65536 + 5]


@inline_gc
def test_finalizer_loading_the_segment_inside_sendmsg_list_allocation():
    r = Rope()
    r.append_file(_BIG_FD, 0, 2 * 65536 + 9)
    out, log, kept = bytearray(), [], []

    class S:
        def sendmsg(self, bufs):
            n = 0
            for b in bufs:
                out.extend(bytes(b))
                n += len(b)
            if not log:
                # the list free list emptied (and this list kept), so the
                # next batch's PyList_New is a GC allocation: the finalizer
                # loads the segment between "is it a file segment" and the
                # chunk's read
                kept.append(bufs)
                kept.extend([] for _ in range(200))
                log.append(arm(r.load))
            return n
    assert r.write_to(S()) == 2 * 65536 + 9
    assert log and log[0] and log[0][0][0] == "ok"
    assert bytes(out) == _BIG[:2 * 65536 + 9]
