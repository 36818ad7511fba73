"""nocopy.dask: View and Rope through distributed's serialization, in this
process (hypothesis against bytes as the oracle) and on one real
LocalCluster of two worker processes."""
import gc
import os
import sys
import tracemalloc

import pytest
from hypothesis import given, strategies as st

# distributed: the `dask` extra, which the `test` extra includes (not a skip:
# a venv without it fails here)
from dask.base import tokenize
from dask.sizeof import sizeof
from distributed import Client, LocalCluster
from distributed.protocol import dumps, loads, to_serialize
from distributed.protocol.serialize import dask_serialize, deserialize, serialize

import nocopy.dask
from nocopy import ByteBuffer, Rope, StaleViewError, View


# -- in this process -----------------------------------------------------------

@st.composite
def parts(draw):
    """Rope parts of every buffer kind, some windows inside larger buffers,
    empty ones included."""
    out = []
    for data in draw(st.lists(st.binary(max_size=40), max_size=30)):
        kind = draw(st.sampled_from(["bytes", "bytearray", "memoryview", "window", "view"]))
        if kind == "bytes":
            out.append(data)
        elif kind == "bytearray":
            out.append(bytearray(data))
        elif kind == "memoryview":
            out.append(memoryview(data))
        else:
            pad = draw(st.integers(0, 9))
            big = bytearray(b"\xee" * pad + data + b"\xdd" * draw(st.integers(0, 9)))
            out.append(memoryview(big)[pad:pad + len(data)] if kind == "window"
                       else View(big, pad, pad + len(data)))
    return out


def over_the_wire(obj):
    """distributed's whole message path, with the frames turned into bytes
    as a socket would deliver them (no sharing with the sender)."""
    frames = dumps({"x": to_serialize(obj)})
    return loads([bytes(f) for f in frames])["x"]


@given(parts(), st.integers(2, 64))
def test_rope_round_trip_keeps_bytes_and_segments(ps, max_segments):
    r = Rope(ps, max_segments=max(max_segments, 2))
    want = b"".join(bytes(p) for p in ps)
    for back in (deserialize(*serialize(r, serializers=("dask",), on_error="raise")),
                 over_the_wire(r)):
        assert type(back) is Rope
        assert back == want and bytes(back) == want
        assert [bytes(s) for s in back.segments()] == [bytes(s) for s in r.segments()]
        assert back.max_segments == r.max_segments
        assert all(s.readonly for s in back.segments())
        if len(want):
            assert back.find(want[-1:]) == want.find(want[-1:])


@given(st.binary(max_size=80), st.integers(-90, 90), st.integers(-90, 90),
       st.sampled_from([bytes, bytearray]))
def test_view_round_trip_keeps_window_and_readonly(data, start, stop, kind):
    v = View(kind(data), start, stop)
    for back in (deserialize(*serialize(v, serializers=("dask",), on_error="raise")),
                 over_the_wire(v)):
        assert type(back) is View
        assert back == data[start:stop] and bytes(back) == data[start:stop]
        assert back.readonly is (kind is bytes)


