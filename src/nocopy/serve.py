"""Message serving without an await per request.

A server is a framing and a plain function::

    from nocopy.serve import start_server, Delimited, CLOSE

    def handle(msg, out):          # msg: borrowed View of one message
        out.write(b"+OK\\r\\n")     # out: the connection's output ByteBuffer
        # return CLOSE to close once the replies are sent

    server = await start_server(handle, "127.0.0.1", 7070, framing=Delimited(b"\\r\\n"))

The C connection (``nocopy._core._Conn``) receives into its input buffer,
frames, calls ``handle`` once per complete message and sends the replies
straight from ``out``: no coroutine, future, task or bytes object per
message.  Two engines run the same connections: ``"socket"`` (non-blocking
sockets; recv and send in C) and ``"transport"`` (the connection is an
asyncio ``BufferedProtocol``: TLS, and loops without ``add_reader``).

The socket engine waits for its sockets through one epoll instance per
server on Linux (``nocopy._core._Poller``), which the loop watches as a
single reader: the loop's per-socket work (a selector key, a Handle, a
Context run) is paid once per batch of ready connections instead of once
per request.  Elsewhere each socket is the loop's own reader/writer.
"""
import asyncio
import errno
import logging
import os
import socket
import time
from collections.abc import Callable
from typing import Any

from . import _core
from ._core import _Conn

__all__ = ["CLOSE", "Connection", "Delimited", "Fixed", "LengthPrefixed", "Server", "start_server"]

_log = logging.getLogger("nocopy.serve")

_DEFAULT_IN = 65536
# How long a lingering close waits for the peer's FIN, and how much it drops meanwhile.
_LINGER_SECONDS = 1.0
_LINGER_BYTES = 1 << 20
# How long accepting pauses when the process is out of descriptors (asyncio's delay).
_ACCEPT_RETRY = 1.0
# The socket engine's poller (Linux): False makes every socket the loop's own
# reader, as on other platforms (the tests run both ways).
_use_poller = hasattr(_core, "_Poller")


class _CloseToken:
    __slots__ = ()

    def __repr__(self) -> str:
        return "nocopy.serve.CLOSE"

    def __reduce__(self) -> str:
        return "CLOSE"


CLOSE = _CloseToken()
"""Return this from a handler to close the connection once its replies are sent."""


def _limit_arg(limit: Any, what: str = "limit") -> int:
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise TypeError(f"{what} must be an int, not {type(limit).__name__}")
    if limit < 1:
        raise ValueError(f"{what} must be at least 1, not {limit}")
    return limit


class Delimited:
    """Messages end at ``delim`` (not part of the message unless ``keep``).
    ``limit``: the most bytes before the delimiter; past it the connection
    answers ``limit_reply`` and closes."""

    __slots__ = ("delim", "limit", "keep")

    def __init__(self, delim: Any, *, limit: int = 65536, keep: bool = False) -> None:
        if isinstance(delim, str):
            raise TypeError("delimiter must be a bytes-like object, not str")
        d = bytes(memoryview(delim).cast("B"))
        if not d:
            raise ValueError("delimiter must not be empty")
        self.delim = d
        self.limit = _limit_arg(limit)
        self.keep = bool(keep)

    def _args(self) -> dict[str, Any]:
        return {"kind": 0, "delim": self.delim, "width": 0, "little": False,
                "keep": self.keep, "limit": self.limit}

    def __repr__(self) -> str:
        return f"Delimited({self.delim!r}, limit={self.limit}, keep={self.keep})"


_PREFIXES = {"u8": 1, "u16": 2, "u32": 4, "uvarint": 0}


