"""Building a message in a ByteBuffer (issue 14, parts 3 and 4): headroom,
prepend(), and take_bytes() -- bytes without the last copy.

The differential test runs random operation sequences on a ByteBuffer and on
a Python model of its storage (a bytearray with the two cursors and the
compaction rules written out), and compares the readable bytes, the free
space and every View handed out (which must show its bytes or raise
StaleViewError, never other bytes)."""
import gc
import sys
import tracemalloc

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nocopy import BufferTooSmall, ByteBuffer, Rope, StaleViewError, View
from nocopy.json import dumps_into
from nocopy.pool import Pool

BYTES_HEADER = sys.getsizeof(b"")  # offsetof(PyBytesObject, ob_sval) + 1


# ---- the model ------------------------------------------------------------------------------

class Model:
    """The storage as a bytearray, the cursors, and the rules of buffer.c:
    a compaction moves the readable bytes to the front -- min(rpos, head),
    or head when none --, a write compacts only when the tail is too small,
    a fill (writable()) when the tail is under half the capacity."""

    def __init__(self, cap, head, bstore):
        self.cap, self.head, self.size, self.bstore = cap, head, cap + head, bstore
        self.mem = bytearray(self.size)
        self.r = self.w = head

    @property
    def data(self):
        return bytes(self.mem[self.r:self.w])

    def front(self):
        return self.head if self.r == self.w or self.r > self.head else self.r

    def move(self, drop=False):
        n = 0 if drop else self.w - self.r
        to = self.head if drop else self.front()
        self.mem[to:to + n] = self.mem[self.r:self.w]
        self.r, self.w = to, to + n

    def write(self, data):
        n = len(data)
        if n > self.size - self.w:
            if n > self.size - self.front() - (self.w - self.r):
                raise BufferTooSmall("", n)
            self.move()
        self.mem[self.w:self.w + n] = data
        self.w += n

    def fill(self, data):
        if self.r > self.front() and self.size - self.w < self.cap // 2 + 1:
            self.move()
        k = min(len(data), self.size - self.w)
        self.mem[self.w:self.w + k] = data[:k]
        self.w += k
        return k

    def prepend(self, data):
        n = len(data)
        if n > self.r:
            raise BufferTooSmall("", n)
        self.mem[self.r - n:self.r] = data
        self.r -= n

    def read(self, n):
        out = self.data[:n]
        self.r += len(out)
        return out

    def compact(self):
        if self.r > self.front():
            self.move()

    def clear(self):
        self.move(drop=True)

    def hands_over(self):
        k, size = self.w - self.r, self.size
        if not self.bstore or k == 0:
            return False
        return not (k < size and size + BYTES_HEADER <= 512 and 4 * k <= 3 * size)

    def take_bytes(self):
        out = self.data
        if self.hands_over():
            self.mem = bytearray(self.size)  # fresh storage, cursors at the headroom
            self.r = self.w = self.head
        else:
            self.r = self.w
        return out


_ops = st.lists(st.one_of(
    st.tuples(st.just("write"), st.binary(max_size=40)),
    st.tuples(st.just("fill"), st.binary(min_size=1, max_size=40)),
    st.tuples(st.just("prepend"), st.binary(max_size=24)),
    st.tuples(st.just("read"), st.integers(0, 40)),
    st.tuples(st.just("consume"), st.integers(0, 40)),
    st.tuples(st.just("compact"), st.none()),
    st.tuples(st.just("clear"), st.none()),
    st.tuples(st.just("take_bytes"), st.none()),
    st.tuples(st.just("peek"), st.none()),
), max_size=50)


