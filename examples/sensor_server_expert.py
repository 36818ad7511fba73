"""The same sensor server as an expert writes it without nocopy: an
``asyncio.Protocol``, one compiled regex over the request head, ``orjson``
and one ``transport.write`` per response.

    python examples/sensor_server_expert.py [--port 8082] [--uvloop]

Same routes, responses, limits and watchdog as sensor_server.py; what an
expert does to go fast with the stdlib and orjson:
* ``data_received`` works on the chunk the transport hands over; only a head
  split across reads (or held while the peer is not reading) goes through the
  connection's bytearray; ``find(b"\\r\\n\\r\\n")`` delimits each head;
* one ``fullmatch`` of a compiled regex validates the whole head and captures
  method, path, HTTP/1.0, ``Connection: close`` and any request body (per
  header line in Python, ``split``/``partition``, it was 2-3x slower);
* ``orjson.dumps(doc)`` for the body, the header by bytes ``%``, one write of
  ``head + body`` (``writelines`` measured no faster);
* flow control: a peer that stops reading pauses reading from it.
"""
import asyncio
import os
import re
import sys
from typing import Any, cast

import orjson

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import sensor_common as common  # noqa: E402

_dumps = orjson.dumps
MAX_HEAD = common.MAX_HEAD

# The whole head: request line (method, path, HTTP/1.0), header lines (the
# ones that matter as groups, names case-insensitive), the blank line; CRLF.
_TOKEN = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_match_head = re.compile(
    rb"([A-Z]{1,16}) (/[!-~]*) HTTP/1\.(?:1|(0))\r\n"
    rb"(?:(?:((?i:connection):[ \t]*(?i:close)[ \t]*)"
    rb"|((?i:content-length):[ \t]*0*[1-9][0-9]*[ \t]*|(?i:transfer-encoding):[\t -~]*)"
    rb"|" + _TOKEN + rb":[\t -~\x80-\xff]*)\r\n)*\r\n").fullmatch

R_SENSORS, R_STATS, R_RESET, R_PAGE, R_NOT_FOUND = range(5)
ROUTES = {b"/sensors": R_SENSORS, b"/stats": R_STATS, b"/stats/reset": R_RESET,
          b"/": R_PAGE, b"/index.html": R_PAGE}
_OK = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nCache-Control: no-store\r\n"
       b"Content-Length: %d\r\nConnection: close\r\n\r\n",  # [keep_alive]
       b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nCache-Control: no-store\r\n"
       b"Content-Length: %d\r\n\r\n")


def _variants(close: bytes, keep: bytes) -> tuple[tuple[bytes, bytes], tuple[bytes, bytes]]:
    """[keep_alive][head_only] -> the canned response (HEAD: without its body)."""
    def cut(r: bytes) -> bytes:
        return r[:r.index(b"\r\n\r\n") + 4]
    return (close, cut(close)), (keep, cut(keep))


PAGES = _variants(common.PAGE_RESPONSE_CLOSE, common.PAGE_RESPONSE)
NOT_FOUNDS = _variants(common.NOT_FOUND_CLOSE, common.NOT_FOUND)


