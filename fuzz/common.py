"""Shared pieces of the atheris harnesses in fuzz/.

Each harness is differential: it runs random operations (decoded from the
fuzz input) on a nocopy object and on a plain-Python model and compares, and
it arms hostile callbacks -- a finalizer run by the GC inside the next C
allocation (gc.set_threshold(1) + cyclic garbage with __del__), __index__
arguments, default=, write() -- that mutate the very object being operated
on.  An operation during which a hostile callback ran is checked only for
"no crash, a clean exception or a plausible result" and the model is re-synced
from the object afterwards; every other operation must match the model
exactly.  Invariants are checked after every step.

Run through `make fuzz` / `make fuzz-ci` (see the Makefile): they build the
extension with clang (-fsanitize=address,undefined,fuzzer-no-link) into
build/fuzz/lib and preload atheris' asan_with_fuzzer.so.
"""
import gc
import sys

import atheris

with atheris.instrument_imports():
    import nocopy  # noqa: F401
    import nocopy.io  # noqa: F401
    import nocopy.json  # noqa: F401

from nocopy import ByteBuffer, Rope, StaleViewError, View  # noqa: E402

# What a hostile callback may legitimately make an operation raise.
CLEAN = (StaleViewError, BufferError, RuntimeError, ValueError, IndexError, TypeError,
         LookupError, EOFError, OSError, OverflowError, MemoryError, RecursionError)

NOCOPY_TYPES = (ByteBuffer, Rope, View)


class Hostile:
    """Python code that runs inside a C call and mutates a target.

    arm(fn): the next collection (threshold 1: the next GC allocation, inside
    the C code on 3.11) runs fn from the __del__ of cyclic garbage.
    fired: whether any hostile code ran since reset()."""

    def __init__(self):
        self.fired = False
        self._pending = None
        self._skip = 0
        self._prime = []
        self._cb_installed = False

    def reset(self):
        self.fired = False

    def _callback(self, phase, info):
        if self._pending is None:
            return
        if phase == "start":
            if self._skip > 0:
                self._skip -= 1
                return
            fn, self._pending = self._pending, None
            _Bomb(self, fn)  # garbage of the collection that is starting
        else:
            # keep gen0's count at 1: the next tracked allocation collects
            self._prime.append([])

    def arm(self, fn, skip=0):
        """fn runs from a finalizer at the (skip+1)-th collection from now."""
        if not self._cb_installed:
            gc.callbacks.append(self._callback)
            self._cb_installed = True
        self._pending = fn
        self._skip = skip
        gc.set_threshold(1)

    def disarm(self):
        self._pending = None
        gc.set_threshold(700, 10, 10)
        self._prime.clear()

    def run(self, fn):
        """Run a hostile action now (from __index__, default=, write...)."""
        self.fired = True
        try:
            fn()
        except CLEAN:
            pass


class _Bomb:
    def __init__(self, hostile, fn):
        self.h = hostile
        self.fn = fn
        self.cycle = self

    def __del__(self):
        self.h.run(self.fn)


class HostileIndex:
    """An int argument whose __index__ runs a hostile action first."""

    def __init__(self, hostile, value, fn):
        self.h, self.value, self.fn = hostile, value, fn

    def __index__(self):
        self.h.run(self.fn)
        return self.value


def settle():
    """Give back what the fuzz input armed and collect its garbage (only the
    young generations: everything from before the first input is frozen)."""
    gc.set_threshold(700, 10, 10)
    gc.collect(0)


def main(test_one_input):
    # atheris wants -runs / -max_total_time etc.; the rest is libFuzzer's
    atheris.Setup(sys.argv, test_one_input)
    # The interpreter's own objects never take part: keep them out of every
    # collection the harnesses force (threshold 1 would rescan them each time).
    gc.collect()
    gc.freeze()
    atheris.Fuzz()
