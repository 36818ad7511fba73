"""nocopy._core's allocation counter (behind the sensor servers' /stats):
counts every block allocated, freed or not."""
import tracemalloc

import pytest

from nocopy import _core


def test_counts_allocations_freed_or_not(counting):
    rounds = [None] * 1000
    a = _core._alloc_count()
    for _ in rounds:
        x = bytes(40)  # one new bytes per round, freed at the next
    b = _core._alloc_count()
    assert 1000 <= b - a <= 1005
    del x
    a = _core._alloc_count()
    for _ in rounds:
        pass
    b = _core._alloc_count()
    assert b - a <= 2  # the loop itself allocates nothing


def test_start_stop_errors():
    try:
        _core._alloc_count_start()
    except RuntimeError:
        _core._alloc_count_stop()
        _core._alloc_count_start()
    try:
        with pytest.raises(RuntimeError, match="already"):
            _core._alloc_count_start()
        tracemalloc.start()
        try:
            with pytest.raises(RuntimeError, match="tracemalloc"):
                _core._alloc_count_stop()
        finally:
            tracemalloc.stop()
    finally:
        _core._alloc_count_stop()
    with pytest.raises(RuntimeError, match="not running"):
        _core._alloc_count_stop()
    # monotonic, also while stopped
    a = _core._alloc_count()
    assert _core._alloc_count() >= a
