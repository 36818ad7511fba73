"""nocopy.aio.StreamReader against asyncio.StreamReader as the oracle (issue
18, points 6, 7, 12, 14, 15, 16): the same bytes fed, the same script of
reads, the same results and errors; frames and reads to EOF past the limit;
the end of stream; cancellation of a large read; the README's server."""
import asyncio
import socket

import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

import nocopy.aio as aio
from nocopy import EndOfStream, IncompleteRead, LimitOverrun, View

from aio_loops import LOOPS, run

SEPS = [b"\n", b"|", b"\r\n", b"ab"]

OPS = st.one_of(
    st.just(("readline",)),
    st.tuples(st.just("readuntil"), st.sampled_from(SEPS)),
    st.tuples(st.just("readexactly"), st.integers(0, 200)),
    st.tuples(st.just("read"), st.integers(-1, 200)),
    st.just(("at_eof",)),
)

DATA = st.lists(st.sampled_from([b"a", b"b", b"xyz", b"\n", b"|", b"\r\n", b"0123456789"]),
                max_size=60).map(b"".join)


async def script(reader, ops, detail=True):
    """Run ops; each result as plain data, errors by their asyncio meaning
    (detail: which overrun, and where the separator is, too)."""
    out = []
    for op in ops:
        name = op[0]
        try:
            if name == "readline":
                res = await reader.readline()
            elif name == "readuntil":
                res = await reader.readuntil(op[1])
            elif name == "readexactly":
                res = await reader.readexactly(op[1])
            elif name == "read":
                res = await reader.read(op[1])
            else:
                out.append(("at_eof", reader.at_eof()))
                continue
            out.append(("ok", bytes(res)))
        except asyncio.IncompleteReadError as e:
            out.append(("incomplete", bytes(e.partial), e.expected))
        except asyncio.LimitOverrunError as e:
            # asyncio's readline turns it into a ValueError; ours stays a LimitOverrun (a
            # ValueError too): the same except clause catches both
            if name != "readuntil":
                out.append(("valueerror",))
            elif not detail:  # which one depends on how the bytes came in
                out.append(("overrun",))
            elif "is found" in str(e):  # .consumed: where the separator starts
                out.append(("overrun", "found", e.consumed))
            else:
                out.append(("overrun", "not found"))
        except ValueError:
            out.append(("valueerror",))
    return out


async def fed(reader, data):
    reader.feed_data(data)
    reader.feed_eof()
    return reader


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(DATA, st.lists(OPS, max_size=12), st.sampled_from([4, 8, 16, 64]),
       st.sampled_from(LOOPS))
# the boundaries: `limit` bytes before the separator pass; an overlong line
# is dropped through its b"\n"
@example(b"abcd\nabcde\nab\n", [("readline",)] * 4, 4, "asyncio")
@example(b"abcd|abcd\r\nabcdeab", [("readuntil", b"|"), ("readuntil", b"\r\n"),
                                   ("readuntil", b"ab"), ("read", -1)], 4, "asyncio")
def test_same_as_asyncio_all_data_buffered(data, ops, limit, loop):
    async def body():
        want = await script(await fed(asyncio.StreamReader(limit=limit), data), ops)
        got = await script(await fed(aio.StreamReader(limit=limit), data), ops)
        assert got == want

    run(loop, body)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(DATA, st.lists(st.integers(1, 9), min_size=1, max_size=5),
       st.lists(st.one_of(st.just(("readline",)), st.tuples(st.just("readuntil"), st.sampled_from(SEPS)),
                          st.tuples(st.just("readexactly"), st.integers(0, 200)),
                          st.just(("read", -1))), max_size=10),
       st.sampled_from([16, 4096]), st.sampled_from(LOOPS))
def test_same_as_asyncio_fed_in_chunks(data, sizes, ops, limit, loop):
    """Bytes arriving in pieces while the reads wait (limits that may be
    overrun only where asyncio's result does not depend on the pieces)."""
    if limit == 16 and any(len(line) > 16 for line in data.replace(b"|", b"\n").split(b"\n")):
        limit = 4096

    async def drive(reader):
        task = asyncio.ensure_future(script(reader, ops, detail=False))
        pos, i = 0, 0
        while pos < len(data):
            n = sizes[i % len(sizes)]
            i += 1
            reader.feed_data(data[pos:pos + n])
            pos += n
            for _ in range(3):
                await asyncio.sleep(0)
        reader.feed_eof()
        return await task

    async def body():
        want = await drive(asyncio.StreamReader(limit=limit))
        got = await drive(aio.StreamReader(limit=limit))
        assert got == want

    run(loop, body)


