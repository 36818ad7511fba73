"""nocopy.aio: asyncio streams that receive straight into the reader's buffer.

``open_connection``, ``start_server``, ``open_unix_connection`` and
``start_unix_server`` mirror asyncio's and give ``(StreamReader, StreamWriter)``.

Reading.  The protocol is an ``asyncio.BufferedProtocol``: the transport is
handed the free space of the reader's ``ByteBuffer`` (``get_buffer``) and
``recv_into`` writes there; ``buffer_updated(n)`` commits it.  No ``bytes``
object is made per received chunk, none per line or frame: the read methods
return *borrowed* ``View``\\ s of the buffer.

* A View returned by a read method stays valid at least until the next read
  call on the reader (the reader never compacts its buffer under it before
  that).  From then on it may go stale: using it raises ``StaleViewError``,
  it never shows other bytes.  Copy (``view.tobytes()``) what you keep.
* ``limit`` (default 64 KiB) bounds line and separator searches, as
  asyncio's: ``readline()``/``readuntil()`` accept ``limit`` bytes before the
  separator, then raise ``LimitOverrun`` (a ValueError and an
  ``asyncio.LimitOverrunError`` with ``.consumed``).  ``readuntil()`` keeps
  the bytes; ``readline()`` drops the overlong line (through its b"\\n" when
  that is buffered, else everything buffered) as asyncio does, so a loop
  that catches the error goes on.  ``lines()`` keeps them.
* ``read()`` to EOF and ``readexactly(n)`` take any size.  Up to the limit the
  View borrows the reader's buffer (``limit + 1`` bytes); a larger frame is
  received straight into a fresh buffer of exactly n bytes (one allocation,
  plus one copy of the at most ``limit + 1`` bytes already buffered), ``read()``
  to EOF into one that doubles when full (O(total) copying, as a growing
  bytes buffer).  The reader returns to its own buffer at the next read.
* At EOF before the requested amount ``IncompleteRead`` (an EOFError and an
  ``asyncio.IncompleteReadError``) with ``.partial``, a borrowed View of what
  was there (consumed); ``EndOfStream``, its subclass, when nothing was.
  ``at_eof()`` says whether the end is known; ``await eof()`` waits until a
  byte or the end arrives and says which.
* Backpressure: when the buffer is full (or holds only bytes still lent out),
  the transport is paused; it resumes when the application next waits for
  data.  Outside a large read, a fast sender never makes the reader hold more
  than ``limit + 1`` bytes.
* Reads are cancellation-safe: a read cancelled while waiting consumes nothing.
* Once the connection was lost with an error (``set_exception``), every read
  raises it, as asyncio's do, even with bytes still buffered; ``lines()``
  yields the complete lines received before it, then raises it.

Writing.  ``write()`` takes bytes-likes, Views and Ropes (any object with
``segments()``), ``writelines()`` hands several buffers to the transport's
``writelines`` (``sendmsg`` on loops that support it, uvloop and asyncio from
3.12), ``write_json(obj, **options)`` serializes with ``nocopy.json``
straight into the writer's own ``ByteBuffer`` (grown to the exact size when a
document does not fit).  Memory passed to ``write()`` is exported to the
transport, which may keep sending from it after ``write()`` returns when the
socket is full: a ``ByteBuffer`` handles that (a held export makes it move to
fresh storage instead of overwriting), a ``bytearray`` you write must not be
changed before ``drain()`` — as with asyncio.  ``drain()`` waits while the
transport's buffer is above its high-water mark (``set_write_buffer_limits``).

Files.  ``await write_rope(rope)`` sends a Rope whose file segments
(``Rope.append_file``) are not in memory: each goes by ``loop.sendfile``
(``os.sendfile`` on the socket) where the transport supports it natively
(asyncio's plain TCP/Unix transports), else 64 KiB ``os.pread`` chunks with
``drain()`` between them (uvloop, TLS), so the file never becomes more than
about one chunk plus the transport's high-water mark of Python memory.
``write()``/``writelines()`` of such a Rope load its file segments first
(``segments()`` does), which reads the whole file into memory.
"""
import asyncio
import operator
import os
import socket
import sys
import warnings
import weakref

from ._core import ByteBuffer, View, _AsyncLines, _Ready
from .errors import (BufferTooSmall, IncompleteRead, LimitOverrun, StaleViewError,
                     _adopt_asyncio_bases, _eof_error)

_adopt_asyncio_bases()  # except asyncio.IncompleteReadError / LimitOverrunError catch ours

__all__ = [
    "StreamReader", "StreamWriter", "StreamReaderProtocol", "FlowControlMixin",
    "open_connection", "start_server", "open_unix_connection", "start_unix_server",
    "create_subprocess_exec", "create_subprocess_shell",
]

_DEFAULT_LIMIT = 2 ** 16
# Writes up to _SMALL bytes are gathered in a _GATHER-byte buffer and sent
# together: one send per loop pass instead of one per write (the syscall, not
# Python, is most of what a small reply costs, on asyncio's loop and uvloop).
_SMALL = 1024
_GATHER = 16384
_KEEP_SERVER_WRITER = sys.version_info < (3, 13)


class _Source:
    """What the C line iterator reads from: never blocks.  The transport fills
    the buffer behind it; readinto() only reports EOF (0) or 'no data yet'."""

    __slots__ = ("_reader",)

    def __init__(self, reader):
        self._reader = reader

    def readinto(self, view):
        r = self._reader
        if r._buf is not r._home:
            return None  # the bytes are in a grown buffer: _lines_wait takes over
        if r._eof:
            return 0
        if r._exception is not None:
            raise r._exception
        return None


