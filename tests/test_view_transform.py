"""View methods that produce new bytes (replace, case mapping, translate,
expandtabs, padding, join, *, %) and the parsers to_int / to_float, each
compared with bytes / int() / float() as the oracle: same results, same
exception types and messages, over windows in the middle of larger bytes and
bytearray buffers."""
import itertools
import math
import string
import sys
import tracemalloc

import pytest
from hypothesis import given, strategies as st

from nocopy import View

# ---- helpers --------------------------------------------------------------------

KINDS = [bytes, bytearray]


def embed(data, kind=bytes, pad=3):
    """A View of `data` in the middle of a larger buffer of type kind."""
    head, tail = b"\xfeA_1 " * pad, b" 9z\t\xff" * pad
    return View(kind(head + data + tail), len(head), len(head) + len(data))


@st.composite
def windows(draw, data_strategy=None):
    data = draw(data_strategy if data_strategy is not None else st.binary(max_size=40))
    return data, embed(data, draw(st.sampled_from(KINDS)), draw(st.integers(0, 3)))


def outcome(fn):
    """('ok', result) or ('err', type, message); 'bytes.' in messages that
    Python writes with the method's type name becomes 'View.'."""
    try:
        return ("ok", fn())
    except Exception as e:  # noqa: BLE001 - the oracle's exception is the expectation
        return ("err", type(e), str(e).replace("bytes.", "View."))


def same(view_fn, bytes_fn):
    got, want = outcome(view_fn), outcome(bytes_fn)
    assert got == want
    if got[0] == "ok" and isinstance(want[1], bytes):
        assert type(got[1]) is bytes
    return got


# Bytes made mostly of a few characters so that searches hit.
small = st.binary(max_size=30) | st.text("ab\t\n\r -+0xAB", max_size=30).map(str.encode)
needles = st.binary(max_size=3) | st.text("ab", max_size=3).map(str.encode)
as_buffer = st.sampled_from([bytes, bytearray, memoryview, lambda b: embed(b, bytearray, 1)])

# ---- documentation ----


@pytest.mark.parametrize("name", [
    "replace", "lower", "upper", "swapcase", "capitalize", "title", "translate", "expandtabs",
    "center", "ljust", "rjust", "zfill", "join", "to_int", "to_float",
])
def test_signature_and_cost_are_documented(name):
    import inspect

    meth = getattr(View, name)
    got = str(inspect.signature(meth))
    if hasattr(bytes, name):
        try:
            want = str(inspect.signature(getattr(bytes, name)))
        except ValueError:  # bytes' METH_NOARGS methods carry no signature
            want = "(self, /)"
        assert got == want
    doc = " ".join(meth.__doc__.split())
    assert "O(" in doc
    if name not in ("to_int", "to_float"):
        assert "Always a new bytes object" in doc


# ---- replace --------------------------------------------------------------------


@given(windows(small), needles, needles, st.integers(-3, 6) | st.none(), as_buffer, as_buffer)
def test_replace_matches_bytes(dv, old, new, count, mk_old, mk_new):
    data, v = dv
    args = (mk_old(old), mk_new(new)) + (() if count is None else (count,))
    same(lambda: v.replace(*args), lambda: data.replace(old, new, *args[2:]))


@pytest.mark.parametrize("data,old,new,count", [
    (b"", b"", b"", -1), (b"", b"", b"x", -1), (b"", b"a", b"b", -1), (b"abc", b"", b"-", -1),
    (b"abc", b"", b"-", 2), (b"abc", b"", b"-", 0), (b"abc", b"", b"", 5), (b"aaaa", b"aa", b"b", -1),
    (b"aaa", b"a", b"", 2), (b"abab", b"ab", b"xyz", 1), (b"abc", b"abcd", b"x", -1),
    (b"aXbXc", b"X", b"YY", 1 << 62),
])
def test_replace_edges(data, old, new, count):
    for kind in KINDS:
        v = embed(data, kind)
        same(lambda: v.replace(old, new, count), lambda: data.replace(old, new, count))
        same(lambda: v.replace(old, new), lambda: data.replace(old, new))


