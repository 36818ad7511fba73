"""Length-prefixed JSON frames (issue 18 point 5): ByteBuffer.write_json,
Writer.write_json, dumps_into(obj, writer) and dumps_into into a ByteBuffer
at an offset from its write cursor.  The oracle is json.dumps(...).encode()
behind struct.pack of its length; errors leave the buffer as it was."""
import io
import json
import os
import socket
import struct
import threading

import pytest
from hypothesis import given, settings, strategies as st

import nocopy.json as nj
from nocopy import BufferTooSmall, ByteBuffer, View
from nocopy.io import Reader, Writer

PREFIX = {None: "", "u8": "B", "u16": "H", "u32": "I", "u64": "Q"}


def oracle(obj, prefix=None, byteorder="big", **options):
    options.setdefault("ensure_ascii", False)
    if options.get("indent") is None:
        options.setdefault("separators", (",", ":"))
    body = json.dumps(obj, **options).encode("utf-8")
    if prefix is None:
        return body
    return struct.pack((">" if byteorder == "big" else "<") + PREFIX[prefix], len(body)) + body


def state(b):
    """Everything write_json must leave alone on an error."""
    return (len(b), b.free, bytes(b.peek()))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text()
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda kids: st.lists(kids, max_size=5) | st.dictionaries(st.text(max_size=8), kids, max_size=5),
    max_leaves=20)
prefixes = st.sampled_from(list(PREFIX))
orders = st.sampled_from(["big", "little"])


@settings(max_examples=150, deadline=None)
@given(obj=json_values, prefix=prefixes, order=orders, pre=st.binary(max_size=40),
       consumed=st.integers(0, 40), headroom=st.integers(0, 16), sort_keys=st.booleans(),
       indent=st.sampled_from([None, 2]))
def test_write_json_matches_json_and_struct(obj, prefix, order, pre, consumed, headroom,
                                            sort_keys, indent):
    b = ByteBuffer(4096, headroom=headroom)
    b.write(pre)
    b.consume(min(consumed, len(pre)))
    before = bytes(b.peek())
    try:
        expected = oracle(obj, prefix, order, sort_keys=sort_keys, indent=indent)
    except (UnicodeEncodeError, struct.error) as e:
        with pytest.raises(UnicodeEncodeError if isinstance(e, UnicodeEncodeError) else OverflowError):
            b.write_json(obj, prefix=prefix, byteorder=order, sort_keys=sort_keys, indent=indent)
        assert bytes(b.peek()) == before
        return
    n = b.write_json(obj, prefix=prefix, byteorder=order, sort_keys=sort_keys, indent=indent)
    assert n == len(expected)
    assert bytes(b.peek()) == before + expected


def test_defaults_and_argument_forms():
    b = ByteBuffer(256)
    assert b.write_json({"a": [1, 2.5, "é"]}) == len(oracle({"a": [1, 2.5, "é"]}))
    b.clear()
    b.write_json([1], prefix="u32")
    assert bytes(b.read()) == b"\x00\x00\x00\x03[1]"
    b.write_json([1], prefix="u16", byteorder="little")
    assert bytes(b.read()) == b"\x03\x00[1]"
    b.write_json(["é"], prefix="u8", ensure_ascii=True)
    assert bytes(b.read()) == b"\x0a" + b'["\\u00e9"]'
    b.write_json(object(), prefix="u64", default=lambda o: "x")
    assert bytes(b.read()) == b"\x00" * 7 + b"\x03" + b'"x"'
    b.write_json({}, prefix="u32")  # an empty document's length
    assert bytes(b.read()) == b"\x00\x00\x00\x02{}"


@pytest.mark.parametrize("kwargs, exc, match", [
    ({"prefix": "u24"}, ValueError, "prefix must be None, 'u8'"),
    ({"prefix": "U32"}, ValueError, "prefix must be"),
    ({"prefix": 4}, TypeError, "prefix must be None or str"),
    ({"prefix": b"u32"}, TypeError, "prefix must be None or str"),
    ({"byteorder": "network"}, ValueError, "byteorder"),
    ({"byteorder": 1}, TypeError, "byteorder must be str"),
    ({"prefix": "u32", "nope": 1}, TypeError, "unexpected keyword argument 'nope'"),
    ({"indent": 1.5}, TypeError, "indent"),
    ({"separators": (",",)}, ValueError, None),
])
def test_bad_arguments_write_nothing(kwargs, exc, match):
    b = ByteBuffer(64)
    b.write(b"keep")
    s = state(b)
    with pytest.raises(exc, match=match):
        b.write_json({"a": 1}, **kwargs)
    assert state(b) == s


