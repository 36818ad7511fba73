"""nocopy.io.MemoryReader: differential tests against io.BytesIO (every
method, every seek pattern, every kind of buffer, both result modes), the
stdlib consumers of binary files, pinning, hostile callbacks.  Zero-copy:
test_alloc_memreader.py; leaks: test_leaks_memreader.py."""
import array
import gc
import gzip
import io
import json
import mmap
import pickle
import sys
import tarfile
import zipfile

import pytest
from hypothesis import given, strategies as st

from nocopy import IncompleteRead, View
from nocopy.io import MemoryReader, Reader, read_chunks, read_into


# ---- buffers -------------------------------------------------------------------

PRE, POST = b"<<pre>>", b"<<post>>"


def make_buffer(kind, data):
    """data inside a buffer of the given kind; the returned object holds
    exactly data (windows sit inside larger buffers)."""
    if kind == "bytes":
        return data
    if kind == "bytearray":
        return bytearray(data)
    if kind == "memoryview":
        return memoryview(PRE + data + POST)[len(PRE):len(PRE) + len(data)]
    if kind == "view_bytes":
        return View(PRE + data + POST, len(PRE), len(PRE) + len(data))
    if kind == "view_bytearray":
        return View(bytearray(PRE + data + POST), len(PRE), len(PRE) + len(data))
    if kind == "mmap":
        mm = mmap.mmap(-1, max(len(data), 1))
        mm[:len(data)] = data
        # an anonymous mmap cannot be empty: the empty case is a window on one
        return mm if len(data) else View(mm, 0, 0)
    if kind == "array":
        return array.array("B", data)
    raise AssertionError(kind)


KINDS = ["bytes", "bytearray", "memoryview", "view_bytes", "view_bytearray", "mmap", "array"]

# lines of every shape: empty lines, \r (not a line end), no final newline
line_data = st.one_of(
    st.binary(max_size=200),
    st.lists(st.sampled_from([b"\n", b"a", b"bc", b"\r\n", b"xyz\n", b"\x00", b"\r", b"line\n"]),
             max_size=40).map(b"".join),
)


class Idx:
    def __init__(self, n):
        self.n = n

    def __index__(self):
        return self.n


# sizes in every argument form io.BytesIO takes, and some it refuses
def sizes(n):
    return st.one_of(
        st.integers(-3, n + 5),
        st.just(None),
        st.sampled_from([True, False, 2 ** 64, -2 ** 64, 1.0, "1", Idx(3), Idx(-1)]),
    )


def ops(n):
    size = sizes(n)
    dest = st.tuples(st.sampled_from(["bytearray", "memoryview", "view", "array", "bytes"]),
                     st.integers(0, n + 5))
    return st.lists(st.one_of(
        st.tuples(st.just("read"), size),
        st.tuples(st.just("read1"), size),
        st.tuples(st.just("read_noarg")),
        st.tuples(st.just("readinto"), dest),
        st.tuples(st.just("readinto1"), dest),
        st.tuples(st.just("readline"), size),
        st.tuples(st.just("readline_noarg")),
        st.tuples(st.just("readlines"), size),
        st.tuples(st.just("seek"), st.integers(-n - 5, n + 5), st.sampled_from([0, 1, 2])),
        st.tuples(st.just("seek"), st.sampled_from([2 ** 63, 2 ** 62, -1, 1.5, None, Idx(2)]),
                  st.sampled_from([0, 1, 2, 3, -1, 2 ** 40, 1.0])),
        st.tuples(st.just("seek_noarg"), st.integers(-n - 5, n + 5)),
        st.tuples(st.just("tell")),
        st.tuples(st.just("next")),
        st.tuples(st.just("iterate"), st.integers(0, 5)),
        st.tuples(st.just("list")),
        st.tuples(st.just("peek"), size),
        st.tuples(st.just("getvalue")),
        st.tuples(st.just("getbuffer")),
        st.tuples(st.just("flags")),
        st.tuples(st.just("write")),
        st.tuples(st.just("truncate")),
        st.tuples(st.just("fileno")),
        st.tuples(st.just("isatty")),
        st.tuples(st.just("flush")),
        st.tuples(st.just("close")),
    ), max_size=25)


def make_dest(kind, n):
    if kind == "bytearray":
        return bytearray(b"\xee" * n)
    if kind == "memoryview":
        return memoryview(bytearray(b"\xee" * (n + 4)))[2:2 + n]
    if kind == "view":
        return View(bytearray(b"\xee" * (n + 4)), 2, 2 + n)
    if kind == "array":
        return array.array("B", b"\xee" * n)
    return b"\xee" * n  # read-only: TypeError


