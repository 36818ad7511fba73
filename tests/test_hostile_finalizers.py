"""The check the finalizer tests rely on (tests/finalizers.py) can fail: a
trap that never runs inside the call, or runs where the arming frame cannot
see it, fails inside(); one that runs in the call passes it.  (CPython 3.11:
conftest skips the gc_trap tests on 3.12+.)"""
from finalizers import inside
from nocopy import View


def _check(fired):
    """inside(fired)'s AssertionError, or None.  try/except, not
    pytest.raises: entering that allocates, which would run the trap."""
    try:
        inside(fired)
    except AssertionError as e:
        return e
    return None


def test_a_call_that_allocates_nothing_fails(gc_trap):
    v = View(b"abc")
    fired = gc_trap(lambda: None)
    n = len(v)  # no GC allocation: the finalizer cannot run here
    err = _check(fired)
    assert n == 3
    assert err is not None and "never ran" in str(err)


def test_a_finalizer_run_in_the_call_passes(gc_trap):
    v = View(b"abc")
    seen = []
    fired = gc_trap(lambda: seen.append(v.released))
    w = v[1:]  # the new View is a real allocation (the free list is drained)
    err = _check(fired)
    assert err is None and fired == [True] and seen == [False]
    assert bytes(w) == b"bc"


def test_a_trap_armed_by_a_frame_that_is_gone_fails(gc_trap):
    v = View(b"abc")

    def arm():
        return gc_trap(lambda: None)

    fired = arm()
    w = v[1:]
    err = _check(fired)
    assert fired and err is not None and "line None" in str(err)
    assert bytes(w) == b"bc"
