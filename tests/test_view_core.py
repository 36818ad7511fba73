"""View's core: construction, window, sequence, buffer protocol, comparisons,
hash, release and in-place writes."""
import array
import mmap

import pytest
from hypothesis import given, strategies as st

from nocopy import View


def test_defaults():
    v = View()
    assert len(v) == 0 and bytes(v) == b"" and v.obj == b""


@given(st.binary(max_size=64), st.integers(-80, 80) | st.none(), st.integers(-80, 80) | st.none())
def test_constructor_clamps_like_slices(data, a, b):
    v = View(data, a, b)
    assert bytes(v) == data[a:b] if (a is None or b is None or True) else None
    assert v == data[slice(a, b)]
    assert v.nbytes == len(data[slice(a, b)])


def test_view_of_view_shares_and_composes():
    base = View(b"0123456789", 2, 8)
    sub = View(base, 1, -1)
    assert sub == b"34567"[:4] + b""[0:0] or sub == b"3456"
    assert sub.obj == b"0123456789"
    assert sub.start == 3 and sub.stop == 7


@pytest.mark.parametrize("make", [bytes, bytearray, lambda b: memoryview(bytearray(b)),
                                  lambda b: array.array("B", b)])
def test_any_buffer(make):
    v = View(make(b"abcdef"), 1, 4)
    assert v == b"bcd"
    assert v.readonly == (make is bytes)


def test_non_byte_format_viewed_as_raw_bytes():
    a = array.array("i", [1, 2])
    v = View(a)
    assert len(v) == a.itemsize * 2 and bytes(v) == a.tobytes()


def test_mmap():
    m = mmap.mmap(-1, 16)
    v = View(m, 4, 8)
    v[:] = b"wxyz"
    assert m[4:8] == b"wxyz"
    v.release()
    m.close()


def test_type_errors():
    with pytest.raises(TypeError, match="bytes-like object is required, not 'str'"):
        View("abc")
    with pytest.raises(TypeError):
        View(123)
    with pytest.raises(TypeError):
        View(b"abc", "x")


def test_bytearray_cannot_resize_under_view():
    ba = bytearray(b"abc")
    v = View(ba)
    with pytest.raises(BufferError):
        ba.extend(b"d")
    sub = v[1:]
    v.release()
    with pytest.raises(BufferError):  # the slice still shares the export
        ba.extend(b"d")
    sub.release()
    ba.extend(b"d")
    assert ba == b"abcd"


def test_release_and_context_manager():
    with View(b"abc") as v:
        assert v == b"abc"
    assert v.released
    for op in (len, bytes, lambda v: v[0], lambda v: v[0:1], lambda v: v.start, hash,
               lambda v: v == b"", lambda v: v.retarget(0), lambda v: memoryview(v)):
        with pytest.raises(ValueError, match="released"):
            op(v)
    v.release()  # idempotent, as memoryview.release


def test_release_with_held_export_raises():
    v = View(bytearray(b"abc"))
    m = memoryview(v)
    with pytest.raises(BufferError):
        v.release()
    m.release()
    v.release()


def test_retarget_in_place():
    buf = bytearray(b"hello world")
    v = View(buf)
    assert v.retarget(0, 5) is v and v == b"hello"
    assert v.retarget(6) is v and v == b"world"
    for bad in [(-1, 3), (0, 12), (5, 4), (12, None)]:
        with pytest.raises(ValueError):
            v.retarget(*bad)
    assert v == b"world"  # unchanged by the failures
    with pytest.raises(TypeError):
        v.retarget("0")


def test_start_stop_setters():
    v = View(b"abcdef")
    v.stop = 3
    v.start = 1
    assert v == b"bc"
    with pytest.raises(ValueError):
        v.start = 4
    with pytest.raises(ValueError):
        v.stop = 7
    with pytest.raises(ValueError):
        v.start = -1
    with pytest.raises(AttributeError):
        del v.start
    assert v == b"bc"


def test_sequence():
    v = View(b"xabcx", 1, 4)
    assert v[0] == 97 and v[-1] == 99 and list(v) == [97, 98, 99]
    with pytest.raises(IndexError):
        v[3]
    with pytest.raises(IndexError):
        v[-4]
    assert v[1:] == b"bc" and type(v[1:]) is View
    assert v[5:1] == b""
    with pytest.raises(ValueError, match=r"bytes\(v\)\[a:b:c\]"):
        v[::2]
    with pytest.raises(TypeError):
        v["a"]
    assert 98 in v and b"bc" in v and b"x" not in v
    with pytest.raises(ValueError):
        256 in v


def test_slice_shares_holder_no_new_export():
    ba = bytearray(b"abcdef")
    v = View(ba)
    s = v[1:3]
    v.release()
    assert s == b"bc"  # still valid: the export is shared


def test_item_and_slice_assignment():
    ba = bytearray(b"abcdef")
    v = View(ba, 1, 5)
    v[0] = ord("B")
    v[-1] = ord("E")
    v[1:3] = b"CD"
    assert ba == b"aBCDEf"
    with pytest.raises(ValueError):
        v[0:2] = b"x"
    with pytest.raises(ValueError):
        v[0] = 256
    with pytest.raises(TypeError):
        del v[0]
    with pytest.raises(TypeError, match="read-only"):
        View(b"abc")[0] = 1
    with pytest.raises(TypeError, match="read-only"):
        View(b"abc")[0:1] = b"x"
    assert ba == b"aBCDEf"