def apply(f, op, *, views):
    """Run op on the file f; return a comparable result (bytes for every
    bytes-like result, checking that MemoryReader returned the type its
    mode promises)."""
    name = op[0]

    def data(x):
        if isinstance(f, MemoryReader):
            want = View if views else bytes
            assert type(x) is want, (name, type(x))
        else:
            assert type(x) is bytes
        return bytes(x)

    if name in ("read", "read1", "readline", "readlines"):
        res = getattr(f, name)(op[1])
        return [data(x) for x in res] if name == "readlines" else data(res)
    if name == "read_noarg":
        return data(f.read())
    if name == "readline_noarg":
        return data(f.readline())
    if name in ("readinto", "readinto1"):
        d = make_dest(*op[1])
        n = getattr(f, name)(d)
        return n, bytes(d)
    if name == "seek":
        return f.seek(op[1], op[2])
    if name == "seek_noarg":
        return f.seek(op[1])
    if name == "tell":
        return f.tell()
    if name == "next":
        return data(next(f))
    if name == "iterate":
        out = []
        for line in f:
            out.append(data(line))
            if len(out) == op[1]:
                break
        return out
    if name == "list":
        return [data(x) for x in f]
    if name == "peek":
        if isinstance(f, MemoryReader):
            return data(f.peek(op[1]))
        # io.BytesIO has no peek: read and seek back is its oracle
        size = op[1]
        io.BytesIO().read(size)  # the argument's errors first, as read(size)
        if hasattr(type(size), "__index__") and -2 ** 63 <= size.__index__() <= 0:
            size = -1  # peek(size <= 0): everything after the position
        p = f.tell()
        try:
            return data(f.read(size))
        finally:
            f.seek(p)
    if name == "getvalue":
        return data(f.getvalue())
    if name == "getbuffer":
        b = f.getbuffer()
        if isinstance(f, MemoryReader):
            assert type(b) is (View if views else memoryview)
        out = bytes(b)
        b.release()
        return out
    if name == "flags":
        return f.readable(), f.seekable(), f.writable(), f.closed
    if name == "write":
        return f.write(b"zz")
    if name == "truncate":
        return f.truncate()
    if name == "fileno":
        return f.fileno()
    if name == "isatty":
        return f.isatty()
    if name == "flush":
        return f.flush()
    if name == "close":
        return f.close()
    raise AssertionError(name)


def outcome(f, op, views):
    try:
        return "ok", apply(f, op, views=views)
    except StopIteration:
        return "stop", None
    except Exception as e:  # compared by type and message
        return type(e), str(e)


# write(), truncate() are what BytesIO does and MemoryReader, read-only, refuses
READ_ONLY_DIFF = {"write", "truncate"}


@given(kind=st.sampled_from(KINDS), data=st.data(), content=line_data, views=st.booleans())
def test_differential_against_bytesio(kind, data, content, views):
    r = MemoryReader(make_buffer(kind, content), views=views)
    oracle = io.BytesIO(content)
    for op in data.draw(ops(len(content))):
        got = outcome(r, op, views)
        if op[0] in READ_ONLY_DIFF:  # not run on the oracle: it would write
            if oracle.closed:
                assert got == (ValueError, "I/O operation on closed file."), op
            else:
                assert got[0] is io.UnsupportedOperation, (op, got)
            continue
        want = outcome(oracle, op, views)
        if op[0] == "flags" and want[0] == "ok":
            want = ("ok", (True, True, False, False))  # BytesIO is writable
        if op[0] == "fileno":
            assert got[0] is io.UnsupportedOperation and want[0] is io.UnsupportedOperation
            continue
        assert got == want, (op, got, want)
        if not oracle.closed:
            assert r.tell() == oracle.tell(), op
    r.close()
    assert r.closed


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("views", [True, False])
def test_every_method_on_empty_buffers(kind, views):
    r = MemoryReader(make_buffer(kind, b""), views=views)
    assert bytes(r.read()) == b"" and bytes(r.read(5)) == b"" and bytes(r.read1()) == b""
    assert bytes(r.readline()) == b"" and r.readlines() == [] and list(r) == []
    assert r.readinto(bytearray(3)) == 0 and r.tell() == 0
    assert r.seek(10) == 10 and bytes(r.read()) == b"" and r.tell() == 10
    assert r.seek(-3, 2) == 0 and bytes(r.getvalue()) == b"" and bytes(r.peek()) == b""
    assert list(r.lines()) == [] and r.readall() == b""


def test_seek_patterns_exhaustive():
    # every (start position, offset, whence) over a small buffer, then every read
    content = b"ab\ncd\n\nef"
    n = len(content)
    for start in range(n + 3):
        for off in range(-n - 3, n + 4):
            for whence in (0, 1, 2):
                r, o = MemoryReader(bytearray(content)), io.BytesIO(content)
                assert r.seek(start) == o.seek(start)
                got, want = outcome(r, ("seek", off, whence), True), outcome(o, ("seek", off, whence), True)
                assert got == want
                assert r.tell() == o.tell()
                for op in (("read", 2), ("readline", -1), ("read", -1)):
                    assert outcome(r, op, True) == outcome(o, op, True)


