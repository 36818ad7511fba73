"""Type stubs for nocopy.serve: message serving without an await per request."""
import asyncio
import socket
import ssl as _ssl
from collections.abc import Callable
from typing import Any, Final, Literal

from typing_extensions import Buffer

from ._core import ByteBuffer, View, _Conn

__all__ = ["CLOSE", "Connection", "Delimited", "Fixed", "LengthPrefixed", "Server", "start_server"]

class _CloseToken: ...

CLOSE: Final[_CloseToken]

Handler = Callable[[View, ByteBuffer], object]

class Delimited:
    delim: bytes
    limit: int
    keep: bool
    def __init__(self, delim: Buffer, *, limit: int = 65536, keep: bool = False) -> None: ...

class LengthPrefixed:
    prefix: Literal["u8", "u16", "u32", "uvarint"]
    byteorder: Literal["big", "little"]
    limit: int
    keep: bool
    def __init__(self, prefix: Literal["u8", "u16", "u32", "uvarint"] = "u32", *,
                 byteorder: Literal["big", "little"] = "big", limit: int = 1048576,
                 keep: bool = False) -> None: ...

class Fixed:
    size: int
    def __init__(self, size: int, /) -> None: ...

class Connection(_Conn):
    user: Any
    peername: Any
    def get_extra_info(self, name: str, default: Any = None) -> Any: ...

class Server:
    engine: Literal["socket", "transport"]
    exit_timeout: float
    framing: Delimited | LengthPrefixed | Fixed
    # made by start_server
    def __init__(self, loop: asyncio.AbstractEventLoop, handler: Handler,
                 framing: Delimited | LengthPrefixed | Fixed, engine: str,
                 conn_args: dict[str, Any], on_connect: Callable[[Connection], Handler | None] | None,
                 period: float | None) -> None: ...
    @property
    def sockets(self) -> tuple[socket.socket, ...]: ...
    @property
    def connections(self) -> int: ...
    @property
    def open_connections(self) -> tuple[Connection, ...]: ...
    def is_serving(self) -> bool: ...
    def close(self) -> None: ...
    async def wait_closed(self) -> None: ...
    async def shutdown(self, timeout: float | None = None) -> None: ...
    async def serve_forever(self) -> None: ...
    async def __aenter__(self) -> Server: ...
    async def __aexit__(self, *exc: object) -> None: ...

async def start_server(
    handler: Handler, host: str | None = None, port: int | None = None, *,
    framing: Delimited | LengthPrefixed | Fixed, sock: socket.socket | None = None,
    engine: Literal["auto", "socket", "transport"] = "auto", ssl: _ssl.SSLContext | None = None,
    backlog: int = 1024, reuse_port: bool = False, in_size: int | None = None,
    out_size: int = 65536, out_headroom: int = 0, idle_timeout: float | None = None,
    message_timeout: float | None = None, limit_reply: bytes | None = None,
    timeout_reply: bytes | None = None,
    on_connect: Callable[[Connection], Handler | None] | None = None,
) -> Server: ...
