"""nocopy.aio streams on asyncio's loop and uvloop's, against asyncio's
StreamReader semantics as the oracle where the API is the same."""
import asyncio
import gc
import json
import os
import socket
import sys
import tempfile
import threading
import tracemalloc

import pytest
import leakcheck
from hypothesis import given, strategies as st

import nocopy.aio as aio
from nocopy import ByteBuffer, IncompleteRead, LimitOverrun, StaleViewError, View

from aio_loops import LOOPS, run
from budget import heavy

pytestmark = pytest.mark.parametrize("loop", LOOPS)


async def pair(limit=2 ** 16):
    """(nocopy reader, nocopy writer, peer asyncio reader, peer asyncio writer)
    over a socket pair."""
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


# -- reading -------------------------------------------------------------------------------


def test_read_methods_match_asyncio(loop):
    data = b"alpha\nbeta\r\ngamma||delta" + bytes(range(256)) + b"tail"

    async def body():
        async def script(reader):
            out = [await reader.readline(), await reader.readline(),
                   await reader.readuntil(b"||"), await reader.readexactly(5),
                   await reader.read(3), await reader.readexactly(256), await reader.read(-1),
                   await reader.read(10), await reader.readline()]
            return [bytes(x) for x in out]

        r, w, pr, pw = await pair()
        pw.write(data)
        pw.write_eof()
        got = await script(r)
        assert r.at_eof()
        # the oracle: asyncio's own StreamReader fed the same bytes
        sr = asyncio.StreamReader()
        sr.feed_data(data)
        sr.feed_eof()
        assert got == await script(sr)
        await close_all(w, pw)

    run(loop, body)


def test_reads_return_borrowed_views_of_the_reader_buffer(loop):
    async def body():
        r, w, pr, pw = await pair(limit=1024)
        pw.write(b"one\ntwo\n")
        line = await r.readline()
        assert type(line) is View and line == b"one\n"
        assert isinstance(line.obj, (ByteBuffer, object))
        assert r.peek() == b"two\n" and r.buffered == 4
        await close_all(w, pw)

    run(loop, body)


def test_separator_split_across_chunks(loop):
    async def body():
        r, w, pr, pw = await pair()
        msg = b"head\r\n\r\nrest"

        async def drip():
            for i in range(len(msg)):
                pw.write(msg[i:i + 1])
                await pw.drain()
                await asyncio.sleep(0.001)

        t = asyncio.ensure_future(drip())
        v = await r.read_until(b"\r\n\r\n")
        assert v == b"head\r\n\r\n"
        assert await r.read_exact(4) == b"rest"
        await t
        await close_all(w, pw)

    run(loop, body)


def test_limit_overrun_drops_the_line_in_readline_keeps_it_in_readuntil(loop):
    async def body():
        r, w, pr, pw = await pair(limit=64)
        # a line of `limit` bytes and its b"\n" is accepted, as asyncio's readline does
        pw.write(b"a" * 64 + b"\n")
        assert await r.readline() == b"a" * 64 + b"\n"
        pw.write(b"x" * 100 + b"\nnext\n")
        with pytest.raises(LimitOverrun) as ei:
            await r.readline()
        assert isinstance(ei.value, ValueError) and isinstance(ei.value, asyncio.LimitOverrunError)
        assert "limit=64" in str(ei.value) and ei.value.consumed == 0
        # asyncio drops what is buffered of the overlong line: the loop goes on
        assert ei.value.partial == b"x" * 65
        assert await r.readline() == b"x" * 35 + b"\n"
        assert await r.readline() == b"next\n"
        # readuntil keeps the bytes, .consumed says how many to skip
        pw.write(b"y" * 70 + b"|")
        with pytest.raises(LimitOverrun) as ei:
            await r.readuntil(b"|")
        assert ei.value.consumed == 65 and ei.value.partial == b"y" * 65
        assert await r.readexactly(ei.value.consumed) == b"y" * 65
        assert await r.readuntil(b"|") == b"yyyyy|"
        # a separator that arrives, but past a smaller per-call limit
        pw.write(b"abcdefgh|")
        with pytest.raises(LimitOverrun):
            await r.read_until(b"|", limit=4)
        assert await r.read_until(b"|") == b"abcdefgh|"
        # no cap on frames nor on read() to EOF
        pw.write(b"z" * 1000)
        assert await r.read_exact(1000) == b"z" * 1000
        pw.write(b"w" * 5000)
        pw.write_eof()
        assert await r.read(-1) == b"w" * 5000
        assert r.at_eof()
        await close_all(w, pw)

    run(loop, body)


