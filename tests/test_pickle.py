"""Pickle (protocols 0-5, out of band at 5) and copy/deepcopy of View, Rope
and ByteBuffer (issue 15, part 1): round trips against the bytes oracle,
out-of-band buffers that are the source memory (not copies), stale and
released objects refused, a pending pickle buffer pinning a ByteBuffer's
bytes, multiprocessing (spawn), and malformed pickles failing cleanly."""
import copy
import ctypes
import io
import multiprocessing
import pickle

import pytest
from hypothesis import given, strategies as st

from nocopy import ByteBuffer, Rope, StaleViewError, View
from nocopy import _core

import pickle_worker

PROTOCOLS = range(pickle.HIGHEST_PROTOCOL + 1)


def addr(buf):
    """Address of the first byte of a writable buffer."""
    return ctypes.addressof(ctypes.c_char.from_buffer(buf))


def oob_dumps(obj):
    bufs = []
    data = pickle.dumps(obj, protocol=5, buffer_callback=bufs.append)
    return data, bufs


# ---- View ------------------------------------------------------------------------------

windows = st.binary(max_size=200).flatmap(
    lambda b: st.tuples(st.just(b), st.integers(0, len(b)), st.integers(0, len(b))))


@given(windows, st.sampled_from([bytes, bytearray]), st.sampled_from(list(PROTOCOLS)))
def test_view_round_trip_every_protocol(win, kind, proto):
    data, a, b = win
    src = kind(data)
    v = View(src, a, b)
    w = pickle.loads(pickle.dumps(v, protocol=proto))
    assert type(w) is View
    assert w == data[a:b] and w.tobytes() == bytes(src)[a:b]
    assert w.readonly == (kind is bytes)  # in band: readonly is kept
    assert w.start == 0 and w.stop == len(data[a:b])  # the window is all of a new object
    if proto >= 5:
        d, bufs = oob_dumps(v)
        assert pickle.loads(d, buffers=bufs) == data[a:b]


def test_view_out_of_band_is_the_same_memory():
    ba = bytearray(b"0123456789abcdef")
    v = View(ba, 3, 11)
    data, bufs = oob_dumps(v)
    assert len(bufs) == 1 and isinstance(bufs[0], pickle.PickleBuffer)
    assert len(data) < 100 and b"3456789a" not in data  # the payload is not in the pickle
    raw = bufs[0].raw()
    assert raw.nbytes == 8 and addr(raw) == addr(ba) + 3  # the source's bytes, not a copy
    w = pickle.loads(data, buffers=bufs)
    assert w == b"3456789a" and not w.readonly
    ba[3] = ord("X")
    assert w[0] == ord("X")  # a mutation of the source shows through
    w[1] = ord("Y")
    assert ba[4] == ord("Y")  # and writes through the loaded View reach it
    w.release()


def test_view_out_of_band_from_read_only_buffers():
    ba = bytearray(b"writable source")
    v = View(ba)
    data, bufs = oob_dumps(v)
    ro = [b.raw().toreadonly() for b in bufs]  # what a consumer may hand back
    w = pickle.loads(data, buffers=ro)
    assert w == ba and w.readonly
    with pytest.raises(TypeError):
        w[0] = 1
    # a read-only source: pickle itself wraps the buffer read-only
    r = View(b"read-only bytes", 5)
    data, bufs = oob_dumps(r)
    w = pickle.loads(data, buffers=bufs)
    assert w == b"only bytes" and w.readonly
    # bytes and a View (of received bytes) are accepted back too
    assert pickle.loads(data, buffers=[b"other"]) == b"other"
    assert pickle.loads(data, buffers=[View(b"xxabcxx", 2, 5)]) == b"abc"


def test_view_pickle_in_band_protocol_5_carries_readonly():
    assert not pickle.loads(pickle.dumps(View(bytearray(b"ab")), 5)).readonly
    assert pickle.loads(pickle.dumps(View(b"ab"), 5)).readonly


