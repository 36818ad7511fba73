"""CPython's own string_tests.BaseTest with View as the type under test: over
bytes, over bytearray, and as a window in the middle of a larger buffer.

The adapter mirrors test_bytes.FixedStringTest: the tests speak in str, and
fixtype() turns each str into the object under test.  Expected results are
fixtyped too, so a View result is compared with a View of the expected bytes
by content.  No test of BaseTest is overridden or excluded."""
import sys
import unittest

from nocopy import View

# Each CPython release tests its own bytes: take the file of the running
# version's line (3.13 added e.g. replace(count=) keyword tests).
if sys.version_info >= (3, 13):
    from cpython import string_tests_313 as string_tests
else:
    from cpython import string_tests_311 as string_tests


class FixedViewTest(string_tests.BaseTest):
    type2test = View
    contains_bytes = True

    def fixtype(self, obj):
        if isinstance(obj, str):
            return self.make(obj.encode("utf-8"))
        return super().fixtype(obj)


class ViewOverBytesTest(FixedViewTest, unittest.TestCase):
    def make(self, data):
        return View(data)


class ViewOverBytearrayTest(FixedViewTest, unittest.TestCase):
    def make(self, data):
        return View(bytearray(data))


class ViewWindowTest(FixedViewTest, unittest.TestCase):
    # The padding holds bytes the tests search for, strip and split on, so a
    # kernel that strays past the window gives a wrong answer.
    PAD = b"a \t\r\n\x00xyz.,-\xe9"

    def make(self, data):
        buf = self.PAD + data + self.PAD[::-1]
        return View(buf, len(self.PAD), len(self.PAD) + len(data))
