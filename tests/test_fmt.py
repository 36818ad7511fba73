"""Formatting straight into buffers (issue 14): nocopy.format_into,
ByteBuffer.write_fmt / write_int / write_float / prepend_fmt and the
Writer's forms, differential against the running interpreter's `fmt % args`
(output bytes, exception type and message), in every target kind."""
import array
import mmap

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

import nocopy
from nocopy import BufferTooSmall, ByteBuffer, StaleViewError, View, format_into
from nocopy.io import Writer


# ---- oracle ------------------------------------------------------------------

HUGE = 10**7


def huge(fmt, args):
    """The text would be beyond HUGE bytes (a width from a `*` argument):
    bytes % would try to allocate it (MemoryError, or an abort under ASan),
    so such cases are not compared."""
    if b"*" in bytes(fmt):
        vals = args if isinstance(args, tuple) else (args,)
        if any(isinstance(v, int) and HUGE < abs(v) < 2**63 for v in vals):
            return True
    try:
        format_into(bytearray(0), 0, fmt, args)
    except BufferTooSmall as e:
        return e.needed > HUGE
    except Exception:  # noqa: BLE001 -- a format error: no size
        return False
    return False


def oracle(fmt, args):
    """bytes % args, or None for a text beyond memory (not compared)."""
    if huge(fmt, args):
        return None
    try:
        return ("ok", bytes(fmt) % args)
    except MemoryError:
        # bytes % fails allocating a width at that conversion; format_into
        # parses on and asks for the room or reports a later format error
        return None
    except Exception as e:  # noqa: BLE001 -- the oracle's error is the expected one
        return ("err", type(e), str(e))


def ours_into(fmt, args, *, offset=3, pad=5):
    """format_into a bytearray with garbage around the window; the bytes
    outside [offset, end) must stay as they were, and on error all of it."""
    for size in (offset + pad + 64,):
        buf = bytearray(b"\xaa" * size)
        before = bytes(buf)
        try:
            end = format_into(buf, offset, fmt, args)
        except BufferTooSmall as e:
            assert bytes(buf) == before
            buf = bytearray(b"\xaa" * (e.needed + pad))
            before = bytes(buf)
            end = format_into(buf, offset, fmt, args)
        except Exception as e:  # noqa: BLE001
            assert bytes(buf) == before, "an error must leave the buffer as it was"
            return ("err", type(e), str(e))
        assert buf[:offset] == before[:offset]
        assert buf[end:] == before[end:]
        return ("ok", bytes(buf[offset:end]))


def ours_bb(fmt, args, cap=1 << 16):
    b = ByteBuffer(cap)
    b.write(b"head")
    b.consume(4)
    try:
        n = b.write_fmt(fmt, args)
    except BufferTooSmall as e:
        assert len(b) == 0 and e.needed > cap
        return ours_bb(fmt, args, e.needed)
    except Exception as e:  # noqa: BLE001
        assert len(b) == 0
        return ("err", type(e), str(e))
    assert n == len(b)
    return ("ok", bytes(b.read()))


def same(fmt, args):
    exp = oracle(fmt, args)
    if exp is None:  # a resource limit, not a format rule
        return None
    assert ours_into(fmt, args) == exp
    assert ours_bb(fmt, args) == exp
    return exp


# ---- strategies -----------------------------------------------------------------

class Idx:
    """An int-like with __index__ only."""
    def __init__(self, v):
        self.v = v

    def __index__(self):
        return self.v

    def __repr__(self):
        return f"Idx({self.v})"


class Flt:
    """A float-like with __float__ only."""
    def __init__(self, v):
        self.v = v

    def __float__(self):
        return self.v

    def __repr__(self):
        return f"Flt({self.v!r})"


class Intish:
    """__int__ only: %d takes it (int()), %x does not (operator.index)."""
    def __init__(self, v):
        self.v = v

    def __int__(self):
        return self.v

    def __repr__(self):
        return f"Intish({self.v})"


class Bts:
    def __init__(self, b):
        self.b = b

    def __bytes__(self):
        return self.b

    def __repr__(self):
        return f"Bts({self.b!r})"


