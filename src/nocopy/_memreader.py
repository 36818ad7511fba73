"""MemoryReader: a readable, seekable binary file over any buffer, without
copying it (re-exported as ``nocopy.io.MemoryReader``).

Ownership: the reader holds one View of the buffer while it is open (one
buffer export: a bytearray under it cannot be resized, an mmap cannot be
closed).  Every View it hands out is a sub-view sharing that export's
holder, so it stays valid after close(), and keeps the buffer pinned until
it goes.  close() drops the reader's own reference instead of calling
View.release(): a method interrupted by a finalizer that closes the reader
(any allocation can run one) still holds its local reference and finishes
on live memory; the export goes when that last reference does.

The methods follow io.BytesIO: same arguments (checked first, before the
closed test, as Argument Clinic does), same results, same exception types,
same messages where the caller can see them.

The View, the position and the methods called per line or per read
(iteration, readline, readlines, read, read1) live in the C base class
nocopy._core._MemCursor (memcursor.c), so `for line in r` calls C straight
from the loop as io.BytesIO's does, and iter(r) is r.  The Python methods
here read and move the same state through its _view, _pos, _len and _views
attributes: one position, whichever method moved it.
"""
import io as _io
import operator as _operator
import sys as _sys

from ._core import View, _MemCursor

__all__ = ["MemoryReader"]

_MAX = _sys.maxsize
_MIN = -_sys.maxsize - 1
_CLOSED = "I/O operation on closed file."
_NL = 10  # b"\n" as an int: View.find takes a single byte as an int (memchr)


def _closed():
    return ValueError(_CLOSED)


def _size_arg(size):
    """An optional size as io.BytesIO takes it: None or an integer (-1: no
    limit), OverflowError past Py_ssize_t."""
    if size is None:
        return -1
    if type(size) is not int:
        if not hasattr(type(size), "__index__"):
            raise TypeError(f"argument should be integer or None, not '{type(size).__name__}'")
        size = _operator.index(size)
    if size > _MAX or size < _MIN:
        raise OverflowError("cannot fit 'int' into an index-sized integer")
    return size


def _index_arg(n, what="Py_ssize_t"):
    if type(n) is not int:
        n = _operator.index(n)  # TypeError: "'float' object cannot be interpreted as an integer"
    if what == "int":
        if not -(1 << 31) <= n < (1 << 31):
            raise OverflowError("Python int too large to convert to C int")
    elif n > _MAX or n < _MIN:
        raise OverflowError("Python int too large to convert to C ssize_t")
    return n


def _writable_window(b, meth):
    """A writable View of the destination buffer b (any writable C-contiguous
    buffer; raw bytes whatever its format)."""
    if type(b) is View:
        dst = b
    else:
        try:
            dst = View(b)
        except (TypeError, BufferError):
            dst = None
    if dst is None or dst.readonly:
        raise TypeError(f"{meth}() argument must be read-write bytes-like object, "
                        f"not {type(b).__name__}")
    return dst


