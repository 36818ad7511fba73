"""nocopy.aio as a drop-in for asyncio's streams (issue 18, point 17), on
asyncio's loop and uvloop's: StreamWriter.start_tls (the reader keeps its
unread bytes and goes on over TLS), the reader under asyncio's
StreamReaderProtocol and nocopy's over pipes, subprocess output (a pipe
handed to a child, and aio.create_subprocess_exec/_shell), the
ResourceWarning of an unclosed writer, StreamReader() outside a running loop
as asyncio's on this Python, asyncio's repr, FlowControlMixin and a writer
without a reader, LimitOverrun in asyncio's (message, consumed) form."""
import asyncio
import gc
import os
import pickle
import socket
import ssl
import subprocess
import sys
import textwrap
import warnings

import pytest

import nocopy.aio as aio
from nocopy import LimitOverrun, View

from aio_loops import LOOPS, run

TLS = os.path.join(os.path.dirname(__file__), "tls")
CERT = os.path.join(TLS, "localhost-cert.pem")
KEY = os.path.join(TLS, "localhost-key.pem")


@pytest.fixture(params=LOOPS)
def loop(request):
    return request.param


def server_ctx():
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(CERT, KEY)
    return ctx


def client_ctx():
    ctx = ssl.create_default_context()  # verifies the chain and the host name
    ctx.load_verify_locations(CERT)
    return ctx


async def wait_buffered(reader, n):
    """Until the reader holds n unread bytes, reading none of them."""
    while reader.buffered < n:
        await asyncio.sleep(0.001)


# -- start_tls -------------------------------------------------------------------------------


def test_start_tls_both_sides(loop):
    async def body():
        done = asyncio.get_running_loop().create_future()

        async def handle(reader, writer):
            try:
                assert await reader.readline() == b"STARTTLS\n"
                # the second line goes out in the clear: the client reads it
                # from its buffer after its upgrade
                writer.write(b"OK\nclear-but-unread\n")
                await writer.drain()
                await writer.start_tls(server_ctx(), ssl_handshake_timeout=10.0,
                                       ssl_shutdown_timeout=10.0)
                assert writer.get_extra_info("sslcontext") is not None
                assert writer.transport.get_extra_info("sslcontext") is not None
                line = await reader.readline()
                assert type(line) is View
                writer.write(b"echo:" + line)
                # many lines through the small limit: the reader pauses and
                # resumes the TLS transport (its transport since the upgrade)
                n = 0
                async for piece in reader.lines():
                    if piece == b"end":  # TLS has no half-close: an end marker
                        break
                    assert piece == b"%d" % n + b"y" * (n % 50)
                    n += 1
                writer.write(b"%d lines\n" % n)
                await writer.drain()
                writer.close()
                await writer.wait_closed()
                done.set_result(n)
            except BaseException as e:
                done.set_exception(e)

        server = await aio.start_server(handle, "127.0.0.1", 0, limit=128)
        port = server.sockets[0].getsockname()[1]
        r, w = await aio.open_connection("127.0.0.1", port)
        w.write(b"STARTTLS\n")
        assert await r.readline() == b"OK\n"
        await wait_buffered(r, len(b"clear-but-unread\n"))
        assert w.get_extra_info("sslcontext") is None

        def no_copy_path(data):
            raise AssertionError("TLS bytes came through data_received/feed_data")

        r.feed_data = no_copy_path  # the TLS protocol must use get_buffer()/buffer_updated()
        await w.start_tls(client_ctx(), server_hostname="localhost")
        assert w.get_extra_info("sslcontext") is not None
        assert w.get_extra_info("peercert")["subject"]  # verified against the committed cert
        assert await r.readline() == b"clear-but-unread\n"  # bytes from before the upgrade
        w.write(b"secret\n")
        assert await r.readline() == b"echo:secret\n"
        w.writelines(b"%d" % i + b"y" * (i % 50) + b"\n" for i in range(3000))
        w.write(b"end\n")
        await w.drain()
        big = await r.readline()
        assert big == b"3000 lines\n"
        assert await done == 3000
        assert await r.read() == b""
        w.close()
        await w.wait_closed()
        server.close()
        await server.wait_closed()

    run(loop, body)


