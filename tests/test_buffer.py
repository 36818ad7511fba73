"""ByteBuffer: cursors, every method and its error paths, the borrowed-view
(stale epoch) rule, buffer export, and a model-based hypothesis run against a
plain bytearray."""
import array
import io
import os
import socket

import pytest
from hypothesis import given, strategies as st

from nocopy import BufferTooSmall, ByteBuffer, LimitOverrun, StaleViewError, View


def filled(data, capacity=None):
    b = ByteBuffer(capacity or max(1, len(data)))
    b.write(data)
    return b


# ---- construction and properties -------------------------------------------

def test_defaults_and_properties():
    b = ByteBuffer()
    assert b.capacity == 65536 and b.free == 65536 and b.readable == 0 and len(b) == 0
    b = ByteBuffer(capacity=10)
    assert b.write(b"abc") == 3
    assert (b.capacity, b.free, b.readable, len(b)) == (10, 7, 3, 3)
    assert repr(b) == "<nocopy.ByteBuffer capacity=10 readable=3 free=7>"


@pytest.mark.parametrize("cap,exc", [(-1, ValueError), (0, ValueError), ("8", TypeError),
                                     (1.5, TypeError), (True, TypeError), (None, TypeError),
                                     (2 ** 80, ValueError)])
def test_bad_capacity(cap, exc):
    with pytest.raises(exc):
        ByteBuffer(cap)


def test_capacity_index_protocol():
    class I:
        def __index__(self):
            return 5
    assert ByteBuffer(I()).capacity == 5


# ---- write -------------------------------------------------------------------------

@pytest.mark.parametrize("data", [b"hello", bytearray(b"hello"), memoryview(b"hello"),
                                  array.array("B", b"hello"), View(b"xhellox", 1, 6)])
def test_write_any_buffer(data):
    b = ByteBuffer(8)
    assert b.write(data) == 5
    assert bytes(b.peek()) == b"hello"


def test_write_offset_length_forms():
    b = ByteBuffer(32)
    assert b.write(b"0123456789", 2) == 8
    assert b.write(b"0123456789", 2, 3) == 3
    assert b.write(b"0123456789", offset=9, length=1) == 1
    assert b.write(b"0123456789", length=2) == 2
    assert b.write(b"0123456789", 3, None) == 7
    assert b.write(b"0123456789", 10) == 0
    assert bytes(b.read()) == b"23456789" + b"234" + b"9" + b"01" + b"3456789"


@pytest.mark.parametrize("args,exc", [
    ((b"abc", -1), ValueError), ((b"abc", 4), ValueError), ((b"abc", 1, 3), ValueError),
    ((b"abc", 0, -1), ValueError), ((b"abc", "1"), TypeError), ((b"abc", 0, 1.0), TypeError),
    (("abc",), TypeError), ((None,), TypeError), ((b"abc", 0, 1, 2), TypeError)])
def test_write_bad_arguments(args, exc):
    b = ByteBuffer(8)
    b.write(b"xy")
    with pytest.raises(exc):
        b.write(*args)
    assert bytes(b.peek()) == b"xy" and b.free == 6


def test_write_bad_keywords():
    b = ByteBuffer(8)
    with pytest.raises(TypeError, match="unexpected keyword"):
        b.write(b"a", size=1)
    with pytest.raises(TypeError, match="multiple values"):
        b.write(b"a", 0, offset=0)
    with pytest.raises(TypeError, match="missing"):
        b.write(offset=0)


def test_write_too_small_writes_nothing():
    b = ByteBuffer(8)
    b.write(b"abcdef")
    with pytest.raises(BufferTooSmall) as ei:
        b.write(b"xyz")
    assert ei.value.needed == 3
    assert bytes(b.peek()) == b"abcdef" and b.free == 2
    b.consume(2)
    view = b.peek()
    with pytest.raises(BufferTooSmall) as ei:
        b.write(b"123456789")  # would not fit even compacted: nothing moves
    assert ei.value.needed == 9
    assert bytes(view) == b"cdef"


def test_write_compacts_when_that_makes_it_fit():
    b = ByteBuffer(8)
    b.write(b"abcdef")
    old = b.read(4)
    b.write(b"123456")
    assert bytes(b.read()) == b"ef123456"
    with pytest.raises(StaleViewError):
        bytes(old)