# ---- over a socket ------------------------------------------------------------------------

pytestmark_loops = pytest.mark.parametrize("loop", LOOPS)


async def pair(limit=2 ** 16):
    a, b = socket.socketpair()
    r, w = await aio.open_connection(sock=a, limit=limit)
    pr, pw = await asyncio.open_connection(sock=b)
    return r, w, pr, pw


async def close_all(*writers):
    for w in writers:
        w.close()
    for w in writers:
        try:
            await w.wait_closed()
        except (ConnectionError, BrokenPipeError):
            pass


@pytestmark_loops
def test_frames_larger_than_the_limit(loop):
    """readexactly(n) of any n: the frame is received into a fresh buffer of
    n bytes (no bounce through the reader's), the reader goes back to its
    own buffer after."""
    big = bytes(range(256)) * 4096  # 1 MiB

    async def body():
        r, w, pr, pw = await pair(limit=1024)
        home = r._buf

        async def send():
            for k in range(3):
                pw.write(len(big).to_bytes(4, "big") + big[k:] + b"tail")
                await pw.drain()
            pw.write_eof()

        t = asyncio.ensure_future(send())
        for k in range(3):
            n = int.from_bytes(await r.readexactly(4), "big")
            frame = await r.readexactly(n - k)
            assert type(frame) is View and frame == big[k:]
            assert frame.obj is not home
            assert await r.readexactly(4) == b"tail"
            assert r._buf is home and r.buffered <= 1025
        assert await r.eof()
        with pytest.raises(EndOfStream):
            await r.readexactly(1 << 20)
        await t
        await close_all(w, pw)

    run(loop, body, timeout=60)


@pytestmark_loops
def test_read_to_eof_past_the_limit_and_truncated_large_frame(loop):
    async def body():
        r, w, pr, pw = await pair(limit=100)
        data = b"".join(b"%06d" % i for i in range(20000))
        pw.write(data)
        pw.write_eof()
        assert await r.read() == data
        assert r.at_eof()
        await close_all(w, pw)

        r, w, pr, pw = await pair(limit=100)
        pw.write(b"q" * 5000)
        pw.write_eof()
        with pytest.raises(IncompleteRead) as ei:
            await r.readexactly(6000)
        assert type(ei.value) is IncompleteRead and ei.value.partial == b"q" * 5000
        assert ei.value.expected == 6000
        await close_all(w, pw)

    run(loop, body)


@pytestmark_loops
def test_cancelled_large_read_loses_nothing(loop):
    async def body():
        r, w, pr, pw = await pair(limit=64)
        pw.write(b"a" * 500)
        t = asyncio.ensure_future(r.readexactly(1000))
        while r.buffered < 500:
            await asyncio.sleep(0.001)
        t.cancel()
        with pytest.raises(asyncio.CancelledError):
            await t
        # more than the limit is buffered: lines() refuses rather than skip them
        with pytest.raises(RuntimeError, match="cancelled"):
            async for _ in r.lines():
                pass
        assert await r.readexactly(450) == b"a" * 450
        pw.write(b"b\nc\n")
        got = []
        async for line in r.lines():
            got.append(bytes(line))
            if len(got) == 2:
                break
        assert got == [b"a" * 50 + b"b", b"c"]
        assert r._buf is r._home
        await close_all(w, pw)

    run(loop, body)


@pytestmark_loops
def test_backpressure_during_a_large_frame(loop):
    """The grown buffer is exactly the frame: the transport pauses when it is
    full, whatever the sender has queued."""
    async def body():
        r, w, pr, pw = await pair(limit=256)
        pw.write(b"F" * 200000 + b"G" * 200000)
        assert await r.readexactly(200000) == b"F" * 200000
        assert r._paused or r.buffered <= 257
        assert await r.readexactly(200000) == b"G" * 200000
        await close_all(w, pw)

    run(loop, body)


