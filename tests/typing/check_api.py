"""Type-checked, not run: every public API of nocopy once, with assert_type on
the return types users rely on.  `make typecheck` runs mypy --strict and
pyright --strict over this file; a stub that drifts from these types fails
there.  Adding a method: add its stub line in src/nocopy/*.pyi, a call here,
and stubtest checks the stub against the runtime."""
from __future__ import annotations

import asyncio
import io
import pathlib
import socket
import struct
from collections.abc import AsyncIterator, Iterator

from typing import Any, Literal

from typing_extensions import Buffer, assert_type

import nocopy
import nocopy.aio
import nocopy.io
import nocopy.json
from nocopy import (BufferTooSmall, ByteBuffer, IncompleteRead, LimitOverrun, Pool, PoolExhausted,
                    Rope, StaleViewError, View)


def check_version() -> None:
    assert_type(nocopy.__version__, str)


def check_view(data: bytearray) -> None:
    v = View(data, 2, 10)
    assert_type(v, View)
    assert_type(View(b"abc"), View)
    assert_type(v.obj, Buffer | None)
    assert_type(v.start, int)
    assert_type(v.stop, int)
    assert_type(v.readonly, bool)
    assert_type(v.nbytes, int)
    assert_type(v.released, bool)
    assert_type(v.retarget(0, 4), View)
    assert_type(v.reslice(v, 1, -1), View)
    assert_type(v.split_into([], None, 2), int)
    assert_type(len(v), int)
    assert_type(v[0], int)
    assert_type(v[1:3], View)
    assert_type(list(v), list[int])
    assert_type(b"a" in v, bool)
    assert_type(v == b"x", bool)
    assert_type(v < b"x", bool)
    assert_type(hash(View(b"k")), int)
    assert_type(bytes(v), bytes)
    assert_type(v + b"!", bytes)
    assert_type(v * 2, bytes)
    assert_type(View(b"%d") % 3, bytes)
    assert_type(memoryview(v), memoryview)
    # no-copy results are Views
    assert_type(v.strip(), View)
    assert_type(v.lstrip(b" "), View)
    assert_type(v.rstrip(), View)
    assert_type(v.split(b","), list[View])
    assert_type(v.rsplit(), list[View])
    assert_type(v.splitlines(), list[View])
    assert_type(v.partition(b"="), tuple[View, View, View])
    assert_type(v.rpartition(b"="), tuple[View, View, View])
    assert_type(v.removeprefix(b"a"), View)
    assert_type(v.removesuffix(b"a"), View)
    assert_type(v.itersplit(b",", reuse=True), Iterator[View])
    assert_type(v.iterlines(keepends=True), Iterator[View])
    # ints and bools
    assert_type(v.find(b"a"), int)
    assert_type(v.rfind(10, 0, 5), int)
    assert_type(v.index(b"a"), int)
    assert_type(v.rindex(b"a"), int)
    assert_type(v.count(b"a"), int)
    assert_type(v.startswith((b"a", b"b")), bool)
    assert_type(v.endswith(b"a"), bool)
    assert_type(v.isdigit(), bool)
    # new bytes
    assert_type(v.tobytes(), bytes)
    with v.memoryview() as mv:
        assert_type(mv, memoryview)
    assert_type(v.hex(":"), str)
    assert_type(v.decode(), str)
    assert_type(v.replace(b"a", b"b"), bytes)
    assert_type(v.lower(), bytes)
    assert_type(v.upper(), bytes)
    assert_type(v.translate(None, b"x"), bytes)
    assert_type(v.center(20), bytes)
    assert_type(v.join([b"a", View(b"b")]), bytes)
    # parsing and in-place writes
    assert_type(View(b"42").to_int(), int)
    assert_type(View(b"4.5").to_float(), float)
    assert_type(v.copy_from(b"xy", 1), int)
    v.fill(0)
    v.lower_inplace()
    v.upper_inplace()
    v.translate_inplace(bytes(range(256)))
    with View(b"abc") as w:
        assert_type(w, View)
    v.release()


