"""CPython's own test_streams (Lib/test/test_asyncio/test_streams.py, vendored
from 3.11.7, 3.12.1 and 3.13.0 in tests/cpython_streams/: the file of the
running Python's version, 3.13's on later ones) with nocopy.aio substituted for
asyncio's stream API: StreamReader, StreamWriter, StreamReaderProtocol,
open_connection, start_server, the Unix variants, FlowControlMixin, and
nocopy's IncompleteRead / LimitOverrun for asyncio's errors.  Reads are
compared as bytes (a View compares by content).  The test bodies are
CPython's; each change is a documented difference, marked ``# nocopy:`` at
its site and listed in docs/from-stdlib.md."""
import importlib
import sys

_version = min(max(sys.version_info[:2], (3, 11)), (3, 13))
test_streams = importlib.import_module("cpython_streams.test_streams_%d%d" % _version)
StreamTests = test_streams.StreamTests
tearDownModule = test_streams.tearDownModule

__all__ = ["StreamTests"]


def test_the_substitution_is_in_effect():
    # A pass above means nocopy passed: the vendored module's ``asyncio``
    # must hand out nocopy's stream API, and its reads must be Views.
    import asyncio as real

    import nocopy
    import nocopy.aio as aio

    a = test_streams.asyncio
    for name in ("StreamReader", "StreamWriter", "StreamReaderProtocol", "open_connection",
                 "start_server", "open_unix_connection", "start_unix_server"):
        assert getattr(a, name) is getattr(aio, name), name
    assert a.streams.FlowControlMixin is aio.FlowControlMixin
    assert a.IncompleteReadError is nocopy.IncompleteRead
    assert a.LimitOverrunError is nocopy.LimitOverrun
    assert a.new_event_loop is real.new_event_loop  # the rest is asyncio's

    loop = real.new_event_loop()
    try:
        r = a.StreamReader(loop=loop)
        r.feed_data(b"line\n")
        line = loop.run_until_complete(r.readline())
        assert type(line) is nocopy.View and line == b"line\n"
    finally:
        loop.close()
