"""CPython's Lib/test/test_json encoding tests against nocopy.json.

Each vendored mixin (tests/cpython_json) becomes a TestCase whose
``self.json`` / ``self.dumps`` are the adapter around nocopy.json (str output,
stdlib default separators and ensure_ascii).  Tests that are about decoding
or about the C/Python accelerator split are out of scope for an encoder and
are excluded by name below, each with its reason."""
import unittest

from cpython_json import adapter
from cpython_json import (test_default, test_dump, test_enum, test_float, test_indent,
                          test_recursion, test_separators, test_unicode)


class NocopyTest(unittest.TestCase):
    json = adapter
    dumps = staticmethod(adapter.dumps)
    loads = staticmethod(adapter.loads)
    JSONDecodeError = adapter.JSONDecodeError


class TestDump(test_dump.TestDump, NocopyTest):
    pass


class TestFloat(test_float.TestFloat, NocopyTest):
    # decoding only: json.loads of out-of-range literals
    test_out_of_range = None


class TestUnicode(test_unicode.TestUnicode, NocopyTest):
    # decoding only: these feed JSON text to loads and check the objects
    test_big_unicode_decode = None
    test_unicode_decode = None
    test_unicode_preservation = None
    test_bytes_decode = None
    test_object_pairs_hook_with_unicode = None


class TestSeparators(test_separators.TestSeparators, NocopyTest):
    pass


class TestIndent(test_indent.TestIndent, NocopyTest):
    pass


class TestRecursion(test_recursion.TestRecursion, NocopyTest):
    # decoding only: deeply nested input to loads
    test_highly_nested_objects_decoding = None


class TestDefault(test_default.TestDefault, NocopyTest):
    pass


class TestEnum(test_enum.TestEnum, NocopyTest):
    pass


def test_exclusions_are_real_test_names():
    # an exclusion that no longer names a vendored test would hide nothing
    for cls, names in [(test_float.TestFloat, ["test_out_of_range"]),
                       (test_unicode.TestUnicode, ["test_big_unicode_decode", "test_unicode_decode",
                                                   "test_unicode_preservation", "test_bytes_decode",
                                                   "test_object_pairs_hook_with_unicode"]),
                       (test_recursion.TestRecursion, ["test_highly_nested_objects_decoding"])]:
        for name in names:
            assert callable(getattr(cls, name)), name
