"""JSON straight into buffers: ``dumps_into``, ``dumps``, ``dump``.

The output is byte-identical to ``json.dumps(obj, **same_options).encode("utf-8")``
with the stdlib's keyword options ``skipkeys, ensure_ascii, check_circular,
allow_nan, sort_keys, indent, separators, default`` — but nocopy's defaults
differ from the stdlib's in two places, stated plainly:

* ``separators`` defaults to the compact ``(",", ":")``; with ``indent`` given
  it defaults to ``(",", ": ")`` as in ``json.dumps``;
* ``ensure_ascii`` defaults to ``False``: non-ASCII text is written as UTF-8.

Behaviour worth knowing (all tested):

* Types: dict, list, tuple, str, int of any size, float, bool, None and their
  subclasses, encoded exactly as the stdlib does (an ``IntEnum`` is its int's
  text, a float subclass its float's repr, whatever their ``__repr__``); dict
  keys may be str, int, float, bool or None (converted as the stdlib does),
  others raise TypeError unless ``skipkeys``; any other object goes through
  ``default``, else ``TypeError: Object of type X is not JSON serializable``.
* A lone surrogate in a str with ``ensure_ascii=False`` raises
  UnicodeEncodeError, as ``json.dumps(...).encode("utf-8")`` does, and only
  when nothing else failed (the oracle's errors come first); the error's
  position is inside that str, not inside the document.  ``dump`` raises at
  the surrogate itself (what was streamed before stays written, as with
  ``json.dump`` to a text file).  With ``ensure_ascii=True`` surrogates are
  escaped as ``\\udXXX`` like the stdlib.
* Non-finite floats follow ``allow_nan`` with the stdlib's texts and its
  ValueError message for the running Python version.
* Circular structures raise ``ValueError("Circular reference detected")``,
  nesting deeper than the recursion limit raises RecursionError.
* ``default`` (and, for ``dump``, the destination's write) is Python code that
  may mutate what is being encoded: nothing crashes. A list shrunk meanwhile
  ends early (as in the stdlib); an exact dict that changes size raises
  ``RuntimeError("dictionary changed size during iteration")`` — the stdlib
  would go on with a snapshot of its items, which costs a list per dict.
  One that keeps its size goes on from its current table: the items not
  yet written are written with the values they have then (the stdlib's
  snapshot writes the values they had when the dict was reached), and a
  key deleted and inserted again meanwhile is written again where it now
  stands: the text then repeats that key, which the stdlib's never does.
* Allocation: none per document for ints up to 64 bits, floats, strings and
  containers (``dumps`` makes its one bytes object). Ints beyond 64 bits get
  their text from ``int.__repr__`` (one temporary str), ``sort_keys``, dict
  subclasses and list/tuple subclasses (walked from a snapshot of what
  iterating them yields) use a list of items (as the stdlib), nesting
  deeper than 32
  containers with ``check_circular`` keeps its ancestor list on the heap.
  Strings are encoded from their own 1/2/4-byte storage straight to UTF-8;
  when CPython already holds a str's UTF-8 form (someone called
  ``PyUnicode_AsUTF8`` on it before, as orjson and msgspec do), that cached
  form is copied instead — nocopy never creates it.
* Key cache: with the compact ``":"`` key separator, the text ``"key":`` of
  short str keys is cached by key object in the module, across calls (256
  slots per ``ensure_ascii`` mode); the cache holds a reference to each key it
  caches, so up to 512 short str objects stay alive until evicted by other
  keys or until the module is cleared.
* ``dumps_into`` writes floats with fixed-size stores that may reach up to 48
  bytes past the text; those bytes of your buffer are saved first and put
  back (before any ``default`` call, and at the end), so bytes after the
  document are as they were.  Nesting deeper than the recursion limit raises
  RecursionError (the 16 outermost levels are not counted, so it comes
  16 levels later than the stdlib's).
* ``dumps`` builds documents up to 4 KB on the C stack; a larger one grows in
  place in its bytes object, which starts at the length of the last such
  document (up to 64 MiB).  Building the same size again then takes one
  allocation, which glibc serves from the memory the last result gave
  back, where doubling past that size was a fresh mmap and a page fault per
  page on every call (~1 MB: 204 faults, 1.5 ms instead of 1.05).  A call
  after a much bigger document briefly reserves that bigger size.  Not in
  free-threaded builds.
* Strings without ``ensure_ascii`` are converted to UTF-8 16 Latin-1, 8
  UCS-2 or 4 UCS-4 chars a step where the CPU has SSSE3 (x86-64), with no
  branch on each char's UTF-8 length: mixed scripts cost the same as one.
* ``indent`` as an int above 2**30 (a gigabyte of spaces per level) raises
  MemoryError at once, as the stdlib's ``' ' * indent`` does for absurd
  sizes (OverflowError past the index range, as there).  The option
  strings (``indent``, ``separators``) and ``default`` are held for the
  whole call: a callback may replace them in a separators list without
  harm.
* Counting past the end of a ``dumps_into`` buffer (to give
  ``BufferTooSmall.needed``) costs no copying; every flush (each 4 KB
  counted, each growth of ``dumps``' bytes object, each chunk of ``dump``)
  has signal handlers run at the walk's next safe point, so Ctrl-C stops a
  long encode.
* Options are checked like the stdlib's: flags take any truthy value;
  ``indent`` must be None, an int (``indent=0`` and ``""`` give newlines) or a
  str, ``separators`` a pair of str (TypeError otherwise, ValueError for a
  wrong length), ``default`` a callable or None; unknown keywords are a
  TypeError.
"""
import os
import socket

