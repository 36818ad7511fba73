"""Client-side helpers for tests/test_serve.py: the wire oracles (struct and
a plain-Python LEB128 encoder), reads with deadlines that say what arrived,
a self-signed certificate for the TLS tests and the allocation test's client
(a separate process, so its allocations are not counted with the server's);
and for the tests that drive a socket-engine connection by hand
(test_hostile_serve.py, test_serve_poller.py): a _Conn subclass that records
its hooks, and the socketpair helpers."""
import asyncio
import os
import shutil
import socket
import struct
import subprocess

import pytest

PREFIX_FMT = {"u8": "B", "u16": "H", "u32": "I"}


def uvarint(n):
    """LEB128, the oracle for the server's uvarint prefix."""
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def prefix_bytes(kind, byteorder, n):
    if kind == "uvarint":
        return uvarint(n)
    return struct.pack((">" if byteorder == "big" else "<") + PREFIX_FMT[kind], n)


def u32_frames(data):
    """Split `data` into u32-big-endian-prefixed payloads (the replies of the
    echoing handlers); AssertionError on trailing bytes."""
    out, i = [], 0
    while i < len(data):
        assert i + 4 <= len(data), f"truncated reply prefix at {i}: {data[i:]!r}"
        (n,) = struct.unpack_from(">I", data, i)
        assert i + 4 + n <= len(data), f"truncated reply at {i}: wants {n}, has {len(data) - i - 4}"
        out.append(data[i + 4:i + 4 + n])
        i += 4 + n
    return out


async def recv_exact(reader, n, timeout=5.0, what="reply"):
    """Exactly n bytes, or an AssertionError saying what did arrive."""
    got = bytearray()
    try:
        async with asyncio.timeout(timeout):
            while len(got) < n:
                b = await reader.read(n - len(got))
                if not b:
                    break
                got += b
    except TimeoutError:
        pass
    except ConnectionResetError as e:
        raise AssertionError(f"{what}: reset after {len(got)} of {n} bytes: {bytes(got[-200:])!r}") from e
    if len(got) != n:
        raise AssertionError(f"{what}: {len(got)} of {n} bytes before EOF/timeout: {bytes(got[-200:])!r}")
    return bytes(got)


async def read_to_eof(reader, timeout=5.0, what="connection"):
    """Everything up to EOF: (data, "eof" | "reset"); AssertionError when the
    server neither closes nor resets within `timeout`."""
    got = bytearray()
    try:
        async with asyncio.timeout(timeout):
            while True:
                b = await reader.read(65536)
                if not b:
                    return bytes(got), "eof"
                got += b
    except TimeoutError:
        raise AssertionError(f"{what}: not closed within {timeout}s; got {bytes(got[-200:])!r}") from None
    except ConnectionResetError:
        return bytes(got), "reset"


async def nothing_for(reader, secs):
    """The bytes that arrive within `secs` (the caller expects b"")."""
    try:
        return await asyncio.wait_for(reader.read(65536), secs)
    except TimeoutError:
        return b""


async def until(pred, timeout=3.0, what="condition"):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not pred():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.005)


