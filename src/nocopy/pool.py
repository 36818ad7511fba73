"""nocopy.pool: a fixed set of preallocated buffers, lent out and taken back.

    pool = Pool(4096, 16)
    with pool.buffer() as b:            # a ByteBuffer, empty
        ...
    async with pool.buffer() as b:      # the same, waiting without blocking the loop
        ...

A buffer is lent to one borrower at a time and taken back *cleared*
(``ByteBuffer.clear()``; a ``bytearray`` pool hands its buffers back as they
are: its length is fixed and clearing would resize it).  When every buffer is
lent, ``buffer()`` waits for one to come back, up to ``timeout`` seconds, then
raises ``PoolExhausted``:

* ``timeout=None`` waits as long as it takes;
* ``timeout=0`` never waits: ``PoolExhausted`` at once;
* the per-call ``timeout`` overrides the pool's default.

Thread-safe: a lock guards the free list, synchronous waiters sleep on a
condition, asyncio waiters on futures of their own loop (woken with
``call_soon_threadsafe`` when the buffer comes back on another thread).  A
woken waiter takes the buffer only if it is still free, so a buffer is never
lent twice, and a waiter that times out or is cancelled never swallows a wake-up
meant for another.

A ByteBuffer is taken back with ``_reset()``: cleared, its source and
overflow handler detached, and every View (writable ones and sub-views
included) and line iterator the borrower kept made stale, so nothing of the
previous borrower's can read or write the next borrower's bytes.  Returning a
ByteBuffer whose views someone still exports (a ``memoryview`` of a view, a
transport still sending from it) is safe: it then moves to fresh storage and
leaves the old bytes to their holders.
"""
import collections
import threading
import time

from ._core import ByteBuffer
from .errors import PoolExhausted

__all__ = ["Pool", "PoolExhausted"]

_DEFAULT = object()


def _running_loop():
    import asyncio
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _identity(b):
    return b


def _wake(fut):
    if not fut.done():
        fut.set_result(None)