@pytestmark_loops
def test_eof_tells_clean_end_from_truncation(loop):
    async def body():
        for tail, want in ((b"", None), (b"\x00\x00", IncompleteRead), (b"\x00\x00\x00\x05ab",
                                                                           IncompleteRead)):
            r, w, pr, pw = await pair(limit=64)
            frames = [b"one", b"", b"three" * 30]
            pw.write(b"".join(len(f).to_bytes(4, "big") + f for f in frames) + tail)
            pw.write_eof()
            got, err = [], None
            try:
                while not await r.eof():
                    n = int.from_bytes(await r.readexactly(4), "big")
                    got.append(bytes(await r.readexactly(n)))
            except IncompleteRead as e:
                err = type(e)
            assert got == frames and err is want
            assert r.at_eof()
            # the exception way
            with pytest.raises(EndOfStream) as ei:
                await r.readexactly(4)
            assert isinstance(ei.value, asyncio.IncompleteReadError)
            with pytest.raises(EndOfStream):
                await r.readuntil(b"\n")
            await close_all(w, pw)

    run(loop, body)


@pytestmark_loops
def test_eof_waits_and_consumes_nothing(loop):
    async def body():
        r, w, pr, pw = await pair()
        t = asyncio.ensure_future(r.eof())
        await asyncio.sleep(0.01)
        assert not t.done()
        pw.write(b"x")
        assert await t is False
        assert r.buffered == 1 and not r.at_eof()
        await close_all(w, pw)

    run(loop, body)


@pytestmark_loops
def test_readline_loop_survives_long_lines(loop):
    """`except ValueError: continue` around readline() goes on (asyncio's
    behaviour), it does not spin on the same bytes."""
    async def body():
        r, w, pr, pw = await pair(limit=16)
        pw.write(b"short\n" + b"L" * 40 + b"\nafter\n")
        pw.write_eof()
        got, errors = [], 0
        for _ in range(20):
            try:
                line = await r.readline()
            except ValueError:
                errors += 1
                continue
            if not line:
                break
            got.append(bytes(line))
        assert errors >= 1 and got[0] == b"short\n" and got[-1] == b"after\n"
        assert all(not g.startswith(b"L" * 17) for g in got)
        await close_all(w, pw)

    run(loop, body)


@pytestmark_loops
def test_feed_data_grows_and_keeps_lent_views(loop):
    async def body():
        r = aio.StreamReader(limit=8)
        r.feed_data(b"abc\n")
        line = await r.readline()
        r.feed_data(b"0123456789" * 3)  # more than the buffer: grown, line untouched
        assert line == b"abc\n"
        assert await r.readexactly(30) == b"0123456789" * 3
        r.feed_data(b"")
        r.feed_eof()
        with pytest.raises(RuntimeError):
            r.feed_data(b"x")
        assert await r.read() == b"" and r.at_eof()

    run(loop, body)


@pytestmark_loops
def test_readme_server_with_backpressure(loop):
    """The README's server: drain() inside the loop bounds what is queued."""
    async def handle(reader, writer):
        async for line in reader.lines(reuse=True):
            writer.write_json({"echo": len(line)})
            writer.write(b"\n")
            await writer.drain()
        writer.close()

    async def body():
        server = await aio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        cr, cw = await asyncio.open_connection("127.0.0.1", port)
        cw.write(b"".join(b"x" * (i % 50) + b"\n" for i in range(2000)))
        cw.write_eof()
        answers = [await cr.readline() for _ in range(2000)]
        assert answers[7] == b'{"echo":7}\n' and answers[1999] == b'{"echo":49}\n'
        cw.close()
        server.close()
        await server.wait_closed()

    run(loop, body)


@pytestmark_loops
def test_large_frame_is_received_in_place(loop):
    """An 8 MiB readexactly() costs one buffer of the frame's size: the bytes
    land there from the socket, never in a second copy (asyncio's own reader
    holds a bytearray and returns a bytes copy of it)."""
    import tracemalloc
    size = 8 << 20
    big = b"x" * size

    async def body():
        r, w, pr, pw = await pair(limit=4096)

        async def send():
            for i in range(0, size, 65536):
                pw.write(memoryview(big)[i:i + 65536])
                await pw.drain()

        tracemalloc.start()
        try:
            t = asyncio.ensure_future(send())
            frame = await r.readexactly(size)
            await t
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert len(frame) == size and frame[-1] == ord("x")
        assert peak < 1.25 * size, f"peak {peak / size:.2f}x the frame"
        await close_all(w, pw)

    run(loop, body, timeout=60)
