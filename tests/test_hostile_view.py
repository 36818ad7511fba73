"""Hostile Python against View (issue 13): codecs, finalizers run by the GC
inside a C allocation, __index__ hooks, patched exception classes.

Every test here failed on the main of issue 13 (a crash, an ASan report, or a
wrong result; see each docstring) and must pass under ASan + UBSan.  The
finalizer tests rely on CPython 3.11's collector running *inside* the
allocation that triggers it: `gc.set_threshold(1)` plus an object in a
reference cycle whose __del__ does the damage.
"""
import codecs
import functools
import gc
import operator
import sys

import pytest
from hypothesis import given, strategies as st

import nocopy
from finalizers import Cycle as _Cycle, Fired, drain_views, inside
from nocopy import BufferTooSmall, ByteBuffer, IncompleteRead, LimitOverrun, StaleViewError, View


# ---- helpers -------------------------------------------------------------------------------

# gc_trap (conftest.py) and inside(): see tests/finalizers.py


def _scribble():
    """Reuse freed memory, so a read of it shows other bytes (plain build)."""
    return [bytearray(b"\xa5" * n) for n in (64, 128, 256, 512, 1024, 2048) for _ in range(8)]


_codec_actions = {}


def _search(name):
    action = _codec_actions.get(name)
    if action is None:
        return None

    def decode(data, errors="strict"):
        return action(data), len(data)

    return codecs.CodecInfo(name=name, encode=lambda s, errors="strict": (s.encode(), len(s)),
                            decode=decode)


codecs.register(_search)


@pytest.fixture
def codec():
    """codec(name, action): a text codec whose decode calls action(data)."""
    names = []

    def make(name, action):
        _codec_actions[name] = action
        names.append(name)
        codecs.lookup(name)  # cached by the registry from now on
        return name

    yield make
    for n in names:
        _codec_actions.pop(n, None)


# ---- issue row 13: decode() through a codec written in Python --------------------------------

def test_decode_codec_cannot_release_the_view(codec):
    """main: the codec got a bare memoryview; v.release() freed the bytearray
    under it (heap-use-after-free, garbage decoded on a plain build)."""
    v = View(bytearray(b"hello world " * 64))
    seen = []

    def action(data):
        try:
            v.release()
        except BufferError:
            seen.append("refused")
        junk = _scribble()
        del junk
        return bytes(data).decode("latin-1")

    name = codec("nocopy_hostile_release", action)
    assert v.decode(name) == "hello world " * 64
    assert seen == ["refused"]  # as memoryview.release() refuses while exported
    v.release()  # and it works once the codec is done


def test_decode_codec_cannot_move_bytebuffer_bytes(codec):
    """main: the codec's memoryview was no export, so compact() moved the bytes
    under it in place: the codec read other bytes."""
    b = ByteBuffer(64)
    b.write(b"0123" + b"abcdefghijklmnop")
    b.consume(4)
    v = b.peek()  # offsets 4..20 of the storage

    def action(data):
        b.consume(2)
        b.compact()  # in place, it would write offsets 0..14
        return bytes(data).decode("ascii")

    name = codec("nocopy_hostile_compact", action)
    assert v.decode(name) == "abcdefghijklmnop"
    assert bytes(v) == b"abcdefghijklmnop"  # moved to fresh storage, as for any export


def test_decode_codec_kept_memoryview_is_released_after(codec):
    """main: a memoryview kept by the codec still pointed at the bytearray
    after the View and the bytearray were gone (heap-use-after-free)."""
    kept = []

    def action(data):
        kept.append(data)
        return bytes(data).decode("ascii")

    name = codec("nocopy_hostile_keep", action)
    v = View(bytearray(b"x" * 4096))
    assert v.decode(name) == "x" * 4096
    v.release()
    del v
    junk = _scribble()
    with pytest.raises(ValueError):
        bytes(kept[0])  # released, as bytes.decode's would be... never dangling
    del junk


