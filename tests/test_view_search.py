"""View's search / strip / split / predicate methods and the lazy iterators,
against bytes as the oracle: same results (pieces as Views), same exception
types and messages, over windows in the middle of larger buffers."""
import array
import gc
import time
import tracemalloc

import pytest
import leakcheck
from hypothesis import given, strategies as st

from nocopy import View, _core

# ---- oracle helpers ------------------------------------------------------------

ALPHABET = list(b"ab \t\n\r\x0b\x0cAZaz09_\x80\xff")


def norm_view(x):
    """A View-side result, with Views marked so a bytes result cannot pass."""
    if isinstance(x, View):
        return ("view", bytes(x))
    if isinstance(x, (bytes, bytearray)):
        return ("not-a-view", bytes(x))
    if isinstance(x, list):
        return ["list", *map(norm_view, x)]
    if isinstance(x, tuple):
        return ("tuple", *map(norm_view, x))
    return x


def norm_bytes(x):
    # bytes.partition(sep) returns sep itself in the middle, even a bytearray
    if isinstance(x, (bytes, bytearray)):
        return ("view", x)
    if isinstance(x, list):
        return ["list", *map(norm_bytes, x)]
    if isinstance(x, tuple):
        return ("tuple", *map(norm_bytes, x))
    return x


def outcome(fn, norm):
    try:
        return ("ok", norm(fn()))
    except Exception as e:  # noqa: BLE001 - the exception is the result here
        # Messages may name the type ("bytes.find() takes no keyword
        # arguments"); whether they do depends on the call path even for bytes.
        return ("raised", type(e), str(e).replace("bytes.", "").replace("View.", ""))


def windows(data, pre=b"<<", post=b">>"):
    """Views of data: whole bytes, and windows in the middle of larger
    bytes / bytearray buffers."""
    buf = pre + data + post
    a, b = len(pre), len(pre) + len(data)
    return [View(data), View(buf, a, b), View(bytearray(buf), a, b)]


def check(data, name, *args, pre=b"<<", post=b">>", **kwargs):
    want = outcome(lambda: getattr(data, name)(*args, **kwargs), norm_bytes)
    for v in windows(data, pre, post):
        got = outcome(lambda: getattr(v, name)(*args, **kwargs), norm_view)
        assert got == want, (name, data, args, kwargs, v)


small = st.lists(st.sampled_from(ALPHABET), max_size=24).map(bytes)
data_st = small | st.binary(max_size=24)
sub_st = st.lists(st.sampled_from(list(b"ab \n\r")), max_size=4).map(bytes) | st.binary(max_size=2)
idx_st = st.none() | st.integers(-30, 30)
pad_st = st.binary(max_size=4)


def buffer_forms(b):
    return [b, bytearray(b), memoryview(b), View(b"xx" + b + b"yy", 2, 2 + len(b))]


# ---- find, rfind, index, rindex, count -----------------------------------------------

FINDS = ["find", "rfind", "index", "rindex", "count"]


@given(data_st, sub_st, idx_st, idx_st, pad_st, pad_st)
def test_find_family(data, sub, start, end, pre, post):
    for name in FINDS:
        check(data, name, sub, pre=pre, post=post)
        check(data, name, sub, start, pre=pre, post=post)
        check(data, name, sub, start, end, pre=pre, post=post)
        if sub:
            check(data, name, sub[0], start, end, pre=pre, post=post)


@given(data_st, sub_st)
def test_find_buffer_kinds(data, sub):
    for form in buffer_forms(sub):
        for name in FINDS:
            want = outcome(lambda: getattr(data, name)(sub), norm_bytes)
            for v in windows(data):
                assert outcome(lambda: getattr(v, name)(form), norm_view) == want


class Idx:
    def __init__(self, i):
        self.i = i

    def __index__(self):
        return self.i