def _apply(b, m, views, op, arg):
    """One operation on both; the exception types must agree."""
    if op == "write":
        try:
            exp = m.write(arg)
        except BufferTooSmall as e:
            with pytest.raises(BufferTooSmall) as ei:
                b.write(arg)
            assert ei.value.needed == e.needed == len(arg)
            return
        assert b.write(arg) == len(arg)
    elif op == "fill":
        k = m.fill(arg)
        v = b.writable()
        assert len(v) >= k
        v[:k] = arg[:k]
        b.commit(k)
    elif op == "prepend":
        try:
            m.prepend(arg)
        except BufferTooSmall:
            with pytest.raises(BufferTooSmall) as ei:
                b.prepend(arg)
            assert ei.value.needed == len(arg)
            return
        assert b.prepend(arg) == len(arg)
    elif op == "read":
        exp = m.read(arg)
        v = b.read(arg)
        assert v == exp
        views.append((v, exp))
    elif op == "peek":
        v = b.peek()
        views.append((v, m.data))
    elif op == "consume":
        if arg > len(m.data):
            with pytest.raises(ValueError):
                b.consume(arg)
            return
        m.read(arg)
        b.consume(arg)
    elif op == "compact":
        m.compact()
        b.compact()
    elif op == "clear":
        m.clear()
        b.clear()
    elif op == "take_bytes":
        exp = m.take_bytes()
        got = b.take_bytes()
        assert type(got) is bytes and got == exp
        assert hash(got) == hash(exp)


def _check(b, m, views):
    assert bytes(b.peek()) == m.data
    assert len(b) == b.readable == len(m.data)
    assert b.free == m.size - m.w
    assert b.capacity == m.cap and b.headroom == m.head
    for v, exp in views:
        try:
            got = bytes(v)
        except StaleViewError:
            continue
        assert got == exp, "a View showed bytes other than the ones it was made for"


@given(cap=st.integers(1, 64), head=st.integers(0, 24), bstore=st.booleans(), ops=_ops)
def test_random_ops_against_model(cap, head, bstore, ops):
    b = ByteBuffer(cap, headroom=head, storage="bytes" if bstore else "heap")
    m = Model(cap, head, bstore)
    views = []
    _check(b, m, views)
    for op, arg in ops:
        _apply(b, m, views, op, arg)
        _check(b, m, views)


@given(cap=st.integers(400, 700), head=st.integers(0, 40), ops=_ops)
def test_random_ops_against_model_around_the_small_storage_limit(cap, head, ops):
    """Storage sizes on both sides of pymalloc's 512 bytes: take_bytes()
    hands over or copies by the documented rule."""
    b = ByteBuffer(cap, headroom=head, storage="bytes")
    m = Model(cap, head, True)
    views = []
    for op, arg in ops:
        _apply(b, m, views, op, arg)
        _check(b, m, views)


# ---- headroom -------------------------------------------------------------------------------

def test_constructor_and_properties():
    b = ByteBuffer(100, headroom=16)
    assert (b.capacity, b.headroom, b.free, len(b), b.storage) == (100, 16, 100, 0, "heap")
    assert repr(b) == "<nocopy.ByteBuffer capacity=100 headroom=16 readable=0 free=100>"
    assert repr(ByteBuffer(8)) == "<nocopy.ByteBuffer capacity=8 readable=0 free=8>"
    assert ByteBuffer(8).headroom == 0
    assert ByteBuffer(8, storage="bytes").storage == "bytes"
    assert ByteBuffer(8, storage=None).storage == "heap"
    with pytest.raises(TypeError):
        ByteBuffer(8, 16)  # headroom is keyword-only
    with pytest.raises(ValueError, match="headroom must be >= 0"):
        ByteBuffer(8, headroom=-1)
    with pytest.raises(TypeError, match="headroom must be an integer"):
        ByteBuffer(8, headroom=1.0)
    with pytest.raises(ValueError, match="too large"):
        ByteBuffer(8, headroom=sys.maxsize - 4)
    with pytest.raises(ValueError, match="storage must be"):
        ByteBuffer(8, storage="mmap")
    with pytest.raises(TypeError, match="storage must be"):
        ByteBuffer(8, storage=b"bytes")


