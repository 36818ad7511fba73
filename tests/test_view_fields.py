"""View.split_into and View.reslice (issue 18, points 2 and 9) against the
bytes oracle: split_into(fields, sep, maxsplit) leaves fields equal to
bytes.split(sep, maxsplit) and moves the Views it can reuse in place;
reslice(other, start, stop) shows other[start:stop] (relative offsets,
slice clamping) with no new object."""
import sys

import pytest
from hypothesis import given, strategies as st

from nocopy import ByteBuffer, StaleViewError, View

# whitespace-rich data so split(None) sees runs, leading and trailing spaces
data_st = st.lists(st.sampled_from(list(b"ab, \t\n\x0b\x0c\r\x1c-")), max_size=40).map(bytes)
sep_st = st.none() | st.sampled_from([b",", b" ", b"-", b", ", b"ab", b"\t\n"])
maxsplit_st = st.integers(-3, 12)
pad_st = st.binary(max_size=5)
# what the fields list held before: reusable Views, foreign objects, nothing
prior_st = st.lists(st.sampled_from(["view", "held", "int", "bytes", "exported", "released",
                                     "subclass"]), max_size=14)


class SubView(View):
    pass


def _window(data, lpad, rpad, kind):
    buf = lpad + data + rpad
    if kind == "bytearray":
        buf = bytearray(buf)
    return View(buf, len(lpad), len(lpad) + len(data))


def _prior(kinds, keep):
    out = []
    for k in kinds:
        if k == "view":
            out.append(View(bytearray(b"old view")))
        elif k == "held":
            v = View(b"held elsewhere")
            keep.append(v)
            out.append(v)
        elif k == "int":
            out.append(7)
        elif k == "bytes":
            out.append(b"bytes")
        elif k == "subclass":  # only the list holds it, but another type: replaced
            out.append(SubView(b"sub"))
        elif k == "exported":
            v = View(bytearray(b"exported"))
            keep.append(memoryview(v))
            out.append(v)
        else:
            v = View(b"released")
            v.release()
            out.append(v)
    return out


@given(data_st, sep_st, maxsplit_st, pad_st, pad_st, prior_st,
       st.sampled_from(["bytes", "bytearray"]), st.sampled_from(["pos", "kw", "default"]))
def test_split_into_matches_bytes_split(data, sep, maxsplit, lpad, rpad, prior, kind, form):
    v = _window(data, lpad, rpad, kind)
    keep = []
    fields = _prior(prior, keep)
    snapshot = [(x, bytes(x) if isinstance(x, View) and not x.released else None) for x in keep]
    if form == "default":
        sep, maxsplit = None, -1
    if form == "pos":
        n = v.split_into(fields, sep, maxsplit)
        expect = data.split(sep, maxsplit)
    elif form == "kw":
        n = v.split_into(fields, maxsplit=maxsplit, sep=sep)
        expect = data.split(sep=sep, maxsplit=maxsplit)
    else:
        n = v.split_into(fields)
        expect = data.split()
    assert n == len(fields) == len(expect)
    assert [bytes(f) for f in fields] == expect
    assert all(type(f) is View for f in fields)
    # pieces share the window's buffer and are placed like split()'s
    assert [(f.start, f.stop) for f in fields] == [(p.start, p.stop)
                                                  for p in v.split(sep, maxsplit)]
    # a View someone else holds was never moved
    for x, content in snapshot:
        if content is not None:
            assert bytes(x) == content


# Whitespace splits over words and runs of every length around the 16-byte
# blocks the whitespace scan reads (the last block re-read from the end of
# the window): every control byte (whitespace or not, as bytes.split
# decides: \x1c-\x1f and \x00 are not), '!' (just above ' ') and a high byte.
ws_bytes = b" \t\n\x0b\x0c\r"
word_st = st.lists(st.sampled_from(list(b"a!\xff\x00\x08\x0e\x1c\x1f\x7f")), min_size=1,
                   max_size=40).map(bytes)
gap_st = st.lists(st.sampled_from(list(ws_bytes)), min_size=1, max_size=20).map(bytes)
long_data_st = st.one_of(
    st.lists(st.sampled_from(list(b"a!\xff\x00\x1c\x1f" + ws_bytes)), max_size=120).map(bytes),
    st.tuples(st.lists(st.tuples(word_st, gap_st), max_size=8), st.booleans()).map(
        lambda t: (b" " if t[1] else b"") + b"".join(w + g for w, g in t[0])),
)


@given(long_data_st, st.integers(-1, 12), pad_st, pad_st, st.sampled_from(["bytes", "bytearray"]))
def test_whitespace_split_matches_bytes_split_across_blocks(data, maxsplit, lpad, rpad, kind):
    v = _window(data, lpad, rpad, kind)
    expect = data.split(None, maxsplit)
    assert [bytes(p) for p in v.split(None, maxsplit)] == expect
    assert [bytes(p) for p in v.itersplit(None, maxsplit)] == expect
    fields = []
    assert v.split_into(fields, None, maxsplit) == len(expect)
    assert [bytes(f) for f in fields] == expect