@pytest.mark.parametrize("typecode", ["H", "i", "d"])
def test_other_formats_read_as_raw_bytes(typecode):
    a = array.array(typecode, range(7))
    raw = a.tobytes()
    r, o = MemoryReader(a), io.BytesIO(a)
    assert r.read(5) == o.read(5) and r.readline() == o.readline()
    d1, d2 = array.array(typecode, [0] * 3), array.array(typecode, [0] * 3)
    r.seek(1), o.seek(1)
    assert r.readinto(d1) == o.readinto(d2) == d1.itemsize * 3 and d1 == d2
    assert r.getvalue() == raw


def test_readinto_errors_and_noncontiguous():
    r, o = MemoryReader(b"abcdef"), io.BytesIO(b"abcdef")
    for bad in (b"xx", memoryview(bytearray(8))[::2], 5, "str", memoryview(b"ro")):
        with pytest.raises(TypeError) as e:
            o.readinto(bad)
        want = (type(e.value), str(e.value))
        with pytest.raises(want[0]) as exc:
            r.readinto(bad)
        assert str(exc.value) == want[1]
    assert r.tell() == 0  # nothing moved


def test_readinto_from_the_same_buffer_overlapping():
    buf = bytearray(b"0123456789")
    r = MemoryReader(buf)
    r.seek(2)
    assert r.readinto(memoryview(buf)[4:9]) == 5  # reads 2..6 into 4..8
    ref = bytearray(b"0123456789")
    ref[4:9] = bytes(ref[2:7])
    assert buf == ref and r.tell() == 7


def test_results_are_views_on_the_buffer_not_copies():
    buf = bytearray(b"hello\nworld\n")
    r = MemoryReader(buf)
    line = r.readline()
    rest = r.read()
    assert type(line) is View and line.obj is buf and (line.start, line.stop) == (0, 6)
    assert rest.obj is buf and (rest.start, rest.stop) == (6, 12)
    buf[0:5] = b"HELLO"  # in place: shows through
    assert line == b"HELLO\n"
    whole = r.getbuffer()
    assert type(whole) is View and whole.obj is buf and len(whole) == 12 and not whole.readonly
    # inside a window of a larger buffer the views are windows of the same object
    big = bytes(range(100))
    r = MemoryReader(View(big, 10, 20))
    v = r.read(3)
    assert v.obj is big and (v.start, v.stop) == (10, 13)


def test_bytes_mode_reads_all_of_a_bytes_object_without_copy():
    data = b"x" * 1000
    assert MemoryReader(data, views=False).read() is data
    assert MemoryReader(data, views=False).getvalue() is data
    assert MemoryReader(data).readall() is data
    r = MemoryReader(data, views=False)
    r.read(1)
    assert r.read() == data[1:]
    m = MemoryReader(bytearray(b"ab"), views=False).getbuffer()
    assert type(m) is memoryview and not m.readonly


def test_lines_fast_path():
    for content in (b"", b"\n", b"a", b"a\n", b"a\nb", b"a\n\nb\n\n", b"x\r\ny\rz\n", b"\n\n\n",
                    b"\r\n\r", b"a\r\nb\r", b"\r\r\n"):
        for start in range(len(content) + 2):
            for views in (True, False):
                r = MemoryReader(bytearray(content), views=views)
                r.seek(start)
                rest = content[start:]
                pieces = rest.split(b"\n")
                want = pieces[:-1] if rest.endswith(b"\n") else pieces
                if not rest:
                    want = []
                # a b"\r\n" ending goes whole (Reader.lines(), splitlines);
                # the unterminated last line keeps a b"\r"
                ended = len(pieces) - 1
                want = [x[:-1] if i < ended and x.endswith(b"\r") else x for i, x in enumerate(want)]
                got = r.lines()
                assert r.tell() == max(start, len(content))  # took the rest at once
                assert [bytes(x) for x in got] == want
                r.seek(start)
                assert [bytes(x) for x in r.lines(keepends=True)] == io.BytesIO(rest).readlines()
                for keepends in (False, True):
                    r.seek(start)
                    seen = []
                    last = None
                    for x in r.lines(keepends, reuse=True):
                        assert type(x) is View
                        # one View, retargeted (its id kept: a second name
                        # holding it would make the iterator leave it alone)
                        assert last is None or id(x) == last
                        last = id(x)
                        seen.append(bytes(x))
                    r.seek(start)
                    assert seen == [bytes(x) for x in r.lines(keepends)]


INTERLEAVE_CONTENT = b"first\nsecond\n\nfourth line\r\nno end"