def test_positional_and_duplicate_arguments():
    b = ByteBuffer(64)
    with pytest.raises(TypeError, match="exactly 1 positional"):
        b.write_json()
    with pytest.raises(TypeError, match="exactly 1 positional"):
        b.write_json(1, "u32")
    with pytest.raises(TypeError, match="exactly 1 positional"):
        b.write_json(obj=1)
    assert len(b) == 0


def test_encoding_errors_write_nothing():
    b = ByteBuffer(64)
    b.write(b"keep")
    s = state(b)
    for obj, exc in [({1, 2}, TypeError), ([float("nan")], None), ({"a": "\ud800"}, UnicodeEncodeError)]:
        if exc is None:
            with pytest.raises(ValueError):
                b.write_json(obj, prefix="u32", allow_nan=False)
        else:
            with pytest.raises(exc):
                b.write_json(obj, prefix="u32")
        assert state(b) == s
    circ = []
    circ.append(circ)
    with pytest.raises(ValueError, match="Circular"):
        b.write_json(circ, prefix="u16")
    assert state(b) == s


def test_length_too_large_for_prefix():
    b = ByteBuffer(1 << 17)
    b.write(b"keep")
    s = state(b)
    with pytest.raises(OverflowError, match="256 bytes does not fit a u8 length prefix"):
        b.write_json("x" * 254, prefix="u8")
    assert state(b) == s
    assert b.write_json("x" * 253, prefix="u8") == 256
    b.clear()
    with pytest.raises(OverflowError, match="u16"):
        b.write_json("x" * 65534, prefix="u16")
    assert len(b) == 0


def test_too_small_raises_exact_needed_and_compacts_when_that_fits():
    doc = {"k": "v" * 30}
    frame = oracle(doc, "u32")
    b = ByteBuffer(len(frame) + 10)
    b.write(b"z" * 20)
    s = state(b)
    with pytest.raises(BufferTooSmall) as ei:
        b.write_json(doc, prefix="u32")
    assert ei.value.needed == len(frame)
    assert state(b) == s
    b.consume(15)  # now a compaction makes room
    assert b.write_json(doc, prefix="u32") == len(frame)
    assert bytes(b.peek()) == b"z" * 5 + frame
    # not even the header fits at the write cursor: counted, still exact
    t = ByteBuffer(8)
    t.write(b"123456")
    with pytest.raises(BufferTooSmall) as ei:
        t.write_json(doc, prefix="u32")
    assert ei.value.needed == len(frame) and bytes(t.peek()) == b"123456"


def test_take_bytes_storage_is_reattached():
    b = ByteBuffer(64, storage="bytes")
    b.write_json([1, 2], prefix="u16")
    assert b.take_bytes() == b"\x00\x05[1,2]"
    b.write_json([3], prefix="u16")
    assert b.take_bytes() == b"\x00\x03[3]"


def test_borrowed_views_and_exports_are_respected():
    b = ByteBuffer(64)
    b.write_json("first", prefix="u8")
    v = b.peek()
    with memoryview(v) as m:
        b.consume(len(b))
        b.write_json("second" * 5, prefix="u8")  # reuses the space only where no export holds it
        assert bytes(m) == b'\x07"first"'
    assert bytes(b.read()) == oracle("second" * 5, "u8")


# ---- hostile Python --------------------------------------------------------------------

def test_default_that_mutates_the_buffer_gets_runtime_error():
    b = ByteBuffer(128)
    b.write(b"keep")
    s = state(b)
    for attack in (lambda: b.write(b"x"), b.clear, b.compact, lambda: b.write_json(1),
                   lambda: b.write_u32(1), lambda: b.consume(1)):
        def default(o, attack=attack):
            attack()
            return "never"
        with pytest.raises(RuntimeError):
            b.write_json([object()], prefix="u32", default=default)
        assert state(b) == s


class Flag:
    """An option whose truth test runs code against the buffer."""
    def __init__(self, fn):
        self.fn = fn

    def __bool__(self):
        self.fn()
        return True


