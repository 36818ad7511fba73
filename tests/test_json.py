"""nocopy.json against its oracle: json.dumps(obj, **same_options).encode().

nocopy's defaults (separators=(",", ":"), ensure_ascii=False) are passed to
the oracle explicitly."""
import array
import contextlib
import enum
import io
import json
import math
import mmap
import os
import random
import socket
import sys
import tempfile
import threading

import pytest
from hypothesis import given, strategies as st

import nocopy.json as nj
from nocopy import BufferTooSmall, View


def oracle(obj, **opts):
    opts = dict(opts)
    if opts.get("separators") is None:
        opts["separators"] = (",", ": ") if opts.get("indent") is not None else (",", ":")
    opts.setdefault("ensure_ascii", False)
    return json.dumps(obj, **opts).encode("utf-8")


def outcome(fn):
    try:
        return fn()
    except Exception as e:  # the exception type is the observable result
        return type(e)


def dump_bytes(obj, buffer_size=64, **opts):
    f = io.BytesIO()
    n = nj.dump(obj, f, buffer_size=buffer_size, **opts)
    data = f.getvalue()
    assert n == len(data)
    return data


def check_all_forms(obj, **opts):
    """dumps, dumps_into (mid-buffer, prefix/suffix untouched, and exact
    BufferTooSmall) and dump through a tiny buffer all equal the oracle."""
    exp = outcome(lambda: oracle(obj, **opts))
    got = outcome(lambda: nj.dumps(obj, **opts))
    assert got == exp
    streamed = outcome(lambda: dump_bytes(obj, **opts))
    if not isinstance(exp, bytes):
        # dump raises at a lone surrogate at once (what is streamed is gone),
        # dumps/dumps_into only after everything else succeeded, as the oracle
        assert streamed in (exp, UnicodeEncodeError)
        return exp
    assert streamed == exp
    buf = bytearray(b"\xee" * (len(exp) + 20))
    end = nj.dumps_into(obj, buf, 7, **opts)
    assert end == 7 + len(exp)
    assert buf[7:end] == exp
    assert buf[:7] == b"\xee" * 7 and buf[end:] == b"\xee" * (len(buf) - end)
    small = bytearray(b"\xee" * (7 + len(exp) - 1))
    with pytest.raises(BufferTooSmall) as ei:
        nj.dumps_into(obj, small, 7, **opts)
    assert ei.value.needed == 7 + len(exp)
    assert small[:7] == b"\xee" * 7
    return exp


# ---- documents -------------------------------------------------------------

text = st.text(st.characters(codec=None, min_codepoint=0, max_codepoint=0x10FFFF), max_size=12) | \
    st.sampled_from(["", "a\"b\\c", "\x00\x1f\x7f\x80", "\ud800", "\udfff\ud800", "\U0001f600é", "x" * 70])
ints = st.integers() | st.integers(-2**200, 2**200) | st.sampled_from(
    [0, -1, 2**63 - 1, -2**63, 2**63, 2**64 - 1, 2**64, -2**63 - 1, -2**64, 2**30, 2**31])
floats = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(
    [-0.0, 0.0, 5e-324, 2.2250738585072014e-308, 1e300, 1e16, 1e-7, 0.1, float("nan")])
scalars = st.none() | st.booleans() | ints | floats | text
keys = text | st.integers(-2**70, 2**70) | floats | st.booleans() | st.none()
documents = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.tuples(inner, inner)
    | st.dictionaries(keys, inner, max_size=5),
    max_leaves=25)
options = st.fixed_dictionaries({}, optional={
    "skipkeys": st.booleans(),
    "ensure_ascii": st.booleans(),
    "check_circular": st.booleans(),
    "allow_nan": st.booleans(),
    "sort_keys": st.booleans(),
    "indent": st.sampled_from([None, 0, 2, -1, "", "\t", " é "]),
    "separators": st.sampled_from([None, (",", ":"), (", ", ": "), (" ,", " : "), ("", ""), ("|", "=")]),
})


@given(documents, options)
def test_random_documents_match_stdlib(doc, opts):
    check_all_forms(doc, **opts)


@given(st.dictionaries(st.text(max_size=8), st.integers() | st.floats() | st.text(max_size=8), max_size=8),
       st.booleans())
def test_flat_dicts_sorted_and_not(doc, sort_keys):
    check_all_forms(doc, sort_keys=sort_keys)


@pytest.mark.parametrize("doc", [
    {}, [], (), "", 0, None, True, False, [[]], [{}], {"": {}},
    {"temperature": 21, "humidity": 45, "pressure": 1013, "time": 1700000000},
    [1, -1, 2**63 - 1, -2**63, 2**63, 2**64, -2**64, 10**100, -10**100],
    [0.1, -0.0, 5e-324, 1e300, 1e16, 1.5e-7, 123456789012345.6, 1e22, float("inf"),
     float("-inf"), float("nan")],
    ["a\"b\\c\n\r\t\b\f\x00\x1f\x7f", "héllo", "日本語", "\U0001f600", "\U0010ffff", "\x80\xff"],
    {1: 2, 1.5: 3, None: 4, True: 5, False: 6, -2**70: 7, float("inf"): 8, float("nan"): 9},
    "x" * 1000 + "é" * 1000 + "\U0001f600" * 1000 + "\"" * 500,
    [list(range(100)), {str(i): [i] * 3 for i in range(50)}],
])
@pytest.mark.parametrize("opts", [
    {}, {"ensure_ascii": True}, {"indent": 2}, {"indent": 0}, {"indent": ""}, {"indent": "\t"},
    {"indent": 3, "separators": (" ,", " : ")}, {"separators": (", ", ": ")}, {"sort_keys": True},
    {"allow_nan": False}, {"skipkeys": True, "sort_keys": True, "indent": 1}, {"check_circular": False},
])
def test_fixed_documents(doc, opts):
    check_all_forms(doc, **opts)


def test_defaults_are_compact_utf8():
    assert nj.dumps({"a": [1, "é"]}) == '{"a":[1,"é"]}'.encode()
    assert nj.dumps({"a": [1]}, indent=1) == b'{\n "a": [\n  1\n ]\n}'
    assert nj.dumps("é", ensure_ascii=True) == b'"\\u00e9"'


# ---- strings -----------------------------------------------------------------

@given(st.text(st.characters(codec=None, min_codepoint=0, max_codepoint=0x10FFFF), max_size=300),
       st.booleans())
def test_strings_any_kind(s, ensure_ascii):
    check_all_forms(s, ensure_ascii=ensure_ascii)
    check_all_forms({s: [s]}, ensure_ascii=ensure_ascii)


@pytest.mark.parametrize("s", ["\ud800", "a\udc00b", "é\ud83d", "\U0001f600\udfff", "\ud800\udc00"])
def test_lone_surrogates(s):
    # ensure_ascii=False: the oracle's .encode("utf-8") raises, so do we
    with pytest.raises(UnicodeEncodeError):
        oracle([s])
    with pytest.raises(UnicodeEncodeError) as ei:
        nj.dumps([s])
    assert ei.value.reason == "surrogates not allowed"
    assert ei.value.object == s
    with pytest.raises(UnicodeEncodeError):
        dump_bytes({s: 1})
    # ensure_ascii=True escapes them like the stdlib
    check_all_forms([s], ensure_ascii=True)


@pytest.mark.parametrize("size", [64, 65, 100, 4096])
def test_huge_string_is_streamed_in_pieces(size):
    s = ("ab\u00e9\u65e5\U0001f600\n" * 5000)
    chunks = []
    nj.dump(s, type("W", (), {"write": lambda self, c: chunks.append(len(c))})(), buffer_size=size)
    assert max(chunks) <= size and sum(chunks) == len(oracle(s))
    assert dump_bytes(s, buffer_size=size) == oracle(s)
    assert dump_bytes(s, buffer_size=size, ensure_ascii=True) == oracle(s, ensure_ascii=True)


def test_str_subclass():
    class S(str):
        def __str__(self):
            return "nope"
    check_all_forms({S("k"): S("v\n")})


# ---- numbers ---------------------------------------------------------------------

class IE(enum.IntEnum):
    A = 1
    BIG = 2**70


class FE(float, enum.Enum):
    PI = 3.14
    INF = float("inf")


class ReprInt(int):
    def __repr__(self):
        return "nope"
    __str__ = __repr__


