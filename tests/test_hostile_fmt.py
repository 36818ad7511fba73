"""Formatting into buffers under hostile Python (issue 14): an argument's
__index__ / __float__ / __bytes__ / __repr__ or a mapping's __getitem__ that
clears, writes into, resizes or releases the very target (or the format, or
another argument) while the arguments are converted.  Every call-out runs
before the target is touched, so the outcome is always one of: the right
text where the target is at the end, or an exception with the target as
the hook left it -- never a crash, never bytes written outside the target."""
import gc

import pytest

from nocopy import BufferTooSmall, ByteBuffer, StaleViewError, View, format_into


class Hook:
    """Runs fn() from __index__ / __float__ / __bytes__ / __repr__, then
    answers with the given value."""

    def __init__(self, fn, value):
        self.fn = fn
        self.value = value

    def __index__(self):
        self.fn()
        return self.value

    def __float__(self):
        self.fn()
        return float(self.value)

    def __bytes__(self):
        self.fn()
        return bytes(self.value)

    def __repr__(self):
        self.fn()
        return "R"


CONVS = [(b"%d", 42, b"42"), (b"%x", 255, b"ff"), (b"%c", 65, b"A"), (b"%f", 2, b"2.000000"),
         (b"%s", b"xy", b"xy"), (b"%r", 0, b"R")]


@pytest.mark.parametrize("fmt,value,text", CONVS)
def test_hook_clears_the_bytearray_target(fmt, value, text):
    ba = bytearray(b"0123456789")
    h = Hook(ba.clear, value)
    with pytest.raises(BufferTooSmall) as ei:
        format_into(ba, 0, fmt, h)
    # the target was empty by the time it was checked
    assert ei.value.needed == len(text)
    assert ba == b""
    ba = bytearray(b"0123456789")
    with pytest.raises(ValueError, match="beyond the end"):
        format_into(ba, 2, fmt, Hook(ba.clear, value))


@pytest.mark.parametrize("fmt,value,text", CONVS)
def test_hook_grows_and_writes_the_bytearray_target(fmt, value, text):
    ba = bytearray(b"0123")

    def grow():
        ba[:] = b"abcdefghijklmnopqrst"
    assert format_into(ba, 3, fmt, Hook(grow, value)) == 3 + len(text)
    assert ba == b"abc" + text + b"abcdefghijklmnopqrst"[3 + len(text):]


@pytest.mark.parametrize("fmt,value,text", CONVS)
def test_hook_releases_the_target(fmt, value, text):
    base = bytearray(32)
    v = View(base, 4, 20)
    with pytest.raises(ValueError, match="released"):
        format_into(v, 0, fmt, Hook(v.release, value))
    assert base == bytes(32)
    m = memoryview(bytearray(32))
    with pytest.raises(ValueError, match="released"):
        format_into(m, 0, fmt, Hook(m.release, value))


@pytest.mark.parametrize("fmt,value,text", CONVS)
def test_hook_makes_the_target_view_stale(fmt, value, text):
    b = ByteBuffer(16)
    b.write(b"abcdefgh")
    v = b.peek()
    with pytest.raises(StaleViewError):
        format_into(v, 0, fmt, Hook(b.clear, value))


@pytest.mark.parametrize("fmt,value,text", CONVS)
@pytest.mark.parametrize("action", ["clear", "write", "compact", "fill", "nested"])
def test_hook_mutates_the_bytebuffer_target(fmt, value, text, action):
    b = ByteBuffer(32)
    b.write(b"0123456789")
    b.consume(4)

    def hook():
        if action == "clear":
            b.clear()
        elif action == "write":
            b.write(b"W" * 20)
        elif action == "compact":
            b.compact()
        elif action == "fill":
            b.write(b"F" * (32 - len(b)))  # full, compacted
        else:
            b.write_fmt(b"<%d>", 9)
    expect = {"clear": b"", "write": b"456789" + b"W" * 20, "compact": b"456789",
              "fill": None, "nested": b"456789<9>"}[action]
    if action == "fill":
        with pytest.raises(BufferTooSmall):
            b.write_fmt(fmt, Hook(hook, value))
        assert bytes(b.peek()) == b"456789" + b"F" * 26
        return
    if len(expect) + len(text) > 32:
        with pytest.raises(BufferTooSmall):
            b.write_fmt(fmt, Hook(hook, value))
        assert bytes(b.peek()) == expect
        return
    assert b.write_fmt(fmt, Hook(hook, value)) == len(text)
    assert bytes(b.read()) == expect + text