def _interleave(f):
    """One script of iteration, readline, seek, tell, read and readlines on
    a file; returns what it saw, as bytes."""
    seen = []
    for line in f:  # a loop that stops, and the reads that go on after it
        seen.append(bytes(line))
        break
    seen += [f.tell(), bytes(f.readline()), f.tell(), bytes(f.read(2)), f.tell()]
    for line in f:  # picks up where read(2) stopped: the rest of that line
        seen.append(bytes(line))
        seen.append(bytes(f.readline()))  # the body moves the same position
        seen.append(f.tell())
    seen += [f.tell(), bytes(f.readline()), [bytes(x) for x in f]]
    f.seek(3)
    seen += [bytes(next(f)), f.tell(), bytes(f.readline(4)), f.tell()]
    seen += [[bytes(x) for x in f.readlines(1)], f.tell()]
    seen += [[bytes(x) for x in f.readlines(8)], f.tell()]
    f.seek(-4, 2)
    seen += [bytes(next(f)), f.tell()]
    f.seek(100)
    seen += [[bytes(x) for x in f], f.readlines(), bytes(f.readline()), f.tell()]
    f.seek(0)
    it = iter(f)
    assert it is f
    seen += [bytes(next(it)), bytes(f.read1(3)), bytes(next(it)), f.tell()]
    return seen


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("views", [True, False])
def test_iteration_readline_seek_tell_read_interleaved(kind, views):
    """Iteration, readline, readlines, read and seek move one position:
    after breaking out of a loop, tell() and read() go on exactly where
    io.BytesIO's do."""
    r = MemoryReader(make_buffer(kind, INTERLEAVE_CONTENT), views=views)
    assert _interleave(r) == _interleave(io.BytesIO(INTERLEAVE_CONTENT))


@pytest.mark.parametrize("views", [True, False])
def test_iteration_is_the_c_slot(views):
    """iter(r) is r, and the loop calls the C base class's slot directly
    (no Python __next__ in between): the methods called per line are
    _MemCursor's."""
    from nocopy._core import _MemCursor
    r = MemoryReader(b"a\nb\n", views=views)
    assert iter(r) is r
    assert MemoryReader.__mro__[1] is _MemCursor
    for name in ("__next__", "__iter__", "readline", "readlines", "read", "read1"):
        assert getattr(MemoryReader, name) is _MemCursor.__dict__[name], name
    assert [bytes(x) for x in r] == [b"a\n", b"b\n"]
    # a subclass may still override them in Python
    class Upper(MemoryReader):
        def __next__(self):
            return bytes(super().__next__()).upper()

    assert list(Upper(b"a\nb")) == [b"A\n", b"B"]


def test_c_methods_argument_errors_like_bytesio():
    r, o = MemoryReader(b"ab\ncd"), io.BytesIO(b"ab\ncd")
    for meth in ("read", "read1", "readline", "readlines"):
        for args in ((1, 2), ("x",), (1.5,), (2 ** 64,), (-2 ** 64,), ([],)):
            try:
                getattr(o, meth)(*args)
                want = None
            except Exception as e:
                want = type(e)
            try:
                getattr(r, meth)(*args)
                got = None
            except Exception as e:
                got = type(e)
            assert got is want, (meth, args, got, want)
    assert r.tell() == o.tell() == 0
    with pytest.raises(TypeError, match="integer or None, not 'str'"):
        r.readline("x")
    with pytest.raises(TypeError, match="integer argument expected, got 'float'"):
        r.readlines(1.0)
    with pytest.raises(OverflowError):
        r.read(2 ** 64)
    # the state attributes refuse what would break them
    with pytest.raises(ValueError):
        r._pos = -1
    with pytest.raises(TypeError):
        r._pos = 1.0
    with pytest.raises(TypeError):
        r._view = b"not a View"
    with pytest.raises(AttributeError):
        r._len = 3
    assert r.tell() == 0 and r.read() == b"ab\ncd"


def test_reader_in_a_cycle_is_collected():
    import weakref
    buf = bytearray(b"one\ntwo\n")
    r = MemoryReader(buf)
    next(r)
    r.me = r
    wr = weakref.ref(r)
    del r
    gc.collect()
    assert wr() is None
    buf.append(0)  # the export went with it


def test_repr_and_views_flag():
    r = MemoryReader(b"abc")
    assert r.views is True and MemoryReader(b"", views=False).views is False
    assert "pos=0 size=3" in repr(r)
    r.close()
    assert "closed" in repr(r)


def test_construct_errors():
    with pytest.raises(TypeError):
        MemoryReader("text")
    with pytest.raises(TypeError):
        MemoryReader(123)
    with pytest.raises(BufferError):
        MemoryReader(memoryview(bytearray(8))[::2])
    gc.collect()  # the finalizer of a half-built reader runs close() quietly

    class Sub(MemoryReader):
        def __init__(self, buf):
            try:
                super().__init__(buf)
            except TypeError:
                pass

    half = Sub("text")
    assert half.closed and "closed" in repr(half)
    with pytest.raises(ValueError, match="closed file"):
        half.read()


