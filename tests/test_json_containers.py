"""The encoder's container paths (issue 19) against the stdlib oracle:
runs of true/false/null and compact ints in a list (enc_leaf_run), the
leading leaves of a list written before any per-container work
(enc_leaf_prefix: a list of leaves only is done there, one with more goes
on through the walk from its first other item), empty lists and dicts written
as leaves, the 256-slot key cache, the unchecked first nesting levels -- in
every entry point, at every room boundary, under every option, and with
hostile callbacks and finalizers."""
import gc
import io
import json
import sys
import tracemalloc

import pytest
import leakcheck
from hypothesis import given, strategies as st

import nocopy.json as nj
from budget import heavy
from nocopy import BufferTooSmall, ByteBuffer
from test_json import _cache_utf8, check_all_forms, options, oracle

# ---- documents made of the shapes the fast paths take ----------------------

# compact ints and the 64-bit edges (a big int ends a run and a leaf list)
run_ints = st.integers(-2**62, 2**62) | st.sampled_from(
    [0, -1, 2**30 - 1, 2**30, 2**60, -2**60, 2**63 - 1, -2**63, 2**63, 2**64, -2**63 - 1, 10**30])
# finite floats mostly; nan/inf end a leaf list (and fail with allow_nan=False)
run_floats = st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from(
    [float("nan"), float("inf"), -0.0, 1e16, 5e-324])
consts = st.sampled_from([True, False, None])
leaf = consts | run_ints | run_floats
# a str or a subclass among leaves: the run and the leaf list stop there
breaker = st.sampled_from(["", "x", "é", 2**70]) | st.builds(lambda v: IntSub(v), st.integers(-5, 5))


class IntSub(int):
    pass


class FloatSub(float):
    pass


leaf_lists = st.lists(leaf, max_size=70) | st.lists(leaf | breaker, max_size=12) \
    | st.tuples(leaf, leaf) | st.lists(consts, min_size=1, max_size=20)
empties = st.sampled_from([[], {}, ()])
docs = st.recursive(
    leaf | empties | leaf_lists,
    lambda kids: st.lists(kids, max_size=8)
    | st.dictionaries(st.text(max_size=6) | st.sampled_from(["a", "bb", "k" * 31, "k" * 33]),
                      kids, max_size=6),
    max_leaves=30)


@given(docs, options)
def test_container_shapes_match_stdlib(doc, opts):
    check_all_forms(doc, **opts)


# coordinate pairs and triples (enc_float_groups): runs of them, the size
# set by the first, broken by another size, a non-float, nan/inf, a subclass
float_groups = st.lists(
    st.lists(run_floats, min_size=2, max_size=3) | st.tuples(run_floats, run_floats)
    | st.tuples(run_floats, run_floats, run_floats)
    | st.lists(run_floats | st.builds(FloatSub, run_floats) | breaker, min_size=2, max_size=3)
    | st.lists(run_floats, max_size=5) | leaf,
    max_size=40)


@given(float_groups, options)
def test_float_groups_match_stdlib(doc, opts):
    check_all_forms(doc, **opts)
    check_all_forms({"type": "Polygon", "coordinates": [doc]}, **opts)


@given(st.lists(leaf_lists | empties, max_size=40))
def test_lists_of_leaf_lists_match_stdlib(doc):
    check_all_forms(doc)
    check_all_forms({"rows": doc, "n": len(doc)})
    check_all_forms(doc, separators=(", ", ": "))
    check_all_forms(doc, indent=1)
    check_all_forms(doc, allow_nan=False)


def _room_sweep(doc, **opts):
    """dumps_into at every end of the destination around the document's end
    and at several offsets: the fast paths check the room before writing
    and fall back to the general path when it is short; the bytes past the
    document stay as they were (on BufferTooSmall: the bytes before the
    offset)."""
    exp = oracle(doc, **opts)
    for offset in (0, 1, 7):
        for slack in range(-3, 70):
            size = offset + len(exp) + slack
            if size < offset:
                continue
            buf = bytearray((i * 37 + 11) & 0xFF for i in range(size))
            orig = bytes(buf)
            if slack < 0:
                with pytest.raises(BufferTooSmall) as ei:
                    nj.dumps_into(doc, buf, offset, **opts)
                assert ei.value.needed == offset + len(exp)
                assert buf[:offset] == orig[:offset]
                continue
            end = nj.dumps_into(doc, buf, offset, **opts)
            assert end == offset + len(exp)
            assert buf[offset:end] == exp
            assert buf[:offset] == orig[:offset] and buf[end:] == orig[end:]


@pytest.mark.parametrize("doc", [
    [[1.5, -2.25]] * 9,
    [(1.5, -2.25, 1e22)] * 9 + [[0.1, 0.2]] * 17 + [[0.5, float("nan")], [0.5, 1]],
    [[-141.123456789012, 41.987654321098]] * 19 + [[1.0, FloatSub(2.5)], [3.5, 4.5]],
    [[True, False, None, 1, -7]] * 7 + [[]],
    [[0.1, 2, None, 3.5, True]] * 5,
    {"coordinates": [[[-141.123456789, 41.987654321]] * 6]},
    [[1e300, -5e-324, 123456789012345.6]] * 4,
    [[2**63 - 1, -2**63]] * 4,
    [[True] * 64, [None] * 65, [1] * 64],
    [[], {}, [[]], [{}], {"a": []}, {"a": {}}] * 3,
])
@pytest.mark.parametrize("opts", [{}, {"ensure_ascii": True}, {"check_circular": False}])
def test_room_boundaries_of_leaf_lists(doc, opts):
    _room_sweep(doc, **opts)


@pytest.mark.parametrize("doc", [
    [[1.5, -2.25]] * 40,
    [[True, False, None, 1, -7, 2**40]] * 30,
    {"k": [[0.5, 1, None]] * 30, "e": [[], {}] * 20},
])
@pytest.mark.parametrize("size", [64, 65, 66, 79, 100, 127])
def test_dump_chunk_boundaries(doc, size):
    out = io.BytesIO()
    n = nj.dump(doc, out, buffer_size=size)
    assert out.getvalue() == oracle(doc) and n == len(out.getvalue())


# runs of flags and runs of ints in one list (enc_leaf_run: a loop per
# kind, left for the other kind's loop where a run ends, and for the
# general path where the room does)
flag_int_rows = st.lists(st.lists(consts, min_size=1, max_size=9) | st.lists(run_ints, min_size=1, max_size=9)
                         | st.lists(breaker, max_size=1), max_size=8).map(lambda runs: [x for r in runs for x in r])


@given(st.lists(flag_int_rows, max_size=20), options)
def test_flag_and_int_runs_match_stdlib(doc, opts):
    check_all_forms(doc, **opts)
    check_all_forms({"rows": doc}, **opts)