class ReprFloat(float):
    def __repr__(self):
        return "nope"
    __str__ = __repr__


def test_number_subclasses_as_stdlib():
    doc = [IE.A, IE.BIG, FE.PI, FE.INF, ReprInt(5), ReprFloat(2.5),
           {IE.A: 1, IE.BIG: 2, FE.PI: 3, ReprInt(7): 4, ReprFloat(0.5): 5}]
    check_all_forms(doc)
    assert nj.dumps(doc[:6]) == b'[1,1180591620717411303424,3.14,Infinity,5,2.5]'


@pytest.mark.parametrize("x", [float("nan"), float("inf"), float("-inf"), FE.INF])
@pytest.mark.parametrize("as_key", [False, True])
def test_allow_nan_false_message(x, as_key):
    doc = {x: 1} if as_key else [x]
    with pytest.raises(ValueError) as exp:
        json.dumps(doc, allow_nan=False)
    with pytest.raises(ValueError) as got:
        nj.dumps(doc, allow_nan=False)
    assert str(got.value) == str(exp.value)


def test_int_max_str_digits_like_stdlib():
    big = 10 ** 5000
    if not hasattr(sys, "get_int_max_str_digits"):
        pytest.skip("no int max str digits limit in this Python")
    assert outcome(lambda: nj.dumps([big])) == outcome(lambda: oracle([big])) == ValueError


# ---- keys --------------------------------------------------------------------------

def test_bad_keys():
    for key in [(1,), b"x", 1j, frozenset()]:
        with pytest.raises(TypeError) as exp:
            json.dumps({key: 1})
        with pytest.raises(TypeError) as got:
            nj.dumps({key: 1})
        assert str(got.value) == str(exp.value)
        assert nj.dumps({key: 1, "a": 2}, skipkeys=True) == b'{"a":2}'
        assert nj.dumps({key: 1}, skipkeys=True, indent=2) == oracle({key: 1}, skipkeys=True, indent=2)


def test_sort_keys_mixed_types_raises_like_stdlib():
    with pytest.raises(TypeError):
        json.dumps({1: 1, "a": 2}, sort_keys=True)
    with pytest.raises(TypeError):
        nj.dumps({1: 1, "a": 2}, sort_keys=True)


def test_dict_subclass_items_are_honoured():
    class D(dict):
        def items(self):
            return [("z", 1), ("a", 2)]
    check_all_forms(D(x=1))
    check_all_forms(D(x=1), sort_keys=True)

    class Bad(dict):
        def items(self):
            return [("a", 1, 2)]
    assert outcome(lambda: nj.dumps(Bad(x=1))) == outcome(lambda: json.dumps(Bad(x=1))) == ValueError


# ---- default, errors, hostile callbacks ---------------------------------------------

def test_unserializable_message():
    class Thing:
        pass
    for obj in [Thing(), b"bytes", {1, 2}, [1, object()], {"a": 1j}]:
        with pytest.raises(TypeError) as exp:
            json.dumps(obj)
        with pytest.raises(TypeError) as got:
            nj.dumps(obj)
        assert str(got.value) == str(exp.value)


def test_default():
    doc = {"a": {1, 2}, "b": [b"x", 1j]}
    default = lambda o: sorted(o) if isinstance(o, set) else repr(o)  # noqa: E731
    check_all_forms(doc, default=default)
    check_all_forms(doc, default=default, indent=1)
    assert nj.dumps(1j, default=lambda o: {"re": o.real}) == b'{"re":0.0}'


def test_default_raising_leaves_prefix():
    def default(o):
        raise KeyError("boom")
    buf = bytearray(b"P" * 10 + b"\0" * 50)
    with pytest.raises(KeyError):
        nj.dumps_into([1, 2, object()], buf, 10, default=default)
    assert buf[:10] == b"P" * 10


def test_default_shrinking_list_as_stdlib():
    a = [object()] * 10

    def crasher(obj):
        del a[-1]
    exp = json.dumps(a, default=crasher, separators=(",", ":")).encode()
    a = [object()] * 10
    assert nj.dumps(a, default=crasher) == exp == b"[null,null,null,null,null]"


def test_default_clearing_list_and_dict():
    victims = [[object(), 1, 2, 3], {"k": object(), "x": [1, 2]}]

    def clear(o):
        for v in victims:
            v.clear()
        return "gone"
    exp = oracle(victims, default=clear)
    victims = [[object(), 1, 2, 3], {"k": object(), "x": [1, 2]}]
    assert nj.dumps(victims, default=clear) == exp == b'[["gone"],{}]'
    # the dict changed size while being walked
    victims = [{"k": object(), "x": [1, 2]}]
    with pytest.raises(RuntimeError, match="changed size"):
        nj.dumps(victims[0], default=clear)


def test_default_mutating_dict_same_size_never_crashes():
    d = {"a": object(), "b": "x" * 100}

    def default(o):
        d["b"] = [1, 2, 3]  # replaces a value still to come
        return None
    assert nj.dumps(d, default=default) == b'{"a":null,"b":[1,2,3]}'


def test_default_cannot_resize_pinned_destination():
    buf = bytearray(100)

    def default(o):
        buf.extend(b"x" * 1000)
        return 1
    with pytest.raises(BufferError):
        nj.dumps_into([object()], buf, default=default)
    assert len(buf) == 100


def test_default_reentrant():
    def default(o):
        return json.loads(nj.dumps({"inner": [1, 2]}))
    assert nj.dumps([object(), object()], default=default) == b'[{"inner":[1,2]},{"inner":[1,2]}]'


def test_circular():
    x = []
    x.append(x)
    d = {}
    d["d"] = d
    y = []
    z = [y, {"k": y}]
    y.append(z)
    for obj in [x, d, y, [1, [2, [3, x]]]]:
        with pytest.raises(ValueError, match="^Circular reference detected$"):
            nj.dumps(obj)
        with pytest.raises(ValueError):
            nj.dumps(obj, indent=2)
        with pytest.raises(RecursionError):
            nj.dumps(obj, check_circular=False)
    shared = [1]
    check_all_forms([shared, shared, {"a": shared, "b": shared}])


def test_circular_through_default():
    class Node:
        pass
    n = Node()
    with pytest.raises(ValueError, match="Circular"):
        nj.dumps(n, default=lambda o: [o])
    with pytest.raises(ValueError, match="Circular"):
        nj.dumps(n, default=lambda o: o)
    with pytest.raises(RecursionError):
        nj.dumps(n, default=lambda o: [o], check_circular=False)


def test_deep_nesting_raises_recursion_error():
    for wrap in (lambda o: [o], lambda o: {"k": o}, lambda o: (o,)):
        doc = 1
        for _ in range(100000):
            doc = wrap(doc)
        with pytest.raises(RecursionError):
            nj.dumps(doc)
        with pytest.raises(RecursionError):
            nj.dumps_into(doc, bytearray(10))
        with pytest.raises(RecursionError):
            dump_bytes(doc, check_circular=False)


def test_nesting_within_limit_uses_heap_stack():
    doc = 1
    for _ in range(200):
        doc = [doc]
    check_all_forms(doc)
    check_all_forms(doc, indent=1)


# ---- options ---------------------------------------------------------------------------

@pytest.mark.parametrize("opts, exc", [
    ({"indent": 1.5}, TypeError),
    ({"indent": b"  "}, TypeError),
    ({"separators": (b",", ":")}, TypeError),
    ({"separators": (",", b":")}, TypeError),
    ({"separators": ",:"}, TypeError),
    ({"separators": 5}, TypeError),
    ({"separators": (",",)}, ValueError),
    ({"separators": (",", ":", ";")}, ValueError),
    ({"default": 5}, TypeError),
    ({"sort_key": True}, TypeError),
    ({"cls": json.JSONEncoder}, TypeError),
    ({"indent": 2**80}, OverflowError),
])
def test_bad_options(opts, exc):
    with pytest.raises(exc):
        nj.dumps([1], **opts)
    with pytest.raises(exc):
        nj.dumps_into([1], bytearray(100), **opts)
    with pytest.raises(exc):
        dump_bytes([1], **opts)


