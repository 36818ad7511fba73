"""nocopy.io: read straight into buffers that already exist, write without
intermediate copies.

Sources (``src``) are a raw file descriptor (int), a socket, or anything with
``readinto()`` (binary files, raw and buffered); destinations (``dst``) are a
file descriptor, a socket, or anything with ``write()``.

Non-blocking sources: a read that finds no data returns ``None`` (``read_into``,
``ByteBuffer.fill_from``) or raises ``BlockingIOError`` where a value must be
returned (``Reader``); buffered bytes are never lost.  A source that claims to
have read more than it was given room for raises ``OSError``: it is never
trusted.

Views returned by ``Reader`` are *borrowed* from its ByteBuffer: they stay valid
until the buffer moves or overwrites their bytes (the next refill that needs
room), then raise ``StaleViewError``.  Copy (``view.tobytes()``) what you keep.
"""
import errno as _errno
import io as _io
import operator as _operator
import os as _os
import socket as _socket
import sys as _sys

from ._core import ByteBuffer, Rope, View
from .errors import BufferTooSmall, IncompleteRead, LimitOverrun, _eof_error
from ._memreader import MemoryReader
from ._mapfile import map_file

__all__ = ["read_into", "read_chunks", "write_all", "Reader", "Writer", "MemoryReader",
           "map_file"]


def _nbytes(buf):
    """Size in bytes of a writable buffer, without a memoryview when the type
    already knows it."""
    t = type(buf)
    if t is bytearray or t is View:
        return len(buf)
    if t is memoryview:
        return buf.nbytes
    with memoryview(buf) as m:
        return m.nbytes


def _readinto(src, buf):
    """One read of at most nbytes(buf) bytes from src straight into the
    writable buffer buf: ``os.readv`` for an fd, ``readinto`` for files,
    ``recv_into`` for sockets.  Returns the count (0 at EOF) or None when a
    non-blocking source had no data.  The count is checked, never trusted.

    The shared low-level primitive of read_into, Reader and read_chunks."""
    if type(src) is int:
        if src < 0:
            raise ValueError(f"file descriptor must be >= 0, got {src}")
        try:
            n = _os.readv(src, (buf,))
        except BlockingIOError:
            return None
    else:
        meth = getattr(src, "readinto", None)
        if meth is None:
            meth = getattr(src, "recv_into", None)
            if meth is None:
                raise TypeError(f"cannot read from {type(src).__name__!r}: expected a file "
                                "descriptor (int), a socket or an object with readinto()")
        try:
            n = meth(buf)
        except BlockingIOError:
            return None
        if n is None:
            return None
    if type(n) is not int:
        raise TypeError(f"readinto()/recv_into() returned {type(n).__name__!r}, expected int")
    if n < 0 or n > _nbytes(buf):
        raise OSError(f"readinto()/recv_into() returned invalid length {n} "
                      f"(should have been between 0 and {_nbytes(buf)})")
    return n


def read_into(src, buf, *, with_address=False):
    """Read once from src into buf and return the number of bytes (0 at EOF,
    None when a non-blocking source had no data).

    src: file descriptor (int), socket (TCP or UDP), binary file or anything
    with readinto().  buf: any writable buffer; a View (fills its window); a
    ByteBuffer (fills its free space and commits).  With ``with_address=True``
    (datagram sockets) returns ``(n, address)`` like ``recvfrom_into``.
    No copy: the bytes land in buf."""
    if isinstance(buf, View) and buf.readonly:
        raise TypeError("read_into() needs a writable buffer, got a read-only View")
    if with_address:
        recvfrom_into = getattr(src, "recvfrom_into", None)
        if recvfrom_into is None:
            raise TypeError(f"with_address=True needs a socket, not {type(src).__name__!r}")
        target = buf
        if isinstance(buf, ByteBuffer):
            if buf.free == 0 and buf.readable == buf.capacity:
                raise BufferTooSmall("ByteBuffer is full of unread bytes", 1)
            target = buf.writable()
        try:
            n, address = recvfrom_into(target)
        except BlockingIOError:
            return None
        if target is not buf:
            buf.commit(n)
        return n, address
    if isinstance(buf, ByteBuffer):
        return buf.fill_from(src)
    return _readinto(src, buf)


