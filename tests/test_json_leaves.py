"""The string and number leaves of nocopy.json's encoder (issue 19) against
the stdlib: the whole-literal path of a str whose UTF-8 form is cached
(json_escape.c try_utf8_whole: words that overlap for 4..15 bytes, sixteen
at a time above), strings with escapes in one pass (escape_direct: a dirty
block is stored whole and overwritten), and float batches of short lists
(canada.json's pairs) in dumps_into, whose bytes past the document must
stay.  Cases go through dumps, dumps_into (in a window of a larger buffer
whose other bytes must stay, and into a buffer one byte short) and dump."""
import ctypes
import io
import json
import sys

import pytest
from hypothesis import given, settings, strategies as st

import nocopy.json as nj
from nocopy import BufferTooSmall

_AsUTF8 = ctypes.pythonapi.PyUnicode_AsUTF8
_AsUTF8.argtypes = [ctypes.py_object]
_AsUTF8.restype = ctypes.c_void_p

# 3.14 keeps the cache elsewhere; nocopy transcodes there, the text is the same
HAS_CACHE_FIELD = sys.version_info < (3, 14)


def cache_utf8(s):
    assert _AsUTF8(s) is not None
    return s


def fresh(s):
    # a new str object with the same text and no UTF-8 cache
    return "".join(list(s))


def oracle(obj, **opts):
    opts = dict(opts)
    if opts.get("separators") is None:
        opts["separators"] = (",", ": ") if opts.get("indent") is not None else (",", ":")
    opts.setdefault("ensure_ascii", False)
    return json.dumps(obj, **opts).encode("utf-8")


def check(obj, **opts):
    exp = oracle(obj, **opts)
    assert nj.dumps(obj, **opts) == exp
    f = io.BytesIO()
    assert nj.dump(obj, f, buffer_size=64, **opts) == len(exp)
    assert f.getvalue() == exp
    for offset in (0, 7):
        buf = bytearray(b"\xee" * (offset + len(exp) + 40))
        end = nj.dumps_into(obj, buf, offset, **opts)
        assert end == offset + len(exp)
        assert buf[offset:end] == exp
        assert buf[:offset] == b"\xee" * offset
        assert buf[end:] == b"\xee" * (len(buf) - end)
        # exactly the size: nothing after it to spare
        exact = bytearray(b"\xee" * (offset + len(exp)))
        assert nj.dumps_into(obj, exact, offset, **opts) == len(exact)
        assert exact[offset:] == exp
        short = bytearray(b"\xee" * (offset + len(exp) - 1))
        with pytest.raises(BufferTooSmall) as ei:
            nj.dumps_into(obj, short, offset, **opts)
        assert ei.value.needed == offset + len(exp)
        assert short[:offset] == b"\xee" * offset
    return exp


# chars of every UTF-8 length, and the ASCII ones that need an escape
FILL = ("a", "é", "ж", "日", "\U0001f600")
BAD = ('"', "\\", "\n", "\x00", "\x1f", "\t")


def short_strings():
    """Non-ASCII strs of 1..40 UTF-8 bytes, clean and with an escape at each
    char position: the lengths around 4, 8 and 16 where the word checks
    change."""
    out = []
    for n_bytes in range(2, 41):
        for lead in FILL[1:]:
            s = lead
            k = 0
            while len(s.encode()) < n_bytes:
                s += FILL[k % len(FILL)]
                k += 1
            out.append(s)
            for bad in BAD:
                for i in range(len(s) + 1):
                    out.append(s[:i] + bad + s[i:])
    return out


SHORT = short_strings()


@pytest.mark.parametrize("ensure_ascii", [False, True])
def test_short_cached_strings_every_length_and_escape_position(ensure_ascii):
    for s in SHORT:
        s = cache_utf8(fresh(s))
        exp = oracle(s, ensure_ascii=ensure_ascii)
        assert nj.dumps(s, ensure_ascii=ensure_ascii) == exp, s
        buf = bytearray(b"\xee" * (len(exp) + 40))
        end = nj.dumps_into(s, buf, 3, ensure_ascii=ensure_ascii)
        assert buf[3:end] == exp and buf[:3] == b"\xee" * 3
        assert buf[end:] == b"\xee" * (len(buf) - end), s


