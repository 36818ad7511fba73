"""Counting and looking up by key (issue 18, point 1): hash(View) for every
View, and nocopy.KeyDict / nocopy.Counter, which store a bytes copy of a
View key only when the key is new.  Differential against a plain dict /
collections.Counter of bytes."""
import collections
import copy
import io
import mmap
import pickle

import pytest
from hypothesis import given, settings, strategies as st

import nocopy
from nocopy import ByteBuffer, Counter, KeyDict, StaleViewError, View
from nocopy.io import Reader

KEYS = st.lists(st.binary(max_size=12), max_size=30)


def as_views(keys, kind, pad):
    """Each key as a View of `kind`, a window inside a larger buffer."""
    out = []
    for k in keys:
        whole = pad + k + pad[::-1]
        if kind == "bytes":
            v = View(whole, len(pad), len(pad) + len(k))
        elif kind == "bytearray":
            v = View(bytearray(whole), len(pad), len(pad) + len(k))
        elif kind == "memoryview-ro":
            v = View(memoryview(bytearray(whole)).toreadonly())[len(pad):len(pad) + len(k)]
        else:  # a ByteBuffer's borrowed, writable view
            b = ByteBuffer(len(whole) + 8)
            b.write(whole)
            b.consume(len(pad))
            v = b.peek(len(k))
        assert bytes(v) == k
        out.append(v)
    return out


KINDS = st.sampled_from(["bytes", "bytearray", "memoryview-ro", "bytebuffer"])
PADS = st.binary(max_size=5)


def assert_all_bytes_keys(d):
    assert all(type(k) is bytes for k in d), [type(k) for k in d]


# ---- hash(view) ------------------------------------------------------------------------------------

@given(st.binary(max_size=64), KINDS, PADS)
def test_hash_equals_bytes_hash_for_every_kind(data, kind, pad):
    (v,) = as_views([data], kind, pad)
    assert hash(v) == hash(data) == hash(v.tobytes())
    assert v == data and data == v and not (v != data)