@pytest.mark.parametrize("fmt,value,text", CONVS)
@pytest.mark.parametrize("action", ["clear", "consume", "read_view", "export"])
def test_hook_mutates_the_prepend_target(fmt, value, text, action):
    b = ByteBuffer(32)
    b.write(b"x" * 12 + b"body")
    b.consume(12)
    held = []

    def hook():
        if action == "clear":
            b.clear()
        elif action == "consume":
            b.consume(4)
        elif action == "read_view":
            held.append(b.peek())
        else:
            held.append(memoryview(b.peek()))
    if action == "clear":
        with pytest.raises(BufferTooSmall):
            b.prepend_fmt(fmt, Hook(hook, value))
        assert len(b) == 0
        return
    assert b.prepend_fmt(fmt, Hook(hook, value)) == len(text)
    if action == "consume":
        assert bytes(b.read()) == text
    else:
        assert bytes(b.read()) == text + b"body"
    if action == "read_view":
        with pytest.raises(StaleViewError):
            bytes(held[0])
    elif action == "export":
        assert held[0] == b"body"  # the exported bytes never changed
        held[0].release()


def test_hook_resizes_a_pinned_argument_or_the_format():
    """The format and the bytes-like arguments already converted are pinned
    (exported) until the text is written: resizing them from a later hook is
    refused with BufferError (bytes % would have copied them first; nocopy
    writes from where they are, documented)."""
    fmt = bytearray(b"%s-%d")
    arg = bytearray(b"abc")
    ba = bytearray(20)
    with pytest.raises(BufferError):
        format_into(ba, 0, fmt, arg, Hook(arg.clear, 1))
    with pytest.raises(BufferError):
        format_into(ba, 0, fmt, arg, Hook(fmt.clear, 1))
    assert ba == bytes(20) and fmt == b"%s-%d" and arg == b"abc"

    def write_arg():
        arg[0:1] = b"Z"  # same size: allowed, and the text shows it
    assert format_into(ba, 0, fmt, arg, Hook(write_arg, 1)) == 5
    assert ba[:5] == b"Zbc-1"


def test_mapping_getitem_mutates():
    target = bytearray(40)

    class Evil(dict):
        def __getitem__(self, key):
            self.clear()        # the mapping itself
            target.clear()      # and the target
            return b"v:" + key

    with pytest.raises(BufferTooSmall):
        format_into(target, 0, b"%(a)s %(b)s", Evil(a=1))
    target = bytearray(40)
    assert format_into(bytearray(40), 0, b"%(a)s %(b)s", Evil()) == 7

    class Dropping(dict):
        """Hands out a fresh object that nobody else holds."""
        def __getitem__(self, key):
            return bytearray(key * 3)

    out = bytearray(40)
    end = format_into(out, 0, b"%(a)s|%(bc)s", Dropping())
    gc.collect()
    assert out[:end] == b"aaa|bcbcbc"


def test_format_is_a_view_of_the_bytebuffer_being_written():
    b = ByteBuffer(32)
    b.write(b"%d-%s")
    fmt = b.read()
    assert b.write_fmt(fmt, 1, b"x") == 3
    assert bytes(b.read()) == b"1-x"
    b.write(b"%d|")
    fmt = b.peek()
    assert b.prepend_fmt(fmt, 7) == 2  # the format sits in the storage written
    assert bytes(b.read()) == b"7|%d|"


def test_hook_raises_leaves_everything():
    ba = bytearray(b"unchanged")
    b = ByteBuffer(16)
    b.write(b"keep")

    def boom():
        raise RuntimeError("hook")
    for fmt in (b"%d", b"%f", b"%s", b"%r", b"%c"):
        # %f replaces any error of __float__ with its TypeError, as bytes % does
        exc, match = (TypeError, "float argument required") if fmt == b"%f" else (RuntimeError, "hook")
        with pytest.raises(exc, match=match):
            fmt % Hook(boom, 1)
        with pytest.raises(exc, match=match):
            format_into(ba, 0, fmt, Hook(boom, 1))
        with pytest.raises(exc, match=match):
            b.write_fmt(fmt, Hook(boom, 1))
        with pytest.raises(exc, match=match):
            b.prepend_fmt(fmt, Hook(boom, 1))
    assert ba == b"unchanged" and bytes(b.peek()) == b"keep"


def test_write_int_and_float_hooks():
    b = ByteBuffer(8)
    b.write(b"abc")
    assert b.write_int(Hook(b.clear, 12345)) == 5
    assert bytes(b.read()) == b"12345"
    b.write(b"abcdef")
    with pytest.raises(BufferTooSmall):
        b.write_float(Hook(lambda: b.write(b"gh"), 1.5))
    assert bytes(b.read()) == b"abcdefgh"


# ---- finalizers run by the GC inside the C code's own allocations (3.11) --------------

from finalizers import inside  # noqa: E402
from test_hostile_buffer import _drain, hostile  # noqa: E402,F401 -- the fixture