class BadBytes:
    def __bytes__(self):
        return "not bytes"


class IntSub(int):
    def __index__(self):  # never asked: an int is used as is
        raise AssertionError

    def __repr__(self):
        return "IntSub()"


class FloatSub(float):
    pass


class Raises:
    def __index__(self):
        raise KeyError("index")

    def __float__(self):
        raise KeyError("float")

    def __int__(self):
        raise KeyError("int")

    def __bytes__(self):
        raise KeyError("bytes")

    def __repr__(self):
        raise KeyError("repr")


ints = st.one_of(
    st.integers(-300, 300),
    st.integers(-2**64 - 5, 2**64 + 5),
    st.integers(-2**200, 2**200),
    st.sampled_from([0, -1, 2**63 - 1, -2**63, 2**63, 2**64 - 1, 2**64, -2**64, True, False]),
)
floats = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-1e-300, max_value=1e-300),
    st.sampled_from([0.0, -0.0, 0.5, 1.5, 2.5, -2.5, 1e16, 1e22, 1e300, 5e-324, 2.2250738585072014e-308,
                     float("nan"), float("-nan"), float("inf"), float("-inf"), 9.2e18, -9.3e18,
                     9223372036854775808.0, -9223372036854775808.0]),
)
BYTES_MAKERS = [
    bytes, bytearray, memoryview, lambda b: memoryview(bytearray(b)), Bts,
    lambda b: View(b"__" + b + b"__", 2, 2 + len(b)), lambda b: array.array("B", b),
]
byteslike = st.tuples(st.binary(max_size=12), st.sampled_from(BYTES_MAKERS)).map(lambda t: t[1](t[0]))
ODD_MAKERS = [
    lambda: None, lambda: [1], lambda: (1,), lambda: {}, BadBytes, Raises, lambda: 1j, lambda: b"",
    lambda: b"a", lambda: bytearray(b"b"), lambda: memoryview(b"ab").cast("B", (2, 1)),
    lambda: array.array("i", [1, 2]), lambda: memoryview(b"abcdef")[::2],
]
anyarg = st.one_of(
    ints, floats, byteslike,
    st.text(max_size=4),
    st.builds(Idx, st.integers(-2**70, 2**70)),
    st.builds(Flt, floats),
    st.builds(Intish, st.integers(-2**70, 2**70)),
    st.builds(IntSub, st.integers(-2**70, 2**70)),
    st.builds(FloatSub, floats),
    st.sampled_from(ODD_MAKERS).map(lambda f: f()),
)

FLAGS = "-+ #0"
CONVS = "diuoxXeEfFgGcsbra%"


@st.composite
def spec(draw, keyed=False):
    s = "%"
    if keyed and draw(st.booleans()):
        s += "(" + draw(st.sampled_from(["a", "b", "", "x(y)", "zz"])) + ")"
    s += "".join(draw(st.lists(st.sampled_from(FLAGS), max_size=3)))
    w = draw(st.sampled_from(["", "", "*", "1", "7", "12", "0"]))
    s += w
    p = draw(st.sampled_from(["", "", ".", ".0", ".3", ".12", ".*", ".40"]))
    s += p
    s += draw(st.sampled_from(["", "", "", "h", "l", "L"]))
    c = draw(st.one_of(st.sampled_from(CONVS), st.sampled_from(["z", "\xff", "y", "", "("])))
    return (s + c).encode("latin-1")


@st.composite
def fmt_and_args(draw):
    keyed = draw(st.integers(0, 5)) == 0
    parts = []
    nspec = draw(st.integers(0, 5))
    for _ in range(nspec):
        parts.append(draw(st.binary(max_size=6).map(lambda b: b.replace(b"%", b""))))
        parts.append(draw(spec(keyed)))
    parts.append(draw(st.binary(max_size=6).map(lambda b: b.replace(b"%", b"%%"))))
    fmt = b"".join(parts)
    if keyed:
        d = {k: draw(anyarg) for k in draw(st.lists(st.sampled_from([b"a", b"b", b"", b"x(y)", b"q"]), max_size=4))}
        return fmt, d
    n = fmt.count(b"%") + draw(st.integers(-1, 1))
    args = tuple(draw(anyarg) for _ in range(max(n, 0)))
    if len(args) == 1 and draw(st.booleans()):
        return fmt, args[0]  # a single value, not a tuple
    return fmt, args


