import os

from hypothesis import HealthCheck, settings

# The default run stays within a few minutes on 2 cores; NOCOPY_SLOW=1 runs
# the long hypothesis campaigns (and `-m slow` the marked exhaustive tests).
settings.register_profile(
    "default", max_examples=120, deadline=None,
    suppress_health_check=[HealthCheck.too_slow])
settings.register_profile(
    "slow", max_examples=5000, deadline=None,
    suppress_health_check=[HealthCheck.too_slow])
settings.register_profile(
    "sanitizer", max_examples=25, deadline=None,
    suppress_health_check=[HealthCheck.too_slow])
if os.environ.get("NOCOPY_SLOW"):
    settings.load_profile("slow")
elif os.environ.get("NOCOPY_UNDER_SANITIZER"):
    settings.load_profile("sanitizer")
else:
    settings.load_profile("default")

# GC-stress mode (NOCOPY_GC_STRESS=1, `make gcstress`): see tests/gcstress.py.
# The hostile table (tests/test_gcstress_ops.py) reads NOCOPY_GC_STRESS too.
import gcstress  # noqa: E402  (tests/ is on sys.path: pytest's rootdir insertion)
import finalizers  # noqa: E402

import sys  # noqa: E402

import pytest  # noqa: E402

# The regression tests that arm a finalizer for "the next GC allocation"
# need a collection *inside* the allocation that triggers it, which is how
# CPython 3.11 collects.  From 3.12 the collector waits for the eval loop:
# the finalizer runs after the call instead, where those tests could not
# fail, so they are skipped there.  CI runs them on 3.11, plain, under
# ASan + UBSan and in GC-stress mode.  (tests/test_hostile_rope.py marks
# its own with the same rule.)  Each of them checks with
# finalizers.inside() that its finalizer ran inside the call under test,
# not before it (an allocation between arming and the call) nor after.
INLINE_GC_FIXTURES = {"hostile", "gc_trap", "gc_every_alloc"}
INLINE_GC_TESTS = {"test_random_ops_with_hostile_finalizer"}
_inline_gc_skip = pytest.mark.skip(
    reason="needs a collection inside the allocation that triggers it (CPython 3.11)")


def _needs_inline_gc(item):
    if not item.nodeid.startswith("tests/test_hostile_"):
        return False
    return (INLINE_GC_FIXTURES & set(getattr(item, "fixturenames", ()))
            or item.originalname in INLINE_GC_TESTS)


def pytest_collection_modifyitems(config, items):
    if sys.version_info >= (3, 12):
        for item in items:
            if _needs_inline_gc(item):
                item.add_marker(_inline_gc_skip)
    if gcstress.ENABLED:
        keep, drop = [], []
        for item in items:
            (drop if gcstress.deselected(item) else keep).append(item)
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = keep


if gcstress.ENABLED:
    settings.register_profile(
        "gcstress", max_examples=10, deadline=None,
        suppress_health_check=list(HealthCheck))
    settings.load_profile("gcstress")

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(item):
        gcstress.start()
        try:
            yield
        finally:
            gcstress.stop()

    def pytest_terminal_summary(terminalreporter):
        terminalreporter.write_line(
            f"gcstress: {gcstress.stats['collections']} collections, "
            f"{gcstress.stats['perturbed']} perturbations of a nocopy object mid-call")


@pytest.fixture
def gc_trap():
    """trap(action) -> fired: the next GC allocation runs action(); assert
    with finalizers.inside(fired) that it ran inside the call under test."""
    with finalizers.trapping() as trap:
        yield trap


@pytest.fixture
def counting():
    """Allocation counting on for the test (nocopy._core._alloc_count_*),
    for the test_alloc_* files; left running if something had started it."""
    from nocopy import _core
    try:
        _core._alloc_count_start()
        started = True
    except RuntimeError:
        started = False  # already running
    yield
    if started:
        _core._alloc_count_stop()