def test_replace_always_new_bytes():
    b = b"abc"
    v = View(b)
    r = v.replace(b"x", b"y")
    assert r == b and type(r) is bytes and r is not b
    assert b.replace(b"x", b"y") is b  # the difference documented in the docstring
    assert "Always a new bytes object" in View.replace.__doc__


def test_replace_is_linear():
    # Quadratic behaviour would take minutes here, linear takes milliseconds.
    data = b"a" * 400_000
    v = embed(data, bytearray)
    assert v.replace(b"a", b"bc") == data.replace(b"a", b"bc")
    assert v.replace(b"aa", b"") == b""
    assert v.replace(b"", b"-", 3) == b"-a-a-a" + data[3:]
    hay = (b"ab" * 100_000) + b"c"
    assert embed(hay).replace(b"ab" * 50 + b"c", b"!") == hay.replace(b"ab" * 50 + b"c", b"!")


@pytest.mark.parametrize("args", [
    (), (b"a",), (b"a", b"b", 1, 2), ("a", b"b"), (b"a", "b"), (b"a", b"b", 1.0),
    (b"a", b"b", 1 << 70), (b"a", b"b", "1"), (1, b"b"), (None, b"b"),
])
def test_replace_argument_errors(args):
    v = embed(b"aaa")
    same(lambda: v.replace(*args), lambda: b"aaa".replace(*args))


def test_replace_rejects_keywords():
    same(lambda: View(b"aa").replace(b"a", b"b", count=1), lambda: b"aa".replace(b"a", b"b", count=1))


# ---- case mapping -----------------------------------------------------------------

CASE = ["lower", "upper", "swapcase", "capitalize", "title"]
mixed = st.binary(max_size=80) | st.text("aBzZ@[`{ \t'1é", max_size=80).map(lambda s: s.encode("latin-1"))


@pytest.mark.parametrize("name", CASE)
@given(dv=windows(mixed))
def test_case_matches_bytes(name, dv):
    data, v = dv
    same(getattr(v, name), getattr(data, name))


@pytest.mark.parametrize("name", CASE)
def test_case_all_bytes_and_errors(name):
    every = bytes(range(256)) * 2
    v = embed(every, bytearray)
    assert getattr(v, name)() == getattr(every, name)()
    for data in (b"", b"a", b"A", b"hello wORLD it's 3rd"):
        assert getattr(embed(data), name)() == getattr(data, name)()
    same(lambda: getattr(v, name)(1), lambda: getattr(every, name)(1))
    same(lambda: getattr(v, name)(x=1), lambda: getattr(every, name)(x=1))
    assert type(getattr(View(b""), name)()) is bytes


def test_case_result_independent_of_source():
    buf = bytearray(b"Hello")
    v = View(buf)
    r = v.upper()
    buf[0:1] = b"J"
    assert r == b"HELLO" and v.upper() == b"JELLO"


# ---- translate -------------------------------------------------------------------

tables = st.none() | st.binary(min_size=256, max_size=256) | st.just(bytes(range(255, -1, -1)))


@given(windows(st.binary(max_size=60)), tables, st.none() | st.binary(max_size=8), as_buffer)
def test_translate_matches_bytes(dv, table, delete, mk):
    data, v = dv
    t = None if table is None else mk(table)
    if delete is None:
        same(lambda: v.translate(t), lambda: data.translate(table))
    else:
        d = mk(delete)
        same(lambda: v.translate(t, d), lambda: data.translate(table, delete))
        same(lambda: v.translate(t, delete=d), lambda: data.translate(table, delete=delete))