def test_view_of_view_and_of_bytebuffer_windows():
    b = ByteBuffer(64)
    b.write(b"header:payload")
    b.consume(7)
    for proto in PROTOCOLS:
        assert pickle.loads(pickle.dumps(b.peek(), proto)) == b"payload"
        assert pickle.loads(pickle.dumps(View(b.peek(), 1, 4), proto)) == b"ayl"


def test_stale_borrowed_view_raises_stale_view_error():
    b = ByteBuffer(64)
    b.write(b"borrowed bytes")
    v = b.read(8)
    b.clear()
    b.write(b"OTHER BYTES!!!")
    for proto in PROTOCOLS:
        with pytest.raises(StaleViewError):
            pickle.dumps(v, protocol=proto)
    with pytest.raises(StaleViewError):
        oob_dumps(v)
    with pytest.raises(StaleViewError):
        copy.copy(v)
    with pytest.raises(StaleViewError):
        copy.deepcopy(v)


def test_released_view_raises_value_error():
    v = View(b"abc")
    v.release()
    for proto in PROTOCOLS:
        with pytest.raises(ValueError, match="released"):
            pickle.dumps(v, protocol=proto)
    with pytest.raises(ValueError):
        copy.copy(v)
    with pytest.raises(ValueError):
        copy.deepcopy(v)


def test_view_going_stale_after_dumps_never_loads_other_bytes():
    b = ByteBuffer(64)
    b.write(b"first bytes")
    v = b.peek()
    data, bufs = oob_dumps(v)
    b.clear()  # an export is held (the PickleBuffer): the buffer moves to fresh storage
    b.write(b"SECOND!!!!!")
    assert pickle.loads(data, buffers=bufs) == b"first bytes"
    assert v == b"first bytes"  # its bytes were left where they are, unchanged
    assert b.peek() == b"SECOND!!!!!"


def test_view_copy_shares_memory():
    ba = bytearray(b"abcdefgh")
    v = View(ba, 2, 6)
    c = copy.copy(v)
    assert type(c) is View and c == b"cdef" and c is not v
    assert addr(memoryview(c)) == addr(ba) + 2
    c[0] = ord("Z")
    assert ba == bytearray(b"abZdefgh") and v[0] == ord("Z")
    v.retarget(0, 1)  # windows are independent
    assert c == b"Zdef"


def test_view_deepcopy_is_private_and_keeps_readonly():
    ba = bytearray(b"abcdefgh")
    d = copy.deepcopy(View(ba, 1, 4))
    assert d == b"bcd" and not d.readonly
    ba[1] = ord("X")
    d[1] = ord("Y")
    assert d == b"bYd" and ba == bytearray(b"aXcdefgh")
    r = copy.deepcopy(View(b"xyz"))
    assert r == b"xyz" and r.readonly and type(r.obj) is bytes


class Tagged(View):
    pass


def test_view_subclass_round_trips_type_and_attributes():
    t = Tagged(bytearray(b"subclassed"), 3)
    t.tag = ["kept"]
    for proto in PROTOCOLS:
        w = pickle.loads(pickle.dumps(t, proto))
        assert type(w) is Tagged and w == b"classed" and w.tag == ["kept"]
    c = copy.copy(t)
    assert type(c) is Tagged and c.tag is t.tag
    d = copy.deepcopy(t)
    assert type(d) is Tagged and d.tag == ["kept"] and d.tag is not t.tag
    t.me = t  # a cycle through the instance dict
    d = copy.deepcopy(t)
    assert d.me is d



class Slotted(View):
    __slots__ = ("tag", "unset")


class Guarded(View):
    """__getstate__ leaves out what must not be pickled; __setstate__ sees it."""

    def __getstate__(self):
        return {"public": self.public}

    def __setstate__(self, state):
        self.__dict__.update(state, restored=True)