def _check_size(n, what="n"):
    if type(n) is not int:
        if isinstance(n, bool) or not hasattr(type(n), "__index__"):
            raise TypeError(f"{what} must be an integer, not {type(n).__name__!r}")
        n = n.__index__()
    if n < 0:
        raise ValueError(f"{what} must be >= 0, got {n}")
    return n


def _blocked():
    return BlockingIOError(_errno.EAGAIN, "the non-blocking source had no data")


_WIDTHS = ("u8", "u16", "u32", "u64", "i8", "i16", "i32", "i64", "f32", "f64")
_TYPED_READS = tuple("read_" + w for w in _WIDTHS) + ("read_uvarint", "read_varint", "read_struct")
_TYPED_WRITES = tuple("write_" + w for w in _WIDTHS) + ("write_uvarint", "write_varint",
                                                          "write_struct", "write_json")


class Reader:
    """Buffered reading from src through a ByteBuffer of buffer_size bytes.

    Methods return borrowed Views of the buffer (see the module doc) unless
    their name says bytes.  Iterating a Reader yields its lines with their
    b"\\n" (like a binary file); ``lines()`` strips them by default.  The
    per-line loop runs in C and refills from src only when no complete line is
    buffered.

    ``read_exact(n) -> View`` consumes and returns exactly n bytes;
    IncompleteRead (``.partial``: the bytes that did arrive, consumed;
    ``.expected``: n) at EOF, or its subclass EndOfStream when not one byte
    of the frame came (a clean end between frames).  Within the buffer's capacity the View is
    borrowed; a larger frame is read straight from src into one new bytearray
    (no intermediate copies).

    ``readline() -> View`` consumes and returns the next line with its
    b"\\n" (the last line may lack it; an empty View at EOF); LimitOverrun
    for a line longer than the buffer's capacity (the bytes stay buffered;
    the message gives the capacity and ``buffer_size=``).

    Both are the buffer's C methods: no Python frame per call.

    ``read_u8() .. read_u64()``, ``read_i8() .. read_i64()``, ``read_f32()``,
    ``read_f64()`` (``byteorder="big"`` or ``"little"``), ``read_uvarint()``,
    ``read_varint()`` (zigzag) and ``read_struct(s)`` (a struct.Struct) consume
    one typed value, reading src as needed; at EOF mid-value, IncompleteRead
    (``.partial``: a copy of the bytes that did arrive, which stay buffered:
    nothing is consumed; EndOfStream when nothing did).  They are the
    buffer's C methods too (see ByteBuffer.read_u32).

    End of stream: ``at_eof`` says what is known without reading (True once
    src reported EOF and nothing is buffered); ``eof()`` finds out, reading
    src once when nothing is buffered.  ``close()`` (or ``with``) drops the
    buffered bytes and refuses further reads; src stays open (the caller
    owns it, as for Writer)."""

    __slots__ = ("_src", "_buf", "_closed", "read_exact", "readline") + _TYPED_READS

    def __init__(self, src, buffer_size=65536):
        buffer_size = _check_size(buffer_size, "buffer_size")
        if type(src) is not int and not hasattr(src, "readinto") and not hasattr(src, "recv_into"):
            raise TypeError(f"cannot read from {type(src).__name__!r}: expected a file "
                            "descriptor (int), a socket or an object with readinto()")
        self._src = src
        self._closed = False
        self._buf = ByteBuffer(buffer_size)
        self._buf._attach(src)
        self.read_exact = self._buf._read_exact
        self.readline = self._buf._readline
        for name in _TYPED_READS:
            setattr(self, name, getattr(self._buf, name))

    @property
    def buffer(self):
        """The ByteBuffer that holds read-ahead bytes."""
        return self._buf

    @property
    def at_eof(self):
        """True once src reported EOF and every buffered byte was consumed.
        Known without reading: src reports EOF only when a read returns
        nothing, so after the last frame this is still False until a read
        (or ``eof()``) looks.  O(1)."""
        return self._buf._src_eof and not len(self._buf)

    def eof(self):
        """True when the stream has ended: nothing buffered and src at EOF.
        When nothing is buffered, reads src once to find out (blocks like any
        read; BlockingIOError from a non-blocking src without data); False
        means at least one byte is buffered for the next read.  Go's
        ``Peek(1) == io.EOF``; the loop ``while not r.eof(): frame =
        r.read_exact(n)`` ends cleanly and still raises IncompleteRead for a
        truncated frame.  O(1) plus at most one read."""
        self._check_open()
        buf = self._buf
        if len(buf):
            return False
        if buf._src_eof:
            return True
        buf._fill()
        return not len(buf)

    @property
    def closed(self):
        return self._closed

    def close(self):
        """Drop the buffered bytes and refuse further reads (ValueError).
        src stays open: the caller owns it.  Idempotent.  Views handed out
        before stay valid until their bytes would be overwritten, which no
        read does any more."""
        if self._closed:
            return
        self._closed = True
        self.read_exact = self.readline = _closed_read
        for name in _TYPED_READS:
            setattr(self, name, _closed_read)
        self._buf.consume(len(self._buf))

    def __enter__(self):
        self._check_open()
        return self

    def __exit__(self, *exc):
        self.close()

    def _check_open(self):
        if self._closed:
            raise ValueError("I/O operation on a closed Reader")

    def _ensure(self, n):
        """Buffer at least n bytes (n <= capacity) or everything up to EOF."""
        buf = self._buf
        while len(buf) < n:
            if buf.free < n - len(buf):
                buf.compact()
            if not buf._fill():
                break

    def peek(self, n=None):
        """A View of up to n buffered bytes (n None: what is buffered, one read
        when nothing is), without consuming.  Fewer than n only at EOF.
        n must not exceed the buffer's capacity.  O(1), no copy."""
        self._check_open()
        if n is None:
            if not len(self._buf):
                self._buf._fill()
            return self._buf.peek()
        n = _check_size(n)
        if n > self._buf.capacity:
            raise ValueError(f"peek({n}) exceeds the buffer capacity ({self._buf.capacity})")
        self._ensure(n)
        return self._buf.peek(n)

    def read(self, n=None):
        """Consume and return a View of up to n bytes (n None: all buffered):
        the buffered bytes, or one read from src when none are.  An empty View
        means EOF.  O(1), no copy."""
        self._check_open()
        if n is not None:
            n = _check_size(n)
        if not len(self._buf) and n != 0:
            self._buf._fill()
        return self._buf.read(n)

    def read_until(self, delim=b"\n", *, limit=None):
        """Consume and return a View up to and including delim.  limit bounds
        its length (default and maximum: the buffer's capacity); LimitOverrun
        (.partial: a View of the bytes scanned, kept in the buffer) when delim
        does not come within it; IncompleteRead (.partial: the rest, consumed)
        at EOF without delim (EndOfStream when nothing was left)."""
        self._check_open()
        buf = self._buf
        if limit is None:
            limit = buf.capacity
        else:
            limit = _check_size(limit, "limit")
            if limit > buf.capacity:
                raise ValueError(f"limit {limit} exceeds the buffer capacity ({buf.capacity})")
        while True:
            v = buf.read_until(delim, limit=limit)
            if v is not None:
                return v
            if buf.free == 0:
                buf.compact()
            if not buf._fill():
                raise _eof_error(bytes(buf.read()))

    def readinto(self, b):
        """Copy up to len(b) bytes into the writable buffer b and return the
        count (0 at EOF): buffered bytes first; when none are buffered and b is
        at least as large as the buffer, src reads straight into b."""
        self._check_open()
        buf = self._buf
        if len(buf):
            return buf.readinto(b)
        if buf._src_eof:
            return 0
        if _nbytes(b) >= buf.capacity:
            # straight into b, the buffer busy meanwhile (C): a finalizer
            # reading from this Reader during the call would otherwise buffer
            # the bytes after the ones b gets and hand them out first
            return buf._readinto_direct(b)
        buf._fill()
        return buf.readinto(b)

    def read_bytes(self, n=-1):
        """Consume and return up to n bytes as new bytes (an owned copy; n -1
        or None: to EOF).  Fewer than n only at EOF."""
        self._check_open()
        buf = self._buf
        if n is None or n == -1:
            parts = [bytes(buf.read())]
            while buf._fill():
                parts.append(bytes(buf.read()))
            return b"".join(parts)
        n = _check_size(n)
        if n <= buf.capacity:
            self._ensure(n)
            return bytes(buf.read(n))
        try:
            return bytes(buf._read_exact(n))
        except IncompleteRead as e:
            return e.partial

    def lines(self, keepends=False, *, reuse=False):
        """Iterator over the remaining lines as Views (without b"\\n" unless
        keepends).  reuse=True yields the same View object every step,
        retargeted: no allocation per line; copy what you keep (to count
        lines use nocopy.Counter, which copies new keys).  The View is moved
        unless something besides the loop variable holds it; a reference count
        cannot tell a variable from a dict slot, so one kept only in a
        container can still be moved.  A line longer
        than the buffer's capacity raises LimitOverrun (bytes kept).  Lines
        split at b"\\n" only; without keepends a b"\\r\\n" ending is dropped
        whole (as ``bytes.splitlines()``), a lone b"\\r" stays.  The loop
        runs in C."""
        self._check_open()
        return self._buf.iterlines(None if self._buf._src_eof else self._src, keepends, reuse)

    def __iter__(self):
        self._check_open()
        return self._buf.iterlines(None if self._buf._src_eof else self._src, True, False)

    def __repr__(self):
        if self._closed:
            return f"<nocopy.io.Reader src={self._src!r} closed>"
        return f"<nocopy.io.Reader src={self._src!r} buffered={len(self._buf)}>"


