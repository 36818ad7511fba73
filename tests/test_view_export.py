"""Handing a View to code that wants bytes-likes (issue 18 points 3 and 4):
bytes(view) through the buffer protocol, View.memoryview() for parsers that
take only bytes/bytearray/memoryview, and the View itself for everything
that takes any buffer.  Each parser is fed a View over bytes, over a
bytearray, a borrowed ByteBuffer View and a window inside a larger buffer;
the results equal those of the bytes path."""
import hashlib
import json
import re
import struct
import zlib

import msgspec
import orjson
import pytest
from hypothesis import given, settings, strategies as st

from nocopy import ByteBuffer, StaleViewError, View

DOC = {"id": 7, "name": "sensor-ü", "temp": 21.5, "ok": True, "tags": ["a", "b"], "none": None}
PAYLOAD = json.dumps(DOC).encode()


def views_of(payload):
    """(label, View, keep-alive) over payload in every shape a program meets."""
    bb = ByteBuffer(len(payload) + 64)
    bb.write(b"#" * 11)
    bb.consume(11)
    bb.write(payload)
    big = bytearray(b"<" * 13 + payload + b">" * 17)
    return [
        ("bytes", View(payload)),
        ("bytearray", View(bytearray(payload))),
        ("borrowed", bb.peek()),
        ("window", View(big, 13, 13 + len(payload))),
        ("window of bytes", View(b"xx" + payload + b"yy")[2:-2]),
    ], bb


@pytest.fixture(params=range(5), ids=["bytes", "bytearray", "borrowed", "window", "window of bytes"])
def shaped(request):
    return request.param


def test_orjson_takes_the_memoryview(shaped):
    vs, keep = views_of(PAYLOAD)
    v = vs[shaped][1]
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(v)  # refuses any other buffer: why memoryview() exists
    assert orjson.loads(v.memoryview()) == orjson.loads(PAYLOAD) == DOC
    assert orjson.loads(v.tobytes()) == DOC
    v.release()  # the one-liner's memoryview is gone: nothing pins the View


def test_json_loads_takes_tobytes_or_decode(shaped):
    vs, keep = views_of(PAYLOAD)
    v = vs[shaped][1]
    with pytest.raises(TypeError):
        json.loads(v.memoryview())  # str, bytes or bytearray only
    assert json.loads(v.tobytes()) == json.loads(PAYLOAD) == DOC
    assert json.loads(v.decode()) == DOC


def test_buffer_parsers_take_the_view_itself(shaped):
    vs, keep = views_of(PAYLOAD)
    v = vs[shaped][1]
    assert msgspec.json.decode(v) == msgspec.json.decode(PAYLOAD) == DOC
    assert msgspec.json.decode(v.memoryview()) == DOC
    assert struct.unpack_from(">IH", v, 3) == struct.unpack_from(">IH", PAYLOAD, 3)
    assert struct.unpack(f"{len(PAYLOAD)}s", v) == (PAYLOAD,)
    m = re.search(rb'"name": "([^"]*)"', v)
    assert m.group(1) == re.search(rb'"name": "([^"]*)"', PAYLOAD).group(1)
    assert [x.span() for x in re.finditer(rb"\d+", v)] == [x.span() for x in re.finditer(rb"\d+", PAYLOAD)]
    assert hashlib.sha256(v).digest() == hashlib.sha256(PAYLOAD).digest()
    h = hashlib.blake2b()
    h.update(v)
    assert h.hexdigest() == hashlib.blake2b(PAYLOAD).hexdigest()
    assert zlib.crc32(v) == zlib.crc32(PAYLOAD)
    assert zlib.adler32(v.memoryview()) == zlib.adler32(PAYLOAD)
    packed = zlib.compress(PAYLOAD)
    for zv, _keep in [(View(packed), None), (View(b"!!" + packed)[2:], None)]:
        assert zlib.decompress(zv) == PAYLOAD
        assert zlib.decompressobj().decompress(zv.memoryview()) == PAYLOAD
    assert zlib.compress(v) == packed


@settings(max_examples=100, deadline=None)
@given(doc=st.recursive(st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1) | st.text(),
                        lambda k: st.lists(k, max_size=4) | st.dictionaries(st.text(max_size=5), k, max_size=4),
                        max_leaves=12),
       before=st.integers(0, 20), after=st.integers(0, 20))
def test_parsers_agree_with_the_bytes_path(doc, before, after):
    payload = orjson.dumps(doc)
    ba = bytearray(b"\xff" * before + payload + b"\xfe" * after)
    v = View(ba, before, before + len(payload))
    assert orjson.loads(v.memoryview()) == orjson.loads(payload)
    assert msgspec.json.decode(v) == msgspec.json.decode(payload)
    assert json.loads(v.tobytes()) == json.loads(payload)
    assert hashlib.md5(v).digest() == hashlib.md5(payload).digest()
    assert zlib.crc32(v) == zlib.crc32(payload)


def test_memoryview_shape_and_flags():
    ba = bytearray(b"0123456789")
    v = View(ba, 2, 7)
    m = v.memoryview()
    assert type(m) is memoryview and m.obj is v
    assert m.tobytes() == b"23456" and m.nbytes == 5 and m.format == "B" and not m.readonly
    m[0] = ord("X")
    assert ba[2:3] == b"X"
    ro = View(b"abc").memoryview()
    assert ro.readonly and ro.tobytes() == b"abc"
    assert View(b"").memoryview().tobytes() == b""


def test_memoryview_pins_until_released():
    v = View(bytearray(b"abc"))
    m = v.memoryview()
    with pytest.raises(BufferError):
        v.release()
    m.release()
    v.release()
    with pytest.raises(ValueError, match="released"):
        v.memoryview()


def test_memoryview_of_a_borrowed_view_keeps_its_bytes_and_lets_go():
    bb = ByteBuffer(32)
    bb.write(b"frame-one")
    v = bb.read()
    with v.memoryview() as m:
        bb.clear()
        bb.write(b"frame-two")  # the buffer moves to fresh storage: m still shows its bytes
        assert m.tobytes() == b"frame-one"
    assert bytes(v) == b"frame-one"  # it stays on the old storage, which nobody overwrites
    # the one-liner leaves nothing pinned: release() (which refuses while an
    # export is held) goes through right after it
    w = bb.read()
    assert orjson.loads(b'"' + w.memoryview().tobytes() + b'"') == "frame-two"
    held = w.memoryview()
    with pytest.raises(BufferError):
        w.release()
    del held
    w.release()


def test_bytes_of_a_view_is_a_copy_through_the_buffer_protocol():
    ba = bytearray(b"hello world")
    v = View(ba, 6)
    b = bytes(v)
    assert b == b"world" and type(b) is bytes
    ba[6] = ord("W")
    assert b == b"world" and bytes(v) == v.tobytes() == b"World"
    assert not hasattr(View, "__bytes__")  # bytes() takes the cheaper buffer path
    v.release()
    with pytest.raises(ValueError, match="released"):
        bytes(v)
    bb = ByteBuffer(8)
    bb.write(b"abc")
    s = bb.read()
    bb.clear()
    bb.write(b"xyz")
    with pytest.raises(StaleViewError):
        bytes(s)


class Sub(View):
    def __bytes__(self):
        return b"sub"


def test_a_subclass_bytes_override_still_wins():
    assert bytes(Sub(b"abc")) == b"sub"
    assert b"%s" % Sub(b"abc") == b"sub"
    assert b"%s" % View(b"abc") == b"abc"
