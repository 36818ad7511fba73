"""Zero-copy judged by tracemalloc: the seed's sensor loop allocates nothing,
and dump streams any document through O(buffer_size) memory."""
import gc
import io
import json
import os
import tracemalloc

import pytest

import nocopy.json as nj
from nocopy import View


class NullSink:
    def write(self, data):
        return len(data)


def _blocks_during(fn, rounds):
    gc.collect()
    tracemalloc.start()
    try:
        fn(10)  # warm-up: first-time caches, int objects of the loop
        before = tracemalloc.take_snapshot()
        fn(rounds)
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    mine = [tracemalloc.Filter(False, tracemalloc.__file__)]  # snapshot bookkeeping
    stats = after.filter_traces(mine).compare_to(before.filter_traces(mine), "lineno")
    return sum(s.count_diff for s in stats if s.count_diff > 0)


def test_sensor_loop_allocates_nothing():
    reading = {"temperature": 0, "humidity": 0, "pressure": 0, "time": 0}
    buf = bytearray(256)
    view = View(buf)
    sink = NullSink()
    fd = os.open(os.devnull, os.O_WRONLY)
    # small ints only (cached objects) so the dict update itself is allocation-free
    values = list(range(200))

    def loop(rounds):
        for i in range(rounds):
            v = values[i % 200]
            reading["temperature"] = v
            reading["humidity"] = v
            reading["pressure"] = values[-1 - i % 200]
            reading["time"] = v
            n = nj.dumps_into(reading, buf)
            sink.write(view.retarget(0, n))
            os.write(fd, view)
    try:
        assert _blocks_during(loop, 5000) == 0
    finally:
        os.close(fd)
    expected = json.dumps(reading, separators=(",", ":")).encode()
    assert bytes(view.retarget(0, nj.dumps_into(reading, buf))) == expected


def test_dumps_into_steady_state_other_types_allocates_nothing():
    doc = {"s": "héllo wörld \U0001f600", "l": [1, 2, 3, True, None], "f": 1.5,
           "big": 2**63 + 5, "neg": -2**63, "nested": {"a": [{"b": "c"}]}}
    buf = bytearray(1024)

    def loop(rounds):
        for _ in range(rounds):
            nj.dumps_into(doc, buf, 3, ensure_ascii=False)
            nj.dumps_into(doc, buf, 3, ensure_ascii=True, indent=2)
    # floats: nc_format_double may use a temporary in this build, freed at once;
    # what matters is that nothing is retained per call
    assert _blocks_during(loop, 2000) == 0


def test_dump_of_a_big_document_peaks_at_the_buffer():
    # ~100 MB of JSON: 100,000 references to one 1 KB-ish string and a row
    # of small dicts shared many times -- the document itself is small in
    # memory, its JSON is not.
    row = {"id": 123456, "name": "sensor-é", "values": [1, 2, 3, 4.5], "ok": True}
    text = "x" * 1000
    doc = [text] * 85000 + [row] * 250000
    buffer_size = 65536
    sink = NullSink()
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        n = nj.dump(doc, sink, buffer_size=buffer_size)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert n > 100_000_000
    assert peak < 2 * buffer_size, peak


def test_huge_single_string_streams_in_pieces():
    s = "é" * 5_000_000  # 10 MB of UTF-8 in one str
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        n = nj.dump(s, NullSink(), buffer_size=4096)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert n == 10_000_002
    assert peak < 2 * 4096, peak


def _dumps_peak(doc):
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        out = nj.dumps(doc)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    return out, peak


def test_dumps_same_size_again_is_one_allocation_of_that_size():
    # the bytes object starts at the last document's length (json.h,
    # NC_JW_HINT_MAX): a document of that size again is built without growing
    doc = [{"id": i, "name": f"item-{i}", "price": i * 1.25} for i in range(20000)]
    first, _ = _dumps_peak(doc)
    again, peak = _dumps_peak(doc)
    assert again == first
    assert len(first) - 100 <= peak <= len(first) + 1024, (peak, len(first))
    # smaller than the hint: the rest is given back, the hint follows
    small = doc[:1000]
    out, peak = _dumps_peak(small)
    assert out == first[: len(out) - 1] + b"]"
    assert peak <= len(first) + 1024
    out2, peak2 = _dumps_peak(small)
    assert out2 == out and peak2 <= len(out) + 1024


def test_dumps_builds_one_bytes_object():
    nj.dumps(["x" * 5000])       # a hint of ~5 KB: growth by doubling from there
    out, peak = _dumps_peak(["abc" * 1000] * 1000)   # ~3 MB
    # a growing buffer (at most 2x while growing), never a list of parts or a str copy
    assert peak <= 2.1 * len(out)
    assert out == io.BytesIO(out).getvalue()


def test_dumps_starting_size_is_only_a_guess():
    # when the bytes object of the last document's size cannot be had, dumps
    # starts small instead of failing (json_writer.c, nc_jw_flush)
    _testcapi = pytest.importorskip("_testcapi")
    small = ["y" * 100] * 100             # ~10 KB: one flush from the scratch
    exp = json.dumps(small, separators=(",", ":")).encode()
    nj.dumps(["x" * 5000])                 # hint ~5 KB: the first flush asks 16 KB
    raised = False
    _testcapi.set_nomemory(0, 1)           # the next allocation fails
    try:
        nj.dumps(small)                    # that allocation is dumps' bytes object
    except MemoryError:
        raised = True
    finally:
        _testcapi.remove_mem_hooks()
    assert raised
    nj.dumps(["x" * 1000] * 100)           # hint ~100 KB
    _testcapi.set_nomemory(0, 1)
    try:
        out = nj.dumps(small)              # the 100 KB one fails, 16 KB does not
    finally:
        _testcapi.remove_mem_hooks()
    assert out == exp