@given(st.lists(long_data_st, max_size=8), st.integers(-1, 12), st.integers(0, 11))
def test_split_into_with_a_field_kept_per_line(lines, maxsplit, keep):
    # the log processor's pattern (url = fields[6]): the caller still holds
    # a field at the next call, which makes a new View for it (from the View
    # free list: no collection, so no re-check of the list) and leaves the
    # held one alone
    fields = []
    kept = []
    for data in lines:
        v = View(bytearray(data))
        n = v.split_into(fields, None, maxsplit)
        assert n == len(fields)
        assert [bytes(f) for f in fields] == data.split(None, maxsplit)
        if keep < n:
            kept.append((fields[keep], data.split(None, maxsplit)[keep]))
    for f, content in kept:
        assert bytes(f) == content


@given(data_st, sep_st, maxsplit_st, st.integers(0, 6))
def test_split_into_reuses_only_unshared_views(data, sep, maxsplit, n_prior):
    v = View(bytearray(data))
    fields = [View(b"x") for _ in range(n_prior)]
    ids = [id(f) for f in fields]
    n = v.split_into(fields, sep, maxsplit)
    # the first min(n, n_prior) objects are the old ones, moved
    k = min(n, n_prior)
    assert [id(f) for f in fields[:k]] == ids[:k]
    held = fields[0] if fields else None
    again = list(fields)  # every View now referenced twice: none reusable
    n2 = v.split_into(fields, sep, maxsplit)
    assert n2 == n
    assert all(a is not b for a, b in zip(again, fields))
    assert [bytes(f) for f in fields] == [bytes(f) for f in again] == data.split(sep, maxsplit)
    if held is not None:
        assert bytes(held) == bytes(again[0])


def test_split_into_moves_views_between_buffers():
    fields = []
    a = bytearray(b"one two three")
    View(a).split_into(fields)
    b = b"four five"
    first = fields[0]
    del first
    n = View(b).split_into(fields)
    assert n == 2 and [bytes(f) for f in fields] == [b"four", b"five"]
    assert all(f.obj is b for f in fields)
    # the third View over `a` was dropped, the first two moved: a's export is gone
    a.extend(b"!")


def test_split_into_over_bytebuffer_views_and_staleness():
    buf = ByteBuffer(64)
    buf.write(b"GET /a HTTP/1.1\n")
    line = buf.peek()
    fields = []
    assert line.split_into(fields, None, 2) == 3
    assert line.obj is None and fields[1] == b"/a"
    buf.consume(len(buf))
    buf.compact()
    buf.write(b"PUT /bb HTTP/1.0\n")
    with pytest.raises(StaleViewError):
        bytes(fields[1])
    with pytest.raises(StaleViewError):
        line.split_into(fields)
    line = buf.peek()
    assert line.split_into(fields, None, 2) == 3 and fields[1] == b"/bb"


def test_split_into_subclass_gets_subclass_pieces():
    class Sub(View):
        pass

    fields = [View(b"a")]
    s = Sub(b"x y")
    assert s.split_into(fields) == 2
    assert all(type(f) is Sub for f in fields)
    assert fields == s.split()


def test_split_into_with_itself_in_the_list():
    v = View(b"a b c")
    fields = [v]
    assert v.split_into(fields) == 3
    assert bytes(v) == b"a b c" and fields == [b"a", b"b", b"c"]


@pytest.mark.parametrize("args, kwargs, exc, msg", [
    ((), {}, TypeError, "missing required argument 'fields'"),
    (([], None, 1, 2), {}, TypeError, "at most 3 arguments"),
    (((),), {}, TypeError, "must be a list, not 'tuple'"),
    ((None,), {}, TypeError, "must be a list, not 'NoneType'"),
    (([],), {"sep": "x"}, TypeError, "a bytes-like object is required, not 'str'"),
    (([], b""), {}, ValueError, "empty separator"),
    (([],), {"maxsplit": 1.5}, TypeError, "'float' object cannot be interpreted as an integer"),
    (([],), {"maxsplit": None}, TypeError, "'NoneType' object cannot be interpreted"),
    (([],), {"maxsplit": 1 << 70}, OverflowError, "too large"),
    (([],), {"bogus": 1}, TypeError, "'bogus' is an invalid keyword argument for split_into()"),
    (([], None), {"sep": None}, TypeError, "given by name ('sep') and position (2)"),
    (([],), {"fields": []}, TypeError, "'fields' is an invalid keyword"),
])
def test_split_into_errors_leave_the_list_alone(args, kwargs, exc, msg):
    v = View(b"a b")
    if args and isinstance(args[0], list):
        args[0].append(b"kept")
    with pytest.raises(exc, match=__import__("re").escape(msg)):
        v.split_into(*args, **kwargs)
    if args and isinstance(args[0], list):
        assert args[0] == [b"kept"]


