"""Dask's serializers for View and Rope: a Rope travels between workers as
one frame per segment and arrives as a Rope of those frames, never joined.

Importing this module registers, in this process, ``dask_serialize`` /
``dask_deserialize`` for :class:`~nocopy.View` and :class:`~nocopy.Rope`
and ``dask.sizeof`` for both (so the worker's memory accounting sees the
payload, not the few dozen bytes of the object).  The process that
*receives* a Rope needs the registration too: ``install(client)`` imports
this module on the client and on every worker, present and future (a
worker plugin, kept by the scheduler for workers that join or restart).

``dask.base.normalize_token`` is registered as well: ``client.scatter``
hashes its data by default, and a View or Rope is tokenized by its content
(one read of the bytes, no copy) instead of dask trying pickle on it.

Costs, for a Rope of n segments and N bytes:

- serialize: O(n), no payload copy.  Each frame is a memoryview export of
  one segment, taken now: a stale borrowed segment raises
  ``StaleViewError`` here, and a ByteBuffer that is written to while the
  frames wait in the comm's queue moves to fresh storage instead of
  changing the bytes on the wire.
- deserialize: O(n), no payload copy: the received frames become the
  Rope's segments (read-only windows on distributed's receive buffers).

A View subclass is left to pickle (the dask loader could only rebuild a
plain View).
"""
from __future__ import annotations

import hashlib
import sys
from typing import Any

from dask.base import normalize_token
from dask.sizeof import sizeof
from distributed.diagnostics.plugin import WorkerPlugin
from distributed.protocol.serialize import dask_deserialize, dask_serialize

from ._core import Rope, View

__all__ = ["install", "NocopyWorkerPlugin"]


@dask_serialize.register(View)
def _serialize_view(v: View) -> tuple[dict[str, Any], list[memoryview]]:
    if type(v) is not View:
        raise NotImplementedError(type(v).__qualname__)  # next family: pickle
    return {"readonly": v.readonly}, [memoryview(v)]


@dask_deserialize.register(View)
def _deserialize_view(header: dict[str, Any], frames: list[Any]) -> View:
    if len(frames) != 1:
        raise ValueError(f"a nocopy View arrives as 1 frame, not {len(frames)}")
    mv = memoryview(frames[0])
    if header["readonly"]:
        mv = mv.toreadonly()
    elif mv.readonly:
        # A writable View stays writable.  distributed's TCP comm receives
        # into writable memory; only a transport that hands over read-only
        # frames costs this copy (as for distributed's own pickle loader).
        mv = memoryview(bytearray(mv))
    return View(mv)


# Frames below this many bytes are joined with their neighbours (0: never).
# Set by install(client, coalesce=...) in the client and, through the
# plugin, in every worker.
_coalesce = 0


def _frames(segments: tuple[View, ...], coalesce: int) -> list[Any]:
    if coalesce <= 0:
        return [memoryview(s) for s in segments]
    frames: list[Any] = []
    run: list[memoryview] = []
    nrun = 0
    for s in segments:
        m = memoryview(s)
        if m.nbytes >= coalesce and not run:
            frames.append(m)
            continue
        run.append(m)
        nrun += m.nbytes
        if nrun >= coalesce:
            frames.append(run[0] if len(run) == 1 else b"".join(run))
            run, nrun = [], 0
    if run:
        frames.append(run[0] if len(run) == 1 else b"".join(run))
    return frames


@dask_serialize.register(Rope)
def _serialize_rope(r: Rope) -> tuple[dict[str, Any], list[Any]]:
    # segments() raises StaleViewError for a stale borrowed segment; the
    # memoryview exports pin each segment's storage until the comm is done.
    return {"max_segments": r.max_segments}, _frames(r.segments(), _coalesce)


@dask_deserialize.register(Rope)
def _deserialize_rope(header: dict[str, Any], frames: list[Any]) -> Rope:
    # Read-only: frames may be windows on one receive buffer that other
    # objects of the same message share; a Rope never writes its segments.
    parts = [memoryview(f).toreadonly() for f in frames]
    return Rope(parts, max_segments=max(int(header["max_segments"]), len(parts), 2))


@sizeof.register(View)
def _sizeof_view(v: View) -> int:
    try:
        return sys.getsizeof(v) + v.nbytes
    except Exception:  # stale or released: nothing reachable through it
        return sys.getsizeof(v)


@sizeof.register(Rope)
def _sizeof_rope(r: Rope) -> int:
    return sys.getsizeof(r) + len(r)


# A token by content, as dask gives bytes: equal bytes, equal token (a Rope
# and its segmentation do not matter).  O(N) reading, no copy; a stale
# segment raises StaleViewError.
@normalize_token.register(View)
def _token_view(v: View) -> tuple[str, str]:
    return "nocopy.View", hashlib.sha1(v, usedforsecurity=False).hexdigest()


@normalize_token.register(Rope)
def _token_rope(r: Rope) -> tuple[str, str]:
    h = hashlib.sha1(usedforsecurity=False)
    for s in r.segments():
        h.update(s)
    return "nocopy.Rope", h.hexdigest()


def _check_coalesce(coalesce: int) -> int:
    if isinstance(coalesce, bool) or not isinstance(coalesce, int):
        raise TypeError(f"coalesce must be an int, not {type(coalesce).__name__}")
    if coalesce < 0:
        raise ValueError(f"coalesce must be >= 0, not {coalesce}")
    return coalesce


class NocopyWorkerPlugin(WorkerPlugin):
    """Imports nocopy.dask on each worker (unpickling this plugin's class
    does it) and sets the worker's ``coalesce``."""

    name = "nocopy.dask"

    def __init__(self, coalesce: int = 0) -> None:
        self.coalesce = _check_coalesce(coalesce)

    def setup(self, worker: Any) -> None:
        global _coalesce
        _coalesce = self.coalesce


def install(client: Any, *, coalesce: int = 0) -> Any:
    """Register nocopy's Dask serializers in ``client``'s process and in
    every worker of its cluster, including workers that join or restart
    later (a worker plugin the scheduler keeps).  O(workers), one round trip.

    ``coalesce``: 0 (the default) sends one frame per segment, no copy.  A
    positive value joins runs of adjacent segments into frames of at least
    ``coalesce`` bytes (one copy of those segments); a segment of
    ``coalesce`` bytes or more that starts a frame is still sent as it is.
    Worth it for many small segments: distributed's comm pays per frame.

    Returns what ``client.register_plugin`` returns (an awaitable for an
    asynchronous client)."""
    global _coalesce
    plugin = NocopyWorkerPlugin(coalesce)
    _coalesce = plugin.coalesce
    return client.register_plugin(plugin, name=NocopyWorkerPlugin.name)