@pytest.mark.parametrize("doc", [
    [[True] * 5 + [1, 2, 3] + [None] * 2 + [-7] * 4 + [False]] * 6,
    [[1, True, 2, None, 3, False] * 4] * 5,
    [[None] * 3 + [2**62] * 3 + [2**70] + [True] * 3] * 4,
    [[0] * 40 + [False] * 40, [-(2**63)] * 9 + [None]] * 3,
    # a list whose first item is a constant ('[' in the place of its
    # separator), then more constants or any other kind, and the ']'
    [[False], [True, None], [None] * 17, [True, 1], [False, 0.5], [None, "s"],
     [True, [False]], (False, True), [None, 2**70, True]] * 3,
])
@pytest.mark.parametrize("opts", [{}, {"check_circular": False}, {"separators": ("|", ":")},
                                  {"separators": ("\0", ":")}])
def test_room_boundaries_of_flag_and_int_runs(doc, opts):
    _room_sweep(doc, **opts)


def test_leaf_prefix_edges():
    # all leaves, of any length; leaves then anything else: the rest walked
    for n in (1, 2, 63, 64, 65, 200, 3000):
        for item in (True, None, 7, -2**62, 0.5):
            check_all_forms([[item] * n, [item] * n])
    for tail in ("s", 2**70, [1], {"a": 1}, [], {}, (1.5,), IntSub(3), FloatSub(2.5)):
        for lead in ([], [1], [0.5, True], [None] * 40, [1.25] * 40):
            row = lead + [tail] + lead
            check_all_forms([row, row])
            check_all_forms({"k": row})
            check_all_forms(tuple(row))
    # a non-finite float anywhere: the rest goes the general way (and fails
    # under allow_nan=False as the stdlib does)
    for bad in (float("nan"), float("inf"), float("-inf")):
        for row in ([bad, 1.5], [1.5, 2, None, bad, True], [1] * 30 + [bad]):
            check_all_forms([row, row])
            check_all_forms([row, row], allow_nan=False)
    check_all_forms([(1.5, 2.5), (True, None)])


def test_default_after_leaf_prefix_mutates_the_list():
    # `default` runs for the first non-leaf item of a list whose leading
    # leaves are already written: it clears or refills that very list; the
    # walk goes on from the list's current size, as the stdlib's does
    for how in ("clear", "shrink", "grow", "replace"):
        def make():
            row = [0.5, 1, True, Opaque(0), 2.5, None, 3]
            return [row, [1.5, 2.5], row]

        def hook(doc):
            def default(o):
                row = doc[0]
                if how == "clear":
                    row.clear()
                elif how == "shrink":
                    del row[4:]
                elif how == "grow":
                    row.extend([7.5, False] * 10)
                else:
                    row[:] = [9.5] * len(row)
                return [o.tag, 1.5]
            return default
        std_doc, doc = make(), make()
        exp = json.dumps(std_doc, default=hook(std_doc), separators=(",", ":")).encode()
        assert nj.dumps(doc, default=hook(doc)) == exp
        doc = make()
        buf = bytearray(len(exp) + 3)
        assert nj.dumps_into(doc, buf, 3, default=hook(doc)) == len(buf)
        assert bytes(buf[3:]) == exp
        doc = make()
        out = io.BytesIO()
        nj.dump(doc, out, buffer_size=64, default=hook(doc))
        assert out.getvalue() == exp


def test_empty_containers_as_leaves():
    for doc in ([[], {}, ()], {"a": [], "b": {}, "c": ()}, [[[]], [{}]], {"a": {"b": {}}}):
        for opts in ({}, {"indent": 2}, {"sort_keys": True}, {"separators": (", ", ": ")}):
            check_all_forms(doc, **opts)


def test_circular_still_detected_around_leaf_lists():
    y = [1, 2.5, None]
    y.append(y)   # leading leaves written, then the cycle
    with pytest.raises(ValueError, match="^Circular reference detected$"):
        nj.dumps([y])
    with pytest.raises(RecursionError):
        nj.dumps(y, check_circular=False)
    x = [[1, 2], [True], []]
    x.append(x)
    with pytest.raises(ValueError, match="^Circular reference detected$"):
        nj.dumps(x)
    d = {"pair": [0.5, 1.5], "e": {}}
    d["self"] = d
    with pytest.raises(ValueError, match="^Circular reference detected$"):
        nj.dumps_into(d, bytearray(100))
    shared = [1.5, 2.5]
    check_all_forms([shared, shared, {"a": shared}, []])


class Later:
    """An object only `default` can encode."""


def test_circular_when_default_hands_back_an_ancestor_made_all_leaves():
    # A list of leaves is never pushed as an ancestor (no cycle goes on
    # from it), but it can *be* one: `default` empties a list still being
    # walked of its containers and returns it.  The stdlib raises then.
    def run(make):
        outs = []
        for enc in (lambda d, f: json.dumps(d, default=f), lambda d, f: nj.dumps(d, default=f),
                    lambda d, f: nj.dumps_into(d, bytearray(200), default=f),
                    lambda d, f: nj.dump(d, io.BytesIO(), default=f)):
            doc, default = make()
            with pytest.raises(ValueError, match="^Circular reference detected$"):
                enc(doc, default)
            outs.append(doc)
        return outs

    def top():   # the list being walked, returned by default
        L = [Later()]
        return L, lambda o: (L.__setitem__(slice(None), [1, 2]), L)[1]

    def nested():   # an outer ancestor, made leaves, returned
        outer = [[Later()]]
        return outer, lambda o: (outer.__setitem__(slice(None), [1.5, True]), outer)[1]

    def sibling():   # an ancestor made leaves, met as a later exact-list item
        a = []
        b = [Later(), a]
        a.append(b)
        return a, lambda o: (a.__setitem__(slice(None), [None, 7]), 0)[1]

    def pair():   # an ancestor made a float pair, met among pairs
        a = []
        b = [Later(), [0.5, 1.5], a, [2.5, 3.5]]
        a.append(b)
        return a, lambda o: (a.__setitem__(slice(None), [1.25, 2.25]), 0)[1]

    for make in (top, nested, sibling, pair):
        run(make)


@pytest.mark.parametrize("seps", [("\x00", ":"), (",", "\x00"), ("\x00", "\x00"), ("\x00", ": ")])
def test_nul_separators_are_written_and_leave_the_key_cache_sound(seps):
    # A NUL byte is a legal separator; it was taken for "no separator" in
    # the key fast path, dropped, and the text cached for the next calls
    # started one byte off.
    doc = {"a": 1, "b": [1, 2], "c": {"d": "x", "e": None}}
    for _ in range(3):
        check_all_forms(doc, separators=seps)
        check_all_forms([doc, doc], separators=seps)
    check_all_forms(doc)   # the default options after: the cache holds right texts
    check_all_forms([doc] * 3, ensure_ascii=True)


