"""nocopy.serve (issue 17; spec: the module's docs): framing in C, a plain
handler per message, backpressure, timeouts, graceful shutdown.

Every behaviour runs on both engines ("socket", "transport") and both loops
-- the socket engine twice: with its epoll poller where the platform has one
("socket"), and with one add_reader per socket, as elsewhere ("socket-fd") --
(asyncio's default loop, uvloop): the `env` fixture makes a fresh loop per
test.  The clients are asyncio streams or raw non-blocking sockets on the
same loop; the oracles are struct, a plain-Python LEB128 encoder and
bytes.split.  Replies that the client must decode are u32-prefixed echoes."""
import asyncio
import contextlib
import gc
import logging
import os
import resource
import socket
import ssl
import struct
import subprocess
import sys
import threading
import traceback
import warnings
import weakref

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import leakcheck
from aio_loops import LOOPS, uvloop
from serve_helpers import (ALLOC_CLIENT, make_cert, nothing_for, prefix_bytes, raw_connect,
                           raw_recv_exact, read_to_eof, recv_exact, stable, u32_frames, until,
                           uvarint)

from nocopy import BufferTooSmall, ByteBuffer, StaleViewError, View, _core
from nocopy import serve as serve_module
from nocopy.serve import (CLOSE, Connection, Delimited, Fixed, LengthPrefixed, Server,
                          start_server)

ENGINES = ("socket", "socket-fd", "transport") if hasattr(_core, "_Poller") else ("socket", "transport")
COMBOS = [(engine, loop) for loop in LOOPS for engine in ENGINES]
COMBO_IDS = [f"{engine}-{loop}" for engine, loop in COMBOS]


def loop_factory(loop_name):
    return uvloop.new_event_loop if loop_name == "uvloop" else asyncio.new_event_loop


class Env:
    """One engine on one fresh loop: run(fn) runs a test body on it,
    start(...) starts a server with that engine on 127.0.0.1."""

    def __init__(self, engine, loop_name):
        # "socket-fd": the socket engine without its poller
        self.poller = engine != "socket-fd"
        self.engine = "socket" if engine == "socket-fd" else engine
        self.loop_name = loop_name
        self.runner = asyncio.Runner(loop_factory=loop_factory(loop_name))

    def run(self, fn, *args, timeout=20):
        saved = serve_module._use_poller
        serve_module._use_poller = saved and self.poller
        try:
            return self._run(fn, *args, timeout=timeout)
        finally:
            serve_module._use_poller = saved

    def _run(self, fn, *args, timeout=20):
        async def guarded():
            CLIENTS.clear()
            try:
                async with asyncio.timeout(timeout):
                    return await fn(*args)
            except BaseException:
                # a failed body leaves its clients open: close them here, so
                # the failure is not followed by unclosed-transport warnings
                for c in CLIENTS:
                    if isinstance(c, socket.socket):
                        c.close()
                    else:
                        c.transport.abort()
                raise
            finally:
                CLIENTS.clear()
        try:
            return self.runner.run(guarded())
        except BaseException as e:
            # a failed body's frames may still hold transports (uvloop's
            # loop.close() then waits for them): drop the locals first
            traceback.clear_frames(e.__traceback__)
            raise

    def close(self):
        self.runner.close()

    async def start(self, handler, framing=None, **kw):
        kw.setdefault("engine", self.engine)
        server = await start_server(handler, "127.0.0.1", 0,
                                    framing=framing if framing is not None else Delimited(b"\r\n"),
                                    **kw)
        return server, server.sockets[0].getsockname()[1]

    @contextlib.asynccontextmanager
    async def serving(self, handler, framing=None, **kw):
        server, port = await self.start(handler, framing, **kw)
        try:
            yield server, port
        finally:
            await server.shutdown(timeout=1.0)


@pytest.fixture(params=COMBOS, ids=COMBO_IDS)
def env(request):
    e = Env(*request.param)
    yield e
    e.close()


CLIENTS = []  # the clients of the running test body (closed by Env.run when it fails)


async def connect(port, *, track=True, **kw):
    r, w = await asyncio.open_connection("127.0.0.1", port, **kw)
    if track:
        CLIENTS.append(w)
    return r, w


async def raw_client(port, rcvbuf=None):
    s = await raw_connect(port, rcvbuf)
    CLIENTS.append(s)
    return s


async def close_writer(w):
    w.close()
    try:
        await w.wait_closed()
    except (ConnectionError, BrokenPipeError):
        pass


def echo(msg, out):
    """b"+" msg b"\\r\\n" for each message."""
    out.write(b"+")
    out.write(msg)
    out.write(b"\r\n")


def echo_u32(msg, out):
    """The message back, prefixed with its length (u32, big-endian)."""
    out.write(struct.pack(">I", len(msg)))
    out.write(msg)


def lines(*msgs):
    return b"".join(b"+" + m + b"\r\n" for m in msgs)


@contextlib.contextmanager
def extra_socket(conn):
    """conn.get_extra_info("socket"), closed afterwards when it is a socket
    of its own: the socket engine returns a dup() of the connection's fd
    (test_extra_info_socket_needs_no_closing checks what that costs a
    caller who, as with asyncio, never closes it)."""
    sock = conn.get_extra_info("socket")
    assert sock is not None, "get_extra_info('socket') is None"
    try:
        yield sock
    finally:
        if type(sock) is socket.socket:
            sock.close()


def shrink_sndbuf(conn, size=4096):
    """The server side's SO_SNDBUF made small, so a client that does not read
    shows backpressure after a few replies instead of megabytes."""
    with extra_socket(conn) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)


def serve_errors(caplog):
    return [r for r in caplog.records if r.name == "nocopy.serve" and r.levelno >= logging.ERROR]


# -- Delimited -----------------------------------------------------------------------------


def test_delimited_pipelined_messages_answered_in_order(env):
    async def body():
        seen = []
        main_thread = threading.get_ident()

        def handler(msg, out):
            seen.append((type(msg), type(out), threading.get_ident(), bytes(msg)))
            echo(msg, out)

        async with env.serving(handler) as (server, port):
            r, w = await connect(port)
            # several messages in one send, an empty one among them
            w.write(b"a\r\nbb\r\n\r\nccc\r\nd\r")
            assert await recv_exact(r, len(lines(b"a", b"bb", b"", b"ccc"))) == \
                lines(b"a", b"bb", b"", b"ccc")
            assert await nothing_for(r, 0.05) == b""  # b"d\r" is not a message yet
            w.write(b"\n")
            assert await recv_exact(r, 4) == b"+d\r\n"
            await close_writer(w)
        assert [s[3] for s in seen] == [b"a", b"bb", b"", b"ccc", b"d"]
        for tmsg, tout, thread, _ in seen:
            assert issubclass(tmsg, View) and issubclass(tout, ByteBuffer)
            assert thread == main_thread

    env.run(body)


def test_delimiter_split_across_sends(env):
    async def body():
        calls = []

        def handler(msg, out):
            calls.append(bytes(msg))
            echo(msg, out)

        async with env.serving(handler, Delimited(b"\r\n\r\n")) as (server, port):
            r, w = await connect(port)
            for part in (b"abc\r\n", b"\r", b"\nnext\r\n\r", b"\n"):
                w.write(part)
                await w.drain()
                await asyncio.sleep(0.01)
                if part == b"abc\r\n":
                    assert calls == [] and await nothing_for(r, 0.03) == b""
            assert await recv_exact(r, len(lines(b"abc", b"next"))) == lines(b"abc", b"next")
            # a delimiter arriving one byte at a time; b"\r\n" inside a message
            for b in b"x\r\ny\r\n\r\n":
                w.write(bytes([b]))
                await w.drain()
                await asyncio.sleep(0.002)
            assert await recv_exact(r, len(lines(b"x\r\ny"))) == lines(b"x\r\ny")
            await close_writer(w)
        assert calls == [b"abc", b"next", b"x\r\ny"]

    env.run(body)


def test_delimited_keep_includes_the_delimiter(env):
    async def body():
        async with env.serving(echo_u32, Delimited(b"||", keep=True)) as (server, port):
            r, w = await connect(port)
            w.write(b"one||||two|three||")
            got = u32_frames(await recv_exact(r, 4 * 3 + len(b"one||||two|three||")))
            assert got == [b"one||", b"||", b"two|three||"]
            await close_writer(w)

    env.run(body)