def test_stub_covers_nocopy_io():
    """src/nocopy/io.pyi names every public function and class of nocopy.io
    and every public method of its classes."""
    import ast
    import inspect
    import pathlib
    import nocopy.io as mod
    tree = ast.parse((pathlib.Path(mod.__file__).with_suffix(".pyi")).read_text())
    stub = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            # methods, and the per-instance bound C methods typed as
            # callable attributes (Reader.read_exact: _ReadExact)
            stub[node.name] = ({n.name for n in node.body if isinstance(n, ast.FunctionDef)}
                               | {n.target.id for n in node.body if isinstance(n, ast.AnnAssign)
                                  and isinstance(n.target, ast.Name)})
        elif isinstance(node, ast.FunctionDef):
            stub[node.name] = set()
    assert set(mod.__all__) <= set(stub)
    for name in mod.__all__:
        obj = getattr(mod, name)
        if not inspect.isclass(obj):
            continue
        public = {k for k, v in vars(obj).items()
                  if callable(v) or isinstance(v, property)} - {"__init__", "__repr__",
                                                                  "__del__", "__reduce_ex__"}
        public = {k for k in public if not k.startswith("_") or k in ("__iter__", "__next__",
                                                                       "__enter__", "__exit__")}
        # read-only refusals are io.BufferedIOBase's signatures
        public -= {"write", "writelines", "truncate"}
        assert public <= stub[name], (name, public - stub[name])
    # Reader/Writer bind some methods per instance (the ByteBuffer's C methods)
    assert {"read_exact", "readline"} <= stub["Reader"] and "write" in stub["Writer"]


def test_isinstance_and_protocol():
    r = MemoryReader(b"x")
    assert isinstance(r, io.BufferedIOBase) and isinstance(r, io.IOBase)
    assert r.readable() and r.seekable() and not r.writable() and not r.isatty()
    for meth, args in (("write", (b"x",)), ("truncate", ()), ("writelines", ([b"x"],)),
                       ("fileno", ()), ("detach", ())):
        with pytest.raises(io.UnsupportedOperation):
            getattr(r, meth)(*args)
    with pytest.raises(TypeError):
        pickle.dumps(r)


def test_closed_file_errors_exactly_like_bytesio():
    r, o = MemoryReader(b"abc"), io.BytesIO(b"abc")
    r.close(), o.close()
    r.close()  # idempotent
    calls = [("read", ()), ("read1", ()), ("readline", ()), ("readlines", ()), ("tell", ()),
             ("seek", (0,)), ("readable", ()), ("seekable", ()), ("writable", ()),
             ("getbuffer", ()), ("getvalue", ()), ("isatty", ()), ("flush", ()),
             ("__next__", ()), ("__enter__", ()), ("readinto", (bytearray(2),)),
             ("readinto1", (bytearray(2),)), ("write", (b"x",)), ("truncate", ())]
    for meth, args in calls:
        with pytest.raises(ValueError) as want:
            getattr(o, meth)(*args)
        with pytest.raises(ValueError) as got:
            getattr(r, meth)(*args)
        assert str(got.value) == str(want.value) == "I/O operation on closed file.", meth
    for meth in ("peek", "readall", "lines"):
        with pytest.raises(ValueError, match=r"^I/O operation on closed file\.$"):
            getattr(r, meth)()
    assert iter(r) is r  # like BytesIO: iter() succeeds, next() raises
    with pytest.raises(ValueError):
        for _ in r:
            pass


# ---- pinning ---------------------------------------------------------------------

def test_buffer_pinned_while_open_and_views_stay_valid_after_close():
    buf = bytearray(b"line one\nline two\n")
    with MemoryReader(buf) as r:
        with pytest.raises(BufferError):
            buf.append(0)
        first = r.readline()
    assert r.closed
    # the View read before close keeps its own export: valid, still pinning
    assert first == b"line one\n"
    with pytest.raises(BufferError):
        buf.append(0)
    del first
    buf.append(0)  # unpinned once the last View went
    assert len(buf) == 19


def test_close_unpins_without_views():
    buf = bytearray(100)
    r = MemoryReader(buf)
    r.read(10)  # result dropped
    with pytest.raises(BufferError):
        buf.extend(b"x")
    r.close()
    buf.extend(b"x")


def test_mmap_pinned():
    mm = mmap.mmap(-1, 4096)
    mm[:5] = b"hello"
    r = MemoryReader(mm)
    assert r.read(5) == b"hello"
    with pytest.raises(BufferError):
        mm.close()
    r.close()
    gc.collect()
    mm.close()