def check_bytebuffer() -> None:
    buf = ByteBuffer(1024)
    assert_type(buf.capacity, int)
    assert_type(buf.free, int)
    assert_type(buf.readable, int)
    assert_type(len(buf), int)
    assert_type(buf.writable(16), View)
    buf.commit(0)
    assert_type(buf.write(b"GET / HTTP/1.1\r\n"), int)
    assert_type(buf.write(b"xyz", 1, 1), int)
    assert_type(buf.fill_from(io.BytesIO(b"more")), int | None)
    assert_type(buf.peek(), View)
    assert_type(buf.find(b"\r\n"), int)
    assert_type(buf.read_until(b"\r\n"), View | None)
    assert_type(buf.read_until(b"\n", limit=100), View | None)
    assert_type(buf.read(3), View)
    assert_type(buf.readinto(bytearray(4)), int)
    buf.consume(0)
    buf.compact()
    assert_type(buf.iterlines(None), Iterator[View])
    buf.clear()
    assert_type(memoryview(buf), memoryview)
    # wire toolkit: formatting, typed cursors, headroom, bytes without a copy
    st = struct.Struct("<HI")
    hb = ByteBuffer(256, headroom=64, storage="bytes")
    assert_type(hb.headroom, int)
    assert_type(hb.storage, Literal["heap", "bytes", "external"])
    assert_type(hb.write_fmt(b"%d %s", 1, b"x"), int)
    assert_type(hb.write_int(12), int)
    assert_type(hb.write_float(0.5), int)
    assert_type(hb.write_u32(7), int)
    assert_type(hb.write_i16(-7, "little"), int)
    assert_type(hb.write_f64(1.5), int)
    assert_type(hb.write_uvarint(300), int)
    assert_type(hb.write_varint(-3), int)
    assert_type(hb.write_struct(st, 1, 2), int)
    assert_type(hb.write_json([1], prefix="u16", byteorder="little"), int)
    assert_type(hb.prepend(b"hd"), int)
    assert_type(hb.prepend_fmt(b"%d:", 2), int)
    assert_type(hb.read_u16(), int)
    assert_type(hb.read_u32("little"), int)
    assert_type(hb.read_f32(), float)
    assert_type(hb.read_uvarint(), int)
    assert_type(hb.read_varint(), int)
    assert_type(hb.read_struct(st), tuple[Any, ...])
    assert_type(hb.take_bytes(), bytes)
    assert_type(nocopy.format_into(bytearray(16), 0, b"%d", 5), int)


def check_rope() -> None:
    r = Rope([b"ab", View(b"cd")])
    assert_type(r, Rope)
    assert_type(Rope.join([b"a", b"b"]), Rope)
    assert_type(r.max_segments, int)
    assert_type(r.nsegments, int)
    r.append(b"e")
    r.extend([b"f"])
    r += b"g"
    assert_type(r + b"h", Rope)
    # b"h" + r is a Rope at run time (Rope's nb_add runs before bytes' sq_concat),
    # but type checkers stop at bytes.__add__(Buffer) -> bytes: not asserted.
    assert_type(len(r), int)
    assert_type(r[0], int)
    assert_type(r[1:3], Rope)
    assert_type(b"a" in r, bool)
    assert_type(bytes(r), bytes)
    assert_type(r.segments(), tuple[View, ...])
    assert_type(r.take(2), Rope)
    r.skip(1)
    assert_type(r.flatten(), View)
    assert_type(r.tobytes(), bytes)
    assert_type(r.frozen(), Rope)
    assert_type(r.find(b"c"), int)
    assert_type(r.count(b"c"), int)
    assert_type(r.startswith(b"c"), bool)
    assert_type(r.write_to(io.BytesIO()), int)
    with open(__file__, "rb") as f:
        assert_type(r.append_file(f), None)
        assert_type(r.append_file(f.fileno(), 1, length=2), None)
    for seg in r.raw_segments():
        if isinstance(seg, tuple):
            region, offset, length = seg
            assert_type(region.fileno(), int)
            assert_type(offset + length, int)
        else:
            assert_type(seg, View)
    assert_type(r.load(), None)
    assert_type(r.read_u32(1), int)
    assert_type(r.read_i64(0, "little"), int)
    assert_type(r.read_f64(0), float)
    assert_type(r.read_uvarint(0), tuple[int, int])
    assert_type(r.read_struct(struct.Struct("<H"), 1), tuple[Any, ...])


def check_json(out: bytearray) -> None:
    assert_type(nocopy.json.dumps({"a": 1}), bytes)
    assert_type(nocopy.json.dumps([1.5], sort_keys=True, indent=2), bytes)
    assert_type(nocopy.json.dumps_into({"a": 1}, out), int)
    assert_type(nocopy.json.dumps_into([1], out, 4, ensure_ascii=True), int)
    assert_type(nocopy.json.dumps_into([1], ByteBuffer(64)), int)
    assert_type(nocopy.json.dumps_into([1], View(out)), int)
    assert_type(nocopy.json.dump({"a": 1}, io.BytesIO(), buffer_size=4096), int)
    try:
        nocopy.json.dumps_into({}, bytearray(0))
    except nocopy.json.BufferTooSmall as e:
        assert_type(e.needed, int | None)