@pytest.mark.parametrize("args", [
    (), (b"a", 1, 2, 3), ("a",), (1.0,), (256,), (-1,), (2 ** 70,), (-2 ** 70,), (None,),
    (b"a", "x"), (b"a", 1.5), (b"a", None, "x"), (b"a", 2 ** 70), (b"a", -2 ** 70, 2 ** 70),
    (b"", 2 ** 70), (b"", 3), (b"", 4), (b"", 2, 1), (b"", -100, -100), (Idx(98),),
    (b"b", Idx(1), Idx(-1)), (True,), ([1],), ("x", "y"),
])
def test_find_family_argument_forms(args):
    for name in FINDS:
        check(b"abc", name, *args)
        check(b"", name, *args)


def test_find_family_keywords_rejected():
    for name in FINDS:
        check(b"abc", name, sub=b"a")


def test_index_not_found_message():
    with pytest.raises(ValueError, match="^subsection not found$"):
        View(b"").index(b"x")
    with pytest.raises(ValueError, match="^subsection not found$"):
        View(b"abc", 1).rindex(b"a")


# ---- startswith, endswith ----------------------------------------------------------------


@given(data_st, sub_st, sub_st, idx_st, idx_st, pad_st)
def test_startswith_endswith(data, p1, p2, start, end, pre):
    for name in ("startswith", "endswith"):
        check(data, name, p1, pre=pre)
        check(data, name, p1, start, pre=pre)
        check(data, name, p1, start, end, pre=pre)
        check(data, name, (p1, p2), start, end, pre=pre)
        check(data, name, (), start)
        check(data, name, (p1, bytearray(p2)), start, end)
        check(data, name, memoryview(p1), start, end)


@pytest.mark.parametrize("args", [
    (), ("a",), (1,), (None,), ([b"a"],), (("a",),), ((b"x", "a"),), ((b"x", 1),), ((b"a", "x"),),
    (b"a", "x"), (b"a", 1, 2, 3), (b"", 4), (b"", 3), (b"", -1, 2 ** 70), (b"c", None, None),
])
def test_startswith_endswith_argument_forms(args):
    for name in ("startswith", "endswith"):
        check(b"abc", name, *args)
        check(b"", name, *args)


def test_startswith_str_message():
    with pytest.raises(TypeError, match="^startswith first arg must be bytes or a tuple of bytes, not str$"):
        View(b"abc").startswith("a")
    with pytest.raises(TypeError, match="^endswith first arg must be bytes or a tuple of bytes, not int$"):
        View(b"abc").endswith(1)
    check(b"abc", "startswith", prefix=b"a")


# ---- strip ---------------------------------------------------------------------------------


@given(data_st, sub_st, pad_st, pad_st)
def test_strip_family(data, chars, pre, post):
    for name in ("strip", "lstrip", "rstrip"):
        check(data, name, pre=pre, post=post)
        check(data, name, None, pre=pre, post=post)
        check(data, name, chars, pre=pre, post=post)
        check(data, name, bytearray(chars))
        check(data, name, memoryview(chars))


@pytest.mark.parametrize("args,kwargs", [
    (("a",), {}), ((1,), {}), ((b"a", b"b"), {}), ((), {"chars": b"a"}), ((), {"bytes": b"a"}),
    ((View(b"a"),), {}), ((array.array("B", b"c"),), {}),
])
def test_strip_argument_forms(args, kwargs):
    for name in ("strip", "lstrip", "rstrip"):
        check(b" abc ", name, *args, **kwargs)


# ---- split, rsplit, splitlines ---------------------------------------------------------------


@given(data_st, sub_st, st.integers(-2, 5), pad_st, pad_st)
def test_split_family(data, sep, maxsplit, pre, post):
    for name in ("split", "rsplit"):
        check(data, name, pre=pre, post=post)
        check(data, name, None, maxsplit, pre=pre, post=post)
        check(data, name, sep, pre=pre, post=post)
        check(data, name, sep, maxsplit, pre=pre, post=post)
        check(data, name, sep=sep, maxsplit=maxsplit)
        check(data, name, maxsplit=maxsplit)
        check(data, name, bytearray(sep), maxsplit=maxsplit)