class MemoryReader(_MemCursor, _io.BufferedIOBase):
    """MemoryReader(buf=b"", *, views=True): a readable, seekable binary file
    over the bytes of buf (any C-contiguous buffer: bytes, bytearray,
    memoryview, mmap, array, View; other formats are read as raw bytes),
    without copying it.  O(1) to construct, whatever the size (io.BytesIO
    copies a bytearray or memoryview it is given).

    Results: with views=True (the default) every method that io.BytesIO
    answers with bytes (read, read1, readline, readlines, iteration, peek,
    getvalue) or a memoryview (getbuffer) answers with a View of buf
    instead: O(1), no copy.  With views=False they return exactly
    io.BytesIO's types, bytes (one copy of the bytes returned; a read of all
    of a bytes object returns that object) and memoryview, for consumers
    that demand bytes (pickle's pure-Python Unpickler, json.load without a
    text wrapper).  readinto()/readinto1() copy into the caller's buffer in
    both modes; readall() always returns bytes (io.BufferedReader demands
    them of its raw file).

    Views read from a mutable buffer show its current bytes: a later
    in-place write to the bytearray shows through them.

    Pinning: buf is pinned (one buffer export) while the reader is open; a
    bytearray cannot be resized, an mmap cannot be closed (BufferError).
    close() or ``with`` gives it back; Views read before stay valid after
    close(), and pin buf themselves until they go.

    Every other method follows io.BytesIO: seeking past the end is allowed
    (reads there return empty), a negative absolute seek raises ValueError,
    a relative one clamps at 0; after close() every method raises
    ValueError("I/O operation on closed file.").  It is read-only: write(),
    truncate() raise io.UnsupportedOperation, fileno() too.  Not for
    concurrent use from several threads (the position is not locked)."""

    def __init__(self, buf=b"", *, views=True):
        # a View(buf) that raises leaves a closed reader for the finalizer
        # (close()) and repr()
        self._view = None
        self._views = views
        self._pos = 0
        view = View(buf)
        obj = view.obj
        # bytes mode over an exact bytes object: slice it (one copy, or none
        # for the whole object, which bytes slicing returns as is)
        self._bytes = obj if type(obj) is bytes else None
        self._off = view.start
        self._view = view

    # ---- the helpers every read goes through --------------------------------

    def _out(self, v, p, e):
        """The result for bytes [p, e) of the window v: a View, or bytes."""
        if self._views:
            return v[p:e]
        b = self._bytes
        if b is not None:
            off = self._off
            return b[off + p:off + e]
        return v[p:e].tobytes()

    # ---- reading ------------------------------------------------------------

    def readall(self):
        """The rest as bytes (a copy; the whole object, no copy, when it is a
        bytes object read from 0): the raw-file method io.BufferedReader calls
        for read(), and requires to return bytes."""
        v = self._view
        if v is None:
            raise _closed()
        p = self._pos
        n = len(v)
        if p >= n:
            return b""
        self._pos = n
        b = self._bytes
        if b is not None:
            off = self._off
            return b[off + p:off + n]
        return v[p:n].tobytes()

    def readinto(self, b, /):
        """Copy up to len(b) bytes into the writable buffer b (raw bytes of
        any format), move past them and return the count (0 at or past the
        end).  O(count): one memmove, no other copy."""
        return self._readinto(b, "readinto")

    def readinto1(self, b, /):
        """readinto(b)."""
        return self._readinto(b, "readinto1")

    def _readinto(self, b, meth):
        dst = _writable_window(b, meth)
        v = self._view
        if v is None:
            raise _closed()
        p = self._pos
        if p >= len(v):
            return 0
        # memmove: b may be the very buffer the reader reads from
        n = dst.copy_from(v[p:p + len(dst)])
        self._pos = p + n
        return n

    def lines(self, keepends=False, *, reuse=False):
        """An iterator over the remaining lines as Views (without b"\\n"
        unless keepends; without, a b"\\r\\n" ending is dropped whole, as
        bytes.splitlines() does, and a lone b"\\r" is data), split on
        b"\\n" only, as Reader.lines().  It takes
        the rest of the file at once: the position moves to the end now.
        The loop runs in C (View.itersplit; with keepends, View.iterlines
        after one memchr shows no b"\\r" in the rest, else a Python loop);
        reuse=True yields the same View every step, retargeted: no
        allocation per line, copy what you keep.  Views in both modes.
        Iterating the reader itself (C, as fast as io.BytesIO's) moves the
        position line by line instead, so a loop can stop and read on."""
        v = self._view
        if v is None:
            raise _closed()
        p = self._pos
        n = len(v)
        if p >= n:
            return iter(())
        self._pos = n
        rest = v[p:n]
        if keepends:
            if rest.find(13) < 0:
                # without b"\r", splitlines' line ends are b"\n" alone: the C loop
                return rest.iterlines(True, reuse=reuse)
            return _lines_keepends(rest, reuse)
        terminated = rest[-1] == _NL
        if terminated:
            # the final b"\n" ends the last line; itersplit would yield one
            # more, empty, piece after it
            rest = rest[:-1]
        if rest.find(13) < 0:
            return rest.itersplit(b"\n", reuse=reuse)
        return _lines_crlf(rest, terminated, reuse)

    def peek(self, size=0, /):
        """Up to size bytes after the position (size <= 0: all of them),
        without moving it.  A View (O(1)), or bytes with views=False."""
        size = _size_arg(size)
        v = self._view
        if v is None:
            raise _closed()
        p = self._pos
        n = len(v)
        if p >= n:
            return v[0:0] if self._views else b""
        e = n if size <= 0 or size >= n - p else p + size
        return self._out(v, p, e)

    # ---- position -----------------------------------------------------------

    def seek(self, pos, whence=0, /):
        """Move to pos relative to the start (whence 0, pos >= 0), the
        position (1) or the end (2); past the end is allowed, a relative
        position before the start clamps at 0.  Returns the new position.
        O(1)."""
        pos = _index_arg(pos)
        whence = _index_arg(whence, "int")
        v = self._view
        if v is None:
            raise _closed()
        if whence == 0:
            if pos < 0:
                raise ValueError(f"negative seek value {pos}")
        elif whence == 1:
            if pos > _MAX - self._pos:
                raise OverflowError("new position too large")
            pos += self._pos
        elif whence == 2:
            n = len(v)
            if pos > _MAX - n:
                raise OverflowError("new position too large")
            pos += n
        else:
            raise ValueError(f"invalid whence ({whence}, should be 0, 1 or 2)")
        if pos < 0:
            pos = 0
        self._pos = pos
        return pos

    def tell(self):
        """The position (may be past the end after a seek).  O(1)."""
        if self._view is None:
            raise _closed()
        return self._pos

    # ---- the whole buffer ---------------------------------------------------

    def getbuffer(self):
        """The whole buffer, whatever the position: a View (O(1)), or a
        memoryview with views=False (as io.BytesIO).  Writable when buf is.
        It pins buf itself, after close() too, until released."""
        v = self._view
        if v is None:
            raise _closed()
        whole = v[0:len(v)]
        return whole if self._views else memoryview(whole)

    def getvalue(self):
        """The whole buffer, whatever the position: a View (O(1)), or bytes
        (a copy, none for a bytes object) with views=False."""
        v = self._view
        if v is None:
            raise _closed()
        return self._out(v, 0, len(v))

    # ---- the file protocol --------------------------------------------------

    def readable(self):
        if self._view is None:
            raise _closed()
        return True

    def seekable(self):
        if self._view is None:
            raise _closed()
        return True

    def writable(self):
        if self._view is None:
            raise _closed()
        return False

    def write(self, buffer, /):
        if self._view is None:
            raise _closed()
        raise _io.UnsupportedOperation("write: MemoryReader is read-only")

    def writelines(self, lines, /):
        if self._view is None:
            raise _closed()
        raise _io.UnsupportedOperation("writelines: MemoryReader is read-only")

    def truncate(self, size=None, /):
        if self._view is None:
            raise _closed()
        raise _io.UnsupportedOperation("truncate: MemoryReader is read-only")

    def close(self):
        """Unpin the buffer (Views already read keep it pinned themselves)
        and refuse further use.  Idempotent."""
        # drop, not release(): see the module doc
        self._view = None
        super().close()

    @property
    def closed(self):
        """True after close() (and for a reader whose construction failed)."""
        return self._view is None

    @property
    def views(self):
        """True when the read methods return Views, False for bytes."""
        return self._views

    def __reduce_ex__(self, protocol):
        raise TypeError(f"cannot pickle {type(self).__name__!r} object")

    def __repr__(self):
        if self._view is None:
            return f"<nocopy.io.MemoryReader closed views={self._views}>"
        return (f"<nocopy.io.MemoryReader pos={self._pos} size={self._len} "
                f"views={self._views}>")


