"""nocopy's exceptions. Plain Python so they are documented, picklable and
importable without the C core.

Porting from asyncio streams: ``IncompleteRead`` is an
``asyncio.IncompleteReadError`` and ``LimitOverrun`` an
``asyncio.LimitOverrunError`` (with ``.consumed``) as soon as asyncio is in use
(nocopy.aio imported, or asyncio imported before nocopy), so ``except``
clauses written for asyncio catch them.  Not before: importing asyncio
would make ``import nocopy`` several times slower for every program.  Until
then each class derives from a stand-in with the same layout, which
``_adopt_asyncio_bases()`` swaps for asyncio's class."""
import sys as _sys

__all__ = ["StaleViewError", "BufferTooSmall", "LimitOverrun", "IncompleteRead", "EndOfStream",
           "PoolExhausted", "VarintError"]


class _IncompleteReadBase(EOFError):
    """Stand-in for asyncio.IncompleteReadError until asyncio is imported."""


class _LimitOverrunBase(Exception):
    """Stand-in for asyncio.LimitOverrunError until asyncio is imported."""


class StaleViewError(RuntimeError):
    """A borrowed View was used after its ByteBuffer moved or overwrote its bytes.

    Raised instead of showing other bytes: take ``view.tobytes()`` before the
    buffer moves if the data must outlive it."""


class BufferTooSmall(ValueError):
    """The destination cannot hold what was to be written. ``needed`` is the
    exact number of bytes the whole write needs (from the write position);
    nothing before the write position was touched."""

    def __init__(self, message="buffer too small", needed=None):
        super().__init__(message)
        self.needed = needed

    def __reduce__(self):
        return (type(self), (self.args[0] if self.args else "", self.needed))


class LimitOverrun(ValueError, _LimitOverrunBase):
    """``limit`` bytes passed without the awaited delimiter or EOF. The data
    read so far is kept: on the exception as ``partial`` where the call owned it,
    or left in the buffer.  ``consumed`` (asyncio's name): how many bytes
    are still buffered that the caller may skip (``len(partial)``; 0 when the
    call already dropped them, as aio's ``readline()`` does).  asyncio's form
    ``LimitOverrun(message, consumed)`` works too: an int in second place is
    ``consumed`` (a partial is never an int)."""

    def __init__(self, message="limit overrun", partial=None, consumed=None):
        ValueError.__init__(self, message)
        if type(partial) is int and consumed is None:  # asyncio's (message, consumed)
            partial, consumed = None, partial
        self.partial = partial
        if consumed is None:
            consumed = 0 if partial is None else len(partial)
        self.consumed = consumed

    def __reduce__(self):
        return (type(self), (self.args[0] if self.args else "", self.partial, self.consumed))


class IncompleteRead(_IncompleteReadBase):
    """EOF arrived before the requested amount; ``partial`` holds what was read.
    When nothing at all was read the subclass ``EndOfStream`` is raised."""

    def __init__(self, partial=b"", expected=None):
        self.partial = partial
        self.expected = expected
        # asyncio.IncompleteReadError's message, word for word
        msg = (f"{len(partial)} bytes read on a total of "
               f"{'undefined' if expected is None else repr(expected)} expected bytes")
        EOFError.__init__(self, msg)

    def __reduce__(self):
        return (type(self), (self.partial, self.expected))


class EndOfStream(IncompleteRead):
    """A clean end: EOF came before the first byte of the frame, record or
    value (``partial`` is empty).  A truncated frame raises IncompleteRead
    itself, so ``except EndOfStream: break`` ends a frame loop and lets a
    truncation through."""


def _eof_error(partial, expected=None):
    """The EOF exception for a read that got `partial`: EndOfStream when empty."""
    return (IncompleteRead if len(partial) else EndOfStream)(partial, expected)


class PoolExhausted(RuntimeError):
    """Every buffer of a Pool is lent out and none came back within the timeout."""


class VarintError(ValueError):
    """A LEB128 varint is over-long: more than 10 bytes, or its value does not
    fit 64 bits (a 10th byte above 1).  Raised by the typed cursors
    (``read_uvarint``/``read_varint``); nothing was consumed."""


def _adopt_asyncio_bases():
    """Make IncompleteRead an asyncio.IncompleteReadError and LimitOverrun an
    asyncio.LimitOverrunError (their stand-in bases have the same layout).
    Idempotent; called by nocopy.aio on import."""
    import asyncio
    if IncompleteRead.__bases__ == (_IncompleteReadBase,):
        IncompleteRead.__bases__ = (asyncio.IncompleteReadError,)
    if LimitOverrun.__bases__ == (ValueError, _LimitOverrunBase):
        LimitOverrun.__bases__ = (ValueError, asyncio.LimitOverrunError)


if "asyncio" in _sys.modules:
    _adopt_asyncio_bases()