@pytest.mark.parametrize("args,kwargs", [
    ((b"",), {}), (("a",), {}), ((b"a", "x"), {}), ((b"a", 1.0), {}), ((b"a", 2 ** 70), {}),
    ((b"a", -2 ** 70), {}), ((b"a", 1, 2), {}), ((), {"foo": 1}), ((b"a",), {"sep": b"a"}),
    ((1, 2), {"foo": 3}), ((), {"foo": 1, "bar": 2, "baz": 3}), ((), {"maxsplit": None}),
    ((b" ",), {"maxsplit": 1, "sep": b"x"}), ((b" ", 1), {"maxsplit": 1}), ((b" ",), {"foo": 1}),
    (("x", "y"), {}), ((None, Idx(1)), {}), ((b"",), {"maxsplit": "x"}), ((1,), {}),
    ((), {"sep": None, "maxsplit": 0}),
])
def test_split_argument_forms(args, kwargs):
    for name in ("split", "rsplit"):
        check(b"a b  c ", name, *args, **kwargs)


def test_empty_separator_message():
    with pytest.raises(ValueError, match="^empty separator$"):
        View(b"abc").split(b"")
    with pytest.raises(ValueError, match="^empty separator$"):
        View(b"abc").partition(b"")


@given(st.lists(st.sampled_from(list(b"ab\r\n\x0b\x0c\x1c")), max_size=30).map(bytes), pad_st, pad_st)
def test_splitlines(data, pre, post):
    check(data, "splitlines", pre=pre, post=post)
    check(data, "splitlines", True, pre=pre, post=post)
    check(data, "splitlines", keepends=True)
    check(data, "splitlines", keepends=0)


@pytest.mark.parametrize("args,kwargs", [
    ((1.0,), {}), (("x",), {}), ((1, 2), {}), ((), {"keepends": 2}), ((), {"foo": 2}),
    ((), {"keepends": 2 ** 70}), ((2 ** 40,), {}), ((None,), {}), ((), {"keepends": True, "foo": 1}),
    ((True,), {"keepends": True}), ((), {"foo": 1, "bar": 2}), ((Idx(1),), {}),
])
def test_splitlines_argument_forms(args, kwargs):
    check(b"a\nb\r\nc\rd", "splitlines", *args, **kwargs)


# ---- partition, removeprefix ------------------------------------------------------------------


@given(data_st, sub_st, pad_st, pad_st)
def test_partition(data, sep, pre, post):
    for name in ("partition", "rpartition"):
        check(data, name, sep, pre=pre, post=post)
        check(data, name, bytearray(sep), pre=pre, post=post)


@pytest.mark.parametrize("args", [(), ("a",), (1,), (b"",), (b"a", b"b"), (None,)])
def test_partition_argument_forms(args):
    for name in ("partition", "rpartition", "removeprefix", "removesuffix"):
        check(b"abc", name, *args)


@given(data_st, sub_st, pad_st, pad_st)
def test_removeprefix_removesuffix(data, affix, pre, post):
    for name in ("removeprefix", "removesuffix"):
        check(data, name, affix, pre=pre, post=post)
        check(data, name, memoryview(affix), pre=pre, post=post)
        check(data, name, data[:2] if name == "removeprefix" else data[-2:], pre=pre, post=post)


def test_partition_not_found_parts_are_empty_views():
    before, sep, after = View(b"xabcx", 1, 4).partition(b"z")
    assert (bytes(before), bytes(sep), bytes(after)) == (b"abc", b"", b"")
    assert all(isinstance(p, View) for p in (before, sep, after))
    before, sep, after = View(b"xabcx", 1, 4).rpartition(b"z")
    assert (bytes(before), bytes(sep), bytes(after)) == (b"", b"", b"abc")


# ---- predicates ---------------------------------------------------------------------------------

PREDICATES = ["isalnum", "isalpha", "isascii", "isdigit", "islower", "isspace", "istitle", "isupper"]


@given(data_st | st.lists(st.sampled_from(list(b"aA Zz09 _")), max_size=12).map(bytes), pad_st, pad_st)
def test_predicates(data, pre, post):
    for name in PREDICATES:
        check(data, name, pre=pre, post=post)


def test_predicates_reject_arguments():
    for name in PREDICATES:
        check(b"abc", name, 1)