def _lines_crlf(rest, terminated, reuse):
    """lines() without keepends over text holding a b"\\r": a piece that a
    b"\\n" ended loses the b"\\r" before it (b"\\r\\n" goes whole); the
    unterminated last one keeps it, as Reader.lines() does.  With reuse the
    one View is retargeted (no allocation per line)."""
    end = rest.stop
    for x in rest.itersplit(b"\n", reuse=reuse):
        if x.endswith(b"\r") and (terminated or x.stop != end):
            if reuse:
                x.retarget(x.start, x.stop - 1)
            else:
                x = x[:-1]
        yield x
        # Unbound before the next step: a reuse=True iterator leaves a View
        # held by a second name alone (and makes a new one).
        x = None


def _lines_keepends(rest, reuse):
    """Lines of the View rest, each with its b"\\n" (the last may lack it)."""
    n = len(rest)
    p = 0
    line = None
    while p < n:
        i = rest.find(_NL, p)
        e = n if i < 0 else i + 1
        if not reuse:
            yield rest[p:e]
        elif line is None or _sys.getrefcount(line) > 3:
            # a new View when the last one is held beyond this frame, the
            # caller's loop name and getrefcount's argument (a dict key, a
            # list item): it must not move under its holder
            line = rest[p:e]
            yield line
        else:
            # relative to rest and onto its buffer: the caller may have
            # reslice()d the View elsewhere, where these absolute offsets
            # would show another buffer's bytes
            yield line.reslice(rest, p, e)
        p = e
