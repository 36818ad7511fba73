"""The seed's sensor server (examples/sensor_server.py), its plain-asyncio
twin and the expert's asyncio.Protocol + orjson version: same answers, bad input handled with bounded memory and time, and no
retained allocation per request in the nocopy one."""
import asyncio
import gc
import json
import os
import socket
import struct
import sys
import tracemalloc

import pytest
import leakcheck

from aio_loops import LOOPS, run

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")
sys.path.insert(0, EXAMPLES)

import sensor_common  # noqa: E402
import sensor_server  # noqa: E402
import sensor_server_plain  # noqa: E402
import sensor_server_expert  # noqa: E402
import sensor_server_streams  # noqa: E402

from nocopy import _core  # noqa: E402


@pytest.fixture(autouse=True, scope="module")
def _alloc_counter_off_afterwards():
    """The servers' Stats start nocopy's allocation counter; leave the
    process's allocators as this module found them."""
    try:
        _core._alloc_count_start()
        _core._alloc_count_stop()
        was_running = False
    except RuntimeError:
        was_running = True
    yield
    if not was_running:
        try:
            _core._alloc_count_stop()
        except RuntimeError:
            pass  # not running (no server was made)


SERVERS = {"nocopy": sensor_server.SensorServer, "plain": sensor_server_plain.PlainSensorServer,
           "expert": sensor_server_expert.ExpertSensorServer,
           "streams": sensor_server_streams.SensorServer}
GET = b"GET /sensors HTTP/1.1\r\nHost: t\r\n\r\n"


async def start(kind, head_timeout=sensor_common.HEAD_TIMEOUT):
    s = SERVERS[kind](head_timeout)
    server = await s.start("127.0.0.1", 0)
    return s, server, server.sockets[0].getsockname()[1]


async def stop(s, server):
    s.watchdog.stop()
    server.close()
    await server.wait_closed()