def test_split_into_error_types_match_bytes_split():
    for kwargs in ({"sep": "x"}, {"sep": b""}, {"maxsplit": 1.5}, {"maxsplit": None},
                   {"sep": 3}):
        with pytest.raises(Exception) as e_bytes:
            b"a b".split(**kwargs)
        with pytest.raises(Exception) as e_view:
            View(b"a b").split_into([], **kwargs)
        assert type(e_view.value) is type(e_bytes.value), kwargs


def test_split_into_released_view():
    v = View(b"a b")
    v.release()
    fields = [b"kept"]
    with pytest.raises(ValueError, match="released"):
        v.split_into(fields)
    assert fields == [b"kept"]


def test_split_into_separator_forms():
    v = View(bytearray(b"a::b::c"))
    for sep in (b"::", bytearray(b"::"), memoryview(b"::"), View(b"x::x", 1, 3)):
        fields = []
        assert v.split_into(fields, sep) == 3 and fields == [b"a", b"b", b"c"]


# ---- reslice -------------------------------------------------------------------------------

idx_st = st.none() | st.integers(-60, 60)


@given(data_st, pad_st, pad_st, idx_st, idx_st, st.sampled_from(["bytes", "bytearray"]),
       st.sampled_from(["fresh", "released", "other_buffer"]))
def test_reslice_is_slicing_in_place(data, lpad, rpad, a, b, kind, scratch_kind):
    other = _window(data, lpad, rpad, kind)
    if scratch_kind == "fresh":
        scratch = View(b"")
    elif scratch_kind == "released":
        scratch = View(b"abc")
        scratch.release()
    else:
        scratch = View(bytearray(b"somewhere else"), 2, 5)
    args = [other]
    if a is not None or b is not None:
        args.append(a)
    if b is not None:
        args.append(b)
    if scratch_kind == "released":   # every later use raises, as retarget's
        with pytest.raises(ValueError, match="released"):
            scratch.reslice(*args)
        assert scratch.released
        return
    r = scratch.reslice(*args)
    assert r is scratch
    sl = other[a:b]
    assert bytes(scratch) == data[a:b] == bytes(sl)
    assert (scratch.start, scratch.stop) == (sl.start, sl.stop)
    assert scratch.obj is other.obj and scratch.readonly == other.readonly


def test_reslice_works_for_reader_views_with_no_obj():
    buf = ByteBuffer(32)
    buf.write(b"GET /api/users/12 HTTP/1.1")
    line = buf.peek()
    assert line.obj is None
    url = line[4:17]
    scratch = View()
    i = url.find(b"/", 1)
    assert scratch.reslice(url, 0, i) == b"/api"
    # relative to url, whereas retarget is absolute in the shared storage
    assert scratch.start == url.start and scratch.stop == url.start + i
    assert scratch.retarget(0, 3) == b"GET"
    buf.consume(len(buf))
    buf.compact()
    buf.write(b"x")
    with pytest.raises(StaleViewError):
        bytes(scratch)
    with pytest.raises(StaleViewError):
        scratch.reslice(url)


def test_reslice_errors():
    v = View(b"abc")
    with pytest.raises(TypeError, match="must be a View, not 'bytes'"):
        v.reslice(b"abc")
    with pytest.raises(TypeError, match="from 1 to 3 arguments"):
        v.reslice()
    with pytest.raises(TypeError, match="from 1 to 3 arguments"):
        v.reslice(v, 1, 2, 3)
    with pytest.raises(TypeError):
        v.reslice(v, "1")
    other = View(b"xyz")
    other.release()
    with pytest.raises(ValueError, match="released"):
        v.reslice(other)
    assert bytes(v) == b"abc"


def test_reslice_exported_view_stays_on_its_buffer():
    v = View(bytearray(b"hello world"))
    m = memoryview(v)
    other = View(b"other")
    with pytest.raises(BufferError):
        v.reslice(other)
    assert bytes(v) == b"hello world"
    # within its own buffer it may move: the export keeps its own pointer
    w = v[6:]
    assert v.reslice(w, 1) == b"orld"
    assert bytes(m) == b"hello world"
    m.release()
    assert v.reslice(other) == b"other"


def test_reslice_subclass_and_views_of_subclass():
    class Sub(View):
        pass

    s = Sub(b"")
    assert s.reslice(View(b"abcdef"), 1, 3) == b"bc" and type(s) is Sub
    v = View(b"")
    assert v.reslice(Sub(b"abcdef"), -2) == b"ef"


def test_reslice_drops_the_old_buffer():
    a = bytearray(b"abc")
    v = View(a)
    v.reslice(View(b"xyz"))
    a.extend(b"d")  # no export left on a
    assert sys.getrefcount(a) == 2


def test_docstrings_state_offsets_and_cost():
    assert "absolute" in View.retarget.__doc__ and "reslice" in View.retarget.__doc__
    assert "relative" in View.reslice.__doc__ and "O(1)" in View.reslice.__doc__
    assert "relative" in View.find.__doc__
    assert "no allocation" in View.split_into.__doc__
    assert "absolute" in View.start.__doc__