def test_view_subclass_slots_are_kept():
    # as for a bytearray subclass: object.__getstate__() carries __slots__ values
    s = Slotted(b"slotted", 1)
    s.tag = ["kept"]
    for proto in PROTOCOLS:
        w = pickle.loads(pickle.dumps(s, proto))
        assert type(w) is Slotted and w == b"lotted" and w.tag == ["kept"]
        assert not hasattr(w, "unset")
    c = copy.copy(s)
    assert c == b"lotted" and c.tag is s.tag and not hasattr(c, "unset")
    d = copy.deepcopy(s)
    assert d == b"lotted" and d.tag == ["kept"] and d.tag is not s.tag
    s.tag = s  # a cycle through a slot
    assert copy.deepcopy(s).tag.tag.tag is not s


def test_view_subclass_getstate_and_setstate_are_honoured():
    g = Guarded(bytearray(b"guarded"))
    g.public = 1
    g.secret = "never pickled"
    for proto in PROTOCOLS:
        data = pickle.dumps(g, proto)
        assert b"never pickled" not in data
        w = pickle.loads(data)
        assert type(w) is Guarded and w == b"guarded"
        assert vars(w) == {"public": 1, "restored": True}
    for c in (copy.copy(g), copy.deepcopy(g)):
        assert vars(c) == {"public": 1, "restored": True}


# ---- Rope ---------------------------------------------------------------------------

part = st.one_of(
    st.binary(max_size=40),
    st.binary(max_size=40).map(bytearray),
    st.binary(min_size=1, max_size=40).flatmap(
        lambda b: st.tuples(st.integers(0, len(b)), st.integers(0, len(b))).map(
            lambda ab: View(b, *ab))),
    st.binary(min_size=1, max_size=40).map(lambda b: memoryview(b)[1:]),
)


@given(st.lists(part, max_size=12), st.sampled_from(list(PROTOCOLS)))
def test_rope_round_trip_every_protocol(parts, proto):
    r = Rope(parts)
    oracle = b"".join(bytes(p) for p in parts)
    w = pickle.loads(pickle.dumps(r, protocol=proto))
    assert type(w) is Rope and w == oracle and w.tobytes() == oracle
    assert w.nsegments == r.nsegments and w.max_segments == r.max_segments
    assert [bytes(s) for s in w.segments()] == [bytes(s) for s in r.segments()]
    if proto >= 5:
        data, bufs = oob_dumps(r)
        assert len(bufs) == r.nsegments
        assert pickle.loads(data, buffers=bufs) == oracle
        ro = pickle.loads(data, buffers=[b.raw().toreadonly() for b in bufs])
        assert ro == oracle and ro.nsegments == r.nsegments


def test_rope_out_of_band_one_buffer_per_segment_never_joined():
    whole = b"whole bytes segment"
    ba = bytearray(b"mutable segment")
    big = b"0123456789" * 10
    r = Rope([whole, ba, View(big, 10, 30)], max_segments=17)
    data, bufs = oob_dumps(r)
    assert len(bufs) == 3 and [b.raw().nbytes for b in bufs] == [19, 15, 20]
    assert len(data) < 200 and b"0123456789" not in data and whole not in data
    assert bufs[0].raw().obj is whole  # the bytes object itself
    assert addr(bufs[1].raw()) == addr(ba)  # the bytearray's memory
    seg = bufs[2].raw().obj  # a View of the segment, on the original bytes
    assert isinstance(seg, View) and seg.obj is big and (seg.start, seg.stop) == (10, 30)
    w = pickle.loads(data, buffers=bufs)
    assert w == whole + ba + big[10:30] and w.nsegments == 3 and w.max_segments == 17
    ba[0:7] = b"MUTATED"
    assert w[19:26] == b"MUTATED"  # the loaded Rope shares the source memory


def test_rope_below_protocol_5_pickles_a_tuple_of_segments():
    r = Rope([b"ab", bytearray(b"cd"), View(b"xefx", 1, 3)])
    red = r.__reduce_ex__(4)
    assert red[0] is _core._rope_from_pickle
    assert red[1] == ((b"ab", b"cd", b"ef"), 1024)
    assert red[1][0][0] is r.segments()[0].obj  # a whole bytes segment is not copied


