"""The seed's sensor server on nocopy.serve: HTTP/1.1 keep-alive, ~600 bytes
of JSON per GET /sensors, no coroutine and no allocation per request.

    python examples/sensor_server.py [--port 8080] [--uvloop]

How a request is answered:
* the C connection receives into its input buffer and cuts the request head
  at the blank line (``Delimited(b"\\r\\n\\r\\n", limit=MAX_HEAD)``); it calls
  ``handle(head, out)`` with a borrowed View of the head: no await, no task,
  no bytes;
* the head is checked with View methods (find, count, startswith: C calls
  that return small ints) -- no regex, no match object, no header dict;
* the readings dict is updated in place and serialized by
  ``nocopy.json.dumps_into`` straight into ``out``, after the headroom the
  server asked for (``out_headroom``); ``prepend_fmt`` writes the header in
  front once the length is known (pipelined requests, whose replies queue up
  in ``out``, build theirs in a scratch buffer and copy it);
* the connection sends ``out`` straight from its storage when the handler
  returns (one send for all the replies to pipelined requests).

Bad input: a head that is not HTTP/1.x with CRLF line ends, or that carries a
body, gets 400; one past MAX_HEAD bytes 431 (the engine's limit_reply); other
methods 405; a request that does not arrive in full within the head timeout
408 (the engine's message_timeout), an idle keep-alive connection is closed
after the same time; each error closes after the reply (a lingering close, so
the reply is not lost to a reset).  A peer that resets mid-response only ends
its own connection.

examples/sensor_server_streams.py is the same server on nocopy.aio's streams
(an await per request), kept to show that API.
"""
import os
import sys
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import sensor_common as common  # noqa: E402
from sensor_common import (  # noqa: E402
    F_CLOSE, F_HEAD, HEADROOM, JSON_HEAD_CLOSE, JSON_HEAD_KEEP, R_BAD, R_METHOD, R_NOT_FOUND, R_PAGE,
    R_RESET, R_SENSORS, R_STATS)
from nocopy import ByteBuffer, View  # noqa: E402
from nocopy.json import dumps_into  # noqa: E402
from nocopy.serve import CLOSE, Connection, Delimited, Server, start_server  # noqa: E402


_PAGE_HEAD = common.PAGE_RESPONSE[:common.PAGE_RESPONSE.index(b"\r\n\r\n") + 4]
_PAGE_HEAD_CLOSE = common.PAGE_RESPONSE_CLOSE[:common.PAGE_RESPONSE_CLOSE.index(b"\r\n\r\n") + 4]


def _route(head: View, at: int, n: int) -> int:
    """The route of the target head[at:at + n] (by length first: no loop,
    whose iterator would be an allocation per request)."""
    if n == 8 and head.startswith(b"/sensors", at):
        return R_SENSORS
    if n == 1:
        return R_PAGE  # the target starts with "/" (checked)
    if n == 6 and head.startswith(b"/stats", at):
        return R_STATS
    if n == 12 and head.startswith(b"/stats/reset", at):
        return R_RESET
    if n == 11 and head.startswith(b"/index.html", at):
        return R_PAGE
    return R_NOT_FOUND


def _header(head: View, p: int, q: int, code: int) -> int:
    """One header line head[p:q] (p after its CRLF): F_CLOSE added for
    "Connection: close", R_BAD for a malformed line or a request body."""
    c = head.find(b":", p, q)
    if c <= p or head.find(b" ", p, c) >= 0 or head.find(b"\t", p, c) >= 0:
        return R_BAD | F_CLOSE  # no name, or whitespace in it
    n = c - p
    if n != 10 and n != 14 and n != 17:
        return code  # none of the three names that matter
    head[p:c].lower_inplace()  # names are case-insensitive; the buffer is ours to change
    if n == 10 and head.startswith(b"connection", p):
        head[c + 1:q].lower_inplace()
        if head.find(b"close", c + 1, q) >= 0:
            code |= F_CLOSE
    elif n == 14 and head.startswith(b"content-length", p):
        if head[c + 1:q].strip(b" \t0"):
            return R_BAD | F_CLOSE  # a body: framing would be ours to guess
    elif n == 17 and head.startswith(b"transfer-encoding", p):
        return R_BAD | F_CLOSE
    return code


