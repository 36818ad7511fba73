"""Reference-leak check shared by the test_leaks*.py files.

Runs an operation many times after a warm-up and asserts that the number of
allocated blocks stays flat: a leak of one object per call shows up as a
growth proportional to the call count, far above the slack."""
import gc
import sys

SLACK = 64  # caches that settle once (method caches, interned names, freelists)


def _grown(fn, n):
    gc.collect()
    before = sys.getallocatedblocks()
    for _ in range(n):
        fn()
    gc.collect()
    return sys.getallocatedblocks() - before


def assert_no_leak(fn, *, n=100_000, warmup=2_000, slack=SLACK):
    for _ in range(warmup):
        fn()
    grown = _grown(fn, n)
    if grown >= slack:
        # A leak grows again by the same amount in a second round; a cache
        # or freelist that settled late (earlier tests in the same process
        # leave some behind) does not: measure once more before failing.
        again = _grown(fn, n)
        assert again < slack, (f"{grown} then {again} blocks more after two rounds of "
                               f"{n} calls of {fn!r}")


def raises(exc, fn, *args, **kwargs):
    """fn(*args, **kwargs) as a callable that expects exc (error paths leak too)."""
    def call():
        try:
            fn(*args, **kwargs)
        except exc:
            return
        raise AssertionError(f"{fn!r} did not raise {exc.__name__}")
    return call