def test_short_cached_strings_in_containers_all_forms():
    # in lists and as dict values (and keys), every room edge of dumps_into
    for s in SHORT[::7]:
        s = cache_utf8(fresh(s))
        check([s, 1, s])
        check({"k": s, s: [s]})


@pytest.mark.parametrize("room", range(0, 24))
def test_short_cached_string_at_every_room_size(room):
    # the whole literal goes under one room check; with less room than the
    # literal the general path writes it in pieces; dump's chunk boundary
    # falls at every offset of it
    s = cache_utf8(fresh("日本é"))   # 8 UTF-8 bytes, 10 with quotes
    doc = ["x" * room, s, "ü" + s]
    cache_utf8(doc[2])
    for size in range(room, room + 16):
        exp = oracle(doc)
        buf = bytearray(b"\xee" * size)
        if size >= len(exp):
            assert nj.dumps_into(doc, buf) == len(exp)
            assert buf[:len(exp)] == exp and buf[len(exp):] == b"\xee" * (size - len(exp))
        else:
            with pytest.raises(BufferTooSmall):
                nj.dumps_into(doc, buf)
    for bs in (64, 65, 70, 77):
        f = io.BytesIO()
        nj.dump(doc, f, buffer_size=bs)
        assert f.getvalue() == oracle(doc)


text = st.text(st.characters(codec="utf-8"), max_size=40)


@given(st.lists(text, min_size=1, max_size=6), st.booleans(), st.booleans(),
       st.sampled_from([None, 0, 2, "\t"]), st.sampled_from([None, (",", ":"), (", ", ": "), ("|", "=")]))
@settings(max_examples=300)
def test_cached_strings_every_option(words, ensure_ascii, sort_keys, indent, separators):
    words = [cache_utf8(fresh(w + "é")) for w in words]
    doc = {w: [w, {"v": w}] for w in words}
    check(doc, ensure_ascii=ensure_ascii, sort_keys=sort_keys, indent=indent,
          separators=separators)
    check(words, ensure_ascii=ensure_ascii, indent=indent, separators=separators)


@given(text)
def test_cached_and_fresh_strings_give_the_same_bytes(s):
    s = s + "ç"
    a = nj.dumps([s])
    cache_utf8(s)
    assert nj.dumps([s]) == a == oracle([s])


@pytest.mark.skipif(not HAS_CACHE_FIELD, reason="the UTF-8 cache moved in 3.14")
def test_no_utf8_cache_is_created():
    # sys.getsizeof counts a str's UTF-8 cache: encoding must not add one
    for s in ("é" * 5, "日本語", "x\U0001f600", "é" * 40, "ab\"é"):
        s = fresh(s)
        before = sys.getsizeof(s)
        nj.dumps([s, {s: s}])
        nj.dumps_into(s, bytearray(200))
        assert sys.getsizeof(s) == before
        cache_utf8(s)
        assert sys.getsizeof(s) > before   # the check can see a cache


# ---- float batches in dumps_into's exact copy ----------------------------------

doubles = st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from(
    [0.0, -0.0, 1.5, -95.1234567891, 43.0000000001, 5e-324, 1e16, 1e-5, 123456789012345.6,
     -1.7976931348623157e308])


@given(st.lists(st.lists(doubles, min_size=1, max_size=20), max_size=6),
       st.integers(0, 9), st.integers(0, 40))
def test_float_lists_into_every_window(lists, offset, slack):
    exp = oracle(lists)
    buf = bytearray(b"\xee" * (offset + len(exp) + slack))
    end = nj.dumps_into(lists, buf, offset)
    assert buf[offset:end] == exp
    assert buf[:offset] == b"\xee" * offset and buf[end:] == b"\xee" * slack
    short = bytearray(b"\xee" * (offset + len(exp) - 1))
    with pytest.raises(BufferTooSmall) as ei:
        nj.dumps_into(lists, short, offset)
    assert ei.value.needed == offset + len(exp)