def test_write_from_own_storage():
    b = ByteBuffer(16)
    b.write(b"abcd")
    b.write(b.peek())  # overlapping source: memmove
    assert bytes(b.read()) == b"abcdabcd"


# ---- writable / commit ------------------------------------------------------------

def test_writable_commit():
    b = ByteBuffer(10)
    w = b.writable()
    assert len(w) == 10 and not w.readonly
    n = io.BytesIO(b"hello").readinto(w)
    b.commit(n)
    assert bytes(b.peek()) == b"hello"
    with pytest.raises(StaleViewError):
        w[0] = 1  # committed: the old free-space view must not overwrite data
    w2 = b.writable(3)
    assert len(w2) == 3
    w2[:] = b"xyz"
    b.commit(2)
    assert bytes(b.read()) == b"helloxy"


def test_writable_reuses_dropped_view():
    b = ByteBuffer(10)
    ident = id(b.writable())
    assert id(b.writable()) == ident
    keep = b.writable()
    other = b.writable()
    assert other is not keep


def test_writable_n_compacts_or_raises():
    b = ByteBuffer(8)
    b.write(b"abcdef")
    b.consume(4)
    w = b.writable(5)
    assert len(w) == 5 and bytes(b.peek()) == b"ef"
    with pytest.raises(BufferTooSmall) as ei:
        b.writable(7)
    assert ei.value.needed == 7
    for bad, exc in ((-1, ValueError), ("2", TypeError)):
        with pytest.raises(exc):
            b.writable(bad)
    with pytest.raises(TypeError):
        b.writable(1, 2)


def test_writable_compacts_when_tail_is_short():
    b = ByteBuffer(8)
    b.write(b"abcdefg")
    b.consume(6)
    assert len(b.writable()) == 7  # compacted: 1 unread byte moved to the front
    assert bytes(b.peek()) == b"g"


@pytest.mark.parametrize("n,exc", [(11, ValueError), (-1, ValueError), ("1", TypeError),
                                   (None, TypeError)])
def test_commit_bad(n, exc):
    b = ByteBuffer(10)
    with pytest.raises(exc):
        b.commit(n)
    assert len(b) == 0


# ---- fill_from ----------------------------------------------------------------------

def test_fill_from_file_fd_socket(tmp_path):
    p = tmp_path / "f"
    p.write_bytes(b"file data")
    b = ByteBuffer(64)
    with open(p, "rb") as f:
        assert b.fill_from(f) == 9
        assert b.fill_from(f) == 0
    fd = os.open(p, os.O_RDONLY)
    try:
        assert b.fill_from(fd) == 9
        assert b.fill_from(fd) == 0
    finally:
        os.close(fd)
    a, c = socket.socketpair()
    with a, c:
        a.sendall(b"sock")
        assert b.fill_from(c) == 4
        a.shutdown(socket.SHUT_WR)
        assert b.fill_from(c) == 0
    assert bytes(b.read()) == b"file datafile datasock"


def test_fill_from_non_blocking_returns_none():
    b = ByteBuffer(16)
    a, c = socket.socketpair()
    with a, c:
        c.setblocking(False)
        assert b.fill_from(c) is None
    r, w = os.pipe()
    try:
        os.set_blocking(r, False)
        assert b.fill_from(r) is None
    finally:
        os.close(r)
        os.close(w)

    class NoData:
        def readinto(self, buf):
            return None
    assert b.fill_from(NoData()) is None
    assert len(b) == 0 and b.free == 16


class Lying:
    def __init__(self, ret):
        self.ret = ret

    def readinto(self, buf):
        return self.ret


@pytest.mark.parametrize("ret,exc", [(100, OSError), (-1, OSError), ("3", TypeError),
                                     (3.0, TypeError)])
def test_fill_from_untrusted_count(ret, exc):
    b = ByteBuffer(8)
    b.write(b"ab")
    with pytest.raises(exc):
        b.fill_from(Lying(ret))
    assert bytes(b.peek()) == b"ab" and b.free == 6


def test_fill_from_bad_sources():
    b = ByteBuffer(8)
    with pytest.raises(TypeError, match="cannot read from 'str'"):
        b.fill_from("path")
    with pytest.raises(ValueError):
        b.fill_from(-3)
    with pytest.raises(TypeError):
        b.fill_from(True)
    with pytest.raises(OSError):
        b.fill_from(987654)  # EBADF