class LengthPrefixed:
    """Messages are a length, then that many bytes: ``prefix`` "u8", "u16",
    "u32" (``byteorder`` "big" or "little") or "uvarint" (unsigned LEB128 as
    protobuf reads it: at most 10 bytes and 63 bits -- else a framing error,
    answered like a length over the limit; a non-minimal encoding is
    accepted).  The message is the payload (``keep``: prefix included).  A
    length above ``limit`` is refused as soon as the prefix arrives."""

    __slots__ = ("prefix", "byteorder", "limit", "keep")

    def __init__(self, prefix: str = "u32", *, byteorder: str = "big", limit: int = 1 << 20,
                 keep: bool = False) -> None:
        if prefix not in _PREFIXES:
            raise ValueError(f"prefix must be one of {', '.join(_PREFIXES)}, not {prefix!r}")
        if byteorder not in ("big", "little"):
            raise ValueError(f"byteorder must be 'big' or 'little', not {byteorder!r}")
        self.prefix = prefix
        self.byteorder = byteorder
        self.limit = _limit_arg(limit)
        self.keep = bool(keep)

    def _args(self) -> dict[str, Any]:
        return {"kind": 1, "delim": None, "width": _PREFIXES[self.prefix],
                "little": self.byteorder == "little", "keep": self.keep, "limit": self.limit}

    def __repr__(self) -> str:
        return (f"LengthPrefixed({self.prefix!r}, byteorder={self.byteorder!r}, "
                f"limit={self.limit}, keep={self.keep})")


class Fixed:
    """Every message is ``size`` bytes."""

    __slots__ = ("size",)

    def __init__(self, size: int, /) -> None:
        self.size = _limit_arg(size, "size")

    def _args(self) -> dict[str, Any]:
        return {"kind": 2, "delim": None, "width": 0, "little": False, "keep": False,
                "limit": self.size}

    def __repr__(self) -> str:
        return f"Fixed({self.size})"


Handler = Callable[[Any, Any], object]


class Connection(_Conn):
    """One accepted connection.  ``close()`` (graceful), ``abort()``,
    ``out`` (the output ByteBuffer), ``messages``, ``closed``, ``handler``
    (settable), ``peername``, ``user`` (free for the application),
    ``get_extra_info(name)``."""

    __slots__ = ("user", "peername", "_server", "_loop", "__dict__")

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "peername":
            return self.peername
        return self._extra(name, default)

    def _extra(self, name: str, default: Any) -> Any:
        return default

    def _kill(self) -> None:
        self.abort()

    def _sweep(self, now: float) -> None:
        self._check_deadline(now)

    def _failed(self, exc: BaseException) -> None:
        _log.error("nocopy.serve: the handler raised on a message from %s; connection closed",
                  self.peername, exc_info=exc)

    def __repr__(self) -> str:
        state = "closed" if self.closed else "closing" if self.closing else "open"
        return f"<nocopy.serve.Connection {self.peername!r} {state} messages={self.messages}>"


def _log_end(conn: Connection, exc: BaseException | None) -> None:
    if exc is None:
        return
    if isinstance(exc, (ConnectionError, TimeoutError)) or (
            isinstance(exc, OSError) and exc.errno in (errno.ECONNRESET, errno.EPIPE, errno.ETIMEDOUT)):
        _log.debug("nocopy.serve: connection from %s ended: %r", conn.peername, exc)
    else:
        _log.error("nocopy.serve: connection from %s failed", conn.peername, exc_info=exc)


class _SocketConnection(Connection):
    __slots__ = ("_fd",)

    def _mode(self, mode: int) -> None:
        loop, fd = self._loop, self._fd
        if mode == 0:
            loop.remove_writer(fd)
            loop.add_reader(fd, self._on_readable)
        elif mode == 1:
            loop.remove_reader(fd)
            loop.add_writer(fd, self._on_writable)
        else:
            loop.remove_reader(fd)
            loop.remove_writer(fd)

    def _closed(self, exc: BaseException | None, how: int, fd: int) -> None:
        dup = self.__dict__.pop("_dup", None)
        if dup is not None:
            dup.close()
        if fd >= 0:
            loop = self._loop
            # without a poller the loop watches fd; with one nothing should
            # (its registration is gone already), but removing is cheap and
            # leaves no watch on a number about to be closed or reused
            if not loop.is_closed():
                loop.remove_reader(fd)
                loop.remove_writer(fd)
            sock = socket.socket(fileno=fd)
            if how == 1 and not loop.is_closed():
                self._server._linger(sock)
            else:
                sock.close()
        _log_end(self, exc)
        self._server._forget(self)

    def _extra(self, name: str, default: Any) -> Any:
        if name in ("sockname", "socket") and not self.closed:
            # One duplicate of the fd, kept until the end (asyncio's callers
            # never close what get_extra_info("socket") gives them); closing
            # it leaves the connection's own fd alone.
            s = self.__dict__.get("_dup")
            if s is None:
                s = self.__dict__["_dup"] = socket.socket(fileno=socket.dup(self._fd))
            return s if name == "socket" else s.getsockname()
        return default