def test_rope_with_stale_segment_raises():
    b = ByteBuffer(64)
    b.write(b"segment bytes")
    r = Rope([b"head:", b.peek()])
    b.clear()
    b.write(b"OTHER BYTES!!")
    for proto in PROTOCOLS:
        with pytest.raises(StaleViewError):
            pickle.dumps(r, protocol=proto)
    with pytest.raises(StaleViewError):
        copy.copy(r)
    with pytest.raises(StaleViewError):
        copy.deepcopy(r)


def test_rope_segment_from_bytebuffer_pinned_by_pending_pickle_buffer():
    b = ByteBuffer(32)
    b.write(b"in-flight payload")
    r = Rope([b"hdr:", b.peek()])
    data, bufs = oob_dumps(r)
    b.clear()
    b.write(b"NEW BYTES NEW BYT")
    assert pickle.loads(data, buffers=bufs) == b"hdr:in-flight payload"
    assert r == b"hdr:in-flight payload"  # pinned: moved to fresh storage, not overwritten


def test_rope_copy_shares_segments_deepcopy_copies():
    ba = bytearray(b"mutable")
    r = Rope([b"imm:", ba])
    c = copy.copy(r)
    assert c == r and c.nsegments == 2 and c is not r
    c.append(b"!")  # independent segment lists
    assert r == b"imm:mutable"
    d = copy.deepcopy(r)
    ba[0:3] = b"MUT"
    assert c == b"imm:MUTable!" and r == b"imm:MUTable"
    assert d == b"imm:mutable" and d.nsegments == 2
    assert d.segments()[0].obj is r.segments()[0].obj  # bytes shared, as deepcopy(bytes) does


# ---- ByteBuffer -----------------------------------------------------------------------

@given(st.integers(1, 300), st.integers(0, 40), st.sampled_from(["heap", "bytes"]),
       st.binary(max_size=300), st.integers(0, 300), st.sampled_from(list(PROTOCOLS)))
def test_bytebuffer_round_trip_every_protocol(cap, head, storage, data, k, proto):
    b = ByteBuffer(cap, headroom=head, storage=storage)
    data = data[:cap]
    b.write(data)
    b.consume(min(k, len(data)))
    oracle = io.BytesIO(data)
    oracle.seek(min(k, len(data)))
    w = pickle.loads(pickle.dumps(b, protocol=proto))
    assert type(w) is ByteBuffer
    assert w.peek() == oracle.read() == b.peek()
    assert (w.capacity, w.headroom, w.storage) == (cap, head, storage)
    assert w.readable == b.readable and w.free == cap - w.readable
    for c in (copy.copy(b), copy.deepcopy(b)):
        assert c.peek() == b.peek() and (c.capacity, c.headroom, c.storage) == (cap, head, storage)


def test_bytebuffer_out_of_band_is_the_readable_window():
    b = ByteBuffer(64)
    b.write(b"consumed|readable")
    b.consume(9)
    data, bufs = oob_dumps(b)
    assert len(bufs) == 1 and bufs[0].raw() == b"readable"
    assert b"readable" not in data
    assert addr(bufs[0].raw()) == addr(memoryview(b))  # the storage itself
    w = pickle.loads(data, buffers=bufs)
    assert w.peek() == b"readable" and w.capacity == 64


def test_bytebuffer_pending_pickle_buffer_pins_its_bytes():
    b = ByteBuffer(16)
    b.write(b"0123456789")
    data, bufs = oob_dumps(b)
    pinned = addr(bufs[0].raw())
    b.consume(10)
    b.write(b"abcdefghijklmnop")  # needs a compaction: moves to fresh storage instead
    b.clear()
    b.write(b"ZZZZZZZZZZZZZZZZ")
    assert addr(bufs[0].raw()) == pinned and bufs[0].raw() == b"0123456789"
    w = pickle.loads(data, buffers=bufs)
    assert w.peek() == b"0123456789"
    assert b.peek() == b"ZZZZZZZZZZZZZZZZ"
    del bufs
    b.clear()  # nothing pinned any more: compactions in place again
    b.write(b"x")