def test_truthy_flag_values_like_stdlib():
    assert nj.dumps({"b": 1, "a": 2}, sort_keys=1) == b'{"a":2,"b":1}'
    assert nj.dumps("é", ensure_ascii="yes") == b'"\\u00e9"'

    class Bad:
        def __bool__(self):
            raise ZeroDivisionError
    with pytest.raises(ZeroDivisionError):
        nj.dumps([], sort_keys=Bad())


def test_separators_list_and_bool_indent():
    assert nj.dumps([1, 2], separators=[";", "="]) == b"[1;2]"
    assert nj.dumps([1], indent=True) == oracle([1], indent=True)


def test_bad_call_forms():
    with pytest.raises(TypeError):
        nj.dumps()
    with pytest.raises(TypeError):
        nj.dumps(1, 2)
    with pytest.raises(TypeError):
        nj.dumps_into(1)
    with pytest.raises(TypeError):
        nj.dumps_into(1, bytearray(5), 0, 0)
    with pytest.raises(TypeError):
        nj.dumps_into(1, bytearray(5), 0, offset=0)
    with pytest.raises(TypeError):
        nj.dumps_into(1, bytearray(5), "0")
    with pytest.raises(ValueError):
        nj.dumps_into(1, bytearray(5), -1)
    with pytest.raises(ValueError):
        nj.dumps_into(1, bytearray(5), 6)
    assert nj.dumps_into(1, bytearray(5), offset=4) == 5


# ---- destinations -------------------------------------------------------------------------

DOC = {"temperature": 21, "humidity": 45, "text": "héllo", "list": [1.5, None, True]}
EXP = oracle(DOC)


def test_destinations():
    b = bytearray(100)
    assert nj.dumps_into(DOC, memoryview(b)[10:], 2) == 2 + len(EXP)
    assert b[12:12 + len(EXP)] == EXP

    b = bytearray(100)
    v = View(b, 10, 90)
    assert nj.dumps_into(DOC, v, 3) == 3 + len(EXP)
    assert b[13:13 + len(EXP)] == EXP and b[:13] == bytes(13)
    with pytest.raises(BufferTooSmall) as ei:
        nj.dumps_into(DOC, View(b, 0, len(EXP) - 1))
    assert ei.value.needed == len(EXP)

    a = array.array("B", bytes(100))
    n = nj.dumps_into(DOC, a)
    assert a.tobytes()[:n] == EXP

    with mmap.mmap(-1, 4096) as m:
        n = nj.dumps_into(DOC, m, 100)
        assert m[100:n] == EXP


@pytest.mark.parametrize("buf", [b"x" * 100, memoryview(bytearray(100)).toreadonly(), "str", 5, None])
def test_bad_destinations(buf):
    with pytest.raises(TypeError):
        nj.dumps_into(DOC, buf)


def test_strided_memoryview_rejected():
    m = memoryview(bytearray(100))[::2]
    with pytest.raises(TypeError):
        nj.dumps_into(DOC, m)


def test_released_view_destination():
    v = View(bytearray(100))
    v.release()
    with pytest.raises(ValueError):
        nj.dumps_into(DOC, v)


@pytest.mark.parametrize("size", list(range(0, len(EXP) + 3)))
def test_buffer_too_small_exact_at_every_size(size):
    for offset in (0, 3):
        buf = bytearray(b"\xaa" * (offset + size))
        if size >= len(EXP):
            assert nj.dumps_into(DOC, buf, offset) == offset + len(EXP)
            assert buf[offset:offset + len(EXP)] == EXP
        else:
            with pytest.raises(BufferTooSmall) as ei:
                nj.dumps_into(DOC, buf, offset)
            assert ei.value.needed == offset + len(EXP)
            assert isinstance(ei.value, ValueError)
        assert buf[:offset] == b"\xaa" * offset


def test_buffer_too_small_big_document_counts_exactly():
    doc = [{"k": "v" * 1000, "n": list(range(500))} for _ in range(20)] + ["é" * 10000]
    exp = oracle(doc)
    with pytest.raises(BufferTooSmall) as ei:
        nj.dumps_into(doc, bytearray(100), 10)
    assert ei.value.needed == 10 + len(exp)


class FakeByteBuffer:
    """The ByteBuffer protocol dumps_into supports: writable() + commit(n)."""

    def __init__(self, capacity):
        self.storage = bytearray(capacity)
        self.w = 0
        self.commits = []

    def writable(self):
        return memoryview(self.storage)[self.w:]

    def commit(self, n):
        self.commits.append(n)
        self.w += n

    def data(self):
        return bytes(self.storage[:self.w])


def test_bytebuffer_like():
    bb = FakeByteBuffer(200)
    assert nj.dumps_into(DOC, bb) == len(EXP)
    assert nj.dumps_into([1], bb) == 3
    assert bb.data() == EXP + b"[1]"
    assert bb.commits == [len(EXP), 3]
    small = FakeByteBuffer(10)
    with pytest.raises(BufferTooSmall) as ei:
        nj.dumps_into(DOC, small)
    assert ei.value.needed == len(EXP) and small.commits == []
    # offset counts from the start of writable(): zeroed, committed with the document
    bb.storage[bb.w:bb.w + 3] = b"old"
    assert nj.dumps_into([2], bb, 3) == 6
    assert bb.data() == EXP + b"[1]" + b"\0\0\0[2]"
    with pytest.raises(BufferTooSmall) as ei:
        nj.dumps_into(DOC, FakeByteBuffer(10), 4)
    assert ei.value.needed == 4 + len(EXP)
    with pytest.raises(BufferTooSmall) as ei:
        nj.dumps_into(DOC, FakeByteBuffer(10), 12)  # the gap alone is past the space
    assert ei.value.needed == 12 + len(EXP)


# ---- dump ---------------------------------------------------------------------------------

BIG = {"rows": [{"id": i, "name": f"n{i}é", "v": i * 0.5} for i in range(3000)]}
BIG_EXP = oracle(BIG)


def test_dump_to_binary_file(tmp_path):
    p = tmp_path / "out.json"
    with open(p, "wb") as f:
        assert nj.dump(BIG, f, buffer_size=1000) == len(BIG_EXP)
    assert p.read_bytes() == BIG_EXP
    with open(p, "wb", buffering=0) as f:  # raw FileIO
        nj.dump(BIG, f)
    assert p.read_bytes() == BIG_EXP


def test_dump_to_fd(tmp_path):
    fd = os.open(tmp_path / "fd.json", os.O_WRONLY | os.O_CREAT)
    try:
        assert nj.dump(BIG, fd, buffer_size=4096, indent=1) == len(oracle(BIG, indent=1))
    finally:
        os.close(fd)
    assert (tmp_path / "fd.json").read_bytes() == oracle(BIG, indent=1)


def test_dump_to_socket():
    a, b = socket.socketpair()
    got = bytearray()

    def reader():
        while True:
            chunk = b.recv(65536)
            if not chunk:
                break
            got.extend(chunk)
    t = threading.Thread(target=reader)
    t.start()
    try:
        nj.dump(BIG, a, buffer_size=512)
    finally:
        a.shutdown(socket.SHUT_WR)
        t.join()
        a.close()
        b.close()
    assert bytes(got) == BIG_EXP


def test_dump_partial_writes():
    class Trickle:
        def __init__(self):
            self.out = bytearray()

        def write(self, data):
            n = min(len(data), 7)
            self.out += bytes(data[:n])
            return n
    t = Trickle()
    nj.dump(BIG, t, buffer_size=100)
    assert bytes(t.out) == BIG_EXP


def test_dump_bad_destinations_and_sizes():
    with pytest.raises(TypeError):
        nj.dump([1], object())
    with pytest.raises(TypeError):
        nj.dump([1], io.BytesIO(), buffer_size="64")
    with pytest.raises(ValueError):
        nj.dump([1], io.BytesIO(), buffer_size=10)

    class Zero:
        def write(self, data):
            return 0
    with pytest.raises(OSError):
        nj.dump([1], Zero())

    class ReturnsNone:
        def __init__(self):
            self.out = b""

        def write(self, data):
            self.out += bytes(data)
    r = ReturnsNone()
    nj.dump([1, "x" * 100], r, buffer_size=64)
    assert r.out == oracle([1, "x" * 100])
    with pytest.raises(TypeError):  # text stream: json bytes are not str
        nj.dump([1], io.StringIO())


def test_dump_sink_raising_midway():
    class Fails:
        calls = 0

        def write(self, data):
            self.calls += 1
            if self.calls == 3:
                raise OSError("disk full")
            return len(data)
    with pytest.raises(OSError, match="disk full"):
        nj.dump(BIG, Fails(), buffer_size=64)