class _TransportConnection(Connection, asyncio.BufferedProtocol):
    __slots__ = ("_transport",)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport
        self.peername = transport.get_extra_info("peername")
        self._server._adopt(self)

    def connection_lost(self, exc: BaseException | None) -> None:
        self._lost(exc)
        # only now: the transport sends what it holds after close()
        self._server._forget(self)

    def eof_received(self) -> bool:
        keep = _Conn.eof_received(self)
        # an SSL transport closes after EOF whatever we return (and warns
        # when told otherwise); our close follows once the replies are out
        return False if self._transport.get_extra_info("sslcontext") is not None else keep

    def _sweep(self, now: float) -> None:
        # the transport holds the replies: a buffer that shrank since the
        # last sweep is progress, as a partial send is on the socket engine
        size = self._transport.get_write_buffer_size()
        last = self.__dict__.get("_wsize")
        self.__dict__["_wsize"] = size
        if last is not None and size < last:
            self._progress()
        self._check_deadline(now)

    def _kill(self) -> None:
        self.abort()
        self._transport.abort()

    def _mode(self, mode: int) -> None:
        t = self._transport
        try:
            if mode == 1:
                t.pause_reading()
            elif mode == 0:
                t.resume_reading()
        except (NotImplementedError, RuntimeError):
            pass  # a transport that cannot pause (or is closing): its own buffering applies

    def _write(self, data: memoryview) -> None:
        self._transport.write(data)

    def _closed(self, exc: BaseException | None, how: int, fd: int) -> None:
        t = self._transport
        # at the loop's next pass: this may run inside the connection's own
        # call (a handler returning CLOSE), and an SSL transport's close reads
        # from the protocol at once
        if exc is None and how != 2:
            self._loop.call_soon(t.close)  # sends what it holds, then connection_lost
        else:
            self._loop.call_soon(t.abort)
        _log_end(self, exc)

    def _extra(self, name: str, default: Any) -> Any:
        return self._transport.get_extra_info(name, default)