def test_option_conversion_runs_before_room_is_reserved():
    b = ByteBuffer(64)
    b.write(b"junk")
    # the flag clears the buffer while options are converted: the frame goes after that
    n = b.write_json({"b": 1, "a": 2}, prefix="u16", sort_keys=Flag(b.clear))
    assert bytes(b.peek()) == oracle({"b": 1, "a": 2}, "u16", sort_keys=True)
    assert n == len(b)


def test_default_that_grows_on_every_call_still_makes_one_whole_frame():
    """A frame that did not fit is encoded again (after the flush, then
    whole into one bytes object when it outgrew the buffer): the header is
    always the length of the body sent with it."""
    out = io.BytesIO()
    w = Writer(out, 64)
    calls = []

    def default(o):
        calls.append(1)
        return "g" * (40 * len(calls))

    w.write(b"x" * 40)
    n = w.write_json([object()], prefix="u32", default=default)
    w.close()
    assert len(calls) == 3
    assert out.getvalue() == b"x" * 40 + oracle(["g" * 120], "u32") and n == 4 + 124


def test_writer_sink_that_writes_back_is_refused():
    class Echo(io.RawIOBase):
        def writable(self):
            return True

        def write(self, data):
            w.write_json([1], prefix="u32")  # a reentrant flush from inside the flush
            return len(data)

    w = Writer(Echo(), 32)
    w.write(b"y" * 30)
    with pytest.raises(RuntimeError, match="reentrant"):
        w.write_json({"k": "v" * 10}, prefix="u32")


# ---- Writer ------------------------------------------------------------------------------

def parse_frames(data, fmt=">I"):
    size = struct.calcsize(fmt)
    out, at = [], 0
    while at < len(data):
        (n,) = struct.unpack_from(fmt, data, at)
        at += size
        out.append(json.loads(data[at:at + n]))
        at += n
    assert at == len(data)
    return out


@pytest.mark.parametrize("capacity", [16, 64, 200, 4096])
def test_writer_frames_round_trip_across_flushes_and_large_frames(capacity):
    docs = [{"i": i, "s": "é" * (i % 50), "f": i / 7, "l": list(range(i % 9))} for i in range(120)]
    docs.append({"big": "B" * 5000})
    out = io.BytesIO()
    with Writer(out, capacity) as w:
        total = 0
        for d in docs:
            total += w.write_json(d, prefix="u32")
    data = out.getvalue()
    assert len(data) == total
    assert data == b"".join(oracle(d, "u32") for d in docs)
    assert parse_frames(data) == docs


def test_writer_over_a_socket_and_a_reader_on_the_other_side():
    docs = [{"n": i, "v": [i * 0.5] * (i % 7), "ok": i % 2 == 0} for i in range(500)]
    a, b = socket.socketpair()
    got = []

    def receive():
        r = Reader(b, 1024)
        for _ in docs:
            got.append(json.loads(r.read_exact(r.read_u32()).tobytes()))
    t = threading.Thread(target=receive)
    t.start()
    with a, Writer(a, 1024) as w:
        for d in docs:
            w.write_json(d, prefix="u32")
    t.join(30)
    b.close()
    assert got == docs


def test_writer_write_json_when_closed():
    w = Writer(io.BytesIO())
    w.close()
    with pytest.raises(ValueError, match="closed"):
        w.write_json(1)


def test_dumps_into_a_writer_and_an_aio_like_stream():
    out = io.BytesIO()
    with Writer(out, 32) as w:
        assert nj.dumps_into({"a": [1, 2]}, w) == 11
        assert nj.dumps_into({"b": 1, "a": 2}, w, sort_keys=True, indent=1) == \
            len(oracle({"b": 1, "a": 2}, sort_keys=True, indent=1))
        assert nj.dumps_into([1], w, offset=0) == 3
        with pytest.raises(ValueError, match="offset must be 0 when writing to a stream"):
            nj.dumps_into([1], w, 1)
        with pytest.raises(TypeError, match="unexpected keyword"):
            nj.dumps_into([1], w, bogus=1)
    assert out.getvalue() == (oracle({"a": [1, 2]}) + oracle({"b": 1, "a": 2}, sort_keys=True, indent=1)
                              + b"[1]")

    class Stream:
        def __init__(self):
            self.calls = []

        def write_json(self, obj, **options):
            self.calls.append((obj, options))
            return 42
    s = Stream()
    assert nj.dumps_into([1], s, sort_keys=True, offset=0) == 42
    assert s.calls == [([1], {"sort_keys": True})]
    many = {f"k{i}": i for i in range(0)}
    assert nj.dumps_into([2], s, skipkeys=True, ensure_ascii=True, check_circular=True,
                         allow_nan=True, sort_keys=False, indent=None, separators=(",", ":"),
                         default=None, **many) == 42