# ---- differential ------------------------------------------------------------------

@given(fmt_and_args())
@example((b"%d", ()))
@example((b"%s %s", {"a": 1}))
@example((b"abc", [1]))
@example((b"%(a)s%s", {b"a": b"x"}))
@example((b"%5%", ()))
@example((b"%5%", 1))
@example((b"%\xff", 1))
@example((b"%0", ()))
@example((b"%*", 5))
@example((b"%.", ()))
@example((b"%(a", {}))
@example((b"%(a)d", 1))
@example((b"%", ()))
@example((b"%*d", (2**70, 1)))
@example((b"%.*d", (2**40, 1)))
@example((b"%99999999999999999999d", 1))
@example((b"%.99999999999d", 1))
@example((b"%12\xe9", 1))
def test_differential(fa):
    fmt, args = fa
    same(fmt, args)


@given(st.data())
def test_differential_varargs(data):
    """format_into(buf, off, fmt, *args) with several arguments is fmt % args."""
    fmt, args = data.draw(fmt_and_args())
    assume(isinstance(args, tuple) and len(args) != 1)
    exp = oracle(fmt, args)
    if exp is None:
        return
    buf = bytearray(200)
    try:
        end = format_into(buf, 0, fmt, *args)
        got = ("ok", bytes(buf[:end]))
    except BufferTooSmall:
        return
    except Exception as e:  # noqa: BLE001
        got = ("err", type(e), str(e))
    assert got == exp


FLOAT_CONVS = "eEfFgG"


@given(floats, st.integers(-1, 60), st.lists(st.sampled_from(FLAGS), max_size=4),
       st.sampled_from(["", "1", "9", "30"]), st.sampled_from(FLOAT_CONVS))
@example(1e300, 150, [], "", "f")
@example(-1.8e308, 150, [], "", "f")
@example(1e300, 151, [], "", "f")
@example(float("-nan"), 3, ["+"], "5", "f")
@example(0.5, 0, ["#"], "", "g")
@example(5e-324, 60, [], "", "e")
def test_floats(x, prec, flags, width, conv):
    f = ("%" + "".join(flags) + width + ("" if prec < 0 else f".{prec}") + conv).encode()
    same(f, x)


@given(ints, st.integers(-1, 45), st.lists(st.sampled_from(FLAGS), max_size=4),
       st.sampled_from(["", "1", "9", "50"]), st.sampled_from("diuoxX"))
def test_ints(n, prec, flags, width, conv):
    f = ("%" + "".join(flags) + width + ("" if prec < 0 else f".{prec}") + conv).encode()
    same(f, n)
    same(f, (float(n) if abs(n) < 2**1000 else 1.5,))
    same(f, Idx(n))


def test_huge_precision_floats_use_the_slow_path():
    for p in (151, 300, 1000):
        for x in (1 / 3, -1e300, 5e-324, 123.456):
            for c in "fFeEgG":
                same(f"%.{p}{c}".encode(), x)
                same(f"%#+0{p + 20}.{p}{c}".encode(), x)