@pytest.mark.parametrize("data", [b"", b"Hello World", b"HELLO", b"hello", b"Hello world", b"1A",
                                  b"A1b", b"aA", b" ", b"\x80", b"abc\x80", b"a" * 17 + b"\xff",
                                  b"a" * 16, b"\x0b\x0c", b"\x1c", b"_"])
def test_predicates_edge_cases(data):
    for name in PREDICATES:
        check(data, name)


# ---- contains -----------------------------------------------------------------------------------


@given(data_st, sub_st)
def test_contains(data, sub):
    for v in windows(data):
        assert (sub in v) == (sub in data)
        assert (bytearray(sub) in v) == (sub in data)
        if sub:
            assert (sub[0] in v) == (sub[0] in data)


class BadIndex:
    def __index__(self):
        raise ValueError("boom")


@pytest.mark.parametrize("x", ["x", 256, -1, 2 ** 70, BadIndex(), 1.5, None])
def test_contains_errors(x):
    want = outcome(lambda: x in b"abc", norm_bytes)
    assert outcome(lambda: x in View(b"abc"), norm_view) == want


# ---- results are Views of the same buffer -----------------------------------------------------


def test_results_share_the_buffer():
    buf = bytearray(b"  key = value  ")
    v = View(buf)
    s = v.strip()
    k, _, val = s.partition(b"=")
    assert (s.start, s.stop) == (2, 13)
    buf[2] = ord("K")
    assert bytes(k) == b"Key " and bytes(val) == b" value"
    assert all(p.obj is buf for p in v.split())


def test_subclass_results_keep_the_type():
    class MyView(View):
        pass

    v = MyView(b" a b ")
    assert type(v.strip()) is MyView
    assert all(type(p) is MyView for p in v.split())
    assert all(type(p) is MyView for p in v.itersplit())


# ---- adversarial search ------------------------------------------------------------------------


def test_adversarial_search_is_linear():
    hay = View(b"a" * 10 ** 6 + b"b")
    needle = b"a" * 1000 + b"b"
    mid = b"a" * 500 + b"b" + b"a" * 500
    rev = View(b"b" + b"a" * 10 ** 6)
    t0 = time.perf_counter()
    assert hay.find(needle) == 10 ** 6 - 1000
    assert hay.rfind(needle) == 10 ** 6 - 1000
    assert hay.count(needle) == 1
    assert rev.rfind(b"b" + b"a" * 1000) == 0
    assert rev.find(b"b" + b"a" * 1000) == 0
    assert View(b"a" * 10 ** 6).find(mid) == -1
    assert View(b"a" * 10 ** 6).rfind(mid) == -1
    assert View(b"a" * 10 ** 6).count(mid) == 0
    assert len(View(b"a" * 10 ** 6).split(mid)) == 1
    assert len(View(b"a" * 10 ** 6).rsplit(mid)) == 1
    assert View(b"a" * 10 ** 6).partition(mid)[1] == b""
    assert list(View(b"a" * 10 ** 6).itersplit(mid))[0] == b"a" * 10 ** 6
    # quadratic behaviour would take ~10**9 comparisons per call: minutes
    assert time.perf_counter() - t0 < 2.0


long_alpha = st.lists(st.sampled_from(list(b"ab")), max_size=200).map(bytes)


@given(long_alpha | st.binary(max_size=60), long_alpha.filter(bool) | st.binary(min_size=1, max_size=6),
       st.booleans())
def test_kernel_two_way_matches_bytes(hay, needle, force):
    assert _core._kernel_search(hay, needle, 0, force)[0] == hay.find(needle)
    assert _core._kernel_search(hay, needle, 1, force)[0] == hay.rfind(needle)
    assert _core._kernel_search(hay, needle, 2, force)[0] == hay.count(needle)