def test_eof_gives_incomplete_read_with_partial(loop):
    async def body():
        r, w, pr, pw = await pair()
        pw.write(b"12345")
        pw.write_eof()
        with pytest.raises(IncompleteRead) as ei:
            await r.read_exact(8)
        assert ei.value.partial == b"12345" and ei.value.expected == 8
        assert isinstance(ei.value, EOFError)
        assert await r.read() == b"" and await r.readline() == b""
        await close_all(w, pw)

        r, w, pr, pw = await pair()
        pw.write(b"no separator")
        pw.write_eof()
        with pytest.raises(IncompleteRead) as ei:
            await r.read_until(b"\r\n")
        assert ei.value.partial == b"no separator"
        assert r.at_eof()
        await close_all(w, pw)

        r, w, pr, pw = await pair()
        pw.write(b"last line")
        pw.write_eof()
        assert await r.readline() == b"last line"
        assert await r.readline() == b""
        await close_all(w, pw)

    run(loop, body)


def test_bad_arguments(loop):
    async def body():
        r, w, pr, pw = await pair()
        with pytest.raises(ValueError):
            await r.read_until(b"")
        with pytest.raises(TypeError):
            await r.read_until("x")
        with pytest.raises(ValueError):
            await r.read_exact(-1)
        with pytest.raises(TypeError):
            await r.read_exact(2.0)
        assert await r.read(0) == b""
        with pytest.raises(TypeError):
            aio.StreamReader(limit="1")
        with pytest.raises(ValueError):
            aio.StreamReader(limit=0)
        with pytest.raises(TypeError, match="str"):
            w.write("text")
        with pytest.raises(TypeError):
            w.writelines([b"ok", 3])
        await close_all(w, pw)

    run(loop, body)


def test_async_for_and_lines(loop):
    async def body():
        r, w, pr, pw = await pair(limit=256)
        lines = [b"line %d" % i * (i % 7) for i in range(300)]
        payload = b"\n".join(lines) + b"\nlast"

        async def feed():
            for i in range(0, len(payload), 97):
                pw.write(payload[i:i + 97])
                await pw.drain()
            pw.write_eof()

        t = asyncio.ensure_future(feed())
        got = []
        async for line in r:
            got.append(bytes(line))
        await t
        assert got == [x + b"\n" for x in lines] + [b"last"]
        await close_all(w, pw)

        r, w, pr, pw = await pair(limit=256)
        t = asyncio.ensure_future(feed())
        seen, ids = [], set()
        async for line in r.lines(reuse=True):
            seen.append(bytes(line))
            ids.add(id(line))
        await t
        assert seen == lines + [b"last"]
        assert len(ids) == 1, "reuse=True yields one View, retargeted"
        await close_all(w, pw)

        r, w, pr, pw = await pair(limit=256)
        t = asyncio.ensure_future(feed())
        seen = [bytes(x) async for x in r.lines(keepends=True, reuse=False)]
        await t
        assert seen == [x + b"\n" for x in lines] + [b"last"]
        await close_all(w, pw)

    run(loop, body)


def test_lines_limit_overrun(loop):
    async def body():
        r, w, pr, pw = await pair(limit=32)
        pw.write(b"short\n" + b"z" * 40 + b"\n")
        it = r.lines()
        assert await it.__anext__() == b"short"
        with pytest.raises(LimitOverrun):
            await it.__anext__()
        await close_all(w, pw)

    run(loop, body)


def test_borrowed_view_goes_stale_on_next_read(loop):
    async def body():
        r, w, pr, pw = await pair(limit=16)
        pw.write(b"0123456789abcdef")
        first = await r.read_exact(10)
        assert first == b"0123456789"
        # more data arrives while `first` is lent: it is not moved under it
        pw.write(b"ghijklmnop")
        await asyncio.sleep(0.05)
        assert first == b"0123456789"
        rest = await r.read_exact(6)    # the next read: the reader may now compact
        assert rest == b"abcdef"
        more = await r.read_exact(10)   # needs room: compaction, `first` goes stale
        assert more == b"ghijklmnop"
        with pytest.raises(StaleViewError):
            bytes(first)
        with pytest.raises(StaleViewError):
            first == b"0123456789"
        await close_all(w, pw)

    run(loop, body)