def test_hash_of_every_view_source():
    data = b"GET /index.html"
    ba = bytearray(data)
    with open(__file__, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        head = bytes(mm[:10])
        mv = View(mm)[:10]
        assert hash(mv) == hash(head)
        mv.release()
    r = Reader(io.BytesIO(b"alpha\nbeta\n"), 16)
    assert [hash(x) for x in r.lines()] == [hash(b"alpha"), hash(b"beta")]
    assert hash(View(ba)[4:]) == hash(data[4:])
    assert hash(View(b"")) == hash(b"") == hash(View(ba, 3, 3))
    assert hash(View(ba).retarget(0, 3)) == hash(b"GET")


def test_hash_follows_the_current_bytes():
    ba = bytearray(b"abc")
    v = View(ba)
    h = hash(v)
    ba[0] = ord("x")
    assert hash(v) == hash(b"xbc") != h
    v.retarget(1, 3)
    assert hash(v) == hash(b"bc")


def test_hash_of_stale_and_released_view_raises():
    b = ByteBuffer(8)
    b.write(b"abcd")
    v = b.peek(4)
    b.consume(4)
    b.compact()
    b.write(b"wxyz")  # the bytes under v are overwritten
    with pytest.raises(StaleViewError):
        hash(v)
    w = View(bytearray(b"abc"))
    w.release()
    with pytest.raises(ValueError, match="released"):
        hash(w)


def test_lookups_in_plain_containers_find_bytes_keys():
    ba = bytearray(b"POST /x HTTP/1.1")
    method = View(ba)[:4]
    assert method in {b"GET", b"POST"}
    assert method in frozenset({b"POST"})
    assert {b"POST": 2}.get(method) == 2
    c = collections.Counter({b"POST": 1})
    c[method] += 1  # an existing key: the dict keeps its bytes key
    assert c == {b"POST": 2} and type(next(iter(c))) is bytes
    assert View(ba)[:3] not in {b"POST"}


# ---- KeyDict: every way in ----------------------------------------------------------------------------

def _oracle(keys, values):
    d = {}
    for k, v in zip(keys, values):
        d[k] = v
    return d


@given(KEYS, KINDS, PADS)
def test_setitem_matches_dict(keys, kind, pad):
    views = as_views(keys, kind, pad)
    d = KeyDict()
    for i, v in enumerate(views):
        d[v] = i
    expect = _oracle(keys, range(len(keys)))
    assert d == expect and list(d.items()) == list(expect.items())
    assert_all_bytes_keys(d)
    for k, v in zip(keys, views):
        assert d[v] == expect[k] and v in d and d.get(v) == expect[k]


@given(KEYS, KINDS, PADS)
def test_setdefault_matches_dict(keys, kind, pad):
    views = as_views(keys, kind, pad)
    d, o = KeyDict(), {}
    for i, (k, v) in enumerate(zip(keys, views)):
        assert d.setdefault(v, i) == o.setdefault(k, i)
    assert d == o and list(d) == list(o)
    assert_all_bytes_keys(d)
    e = KeyDict()
    if views:
        assert e.setdefault(views[0]) is None and e == {keys[0]: None}


@given(KEYS, KINDS, PADS, st.booleans())
def test_update_and_constructor_match_dict(keys, kind, pad, as_mapping):
    views = as_views(keys, kind, pad)
    pairs = list(zip(views, range(len(views))))
    opairs = list(zip(keys, range(len(keys))))
    if as_mapping:
        # a plain dict holding Views as keys (each window distinct)
        src = {}
        for v, i in pairs:
            src[v] = i
        osrc = {}
        for k, i in opairs:
            osrc[k] = i
    else:
        src, osrc = iter(pairs), opairs
    d = KeyDict()
    d.update(src, kw=1)
    o = {}
    o.update(osrc, kw=1)
    assert d == o and list(d) == list(o)
    assert_all_bytes_keys(kk for kk in d if kk != "kw")
    assert "kw" in d and type(d) is KeyDict
    c = KeyDict(pairs, extra=2)
    assert c == dict(opairs, extra=2)
    assert_all_bytes_keys(kk for kk in c if kk != "extra")


class Mapping:
    """Not a dict: update() goes through keys() and __getitem__."""
    def __init__(self, pairs):
        self.pairs = pairs

    def keys(self):
        return [k for k, _ in self.pairs]

    def __getitem__(self, key):
        for k, v in self.pairs:
            if k is key:
                return v
        raise KeyError(key)


@given(KEYS, KINDS, PADS)
def test_update_from_a_keys_mapping(keys, kind, pad):
    views = as_views(keys, kind, pad)
    d = KeyDict()
    d.update(Mapping(list(zip(views, range(len(views))))))
    assert d == _oracle(keys, range(len(keys)))
    assert_all_bytes_keys(d)


@given(KEYS, KINDS, PADS)
def test_fromkeys_or_ior_copy(keys, kind, pad):
    views = as_views(keys, kind, pad)
    f = KeyDict.fromkeys(views, 0)
    assert f == dict.fromkeys(keys, 0) and type(f) is KeyDict
    assert_all_bytes_keys(f)
    plain = {}
    for i, v in enumerate(views):
        plain[v] = i
    oplain = _oracle(keys, range(len(keys)))
    base = KeyDict({b"zz": -1})
    for r, expect in [(base | plain, {b"zz": -1} | oplain),
                      (plain | base, oplain | {b"zz": -1})]:
        assert r == expect and list(r) == list(expect) and type(r) is KeyDict
        assert_all_bytes_keys(r)
    base |= plain
    assert base == {b"zz": -1} | oplain
    assert_all_bytes_keys(base)
    base |= [(v, "pair") for v in views]
    assert base == {b"zz": -1, **dict.fromkeys(keys, "pair")}
    c = base.copy()
    assert c == base and type(c) is KeyDict and c is not base
    assert_all_bytes_keys(c)


def test_errors_match_dict():
    for bad, exc in [([1], TypeError), ([(1, 2, 3)], ValueError), (5, TypeError)]:
        with pytest.raises(exc) as e1:
            {}.update(bad)
        with pytest.raises(exc) as e2:
            KeyDict().update(bad)
        assert str(e1.value) == str(e2.value)
    with pytest.raises(TypeError, match="at most 1 argument, got 2"):
        KeyDict().update({}, {})
    with pytest.raises(TypeError, match="at most 1 argument, got 2"):
        KeyDict({}, {})
    with pytest.raises(TypeError, match="setdefault expected at least 1"):
        KeyDict().setdefault()
    with pytest.raises(TypeError, match="unhashable"):
        KeyDict()[[1]] = 2
    with pytest.raises(KeyError):
        del KeyDict()[b"x"]
    with pytest.raises(KeyError):
        KeyDict()[View(bytearray(b"x"))]
    assert KeyDict().__or__(5) is NotImplemented and KeyDict().__ror__([]) is NotImplemented
    with pytest.raises(TypeError):
        KeyDict() | [(b"a", 1)]


def test_failed_insert_leaves_the_dict_as_it_was():
    b = ByteBuffer(8)
    b.write(b"abcd")
    v = b.peek(4)
    b.consume(4)
    b.compact()
    b.write(b"wxyz")
    d = KeyDict({b"k": 1})
    with pytest.raises(StaleViewError):
        d[v] = 2
    with pytest.raises(StaleViewError):
        d.setdefault(v, 2)
    with pytest.raises(StaleViewError):
        d.update([(b"ok", 1), (v, 2)])  # as dict: what came before stays
    assert d == {b"k": 1, b"ok": 1}


def test_non_view_keys_go_in_unchanged():
    d = KeyDict()
    t, f, s = (1, 2), 1.5, "str"
    ba = bytearray(b"x")
    mv = memoryview(b"ro")
    d[t] = d[f] = d[s] = d[mv] = 1
    assert all(any(k is x for k in d) for x in (t, f, s, mv))
    with pytest.raises(TypeError):
        d[ba] = 1


def test_view_subclass_key_is_copied():
    class Sub(View):
        pass
    d = KeyDict()
    d[Sub(bytearray(b"abc"))] = 1
    assert d == {b"abc": 1}
    assert_all_bytes_keys(d)


# ---- keys stay right when the buffer changes --------------------------------------------------------

@given(st.lists(st.binary(max_size=8).filter(lambda b: b"\n" not in b and not b.endswith(b"\r")),
                max_size=60),
       st.integers(10, 40))  # a line and its b'\n' fit
@settings(max_examples=60)
def test_counter_over_reader_lines_matches_collections_counter(lines, bufsize):
    data = b"".join(x + b"\n" for x in lines)
    counts = Counter()
    for line in Reader(io.BytesIO(data), bufsize).lines(reuse=True):
        counts[line] += 1
    assert counts == collections.Counter(lines)
    assert_all_bytes_keys(counts)
    kd = KeyDict()
    for line in Reader(io.BytesIO(data), bufsize).lines(reuse=True):
        kd[line] = kd.get(line, 0) + 1
    assert kd == collections.Counter(lines)


def test_keys_survive_overwrite_and_refill():
    ba = bytearray(b"GET ")
    v = View(ba)[:3]
    d, c = KeyDict(), Counter()
    d[v] = 1
    c[v] += 1
    ba[:3] = b"PUT"
    assert d == {b"GET": 1} and c == {b"GET": 1}
    d[v] = 2
    c[v] += 1
    assert d == {b"GET": 1, b"PUT": 2} and c == {b"GET": 1, b"PUT": 1}
    b = ByteBuffer(16)
    for word in (b"alpha", b"beta", b"alpha"):
        b.clear()
        b.write(word)
        c[b.peek()] += 1
    assert c == {b"GET": 1, b"PUT": 1, b"alpha": 2, b"beta": 1}


# ---- Counter ------------------------------------------------------------------------------------------

def test_counter_mro_and_types():
    assert issubclass(Counter, collections.Counter) and issubclass(Counter, KeyDict)
    assert Counter.__setitem__ is KeyDict.__mro__[0].__dict__.get("__setitem__") or \
        Counter.__setitem__ is nocopy._core._CounterBase.__setitem__
    assert Counter.update is collections.Counter.update
    assert Counter.__module__ == "nocopy" and nocopy.Counter is Counter
    with pytest.raises(NotImplementedError):
        Counter.fromkeys([b"a"])


@given(KEYS, KINDS, PADS)
def test_counter_paths_match_collections(keys, kind, pad):
    views = as_views(keys, kind, pad)
    c, o = Counter(), collections.Counter()
    for v, k in zip(views, keys):
        c[v] += 1
        o[k] += 1
    assert c == o
    c.update(views)
    o.update(keys)
    c.subtract(views[:3])
    o.subtract(keys[:3])
    assert c == o
    c2 = Counter(views)
    assert c2 == collections.Counter(keys)
    plain = {}
    for v in views:
        plain[v] = 2
    c2.update(plain)  # a mapping with View keys, into a non-empty Counter
    assert c2 == collections.Counter(keys) + collections.Counter(dict.fromkeys(keys, 2))
    c3 = Counter(plain)  # ... and into an empty one: super().update -> KeyDict's
    assert c3 == dict.fromkeys(keys, 2)
    oc = collections.Counter(dict.fromkeys(keys, 2))
    c3 += Counter(views)
    oc += collections.Counter(keys)
    assert c3 == oc
    c3 |= plain
    oc |= collections.Counter(dict.fromkeys(keys, 2))
    assert c3 == oc
    for r, e in [(c3 + c, oc + o), (c3 - c, oc - o), (c3 | c, oc | o), (c3 & c, oc & o),
                 (+c, +o), (-c, -o)]:
        assert r == e and type(r) is Counter
        assert_all_bytes_keys(r)
    for x in (c, c2, c3):
        assert_all_bytes_keys(x)
    assert c.copy() == c and type(c.copy()) is Counter
    assert c.most_common() == o.most_common()
    del c[b"never-there"]  # Counter's delete: no KeyError


def test_counter_del_and_missing():
    c = Counter()
    v = View(bytearray(b"k"))
    assert c[v] == 0 and v not in c
    c[v] += 1
    del c[v]
    del c[v]
    assert c == {}


# ---- pickling and copying -------------------------------------------------------------------------

@pytest.mark.parametrize("tp", [KeyDict, Counter])
def test_pickle_and_copy(tp):
    ba = bytearray(b"abcabd")
    d = tp()
    d[View(ba)[:3]] = 1
    d[View(ba)[3:]] = 2
    for proto in range(pickle.HIGHEST_PROTOCOL + 1):
        r = pickle.loads(pickle.dumps(d, proto))
        assert r == d and type(r) is tp
        assert_all_bytes_keys(r)
    for r in (copy.copy(d), copy.deepcopy(d)):
        assert r == d and type(r) is tp and r is not d
    assert repr(KeyDict({b"a": 1})) == "KeyDict({b'a': 1})"


class TaggedKeyDict(KeyDict):
    def __init__(self, tag, *args):
        super().__init__(*args)
        self.tag = tag


def test_copy_of_a_subclass_keeps_attributes_and_calls_no_init():
    # copy.copy goes through dict's reduce protocol, as for a dict subclass
    ba = bytearray(b"key")
    d = TaggedKeyDict("t", {b"a": 1})
    d[View(ba)] = 2
    for r in (copy.copy(d), copy.deepcopy(d)):
        assert type(r) is TaggedKeyDict and r.tag == "t" and r == {b"a": 1, b"key": 2}
        assert_all_bytes_keys(r)
    ba[:] = b"xyz"   # the copies own their keys
    assert copy.copy(d) == {b"a": 1, b"key": 2}


def test_counter_or_plain_dict_is_a_counter_of_bytes_keys():
    # collections.Counter leaves it to dict's reflected |, a plain dict
    # that would keep the View key as a View
    ba = bytearray(b"k1k2")
    c = Counter({b"a": 2})
    plain = {View(ba)[:2]: 5, b"a": 1}
    for r in (c | plain, plain | c):
        assert type(r) is Counter
        assert_all_bytes_keys(r)
    assert c | plain == {b"a": 1, b"k1": 5} and list(c | plain) == [b"a", b"k1"]
    assert plain | c == {b"k1": 5, b"a": 2}
    assert c | Counter({b"a": 7}) == {b"a": 7}   # Counter | Counter stays max
    ba[:] = b"zzzz"
    assert (c | plain) == {b"a": 1, b"zz": 5}    # plain's View moved: a new copy
    with pytest.raises(TypeError):
        c | 5


# ---- a View kept in a plain dict -------------------------------------------------------------------

def test_view_in_plain_dict_stays_a_view_and_goes_stale_loudly():
    b = ByteBuffer(16)
    b.write(b"key1")
    v = b.read(4)
    d = {v: 1}
    assert type(next(iter(d))) is View and d[b"key1"] == 1
    b.compact()
    b.write(b"key2" * 3)  # the bytes under v move / are overwritten
    with pytest.raises(StaleViewError):
        b"key1" in d  # the same hash: the comparison with the stale View raises
    assert b"other" not in d  # another hash: no comparison at all


@pytest.mark.parametrize("make", [
    lambda data: Reader(io.BytesIO(data), 64).lines(reuse=True),
    lambda data: View(data).itersplit(b"\n", reuse=True),
    lambda data: View(data).iterlines(reuse=True),
    lambda data: ByteBuffer(64).iterlines(io.BytesIO(data), reuse=True),
    lambda data: nocopy.io.MemoryReader(data).lines(reuse=True),
    lambda data: nocopy.io.MemoryReader(data).lines(True, reuse=True),
    lambda data: nocopy.io.MemoryReader(data.replace(b"\n", b"\r\n")).lines(reuse=True),
])
def test_reuse_iterators_do_not_retarget_a_view_held_elsewhere(make):
    data = b"a\nbb\nccc\nbb\n"
    d = {}
    for line in make(data):
        if line:
            d[line] = d.get(line, 0) + 1
    assert {bytes(k).rstrip(b"\n"): n for k, n in d.items()} == {b"a": 1, b"bb": 2, b"ccc": 1}
    kept = []
    for line in make(data):
        kept.append(line)
    assert [bytes(x).rstrip(b"\n") for x in kept if len(x)] == [b"a", b"bb", b"ccc", b"bb"]
    # ... and still one View, retargeted, when only the loop holds it
    ids = {id(line) for line in make(data)}
    assert len(ids) == 1


@pytest.mark.parametrize("tp", [KeyDict, Counter])
def test_cycles_through_the_container_are_collected(tp):
    import gc
    import weakref

    class Box:
        pass
    d, b = tp(), Box()
    d[View(bytearray(b"k"))] = b
    b.d = d
    r = weakref.ref(b)
    del d, b
    gc.collect()
    assert r() is None
    assert tp[bytes, int] is not None  # generic alias at runtime, as dict
