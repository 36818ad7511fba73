"""nocopy's exceptions. Plain Python so they are documented, picklable and
importable without the C core."""

__all__ = ["StaleViewError", "BufferTooSmall", "LimitOverrun", "IncompleteRead", "PoolExhausted",
           "VarintError"]


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


class LimitOverrun(ValueError):
    """``limit`` bytes passed without the awaited delimiter or EOF. The data
    read so far is kept: on the exception as ``partial`` where the call owned it,
    or left in the buffer."""

    def __init__(self, message="limit overrun", partial=None):
        super().__init__(message)
        self.partial = partial

    def __reduce__(self):
        return (type(self), (self.args[0] if self.args else "", self.partial))


class IncompleteRead(EOFError):
    """EOF arrived before the requested amount; ``partial`` holds what was read."""

    def __init__(self, partial=b"", expected=None):
        self.partial = partial
        self.expected = expected
        msg = f"{len(partial)} bytes read on a total of {expected} expected bytes" if expected is not None \
            else f"{len(partial)} bytes read before EOF"
        super().__init__(msg)

    def __reduce__(self):
        return (type(self), (self.partial, self.expected))


class PoolExhausted(RuntimeError):
    """Every buffer of a Pool is lent out and none came back within the timeout."""


class VarintError(ValueError):
    """A LEB128 varint is over-long: more than 10 bytes, or its value does not
    fit 64 bits (a 10th byte above 1).  Raised by the typed cursors
    (``read_uvarint``/``read_varint``); nothing was consumed."""