@given(st.integers(1, 40), st.integers(0, 3), st.integers(1, 40), st.integers(0, 200))
def test_kernel_two_way_periodic_needles(unit_len, cut, reps, offset):
    unit = (b"ab" * 40)[:unit_len] + b"b"
    needle = unit * reps + unit[:cut]
    hay = (unit * (reps + 3))[offset:] + needle + unit
    for force in (False, True):
        assert _core._kernel_search(hay, needle, 0, force)[0] == hay.find(needle)
        assert _core._kernel_search(hay, needle, 1, force)[0] == hay.rfind(needle)
        assert _core._kernel_search(hay, needle, 2, force)[0] == hay.count(needle)


def test_kernel_switches_to_two_way_on_adversarial_input():
    r, used_two_way = _core._kernel_search(b"a" * 100000, b"a" * 50 + b"b" + b"a" * 50, 0, False)
    assert r == -1 and used_two_way
    r, used_two_way = _core._kernel_search(b"hello world " * 100, b"world", 0, False)
    assert r == 6 and not used_two_way


# ---- hostile callbacks --------------------------------------------------------------------------


class Releasing:
    def __init__(self, view, value=0):
        self.view, self.value = view, value

    def __index__(self):
        self.view.release()
        return self.value

    def __bool__(self):  # from 3.12 bytes.splitlines takes keepends by truth
        self.view.release()
        return bool(self.value)


class Retargeting:
    def __init__(self, view, start, stop, value=0):
        self.view, self.window, self.value = view, (start, stop), value

    def __index__(self):
        self.view.retarget(*self.window)
        return self.value


def test_index_callback_releases_view():
    for call in (lambda v, i: v.find(b"b", i), lambda v, i: v.count(b"b", 0, i),
                 lambda v, i: v.startswith(b"a", i), lambda v, i: v.split(b"a", i),
                 lambda v, i: v.rsplit(None, i), lambda v, i: v.splitlines(i),
                 lambda v, i: v.itersplit(b"a", i), lambda v, i: v.iterlines(i),
                 lambda v, i: v.find(i)):
        v = View(bytearray(b"abcabc"))
        with pytest.raises(ValueError, match="released"):
            call(v, Releasing(v, 98))


def test_index_callback_retargets_view():
    buf = b"abcXYZabc"
    v = View(buf, 0, 9)
    assert v.find(b"a", Retargeting(v, 3, 6, 0)) == -1  # the new window is b"XYZ"
    v = View(buf, 0, 9)
    assert v.rfind(b"Z", Retargeting(v, 3, 6, 0)) == 2
    v = View(buf, 0, 9)
    assert [bytes(p) for p in v.split(b"Y", Retargeting(v, 3, 6, -1))] == [b"X", b"Z"]
    v = View(buf, 0, 9)
    assert bytes(v.strip(b"a")) == b"bcXYZabc"


def test_iterator_survives_source_release_and_retarget():
    buf = bytearray(b"one two three four")
    v = View(buf, 0, len(buf))
    it = v.itersplit()
    assert bytes(next(it)) == b"one"
    v.retarget(0, 3)  # the iterator keeps the window it was made on
    assert bytes(next(it)) == b"two"
    v.release()
    with pytest.raises(BufferError):
        buf.append(1)  # the iterator still shares the export
    assert [bytes(p) for p in it] == [b"three", b"four"]
    buf.append(1)  # exhausted: it gave its share back


def test_iterator_exhaustion_gives_the_export_back():
    buf = bytearray(b"a\nb\n")
    v = View(buf)
    it = v.iterlines()
    v.release()
    with pytest.raises(BufferError):
        buf.append(1)
    assert list(map(bytes, it)) == [b"a", b"b"]
    buf.append(1)  # no view and no live iterator state: resizable again


def test_reuse_view_released_mid_iteration():
    it = View(b"a b c").itersplit(reuse=True)
    first = next(it)
    first.release()
    with pytest.raises(ValueError, match="reuse=True was released"):
        next(it)


# ---- lazy iterators --------------------------------------------------------------------------------