def _cursors_ok(b):
    n = b.readable
    assert 0 <= n <= b.capacity and 0 <= b.free <= b.capacity - n
    assert len(bytes(b.peek())) == n


@pytest.mark.parametrize("action", ["clear", "write", "consume_compact", "write_fmt"])
def test_write_fmt_when_reserve_moves_to_fresh_storage(hostile, action):
    """A held export of the write window sends reserve() to fresh storage
    (an allocation): a finalizer there that changes the buffer runs before
    the text goes in, and the text lands after whatever it left."""
    b = ByteBuffer(32)
    b.write(b"0123456789")
    m = memoryview(b.writable())  # export of the window: reserve must move
    acts = {"clear": b.clear, "write": lambda: b.write(b"W"),
            "consume_compact": lambda: (b.consume(4), b.compact()),
            "write_fmt": lambda: b.write_fmt(b"<%d>", 1)}
    keep = _drain()
    hostile.arm(acts[action])
    n = b.write_fmt(b"%d|%s", 42, b"xy")
    inside(hostile.log)
    assert n == 5
    assert hostile.fired == 1 and not hostile.errors
    _cursors_ok(b)
    before = {"clear": b"", "write": b"0123456789W", "consume_compact": b"456789",
              "write_fmt": b"0123456789<1>"}[action]
    assert bytes(b.read()) == before + b"42|xy"
    m.release()
    del keep


@pytest.mark.parametrize("action", ["clear", "consume", "write", "prepend", "release"])
def test_prepend_fmt_when_an_export_forces_fresh_storage(hostile, action):
    """A held export of a read view makes prepend_fmt move the readable bytes
    to fresh storage first (an allocation): whatever a finalizer does there,
    the room is checked again after it, and the exported bytes never change."""
    b = ByteBuffer(32)
    b.write(b"h" * 10 + b"body")
    old = b.read(10)
    held = memoryview(old)
    acts = {"clear": b.clear, "consume": lambda: b.consume(2), "write": lambda: b.write(b"++"),
            "prepend": lambda: b.prepend_fmt(b"%c", 80), "release": held.release}
    keep = _drain()
    hostile.arm(acts[action])
    if action == "clear":
        # clear() ran first (it put the read cursor at 0): no room before
        # the cursor is left, so nothing is written -- prepend()'s rule
        err = None
        try:  # (pytest.raises would allocate, and so run the finalizer, first)
            b.prepend_fmt(b"%d:", 12345)
        except BufferTooSmall as e:
            err = e
        inside(hostile.log)
        assert isinstance(err, BufferTooSmall) and err.needed == 6
        assert hostile.fired == 1 and not hostile.errors
        assert len(b) == 0
        _cursors_ok(b)
        assert held == b"h" * 10
        held.release()
        del keep
        return
    n = b.prepend_fmt(b"%d:", 12345)  # not inside assert: its rewriting allocates first
    inside(hostile.log)
    assert n == 6
    rest = {"consume": b"dy", "write": b"body++", "prepend": b"Pbody", "release": b"body"}[action]
    assert bytes(b.read()) == b"12345:" + rest
    assert hostile.fired == 1 and not hostile.errors
    _cursors_ok(b)
    if action != "release":
        assert held == b"h" * 10
        held.release()
    del keep


@pytest.mark.parametrize("action", ["peek", "compact"])
def test_prepend_fmt_keeps_its_room_when_a_finalizer_moves_the_bytes(hostile, action):
    """A tainted buffer (a write-window export held across a commit) makes
    prepend_fmt move to fresh storage.  A finalizer run by that allocation
    that peeks (which untaints by moving to fresh storage at the same
    offsets) does not cost the room the call started with (GC-stress mode
    found it when the untaint compacted); one that compacts ran first, by
    the user's own request: the room is gone and nothing is written."""
    b = ByteBuffer(32)
    m = memoryview(b.writable())
    m[:10] = b"0123456789"
    b.commit(10)
    b.consume(6)
    keep = _drain()
    hostile.arm(b.peek if action == "peek" else b.compact)
    if action == "compact":
        err = None
        try:  # (pytest.raises would allocate, and so run the finalizer, first)
            b.prepend_fmt(b"%d", 42)
        except BufferTooSmall as e:
            err = e
        inside(hostile.log)
        assert isinstance(err, BufferTooSmall)
        assert hostile.fired == 1 and not hostile.errors
        _cursors_ok(b)
        assert bytes(b.read()) == b"6789"
    else:
        n = b.prepend_fmt(b"%d", 42)
        inside(hostile.log)
        assert n == 2
        assert hostile.fired == 1 and not hostile.errors
        _cursors_ok(b)
        m[4:6] = b"XX"  # the old storage: read by nobody
        assert bytes(b.read()) == b"426789"
    m.release()
    del keep
