"""nocopy.serve's server life cycle and the second review's findings:
wait_closed() waiters, accept at EMFILE, TLS closes after a CLOSE reply,
connections that finish a handshake after close(), progress of a slow reader
on the transport engine, async-with's bounded exit."""
import asyncio
import logging
import os
import resource
import socket
import ssl
import threading
import time

import pytest

from aio_loops import LOOPS, run
from serve_helpers import make_cert

from nocopy.serve import CLOSE, Delimited, start_server


def echo_line(msg, out):
    out.write(msg)
    out.write(b"\n")


@pytest.mark.parametrize("loop", LOOPS)
def test_wait_closed_waiters_all_wake(loop):
    async def body():
        s = await start_server(echo_line, "127.0.0.1", 0, framing=Delimited(b"\n"))
        port = s.sockets[0].getsockname()[1]
        alone = asyncio.ensure_future(s.wait_closed())
        r, w = await asyncio.open_connection("127.0.0.1", port)
        w.write(b"a\n")
        assert await r.readline() == b"a\n"
        t1, t2 = asyncio.ensure_future(s.wait_closed()), asyncio.ensure_future(s.wait_closed())
        await asyncio.sleep(0.05)
        assert not (alone.done() or t1.done() or t2.done())
        s.close()
        w.close()
        await asyncio.wait_for(asyncio.gather(alone, t1, t2), 5)
        assert s.connections == 0

    run(loop, body)


def test_accept_at_emfile_backs_off(caplog):
    """The socket engine's own accept loop (the transport engine's accepting
    is asyncio's, which backs off the same way after logging)."""
    engine = "socket"
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    records = []

    class Count(logging.Handler):
        def emit(self, r):
            records.append(r)

    async def body():
        s = await start_server(echo_line, "127.0.0.1", 0, framing=Delimited(b"\n"), engine=engine)
        port = s.sockets[0].getsockname()[1]
        c = socket.socket()
        c.setblocking(False)
        hold = []
        try:
            try:
                while len(hold) < 100000:
                    hold.append(os.open("/dev/null", os.O_RDONLY))
            except OSError:
                pass
            os.close(hold.pop())  # one descriptor left: the client's socket
            try:
                c.connect(("127.0.0.1", port))
            except BlockingIOError:
                pass
            t0 = time.process_time()
            await asyncio.sleep(0.5)
            cpu = time.process_time() - t0
        finally:
            for fd in hold:
                os.close(fd)
        # descriptors again: the pending connection is accepted after the retry
        await asyncio.sleep(1.2)
        assert cpu < 0.3, f"accept loop spun: {cpu:.2f} s of CPU in 0.5 s"
        c.close()
        await s.shutdown(1)

    h = Count()
    for name in ("nocopy.serve",):
        logging.getLogger(name).addHandler(h)
    # a little room above what the process has open now (whatever ran before)
    resource.setrlimit(resource.RLIMIT_NOFILE, (len(os.listdir("/proc/self/fd")) + 64, hard))
    try:
        run("asyncio", body)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        for name in ("nocopy.serve",):
            logging.getLogger(name).removeHandler(h)
    assert len(records) < 20, f"{len(records)} log records at EMFILE"


