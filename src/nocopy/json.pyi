from collections.abc import Callable
from typing import Any, Protocol

from typing_extensions import Buffer

from .errors import BufferTooSmall as BufferTooSmall

__all__ = ["dumps_into", "dumps", "dump", "BufferTooSmall"]

class _Committing(Protocol):
    def writable(self) -> Buffer: ...
    def commit(self, n: int, /) -> Any: ...

class _JsonStream(Protocol):
    # nocopy.io.Writer, nocopy.aio.StreamWriter: dumps_into hands the document to it
    @property
    def write_json(self) -> Callable[..., int]: ...

def dumps_into(
    obj: Any, buf: Buffer | _Committing | _JsonStream, /, offset: int = 0, *,
    skipkeys: bool = False, ensure_ascii: bool = False, check_circular: bool = True,
    allow_nan: bool = True, sort_keys: bool = False, indent: int | str | None = None,
    separators: tuple[str, str] | None = None, default: Callable[[Any], Any] | None = None,
) -> int: ...
def dumps(
    obj: Any, /, *,
    skipkeys: bool = False, ensure_ascii: bool = False, check_circular: bool = True,
    allow_nan: bool = True, sort_keys: bool = False, indent: int | str | None = None,
    separators: tuple[str, str] | None = None, default: Callable[[Any], Any] | None = None,
) -> bytes: ...
def dump(
    obj: Any, fp: Any, *, buffer_size: int = 65536,
    skipkeys: bool = False, ensure_ascii: bool = False, check_circular: bool = True,
    allow_nan: bool = True, sort_keys: bool = False, indent: int | str | None = None,
    separators: tuple[str, str] | None = None, default: Callable[[Any], Any] | None = None,
) -> int: ...
