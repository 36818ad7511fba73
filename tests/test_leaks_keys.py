"""Reference leaks of hash(View), KeyDict and Counter: every path repeated,
the allocated block count stays flat (tests/leakcheck.py)."""
import copy
import io
import pickle

from leakcheck import assert_no_leak, raises

from nocopy import ByteBuffer, Counter, KeyDict, StaleViewError, View
from nocopy.io import Reader
from test_hostile_keys import disturbed_eviction  # the scenario, shared

BA = bytearray(b"GET POST PUT")
V1, V2, V3 = View(BA)[:3], View(BA)[4:8], View(BA)[9:]


def _stale():
    b = ByteBuffer(8)
    b.write(b"abcd")
    v = b.peek(4)
    b.consume(4)
    b.compact()
    b.write(b"wxyz")
    return v


STALE = _stale()


def test_hash_and_lookup():
    d = {b"GET": 1}
    assert_no_leak(lambda: (hash(V1), V1 in d, d.get(V2)), n=50_000)
    assert_no_leak(raises(StaleViewError, hash, STALE), n=20_000)


def test_keydict_seen_and_new_keys():
    d = KeyDict()

    def seen():
        d[V1] = 1
        d.setdefault(V2, 2)

    def new():
        e = KeyDict()
        e[V1] = 1
        e.setdefault(V2, 0)
        e.update([(V3, 3)], kw=1)
        e.update({V1: 2})
        return e
    assert_no_leak(seen, n=50_000)
    assert_no_leak(new, n=20_000)


def test_keydict_constructors_and_operators():
    plain = {V1: 1, V2: 2}
    kd = KeyDict(plain)

    def ops():
        KeyDict(plain, x=1)
        KeyDict.fromkeys([V1, V3])
        kd | plain
        plain | kd
        k = kd.copy()
        k |= plain
        repr(k)
    assert_no_leak(ops, n=10_000)


def test_keydict_error_paths():
    d = KeyDict({b"k": 1})
    assert_no_leak(raises(StaleViewError, d.__setitem__, STALE, 1), n=20_000)
    assert_no_leak(raises(StaleViewError, d.setdefault, STALE), n=20_000)
    assert_no_leak(raises(StaleViewError, d.update, [(V1, 1), (STALE, 2)]), n=10_000)
    assert_no_leak(raises(ValueError, d.update, [(1, 2, 3)]), n=10_000)
    assert_no_leak(raises(TypeError, d.update, [1]), n=10_000)
    assert_no_leak(raises(TypeError, KeyDict, {}, {}), n=10_000)
    assert_no_leak(raises(KeyError, d.__delitem__, V3), n=10_000)


def test_counter_paths():
    c = Counter()

    def paths():
        c[V1] += 1
        c.update([V1, V2])
        c.subtract([V3])
        c + c
        del c[V3]
    assert_no_leak(paths, n=10_000)


def test_pickle_copy():
    d = KeyDict({V1: 1})
    c = Counter([V1, V2])
    assert_no_leak(lambda: (pickle.loads(pickle.dumps(d)), copy.copy(c), copy.deepcopy(d)),
                   n=30_000)


def test_counter_over_reader_lines():
    data = b"GET\nPOST\nGET\n" * 50

    def run():
        c = Counter()
        for line in Reader(io.BytesIO(data), 64).lines(reuse=True):
            c[line] += 1
        return c
    assert_no_leak(run, n=1_000, warmup=100)


def test_reuse_iterator_leaving_held_views():
    data = b"a\nb\nc\n" * 20

    def run():
        d = {}
        for line in View(data).iterlines(reuse=True):
            d[line] = 1
        kept = list(Reader(io.BytesIO(data), 32).lines(reuse=True))
        return d, kept
    assert_no_leak(run, n=2_000, warmup=100)


class _Popper:
    """Hashes like b"GET"; inside a store (its second __eq__ of a round)
    pops b"GET" or keeps the View it is compared with."""

    def __init__(self, d, keep):
        self.d, self.keep, self.calls, self.kept = d, keep, 0, []

    def __hash__(self):
        return hash(b"GET")

    def __eq__(self, other):
        self.calls += 1
        if self.calls == 2:
            if self.keep:
                self.kept.append(other)
            else:
                self.d.pop(b"GET", None)
        return False


def test_store_view_escapes():
    """kd_store_existing's private View goes in as a key (evicted) or is kept
    by Python code (given up, a new one made): nothing leaks either way."""
    def run(keep):
        d = KeyDict()
        p = _Popper(d, keep)
        d[p] = 0
        d[b"GET"] = 1
        p.calls = 0
        d[V1] = 2
        assert type(list(d)[-1]) is bytes
    assert_no_leak(lambda: run(False), n=20_000)
    assert_no_leak(lambda: run(True), n=20_000)


def test_eviction_rebuild_paths():
    """The evicted private View is stale and its deletion "fails" (KeyError
    from __eq__): the dict is rebuilt without it (tests/test_hostile_keys.py
    has the scenario); its items, the error and the View are not leaked."""
    def run(raise_at):
        d, _, _ = disturbed_eviction(raise_at, extra=(b"other",))
        assert not any(isinstance(k, View) for k in d)
    for raise_at in (3, 4, 5):
        assert_no_leak(lambda: run(raise_at), n=10_000)