def check_io(sock: socket.socket, fd: int) -> None:
    f = io.BytesIO(b"a\nb\n")
    assert_type(nocopy.io.read_into(f, bytearray(8)), int | None)
    assert_type(nocopy.io.read_into(fd, ByteBuffer(8)), int | None)
    assert_type(nocopy.io.read_into(sock, bytearray(8), with_address=True),
                tuple[int, Any] | None)
    assert_type(nocopy.io.read_chunks(f, 4096, limit=1 << 20), Rope)
    assert_type(nocopy.io.write_all(io.BytesIO(), [b"a", View(b"b")]), int)
    assert_type(nocopy.io.write_all(fd, Rope(b"a")), int)

    r = nocopy.io.Reader(f, buffer_size=1024)
    assert_type(r.buffer, ByteBuffer)
    assert_type(r.at_eof, bool)
    assert_type(r.peek(1), View)
    assert_type(r.read(), View)
    assert_type(r.read_exact(1), View)
    assert_type(r.readline(), View)
    assert_type(r.read_until(b"\n", limit=64), View)
    assert_type(r.readinto(bytearray(4)), int)
    assert_type(r.read_bytes(), bytes)
    assert_type(r.lines(reuse=True), Iterator[View])
    assert_type(r.read_u16(), int)
    assert_type(r.read_f64("little"), float)
    assert_type(r.read_uvarint(), int)
    assert_type(r.read_struct(struct.Struct("<B")), tuple[Any, ...])
    for line in r:
        assert_type(line, View)

    with nocopy.io.Writer(io.BytesIO(), 4096) as w:
        assert_type(w, nocopy.io.Writer)
        assert_type(w.buffer, ByteBuffer)
        assert_type(w.closed, bool)
        assert_type(w.write(b"abc"), int)
        assert_type(w.write(b"abc", 1, length=1), int)
        w.writelines([b"a", View(b"b")])
        room = w.reserve(16)
        assert_type(room, View)
        w.commit(nocopy.json.dumps_into([1], room))
        assert_type(w.write_fmt(b"%d\r\n", 5), int)
        assert_type(w.write_int(5), int)
        assert_type(w.write_float(0.25), int)
        assert_type(w.write_u64(5), int)
        assert_type(w.write_f32(0.5, "little"), int)
        assert_type(w.write_varint(-1), int)
        assert_type(w.write_struct(struct.Struct("<B"), 1), int)
        assert_type(w.write_json({"a": 1}, prefix="u32", sort_keys=True), int)
        assert_type(nocopy.json.dumps_into({"a": 1}, w), int)
        w.flush()
    w.close()

    mr = nocopy.io.MemoryReader(bytearray(b"a\nb\n"))
    assert_type(mr, nocopy.io.MemoryReader[View])
    assert_type(mr.read(1), View)
    assert_type(mr.readline(), View)
    assert_type(mr.seek(0, 2), int)
    assert_type(mr.tell(), int)
    assert_type(mr.readinto(bytearray(2)), int)
    for ln in mr:
        assert_type(ln, View)
    mb = nocopy.io.MemoryReader(b"x", views=False)
    assert_type(mb, nocopy.io.MemoryReader[bytes])
    assert_type(mb.read(), bytes)
    assert_type(mb.readlines(), list[bytes])

    with nocopy.io.map_file("/etc/hostname") as mv:
        assert_type(mv, View)
        assert_type(mv.closed, bool)
    mw = nocopy.io.map_file(pathlib.Path("/tmp/x"), writable=True)
    mw.close()
    with ByteBuffer.wrap(bytearray(64), headroom=8) as wb:
        assert_type(wb, ByteBuffer)
        assert_type(wb.storage, Literal["heap", "bytes", "external"])
        assert_type(wb.closed, bool)
    wb.close()


def check_pool() -> None:
    pool = Pool(4096, 4, timeout=1.0, headroom=32)
    assert_type(pool, Pool[ByteBuffer])
    assert_type(pool.available, int)
    assert_type(len(pool), int)
    b = pool.acquire()
    assert_type(b, ByteBuffer)
    pool.release(b)
    with pool.buffer(timeout=0) as b2:
        assert_type(b2, ByteBuffer)
    raw = Pool(4096, 2, kind=bytearray)
    assert_type(raw, Pool[bytearray])
    with raw.buffer() as ba:
        assert_type(ba, bytearray)