def test_signal_handler_shrinking_the_list_being_encoded():
    # Signal handlers run between items (every flush of the room); one that
    # empties the list ends the walk there, as the stdlib's re-read size does.
    import signal
    if not hasattr(signal, "setitimer"):
        pytest.skip("signal.setitimer is POSIX-only")
    n = 1_000_000
    shrunk_mid_encode = 0
    old = signal.getsignal(signal.SIGALRM)
    try:
        for attempt in range(6):
            L = list(range(2**40, 2**40 + n))
            fired = []

            def handler(signum, frame, L=L, fired=fired):
                if not fired:
                    fired.append(len(L))
                    L.clear()
                    signal.setitimer(signal.ITIMER_REAL, 0)

            signal.signal(signal.SIGALRM, handler)
            signal.setitimer(signal.ITIMER_REAL, 0.001, 0.001)
            out = nj.dumps(L)
            signal.setitimer(signal.ITIMER_REAL, 0)
            items = json.loads(out)
            assert items == list(range(2**40, 2**40 + len(items)))
            if fired and len(items) < n:
                shrunk_mid_encode += 1
                if shrunk_mid_encode == 2:
                    break
            # the same in a fixed buffer: it overflows into scratch, then stops
            L[:] = range(n)
            fired.clear()
            signal.setitimer(signal.ITIMER_REAL, 0.001, 0.001)
            try:
                nj.dumps_into(L, bytearray(64))
            except BufferTooSmall:
                pass
            signal.setitimer(signal.ITIMER_REAL, 0)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert shrunk_mid_encode, "the timer never fired during an encode"


class IterList(list):
    """A list whose __iter__ yields other items than it holds."""

    def __iter__(self):
        return iter(self.shown)


class IterTuple(tuple):
    def __iter__(self):
        return iter(["t", 2.5])


def test_sequence_subclass_with_its_own_iter_is_encoded_from_it():
    # the stdlib's PySequence_Fast iterates a subclass: so does nocopy
    a = IterList([1, 2])
    a.shown = [9, {"k": None}, []]
    empty_shown = IterList([1, 2])
    empty_shown.shown = []
    full_shown = IterList()
    full_shown.shown = [True, IterTuple()]
    for doc in (a, {"a": a}, [IterTuple((1,)), empty_shown, full_shown], (a, a)):
        for opts in ({}, {"sort_keys": True}, {"separators": (", ", ": ")}):
            check_all_forms(doc, **opts)
    # with indent the stdlib's Python encoder tests len() for "[]" and then
    # iterates: a subclass whose len and __iter__ disagree on emptiness gets
    # malformed text there (b'\n]'), so indent is compared where they agree
    for doc in (a, {"a": a}, [IterTuple((1,)), a]):
        check_all_forms(doc, indent=2)
    me = IterList()
    me.shown = [1, me]
    with pytest.raises(ValueError, match="^Circular reference detected$"):
        nj.dumps(me)
    with pytest.raises(ValueError, match="^Circular reference detected$"):
        json.dumps(me)


def test_sequence_subclass_is_walked_from_a_snapshot_as_the_stdlib():
    # the stdlib's PySequence_Fast copies a subclass's items before the
    # walk: `default` clearing the subclass mid-walk changes nothing there
    class Sub(list):
        pass

    for enc in (lambda d, f: json.dumps(d, default=f, separators=(",", ":")).encode(),
                lambda d, f: nj.dumps(d, default=f)):
        s = Sub([Later(), 1, 2])
        assert enc(s, lambda o: (s.clear(), 0)[1]) == b"[0,1,2]"


def test_sequence_subclass_iter_raising_typeerror_gets_the_stdlib_message():
    class Bad(list):
        def __iter__(self):
            raise TypeError("mine")

    for enc in (json.dumps, nj.dumps):
        with pytest.raises(TypeError, match="^_iterencode_list needs a sequence$"):
            enc([Bad([1])])


def test_sequence_subclass_iter_sees_the_callers_bytes_untouched():
    # __iter__ is Python code: the bytes past the text that the float
    # formatter's fixed-size stores reached are put back before it runs,
    # and what it writes there stays
    buf = bytearray(b"." * 128)
    seen = []

    class It(list):
        def __iter__(self):
            seen.append(bytes(buf[:40]))
            buf[60:70] = b"Z" * 10
            return iter([1])

    end = nj.dumps_into({"a": 1.5, "b": It()}, buf)
    assert bytes(buf[:end]) == b'{"a":1.5,"b":[1]}'
    assert seen == [b'{"a":1.5,"b":' + b"." * 27]
    assert bytes(buf[60:70]) == b"Z" * 10 and bytes(buf[end:60]) == b"." * (60 - end)


def test_finalizer_run_by_a_release_sees_the_callers_bytes_untouched():
    # The last reference to a list the encoder holds (a subclass's snapshot,
    # default's result) may be dropped after floats were written: the
    # finalizers it runs see the caller's bytes past the text as they were,
    # and what they write there stays.
    ba = bytearray(b"\xaa" * 256)
    seen = []

    class Fin(list):
        def __del__(self):
            seen.append(bytes(ba[13:40]))
            ba[60:70] = b"Z" * 10

    class S(list):
        def __iter__(self):
            return iter([Fin([{"a": 2.5}])])

    class Later:
        pass

    for doc, opts, text in ((S([0]), {}, b'[[{"a":2.5}]]'),
                            ([Later()], {"default": lambda o: Fin([{"a": 2.5}])},
                             b'[[{"a":2.5}]]')):
        ba[:] = b"\xaa" * 256
        seen.clear()
        end = nj.dumps_into(doc, ba, **opts)
        assert bytes(ba[:end]) == text and end == 13
        assert seen == [b"\xaa" * 27]
        assert bytes(ba[60:70]) == b"Z" * 10
        assert bytes(ba[end:60]) == b"\xaa" * (60 - end) and bytes(ba[70:]) == b"\xaa" * 186


def test_nesting_past_the_unchecked_levels():
    # 16 levels skip the recursion check; the levels past them are checked
    for depth in (15, 16, 17, 40, 300):
        doc = [1.5, 2]
        for i in range(depth):
            doc = [doc, []] if i % 2 else {"k": doc, "e": {}}
        check_all_forms(doc)
    doc = []
    for _ in range(100_000):
        doc = [doc]
    with pytest.raises(RecursionError):
        nj.dumps(doc)