class StreamReader:
    """Bytes received by the transport, in one ``ByteBuffer`` of ``limit + 1``
    bytes (a line of ``limit`` bytes with its b"\\n" fits, as in asyncio).

    Every read method returns a borrowed ``View`` (see the module doc).
    Without ``loop`` it takes the running loop, else the current one, as
    asyncio's StreamReader does on this Python (``asyncio.get_event_loop()``:
    RuntimeError after ``set_event_loop(None)``, a DeprecationWarning from
    3.12 when it has to make one)."""

    _source_traceback = None  # asyncio.StreamReaderProtocol reads it

    def __init__(self, limit=_DEFAULT_LIMIT, loop=None):
        if not isinstance(limit, int) or isinstance(limit, bool):
            raise TypeError(f"limit must be an int, not {type(limit).__name__}")
        if limit <= 0:
            raise ValueError("Limit cannot be <= 0")
        if loop is None:
            loop = asyncio.get_event_loop()
        self._limit = limit
        # _buf is _home except during (or after a cancelled) read larger
        # than it: then a grown ByteBuffer that _settle() leaves again
        self._home = self._buf = ByteBuffer(limit + 1)
        self._loop = loop
        self._transport = None
        self._eof = False
        self._exception = None
        self._waiter = None
        self._paused = False
        self._lent = False      # views handed out since the last read call may not move
        self._given = None      # the free space last handed to the transport (get_buffer)
        self._source = _Source(self)
        # weakref to the StreamWriter whose gathered small writes go out
        # before a read waits (weak: a dropped writer must still be collected
        # and warn, as asyncio's)
        self._writer = None

    def __repr__(self):
        # asyncio's format, field for field
        info = ["StreamReader"]
        n = len(self._buf)
        if n:
            info.append(f"{n} bytes")
        if self._eof:
            info.append("eof")
        if self._limit != _DEFAULT_LIMIT:
            info.append(f"limit={self._limit}")
        if self._waiter:
            info.append(f"waiter={self._waiter!r}")
        if self._exception:
            info.append(f"exception={self._exception!r}")
        if self._transport:
            info.append(f"transport={self._transport!r}")
        if self._paused:
            info.append("paused")
        return f"<{' '.join(info)}>"

    # -- protocol side ----------------------------------------------------------------

    def _get_buffer(self, sizehint=-1):
        b = self._buf
        # Dropped first: the ByteBuffer reuses its cached free-space View
        # only while nobody else references it.
        self._given = None
        if self._lent:
            n = b.free
            if n:
                self._given = v = b.writable(n)  # the tail only: lent views keep their bytes
                return v
        self._given = v = b.writable()  # may compact (the lent views, if any, go stale)
        return v

    def _buffer_updated(self, n):
        # The transport's word is checked against what it was given: n bytes
        # of the View from the get_buffer() just before, which must still be
        # the free space (any commit or move since makes it stale).  Else
        # commit() would make readable bytes nobody received here: old ones
        # of this connection, or zeros.
        v = self._given
        self._given = None
        if type(n) is not int:
            n = operator.index(n)
        try:
            ok = v is not None and 0 <= n <= v.nbytes
        except StaleViewError:
            ok = False
        if not ok:
            self._bad_update(v, n)
        b = self._buf
        b.commit(n)
        w = self._waiter
        if w is not None:
            self._waiter = None
            if not w.done():
                w.set_result(None)
        if b.free == 0 and (self._lent or len(b) == b.capacity) and not self._paused:
            t = self._transport
            if t is not None:
                try:
                    t.pause_reading()
                except NotImplementedError:
                    return
                self._paused = True

    @staticmethod
    def _bad_update(v, n):
        if v is None:
            raise RuntimeError(f"buffer_updated({n}) without a get_buffer() before it: "
                               "the transport wrote nothing into this reader")
        try:
            size = v.nbytes
        except StaleViewError:
            raise RuntimeError(f"buffer_updated({n}): the buffer from get_buffer() was moved or "
                               "written since; what the transport wrote there is gone") from None
        raise ValueError(f"buffer_updated({n}): get_buffer() handed out {size} bytes")

    def _wakeup(self, exc=None):
        w = self._waiter
        if w is not None:
            self._waiter = None
            if not w.done():
                if exc is None:
                    w.set_result(None)
                else:
                    w.set_exception(exc)

    def feed_data(self, data):
        """asyncio's: append a copy of data as if received (for protocols that
        feed a reader, and tests).  When it does not fit the free space it
        goes, with the buffered bytes, into a grown buffer (views handed out
        stay valid); the transport, if any, is paused past ``2 * limit``
        buffered bytes, as asyncio does.  O(len(data))."""
        if self._eof:
            raise RuntimeError("feed_data() after feed_eof()")
        with memoryview(data) as m:
            n = m.nbytes
        if not n:
            return
        b = self._buf
        if b.free < n and (self._lent or b.capacity - len(b) < n):
            self._grow(max(len(b) + n, 2 * b.capacity))
            b = self._buf
        self._given = None  # the write below moves the free space
        b.write(data)  # compacts first when that makes room
        self._wakeup()
        if len(b) > 2 * self._limit and not self._paused and self._transport is not None:
            try:
                self._transport.pause_reading()
            except NotImplementedError:
                return
            self._paused = True

    def feed_eof(self):
        self._eof = True
        self._wakeup()

    def set_exception(self, exc):
        self._exception = exc
        self._wakeup(exc)

    def set_transport(self, transport):
        if self._transport is not None:
            raise RuntimeError("Transport already set")
        self._transport = transport

    def exception(self):
        return self._exception

    def at_eof(self):
        """True when the peer has closed and everything buffered was read.
        What is known now: after the last frame it stays False until the
        peer's EOF arrives (``await eof()`` waits for it).  O(1)."""
        return self._eof and not len(self._buf)

    async def eof(self):
        """Wait until a byte or the end of the stream is there: True when the
        stream ended (nothing buffered, EOF received), False when at least
        one byte is buffered.  ``while not await r.eof(): frame = await
        r.readexactly(n)`` ends cleanly and still raises IncompleteRead for a
        truncated frame.  Consumes nothing; no allocation when data is
        buffered."""
        while not len(self._buf) and not self._eof:
            await self._new_waiter("eof")
        return not len(self._buf)

    def _before_tls(self):
        """Room in the buffer before ``start_tls``: the TLS protocol reads the
        first decrypted bytes into get_buffer() when the handshake is done,
        paused or not, and takes an empty buffer for the peer's close_notify
        (EOF).  A buffer full of clear bytes moves to one twice its size (one
        copy of them; the reader settles back at a later read)."""
        b = self._buf
        if len(b) == b.capacity:
            self._grow(2 * b.capacity)

    # -- a buffer larger than the limit -----------------------------------------------

    def _grow(self, need):
        """Move the buffered bytes into a fresh ByteBuffer of `need` bytes
        (one copy of them).  The old buffer is left alone: the views it lent
        stay valid."""
        old = self._buf
        big = ByteBuffer(need)
        big.write(old.peek())
        old.consume(len(old))
        self._given = None  # get_buffer() must hand out the new free space
        self._buf = big

    def _settle(self):
        """Back to the reader's own buffer once the grown one's bytes fit it
        (one copy of at most limit + 1 bytes; nothing when it was read out).
        False while they do not fit."""
        big = self._buf
        home = self._home
        if big is home:
            return True
        if len(big) > home.capacity:
            return False
        home.clear()  # its views are from before the last read call: may go stale
        if len(big):
            home.write(big.peek())
            big.consume(len(big))
        self._given = None
        self._buf = home
        return True

    @property
    def limit(self):
        return self._limit

    @property
    def _buffer(self):
        """asyncio's internal name, for tests ported from asyncio: a copy
        (bytes) of what is buffered.  O(n)."""
        return bytes(self._buf.peek())

    @property
    def buffered(self):
        """Bytes received and not read yet."""
        return len(self._buf)

    # -- waiting ------------------------------------------------------------------------

    def _new_waiter(self, func_name):
        """The future a read awaits for more data (resuming a paused
        transport first).  Returned rather than awaited here, so a waiting
        read resumes through one coroutine frame less."""
        w = self._waiter
        if w is not None and not w.done():
            raise RuntimeError(f"{func_name}() called while another coroutine is "
                               "already waiting for incoming data")
        if self._exception is not None:
            raise self._exception
        wr = self._writer
        if wr is not None:
            wr = wr()
            if wr is not None and wr._pending:
                wr._flush()  # the replies to what was read, before waiting for more
        if self._paused:
            self._paused = False
            self._transport.resume_reading()
        self._waiter = w = self._loop.create_future()
        return w

    # -- reading --------------------------------------------------------------------------

    async def read(self, n=-1):
        """Up to n bytes as soon as any are there (n < 0: everything up to EOF,
        of any size: past the buffer, into one that doubles when full).  An
        empty View at EOF."""
        self._lent = False
        if self._exception is not None:
            raise self._exception
        if self._buf is not self._home:
            self._settle()
        if n == 0:
            return self._buf.read(0)
        if n < 0:
            while not self._eof:
                b = self._buf
                if len(b) == b.capacity:
                    self._grow(2 * b.capacity)
                await self._new_waiter("read")
            self._lent = True
            return self._buf.read()
        while not len(self._buf) and not self._eof:
            await self._new_waiter("read")
        self._lent = True
        return self._buf.read(n)

    async def read_exact(self, n):
        """Exactly n bytes, any n (larger than the buffer: received straight
        into a fresh buffer of n bytes).  IncompleteRead (``.partial``: what
        was there, consumed) at EOF before that; EndOfStream when nothing was."""
        self._lent = False
        if self._exception is not None:
            raise self._exception
        if self._buf is not self._home:
            self._settle()
        b = self._buf
        if len(b) < n:
            if not isinstance(n, int) or isinstance(n, bool):
                raise TypeError(f"n must be an int, not {type(n).__name__}")
            while len(b) < n:
                if self._eof:
                    self._lent = True
                    raise _eof_error(b.read(), n)
                if n > b.capacity:
                    self._grow(n)
                await self._new_waiter("read_exact")
                b = self._buf
        elif n < 0:
            raise ValueError("read_exact size can not be less than zero")
        self._lent = True
        return b.read(n)

    readexactly = read_exact

    async def read_until(self, separator=b"\n", *, limit=None):
        """Bytes up to and including ``separator``.  LimitOverrun when the
        reader's ``limit`` bytes came without it (as asyncio: the record may
        be ``limit + len(separator)`` bytes), or when more than a smaller
        per-call ``limit`` would be returned; the bytes stay buffered, and
        ``.consumed`` is where the separator starts when it was seen, else
        the bytes scanned.  IncompleteRead at EOF without it (EndOfStream
        when nothing was left).

        ``separator`` may be a tuple of separators (asyncio's from 3.13, on
        every version here): the shortest record that ends with any of them;
        for the limit, the separator that matched counts."""
        self._lent = False
        # A separator that is not bytes is copied once: the caller could
        # change it while we wait, and its length sets what we return.
        if type(separator) is not bytes:
            if isinstance(separator, tuple):
                return await self._read_until_any(separator, limit)
            separator = bytes(memoryview(separator))
        seplen = len(separator)
        if not seplen:
            raise ValueError("Separator should be at least one-byte string")  # asyncio's words
        if self._exception is not None:
            raise self._exception
        if self._buf is not self._home:
            self._settle()
        lim = self._limit + seplen
        if limit is not None and limit < lim:
            lim = limit
        b = self._buf
        try:
            v = b.read_until(separator, limit=lim)  # LimitOverrun when lim bytes came without it
        except LimitOverrun:
            i = b.find(separator, lim - seplen + 1)
            if i >= 0:
                raise LimitOverrun(f"Separator is found, but chunk is longer than limit ({lim} "
                                   "bytes with it)", b.peek(lim), i) from None
            raise LimitOverrun(f"Separator is not found, and chunk exceed the limit ({lim} bytes "
                               "with it)", b.peek(lim)) from None
        if v is None:
            # Wait in this frame; rescan only the bytes that came since.
            while True:
                b = self._buf
                avail = len(b)
                if self._eof:
                    self._lent = True
                    raise _eof_error(b.read(), None)
                if avail == b.capacity:  # full, no separator: lim is beyond it
                    self._grow(lim)
                await self._new_waiter("read_until")
                b = self._buf
                i = b.find(separator, avail - seplen + 1 if avail >= seplen else 0)
                if i >= 0:
                    end = i + seplen
                    if end > lim:
                        raise LimitOverrun(f"Separator is found, but chunk is longer than "
                                           f"limit ({lim} bytes with it)", b.peek(lim), i)
                    v = b.read(end)
                    break
                if len(b) >= lim:
                    raise LimitOverrun(f"Separator is not found, and chunk exceed the limit "
                                       f"({lim} bytes with it)", b.peek(lim))
        self._lent = True
        return v

    readuntil = read_until

    async def _read_until_any(self, separators, limit):
        """read_until with a tuple of separators, as asyncio 3.13's readuntil:
        each buffered byte is searched once per separator (the rescan starts
        where no separator can have begun)."""
        seps = sorted((s if type(s) is bytes else bytes(memoryview(s)) for s in separators), key=len)
        if not seps:
            raise ValueError("Separator should contain at least one element")
        min_seplen = len(seps[0])
        max_seplen = len(seps[-1])
        if not min_seplen:
            raise ValueError("Separator should be at least one-byte string")
        if self._exception is not None:
            raise self._exception
        if self._buf is not self._home:
            self._settle()
        offset = 0
        while True:
            b = self._buf
            n = len(b)
            if n - offset >= min_seplen:
                start = end = -1
                for sep in seps:
                    i = b.find(sep, offset)
                    if i >= 0 and (end < 0 or i + len(sep) < end):
                        start, end = i, i + len(sep)
                if end >= 0:
                    break
                offset = max(0, n + 1 - max_seplen)
                if offset > self._limit or (limit is not None and n >= limit):
                    raise LimitOverrun(f"Separator is not found, and chunk exceed the limit "
                                       f"({self._limit} bytes)", b.peek(offset), offset)
            if self._eof:
                self._lent = True
                raise _eof_error(b.read(), None)
            if n == b.capacity:  # full, no separator: the limit is beyond it
                self._grow(2 * b.capacity)
            await self._new_waiter("read_until")
        if start > self._limit or (limit is not None and end > limit):
            raise LimitOverrun(f"Separator is found, but chunk is longer than limit "
                               f"({self._limit} bytes)", b.peek(start), start)
        self._lent = True
        return b.read(end)

    async def readline(self):
        """A line with its b"\\n"; at EOF the last, unterminated line (empty
        View when nothing is left).  A line longer than ``limit`` (its b"\\n"
        aside) is dropped, as asyncio does: through its b"\\n" when that is
        buffered, else every buffered byte; then LimitOverrun (``.partial``:
        a View of the dropped bytes, ``.consumed``: 0, nothing left to skip)."""
        self._lent = False
        if self._exception is not None:
            raise self._exception
        try:
            if self._buf is not self._home:
                self._settle()
            v = self._buf.read_until(b"\n", limit=self._limit + 1)
            if v is None:
                v = await self.read_until(b"\n")
        except IncompleteRead as e:
            v = e.partial
        except LimitOverrun:
            b = self._buf
            i = b.find(b"\n")
            self._lent = True
            dropped = b.read(i + 1 if i >= 0 else None)
            raise LimitOverrun(f"line longer than limit={self._limit} bytes, dropped "
                               f"({len(dropped)} bytes); a larger limit: "
                               "open_connection(limit=...) / start_server(limit=...)",
                               dropped, 0) from None
        self._lent = True
        return v

    def __aiter__(self):
        return self.lines(keepends=True, reuse=False)

    def lines(self, keepends=False, *, reuse=False):
        """Async iterator over lines (without b"\\n" unless keepends), run by
        the ByteBuffer's C line iterator: a buffered line costs one C call,
        no coroutine.  reuse=True yields the same View every step, retargeted
        (nothing allocated per line; a new one while something besides the
        loop variable holds the last); each yielded line is valid until the
        next step: copy what you keep.  Lines split at b"\\n"; without keepends a b"\\r\\n" ending is
        dropped whole (as ``bytes.splitlines()``), a lone b"\\r" stays.
        LimitOverrun for a line longer than ``limit`` (bytes kept)."""
        self._lent = True
        if self._buf is not self._home:
            self._settle()
        return _AsyncLines(self._home.iterlines(self._source, keepends, reuse), self._lines_wait,
                           _Ready())

    async def _lines_wait(self, it):
        """No complete line buffered: wait for data, then the next line."""
        while True:
            if self._buf is not self._home:
                # a read larger than the buffer was cancelled with its bytes
                if not self._settle():
                    raise RuntimeError(f"lines(): {len(self._buf)} bytes are buffered, more "
                                       f"than limit={self._limit}, after a cancelled larger "
                                       "read; read them with read()/readexactly() first")
            elif not self._eof:
                await self._new_waiter("lines")
            self._lent = True
            try:
                return next(it)
            except BlockingIOError:
                continue
            except StopIteration:
                raise StopAsyncIteration from None

    def peek(self, n=None):
        """A borrowed View of up to n buffered bytes, not consumed.  O(1)."""
        return self._buf.peek(n)