def test_every_rule_named_in_the_issue():
    for fmt, args in [
        (b"%d", 3.99), (b"%d", -3.99), (b"%x", 3.5), (b"%c", 255), (b"%c", b"x"), (b"%c", bytearray(b"y")),
        (b"%c", 256), (b"%c", b"xy"), (b"%c", "a"), (b"%s", "str"), (b"%b", memoryview(b"mv")),
        (b"%s", bytearray(b"ba")), (b"%s", Bts(b"bb")), (b"%b", BadBytes()), (b"%r", "\u20ac"),
        (b"%a", b"q"), (b"%u", -5), (b"%i", "x"), (b"%%", ()), (b"%z", 1), (b"%", 1), (b"%d %d", 1),
        (b"%d", (1, 2)), (b"%(k)d", {b"k": 5}), (b"%(k)d", {"k": 5}), (b"%(k)s %(k)s", {b"k": b"v"}),
        (b"%-*d|", (-5, 1)), (b"%*d|", (-5, 1)), (b"%.*s", (2, b"abc")), (b"%.*s", (-2, b"abc")),
        (b"%#o %#x %#X", (-8, -255, -255)), (b"%#.5o", 8), (b"%+ d", 5), (b"% d", 5), (b"%+.0f", 0.5),
        (b"%05s", b"ab"), (b"%-05d|", 3), (b"%#010x", 255), (b"%#-10x|", 255), (b"%010.3f", -3.14159),
        (b"%x", 2**200), (b"%#X", -2**200), (b"%o", 2**64), (b"%.70d", -7), (b"%d", True),
        (b"%x", IntSub(255)), (b"%d", FloatSub(2.5)), (b"%f", 10**400), (b"%f", "x"), (b"%d", float("nan")),
        (b"%d", float("inf")), (b"%d", 2.0**80), (b"%x", Intish(5)), (b"%d", Intish(5)),
        (b"%s", Raises()), (b"%d", Raises()), (b"%f", Raises()), (b"%r", Raises()), (b"%c", Raises()),
        (b"%s", memoryview(b"abcdef")[::2]), (b"%s", array.array("i", [1, 2])), (b"%s", None),
    ]:
        same(fmt, args)


class ViewSub(View):
    def __bytes__(self):
        return b"from the subclass"


def test_view_arguments():
    """An exact View is read through its export (no copy); a subclass that
    overrides __bytes__ gets it called, as bytes % does."""
    same(b"%s|%.2b", (View(b"__abc__", 2, 5), View(bytearray(b"xyz"))))
    same(b"%s", ViewSub(b"abc"))
    same(b"%s", (ViewSub(b"abc"),))


# ---- targets --------------------------------------------------------------------------

class Committing:
    def __init__(self, n):
        self.storage = bytearray(n)
        self.committed = None

    def writable(self):
        return memoryview(self.storage)

    def commit(self, n):
        self.committed = n


def test_every_target_kind():
    fmt, args = b"Content-Length: %d\r\n%s", (1234, b"x")
    exp = fmt % args
    n = len(exp)
    ba = bytearray(40)
    assert format_into(ba, 2, fmt, *args) == 2 + n and ba[2:2 + n] == exp
    mv = memoryview(bytearray(40))
    assert format_into(mv, 1, fmt, *args) == 1 + n and mv[1:1 + n] == exp
    base = bytearray(60)
    v = View(base, 10, 50)
    assert format_into(v, 3, fmt, *args) == 3 + n and base[13:13 + n] == exp
    assert base[:13] == bytes(13) and base[13 + n:] == bytes(60 - 13 - n)
    m = mmap.mmap(-1, 64)
    assert format_into(m, 0, fmt, *args) == n and m[:n] == exp
    m.close()
    arr = array.array("B", bytes(40))
    assert format_into(arr, 0, fmt, *args) == n and arr.tobytes()[:n] == exp
    b = ByteBuffer(64)
    assert format_into(b, 0, fmt, *args) == n and bytes(b.peek()) == exp
    c = Committing(40)
    assert format_into(c, 0, fmt, *args) == n and c.committed == n and c.storage[:n] == exp