def test_capacity_is_the_room_after_the_headroom():
    b = ByteBuffer(10, headroom=4)
    b.write(b"0123456789")
    with pytest.raises(BufferTooSmall) as ei:
        b.write(b"x")
    assert ei.value.needed == 1
    assert bytes(b.peek()) == b"0123456789"
    with pytest.raises(BufferTooSmall):
        b.writable(1)
    # the headroom is for prepend only
    assert b.prepend(b"HEAD") == 4
    assert bytes(b.peek()) == b"HEAD0123456789" and len(b) == 14
    with pytest.raises(BufferTooSmall) as ei:
        b.prepend(b"!")
    assert ei.value.needed == 1
    assert bytes(b.peek()) == b"HEAD0123456789"


@pytest.mark.parametrize("how", ["clear", "compact", "relocate", "take_bytes", "pool"])
def test_headroom_restored(how):
    head = 8
    if how == "pool":
        pool = Pool(32, 1, headroom=head)
        with pool.buffer() as b:
            assert b.headroom == head
            b.write(b"abcdef")
            b.consume(6)
            b.prepend(b"12345678")  # all of the headroom, and more
            b.prepend(b"x" * 6)
        with pool.buffer() as b2:
            assert b2 is b and len(b2) == 0
            assert b2.prepend(b"H" * head) == head
            with pytest.raises(BufferTooSmall):
                b2.prepend(b"!")
            b2.write(b"y" * 32)  # the whole capacity is there too
            assert bytes(b2.peek()) == b"H" * head + b"y" * 32
        return
    cap = 600  # past pymalloc's small blocks: take_bytes() hands the storage over
    b = ByteBuffer(cap, headroom=head, storage="bytes")
    b.write(b"abcdefgh")
    b.consume(3)
    if how == "clear":
        b.clear()
    elif how == "compact":
        b.compact()
        assert bytes(b.peek()) == b"defgh"
    elif how == "relocate":
        m = memoryview(b.peek())
        b.write(b"z" * (cap - 5))  # needs a compaction: the export sends it to fresh storage
        assert m.tobytes() == b"defgh"
        m.release()
        assert bytes(b.peek()) == b"defgh" + b"z" * (cap - 5)
    elif how == "take_bytes":
        assert b.take_bytes() == b"defgh"
    n = len(b)
    assert b.prepend(b"H" * head) == head  # exactly the headroom, no more
    with pytest.raises(BufferTooSmall):
        b.prepend(b"!")
    assert len(b) == n + head
    assert bytes(b.peek(head)) == b"H" * head
    assert b.free == {"clear": cap, "compact": cap - 5, "relocate": 0, "take_bytes": cap}[how]


def test_compaction_keeps_prepended_bytes_below_the_headroom():
    b = ByteBuffer(8, headroom=4)
    b.write(b"abcd")
    b.prepend(b"xy")  # rpos 2
    b.compact()  # never moves them later, into what a prepend will want
    assert bytes(b.peek()) == b"xyabcd"
    assert b.prepend(b"12") == 2
    b.write(b"ef")
    assert bytes(b.peek()) == b"12xyabcdef"


def test_server_response_shape():
    """The issue's example: the body first, the header in front, one View."""
    b = ByteBuffer(1024, headroom=128)
    body = {"temperature": 21.5, "ok": True}
    n = dumps_into(body, b)
    header = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % n
    b.prepend(header)
    out = b.peek()
    assert out == header + b'{"temperature":21.5,"ok":true}'
    assert isinstance(out, View)


# ---- prepend ----------------------------------------------------------------------------------

def test_prepend_accepts_any_buffer():
    for data in (b"ab", bytearray(b"ab"), memoryview(b"xaby")[1:3], View(b"zzabzz", 2, 4),
                 Rope([b"a", b"b"])):
        b = ByteBuffer(8, headroom=4)
        b.write(b"cd")
        assert b.prepend(data) == 2
        assert bytes(b.peek()) == b"abcd"
    b = ByteBuffer(8, headroom=4)
    with pytest.raises(TypeError, match="bytes-like"):
        b.prepend("ab")
    with pytest.raises(TypeError):
        b.prepend()
    assert b.prepend(b"") == 0 and len(b) == 0


