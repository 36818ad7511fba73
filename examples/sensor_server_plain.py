"""The same sensor server written the plain asyncio way, for comparison:
``StreamReader.readuntil`` + ``json.dumps`` + ``write``.

    python examples/sensor_server_plain.py [--port 8081] [--uvloop]

Same routes, same responses (byte for byte: compact JSON separators), same
limits and watchdog as sensor_server.py; only the I/O, parsing and
serialization are the usual ones: a bytes object per received chunk and per
request head, a str per header line, a dict of headers, a str and a bytes of
the JSON document, a header str, and their concatenation.
"""
import asyncio
import json
import os
import sys
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import sensor_common as common  # noqa: E402

_TOKEN = set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def parse(head: bytes) -> tuple[str, str, dict[str, str], bool] | None:
    """(method, path, headers, keep_alive) or None for a malformed head."""
    try:
        text = head.decode("latin-1")
    except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes anything
        return None
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[1].startswith("/") or parts[2] not in ("HTTP/1.1", "HTTP/1.0"):
        return None
    method, path, version = parts
    if not method.isupper() or not method.isalpha() or any(c < "!" or c > "~" for c in path):
        return None
    headers: dict[str, str] = {}
    for line in lines[1:-2]:
        name, sep, value = line.partition(":")
        if not sep or not name or not set(name) <= _TOKEN or "\n" in value or "\r" in value:
            return None
        headers[name.lower()] = value.strip(" \t")
    keep_alive = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
    return method, path, headers, keep_alive


class PlainSensorServer:
    def __init__(self, head_timeout: float = common.HEAD_TIMEOUT) -> None:
        self.sensors = common.Sensors()
        self.stats = common.Stats("plain asyncio")
        self.watchdog = common.Watchdog(head_timeout)

    def respond_json(self, writer: asyncio.StreamWriter, doc: dict[str, Any], keep_alive: bool,
                     head_only: bool = False) -> None:
        body = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        header = ("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nCache-Control: no-store\r\n"
                  f"Content-Length: {len(body)}\r\n"
                  f"{'' if keep_alive else 'Connection: close' + chr(13) + chr(10)}\r\n")
        writer.write(header.encode("latin-1") + (b"" if head_only else body))

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        dog = self.watchdog
        # asyncio keeps the bytes it holds in a private bytearray (untyped: getattr)
        slot = dog.register(writer, lambda: len(getattr(reader, "_buffer")))
        loop = asyncio.get_running_loop()
        stats = self.stats
        try:
            while True:
                slot[0] = loop.time() + dog.timeout
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.LimitOverrunError:
                    await common.answer_and_linger(reader, writer, common.TOO_LARGE)
                    return
                except asyncio.IncompleteReadError as e:
                    if e.partial:
                        writer.write(common.BAD_REQUEST)
                    return
                stats.begin()
                req = parse(head)
                if req is None:
                    stats.count()
                    await common.answer_and_linger(reader, writer, common.BAD_REQUEST)
                    return
                method, path, headers, keep_alive = req
                if method not in ("GET", "HEAD"):
                    stats.count()
                    await common.answer_and_linger(reader, writer, common.NOT_ALLOWED)
                    return
                if "content-length" in headers and headers["content-length"].strip("0") \
                        or "transfer-encoding" in headers:
                    stats.count()
                    await common.answer_and_linger(reader, writer, common.BAD_REQUEST)
                    return
                if path == "/sensors":
                    self.respond_json(writer, self.sensors.update(), keep_alive, method == "HEAD")
                elif path in ("/", "/index.html"):
                    resp = common.PAGE_RESPONSE if keep_alive else common.PAGE_RESPONSE_CLOSE
                    if method == "HEAD":
                        resp = resp[:resp.index(b"\r\n\r\n") + 4]
                    writer.write(resp)
                elif path == "/stats":
                    self.respond_json(writer, stats.snapshot(), keep_alive, method == "HEAD")
                elif path == "/stats/reset":
                    stats.reset()
                    self.respond_json(writer, {"reset": True}, keep_alive)
                    stats.reset()
                    continue
                else:
                    writer.write(common.NOT_FOUND if keep_alive else common.NOT_FOUND_CLOSE)
                stats.end()
                if not keep_alive:
                    return
                await writer.drain()
        except (ConnectionError, RuntimeError):
            return
        finally:
            dog.unregister(writer)
            writer.close()

    async def start(self, host: str = "127.0.0.1", port: int = 8081, **kwds: Any) -> asyncio.Server:
        server = await asyncio.start_server(self.handle, host, port, limit=common.MAX_HEAD, **kwds)
        self.watchdog.start()
        return server


async def make_server(host: str, port: int, head_timeout: float) -> tuple[asyncio.Server, common.Watchdog]:
    s = PlainSensorServer(head_timeout)
    return await s.start(host, port), s.watchdog


if __name__ == "__main__":
    common.serve_forever(make_server, common.parse_args((__doc__ or "").splitlines()[0]))