def test_inplace_ops():
    ba = bytearray(b"Hello, World! \xc3")
    v = View(ba)
    v.lower_inplace()
    assert ba == b"hello, world! \xc3"
    v.upper_inplace()
    assert ba == b"HELLO, WORLD! \xc3"
    v.translate_inplace(bytes(range(256))[::-1])
    assert ba == bytes(255 - c for c in b"HELLO, WORLD! \xc3")
    v.translate_inplace(None)
    with pytest.raises(ValueError):
        v.translate_inplace(b"short")
    v.fill(0)
    assert ba == bytes(len(ba))
    for op in ("lower_inplace", "upper_inplace"):
        with pytest.raises(TypeError):
            getattr(View(b"abc"), op)()
    with pytest.raises(TypeError):
        View(b"abc").fill(1)
    with pytest.raises(ValueError):
        v.fill(300)


def test_copy_from():
    from nocopy import BufferTooSmall
    ba = bytearray(8)
    v = View(ba, 2, 6)
    assert v.copy_from(b"ab") == 2
    assert v.copy_from(b"cd", 2) == 4
    assert ba == b"\0\0abcd\0\0"
    with pytest.raises(BufferTooSmall) as ei:
        v.copy_from(b"xyz", 2)
    assert ei.value.needed == 5
    assert ba == b"\0\0abcd\0\0"
    with pytest.raises(ValueError):
        v.copy_from(b"", 5)
    with pytest.raises(TypeError):
        View(b"abc").copy_from(b"x")


@given(st.binary(max_size=20), st.binary(max_size=20))
def test_comparisons_match_bytes(a, b):
    va, vb = View(a), View(bytearray(b))
    assert (va == b) == (a == b) and (va != b) == (a != b)
    assert (va < b) == (a < b) and (va <= vb) == (a <= b)
    assert (va > vb) == (a > b) and (va >= b) == (a >= b)
    assert (b == va) == (a == b) and (b < va) == (b < a)


def test_comparison_with_non_buffers():
    v = View(b"abc")
    assert v != "abc" and not (v == 3)
    with pytest.raises(TypeError):
        v < "abc"


def test_hash():
    assert hash(View(b"xxabcxx", 2, 5)) == hash(b"abc")
    # writable buffers hash too (issue 18): from the current bytes, every call
    ba = bytearray(b"abc")
    w = View(ba)
    assert hash(w) == hash(b"abc")
    ba[0:1] = b"x"
    assert hash(w) == hash(b"xbc")
    assert {View(b"abc"): 1}[b"abc"] == 1


def test_buffer_protocol():
    import hashlib
    import struct
    ba = bytearray(b"\x01\x00\x00\x00rest")
    v = View(ba, 0, 4)
    assert struct.unpack_from("<i", v)[0] == 1
    assert hashlib.sha256(View(b"xabcx", 1, 4)).digest() == hashlib.sha256(b"abc").digest()
    m = memoryview(v)
    assert not m.readonly and m.nbytes == 4
    m[0] = 2
    assert ba[0] == 2
    m.release()
    assert memoryview(View(b"abc")).readonly


def test_copies_explicit():
    v = View(b"xhix", 1, 3)
    assert v.tobytes() == b"hi" and bytes(v) == b"hi"
    assert v.hex() == "6869" and v.hex(":") == "68:69" and v.hex("-", -1) == "68-69"
    assert View("é".encode()).decode() == "é"
    assert View(b"\xff").decode("latin-1") == "\xff"
    with pytest.raises(UnicodeDecodeError):
        View(b"\xff").decode()
    assert View(b"\xff").decode(errors="replace") == "\ufffd"


def test_repr():
    assert repr(View(b"ab")) == "View(b'ab')"
    v = View(b"x" * 100)
    assert "100 bytes" in repr(v)
    v.release()
    assert "released" in repr(v)


def test_concat_and_repeat_are_new_bytes():
    v = View(b"ab")
    assert v + b"c" == b"abc" and type(v + b"c") is bytes
    assert b"c" + v == b"cab"
    assert v * 3 == b"ababab" and 2 * v == b"abab" and type(v * 2) is bytes
    assert v * -1 == b""


class Evil:
    """An __index__ that releases or retargets the view mid-call."""
    def __init__(self, view, action, value=1):
        self.view, self.action, self.value = view, action, value

    def __index__(self):
        if self.action == "release":
            self.view.release()
        else:
            self.view.retarget(0, 0)
        return self.value


@pytest.mark.parametrize("action", ["release", "retarget"])
def test_callbacks_that_release_or_retarget(action):
    def fresh():
        return View(bytearray(b"abcdef"))

    v = fresh()
    with pytest.raises((ValueError, IndexError)):
        v[Evil(v, action, 3)]
    v = fresh()
    r = None
    try:
        r = v[Evil(v, action, 1):5]
    except ValueError:
        pass
    if r is not None:
        assert bytes(r) == b""
    v = fresh()
    with pytest.raises((ValueError, IndexError)):
        v[Evil(v, action, 5)] = 1
    v = fresh()
    try:
        v[0:Evil(v, action, 2)] = b"xy"
    except ValueError:
        pass
    v = fresh()
    try:
        v.copy_from(b"xy", Evil(v, action, 2))
    except ValueError:
        pass
    v = fresh()
    try:
        View(v, Evil(v, action, 2))
    except ValueError:
        pass