@pytest.mark.parametrize("args,kwargs", [
    ((), {}), ((b"x",), {}), ((None, 1), {}), ((None, "a"), {}), (("x" * 256,), {}),
    ((None, b"", b""), {}), ((None,), {"dele": b""}), ((), {"table": None}),
    ((None,), {"table": None}), ((None, b"a"), {"delete": b"a"}), ((1,), {}),
    ((bytes(256),), {"delete": 5}), ((b"short",), {"delete": "x"}),
])
def test_translate_argument_errors(args, kwargs):
    v = embed(b"abc")
    same(lambda: v.translate(*args, **kwargs), lambda: b"abc".translate(*args, **kwargs))


# ---- expandtabs --------------------------------------------------------------------

tabbed = st.text("ab\t\n\r x", max_size=50).map(str.encode)


@given(windows(tabbed), st.none() | st.integers(-2, 12), st.booleans())
def test_expandtabs_matches_bytes(dv, tabsize, kw):
    data, v = dv
    if tabsize is None:
        same(v.expandtabs, data.expandtabs)
    elif kw:
        same(lambda: v.expandtabs(tabsize=tabsize), lambda: data.expandtabs(tabsize=tabsize))
    else:
        same(lambda: v.expandtabs(tabsize), lambda: data.expandtabs(tabsize))


@pytest.mark.parametrize("args,kwargs", [
    ((1.5,), {}), ((1 << 40,), {}), ((-(1 << 40),), {}), ((1, 2), {}), ((), {"tabsize": 1, "x": 2}),
    ((), {"x": 2}), ((8,), {"tabsize": 8}), (("8",), {}), ((True,), {}),
])
def test_expandtabs_argument_errors(args, kwargs):
    v = embed(b"a\tb")
    same(lambda: v.expandtabs(*args, **kwargs), lambda: b"a\tb".expandtabs(*args, **kwargs))


# ---- padding ----------------------------------------------------------------------

fills = st.sampled_from([None, b"*", bytearray(b"0"), b"\x00", b" "])


@pytest.mark.parametrize("name", ["center", "ljust", "rjust"])
@given(dv=windows(st.binary(max_size=12)), width=st.integers(-3, 30), fill=fills)
def test_pad_matches_bytes(name, dv, width, fill):
    data, v = dv
    args = (width,) if fill is None else (width, fill)
    same(lambda: getattr(v, name)(*args), lambda: getattr(data, name)(*args))


@pytest.mark.parametrize("name", ["center", "ljust", "rjust"])
@pytest.mark.parametrize("args,kwargs", [
    ((), {}), ((5, b"ab"), {}), ((5, "a"), {}), ((5, memoryview(b"a")), {}), ((5, 97), {}),
    ((5, None), {}), ((1 << 70,), {}), ((5.0,), {}), ((1, b"a", 3), {}), ((3,), {"fillchar": b"x"}),
    ((5, b""), {}), ((5, bytearray(b"ab")), {}),
])
def test_pad_argument_errors(name, args, kwargs):
    v = embed(b"ab")
    same(lambda: getattr(v, name)(*args, **kwargs), lambda: getattr(b"ab", name)(*args, **kwargs))


@pytest.mark.parametrize("name", ["center", "ljust", "rjust"])
def test_pad_fillchar_may_be_a_view(name):
    # bytes takes bytes/bytearray only; a View is nocopy's bytes (and CPython's
    # string_tests pass fillchar as the type under test).
    fill = embed(b"*", bytearray)
    assert getattr(embed(b"ab"), name)(7, fill) == getattr(b"ab", name)(7, b"*")
    for bad in (embed(b"**"), View(b"")):
        with pytest.raises(TypeError, match=rf"{name}\(\) argument 2 must be a byte string of length 1, not nocopy.View"):
            getattr(View(b"a"), name)(5, bad)
    fill.release()
    with pytest.raises(ValueError, match="released"):
        getattr(View(b"a"), name)(5, fill)


@given(windows(st.text("+-0123ab", max_size=10).map(str.encode)), st.integers(-2, 16))
def test_zfill_matches_bytes(dv, width):
    data, v = dv
    same(lambda: v.zfill(width), lambda: data.zfill(width))