def test_prepend_own_bytes():
    b = ByteBuffer(16, headroom=8)
    b.write(b"payload")
    assert b.prepend(b.peek(3)) == 3  # an export of our own storage: moves, then copies
    assert bytes(b.peek()) == b"paypayload"
    with pytest.raises(BufferTooSmall) as ei:
        b.prepend(b)  # the buffer's own readable bytes: 10, room 5
    assert ei.value.needed == 10 and bytes(b.peek()) == b"paypayload"
    b = ByteBuffer(16, headroom=8)
    b.write(b"abc")
    assert b.prepend(b) == 3
    assert bytes(b.peek()) == b"abcabc"


def test_prepend_too_small_changes_nothing():
    b = ByteBuffer(16, headroom=2)
    b.write(b"hello")
    v = b.peek()
    with pytest.raises(BufferTooSmall) as ei:
        b.prepend(b"abc")
    assert ei.value.needed == 3
    assert bytes(v) == b"hello" and bytes(b.peek()) == b"hello"
    assert b.free == 11


def test_prepend_into_fresh_headroom_stales_nothing():
    b = ByteBuffer(16, headroom=8)
    b.write(b"body")
    v = b.peek()
    b.prepend(b"hd")
    b.prepend(b"x")
    assert bytes(v) == b"body", "no View ever showed the headroom"
    assert bytes(b.peek()) == b"xhdbody"


def test_prepend_over_consumed_bytes_stales_their_views():
    b = ByteBuffer(16)
    b.write(b"request!body")
    old = b.read(8)
    assert old == b"request!"
    b.prepend(b"RESPONSE")
    with pytest.raises(StaleViewError):
        bytes(old)
    assert bytes(b.peek()) == b"RESPONSEbody"


def test_prepend_over_bytes_a_read_handed_out_after_an_earlier_prepend():
    b = ByteBuffer(16, headroom=8)
    b.write(b"body")
    b.prepend(b"hdr:")
    r = b.read(4)  # shows bytes that were headroom
    b.prepend(b"HDR:")  # overwrites exactly them
    with pytest.raises(StaleViewError):
        bytes(r)
    assert bytes(b.peek()) == b"HDR:body"


def test_prepend_with_export_held_moves_to_fresh_storage():
    b = ByteBuffer(16)
    b.write(b"oldbody")
    m = memoryview(b.read(3))  # pins the consumed bytes
    b.prepend(b"new")
    assert m.tobytes() == b"old", "an export never changes under its holder"
    assert bytes(b.peek()) == b"newbody"
    m.release()
    # the exported buffer itself
    b = ByteBuffer(16, headroom=4)
    b.write(b"data")
    with memoryview(b) as m:
        b.prepend(b"hd")
        assert m.tobytes() == b"data"
    assert bytes(b.peek()) == b"hddata"


def test_prepend_with_writable_export_held_across_commit():
    b = ByteBuffer(16)
    m = memoryview(b.writable())
    m[:4] = b"abcd"
    b.commit(4)
    b.consume(4)
    b.prepend(b"WXYZ")
    m[:4] = b"evil"  # the exporter still writes into the old storage
    assert bytes(b.peek()) == b"WXYZ"
    m.release()


def test_prepend_stale_peek_view_of_consumed_bytes_via_rope():
    b = ByteBuffer(16)
    b.write(b"abcdef")
    r = Rope([b.read(3)])
    b.prepend(b"XYZ")
    with pytest.raises(StaleViewError):
        bytes(r)


def test_prepend_refused_during_fill():
    b = ByteBuffer(16, headroom=4)
    seen = []

    class Src:
        def readinto(self, v):
            try:
                b.prepend(b"x")
            except RuntimeError:
                seen.append("refused")
            v[:1] = b"a"
            return 1

    b.fill_from(Src())
    assert seen == ["refused"] and bytes(b.peek()) == b"a"