def test_dump_sink_mutating_document():
    doc = [[1] * 100, {"a": "x" * 500}]

    class Evil:
        def write(self, data):
            doc[0].clear()
            return len(data)
    data = nj.dump(doc, Evil(), buffer_size=64)
    assert data > 0


def test_dump_chunk_is_a_view_reused():
    seen = []

    class Keep:
        def write(self, data):
            seen.append((type(data), len(data)))
            return len(data)
    nj.dump(BIG, Keep(), buffer_size=1024)
    assert all(t is View and n <= 1024 for t, n in seen)
    assert sum(n for _, n in seen) == len(BIG_EXP)


def _cache_utf8(s):
    # PyUnicode_AsUTF8 stores the UTF-8 form inside the str, as orjson/msgspec
    # and many C APIs do; nocopy then copies from that cache.
    import ctypes
    f = ctypes.pythonapi.PyUnicode_AsUTF8
    f.argtypes = [ctypes.py_object]
    f.restype = ctypes.c_void_p
    return f(s) is not None


@given(st.text(st.characters(codec="utf-8"), max_size=200), st.booleans())
def test_strings_with_cached_utf8(s, ensure_ascii):
    s = "".join([s, "é"])  # a fresh non-ASCII str whose cache we control
    assert _cache_utf8(s)
    check_all_forms(s, ensure_ascii=ensure_ascii)
    check_all_forms({s: [s, s + "\n\"\\\x01"]}, ensure_ascii=ensure_ascii)


def test_escape_at_every_offset_of_the_block_scans():
    # the escape scans go sixteen (SSE2) and eight bytes at a time: put each
    # kind of escapable char at every offset across two blocks, in cached
    # UTF-8, plain ASCII and 1/2/4-byte strs, with and without ensure_ascii
    for fill in ("a", "é", "ж", "日", "\U0001f600"):
        for bad in ('"', "\\", "\n", "\x01", "\x1f", "\x7f"):
            for i in range(0, 40):
                s = "".join([fill * i, bad, "b" * (40 - i)])
                if fill != "a":
                    _cache_utf8(s)
                for ea in (False, True):
                    assert nj.dumps(s, ensure_ascii=ea) == oracle(s, ensure_ascii=ea), (fill, bad, i)


def test_json_build_kind():
    # setup.py's profile-guided build says so; CI requires it (NOCOPY_PGO=1)
    # of every build but the sanitizers' (which never take it)
    from nocopy import _core
    assert _core._json_build in ("pgo", "plain")
    if os.environ.get("NOCOPY_PGO") == "1" and not os.environ.get("NOCOPY_UNDER_SANITIZER"):
        assert _core._json_build == "pgo"


def test_c_lint_recursion_guards_are_balanced():
    # msgspec's trick: no `return`/`goto` may sit between a successful
    # Py_EnterRecursiveCall and its Py_LeaveRecursiveCall, or the recursion
    # depth leaks.  (The failure branch right after the guard is fine.)
    import pathlib
    core = pathlib.Path(nj.__file__).parent / "_core"
    checked = 0
    for path in sorted(core.glob("json_*.c")):
        name = path.name
        lines = [ln for ln in path.read_text().splitlines()
                 if not ln.lstrip().startswith(("*", "/*"))]
        enters = [i for i, ln in enumerate(lines) if "Py_EnterRecursiveCall(" in ln]
        assert len(enters) == sum("Py_LeaveRecursiveCall()" in ln for ln in lines)
        for i in enters:
            j = i + 1
            if lines[j].strip() == "return -1;":
                j += 1
            body = []
            while "Py_LeaveRecursiveCall()" not in lines[j]:
                body.append(lines[j])
                j += 1
            assert not any("return" in ln or "goto" in ln for ln in body), (name, body)
            checked += 1
    assert checked >= 2


@pytest.mark.parametrize("special", ['"', "\\", "\x00", "\x1f", "\x7f", "\n", "é"])
def test_ascii_fast_path_every_length_and_position(special):
    for n in range(0, 21):
        base = "abcdefghijklmnopqrstu"[:n]
        for s in [base] + [base[:i] + special + base[i + 1:] for i in range(n)]:
            for ensure_ascii in (False, True):
                assert nj.dumps({s: s}, ensure_ascii=ensure_ascii) == \
                    oracle({s: s}, ensure_ascii=ensure_ascii), (s, ensure_ascii)


def test_real_bytebuffer_fills_free_space_and_commits():
    from nocopy import ByteBuffer
    bb = ByteBuffer(128)
    bb.write(b"HDR:")
    assert nj.dumps_into(DOC, bb) == len(EXP)
    assert bytes(bb.peek()) == b"HDR:" + EXP
    bb.consume(4)
    with pytest.raises(BufferTooSmall) as ei:
        nj.dumps_into(["x" * 200], bb)
    assert ei.value.needed == len(oracle(["x" * 200]))
    assert bytes(bb.peek()) == EXP  # nothing committed
    with pytest.raises(ValueError):
        nj.dumps_into(DOC, bb, 2)


def test_dump_to_nocopy_writer():
    from nocopy.io import Writer
    out = io.BytesIO()
    with Writer(out, buffer_size=256) as w:
        nj.dump(BIG, w, buffer_size=100)
    assert out.getvalue() == BIG_EXP


def test_real_bytebuffer_is_busy_while_encoding():
    from nocopy import ByteBuffer
    bb = ByteBuffer(256)

    def default(o):
        bb.write(b"intruder")  # must not race with the bytes being encoded
        return None
    with pytest.raises(RuntimeError):  # the ByteBuffer's own "is being filled" refusal
        nj.dumps_into([1, object()], bb, default=default)
    assert len(bb) == 0
    assert nj.dumps_into([1, object()], bb, default=lambda o: None) == len(b"[1,null]")
    assert bytes(bb.peek()) == b"[1,null]"


def test_dumps_into_floats_leave_bytes_past_the_document():
    # nc_format_double may use room past its text as scratch; the caller's
    # buffer must still only change inside the document.
    rng = random.Random(11)
    for _ in range(3000):
        x = [rng.choice([rng.random() * 10 ** rng.randint(-30, 30),
                         round(rng.uniform(-1e3, 1e3), rng.randint(0, 5)), 1.0, 0.0, 1e300, -2.5])]
        ref = nj.dumps(x)
        buf = bytearray(b"\xaa" * 120)
        off = rng.randint(0, 50)
        end = nj.dumps_into(x, buf, off)
        assert buf[off:end] == ref
        assert buf[:off] == b"\xaa" * off and buf[end:] == b"\xaa" * (120 - end)


# ---- the direct dict walk (dictiter.h) ----------------------------------------

def test_dict_walk_is_direct_where_supported():
    # 3.11-3.13 GIL builds walk dicts without PyDict_Next; the start-up
    # self-check must have agreed with PyDict_Next for that to be on.
    from nocopy import _core
    import sysconfig
    supported = ((3, 11) <= sys.version_info[:2] <= (3, 13)
                 and not sysconfig.get_config_var("Py_GIL_DISABLED"))
    assert _core._json_dict_walk_direct() is supported


_keys = st.one_of(st.text(max_size=6), st.integers(-5, 5), st.floats(allow_nan=False),
                  st.booleans(), st.none())


@given(st.lists(st.tuples(st.booleans(), _keys, st.integers()), max_size=60))
def test_dict_with_deletions_and_mixed_keys_matches_stdlib(ops):
    # inserts and deletes leave holes in the entry table and resize it;
    # non-str keys give the general entry kind
    d = {}
    for delete, k, v in ops:
        if delete:
            d.pop(k, None)
        else:
            d[k] = v
    assert nj.dumps(d) == oracle(d)
    assert nj.dumps([d, {"x": d}]) == oracle([d, {"x": d}])


def test_split_table_dict_matches_stdlib():
    class A:
        pass
    objs = [A() for _ in range(3)]
    for i, a in enumerate(objs):
        a.x, a.y = i, "y" * i
        if i == 2:
            del a.x
    for a in objs:
        assert nj.dumps(a.__dict__) == oracle(a.__dict__)