def test_key_cache_many_keys_and_both_modes():
    # more distinct keys than the cache's 256 slots, repeated: evictions
    # and hits in the same call, in both ensure_ascii caches
    keys = ["".join(["key", str(i)]) for i in range(700)] + ["\x7f", "é", "q\"", "k" * 31, "k" * 32]
    doc = [{k: i for i, k in enumerate(keys[j:j + 40])} for j in range(0, len(keys), 7)] * 2
    for ensure_ascii in (False, True):
        exp = oracle(doc, ensure_ascii=ensure_ascii)
        assert nj.dumps(doc, ensure_ascii=ensure_ascii) == exp
        buf = bytearray(len(exp) + 5)
        assert nj.dumps_into(doc, buf, 5, ensure_ascii=ensure_ascii) == len(buf)
        assert bytes(buf[5:]) == exp
        out = io.BytesIO()
        nj.dump(doc, out, buffer_size=64, ensure_ascii=ensure_ascii)
        assert out.getvalue() == exp


def test_key_cache_releases_evicted_keys():
    k = "".join(["evictable", str(id(object()))])
    before = sys.getrefcount(k)
    nj.dumps({k: 1})
    assert sys.getrefcount(k) == before + 1
    for i in range(0, 20000, 20):   # first dicts of <= 32 keys are cached
        nj.dumps({"".join(["ev", str(j)]): j for j in range(i, i + 20)})
    assert sys.getrefcount(k) == before


# ---- runs of dict items (enc_dict_run) ---------------------------------------
# In a compact document, the items of a dict whose exact str key is in the key
# cache and whose value is a compact int, true/false/null, an empty list or
# dict, or an ASCII str with nothing to escape are written by one loop with
# the write position in a local; any other item ends the run (a str to
# escape after its copy was tried in the room) and goes the general way.
# The key cache holds a key from its second dict on, so every document here
# repeats its dicts (the same key objects).

run_keys = st.sampled_from(["a", "id", "name", "k" * 29, "k" * 30, "k" * 31, "k" * 40, "q\"",
                            "\x7f", "é", "tab\t", ""]) | st.text(max_size=8)
ascii_strs = st.text(st.characters(min_codepoint=0, max_codepoint=0x7f), max_size=40) | st.sampled_from(
    ["", "x", "http://example.com/a/b", "a\"b", "\\", "\x7f", "\x00", "x" * 15, "y" * 16, "z" * 64,
     "z" * 63 + "\n", "\n" + "z" * 63])
run_values = consts | run_ints | empties | ascii_strs | st.sampled_from(
    ["é", "日本", "\U0001f600", 2**64, 1.5, [1], {"a": 1}, (), IntSub(4), FloatSub(0.5)])
run_dicts = st.dictionaries(run_keys, run_values, max_size=8)


@given(st.lists(run_dicts, min_size=1, max_size=4), st.integers(1, 3), options)
def test_dict_runs_match_stdlib(dicts, repeat, opts):
    check_all_forms(dicts * repeat, **opts)


@given(st.lists(run_dicts, min_size=1, max_size=3))
def test_dict_runs_both_key_caches(dicts):
    for ensure_ascii in (False, True):
        check_all_forms([dicts, dicts, {"n": dicts}], ensure_ascii=ensure_ascii)


class StrSub(str):
    pass


def test_dict_run_edges():
    # each value kind after each, at the first and later positions; values
    # and keys that end the run (subclasses, big ints, escapes, non-ASCII)
    values = [0, -1, 2**62, -2**63, 2**63, True, False, None, [], {}, (), "", "s", "s" * 16,
              "a\"b", "\x7f", "\x1f", "é", "x\U0001f600", StrSub("sub"), IntSub(5), 1.25, [1], {"b": 2}]
    for v in values:
        for w in values:
            d = {"a": v, "bb": w, "c": 1}
            check_all_forms([d, d, {"bb": v, "a": w}])
            check_all_forms([d, d], ensure_ascii=True)
    d = {StrSub("a"): 1, "b": 2, "k" * 40: "long key, never cached", "c": "x"}
    check_all_forms([d, d, d])


@pytest.mark.parametrize("doc", [
    [{"id": 123456789, "a": None, "blockIds": [], "b": {}, "s": "abc", "t": True}] * 6,
    [{"url": "https://api.github.com/repos/x/y", "n": -2**63, "e": "q\"uote"}] * 5,
    [{"k" * 31: "v" * 17, "x": False, "y": "z" * 40}] * 4,
    [{"a": "\x7f", "b": 1, "c": "é", "d": "x" * 33}] * 4,
])
@pytest.mark.parametrize("opts", [{}, {"ensure_ascii": True}, {"check_circular": False}])
def test_room_boundaries_of_dict_runs(doc, opts):
    _room_sweep(doc, **opts)


@pytest.mark.parametrize("size", [64, 65, 66, 79, 100, 127])
def test_dump_chunk_boundaries_of_dict_runs(size):
    doc = [{"id": 123456789, "s": "x" * 20, "t": None, "e": []}] * 30
    out = io.BytesIO()
    n = nj.dump(doc, out, buffer_size=size)
    assert out.getvalue() == oracle(doc) and n == len(out.getvalue())


def _mutating_default(doc, how, key, value):
    """A `default` that, called, clears doc, adds a key to it or sets
    doc[key] = value (how: "clear", "add", "replace"), and returns o.tag."""
    def default(o):
        if how == "clear":
            doc.clear()
        elif how == "add":
            doc["z"] = 1
        else:
            doc[key] = value
        return o.tag
    return default


def test_default_mutating_a_dict_after_a_run():
    # items written by the run, then `default` (Python code) empties, grows
    # or refills the dict being walked: RuntimeError as in iterating it, or
    # (same size) the walk goes on from the dict's current table
    for how in ("clear", "add", "replace"):
        def make():
            return {"a": 1, "b": "x", "c": None, "o": Opaque(0), "d": 2, "e": "y"}

        doc = make()
        default = _mutating_default(doc, how, "d", "replaced")
        warm = dict(make(), o=0)
        nj.dumps([warm, warm])   # the keys' texts in the cache
        if how == "replace":
            assert nj.dumps(doc, default=default) == (
                b'{"a":1,"b":"x","c":null,"o":0,"d":"replaced","e":"y"}')
        else:
            with pytest.raises(RuntimeError):
                nj.dumps(doc, default=default)


def _assert_into_allocates_nothing(doc, rounds):
    """dumps_into of doc, compact and ensure_ascii at an offset, `rounds`
    times: no block allocated."""
    buf = bytearray(8192)

    def loop(n):
        for _ in range(n):
            nj.dumps_into(doc, buf)
            nj.dumps_into(doc, buf, 3, ensure_ascii=True)
    assert _blocks_during(loop, rounds) == 0


def test_dict_runs_allocate_nothing():
    doc = [{"id": i, "name": "n" * (i % 20), "flag": i % 2 == 0, "none": None, "ids": [], "m": {}}
           for i in range(50)]
    _assert_into_allocates_nothing(doc, 2000)