def test_decode_codec_contract_kept(codec):
    """Guard (passed on main too): the registry path still behaves as bytes.decode: non-text codecs and
    non-str results are refused, errors= reaches the codec, empty input never
    looks the codec up.  (main: these were right; kept right by the new path.)"""
    got = []
    name = codec("nocopy_hostile_errors", lambda data: got.append(bytes(data)) or "ok")
    assert View(b"abc").decode(name, "surrogateescape") == "ok" and got == [b"abc"]
    assert View(bytearray(b"xyz"), 1).decode(encoding=name) == "ok" and got[-1] == b"yz"
    with pytest.raises(LookupError) as e1:
        View(b"abc").decode("hex")
    with pytest.raises(LookupError) as e2:
        b"abc".decode("hex")
    assert str(e1.value) == str(e2.value)
    bad = codec("nocopy_hostile_bytes_result", lambda data: b"not str")
    with pytest.raises(TypeError, match="instead of 'str'"):
        View(b"abc").decode(bad)
    assert View(b"").decode("no-such-codec-at-all") == b"".decode("no-such-codec-at-all") == ""
    with pytest.raises(LookupError):
        View(b"a").decode("no-such-codec-at-all")
    for enc in ("UTF-8", "utf8", "Utf_16", "utf-32", "US-ASCII", "latin-1", "ISO-8859-1",
                "iso8859_1", "cp1252", "utf-8-sig", "koi8_r", "cp037"):
        data = ("héllo" if "ASCII" not in enc and "koi8" not in enc else "hello").encode(enc) + b"\xff\xfe\x80"
        try:
            want = data.decode(enc)
        except UnicodeDecodeError as e:
            with pytest.raises(UnicodeDecodeError) as got:
                View(bytearray(data)).decode(enc)
            assert str(got.value) == str(e)
        else:
            assert View(bytearray(data)).decode(enc) == want
        assert View(bytearray(data)).decode(enc, "replace") == data.decode(enc, "replace")


def test_hex_separator_error_is_bytes_error():
    """main: hex(5) called memoryview.release() with the TypeError pending
    (SystemError)."""
    with pytest.raises(TypeError) as e:
        View(b"abc").hex(5)
    with pytest.raises(TypeError) as want:
        b"abc".hex(5)
    assert str(e.value) == str(want.value)
    assert View(b"\x01\x02\x03").hex(":", 2) == b"\x01\x02\x03".hex(":", 2)


# ---- a finalizer run by an allocation ------------------------------------------------------------

def test_slice_finalizer_releases_the_view(gc_trap):
    """main: v[a:b] read v.holder, allocated the View (the collection released
    v and freed the holder and its bytearray), then took a reference to the
    freed holder (heap-use-after-free; garbage bytes on a plain build)."""
    v = View(bytearray(b"hello world" * 10))
    s = slice(1, 5)
    fired = gc_trap(v.release)
    piece = v[s]
    inside(fired)
    junk = _scribble()
    assert v.released
    assert bytes(piece) == b"ello"
    del junk


def test_slice_finalizer_moves_bytebuffer_bytes(gc_trap):
    """main: the sub-view took the holder's epoch *after* its allocation, in
    which a finalizer compacted the ByteBuffer: a live view showing the moved
    bytes (b"lo w" instead of b"ello").  Now it is stale."""
    b = ByteBuffer(64)
    b.write(b"xxxhello world")
    b.consume(3)
    v = b.peek()
    s = slice(1, 5)

    def compact():
        b.consume(2)
        b.compact()

    fired = gc_trap(compact)
    piece = v[s]
    inside(fired)
    with pytest.raises(StaleViewError):
        bytes(piece)


def test_itersplit_finalizer_releases_the_view(gc_trap):
    """main: itersplit checked the View, allocated the iterator (the collection
    released the View), then read its NULL holder: segfault."""
    v = View(bytearray(b"a b c d"))
    with pytest.raises(ValueError, match="released"):
        fired = gc_trap(v.release)  # here: the with statement allocates too
        v.itersplit()
    inside(fired)


def test_iterlines_finalizer_releases_the_view(gc_trap):
    """main: as itersplit (segfault)."""
    v = View(bytearray(b"a\nb\nc"))
    with pytest.raises(ValueError, match="released"):
        fired = gc_trap(v.release)
        v.iterlines(reuse=True)
    inside(fired)


def test_iterator_next_reentered_by_a_finalizer(gc_trap):
    """main: next() borrowed the iterator's holder across the new View's
    allocation; a finalizer that drained the iterator freed the holder
    (the View released earlier): heap-use-after-free."""
    v = View(bytearray(b"one two three four five six"))
    it = v.itersplit()
    v.release()
    inner = []
    fired = gc_trap(lambda: inner.extend(bytes(x) for x in it))
    first = next(it)
    inside(fired)
    junk = _scribble()
    assert bytes(first) == b"one"
    assert inner == [b"two", b"three", b"four", b"five", b"six"]
    assert list(it) == []
    del junk