def test_default_resizing_dict_same_size_never_crashes():
    # `default` grows the dict (the entry table is reallocated and compacted)
    # and shrinks it back: the walk must re-read the table, not the old one
    d = {"a": object(), "b": 1, "c": "x", "d": [1], "e": 2.5}

    def default(o):
        for i in range(100):
            d[f"n{i}"] = i
        for i in range(100):
            del d[f"n{i}"]
        return None
    out = json.loads(nj.dumps(d, default=default))
    assert set(out) <= set(d)
    assert out["a"] is None


@pytest.mark.parametrize("ensure_ascii", [False, True])
def test_every_ascii_char_in_short_and_long_strings(ensure_ascii):
    # 1-3 char strings take a table lookup, 4-15 a word check, 16+ SSE2
    # blocks: every ASCII char at every position class of each
    for c in map(chr, range(128)):
        for s in (c, c + "a", "a" + c, "a" + c + "b", c * 3, "abc" + c, "abcdefg" + c,
                  c + "x" * 15, "x" * 15 + c, "x" * 20 + c + "y" * 40):
            doc = {s: s}
            assert nj.dumps(doc, ensure_ascii=ensure_ascii) == oracle(doc, ensure_ascii=ensure_ascii)


@pytest.mark.parametrize("n", [16, 17, 63, 64, 65, 80, 127, 128, 130, 200])
def test_escape_at_every_position_of_long_strings(n):
    # 64-byte rounds, 16-byte blocks and the overlapping tail block each
    # have to notice a char needing an escape wherever it sits; the same
    # for a str whose UTF-8 form is cached (copied from the cache)
    for bad in ('"', "\\", "\n", "\x1f", "\x7f"):
        for i in range(n):
            s = "k" * i + bad + "v" * (n - 1 - i)
            u = "é" + s
            _cache_utf8(u)
            for ea in (False, True):
                assert nj.dumps([s, u], ensure_ascii=ea) == oracle([s, u], ensure_ascii=ea)


@pytest.mark.parametrize("buffer_size", [64, 100, 1000])
def test_dump_sink_mutating_dicts_and_strings_never_crashes(buffer_size):
    # dump() writes leaves without holding them only when they cannot reach
    # the end of the chunk; a sink (Python code, run when the chunk is full)
    # that deletes, replaces and clears the document's items must find every
    # object it frees already written or held.  ASan runs this too.
    rnd = random.Random(buffer_size)
    doc = [{f"k{i}": ("v" * (i % 70) + str(j)) if i % 3 else i * 1.5 for i in range(60)}
           for j in range(8)]
    doc.append([("s" * n) + str(n) for n in range(0, 300, 7)])

    class Vandal:
        def write(self, data):
            d = rnd.choice(doc[:-1])
            if d:
                k = rnd.choice(list(d))
                d[k] = "replaced" * rnd.randrange(4)
                if rnd.random() < 0.2:
                    del d[k]
                    d["new" + k] = 1
            if rnd.random() < 0.1:
                doc[-1][:] = ["x" * 500]
            return len(data)
    try:
        nj.dump(doc, Vandal(), buffer_size=buffer_size)
    except RuntimeError as exc:
        assert "changed size" in str(exc)


def test_dump_output_equals_dumps_for_every_buffer_size():
    doc = {"a": ["é" * 40, 1.25, 10 ** 30, None], "b": {"c": "x" * 300, "d": [True] * 50},
           "e": [{"k": i, "s": "\n" * (i % 5)} for i in range(40)]}
    exp = nj.dumps(doc)
    for size in (64, 65, 100, 127, 512, 4096):
        out = io.BytesIO()
        nj.dump(doc, out, buffer_size=size)
        assert out.getvalue() == exp == oracle(doc)



def test_dump_dict_leaves_at_every_distance_from_the_chunk_end():
    # dump() writes a dict's leaf item without holding it only when its
    # bound fits the room left: keys and values of every kind and length,
    # pushed across the chunk end one byte at a time
    values = [10 ** 40, -(2 ** 63), 7, 1.5, -1.2345678901234567e-300, None, True, False, "",
              "v" * 30, "é" * 9, "\U0001f600" * 3]
    for pad in range(0, 70):
        doc = ["p" * pad, {("k" * (i % 5)) + str(i): v for i, v in enumerate(values)},
               {"x" * 40: values[-1], "": 10 ** 40}]
        exp = oracle(doc)
        for size in (64, 65, 97):
            assert dump_bytes(doc, buffer_size=size) == exp

# ---- the key cache (enc_item) --------------------------------------------------

_CACHE_KEYS = ["a", "bb", "ccc", "dddd", "k" * 29, "k" * 30, "k" * 31, "k" * 40, "",
               "é", "q\"", "tab\t", "\x7f", "日本"]


@pytest.mark.parametrize("opts", [{}, {"ensure_ascii": True}, {"separators": (",", ":")},
                                  {"separators": (", ", ": ")}, {"indent": 1},
                                  {"sort_keys": True}, {"separators": (";", "=")}])
def test_repeated_keys_match_stdlib(opts):
    # the same key objects in many dicts: from the second dict on their
    # text comes from the cache; keys too long or needing escapes do not
    rows = [{k: i for k in _CACHE_KEYS} for i in range(5)]
    many = [{f"key{j}": j for j in range(700)} for _ in range(3)]  # > 256 slots: evictions
    doc = [rows, many, {"x": rows[0]}]
    assert nj.dumps(doc, **opts) == oracle(doc, **opts)
    buf = bytearray(len(oracle(doc, **opts)) + 10)
    n = nj.dumps_into(doc, buf, 3, **opts)
    assert bytes(buf[3:n]) == oracle(doc, **opts)
    out = io.BytesIO()
    nj.dump(doc, out, buffer_size=64, **opts)
    assert out.getvalue() == oracle(doc, **opts)


def test_key_cache_with_fresh_key_objects_from_default():
    # `default` returns dicts whose keys are new str objects each time (and
    # free them after): a freed key's address may be reused by another str;
    # the cache holds its keys, so it can never mistake one for another
    counter = iter(range(10 ** 6))

    def default(o):
        i = next(counter)
        return {"".join(["k", str(i % 3)]): i, "".join(["v", str(i)]): -i}
    doc = [{"a": 1}, {"a": 2}] + [object() for _ in range(300)]
    counter2 = iter(range(10 ** 6))

    def default2(o):
        i = next(counter2)
        return {"".join(["k", str(i % 3)]): i, "".join(["v", str(i)]): -i}
    assert nj.dumps(doc, default=default) == oracle(doc, default=default2)


def test_key_cache_outlasts_the_call_and_evicts():
    # the cache lives in the module: a key written with the compact ':' is
    # held after the call (one reference), until other keys evict it
    k = "".join(["sensor", "_key_", str(id(object()))])
    before = sys.getrefcount(k)
    assert nj.dumps({k: 1}) == oracle({k: 1})
    assert sys.getrefcount(k) == before + 1
    assert nj.dumps({k: 2}) == oracle({k: 2})          # a hit: still one
    assert sys.getrefcount(k) == before + 1
    for i in range(0, 4000, 20):
        nj.dumps({f"evict{j}": j for j in range(i, i + 20)})
    assert sys.getrefcount(k) == before


def test_key_cache_not_used_with_other_key_separators():
    k = "".join(["other", "_sep_", str(id(object()))])
    before = sys.getrefcount(k)
    for seps in ((",", "="), (", ", ": ")):
        assert nj.dumps({k: 1}, separators=seps) == oracle({k: 1}, separators=seps)
    assert nj.dumps({k: 1}, indent=2) == oracle({k: 1}, indent=2)
    assert sys.getrefcount(k) == before


def test_key_cache_per_ensure_ascii_mode():
    # DEL is written raw without ensure_ascii and escaped with it: the same
    # key object cached in one mode must not serve the other
    k = "".join(["d", "\x7f", "l"])
    for ensure_ascii in (False, True, False, True):
        for _ in range(3):
            assert nj.dumps({k: 1}, ensure_ascii=ensure_ascii) == \
                oracle({k: 1}, ensure_ascii=ensure_ascii)


# ---- floats into the caller's buffer: bytes after the document ---------------
# The float formatter stores up to 48 bytes whatever the text's length; in
# dumps_into the encoder saves the never-written bytes a float may reach and
# puts back those past the document (json.h, nc_jw_guard_tail).

