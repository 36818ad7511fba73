import asyncio
import gc
import sys
import threading
import time

import pytest
import leakcheck

from nocopy import ByteBuffer, PoolExhausted, StaleViewError
from nocopy.pool import Pool


def test_lends_preallocated_bytebuffers_and_takes_them_back_cleared():
    pool = Pool(128, 2)
    assert len(pool) == 2 and pool.available == 2
    seen = set()
    with pool.buffer() as b:
        assert isinstance(b, ByteBuffer) and b.capacity == 128 and len(b) == 0
        b.write(b"hello")
        v = b.peek()
        assert v == b"hello"
        seen.add(id(b))
        assert pool.available == 1
    assert pool.available == 2
    assert len(b) == 0, "taken back cleared"
    with pytest.raises(StaleViewError):
        bytes(v)
    with pool.buffer() as b2:
        seen.add(id(b2))
        with pool.buffer() as b3:
            seen.add(id(b3))
            assert b2 is not b3
    assert len(seen) == 2, "only the preallocated buffers are lent"


def test_exported_view_survives_return():
    pool = Pool(64, 1)
    with pool.buffer() as b:
        b.write(b"keep me")
        m = memoryview(b.peek())
    with pool.buffer() as b:
        b.write(b"XXXXXXX")
        assert bytes(m) == b"keep me", "held exports are never overwritten"
    m.release()


def test_bytearray_kind():
    pool = Pool(16, 1, kind=bytearray)
    with pool.buffer() as b:
        assert type(b) is bytearray and len(b) == 16
        b[:3] = b"abc"
    with pool.buffer() as b2:
        assert b2 is b and len(b2) == 16


@pytest.mark.parametrize("args, exc", [
    ((0, 1), ValueError), ((1, 0), ValueError), ((1.5, 1), TypeError), ((1, True), TypeError),
    (("1", 1), TypeError),
])
def test_bad_sizes(args, exc):
    with pytest.raises(exc):
        Pool(*args)


def test_bad_kind_and_timeout():
    with pytest.raises(TypeError, match="kind"):
        Pool(8, 1, kind=list)
    with pytest.raises(ValueError):
        Pool(8, 1, timeout=-1)
    with pytest.raises(ValueError):
        Pool(8, 1, timeout=float("nan"))
    with pytest.raises(TypeError):
        Pool(8, 1, timeout="1")
    pool = Pool(8, 1)
    with pytest.raises(ValueError):
        pool.acquire(timeout=-0.5)


def test_exhaustion_raises_immediately_with_zero_timeout():
    pool = Pool(8, 1, timeout=0)
    with pool.buffer():
        t0 = time.monotonic()
        with pytest.raises(PoolExhausted, match="all 1 buffers"):
            with pool.buffer():
                pass
        assert time.monotonic() - t0 < 0.5
    with pool.buffer():
        pass  # the failed attempt lent nothing


def test_exhaustion_waits_up_to_timeout():
    pool = Pool(8, 1)
    b = pool.acquire()
    t0 = time.monotonic()
    with pytest.raises(PoolExhausted):
        pool.acquire(timeout=0.15)
    dt = time.monotonic() - t0
    assert 0.12 <= dt < 2
    pool.release(b)


def test_waiter_gets_buffer_released_by_another_thread():
    pool = Pool(8, 1)
    b = pool.acquire()
    threading.Timer(0.05, pool.release, (b,)).start()
    got = pool.acquire(timeout=5)
    assert got is b
    pool.release(got)


def test_release_errors():
    pool = Pool(8, 1)
    b = pool.acquire()
    pool.release(b)
    with pytest.raises(ValueError, match="already returned"):
        pool.release(b)
    with pytest.raises(ValueError, match="does not belong"):
        pool.release(ByteBuffer(8))
    loan = pool.buffer()
    with loan:
        with pytest.raises(RuntimeError, match="already in use"):
            loan.__enter__()


def test_never_lent_twice_threads():
    pool = Pool(32, 3)
    owners = {}
    errors = []
    lock = threading.Lock()

    def worker(k):
        try:
            for _ in range(300):
                with pool.buffer(timeout=10) as b:
                    with lock:
                        if id(b) in owners:
                            errors.append("lent twice")
                        owners[id(b)] = k
                    b.write(bytes([k]) * 4)
                    time.sleep(0)
                    if b.peek() != bytes([k]) * 4:
                        errors.append("shared")
                    with lock:
                        del owners[id(b)]
        except Exception as e:  # pragma: no cover - reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert pool.available == 3


def test_never_lent_twice_tasks():
    pool = Pool(32, 2)

    async def main():
        owners = set()
        errors = []

        async def worker(k):
            for _ in range(100):
                async with pool.buffer(timeout=10) as b:
                    if id(b) in owners:
                        errors.append("lent twice")
                    owners.add(id(b))
                    b.write(bytes([k]))
                    await asyncio.sleep(0)
                    if b.peek() != bytes([k]):
                        errors.append("shared")
                    owners.discard(id(b))
        await asyncio.gather(*(worker(k) for k in range(10)))
        return errors

    assert asyncio.run(main()) == []
    assert pool.available == 2


def test_async_exhaustion_timeout_and_cancellation():
    pool = Pool(8, 1)

    async def main():
        b = await pool.acquire_async()
        t0 = asyncio.get_running_loop().time()
        with pytest.raises(PoolExhausted):
            await pool.acquire_async(timeout=0.1)
        assert asyncio.get_running_loop().time() - t0 >= 0.09
        with pytest.raises(PoolExhausted):
            await pool.acquire_async(timeout=0)
        # A cancelled waiter leaves no trace and swallows no wake-up.
        t = asyncio.ensure_future(pool.acquire_async())
        await asyncio.sleep(0.01)
        t.cancel()
        with pytest.raises(asyncio.CancelledError):
            await t
        waiter = asyncio.ensure_future(pool.acquire_async(timeout=5))
        await asyncio.sleep(0.01)
        pool.release(b)
        got = await waiter
        assert got is b
        pool.release(got)
        assert not pool._async_waiters

    asyncio.run(main())


def test_async_waiter_woken_from_another_thread():
    pool = Pool(8, 1)
    b = pool.acquire()

    async def main():
        threading.Timer(0.05, pool.release, (b,)).start()
        return await pool.acquire_async(timeout=5)

    assert asyncio.run(main()) is b


def test_mixed_thread_and_task_waiters():
    pool = Pool(8, 1)
    b = pool.acquire()
    results = []

    def thread_waiter():
        with pool.buffer(timeout=5) as x:
            results.append(("thread", id(x)))
            time.sleep(0.01)

    async def main():
        t = threading.Thread(target=thread_waiter)
        t.start()
        await asyncio.sleep(0.02)
        task = asyncio.ensure_future(pool.acquire_async(timeout=5))
        await asyncio.sleep(0.02)
        pool.release(b)
        x = await task
        results.append(("task", id(x)))
        pool.release(x)
        await asyncio.to_thread(t.join)

    asyncio.run(main())
    assert sorted(k for k, _ in results) == ["task", "thread"]
    assert pool.available == 1


def test_steady_lending_allocates_nothing_retained():
    pool = Pool(256, 2)
    for _ in range(100):
        with pool.buffer() as b:
            b.write(b"x" * 10)
    gc.collect()
    before = leakcheck.blocks()
    for _ in range(20000):
        with pool.buffer() as b:
            b.write(b"x" * 10)
    gc.collect()
    assert leakcheck.blocks() - before < 50
