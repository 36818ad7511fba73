"""nocopy.io.map_file: a View that owns a memory mapping of a file."""
import mmap as _mmap
import os as _os
import sys as _sys

from ._core import _owning_view


def map_file(path, writable=False):
    """A View of the whole file at ``path``, memory-mapped (``mmap``,
    ``ACCESS_READ``, or ``ACCESS_WRITE`` when ``writable``: writes through the
    View go to the file).  The View owns the mapping: ``close()``, or the end
    of ``with map_file(p) as v:``, closes it, and every View, iterator and
    Rope segment made from it raises ``StaleViewError`` from then on (never a
    ``BufferError`` from ``mmap.close()``).  Dropping every View of it unmaps
    it too.  ``close()`` raises ``BufferError`` (nothing closed) while a
    memoryview of one of its Views is held.

    The file descriptor is closed before this returns; the mapping keeps the
    file.  (Before Python 3.13 the mmap object keeps a duplicate descriptor
    of its own until it is closed: ``close()`` gives that back too.)  An empty file cannot be mapped: its View is empty (``close()``
    still works).  Errors are ``open()``'s (``FileNotFoundError``,
    ``PermissionError``, ``IsADirectoryError``...).  A file truncated by
    someone else while mapped can kill the process with SIGBUS when the
    missing pages are read: that is the contract of ``mmap`` itself.

    O(1) in the file's size: nothing is read until the pages are touched."""
    with open(path, "r+b" if writable else "rb") as f:
        if _os.fstat(f.fileno()).st_size == 0:
            return _owning_view(bytearray() if writable else b"", None)
        access = _mmap.ACCESS_WRITE if writable else _mmap.ACCESS_READ
        if _sys.version_info >= (3, 13):
            # no duplicate of the descriptor kept by the mmap object
            mm = _mmap.mmap(f.fileno(), 0, access=access, trackfd=False)
        else:
            mm = _mmap.mmap(f.fileno(), 0, access=access)
    try:
        return _owning_view(mm, mm.close)
    except BaseException:
        mm.close()
        raise