def _patterned(n, seed):
    rng = random.Random(seed)
    return bytearray(rng.getrandbits(8) for _ in range(n))


def _check_into(obj, offset, slack, seed, **options):
    doc = oracle(obj, **options)
    buf = _patterned(offset + len(doc) + slack, seed)
    orig = bytes(buf)
    end = nj.dumps_into(obj, buf, offset, **options)
    assert end == offset + len(doc)
    assert buf[offset:end] == doc
    assert buf[:offset] == orig[:offset]
    assert buf[end:] == orig[end:], (obj, offset, slack)


@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), max_size=120),
       st.integers(0, 40), st.integers(0, 90), st.sampled_from([None, ("", ":"), (", ", ": ")]))
def test_floats_leave_bytes_after_document(xs, offset, slack, seps):
    opts = {} if seps is None else {"separators": seps}
    _check_into(xs, offset, slack, len(xs) + slack, **opts)
    if xs:
        _check_into({"k": xs[-1]}, offset, slack, slack, **opts)      # a float last
        _check_into({x: 1 for x in xs[:5]}, offset, slack, 9, **opts)  # float keys, quoted


def test_floats_leave_bytes_after_document_long_lists():
    # more floats than the 16 saves kept, short and long float texts, every
    # slack around the 48 bytes a float may reach
    rng = random.Random(77)
    longs = [rng.uniform(-1e6, 1e6) for _ in range(3000)]
    shorts = [float(rng.randrange(10)) for _ in range(3000)]            # "3.0"
    mixed = [rng.choice([1.5, -0.25, 1e-300 * rng.random(), 12.0, rng.random()]) for _ in range(3000)]
    for xs in (longs, shorts, mixed):
        for slack in (0, 1, 5, 16, 31, 32, 33, 47, 48, 49, 50, 95, 96, 97, 98, 99, 300):
            _check_into(xs, 3, slack, slack)
            _check_into(xs[:rng.randrange(1, 200)], 0, slack, slack + 1)


def test_floats_into_bytebuffer_leave_free_space_after_document():
    from nocopy import ByteBuffer
    xs = [random.Random(5).uniform(-1, 1) for _ in range(50)]
    doc = oracle(xs)
    bb = ByteBuffer(len(doc) + 40)
    space = bb.writable()
    space[:] = bytes(i % 251 for i in range(len(space)))
    orig = bytes(space)
    del space
    assert nj.dumps_into(xs, bb) == len(doc)
    assert bytes(bb) == doc
    space = bb.writable()
    assert bytes(space) == orig[len(doc):]


def test_float_runs_switch_paths_with_same_text():
    # after 8 doubles that are not short decimals the encoder skips its
    # short-decimal check for a while (numfmt.c, format_double's run): short
    # decimals then take the general path and must print the same
    rng = random.Random(11)
    runs = []
    for _ in range(30):
        runs += [rng.uniform(-1e6, 1e6) for _ in range(rng.randrange(1, 20))]
        runs += [round(rng.uniform(-1000, 1000), rng.randrange(0, 4)) for _ in range(rng.randrange(1, 80))]
        runs += [float(rng.randrange(-10 ** 6, 10 ** 6)) for _ in range(rng.randrange(0, 5))]
    expect = oracle(runs)
    assert nj.dumps(runs) == expect
    buf = bytearray(len(expect) + 100)
    assert buf[:nj.dumps_into(runs, buf)] == expect
    out = io.BytesIO()
    nj.dump(runs, out, buffer_size=256)
    assert out.getvalue() == expect


def test_writes_by_default_past_the_document_are_kept():
    # `default` is Python code: it may write into the very buffer being
    # filled, past the write position; the bytes the float formatter reached
    # are put back before it runs, not after (which would undo its write)
    buf = bytearray(b"." * 200)

    class Mark:
        pass

    def default(o):
        buf[20:30] = b"ABCDEFGHIJ"     # same size: allowed while pinned
        return 0

    end = nj.dumps_into([1.5, Mark()], buf, default=default)
    assert bytes(buf[:end]) == b"[1.5,0]"
    assert bytes(buf[end:20]) == b"." * (20 - end)
    assert bytes(buf[20:30]) == b"ABCDEFGHIJ"
    assert bytes(buf[30:]) == b"." * 170

    class Items(dict):
        def items(self):
            buf[40:44] = b"WXYZ"
            return dict.items(self)

    buf[:] = b"." * 200
    end = nj.dumps_into([2.25, Items(a=1)], buf)
    assert bytes(buf[:end]) == b'[2.25,{"a":1}]'
    assert bytes(buf[40:44]) == b"WXYZ"
    assert bytes(buf[end:40]) == b"." * (40 - end)


class _Mark:
    pass


def _check_default_write_past_end_kept(doc, size, at):
    # `default` (Python code, run for each _Mark) writes b"HELLO" into the
    # very buffer being filled, at `at`, past where the document ends: the
    # write stays, and every other byte after the document is as it was
    buf = bytearray(b"." * size)

    def default(o):
        buf[at:at + 5] = b"HELLO"
        return 0

    end = nj.dumps_into(doc, buf, default=default)
    assert bytes(buf[:end]) == oracle(doc, default=lambda o: 0)
    assert end < at
    assert bytes(buf[end:at]) == b"." * (at - end)
    assert bytes(buf[at:at + 5]) == b"HELLO"
    assert bytes(buf[at + 5:]) == b"." * (size - at - 5)


def test_saved_tail_bytes_never_undo_writes_by_default():
    # Twenty close floats fill the ring of saves, a string runs past what
    # they reached, `default` writes into the buffer past the final end, and
    # a last float makes the end restore run.  Saves taken before `default`
    # must not be put back over its write (they are dropped when Python
    # code runs, and a restore stops where the writes stopped).
    _check_default_write_past_end_kept([1.5] * 20 + ["s" * 50, _Mark(), 2.5], 300, 150)



# ---- floats in a row in a compact list (json_numbers.c, nc_json_enc_float_items)
# Up to 16 exact, finite floats at a time are gathered and formatted by one
# call; in dumps_into into a local array, then copied exactly (the single
# floats of dicts are formatted in place, with the bytes past them saved).

class _F(float):
    pass


_not_run = [1, None, True, "s", _F(2.5), [0.5], {"k": 0.25}, float("nan"), float("inf"),
            -float("inf"), 10 ** 30]


def _run_items(rng, n):
    pick = rng.random()
    if pick < 0.4:
        return [rng.uniform(-1e6, 1e6) for _ in range(n)]          # 17 digits
    if pick < 0.7:
        return [float(rng.randrange(10)) for _ in range(n)]        # "3.0"
    return [rng.choice([1e-300 * rng.random(), -0.0, 1e22, 0.1, rng.random()]) for _ in range(n)]