# ---- take_bytes -------------------------------------------------------------------------------

def test_take_bytes_is_a_real_bytes():
    b = ByteBuffer(4096, headroom=64, storage="bytes")
    b.write(b"key")
    b.prepend(b"the ")
    k = b.take_bytes()
    assert type(k) is bytes and k == b"the key"
    assert {k: 1}[b"the key"] == 1 and hash(k) == hash(b"the key")
    assert len(b) == 0 and b.free == 4096 and b.headroom == 64
    # the buffer works on: fresh storage when it needs room
    b.write(b"next")
    b.prepend(b"the ")
    assert b.take_bytes() == b"the next"
    assert k == b"the key", "the bytes handed over never change"


def test_take_bytes_views_go_stale():
    b = ByteBuffer(4096, storage="bytes")
    b.write(b"hello world")
    r = b.read(6)
    p = b.peek()
    w = b.writable()
    t = b.take_bytes()
    assert t == b"world"
    for v in (r, p, w):
        with pytest.raises(StaleViewError):
            bytes(v)
    b.write(b"XXXXXXXXXXX")
    assert t == b"world"
    for v in (r, p):
        with pytest.raises(StaleViewError):
            bytes(v)


def test_take_bytes_with_export_held_copies():
    b = ByteBuffer(4096, storage="bytes")
    b.write(b"pinned bytes")
    m = memoryview(b.peek())
    t = b.take_bytes()
    assert t == b"pinned bytes" and len(b) == 0
    b.write(b"other")
    assert m.tobytes() == b"pinned bytes"
    m.release()


def test_take_bytes_empty_and_heap():
    b = ByteBuffer(64, storage="bytes")
    assert b.take_bytes() == b""
    b.write(b"x")
    v = b.peek()
    assert b.take_bytes() == b"x"
    h = ByteBuffer(64)
    h.write(b"copy")
    hv = h.peek()
    assert h.take_bytes() == b"copy" and len(h) == 0
    assert bytes(hv) == b"copy", "a copy moves nothing: views stay valid"
    with pytest.raises(TypeError):
        h.take_bytes(1)


def test_take_bytes_with_every_writer():
    """write, writable+commit, dumps_into, fill_from, prepend: all work on
    bytes storage, before and after a hand-over."""
    import io
    b = ByteBuffer(2048, headroom=32, storage="bytes")
    for _ in range(3):
        n = dumps_into({"a": [1, 2, 3]}, b)
        b.write(b"|")
        v = b.writable(3)
        v[:] = b"abc"
        b.commit(3)
        assert b.fill_from(io.BytesIO(b"+src")) == 4
        b.prepend(b"%d:" % n)
        assert b.take_bytes() == b'%d:{"a":[1,2,3]}|abc+src' % n


def test_take_bytes_after_take_bytes_then_every_room_path():
    import io

    from nocopy.io import Reader
    b = ByteBuffer(1024, headroom=8, storage="bytes")
    b.write(b"x" * 1000)
    assert len(b.take_bytes()) == 1000
    assert b.free == 1024
    assert list(b.iterlines(io.BytesIO(b"a\nb\n"))) == [b"a", b"b"]
    b.write(b"y" * 1000)
    b.take_bytes()
    assert b.compact() is None and b.free == 1024
    b.commit(3)
    assert bytes(b.peek()) == b"\0\0\0"
    b.write(b"z" * 1000)
    b.take_bytes()
    with memoryview(b) as m:
        assert m.nbytes == 0
    v = b.writable()
    assert len(v) == 1024
    r = Reader(io.BytesIO(b"hello\nworld"), 64)
    assert r.readline() == b"hello\n"