# ---- dumps_into a ByteBuffer at an offset -------------------------------------------------

@settings(max_examples=100, deadline=None)
@given(obj=json_values, offset=st.integers(0, 12), pre=st.binary(max_size=20), junk=st.binary(min_size=40, max_size=40))
def test_dumps_into_bytebuffer_offset_is_a_zeroed_gap(obj, offset, pre, junk):
    b = ByteBuffer(4096)
    b.write(junk)
    b.clear()  # old bytes in the storage: they must not show through the gap
    b.write(pre)
    try:
        body = oracle(obj)
    except UnicodeEncodeError:
        with pytest.raises(UnicodeEncodeError):
            nj.dumps_into(obj, b, offset)
        assert bytes(b.peek()) == pre
        return
    n = nj.dumps_into(obj, b, offset)
    assert n == offset + len(body)
    assert bytes(b.peek()) == pre + b"\0" * offset + body


def test_dumps_into_bytebuffer_offset_too_small():
    b = ByteBuffer(16)
    b.write(b"abc")
    with pytest.raises(BufferTooSmall) as ei:
        nj.dumps_into({"key": "value"}, b, 4)
    assert ei.value.needed == 4 + len(b'{"key":"value"}')
    assert bytes(b.peek()) == b"abc"
    with pytest.raises(BufferTooSmall) as ei:
        nj.dumps_into([1], b, 20)  # the offset alone is past the free space
    assert ei.value.needed == 23
    with pytest.raises(ValueError, match=">= 0"):
        nj.dumps_into([1], b, -1)
    assert bytes(b.peek()) == b"abc"


def test_header_patched_in_after_dumps_into_at_an_offset():
    """The reserve-then-patch pattern the offset exists for."""
    b = ByteBuffer(256)
    n = nj.dumps_into({"id": 7}, b, 4)
    frame = b.peek()
    frame[:4] = struct.pack(">I", n - 4)
    assert bytes(b.read()) == oracle({"id": 7}, "u32")


def test_frames_to_a_file_descriptor(tmp_path):
    p = tmp_path / "frames"
    fd = os.open(p, os.O_WRONLY | os.O_CREAT)
    try:
        with Writer(fd, 100) as w:
            for i in range(50):
                w.write_json({"i": i, "pad": "p" * i}, prefix="u16", byteorder="little")
    finally:
        os.close(fd)
    assert parse_frames(p.read_bytes(), "<H") == [{"i": i, "pad": "p" * i} for i in range(50)]


def test_view_target_still_refused_as_stream():
    # a View is a buffer: dumps_into writes into its window, never looks for write_json
    ba = bytearray(10)
    assert nj.dumps_into([1], View(ba), 2) == 5
    assert ba[:5] == b"\0\0[1]"


def test_full_buffer_without_prefix():
    b = ByteBuffer(16)
    b.write(b"0123456789abcdef")  # no free byte at all
    with pytest.raises(BufferTooSmall) as ei:
        b.write_json([1])
    assert ei.value.needed == 3 and len(b) == 16
    b.consume(16)
    assert b.write_json([1]) == 3 and bytes(b.peek()) == b"[1]"


def test_default_that_closes_the_writer_leaves_no_partial_frame():
    out = io.BytesIO()
    w = Writer(out, 64)
    w.write(b"head")

    def default(o):
        w.close()  # flushes: the buffer is busy encoding, so the flush is refused
        return 1

    with pytest.raises(RuntimeError):
        w.write_json([object()], prefix="u32", default=default)
    assert out.getvalue() in (b"", b"head")
    assert b"[" not in out.getvalue()


