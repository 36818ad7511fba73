"""GC-stress mode for the test suite (NOCOPY_GC_STRESS=1, loaded by conftest).

The bug class it hunts: C code that reads an object's state, allocates (which
on 3.11 may run a collection, and so any finalizer, right there), then uses
the state it read before.  Every test runs with ``gc.set_threshold(1)``, so a
collection starts inside nearly every allocation the C core makes, and each
collection runs Python that touches the nocopy objects *in play*: the
receivers of the nocopy C methods currently running (a stack kept by a
``sys.setprofile`` hook from its 'c_call'/'c_return' events, whose function's
``__self__`` is the View/Rope/ByteBuffer).  The perturbation must leave every
test-visible result unchanged, so it only:

- takes a memoryview export of a View or ByteBuffer and releases it at once
  (exports > 0 for a moment: code that kept a pointer across the allocation
  and then checks ``exports`` sees the real count, not a stale one);
- calls read-only methods (len, find, peek/tobytes of a few bytes, startswith,
  indexing), which walk the object's current state: a half-updated
  Rope/ByteBuffer (count bumped, array not yet grown; cursor past the end)
  shows up under ASan here;
- allocates and frees a few objects.

Why receivers only: nocopy's types are not weak-referenceable, and a ring of
strong references to "recently used" objects would keep exports alive past
``del view`` (a bytearray under it could no longer be resized): a visible
change.  The receiver of a running C method is kept alive by its caller
anyway, so holding it for the duration of the call changes nothing.

Not perturbed: a Rope's buffer export (it flattens the Rope, visible through
``nsegments``), the reads of a Rope holding unread file segments (they would
load them, visible through ``raw_segments()``), anything that mutates.  The hostile *mutations* live in
tests/test_gcstress_ops.py, where a model checks the outcome.

Deselected in this mode (they measure allocations or references, which the
perturbation adds by design, or run subprocesses/servers that do not load
this plugin): test_alloc*, test_leaks*, test_browser, test_examples,
test_sensor_server.  While tracemalloc is tracing (peak-memory tests) the
callback does nothing.
"""
import _thread
import gc
import inspect
import os
import re
import sys
import threading
import tracemalloc

from nocopy import ByteBuffer, Rope, View

ENABLED = bool(os.environ.get("NOCOPY_GC_STRESS"))

DESELECT_PREFIXES = ("test_alloc", "test_leaks", "test_browser", "test_examples",
                     "test_sensor_server")

_active = []          # receivers of running nocopy C methods (main thread)
_main = threading.main_thread().ident
_in_cb = False
stats = {"collections": 0, "perturbed": 0}

_VIEW, _ROPE, _BB = View, Rope, ByteBuffer
_TYPES = (View, Rope, ByteBuffer)


def _receiver(fn):
    s = getattr(fn, "__self__", None)
    return s if isinstance(s, _TYPES) else None


def _profile(frame, event, arg):
    # c_call/c_return pair up on one thread; pop by identity so an unmatched
    # event (a profile installed mid-call) cannot shift the stack.
    if event == "c_call":
        s = _receiver(arg)
        if s is not None:
            _active.append(s)
    elif event == "c_return" or event == "c_exception":
        s = _receiver(arg)
        if s is not None and _active and _active[-1] is s:
            _active.pop()


def _touch_view(v):
    with memoryview(v) as m:
        n = m.nbytes
    n = min(n, 8)
    v[:n].tobytes()
    v.find(b"\n")
    if n:
        v[0]


def _touch_bb(b):
    with memoryview(b) as m:
        n = m.nbytes
    len(b), b.free, b.capacity
    b.peek(min(n, 4)).tobytes()
    b.find(b"\n")


def _touch_rope(r):
    n = len(r)
    r.nsegments
    # a search or an index would load an unread file segment (append_file):
    # a visible change (raw_segments() shows it), so such a Rope is only walked
    if any(type(s) is tuple for s in r.raw_segments()):
        return
    r.find(b"\r\n")
    r.startswith(b"a")
    if n:
        r[0], r[n - 1]


def _touch(obj):
    t = type(obj)
    if issubclass(t, _VIEW):
        _touch_view(obj)
    elif issubclass(t, _BB):
        _touch_bb(obj)
    else:
        _touch_rope(obj)


def _on_gc(phase, info):
    global _in_cb
    if phase != "start" or _in_cb:
        return
    stats["collections"] += 1
    if threading.get_ident() != _main or tracemalloc.is_tracing():
        return
    _in_cb = True
    try:
        junk = [bytearray(16), {"k": 1}, (1, 2)]
        del junk
        # the innermost few: the ones whose C code is on the stack right now
        for obj in _active[-3:]:
            try:
                _touch(obj)
                stats["perturbed"] += 1
            except Exception:
                # released / stale / busy: the object refused cleanly, which
                # is all this mode asks of it
                pass
    except KeyboardInterrupt:
        # an exception leaving a gc callback is only printed: hand Ctrl-C
        # back to the main loop, or a stress run could not be stopped
        _thread.interrupt_main()
    finally:
        _in_cb = False


_saved = None


def start():
    global _saved
    _saved = gc.get_threshold()
    # Everything alive now (pytest, the collected test modules) is frozen in
    # the permanent generation: collections then scan only what the tests
    # make, so threshold 1 stays affordable.
    gc.collect()
    gc.freeze()
    gc.callbacks.append(_on_gc)
    gc.set_threshold(1, 1000, 1000)
    sys.setprofile(_profile)


def stop():
    sys.setprofile(None)
    if _on_gc in gc.callbacks:
        gc.callbacks.remove(_on_gc)
    if _saved is not None:
        gc.set_threshold(*_saved)
    gc.unfreeze()
    _active.clear()


# Tests that measure allocations with tracemalloc (or the alloc counter)
# would count the collector's own bookkeeping: every gc.callbacks call
# allocates its info dict.
_MEASURES = re.compile(r"tracemalloc|_traced|alloc_count|allocatedblocks|assert_no_leak")


def deselected(item):
    if item.path.name.startswith(DESELECT_PREFIXES):
        return True
    fn = getattr(item, "function", None)
    try:
        src = inspect.getsource(fn) if fn is not None else ""
    except (OSError, TypeError):
        src = ""
    return bool(_MEASURES.search(src))
