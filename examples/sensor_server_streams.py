"""The seed's sensor server on nocopy: HTTP/1.1 keep-alive, ~600 bytes of JSON
per GET /sensors, without allocating per request.

    python examples/sensor_server.py [--port 8080] [--uvloop]

How a request is answered:
* the transport receives straight into the connection's ByteBuffer
  (nocopy.aio's BufferedProtocol); the request head comes out as a borrowed
  View (``read_until``) and is validated by one compiled regex matched on the
  View itself — no bytes, no str, no header dict;
* the readings dict is updated in place and serialized by
  ``nocopy.json.dumps_into`` straight into a pooled ByteBuffer with headroom;
  ``prepend_fmt`` then formats the header, in C, into the headroom right in
  front of the body (its Content-Length is known by then);
* one ``writer.write`` of one contiguous View of header + body.

Bad input: a head that is not HTTP/1.x with CRLF line ends gets 400, one past
MAX_HEAD bytes 431, other methods 405, a request that does not arrive in full
within the head timeout 408, all with a close; a peer that disconnects
mid-response just ends its connection.
"""
import asyncio
import os
import re
import sys
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import sensor_common as common  # noqa: E402
from sensor_common import (  # noqa: E402
    F_CLOSE, F_HEAD, HEADROOM, JSON_HEAD_CLOSE, JSON_HEAD_KEEP, R_BAD, R_METHOD, R_NOT_FOUND, R_PAGE,
    R_RESET, R_SENSORS, R_STATS)
from nocopy import IncompleteRead, LimitOverrun, View  # noqa: E402
from nocopy.aio import StreamReader, StreamWriter, start_server  # noqa: E402
from nocopy.json import dumps_into  # noqa: E402
from nocopy.pool import Pool  # noqa: E402


# A whole request head in one match, on the View itself: request line with
# the route as numbered groups 2..5, header lines (names case-insensitive where
# they matter), the empty line; all CRLF.
_TOKEN = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_HEAD = re.compile(
    rb"([A-Z]{1,16}) (?:(/sensors)|(/stats)|(/stats/reset)|(/|/index\.html)|/[!-~]*)"
    rb" HTTP/1\.(?:1|(0))\r\n"
    rb"(?:(?:((?i:connection):[ \t]*(?i:close)[ \t]*)"
    rb"|((?i:content-length):[ \t]*0*[1-9][0-9]*[ \t]*|(?i:transfer-encoding):[\t -~]*)"
    rb"|" + _TOKEN + rb":[\t -~\x80-\xff]*)\r\n)*\r\n")
G_ROUTE0, G_V10, G_CLOSE, G_BODY = 2, 6, 7, 8


def parse(head: View) -> int:
    """Route code (+ F_HEAD, F_CLOSE) for a request head View: one regex
    match, read through small ints only."""
    m = _HEAD.fullmatch(head)
    if m is None:
        return R_BAD | F_CLOSE
    method = m.end(1)  # its length: the method starts the head
    if method == 4 and head[0] == 72:  # HEAD
        code = F_HEAD
    elif method == 3 and head[0] == 71 and head[1] == 69:  # GET
        code = 0
    else:
        return R_METHOD | F_CLOSE
    if m.start(G_BODY) >= 0:
        return R_BAD | F_CLOSE  # no request bodies here: framing would be ours to guess
    for r in range(4):
        if m.start(G_ROUTE0 + r) >= 0:
            code |= r  # R_SENSORS, R_STATS, R_RESET, R_PAGE in group order
            break
    else:
        code |= R_NOT_FOUND
    if m.start(G_V10) >= 0 or m.start(G_CLOSE) >= 0:
        code |= F_CLOSE
    return code


class SensorServer:
    def __init__(self, head_timeout: float = common.HEAD_TIMEOUT) -> None:
        self.sensors = common.Sensors()
        self.stats = common.Stats("nocopy")
        # no await while a buffer is out: one suffices
        self.pool = Pool(4096, 1, timeout=0, headroom=HEADROOM)
        self.watchdog = common.Watchdog(head_timeout)

    def respond_json(self, writer: StreamWriter, doc: dict[str, Any], code: int) -> None:
        """The body by dumps_into, the header in front of it by prepend_fmt,
        one write of one View; a pooled buffer, nothing allocated."""
        pool = self.pool
        out = pool.acquire(0)
        try:
            n = dumps_into(doc, out)
            head = out.prepend_fmt(JSON_HEAD_CLOSE if code & F_CLOSE else JSON_HEAD_KEEP, n)
            writer.write(out.read(head) if code & F_HEAD else out.read())
        finally:
            pool.release(out)

    async def handle(self, reader: StreamReader, writer: StreamWriter) -> None:
        dog = self.watchdog
        slot = dog.register(writer, lambda: reader.buffered)
        loop = asyncio.get_running_loop()
        stats = self.stats
        try:
            while True:
                slot[0] = loop.time() + dog.timeout
                try:
                    head = await reader.read_until(b"\r\n\r\n", limit=common.MAX_HEAD)
                except LimitOverrun:
                    await common.answer_and_linger(reader, writer, common.TOO_LARGE)
                    return
                except IncompleteRead as e:
                    if len(e.partial):
                        writer.write(common.BAD_REQUEST)
                    return
                stats.begin()
                code = parse(head)
                route = code & 7
                if route == R_SENSORS:
                    self.respond_json(writer, self.sensors.update(), code)
                elif route == R_PAGE:
                    page = common.PAGE_RESPONSE_CLOSE if code & F_CLOSE else common.PAGE_RESPONSE
                    writer.write(page[:page.index(b"\r\n\r\n") + 4] if code & F_HEAD else page)
                elif route == R_STATS:
                    self.respond_json(writer, stats.snapshot(), code)
                elif route == R_RESET:
                    stats.reset()
                    self.respond_json(writer, {"reset": True}, code)
                    stats.reset()
                    continue
                elif route == R_NOT_FOUND:
                    writer.write(common.NOT_FOUND_CLOSE if code & F_CLOSE else common.NOT_FOUND)
                elif route == R_METHOD:
                    stats.count()
                    await common.answer_and_linger(reader, writer, common.NOT_ALLOWED)
                    return
                else:
                    stats.count()
                    await common.answer_and_linger(reader, writer, common.BAD_REQUEST)
                    return
                stats.end()
                if code & F_CLOSE:
                    return
                await writer.drain()
        except (ConnectionError, RuntimeError):
            return  # the peer went away mid-response (uvloop: RuntimeError on a closed handle)
        finally:
            dog.unregister(writer)
            writer.close()

    async def start(self, host: str = "127.0.0.1", port: int = 8080, **kwds: Any) -> asyncio.Server:
        server = await start_server(self.handle, host, port, limit=common.MAX_HEAD, **kwds)
        self.watchdog.start()
        return server


async def make_server(host: str, port: int, head_timeout: float) -> tuple[asyncio.Server, common.Watchdog]:
    s = SensorServer(head_timeout)
    return await s.start(host, port), s.watchdog


if __name__ == "__main__":
    common.serve_forever(make_server, common.parse_args((__doc__ or "").splitlines()[0]))