def test_target_errors():
    with pytest.raises(TypeError, match="writable"):
        format_into(b"readonly", 0, b"x")
    with pytest.raises(TypeError, match="writable buffer"):
        format_into(object(), 0, b"x")
    with pytest.raises(ValueError, match="beyond the end"):
        format_into(bytearray(2), 3, b"")
    with pytest.raises(ValueError, match=">= 0"):
        format_into(bytearray(2), -1, b"")
    with pytest.raises(TypeError):
        format_into(bytearray(2), 1.5, b"")
    with pytest.raises(ValueError, match="offset must be 0"):
        format_into(ByteBuffer(8), 1, b"")
    with pytest.raises(TypeError, match="bytes-like"):
        format_into(bytearray(2), 0, "str fmt")
    with pytest.raises(TypeError, match="at least 3"):
        format_into(bytearray(2), 0)
    with pytest.raises(TypeError, match="writable"):
        format_into(memoryview(bytearray(8))[::2], 0, b"x")
    v = View(bytearray(4))
    b = ByteBuffer(8)
    b.write(b"abcd")
    stale = b.read(2)
    b.compact()
    with pytest.raises(StaleViewError):
        format_into(stale, 0, b"x")
    with pytest.raises(StaleViewError):
        format_into(v, 0, b"%s", stale)
    del v


@given(st.integers(0, 30), st.integers(0, 30), st.sampled_from(["ba", "mv", "view", "bb"]))
def test_too_small_writes_nothing(size, offset, kind):
    fmt, args = b"%s=%d;%.2f", (b"key", 12345, 2.5)
    exp = fmt % args
    assume(offset <= size)
    backing = bytearray(b"\x55" * (size + 8))
    if kind == "ba":
        target = bytearray(b"\x55" * size)
        snap = lambda: bytes(target)  # noqa: E731
    elif kind == "mv":
        target = memoryview(backing)[4:4 + size]
        snap = lambda: bytes(backing)  # noqa: E731
    elif kind == "view":
        target = View(backing, 4, 4 + size)
        snap = lambda: bytes(backing)  # noqa: E731
    else:
        if size == 0:
            return
        target = ByteBuffer(size)
        target.write(b"\x55" * offset)
        snap = lambda: (bytes(target.peek()), target.free)  # noqa: E731
        before = snap()
        if len(exp) > size - offset:
            with pytest.raises(BufferTooSmall) as ei:
                format_into(target, 0, fmt, *args)
            assert ei.value.needed == len(exp)
            assert snap() == before
        else:
            assert format_into(target, 0, fmt, *args) == len(exp)
            assert bytes(target.read()) == b"\x55" * offset + exp
        return
    before = snap()
    if offset + len(exp) > size:
        with pytest.raises(BufferTooSmall) as ei:
            format_into(target, offset, fmt, *args)
        assert ei.value.needed == offset + len(exp)
        assert snap() == before
    else:
        assert format_into(target, offset, fmt, *args) == offset + len(exp)


def test_format_errors_come_before_room_errors():
    with pytest.raises(TypeError, match="not enough arguments"):
        format_into(bytearray(0), 0, b"%d%d", 1)
    with pytest.raises(TypeError, match="not enough arguments"):
        ByteBuffer(1).write_fmt(b"%d%d", 1)


def test_many_conversions_go_past_the_inline_pieces():
    for n in (15, 16, 17, 40, 300):
        fmt = b"|".join([b"%d", b"%s", b"%.1f", b"%%"] * n)
        args = tuple(x for i in range(n) for x in (i, b"s%d" % i, i / 7))
        same(fmt, args)


def test_format_is_the_target_itself():
    """The format (or an argument) in the very memory written: the output
    is what fmt % args gives, computed from the bytes as they were."""
    ba = bytearray(b"ab%dcd" + bytes(20))
    exp = b"ab%dcd" % 7
    end = format_into(ba, 2, memoryview(ba)[:6], 7)
    assert ba[2:end] == exp
    ba = bytearray(b"xyz%s" + bytes(30))
    exp = bytes(ba[:5]) % bytes(ba[:10])
    end = format_into(ba, 1, bytes(ba[:5]), memoryview(ba)[:10])
    assert ba[1:end] == exp
    big = bytearray(b"%s" * 300 + bytes(4000))
    fmt_bytes = bytes(big[:600])
    exp = fmt_bytes % tuple(b"z" for _ in range(300))
    end = format_into(big, 3, memoryview(big)[:600], *[b"z"] * 300)
    assert big[3:end] == exp
    b = ByteBuffer(64)
    b.write(b"<%d>")
    fmt = b.peek()
    assert b.write_fmt(fmt, 5) == 3
    assert bytes(b.read()) == b"<%d><5>"


