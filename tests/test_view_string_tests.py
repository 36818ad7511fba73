"""Conformance: CPython's own Lib/test/string_tests.py (BaseTest) with View as
the type under test, for the search / strip / split / predicate methods --
over bytes, over bytearray, and as a window in the middle of a larger
buffer.  (BaseTest's tests of the methods that make new bytes -- replace,
lower, ljust... -- belong to view_transform's conformance file.)"""
import unittest

import pytest

from nocopy import View

string_tests = pytest.importorskip("test.string_tests")

SEARCH_TESTS = [
    "test_fixtype",
    "test_find", "test_rfind", "test_index", "test_rindex",
    "test_find_periodic_pattern", "test_find_shift_table_overflow",
    "test_split", "test_rsplit", "test_additional_split", "test_additional_rsplit",
    "test_removeprefix", "test_removesuffix", "test_strip_whitespace", "test_strip",
    "test_islower", "test_isupper", "test_istitle", "test_isspace", "test_isalpha",
    "test_isalnum", "test_isascii", "test_isdigit", "test_splitlines",
]
# test_count's exhaustive part counts with View.replace, which view_transform
# provides; it joins as soon as that method exists.
if hasattr(View, "replace"):
    SEARCH_TESTS.append("test_count")


class _ViewBase(string_tests.BaseTest):
    type2test = View
    contains_bytes = True
    wrap = staticmethod(lambda b: b)
    pad = b""

    def fixtype(self, obj):
        if isinstance(obj, str):
            data = obj.encode("utf-8")
            buf = self.wrap(self.pad + data + self.pad)
            return View(buf, len(self.pad), len(self.pad) + len(data))
        return super().fixtype(obj)


# 1000 random subtests: run once, on the hardest form (a window of a bytearray).
HEAVY = {"test_find_periodic_pattern"}


def _search_only(cls, heavy=False):
    """Keep BaseTest's tests of this module's methods only."""
    for name in dir(string_tests.BaseTest):
        if name.startswith("test") and (name not in SEARCH_TESTS or (name in HEAVY and not heavy)):
            setattr(cls, name, None)
    return cls


@_search_only
class TestViewOverBytes(_ViewBase, unittest.TestCase):
    pass


@_search_only
class TestViewOverBytearray(_ViewBase, unittest.TestCase):
    wrap = staticmethod(bytearray)


@_search_only
class TestViewWindow(_ViewBase, unittest.TestCase):
    pad = b"\x00 pad \r\n"


@lambda cls: _search_only(cls, heavy=True)
class TestViewWindowOverBytearray(_ViewBase, unittest.TestCase):
    wrap = staticmethod(bytearray)
    pad = b"ab\t"


def test_all_search_tests_exist():
    for name in SEARCH_TESTS:
        assert callable(getattr(string_tests.BaseTest, name)), name