async def check_pool_async(pool: Pool[ByteBuffer]) -> None:
    assert_type(await pool.acquire_async(0.5), ByteBuffer)
    async with pool.buffer() as b:
        assert_type(b, ByteBuffer)


async def check_aio() -> None:
    reader, writer = await nocopy.aio.open_connection("127.0.0.1", 8080, limit=1 << 16)
    assert_type(reader, nocopy.aio.StreamReader)
    assert_type(writer, nocopy.aio.StreamWriter)
    assert_type(await reader.read(100), View)
    assert_type(await reader.read_exact(4), View)
    assert_type(await reader.readexactly(4), View)
    assert_type(await reader.read_until(b"\r\n\r\n"), View)
    assert_type(await reader.readuntil(b"\n"), View)
    assert_type(await reader.readline(), View)
    assert_type(reader.peek(), View)
    assert_type(reader.lines(reuse=True), AsyncIterator[View])
    async for line in reader:
        assert_type(line, View)
    assert_type(reader.at_eof(), bool)
    assert_type(reader.limit, int)
    assert_type(reader.buffered, int)
    assert_type(reader.exception(), BaseException | None)
    writer.write(b"hello")
    writer.write(Rope([b"a", b"b"]))
    writer.writelines([b"a", View(b"b")])
    assert_type(writer.write_json({"ok": True}), int)
    assert_type(await writer.write_rope(Rope([b"a"])), int)
    await writer.drain()
    writer.close()
    await writer.wait_closed()

    async def handle(r: nocopy.aio.StreamReader, w: nocopy.aio.StreamWriter) -> None:
        w.write(await r.readline())

    server = await nocopy.aio.start_server(handle, "127.0.0.1", 0)
    assert_type(server, asyncio.Server)
    unix = await nocopy.aio.start_unix_server(handle, "/tmp/nocopy.sock")
    assert_type(unix, asyncio.Server)
    ur, uw = await nocopy.aio.open_unix_connection("/tmp/nocopy.sock")
    assert_type(ur, nocopy.aio.StreamReader)
    assert_type(uw, nocopy.aio.StreamWriter)


async def check_aio_dropin(writer: nocopy.aio.StreamWriter, pipe: io.BufferedReader) -> None:
    import ssl
    import subprocess
    await writer.start_tls(ssl.create_default_context(), server_hostname="localhost",
                           ssl_handshake_timeout=5.0, ssl_shutdown_timeout=5.0)
    loop = asyncio.get_running_loop()
    reader = nocopy.aio.StreamReader(limit=1024, loop=loop)
    assert_type(await reader.readuntil((b"\r\n", b"\n")), View)
    transport, proto = await loop.connect_read_pipe(
        lambda: nocopy.aio.StreamReaderProtocol(reader, loop=loop), pipe)
    assert_type(proto, nocopy.aio.StreamReaderProtocol)
    proc = await nocopy.aio.create_subprocess_exec("ls", "-l", stdout=subprocess.PIPE)
    assert_type(proc, asyncio.subprocess.Process)
    shell = await nocopy.aio.create_subprocess_shell("ls", stdout=subprocess.PIPE, limit=1 << 20)
    assert_type(shell, asyncio.subprocess.Process)
    transport.close()


def check_errors(v: View) -> None:
    try:
        v.tobytes()
    except StaleViewError as e:
        assert_type(e, StaleViewError)
    except BufferTooSmall as e:
        assert_type(e.needed, int | None)
    except LimitOverrun as e:
        print(e.partial)
    except IncompleteRead as e:
        assert_type(e.expected, int | None)
    except PoolExhausted:
        pass


def check_keys(reader: nocopy.io.Reader) -> None:
    counts: nocopy.Counter[bytes] = nocopy.Counter()
    for line in reader.lines(reuse=True):
        counts[line] += 1
    assert_type(counts[b"GET"], int)
    assert_type(counts.most_common(1), list[tuple[bytes, int]])
    assert_type(counts.copy(), nocopy.Counter[bytes])
    assert_type(counts + counts, nocopy.Counter[bytes])
    table: nocopy.KeyDict[bytes, int] = nocopy.KeyDict()
    v = View(bytearray(b"GET"))
    table[v] = 1
    table.update([(v, 2)], )
    table.update({b"x": 3})
    assert_type(table[v], int)
    assert_type(table.setdefault(v, 0), int)
    assert_type(table.copy(), nocopy.KeyDict[bytes, int])
    assert_type(table | {b"y": 4}, nocopy.KeyDict[bytes, int])
    assert_type(hash(v), int)
