"""Leak check: split_into() on every path (reuse, new Views, Views moved
between buffers, truncation, errors) and reslice(), 100,000 times, leave
sys.getallocatedblocks() flat."""
import pytest

from leakcheck import assert_no_leak, raises
from nocopy import ByteBuffer, View

A = bytearray(b"  one two  three four ")
B = b"x,y,z"


class Idx:
    def __index__(self):
        return 2


def _calls():
    va, vb = View(A), View(B)
    fields = []
    held = []
    bb = ByteBuffer(64)
    bb.write(b"GET /a/b HTTP/1.1")
    line = bb.peek()
    scratch = View()
    exported = View(bytearray(b"e"))
    mv = memoryview(exported)

    def alternate():  # moves the same Views between two buffers
        va.split_into(fields)
        vb.split_into(fields, b",")

    def held_elsewhere():  # every View held: all replaced, the old ones dropped
        va.split_into(fields)
        held[:] = fields

    def foreign_items():
        f = [1, "x", b"y", None, View(b"q")]
        va.split_into(f, None, 2)

    def reslice_exported():  # keeps mv, the export, alive
        try:
            exported.reslice(va)
        except BufferError:
            return mv
        raise AssertionError("reslice of an exported View moved it")

    return {
        "reuse": lambda: va.split_into(fields),
        "alternate": alternate,
        "held": held_elsewhere,
        "foreign": foreign_items,
        "truncate": lambda: (va.split_into(fields), va.split_into(fields, None, 1)),
        "sep_buffer": lambda: va.split_into(fields, memoryview(b"o"), Idx()),
        "bytebuffer": lambda: line.split_into(fields, b" "),
        "err_sep": raises(TypeError, va.split_into, fields, "x"),
        "err_empty": raises(ValueError, va.split_into, fields, bytearray()),
        "err_list": raises(TypeError, va.split_into, (), None),
        "err_kw": raises(TypeError, va.split_into, fields, bogus=1),
        "reslice": lambda: scratch.reslice(va, 1, Idx()),
        "reslice_move": lambda: (scratch.reslice(vb), scratch.reslice(line, -3)),
        "reslice_err": raises(TypeError, scratch.reslice, b"x"),
        "reslice_exported": reslice_exported,
    }


@pytest.mark.parametrize("name", sorted(_calls()))
def test_no_leak(name):
    assert_no_leak(_calls()[name], n=50_000)