def test_iterator_reuse_view_set_once(gc_trap):
    """reuse=True: a finalizer that runs next() while the first View is being
    made must not leave the iterator yielding two different objects forever
    (main: the reentrant call's View was overwritten, leaked)."""
    v = View(bytearray(b"a b c d e"))
    it = v.itersplit(reuse=True)
    got = []
    fired = gc_trap(lambda: got.append(next(it)))
    first = next(it)
    inside(fired)
    assert len(got) == 1 and got[0] is not first
    probe = [View(b"q")]
    extra = sys.getrefcount(got[0]) - sys.getrefcount(probe[0])
    assert extra == 0  # the iterator no longer references the inner call's View
    second = next(it)
    assert second is first
    del second  # held by two names it would be left alone (a new View made)
    assert next(it) is first


# ---- immutable types ---------------------------------------------------------------------------------

@pytest.mark.parametrize("tp", [View, type(View(b"a b").itersplit())])
def test_types_are_immutable(tp):
    """main: View and its iterator type took new attributes (a patched
    method changes every View in the process)."""
    with pytest.raises(TypeError):
        tp.foo = 1
    with pytest.raises(TypeError):
        setattr(tp, "__repr__", lambda self: "patched")
    assert not hasattr(tp, "foo")


def test_view_still_subclassable():
    """Guard (passed on main too): immutable, View can still be subclassed."""
    class Mine(View):
        extra = 1

    m = Mine(b"a b")
    assert type(m.split()[0]) is Mine and m.extra == 1
    Mine.extra = 2  # the subclass is the user's, and mutable
    assert m.extra == 2


# ---- nocopy's exceptions, raised from C --------------------------------------------------------------

@pytest.fixture
def patched_errors():
    """Rebinds __new__/__init__ of nocopy's exception classes (restored after)."""
    saved = []

    def patch(cls, name, value):
        saved.append((cls, name, cls.__dict__.get(name, _MISSING)))
        setattr(cls, name, value)

    yield patch
    for cls, name, old in reversed(saved):
        if old is _MISSING:
            delattr(cls, name)
        else:
            setattr(cls, name, old)


_MISSING = object()


def test_raise_ignores_patched_new(patched_errors):
    """main: C called the class, so a rebound __new__ chose what copy_from
    raised (a KeyError here)."""
    patched_errors(BufferTooSmall, "__new__", staticmethod(lambda cls, *a, **k: KeyError("patched")))
    with pytest.raises(BufferTooSmall) as e:
        View(bytearray(3)).copy_from(b"abcd")
    assert type(e.value) is BufferTooSmall
    assert e.value.needed == 4 and e.value.args == ("source does not fit the View window",)


def test_raise_ignores_patched_init(patched_errors):
    """main: a rebound __init__ ran inside the C call and set what it liked."""
    ran = []

    def init(self, *args):
        ran.append(args)
        self.needed = -1

    patched_errors(BufferTooSmall, "__init__", init)
    patched_errors(LimitOverrun, "__init__", init)
    with pytest.raises(BufferTooSmall) as e:
        View(bytearray(3)).copy_from(b"abcd", 1)
    assert e.value.needed == 5
    b = ByteBuffer(16)
    b.write(b"abcdef")
    with pytest.raises(LimitOverrun) as e2:
        b.read_until(b"x", limit=3)
    assert bytes(e2.value.partial) == b"abc" and not hasattr(e2.value, "needed")
    assert ran == []


def test_raised_exceptions_match_their_python_constructor():
    """Guard (passed on main too): the C-built instances equal what the classes build (args, attributes,
    message), and pickle."""
    import pickle
    with pytest.raises(BufferTooSmall) as e:
        View(bytearray(2)).copy_from(b"abc")
    want = BufferTooSmall("source does not fit the View window", 3)
    assert e.value.args == want.args and e.value.__dict__ == want.__dict__
    assert pickle.loads(pickle.dumps(e.value)).needed == 3
    import io as _io
    from nocopy.io import Reader
    r = Reader(_io.BytesIO(b"abc"))
    with pytest.raises(IncompleteRead) as e3:
        r.read_exact(5)
    want = IncompleteRead(e3.value.partial, 5)
    assert str(e3.value) == str(want) and e3.value.expected == 5
    assert bytes(e3.value.partial) == b"abc"