def test_bytebuffer_copy_is_independent():
    b = ByteBuffer(32, headroom=4, storage="bytes")
    b.write(b"hello")
    c = copy.copy(b)
    c.consume(1)
    c.write(b"!")
    b.prepend(b">")
    assert b.peek() == b">hello" and c.peek() == b"ello!"
    assert c.headroom == 4 and c.storage == "bytes"
    assert copy.deepcopy(b).peek() == b">hello"


def test_out_of_band_copies_no_payload():
    """A 32 MiB Rope of 512 segments and a 32 MiB View, dumped out of band and
    loaded back: the peak traced memory is a small fraction of the payload
    (the segments' objects), never a copy of it."""
    import tracemalloc
    parts = [bytearray(64 << 10) for _ in range(512)]
    r = Rope(parts)
    v = View(bytearray(32 << 20))
    tracemalloc.start()
    try:
        for obj in (r, v):
            tracemalloc.reset_peak()
            base = tracemalloc.get_traced_memory()[0]
            data, bufs = oob_dumps(obj)
            back = pickle.loads(data, buffers=bufs)
            peak = tracemalloc.get_traced_memory()[1] - base
            assert back == obj
            assert peak < 512 << 10, peak  # vs 32 MiB of payload
            del data, bufs, back
    finally:
        tracemalloc.stop()


# ---- across processes (spawn: fork in a threaded process warns on 3.12+) ---------------

@pytest.fixture(scope="module")
def spawn():
    return multiprocessing.get_context("spawn")


def test_through_a_pipe_in_band_and_out_of_band(spawn):
    parent, child = spawn.Pipe()
    p = spawn.Process(target=pickle_worker.echo, args=(child,))
    p.start()
    try:
        child.close()
        bb = ByteBuffer(128, headroom=8)
        bb.write(b"--buffer payload")
        bb.consume(2)
        objs = [View(bytearray(b"a writable view"), 2), View(b"read-only"),
                Rope([b"seg1|", bytearray(b"seg2|"), View(b"xxseg3", 2)]), bb]
        for obj in objs:
            parent.send(obj)  # Connection.send: ForkingPickler, in band
            desc = parent.recv()
            back = parent.recv()
            assert desc == pickle_worker.describe(obj)
            assert pickle_worker.describe(back) == desc
        for obj in objs:
            header, bufs = oob_dumps(obj)
            parent.send("oob")
            parent.send(len(bufs))
            parent.send_bytes(header)
            for b in bufs:
                parent.send_bytes(b.raw())  # each segment sent from its own memory
            desc = parent.recv()
            want = pickle_worker.describe(obj)
            if isinstance(obj, View):
                # the child hands back the bytes it received: read-only there
                want = want[:2] + (True,)
            assert desc == want
        parent.send(None)
    finally:
        p.join(30)
        parent.close()
    assert p.exitcode == 0


def test_bytebuffer_as_a_pool_task_argument(spawn):
    import hashlib
    bufs = []
    for i in range(3):
        b = ByteBuffer(64, storage="bytes" if i % 2 else "heap")
        b.write(b"task %d data" % i)
        bufs.append(b)
    with spawn.Pool(1) as pool:
        results = pool.map(pickle_worker.digest_and_modify, bufs)
    for b, (digest, after) in zip(bufs, results):
        assert digest == hashlib.sha256(b.peek()).hexdigest()
        assert after == b.peek().tobytes()[1:] + b"child"  # the child changed its own copy
        assert b.peek().tobytes().startswith(b"task ")  # ours is as it was


# ---- malformed pickles and hostile reconstructor calls -------------------------------

_ALLOWED = {
    ("nocopy._core", "_view_from_pickle"), ("nocopy._core", "_rope_from_pickle"),
    ("nocopy._core", "_bytebuffer_from_pickle"), ("nocopy", "View"), ("nocopy", "Rope"),
    ("nocopy", "ByteBuffer"), ("builtins", "bytearray"), ("builtins", "bytes"),
    ("_codecs", "encode"), ("codecs", "encode"), ("copyreg", "_reconstructor"),
    ("builtins", "object"),
}