def test_reader_over_a_view_survives_the_view_release():
    buf = bytearray(b"abcdef")
    v = View(buf, 1, 5)
    r = MemoryReader(v)
    v.release()
    assert r.read() == b"bcde"
    with pytest.raises(BufferError):
        buf.append(0)
    r.close()


# ---- hostile Python ----------------------------------------------------------------

class Hostile:
    """An __index__ that acts on the reader before answering."""

    def __init__(self, action, n):
        self.action, self.n = action, n

    def __index__(self):
        self.action()
        return self.n


@pytest.mark.parametrize("meth", ["read", "read1", "readline", "peek", "seek"])
def test_index_that_closes_the_reader(meth):
    buf = bytearray(b"a\nb\nc\n")
    r = MemoryReader(buf)
    with pytest.raises(ValueError, match="closed file"):
        getattr(r, meth)(Hostile(r.close, 2))
    buf.append(0)  # unpinned: nothing kept the export


@pytest.mark.parametrize("meth", ["read", "read1", "readline", "peek"])
def test_index_that_seeks_reads_from_the_new_position(meth):
    content = b"0123\n4567\n89\n"
    r, o = MemoryReader(content), io.BytesIO(content)
    got = getattr(r, meth)(Hostile(lambda: r.seek(5), 3))
    want = getattr(o, meth)(Hostile(lambda: o.seek(5), 3)) if meth != "peek" else content[5:8]
    assert bytes(got) == bytes(want)
    assert r.tell() == (5 if meth == "peek" else o.tell())


def test_finalizer_closing_the_reader_mid_call():
    """A GC run by any allocation inside a method may close the reader; the
    method finishes on live memory (it holds its own reference) and the
    reader is closed afterwards, never a crash nor foreign bytes."""
    content = b"".join(b"line %d\n" % i for i in range(200))

    class Closer:
        def __init__(self, r):
            self.r = r
            self.me = self  # a cycle: only the collector frees it

        def __del__(self):
            self.r.close()

    calls = {
        "read": lambda r: r.read(),
        "read_n": lambda r: r.read(30),
        "readline": lambda r: r.readline(),
        "readlines": lambda r: r.readlines(),
        "peek": lambda r: r.peek(),
        "getvalue": lambda r: r.getvalue(),
        "getbuffer": lambda r: r.getbuffer(),
        "next": next,
        "readinto": lambda r: (lambda d: d[:r.readinto(d)])(bytearray(20)),
        "lines": lambda r: list(r.lines()),
        "lines_keepends": lambda r: list(r.lines(True)),
    }
    old = gc.get_threshold()
    try:
        for meth, call in calls.items():
            buf = bytearray(content)
            r = MemoryReader(buf)
            r.seek(7)
            Closer(r)
            gc.set_threshold(1)  # the next GC-tracked allocation collects
            try:
                res = call(r)
            except ValueError as e:
                assert str(e) == "I/O operation on closed file."
                res = None
            finally:
                gc.set_threshold(*old)
            gc.collect()
            assert r.closed
            if res is not None and meth in ("getvalue", "getbuffer"):
                assert res == content  # the whole buffer, whatever the position
            elif res is not None:
                for piece in (res if type(res) is list else [res]):
                    # bytes of the buffer, after the position
                    assert piece and content.find(bytes(piece), 7) >= 7
                del piece
            del res
            buf.append(0)  # nothing left pinned
    finally:
        gc.set_threshold(*old)


CLOSE_MID_CALL = {
    # the Python methods that call C after their closed test, in each mode.
    # readline, readlines, iteration, read and read1 are C (memcursor.c): a
    # close in the middle of those comes from a collection inside their own
    # allocations, tested in test_hostile_memreader.py.
    "readinto": lambda r: (lambda d: d[:r.readinto(d)])(bytearray(20)),
    "lines": lambda r: list(r.lines()),
    "lines_keepends": lambda r: list(r.lines(True)),
}


@pytest.mark.parametrize("views", [True, False])
@pytest.mark.parametrize("meth", sorted(CLOSE_MID_CALL))
def test_close_from_the_first_c_call_inside_a_method(meth, views):
    """Deterministic form of the finalizer test: a profile hook closes the
    reader at the first C call the method makes after its closed test.  The
    method finishes on the buffer (it holds its own reference) and returns
    the right bytes; the reader is closed after."""
    import nocopy._memreader as impl
    content = b"".join(b"line %d\n" % i for i in range(50))
    buf = bytearray(content)
    r = MemoryReader(buf, views=views)
    r.seek(7)
    want_oracle = io.BytesIO(content)
    want_oracle.seek(7)
    want = {"readinto": lambda o: o.read(20),
            "lines": lambda o: o.read().split(b"\n")[:-1],
            "lines_keepends": lambda o: o.readlines()}[meth](want_oracle)
    hits = []

    def prof(frame, event, arg):
        if event == "c_call" and frame.f_code.co_filename == impl.__file__ and not r.closed:
            hits.append(getattr(arg, "__name__", "?"))  # not arg: it may hold a View
            r.close()

    sys.setprofile(prof)
    try:
        res = CLOSE_MID_CALL[meth](r)
    finally:
        sys.setprofile(None)
    assert hits and r.closed
    norm = [bytes(x) for x in res] if type(res) is list else bytes(res)
    assert norm == want
    del res
    buf.append(0)  # the reader's export went with close(); nothing else pins it


