"""nocopy.aio StreamWriter.write_rope: Ropes with file segments sent by
loop.sendfile (asyncio's TCP/Unix transports) or bounded pread chunks
(uvloop, TLS), in order with the memory segments around them, without
loading the file into the Rope."""
import asyncio
import os
import socket
import tempfile
import tracemalloc

import pytest

import nocopy.aio as aio
from nocopy import Rope, View

from aio_loops import LOOPS, run

pytestmark = pytest.mark.parametrize("loop", LOOPS)


def make_file(data):
    d = tempfile.mkdtemp(prefix="nocopy-aio-file-")
    p = os.path.join(d, "f")
    with open(p, "wb") as f:
        f.write(data)
    return p


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


def unloaded(r):
    return sum(type(s) is tuple for s in r.raw_segments())


def test_write_rope_mixes_files_and_memory_in_order(loop):
    data = os.urandom(3 << 20)
    p = make_file(data)

    async def body():
        r, w, pr, pw = await pair()
        rope = Rope([b"<a>"])
        with open(p, "rb") as f:
            rope.append_file(f, 100, 2 << 20)
        rope.append(bytearray(b"<b>"))
        rope.append(View(b"..<c>..", 2, 5))
        with open(p, "rb") as f:
            rope.append_file(f, 0, 5000)
            rope.append_file(f, 7, 1)
        want = b"<a>" + data[100:100 + (2 << 20)] + b"<b><c>" + data[:5000] + data[7:8]
        w.write(b"[before]")
        reader = asyncio.ensure_future(pr.read())
        n = await w.write_rope(rope)
        w.write(b"[after]")
        await w.drain()
        w.write_eof()
        got = await reader
        assert n == len(want)
        assert got == b"[before]" + want + b"[after]"
        assert unloaded(rope) == 3, "write_rope read no file segment into the Rope"
        await close_all(w, pw)

    run(loop, body)


def test_write_rope_uses_sendfile_where_native(loop):
    p = make_file(b"z" * 100_000)

    async def body():
        r, w, pr, pw = await pair()
        calls = []
        real = w._loop.sendfile

        async def spy(*args, **kwargs):
            calls.append(args[2:])
            return await real(*args, **kwargs)
        native = w._native_sendfile()
        if loop == "asyncio":
            assert native, "asyncio's socket transport supports sendfile natively"
            w._loop.sendfile = spy
        rope = Rope()
        with open(p, "rb") as f:
            rope.append_file(f, 10, 99_000)
        reader = asyncio.ensure_future(pr.read())
        try:
            assert await w.write_rope(rope) == 99_000
        finally:
            if loop == "asyncio":
                del w._loop.sendfile
        w.write_eof()
        assert await reader == b"z" * 99_000
        if loop == "asyncio":
            assert calls == [(10, 99_000)]
        await close_all(w, pw)

    run(loop, body)


def test_write_rope_memory_stays_bounded(loop):
    size = 4 << 20
    p = make_file(b"q" * size)

    async def body():
        r, w, pr, pw = await pair()
        rope = Rope()
        with open(p, "rb") as f:
            rope.append_file(f)
        got = [0]

        async def count():
            while True:
                x = await pr.read(1 << 16)
                if not x:
                    return
                got[0] += len(x)
        reader = asyncio.ensure_future(count())
        tracemalloc.start()
        try:
            await w.write_rope(rope)
            await w.drain()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        w.write_eof()
        await reader
        assert got[0] == size
        # the peer's reads are counted too; the sender adds at most a chunk
        # and the transport's high-water mark
        assert peak < 1 << 20, f"peak {peak} bytes for a {size}-byte file"
        await close_all(w, pw)

    run(loop, body)


def test_write_rope_truncated_file_raises(loop):
    p = make_file(b"t" * 200_000)

    async def body():
        r, w, pr, pw = await pair()
        rope = Rope()
        with open(p, "rb") as f:
            rope.append_file(f, 1000)
        os.truncate(p, 5000)
        reader = asyncio.ensure_future(pr.read())
        with pytest.raises(OSError, match="truncated"):
            await w.write_rope(rope)
        w.close()
        got = await reader
        assert got == b"t" * 4000  # what the file still had, then nothing
        await close_all(w, pw)

    run(loop, body)


def test_write_rope_without_files_is_write(loop):
    async def body():
        r, w, pr, pw = await pair()
        rope = Rope([b"abc", bytearray(b"def"), View(b"xghix", 1, 4)])
        assert await w.write_rope(rope) == 9
        assert await w.write_rope(Rope()) == 0
        w.write_eof()
        assert await pr.read() == b"abcdefghi"
        await close_all(w, pw)

    run(loop, body)


def test_write_loads_file_segments(loop):
    p = make_file(b"0123456789")

    async def body():
        r, w, pr, pw = await pair()
        rope = Rope([b"<"])
        with open(p, "rb") as f:
            rope.append_file(f, 2, 5)
        rope.append(b">")
        w.write(rope)  # the sync write: segments() loads the file segment
        assert unloaded(rope) == 0
        w.write_eof()
        assert await pr.read() == b"<23456>"
        await close_all(w, pw)

    run(loop, body)


@pytest.fixture(scope="module")
def tls_cert():
    # a self-signed certificate for localhost, valid for a century, committed
    # so the TLS tests need no openssl binary on the machine (as CPython's
    # own test suite ships keycert.pem)
    d = os.path.join(os.path.dirname(__file__), "tls")
    return os.path.join(d, "localhost-cert.pem"), os.path.join(d, "localhost-key.pem")


def test_write_rope_over_tls_reads_in_chunks(loop, tls_cert):
    import ssl
    data = os.urandom(300_000)
    p = make_file(data)

    async def body():
        sctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        sctx.load_cert_chain(*tls_cert)
        cctx = ssl.create_default_context()
        cctx.load_verify_locations(tls_cert[0])
        done = asyncio.get_running_loop().create_future()

        async def sink(reader, writer):
            got = bytearray()
            while True:
                x = await reader.read(1 << 16)
                if not x:
                    break
                got += x
            done.set_result(bytes(got))
            writer.close()

        server = await aio.start_server(sink, "127.0.0.1", 0, ssl=sctx)
        port = server.sockets[0].getsockname()[1]
        r, w = await aio.open_connection("127.0.0.1", port, ssl=cctx,
                                         server_hostname="localhost")
        assert not w._native_sendfile(), "TLS: no sendfile to the raw socket"
        rope = Rope([b"<"])
        with open(p, "rb") as f:
            rope.append_file(f, 3)
        rope.append(b">")
        assert await w.write_rope(rope) == len(data) - 3 + 2
        await w.drain()
        w.close()
        await w.wait_closed()
        assert await done == b"<" + data[3:] + b">"
        assert unloaded(rope) == 1
        server.close()
        await server.wait_closed()

    run(loop, body)


def test_write_rope_leaves_the_callers_file_position(loop):
    # the region's fd is a dup: it shares the caller's file position, which
    # loop.sendfile lseeks at the end (it moved from 10 to 51_000)
    data = os.urandom(60_000)
    p = make_file(data)

    async def body():
        r, w, pr, pw = await pair()
        with open(p, "rb", buffering=0) as f:
            assert f.read(10) == data[:10]
            rope = Rope()
            rope.append_file(f, 1000, 50_000)
            reader = asyncio.ensure_future(pr.read())
            assert await w.write_rope(rope) == 50_000
            w.write_eof()
            assert await reader == data[1000:51_000]
            assert f.tell() == 10
            assert f.read(5) == data[10:15]
        await close_all(w, pw)

    run(loop, body)