@given(data_st, sub_st, st.integers(-2, 5), pad_st, pad_st)
def test_itersplit_matches_split(data, sep, maxsplit, pre, post):
    for v in windows(data, pre, post):
        assert [bytes(p) for p in v.itersplit()] == data.split()
        assert [bytes(p) for p in v.itersplit(None, maxsplit)] == data.split(None, maxsplit)
        if sep:
            assert [bytes(p) for p in v.itersplit(sep, maxsplit)] == data.split(sep, maxsplit)
            assert [bytes(p) for p in v.itersplit(sep=bytearray(sep))] == data.split(sep)
            got = [bytes(p) for p in v.itersplit(sep, maxsplit=maxsplit, reuse=True)]
            assert got == data.split(sep, maxsplit)
        assert [bytes(p) for p in v.itersplit(maxsplit=maxsplit, reuse=True)] == data.split(None, maxsplit)


@given(st.lists(st.sampled_from(list(b"ab\r\n")), max_size=30).map(bytes), pad_st, pad_st)
def test_iterlines_matches_splitlines(data, pre, post):
    for v in windows(data, pre, post):
        assert [bytes(p) for p in v.iterlines()] == data.splitlines()
        assert [bytes(p) for p in v.iterlines(True)] == data.splitlines(True)
        assert [bytes(p) for p in v.iterlines(keepends=True, reuse=True)] == data.splitlines(True)


def test_reuse_yields_the_same_object():
    v = View(b"x a bb ccc x", 1, -1)
    seen = []
    for piece in v.itersplit(reuse=True):
        seen.append((id(piece), bytes(piece)))
    assert len({i for i, _ in seen}) == 1
    assert [b for _, b in seen] == [b"a", b"bb", b"ccc"]
    fresh = list(v.itersplit())
    assert len({id(p) for p in fresh}) == 3


def test_reuse_leaves_an_exported_view_alone():
    # a memoryview of the yielded View may be its only other reference: the
    # iterator makes a new View rather than move the exported one
    for make in (lambda v: v.itersplit(reuse=True), lambda v: v.iterlines(reuse=True)):
        v = View(b"a\nbb\nccc\n")
        it = make(v)
        views = [memoryview(next(it))]
        views.append(memoryview(next(it)))
        views.append(memoryview(next(it)))
        assert [bytes(m).rstrip(b"\n") for m in views] == [b"a", b"bb", b"ccc"]
        assert len({id(m.obj) for m in views}) == 3
        del views
        kept = [bytes(p) for p in it]   # reuse goes on once the exports are gone
        assert kept == []


def test_iterator_argument_errors():
    v = View(b"a b")
    with pytest.raises(ValueError, match="^empty separator$"):
        v.itersplit(b"")
    with pytest.raises(TypeError, match="a bytes-like object is required, not 'str'"):
        v.itersplit("a")
    with pytest.raises(TypeError, match="cannot be interpreted as an integer"):
        v.itersplit(None, "x")
    with pytest.raises(TypeError, match=r"itersplit\(\) takes at most 2 positional arguments \(3 given\)"):
        v.itersplit(None, 1, True)
    with pytest.raises(TypeError, match=r"'foo' is an invalid keyword argument for itersplit\(\)"):
        v.itersplit(foo=1)
    with pytest.raises(TypeError, match=r"iterlines\(\) takes at most 1 positional argument \(2 given\)"):
        v.iterlines(True, True)
    with pytest.raises(TypeError, match=r"argument for iterlines\(\) given by name \('keepends'\)"):
        v.iterlines(True, keepends=True)
    with pytest.raises(TypeError):
        type(v.itersplit())()


def test_iterator_released_view_raises():
    v = View(b"a b")
    v.release()
    for call in (v.itersplit, v.iterlines, v.split, v.strip, v.isalpha):
        with pytest.raises(ValueError, match="released"):
            call()


# ---- memory: zero-copy and allocation-free -------------------------------------------------------

MB = 1 << 20


def _traced(fn):
    gc.collect()
    tracemalloc.start()
    try:
        fn()  # warm-up: caches, method lookups
        gc.collect()
        before_size, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        result = fn()
        after_size, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, after_size - before_size, peak - before_size


def _retain_all(make_iter, n):
    """Run an iterator to the end keeping every item it yields in a list
    allocated beforehand: whatever an item costs stays in the trace."""
    out = [None] * n

    def run():
        i = 0
        for piece in make_iter():
            out[i] = piece
            i += 1
        for j in range(n):
            out[j] = None
        return i
    return run