def parse(head: View) -> int:
    """Route code (+ F_HEAD, F_CLOSE) for a request head (without its blank
    line), by View methods only: each returns an int or a bool."""
    n = len(head)
    eol = head.find(b"\r\n")
    if eol < 0:
        eol = n
    # CRLF line ends only: no bare CR or LF, no NUL anywhere
    crlf = head.count(b"\r\n")
    if head.count(b"\r") != crlf or head.count(b"\n") != crlf or head.find(b"\x00") >= 0:
        return R_BAD | F_CLOSE
    if head.endswith(b" HTTP/1.1", 0, eol):
        code = 0
    elif head.endswith(b" HTTP/1.0", 0, eol):
        code = F_CLOSE
    else:
        return R_BAD | F_CLOSE
    vstart = eol - 9
    sp = head.find(b" ", 0, vstart)
    if sp <= 0 or sp > 16 or head.find(b" ", sp + 1, vstart) >= 0 \
            or not head.startswith(b"/", sp + 1, vstart):
        return R_BAD | F_CLOSE
    if sp == 3 and head.startswith(b"GET"):
        pass
    elif sp == 4 and head.startswith(b"HEAD"):
        code |= F_HEAD
    else:
        return (R_METHOD if head[:sp].isupper() and head[:sp].isalpha() else R_BAD) | F_CLOSE
    route = _route(head, sp + 1, vstart - sp - 1)
    p = eol + 2
    while p < n:
        q = head.find(b"\r\n", p)
        if q < 0:
            q = n
        code = _header(head, p, q, code)
        if code & 7 == R_BAD:
            return code
        p = q + 2
    return code | route


class ServeWatch:
    """What the tests and common.serve_forever ask of a watchdog: the
    engine's own deadline sweep does the work here (message_timeout,
    idle_timeout), nothing is armed per request."""

    def __init__(self, sensor: "SensorServer") -> None:
        self._sensor = sensor

    @property
    def conns(self) -> tuple[Connection, ...]:
        s = self._sensor.server
        return s.open_connections if s is not None else ()

    def stop(self) -> None:
        s = self._sensor.server
        if s is not None:
            s.close()


class SensorServer:
    def __init__(self, head_timeout: float = common.HEAD_TIMEOUT) -> None:
        self.sensors = common.Sensors()
        self.stats = common.Stats("nocopy")
        self.head_timeout = head_timeout
        # the body is built here, the header prepended, then copied to `out`:
        # `out` may hold earlier replies (pipelining), so nothing is prepended there
        self.scratch = ByteBuffer(16384, headroom=HEADROOM)
        self.server: Server | None = None
        self.watchdog = ServeWatch(self)

    def respond_json(self, out: ByteBuffer, doc: dict[str, Any], code: int) -> None:
        """The body by dumps_into, the header in front of it by prepend_fmt
        (its Content-Length is known by then): straight into ``out`` when
        this reply is the first there.  With earlier replies still waiting
        in ``out`` (pipelined requests) -- or for HEAD -- the reply is built
        in a scratch buffer and copied after them."""
        fmt = JSON_HEAD_CLOSE if code & F_CLOSE else JSON_HEAD_KEEP
        if not out and not code & F_HEAD:
            out.prepend_fmt(fmt, dumps_into(doc, out))
            return
        b = self.scratch
        b.clear()
        head = b.prepend_fmt(fmt, dumps_into(doc, b))
        out.write(b, 0, head) if code & F_HEAD else out.write(b)

    def handle(self, head: View, out: ByteBuffer) -> object:
        stats = self.stats
        stats.begin()
        code = parse(head)
        route = code & 7
        if route == R_SENSORS:
            self.respond_json(out, self.sensors.update(), code)
        elif route == R_PAGE:
            if code & F_HEAD:
                out.write(_PAGE_HEAD_CLOSE if code & F_CLOSE else _PAGE_HEAD)
            else:
                out.write(common.PAGE_RESPONSE_CLOSE if code & F_CLOSE else common.PAGE_RESPONSE)
        elif route == R_STATS:
            self.respond_json(out, stats.snapshot(), code)
        elif route == R_RESET:
            stats.reset()
            self.respond_json(out, {"reset": True}, code)
            stats.reset()
            return CLOSE if code & F_CLOSE else None
        elif route == R_NOT_FOUND:
            r = common.NOT_FOUND_CLOSE if code & F_CLOSE else common.NOT_FOUND
            out.write(r, 0, r.index(b"\r\n\r\n") + 4) if code & F_HEAD else out.write(r)
        elif route == R_METHOD:
            out.write(common.NOT_ALLOWED)
        else:
            out.write(common.BAD_REQUEST)
        stats.end()
        return CLOSE if code & F_CLOSE else None

    async def start(self, host: str = "127.0.0.1", port: int = 8080, **kwds: Any) -> Server:
        t = self.head_timeout
        self.server = await start_server(
            self.handle, host, port, framing=Delimited(b"\r\n\r\n", limit=common.MAX_HEAD),
            out_size=2 * len(common.PAGE_RESPONSE) + 8192, out_headroom=HEADROOM,
            message_timeout=t, idle_timeout=t,
            limit_reply=common.TOO_LARGE, timeout_reply=common.TIMEOUT, **kwds)
        return self.server


async def make_server(host: str, port: int, head_timeout: float) -> tuple[Server, ServeWatch]:
    s = SensorServer(head_timeout)
    return await s.start(host, port), s.watchdog


if __name__ == "__main__":
    common.serve_forever(make_server, common.parse_args((__doc__ or "").splitlines()[0]))