@pytest.mark.parametrize("keep", [False, True])
def test_delimited_limit_exactly_accepted_one_more_refused(env, keep):
    async def body():
        calls = []

        def handler(msg, out):
            calls.append(bytes(msg))
            out.write(b"ok\n")

        async with env.serving(handler, Delimited(b"\r\n", limit=16, keep=keep),
                               limit_reply=b"-TOO LONG\r\n") as (server, port):
            r, w = await connect(port)
            w.write(b"x" * 16 + b"\r\n")
            assert await recv_exact(r, 3) == b"ok\n"
            # limit + 1 before the delimiter, pipelined after a good one
            w.write(b"good\r\n" + b"y" * 17 + b"\r\nafter\r\n")
            data, how = await read_to_eof(r)
            assert data == b"ok\n-TOO LONG\r\n", (data, how)
            await close_writer(w)
            await until(lambda: server.connections == 0, what="connections == 0")
        d = b"\r\n" if keep else b""
        assert calls == [b"x" * 16 + d, b"good" + d]

    env.run(body)


def test_delimited_refused_before_the_delimiter_arrives(env):
    """More than limit + len(delim) - 1 bytes with no delimiter can never be
    a message: refused without waiting for one (nothing buffered past it)."""
    async def body():
        calls = []

        def handler(msg, out):
            calls.append(bytes(msg))

        for delim, reply in ((b"\r\n", b"-LIMIT\r\n"), (b"\r\n\r\n", None)):
            kw = {} if reply is None else {"limit_reply": reply}
            async with env.serving(handler, Delimited(delim, limit=16), **kw) as (server, port):
                r, w = await connect(port)
                w.write(b"z" * (16 + len(delim)))  # and the connection stays open
                data, how = await read_to_eof(r, timeout=3.0)
                assert data == (reply or b""), (delim, data, how)
                await close_writer(w)
        assert calls == []

    env.run(body)


def test_default_in_size_holds_a_message_at_the_limit(env):
    """in_size defaults to "enough for one message at the framing's limit"
    (above the 64 KiB floor here)."""
    async def body():
        big = bytes(range(256)) * 400  # 102400 bytes
        out_size = 8 * len(big)  # replies echo the message: out_size // 2 must hold one
        async with env.serving(echo_u32, Delimited(b"\r\n", limit=len(big)),
                               out_size=out_size) as (server, port):
            r, w = await connect(port)
            w.write(big + b"\r\n")
            assert u32_frames(await recv_exact(r, 4 + len(big))) == [big]
            await close_writer(w)
        async with env.serving(echo_u32, LengthPrefixed("u32"), out_size=out_size) as (server, port):
            payload = big * 3  # 300 KiB, under the default limit of 1 MiB
            r, w = await connect(port)
            w.write(struct.pack(">I", len(payload)) + payload)
            assert u32_frames(await recv_exact(r, 4 + len(payload))) == [payload]
            await close_writer(w)

    env.run(body)


# -- LengthPrefixed ------------------------------------------------------------------------

FIXED_PREFIXES = [("u8", "big"), ("u16", "big"), ("u16", "little"), ("u32", "big"), ("u32", "little")]


def test_length_prefixed_fixed_widths_both_byte_orders(env):
    async def body():
        for kind, order in FIXED_PREFIXES:
            sizes = [0, 1, 5, 0, 255] + ([256, 1000, 65535] if kind != "u8" else []) + \
                    ([70000] if kind == "u32" else [])
            payloads = [bytes([i % 251]) * n for i, n in enumerate(sizes)]
            for keep in (False, True):
                framing = LengthPrefixed(kind, byteorder=order, keep=keep)
                # the echoed replies go up to 70004 bytes: out_size // 2 must hold them
                async with env.serving(echo_u32, framing, out_size=1 << 18) as (server, port):
                    r, w = await connect(port)
                    w.write(b"".join(prefix_bytes(kind, order, len(p)) + p for p in payloads))
                    want = [(prefix_bytes(kind, order, len(p)) if keep else b"") + p for p in payloads]
                    got = u32_frames(await recv_exact(r, sum(4 + len(x) for x in want)))
                    assert got == want, (kind, order, keep)
                    await close_writer(w)

    env.run(body)


def test_uvarint_lengths_single_and_multi_byte(env):
    async def body():
        sizes = [0, 1, 127, 128, 300, 16383, 16384, 70000]
        payloads = [bytes([i + 1]) * n for i, n in enumerate(sizes)]
        async with env.serving(echo_u32, LengthPrefixed("uvarint"), out_size=1 << 18) as (server, port):
            r, w = await connect(port)
            w.write(b"".join(uvarint(len(p)) + p for p in payloads))
            assert u32_frames(await recv_exact(r, sum(4 + len(p) for p in payloads))) == payloads
            # a non-minimal encoding (9 bytes) is a length too
            w.write(b"\x83" + b"\x80" * 7 + b"\x00" + b"abc")
            assert u32_frames(await recv_exact(r, 7)) == [b"abc"]
            await close_writer(w)
        async with env.serving(echo_u32, LengthPrefixed("uvarint", byteorder="little", keep=True)) \
                as (server, port):
            r, w = await connect(port)
            p = b"q" * 300
            w.write(uvarint(300) + p)
            assert u32_frames(await recv_exact(r, 4 + 2 + 300)) == [b"\xac\x02" + p]
            await close_writer(w)

    env.run(body)


def test_uvarint_of_ten_bytes_within_63_bits_is_a_length(env):
    """The spec: "LEB128, at most 10 bytes; an overlong or >63-bit varint is
    a framing error": ten bytes whose value fits 63 bits (the tenth byte 0)
    is a length."""
    async def body():
        async with env.serving(echo_u32, LengthPrefixed("uvarint")) as (server, port):
            r, w = await connect(port)
            w.write(b"\x83" + b"\x80" * 8 + b"\x00" + b"abc")
            assert u32_frames(await recv_exact(r, 7)) == [b"abc"]
            await close_writer(w)

    env.run(body)