@pytest.mark.parametrize("make", [
    lambda v, reuse: v.itersplit(reuse=reuse),
    lambda v, reuse: v.itersplit(b" ", reuse=reuse),
    lambda v, reuse: v.iterlines(reuse=reuse),
    lambda v, reuse: v.iterlines(True, reuse=reuse),
])
def test_itersplit_reuse_allocates_nothing_per_item(make):
    # 1 MB of 16-byte words on 64-byte lines: 65,536 words, 16,384 lines.
    data = ((b"x" * 15 + b" ") * 3 + b"x" * 14 + b"\r\n") * (MB // 64)
    v = View(b"<" + data + b">", 1, -1)
    n = len(list(make(v, False)))
    assert n >= MB // 64
    # reuse=True retargets the View only while nobody else holds it (a
    # list or a dict keeping it must not see it move: issue 18), so the
    # loop keeps something derived from each piece -- its length, a cached
    # small int -- and every block allocated, freed or not, is counted.
    out = [None] * n

    def keep_lengths():
        i = 0
        for piece in make(v, True):
            out[i] = len(piece)
            i += 1
        return i
    count, grown, peak = _traced(keep_lengths)
    assert count == n
    assert peak < 4096  # one iterator and one View, for any n
    from nocopy import _core
    it = make(v, True)
    _core._alloc_count_start()
    try:
        a = _core._alloc_count()
        for piece in it:  # no counter: an int above 256 is an allocation
            last = len(piece)
        allocated = _core._alloc_count() - a
    finally:
        _core._alloc_count_stop()
    assert last >= 14 and allocated < 16
    # Retained, each piece is its own View and keeps its bytes.
    kept = [p for p in make(v, True)]
    assert [bytes(p) for p in kept] == [bytes(p) for p in make(v, False)]
    # The control: the same loop without reuse keeps a View per item.
    count, grown, peak = _traced(_retain_all(lambda: make(v, False), n))
    assert count == n and peak > 40 * n


def test_itersplit_reuse_allocated_blocks_flat():
    v = View(b"ab cd\n" * (MB // 6))
    it = v.itersplit(reuse=True)
    next(it)
    for _ in range(1000):
        next(it)
    gc.collect()
    before = _blocks()
    for _ in range(100_000):
        next(it)
    assert _blocks() - before < 10


def _blocks():
    return leakcheck.blocks()


def test_strip_find_on_1mb_are_o1_memory():
    data = b"  " + b"x" * MB + b"  "
    v = View(bytearray(data))
    s, grown, peak = _traced(v.strip)
    assert len(s) == MB and peak < 4096
    r, grown, peak = _traced(lambda: v.find(b"needle"))
    assert r == -1 and peak < 4096
    r, grown, peak = _traced(lambda: v.partition(b"x"))
    assert peak < 4096


def test_split_on_1mb_is_o_pieces():
    v = View(b"x" * (MB // 2) + b"," + b"y" * (MB // 2))
    parts, grown, peak = _traced(lambda: v.split(b","))
    assert [len(p) for p in parts] == [MB // 2, MB // 2]
    assert peak < 4096  # two Views and a list, not a megabyte of copies
    many = View(b"abcdefg," * (MB // 8))
    parts, grown, peak = _traced(lambda: many.split(b","))
    assert len(parts) == MB // 8 + 1
    per_piece = peak / len(parts)
    assert per_piece < 200  # a View object and a list slot each


@given(st.lists(st.sampled_from(list(b"a \n\r")), min_size=30, max_size=300).map(bytes),
       st.sampled_from([b"a", b" ", b"a ", b"\r\n"]), st.integers(-1, 80))
def test_split_many_pieces(data, sep, maxsplit):
    # More pieces than one batch of offsets (32): the list is built in steps.
    for name in ("split", "rsplit"):
        check(data, name, sep, maxsplit)
        check(data, name, None, maxsplit)
    check(data, "splitlines")
    check(data, "splitlines", True)
