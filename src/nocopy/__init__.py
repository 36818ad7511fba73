"""nocopy: zero-copy, zero-allocation buffer programming for Python.

Read into buffers that already exist, parse through Views instead of copies,
stitch with Ropes instead of concatenation, serialize straight into the output.
"""
from .errors import (BufferTooSmall, EndOfStream, IncompleteRead, LimitOverrun, PoolExhausted,
                     StaleViewError, VarintError)
from ._core import View
from ._core import ByteBuffer
from .pool import Pool
from ._core import Rope
from ._core import format_into
from ._core import KeyDict
from ._keys import Counter

__all__ = [
    "View",
    "ByteBuffer",
    "Pool",
    "Rope",
    "format_into",
    "KeyDict",
    "Counter",
    "StaleViewError",
    "BufferTooSmall",
    "LimitOverrun",
    "IncompleteRead",
    "EndOfStream",
    "PoolExhausted",
    "VarintError",
]
__version__ = "0.1.0"