class _Restricted(pickle.Unpickler):
    """Only the globals our pickles name: a mutated pickle reaches our
    reconstructors with arbitrary arguments, never os.system."""

    def find_class(self, module, name):
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError("refused global %s.%s" % (module, name))
        return super().find_class(module, name)


def _load(data, buffers=None):
    return _Restricted(io.BytesIO(data), buffers=buffers).load()


def _samples():
    tagged = Tagged(b"sub")
    return [View(bytearray(b"writable window"), 3), View(b"ro"),
            Rope([b"ab", bytearray(b"cd"), View(b"xefx", 1, 3)]),
            ByteBuffer(32, headroom=2, storage="bytes"), tagged]


def _check_loaded(obj):
    """Whatever a mutated pickle loads to must be usable (no torn object)."""
    if isinstance(obj, (View, Rope)):
        bytes(obj)
        len(obj)
    elif isinstance(obj, ByteBuffer):
        bytes(obj.peek())
        obj.write(b"x" * min(obj.free, 3))


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_truncated_pickles_fail_cleanly(proto):
    for obj in _samples():
        data = pickle.dumps(obj, protocol=proto)
        for n in range(len(data)):
            try:
                _check_loaded(_load(data[:n]))
            except Exception:  # noqa: BLE001 - any clean Python error is the point
                pass


@given(st.sampled_from(range(5)), st.sampled_from(list(PROTOCOLS)),
       st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=4))
def test_mutated_pickles_fail_cleanly(which, proto, edits):
    data = bytearray(pickle.dumps(_samples()[which], protocol=proto))
    for pos, val in edits:
        data[pos % len(data)] = val
    try:
        obj = _load(bytes(data))
    except Exception:  # noqa: BLE001
        return
    _check_loaded(obj)


@given(st.sampled_from(range(5)), st.lists(st.integers(0, 255), max_size=8))
def test_mutated_out_of_band_buffers(which, junk):
    data, bufs = oob_dumps(_samples()[which])
    # the consumer hands back other buffers than the pickle made: any sizes
    other = [bytes(junk)] * len(bufs)
    try:
        obj = _load(data, buffers=other)
    except Exception:  # noqa: BLE001
        return
    _check_loaded(obj)


def test_reconstructors_validate_their_arguments():
    vp, rp, bp = _core._view_from_pickle, _core._rope_from_pickle, _core._bytebuffer_from_pickle
    # argument counts
    for f, n in ((vp, 2), (rp, 2), (bp, 4)):
        for k in range(6):
            if k != n:
                with pytest.raises(TypeError, match="exactly"):
                    f(*([b"x"] * k))
    # View
    with pytest.raises(TypeError, match="not a View type"):
        vp(bytes, b"x")
    with pytest.raises(TypeError, match="not a View type"):
        vp("View", b"x")
    with pytest.raises(TypeError):
        vp(View, "str")
    with pytest.raises(TypeError):
        vp(View, 5)
    assert type(vp(Tagged, b"ok")) is Tagged and vp(View, memoryview(b"ok")) == b"ok"
    gone = pickle.PickleBuffer(b"released")
    gone.release()
    with pytest.raises(ValueError):
        vp(View, gone)
    with pytest.raises(ValueError):
        rp((b"a", gone), 4)
    with pytest.raises(ValueError):
        bp(gone, 16, 0, "heap")
    # Rope
    with pytest.raises(TypeError, match="tuple"):
        rp([b"a"], 16)
    with pytest.raises(TypeError, match="part 1"):
        rp((b"a", "s"), 16)
    with pytest.raises(TypeError, match="part 0"):
        rp((1,), 16)
    with pytest.raises(TypeError, match="max_segments"):
        rp((b"a",), 16.0)
    with pytest.raises(TypeError, match="max_segments"):
        rp((b"a",), True)
    with pytest.raises(ValueError, match="at least 2"):
        rp((b"a",), 1)
    with pytest.raises(OverflowError):
        rp((b"a",), 10**30)
    assert rp((), 2) == b"" and rp((b"a", bytearray(b"b")), 2) == b"ab"
    # ByteBuffer
    with pytest.raises(TypeError, match="capacity"):
        bp(b"x", "8", 0, "heap")
    with pytest.raises(TypeError, match="headroom"):
        bp(b"x", 8, None, "heap")
    with pytest.raises(ValueError, match="capacity must be >= 1"):
        bp(b"", 0, 0, "heap")
    with pytest.raises(ValueError, match="headroom >= 0"):
        bp(b"", 8, -1, "heap")
    with pytest.raises(TypeError, match="storage"):
        bp(b"x", 8, 0, b"heap")
    with pytest.raises(ValueError, match="storage"):
        bp(b"x", 8, 0, "stack")
    with pytest.raises(ValueError, match="do not fit"):
        bp(b"x" * 9, 8, 0, "heap")
    with pytest.raises(TypeError):
        bp("text", 8, 0, "heap")
    with pytest.raises(TypeError):
        bp(None, 8, 0, "heap")
    b = bp(View(b"xxabcxx", 2, 5), 8, 3, "bytes")
    assert b.peek() == b"abc" and (b.capacity, b.headroom, b.storage) == (8, 3, "bytes")