# ---- ByteBuffer methods ------------------------------------------------------------------

def test_write_fmt_argument_convention():
    b = ByteBuffer(256)
    assert b.write_fmt(b"plain") == 5
    assert b.write_fmt(b"%d-%d", 1, 2) == 3
    assert b.write_fmt(b"%d-%d", (3, 4)) == 3          # one tuple: its items
    assert b.write_fmt(b"%(a)s", {b"a": b"map"}) == 3  # one mapping
    assert b.write_fmt(b"%s", b"one") == 3
    assert bytes(b.read()) == b"plain1-23-4mapone"
    with pytest.raises(TypeError, match="not all arguments converted"):
        b.write_fmt(b"x", 1)
    with pytest.raises(TypeError, match="missing required argument 'fmt'"):
        b.write_fmt()
    with pytest.raises(TypeError, match="bytes-like"):
        b.write_fmt("x")


def test_write_fmt_compacts_and_raises_too_small():
    b = ByteBuffer(16)
    b.write(b"0123456789")
    b.consume(8)
    assert b.write_fmt(b"%d", 1234567890) == 10  # fits after a compaction
    assert bytes(b.peek()) == b"891234567890"
    with pytest.raises(BufferTooSmall) as ei:
        b.write_fmt(b"%s", b"x" * 5)
    assert ei.value.needed == 5
    assert bytes(b.peek()) == b"891234567890"


@given(ints)
def test_write_int(n):
    b = ByteBuffer(256)
    assert b.write_int(n) == len(b"%d" % n)
    assert b.write_int(Idx(int(n))) == len(b"%d" % n)
    assert bytes(b.read()) == (b"%d" % n) * 2
    assert (b"%d" % n) == str(int(n)).encode()


def test_write_int_errors():
    b = ByteBuffer(4)
    for bad in (1.5, "1", None, b"1"):
        with pytest.raises(TypeError, match="must be an int"):
            b.write_int(bad)
    with pytest.raises(KeyError):
        b.write_int(Raises())
    with pytest.raises(BufferTooSmall) as ei:
        b.write_int(123456)
    assert ei.value.needed == 6 and len(b) == 0
    with pytest.raises(BufferTooSmall) as ei:
        b.write_int(-2**100)
    assert ei.value.needed == len(str(-2**100)) and len(b) == 0
    assert b.write_int(True) == 1 and bytes(b.read()) == b"1"


@given(floats)
@example(1e16)
@example(1.5e-7)
@example(-0.0)
def test_write_float(x):
    b = ByteBuffer(64)
    assert b.write_float(x) == len(repr(x))
    assert b.write_float(Flt(x)) == len(repr(x))
    assert bytes(b.read()) == repr(x).encode() * 2


def test_write_float_errors_and_ints():
    b = ByteBuffer(8)
    with pytest.raises(TypeError):
        b.write_float("1.0")
    with pytest.raises(KeyError):
        b.write_float(Raises())
    with pytest.raises(OverflowError):
        b.write_float(10**400)
    assert b.write_float(3) == 3 and bytes(b.read()) == b"3.0"
    with pytest.raises(BufferTooSmall) as ei:
        b.write_float(1.2345678901234567)
    assert ei.value.needed == len(repr(1.2345678901234567)) and len(b) == 0


# ---- prepend_fmt ------------------------------------------------------------------

def test_prepend_fmt_header_before_body():
    b = ByteBuffer(64)
    b.write(b" " * 24)  # headroom: written then consumed
    b.consume(24)
    b.write(b"body bytes")
    n = b.prepend_fmt(b"Content-Length: %d\r\n\r\n", 10)
    assert n == 22
    assert bytes(b.read()) == b"Content-Length: 10\r\n\r\nbody bytes"