async def stable(fn, quiet=0.15, timeout=3.0):
    """fn()'s value once it has not changed for `quiet` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last, since = fn(), loop.time()
    while loop.time() < deadline:
        await asyncio.sleep(0.02)
        v = fn()
        if v != last:
            last, since = v, loop.time()
        elif loop.time() - since >= quiet:
            return v
    return last


async def raw_connect(port, rcvbuf=None):
    """A non-blocking client socket connected on the running loop."""
    s = socket.socket()
    if rcvbuf is not None:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.setblocking(False)
    await asyncio.get_running_loop().sock_connect(s, ("127.0.0.1", port))
    return s


async def raw_recv_exact(sock, n, timeout=10.0, what="reply"):
    loop = asyncio.get_running_loop()
    buf = bytearray(n)
    mv = memoryview(buf)
    got = 0
    try:
        async with asyncio.timeout(timeout):
            while got < n:
                k = await loop.sock_recv_into(sock, mv[got:])
                if k == 0:
                    break
                got += k
    except TimeoutError:
        pass
    except ConnectionResetError as e:
        raise AssertionError(f"{what}: reset after {got} of {n} bytes") from e
    finally:
        mv.release()
    if got != n:
        raise AssertionError(f"{what}: {got} of {n} bytes before EOF/timeout")
    return buf


def make_cert(directory):
    """(certfile, keyfile) of a self-signed certificate for localhost and
    127.0.0.1: made with `cryptography` when installed, else `openssl req`,
    else the one committed in tests/tls; skips when none is available."""
    cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    try:
        import datetime
        import ipaddress

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:
        pass
    else:
        k = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
        now = datetime.datetime.now(datetime.timezone.utc)
        c = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
             .public_key(k.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(now - datetime.timedelta(days=1))
             .not_valid_after(now + datetime.timedelta(days=2))
             .add_extension(x509.SubjectAlternativeName(
                 [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                 critical=False)
             .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
             .sign(k, hashes.SHA256()))
        with open(cert, "wb") as f:
            f.write(c.public_bytes(serialization.Encoding.PEM))
        with open(key, "wb") as f:
            f.write(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))
        return cert, key
    openssl = shutil.which("openssl")
    if openssl:
        r = subprocess.run(
            [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=localhost",
             "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
            capture_output=True, timeout=60)
        if r.returncode == 0:
            return cert, key
    committed = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tls")
    if os.path.exists(os.path.join(committed, "localhost-cert.pem")):
        return (os.path.join(committed, "localhost-cert.pem"),
                os.path.join(committed, "localhost-key.pem"))
    pytest.skip("no way to make a certificate: neither the cryptography package, "
                "nor a working `openssl req`, nor tests/tls")


# The allocation test's client, run as a separate process so that none of
# its allocations count: `python -c ALLOC_CLIENT port n`.  Blocking sockets,
# one 16-byte request and one 16-byte reply at a time: 500 warm-up requests,
# then b"!start" (the server reads the counter), n requests, b"!stop" (it
# reads it again).
ALLOC_CLIENT = r'''
import socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
s = socket.create_connection(("127.0.0.1", port))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
buf = bytearray(16)
def go(k, req):
    assert len(req) == 16
    for _ in range(k):
        s.sendall(req)
        got = 0
        while got < 16:
            r = s.recv_into(memoryview(buf)[got:])
            if r == 0:
                sys.exit("server closed early")
            got += r
        if bytes(buf) != b"+OK-0123456789\r\n":
            sys.exit("bad reply %r" % bytes(buf))
go(500, b"ping-012345678\r\n")
go(1, b"!start-0123456\r\n")
go(n, b"ping-012345678\r\n")
go(1, b"!stop-01234567\r\n")
s.close()
'''


# ---- driving a socket-engine connection by hand (socketpairs, no loop) ----

from nocopy._core import _Conn  # noqa: E402


class SockConn(_Conn):
    """A socket-engine connection whose hooks record what happened; the fd
    it hands back at the end is closed unless keep_fd is set."""
    keep_fd = False

    def _mode(self, mode):
        self.log.append(("mode", mode))

    def _closed(self, exc, how, fd):
        self.log.append(("closed", exc, how))
        if fd >= 0 and not self.keep_fd:
            os.close(fd)

    def _write(self, view):
        raise AssertionError("a socket-engine connection never calls _write")

    def _failed(self, exc):
        self.log.append(("failed", exc))


def socket_conn(handler, cls=SockConn, **kw):
    """(connection, peer): a socket-engine connection of cls over one end of
    a socketpair (both non-blocking), Delimited(b"\\n", limit=64) unless
    kw says otherwise, 128-byte buffers by default."""
    from nocopy.serve import CLOSE, Delimited
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    args = dict(Delimited(b"\n", limit=64)._args(), in_size=kw.pop("in_size", 128),
                out_size=kw.pop("out_size", 128), close_token=CLOSE)
    args.update(kw)
    c = cls(a.detach(), handler, **args)
    c.log = []
    return c, b


def fill_send_path(c):
    """Fill the server side's socket buffers so replies cannot go out."""
    dup = socket.socket(fileno=os.dup(c._fileno))
    dup.setblocking(False)
    try:
        while True:
            dup.send(b"j" * 4096)
    except BlockingIOError:
        pass
    dup.close()


def drain(peer):
    """What the peer can read now (up to EOF), as bytes."""
    got = bytearray()
    while True:
        try:
            b = peer.recv(1 << 20)
        except BlockingIOError:
            return bytes(got)
        if not b:
            return bytes(got)
        got += b