@pytest.mark.parametrize("loop", LOOPS)
def test_tls_reply_then_close_arrives_whole_with_close_notify(loop, tmp_path, caplog):
    cert, key = make_cert(str(tmp_path))
    n = 40000

    def handler(msg, out):
        out.write(b"R" * n + b"\n")
        return CLOSE

    def client(port, res):
        cc = ssl.create_default_context()
        cc.check_hostname = False
        cc.verify_mode = ssl.CERT_NONE
        raw = socket.create_connection(("127.0.0.1", port))
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        with cc.wrap_socket(raw, suppress_ragged_eofs=False) as s:
            s.sendall(b"q\n")
            time.sleep(0.3)
            got = 0
            try:
                while True:
                    d = s.recv(65536)
                    if not d:
                        res.append(("eof", got))
                        break
                    got += len(d)
            except Exception as e:
                res.append((repr(e), got))

    async def body():
        sc = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        sc.load_cert_chain(cert, key)

        def small_sndbuf(conn):
            conn.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)

        s = await start_server(handler, "127.0.0.1", 0, framing=Delimited(b"\n"), ssl=sc,
                               out_size=1 << 18, on_connect=small_sndbuf)
        port = s.sockets[0].getsockname()[1]
        res = []
        t = threading.Thread(target=client, args=(port, res))
        t.start()
        while t.is_alive():
            await asyncio.sleep(0.05)
        await s.shutdown(2)
        return res

    caplog.set_level(logging.WARNING)
    res = run(loop, body)
    assert res == [("eof", n + 1)]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], \
        [r.getMessage() for r in caplog.records]


@pytest.mark.parametrize("loop", LOOPS)
def test_handshake_finishing_after_close_is_not_served(loop, tmp_path):
    cert, key = make_cert(str(tmp_path))

    async def body():
        sc = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        sc.load_cert_chain(cert, key)
        s = await start_server(echo_line, "127.0.0.1", 0, framing=Delimited(b"\n"), ssl=sc)
        port = s.sockets[0].getsockname()[1]
        raw = socket.create_connection(("127.0.0.1", port))  # accepted, no handshake yet
        await asyncio.sleep(0.1)
        s.close()
        cc = ssl.create_default_context()
        cc.check_hostname = False
        cc.verify_mode = ssl.CERT_NONE

        def late():
            try:
                with cc.wrap_socket(raw) as t:
                    t.sendall(b"after-close\n")
                    return t.recv(100)
            except (OSError, ssl.SSLError):
                return b""

        got = await asyncio.get_running_loop().run_in_executor(None, late)
        assert got == b""
        assert s.connections == 0
        await s.shutdown(1)

    run(loop, body)


@pytest.mark.parametrize("loop", LOOPS)
def test_transport_engine_slow_reader_making_progress_is_not_cut(loop):
    n_msgs, size = 40, 10000

    def handler(msg, out):
        out.write(b"x" * size)

    async def body():
        s = await start_server(handler, "127.0.0.1", 0, framing=Delimited(b"\n"), engine="transport",
                               idle_timeout=0.6, out_size=1 << 15)
        port = s.sockets[0].getsockname()[1]
        c = socket.socket()
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        c.setblocking(False)
        loop_ = asyncio.get_running_loop()
        await loop_.sock_connect(c, ("127.0.0.1", port))
        await loop_.sock_sendall(c, b"go\n" * n_msgs)
        got = 0
        t0 = loop_.time()
        while got < n_msgs * size and loop_.time() - t0 < 15:
            try:
                d = await asyncio.wait_for(loop_.sock_recv(c, 8192), 2)
            except TimeoutError:
                break
            if not d:
                break
            got += len(d)
            await asyncio.sleep(0.02)  # ~400 KB/s: slow, but steady progress
        c.close()
        await s.shutdown(1)
        return got

    assert run(loop, body, timeout=30) == n_msgs * size


@pytest.mark.parametrize("loop", LOOPS)
def test_async_with_exit_is_bounded(loop):
    def handler(msg, out):
        out.write(b"y" * 30000)

    async def body():
        s = await start_server(handler, "127.0.0.1", 0, framing=Delimited(b"\n"), engine="transport",
                               out_size=1 << 16)
        s.exit_timeout = 0.5
        port = s.sockets[0].getsockname()[1]
        c = socket.socket()
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        c.connect(("127.0.0.1", port))
        c.sendall(b"a\n" * 200)  # never read
        await asyncio.sleep(0.2)
        t0 = time.monotonic()
        async with s:
            pass
        c.close()
        return time.monotonic() - t0

    assert run(loop, body) < 3