@given(st.integers(0, 40), fmt_and_args())
def test_prepend_fmt_differential(room, fa):
    fmt, args = fa
    exp = oracle(fmt, args)
    if exp is None:
        return
    b = ByteBuffer(256)
    b.write(b"r" * room + b"BODY")
    b.consume(room)
    try:
        n = b.prepend_fmt(fmt, args)
    except BufferTooSmall as e:
        assert exp[0] == "ok" and e.needed == len(exp[1]) > room
        assert bytes(b.peek()) == b"BODY"
        return
    except Exception as e:  # noqa: BLE001
        assert ("err", type(e), str(e)) == exp
        assert bytes(b.peek()) == b"BODY"
        return
    assert exp[0] == "ok" and n == len(exp[1])
    assert bytes(b.read()) == exp[1] + b"BODY"


def test_prepend_fmt_makes_borrowed_views_stale():
    b = ByteBuffer(32)
    b.write(b"consumed|body")
    old = b.read(9)  # a borrowed view of the bytes prepend_fmt overwrites
    assert old == b"consumed|"
    b.prepend_fmt(b"%d:", 1234567)
    with pytest.raises(StaleViewError):
        bytes(old)
    assert bytes(b.read()) == b"1234567:body"


def test_prepend_fmt_with_a_held_export_moves_to_fresh_storage():
    b = ByteBuffer(32)
    b.write(b"consumed|body")
    old = b.read(9)
    held = memoryview(old)  # a pointer out of our hands: never written under it
    b.prepend_fmt(b"%s", b"HEAD:")
    assert held == b"consumed|" and old == b"consumed|"
    assert bytes(b.read()) == b"HEAD:body"
    held.release()


def test_prepend_fmt_with_a_tainted_write_window():
    b = ByteBuffer(32)
    m = memoryview(b.writable())
    m[:10] = b"0123456789"
    b.commit(10)  # the export can still write into what is now readable
    b.consume(6)
    b.prepend_fmt(b"%d", 42)
    m[4:6] = b"XX"  # writes into the old storage
    assert bytes(b.read()) == b"426789"
    m.release()


def test_prepend_fmt_errors_leave_the_buffer():
    b = ByteBuffer(16)
    b.write(b"abcdef")
    b.consume(2)
    with pytest.raises(BufferTooSmall) as ei:
        b.prepend_fmt(b"%d", 123)
    assert ei.value.needed == 3
    with pytest.raises(TypeError):
        b.prepend_fmt(b"%d", "x")
    assert bytes(b.peek()) == b"cdef"
    assert b.prepend_fmt(b"") == 0
    assert b.prepend_fmt(b"%c%c", 65, 66) == 2
    assert bytes(b.read()) == b"ABcdef"


# ---- Writer ----------------------------------------------------------------------------

class Sink:
    def __init__(self):
        self.data = bytearray()

    def write(self, d):
        self.data += d
        return len(d)


def test_writer_forms():
    s = Sink()
    w = Writer(s, buffer_size=16)
    for i in range(50):
        w.write_fmt(b"%d:%s,", i, b"ab")
        w.write_int(i * 1000)
        w.write_float(i / 3)
    w.write_fmt(b"%s|", b"x" * 40)    # larger than the whole buffer
    w.write_int(10**30)               # larger than the whole buffer
    w.write_fmt(b"%(k)s", {b"k": b"!"})
    w.flush()
    exp = b"".join(b"%d:%s," % (i, b"ab") + b"%d" % (i * 1000) + repr(i / 3).encode() for i in range(50))
    exp += b"x" * 40 + b"|" + str(10**30).encode() + b"!"
    assert bytes(s.data) == exp
    with pytest.raises(TypeError, match="not enough"):
        w.write_fmt(b"%d")
    w.close()
    with pytest.raises(ValueError, match="closed"):
        w.write_fmt(b"x")
    with pytest.raises(ValueError, match="closed"):
        w.write_int(1)
    with pytest.raises(ValueError, match="closed"):
        w.write_float(1.0)


def test_public_surface():
    assert nocopy.format_into is format_into
    assert "format_into" in nocopy.__all__
    for name in ("write_fmt", "write_int", "write_float", "prepend_fmt"):
        assert getattr(ByteBuffer, name).__doc__
    assert format_into.__text_signature__ is not None