@pytest.mark.parametrize("n", [1, 2, 15, 16, 17, 31, 32, 33, 47, 100])
@pytest.mark.parametrize("container", [list, tuple])
def test_float_runs_around_batch_sizes(n, container):
    rng = random.Random(n)
    xs = _run_items(rng, n)
    check_all_forms(container(xs))
    for at in sorted({0, 1, n // 2, max(n - 1, 0), n}):
        for other in _not_run:
            doc = container(xs[:at] + [other] + xs[at:])
            for opts in ({}, {"allow_nan": False}, {"separators": (", ", ": ")}, {"indent": 1}):
                check_all_forms(doc, **opts)


@given(st.lists(st.one_of(
           st.lists(st.floats(allow_nan=False, allow_infinity=False), max_size=40),
           st.lists(st.sampled_from([0.0, 1.0, 2.5, -0.0, 1e-7]), max_size=40),
           st.dictionaries(st.sampled_from("abc"), st.floats(allow_nan=False, allow_infinity=False)),
           st.floats(allow_nan=False, allow_infinity=False), st.integers(-99, 99), st.just("xyz")),
           max_size=8),
       st.integers(0, 9), st.integers(0, 120), st.integers(0, 3))
def test_float_runs_and_single_floats_leave_bytes_after_document(doc, offset, slack, seed):
    # runs (exact copies) next to single floats of dicts (formatted in place,
    # one save each), the document ending anywhere among them
    _check_into(doc, offset, slack, seed)
    _check_into(doc, offset, slack, seed, separators=(",", ":"))


def test_short_float_run_then_single_floats_keep_bytes_after_document():
    # A run of short texts (batched, copied exactly), then single floats of
    # dicts (formatted in place, the bytes past them saved in the ring of
    # 16): the document ends at every distance from the run.
    for k in range(1, 17):
        for singles in range(0, 20):
            for tail in ([], ["x"], [7]):
                doc = [[0.0] * k] + [{"v": 1.5}] * singles + tail
                for slack in (0, 1, 20, 47, 48, 49, 100, 700):
                    _check_into(doc, 1, slack, k * 100 + singles + slack)


def test_float_run_then_default_keeps_its_write_past_the_end():
    for k in (1, 5, 16, 17, 40):
        _check_default_write_past_end_kept([0.5] * k + [_Mark(), 2.5], 400, 300)


_WORST = [-2.2250738585072014e-308, -1.7976931348623157e+308, -1.2345678901234567e-100,
          -0.00012345678901234567, -1234567890123456.7]   # 24 chars and near


@pytest.mark.parametrize("kind", ["mixed", "longest"])
def test_float_runs_through_every_room_size(kind):
    # the room left decides how many floats a batch takes (room for the
    # longest text, 24 chars, each): every buffer size from too small to
    # ample, and dump's chunk sizes
    rng = random.Random(3)
    if kind == "mixed":
        xs = [rng.uniform(-1e6, 1e6) for _ in range(40)] + [0.0] * 20 + [1e-300 * rng.random() for _ in range(10)]
    else:
        xs = [rng.choice(_WORST) for _ in range(50)]
    exp = oracle(xs)
    for size in range(len(exp) - 30, len(exp) + 130):
        buf = _patterned(size, size)
        orig = bytes(buf)
        if size < len(exp):
            with pytest.raises(BufferTooSmall) as ei:
                nj.dumps_into(xs, buf)
            assert ei.value.needed == len(exp)
        else:
            assert nj.dumps_into(xs, buf) == len(exp)
            assert buf[:len(exp)] == exp and buf[len(exp):] == orig[len(exp):]
    for bs in (64, 65, 100, 333, 1000, 4096):
        assert dump_bytes(xs, buffer_size=bs) == exp

# ---- strings a block at a time (json_utf8.c) ----------------------------------
# Without ensure_ascii, Latin-1, UCS-2 and UCS-4 strings are encoded 16, 8
# and 4 chars a step where the CPU has SSSE3.  Every test here runs with the
# block path on and off (the per-char path is what other CPUs use).

def _ssse3():
    try:
        with open("/proc/cpuinfo") as f:
            return " ssse3" in f.read()
    except OSError:
        return False


@contextlib.contextmanager
def _switched(hook, value):
    # a test hook of _core that sets a path and returns the one before
    from nocopy import _core
    was = getattr(_core, hook)(value)
    try:
        yield
    finally:
        getattr(_core, hook)(was)


def _utf8_blocks(on):
    return _switched("_json_utf8_blocks", on)


@pytest.fixture(params=[True, False], ids=["blocks", "per-char"])
def utf8_blocks(request):
    with _utf8_blocks(request.param):
        yield request.param


def test_utf8_blocks_on_where_supported():
    # so that CI on x86-64 really runs the block path by default
    from nocopy import _core
    import platform
    if platform.machine() in ("x86_64", "AMD64") and _ssse3():
        assert _core._json_utf8_blocks() is True
    was = _core._json_utf8_blocks(False)
    try:
        assert _core._json_utf8_blocks() is False
    finally:
        _core._json_utf8_blocks(was)
    with pytest.raises(TypeError):
        _core._json_utf8_blocks(1, 2)


# chars at every UTF-8 length boundary, the escapes and the surrogates
_block_pool = ("abc xyz" + '"\\\n\x00\x1f\x7f' + "é\x80\xff" + "λё\u07ff"
               + "\u0800日\ufffd\uffff\ue000" + "\U00010000\U0010ffff😀" + "\ud800\udfff")
_block_text = st.text(st.sampled_from(_block_pool), max_size=90) | \
    st.text(st.sampled_from("ab éÿ"), max_size=90) | \
    st.text(st.sampled_from("ab é日λ"), max_size=90) | \
    st.text(st.sampled_from("a é日😀"), max_size=90)


@given(_block_text, st.integers(0, 8), st.integers(0, 40), st.booleans())
def test_block_strings_match_stdlib_and_keep_bytes_after(s, offset, slack, blocks):
    with _utf8_blocks(blocks):
        for doc in ([s], {s: s}, [s, "x"], [s, s[: len(s) // 2]]):
            exp = check_all_forms(doc)
            if isinstance(exp, bytes):
                _check_into(doc, offset, slack, len(s) + slack)


@pytest.mark.parametrize("filler", ["a", "é", "日", "😀"])
@pytest.mark.parametrize("special", ['"', "\\", "\x00", "é", "日", "😀", "\ud800"])
def test_block_every_length_and_position(utf8_blocks, filler, special):
    # every string length across the block sizes and the 12-char cover, with
    # one special char at every position, last in the document and not
    for n in range(1, 45):
        for i in range(n):
            s = filler * i + special + filler * (n - i - 1)
            for doc in ([s], [s, 1]):
                if "\ud800" in s:
                    with pytest.raises(UnicodeEncodeError):
                        nj.dumps(doc)
                    continue
                _check_into(doc, 3, 20, n * 31 + i)


def test_block_long_mixed_strings_through_small_dump_buffers(utf8_blocks):
    # the room, not the string, ends a run: blocks must stop at it
    rng = random.Random(3)
    words = ["größe", "日本語のテキスト", "Ελληνικά", "emoji 😀🎉", "çà et là", "plain"]
    doc = [" ".join(rng.choice(words) for _ in range(rng.randrange(1, 40))) for _ in range(50)]
    exp = oracle(doc)
    for size in (64, 65, 77, 100, 128, 1000):
        assert dump_bytes(doc, buffer_size=size) == exp
    assert nj.dumps(doc) == exp
    for slack in range(0, 20):
        _check_into(doc, 0, slack, slack)


# ---- string bytes 32 at a time (json_wide.c) -----------------------------------
# ASCII strings of 16 bytes or more and cached UTF-8 are checked and copied
# 32 bytes a step with AVX-512 (BW, VL) or AVX2 where the CPU has them, and
# with AVX-512 strings with escapes are written by the same loop; else by
# the SSE2 loops.  Every test here runs at each level (a level the CPU lacks
# runs as the best one it has: the SSE2 loop is what other CPUs use).

def _cpu_level():
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return None
    if all(f" {x}" in flags for x in ("avx512f", "avx512bw", "avx512vl")):
        return 2
    return 1 if " avx2" in flags else 0


def _wide(level):
    return _switched("_json_wide", level)


@pytest.fixture(params=[2, 1, 0], ids=["avx512", "avx2", "sse2"])
def wide(request):
    with _wide(request.param):
        yield request.param


def test_wide_levels():
    # so that CI on a CPU with AVX2 or AVX-512 really runs those loops by default
    from nocopy import _core
    import platform
    best = _core._json_wide()
    if platform.machine() in ("x86_64", "AMD64") and _cpu_level() is not None:
        assert best == _cpu_level()
    try:
        for level in (0, 1, 2):
            assert _core._json_wide(level) in (0, 1, 2)
            assert _core._json_wide() == min(level, best)   # at most the CPU's
        assert _core._json_wide(None) == min(2, best)       # None only asks
    finally:
        _core._json_wide(best)
    assert _core._json_wide() == best
    with pytest.raises(TypeError):
        _core._json_wide(1, 2)
    for bad in ("1", True, False, 1.0):
        with pytest.raises(TypeError):
            _core._json_wide(bad)
    for bad in (-1, 3, 2**70):
        with pytest.raises((ValueError, OverflowError)):
            _core._json_wide(bad)
    assert _core._json_wide() == best


def _fresh(s):
    return "".join([s[:1], s[1:]]) if s else s


@pytest.mark.parametrize("special", ['"', "\\", "\n", "\x1f", "\x7f", "~"])
@pytest.mark.parametrize("filler", ["a", "é", "日😀"])
def test_wide_every_length_and_position(wide, filler, special):
    # lengths across every block boundary of both loops (16, 32, 64, 128
    # and the 128-byte rounds), one special byte at every position, the
    # string cached UTF-8 when not ASCII, last in the document and not
    for n in [*range(0, 70), *range(94, 100), *range(124, 134), *range(188, 194),
              *range(252, 262), *range(380, 388), 1000]:
        positions = range(n) if n <= 40 else sorted({0, 1, 15, 16, 31, 32, 33, 63, 64, 95, 127,
                                                     128, n // 2, n - 33, n - 32, n - 17,
                                                     n - 16, n - 2, n - 1})
        base = (filler * n)[:n]
        for i in positions:
            if i >= n:
                continue
            s = _fresh(base[:i] + special + base[i + 1:])
            if not s.isascii():
                assert _cache_utf8(s)
            for doc in ([s], [s, 1], {s: s}):
                for ea in (False, True):
                    _check_into(doc, 3, 20, n * 31 + i, ensure_ascii=ea)
        s = _fresh(base)
        if s and not s.isascii():
            assert _cache_utf8(s)
        _check_into([s, s], 1, 5, n, ensure_ascii=False)


def test_wide_escaping_writer_keeps_bytes_after(wide):
    # the escaping writer runs when the room holds 6 bytes a byte: buffers
    # of just that room (and 1-3 more) with one or two escapes near the end
    # of a string, where a whole block is stored before the escape
    # overwrites its rest -- no byte past the document may change
    for n in [*range(16, 70), *range(90, 100), 127, 128, 129, 191, 192, 255, 256, 300]:
        for at in {(n - 1,), (n - 2,), (n - 32,), (n - 33,), (0,), (n - 2, n - 1), (n - 40, n - 33)}:
            if min(at) < 0:
                continue
            chars = ["a"] * n
            for k in at:
                chars[k] = "\n"
            for t in ("".join(chars), _fresh("".join(chars) + "é")):
                if not t.isascii():
                    assert _cache_utf8(t)
                exp = oracle([t])
                nbytes = len(t.encode())
                for extra in range(4):
                    size = 2 + 6 * nbytes + extra
                    buf = _patterned(size, n + extra)
                    orig = bytes(buf)
                    assert nj.dumps_into([t], buf) == len(exp)
                    assert buf[:len(exp)] == exp and buf[len(exp):] == orig[len(exp):], (n, at)


def test_wide_copy_every_position_to_300(wide):
    # one special byte at every position of every length up to 300: any
    # gap between the copy's overlapping blocks shows
    for n in range(41, 301):
        base = "b" * n
        for i in range(n):
            for special in ('"', "\x01"):
                s = base[:i] + special + base[i + 1:]
                assert nj.dumps([s]) == oracle([s])
        assert nj.dumps([base]) == oracle([base])


def test_wide_every_byte_value(wide):
    # each ASCII byte value (the ones to escape and the ones next to them:
    # 0x1f/0x20, '!'/'"'/'#', '['/'\\'/']', DEL) at the edges of the blocks,
    # with ASCII and with cached non-ASCII text around it
    for n in (16, 31, 33, 65, 127, 129, 200):
        for filler in ("a", "é", "日", "😀"):
            base = (filler * n)[:n]
            for c in map(chr, range(128)):
                for i in {0, 15, 16, 31, 32, n - 1}:
                    if i >= n:
                        continue
                    s = _fresh(base[:i] + c + base[i + 1:])
                    if not s.isascii():
                        assert _cache_utf8(s)
                    for ea in (False, True):
                        assert nj.dumps([s], ensure_ascii=ea) == oracle([s], ensure_ascii=ea), (n, i, c)


def test_wide_dense_escapes(wide):
    # a byte to escape every 1, 2 and 3 bytes: the rest of a block goes
    # byte by byte there; a lone one resumes with a fresh block
    for pat in ("\n", "a\n", "ab\"", "\x00\x01", "abc\\" * 9 + "x" * 30, "x" * 40 + "\t"):
        for n in (1, 15, 16, 31, 32, 33, 63, 64, 65, 100, 257):
            s = (pat * n)[:n]
            for t in (s, _fresh(s + "é")):
                if not t.isascii():
                    assert _cache_utf8(t)
                for ea in (False, True):
                    _check_into([t, "k"], 2, 9, n, ensure_ascii=ea)
                check_all_forms([t], ensure_ascii=False)


_wide_text = st.text(st.sampled_from("abcxyz \"\\\n\x00\x1f\x7f~éλ日😀"), max_size=300) | \
    st.text(st.sampled_from("abcdefgh "), min_size=14, max_size=300)


@given(_wide_text, st.booleans(), st.booleans(), st.integers(0, 8), st.integers(0, 40),
       st.sampled_from([0, 1, 2]))
def test_wide_strings_match_stdlib(s, cache, ensure_ascii, offset, slack, level):
    s = _fresh(s)
    if cache and not s.isascii():
        assert _cache_utf8(s)
    with _wide(level):
        for doc in ([s], {s: [s, 1]}, [s, "x" * 17]):
            exp = check_all_forms(doc, ensure_ascii=ensure_ascii)
            if isinstance(exp, bytes):
                _check_into(doc, offset, slack, len(s) + slack, ensure_ascii=ensure_ascii)


def test_wide_room_boundaries(wide):
    # dumps_into whose buffer ends inside, at and after a long string, and
    # dump through chunks that end inside one: the fallback writers take it
    for n in (16, 31, 32, 33, 64, 100, 129, 300):
        for s in ("q" * n, "q" * (n - 1) + "\n", _fresh("é" * (n // 2))):
            if not s.isascii():
                assert _cache_utf8(s)
            doc = ["x", s, s]
            exp = oracle(doc)
            for size in range(len(exp) - n - 3, len(exp) + 2):
                buf = _patterned(size + 4, size)
                orig = bytes(buf)
                if size < len(exp):
                    with pytest.raises(BufferTooSmall) as ei:
                        nj.dumps_into(doc, memoryview(buf)[:size])
                    assert ei.value.needed == len(exp)
                    assert buf[size:] == orig[size:]
                else:
                    assert nj.dumps_into(doc, buf) == len(exp)
                    assert buf[:len(exp)] == exp and buf[len(exp):] == orig[len(exp):]
            for bs in (64, 65, 100, 333):
                assert dump_bytes(doc, buffer_size=bs) == exp


# ---- dumps' starting size ------------------------------------------------------
# A document past the 4 KB stack scratch starts in a bytes object of the last
# such document's length (json.h, NC_JW_HINT_MAX); sizes just below, at and
# above it, with floats (which want 50 bytes of room) and strings at the end.

@pytest.mark.parametrize("last", [4097, 16384, 16385, 100_000])
def test_dumps_sizes_around_the_last_document(last):
    def doc_of(n, tail):
        body = ["z" * 1000] * ((n - 100) // 1004)
        d = body + [tail]
        pad = n - len(oracle(d)) - 3
        return body + ["p" * max(pad, 0), tail]

    for tail in (1.0000000000000002, "é日😀" * 9, 12345678901234567890, {"k": [None]}):
        ref = doc_of(last, tail)
        assert nj.dumps(ref) == oracle(ref)
        for n in (last - 60, last - 1, last, last + 1, last + 60, 2 * last + 5):
            assert nj.dumps(ref) == oracle(ref)          # hint = len(ref)
            d = doc_of(n, tail)
            assert nj.dumps(d) == oracle(d), (last, n, tail)


@pytest.mark.slow
def test_block_strings_soak():
    # 100,000 random strings over every mix of the char classes, both
    # paths, dumps and dumps_into with random bytes around the document
    rng = random.Random(11)
    pools = ["abc xyz012", '"\\\n\x00\x1f\x7f', "éÿ\x80\xa0", "λёЖ\u07ff",
             "\u0800日本\ufffd\uffff\ue000", "\U00010000\U0010ffff😀🎉", "\ud800\udfff"]
    for i in range(100_000):
        k = rng.randrange(1, 1 << len(pools))
        alphabet = "".join(p for j, p in enumerate(pools) if k >> j & 1)
        s = "".join(rng.choice(alphabet) for _ in range(rng.randrange(120)))
        doc = [s] if i % 2 else {s: [s, 1.5]}
        exp = outcome(lambda: oracle(doc))
        for blocks in (True, False):
            with _utf8_blocks(blocks):
                assert outcome(lambda: nj.dumps(doc)) == exp, (s, blocks)
                if isinstance(exp, bytes):
                    _check_into(doc, rng.randrange(4), rng.randrange(30), i)