@pytest.mark.parametrize("args,kwargs", [((), {}), ((1.0,), {}), ((1, 2), {}), ((), {"width": 3}),
                                         ((1 << 70,), {}), (("3",), {})])
def test_zfill_argument_errors(args, kwargs):
    same(lambda: embed(b"-1").zfill(*args, **kwargs), lambda: b"-1".zfill(*args, **kwargs))


def test_pad_returns_new_bytes_when_wide_enough():
    b = b"abc"
    for r in (View(b).center(2), View(b).ljust(3), View(b).rjust(0), View(b).zfill(1)):
        assert r == b and type(r) is bytes and r is not b


# ---- join ---------------------------------------------------------------------------

parts = st.lists(st.tuples(st.binary(max_size=8), as_buffer), max_size=12)


@given(windows(st.binary(max_size=4)), parts, st.sampled_from([list, tuple, iter]))
def test_join_matches_bytes(dv, items, container):
    data, v = dv
    raw = [b for b, _ in items]
    objs = [mk(b) for b, mk in items]
    same(lambda: v.join(container(objs)), lambda: data.join(raw))


@pytest.mark.parametrize("items", [
    [b"a", "b"], [b"a", 5], ["a"], [None], [b"a"] * 11 + ["x"], 5, None,
])
def test_join_errors(items):
    v = embed(b", ")
    same(lambda: v.join(items), lambda: b", ".join(items))


def test_join_arity_and_single_part():
    same(lambda: View(b",").join(), lambda: b",".join())
    same(lambda: View(b",").join([], []), lambda: b",".join([], []))
    part = b"only"
    r = View(b",").join([part])
    assert r == part and type(r) is bytes and r is not part
    assert View(b",").join([]) == b""
    many = [bytes([i % 256]) * (i % 5) for i in range(300)]
    assert embed(b"--", bytearray).join(many) == b"--".join(many)


def test_join_releasing_view_from_generator():
    v = View(bytearray(b", "))

    def gen():
        yield b"a"
        v.release()
        yield b"b"

    with pytest.raises(ValueError, match="released"):
        v.join(gen())


def test_join_with_itself_and_views_of_same_buffer():
    buf = bytearray(b"xyz")
    v = View(buf, 1, 2)
    assert v.join([v, View(buf), buf]) == b"y".join([b"y", b"xyz", b"xyz"])


# ---- * and % -------------------------------------------------------------------------


@given(windows(st.binary(max_size=10)), st.integers(-2, 40))
def test_repeat_matches_bytes(dv, n):
    data, v = dv
    same(lambda: v * n, lambda: data * n)
    same(lambda: n * v, lambda: n * data)


@pytest.mark.parametrize("n", [1.5, "2", None, 1 << 70, 1 << 62, True, [1]])
def test_repeat_errors(n):
    v = embed(b"ab")
    same(lambda: v * n, lambda: b"ab" * n)
    got, want = outcome(lambda: n * v), outcome(lambda: n * b"ab")
    # str * View / list * View name the operand's own type in the message.
    assert got[:2] == want[:2] and got[2:] == tuple(m.replace("'bytes'", "'nocopy.View'") for m in want[2:])


def test_repeat_edge_sizes():
    for data in (b"", b"x", b"ab", bytes(range(7))):
        for n in (0, 1, 2, 3, 1000, 1025):
            assert embed(data, bytearray) * n == data * n


def test_repeat_index_subclass_view_is_not_a_count():
    class IdxView(View):
        def __index__(self):
            return 2

    # 3 * IdxView: the override makes it an index, but it still is the sequence.
    assert bytes(IdxView(b"ab") * 3) == b"ababab"


