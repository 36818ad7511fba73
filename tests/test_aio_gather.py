"""nocopy.aio StreamWriter's gathering of small writes: while the reader
still holds unread (pipelined) input, bytes/View writes up to 1 KiB are
copied into one buffer and sent together (when the reader runs dry, before
it waits, or at the loop's next pass).  Order against every other kind of
write, close()/write_eof() flushing, the sizes reported, allocations."""
import asyncio

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from nocopy import ByteBuffer, Rope, StaleViewError, View, _core
import nocopy.aio as aio

from aio_loops import LOOPS, run
from test_aio import close_all, pair

pytestmark = pytest.mark.parametrize("loop", LOOPS)


class Counting:
    """A transport stand-in that counts write() calls and forwards all."""

    def __init__(self, t):
        self._t = t
        self.writes = 0

    def write(self, data):
        self.writes += 1
        self._t.write(data)

    def __getattr__(self, name):
        return getattr(self._t, name)


async def buffered(r, n):
    """Wait until the reader holds n bytes (without reading them)."""
    for _ in range(1000):
        if r.buffered >= n:
            return
        await asyncio.sleep(0.001)
    raise AssertionError(f"only {r.buffered} of {n} bytes arrived")


async def read_n(pr, n):
    got = b""
    while len(got) < n:
        c = await pr.read(n - len(got))
        assert c, got
        got += c
    return got


def test_pipelined_replies_go_out_in_one_write(loop):
    async def body():
        r, w, pr, pw = await pair()
        counting = w._transport = Counting(w._transport)
        requests = b"".join(b"GET k%d\n" % i for i in range(100))
        pw.write(requests)
        await buffered(r, len(requests))
        want = b""
        n = 0
        async for line in r.lines(reuse=True):
            reply = b"VALUE " + line.tobytes() + b"\n"
            want += reply
            w.write(reply if n % 2 else View(reply))  # bytes and Views alike
            await w.drain()
            n += 1
            if n == 100:
                break
        assert counting.writes == 1, counting.writes  # the last reply sent the batch
        assert await read_n(pr, len(want)) == want
        await close_all(w, pw)

    run(loop, body)


def test_round_trip_writes_go_straight_out(loop):
    async def body():
        r, w, pr, pw = await pair()
        counting = w._transport = Counting(w._transport)
        for i in range(20):
            pw.write(b"PING\n")
            line = await r.readline()
            assert line == b"PING\n"
            w.write(b"PONG %d\n" % i)  # nothing else buffered: no gathering
            assert not w._pending
            assert await read_n(pr, len(b"PONG %d\n" % i)) == b"PONG %d\n" % i
        assert counting.writes == 20
        await close_all(w, pw)

    run(loop, body)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(st.tuples(st.sampled_from(["bytes", "view", "bytearray", "memoryview",
                                               "big", "lines", "json", "flush_wait"]),
                              st.binary(min_size=0, max_size=40)), max_size=60),
       pending_input=st.booleans())
def test_order_is_kept_across_every_kind_of_write(loop, ops, pending_input):
    async def body():
        r, w, pr, pw = await pair()
        if pending_input:  # the reader holds unread bytes: small writes are gathered
            pw.write(b"unread input\n")
            await buffered(r, 13)
        want = b""
        for kind, data in ops:
            if kind == "bytes":
                w.write(data)
            elif kind == "view":
                w.write(View(bytearray(data)))
            elif kind == "bytearray":
                w.write(bytearray(data))
            elif kind == "memoryview":
                w.write(memoryview(data))
            elif kind == "big":
                data = data * 100 + b"B" * 1100
                w.write(data)
            elif kind == "lines":
                w.writelines([data, b"|", View(data)])
                data = data + b"|" + data
            elif kind == "json":
                w.write_json(data.hex())
                data = b'"' + data.hex().encode() + b'"'
            else:
                await asyncio.sleep(0)
                data = b""
            want += data
            assert w.get_write_buffer_size() >= (len(w._gather) if w._pending else 0)
        w.write_eof()  # sends what is gathered first
        assert not w._pending
        assert await pr.read() == want
        await close_all(w, pw)

    run(loop, body)


def test_close_sends_what_was_gathered(loop):
    async def body():
        r, w, pr, pw = await pair()
        pw.write(b"a\nb\n")
        await buffered(r, 4)
        w.write(b"first ")
        w.write(View(b"second"))
        assert w._pending and w.get_write_buffer_size() >= 12
        w.close()
        assert await pr.read() == b"first second"
        await close_all(pw)

    run(loop, body)


def test_gathered_bytes_leave_without_another_read(loop):
    async def body():
        r, w, pr, pw = await pair()
        pw.write(b"never read\n")
        await buffered(r, 11)
        for i in range(10):
            w.write(b"%d," % i)
        assert w._pending  # held back: the reader has input left
        # the task never reads again: the loop's next pass sends them
        assert await read_n(pr, 20) == b"0,1,2,3,4,5,6,7,8,9,"
        assert not w._pending
        await close_all(w, pw)

    run(loop, body)