class StreamWriter:
    """Writes to a transport without intermediate copies; see the module doc.

    ``protocol`` is a ``StreamReaderProtocol`` (nocopy's or asyncio's) or
    anything with ``asyncio.streams.FlowControlMixin``'s drain support;
    ``reader`` a StreamReader or None.  A writer garbage-collected while its
    transport is open closes it and warns (ResourceWarning "unclosed
    <StreamWriter ...>", or "loop is closed"), as asyncio's does (3.11+)."""

    def __init__(self, transport, protocol, reader, loop):
        self._transport = transport
        self._protocol = protocol
        self._reader = reader
        self._loop = loop
        self._jbuf = None  # the write_json buffer, made on first use
        self._gather = None  # small writes, made on first use (see _SMALL)
        # bytes gathered and not handed to the transport yet (a flag: a
        # running count would be a new int object per write past 256)
        self._pending = False
        self._scheduled = False  # a _flush_soon is queued on the loop
        self._direct = False  # after close(), write_eof() or the connection's end: no gathering
        # gathering pays only while our reader holds more input to answer
        self._more = reader if isinstance(reader, StreamReader) else None
        if self._more is not None:
            reader._writer = weakref.ref(self)

    def __repr__(self):
        info = [self.__class__.__name__, f"transport={self._transport!r}"]
        if self._reader is not None:
            info.append(f"reader={self._reader!r}")
        return f"<{' '.join(info)}>"

    def __del__(self, warnings=warnings):  # bound now: it may run at interpreter exit
        try:
            transport = self._transport
            loop = self._loop
        except AttributeError:  # a failed __init__
            return
        if not transport.is_closing():
            if loop.is_closed():
                warnings.warn("loop is closed", ResourceWarning)
            else:
                self.close()
                warnings.warn(f"unclosed {self!r}", ResourceWarning)

    @property
    def transport(self):
        return self._transport

    def write(self, data):
        """Send data: bytes, bytearray, memoryview, View, anything with the
        buffer protocol, or a Rope (scatter-gather of its segments: never
        flattened).  While the connection's reader still holds unread bytes
        (pipelined requests), bytes and Views up to 1 KiB are copied into the
        writer's 16 KiB gather buffer and go to the transport together when
        the reader runs dry, before it waits, or at the loop's next pass,
        whichever is first: one send per batch of replies, not one per reply
        (O(len), no allocation).  Any other write sends what was gathered
        first: order is kept."""
        t = type(data)
        if (t is bytes or t is View) and not self._direct:
            r = self._more
            if r is not None and (self._pending or len(r._buf)):
                if len(data) <= _SMALL:
                    g = self._gather
                    if g is None:
                        g = self._gather = ByteBuffer(_GATHER)
                    try:
                        g.write(data)
                    except BufferTooSmall:  # full (nothing written): send, then gather
                        self._flush()
                        g.write(data)
                    self._pending = True
                    if not len(r._buf):
                        self._flush()  # the last reply of a batch: send them all
                    elif not self._scheduled:
                        self._scheduled = True
                        self._loop.call_soon(self._flush_soon)
                    return
        if t is bytes:
            if self._pending:
                self._flush()
            self._transport.write(data)
            return
        if t is not View:
            segments = getattr(data, "segments", None)
            if segments is not None:  # a Rope: its buffer export would flatten it
                self.writelines(segments())  # sends what was gathered first
                return
        try:
            mv = memoryview(data)
        except TypeError:
            raise TypeError(f"data argument must be a bytes-like object, a View or a "
                            f"Rope, not {t.__name__!r}") from None
        if self._pending:  # only now: a refused write sends nothing
            self._flush()
        self._transport.write(mv)

    def _flush(self):
        """Hand the gathered bytes to the transport (no copy: a View of the
        gather buffer, which moves to fresh storage at clear() if the
        transport keeps it)."""
        g = self._gather
        self._pending = False
        if self._transport.is_closing():
            # closed past us (writer.transport.close()): dropped, as asyncio's
            # transport drops writes then (uvloop's would raise, from a read)
            g.clear()
            return
        self._transport.write(memoryview(g.read()))
        g.clear()

    def _flush_soon(self):
        self._scheduled = False
        if self._pending:
            self._flush()

    def writelines(self, parts):
        """Send several buffers in order: one ``sendmsg`` where the loop does
        scatter-gather, no joined copy made here.  Ropes contribute their
        segments.  Empty parts are left out: asyncio's socket transport on
        3.12/3.13 keeps an empty buffer queued for good, and write_eof() then
        never sends the end."""
        out = []
        for p in parts:
            t = type(p)
            if t is bytes:
                if p:
                    out.append(p)
                continue
            if t is not View:
                segments = getattr(p, "segments", None)
                if segments is not None:
                    for s in segments():
                        if len(s):
                            out.append(s if type(s) is bytes else memoryview(s))
                    continue
            try:
                mv = memoryview(p)
            except TypeError:
                raise TypeError(f"writelines() items must be bytes-like objects, Views or "
                                f"Ropes, not {t.__name__!r}") from None
            if mv.nbytes:
                out.append(mv)
        if self._pending:
            self._flush()
        if out:
            self._transport.writelines(out)

    async def write_rope(self, rope):
        """Send a Rope in order and return its length, without loading its
        file segments: memory segments go scatter-gather as in write(), a
        file segment by ``loop.sendfile`` where the transport supports it
        natively (the bytes written before it are flushed first), else in
        64 KiB ``os.pread`` chunks with ``drain()`` between them.  The Rope is
        not consumed; the segments are taken when the call starts (later
        changes to the Rope are not seen; the file regions stay open until
        the call returns).  OSError when a file is now shorter than its
        segment.  Cost: one ``raw_segments()``, one writelines per run of
        memory segments, one sendfile (or len/64 KiB reads) per file segment."""
        if self._pending:
            self._flush()
        t = self._transport
        total = 0
        run = []
        for seg in rope.raw_segments():
            if type(seg) is not tuple:
                mv = memoryview(seg)
                if mv.nbytes:  # an empty one would stall write_eof (see writelines)
                    run.append(mv)
                    total += mv.nbytes
                continue
            if run:
                t.writelines(run)
                run = []
            region, offset, count = seg
            await self._send_file(region, offset, count)
            total += count
        if run:
            t.writelines(run)
        return total

    def _native_sendfile(self):
        mode = getattr(self._transport, "_sendfile_compatible", None)
        return mode is not None and mode.name == "TRY_NATIVE"

    async def _send_file(self, region, offset, count):
        if self._native_sendfile():
            # loop.sendfile waits for the transport's buffer to empty first,
            # so the order holds.  Its file object only lends fileno(); the
            # offsets are explicit (sendfile), but it seeks the fd at the end
            # (os.lseek), and the region's fd is a dup sharing the caller's
            # file position: that position is put back.
            fd = region.fileno()
            pos = os.lseek(fd, 0, os.SEEK_CUR)
            try:
                with open(fd, "rb", buffering=0, closefd=False) as f:
                    try:
                        sent = await self._loop.sendfile(self._transport, f, offset, count,
                                                         fallback=False)
                    except asyncio.SendfileNotAvailableError:
                        sent = 0
            finally:
                os.lseek(fd, pos, os.SEEK_SET)
            if sent == count:
                return
            if sent > count or (sent and os.fstat(region.fileno()).st_size < offset + count):
                raise OSError(f"Rope file segment: the file ends before the {count} bytes "
                              f"at offset {offset} it had when appended (it was truncated)")
            offset += sent
            count -= sent
        # bounded chunks: pread, write, drain (the transport keeps what it
        # cannot send yet, so each chunk is a new bytes object)
        fd = region.fileno()
        while count:
            chunk = os.pread(fd, min(count, 65536), offset)
            if not chunk:
                raise OSError(f"Rope file segment: the file ends at offset {offset}, before "
                              f"the bytes it had when appended (it was truncated)")
            self._transport.write(chunk)
            offset += len(chunk)
            count -= len(chunk)
            await self.drain()

    def write_json(self, obj, *, prefix=None, byteorder="big", **options):
        """Serialize obj with ``nocopy.json`` (same options, compact separators
        and ensure_ascii=False by default) into the writer's own ByteBuffer
        and send it; with ``prefix`` ("u8", "u16", "u32" or "u64", in
        ``byteorder``) the document's length goes in front of it, as
        ``ByteBuffer.write_json`` and ``nocopy.io.Writer.write_json`` do:
        one C call, no temporary bytes.  Returns the bytes sent (prefix +
        document).  The buffer starts at 4 KiB and is replaced by one of the
        exact size needed when a frame does not fit (``default`` then runs
        again)."""
        jb = self._jbuf
        if jb is None:
            jb = self._jbuf = ByteBuffer(4096)
        try:
            n = jb.write_json(obj, prefix=prefix, byteorder=byteorder, **options)
        except BufferTooSmall as e:
            need = e.needed
            if need is None:
                raise
            jb = self._jbuf = ByteBuffer(max(need, 2 * jb.capacity))
            n = jb.write_json(obj, prefix=prefix, byteorder=byteorder, **options)
        if self._pending:
            self._flush()
        self._transport.write(memoryview(jb.read(n)))
        jb.clear()  # a transport still holding the bytes keeps them: clear() moves instead
        return n

    def can_write_eof(self):
        return self._transport.can_write_eof()

    def write_eof(self):
        if self._pending:
            self._flush()
        self._direct = True
        return self._transport.write_eof()

    def set_write_buffer_limits(self, high=None, low=None):
        """The transport's water marks: drain() waits while more than ``high``
        bytes are queued, until fewer than ``low`` are."""
        self._transport.set_write_buffer_limits(high, low)

    def get_write_buffer_size(self):
        g = self._gather
        return self._transport.get_write_buffer_size() + (len(g) if g is not None else 0)

    def close(self):
        if self._pending:
            self._flush()
        self._direct = True
        return self._transport.close()

    def is_closing(self):
        return self._transport.is_closing()

    async def wait_closed(self):
        await self._protocol._get_close_waiter(self)

    async def start_tls(self, sslcontext, *, server_hostname=None, ssl_handshake_timeout=None,
                        ssl_shutdown_timeout=None):
        """Upgrade the connection to TLS, as asyncio's ``StreamWriter.start_tls``
        (server side when the streams came from ``start_server``): drains,
        runs ``loop.start_tls`` and writes through the TLS transport from
        then on.  The reader keeps its buffer and its unread bytes (received
        before the upgrade, in the clear) and receives the decrypted bytes
        straight into it afterwards.  Costs the TLS handshake."""
        protocol = self._protocol
        server_side = protocol._client_connected_cb is not None
        if self._pending:  # gathered replies go out in the clear, before the upgrade
            self._flush()
        await self.drain()
        r = self._reader
        if isinstance(r, StreamReader):
            r._before_tls()  # no await from here to loop.start_tls's pause of the transport
        new_transport = await self._loop.start_tls(
            self._transport, protocol, sslcontext, server_side=server_side,
            server_hostname=server_hostname, ssl_handshake_timeout=ssl_handshake_timeout,
            ssl_shutdown_timeout=ssl_shutdown_timeout)
        self._transport = new_transport
        replace = getattr(protocol, "_replace_writer", None)
        if replace is not None:  # nocopy's, and asyncio's up to 3.12
            replace(self)
        else:  # asyncio's from 3.13
            protocol._replace_transport(new_transport)

    def get_extra_info(self, name, default=None):
        return self._transport.get_extra_info(name, default)

    async def drain(self):
        """Wait until the transport's buffer is under its low-water mark.
        Raises the connection's error once it is lost."""
        p = self._protocol
        r = self._reader
        if not p._paused and not p._connection_lost and (r is None or r._exception is None) \
                and not self._transport.is_closing():
            return  # the common case, without another coroutine
        if r is not None:
            exc = r._exception
            if exc is not None:
                raise exc
        if self._transport.is_closing():
            # Let connection_lost() run first, so the error below is the real one.
            await asyncio.sleep(0)
        await p._drain_helper()