async def read_response(reader, head_only=False):
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {k.lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
    body = b"" if head_only else await reader.readexactly(int(headers["content-length"]))
    return status, headers, body


async def exchange(port, raw, *, head_only=False):
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(raw)
    res = await read_response(r, head_only)
    w.close()
    return res


def both(fn):
    """Run fn(kind, port) against each server on each loop."""
    def test(loop, kind):
        async def body():
            s, server, port = await start(kind)
            try:
                await fn(kind, port, s)
            finally:
                await stop(s, server)
        run(loop, body)
    test.__name__ = fn.__name__
    return pytest.mark.parametrize("kind", sorted(SERVERS))(pytest.mark.parametrize("loop", LOOPS)(test))


@both
async def test_sensors_json_keep_alive_and_changing(kind, port, s):
    r, w = await asyncio.open_connection("127.0.0.1", port)
    docs = []
    for _ in range(5):
        w.write(GET)
        status, headers, body = await read_response(r)
        assert status == 200 and headers["content-type"] == "application/json"
        assert 550 <= len(body) <= 700, len(body)
        assert "connection" not in headers
        docs.append(json.loads(body))
    assert [d["seq"] for d in docs] == list(range(docs[0]["seq"], docs[0]["seq"] + 5))
    assert len(docs[0]["sensors"]) == 8
    # the readings change from request to request
    assert len({tuple(x["value"] for x in d["sensors"]) for d in docs}) >= 2
    # pipelined requests are answered in order on the same connection
    w.write(GET * 3)
    seqs = [json.loads((await read_response(r))[2])["seq"] for _ in range(3)]
    assert seqs == [docs[-1]["seq"] + 1, docs[-1]["seq"] + 2, docs[-1]["seq"] + 3]
    w.close()


@both
async def test_routes_and_methods(kind, port, s):
    status, headers, body = await exchange(port, b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert b"<canvas" in body and b"/sensors" in body
    assert b"<script src" not in body and b"https://" not in body and b"http://" not in body
    status, headers, body = await exchange(port, b"HEAD /sensors HTTP/1.1\r\n\r\n", head_only=True)
    assert status == 200 and int(headers["content-length"]) > 500
    status, _, body = await exchange(port, b"GET /nope HTTP/1.1\r\n\r\n")
    assert status == 404
    status, headers, _ = await exchange(port, b"DELETE /sensors HTTP/1.1\r\n\r\n")
    assert status == 405 and headers["connection"] == "close"
    status, _, body = await exchange(port, b"GET /stats HTTP/1.1\r\n\r\n")
    st = json.loads(body)
    assert status == 200 and st["server"] in ("nocopy", "plain asyncio", "expert asyncio") and st["requests"] >= 3
    status, _, body = await exchange(port, b"GET /stats/reset HTTP/1.1\r\n\r\n")
    assert json.loads(body) == {"reset": True}


@both
async def test_close_semantics(kind, port, s):
    for raw in (b"GET /sensors HTTP/1.0\r\n\r\n",
                b"GET /sensors HTTP/1.1\r\nConnection: close\r\n\r\n",
                b"GET /sensors HTTP/1.1\r\nconnection:CLOSE\r\n\r\n"):
        r, w = await asyncio.open_connection("127.0.0.1", port)
        w.write(raw)
        status, headers, body = await read_response(r)
        assert status == 200 and headers["connection"] == "close"
        assert await r.read() == b""  # and the server closed
        w.close()


@pytest.mark.parametrize("loop", LOOPS)
def test_the_three_servers_answer_alike(loop):
    """Status, headers and body (the JSON documents' shape) per request are
    the same from each server."""
    requests = [b"GET /sensors HTTP/1.1\r\nHost: t\r\n\r\n", b"GET /sensors HTTP/1.0\r\n\r\n",
                b"HEAD /sensors HTTP/1.1\r\n\r\n", b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n",
                b"GET /index.html HTTP/1.1\r\n\r\n", b"HEAD / HTTP/1.0\r\n\r\n",
                b"GET /nope HTTP/1.1\r\n\r\n", b"GET /nope HTTP/1.0\r\n\r\n",
                b"GET /stats HTTP/1.1\r\n\r\n", b"GET /stats/reset HTTP/1.1\r\n\r\n",
                b"PUT /sensors HTTP/1.1\r\n\r\n", b"GET /sensors HTTP/2.0\r\n\r\n",
                b"GET /sensors HTTP/1.1\r\nContent-Length: 00\r\n\r\n",
                b"GET /sensors HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi"]

    def shape(doc):
        if isinstance(doc, dict):
            return {k: shape(v) for k, v in doc.items() if k != "server"}
        if isinstance(doc, list):
            return [shape(v) for v in doc]
        return doc if isinstance(doc, str) else type(doc).__name__

    async def body():
        answers = {}
        for kind in sorted(SERVERS):
            s, server, port = await start(kind)
            try:
                for raw in requests:
                    status, headers, data = await exchange(port, raw, head_only=raw.startswith(b"HEAD"))
                    if headers["content-type"] == "application/json":
                        assert 0 < int(headers.pop("content-length")) == len(data) or not data
                        data = shape(json.loads(data)) if data else None
                    answers.setdefault(raw, {})[kind] = status, headers, data
            finally:
                await stop(s, server)
        # (the streams server answers HEAD of a 404 with its body, and
        # /stats/reset with "Connection: close" keeps the connection, as
        # the plain one does: the requests above avoid those two)
        differ = [(raw, by_kind) for raw, by_kind in answers.items()
                  if len({repr(v) for v in by_kind.values()}) != 1]
        assert not differ, differ

    run(loop, body)


async def expect_close(port, raw, *, within, statuses):
    """Send raw, expect one of statuses (None: no response at all) and a close."""
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(raw)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    async with asyncio.timeout(within):
        data = await r.read()
        while True:
            more = await r.read(65536)
            if not more:
                break
            data += more
    elapsed = loop.time() - t0
    w.close()
    status = int(data.split(b" ", 2)[1]) if data else None
    assert status in statuses, data[:80]
    return elapsed


@both
async def test_bad_requests_get_400_and_close(kind, port, s):
    for raw in (b"\x00\x01\x02\xff\xfe garbage\r\n\r\n",
                b"GET /sensors HTTP/9.9\r\n\r\n",
                b"GET sensors HTTP/1.1\r\n\r\n",
                b"GET /sensors HTTP/1.1\r\nbad header line\r\n\r\n",
                b"GET /sensors HTTP/1.1\r\nX: a\rb\r\n\r\n",
                b"GET /sensors HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
                b"GET /sensors HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
                bytes(range(256)) * 4 + b"\r\n\r\n"):
        assert await expect_close(port, raw, within=5, statuses={400}) < 5


@both
async def test_header_past_the_limit_gets_431(kind, port, s):
    long_line = b"GET /sensors HTTP/1.1\r\nX-Long: " + b"a" * 20000 + b"\r\n\r\n"
    await expect_close(port, long_line, within=5, statuses={431})
    many = b"GET /sensors HTTP/1.1\r\n" + b"X-H: 0123456789\r\n" * 1000 + b"\r\n"
    await expect_close(port, many, within=5, statuses={431})
    # binary garbage that never contains a blank line: 431 at the limit
    await expect_close(port, os.urandom(9000).replace(b"\r\n", b"xx"), within=5, statuses={431, 400})


@pytest.mark.parametrize("kind", sorted(SERVERS))
@pytest.mark.parametrize("loop", LOOPS)
def test_partial_request_and_bare_lf_time_out(loop, kind):
    async def body():
        s, server, port = await start(kind, head_timeout=0.3)
        try:
            # never finishes: 408, then close, within the head timeout (+ a sweep)
            t = await expect_close(port, b"GET /sensors HTTP/1.1\r\nHost: t\r\n", within=3,
                                   statuses={408})
            assert t < 2
            # bare LF line ends never make a CRLF head: same bounded fate
            t = await expect_close(port, b"GET /sensors HTTP/1.1\n\n", within=3, statuses={408, 400})
            assert t < 2
            # an idle keep-alive connection is closed silently
            t = await expect_close(port, b"", within=3, statuses={None})
            assert t < 2
            # the server still answers
            assert (await exchange(port, GET))[0] == 200
        finally:
            await stop(s, server)

    run(loop, body)


@both
async def test_client_disconnecting_mid_response(kind, port, s):
    for _ in range(20):
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
        r, w = await asyncio.open_connection(sock=sock)
        w.write(b"GET / HTTP/1.1\r\n\r\n" * 50 + GET * 50)  # ~300 KB of answers, unread
        await asyncio.sleep(0.005)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        w.transport.abort()  # RST while the server is still writing
    await asyncio.sleep(0.1)
    assert (await exchange(port, GET))[0] == 200
    assert not s.watchdog.conns or len(s.watchdog.conns) <= 1


@pytest.mark.parametrize("loop", LOOPS)
def test_nocopy_server_retains_nothing_per_request(loop):
    """tracemalloc on the nocopy server: zero blocks retained per request in
    a steady state (nothing traced to the server's or nocopy's code grows)."""
    async def body():
        s, server, port = await start("nocopy")
        r, w = await asyncio.open_connection("127.0.0.1", port)

        async def batch(n):
            for _ in range(n // 10):
                w.write(GET * 10)
                for _ in range(10):
                    await read_response(r)

        try:
            await batch(300)
            gc.collect()
            tracemalloc.start()
            try:
                await batch(100)
                gc.collect()
                snap0 = tracemalloc.take_snapshot()
                blocks0 = sys.getallocatedblocks()
                await batch(1000)
                gc.collect()
                blocks1 = sys.getallocatedblocks()
                snap1 = tracemalloc.take_snapshot()
            finally:
                tracemalloc.stop()
            ours = [tracemalloc.Filter(True, os.path.join(EXAMPLES, "sensor_*")),
                    tracemalloc.Filter(True, "*/nocopy/*")]
            diff = snap1.filter_traces(ours).compare_to(snap0.filter_traces(ours), "lineno")
            grown = sum(d.count_diff for d in diff if d.count_diff > 0)
            assert grown <= 5, [str(d) for d in diff[:5]]
            if leakcheck.BLOCKS_COUNTED:  # 0 under PYTHONMALLOC=malloc (make asan)
                assert blocks1 - blocks0 < 200, "1000 requests: the process grew"
        finally:
            w.close()
            await stop(s, server)

    run(loop, body, timeout=60)


def test_handler_allocates_far_less_than_plain():
    """The allocation counter behind /stats: the nocopy handler allocates a
    small constant per request, the plain one an order of magnitude more."""
    async def body():
        out = {}
        for kind in ("nocopy", "plain"):
            s, server, port = await start(kind)
            r, w = await asyncio.open_connection("127.0.0.1", port)
            for _ in range(20):
                w.write(GET)
                await read_response(r)
            s.stats.reset()
            for _ in range(200):
                w.write(GET)
                await read_response(r)
            out[kind] = s.stats.snapshot()["handling_alloc_per_request"]
            w.close()
            await stop(s, server)
        return out

    per = run("asyncio", body)
    assert per["nocopy"] < 40 and per["plain"] > 3 * per["nocopy"], per