class ExpertConnection(asyncio.Protocol):
    __slots__ = ("server", "transport", "buf", "slot", "paused", "linger", "dropped")

    def __init__(self, server: "ExpertSensorServer") -> None:
        self.server = server
        self.buf = bytearray()
        self.paused = False
        self.linger: asyncio.TimerHandle | None = None
        self.dropped = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # a stream transport (uvloop's does not subclass asyncio.Transport)
        self.transport = t = cast(asyncio.Transport, transport)
        self.slot = self.server.watchdog.register(t, self.buf.__len__)

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.watchdog.unregister(self.transport)
        if self.linger is not None:
            self.linger.cancel()

    def data_received(self, data: bytes) -> None:
        if self.linger is not None:  # answered and closing: drop what still comes
            self.dropped += len(data)
            if self.dropped >= 1 << 20:
                self.transport.close()
            return
        buf = self.buf
        if buf:  # a head split across reads, or requests held while paused
            buf += data
            data = bytes(buf)
            buf.clear()
        self.process(data)

    def process(self, data: bytes) -> None:
        start, n, t = 0, len(data), self.transport
        while start < n and not self.paused and not t.is_closing():
            end = data.find(b"\r\n\r\n", start)
            if end < 0:
                if n - start > MAX_HEAD:
                    self.refuse(common.TOO_LARGE)
                    return
                break
            if end - start > MAX_HEAD:
                self.refuse(common.TOO_LARGE)
                return
            end += 4
            if not self.respond(data if end == n and not start else data[start:end]):
                return
            start = end
        if start:  # answered: the next request's time starts now
            self.slot[0] = self.server.now() + self.server.watchdog.timeout
        if start < n:
            self.buf += memoryview(data)[start:]

    def respond(self, head: bytes) -> bool:
        """Answer one request head; False once the connection is closing."""
        server, t = self.server, self.transport
        stats = server.stats
        stats.begin()
        m = _match_head(head)
        if m is None:
            stats.count()
            return self.refuse(common.BAD_REQUEST)
        method, path, v10, close, body = m.groups()
        if method == b"GET":
            head_only = False
        elif method == b"HEAD":
            head_only = True
        else:
            stats.count()
            return self.refuse(common.NOT_ALLOWED)
        if body is not None:  # no request bodies here: framing would be ours to guess
            stats.count()
            return self.refuse(common.BAD_REQUEST)
        keep = v10 is None and close is None
        route = ROUTES.get(path, R_NOT_FOUND)
        if route == R_SENSORS:
            self.respond_json(server.sensors.update(), keep, head_only)
        elif route == R_PAGE:
            t.write(PAGES[keep][head_only])
        elif route == R_STATS:
            self.respond_json(stats.snapshot(), keep, head_only)
        elif route == R_RESET:
            stats.reset()
            self.respond_json({"reset": True}, keep, head_only)
            stats.reset()
        else:
            t.write(NOT_FOUNDS[keep][head_only])
        if route != R_RESET:
            stats.end()
        if not keep:
            t.close()
        return keep

    def respond_json(self, doc: dict[str, Any], keep: bool, head_only: bool) -> None:
        body = _dumps(doc)
        head = _OK[keep] % len(body)
        self.transport.write(head if head_only else head + body)

    def refuse(self, response: bytes) -> bool:
        """Answer, FIN, then drop what the peer still sends (up to 1 s or 1 MiB)
        before closing, so the answer is not lost to a reset."""
        t = self.transport
        self.server.watchdog.unregister(t)
        t.write(response)
        if t.can_write_eof():
            t.write_eof()
        self.linger = asyncio.get_running_loop().call_later(1.0, t.close)
        return False

    def eof_received(self) -> bool:
        if self.buf and self.linger is None:
            self.transport.write(common.BAD_REQUEST)  # the peer gave up mid-head
        return False  # close

    def pause_writing(self) -> None:  # the peer stopped reading: stop reading it
        self.paused = True
        self.transport.pause_reading()

    def resume_writing(self) -> None:
        self.paused = False
        if self.linger is None and not self.transport.is_closing():
            self.transport.resume_reading()
            if self.buf:
                data = bytes(self.buf)
                self.buf.clear()
                self.process(data)


class ExpertSensorServer:
    def __init__(self, head_timeout: float = common.HEAD_TIMEOUT) -> None:
        self.sensors = common.Sensors()
        self.stats = common.Stats("expert asyncio")
        self.watchdog = common.Watchdog(head_timeout)

    async def start(self, host: str = "127.0.0.1", port: int = 8082, **kwds: Any) -> asyncio.Server:
        loop = asyncio.get_running_loop()
        self.now = loop.time
        server = await loop.create_server(lambda: ExpertConnection(self), host, port, **kwds)
        self.watchdog.start()
        return server


async def make_server(host: str, port: int, head_timeout: float) -> tuple[asyncio.Server, common.Watchdog]:
    s = ExpertSensorServer(head_timeout)
    return await s.start(host, port), s.watchdog


if __name__ == "__main__":
    common.serve_forever(make_server, common.parse_args((__doc__ or "").splitlines()[0]))