def _closed_read(*args, **kwargs):
    raise ValueError("I/O operation on a closed Reader")


class _Sink:
    """Where a Writer's bytes go: scatter-gather sends with partial-write
    loops.  Kept apart from the Writer so the ByteBuffer's overflow handler
    (a bound method of the sink) makes no reference cycle."""

    __slots__ = ("dst", "fd", "sock", "sending")

    def __init__(self, dst):
        self.dst = dst
        self.fd = -1
        self.sock = None
        # True while the buffered bytes are being sent.  dst.write, a
        # finalizer run by an allocation, or a signal handler may write to
        # or flush the same Writer meanwhile: a write that fits is appended
        # after the bytes in flight and kept (only the bytes sent are
        # consumed afterwards); a second flush or overflow would send the
        # same bytes again, so it raises RuntimeError, as io.BufferedWriter
        # does for a reentrant call.
        self.sending = False
        if type(dst) is int:
            if dst < 0:
                raise ValueError(f"file descriptor must be >= 0, got {dst}")
            self.fd = dst
        elif isinstance(dst, _socket.socket):
            self.sock = dst
        elif isinstance(dst, _io.FileIO):
            self.fd = dst.fileno()  # unbuffered: writev on its fd keeps the order
        elif not hasattr(dst, "write"):
            raise TypeError(f"cannot write to {type(dst).__name__!r}: expected a file "
                            "descriptor (int), a socket or an object with write()")

    def overflow(self, buf, data, offset, length):
        """ByteBuffer.write() did not fit: send the buffered bytes and
        data[offset:offset+length] in one call, no copy, and consume the
        bytes sent from buf."""
        self.enter()
        try:
            n = len(buf)
            with memoryview(data) as m, m.cast("B") as mb, mb[offset:offset + length] as part:
                self.send((buf.peek(n), part))
            _drop_sent(buf, n)
        finally:
            self.sending = False
        return length

    def flush_buffer(self, buf):
        """Send buf's readable bytes and consume them."""
        if not len(buf):
            return
        self.enter()
        try:
            n = len(buf)
            self.send((buf.peek(n),))
            _drop_sent(buf, n)
        finally:
            self.sending = False

    def enter(self):
        if self.sending:
            raise RuntimeError("reentrant call inside nocopy.io.Writer: its buffered bytes "
                               "are being sent (a flush from a finalizer, a signal handler "
                               "or dst.write?)")
        self.sending = True

    def send(self, parts):
        """Write every byte of parts (buffers, in order), looping on partial
        writes; one writev/sendmsg per round."""
        parts = [p for p in parts if len(p)]
        while parts:
            if self.fd >= 0:
                n = _os.writev(self.fd, parts)
            elif self.sock is not None:
                n = self.sock.sendmsg(parts)
            else:
                n = self.dst.write(parts[0])
                if n is None:
                    if isinstance(self.dst, _io.RawIOBase):
                        raise BlockingIOError(_errno.EAGAIN, "destination not ready")
                    n = len(parts[0])  # a write() that returns None wrote it all
                elif type(n) is not int or n < 0 or n > len(parts[0]):
                    raise OSError(f"write() returned invalid length {n!r} "
                                  f"(should have been between 0 and {len(parts[0])})")
            while n:
                first = parts[0]
                if n >= len(first):
                    n -= len(first)
                    parts.pop(0)
                else:
                    parts[0] = memoryview(first)[n:]
                    n = 0


