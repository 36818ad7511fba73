"""Type stubs for nocopy.io (kept apart from io.py so that edits to the code
and to its types merge independently; stubtest checks the two agree)."""
import socket
import struct
from collections.abc import Iterable, Iterator
from typing import Any, Literal, Protocol, SupportsFloat, SupportsIndex, overload, type_check_only

from typing_extensions import Buffer, Self

from ._core import ByteBuffer, Rope, View

__all__ = ["read_into", "read_chunks", "write_all", "Reader", "Writer"]

@type_check_only
class _ReadInto(Protocol):
    def readinto(self, buf: Any, /) -> int | None: ...

@type_check_only
class _Write(Protocol):
    def write(self, data: Any, /) -> int | None: ...

# Reader.read_exact/readline and Writer.write are instance attributes bound
# to the ByteBuffer's C methods (no Python frame per call): typed as such.
@type_check_only
class _ReadExact(Protocol):
    def __call__(self, n: SupportsIndex, /) -> View: ...

@type_check_only
class _ReadLine(Protocol):
    def __call__(self) -> View: ...

@type_check_only
class _WriteMethod(Protocol):
    def __call__(self, data: Buffer, offset: SupportsIndex = 0,
                 length: SupportsIndex | None = None) -> int: ...

# The typed cursors (ByteBuffer.read_u32 ...) bound the same way.
@type_check_only
class _ReadInt(Protocol):
    def __call__(self, byteorder: Literal["big", "little"] = "big") -> int: ...

@type_check_only
class _ReadFloat(Protocol):
    def __call__(self, byteorder: Literal["big", "little"] = "big") -> float: ...

@type_check_only
class _ReadVarint(Protocol):
    def __call__(self) -> int: ...

@type_check_only
class _ReadStruct(Protocol):
    def __call__(self, s: struct.Struct, /) -> tuple[Any, ...]: ...

@type_check_only
class _WriteInt(Protocol):
    def __call__(self, value: SupportsIndex, byteorder: Literal["big", "little"] = "big") -> int: ...

@type_check_only
class _WriteFloat(Protocol):
    def __call__(self, value: SupportsFloat | SupportsIndex,
                 byteorder: Literal["big", "little"] = "big") -> int: ...

@type_check_only
class _WriteVarint(Protocol):
    def __call__(self, value: SupportsIndex, /) -> int: ...

@type_check_only
class _WriteStruct(Protocol):
    def __call__(self, s: struct.Struct, /, *values: Any) -> int: ...

# A source: a file descriptor, a socket, or anything with readinto().
_Source = int | socket.socket | _ReadInto
# A destination: a file descriptor, a socket, or anything with write().
_Dest = int | socket.socket | _Write

@overload
def read_into(src: _Source, buf: Buffer | ByteBuffer, *,
              with_address: Literal[False] = False) -> int | None: ...
@overload
def read_into(src: socket.socket, buf: Buffer | ByteBuffer, *,
              with_address: Literal[True]) -> tuple[int, Any] | None: ...
def read_chunks(src: _Source, chunk_size: int = 65536, *,
                limit: int | None = None) -> Rope: ...
def write_all(dst: _Dest, data: Buffer | Rope | Iterable[Buffer]) -> int: ...

class Reader:
    def __init__(self, src: _Source, buffer_size: SupportsIndex = 65536) -> None: ...
    @property
    def buffer(self) -> ByteBuffer: ...
    @property
    def at_eof(self) -> bool: ...
    read_exact: _ReadExact
    read_u8: _ReadInt
    read_u16: _ReadInt
    read_u32: _ReadInt
    read_u64: _ReadInt
    read_i8: _ReadInt
    read_i16: _ReadInt
    read_i32: _ReadInt
    read_i64: _ReadInt
    read_f32: _ReadFloat
    read_f64: _ReadFloat
    read_uvarint: _ReadVarint
    read_varint: _ReadVarint
    read_struct: _ReadStruct
    readline: _ReadLine
    def peek(self, n: SupportsIndex | None = None) -> View: ...
    def read(self, n: SupportsIndex | None = None) -> View: ...
    def read_until(self, delim: Buffer = b"\n", *, limit: SupportsIndex | None = None) -> View: ...
    def readinto(self, b: Buffer) -> int: ...
    def read_bytes(self, n: SupportsIndex | None = -1) -> bytes: ...
    def lines(self, keepends: bool = False, *, reuse: bool = False) -> Iterator[View]: ...
    def __iter__(self) -> Iterator[View]: ...

class Writer:
    def __init__(self, dst: _Dest, buffer_size: SupportsIndex = 65536) -> None: ...
    @property
    def buffer(self) -> ByteBuffer: ...
    @property
    def closed(self) -> bool: ...
    write: _WriteMethod
    write_u8: _WriteInt
    write_u16: _WriteInt
    write_u32: _WriteInt
    write_u64: _WriteInt
    write_i8: _WriteInt
    write_i16: _WriteInt
    write_i32: _WriteInt
    write_i64: _WriteInt
    write_f32: _WriteFloat
    write_f64: _WriteFloat
    write_uvarint: _WriteVarint
    write_varint: _WriteVarint
    write_struct: _WriteStruct
    def write_fmt(self, fmt: Buffer, /, *args: Any) -> int: ...
    def write_int(self, n: SupportsIndex, /) -> int: ...
    def write_float(self, x: SupportsFloat | SupportsIndex, /) -> int: ...
    def writelines(self, parts: Iterable[Buffer]) -> None: ...
    def reserve(self, n: SupportsIndex) -> View: ...
    def commit(self, n: SupportsIndex) -> None: ...
    def flush(self) -> None: ...
    def close(self) -> None: ...
    def __del__(self) -> None: ...
    def __enter__(self) -> Self: ...
    def __exit__(self, *exc: object) -> None: ...