def test_prefix_split_byte_by_byte(env):
    async def body():
        calls = []

        def handler(msg, out):
            calls.append(bytes(msg))
            echo_u32(msg, out)

        for kind, order, n in (("u32", "little", 5), ("u16", "big", 258), ("uvarint", "big", 20000)):
            calls.clear()
            async with env.serving(handler, LengthPrefixed(kind, byteorder=order)) as (server, port):
                r, w = await connect(port)
                pre, payload = prefix_bytes(kind, order, n), bytes(range(256)) * (n // 256) + b"p" * (n % 256)
                for b in pre:
                    w.write(bytes([b]))
                    await w.drain()
                    await asyncio.sleep(0.005)
                assert calls == []
                w.write(payload[:n // 2])
                await w.drain()
                await asyncio.sleep(0.01)
                assert calls == [], "a message handled before its payload is complete"
                w.write(payload[n // 2:])
                assert u32_frames(await recv_exact(r, 4 + n)) == [payload]
                await close_writer(w)
            assert calls == [payload]

    env.run(body)


def test_length_above_limit_refused_before_the_payload(env):
    async def body():
        calls = []

        def handler(msg, out):
            calls.append(bytes(msg))
            out.write(b"ok")

        for kind in ("u8", "u16", "u32", "uvarint"):
            async with env.serving(handler, LengthPrefixed(kind, limit=100),
                                   limit_reply=b"-LIMIT") as (server, port):
                r, w = await connect(port)
                w.write(prefix_bytes(kind, "big", 100) + b"a" * 100)  # exactly the limit
                assert await recv_exact(r, 2) == b"ok"
                w.write(prefix_bytes(kind, "big", 101))  # and no payload: refused now
                data, how = await read_to_eof(r, timeout=3.0)
                assert data == b"-LIMIT", (kind, data, how)
                await close_writer(w)
        async with env.serving(handler, LengthPrefixed("u32")) as (server, port):
            r, w = await connect(port)
            w.write(b"\xff\xff\xff\xff")  # 4 GiB, default limit 1 MiB, no limit_reply
            assert await read_to_eof(r, timeout=3.0) == (b"", "eof")
            await close_writer(w)
        assert calls == [b"a" * 100] * 4

    env.run(body)


@pytest.mark.parametrize("bad", [
    b"\x80" * 11,                 # still continuing after 10 bytes (value 0 so far)
    b"\x80" * 10 + b"\x00",       # 11 bytes
    b"\x80" * 9 + b"\x01",        # 2**63: above 63 bits
    b"\xff" * 9 + b"\x01",        # 2**64 - 1
], ids=["continuing", "eleven-bytes", "2**63", "2**64-1"])
def test_bad_uvarint_is_a_framing_error(env, bad):
    async def body():
        calls = []

        def handler(msg, out):
            calls.append(bytes(msg))
            out.write(b"ok")

        async with env.serving(handler, LengthPrefixed("uvarint"),
                               limit_reply=b"-BAD") as (server, port):
            r, w = await connect(port)
            w.write(b"\x01z" + bad)
            data, how = await read_to_eof(r, timeout=3.0)
            assert data == b"ok-BAD", (data, how)
            await close_writer(w)
        assert calls == [b"z"]

    env.run(body)


# -- Fixed ---------------------------------------------------------------------------------


def test_fixed_size_messages(env):
    async def body():
        async with env.serving(echo_u32, Fixed(4)) as (server, port):
            r, w = await connect(port)
            w.write(b"abcdef")
            assert u32_frames(await recv_exact(r, 8)) == [b"abcd"]
            w.write(b"gh\r\n\x00\x01ij")
            assert u32_frames(await recv_exact(r, 16)) == [b"efgh", b"\r\n\x00\x01"]
            w.write_eof()  # b"ij" is a partial message: dropped at EOF
            assert await read_to_eof(r) == (b"", "eof")
            await close_writer(w)
        async with env.serving(echo_u32, Fixed(1)) as (server, port):
            r, w = await connect(port)
            w.write(b"xyz")
            assert u32_frames(await recv_exact(r, 15)) == [b"x", b"y", b"z"]
            await close_writer(w)

    env.run(body)


# -- constructors --------------------------------------------------------------------------


def test_framing_constructor_validation():
    with pytest.raises(ValueError):
        Delimited(b"")
    with pytest.raises(ValueError):
        Delimited(bytearray())
    with pytest.raises(TypeError):
        Delimited("\n")
    with pytest.raises(TypeError):
        Delimited(5)
    for bad in (0, -1):
        with pytest.raises(ValueError):
            Delimited(b"\n", limit=bad)
        with pytest.raises(ValueError):
            LengthPrefixed("u32", limit=bad)
        with pytest.raises(ValueError):
            Fixed(bad)
    with pytest.raises(TypeError):
        Fixed(2.0)
    with pytest.raises(TypeError):
        Fixed(size=2)  # positional-only
    for bad in ("u64", "U32", "varint", ""):
        with pytest.raises(ValueError):
            LengthPrefixed(bad)
    for bad in ("BIG", "network", "", "native"):
        with pytest.raises(ValueError):
            LengthPrefixed("u16", byteorder=bad)
    with pytest.raises((TypeError, ValueError)):
        LengthPrefixed(32)
    # the good ones
    Delimited(bytearray(b"\r\n"), limit=1, keep=True)
    Delimited(memoryview(b"ab"))
    LengthPrefixed()
    LengthPrefixed("u8", byteorder="little", limit=1)
    LengthPrefixed("uvarint", keep=True)
    Fixed(1)


@pytest.mark.parametrize("loop_name", LOOPS)
def test_ssl_with_socket_engine_raises(loop_name):
    async def body():
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        with pytest.raises(ValueError):
            await start_server(echo, "127.0.0.1", 0, framing=Delimited(b"\n"),
                               engine="socket", ssl=ctx)

    e = Env("socket", loop_name)
    try:
        e.run(body)
    finally:
        e.close()


def test_serving_on_a_given_socket(env):
    async def body():
        lsock = socket.socket()
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(16)
        port = lsock.getsockname()[1]
        server = await start_server(echo, framing=Delimited(b"\r\n"), sock=lsock, engine=env.engine)
        try:
            assert [x.getsockname()[1] for x in server.sockets] == [port]
            r, w = await connect(port)
            w.write(b"given\r\n")
            assert await recv_exact(r, 8) == b"+given\r\n"
            await close_writer(w)
        finally:
            await server.shutdown(timeout=1.0)
        with pytest.raises(OSError):
            await connect(port)

    env.run(body)


def test_socket_engine_waits_through_its_poller_until_the_last_connection(env):
    """On Linux the socket engine's connections wait in the server's epoll
    poller (one loop reader); it goes once the server is closed and the last
    connection has ended.  Without it ("socket-fd") each socket is the
    loop's own reader."""
    async def body():
        server, port = await env.start(echo)
        try:
            poller = server._poller
            if env.engine != "socket" or not env.poller:
                assert poller is None
            else:
                assert poller.registered == 0
            r, w = await connect(port)
            w.write(b"a\r\n")
            assert await recv_exact(r, 4) == b"+a\r\n"
            if poller is not None:
                assert poller.registered == 1 == server.connections
            server.close()  # listening stops; the connection goes on
            w.write(b"b\r\n")
            assert await recv_exact(r, 4) == b"+b\r\n"
            if poller is not None:
                assert server._poller is poller
                epfd = poller.fileno()
            await close_writer(w)
            await asyncio.wait_for(server.wait_closed(), 5)
            assert server._poller is None
            if poller is not None:
                assert poller.registered == 0
                with pytest.raises(ValueError):
                    poller.fileno()
                with pytest.raises(OSError):
                    os.fstat(epfd)
        finally:
            await server.shutdown(timeout=1.0)

    env.run(body)


def test_on_connect_reply_the_socket_cannot_take_at_once_then_close(env):
    """on_connect writes more than the socket takes at once and closes: the
    connection waits for writability from the start (registered before
    on_connect runs), sends it all, closes, and nothing of it stays behind
    in the loop or the poller (found by review: the loop kept a writer
    for the closed fd, and the connection through its Handle)."""
    banner = bytes(range(256)) * 4096  # 1 MiB

    async def body():
        refs = []

        def on_connect(conn):
            try:
                conn.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
            except (OSError, AttributeError):
                pass  # a transport's socket may refuse; the banner is large anyway
            conn.out.write(banner)
            conn.close()
            refs.append(weakref.ref(conn))

        async with env.serving(echo, out_size=4 << 20, on_connect=on_connect) as (server, port):
            r, w = await connect(port, limit=1 << 22)
            await asyncio.sleep(0.05)  # not reading yet: the banner waits in `out`
            assert await read_to_eof(r, what="banner") == (banner, "eof")
            await until(lambda: server.connections == 0, what="connection gone")
            if server._poller is not None:
                assert server._poller.registered == 0
            w.close()
        gc.collect()
        assert refs and refs[0]() is None

    env.run(body)


def test_engine_attribute_and_auto(env):
    async def body():
        async with env.serving(echo) as (server, port):
            assert server.engine == env.engine
            assert isinstance(server, Server)
            assert isinstance(server.sockets, tuple) and len(server.sockets) >= 1
        async with env.serving(echo, engine="auto") as (server, port):
            assert server.engine == "socket"  # both loops have add_reader, no ssl
            r, w = await connect(port)
            w.write(b"auto\r\n")
            assert await recv_exact(r, 7) == b"+auto\r\n"
            await close_writer(w)

    env.run(body)


# -- differential: random messages, random chunking ----------------------------------------

DELIMS = [b"\n", b"\r\n", b"||", b"aba", b"\x00\xff\x00"]
PIECES = [b"a", b"b", b"\n", b"\r", b"|", b"\x00", b"\xff", b"xyz", b"aba"]
FRAMINGS = st.one_of(
    st.tuples(st.just("delim"), st.sampled_from(DELIMS), st.booleans()),
    st.tuples(st.just("prefix"), st.sampled_from(["u8", "u16", "u32", "uvarint"]),
              st.sampled_from(["big", "little"]), st.booleans()),
    st.tuples(st.just("fixed"), st.sampled_from([1, 3, 8])),
)


def draw_case(data):
    """(framing, stream, expected messages, trailing partial bytes)."""
    spec = data.draw(FRAMINGS, label="framing")
    if spec[0] == "delim":
        _, d, keep = spec
        msgs = data.draw(st.lists(st.lists(st.sampled_from(PIECES), max_size=12).map(b"".join),
                                  max_size=20), label="messages")
        stream = b"".join(m + d for m in msgs)
        partial = data.draw(st.sampled_from([b"", b"tail", d[:-1]]), label="partial")
        # the oracle: a message ends at the first delimiter.  Over the stream
        # with its partial tail: pieces that hold part of the delimiter can
        # leave an unterminated remainder that the tail completes (b"||"
        # cuts b"|" b"||" + b"|" into two empty messages, not one)
        full = stream + partial
        cuts = full.split(d)
        want = [p + (d if keep else b"") for p in cuts[:-1]]
        # the complete messages, and what is left unterminated after them
        return Delimited(d, keep=keep), full[:len(full) - len(cuts[-1])], want, cuts[-1]
    if spec[0] == "prefix":
        _, kind, order, keep = spec
        top = 255 if kind == "u8" else 600
        msgs = data.draw(st.lists(st.one_of(st.binary(max_size=20), st.binary(min_size=100, max_size=top)),
                                  max_size=12), label="messages")
        framed = [prefix_bytes(kind, order, len(m)) + m for m in msgs]
        want = framed if keep else msgs
        partial = data.draw(st.sampled_from([b"", prefix_bytes(kind, order, 300 if kind != "u8" else 200) + b"x"]),
                            label="partial")
        return LengthPrefixed(kind, byteorder=order, keep=keep), b"".join(framed), want, partial
    n = spec[1]
    msgs = data.draw(st.lists(st.binary(min_size=n, max_size=n), max_size=20), label="messages")
    partial = b"p" * (n - 1)
    return Fixed(n), b"".join(msgs), msgs, partial


@pytest.mark.parametrize("engine,loop_name", COMBOS, ids=COMBO_IDS)
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_differential_random_messages_random_chunks(engine, loop_name, data):
    framing, stream, want, partial = draw_case(data)
    half_close = data.draw(st.booleans(), label="half_close")
    if half_close:
        stream += partial
    cuts = sorted(set(data.draw(st.lists(st.integers(0, len(stream)), max_size=8), label="cuts")))
    chunks = [stream[a:b] for a, b in zip([0] + cuts, cuts + [len(stream)]) if b > a]

    async def body():
        calls = []

        def handler(msg, out):
            calls.append(bytes(msg))
            echo_u32(msg, out)

        async with e.serving(handler, framing) as (server, port):
            r, w = await connect(port)
            for c in chunks:
                w.write(c)
                await w.drain()
                await asyncio.sleep(0)
                await asyncio.sleep(0)
            if half_close:
                w.write_eof()
            got = await recv_exact(r, sum(4 + len(m) for m in want), what="replies")
            assert u32_frames(got) == want
            if half_close:
                assert await read_to_eof(r) == (b"", "eof")
            else:
                assert await nothing_for(r, 0.01) == b""
            await close_writer(w)
        assert calls == want

    e = Env(engine, loop_name)
    try:
        e.run(body)
    finally:
        e.close()


# -- handler semantics ---------------------------------------------------------------------


def test_return_close_sends_then_closes(env):
    async def body():
        calls = []

        def handler(msg, out):
            calls.append(bytes(msg))
            echo(msg, out)
            if msg == b"quit":
                return CLOSE
            return "anything else is ignored"

        async with env.serving(handler) as (server, port):
            r, w = await connect(port)
            w.write(b"a\r\n")
            assert await recv_exact(r, 4) == b"+a\r\n"
            w.write(b"b\r\nquit\r\nc\r\n")
            data, how = await read_to_eof(r)
            assert (data, how) == (lines(b"b", b"quit"), "eof")
            await close_writer(w)
            await until(lambda: server.connections == 0, what="connections == 0")
        assert calls == [b"a", b"b", b"quit"]

    env.run(body)


def test_raising_handler_drops_its_partial_reply_and_closes(env, caplog):
    caplog.set_level(logging.DEBUG, logger="nocopy.serve")

    class Boom(Exception):
        pass

    async def body():
        calls = []

        def handler(msg, out):
            calls.append(bytes(msg))
            out.write(b"+" + bytes(msg))
            if msg == b"boom":
                out.write(b" partial-reply-must-not-arrive")
                raise Boom("handler failed")
            out.write(b"\r\n")

        async with env.serving(handler) as (server, port):
            r, w = await connect(port)
            w.write(b"first\r\n")
            assert await recv_exact(r, 8) == b"+first\r\n"
            # the reply before the failing message is in `out` with it, unsent
            w.write(b"a\r\nbb\r\nboom\r\nc\r\n")
            data, how = await read_to_eof(r)
            assert data == lines(b"a", b"bb"), (data, how)
            await close_writer(w)
            # the server goes on: a new connection is served
            r, w = await connect(port)
            w.write(b"again\r\n")
            assert await recv_exact(r, 8) == b"+again\r\n"
            await close_writer(w)
        assert calls == [b"first", b"a", b"bb", b"boom", b"again"]
        errs = serve_errors(caplog)
        assert len(errs) == 1, [r.getMessage() for r in caplog.records]
        assert errs[0].levelno == logging.ERROR
        assert errs[0].exc_info and isinstance(errs[0].exc_info[1], Boom), "no traceback logged"

    env.run(body)


def test_kept_msg_goes_stale_copies_stay(env):
    async def body():
        kept, copies, verdicts = [], [], []

        def handler(msg, out):
            if msg == b"check":
                try:
                    verdicts.append(kept[0].tobytes())
                except StaleViewError:
                    verdicts.append("stale")
                try:
                    verdicts.append(bytes(kept[0]))
                except StaleViewError:
                    verdicts.append("stale")
                out.write(b"checked\r\n")
                return
            if not kept:
                kept.append(msg)  # the borrowed View itself: wrong, but must not lie
            copies.append(bytes(msg))
            out.write(b"ok\r\n")

        async with env.serving(handler, Delimited(b"\r\n", limit=2048)) as (server, port):
            r, w = await connect(port)
            sent = [b"first-message"]
            w.write(b"first-message\r\n")
            assert await recv_exact(r, 4) == b"ok\r\n"
            # 300 KB more through a 64 KiB input buffer: those bytes are reused
            for i in range(30):
                batch = [(b"%04d-" % (i * 10 + j)) * 200 for j in range(10)]
                sent += batch
                w.write(b"".join(m + b"\r\n" for m in batch))
                assert await recv_exact(r, 40) == b"ok\r\n" * 10
            w.write(b"check\r\n")
            assert await recv_exact(r, 9) == b"checked\r\n"
            await close_writer(w)
        if env.engine == "transport" and env.loop_name == "uvloop":
            # uvloop keeps its export of the buffer get_buffer() lent, which
            # pins the storage: the connection moves to fresh storage instead
            # of reusing those bytes, so the View may still be good -- but it
            # never shows other bytes
            assert all(v in ("stale", b"first-message") for v in verdicts), verdicts
        else:
            assert verdicts == ["stale", "stale"]
        assert copies == sent

    env.run(body)


def test_on_connect_returns_a_per_connection_handler(env):
    async def body():
        conns = []

        def on_connect(conn):
            assert isinstance(conn, Connection)
            conns.append(conn)
            state = {"n": 0, "id": len(conns)}

            def handler(msg, out):
                state["n"] += 1
                out.write(b"%d:%d:" % (state["id"], state["n"]))
                out.write(msg)
                out.write(b"\r\n")
            return handler

        def shared(msg, out):
            raise AssertionError("the shared handler was called")

        async with env.serving(shared, on_connect=on_connect) as (server, port):
            r1, w1 = await connect(port)
            r2, w2 = await connect(port)
            w1.write(b"x\r\ny\r\n")
            assert await r1.readuntil(b"y\r\n") == b"1:1:x\r\n1:2:y\r\n"
            w2.write(b"p\r\n")
            assert await r2.readuntil(b"\r\n") == b"2:1:p\r\n"
            w1.write(b"z\r\n")
            assert await r1.readuntil(b"\r\n") == b"1:3:z\r\n"
            w2.write(b"q\r\n")
            assert await r2.readuntil(b"\r\n") == b"2:2:q\r\n"
            await close_writer(w1)
            await close_writer(w2)
        assert len(conns) == 2 and conns[0] is not conns[1]

    env.run(body)


def test_on_connect_returning_none_uses_the_shared_handler(env):
    async def body():
        seen = []

        def on_connect(conn):
            seen.append(conn)
            conn.user = {"name": "c%d" % len(seen)}
            return None

        async with env.serving(echo, on_connect=on_connect) as (server, port):
            r, w = await connect(port)
            w.write(b"hi\r\n")
            assert await recv_exact(r, 5) == b"+hi\r\n"
            await close_writer(w)
        assert len(seen) == 1 and seen[0].user == {"name": "c1"}

    env.run(body)


def test_on_connect_raising_closes_the_connection(env, caplog):
    caplog.set_level(logging.DEBUG, logger="nocopy.serve")

    class Refused(Exception):
        pass

    async def body():
        calls, n = [], [0]

        def on_connect(conn):
            n[0] += 1
            if n[0] == 1:
                raise Refused("on_connect failed")

        def handler(msg, out):
            calls.append(bytes(msg))
            echo(msg, out)

        async with env.serving(handler, on_connect=on_connect) as (server, port):
            r, w = await connect(port)
            w.write(b"ignored\r\n")
            data, how = await read_to_eof(r)
            assert data == b"", (data, how)
            await close_writer(w)
            r, w = await connect(port)
            w.write(b"served\r\n")
            assert await recv_exact(r, 9) == b"+served\r\n"
            await close_writer(w)
        assert calls == [b"served"]
        logged = [rec for rec in caplog.records if rec.name == "nocopy.serve" and
                  ((rec.exc_info and isinstance(rec.exc_info[1], Refused))
                   or "on_connect failed" in rec.getMessage())]
        assert logged, "on_connect's exception was not logged on nocopy.serve"

    env.run(body)


def test_connection_attributes(env):
    async def body():
        conns, inside = [], []

        def on_connect(conn):
            conns.append(conn)
            assert conn.user is None and conn.messages == 0 and conn.closed is False

            def handler(msg, out):
                inside.append((out is conn.out, conn.closed))
                conn.user = (conn.user or 0) + 1
                echo(msg, out)
            return handler

        async with env.serving(echo, on_connect=on_connect) as (server, port):
            r, w = await connect(port)
            w.write(b"1\r\n2\r\n3\r\n")
            assert await recv_exact(r, 12) == lines(b"1", b"2", b"3")
            (conn,) = conns
            client = w.get_extra_info("sockname")
            assert tuple(conn.peername)[:2] == client[:2]
            assert tuple(conn.get_extra_info("peername"))[:2] == client[:2]
            assert tuple(conn.get_extra_info("sockname"))[:2] == ("127.0.0.1", port)
            with extra_socket(conn) as sock:
                assert sock.getsockname()[1] == port
            assert conn.get_extra_info("no-such-thing") is None
            assert conn.get_extra_info("no-such-thing", 42) == 42
            assert conn.messages == 3 and conn.user == 3 and not conn.closed
            assert isinstance(conn.out, ByteBuffer)
            assert server.connections == 1
            conn.user = "free"
            assert conn.user == "free"
            await close_writer(w)
            await until(lambda: conn.closed, what="conn.closed after the client left")
            await until(lambda: server.connections == 0, what="connections == 0")
            assert conn.messages == 3
        assert inside == [(True, False)] * 3

    env.run(body)


def test_extra_info_socket_needs_no_closing(env):
    """asyncio code uses get_extra_info("socket") without closing it (the
    transport owns the socket): doing the same here must leave no socket to
    close (no ResourceWarning, no descriptor per call)."""
    async def body():
        conns = []
        async with env.serving(echo, on_connect=conns.append) as (server, port):
            r, w = await connect(port)
            w.write(b"x\r\n")
            assert await recv_exact(r, 4) == b"+x\r\n"
            fds = len(os.listdir("/proc/self/fd"))
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                for _ in range(20):
                    conns[0].get_extra_info("socket").getsockname()
                gc.collect()
            assert len(os.listdir("/proc/self/fd")) - fds < 5
            assert not [c for c in caught if issubclass(c.category, ResourceWarning)], \
                [str(c.message) for c in caught]
            await close_writer(w)

    env.run(body)


def test_conn_close_from_the_handler(env):
    async def body():
        calls = []

        def on_connect(conn):
            def handler(msg, out):
                calls.append(bytes(msg))
                echo(msg, out)
                if msg == b"bye":
                    conn.close()
                    conn.close()  # idempotent
                    out.write(b"still-written\r\n")  # close sends what is in out
            return handler

        async with env.serving(echo, on_connect=on_connect) as (server, port):
            r, w = await connect(port)
            w.write(b"a\r\nbye\r\nnot-handled\r\n")
            data, how = await read_to_eof(r)
            assert (data, how) == (lines(b"a", b"bye") + b"still-written\r\n", "eof")
            await close_writer(w)
        assert calls == [b"a", b"bye"]

    env.run(body)


def test_conn_close_from_outside(env):
    async def body():
        conns, calls = [], []

        def handler(msg, out):
            calls.append(bytes(msg))
            echo(msg, out)

        async with env.serving(handler, on_connect=conns.append) as (server, port):
            r, w = await connect(port)
            w.write(b"one\r\n")
            assert await recv_exact(r, 6) == b"+one\r\n"
            (conn,) = conns
            conn.close()
            conn.close()
            assert await read_to_eof(r) == (b"", "eof")
            assert conn.closed
            await until(lambda: server.connections == 0, what="connections == 0")
            conn.close()  # still idempotent once closed
            await close_writer(w)
        assert calls == [b"one"]

    env.run(body)


def test_conn_abort_drops_unsent_output(env):
    async def body():
        conns = []
        big = b"B" * 8192

        def on_connect(conn):
            conns.append(conn)
            shrink_sndbuf(conn)

            def handler(msg, out):
                if msg == b"abort":
                    out.write(b"dropped-by-abort")
                    conn.abort()
                    return
                out.write(big)
            return handler

        async with env.serving(echo, on_connect=on_connect, out_size=16384) as (server, port):
            # from the handler: what it wrote is not sent
            r, w = await connect(port)
            w.write(b"abort\r\n")
            data, how = await read_to_eof(r)
            assert b"dropped" not in data and data == b"", (data, how)
            await close_writer(w)
            assert conns[0].closed
            # from outside, with output the client does not read
            s = await raw_client(port, rcvbuf=4096)
            loop = asyncio.get_running_loop()
            await loop.sock_sendall(s, b"x\r\n" * 100)
            await until(lambda: len(conns) == 2, what="the second connection")
            conn = conns[1]
            await until(lambda: conn.messages > 0, what="a message handled")
            await asyncio.sleep(0.1)
            assert conn.messages < 100, "no backpressure: every reply was produced"
            conn.abort()
            assert conn.closed
            await until(lambda: server.connections == 0, timeout=1.0, what="the abort")
            got = 0
            with contextlib.suppress(ConnectionResetError):
                async with asyncio.timeout(3):
                    while True:
                        k = len(await loop.sock_recv(s, 65536))
                        if not k:
                            break
                        got += k
            assert got < 100 * 8192
            s.close()

    env.run(body)


@pytest.mark.parametrize("size", [4096 + 1, 2048 + 1], ids=["over-out_size", "over-half"])
def test_reply_larger_than_half_out_size_is_a_handler_error(env, caplog, size):
    """out_size=4096: "a reply up to out_size // 2 bytes always fits; a
    bigger one raises BufferTooSmall in the handler (handled as a raising
    handler)" -- also when it would happen to fit in the free space (over-half:
    2049 bytes with only 5 unsent), so that the same reply does not succeed or
    fail depending on what else is pending."""
    caplog.set_level(logging.DEBUG, logger="nocopy.serve")

    async def body():
        calls = []

        def handler(msg, out):
            calls.append(bytes(msg))
            out.write(b"+ok\r\n" if msg == b"small" else b"x" * int(bytes(msg)))

        async with env.serving(handler, out_size=4096) as (server, port):
            r, w = await connect(port)
            w.write(b"small\r\n")
            assert await recv_exact(r, 5) == b"+ok\r\n"
            w.write(b"small\r\n%d\r\nsmall\r\n" % size)
            data, how = await read_to_eof(r, timeout=2.0)
            assert data == b"+ok\r\n", (size, data[:40], len(data), how)
            await close_writer(w)
        assert calls == [b"small", b"small", b"%d" % size]
        errs = serve_errors(caplog)
        assert len(errs) == 1, [r.getMessage() for r in caplog.records]
        assert errs[0].exc_info and isinstance(errs[0].exc_info[1], BufferTooSmall)

    env.run(body)


def test_replies_of_half_out_size_always_fit(env):
    """Pipelined messages each answered with out_size // 2 bytes: `out`
    cannot hold three, so the server must send between handler calls."""
    async def body():
        def handler(msg, out):
            i = int(bytes(msg))
            out.write(b"%08d" % i)
            out.write(bytes([65 + i % 26]) * (2048 - 8))

        async with env.serving(handler, out_size=4096) as (server, port):
            r, w = await connect(port)
            w.write(b"".join(b"%d\r\n" % i for i in range(200)))
            data = await recv_exact(r, 200 * 2048)
            for i in range(200):
                rep = data[i * 2048:(i + 1) * 2048]
                assert rep[:8] == b"%08d" % i and rep[8:] == bytes([65 + i % 26]) * 2040, i
            await close_writer(w)

    env.run(body)


# -- backpressure, half-close, reset -------------------------------------------------------

REPLY = 8192
OUT = 16384


def numbered_reply(msg, out):
    """An 8 KiB reply (out_size // 2 with OUT) that names its request."""
    i = int(bytes(msg))
    out.write(b"%08d" % i)
    out.write(bytes([65 + i % 26]) * (REPLY - 8))


def check_numbered(data, first, count):
    assert len(data) == count * REPLY
    for k in range(count):
        i = first + k
        rep = bytes(data[k * REPLY:(k + 1) * REPLY])
        assert rep[:8] == b"%08d" % i, f"reply {k}: {rep[:8]!r}, wanted {i}"
        assert rep[8:] == bytes([65 + i % 26]) * (REPLY - 8), f"reply {i} damaged"


async def stalled_client(port, n):
    """A raw client with a small receive buffer that sends n requests (one
    send) and reads nothing."""
    s = await raw_client(port, rcvbuf=4096)
    await asyncio.get_running_loop().sock_sendall(s, b"".join(b"%d\n" % i for i in range(n)))
    return s


def test_backpressure_stops_the_handler_until_output_drains(env):
    N = 400

    async def body():
        seen, conns = [], []

        def on_connect(conn):
            conns.append(conn)
            shrink_sndbuf(conn)

        def handler(msg, out):
            seen.append(int(bytes(msg)))
            numbered_reply(msg, out)

        async with env.serving(handler, Delimited(b"\n"), on_connect=on_connect,
                               out_size=OUT) as (server, port):
            s = await stalled_client(port, N)
            n = await stable(lambda: len(seen), quiet=0.2)
            conn = conns[0]
            # a client that reads nothing gets no more than what the kernel
            # buffers (a few tens of KiB here) and `out` hold
            assert 0 < n <= 40, f"{n} of {N} requests handled while the client reads nothing"
            assert conn.out.capacity == OUT and conn.out.readable <= OUT
            assert conn.messages == n
            await asyncio.sleep(0.2)
            assert len(seen) == n, "the handler ran again with nothing sent"
            data = await raw_recv_exact(s, N * REPLY, what="all the replies")
            check_numbered(data, 0, N)
            assert seen == list(range(N))
            assert conn.out.capacity == OUT
            s.close()

    env.run(body)


def test_half_close_answers_complete_messages_then_eof(env):
    async def body():
        calls = []

        def handler(msg, out):
            calls.append(bytes(msg))
            echo(msg, out)

        async with env.serving(handler) as (server, port):
            r, w = await connect(port)
            w.write(b"one\r\ntwo\r\nthree\r\npart")
            w.write_eof()
            data, how = await read_to_eof(r)
            assert (data, how) == (lines(b"one", b"two", b"three"), "eof")
            await close_writer(w)
            await until(lambda: server.connections == 0, what="connections == 0")

        # the same while replies are held up by backpressure: every complete
        # message is still answered, then EOF
        conns = []

        def on_connect(conn):
            conns.append(conn)
            shrink_sndbuf(conn)

        async with env.serving(numbered_reply, Delimited(b"\n"), on_connect=on_connect,
                               out_size=OUT) as (server, port):
            s = await raw_client(port, rcvbuf=4096)
            loop = asyncio.get_running_loop()
            await loop.sock_sendall(s, b"".join(b"%d\n" % i for i in range(50)) + b"12")
            s.shutdown(socket.SHUT_WR)
            await asyncio.sleep(0.1)
            assert conns[0].messages < 50, "no backpressure"
            check_numbered(await raw_recv_exact(s, 50 * REPLY), 0, 50)
            assert await asyncio.wait_for(loop.sock_recv(s, 10), 3) == b""
            s.close()
            await until(lambda: server.connections == 0, what="connections == 0")
        assert calls == [b"one", b"two", b"three"]

    env.run(body)


def test_peer_reset_mid_stream_is_quiet(env, caplog):
    caplog.set_level(logging.DEBUG)

    async def body():
        conns = []

        def on_connect(conn):
            conns.append(conn)
            shrink_sndbuf(conn)

        async with env.serving(numbered_reply, Delimited(b"\n"), on_connect=on_connect,
                               out_size=OUT) as (server, port):
            r, w = await connect(port)
            w.write(b"1\n")
            check_numbered(await recv_exact(r, REPLY), 1, 1)
            # a client that stops reading, then resets with output pending
            s = await stalled_client(port, 100)
            await until(lambda: len(conns) == 2 and conns[1].messages > 0, what="the stalled client")
            await asyncio.sleep(0.05)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()
            # one that resets in the middle of sending a message
            s2 = await raw_client(port)
            await asyncio.get_running_loop().sock_sendall(s2, b"2\n12")
            await asyncio.sleep(0.02)
            s2.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s2.close()
            await until(lambda: len(conns) == 3 and server.connections == 1,
                        what="the reset connections gone")
            assert conns[1].closed and conns[2].closed
            for i in range(2, 6):
                w.write(b"%d\n" % i)
                check_numbered(await recv_exact(r, REPLY), i, 1)
            await close_writer(w)
        bad = [rec for rec in caplog.records if rec.levelno >= logging.ERROR]
        assert not bad, [rec.getMessage() for rec in bad]
        # "Peer reset / broken pipe: the connection closes quietly (logged at DEBUG)"
        assert [rec for rec in caplog.records
                if rec.name == "nocopy.serve" and rec.levelno == logging.DEBUG], "no DEBUG record"

    env.run(body)


# -- timeouts ------------------------------------------------------------------------------


def test_idle_timeout_closes_idle_but_not_active_connections(env):
    T = 0.25

    async def body():
        loop = asyncio.get_running_loop()
        async with env.serving(echo, idle_timeout=T) as (server, port):
            async def idle():
                r, w = await connect(port)
                t0 = loop.time()
                data, how = await read_to_eof(r, timeout=5 * T)
                dt = loop.time() - t0
                await close_writer(w)
                return data, dt

            async def idle_after_a_message():
                r, w = await connect(port)
                w.write(b"m\r\n")
                assert await recv_exact(r, 4) == b"+m\r\n"
                t0 = loop.time()
                data, how = await read_to_eof(r, timeout=5 * T)
                dt = loop.time() - t0
                await close_writer(w)
                return data, dt

            async def active():
                r, w = await connect(port)
                for i in range(16):  # 0.8 s, a message every T / 5
                    w.write(b"%d\r\n" % i)
                    assert await recv_exact(r, len(b"+%d\r\n" % i)) == b"+%d\r\n" % i
                    await asyncio.sleep(T / 5)
                await close_writer(w)

            (d1, t1), (d2, t2), _ = await asyncio.gather(idle(), idle_after_a_message(), active())
            assert d1 == b"" and d2 == b""
            for dt in (t1, t2):
                assert 0.6 * T <= dt <= 2 * T + 0.15, f"closed after {dt:.3f}s, idle_timeout={T}"

    env.run(body)


def test_message_timeout_sends_timeout_reply_and_closes(env):
    T = 0.25

    async def body():
        loop = asyncio.get_running_loop()
        calls = []

        def handler(msg, out):
            calls.append(bytes(msg))
            echo(msg, out)

        async with env.serving(handler, message_timeout=T,
                               timeout_reply=b"-TIMEOUT\r\n") as (server, port):
            async def partial():
                r, w = await connect(port)
                w.write(b"done\r\nhel")
                t0 = loop.time()
                data, how = await read_to_eof(r, timeout=5 * T)
                await close_writer(w)
                return data, loop.time() - t0

            async def slowloris():
                # a byte every T / 5: activity, but the message never completes
                r, w = await connect(port)
                t0 = loop.time()
                reader = asyncio.ensure_future(read_to_eof(r, timeout=5 * T))
                for _ in range(40):
                    if reader.done():
                        break
                    with contextlib.suppress(ConnectionError):
                        w.write(b"z")
                    await asyncio.sleep(T / 5)
                data, how = await reader
                await close_writer(w)
                return data, loop.time() - t0

            (d1, t1), (d2, t2) = await asyncio.gather(partial(), slowloris())
            assert d1 == b"+done\r\n-TIMEOUT\r\n" and d2 == b"-TIMEOUT\r\n", (d1, d2)
            for dt in (t1, t2):
                assert 0.6 * T <= dt <= 2 * T + 0.15, f"closed after {dt:.3f}s, message_timeout={T}"
        assert calls == [b"done"]

    env.run(body)


def test_stuck_output_is_closed_after_idle_timeout(env):
    T = 0.25

    async def body():
        conns = []

        def on_connect(conn):
            conns.append(conn)
            shrink_sndbuf(conn)

        loop = asyncio.get_running_loop()
        async with env.serving(numbered_reply, Delimited(b"\n"), on_connect=on_connect,
                               out_size=OUT, idle_timeout=T) as (server, port):
            s = await stalled_client(port, 200)
            await until(lambda: conns and conns[0].messages > 0, what="a message handled")
            t0 = loop.time()
            await until(lambda: server.connections == 0, timeout=2 * T + 1.0,
                        what="a connection whose output makes no progress to be closed")
            assert loop.time() - t0 >= 0.6 * T
            assert conns[0].closed and conns[0].messages < 200
            s.close()

    env.run(body)


# -- shutdown ------------------------------------------------------------------------------


def test_graceful_shutdown_sends_what_was_produced_then_eof(env):
    N = 200

    async def body():
        seen, conns = [], []

        def on_connect(conn):
            conns.append(conn)
            shrink_sndbuf(conn)

        def handler(msg, out):
            seen.append(int(bytes(msg)))
            numbered_reply(msg, out)

        server, port = await env.start(handler, Delimited(b"\n"), on_connect=on_connect, out_size=OUT)
        # an idle keep-alive connection, and one in mid-conversation with
        # replies produced but not yet read
        r0, w0 = await connect(port)
        w0.write(b"7\n")
        check_numbered(await recv_exact(r0, REPLY), 7, 1)
        s = await stalled_client(port, N)
        h = await stable(lambda: len(seen), quiet=0.15)
        assert 1 < h < N
        loop = asyncio.get_running_loop()
        shut = asyncio.ensure_future(server.shutdown(timeout=5.0))
        await asyncio.sleep(0.05)
        assert not shut.done(), "shutdown returned with output still unsent"
        with pytest.raises(OSError):
            await connect(port)  # no longer accepting
        produced = len(seen) - 1
        # the client reads now: every reply already produced, then EOF
        data = bytearray()
        while True:
            b = await asyncio.wait_for(loop.sock_recv(s, 1 << 16), 5)
            if not b:
                break
            data += b
        assert len(seen) - 1 == produced, "the handler ran after shutdown began"
        check_numbered(data, 0, produced)
        assert await read_to_eof(r0) == (b"", "eof")
        await asyncio.wait_for(shut, 5)
        assert server.connections == 0 and all(c.closed for c in conns)
        with pytest.raises(OSError):
            await connect(port)
        await close_writer(w0)
        s.close()

    env.run(body)


def test_shutdown_timeout_aborts_what_cannot_drain(env):
    async def body():
        conns = []

        def on_connect(conn):
            conns.append(conn)
            shrink_sndbuf(conn)

        server, port = await env.start(numbered_reply, Delimited(b"\n"), on_connect=on_connect,
                                       out_size=OUT)
        s = await stalled_client(port, 200)
        await until(lambda: conns and conns[0].messages > 0, what="a message handled")
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        await asyncio.wait_for(server.shutdown(timeout=0.3), 3)
        dt = loop.time() - t0
        assert 0.25 <= dt <= 1.5, f"shutdown(timeout=0.3) took {dt:.3f}s"
        assert server.connections == 0 and conns[0].closed
        got = 0
        with contextlib.suppress(ConnectionResetError):
            while True:
                b = await asyncio.wait_for(loop.sock_recv(s, 1 << 16), 5)
                if not b:
                    break
                got += len(b)
        assert got < 200 * REPLY
        s.close()

    env.run(body)


def test_async_with_shuts_down(env):
    async def body():
        server, port = await env.start(echo)
        async with server as srv:
            assert srv is server or srv is None
            r, w = await connect(port)
            w.write(b"in\r\n")
            assert await recv_exact(r, 5) == b"+in\r\n"
        assert await read_to_eof(r) == (b"", "eof")
        assert server.connections == 0
        with pytest.raises(OSError):
            await connect(port)
        await close_writer(w)

    env.run(body)


def test_close_stops_accepting_open_connections_go_on(env):
    async def body():
        server, port = await env.start(echo)
        r, w = await connect(port)
        w.write(b"a\r\n")
        assert await recv_exact(r, 4) == b"+a\r\n"
        server.close()
        await asyncio.sleep(0.02)
        with pytest.raises(OSError):
            await connect(port)
        w.write(b"b\r\n")
        assert await recv_exact(r, 4) == b"+b\r\n"
        assert server.connections == 1
        await close_writer(w)
        await until(lambda: server.connections == 0, what="connections == 0")
        await asyncio.wait_for(server.wait_closed(), 3)
        await asyncio.wait_for(server.shutdown(), 3)

    env.run(body)


def test_serve_forever(env):
    async def body():
        server, port = await env.start(echo)
        task = asyncio.ensure_future(server.serve_forever())
        r, w = await connect(port)
        w.write(b"f\r\n")
        assert await recv_exact(r, 4) == b"+f\r\n"
        await asyncio.sleep(0.01)
        assert not task.done()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await close_writer(w)
        await asyncio.wait_for(server.shutdown(timeout=1.0), 3)

    env.run(body)


# -- many connections ----------------------------------------------------------------------

IDLE = 1000


def ensure_fds(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < n:
        if hard != resource.RLIM_INFINITY and hard < n:
            pytest.skip(f"RLIMIT_NOFILE hard limit {hard} < {n} descriptors "
                        f"({IDLE} connections, both ends in this process)")
        resource.setrlimit(resource.RLIMIT_NOFILE, (n if hard == resource.RLIM_INFINITY else hard, hard))


def test_many_idle_connections_and_active_clients(env):
    ensure_fds(2 * IDLE + 200)

    async def body():
        loop = asyncio.get_running_loop()
        calls = [0]

        def handler(msg, out):
            calls[0] += 1
            echo(msg, out)

        async with env.serving(handler, backlog=2048) as (server, port):
            idle = []

            async def open_idle():
                s = await raw_client(port)
                idle.append(s)
                await loop.sock_sendall(s, b"hello\r\n")

            try:
                for _ in range(IDLE // 100):
                    await asyncio.gather(*(open_idle() for _ in range(100)))
                await until(lambda: server.connections == IDLE and calls[0] == IDLE, timeout=10,
                            what=f"{IDLE} connections each with one message handled")

                async def active(k):
                    r, w = await connect(port)
                    for j in range(25):
                        m = b"%d-%d" % (k, j)
                        w.write(m + b"\r\n" + m + b"!\r\n")
                        assert await r.readuntil(b"!\r\n") == lines(m, m + b"!")
                    await close_writer(w)

                await asyncio.gather(*(active(k) for k in range(6)))
                # the active ones end when their transports have closed (the
                # transport engine closes at the loop's next pass)
                await until(lambda: server.connections == IDLE, timeout=5,
                            what="the active connections forgotten")
                for s in idle:  # each idle connection got its reply and is still open
                    assert await raw_recv_exact(s, 8, what="an idle connection's reply") == b"+hello\r\n"
                for s in idle[::50]:
                    await loop.sock_sendall(s, b"again\r\n")
                    assert await raw_recv_exact(s, 8) == b"+again\r\n"
            finally:
                for s in idle:
                    s.close()
            await until(lambda: server.connections == 0, timeout=10, what="connections == 0")

    env.run(body, timeout=40)


# -- TLS -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_cert(tmp_path_factory):
    return make_cert(str(tmp_path_factory.mktemp("serve-tls")))


@pytest.mark.parametrize("engine", ["transport", "auto"])
@pytest.mark.parametrize("loop_name", LOOPS)
def test_tls_echo(loop_name, engine, tls_cert):
    cert, key = tls_cert
    sctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    sctx.load_cert_chain(cert, key)
    cctx = ssl.create_default_context(cafile=cert)

    async def body():
        conns = []
        server = await start_server(echo_u32, "127.0.0.1", 0, framing=LengthPrefixed("u16"),
                                    engine=engine, ssl=sctx, on_connect=conns.append)
        try:
            assert server.engine == "transport"
            port = server.sockets[0].getsockname()[1]
            r, w = await connect(port, ssl=cctx, server_hostname="localhost")
            msgs = [b"", b"secret", bytes(range(256)) * 40]
            w.write(b"".join(struct.pack(">H", len(m)) + m for m in msgs))
            assert u32_frames(await recv_exact(r, sum(4 + len(m) for m in msgs))) == msgs
            (conn,) = conns
            assert conn.get_extra_info("sslcontext") is sctx
            assert conn.get_extra_info("ssl_object") is not None
            assert conn.messages == 3
            await close_writer(w)
        finally:
            await server.shutdown(timeout=1.0)

    e = Env(engine, loop_name)
    try:
        e.run(body)
    finally:
        e.close()


# -- leaks and allocations -----------------------------------------------------------------


def test_connections_leak_nothing(env):
    """Rounds of 320 connections, each exchanging a few messages (one of them
    answered by a raising handler's close, one by CLOSE): the allocated
    block count stays flat (leakcheck's rule: a leak grows every round; a
    cache settling, or the interpreter's own churn, does not)."""
    logging.getLogger("nocopy.serve").disabled = True  # the raising handler logs

    async def body():
        def handler(msg, out):
            echo(msg, out)
            if msg == b"boom":
                raise RuntimeError("boom")
            if msg == b"quit":
                return CLOSE

        async with env.serving(handler, on_connect=lambda conn: None,
                               idle_timeout=30.0) as (server, port):
            async def one(i):
                r, w = await connect(port, track=False)  # kept by nothing
                last = (b"boom", b"quit", b"x")[i % 3]
                w.write(b"a\r\nbb\r\n" + last + b"\r\n")
                want = lines(b"a", b"bb") + (b"" if last == b"boom" else lines(last))
                assert await recv_exact(r, len(want)) == want
                await close_writer(w)

            async def a_round(n):
                for k in range(n // 20):
                    await asyncio.gather(*(one(k * 20 + i) for i in range(20)))
                await until(lambda: server.connections == 0, what="connections == 0")

            for _ in range(2):
                await a_round(100)
            seen = []
            for _ in range(3):
                gc.collect()
                before = leakcheck.blocks_or_none()
                # two rounds per measurement: asyncio's loop swings by ~120
                # blocks from one round to the next (up, then down again)
                await a_round(160)
                await a_round(160)
                gc.collect()
                if before is None:
                    return
                grown = leakcheck.blocks_or_none() - before
                if grown < 100:
                    return
                seen.append(grown)
            raise AssertionError(f"{' then '.join(map(str, seen))} blocks more after rounds of "
                                 f"320 connections")

    try:
        env.run(body, timeout=40)
    finally:
        logging.getLogger("nocopy.serve").disabled = False
    leakcheck.skip_uncounted()


ALLOC_N = 2000
ALLOC_REPLY = b"+OK-0123456789\r\n"


@pytest.mark.parametrize("loop_name", LOOPS)
def test_request_reply_allocations_per_request(loop_name, counting):
    """The socket engine's steady request/reply loop on one connection
    allocates at most 4 blocks per request in the server process.

    Measurement: the client is a separate process (ALLOC_CLIENT: blocking
    sockets, one 16-byte request, waits for the 16-byte reply, 500 warm-up
    requests, then 2000 measured), so only the server process is counted:
    nocopy._core._alloc_count() (every malloc, freed or not) read by the
    handler itself at the b"!start" and b"!stop" marker messages.  The
    handler writes a constant reply and allocates nothing itself; the test
    body awaits a future the handler resolves, so nothing else runs.

    That total includes the event loop's own cost per wake-up: asyncio's
    selector loop allocates ~10 blocks per select() round (the event list,
    its tuples, the ready list) whatever the server does; uvloop's ~0.  So
    the same client first runs against a reference server on the same loop,
    an add_reader callback doing recv_into + send on preallocated buffers
    (zero allocations of its own: the loop's cost alone), and the budget is
    server - reference <= 4 per request: the issue's target for the whole
    server process, with the loop's own cost (which no server on that loop
    can avoid) taken out.  On uvloop that is the whole-process count."""
    async def measure(start_listener):
        loop = asyncio.get_running_loop()
        marks = [None, None]
        done = loop.create_future()
        port, cleanup = await start_listener(marks, done)
        p = subprocess.Popen([sys.executable, "-c", ALLOC_CLIENT, str(port), str(ALLOC_N)],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            await asyncio.wait_for(done, 30)
        finally:
            out = p.communicate(timeout=30)[0]
            await cleanup()
        assert p.returncode == 0, out
        return (marks[1] - marks[0]) / ALLOC_N

    async def reference(marks, done):
        loop = asyncio.get_running_loop()
        lsock = socket.socket()
        lsock.bind(("127.0.0.1", 0))
        lsock.listen()
        lsock.setblocking(False)
        port = lsock.getsockname()[1]
        state = {}

        async def accept():
            c, _ = await loop.sock_accept(lsock)
            c.setblocking(False)
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            buf = bytearray(16)
            state["c"] = c

            def on_readable():
                n = c.recv_into(buf)
                if n == 0:
                    loop.remove_reader(c.fileno())
                    return
                if buf[0] == 33:  # "!"
                    marks[1 if marks[0] is not None else 0] = _core._alloc_count()
                c.send(ALLOC_REPLY)
                if marks[1] is not None and not done.done():
                    done.set_result(None)
            loop.add_reader(c.fileno(), on_readable)

        acc = asyncio.ensure_future(accept())

        async def cleanup():
            await acc
            loop.remove_reader(state["c"].fileno())
            state["c"].close()
            lsock.close()
        return port, cleanup

    async def nocopy_server(marks, done):
        def handler(msg, out):
            if msg[0] == 33:  # "!"
                marks[1 if marks[0] is not None else 0] = _core._alloc_count()
                if marks[1] is not None:
                    done.set_result(None)
            out.write(ALLOC_REPLY)

        server = await start_server(handler, "127.0.0.1", 0, framing=Delimited(b"\r\n"),
                                    engine="socket")
        assert server.engine == "socket"

        async def cleanup():
            await server.shutdown(timeout=1.0)
        return server.sockets[0].getsockname()[1], cleanup

    async def body():
        base = await measure(reference)
        ours = await measure(nocopy_server)
        return base, ours

    e = Env("socket", loop_name)
    try:
        base, ours = e.run(body, timeout=60)
    finally:
        e.close()
    assert ours - base <= 4, (f"{ours:.2f} blocks per request in the server process, "
                              f"{base:.2f} of them the loop's own (reference server): "
                              f"{ours - base:.2f} > 4")