def test_start_tls_large_read_after_upgrade(loop):
    # A frame larger than the limit, received into a grown buffer through
    # the TLS transport; then the reader is back on its own buffer.
    payload = bytes(range(256)) * 4096  # 1 MiB

    async def body():
        async def handle(reader, writer):
            await reader.readline()
            # the client starts its handshake only after this line: else its
            # first TLS bytes could come before this side's start_tls and be
            # read as plain data (as with asyncio's streams)
            writer.write(b"ok\n")
            await writer.start_tls(server_ctx())
            writer.write(len(payload).to_bytes(4, "big"))
            writer.write(payload)
            writer.write(b"after\n")
            await writer.drain()
            writer.close()
            await writer.wait_closed()

        server = await aio.start_server(handle, "127.0.0.1", 0, limit=1024)
        port = server.sockets[0].getsockname()[1]
        r, w = await aio.open_connection("127.0.0.1", port, limit=1024)
        w.write(b"go\n")
        assert await r.readline() == b"ok\n"
        await w.start_tls(client_ctx(), server_hostname="localhost")
        n = int.from_bytes(await r.readexactly(4), "big")
        assert n == len(payload)
        got = await r.readexactly(n)
        assert got == payload
        assert await r.readline() == b"after\n"
        w.close()
        await w.wait_closed()
        server.close()
        await server.wait_closed()

    run(loop, body)


def test_start_tls_with_the_reader_full_of_clear_bytes(loop):
    # The reader's buffer is full (and its transport paused) when the
    # upgrade starts: the TLS transport must start paused too, and resume
    # when the application reads on.
    async def body():
        async def handle(reader, writer):
            await reader.readline()
            writer.write(b"p" * 65)  # exactly the client's buffer (limit + 1)
            await writer.start_tls(server_ctx())
            writer.write(b"secret\n")
            await writer.drain()
            assert await reader.readline() == b"bye\n"
            writer.close()
            await writer.wait_closed()

        server = await aio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        r, w = await aio.open_connection("127.0.0.1", port, limit=64)
        w.write(b"go\n")
        await wait_buffered(r, 65)
        await w.start_tls(client_ctx(), server_hostname="localhost")
        assert await r.readexactly(65) == b"p" * 65
        assert await r.readline() == b"secret\n"
        w.write(b"bye\n")
        assert await r.read() == b""
        w.close()
        await w.wait_closed()
        server.close()
        await server.wait_closed()

    run(loop, body)


def test_start_tls_refuses_a_wrong_host_name(loop):
    async def body():
        async def handle(reader, writer):
            await reader.readline()
            writer.write(b"ok\n")
            try:
                await writer.start_tls(server_ctx())
            except (ssl.SSLError, ConnectionError, OSError):
                pass
            writer.close()

        server = await aio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        r, w = await aio.open_connection("127.0.0.1", port)
        w.write(b"go\n")
        assert await r.readline() == b"ok\n"
        with pytest.raises(ssl.SSLCertVerificationError):
            await w.start_tls(client_ctx(), server_hostname="not-localhost")
        w.close()
        server.close()
        await server.wait_closed()

    run(loop, body)


# -- pipes and subprocesses ------------------------------------------------------------------

CHILD = textwrap.dedent("""\
    import os, sys
    fd = int(sys.argv[1])
    for i in range(2000):
        os.write(fd, b"line %d\\n" % i)
    os.write(fd, b"x" * 100000 + b"\\nend")
    os.close(fd)
""")
EXPECTED = b"".join(b"line %d\n" % i for i in range(2000)) + b"x" * 100000 + b"\nend"