def test_take_bytes_payload_allocated_once():
    """16 MiB: building in bytes storage and taking it peaks at about one
    payload; bytes(bytearray) peaks at two."""
    n = 16 << 20
    src = b"\xab" * n
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        b = ByteBuffer(n, storage="bytes")
        b.write(src)
        out = b.take_bytes()
        _, peak = tracemalloc.get_traced_memory()
        assert type(out) is bytes and len(out) == n and out == src
        assert peak < n * 1.05, f"peak {peak} for a payload of {n}"
        del b
        del out
        tracemalloc.reset_peak()
        ba = bytearray(n)
        ba[:] = src
        out2 = bytes(ba)
        _, peak2 = tracemalloc.get_traced_memory()
        assert peak2 > n * 1.9, "the stdlib way holds two copies at its peak"
        del out2, ba
    finally:
        tracemalloc.stop()


def test_take_bytes_hands_over_the_storage_itself():
    """The result is the storage object: tracemalloc sees no new block of
    the payload's size during take_bytes()."""
    n = 1 << 20
    body = b"q" * (n - 100)
    tracemalloc.start()  # first: the storage's block is traced, its shrink too
    try:
        b = ByteBuffer(n, headroom=64, storage="bytes")
        b.write(body)
        b.prepend(b"h" * 64)
        tracemalloc.reset_peak()
        cur0 = tracemalloc.get_traced_memory()[0]
        assert cur0 > n, "the storage is traced"
        out = b.take_bytes()
        cur1, peak = tracemalloc.get_traced_memory()
        assert peak - cur0 < 4096, "no payload-sized allocation"
        assert cur1 <= cur0, "the storage shrank in place into the result"
    finally:
        tracemalloc.stop()
    assert out == b"h" * 64 + b"q" * (n - 100)


def test_steady_response_loop_allocates_nothing():
    """The server shape, repeated: clear, body, header in front, send the
    one View -- no allocation per response once warm (the View of the
    response comes from the free list, its int results are cached)."""
    import io
    b = ByteBuffer(4096, headroom=64)
    body = b"x" * 200
    hdr = b"HTTP/1.1 200 OK\r\nContent-Length: 200\r\n\r\n"
    sink = io.BytesIO(bytearray(1 << 20))

    def loop(n):
        for _ in range(n):
            b.clear()
            b.write(body)
            b.prepend(hdr)
            sink.seek(0)
            sink.write(b.peek())

    loop(100)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        loop(10_000)
        cur, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert cur - base < 1024 and peak - base < 4096, (cur - base, peak - base)
    assert sink.getvalue()[:len(hdr) + 200] == hdr + body


def test_take_bytes_stales_rope_segments_and_views_after_the_bytes_are_gone():
    """After a hand-over the storage belongs to the bytes object (freed once
    dropped): every View and Rope segment of it must raise, never read it."""
    b = ByteBuffer(8192, headroom=16, storage="bytes")
    b.write(b"0123456789" * 800)
    r = Rope([b.peek(100), b"tail"])
    v = b.read(50)
    sub = v[10:20]
    it = v.itersplit(b"5")
    t = b.take_bytes()
    assert t[:10] == b"0123456789" and len(t) == 7950
    del t
    gc.collect()
    for op in (lambda: bytes(r), lambda: r.find(b"1"), lambda: r == b"x", lambda: r[0],
               lambda: list(r), lambda: r.segments(), lambda: bytes(v), lambda: v.find(b"1"),
               lambda: bytes(sub), lambda: next(it), lambda: memoryview(v), lambda: v[0:5]):
        with pytest.raises(StaleViewError):
            op()
    b.write(b"new")
    with pytest.raises(StaleViewError):
        bytes(v)


def test_empty_prepend_does_not_forget_consumed_views():
    """Found by the long hypothesis run: prepend(b"") once marked the
    consumed bytes as never shown, so the next prepend kept a read() View
    of them valid while it overwrote them."""
    b = ByteBuffer(1)
    b.write(b"\x01")
    v = b.read(1)
    assert b.prepend(b"") == 0
    b.prepend(b"\x00")
    with pytest.raises(StaleViewError):
        bytes(v)