def test_fill_from_full_buffer():
    b = filled(b"12345678")
    with pytest.raises(BufferTooSmall) as ei:
        b.fill_from(io.BytesIO(b"x"))
    assert ei.value.needed == 1


def test_fill_from_reentrant_source_refused():
    b = ByteBuffer(8)
    b.write(b"ab")
    errors = []

    class Evil:
        def readinto(self, buf):
            for op in (b.clear, b.compact, lambda: b.write(b"x"), lambda: b.commit(1),
                       lambda: b.fill_from(io.BytesIO(b"z")), lambda: b.read(1)):
                try:
                    op()
                except RuntimeError as e:
                    errors.append(str(e))
            buf[:2] = b"cd"
            return 2
    assert b.fill_from(Evil()) == 2
    assert len(errors) == 6 and "being filled" in errors[0]
    assert bytes(b.peek()) == b"abcd"


def test_fill_from_source_keeping_an_export():
    b = ByteBuffer(8)
    kept = []

    class Keeper:
        def readinto(self, buf):
            m = memoryview(buf)
            m[:3] = b"abc"
            kept.append(m)
            return 3
    b.fill_from(Keeper())
    kept[0][:3] = b"XYZ"  # writes into storage the buffer has left behind
    assert bytes(b.peek()) == b"abc"


# ---- reading ------------------------------------------------------------------------

def test_peek_read_consume():
    b = filled(b"0123456789", 16)
    assert bytes(b.peek()) == b"0123456789" and bytes(b.peek(3)) == b"012"
    assert bytes(b.peek(100)) == b"0123456789" and bytes(b.peek(None)) == b"0123456789"
    assert bytes(b.read(2)) == b"01"
    b.consume(3)
    assert bytes(b.read(100)) == b"56789"
    assert bytes(b.read()) == b"" and len(b) == 0
    for meth in (b.peek, b.read):
        with pytest.raises(ValueError):
            meth(-1)
        with pytest.raises(TypeError):
            meth("1")
        with pytest.raises(TypeError):
            meth(1, 2)
    with pytest.raises(ValueError, match="only 0 readable"):
        b.consume(1)
    with pytest.raises(TypeError):
        b.consume(None)


def test_views_are_readonly_flagged_correctly_and_obj_none():
    b = filled(b"abc")
    v = b.peek()
    assert v.obj is None and v.nbytes == 3


@given(st.binary(max_size=40), st.binary(max_size=4), st.integers(-50, 50),
       st.one_of(st.none(), st.integers(-50, 50)))
def test_find_matches_bytes(data, sub, start, end):
    b = ByteBuffer(64)
    b.write(b"garbage")
    b.consume(7)  # readable region does not start at offset 0
    b.write(data)
    assert b.find(sub, start, end) == data.find(sub, start, end)
    assert b.find(sub) == data.find(sub)


def test_find_bad_args():
    b = filled(b"abc")
    with pytest.raises(TypeError):
        b.find("a")
    with pytest.raises(TypeError):
        b.find()
    with pytest.raises(TypeError):
        b.find(b"a", "x")


def test_read_until():
    b = ByteBuffer(32)
    b.write(b"GET / HTTP/1.1\r\nHost")
    assert bytes(b.read_until(b"\r\n")) == b"GET / HTTP/1.1\r\n"
    assert b.read_until(b"\r\n") is None and bytes(b.peek()) == b"Host"
    b.write(b": x\r\n")
    assert bytes(b.read_until(b"\r\n", limit=9)) == b"Host: x\r\n"
    with pytest.raises(ValueError):
        b.read_until(b"")
    with pytest.raises(TypeError):
        b.read_until("\n")
    with pytest.raises(ValueError):
        b.read_until(b"\n", limit=-1)
    with pytest.raises(TypeError):
        b.read_until(b"\n", 5)  # limit is keyword-only