def test_coordinate_pairs_at_every_buffer_size():
    # canada.json's shape: many short lists of floats; every end of the
    # buffer, from inside the first pair to past the last
    pairs = [[-95.1234567891 - i / 7, 43.987654321 + i / 13] for i in range(12)]
    exp = oracle(pairs)
    for size in range(len(exp) + 50):
        buf = bytearray(b"\xee" * size)
        if size >= len(exp):
            assert nj.dumps_into(pairs, buf) == len(exp)
            assert buf[:len(exp)] == exp and buf[len(exp):] == b"\xee" * (size - len(exp))
        else:
            with pytest.raises(BufferTooSmall):
                nj.dumps_into(pairs, buf)


# ---- strings with escapes, in one pass when the room holds the worst case ------

def escaped_strings():
    """ASCII and non-ASCII strs of 16..140 chars with one, two, many and
    only escapes, at block starts, block ends and across the 64-byte rounds."""
    out = []
    for fill in ("a", "é", "日", "\U0001f600"):
        for n in (16, 17, 31, 32, 33, 63, 64, 65, 79, 80, 130):
            base = fill * n
            for bad in ('"', "\\", "\n", "\x00", "\x1f", "\x7f"):
                for i in sorted({0, 1, 7, 8, 15, 16, 17, n // 2, n - 2, n - 1}):
                    out.append(base[:i] + bad + base[i:])
                    out.append(base[:i] + bad + base[i:-1] + bad)
                out.append(bad * n)
                out.append((fill + bad) * (n // 2))
    return out


ESCAPED = escaped_strings()


@pytest.mark.parametrize("ensure_ascii", [False, True])
@pytest.mark.parametrize("cached", [False, True])
def test_strings_with_escapes_every_position(ensure_ascii, cached):
    for s in ESCAPED:
        s = fresh(s)
        if cached and not s.isascii():
            cache_utf8(s)
        exp = oracle([s, s], ensure_ascii=ensure_ascii)
        assert nj.dumps([s, s], ensure_ascii=ensure_ascii) == exp, s
        buf = bytearray(b"\xee" * (len(exp) + 16 * len(s)))
        end = nj.dumps_into([s, s], buf, 5, ensure_ascii=ensure_ascii)
        assert buf[5:end] == exp and buf[:5] == b"\xee" * 5, s
        assert buf[end:] == b"\xee" * (len(buf) - end), s


@pytest.mark.parametrize("s", ["x" * 20 + "\n" + "y" * 20, "é" * 10 + '"' + "ü" * 12,
                               "\x01" * 20, "a\\" * 12 + "é", "日" * 6 + "\t" * 3])
def test_string_with_escapes_at_every_buffer_size(s):
    # the one-pass path runs only when the room holds six bytes per byte;
    # every size from too small to past that bound, the bytes after the
    # document untouched and the needed size exact
    s = fresh(s)
    if not s.isascii():
        cache_utf8(s)
    for ea in (False, True):
        exp = oracle(s, ensure_ascii=ea)
        for size in range(len(exp) - 3, len(exp) + 8 * len(s.encode()) + 8):
            buf = bytearray(b"\xee" * size)
            if size < len(exp):
                with pytest.raises(BufferTooSmall) as ei:
                    nj.dumps_into(s, buf, ensure_ascii=ea)
                assert ei.value.needed == len(exp)
                continue
            assert nj.dumps_into(s, buf, ensure_ascii=ea) == len(exp)
            assert buf[:len(exp)] == exp and buf[len(exp):] == b"\xee" * (size - len(exp)), (size, ea)


@given(st.lists(st.text(st.characters(codec="utf-8"), min_size=10, max_size=90), min_size=1, max_size=5),
       st.booleans(), st.booleans(), st.integers(0, 200))
def test_long_strings_random_escapes_into_windows(words, ensure_ascii, cached, slack):
    words = [fresh(w + '"\n') for w in words]
    if cached:
        for w in words:
            if not w.isascii():
                cache_utf8(w)
    exp = oracle(words, ensure_ascii=ensure_ascii)
    buf = bytearray(b"\xee" * (3 + len(exp) + slack))
    end = nj.dumps_into(words, buf, 3, ensure_ascii=ensure_ascii)
    assert buf[3:end] == exp
    assert buf[end:] == b"\xee" * slack