class FlowControlMixin:
    """asyncio.streams.FlowControlMixin's part of a stream protocol: the
    transport's pause_writing()/resume_writing() and connection_lost(), and
    ``_drain_helper()``, which ``StreamWriter.drain()`` awaits.  For a
    protocol of your own that hands a transport to a nocopy StreamWriter.
    Without ``loop``: the running loop, else the current one."""

    def __init__(self, loop=None):
        self._loop = asyncio.get_event_loop() if loop is None else loop
        self._paused = False
        self._drain_waiters = []
        self._connection_lost = False

    def pause_writing(self):
        self._paused = True

    def resume_writing(self):
        self._paused = False
        for w in self._drain_waiters:
            if not w.done():
                w.set_result(None)
        self._drain_waiters.clear()

    def connection_lost(self, exc):
        self._connection_lost = True
        for w in self._drain_waiters:
            if not w.done():
                if exc is None:
                    w.set_result(None)
                else:
                    w.set_exception(exc)
        self._drain_waiters.clear()

    async def _drain_helper(self):
        if self._connection_lost:
            raise ConnectionResetError("Connection lost")
        if not self._paused:
            return
        w = self._loop.create_future()
        self._drain_waiters.append(w)
        try:
            await w
        finally:
            try:
                self._drain_waiters.remove(w)
            except ValueError:
                pass