def test_read_until_limit_overrun_keeps_data():
    b = ByteBuffer(32)
    b.write(b"abcdefgh")
    assert b.read_until(b"\n", limit=9) is None  # could still arrive within the limit
    with pytest.raises(LimitOverrun) as ei:
        b.read_until(b"\n", limit=8)
    assert bytes(ei.value.partial) == b"abcdefgh"
    assert bytes(b.peek()) == b"abcdefgh"
    b.write(b"\n")
    with pytest.raises(LimitOverrun):
        b.read_until(b"\n", limit=8)  # the line with its delimiter is 9 bytes
    assert bytes(b.read_until(b"\n", limit=9)) == b"abcdefgh\n"


def test_readinto():
    b = filled(b"abcdef")
    out = bytearray(4)
    assert b.readinto(out) == 4 and out == b"abcd"
    assert b.readinto(View(out, 1, 3)) == 2 and out == b"aefd"
    assert b.readinto(out) == 0
    with pytest.raises(TypeError):
        b.readinto(b"immutable")


def test_compact_and_clear():
    b = ByteBuffer(8)
    b.write(b"abcdef")
    v = b.read(2)
    w = b.peek()
    b.compact()
    for stale in (v, w):
        with pytest.raises(StaleViewError):
            bytes(stale)
        with pytest.raises(StaleViewError):
            len(stale)
    assert b.free == 4 and bytes(b.peek()) == b"cdef"
    x = b.peek()
    b.clear()
    assert len(b) == 0 and b.free == 8
    with pytest.raises(StaleViewError):
        x.tobytes()
    b.clear()  # empty: nothing to invalidate
    y = b.writable()
    b.compact()  # read cursor at 0: nothing moves
    assert len(y) == 8


# ---- the borrowed-view rule with held exports ----------------------------------------

def test_held_export_survives_compaction():
    b = ByteBuffer(8)
    b.write(b"abcdefgh")
    v = b.read(4)
    other = b.peek()
    m = memoryview(v)  # export held: its bytes must never change
    b.compact()
    assert m.tobytes() == b"abcd" and bytes(v) == b"abcd"
    assert bytes(other) == b"efgh"  # old storage kept unchanged for every view
    b.write(b"WXYZ")
    assert bytes(b.read()) == b"efghWXYZ"
    assert m.tobytes() == b"abcd" and bytes(v) == b"abcd"
    b.clear()
    assert m.tobytes() == b"abcd"
    m.release()
    b.write(b"12")
    n = b.read(1)
    b.compact()  # no export any more: in place, views go stale
    with pytest.raises(StaleViewError):
        bytes(n)


def test_held_export_of_the_buffer_itself():
    b = ByteBuffer(8)
    b.write(b"abcdef")
    m = memoryview(b)
    assert m.tobytes() == b"abcdef" and not m.readonly
    b.consume(4)
    b.write(b"123456")  # needs compaction: moves to fresh storage
    assert m.tobytes() == b"abcdef"
    assert bytes(b.peek()) == b"ef123456"
    m.release()
    import hashlib
    assert hashlib.sha1(b).hexdigest() == hashlib.sha1(b"ef123456").hexdigest()


def test_writable_view_stale_after_move_to_fresh_storage():
    b = ByteBuffer(8)
    b.write(b"abcdef")
    w = b.writable()
    m = memoryview(b.read(4))
    b.compact()  # moved: the old free-space view must not be usable
    with pytest.raises(StaleViewError):
        w[0] = 1
    m.release()


def test_write_invalidates_writable():
    b = ByteBuffer(8)
    w = b.writable()
    b.write(b"ab")
    with pytest.raises(StaleViewError):
        w[:2] = b"xy"
    assert bytes(b.peek()) == b"ab"


# ---- model-based: random operations against a bytearray ------------------------------

ops = st.lists(st.one_of(
    st.tuples(st.just("write"), st.binary(max_size=20)),
    st.tuples(st.just("read"), st.integers(0, 20)),
    st.tuples(st.just("until"), st.sampled_from([b"\n", b"ab"])),
    st.tuples(st.just("fill"), st.binary(max_size=20)),
    st.tuples(st.just("compact"), st.none()),
    st.tuples(st.just("clear"), st.none()),
    st.tuples(st.just("hold"), st.none()),
), max_size=40)