@pytest.mark.parametrize("fmt,args", [
    (b"%d-%s", (5, b"x")), (b"%5.2f|%x", (3.14159, 255)), (b"%b", (View(b"vv"),)), (b"100%%", ()),
    (b"%(a)s", {b"a": b"A"}), (b"%d", ("x",)), (b"%s %s", (b"one",)), (b"%c", (300,)), (b"", ()),
])
def test_percent_format_matches_bytes(fmt, args):
    v = embed(fmt, bytearray)
    same(lambda: v % args, lambda: fmt % args)


# ---- re-checks after Python code ---------------------------------------------------


class Releaser:
    """An integer whose __index__ releases the View being called."""

    def __init__(self, view, value):
        self.view, self.value = view, value

    def __index__(self):
        self.view.release()
        return self.value


@pytest.mark.parametrize("call", [
    lambda v: v.replace(b"a", b"b", Releaser(v, 1)),
    lambda v: v.center(Releaser(v, 10)),
    lambda v: v.zfill(Releaser(v, 10)),
    lambda v: v.expandtabs(Releaser(v, 4)),
    lambda v: v.to_int(Releaser(v, 10)),
    lambda v: v * Releaser(v, 3),
])
def test_index_callbacks_that_release_the_view(call):
    v = View(bytearray(b"a\tb"))
    with pytest.raises(ValueError, match="released"):
        call(v)


def test_methods_on_released_view():
    v = View(b"abc")
    v.release()
    for call in (v.lower, lambda: v.replace(b"a", b"b"), lambda: v.join([]), v.to_float,
                 v.to_int, lambda: v.center(5), lambda: v * 2, lambda: v % ()):
        with pytest.raises(ValueError, match="released"):
            call()


# ---- to_int ----------------------------------------------------------------------------

BASES = [0] + list(range(2, 37))
int_alphabet = "0123456789abcdefxobXOBz_ +-\t\n"


def to_base(n, base, underscores):
    digits = string.digits + string.ascii_lowercase
    s, m = [], abs(n)
    while True:
        m, r = divmod(m, base)
        s.append(digits[r])
        if not m:
            break
    text = "".join(reversed(s))
    if underscores and len(text) > 1:
        text = text[0] + "_" + text[1:]
    return ("-" if n < 0 else "") + text


def int_same(data, *args, **kwargs):
    for kind in KINDS:
        v = embed(data, kind)
        got, want = outcome(lambda: v.to_int(*args, **kwargs)), outcome(lambda: int(data, *args, **kwargs))
        assert got == want, (data, args)


@given(st.text(int_alphabet, max_size=24), st.sampled_from(BASES))
def test_to_int_random_text(text, base):
    int_same(text.encode(), base)


@given(st.text(int_alphabet, max_size=24))
def test_to_int_random_text_default_base(text):
    data = text.encode()
    int_same(data)
    int_same(data, base=10)


@given(st.integers(-10**60, 10**60) | st.integers(-10**20, 10**20), st.sampled_from(BASES[1:]),
       st.booleans(), st.sampled_from(["", " ", "\t\n ", "\x0b\x0c\r"]), st.sampled_from(["", "+"]))
def test_to_int_numbers_in_every_base(n, base, underscores, ws, plus):
    text = to_base(n, base, underscores)
    if n >= 0:
        text = plus + text
    data = (ws + text + ws).encode()
    int_same(data, base)
    assert embed(data).to_int(base) == n


@given(st.integers(0, 10**30), st.sampled_from([("0x", 16, "x"), ("0o", 8, "o"), ("0b", 2, "b")]),
       st.booleans(), st.booleans())
def test_to_int_prefixes(n, spec, upper, under):
    prefix, base, _ = spec
    text = prefix + ("_" if under else "") + to_base(n, base, False)
    if upper:
        text = text.upper()
    data = text.encode()
    int_same(data, 0)
    int_same(data, base)
    int_same(data, 10)


@given(st.integers(-10**18 + 1, 10**18 - 1), st.sampled_from(["", " ", "\t"]))
def test_to_int_fast_path_range(n, ws):
    data = f"{ws}{n}{ws}".encode()
    assert embed(data, bytearray).to_int() == n == int(data)