class StreamReaderProtocol(FlowControlMixin, asyncio.BufferedProtocol):
    """Connects a transport to a nocopy ``StreamReader`` (and, with
    ``client_connected_cb``, a new StreamWriter per connection), as
    asyncio's StreamReaderProtocol: what ``open_connection``/``start_server``
    use.  A ``BufferedProtocol``: transports that support it (sockets, TLS,
    uvloop's pipes) receive straight into the reader's buffer; the others
    (asyncio's pipe transports: ``loop.connect_read_pipe``) call
    ``data_received``, which copies into it (``feed_data``).  The reader
    also works under asyncio's own StreamReaderProtocol, through
    ``feed_data``."""

    def __init__(self, stream_reader, client_connected_cb=None, loop=None):
        FlowControlMixin.__init__(self, loop)
        self._reader = stream_reader
        self._client_connected_cb = client_connected_cb
        self._writer = None     # the server side's writer, kept before 3.13 (see connection_made)
        self._transport = None
        self._task = None
        self._lost_exc = None
        self._closed = self._loop.create_future()
        self._over_ssl = False

    def connection_made(self, transport):
        # The transport calls these per read: straight to the reader, one
        # Python frame instead of two (uvloop caches them after this).
        self.get_buffer = self._reader._get_buffer
        self.buffer_updated = self._reader._buffer_updated
        self._reader.set_transport(transport)
        self._over_ssl = transport.get_extra_info("sslcontext") is not None
        if self._client_connected_cb is None:
            return
        self._transport = transport
        writer = StreamWriter(transport, self, self._reader, self._loop)
        if _KEEP_SERVER_WRITER:
            # asyncio's protocol keeps it until 3.12; from 3.13 it does not,
            # so a server writer dropped unclosed is collected and warns
            self._writer = writer
        res = self._client_connected_cb(self._reader, writer)
        if asyncio.iscoroutine(res):
            self._task = task = self._loop.create_task(res)
            task.add_done_callback(self._cb_done)

    def _replace_writer(self, writer):
        """After ``start_tls``: the reader pauses and resumes the TLS
        transport from now on (loop.start_tls resumed the raw one)."""
        transport = writer.transport
        self._transport = transport
        if _KEEP_SERVER_WRITER:
            self._writer = writer
        self._over_ssl = transport.get_extra_info("sslcontext") is not None
        r = self._reader
        old = r._transport
        r._transport = transport
        if r._paused and old is not None and old is not transport:
            # The reader paused the raw transport (before the upgrade, or as
            # the first decrypted bytes filled it): TLS drives that one now,
            # so the pause moves to the TLS transport; the next wait resumes it.
            old.resume_reading()
            transport.pause_reading()

    def _cb_done(self, task):
        self._task = None
        if task.cancelled():
            self._transport.close()
            return
        exc = task.exception()
        if exc is not None:
            self._loop.call_exception_handler({
                "message": "Unhandled exception in client_connected_cb",
                "exception": exc,
                "transport": self._transport,
            })
            self._transport.close()

    def get_buffer(self, sizehint):
        return self._reader._get_buffer()

    def buffer_updated(self, nbytes):
        self._reader._buffer_updated(nbytes)

    def data_received(self, data):
        # transports without BufferedProtocol support (asyncio's pipes)
        self._reader.feed_data(data)

    def eof_received(self):
        self._reader.feed_eof()
        return not self._over_ssl  # keep the write side open (as asyncio's streams)

    def connection_lost(self, exc):
        self._lost_exc = exc
        wr = self._reader._writer if isinstance(self._reader, StreamReader) else None
        w = wr() if wr is not None else None
        if w is not None:
            # what is still gathered cannot be sent; later writes go
            # straight to the transport, which refuses or drops them
            w._direct = True
            if w._pending:
                w._pending = False
                w._gather.clear()
        if exc is None:
            self._reader.feed_eof()
        else:
            self._reader.set_exception(exc)
        if not self._closed.done():
            self._closed.set_result(None)
        FlowControlMixin.connection_lost(self, exc)

    def _get_close_waiter(self, stream):
        return self._closed_waiter()

    async def _closed_waiter(self):
        await asyncio.shield(self._closed)
        if self._lost_exc is not None:
            raise self._lost_exc


