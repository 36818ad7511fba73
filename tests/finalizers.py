"""A finalizer run by the GC inside the C call under test (CPython 3.11).

On 3.11 a collection runs inside the allocation of a GC object that pushes
the generation-0 count over its threshold.  With the threshold at 1 and an
object in a reference cycle whose __del__ does damage, the damage happens
inside (nearly) the next GC allocation -- the C call's own, if nothing
allocates first.  "If nothing allocates first" is what made such tests pass
without testing anything: pytest's assert rewriting, a bound method, a
`with`, a View taken from the free list (no allocation, no collection) moved
the finalizer before or after the call, and the test checked a result that
is right either way.  So the trap records *where* it fired:

    fired = gc_trap(action)     # arm (fixture in conftest.py)
    result = call_under_test()  # the statement(s) the finalizer must hit
    inside(fired)               # it fired, and on a line in between

`inside` fails the test if the finalizer never ran, or ran on the arming
line or after the call.  It finds the line by walking the stack from the
finalizer out to the frame that armed the trap, so a call that goes through
a Python helper (a lambda, nocopy/io.py) still counts as the line of the
call.  On 3.12+ the collector runs at the eval loop instead: conftest.py
skips the tests that use the fixtures named gc_trap / hostile /
gc_every_alloc there.
"""
import contextlib
import gc
import sys

import gcstress
from nocopy import View


class Cycle:
    """Cyclic garbage whose finalizer runs `action` once."""

    def __init__(self, action):
        self.action = action
        self.me = self

    def __del__(self):
        action, self.action = self.action, None
        if action is not None:
            action()


class Fired(list):
    """The finalizer's log (what it appends is up to its owner: True for
    gc_trap, ("ok", result) / ("raised", exc) for the Rope and pickle
    bombs); `where` gets, per firing, the line the arming frame was on when
    the collection ran (None if that frame was no longer on the stack)."""

    def __init__(self, depth=1):
        super().__init__()
        caller = sys._getframe(depth + 1)
        self.code, self.armed_at = caller.f_code, caller.f_lineno
        self.where = []

    def note(self):
        """Called first thing by the finalizer: records where it runs."""
        frame = sys._getframe(1)
        while frame is not None and frame.f_code is not self.code:
            frame = frame.f_back
        self.where.append(None if frame is None else frame.f_lineno)


def drain_views():
    """Empty the View free list (up to 128 entries): the next View made is
    a real allocation, and so can collect."""
    return [View() for _ in range(160)]


@contextlib.contextmanager
def trapping():
    """Yields trap(action) -> Fired; restores the collector afterwards."""
    old = gc.get_threshold()
    enabled = gc.isenabled()
    gc.collect()
    gc.enable()
    held = []

    def trap(action):
        fired = Fired()

        def run():
            fired.note()
            fired.append(True)
            action()

        # No collection while arming: one here would free garbage Views
        # into the free list again, or move the cycle out of generation 0
        # (where threshold 1 looks), and the trap would fire late or never.
        gc.disable()
        gc.collect(0)
        held.append(drain_views())
        c = Cycle(run)
        gc.set_threshold(1)
        del c  # garbage now; the count is far above 1: the next GC allocation collects
        gc.enable()
        return fired

    try:
        yield trap
    finally:
        gc.set_threshold(*old)
        if not enabled:
            gc.disable()
        held.clear()
        gc.collect()


def inside(fired):
    """Assert that the trap fired, each time on a line after the one that
    armed it and before this check: inside the call under test.
    Returns True.  In GC-stress mode (every allocation collects, and the
    profile hook runs Python before each C call) the finalizer may run
    early: then this only reports whether it hit the call, and the test
    checks no more than "no crash, clean result" when it did not."""
    # read before anything here allocates (which could collect and fire it)
    where = fired.where
    n = len(where)
    frame = sys._getframe(1)  # the arming frame: this check may be made from a helper
    while frame is not None and frame.f_code is not fired.code:
        frame = frame.f_back
    check = frame.f_lineno if frame is not None else -1
    del frame
    hit = n > 0
    line = None
    for i in range(n):  # every firing (a finalizer may re-arm itself)
        line = where[i]
        if line is None or not fired.armed_at < line < check:
            hit = False
            break
    if gcstress.ENABLED:
        return hit
    assert n, "the finalizer never ran: the test tests nothing"
    assert hit, (f"the finalizer ran at line {line} (fired {n}x), not inside the call "
                 f"(between lines {fired.armed_at} and {check})")
    return True