def test_exported_view_is_never_overwritten(loop):
    async def body():
        r, w, pr, pw = await pair(limit=16)
        pw.write(b"AAAAAAAAAAAAAAAA")
        v = await r.read_exact(16)
        m = memoryview(v)  # held export: the reader moves to fresh storage instead
        pw.write(b"BBBBBBBBBBBBBBBB")
        assert await r.read_exact(16) == b"B" * 16
        assert bytes(m) == b"A" * 16
        m.release()
        await close_all(w, pw)

    run(loop, body)


def test_cancellation_mid_read_loses_nothing(loop):
    async def body():
        r, w, pr, pw = await pair()
        pw.write(b"12345")
        await pw.drain()
        t = asyncio.ensure_future(r.read_exact(10))
        await asyncio.sleep(0.02)
        assert not t.done()
        t.cancel()
        with pytest.raises(asyncio.CancelledError):
            await t
        pw.write(b"67890")
        assert await r.read_exact(10) == b"1234567890"
        # cancelled while waiting for a separator
        t = asyncio.ensure_future(r.read_until(b"END"))
        pw.write(b"partial E")
        await asyncio.sleep(0.02)
        t.cancel()
        with pytest.raises(asyncio.CancelledError):
            await t
        pw.write(b"ND")
        assert await asyncio.wait_for(r.read_until(b"END"), 5) == b"partial END"
        await close_all(w, pw)

    run(loop, body)


def test_concurrent_reads_refused(loop):
    async def body():
        r, w, pr, pw = await pair()
        t = asyncio.ensure_future(r.readline())
        await asyncio.sleep(0.01)
        with pytest.raises(RuntimeError, match="already waiting"):
            await r.read(1)
        pw.write(b"ok\n")
        assert await t == b"ok\n"
        await close_all(w, pw)

    run(loop, body)


