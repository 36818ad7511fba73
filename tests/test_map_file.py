"""nocopy.io.map_file (issue 15 part 4): a View that owns an mmap of a file.
close() or the end of a with block closes the mapping and makes every View,
iterator and Rope segment of it stale, never a BufferError from mmap."""
import gc
import mmap
import os
import sys
import tracemalloc

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nocopy import Rope, StaleViewError, View
from nocopy.io import MemoryReader, map_file

MiB = 1 << 20


@pytest.fixture
def path(tmp_path):
    p = tmp_path / "data.bin"
    p.write_bytes(b"alpha\nbeta\ngamma\n" * 3)
    return p


def test_reads_the_file_and_closes_on_exit(path):
    data = path.read_bytes()
    with map_file(path) as v:
        assert bytes(v) == data and v.readonly and isinstance(v.obj, mmap.mmap)
        mm = v.obj
        lines = v.splitlines()
        it = v.iterlines()
        seg = Rope([v[6:10], b"!"])
        reader = MemoryReader(v)
        assert bytes(seg) == b"beta!"
    assert mm.closed and v.closed
    for fn in (lambda: bytes(v), lambda: bytes(lines[0]), lambda: next(it),
               lambda: bytes(seg), reader.read):
        with pytest.raises(StaleViewError):
            fn()


def test_close_then_the_file_can_be_replaced(path):
    v = map_file(path)
    head = v[:5]
    v.close()
    v.close()
    with pytest.raises(StaleViewError, match="closed"):
        bytes(head)
    os.replace(path, str(path) + ".old")


def test_writable_writes_through(path):
    with map_file(str(path), writable=True) as v:
        assert not v.readonly
        v[:5] = b"ALPHA"
        v[6:10].upper_inplace()
    assert path.read_bytes().startswith(b"ALPHA\nBETA\n")


def test_read_only_refuses_writes(path):
    with map_file(path) as v:
        with pytest.raises(TypeError):
            v[:1] = b"x"


def test_memoryview_held_refuses_close(path):
    v = map_file(path)
    m = memoryview(v[2:4])
    with pytest.raises(BufferError, match="cannot close View: 1 buffer export"):
        v.close()
    with pytest.raises(BufferError):
        with v:
            pass
    assert bytes(m) == b"ph" and not v.closed
    m.release()
    v.close()
    assert v.closed


def test_dropping_every_view_unmaps(path):
    v = map_file(path)
    mm = v.obj
    del v
    gc.collect()
    mm.close()  # no export left


def test_empty_file_is_an_empty_view(tmp_path):
    p = tmp_path / "empty"
    p.write_bytes(b"")
    for writable in (False, True):
        with map_file(p, writable=writable) as v:
            assert len(v) == 0 and bytes(v) == b""
        assert v.closed
        with pytest.raises(StaleViewError):
            len(v)


def test_open_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        map_file(tmp_path / "missing")
    with pytest.raises(IsADirectoryError):
        map_file(tmp_path)
    p = tmp_path / "ro"
    p.write_bytes(b"x")
    p.chmod(0o444)
    if os.geteuid() != 0:
        with pytest.raises(PermissionError):
            map_file(p, writable=True)
    with pytest.raises(TypeError):
        map_file(3.5)


def test_file_descriptor_closed_at_once(path):
    """The descriptor map_file opens is closed before it returns; before 3.13
    the mmap object holds a duplicate until close() (trackfd=False after)."""
    fds = len(os.listdir("/proc/self/fd"))
    views = [map_file(path) for _ in range(20)]
    held = len(os.listdir("/proc/self/fd")) - fds
    assert held == (0 if sys.version_info >= (3, 13) else 20)
    for v in views:
        v.close()
    assert len(os.listdir("/proc/self/fd")) == fds


def test_map_file_of_256_mib_costs_o1_python_memory(tmp_path):
    p = tmp_path / "big"
    with open(p, "wb") as f:
        f.truncate(256 * MiB)  # sparse: nothing written
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        v = map_file(p)
        assert len(v) == 256 * MiB and v[-1] == 0
        v.close()
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert peak < 16 * 1024


@given(data=st.binary(min_size=1, max_size=300), a=st.integers(-320, 320),
       b=st.integers(-320, 320))
def test_windows_match_bytes(tmp_path_factory, data, a, b):
    p = tmp_path_factory.mktemp("m") / "f"
    p.write_bytes(data)
    with map_file(p) as v:
        w = v[a:b]
        assert bytes(w) == data[a:b]
        assert w.find(b"\x00") == data[a:b].find(b"\x00")
    with pytest.raises(StaleViewError):
        bytes(w)