@given(st.lists(st.integers(0, 300), max_size=40), st.integers(0, 700))
def test_coalesce_joins_runs_of_small_segments_only(sizes, coalesce):
    ps = [bytes([i % 251]) * n for i, n in enumerate(sizes)]
    r = Rope(ps, max_segments=64)
    frames = nocopy.dask._frames(r.segments(), coalesce)
    assert b"".join(bytes(f) for f in frames) == b"".join(ps)
    if coalesce == 0:
        assert len(frames) == r.nsegments
    else:
        # every frame but the last reaches `coalesce`, and is one segment
        # whenever that segment alone reaches it from the start of a frame
        assert all(len(f) >= coalesce for f in frames[:-1])
        seg_sizes = [len(s) for s in r.segments()]
        assert len(frames) <= max(1, sum(1 for n in seg_sizes if n >= coalesce)
                                  + -(-sum(seg_sizes) // coalesce))
    back = deserialize(*serialize(r, serializers=("dask",), on_error="raise"))
    assert back == b"".join(ps)


def test_coalesce_argument_is_checked():
    for bad, exc in ((-1, ValueError), (1.5, TypeError), ("8", TypeError), (True, TypeError)):
        with pytest.raises(exc, match="coalesce"):
            nocopy.dask.NocopyWorkerPlugin(bad)


def test_empty_rope_and_view_travel():
    for obj, want in ((Rope(), b""), (View(b""), b""), (Rope([b"", b""]), b"")):
        back = over_the_wire(obj)
        assert type(back) is type(obj) and back == want


def test_serialize_copies_nothing_and_shares_the_segments():
    # 64 segments of 256 KiB: the frames are exports of the segments
    store = bytearray(os.urandom(1 << 16) * 256)
    r = Rope([View(store, i << 18, (i + 1) << 18) for i in range(64)], max_segments=64)
    gc.collect()
    tracemalloc.start()
    try:
        header, frames = serialize(r, serializers=("dask",), on_error="raise")
        back = deserialize(header, frames)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 128 << 10, peak          # of 16 MiB: bookkeeping only
    assert len(frames) == 64 and back.nsegments == 64
    store[5] ^= 0xFF                       # the in-process copy shares memory
    assert back[5] == store[5]


def test_stale_borrowed_view_raises_at_serialization():
    bb = ByteBuffer(64)
    bb.write(b"hello world")
    v = bb.read(5)
    bb.clear()
    bb.write(b"HELLO WORLD")               # the same bytes now hold other data
    with pytest.raises(StaleViewError):
        dask_serialize.dispatch(View)(v)
    with pytest.raises(TypeError, match="Could not serialize object of type View") as e:
        serialize(v, serializers=("dask", "pickle"), on_error="raise")
    assert isinstance(e.value.__cause__, StaleViewError)


def test_stale_rope_segment_raises_at_serialization():
    bb = ByteBuffer(64)
    bb.write(b"0123456789")
    r = Rope([b"ab", bb.read(4)])
    bb.clear()
    bb.write(b"xxxxxxxxxx")
    with pytest.raises(StaleViewError):
        dask_serialize.dispatch(Rope)(r)
    with pytest.raises(TypeError) as e:
        serialize(r, serializers=("dask", "pickle"), on_error="raise")
    assert isinstance(e.value.__cause__, StaleViewError)


def test_frames_waiting_to_be_sent_keep_their_bytes():
    # A borrowed segment serialized, then its ByteBuffer cleared and
    # refilled before the frames go out: the exports taken at
    # serialization make the buffer move to fresh storage, so the frames
    # still hold the bytes the Rope was made of.
    bb = ByteBuffer(64)
    bb.write(b"payload-1")
    r = Rope([b"<", bb.read(9), b">"])
    header, frames = serialize(r, serializers=("dask",), on_error="raise")
    bb.clear()
    bb.write(b"XXXXXXXXXXXXXXXX")
    assert bytes(deserialize(header, [bytes(f) for f in frames])) == b"<payload-1>"


def test_view_subclass_is_left_to_pickle():
    class Sub(View):
        pass
    with pytest.raises(NotImplementedError):
        dask_serialize.dispatch(Sub)(Sub(b"abc"))


def test_sizeof_counts_the_payload():
    big = bytes(1 << 20)
    assert sizeof(View(big)) >= 1 << 20
    assert sizeof(Rope([big, big])) >= 2 << 20
    bb = ByteBuffer(16)
    bb.write(b"abc")
    v = bb.read(3)
    bb.clear()
    assert 0 < sizeof(v) < 1024             # stale: only the object itself


@given(parts(), parts())
def test_tokens_follow_the_content(ps, qs):
    r, q = Rope(ps), Rope(qs)
    same = bytes(r) == bytes(q)
    assert (tokenize(r) == tokenize(q)) is same
    assert tokenize(r) == tokenize(Rope(ps))            # deterministic
    assert tokenize(View(bytes(r))) == tokenize(View(bytearray(bytes(r))))
    assert (tokenize(View(bytes(r))) == tokenize(View(bytes(q)))) is same
    assert tokenize(View(bytes(r))) != tokenize(r)      # a View is not a Rope


def test_token_of_stale_view_or_segment_raises():
    bb = ByteBuffer(16)
    bb.write(b"abcdef")
    v = bb.read(3)
    r = Rope([b"x", bb.read(3)])
    bb.clear()
    bb.write(b"ABCDEF")
    with pytest.raises(StaleViewError):
        tokenize(v)
    with pytest.raises(StaleViewError):
        tokenize(r)


# -- on a real cluster -----------------------------------------------------------

def worker_has_nocopy_dask():
    return "nocopy.dask" in sys.modules, nocopy.dask._coalesce


def mirrored(r):
    """A task on the worker: a new Rope of the same segments in reverse
    order, plus one more (still no join); and how many segments arrived."""
    out = Rope(reversed(r.segments()), max_segments=max(r.nsegments + 1, 2))
    out.append(b"!")
    return r.nsegments, out


@pytest.fixture(scope="module")
def client():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=":0", scheduler_port=0) as cluster, \
            Client(cluster) as c:
        nocopy.dask.install(c)
        yield c


def test_install_reaches_every_worker(client):
    assert set(client.run(worker_has_nocopy_dask).values()) == {(True, 0)}


def test_rope_of_many_segments_through_the_cluster(client):
    ps = [os.urandom(97 + i % 300) for i in range(3000)]
    r = Rope(ps, max_segments=4096)
    want = b"".join(ps)
    a, b = list(client.scheduler_info()["workers"])[:2]
    fut = client.scatter(r, workers=[a])
    # a task on the other worker: the Rope travels worker to worker
    seen, back = client.submit(mirrored, fut, workers=[b], allow_other_workers=False).result()
    assert seen == 3000
    assert type(back) is Rope
    assert back == b"".join(reversed(ps)) + b"!"
    assert back.nsegments == 3001           # not joined anywhere on the way
    assert client.gather(fut) == want
    assert client.submit(len, fut, workers=[b]).result() == len(want)


def test_view_through_the_cluster(client):
    data = bytearray(os.urandom(1 << 16))
    v = View(data, 100, -100)
    fut = client.scatter(v)
    back = client.submit(lambda x: x[1:], fut).result()
    assert type(back) is View and back == bytes(data[101:-100])
    assert client.gather(fut) == bytes(data[100:-100])


def test_stale_view_is_refused_by_scatter(client):
    bb = ByteBuffer(64)
    bb.write(b"hello world")
    v = bb.read(5)
    bb.clear()
    bb.write(b"HELLO WORLD")
    with pytest.raises(StaleViewError):
        client.scatter(v)                   # hashing the data for its key
    with pytest.raises(TypeError) as e:
        client.scatter(v, hash=False)       # serializing it
    assert isinstance(e.value.__cause__, StaleViewError)


def test_coalesce_install_reaches_workers_and_joins_frames(client):
    nocopy.dask.install(client, coalesce=1 << 12)
    try:
        assert set(client.run(worker_has_nocopy_dask).values()) == {(True, 1 << 12)}
        r = Rope([os.urandom(100) for _ in range(500)], max_segments=1024)
        sent = [bytes(f) for f in nocopy.dask._frames(r.segments(), 1 << 12)]
        assert len(sent) == 13              # 12 x 41 segments (4,100 bytes) + 800 bytes
        seen, back = client.submit(mirrored, client.scatter(r)).result()
        assert seen == 13
        assert back == b"".join(reversed(sent)) + b"!"
        # the worker coalesced its answer the same way: 800 + 4,100 joined,
        # 11 segments of 4,100 as they are, b"!"
        assert back.nsegments == 13
    finally:
        nocopy.dask.install(client)
    assert set(client.run(worker_has_nocopy_dask).values()) == {(True, 0)}


def test_a_worker_that_joins_later_gets_the_serializers(client):
    # install() is a worker plugin the scheduler keeps: a worker started
    # after it imports nocopy.dask when it registers.  (Last in this file:
    # it grows the module's cluster to three workers.)
    before = set(client.scheduler_info()["workers"])
    client.cluster.scale(3)
    client.wait_for_workers(3, timeout=60)
    (new,) = set(client.scheduler_info()["workers"]) - before
    assert client.run(worker_has_nocopy_dask, workers=[new]) == {new: (True, 0)}
    ps = [os.urandom(50) for _ in range(200)]
    seen, back = client.submit(mirrored, client.scatter(Rope(ps), workers=[new]),
                               workers=[new], allow_other_workers=False).result()
    assert seen == 200 and back == b"".join(reversed(ps)) + b"!"