def _drop_sent(buf, n):
    """Drop the n bytes just sent from the front of buf, then compact: write()
    fills the tail only, so after a consume() of everything the next write
    would find no room.  Bytes written meanwhile (a finalizer, dst.write)
    stay, moved to the front.  Not clear() when len(buf) == n: a finalizer
    run by clear()'s own allocation could write between the test and the
    clear, and that write would be dropped."""
    buf.consume(n)
    buf.compact()


def _closed_write(*args, **kwargs):
    raise ValueError("I/O operation on a closed Writer")


class Writer:
    """Buffered writing to dst through a ByteBuffer of buffer_size bytes.

    Small writes are copied into the buffer; a write larger than the free
    space goes out at once together with the buffered bytes in one
    scatter-gather call (os.writev / socket.sendmsg, or two write() calls for
    other destinations) and is never copied into the buffer.  reserve(n) +
    commit(k) serialize straight into the buffer.  close() flushes; it does
    not close dst (the caller owns it).

    ``write(data, offset=0, length=None) -> int`` writes data[offset:offset+length]
    (any buffer; no slice object needed) and returns the count (all of it).
    It is the ByteBuffer's own C method, so a small write costs one C call.

    ``write_u8(v) .. write_u64(v)``, ``write_i8 .. write_i64``, ``write_f32``,
    ``write_f64`` (``byteorder="big"`` or ``"little"``), ``write_uvarint(v)``,
    ``write_varint(v)`` (zigzag) and ``write_struct(s, *values)`` (a
    struct.Struct, packed straight into the buffer) return the bytes written;
    when the value does not fit, the buffered bytes are sent first.  They are
    the buffer's C methods (see ByteBuffer.write_u32): no Python frame.

    ``write_json(obj, *, prefix=None, byteorder="big", **options) -> int``
    encodes obj with nocopy.json straight into the buffer, behind its length
    when ``prefix`` is ``"u8"``, ``"u16"``, ``"u32"`` or ``"u64"``: one C
    call per length-prefixed frame (ByteBuffer.write_json).  Returns the
    bytes written.  A frame that does not fit the free space sends the
    buffered bytes first (the document is encoded again, ``default`` runs
    again); one larger than the buffer goes out as one bytes object with
    them.  ``nocopy.json.dumps_into(obj, writer)`` calls it."""

    __slots__ = ("_sink", "_buf", "_closed", "write") + _TYPED_WRITES

    def __init__(self, dst, buffer_size=65536):
        buffer_size = _check_size(buffer_size, "buffer_size")
        self._sink = _Sink(dst)
        self._buf = ByteBuffer(buffer_size)
        self._buf._set_overflow(self._sink.overflow)
        self._closed = False
        self.write = self._buf.write
        for name in _TYPED_WRITES:
            setattr(self, name, getattr(self._buf, name))

    @property
    def buffer(self):
        """The ByteBuffer that holds bytes not yet written to dst."""
        return self._buf

    @property
    def closed(self):
        return self._closed

    def writelines(self, parts):
        """Write every buffer of the iterable parts, in order."""
        write = self.write
        for p in parts:
            write(p)

    def write_fmt(self, fmt, /, *args):
        """Write fmt % args (ByteBuffer.write_fmt: the bytes % language, formatted
        straight into the buffer) and return the byte count.  When the text does
        not fit the free space, the buffer is flushed and the text formatted
        again (the arguments are converted a second time); when it is larger
        than the whole buffer it is formatted once into a bytes object
        (``fmt % args``) and written through like a large write()."""
        self._check_open()
        buf = self._buf
        try:
            return buf.write_fmt(fmt, *args)
        except BufferTooSmall as e:
            if e.needed > buf.capacity:
                return self.write(bytes(fmt) % (args[0] if len(args) == 1 else args))
        self._flush_buffer()
        return buf.write_fmt(fmt, *args)

    def write_int(self, n, /):
        """Write str(n) as ASCII (ByteBuffer.write_int) and return the byte
        count; flushes first when it does not fit."""
        self._check_open()
        buf = self._buf
        try:
            return buf.write_int(n)
        except BufferTooSmall as e:
            if e.needed > buf.capacity:
                return self.write(b"%d" % _operator.index(n))
        self._flush_buffer()
        return buf.write_int(n)

    def write_float(self, x, /):
        """Write repr(float(x)) as ASCII (ByteBuffer.write_float) and return the
        byte count; flushes first when it does not fit."""
        self._check_open()
        buf = self._buf
        try:
            return buf.write_float(x)
        except BufferTooSmall as e:
            if e.needed > buf.capacity:
                return self.write(repr(float(x)).encode())
        self._flush_buffer()
        return buf.write_float(x)

    def reserve(self, n):
        """A writable View of exactly n bytes of buffer space to serialize
        into, then commit(k) with k <= n bytes used.  Flushes first when the
        free space is short; BufferTooSmall (needed=n) when n exceeds the
        capacity.  The View is borrowed: commit() or any write makes it stale."""
        self._check_open()
        n = _check_size(n)
        buf = self._buf
        if n > buf.capacity:
            raise BufferTooSmall(f"reserve({n}) exceeds the buffer capacity ({buf.capacity})", n)
        if buf.free < n:
            self._flush_buffer()
        return buf.writable(n)

    def commit(self, n):
        """Mark n bytes written into the last reserve() view as data to send."""
        self._check_open()
        self._buf.commit(n)

    def flush(self):
        """Write every buffered byte to dst (looping on partial writes), then
        flush dst when it has flush()."""
        self._check_open()
        self._flush_buffer()
        flush = getattr(self._sink.dst, "flush", None)
        if flush is not None:
            flush()

    def _flush_buffer(self):
        self._sink.flush_buffer(self._buf)

    def close(self):
        """Flush and refuse further writes.  dst stays open.  Idempotent."""
        if self._closed:
            return
        try:
            self.flush()
        finally:
            self._closed = True
            self.write = _closed_write
            for name in _TYPED_WRITES:
                setattr(self, name, _closed_write)

    def __del__(self):
        # Like io.BufferedWriter: a Writer dropped without close() still
        # delivers its bytes.  Errors here have nowhere to go; close() shows them.
        try:
            if not self._closed:
                self.close()
        except Exception:
            pass

    def _check_open(self):
        if self._closed:
            raise ValueError("I/O operation on a closed Writer")

    def __enter__(self):
        self._check_open()
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return f"<nocopy.io.Writer dst={self._sink.dst!r} buffered={len(self._buf)}>"