def _factory(limit, cb=None):
    loop = asyncio.get_running_loop()
    return loop, (lambda: StreamReaderProtocol(StreamReader(limit, loop), cb, loop))


async def open_connection(host=None, port=None, *, limit=_DEFAULT_LIMIT, **kwds):
    """Connect and return ``(StreamReader, StreamWriter)``; the arguments are
    ``loop.create_connection``'s (as ``asyncio.open_connection``)."""
    loop, factory = _factory(limit)
    transport, protocol = await loop.create_connection(factory, host, port, **kwds)
    return protocol._reader, StreamWriter(transport, protocol, protocol._reader, loop)


async def start_server(client_connected_cb, host=None, port=None, *, limit=_DEFAULT_LIMIT,
                       **kwds):
    """Serve: ``client_connected_cb(reader, writer)`` (a coroutine function
    runs as a task) per connection.  Arguments as ``asyncio.start_server``."""
    loop, factory = _factory(limit, client_connected_cb)
    return await loop.create_server(factory, host, port, **kwds)


class _SubprocessStreamProtocol(asyncio.subprocess.SubprocessStreamProtocol):
    """asyncio's subprocess protocol with nocopy streams for the pipes.  The
    pipe transports call pipe_data_received(fd, bytes): the data reaches
    the reader by feed_data (one copy; asyncio's pipes have no
    BufferedProtocol path)."""

    def connection_made(self, transport):
        self._transport = transport
        stdout_transport = transport.get_pipe_transport(1)
        if stdout_transport is not None:
            self.stdout = StreamReader(limit=self._limit, loop=self._loop)
            self.stdout.set_transport(stdout_transport)
            self._pipe_fds.append(1)
        stderr_transport = transport.get_pipe_transport(2)
        if stderr_transport is not None:
            self.stderr = StreamReader(limit=self._limit, loop=self._loop)
            self.stderr.set_transport(stderr_transport)
            self._pipe_fds.append(2)
        stdin_transport = transport.get_pipe_transport(0)
        if stdin_transport is not None:
            self.stdin = StreamWriter(stdin_transport, protocol=self, reader=None, loop=self._loop)