from . import _core
from .errors import BufferTooSmall

__all__ = ["dumps_into", "dumps", "dump", "BufferTooSmall"]

#: ``dumps_into(obj, buf, offset=0, **options) -> int``
#:
#: Write ``obj`` as JSON into ``buf`` starting at ``offset``; return the end
#: offset. ``buf``: bytearray, writable memoryview, ``View`` (its window), mmap,
#: array, or an object with ``writable()`` and ``commit(n)`` such as a
#: ``ByteBuffer`` (the document goes into its free space and is committed;
#: ``offset`` must be 0 and the result is the number of bytes committed;
#: nocopy's ByteBuffer is filled through its C interface, never through its
#: ``writable``/``commit`` attributes, and refuses to be mutated with
#: RuntimeError while the document is being encoded into it, e.g. by a
#: ``default`` callback or a finalizer).  For any other object, what
#: ``writable()`` returns must export a writable buffer, and ``commit`` gets
#: at most that buffer's length.
#: No intermediate str or bytes is made.
#:
#: If the document does not fit, ``BufferTooSmall`` is raised and its
#: ``needed`` is exact: ``offset + len(document)``, the smallest buffer length
#: that holds it (for a ByteBuffer: the free space needed). Bytes before
#: ``offset`` are never touched; bytes from ``offset`` on may have been
#: partially overwritten. The size is found by encoding on in count-only mode,
#: never by building the document elsewhere.
dumps_into = _core.json_dumps_into

#: ``dumps(obj, **options) -> bytes`` — the document as one new bytes object.
dumps = _core.json_dumps

_dump_stream = _core.json_dump_stream

_MIN_BUFFER = 64


def _sink_for(fp):
    """A callable that writes a whole chunk to fp before returning."""
    if isinstance(fp, int) and not isinstance(fp, bool):
        fd = fp

        def sink(chunk):
            while chunk:
                n = os.write(fd, chunk)
                chunk = chunk[n:]
        return sink
    if isinstance(fp, socket.socket):
        return fp.sendall
    write = getattr(fp, "write", None)
    if write is None:
        raise TypeError(f"dump() needs a binary file, socket, fd or an object with write(), "
                        f"not {type(fp).__name__}")

    def sink(chunk):
        total = len(chunk)
        n = write(chunk)
        # Buffered files, BytesIO and Writers take everything; a write() that
        # returns None is taken to have taken everything too (as json.dump
        # assumes).  A raw file may write less: go on with the rest, without
        # copying.
        while n is not None and n < total:
            if n <= 0:
                raise OSError(f"write() of {type(fp).__name__} returned {n}")
            chunk = chunk[n:]
            total -= n
            n = write(chunk)
    return sink


def dump(obj, fp, *, buffer_size=65536, **options):
    """Write ``obj`` as JSON to ``fp`` through one fixed buffer of
    ``buffer_size`` bytes, flushed whenever it fills: peak memory is
    O(buffer_size) whatever the document size (a string longer than the buffer
    is streamed in pieces too).

    ``fp``: a binary file (anything with ``write``, including nocopy's
    ``Writer``), a socket (``sendall``) or an fd (``os.write`` loop). Each
    flush hands ``write`` a ``View`` of the buffer, which is reused afterwards:
    ``write`` must consume the bytes before it returns, as files do. If
    encoding fails midway, what was flushed before stays written (like
    ``json.dump``). Returns the number of bytes written.
    """
    if not isinstance(buffer_size, int) or isinstance(buffer_size, bool):
        raise TypeError(f"buffer_size must be an int, not {type(buffer_size).__name__}")
    if buffer_size < _MIN_BUFFER:
        raise ValueError(f"buffer_size must be at least {_MIN_BUFFER}")
    sink = _sink_for(fp)
    return _dump_stream(obj, sink, bytearray(buffer_size), **options)