def test_dict_runs_create_no_utf8_cache():
    # sys.getsizeof counts a str's UTF-8 cache: encoding must not add one,
    # whether a non-ASCII value ends a run or a key misses the cache
    vals = ["".join(["é", str(i)]) for i in range(20)]
    keys = ["".join(["ké", str(i)]) for i in range(20)]
    before = [sys.getsizeof(x) for x in vals + keys]
    doc = [{"a": v, "b": 1, k: "ascii"} for v, k in zip(vals, keys)] * 2
    assert nj.dumps(doc) == oracle(doc)
    nj.dumps_into(doc, bytearray(4096))
    assert [sys.getsizeof(x) for x in vals + keys] == before


# A non-ASCII str with CPython's UTF-8 cache (as orjson or any C API that
# asked for its UTF-8 leaves it) is copied from the cache by the run when
# ensure_ascii is off; a finite float has its key written by the run and
# goes to enc_float; a str subclass, a float subclass, NaN/Infinity and a
# cached str to escape end the run.

def _cached(s):
    s = "".join([s, "é"])   # a fresh str whose cache we control
    assert _cache_utf8(s)
    return s


cached_strs = st.text(st.characters(codec="utf-8"), max_size=40).map(_cached) | st.sampled_from(
    ["", "é", "a\"b", "\n", "\x7f", "x" * 15, "y" * 16, "z" * 64, "日本語" * 9, "\U0001f600"]).map(_cached)
float_values = run_floats | st.sampled_from([float("nan"), float("inf"), -float("inf"), -0.0,
                                              FloatSub(2.5), 1e300, 5e-324])
run_values_2 = run_values | cached_strs | float_values


@given(st.lists(st.dictionaries(run_keys, run_values_2, max_size=8), min_size=1, max_size=4),
       st.integers(1, 3), options)
def test_dict_runs_cached_utf8_and_floats_match_stdlib(dicts, repeat, opts):
    check_all_forms(dicts * repeat, **opts)


def test_dict_run_edges_cached_utf8_and_floats():
    values = [0, 1.5, -0.0, 1e300, 5e-324, float("nan"), float("inf"), FloatSub(0.25), [], [1], {"z": 1.5},
              "s", _cached(""), _cached("x" * 20), _cached("q\"uote"), _cached("\x01"), "é", StrSub("é")]
    for v in values:
        for w in values:
            d = {"a": v, "bb": w, "c": 1}
            for opts in ({}, {"ensure_ascii": True}):
                check_all_forms([d, d, {"bb": v, "a": w}], **opts)
                check_all_forms([d, d], allow_nan=False, **opts)


@pytest.mark.parametrize("doc", [
    [{"t": 1700000000, "v": 21.375, "ok": True, "s": _cached("größe"), "f": 1e-7}] * 6,
    [{"a": _cached("a\"b"), "b": 0.1, "c": _cached("日本語のテキスト" * 3), "d": float("nan")}] * 4,
    [{"k" * 31: 123456.789, "x": _cached("ü" * 40), "y": 2.5}] * 4,
])
@pytest.mark.parametrize("opts", [{}, {"ensure_ascii": True}, {"check_circular": False}])
def test_room_boundaries_of_dict_runs_cached_utf8_and_floats(doc, opts):
    _room_sweep(doc, **opts)


@pytest.mark.parametrize("size", [64, 65, 66, 79, 100, 127, 150, 200])
def test_dump_chunk_boundaries_of_dict_runs_floats(size):
    doc = [{"id": 123456789, "v": 1234.5678901234, "s": _cached("größe" * 3), "t": None}] * 30
    out = io.BytesIO()
    n = nj.dump(doc, out, buffer_size=size)
    assert out.getvalue() == oracle(doc) and n == len(out.getvalue())


def test_dict_runs_cached_utf8_and_floats_allocate_nothing():
    doc = [{"id": i, "v": i * 0.25, "s": _cached("n" * (i % 20)), "none": None} for i in range(50)]
    _assert_into_allocates_nothing(doc, 2000)


def _guarded_sweep(doc, **opts):
    """_room_sweep with the destination a slice of a larger buffer, so that a
    write past the destination's end shows too (in a bytearray of exactly
    the size it would land outside the object)."""
    exp = oracle(doc, **opts)
    for off in (0, 5):
        for size in range(off, off + len(exp) + 70):
            big = bytearray((i * 37 + 11) & 0xFF for i in range(size + 128))
            orig = bytes(big)
            mv = memoryview(big)[:size]
            try:
                if size < off + len(exp):
                    with pytest.raises(BufferTooSmall) as ei:
                        nj.dumps_into(doc, mv, off, **opts)
                    assert ei.value.needed == off + len(exp)
                    assert big[:off] == orig[:off] and big[size:] == orig[size:]
                else:
                    end = nj.dumps_into(doc, mv, off, **opts)
                    assert big[off:end] == exp
                    assert big[:off] == orig[:off] and big[end:] == orig[end:]
            finally:
                mv.release()


def test_dict_runs_guarded_past_destination():
    warm = [{"a": 1, "k" * 29: 2}] * 2
    nj.dumps(warm)
    nj.dumps(warm, ensure_ascii=True)
    for v in [-2**63, 1.2345678901234567e-300, "x" * 70, _cached("é" * 30), "a\n" * 20,
              _cached("é\n" * 15), "".join(["ж" * 12]), "\U0001f600" * 5, True, None, [], {}]:
        for ea in (False, True):
            _guarded_sweep([{"k" * 29: v, "a": v}] * 2, ensure_ascii=ea)
            _guarded_sweep([{"a": v, "k" * 29: v}] * 2, ensure_ascii=ea, separators=(";", ":"))


# string lengths around the 4-, 8-, 16- and 64-byte steps of the copies
_ESCAPE_LENGTHS = sorted(set(range(0, 20)) | {31, 32, 33, 47, 48, 63, 64, 65, 79, 80})