@given(ops, st.integers(1, 32))
def test_model(seq, cap):
    b = ByteBuffer(cap)
    model = bytearray()
    live = []  # (view, expected bytes, export or None)
    for op, arg in seq:
        if op == "write":
            if len(arg) <= cap - len(model):
                assert b.write(arg) == len(arg)
                model += arg
            else:
                with pytest.raises(BufferTooSmall):
                    b.write(arg)
        elif op == "fill":
            if len(model) == cap:
                with pytest.raises(BufferTooSmall):
                    b.fill_from(io.BytesIO(arg))
            else:
                n = b.fill_from(io.BytesIO(arg))
                assert 0 <= n <= min(len(arg), cap - len(model))
                assert n > 0 or not arg
                model += arg[:n]
        elif op == "read":
            v = b.read(arg)
            exp = bytes(model[:arg])
            del model[:arg]
            assert bytes(v) == exp
            live.append((v, exp, None))
        elif op == "until":
            v = b.read_until(arg)
            i = model.find(arg)
            if i < 0:
                assert v is None
            else:
                exp = bytes(model[:i + len(arg)])
                del model[:i + len(arg)]
                assert bytes(v) == exp
                live.append((v, exp, None))
        elif op == "compact":
            b.compact()
        elif op == "clear":
            b.clear()
            model.clear()
        elif op == "hold":
            v = b.peek()
            live.append((v, bytes(model), memoryview(v)))
        assert len(b) == len(model) and bytes(b.peek()) == bytes(model)
        assert b.free <= cap - len(model)
        # never silently wrong: every live view shows its bytes or is stale
        for v, exp, m in live:
            if m is not None:
                assert bytes(v) == exp and m.tobytes() == exp
            else:
                try:
                    got = bytes(v)
                except StaleViewError:
                    continue
                assert got == exp
    for _, _, m in live:
        if m is not None:
            m.release()


# ---- the C line iterator ----------------------------------------------------------------

def test_iterlines_forms():
    data = b"a\n\nbb\nccc"
    assert [bytes(x) for x in ByteBuffer(8).iterlines(io.BytesIO(data))] == data.split(b"\n")
    assert [bytes(x) for x in ByteBuffer(8).iterlines(io.BytesIO(data), True)] == \
        data.splitlines(keepends=True)
    it = ByteBuffer(8).iterlines(io.BytesIO(data), keepends=False, reuse=True)
    seen = [(id(x), bytes(x)) for x in it]
    assert len({i for i, _ in seen}) == 1 and [s for _, s in seen] == data.split(b"\n")
    b = filled(b"x\ny", 8)
    assert [bytes(x) for x in b.iterlines(None)] == [b"x", b"y"]
    with pytest.raises(TypeError):
        b.iterlines()
    with pytest.raises(TypeError):
        b.iterlines(io.BytesIO(), bad=1)
    with pytest.raises(TypeError):
        b.iterlines(3.5)


def test_iterlines_long_line_limit_overrun_keeps_data():
    b = ByteBuffer(8)
    it = b.iterlines(io.BytesIO(b"ok\n0123456789\nz"))
    assert bytes(next(it)) == b"ok"
    with pytest.raises(LimitOverrun) as ei:
        next(it)
    assert bytes(ei.value.partial) == b"01234567"
    assert bytes(b.peek()) == b"01234567"
    b.consume(8)
    assert [bytes(x) for x in it] == [b"89", b"z"]


def test_iterlines_line_exactly_capacity():
    data = b"1234567\n1234567\n"
    assert [bytes(x) for x in ByteBuffer(8).iterlines(io.BytesIO(data))] == [b"1234567"] * 2
    # an unterminated last line filling the whole buffer: EOF cannot be seen
    b = ByteBuffer(8)
    it = b.iterlines(io.BytesIO(b"1234567\n12345678"))
    assert bytes(next(it)) == b"1234567"
    with pytest.raises(LimitOverrun):
        next(it)
    assert bytes(b.read()) == b"12345678"


def test_iterlines_recycles_only_dropped_views():
    data = b"".join(b"%d\n" % i for i in range(100))
    kept = list(ByteBuffer(1024).iterlines(io.BytesIO(data)))
    assert len({id(x) for x in kept}) == 100
    assert [bytes(x) for x in kept] == data.split(b"\n")[:-1]