@pytest.mark.parametrize("data", [
    b"", b" ", b"-", b"+", b"+-1", b"--1", b"1 2", b"1_", b"_1", b"1__2", b"0x", b"0x1", b"00", b"007",
    b"0_7", b"1\x00", b"\x001", b" 12 \x00", b"\xa01", b"\x851", b"9" * 18, b"9" * 19, b"-" + b"9" * 19,
    b"1" * 100, b"x" * 300, b"1" * 4300, b"1" * 4301, b"- 1", b"1e5", b"1.0", b"\x0b\x0c1\r\n",
    b"\xff" * 250, b"12'\"\\", b"\x1c1", b"1\x1f",
])
def test_to_int_edge_literals(data):
    int_same(data)
    int_same(data, 0)
    int_same(data, 16)


def test_to_int_huge_number():
    text = b" -" + b"7" * 4000 + b" "
    assert View(text).to_int() == int(text)
    big = b"1" * 100_000
    assert View(big).to_int(2) == int(big, 2)  # power-of-two bases have no digit limit
    int_same(b"1" * 5000)  # the int_max_str_digits ValueError, as int()


@pytest.mark.parametrize("base", [1, -1, 37, 1 << 80, -(1 << 80), 1.0, "10", None, 10.5])
def test_to_int_bad_base(base):
    int_same(b"12", base)


def test_to_int_argument_forms():
    v = embed(b" 0x1f ")
    assert v.to_int(0) == v.to_int(base=0) == 31
    assert View(b"z").to_int(True + 35) == 35
    with pytest.raises(TypeError, match="at most 1 argument"):
        v.to_int(0, 1)
    with pytest.raises(TypeError, match=r"to_int\(\) got an unexpected keyword argument 'bas'"):
        v.to_int(bas=0)
    with pytest.raises(TypeError, match=r"to_int\(\) takes at most 1 keyword argument \(2 given\)"):
        v.to_int(base=0, bas=0)
    with pytest.raises(TypeError, match=r"to_int\(\) takes at most 1 argument \(2 given\)"):
        v.to_int(0, base=0)
    assert "int(bytes(self), base)" in View.to_int.__doc__


# ---- to_float ----------------------------------------------------------------------------

float_alphabet = "0123456789.eE+-_ \tinfatyINFATY"


def float_outcome(fn):
    r = outcome(fn)
    return ("ok", repr(r[1])) if r[0] == "ok" else r  # repr: nan == nan, -0.0 != 0.0


def float_same(data):
    for kind in KINDS:
        v = embed(data, kind)
        assert float_outcome(v.to_float) == float_outcome(lambda: float(data)), data


@given(st.text(float_alphabet, max_size=24))
def test_to_float_random_text(text):
    float_same(text.encode())


@given(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(["", " ", "\n\t"]))
def test_to_float_repr_roundtrip(x, ws):
    data = f"{ws}{x!r}{ws}".encode()
    float_same(data)
    r = embed(data).to_float()
    assert r == x or (math.isnan(x) and math.isnan(r))


@given(st.integers(0, 10**20), st.integers(0, 10**6), st.integers(-400, 400), st.sampled_from("eE"),
       st.booleans(), st.sampled_from(["", "-", "+"]))
def test_to_float_decimal_forms(ip, frac, exp, e, under, sign):
    i = f"{ip:_}" if under else str(ip)
    float_same(f"{sign}{i}.{frac}{e}{exp}".encode())
    float_same(f"{sign}.{frac}".encode())
    float_same(f"{sign}{i}.".encode())