async def create_subprocess_exec(program, *args, stdin=None, stdout=None, stderr=None,
                                 limit=_DEFAULT_LIMIT, **kwds):
    """``asyncio.create_subprocess_exec`` with nocopy streams: the returned
    ``asyncio.subprocess.Process`` has a nocopy StreamReader as ``stdout`` /
    ``stderr`` (with ``PIPE``) and a nocopy StreamWriter as ``stdin``, so
    its reads return borrowed Views (``communicate()`` too).  Each chunk
    from a pipe is copied once into the reader's buffer."""
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.subprocess_exec(
        lambda: _SubprocessStreamProtocol(limit=limit, loop=loop), program, *args,
        stdin=stdin, stdout=stdout, stderr=stderr, **kwds)
    return asyncio.subprocess.Process(transport, protocol, loop)


async def create_subprocess_shell(cmd, stdin=None, stdout=None, stderr=None,
                                  limit=_DEFAULT_LIMIT, **kwds):
    """``asyncio.create_subprocess_shell`` with nocopy streams (see
    ``create_subprocess_exec``)."""
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.subprocess_shell(
        lambda: _SubprocessStreamProtocol(limit=limit, loop=loop), cmd,
        stdin=stdin, stdout=stdout, stderr=stderr, **kwds)
    return asyncio.subprocess.Process(transport, protocol, loop)


if hasattr(socket, "AF_UNIX"):
    async def open_unix_connection(path=None, *, limit=_DEFAULT_LIMIT, **kwds):
        """``open_connection`` over a Unix socket."""
        loop, factory = _factory(limit)
        transport, protocol = await loop.create_unix_connection(factory, path, **kwds)
        return protocol._reader, StreamWriter(transport, protocol, protocol._reader, loop)

    async def start_unix_server(client_connected_cb, path=None, *, limit=_DEFAULT_LIMIT, **kwds):
        """``start_server`` over a Unix socket."""
        loop, factory = _factory(limit, client_connected_cb)
        return await loop.create_unix_server(factory, path, **kwds)
