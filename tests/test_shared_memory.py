"""Two processes share a multiprocessing.shared_memory segment (issue 15
part 2): one writes records through ByteBuffer.wrap(shm.buf), the other
reads them through Views of its own mapping; both close by the rule
"close the View / ByteBuffer, then shm.close()".  'spawn' children: fork in
a threaded process warns (an error here) on 3.12+."""
import multiprocessing
import queue
from multiprocessing import shared_memory

import pytest

from nocopy import ByteBuffer, StaleViewError, View

import shm_workers


@pytest.fixture
def segment():
    shm = shared_memory.SharedMemory(create=True, size=64 * 1024)
    try:
        yield shm
    finally:
        shm.close()
        shm.unlink()


def test_two_processes_write_and_read(segment):
    ctx = multiprocessing.get_context("spawn")
    ready, done, results = ctx.Event(), ctx.Event(), ctx.Queue()
    rounds = 3
    procs = [ctx.Process(target=shm_workers.writer, args=(segment.name, rounds, ready, done)),
             ctx.Process(target=shm_workers.reader,
                         args=(segment.name, rounds, ready, done, results))]
    for p in procs:
        p.start()
    got = []
    try:
        for _ in range(rounds + 1):
            got.append(results.get(timeout=60))
    except queue.Empty:
        pytest.fail("a worker died or hung")
    finally:
        for p in procs:
            p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    for r in range(rounds):
        assert got[r] == ("records", r, shm_workers.records(r))
    kind, closed_early, message, stale = got[rounds]
    assert kind == "closing" and not closed_early
    assert "export" in message
    assert stale == [True, True, True]


def test_closing_rule_in_one_process(segment):
    b = ByteBuffer.wrap(segment.buf)
    b.write(b"abc")
    v = b.read()
    with pytest.raises(BufferError):
        segment.close()
    b.close()
    with pytest.raises(StaleViewError):
        bytes(v)
    other = View(segment.buf)
    with pytest.raises(BufferError):
        segment.close()
    other.close()
    segment.close()  # the fixture's close() again is a no-op


def test_a_second_mapping_sees_the_writes(segment):
    peer = shared_memory.SharedMemory(name=segment.name)
    try:
        with ByteBuffer.wrap(segment.buf) as b:
            b.write_u32(0xCAFE)
            v = View(peer.buf)
            assert v[:4] == b"\x00\x00\xca\xfe"
            v.close()
    finally:
        peer.close()
