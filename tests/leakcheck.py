"""Reference-leak check shared by the test_leaks*.py files.

Runs an operation many times after a warm-up and asserts that the number of
allocated blocks stays flat: a leak of one object per call shows up as a
growth proportional to the call count, far above the slack."""
import gc
import sys

import pytest

SLACK = 64  # caches that settle once (method caches, interned names, freelists)


# Under PYTHONMALLOC=malloc (the sanitizer run, `make asan`) the interpreter
# counts no blocks: sys.getallocatedblocks() is always 0 and a block-count
# check could not fail.  Those checks skip there, after the code under test
# has run under the sanitizers; they run in `make test` on every Python.
BLOCKS_COUNTED = sys.getallocatedblocks() > 0
NOT_COUNTED = ("sys.getallocatedblocks() counts nothing under PYTHONMALLOC=malloc "
               "(the sanitizer run); block counts are checked by make test")


def blocks():
    """The allocated block count; skips the test where the allocator counts none."""
    if not BLOCKS_COUNTED:
        pytest.skip(NOT_COUNTED)
    return sys.getallocatedblocks()


def blocks_or_none():
    """The allocated block count, or None where the allocator counts none:
    for a check inside an event loop, where skipping at once would leave
    connections open; the test runs its code, checks the count only when it
    is a number, and calls skip_uncounted() once it has cleaned up."""
    return sys.getallocatedblocks() if BLOCKS_COUNTED else None


def skip_uncounted():
    if not BLOCKS_COUNTED:
        pytest.skip(NOT_COUNTED)


def _grown(fn, n):
    gc.collect()
    before = blocks()
    for _ in range(n):
        fn()
    gc.collect()
    return blocks() - before


def assert_no_leak(fn, *, n=100_000, warmup=2_000, slack=SLACK, rounds=3):
    for _ in range(warmup):
        fn()
    # A leak of one block per call grows by n a round; the interpreter's own
    # churn does not grow with n.  So the bar is the slack, or 1% of the
    # calls for the long rounds of expensive calls (pickle/deepcopy on 3.13
    # in a long test process churn up to ~120 blocks per round).
    bar = max(slack, n // 100)
    seen = []
    for _ in range(rounds):
        # A leak grows again by the same amount in every round; a cache or
        # freelist that settled late, or the interpreter's own churn (3.13's
        # pickle/deepcopy rounds wander between 7 and 100 blocks with no
        # trend), does not: fail only when no round stays flat.
        grown = _grown(fn, n)
        if grown < bar:
            return
        seen.append(grown)
    raise AssertionError(f"{' then '.join(map(str, seen))} blocks more after {rounds} "
                         f"rounds of {n} calls of {fn!r}")


def raises(exc, fn, *args, **kwargs):
    """fn(*args, **kwargs) as a callable that expects exc (error paths leak too)."""
    def call():
        try:
            fn(*args, **kwargs)
        except exc:
            return
        raise AssertionError(f"{fn!r} did not raise {exc.__name__}")
    return call