# ---- stdlib consumers ---------------------------------------------------------------

MEMBERS = {
    "deflated.txt": (b"hello zip\n" * 500, zipfile.ZIP_DEFLATED),
    "stored.bin": (bytes(range(256)) * 20, zipfile.ZIP_STORED),
    "lines.txt": (b"".join(b"row %d\n" % i for i in range(300)), zipfile.ZIP_STORED),
    "bz.txt": (b"bzip2 " * 300, zipfile.ZIP_BZIP2),
    "dir/empty": (b"", zipfile.ZIP_DEFLATED),
}


def zip_bytes():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, (data, method) in MEMBERS.items():
            z.writestr(name, data, compress_type=method)
    return out.getvalue()


@pytest.mark.parametrize("kind", ["bytes", "bytearray", "view_bytearray", "mmap"])
@pytest.mark.parametrize("views", [True, False])
def test_zipfile(kind, views):
    r = MemoryReader(make_buffer(kind, zip_bytes()), views=views)
    with zipfile.ZipFile(r) as z:
        assert z.testzip() is None
        assert sorted(z.namelist()) == sorted(MEMBERS)
        for name, (data, _) in MEMBERS.items():
            assert z.read(name) == data
        with z.open("deflated.txt") as m:  # decompressed output: bytes in both modes
            assert m.readline() == b"hello zip\n" and len(list(m)) == 499
        with z.open("stored.bin") as m:
            m.seek(300)
            assert m.read(10) == (bytes(range(256)) * 20)[300:310]
        if not views:
            with z.open("lines.txt") as m:
                assert [type(x) for x in m] == [bytes] * 300
                m.seek(0)
                assert m.readline() == b"row 0\n"


def test_zipfile_stored_member_lines_need_bytes_mode():
    """Documented limit of views=True: a stored member hands the reader's
    Views through, and io.BufferedIOBase.readline (zipfile's readline)
    demands bytes from peek().  views=False is the mode for stdlib
    consumers; the test above shows it works."""
    with zipfile.ZipFile(MemoryReader(zip_bytes())) as z, z.open("lines.txt") as m:
        with pytest.raises(OSError, match="peek"):
            m.readline()