class Server:
    """A running nocopy.serve server (start_server's result)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, handler: Handler, framing: Any,
                 engine: str, conn_args: dict[str, Any], on_connect: Any,
                 period: float | None) -> None:
        self._loop = loop
        self._handler = handler
        self._conn_args = conn_args
        self._on_connect = on_connect
        self.engine = engine
        self.framing = framing
        self._conns: set[Connection] = set()
        self._lsocks: list[socket.socket] = []
        self._aserver: asyncio.Server | None = None
        self._serving = True
        self._waiters: list[asyncio.Future[None]] = []
        self._lingering: dict[socket.socket, float] = {}
        self._sweeper: asyncio.Task[None] | None = None
        self._period = period
        self._poller: Any = None  # _core._Poller of the socket engine, while it serves

    # -- public ---------------------------------------------------------------------------

    @property
    def sockets(self) -> tuple[socket.socket, ...]:
        if self._aserver is not None:
            return tuple(self._aserver.sockets)
        return tuple(self._lsocks)

    @property
    def connections(self) -> int:
        return len(self._conns)

    @property
    def open_connections(self) -> tuple[Connection, ...]:
        return tuple(self._conns)

    def is_serving(self) -> bool:
        return self._serving

    def close(self) -> None:
        """Stop accepting; open connections go on."""
        if not self._serving:
            return
        self._serving = False
        for s in self._lsocks:
            if not self._loop.is_closed():
                self._loop.remove_reader(s.fileno())
            s.close()
        self._lsocks = []
        if self._aserver is not None:
            self._aserver.close()
        self._drop_poller()
        self._wake()

    async def wait_closed(self) -> None:
        """Until close() was called and every connection has ended."""
        while self._serving or self._conns:
            await self._wait_change()

    async def shutdown(self, timeout: float | None = None) -> None:
        """Stop accepting, close every connection gracefully (no new
        messages; replies written are sent), abort those still open after
        ``timeout`` seconds."""
        self.close()
        for c in list(self._conns):
            c.close()
        if self._conns:
            try:
                await asyncio.wait_for(self._wait_conns(), timeout)
            except TimeoutError:
                for c in list(self._conns):
                    c._kill()
                if self._conns:  # transports report their end at the next loop pass
                    await asyncio.wait_for(self._wait_conns(), 1.0)
        if self._aserver is not None:
            await self._aserver.wait_closed()
        self._stop_sweeper()
        for s in list(self._lingering):
            self._end_linger(s)

    async def serve_forever(self) -> None:
        try:
            await self._loop.create_future()  # until cancelled
        finally:
            self.close()

    async def __aenter__(self) -> "Server":
        return self

    # `async with server:` ends with shutdown(exit_timeout): a peer that never
    # reads its replies cannot hold the exit for ever
    exit_timeout = 10.0

    async def __aexit__(self, *exc: object) -> None:
        await self.shutdown(self.exit_timeout)

    def __repr__(self) -> str:
        return f"<nocopy.serve.Server {self.engine} {self.framing!r} connections={len(self._conns)}>"

    # -- internals ------------------------------------------------------------------------

    async def _wait_conns(self) -> None:
        while self._conns:
            await self._wait_change()

    async def _wait_change(self) -> None:
        fut = self._loop.create_future()
        self._waiters.append(fut)
        try:
            await fut
        finally:
            if fut in self._waiters:
                self._waiters.remove(fut)

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    def _new_conn(self, cls: type, fd: int) -> Connection:
        """A connection; it owns fd (>= 0) once made, and closes it if it
        is dropped unfinished."""
        conn: Connection = cls(fd, self._handler, close_token=CLOSE, **self._conn_args)
        conn._server = self
        conn._loop = self._loop
        conn.user = None
        conn.peername = None
        conn._fd = fd
        return conn

    def _adopt(self, conn: Connection) -> None:
        """A new connection: registered, then on_connect (which may close it)."""
        if not self._serving:
            # a TLS handshake that finished after close(): not served
            conn._kill()
            return
        self._conns.add(conn)
        if self._on_connect is not None:
            try:
                h = self._on_connect(conn)
                if h is not None:
                    conn.handler = h
            except Exception:
                _log.exception("nocopy.serve: on_connect raised for %s; connection closed",
                              conn.peername)
                conn.abort()

    def _forget(self, conn: Connection) -> None:
        self._conns.discard(conn)
        if not self._conns:
            self._drop_poller()
            self._wake()

    def _start_poller(self) -> None:
        poller = _core._Poller()
        try:
            self._loop.add_reader(poller.fileno(), poller.poll)
        except BaseException:
            poller.close()
            raise
        self._poller = poller

    def _drop_poller(self) -> None:
        """Once nothing is served or connected: the epoll fd goes."""
        poller = self._poller
        if poller is None or self._serving or self._conns:
            return
        self._poller = None
        if not self._loop.is_closed():
            self._loop.remove_reader(poller.fileno())
        poller.close()

    def _accept(self, lsock: socket.socket) -> None:
        # accept what is queued (bounded: the loop's other work goes on)
        for _ in range(64):
            try:
                sock, addr = lsock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                if e.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    # out of descriptors or memory: the pending connection
                    # keeps the listener readable, so stop watching it for a
                    # while (as asyncio does) instead of spinning
                    _log.error("nocopy.serve: accept failed (%s); retrying in %.0f s",
                               e, _ACCEPT_RETRY)
                    self._loop.remove_reader(lsock.fileno())
                    self._loop.call_later(_ACCEPT_RETRY, self._resume_accept, lsock)
                else:
                    _log.error("nocopy.serve: accept failed: %r", e)
                return
            try:
                sock.setblocking(False)
                if sock.family in (socket.AF_INET, socket.AF_INET6):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError as e:  # the peer is already gone
                _log.debug("nocopy.serve: connection from %s lost at accept: %r", addr, e)
                sock.close()
                continue
            fd = sock.detach()  # from here the fd is the connection's, or closed here
            try:
                conn = self._new_conn(_SocketConnection, fd)
            except Exception:
                _log.exception("nocopy.serve: could not set up a connection from %s", addr)
                os.close(fd)
                continue
            try:
                conn.peername = addr
            except Exception:
                _log.exception("nocopy.serve: could not set up a connection from %s", addr)
                conn.abort()
                continue
            # waiting on its socket before on_connect runs: what on_connect
            # does (a reply the socket cannot take yet, a close) changes the
            # registration from there, through the poller or _mode
            if self._poller is None:
                self._loop.add_reader(fd, conn._on_readable)
            else:
                try:
                    conn._attach(self._poller)
                except Exception:  # out of epoll watches (max_user_watches), or memory
                    _log.exception("nocopy.serve: could not watch the connection from %s", addr)
                    conn.abort()
                    continue
            self._adopt(conn)

    def _resume_accept(self, lsock: socket.socket) -> None:
        if self._serving and lsock in self._lsocks:
            self._loop.add_reader(lsock.fileno(), self._accept, lsock)

    def _make_protocol(self) -> _TransportConnection:
        return self._new_conn(_TransportConnection, -1)  # type: ignore[return-value]

    # lingering close: FIN sent, the peer's remaining input read and dropped,
    # so the kernel does not answer it with a reset that destroys the reply
    def _linger(self, sock: socket.socket) -> None:
        try:
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            sock.close()
            return
        self._lingering[sock] = time.monotonic() + _LINGER_SECONDS
        self._loop.add_reader(sock.fileno(), self._drain, sock, [0])
        self._ensure_sweeper(0.25)

    def _drain(self, sock: socket.socket, dropped: list[int]) -> None:
        try:
            data = sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        dropped[0] += len(data)
        if not data or dropped[0] > _LINGER_BYTES:
            self._end_linger(sock)

    def _end_linger(self, sock: socket.socket) -> None:
        if self._lingering.pop(sock, None) is None:
            return
        if not self._loop.is_closed():
            self._loop.remove_reader(sock.fileno())
        sock.close()

    def _ensure_sweeper(self, period: float) -> None:
        if self._period is None or period < self._period:
            self._period = period
        if self._sweeper is None or self._sweeper.done():
            self._sweeper = self._loop.create_task(self._sweep())

    def _stop_sweeper(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None

    async def _sweep(self) -> None:
        # one pass for every connection's deadline: nothing armed per request
        while True:
            await asyncio.sleep(self._period or 1.0)
            now = time.monotonic()
            for c in list(self._conns):
                try:
                    c._sweep(now)
                except Exception:  # a hook failed: the sweep goes on for the others
                    _log.exception("nocopy.serve: deadline check failed for %s", c.peername)
            for s, t in list(self._lingering.items()):
                if t < now:
                    self._end_linger(s)
            if not self._serving and not self._conns and not self._lingering:
                return


def _listen(host: str | None, port: int | None, backlog: int, reuse_port: bool) -> list[socket.socket]:
    infos = socket.getaddrinfo(host, port or 0, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    socks: list[socket.socket] = []
    seen = set()
    try:
        for family, type_, proto, _, addr in infos:
            if (family, addr) in seen:
                continue
            seen.add((family, addr))
            s = socket.socket(family, type_, proto)
            socks.append(s)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if reuse_port:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            if family == socket.AF_INET6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            s.bind(addr)
            s.listen(backlog)
            s.setblocking(False)
    except BaseException:
        for s in socks:
            s.close()
        raise
    return socks


def _has_add_reader(loop: asyncio.AbstractEventLoop) -> bool:
    proactor = getattr(asyncio, "ProactorEventLoop", None)
    return not (proactor is not None and isinstance(loop, proactor))


async def start_server(handler: Handler, host: str | None = None, port: int | None = None, *,
                       framing: Delimited | LengthPrefixed | Fixed, sock: socket.socket | None = None,
                       engine: str = "auto", ssl: Any = None, backlog: int = 1024,
                       reuse_port: bool = False, in_size: int | None = None,
                       out_size: int = 65536, out_headroom: int = 0, idle_timeout: float | None = None,
                       message_timeout: float | None = None, limit_reply: bytes | None = None,
                       timeout_reply: bytes | None = None,
                       on_connect: Callable[[Connection], Handler | None] | None = None) -> Server:
    """Serve ``handler(msg, out)`` for every message ``framing`` cuts from
    each connection.  See the module's documentation and docs/api/serve.md."""
    if not callable(handler):
        raise TypeError("handler must be callable")
    if not isinstance(framing, (Delimited, LengthPrefixed, Fixed)):
        raise TypeError("framing must be Delimited(...), LengthPrefixed(...) or Fixed(...)")
    if engine not in ("auto", "socket", "transport"):
        raise ValueError(f"engine must be 'auto', 'socket' or 'transport', not {engine!r}")
    if ssl is not None and engine == "socket":
        raise ValueError("ssl needs engine='transport' (or 'auto'): the socket engine sends in the clear")
    if on_connect is not None and not callable(on_connect):
        raise TypeError("on_connect must be callable or None")
    for name, v in (("limit_reply", limit_reply), ("timeout_reply", timeout_reply)):
        if v is not None and not isinstance(v, bytes):
            raise TypeError(f"{name} must be bytes or None")
    if isinstance(out_size, bool) or not isinstance(out_size, int) or out_size < 64:
        raise ValueError(f"out_size must be an int of at least 64, not {out_size!r}")
    if in_size is not None and (isinstance(in_size, bool) or not isinstance(in_size, int) or in_size < 1):
        raise ValueError(f"in_size must be a positive int or None, not {in_size!r}")
    for name, t in (("idle_timeout", idle_timeout), ("message_timeout", message_timeout)):
        if t is not None and not (t > 0):
            raise ValueError(f"{name} must be a positive number of seconds or None")
    loop = asyncio.get_running_loop()
    if engine == "auto":
        engine = "transport" if ssl is not None or not _has_add_reader(loop) else "socket"
    if isinstance(out_headroom, bool) or not isinstance(out_headroom, int) or out_headroom < 0:
        raise ValueError(f"out_headroom must be an int >= 0, not {out_headroom!r}")
    conn_args = dict(framing._args(), in_size=in_size or _DEFAULT_IN, out_size=out_size,
                     out_headroom=out_headroom,
                     limit_reply=limit_reply, timeout_reply=timeout_reply,
                     idle_timeout=idle_timeout, message_timeout=message_timeout,
                     transport=engine == "transport")
    timeouts = [t for t in (idle_timeout, message_timeout) if t is not None]
    period = min(1.0, min(timeouts) / 4) if timeouts else None
    server = Server(loop, handler, framing, engine, conn_args, on_connect, period)
    # the arguments are checked once here, not at the first connection
    _Conn(0, handler, close_token=CLOSE, **dict(conn_args, transport=True))
    if engine == "socket":
        if sock is not None:
            sock.setblocking(False)
            server._lsocks = [sock]
        else:
            server._lsocks = _listen(host, port, backlog, reuse_port)
        if _use_poller:
            try:
                server._start_poller()
            except BaseException:
                for s in server._lsocks:
                    s.close()
                raise
        for s in server._lsocks:
            loop.add_reader(s.fileno(), server._accept, s)
    else:
        server._aserver = await loop.create_server(
            server._make_protocol, host, port, sock=sock, ssl=ssl, backlog=backlog,
            reuse_port=reuse_port or None)
    if period is not None:
        server._ensure_sweeper(period)
    return server