# ---- read_chunks / write_all (Rope-based) -------------------------------------

def _direct_fd(src):
    """The file descriptor read_chunks may read(2) directly instead of calling
    src's methods, or None.  Only where that is exactly what the methods
    would do: an int fd, an exact io.FileIO open for reading, an exact
    socket.socket without a timeout (blocking or non-blocking), and an exact
    io.BufferedReader over such a FileIO whose buffer is empty (tell() equals
    the raw tell(); so never for unseekable files, whose tell() fails)."""
    t = type(src)
    if t is int:
        return src if src >= 0 else None
    if t is _io.FileIO:
        return src.fileno() if not src.closed and src.readable() else None
    if t is _socket.socket:
        fd = src.fileno()
        return fd if fd >= 0 and src.gettimeout() in (None, 0.0) else None
    if t is _io.BufferedReader:
        raw = getattr(src, "raw", None)
        if type(raw) is not _io.FileIO or src.closed or raw.closed or not raw.readable():
            return None
        try:
            if src.tell() != raw.tell():
                return None
        except OSError:
            return None
        return raw.fileno()
    return None


def read_chunks(src, chunk_size=65536, *, limit=None):
    """Read src to EOF into fresh fixed-size chunks chained in a Rope.

    Each chunk is fresh storage of chunk_size bytes filled in place (no
    realloc-and-copy growth, so peak memory is the data plus one chunk, not
    2x); the last chunk is trimmed by its window, not copied.  An int fd, a
    FileIO, a socket without a timeout, or a BufferedReader over a file with
    nothing buffered are read with read(2) straight into uninitialised
    storage, the GIL released (the BufferedReader's position is resynced
    after): a regular file's rest (its fstat size) is read with one read(2)
    into one block that its chunks share (at most 1024 chunks per block;
    freed when the last of its chunks goes), other fds a chunk at a time.
    Other sources go through readinto()/recv_into() into ``bytearray``
    chunks.  The returned Rope
    has no segment cap (``max_segments=sys.maxsize``): coalescing would copy
    the chunks.  `src`: a binary file, a raw fd (int), a socket, or anything
    with readinto().

    With `limit` (bytes), reading stops one byte past it and LimitOverrun is
    raised; its ``partial`` is the Rope of everything read (limit + 1 bytes),
    so nothing read is lost.  A non-blocking source that has no data raises
    BlockingIOError, with the Rope read so far as its ``partial``."""
    if not isinstance(chunk_size, int) or isinstance(chunk_size, bool):
        raise TypeError(f"chunk_size must be an int, not '{type(chunk_size).__name__}'")
    if chunk_size <= 0:
        raise ValueError(f"chunk_size must be positive, not {chunk_size}")
    if limit is not None:
        if not isinstance(limit, int) or isinstance(limit, bool):
            raise TypeError(f"limit must be an int or None, not '{type(limit).__name__}'")
        if limit < 0:
            raise ValueError(f"limit must be >= 0, not {limit}")
    budget = None if limit is None else limit + 1  # one byte past the limit proves the overrun
    fd = _direct_fd(src)
    if fd is not None:
        rope, blocked = Rope._read_fd(fd, chunk_size, -1 if budget is None else budget)
        if type(src) is _io.BufferedReader:
            src.tell()  # the raw position moved under it: refresh its cached position
        if blocked:
            e = BlockingIOError(_errno.EAGAIN, "read would block", 0)
            e.partial = rope
            raise e
        if limit is not None and len(rope) > limit:
            raise LimitOverrun(f"more than {limit} bytes before EOF", rope)
        return rope
    rope = Rope(max_segments=_sys.maxsize)
    total = 0
    while budget is None or total < budget:
        want = chunk_size if budget is None else min(chunk_size, budget - total)
        chunk = bytearray(want)
        with memoryview(chunk) as mv:
            filled = 0
            try:
                while filled < want:
                    n = _readinto(src, mv[filled:])
                    if n is None:
                        raise BlockingIOError(_errno.EAGAIN, "read would block", 0)
                    if not n:
                        break
                    filled += n
            except BlockingIOError as e:
                # a non-blocking source ran dry: hand back what was read
                if filled:
                    rope.append(View(chunk, 0, filled))
                e.partial = rope
                raise
        if filled:
            rope.append(chunk if filled == want else View(chunk, 0, filled))
            total += filled
        if filled < want:
            break
    if limit is not None and total > limit:
        raise LimitOverrun(f"more than {limit} bytes before EOF", rope)
    return rope


def write_all(dst, data):
    """Write all of data to dst and return the number of bytes written.

    `data`: a bytes-like object, View, Rope, or an iterable of them; several
    segments go out in one writev (fds, files) or sendmsg (sockets) per
    IOV_MAX segments (see Rope.write_to).  Partial writes loop; a
    non-blocking destination that would block raises BlockingIOError with
    ``characters_written``.  Copies nothing."""
    rope = data if type(data) is Rope else Rope(data)
    return rope.write_to(dst)

# ---- end read_chunks / write_all ----------------------------------------------------
