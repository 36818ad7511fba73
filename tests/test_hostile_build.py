"""prepend() and take_bytes() under hostile Python (issue 14, parts 3-4):
a finalizer run by the cyclic GC inside the allocation of fresh storage
(the move a held export forces, the storage a buffer gets back after
take_bytes) clears, writes, consumes, prepends or takes the very buffer.
The result must be what running the finalizer's operation first and the
interrupted one after gives; exports never change.

Uses test_hostile_buffer's `hostile` fixture (3.11: the collection runs
inside the allocation; skipped from 3.12 by conftest)."""
import pytest

from nocopy import BufferTooSmall, ByteBuffer, StaleViewError
from finalizers import inside
from test_hostile_buffer import hostile  # noqa: F401  (the fixture)


def _pinned(storage="heap", head=16, body=b"body", cap=1024):
    b = ByteBuffer(cap, headroom=head, storage=storage)
    b.write(body)
    return b, memoryview(b.peek())


@pytest.mark.parametrize("storage", ["heap", "bytes"])
@pytest.mark.parametrize("fin, expect", [
    (lambda b, got: b.clear(), b"HDR"),
    (lambda b, got: b.write(b"+fin"), b"HDRbody+fin"),
    (lambda b, got: b.consume(2), b"HDRdy"),
    (lambda b, got: b.prepend(b"pre:"), b"HDRpre:body"),
    (lambda b, got: got.append(b.take_bytes()), b"HDR"),
    (lambda b, got: b.compact(), b"HDRbody"),
])
def test_prepend_move_with_finalizer(hostile, storage, fin, expect):  # noqa: F811
    """The export forces a move to fresh storage; its allocation runs the
    finalizer, which changes the buffer: prepend() re-checks and writes in
    front of whatever is readable then."""
    b, m = _pinned(storage)
    got = []
    hostile.arm(lambda: fin(b, got))
    n = b.prepend(b"HDR")  # not inside assert: its rewriting allocates first
    inside(hostile.log)
    assert n == 3
    assert hostile.fired == 1 and not hostile.errors, hostile.errors
    assert bytes(b.peek()) == expect
    assert m.tobytes() == b"body", "the export never changes"
    if got:
        assert got == [b"body"]
    m.release()


def test_prepend_finalizer_uses_up_the_room(hostile):  # noqa: F811
    """The finalizer prepends into the room first: BufferTooSmall, and the
    buffer holds what the finalizer left."""
    b, m = _pinned(head=4)
    hostile.arm(lambda: b.prepend(b"1234"))
    with pytest.raises(BufferTooSmall) as ei:
        b.prepend(b"HDR")
    assert ei.value.needed == 3
    assert bytes(b.peek()) == b"1234body"
    m.release()


def test_prepend_finalizer_holds_a_read_view(hostile):  # noqa: F811
    """A View the finalizer reads out of the consumed bytes must go stale
    when prepend overwrites them, not show the header."""
    b = ByteBuffer(1024, headroom=7)
    b.write(b"requestbody")
    m = memoryview(b.peek())  # forces the move that runs the finalizer
    seen = []
    hostile.arm(lambda: seen.append(b.read(7)))
    b.prepend(b"RESPONS")
    inside(hostile.log)
    assert hostile.fired == 1
    assert bytes(b.peek()) == b"RESPONSbody"
    (v,) = seen
    try:
        shown = bytes(v)
    except StaleViewError:
        shown = None
    assert shown in (None, b"request")
    # once more, nothing exported: no move, the View's bytes are overwritten
    v2 = b.read(7)
    b.prepend(b"AGAIN!!")
    with pytest.raises(StaleViewError):
        bytes(v2)
    m.release()


@pytest.mark.parametrize("fin, expect, taken", [
    (lambda b, got: b.write(b"fin:"), b"fin:main", []),
    (lambda b, got: (b.write(b"fin"), got.append(b.take_bytes())), b"main", [b"fin"]),
    (lambda b, got: b.clear(), b"main", []),
    (lambda b, got: b.prepend(b"P"), b"Pmain", []),
])
def test_storage_back_after_take_bytes_with_finalizer(hostile, fin, expect, taken):  # noqa: F811
    """After a hand-over the next write allocates fresh storage; a finalizer
    in that allocation writes, takes, clears or prepends the same buffer."""
    b = ByteBuffer(4096, headroom=8, storage="bytes")
    b.write(b"x" * 4000)
    first = b.take_bytes()
    got = []
    hostile.arm(lambda: fin(b, got))
    b.write(b"main")
    inside(hostile.log)
    assert hostile.fired == 1 and not hostile.errors, hostile.errors
    assert got == taken
    assert bytes(b.peek()) == expect
    assert first == b"x" * 4000
    assert b.take_bytes() == expect
    assert b.free == 4096 and b.headroom == 8


def test_take_bytes_then_pool_reset_with_finalizer(hostile):  # noqa: F811
    from nocopy.pool import Pool
    pool = Pool(4096, 1, headroom=8)
    b = pool.acquire()
    b.write(b"abc")
    m = memoryview(b.peek())
    hostile.arm(lambda: b.write(b"late"))
    pool.release(b)  # _reset: the export forces fresh storage, the finalizer writes
    b2 = pool.acquire()
    assert b2 is b
    assert m.tobytes() == b"abc"
    assert b2.prepend(b"H" * 8) == 8
    m.release()