@pytest.mark.parametrize("data", [
    b"inf", b"-inf", b"+INF", b"Infinity", b"-Infinity", b"iNfInItY", b"infinit", b"nan", b"-NaN", b"+nan",
    b"nan(1)", b"", b" ", b"\t\n", b".", b"e5", b"1e", b"1e+", b"1_0", b"1__0", b"_1", b"1_", b"1_.5",
    b"1._5", b"1.5_e3", b"1e_3", b"1e3_0", b"0x1p3", b"1.5\x00", b"\x001", b"1 .5", b"- 1", b"1e500",
    b"-1e-500", b"2.5e-324", b"x" * 300, b"1" * 400, b"0" * 200 + b".5", b"\xa01.5", b"1,5", b"+-1",
    b"1.7976931348623157e308", b"4.9e-324", b"-0", b"-0.0", b"00.5", b"\x0c1.5\x0b", b"\xff",
    b"\x1c1.5", b"1.5\x1f",
])
def test_to_float_edge_literals(data):
    float_same(data)


def test_to_float_takes_no_arguments():
    with pytest.raises(TypeError, match=r"View.to_float\(\) takes no arguments \(1 given\)"):
        View(b"1").to_float(1)


def test_to_float_window_does_not_read_past_its_end():
    # strtod on the raw window would see the following digits.
    v = View(b"1.5777e3", 0, 3)
    assert v.to_float() == 1.5
    v = View(b"12345", 1, 3)
    assert v.to_int() == 23 and v.to_int(16) == 0x23


# ---- allocations -------------------------------------------------------------------------


def _traced_growth(fn, n):
    fn()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        for _ in itertools.repeat(None, n):  # range() would leave an int behind
            fn()
        cur, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return cur - base, peak - base


def test_to_int_fast_path_allocates_nothing_but_the_result():
    v = embed(b"  -123456789012 ", bytearray)
    grow, peak = _traced_growth(v.to_int, 10_000)
    assert grow <= 0 and peak <= 200  # one int object alive at a time


@pytest.mark.parametrize("core", [b"12345", b"1_000_000_000_000_000_000_000", b"0x_ff"])
def test_to_int_on_megabyte_view_costs_constant_memory(core):
    pad = b" " * (1 << 20)
    v = View(pad + core + pad)
    base = 0 if core.startswith(b"0x") else 10
    assert v.to_int(base) == int(core, base)
    grow, peak = _traced_growth(lambda: v.to_int(base), 100)
    assert grow <= 0 and peak <= 400


def test_to_float_on_megabyte_view_costs_constant_memory():
    pad = b"\t" * (1 << 20)
    v = View(pad + b"-1_234.5e-3" + pad)
    assert v.to_float() == -1.2345
    grow, peak = _traced_growth(v.to_float, 1000)
    assert grow <= 0 and peak <= 200


def test_lower_allocates_only_its_result():
    v = embed(b"Hello World" * 6, bytearray)
    grow, peak = _traced_growth(v.lower, 1000)
    assert grow <= 0 and peak <= 66 + 100


class HostileBuffer:
    """A part whose __buffer__ (3.12+) runs Python code in the middle of join."""

    def __init__(self, action):
        self.action = action

    def __buffer__(self, flags):
        self.action()
        return memoryview(b"x")


# Before 3.12 a Python class cannot export a buffer: join sees no bytes-like.
PY_BUFFER = sys.version_info >= (3, 12)


def test_join_part_that_empties_the_list():
    items = [b"a", None, b"c"]
    items[1] = HostileBuffer(items.clear)  # drops the list's reference to the part itself
    # bytes.join crashes the interpreter here (CPython 3.13.0); View raises.
    with pytest.raises(RuntimeError if PY_BUFFER else TypeError,
                       match="changed size" if PY_BUFFER else "sequence item 1: expected a bytes-like"):
        View(b",").join(items)


def test_join_part_that_releases_the_separator():
    v = View(bytearray(b", "))
    items = [b"a", HostileBuffer(v.release), b"c"]
    with pytest.raises(ValueError if PY_BUFFER else TypeError,
                       match="released" if PY_BUFFER else "sequence item 1"):
        v.join(items)
