"""Leak check: every search / strip / split / predicate method, success and
error paths, run 100,000 times leaves leakcheck.blocks() flat."""
import gc
import sys

import pytest
import leakcheck

from nocopy import View

N = 100_000
DATA = b"  GET /index.html HTTP/1.1\r\nHost: example.com\r\n\r\nkey=value; x=1  "
BUF = bytearray(b"<<" + DATA + b">>")


class Idx:
    def __index__(self):
        return 1


def _calls():
    v = View(BUF, 2, 2 + len(DATA))
    mv = memoryview(b"=")
    return {
        "find": lambda: v.find(b"key", 1, -1),
        "find_byte": lambda: v.find(61),
        "find_buffer": lambda: v.find(mv),
        "rfind": lambda: v.rfind(b"\r\n", Idx()),
        "index": lambda: v.index(b"Host"),
        "rindex": lambda: v.rindex(b"e"),
        "count": lambda: v.count(b"e"),
        "count_sub": lambda: v.count(b"\r\n", None, None),
        "startswith": lambda: v.startswith((b"x", b"  GET"), 0),
        "endswith": lambda: v.endswith(bytearray(b"  ")),
        "strip": lambda: v.strip(),
        "strip_chars": lambda: v.strip(b" x1"),
        "lstrip": lambda: v.lstrip(None),
        "rstrip": lambda: v.rstrip(mv),
        "split": lambda: v.split(),
        "split_sep": lambda: v.split(b"\r\n", maxsplit=2),
        "split_many": lambda: v.split(b"e"),
        "rsplit": lambda: v.rsplit(b" ", 3),
        "rsplit_ws": lambda: v.rsplit(),
        "splitlines": lambda: v.splitlines(True),
        "partition": lambda: v.partition(b"="),
        "rpartition": lambda: v.rpartition(b"zz"),
        "removeprefix": lambda: v.removeprefix(b"  GET"),
        "removesuffix": lambda: v.removesuffix(b"1  "),
        "predicates": lambda: (v.isalnum(), v.isalpha(), v.isascii(), v.isdigit(), v.islower(),
                               v.isspace(), v.istitle(), v.isupper()),
        "contains": lambda: (b"Host" in v, 61 in v),
        "itersplit": lambda: [len(p) for p in v.itersplit(b" ")],
        "itersplit_reuse": lambda: [len(p) for p in v.itersplit(reuse=True)],
        "iterlines": lambda: [len(p) for p in v.iterlines(keepends=True, reuse=False)],
    }


def _errors():
    v = View(BUF, 2, 2 + len(DATA))
    return {
        "index_missing": lambda: v.index(b"zzz"),
        "find_bad_sub": lambda: v.find("x"),
        "find_bad_byte": lambda: v.find(300),
        "find_bad_start": lambda: v.find(b"x", "a"),
        "startswith_bad": lambda: v.startswith("x"),
        "startswith_tuple_bad": lambda: v.startswith((b"x", "y")),
        "split_empty": lambda: v.split(b""),
        "split_bad_kw": lambda: v.split(foo=1),
        "split_twice": lambda: v.split(b"a", sep=b"b"),
        "splitlines_bad": lambda: v.splitlines(keepend=True),
        "partition_empty": lambda: v.partition(b""),
        "strip_bad": lambda: v.strip("x"),
        "itersplit_bad": lambda: v.itersplit(b""),
    }


def _leaks(fn, expect_error):
    def once():
        try:
            fn()
        except (TypeError, ValueError):
            if not expect_error:
                raise
        else:
            assert not expect_error

    for _ in range(1000):
        once()
    gc.collect()
    before = leakcheck.blocks()
    for _ in range(N):
        once()
    gc.collect()
    return leakcheck.blocks() - before


@pytest.mark.parametrize("name", sorted(_calls()))
def test_no_leak(name):
    assert _leaks(_calls()[name], False) < 50


@pytest.mark.parametrize("name", sorted(_errors()))
def test_no_leak_on_errors(name):
    assert _leaks(_errors()[name], True) < 50
