"""Hostile transports and callers against nocopy.aio's BufferedProtocol
(issue 13): the protocol must never make readable bytes the transport did not
write into the buffer it handed out, whatever the transport claims.

Each test failed on the main of issue 13 (the reader showed bytes nobody
received: heap garbage or an earlier message's bytes); see the docstrings.
"""
import asyncio

import pytest

import nocopy.aio as aio


class FakeTransport(asyncio.Transport):
    """A transport driven by hand: the test plays the event loop's part."""

    def __init__(self):
        super().__init__()
        self.paused = False
        self.closed = False

    def pause_reading(self):
        self.paused = True

    def resume_reading(self):
        self.paused = False

    def get_extra_info(self, name, default=None):
        return default

    def is_closing(self):
        return self.closed

    def close(self):
        self.closed = True

    def write(self, data):
        pass


def connect(limit=64):
    loop = asyncio.get_running_loop()
    proto = aio.StreamReaderProtocol(aio.StreamReader(limit, loop), loop=loop)
    proto.connection_made(FakeTransport())
    return proto, proto._reader


def receive(proto, data):
    """What a well-behaved transport does per recv_into."""
    buf = proto.get_buffer(-1)
    buf[:len(data)] = data
    proto.buffer_updated(len(data))


def run(coro):
    return asyncio.run(coro)


def test_buffer_updated_without_get_buffer_is_refused():
    """main: committed free space nobody wrote into (fresh, uninitialised
    storage: heap garbage read as received bytes)."""
    async def body():
        proto, reader = connect()
        with pytest.raises(RuntimeError, match="without a get_buffer"):
            proto.buffer_updated(16)
        assert reader.buffered == 0
        receive(proto, b"ok\n")
        assert bytes(await reader.readline()) == b"ok\n"

    run(body())


def test_buffer_updated_twice_is_refused():
    """main: the second call made readable 8 more bytes of the storage -- the
    tail of the previous message (b"word-123"), received again."""
    async def body():
        proto, reader = connect(limit=16)
        receive(proto, b"password-1234\n")
        assert bytes(await reader.readline()) == b"password-1234\n"
        await reader.read(0)  # the line is no longer lent
        buf = proto.get_buffer(-1)  # compacts: the storage is reused from 0
        buf[:3] = b"ok\n"
        proto.buffer_updated(3)
        with pytest.raises(RuntimeError, match="without a get_buffer"):
            proto.buffer_updated(8)
        assert bytes(reader.peek()) == b"ok\n"

    run(body())


def test_buffer_updated_after_the_buffer_moved_is_refused():
    """main: between get_buffer() and buffer_updated() the application's read
    compacted the buffer (a second get_buffer here, as a transport calling
    back into the protocol would); the commit then counted bytes at the new
    write position, which held an old message."""
    async def body():
        proto, reader = connect(limit=16)
        receive(proto, b"secret-9876\n")
        assert bytes(await reader.readline()) == b"secret-9876\n"
        receive(proto, b"ab")
        await reader.read(1)  # b"a" consumed: the buffer may compact
        first = proto.get_buffer(-1)
        first[:2] = b"XY"
        reader._buf.compact()  # the bytes under `first` move
        with pytest.raises(RuntimeError, match="moved or written"):
            proto.buffer_updated(2)
        assert bytes(reader.peek()) == b"b"

    run(body())


def test_buffer_updated_size_must_be_an_int():
    """Guard (main raised too, from commit()): the size is an int >= 0."""
    async def body():
        proto, reader = connect()
        proto.get_buffer(-1)
        with pytest.raises(TypeError):
            proto.buffer_updated(2.0)
        proto.get_buffer(-1)
        with pytest.raises(ValueError):
            proto.buffer_updated(-1)
        assert reader.buffered == 0

    run(body())


def test_read_until_separator_changed_while_waiting():
    """main: read_until measured a bytearray separator once, then searched for
    its current content: the caller shortening it while the read waited made
    the View end one byte past the separator found (b"abc\\nX")."""
    async def body():
        proto, reader = connect()
        sep = bytearray(b"\r\n")
        task = asyncio.ensure_future(reader.read_until(sep))
        await asyncio.sleep(0)
        sep[:] = b"\n"  # the caller's own buffer, changed meanwhile
        receive(proto, b"abc\nXYZ\r\nrest")
        got = await task
        assert bytes(got) == b"abc\nXYZ\r\n"

    run(body())
