"""nocopy.io: reading into buffers that already exist and writing with
scatter-gather, over binary files, raw fds (int), sockets and anything with
readinto / write."""
import errno
import os
import sys

from ._core import Rope, View
from .errors import LimitOverrun

__all__ = ["read_chunks", "write_all"]


# ---- read_chunks / write_all (Rope-based) -------------------------------------

def _rope_readinto(src, mv):
    """One read from src into the writable memoryview mv; 0 at EOF.

    A raw fd goes through os.readv, a socket through recv_into, anything else
    through readinto (None from a non-blocking raw stream raises
    BlockingIOError)."""
    if isinstance(src, int):
        return os.readv(src, [mv])
    recv_into = getattr(src, "recv_into", None)
    if recv_into is not None:
        return recv_into(mv)
    readinto = getattr(src, "readinto", None)
    if readinto is None:
        raise TypeError(f"cannot read from '{type(src).__name__}': "
                        "need an int fd, a socket or an object with readinto()")
    n = readinto(mv)
    if n is None:
        raise BlockingIOError(errno.EAGAIN, "read would block", 0)
    return n


def read_chunks(src, chunk_size=65536, *, limit=None):
    """Read src to EOF into fresh fixed-size chunks chained in a Rope.

    Each chunk is a new ``bytearray(chunk_size)`` filled in place (no
    realloc-and-copy growth, so peak memory is the data plus one chunk, not
    2x); the last chunk is trimmed by a View, not copied.  The returned Rope
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
    rope = Rope(max_segments=sys.maxsize)
    total = 0
    budget = None if limit is None else limit + 1  # one byte past the limit proves the overrun
    while budget is None or total < budget:
        want = chunk_size if budget is None else min(chunk_size, budget - total)
        chunk = bytearray(want)
        with memoryview(chunk) as mv:
            filled = 0
            try:
                while filled < want:
                    n = _rope_readinto(src, mv[filled:])
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