def tar_bytes():
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as t:
        for name, data in (("a.txt", b"alpha\n" * 100), ("b.bin", bytes(range(256)) * 9),
                           ("empty", b"")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return out.getvalue()


@pytest.mark.parametrize("compress", [None, "gz"])
@pytest.mark.parametrize("mode", ["r", "r:*", "r|*"])
@pytest.mark.parametrize("views", [True, False])
def test_tarfile(compress, mode, views):
    raw = tar_bytes()
    data = gzip.compress(raw) if compress else raw
    if mode == "r" and compress:
        mode = "r:gz"
    with tarfile.open(fileobj=MemoryReader(bytearray(data), views=views), mode=mode) as t:
        got = {}
        for m in t:
            got[m.name] = t.extractfile(m).read()
    assert got == {"a.txt": b"alpha\n" * 100, "b.bin": bytes(range(256)) * 9, "empty": b""}


OBJ = {"ints": list(range(100)), "big": 10 ** 50, "text": "héllo" * 50, "blob": b"\x00\xff" * 5000,
       "ba": bytearray(b"z" * 70000), "nested": [{"t": (1, 2.5, None, True)}] * 3, "set": {1, 2}}


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
@pytest.mark.parametrize("views", [True, False])
def test_pickle_load(protocol, views):
    data = pickle.dumps(OBJ, protocol=protocol) + pickle.dumps([1, "two"], protocol=protocol) + b"tail"
    r = MemoryReader(bytearray(data), views=views)
    assert pickle.load(r) == OBJ
    assert pickle.load(r) == [1, "two"]  # the position is right after each pickle
    assert r.read() == b"tail"
    if not views:
        # the pure-Python Unpickler demands bytes (it asserts on read()'s type)
        r = MemoryReader(bytearray(data), views=False)
        assert pickle._Unpickler(r).load() == OBJ


def test_pickle_protocol5_out_of_band():
    buffers = []
    data = pickle.dumps([pickle.PickleBuffer(bytearray(b"oob" * 1000)), OBJ], protocol=5,
                        buffer_callback=buffers.append)
    got = pickle.load(MemoryReader(data), buffers=buffers)
    assert bytes(got[0]) == b"oob" * 1000 and got[1] == OBJ


def test_pure_python_unpickler_needs_bytes_mode():
    """Documented limit of views=True: pickle._Unpickler asserts that read()
    returned bytes or bytearray."""
    with pytest.raises(AssertionError):
        pickle._Unpickler(MemoryReader(pickle.dumps(OBJ))).load()


@pytest.mark.parametrize("views", [True, False])
def test_json_through_text_wrapper(views):
    doc = {"a": [1, 2.5, "é", None], "b": {"c": "x" * 10000}}
    raw = json.dumps(doc, ensure_ascii=False).encode()
    with io.TextIOWrapper(MemoryReader(bytearray(raw), views=views), encoding="utf-8") as t:
        assert json.load(t) == doc
    # line by line with tell(): TextIOWrapper's snapshot concatenates read1()'s chunks
    lines = b"".join(json.dumps({"i": i}).encode() + b"\n" for i in range(500))
    t = io.TextIOWrapper(MemoryReader(lines, views=views), encoding="utf-8")
    got = []
    while True:
        line = t.readline()
        if not line:
            break
        got.append(json.loads(line))
        pos = t.tell()
    assert got == [{"i": i} for i in range(500)] and pos == len(lines)
    t.seek(0)
    assert json.loads(t.readline()) == {"i": 0}


def test_json_load_direct():
    raw = json.dumps(OBJ["nested"]).encode()
    assert json.load(MemoryReader(raw, views=False)) == json.loads(raw)
    # json.loads accepts str, bytes and bytearray only: a View is refused
    with pytest.raises(TypeError, match="View"):
        json.load(MemoryReader(raw))


@pytest.mark.parametrize("buffer_size", [7, 8192])
@pytest.mark.parametrize("views", [True, False])
def test_buffered_reader(buffer_size, views):
    content = b"".join(b"record %d\n" % i for i in range(1000))
    b = io.BufferedReader(MemoryReader(bytearray(content), views=views), buffer_size)
    o = io.BytesIO(content)
    assert b.read(5) == o.read(5)
    assert b.readline() == o.readline()
    assert b.peek(1)[:1] == content[o.tell():o.tell() + 1]
    assert b.seek(100) == o.seek(100) and b.read(50) == o.read(50)
    assert b.seek(-20, 2) == o.seek(-20, 2) and b.tell() == o.tell()
    b.seek(0), o.seek(0)
    assert list(b) == list(io.BytesIO(content))
    b.seek(3), o.seek(3)
    assert b.read() == o.read()  # read(): raw.readall(), which must be bytes
    d1, d2 = bytearray(33), bytearray(33)
    b.seek(9), o.seek(9)
    assert b.readinto(d1) == o.readinto(d2) and d1 == d2


@pytest.mark.parametrize("views", [True, False])
def test_nocopy_reader_over_memory_reader(views):
    frames = b"".join(len(p).to_bytes(2, "big") + p for p in (b"x" * n for n in range(0, 300, 7)))
    lines = b"".join(b"line %d\n" % i for i in range(400))
    r = Reader(MemoryReader(bytearray(lines), views=views), buffer_size=64)
    assert [bytes(x) for x in r] == io.BytesIO(lines).readlines()
    r = Reader(MemoryReader(bytearray(lines), views=views), buffer_size=64)
    assert [bytes(x) for x in r.lines()] == lines.split(b"\n")[:-1]
    r = Reader(MemoryReader(frames, views=views), buffer_size=64)
    got = []
    while not r.at_eof:
        try:
            n = int.from_bytes(r.read_exact(2), "big")
        except IncompleteRead as e:
            assert e.partial == b""
            break
        got.append(bytes(r.read_exact(n)))
    assert got == [b"x" * n for n in range(0, 300, 7)]
    r = Reader(MemoryReader(frames, views=views), buffer_size=64)
    big = r.read_exact(200)  # past the capacity: straight from the source
    assert big == frames[:200]
    with pytest.raises(IncompleteRead) as e:
        r.read_exact(len(frames))
    assert e.value.partial == frames[200:]


def test_read_chunks_and_read_into():
    data = bytes(range(256)) * 100
    assert read_chunks(MemoryReader(data), 1000) == data
    r = MemoryReader(data)
    d = bytearray(300)
    assert read_into(r, d) == 300 and d == data[:300] and r.tell() == 300


def test_gzip_and_csv():
    import csv
    raw = b"a,b\r\n1,2\r\n3,\"x,y\"\r\n"
    with gzip.GzipFile(fileobj=MemoryReader(gzip.compress(raw))) as g:
        assert g.read() == raw
    t = io.TextIOWrapper(MemoryReader(raw), encoding="ascii", newline="")
    assert list(csv.reader(t)) == [["a", "b"], ["1", "2"], ["3", "x,y"]]
