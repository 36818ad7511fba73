"""The few test.support helpers the vendored tests import, so they run where
CPython's test package is not installed (Debian's python3 strips it)."""
import contextlib
import sys

_1G = 1024 ** 3


@contextlib.contextmanager
def infinite_recursion(max_depth=75):
    # As test.support.infinite_recursion in 3.11: a low limit so runaway
    # recursion hits RecursionError quickly instead of the C stack.
    original = sys.getrecursionlimit()
    try:
        sys.setrecursionlimit(max_depth)
        yield
    finally:
        sys.setrecursionlimit(original)


def bigmemtest(size, memuse, dry_run=True):
    # Only TestCDump.test_large_list uses it, and that class is not run here
    # (the mixin's tests are).  Keep the decorator inert.
    def decorator(f):
        return f
    return decorator