@pytest.mark.parametrize("protocol", ["asyncio", "nocopy"])
def test_reader_on_a_pipe_fed_by_a_child(loop, protocol):
    # asyncio's recipe for a child's output: connect_read_pipe with a
    # StreamReaderProtocol around the reader, the child writing into the
    # pipe (CPython's test_read_all_from_pipe_reader, more data, both loops).
    async def body():
        lp = asyncio.get_running_loop()
        rfd, wfd = os.pipe()
        pipe = open(rfd, "rb", 0)
        reader = aio.StreamReader(limit=64, loop=lp)
        cls = asyncio.StreamReaderProtocol if protocol == "asyncio" else aio.StreamReaderProtocol
        transport, _ = await lp.connect_read_pipe(lambda: cls(reader, loop=lp), pipe)
        proc = await asyncio.create_subprocess_exec(sys.executable, "-c", CHILD, str(wfd),
                                                    pass_fds={wfd})
        os.close(wfd)
        lines = []
        for _ in range(2000):
            line = await reader.readline()
            assert type(line) is View
            lines.append(line.tobytes())
        assert lines == [b"line %d\n" % i for i in range(2000)]
        # a frame far above the limit (64), then the rest to EOF
        assert await reader.readexactly(100001) == b"x" * 100000 + b"\n"
        assert await reader.read() == b"end"
        assert reader.at_eof()
        assert await proc.wait() == 0
        transport.close()

    run(loop, body)


def test_asyncio_stream_reader_protocol_over_a_socket(loop):
    # the reader under asyncio's own protocol (data_received -> feed_data)
    async def body():
        lp = asyncio.get_running_loop()
        a, b = socket.socketpair()
        reader = aio.StreamReader(limit=16, loop=lp)
        transport, proto = await lp.create_connection(
            lambda: asyncio.StreamReaderProtocol(reader, loop=lp), sock=a)
        b.sendall(b"one\ntwo\n" + b"z" * 5000)
        b.close()
        assert await reader.readline() == b"one\n"
        assert await reader.readuntil(b"\n") == b"two\n"
        assert await reader.readexactly(5000) == b"z" * 5000
        assert await reader.read() == b""
        assert reader.at_eof()
        transport.close()

    run(loop, body)


def test_create_subprocess_exec(loop):
    code = ("import sys\n"
            "data = sys.stdin.buffer.read()\n"
            "sys.stdout.buffer.write(data.upper() * 1000)\n"
            "sys.stderr.buffer.write(b'err\\n')\n")

    async def body():
        proc = await aio.create_subprocess_exec(
            sys.executable, "-c", code, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, limit=256)
        assert isinstance(proc.stdout, aio.StreamReader)
        assert isinstance(proc.stdin, aio.StreamWriter)
        out, err = await proc.communicate(b"abc\n")
        assert type(out) is View and out == b"ABC\n" * 1000
        assert err == b"err\n"
        assert proc.returncode == 0

    run(loop, body)


def test_create_subprocess_shell_lines(loop):
    async def body():
        proc = await aio.create_subprocess_shell("printf 'a\\nbb\\r\\nccc'", stdout=subprocess.PIPE)
        got = [bytes(v) async for v in proc.stdout.lines()]
        assert got == [b"a", b"bb", b"ccc"]
        assert await proc.wait() == 0

    run(loop, body)


