"""A Rope through a Dask cluster without being joined.

A log arrives in small chunks (as from a socket); the chunks are stitched
into a Rope, scattered to a worker process, searched there across chunk
boundaries, cut into records there (Ropes sharing the received frames),
and gathered back, never joined into one bytes object on the way.

    python examples/dask_ropes.py [--chunks 2000] [--chunk-size 4096] [--coalesce 0] [--workers 2]

nocopy.dask.install(client) registers the serializers on the client and on
every worker (present and future); without it a worker that receives a
Rope fails with "No dispatch for <class 'nocopy.Rope'>".
"""
# distributed annotates its Client and Future methods only in part (some
# parameters are left untyped): strict pyright would flag every call.
# pyright: reportUnknownMemberType=false
from __future__ import annotations

import argparse
import time
from typing import cast

from distributed import Client, Future, LocalCluster

import nocopy.dask
from nocopy import Rope


def make_log(chunks: int, chunk_size: int) -> list[bytes]:
    """The log as it arrived: fixed-size chunks that cut records anywhere."""
    lines = b"".join(b"2026-12-03T11:00:%02d GET /api/v1/items/%d 200\n" % (i % 60, i)
                     for i in range(chunks * chunk_size // 40 + 1))
    return [lines[i:i + chunk_size] for i in range(0, chunks * chunk_size, chunk_size)]


def count_records(log: Rope) -> tuple[int, int]:
    """On the worker: records and segments of the Rope it received."""
    return log.count(b"\n"), log.nsegments


def last_records(log: Rope, n: int) -> Rope:
    """On the worker: the last n complete records, a Rope sharing the
    received segments (rfind + a slice: no payload copy)."""
    end = log.rfind(b"\n") + 1
    start = end
    for _ in range(n):
        start = log.rfind(b"\n", 0, start - 1) + 1
        if start == 0:
            break
    return log[start:end]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--chunks", type=int, default=2000)
    ap.add_argument("--chunk-size", type=int, default=4096)
    ap.add_argument("--coalesce", type=int, default=0,
                    help="join runs of segments into frames of at least this many bytes")
    ap.add_argument("--workers", type=int, default=2, help="worker processes")
    args = ap.parse_args()

    chunks = make_log(args.chunks, args.chunk_size)
    plain = b"".join(chunks)                      # the oracle, for the checks below
    log = Rope(chunks, max_segments=max(len(chunks), 2))
    # distributed leaves these two constructors unannotated
    cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,  # type: ignore[no-untyped-call]
                           dashboard_address=":0")
    with cluster, Client(cluster) as client:  # type: ignore[no-untyped-call]
        nocopy.dask.install(client, coalesce=args.coalesce)
        t0 = time.perf_counter()
        fut = cast("Future[Rope]", client.scatter(log, hash=False))
        records, segments = client.submit(count_records, fut).result()
        tail = client.submit(last_records, fut, 3).result()
        back = fut.result()                       # gathers it back
        dt = time.perf_counter() - t0
    want_tail = b"".join(plain[:plain.rfind(b"\n") + 1].splitlines(keepends=True)[-3:])
    assert records == plain.count(b"\n"), (records, plain.count(b"\n"))
    assert tail == want_tail and back == plain
    print(f"sent a Rope of {len(log):,} bytes in {log.nsegments:,} segments "
          f"(coalesce={args.coalesce})")
    print(f"the worker received {segments:,} segments and counted {records:,} records")
    print(f"last 3 records, cut on the worker: {tail.nsegments} segment(s), "
          f"{len(tail)} bytes, equal to the bytes oracle")
    print(f"gathered back: a {type(back).__name__} of {back.nsegments:,} segments, "
          f"equal to b''.join(chunks)")
    print(f"scatter + 2 tasks + gather: {dt:.2f} s")


if __name__ == "__main__":
    main()