def test_rebinding_module_attributes_does_not_change_c(monkeypatch):
    """Guard (passed on main too): C raises the classes of its module state."""
    class Fake(Exception):
        pass

    monkeypatch.setattr(nocopy, "BufferTooSmall", Fake)
    monkeypatch.setattr(nocopy.errors, "BufferTooSmall", Fake)
    with pytest.raises(BufferTooSmall):
        View(bytearray(1)).copy_from(b"ab")


# ---- the class: random methods, hostile hooks, bytes as the oracle ---------------------------------

class _HostileIndex:
    """An int whose __index__ first runs an action (once)."""

    def __init__(self, value, action):
        self.value = value
        self.action = action

    def __index__(self):
        action, self.action = self.action, None
        if action is not None:
            action()
        return self.value


def _make_view(kind, data, a, b):
    """(view, damage) where damage(what) releases / retargets / moves the bytes."""
    if kind == "bytebuffer":
        buf = ByteBuffer(256)
        buf.write(b"#" * 7 + data)
        buf.consume(7)
        v = buf.peek()
        v = v[a:b]

        def damage(what):
            if what == "compact":
                buf.consume(min(3, len(buf)))
                buf.compact()
            elif what == "release":
                _release(v)
            elif what == "retarget":
                v.retarget(v.start, v.start)
        return v, damage
    v = View(bytearray(data) if kind == "bytearray" else bytes(data), a, b)

    def damage(what):
        if what == "release":
            _release(v)
        elif what == "retarget":
            v.retarget(0, 0)
    return v, damage


def _release(v):
    try:
        v.release()
    except BufferError:
        pass  # exported for the call (hex, a codec): refused, as memoryview's


_calls = [
    ("find", lambda i, j: (b"a", i, j)), ("rfind", lambda i, j: (b"ab", i, j)),
    ("count", lambda i, j: (b"a", i, j)), ("index", lambda i, j: (b"", i, j)),
    ("startswith", lambda i, j: ((b"x", b"a"), i, j)), ("endswith", lambda i, j: (b"b", i, j)),
    ("split", lambda i, j: (b"a", i)), ("rsplit", lambda i, j: (None, i)),
    ("expandtabs", lambda i, j: (i,)), ("center", lambda i, j: (i,)), ("ljust", lambda i, j: (i, b"*")),
    ("zfill", lambda i, j: (i,)), ("replace", lambda i, j: (b"a", b"XY", i)),
    ("__getitem__", lambda i, j: (slice(i, j),)), ("__mul__", lambda i, j: (i,)),
    ("strip", lambda i, j: ()), ("partition", lambda i, j: (b"a",)), ("splitlines", lambda i, j: ()),
    ("tobytes", lambda i, j: ()), ("hex", lambda i, j: (":", i)), ("decode", lambda i, j: ("latin-1",)),
    ("lower", lambda i, j: ()), ("translate", lambda i, j: (None, b"a")), ("join", lambda i, j: ([b"1", b"2"],)),
]


def _materialize(r):
    if isinstance(r, View):
        return bytes(r)
    if isinstance(r, (list, tuple)):
        return type(r)(_materialize(x) for x in r)
    return r


def _oracle(name, shown, args):
    if name == "tobytes":
        return shown
    return _materialize(getattr(shown, name)(*args))


@given(kind=st.sampled_from(["bytes", "bytearray", "bytebuffer"]),
       data=st.binary(max_size=40).map(lambda d: d.replace(b"#", b"a")) | st.just(b"ab\tab a\nb ab"),
       a=st.integers(-8, 8) | st.none(), b=st.integers(-8, 48) | st.none(),
       call=st.sampled_from(_calls), i=st.integers(-6, 50), j=st.integers(-6, 50))
