# Vendored from CPython 3.11.7, Lib/test/test_json/test_default.py
# Copyright (c) 2001-2023 Python Software Foundation; licensed under the PSF
# License Agreement (see LICENSE-PSF.txt beside this file).  Only the import
# lines were changed, to run against nocopy.json through this package's adapter.
from . import PyTest, CTest  # was: from test.test_json import PyTest, CTest


class TestDefault:
    def test_default(self):
        self.assertEqual(
            self.dumps(type, default=repr),
            self.dumps(repr(type)))


class TestPyDefault(TestDefault, PyTest): pass
class TestCDefault(TestDefault, CTest): pass