def test_finalizers_writing_during_a_large_frame(monkeypatch):
    """A finalizer run by an allocation of the large-frame path writes into
    the Writer: its bytes go out before the frame, the frame stays whole."""
    import gc

    out = io.BytesIO()
    w = Writer(out, 32)

    class Cyc:
        def __init__(self):
            self.me = self

        def __del__(self):
            try:
                w.write(b"#")
            except RuntimeError:
                pass  # refused while the buffer is busy: nothing written
    old = gc.get_threshold()
    gc.set_threshold(1)
    try:
        for _ in range(20):
            Cyc()
            w.write_json({"big": "B" * 100}, prefix="u16")
    finally:
        gc.set_threshold(*old)
        gc.collect()
    w.close()
    data = out.getvalue().replace(b"#", b"")
    assert parse_frames(data, ">H") == [{"big": "B" * 100}] * 20


# ---- review: closed buffers, offsets past any size ------------------------------------

@pytest.mark.parametrize("prefix", [None, "u8", "u32"])
def test_closed_buffer_refuses_before_encoding_and_sends_nothing(prefix):
    """A closed ByteBuffer has nothing to write into: ValueError at once.
    With a prefix the header used not to fit the closed buffer's empty
    storage, so the document was counted (default ran), then drained or,
    larger than the capacity, handed whole to the Writer's sink."""
    calls = []

    def default(o):
        calls.append(1)
        return "d" * 200

    b = ByteBuffer(64)
    b.close()
    with pytest.raises(ValueError, match="closed ByteBuffer"):
        b.write_json([object()], prefix=prefix, default=default)
    assert calls == []
    out = io.BytesIO()
    w = Writer(out, 16)
    w.buffer.close()
    for doc in ([1], list(range(50))):  # fits the capacity / larger than it
        with pytest.raises(ValueError, match="closed ByteBuffer"):
            w.write_json(doc, prefix=prefix)
    assert out.getvalue() == b""
    # dumps_into at an offset: the gap did not fit the closed buffer's tail of 0
    for offset in (0, 3):
        with pytest.raises(ValueError, match="closed ByteBuffer"):
            nj.dumps_into([object()], b, offset, default=default)
    assert calls == []


def test_default_that_closes_the_buffer_during_a_large_frame():
    """A frame larger than the Writer's buffer is encoded into a bytes object
    with the buffer idle: a `default` may close it meanwhile.  The frame is
    then refused, not sent from a closed buffer."""
    out = io.BytesIO()
    w = Writer(out, 16)
    calls = []

    def default(o):
        calls.append(1)
        if len(calls) == 2:  # the first runs with the buffer busy (close refused)
            w.buffer.close()
        return "x" * 40

    with pytest.raises(ValueError, match="closed ByteBuffer"):
        w.write_json([object()], prefix="u16", default=default)
    assert out.getvalue() == b""


def test_dumps_into_an_offset_too_large_for_any_size():
    """offset + document length past Py_ssize_t: OverflowError, not a
    BufferTooSmall with a wrapped negative needed (signed overflow in C)."""
    import sys

    b = ByteBuffer(64)
    b.write(b"keep")

    class Target:
        ba = bytearray(16)

        def writable(self):
            return memoryview(self.ba)

        def commit(self, n):
            raise AssertionError("nothing to commit")

    for target in (b, Target()):
        for offset in (sys.maxsize, sys.maxsize - 2):
            with pytest.raises(OverflowError, match="too large a size"):
                nj.dumps_into([1], target, offset)
    # the largest offset whose sum still fits is an ordinary BufferTooSmall
    with pytest.raises(BufferTooSmall) as ei:
        nj.dumps_into([1], b, sys.maxsize - 3)
    assert ei.value.needed == sys.maxsize
    assert bytes(b.peek()) == b"keep"


def test_writer_methods_on_a_closed_buffer_send_nothing():
    """write() and write_struct() next to write_json: a closed buffer's tail
    is 0, so every write looked too large for it and went to the overflow
    handler, which sent it (even one byte) from a closed buffer."""
    out = io.BytesIO()
    w = Writer(out, 16)
    w.buffer.close()
    for write in (lambda: w.write(b"z"), lambda: w.write(b"x" * 100),
                  lambda: w.write_struct(struct.Struct("40s"), b"y"),
                  lambda: w.write_struct(struct.Struct(">I"), 1), lambda: w.write_u64(1)):
        with pytest.raises(ValueError, match="closed ByteBuffer"):
            write()
    assert out.getvalue() == b""
