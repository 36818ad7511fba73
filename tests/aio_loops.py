"""The event loops the asyncio tests run on: asyncio's own, and uvloop's when
installed (it is in the test extra).  `run(loop, coro_fn)` runs one test body
on a fresh loop and closes it."""
import asyncio
import traceback

try:
    import uvloop
except ImportError:  # pragma: no cover - uvloop is in the test extra
    uvloop = None

LOOPS = ["asyncio"] + (["uvloop"] if uvloop is not None else [])


def run(loop_name, fn, *args, timeout=20):
    factory = uvloop.new_event_loop if loop_name == "uvloop" else asyncio.new_event_loop

    async def guarded():
        async with asyncio.timeout(timeout):
            return await fn(*args)

    runner = asyncio.Runner(loop_factory=factory)
    try:
        return runner.run(guarded())
    except BaseException as e:
        # A failed body's frames may still reference transports (uvloop's
        # loop.close() then waits for them forever): drop the locals first.
        traceback.clear_frames(e.__traceback__)
        raise
    finally:
        runner.close()