def test_reduce_ex_protocol_argument():
    v = View(b"abc")
    with pytest.raises(TypeError):
        v.__reduce_ex__("5")
    with pytest.raises(TypeError):
        Rope([b"a"]).__reduce_ex__(None)
    with pytest.raises(TypeError):
        ByteBuffer(4).__reduce_ex__(2.0)
    assert isinstance(v.__reduce_ex__(10**100)[1][1], pickle.PickleBuffer)  # later protocols
    assert v.__reduce_ex__(-1)[1][1] == b"abc"


def test_docstrings_state_the_cost():
    for f in (View.__reduce_ex__, View.__copy__, View.__deepcopy__, Rope.__reduce_ex__,
              Rope.__copy__, Rope.__deepcopy__, ByteBuffer.__reduce_ex__, ByteBuffer.__copy__,
              _core._view_from_pickle, _core._rope_from_pickle, _core._bytebuffer_from_pickle):
        assert "O(" in f.__doc__, f


def test_rope_with_file_segments_pickles_their_bytes_and_copy_keeps_them_unread(tmp_path):
    """A file segment (append_file) is read into memory when pickled -- a
    pickle carries bytes, not a descriptor -- at every protocol; copy.copy
    shares it still unread; deepcopy snapshots it."""
    path = tmp_path / "region"
    path.write_bytes(bytes(range(256)) * 4)
    with open(path, "rb") as f:
        r = Rope([b"head:"])
        r.append_file(f, 10, 700)
    r.append(bytearray(b":tail"))
    want = b"head:" + (bytes(range(256)) * 4)[10:710] + b":tail"
    c = copy.copy(r)
    assert isinstance(c.raw_segments()[1], tuple)  # (FileRegion, offset, length): not read
    assert bytes(c) == want
    for proto in range(pickle.HIGHEST_PROTOCOL + 1):
        r2 = Rope([b"head:"])
        with open(path, "rb") as f:
            r2.append_file(f, 10, 700)
        r2.append(b":tail")
        got = pickle.loads(pickle.dumps(r2, protocol=proto))
        assert bytes(got) == want, proto
        assert len(got.segments()) == 3
    d = copy.deepcopy(r)
    path.write_bytes(b"\0" * 1024)  # the snapshot does not follow the file
    assert bytes(d) == want


def test_closed_bytebuffer_refuses_pickle_and_copy_and_a_wrapped_one_loads_as_heap():
    b = ByteBuffer(64)
    b.write(b"abc")
    b.close()
    for f in (lambda: pickle.dumps(b, 5), lambda: pickle.dumps(b, 2),
              lambda: copy.copy(b), lambda: copy.deepcopy(b)):
        with pytest.raises(ValueError, match="closed"):
            f()
    mem = bytearray(32)
    with ByteBuffer.wrap(mem) as w:
        w.write(b"shared")
        got = pickle.loads(pickle.dumps(w, 5))
        assert got.storage == "heap" and got.peek() == b"shared" and got.capacity == 32