@pytest.mark.parametrize("what", ["release", "retarget", "compact", "nothing"])
@pytest.mark.parametrize("hook", ["index", "gc"])
def test_random_calls_against_bytes(hook, what, kind, data, a, b, call, i, j):
    """A View method with a hook that damages the View while the call runs
    (its __index__ argument, or a finalizer in the call's allocations) returns
    what bytes returns on the bytes the View showed -- when the call began, or
    after the damage -- or raises cleanly (ValueError for a released View,
    StaleViewError for moved bytes).  main failed it (use-after-free in
    slicing when a finalizer released the View, a live wrong-bytes View when
    it compacted a ByteBuffer)."""
    name, make_args = call
    v, damage = _make_view(kind, data, a, b)
    before = bytes(v)
    old = gc.get_threshold()
    if hook == "index":
        ii = _HostileIndex(i, lambda: damage(what))
        args = make_args(ii, j)
        plain = make_args(i, j)
    else:
        args = plain = make_args(i, j)
    # Bound ahead, so that calling it allocates nothing before the method runs
    # (a bound method or an argument tuple would take the collection).
    target = {"__getitem__": operator.getitem, "__mul__": operator.mul}.get(name)
    fn = functools.partial(target or getattr(View, name), v, *args)
    log = Fired(depth=0)  # where the finalizer ran (tests/finalizers.py)
    try:
        if hook == "gc":
            gc.collect(0)  # so no collection moves the trap out of generation 0 early
            held = drain_views()  # no free View: see tests/finalizers.py
            c = _Cycle(lambda: (log.note(), damage(what)))
            gc.set_threshold(1)
            del c
        try:
            call_line = sys._getframe().f_lineno + 1  # (the frame object exists: no allocation)
            got = fn()
            got = _materialize(got)
        except StaleViewError:
            assert what == "compact"
            return
        except ValueError as e:
            if "released" in str(e):
                assert what == "release"
                return
            got = e
        except (TypeError, OverflowError, MemoryError) as e:
            got = e
    finally:
        gc.set_threshold(*old)
    try:
        after = bytes(v)
    except (ValueError, StaleViewError):
        after = before
    if hook == "gc" and call_line not in log.where:
        # no damage while the call ran (the call allocated nothing that
        # collects, or it ran later): the bytes it began with, only
        after = before
    wants = []
    for shown in (before, after):
        try:
            wants.append(_oracle(name, shown, plain))
        except Exception as e:
            wants.append(e)
    if isinstance(got, Exception):
        assert any(type(w) is type(got) for w in wants), (got, wants)
    else:
        assert got in wants, (got, wants)


# ---- __index__ hooks on the writing and window-moving paths (guards) ----------------------------

_writers = {
    "setitem": lambda v, h: v.__setitem__(h, 65),
    "setitem_value": lambda v, h: v.__setitem__(0, _HostileIndex(65, h.action)),
    "slice_assign": lambda v, h: v.__setitem__(slice(h, 3), b"ABC"),
    "copy_from": lambda v, h: v.copy_from(b"AB", h),
    "fill": lambda v, h: v.fill(_HostileIndex(65, h.action)),
    "retarget": lambda v, h: v.retarget(h, 4),
    "set_start": lambda v, h: setattr(v, "start", h),
    "set_stop": lambda v, h: setattr(v, "stop", _HostileIndex(4, h.action)),
    "to_int": lambda v, h: v.to_int(_HostileIndex(16, h.action)),
    "hex": lambda v, h: v.hex(":", _HostileIndex(2, h.action)),
    "contains": lambda v, h: _HostileIndex(65, h.action) in v,
}


@pytest.mark.parametrize("op", sorted(_writers))
@pytest.mark.parametrize("what", ["release", "compact"])
def test_index_hooks_cannot_redirect_a_write(op, what):
    """Guard (main passed too): an __index__ argument that releases the View
    or moves the ByteBuffer's bytes under it makes the call raise cleanly;
    nothing is written into bytes the View no longer shows."""
    b = ByteBuffer(32)
    b.write(b"##0123456789")
    b.consume(2)
    v = b.peek()
    if what == "release":
        damage = lambda: _release(v)
    else:
        def damage():
            b.consume(4)
            b.compact()  # in place: offsets 0..6 get b"456789"
    try:
        _writers[op](v, _HostileIndex(0, damage))
    except StaleViewError:
        assert what == "compact"
    except ValueError as e:
        assert what == "release" and "released" in str(e)
    assert bytes(b.peek()) == (b"456789" if what == "compact" else b"0123456789")


def test_join_iterable_and_percent_args_cannot_redirect():
    """Guard (main passed too): join()'s iterable and %'s arguments run Python
    before / after the window is read: released -> ValueError, moved ->
    StaleViewError, else the bytes the View showed."""
    v = View(bytearray(b", "))

    def parts():
        yield b"a"
        v.release()
        yield b"b"

    with pytest.raises(ValueError, match="released"):
        v.join(parts())
    b = ByteBuffer(16)
    b.write(b"#%s|%s")
    b.consume(1)
    fmt = b.peek()

    class Sneaky:
        def __bytes__(self):
            b.consume(2)
            b.compact()  # the format's bytes move under it
            return b"X"

    assert fmt % (Sneaky(), b"y") == b"X|y"  # read once, before the arguments
    with pytest.raises(StaleViewError):
        bytes(fmt)