def test_subprocess_stdin_writer_drains_and_closes(loop):
    async def body():
        proc = await aio.create_subprocess_exec(
            sys.executable, "-c", "import sys; print(len(sys.stdin.buffer.read()))",
            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        w = proc.stdin
        for _ in range(64):
            w.write(b"q" * 65536)  # more than a pipe holds: drain() must wait
            await w.drain()
        w.close()
        await w.wait_closed()
        assert await proc.stdout.readline() == b"%d\n" % (64 * 65536)
        assert await proc.wait() == 0

    run(loop, body)


# -- an unclosed writer ----------------------------------------------------------------------


def test_unclosed_writer_warns_and_closes(loop):
    async def body():
        a, b = socket.socketpair()
        r, w = await aio.open_connection(sock=a)
        transport = w.transport
        assert repr(w).startswith("<StreamWriter transport=")
        with pytest.warns(ResourceWarning, match=r"^unclosed <StreamWriter") as record:
            del w
            gc.collect()
        assert len(record) == 1
        assert transport.is_closing()  # closed by __del__, as asyncio's
        await asyncio.sleep(0.01)  # the transport closes its socket on the next turn
        b.close()

    run(loop, body)


def test_closed_writer_does_not_warn(loop):
    async def body():
        a, b = socket.socketpair()
        r, w = await aio.open_connection(sock=a)
        w.close()
        await w.wait_closed()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            del w
            gc.collect()
        b.close()

    run(loop, body)


def test_writer_collected_after_its_loop_closed_says_so():
    # as asyncio's: "loop is closed" (only asyncio's loop lets a writer
    # outlive it with an open transport here)
    lp = asyncio.new_event_loop()
    a, b = socket.socketpair()
    try:
        r, w = lp.run_until_complete(aio.open_connection(sock=a))
    finally:
        lp.close()
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        del r, w
        gc.collect()
    # the transport, collected too, warns about itself (asyncio's does)
    assert [str(x.message) for x in record if x.category is ResourceWarning
            and not str(x.message).startswith("unclosed transport")] == ["loop is closed"]
    a.close()
    b.close()


# -- StreamReader() outside a running loop, as asyncio's on this Python ----------------------

PROBE = textwrap.dedent("""\
    import asyncio, sys, warnings
    sys.path.insert(0, sys.argv[1])
    import nocopy.aio as aio

    def outcome(cls):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            try:
                r = cls()
                res = "loop" if r._loop is asyncio.get_event_loop_policy().get_event_loop() else "other"
            except Exception as e:
                res = type(e).__name__ + ": " + str(e)
        return res, sorted((x.category.__name__, str(x.message)) for x in w)

    for cls in ({"asyncio": asyncio.StreamReader, "nocopy": aio.StreamReader}[sys.argv[2]],):
        out = []
        out.append(outcome(cls))                 # nothing set yet: the policy makes one
        asyncio.set_event_loop(None)
        out.append(outcome(cls))                 # RuntimeError
        lp = asyncio.new_event_loop()
        asyncio.set_event_loop(lp)
        out.append(outcome(cls))                 # the current loop
        async def inside():
            return cls()._loop is asyncio.get_running_loop()
        out.append(lp.run_until_complete(inside()))
        asyncio.set_event_loop(None)
        lp.close()
        print(repr(out))
""")


def test_stream_reader_without_a_running_loop_as_asyncio():
    src = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
    out = {}
    for impl in ("asyncio", "nocopy"):  # each in a fresh process: the probe sets the policy's loop
        res = subprocess.run([sys.executable, "-c", PROBE, src, impl], capture_output=True,
                             text=True, timeout=60)
        assert res.returncode == 0, res.stderr
        out[impl] = res.stdout
    ours = out["nocopy"]
    assert ours == out["asyncio"]
    assert "RuntimeError" in ours and "True" in ours


def test_stream_reader_protocol_without_a_loop_raises():
    # as asyncio's (test_streamreaderprotocol_constructor_* cover the rest)
    lp = asyncio.new_event_loop()
    try:
        reader = aio.StreamReader(loop=lp)
        asyncio.set_event_loop(None)
        with pytest.raises(RuntimeError, match="no current event loop"):
            aio.StreamReaderProtocol(reader)
        with pytest.raises(RuntimeError, match="no current event loop"):
            asyncio.StreamReaderProtocol(reader)
    finally:
        lp.close()


# -- the rest of the asyncio surface ---------------------------------------------------------


@pytest.mark.parametrize("setup", [
    lambda r: None,
    lambda r: r.feed_data(b"data"),
    lambda r: r.feed_eof(),
    lambda r: (r.feed_data(b"abc"), r.feed_eof()),
    lambda r: r.set_exception(RuntimeError("x")),
])
@pytest.mark.parametrize("limit", [2 ** 16, 123])
def test_repr_as_asyncio(setup, limit):
    lp = asyncio.new_event_loop()
    try:
        ours = aio.StreamReader(limit=limit, loop=lp)
        theirs = asyncio.StreamReader(limit=limit, loop=lp)
        setup(ours)
        setup(theirs)
        assert repr(ours) == repr(theirs)
    finally:
        lp.close()


def test_a_set_exception_is_raised_by_every_read_as_asyncio(loop):
    async def body():
        for name, args in [("read", (2,)), ("readexactly", (2,)), ("readline", ()),
                           ("readuntil", (b"\n",)), ("read", (-1,))]:
            outcomes = []
            for r in (aio.StreamReader(), asyncio.StreamReader()):
                r.feed_data(b"line\nmore")
                r.set_exception(ValueError("boom"))
                with pytest.raises(ValueError, match="boom") as e:
                    await getattr(r, name)(*args)
                outcomes.append(type(e.value))
            assert outcomes[0] is outcomes[1] is ValueError, name

    run(loop, body)


def test_flow_control_mixin_and_a_writer_without_reader(loop):
    async def body():
        lp = asyncio.get_running_loop()
        a, b = socket.socketpair()

        class Sink(aio.FlowControlMixin, asyncio.Protocol):
            pass

        transport, proto = await lp.create_connection(lambda: Sink(lp), sock=a)
        w = aio.StreamWriter(transport, proto, None, lp)
        w.set_write_buffer_limits(high=1024)
        drained = 0

        async def drainer():
            nonlocal drained
            await w.drain()
            drained += 1

        b.setblocking(False)
        w.write(b"x" * (1 << 22))  # far above the high-water mark: paused
        assert proto._paused
        tasks = [asyncio.ensure_future(drainer()) for _ in range(5)]
        await asyncio.sleep(0.01)
        assert drained == 0
        got = 0
        while got < (1 << 22):
            try:
                got += len(b.recv(1 << 20))
            except BlockingIOError:
                await asyncio.sleep(0.001)
        await asyncio.gather(*tasks)
        assert drained == 5
        w.close()
        b.close()
        with pytest.raises(ConnectionResetError):
            await asyncio.sleep(0.01)
            await w.drain()

    run(loop, body)


def test_limit_overrun_takes_asyncio_arguments():
    e = LimitOverrun("message", 10)
    assert isinstance(e, asyncio.LimitOverrunError)
    assert (str(e), e.consumed, e.partial) == ("message", 10, None)
    for proto in range(pickle.HIGHEST_PROTOCOL + 1):
        e2 = pickle.loads(pickle.dumps(e, protocol=proto))
        assert (str(e2), e2.consumed, e2.partial) == ("message", 10, None)
    e = LimitOverrun("m", b"abc")
    assert (e.partial, e.consumed) == (b"abc", 3)
    e = LimitOverrun("m", b"abc", 1)
    assert (e.partial, e.consumed) == (b"abc", 1)


# -- readuntil with a tuple of separators (asyncio 3.13's, on every version) -----------------

from hypothesis import given, settings, strategies as st  # noqa: E402

SEP_ALPHABET = st.sampled_from([b"a", b"b", b"\r", b"\n"])
SEPS = st.lists(st.lists(SEP_ALPHABET, min_size=1, max_size=3).map(b"".join), min_size=1,
                max_size=3).map(tuple)
CHUNKS = st.lists(st.lists(SEP_ALPHABET | st.just(b"x"), max_size=8).map(b"".join), max_size=6)


def shortest_record(data, seps):
    ends = [data.find(s) + len(s) for s in seps if data.find(s) >= 0]
    return data[:min(ends)] if ends else None


async def feed_later(reader, chunks):
    for c in chunks:
        await asyncio.sleep(0)
        reader.feed_data(c)
    reader.feed_eof()


@settings(max_examples=60)
@given(SEPS, CHUNKS, st.sampled_from(LOOPS))
def test_readuntil_tuple_matches_the_definition(seps, chunks, loop):
    data = b"".join(chunks)
    want = shortest_record(data, seps)

    async def body():
        r = aio.StreamReader()
        feeder = asyncio.ensure_future(feed_later(r, chunks))
        try:
            got = await r.readuntil(seps)
            assert type(got) is View
            got = ("ok", bytes(got), bytes(await r.read()))
        except asyncio.IncompleteReadError as e:
            got = ("eof", bytes(e.partial), e.expected)
        await feeder
        return got

    got = run(loop, body)
    if want is None:
        assert got == ("eof", data, None)
    else:
        assert got == ("ok", want, data[len(want):])


@pytest.mark.skipif(sys.version_info < (3, 13), reason="asyncio takes a tuple from 3.13")
@settings(max_examples=60)
@given(SEPS, CHUNKS, st.integers(1, 12))
def test_readuntil_tuple_against_asyncio_with_limits(seps, chunks, limit):
    async def one(r):
        for c in chunks:
            r.feed_data(c)
        r.feed_eof()
        try:
            return ("ok", bytes(await r.readuntil(seps)), r._buffer)
        except asyncio.LimitOverrunError as e:
            return ("limit", "is found" in str(e), e.consumed, bytes(r._buffer))
        except asyncio.IncompleteReadError as e:
            return ("eof", bytes(e.partial), bytes(r._buffer))

    async def body():
        return await one(asyncio.StreamReader(limit=limit)), await one(aio.StreamReader(limit=limit))

    theirs, ours = run("asyncio", body)
    assert ours == theirs


def test_readuntil_tuple_errors(loop):
    async def body():
        r = aio.StreamReader()
        with pytest.raises(ValueError, match="contain at least one"):
            await r.readuntil(())
        with pytest.raises(ValueError, match="at least one-byte"):
            await r.readuntil((b"a", b""))
        r.feed_data(b"some dataA")
        r2 = aio.StreamReader(limit=3)
        r2.feed_data(b"some dataA")
        with pytest.raises(LimitOverrun, match="is found") as e:
            await r2.readuntil((b"A", b"ome dataA"))
        assert e.value.consumed == 9 and r2._buffer == b"some dataA"
        assert await r.readuntil((bytearray(b"A"), memoryview(b"me"))) == b"some"
    run(loop, body)


@pytest.mark.skipif(sys.version_info < (3, 12), reason="__buffer__ in Python classes: 3.12+")
def test_readuntil_tuple_hostile_separator(loop):
    # Converting a separator runs Python code (__buffer__): it may feed the
    # reader, fail it, or eat its bytes.  The read sees the state after it.
    async def body():
        r = aio.StreamReader()
        r.feed_data(b"ab")

        class Feeds:
            def __buffer__(self, flags):
                r.feed_data(b"c\n")
                return memoryview(b"\n")

        assert await r.readuntil((Feeds(), b"zz")) == b"abc\n"

        class Fails:
            def __buffer__(self, flags):
                r.set_exception(ConnectionResetError("gone"))
                return memoryview(b"\n")

        r.feed_data(b"more\n")
        with pytest.raises(ConnectionResetError):
            await r.readuntil((b"q", Fails()))

        r2 = aio.StreamReader()
        r2.feed_data(b"line\nrest")

        class Eats:
            def __buffer__(self, flags):
                r2._buf.consume(len(r2._buf))  # what another read would do
                r2.feed_eof()
                return memoryview(b"\n")

        with pytest.raises(asyncio.IncompleteReadError) as e:
            await r2.readuntil((Eats(),))
        assert e.value.partial == b""

        class Raises:
            def __buffer__(self, flags):
                raise OverflowError("no")

        r3 = aio.StreamReader()
        r3.feed_data(b"keep\n")
        with pytest.raises(OverflowError):
            await r3.readuntil((b"\n", Raises()))
        assert r3._buffer == b"keep\n"  # nothing consumed

    run(loop, body)


def test_start_tls_with_a_bad_context_leaves_the_plain_stream_working(loop):
    async def body():
        async def echo(reader, writer):
            async for line in reader:
                writer.write(line)
            writer.close()

        server = await aio.start_server(echo, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        r, w = await aio.open_connection("127.0.0.1", port, limit=8)
        w.write(b"123456789\n")  # fills the 9-byte buffer: start_tls makes room first
        await wait_buffered(r, 9)
        with pytest.raises(TypeError):
            await w.start_tls("not an SSLContext")
        assert w.get_extra_info("sslcontext") is None
        assert await r.readexactly(10) == b"123456789\n"
        w.write(b"again\n")
        assert await r.readline() == b"again\n"
        w.close()
        await w.wait_closed()
        server.close()
        await server.wait_closed()

    run(loop, body)


def test_pipe_path_per_loop(loop):
    # nocopy's protocol over a pipe: uvloop's pipe transport receives straight
    # into the reader's buffer; asyncio's has only data_received (one copy).
    async def body():
        lp = asyncio.get_running_loop()
        rfd, wfd = os.pipe()
        r = aio.StreamReader(loop=lp)
        copies = []
        feed = r.feed_data

        def counting_feed(data):
            copies.append(len(data))
            feed(data)

        r.feed_data = counting_feed
        t, _ = await lp.connect_read_pipe(lambda: aio.StreamReaderProtocol(r, loop=lp),
                                          open(rfd, "rb", 0))
        os.write(wfd, b"hello\n" * 1000)
        os.close(wfd)
        assert await r.read() == b"hello\n" * 1000
        assert (sum(copies) == 6000) if loop == "asyncio" else (copies == [])
        t.close()

    run(loop, body)


def test_no_leak_in_the_dropin_paths():
    # tuple separators (found, over the limit, at EOF), the asyncio-style
    # LimitOverrun, and a reader/protocol/writer trio collected unclosed-free
    from leakcheck import assert_no_leak

    lp = asyncio.new_event_loop()
    try:
        def tuple_reads():
            r = aio.StreamReader(limit=8, loop=lp)
            r.feed_data(b"ab\r\ncd\nxxxxxxxxxxxx")
            lp.run_until_complete(r.readuntil((b"\n", b"\r\n")))
            lp.run_until_complete(r.readuntil((b"\n", b"\r\n")))
            try:
                lp.run_until_complete(r.readuntil((b"|", b"||")))
            except LimitOverrun:
                pass
            r.feed_eof()
            r._buf.consume(len(r._buf))
            try:
                lp.run_until_complete(r.readuntil((b"|",)))
            except asyncio.IncompleteReadError:
                pass
            LimitOverrun("m", 3)

        class Transport:
            closing = False

            def is_closing(self):
                return self.closing

            def close(self):
                self.closing = True

            def get_extra_info(self, name, default=None):
                return default

        def trio():
            r = aio.StreamReader(loop=lp)
            p = aio.StreamReaderProtocol(r, loop=lp)
            t = Transport()
            p.connection_made(t)
            w = aio.StreamWriter(t, p, r, lp)
            repr(w)
            w.close()
            p.connection_lost(None)

        assert_no_leak(tuple_reads, n=3000, warmup=300)
        assert_no_leak(trio, n=3000, warmup=300)
    finally:
        lp.close()