class Pool:
    """``Pool(buffer_size, count, *, kind=ByteBuffer, timeout=None, headroom=0)``:
    ``count`` buffers of ``buffer_size`` bytes, all allocated now.

    ``kind`` is ``ByteBuffer`` (default; taken back cleared) or ``bytearray``
    (taken back as is).  ``timeout`` is the default wait for ``buffer()`` /
    ``acquire()`` when every buffer is lent (None: no limit, 0: no wait).
    ``headroom`` (ByteBuffer only) is each buffer's ``ByteBuffer(headroom=)``:
    reserved before the data for ``prepend()``, whole again in every buffer
    the pool lends (taking a buffer back clears it)."""

    def __init__(self, buffer_size=65536, count=8, *, kind=ByteBuffer, timeout=None,
                 headroom=0):
        for name, v in (("buffer_size", buffer_size), ("count", count), ("headroom", headroom)):
            if not isinstance(v, int) or isinstance(v, bool):
                raise TypeError(f"{name} must be an int, not {type(v).__name__}")
            if v < (name != "headroom"):
                raise ValueError(f"{name} must be >= {int(name != 'headroom')}, got {v}")
        if kind is not ByteBuffer and kind is not bytearray:
            raise TypeError(f"kind must be ByteBuffer or bytearray, not {kind!r}")
        if headroom and kind is not ByteBuffer:
            raise ValueError("headroom needs kind=ByteBuffer (a bytearray has no cursors)")
        self._timeout = self._check_timeout(timeout)
        self.buffer_size = buffer_size
        self.count = count
        self.kind = kind
        self.headroom = headroom
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        if kind is ByteBuffer:
            self._all = [ByteBuffer(buffer_size, headroom=headroom) for _ in range(count)]
        else:
            self._all = [kind(buffer_size) for _ in range(count)]
        self._free = list(self._all)          # a stack: the warmest buffer goes out first
        # Lent buffers by key: the ByteBuffer itself (hashed by identity, no
        # int made per lending), id() for the unhashable bytearray.
        self._key = _identity if kind.__hash__ is object.__hash__ else id
        self._lent = set()
        self._keys = {self._key(b) for b in self._all}
        self._sync_waiters = 0
        self._async_waiters = collections.deque()  # (loop, future)

    @staticmethod
    def _check_timeout(timeout):
        if timeout is None:
            return None
        t = type(timeout)
        if t is float or t is int:
            if timeout >= 0:
                return timeout
            raise ValueError(f"timeout must be >= 0 or None, got {timeout!r}")
        if not isinstance(timeout, (int, float)) or isinstance(timeout, bool):
            raise TypeError(f"timeout must be a number or None, not {type(timeout).__name__}")
        if timeout != timeout or timeout < 0:
            raise ValueError(f"timeout must be >= 0 or None, got {timeout!r}")
        return timeout

    def _resolve_timeout(self, timeout):
        return self._timeout if timeout is _DEFAULT else self._check_timeout(timeout)

    @property
    def available(self):
        """Buffers free right now (a snapshot)."""
        return len(self._free)

    def __len__(self):
        return self.count

    def __repr__(self):
        return (f"<nocopy.Pool {self.count} x {self.buffer_size} bytes "
                f"({self.kind.__name__}), {len(self._free)} free>")

    # -- lending ------------------------------------------------------------------

    def _take(self):
        """Under the lock: a free buffer, marked lent, or None."""
        if self._free:
            b = self._free.pop()
            self._lent.add(self._key(b))
            return b
        return None

    def _exhausted(self, timeout):
        waited = "" if not timeout else f" within {timeout} s"
        return PoolExhausted(f"all {self.count} buffers of the pool are lent and none came back{waited}")

    def acquire(self, timeout=_DEFAULT):
        """Take a buffer, waiting (blocking this thread) up to ``timeout``
        seconds for one to come back; ``PoolExhausted`` after that.  Give it
        back with ``release()`` — or use ``with pool.buffer() as b``."""
        if timeout is not _DEFAULT:
            timeout = self._check_timeout(timeout)
        else:
            timeout = self._timeout
        # lock.acquire()/release() rather than `with`: no bound-method objects
        # on the hot path.  The condition's wait() below works under this lock.
        lock = self._lock
        lock.acquire()
        try:
            if self._free:
                b = self._free.pop()
                self._lent.add(self._key(b))
                return b
            if timeout is not None and timeout <= 0:
                raise self._exhausted(timeout)
            deadline = None if timeout is None else time.monotonic() + timeout
            self._sync_waiters += 1
            try:
                while True:
                    if deadline is None:
                        self._cond.wait()
                    else:
                        left = deadline - time.monotonic()
                        if left <= 0:
                            raise self._exhausted(timeout)
                        self._cond.wait(left)
                    # Woken, timed out or spurious: take only what is really free.
                    b = self._take()
                    if b is not None:
                        return b
            finally:
                self._sync_waiters -= 1
        finally:
            lock.release()

    async def acquire_async(self, timeout=_DEFAULT):
        """``acquire()`` for coroutines: waits without blocking the event loop."""
        import asyncio  # here: `import nocopy` does not pay for asyncio

        timeout = self._resolve_timeout(timeout)
        with self._lock:
            b = self._take()
        if b is not None:
            return b
        if timeout is not None and timeout <= 0:
            raise self._exhausted(timeout)
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            fut = loop.create_future()
            entry = (loop, fut)
            with self._lock:
                b = self._take()
                if b is not None:
                    return b
                self._async_waiters.append(entry)
            try:
                if deadline is None:
                    await fut
                else:
                    left = deadline - loop.time()
                    if left <= 0:
                        raise self._exhausted(timeout)
                    try:
                        async with asyncio.timeout(left):
                            await fut
                    except TimeoutError:
                        raise self._exhausted(timeout) from None
            finally:
                with self._lock:
                    try:
                        self._async_waiters.remove(entry)
                    except ValueError:
                        pass  # already popped by a release
            with self._lock:
                b = self._take()
            if b is not None:
                return b

    def _check_lent(self, bid):
        if bid not in self._lent:
            if bid in self._keys:
                raise ValueError("this buffer was already returned to the pool")
            raise ValueError("this buffer does not belong to the pool")

    def release(self, buf):
        """Take back a lent buffer (cleared if it is a ByteBuffer).  ValueError
        for a buffer that is not lent by this pool (or was already returned)."""
        bid = self._key(buf)
        lock = self._lock
        if self.kind is ByteBuffer:
            # Outside the lock: _reset() may run Python (a finalizer that uses
            # the pool would deadlock).  It stales every View, line iterator,
            # source and overflow handler the borrower kept, so nothing of
            # theirs reaches the next borrower's bytes.  RuntimeError while a
            # fill runs on it: it stays lent.
            with lock:
                self._check_lent(bid)
            buf._reset()
        lock.acquire()
        try:
            self._check_lent(bid)
            self._lent.remove(bid)
            self._free.append(buf)
            if self._sync_waiters:
                self._cond.notify()
            if not self._async_waiters:
                return
            # Every asyncio waiter retries; the ones that lose the race wait again.
            waiters = list(self._async_waiters)
            self._async_waiters.clear()
        finally:
            lock.release()
        if waiters:
            running = _running_loop()
            for loop, fut in waiters:
                if loop is running:
                    _wake(fut)
                else:
                    try:
                        loop.call_soon_threadsafe(_wake, fut)
                    except RuntimeError:
                        pass  # that loop is closed: its waiter is gone

    def buffer(self, timeout=_DEFAULT):
        """A context manager lending one buffer for the ``with`` (or
        ``async with``) block and taking it back at its end."""
        return _Loan(self, timeout)


class _Loan:
    """One lending: ``with`` / ``async with``; not reentrant."""

    __slots__ = ("_pool", "_timeout", "_buf")

    def __init__(self, pool, timeout):
        self._pool = pool
        self._timeout = timeout
        self._buf = None

    def __enter__(self):
        if self._buf is not None:
            raise RuntimeError("this pool.buffer() is already in use")
        self._buf = self._pool.acquire(self._timeout)
        return self._buf

    def __exit__(self, *exc):
        buf, self._buf = self._buf, None
        self._pool.release(buf)
        return False

    async def __aenter__(self):
        if self._buf is not None:
            raise RuntimeError("this pool.buffer() is already in use")
        self._buf = await self._pool.acquire_async(self._timeout)
        return self._buf

    async def __aexit__(self, *exc):
        buf, self._buf = self._buf, None
        self._pool.release(buf)
        return False