def test_iterlines_views_stale_after_refill():
    b = ByteBuffer(8)
    it = b.iterlines(io.BytesIO(b"aa\nbb\ncc\ndd\n"))
    first = next(it)
    keep = memoryview(next(it))  # held export: survives the refill
    rest = [bytes(x) for x in it]
    assert rest == [b"cc", b"dd"]
    # the refill moved to fresh storage: the old one stays for every view
    assert bytes(first) == b"aa" and keep.tobytes() == b"bb"
    keep.release()
    b = ByteBuffer(8)
    it = b.iterlines(io.BytesIO(b"aa\nbb\ncc\ndd\n"))
    first = next(it)
    assert [bytes(x) for x in it] == [b"bb", b"cc", b"dd"]
    with pytest.raises(StaleViewError):
        bytes(first)  # compacted in place under it


def test_iterlines_non_blocking_source():
    a, c = socket.socketpair()
    with a, c:
        c.setblocking(False)
        a.sendall(b"one\ntw")
        it = ByteBuffer(16).iterlines(c)
        assert bytes(next(it)) == b"one"
        with pytest.raises(BlockingIOError):
            next(it)
        a.sendall(b"o\n")
        assert bytes(next(it)) == b"two"


def test_iterlines_consumer_reads_between_steps():
    b = ByteBuffer(16)
    b.write(b"xxxxxxx")
    it = b.iterlines(io.BytesIO(b"aaaa"))  # lazy: nothing read yet
    b.clear()
    b.write(b"zz\nq")
    assert bytes(next(it)) == b"zz"
    b.consume(1)  # the consumer moved the cursor: the scan restarts
    assert [bytes(x) for x in it] == [b"aaaa"]


class Chunky:
    """A source whose readinto returns random short counts."""

    def __init__(self, data, sizes):
        self.data = memoryview(data)
        self.pos = 0
        self.sizes = sizes
        self.i = 0

    def readinto(self, buf):
        size = self.sizes[self.i % len(self.sizes)]
        self.i += 1
        m = memoryview(buf).cast("B")
        n = min(size, len(m), len(self.data) - self.pos)
        m[:n] = self.data[self.pos:self.pos + n]
        self.pos += n
        return n


@given(st.lists(st.binary(max_size=30).map(lambda s: s.replace(b"\n", b"")), max_size=30),
       st.lists(st.integers(1, 50), min_size=1, max_size=10), st.booleans(), st.booleans())
def test_iterlines_random_chunks(lines, sizes, trailing, reuse):
    data = b"\n".join(lines) + (b"\n" if trailing else b"")
    expect = data.split(b"\n")
    if expect and expect[-1] == b"":
        expect.pop()
    # without keepends a b"\r\n" ending goes whole (bytes.splitlines' rule);
    # a lone b"\r" -- the last line's, when it has no b"\n" -- is data
    terminated = data.count(b"\n")  # the first `terminated` lines end in b"\n"
    expect = [x[:-1] if i < terminated and x.endswith(b"\r") else x for i, x in enumerate(expect)]
    got = [bytes(x) for x in ByteBuffer(32).iterlines(Chunky(data, sizes), reuse=reuse)]
    assert got == expect
    got = [bytes(x) for x in ByteBuffer(32).iterlines(Chunky(data, sizes), True)]
    assert b"".join(got) == data


def test_iterlines_reentrant_source_refused():
    b = ByteBuffer(16)
    seen = []

    class Evil:
        def __init__(self):
            self.it = None
            self.done = False

        def readinto(self, buf):
            for op in (lambda: next(self.it), b.writable, b.compact, lambda: b.consume(0)):
                try:
                    op()
                except RuntimeError as e:
                    seen.append(str(e))
            if self.done:
                return 0
            self.done = True
            buf[:4] = b"a\nb\n"
            return 4
    src = Evil()
    src.it = b.iterlines(src)
    assert [bytes(x) for x in src.it] == [b"a", b"b"]
    assert len(seen) == 8 and all("being filled" in m for m in seen)


def test_iterlines_released_and_exported_reuse_view():
    b = ByteBuffer(16)
    it = b.iterlines(io.BytesIO(b"a\nb\nc\nd\n"), reuse=True)
    v = next(it)
    m = memoryview(v)  # exported: the iterator must not retarget it under m
    w = next(it)
    assert w is not v and bytes(w) == b"b" and m.tobytes() == b"a"
    m.release()
    w.release()
    x = next(it)  # released: replaced, not reused
    assert bytes(x) == b"c" and x is not w
