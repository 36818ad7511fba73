"""asyncio, with nocopy.aio standing in for its stream API: what the vendored
test_streams.py sees as ``asyncio``.  Everything else (loops, futures, tasks,
child watchers, the subprocess API) is asyncio's own."""
import asyncio as _asyncio
import types as _types

import nocopy.aio as _aio
from nocopy import IncompleteRead as _IncompleteRead, LimitOverrun as _LimitOverrun

# The stream API: the names asyncio/streams.py exports, plus the two
# errors its readers raise and the flow-control base (asyncio.streams.
# FlowControlMixin, which test_multiple_drain reaches through the module).
STREAM_API = {
    "StreamReader": _aio.StreamReader,
    "StreamWriter": _aio.StreamWriter,
    "StreamReaderProtocol": _aio.StreamReaderProtocol,
    "open_connection": _aio.open_connection,
    "start_server": _aio.start_server,
    "open_unix_connection": _aio.open_unix_connection,
    "start_unix_server": _aio.start_unix_server,
    "IncompleteReadError": _IncompleteRead,
    "LimitOverrunError": _LimitOverrun,
}

streams = _types.SimpleNamespace(FlowControlMixin=_aio.FlowControlMixin,
                                 **{k: v for k, v in STREAM_API.items()
                                    if not k.endswith("Error")})

globals().update(STREAM_API)


def __getattr__(name):
    return getattr(_asyncio, name)