def test_backpressure_bounds_reader_memory(loop):
    """A fast sender, a slow reader: the reader holds at most `limit` bytes,
    the transport is paused, and nothing accumulates anywhere."""
    total = 4 * 1024 * 1024
    chunk = b"x" * 65536

    async def body():
        r, w, pr, pw = await pair(limit=8192)
        r._transport.set_write_buffer_limits  # the reader side is a real transport

        async def send():
            for _ in range(total // len(chunk)):
                pw.write(chunk)
                await pw.drain()
            pw.write_eof()

        gc.collect()
        tracemalloc.start()
        try:
            t = asyncio.ensure_future(send())
            got = 0
            paused_seen = False
            while True:
                await asyncio.sleep(0)
                if r._paused:
                    paused_seen = True
                assert r.buffered <= 8192 + 1  # limit + 1: a line of `limit` and its b"\n"
                v = await r.read(4096)
                if not v:
                    break
                got += len(v)
                if got % (256 * 1024) < 4096:
                    await asyncio.sleep(0.002)  # slow
            await t
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert got == total
        assert paused_seen
        assert peak < 1024 * 1024, f"peak {peak} bytes while moving {total}"
        await close_all(w, pw)

    run(loop, body, timeout=40)


def test_receiving_lines_allocates_nothing_per_line(loop):
    line = b"sensor-%04d,21.5,0.125\n"
    block = b"".join(line % i for i in range(400))

    async def body():
        r, w, pr, pw = await pair(limit=65536)

        async def count(n_blocks):
            pw.write(block * n_blocks)
            n = 0
            async for v in lines:
                n += 1
                if n == 400 * n_blocks:
                    return n

        lines = r.lines(reuse=True)
        await count(3)  # warm-up
        gc.collect()
        before = leakcheck.blocks_or_none()
        n = await count(40)
        gc.collect()
        assert n == 16000
        if before is not None:
            grown = leakcheck.blocks_or_none() - before
            assert grown < 100, f"{grown} blocks for {n} lines"
        await lines.aclose()
        await close_all(w, pw)

    run(loop, body)
    leakcheck.skip_uncounted()


def test_receiving_makes_no_bytes_object_per_chunk(loop):
    """Differential, under tracemalloc: 4 MB through asyncio's StreamReader
    costs a bytes object per received chunk (peak >= one chunk); through
    nocopy.aio the transport writes into the reader's preallocated buffer and
    the peak stays a few small objects."""
    payload = (b"x" * 39 + b"\n") * 100_000

    async def body():
        peaks = {}
        for kind in ("nocopy", "asyncio"):
            a, b = socket.socketpair()
            if kind == "nocopy":
                r, w = await aio.open_connection(sock=a)
            else:
                r, w = await asyncio.open_connection(sock=a)

            def send():
                b.sendall(payload)
                b.shutdown(socket.SHUT_WR)

            t = threading.Thread(target=send)
            gc.collect()
            tracemalloc.start()
            try:
                t.start()
                got = 0
                while True:
                    chunk = await r.read(65536)
                    if not chunk:
                        break
                    got += len(chunk)
                    del chunk
                peaks[kind] = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
            t.join()
            assert got == len(payload)
            w.close()
            b.close()
        assert peaks["nocopy"] < 16 * 1024, peaks
        assert peaks["asyncio"] > 10 * peaks["nocopy"], peaks

    run(loop, body)


def test_connection_reset_raises_on_wait(loop):
    async def body():
        r, w, pr, pw = await pair()
        pw.write(b"before")
        await pw.drain()
        await asyncio.sleep(0.02)
        sock = pw.get_extra_info("socket")
        pw.transport.abort()
        del sock
        assert await r.read_exact(6) == b"before"
        v = await r.read(10)
        assert v == b""  # closed (EOF or reset): nothing more
        w.close()
        await w.wait_closed()

    run(loop, body)


# -- writing -------------------------------------------------------------------------------


class FakeRope:
    def __init__(self, *parts):
        self.parts = parts

    def segments(self):
        return self.parts


def test_writer_accepts_views_buffers_and_ropes(loop):
    async def body():
        r, w, pr, pw = await pair()
        bb = ByteBuffer(64)
        bb.write(b"[view]")
        w.write(bb.read())
        w.write(bytearray(b"[ba]"))
        w.write(memoryview(b"xx[mv]xx")[2:6])
        w.write(View(b"..[v2]..", 2, 6))
        w.write(FakeRope(b"[r1", View(b"-r2]")))
        w.writelines([b"[a]", View(b"[b]"), bytearray(b"[c]"), FakeRope(b"[d", b"]")])
        w.writelines([])
        n = w.write_json({"k": [1, 2.5, "é", None, True]})
        await w.drain()
        w.write_eof()
        got = await pr.read()
        doc = json.dumps({"k": [1, 2.5, "é", None, True]}, separators=(",", ":"),
                         ensure_ascii=False).encode()
        assert got == b"[view][ba][mv][v2][r1-r2][a][b][c][d]" + doc
        assert n == len(doc)
        await close_all(w, pw)

    run(loop, body)


def test_writer_sends_rope_segments_without_flattening(loop):
    from nocopy import Rope

    async def body():
        r, w, pr, pw = await pair()
        parts = [b"alpha-", bytearray(b"beta-"), View(b"..gamma-..", 2, 8), b"delta"]
        rope = Rope(parts)
        sent = []

        class Spy:  # uvloop's transport attributes are read-only: wrap it instead
            def __init__(self, t):
                self.t = t

            def writelines(self, bufs):
                sent.append(len(bufs))
                self.t.writelines(bufs)

            def write(self, data):
                sent.append("write")
                self.t.write(data)

        real, w._transport = w._transport, Spy(w._transport)
        try:
            w.write(rope)
            w.writelines([b"[", rope, b"]"])
        finally:
            w._transport = real
        assert sent == [4, 6], "one scatter-gather write per call, a buffer per segment"
        await w.drain()
        w.write_eof()
        want = b"alpha-beta-gamma-delta"
        assert await pr.read() == want + b"[" + want + b"]"
        await close_all(w, pw)

    run(loop, body)


def test_write_json_options_and_growth(loop):
    async def body():
        r, w, pr, pw = await pair()
        big = {"items": [{"id": i, "name": "n%d" % i, "v": i / 3} for i in range(500)]}
        sizes = [w.write_json(big), w.write_json({"b": 1, "a": 2}, sort_keys=True, indent=2),
                 w.write_json([1, 2])]
        with pytest.raises(TypeError, match="not JSON serializable"):
            w.write_json({1, 2})
        w.write_json(object(), default=lambda o: "custom")
        await w.drain()
        w.write_eof()
        got = await pr.read()
        want = (json.dumps(big, separators=(",", ":")).encode()
                + json.dumps({"b": 1, "a": 2}, sort_keys=True, indent=2).encode()
                + b"[1,2]" + b'"custom"')
        assert got == want
        assert sizes[0] > 4096
        await close_all(w, pw)

    run(loop, body)


def test_drain_waits_for_water_marks(loop):
    async def body():
        r, w, pr, pw = await pair()
        w.set_write_buffer_limits(high=16384, low=4096)
        block = b"y" * 65536
        for _ in range(64):  # 4 MiB: more than the socket buffers take
            w.write(block)
        assert w.get_write_buffer_size() > 16384
        d = asyncio.ensure_future(w.drain())
        await asyncio.sleep(0.05)
        assert not d.done(), "the peer reads nothing: drain waits"
        got = 0
        while not d.done():
            got += len(await pr.read(65536))
        await d
        assert w.get_write_buffer_size() <= 4096
        while got < 64 * 65536:
            got += len(await pr.read(65536))
        await close_all(w, pw)

    run(loop, body)


def test_drain_after_connection_lost_raises(loop):
    async def body():
        r, w, pr, pw = await pair()
        pw.transport.abort()
        await asyncio.sleep(0.02)
        for _ in range(3):
            try:
                w.write(b"z" * 65536)
            except RuntimeError:
                pass  # uvloop refuses writes on a closed handle; asyncio drops them
            await asyncio.sleep(0.01)
        with pytest.raises(ConnectionError):
            await w.drain()
        w.close()
        try:
            await w.wait_closed()
        except ConnectionError:
            pass

    run(loop, body)


def test_server_client_and_extra_info(loop):
    async def body():
        async def echo(reader, writer):
            async for line in reader:
                writer.write(line)
                await writer.drain()
            writer.close()

        server = await aio.start_server(echo, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        r, w = await aio.open_connection("127.0.0.1", port)
        assert w.get_extra_info("peername")[1] == port
        assert w.get_extra_info("nonexistent", 42) == 42
        assert w.can_write_eof()
        w.write(b"ping\n")
        assert await r.readline() == b"ping\n"
        w.write_eof()
        assert await r.read() == b""
        assert not w.is_closing()
        w.close()
        assert w.is_closing()
        await w.wait_closed()
        server.close()
        await server.wait_closed()

    run(loop, body)


def test_unix_sockets(loop):
    async def body():
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "s")

            async def handler(reader, writer):
                n = int(bytes(await reader.readline()))
                frame = await reader.read_exact(n)
                writer.write(frame)
                writer.close()

            server = await aio.start_unix_server(handler, path)
            r, w = await aio.open_unix_connection(path)
            w.write(b"5\nhello")
            assert await r.read() == b"hello"
            w.close()
            await w.wait_closed()
            server.close()
            await server.wait_closed()

    run(loop, body)


def test_callback_exception_is_reported_and_connection_closed(loop):
    async def body():
        seen = []
        asyncio.get_running_loop().set_exception_handler(lambda lp, ctx: seen.append(ctx))

        async def bad(reader, writer):
            await reader.readline()
            raise KeyError("boom")

        server = await aio.start_server(bad, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        r, w = await aio.open_connection("127.0.0.1", port)
        w.write(b"x\n")
        assert await r.read() == b""  # the server closed the connection
        assert any(isinstance(c.get("exception"), KeyError) for c in seen)
        w.close()
        await w.wait_closed()
        server.close()
        await server.wait_closed()

    run(loop, body)


# -- the C async line iterator behind lines() ------------------------------------------------


def test_lines_awaitables_every_way(loop):
    from nocopy._core import _AsyncLines, _Ready

    async def body():
        r, w, pr, pw = await pair(limit=256)
        pw.write(b"a\nb\nc\nd\ne\n")
        await pw.drain()
        await asyncio.sleep(0.02)
        it = r.lines(reuse=False)
        assert it.__aiter__() is it
        assert await anext(it) == b"a"
        # two awaitables taken before either is awaited keep their own values
        x, y = it.__anext__(), it.__anext__()
        assert x is not y
        assert await y == b"c" and await x == b"b"
        # asyncio's wrappers drive it through the iterator protocol
        assert await asyncio.ensure_future(it.__anext__()) == b"d"
        aw = it.__anext__()
        with pytest.raises(KeyError):
            aw.throw(KeyError("k"))
        with pytest.raises(TypeError):
            aw.send(1)
        aw.close()
        await it.aclose()
        with pytest.raises(StopAsyncIteration):
            await it.__anext__()
        with pytest.raises(TypeError):
            _Ready(1)
        with pytest.raises(TypeError):
            _AsyncLines(1, print, _Ready())
        with pytest.raises(TypeError):
            _AsyncLines(iter(()), 3, _Ready())
        with pytest.raises(TypeError):
            _AsyncLines(iter(()), print, object())
        with pytest.raises(TypeError):
            _AsyncLines(iter(()), print, _Ready(), x=1)
        await close_all(w, pw)

    run(loop, body)


def test_lines_iterator_leaks_nothing(loop):
    async def body():
        r, w, pr, pw = await pair(limit=4096)
        block = b"0123456789\n" * 300

        async def batch():
            pw.write(block)
            n = 0
            async for _ in it:
                n += 1
                if n == 300:
                    return

        it = r.lines(reuse=False)
        for _ in range(5):
            await batch()
        gc.collect()
        before = leakcheck.blocks_or_none()
        for _ in range(100):
            await batch()
        gc.collect()
        if before is not None:
            assert leakcheck.blocks_or_none() - before < 100
        await close_all(w, pw)

    run(loop, body)
    leakcheck.skip_uncounted()


@pytest.fixture(scope="module")
def tls_cert():
    # a self-signed certificate for localhost, valid for a century, committed
    # so the TLS tests need no openssl binary on the machine (as CPython's
    # own test suite ships keycert.pem)
    d = os.path.join(os.path.dirname(__file__), "tls")
    return os.path.join(d, "localhost-cert.pem"), os.path.join(d, "localhost-key.pem")


def test_tls_streams(loop, tls_cert):
    import ssl

    async def body():
        sctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        sctx.load_cert_chain(*tls_cert)
        cctx = ssl.create_default_context()
        cctx.load_verify_locations(tls_cert[0])

        async def echo(reader, writer):
            async for line in reader:
                writer.write(line)
            writer.close()

        server = await aio.start_server(echo, "127.0.0.1", 0, ssl=sctx)
        port = server.sockets[0].getsockname()[1]
        r, w = await aio.open_connection("127.0.0.1", port, ssl=cctx, server_hostname="localhost")
        assert w.get_extra_info("sslcontext") is cctx
        for i in range(20):
            w.write(b"line %d " % i + b"x" * (i * 500) + b"\n")
            got = await r.readline()
            assert got == b"line %d " % i + b"x" * (i * 500) + b"\n"
        assert not w.can_write_eof()  # TLS: no half-close
        w.close()
        await w.wait_closed()
        server.close()
        await server.wait_closed()

    run(loop, body)


@given(st.lists(st.recursive(st.none() | st.booleans() | st.integers(-2**40, 2**40) | st.text(max_size=20),
                             lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=5), c, max_size=4),
                             max_leaves=12), min_size=1, max_size=6),
       st.sampled_from([None, "u8", "u16", "u32", "u64"]), st.sampled_from(["big", "little"]))
@heavy(30)
def test_write_json_prefix_matches_struct_and_json(loop, docs, prefix, byteorder):
    """aio's write_json(prefix=, byteorder=) puts the same bytes on the wire as
    json.dumps + int.to_bytes, frames past the 4 KiB start buffer included."""
    width = {None: 0, "u8": 1, "u16": 2, "u32": 4, "u64": 8}[prefix]
    docs = docs + [["x" * 5000]]  # one frame past the starting buffer
    if prefix == "u8":
        docs = [d for d in docs if len(json.dumps(d, separators=(",", ":"), ensure_ascii=False).encode()) < 256]

    def frame(d):
        body = json.dumps(d, separators=(",", ":"), ensure_ascii=False).encode()
        return (len(body).to_bytes(width, byteorder) if width else b"") + body

    async def body():
        r, w, pr, pw = await pair()
        sizes = [w.write_json(d, prefix=prefix, byteorder=byteorder) for d in docs]
        await w.drain()
        w.write_eof()
        got = await pr.read()
        assert got == b"".join(frame(d) for d in docs)
        assert sizes == [len(frame(d)) for d in docs]
        with pytest.raises(ValueError):
            w.write_json([1], prefix="u24")
        await close_all(w, pw)

    run(loop, body)