def test_a_full_gather_buffer_is_sent_and_reused(loop):
    async def body():
        r, w, pr, pw = await pair()
        pw.write(b"x\n")
        await buffered(r, 2)
        chunk = b"z" * 1000
        for _ in range(40):  # 40 KB through a 16 KiB buffer
            w.write(chunk)
            assert len(w._gather) <= aio._GATHER
        assert await read_n(pr, 40000) == chunk * 40
        await close_all(w, pw)

    run(loop, body)


def test_gathered_writes_allocate_nothing(loop):
    async def body():
        r, w, pr, pw = await pair()
        pw.write(b"held\n")
        await buffered(r, 5)
        reply = b"VALUE something\n"
        w.write(reply)  # the gather buffer and the scheduled send exist now
        rounds = [None] * 500  # 8 KB: within one gather buffer
        try:
            _core._alloc_count_start()
            started = True
        except RuntimeError:
            started = False
        try:
            a = _core._alloc_count()
            for _ in rounds:
                w.write(reply)
            b = _core._alloc_count()
        finally:
            if started:
                _core._alloc_count_stop()
        assert b - a <= 2, b - a
        assert await read_n(pr, 501 * len(reply)) == reply * 501
        await close_all(w, pw)

    run(loop, body)


def test_bad_writes_gather_nothing(loop):
    async def body():
        r, w, pr, pw = await pair()
        pw.write(b"held\n")
        await buffered(r, 5)
        w.write(b"ok;")
        b = ByteBuffer(16)
        b.write(b"abc")
        v = b.read()
        b.clear()
        b.write(b"xyz")  # v's bytes were overwritten: v is stale
        with pytest.raises(StaleViewError):
            w.write(v)
        with pytest.raises(TypeError):
            w.write("text")
        assert w._pending and len(w._gather) == 3
        w.write_eof()
        assert await pr.read() == b"ok;"
        await close_all(w, pw)

    run(loop, body)


def test_writes_after_the_connection_is_lost_are_not_gathered(loop):
    async def body():
        r, w, pr, pw = await pair()
        pw.write(b"held\n")
        await buffered(r, 5)
        w.write(b"lost reply")
        pw.transport.abort()
        for _ in range(100):
            if w._protocol._connection_lost:
                break
            await asyncio.sleep(0.005)
        assert w._protocol._connection_lost
        assert not w._pending and w._direct
        try:
            w.write(b"after")  # as the transport does: asyncio drops it, uvloop refuses
        except RuntimeError:
            pass
        assert not w._pending
        with pytest.raises(ConnectionError):
            await w.drain()

    run(loop, body)


def test_transport_closed_past_the_writer_drops_what_was_gathered(loop):
    async def body():
        r, w, pr, pw = await pair()
        pw.write(b"held\n")
        await buffered(r, 5)
        w.write(b"gathered")
        assert w._pending
        w.transport.close()  # not w.close(): the writer is not told
        await asyncio.sleep(0)  # the backstop runs: nothing raised, nothing sent
        assert not w._pending and len(w._gather) == 0
        assert await pr.read() == b""
        await close_all(w, pw)

    run(loop, body)


def test_echo_of_borrowed_lines_is_copied_before_the_buffer_moves(loop):
    """Writing the reader's own borrowed line (an echo server): gathered as a
    copy, so the reader reusing its buffer afterwards cannot change it."""
    async def body():
        r, w, pr, pw = await pair(limit=64)
        lines = [b"line %d %s" % (i, b"x" * (i % 40)) for i in range(300)]
        data = b"".join(line + b"\n" for line in lines)

        async def feed():
            for i in range(0, len(data), 97):
                pw.write(data[i:i + 97])
                await asyncio.sleep(0)
            pw.write_eof()
        f = asyncio.ensure_future(feed())
        async for line in r.lines(keepends=True, reuse=True):
            w.write(line)
            await w.drain()
        await f
        w.write_eof()
        assert await pr.read() == data
        await close_all(w, pw)

    run(loop, body)


def test_empty_parts_do_not_stall_write_eof(loop):
    """asyncio's socket transport on 3.12/3.13 keeps an empty buffer from
    writelines() queued for good, so write_eof() never sends the end (the
    plain asyncio writer hangs the same way): nocopy's writer leaves empty
    parts out, also from a Rope."""
    async def body():
        r, w, pr, pw = await pair()
        w.writelines([b"", b"|", View(b""), memoryview(b""), bytearray()])
        w.writelines([Rope([b"", b"a", View(b"")])])
        w.writelines([b""])
        w.write_eof()
        assert await asyncio.wait_for(pr.read(), 10) == b"|a"
        await close_all(w, pw)
    run(loop, body)
