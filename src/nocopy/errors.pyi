"""Type stubs for nocopy.errors."""
import asyncio
from typing import Any

__all__ = ["StaleViewError", "BufferTooSmall", "LimitOverrun", "IncompleteRead", "EndOfStream",
           "PoolExhausted", "VarintError"]

class StaleViewError(RuntimeError): ...

class BufferTooSmall(ValueError):
    needed: int | None
    def __init__(self, message: str = "buffer too small", needed: int | None = None) -> None: ...
    def __reduce__(self) -> tuple[type[BufferTooSmall], tuple[str, int | None]]: ...

# asyncio's classes are the bases once asyncio is imported (see the module doc)
class LimitOverrun(ValueError, asyncio.LimitOverrunError):
    # a View of the bytes scanned, or the Rope read so far (read_chunks)
    partial: Any
    consumed: int
    def __init__(self, message: str = "limit overrun", partial: Any = None,
                 consumed: int | None = None) -> None: ...
    def __reduce__(self) -> tuple[type[LimitOverrun], tuple[str, Any, int]]: ...

class IncompleteRead(asyncio.IncompleteReadError):
    # bytes or a View of what did arrive
    partial: Any
    expected: int | None
    def __init__(self, partial: Any = b"", expected: int | None = None) -> None: ...
    def __reduce__(self) -> tuple[type[IncompleteRead], tuple[Any, int | None]]: ...

class EndOfStream(IncompleteRead): ...

class PoolExhausted(RuntimeError): ...

class VarintError(ValueError): ...