def test_dict_run_escape_every_length_first_and_later():
    # a value to escape ends the run after its copy was tried in the room:
    # what that try left must be overwritten by the general path, at every
    # length, with the escape first, inside or last, as the dict's first item
    # or a later one, and near the buffer's end (BufferTooSmall exact)
    warm = {"a": 1, "b": 2, "c": 3}
    nj.dumps([warm, warm])
    nj.dumps([warm, warm], ensure_ascii=True)
    for n in _ESCAPE_LENGTHS:
        for bad in ['"', "\\", "\n", "\x01", "\x7f"]:
            for pos in sorted({0, n // 2, n}):
                s = "x" * pos + bad + "y" * (n - pos)
                for v in (s, _cached(s)):
                    for d in ({"a": v, "b": 1}, {"b": 1, "a": v, "c": 2}):
                        for ea in (False, True):
                            exp = oracle([d, d], ensure_ascii=ea)
                            for slack in (0, 1, 5, 40):
                                buf = bytearray(b"\xee" * (5 + len(exp) + slack))
                                end = nj.dumps_into([d, d], buf, 5, ensure_ascii=ea)
                                assert buf[5:end] == exp and buf[end:] == b"\xee" * slack
                            for short in (1, 2, 3, 7, 16, 39):
                                if short > len(exp):
                                    continue
                                with pytest.raises(BufferTooSmall) as ei:
                                    nj.dumps_into([d, d], bytearray(5 + len(exp) - short), 5,
                                                  ensure_ascii=ea)
                                assert ei.value.needed == 5 + len(exp)


@pytest.mark.parametrize("seps", [(";", ":"), (" ", ":"), ("\x00", ":")])
def test_dict_runs_other_one_byte_item_separators(seps):
    d = {"a": 1, "b": "x\n", "c": _cached("é"), "d": 1.5, "e": "ж", "f": [], "g": None}
    for ea in (False, True):
        check_all_forms([d] * 3, separators=seps, ensure_ascii=ea)


# ---- list values in the dict walk -------------------------------------------
# A dict value that is a list: its leaf prefix (enc_leaf_prefix), the rest
# walked held (a list whose first item is no leaf is not tried twice:
# NC_SEQ_TRIED), and the dict re-checked after it.

_LIST_VALUES = [[1], [True, None, False], [0.5, -2.25], [2**62, -7, 1.5, None] * 20,
                [1, "s"], [1, [2]], [0.5, {"a": 1}], [[1], 2], [{"a": [1]}], ["s", 1],
                [2**70, 1], [IntSub(3)], [FloatSub(0.5), 1], [float("nan"), 1], [1, float("inf")],
                [[]], [{}], [()], [(1.5, 2.5)], [1, 2, 3] * 30]


def test_list_values_of_dicts_match_stdlib():
    for v in _LIST_VALUES:
        for w in (1, "x", [2, 3], {"b": [4]}):
            for d in ({"a": v}, {"a": v, "b": w}, {"b": w, "a": v, "c": v},
                      {1: v, "a": v}, {StrSub("s"): v, "a": w}, {"k" * 40: v, "a": v}):
                check_all_forms([d, d])
                check_all_forms([d, d], allow_nan=False)
                check_all_forms([d, d], ensure_ascii=True, check_circular=False)
                check_all_forms([d], separators=(", ", ": "))
                check_all_forms([d], indent=2)
    # subclasses and tuples of the value go the general way
    ListSub = type("ListSub", (list,), {})
    for v in (ListSub([1, 2]), (1, 2), ListSub()):
        check_all_forms([{"a": v, "b": [1, v]}] * 2)


@given(st.lists(st.dictionaries(run_keys, leaf_lists | st.lists(leaf | breaker | empties, max_size=6)
                                | run_values, max_size=6), min_size=1, max_size=4), options)
def test_list_values_of_dicts_random(dicts, opts):
    check_all_forms(dicts * 2, **opts)


@pytest.mark.parametrize("doc", [
    [{"a": [1, 2, 3], "b": [True, None], "c": [0.5, 1e300]}] * 6,
    [{"a": [1, [2]], "b": [[3], 4], "c": [1.5, "s", None]}] * 4,
    {str(i): [i, -i] for i in range(40)},
])
@pytest.mark.parametrize("opts", [{}, {"ensure_ascii": True}, {"check_circular": False}])
def test_room_boundaries_of_list_values(doc, opts):
    _room_sweep(doc, **opts)
    _guarded_sweep(doc, **opts)


def test_list_values_allocate_nothing():
    doc = [{"id": i, "hist": [i, 2, 3], "flags": [True, None], "pt": [0.5, -1.25],
            "mixed": [1, [2, 3], {"z": [4]}], "rows": [[[1, 2]], [[3]], [{"a": [4]}]]}
           for i in range(50)]
    _assert_into_allocates_nothing(doc, 2000)


@given(st.lists(st.lists(leaf_lists | empties | st.lists(leaf_lists | leaf, max_size=4),
                         max_size=5), max_size=6), options)
def test_lists_of_lists_whose_first_item_is_no_leaf(doc, opts):
    # every inner list whose leaf prefix wrote nothing is walked from its
    # first item once (NC_SEQ_TRIED), at every nesting
    check_all_forms(doc, **opts)
    check_all_forms({"k": doc, "n": [doc, [doc]]}, **opts)


@pytest.mark.parametrize("doc", [
    [[[1, 2]], [[3.5], [True]], [[]], [{}], [[None, [1]]]] * 3,
    [[[0.5, 1.5]] * 3, [[1], 2], [{"a": 1}, 1]] * 3,
])
@pytest.mark.parametrize("opts", [{}, {"check_circular": False}])
def test_room_boundaries_of_lists_of_lists(doc, opts):
    _room_sweep(doc, **opts)
    _guarded_sweep(doc, **opts)


def test_list_values_do_not_leak():
    doc = [{"a": [1, 2], "b": [1, [2]], "c": [[3], 4], "d": [2**70, 1]} for _ in range(20)]
    buf = bytearray(8192)

    def op():
        nj.dumps(doc)
        nj.dumps_into(doc, buf)
    leakcheck.assert_no_leak(op)


def test_default_in_a_list_value_mutates_the_dict():
    # the list value's leaf prefix is written, then `default` (Python code)
    # for its next item clears, grows or refills the dict being walked, or
    # drops the dict's reference to the list: RuntimeError as in iterating
    # the dict (test_default_mutating_a_dict_after_a_run: the stdlib walks a
    # snapshot of the items instead), or (same size) the walk goes on from
    # the dict's current table, the list being held to its end
    expected = {
        "clear": RuntimeError, "add": RuntimeError,
        "replace": b'{"a":1,"l":[1,2.5,null,0,3],"d":["replaced",6],"e":"y"}',
        "drop_list": b'{"a":1,"l":[1,2.5,null,0,3],"d":[4,5],"e":"y"}',
    }
    for how, exp in expected.items():
        def make():
            return {"a": 1, "l": [1, 2.5, None, Opaque(0), 3], "d": [4, 5], "e": "y"}

        for enc in ("dumps", "into"):
            doc = make()
            default = (_mutating_default(doc, "replace", "l", None) if how == "drop_list"
                       else _mutating_default(doc, how, "d", ["replaced", 6]))
            nj.dumps([make(), make()], default=lambda o: 0)   # the keys' texts in the cache
            if enc == "dumps":
                got = outcome_of(lambda: nj.dumps(doc, default=default))
            else:
                buf = bytearray(400)
                got = outcome_of(lambda: bytes(buf[:nj.dumps_into(doc, buf, default=default)]))
            assert got == exp, (how, enc)


def outcome_of(fn):
    try:
        return fn()
    except Exception as e:   # the kind of error is what must match
        return type(e)


def test_circular_list_value_made_all_leaves_by_default():
    # a dict's list value is an ancestor still being walked, which `default`
    # made all leaves: the dict walk meets it as a list of leaves, and
    # raises as the stdlib does
    for enc in (lambda d, f: json.dumps(d, default=f), lambda d, f: nj.dumps(d, default=f),
                lambda d, f: nj.dumps_into(d, bytearray(300), default=f)):
        top = []
        d = {"a": 1, "k": top}
        top.append([Later(), d])

        def default(o, top=top):
            top[:] = [None, 7]
            return 0
        with pytest.raises(ValueError, match="^Circular reference detected$"):
            enc(top, default)


# ---- hostile: Python code mutating what the fast paths read -----------------

class Opaque:
    def __init__(self, tag):
        self.tag = tag


def test_default_clears_the_list_of_leaf_lists():
    # `default` clears the outer list (dropping its leaf lists) midway: the
    # walk ends there, as the stdlib's does, and nothing freed is read
    for where in range(6):
        def make():
            rows = [[0.5, 1.5], [True, None], [], [2, 3]]
            rows.insert(where, Opaque(0))
            return rows
        std_doc, doc = make(), make()

        def std_default(o, doc=std_doc):
            doc.clear()
            return [[9.5, 8]]

        def default(o, doc=doc):
            doc.clear()
            return [[9.5, 8]]
        exp = json.dumps(std_doc, default=std_default, separators=(",", ":")).encode()
        assert nj.dumps(doc, default=default) == exp


def test_default_replaces_leaf_lists_in_a_dict():
    # the values of the dict being walked are replaced by `default`: the
    # old lists are freed; the walk reads the dict's current entries
    d = {"a": [1.5, 2.5], "b": Opaque(0), "c": [True, None], "d": [], "e": [3, 4]}

    def default(o):
        for k in d:
            d[k] = [float(len(k)), "".join(["x", k])]
        return 0
    out = nj.dumps(d, default=default)
    assert json.loads(out) == {"a": [1.5, 2.5], "b": 0, "c": [1.0, "xc"], "d": [1.0, "xd"],
                               "e": [1.0, "xe"]}


@pytest.mark.parametrize("target", ["dumps", "into", "dump", "bb"])
def test_sink_and_default_clear_leaf_lists(target):
    # dump's write and `default` clear every list of the document: each
    # list read after that is the shrunk one (no crash, valid JSON or a
    # clean error)
    rows = [[0.5 * i, i, True, None] for i in range(50)] + [Opaque(1)] + \
           [[float(i), -i] for i in range(50)] + [[], {}]
    everything = [rows] + [r for r in rows if isinstance(r, list)]

    def clear_all(*_):
        for r in everything:
            r.clear()

    def default(o):
        clear_all()
        return [o.tag]

    parts = []
    if target == "dumps":
        out = nj.dumps(rows, default=default)
    elif target == "into":
        buf = bytearray(4096)
        out = bytes(buf[:nj.dumps_into(rows, buf, default=default)])
    elif target == "bb":
        bb = ByteBuffer(4096)
        nj.dumps_into(rows, bb, default=default)
        out = bytes(bb.peek())
    else:
        F = type("F", (), {"write": lambda self, c: (parts.append(bytes(c)), clear_all())[0]})
        nj.dump(rows, F(), buffer_size=64, default=default)
        out = b"".join(parts)
    json.loads(out)


@pytest.fixture
def gc_every_alloc():
    old = gc.get_threshold()
    gc.set_threshold(1)
    try:
        yield
    finally:
        gc.set_threshold(*old)
        gc.collect()


@heavy(20)
@given(st.lists(leaf_lists | empties | st.just(Opaque(0)), max_size=30))
def test_finalizers_clear_lists_while_encoding(doc):
    # gc at every allocation: finalizers of cyclic garbage (made in
    # `default`) clear the document's lists while it is encoded
    doc = [list(r) if isinstance(r, list) else r for r in doc]
    lists = [doc] + [r for r in doc if isinstance(r, list)]

    class Bomb:
        def __init__(self):
            self.cycle = self

        def __del__(self):
            if lists:
                lists.pop().clear()

    def default(o):
        Bomb()
        return [1.5, None]

    old = gc.get_threshold()
    gc.set_threshold(1)
    try:
        for call in (lambda: nj.dumps(doc, default=default),
                     lambda: nj.dumps_into(doc, bytearray(8192), default=default),
                     lambda: nj.dump(doc, io.BytesIO(), buffer_size=64, default=default)):
            out = call()
            if isinstance(out, bytes):
                json.loads(out)
    finally:
        gc.set_threshold(*old)
        gc.collect()


# ---- zero allocation and no leaks on the new paths --------------------------

def _blocks_during(fn, rounds):
    gc.collect()
    tracemalloc.start()
    try:
        fn(10)
        before = tracemalloc.take_snapshot()
        fn(rounds)
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    mine = [tracemalloc.Filter(False, tracemalloc.__file__)]
    stats = after.filter_traces(mine).compare_to(before.filter_traces(mine), "lineno")
    return sum(s.count_diff for s in stats if s.count_diff > 0)


DOC = {"features": [{"type": "Polygon", "coordinates": [[[-141.5, 41.25], [-52.125, 83.0]] * 20]}],
       "flags": [[True, False, None] * 3] * 20, "rows": [[1, 2, 3, -4]] * 10,
       "empty": [[], {}, ()] * 5, "meta": {"a": [], "b": {}}}


def test_leaf_lists_allocate_nothing():
    _assert_into_allocates_nothing(DOC, 3000)


def test_leaf_lists_do_not_leak():
    buf = bytearray(8192)
    small = bytearray(100)

    def once():
        nj.dumps_into(DOC, buf)
        nj.dumps(DOC)
        nj.dump(DOC, io.BytesIO(), buffer_size=64)
        try:
            nj.dumps_into(DOC, small)
        except BufferTooSmall:
            pass
        try:
            nj.dumps([[1.5, float("nan")]], allow_nan=False)
        except ValueError:
            pass
    for _ in range(200):
        once()
    gc.collect()
    before = leakcheck.blocks()
    for _ in range(5000):
        once()
    gc.collect()
    assert leakcheck.blocks() - before < 50


# ---- circular check: the ancestor bits (push_marker) --------------------------

@given(st.integers(1, 120), st.data())
def test_back_edge_to_any_ancestor_is_circular(depth, data):
    # a chain of lists and dicts `depth` deep, each with leaves around; a
    # back edge from the bottom to a random ancestor: ValueError as the
    # stdlib's; without the back edge, and with shared (acyclic) repeats,
    # the stdlib's text
    chain = []
    node = None
    for i in range(depth):
        node = [1.5, None, i] if data.draw(st.booleans()) else {"a": 1, "i": i}
        if chain:
            parent = chain[-1]
            if isinstance(parent, list):
                parent.append(node)
            else:
                parent["kid"] = node
        chain.append(node)
    root = chain[0]
    shared = [0.5, True]
    for c in chain[::3]:
        if isinstance(c, list):
            c.append(shared)
        else:
            c["shared"] = shared
    if depth < 90:   # the stdlib's own recursion limit
        check_all_forms(root)
    target = chain[data.draw(st.integers(0, depth - 1))]
    bottom = chain[-1]
    if isinstance(bottom, list):
        bottom.append(target)
    else:
        bottom["back"] = target
    for call in (lambda: nj.dumps(root), lambda: nj.dumps_into(root, bytearray(1 << 16)),
                 lambda: nj.dump(root, io.BytesIO(), buffer_size=64)):
        with pytest.raises(ValueError, match="^Circular reference detected$"):
            call()
    with pytest.raises(ValueError, match="^Circular reference detected$"):
        json.dumps(root)


def test_many_siblings_under_deep_ancestors_are_not_circular():
    # thousands of distinct containers under 40 ancestors: whatever their
    # address bits, none is mistaken for an ancestor
    doc = {"rows": [[{"x": [i, None]}] for i in range(5000)]}
    for _ in range(40):
        doc = [doc, {"k": [1.5]}]
    check_all_forms(doc)
    check_all_forms(doc, check_circular=False)


# ---- dicts in a list written by the dict run alone (enc_leaf_dict) ---------
# A dict item of a compact list whose items are all the run's is written
# before the walk's per-container work; one with another item is handed to
# the walk at that item (or taken back whole when it is the first), and
# its later siblings go to the walk directly.

def _leaf_dict_values():
    return [0, -7, 2**62, True, False, None, "", "ascii", "a" * 70, _cached("é" * 9), "ж" * 5,
            "needs\nescape", 0.5, -1e300, [], {}]


@pytest.mark.parametrize("opts", [{}, {"ensure_ascii": True}, {"check_circular": False},
                                  {"separators": ("|", ":")}, {"separators": ("\0", ":")}])
def test_leaf_dicts_in_a_list_every_value_kind(opts):
    values = _leaf_dict_values()
    for v in values:
        check_all_forms([{"a": 1}, {"a": v}, {"a": v, "bb": v}, {"bb": 2, "a": v}] * 3, **opts)
    check_all_forms([{"k%d" % i: v for i, v in enumerate(values)}] * 4, **opts)


@pytest.mark.parametrize("opts", [{}, {"check_circular": False}, {"separators": ("|", ":")}])
def test_leaf_dicts_handed_to_the_walk_at_each_item(opts):
    # a non-run item (a container, a big int, an int subclass, a str key
    # missing from the cache, a nan under allow_nan=False's oracle) at every
    # position, in the first dict and after leaf dicts
    for odd in ([1], {"x": [2]}, 2**70, IntSub(3), FloatSub(0.5), float("nan"), (1, 2)):
        for pos in range(4):
            items = [("a", 1), ("b", None), ("c", "s"), ("d", 0.25)]
            items.insert(pos, ("odd", odd))
            d = dict(items)
            plain = {"a": 1, "b": None}
            check_all_forms([plain, d, plain, d], **opts)
            check_all_forms([d, plain, plain], **opts)
            check_all_forms([plain, plain, d, d, plain], **opts)
    check_all_forms([{"a": 1}, {"a": 1, 5: 2}, {"a": 1, "new key": 2}, {"a": 1}], **opts)


@pytest.mark.parametrize("doc", [
    [{"id": 123456789, "v": None, "e": []}] * 12,
    [{"s": "x" * 40, "u": _cached("é" * 20), "t": True}] * 8,
    [{"f": 1.2345678901234567e-300, "g": 0.5}] * 10,
    [{"a": 1, "b": [1, 2], "c": 3}] * 6 + [{"a": 1}] * 6,
    [{"n": "ж" * 7, "i": -2**63}] * 8,
])
@pytest.mark.parametrize("opts", [{}, {"check_circular": False}, {"separators": ("|", ":")}])
def test_room_boundaries_of_leaf_dicts(doc, opts):
    _room_sweep(doc, **opts)
    _guarded_sweep(doc, **opts)


def test_leaf_dicts_split_tables_subclasses_and_sorted():
    class O:
        pass
    objs = []
    for i in range(6):
        o = O()
        o.a, o.b = i, "x"
        objs.append(vars(o))   # a split table: no direct cursor
    check_all_forms([{"a": 1, "b": "y"}] + objs)

    class D(dict):
        pass
    check_all_forms([{"a": 1}, D(a=2), D(b=3), {"a": 4}])
    check_all_forms([{"b": 1, "a": 2}] * 5, sort_keys=True)
    check_all_forms([{"b": 1, "a": 2}] * 5, indent=1)


def test_leaf_dict_that_is_an_ancestor_is_refused():
    # `default` hands back a list holding a dict being walked, which by then
    # holds only leaves: "Circular reference detected", as the stdlib says
    class Back:
        pass
    d = {"a": 1, "b": Back()}

    def default(o):
        d["b"] = 2   # same size: the walk goes on
        return [{"x": 1}, d]
    doc = [{"x": 1}, {"x": 2}, d]
    with pytest.raises(ValueError, match="Circular reference detected"):
        json.dumps(doc, default=default)
    d["b"] = Back()
    with pytest.raises(ValueError, match="Circular reference detected"):
        nj.dumps(doc, default=default)
    d["b"] = Back()
    with pytest.raises(ValueError, match="Circular reference detected"):
        nj.dumps_into(doc, bytearray(4096), default=default)


def test_leaf_dicts_do_not_leak_or_allocate():
    doc = [{"id": i, "s": "x" * (i % 30), "u": _cached("é" * (i % 9)), "n": None, "f": i / 4}
           for i in range(60)]
    buf = bytearray(1 << 16)

    def op():
        nj.dumps(doc)
        nj.dumps_into(doc, buf)
    leakcheck.assert_no_leak(op)
    _assert_into_allocates_nothing(doc, 2000)


def test_leaf_dicts_dump_through_small_chunks():
    doc = [{"a": i, "s": "x" * (i % 40), "u": _cached("é" * (i % 25)), "z": "ж" * (i % 7)}
           for i in range(80)]
    for size in (64, 65, 71, 100, 128, 257):
        out = io.BytesIO()
        n = nj.dump(doc, out, buffer_size=size)
        assert out.getvalue() == oracle(doc) and n == len(out.getvalue())
