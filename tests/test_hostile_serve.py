"""nocopy.serve's C connection under hostile Python: the handler and the
hooks re-enter it, close or abort it, keep, export, release or move the
message View, close or hand over the output buffer, reach the private input
buffer through the GC, raise from every hook; finalizers run mid-dispatch.
The connection is driven directly (transport engine: get_buffer /
buffer_updated, no sockets), so every case is deterministic.  Whatever
happens: no crash, no bytes other than the replies written, a clear error."""
import gc
import struct

import pytest

from nocopy import BufferTooSmall, ByteBuffer, StaleViewError, View
from nocopy._core import _Conn
from nocopy.serve import CLOSE, Delimited, Fixed, LengthPrefixed


class Conn(_Conn):
    """A transport-engine connection whose hooks record what happened."""

    def _mode(self, mode):
        self.modes.append(mode)

    def _closed(self, exc, how, fd):
        self.ends.append((exc, how, fd))

    def _write(self, view):
        self.sent += bytes(view)

    def _failed(self, exc):
        self.failures.append(exc)


def make(handler, framing=None, **kw):
    framing = framing or Delimited(b"\n", limit=64)
    args = dict(framing._args(), in_size=kw.pop("in_size", 256), out_size=kw.pop("out_size", 256),
                close_token=CLOSE, transport=True)
    args.update(kw)
    c = Conn(-1, handler, **args)
    c.modes, c.ends, c.sent, c.failures = [], [], bytearray(), []
    return c


def feed(c, data):
    """Deliver data as a transport would: get_buffer, copy, buffer_updated."""
    data = memoryview(bytes(data))
    while data:
        buf = c.get_buffer(-1)
        n = min(len(buf), len(data))
        with memoryview(buf) as m:
            m[:n] = data[:n]
        del buf
        c.buffer_updated(n)
        data = data[n:]


def echo(msg, out):
    out.write(b"<")
    out.write(msg)
    out.write(b">")


def test_plain_echo_baseline():
    c = make(echo)
    feed(c, b"a\nbc\n\nd")
    assert bytes(c.sent) == b"<a><bc><>"
    assert c.messages == 3 and not c.ends


def test_handler_re_entering_the_connection_fails_cleanly():
    holder = {}

    def handler(msg, out):
        out.write(b"x")
        holder["c"].buffer_updated(1)  # re-entry: RuntimeError

    c = make(handler)
    holder["c"] = c
    feed(c, b"a\nb\n")
    assert len(c.failures) == 1 and isinstance(c.failures[0], RuntimeError)
    assert bytes(c.sent) == b""  # the failed call's reply is dropped
    assert c.closed and c.messages == 1


def test_handler_aborting_then_writing_sends_nothing():
    holder = {}

    def handler(msg, out):
        holder["c"].abort()
        out.write(b"late")

    c = make(handler)
    holder["c"] = c
    feed(c, b"a\nb\n")
    assert c.closed and bytes(c.sent) == b"" and c.messages == 1
    assert len(c.ends) == 1 and c.ends[0][1] == 2  # abort
    scratch = c.get_buffer(-1)  # ended: somewhere to put what still arrives...
    assert not isinstance(scratch, View)
    c.buffer_updated(len(scratch))  # ...and it is dropped
    assert c.messages == 1
    c.close()
    c.abort()
    assert len(c.ends) == 1


def test_close_from_the_handler_sends_what_was_written():
    holder = {}

    def handler(msg, out):
        out.write(b"bye")
        holder["c"].close()
        out.write(b"!")

    c = make(handler)
    holder["c"] = c
    feed(c, b"a\nb\n")
    assert bytes(c.sent) == b"bye!" and c.closed and c.messages == 1
    assert c.ends[0][0] is None


def test_kept_message_goes_stale_exported_one_keeps_its_bytes():
    kept = []

    def keeper(msg, out):
        kept.append(msg)
        out.write(b".")

    c = make(keeper, in_size=64, framing=Delimited(b"\n", limit=16))
    for i in range(40):
        feed(c, b"%02d-abcdefgh\n" % i)
    assert bytes(c.sent) == b"." * 40
    with pytest.raises(StaleViewError):
        bytes(kept[1])  # its bytes were moved or overwritten: stale, never other bytes
    assert bytes(kept[-1]) == b"39-abcdefgh"  # not yet

    views = []

    def exporter(msg, out):
        if not views:
            views.append(memoryview(msg))
        out.write(b".")

    c = make(exporter, in_size=64, framing=Delimited(b"\n", limit=16))
    for i in range(40):
        feed(c, b"%02d-abcdefgh\n" % i)
    assert bytes(c.sent) == b"." * 40
    assert bytes(views[0]) == b"00-abcdefgh"  # the export pinned the old storage
    views[0].release()


def test_message_released_or_resliced_by_the_handler():
    other = bytearray(b"elsewhere")

    def handler(msg, out):
        out.write(msg)
        if msg == b"r":
            msg.release()
        elif msg == b"s":
            msg.reslice(View(other), 0, 4)

    c = make(handler)
    feed(c, b"r\ns\nabc\nr\nxyz\n")
    assert bytes(c.sent) == b"rsabcrxyz"


def test_handler_closing_or_handing_over_out():
    def closer(msg, out):
        out.write(b"x")
        out.close()

    c = make(closer)
    feed(c, b"a\nb\n")
    assert c.closed and bytes(c.sent) == b""

    def taker(msg, out):
        out.write(b"y")
        out.take_bytes()  # the storage leaves: nothing of it is sent from here
        out.write(b"z")

    c = make(taker)
    feed(c, b"a\nb\n")
    # the second call's take_bytes() took the first one's pending "z" with its "y"
    assert bytes(c.sent) == b"z" and not c.failures
    feed(c, b"c\n")
    assert bytes(c.sent) == b"zz"


def test_private_input_reached_through_the_gc_refuses_mutation():
    seen = []

    def handler(msg, out):
        for o in gc.get_referents(holder["c"]):
            if isinstance(o, ByteBuffer) and o is not out:
                for op in (o.clear, o.compact, lambda: o.consume(1), lambda: o.read(1),
                           lambda: o.write(b"zz")):
                    try:
                        op()
                    except RuntimeError:
                        seen.append(1)
        out.write(msg)

    holder = {}
    c = make(handler)
    holder["c"] = c
    feed(c, b"abc\ndef\n")
    assert bytes(c.sent) == b"abcdef"
    assert len(seen) == 10


def test_hooks_that_raise_are_reported_not_crashing(monkeypatch):
    unraisable = []
    monkeypatch.setattr("sys.unraisablehook", unraisable.append)

    class Bad(Conn):
        def _write(self, view):
            raise OSError("transport gone")

        def _closed(self, exc, how, fd):
            self.ends.append(exc)
            raise ValueError("hook failed")

    c = Bad(-1, echo, **dict(Delimited(b"\n")._args(), in_size=256, out_size=256,
                             close_token=CLOSE, transport=True))
    c.modes, c.ends, c.sent, c.failures = [], [], bytearray(), []
    feed(c, b"a\n")
    assert c.closed and isinstance(c.ends[0], OSError)
    assert [type(u.exc_value) for u in unraisable] == [ValueError]


def test_handler_swapping_itself():
    def second(msg, out):
        out.write(b"2")

    def first(msg, out):
        holder["c"].handler = second
        out.write(b"1")

    holder = {}
    c = make(first)
    holder["c"] = c
    feed(c, b"a\nb\nc\n")
    assert bytes(c.sent) == b"122"
    with pytest.raises(TypeError):
        c.handler = 3


def test_finalizers_aborting_mid_dispatch():
    class Bomb:
        def __init__(self, c):
            self.c = c
            self.me = self  # a cycle: only the collector frees it

        def __del__(self):
            self.c.abort()

    def handler(msg, out):
        out.write(msg)
        Bomb(holder["c"])

    holder = {}
    old = gc.get_threshold()
    gc.set_threshold(1)
    try:
        for _ in range(20):
            c = make(handler)
            holder["c"] = c
            feed(c, b"abc\n" * 50)
            gc.collect()
            assert c.closed
            # never a byte that was not written by the handler
            assert bytes(c.sent) == b"abc" * (len(c.sent) // 3)
    finally:
        gc.set_threshold(*old)


def test_buffer_updated_checks_the_transport():
    c = make(echo)
    with pytest.raises(RuntimeError):
        c.buffer_updated(1)  # no get_buffer before it
    buf = c.get_buffer(-1)
    with pytest.raises(RuntimeError):
        c.buffer_updated(len(buf) + 1)  # more than was lent
    buf = c.get_buffer(-1)
    with pytest.raises(TypeError):
        c.buffer_updated("1")
    c.get_buffer(-1)
    with pytest.raises(RuntimeError):
        c.buffer_updated(-1)
    assert not c.closed and bytes(c.sent) == b""
    del buf


def test_socket_entry_points_refuse_on_a_transport_connection():
    c = make(echo)
    with pytest.raises(RuntimeError):
        c._on_readable()
    with pytest.raises(RuntimeError):
        c._on_writable()


def test_constructor_validation():
    base = dict(Delimited(b"\n")._args(), in_size=256, out_size=256, close_token=CLOSE,
                transport=True)
    with pytest.raises(TypeError):
        Conn(-1, 3, **base)
    with pytest.raises(ValueError):
        Conn(-1, echo, **dict(base, transport=False))  # a socket engine needs an fd
    with pytest.raises(ValueError):
        Conn(-1, echo, **dict(base, out_size=10))
    with pytest.raises(ValueError):
        Conn(-1, echo, **dict(base, delim=b""))
    with pytest.raises(ValueError):
        Conn(-1, echo, **dict(base, limit=0))
    with pytest.raises(ValueError):
        Conn(-1, echo, **dict(base, kind=7))
    with pytest.raises(ValueError):
        Conn(-1, echo, **dict(base, idle_timeout=-1.0))
    with pytest.raises(TypeError):
        Conn(-1, echo, **dict(base, limit_reply="no"))
    with pytest.raises(ValueError):
        Conn(-1, echo, **dict(base, out_headroom=-1))


def test_framing_limits_and_bad_varint():
    c = make(echo, LengthPrefixed("u16", limit=8), limit_reply=b"E")
    feed(c, struct.pack(">H", 3) + b"abc" + struct.pack(">H", 9))
    assert bytes(c.sent) == b"<abc>E" and c.closed
    c = make(echo, LengthPrefixed("uvarint", limit=1000), limit_reply=b"E")
    feed(c, b"\x02ab" + b"\x80" * 9 + b"\x01")
    assert bytes(c.sent) == b"<ab>E" and c.closed
    c = make(echo, Fixed(3))
    feed(c, b"abcdefg")
    assert bytes(c.sent) == b"<abc><def>" and not c.closed
    c = make(echo, Delimited(b"\r\n", limit=4), limit_reply=b"E")
    feed(c, b"abcd\r\nabcde\r\n")
    assert bytes(c.sent) == b"<abcd>E" and c.closed


def test_reply_over_half_of_out_fails_like_a_raising_handler():
    def handler(msg, out):
        out.write(b"x" * int(bytes(msg)))

    c = make(handler, out_size=256)
    feed(c, b"128\n129\n5\n")
    assert bytes(c.sent) == b"x" * 128
    assert len(c.failures) == 1 and isinstance(c.failures[0], BufferTooSmall)
    assert c.closed


# ---- socket engine, driven by hand over a socketpair (review findings) -------------

import os  # noqa: E402
import socket  # noqa: E402
import time  # noqa: E402
from serve_helpers import SockConn, drain, fill_send_path, socket_conn  # noqa: E402


_peers = []


@pytest.fixture(autouse=True)
def _close_peers():
    yield
    while _peers:
        _peers.pop().close()


def sock_conn(handler, cls=SockConn, **kw):
    c, b = socket_conn(handler, cls, **kw)
    _peers.append(b)
    return c, b


class _Evil(bytearray):
    """An exporter whose release (when the View resliced onto it is dropped)
    reaches the owner's other Views through the GC and exports them."""
    owner = None
    kept = []

    def __del__(self):
        for o in gc.get_referents(_Evil.owner):
            if type(o) is View:
                o.reslice(View(bytearray(b"S" * 4096)))
                _Evil.kept.append(memoryview(o))


def test_cached_message_view_dropped_before_its_successor_is_made():
    peer = None

    def handler(msg, out):
        if holder["c"].messages == 0:
            msg.reslice(View(_Evil(b"e" * 16)))
        out.write(b"ok\n")

    holder = {}
    c, peer = sock_conn(handler)
    holder["c"] = c
    _Evil.owner, _Evil.kept = c, []
    peer.send(b"one\ntwo\n")
    c._on_readable()
    assert drain(peer) == b"ok\nok\n"
    for m in _Evil.kept:  # whatever the finalizer exported still shows its own bytes
        assert bytes(m[:4]) == b"SSSS"
        m.release()
    c.abort()


def test_cached_writable_view_dropped_before_its_successor_is_made():
    b = ByteBuffer(64)
    _Evil.owner, _Evil.kept = b, []
    w = b.writable()
    w.reslice(View(_Evil(b"e" * 16)))
    del w
    w = b.writable()
    assert len(w) == 64
    for m in _Evil.kept:
        assert bytes(m[:4]) == b"SSSS"
        m.release()


def test_close_from_a_hook_while_busy_is_not_lost():
    class Closer(SockConn):
        def _mode(self, mode):
            self.log.append(("mode", mode))
            if mode == 0:
                self.close()

    def handler(msg, out):
        out.write(b"R" * 40)

    c, peer = sock_conn(handler, cls=Closer)
    fill_send_path(c)
    peer.send(b"a\nb\nc\n")
    c._on_readable()
    assert ("mode", 1) in c.log  # paused
    while not c.closed:
        drain(peer)
        c._on_writable()
    assert c.closed and c.log[-1][0] == "closed"


def test_paused_connection_keeps_the_idle_deadline_not_the_message_one():
    def handler(msg, out):
        out.write(b"R" * 40)

    c, peer = sock_conn(handler, message_timeout=0.3, in_size=256)
    fill_send_path(c)
    peer.send(b"part")
    c._on_readable()
    assert c._deadline - time.monotonic() < 0.31  # a message under way
    peer.send(b"ial\nA\nB\nC\n")
    c._on_readable()
    assert c._pending > 0 and c._deadline == float("inf")  # paused: only idle_timeout applies
    time.sleep(0.35)
    assert c._check_deadline(time.monotonic()) is False and not c.closed
    c.abort()


def test_socket_receive_moves_the_write_window():
    def handler(msg, out):
        pass

    c, peer = sock_conn(handler)
    inb = [o for o in gc.get_referents(c) if isinstance(o, ByteBuffer) and o is not c.out][0]
    peer.send(b"abc\npartial-msg")
    c._on_readable()
    c.abort()
    del c
    gc.collect()
    w = inb.writable()
    assert len(w) == inb.free
    w[0:3] = b"XXX"
    assert bytes(inb.peek()) == b"partial-msg"  # readable bytes untouched


def test_eof_while_paused_answers_the_messages_in_hand():
    seen = []

    def handler(msg, out):
        seen.append(bytes(msg))
        out.write(msg)

    c = make(handler)
    c.pause_writing()
    feed(c, b"a\nb\n")
    c.eof_received()
    assert seen == [] and not c.closed
    c.resume_writing()
    assert seen == [b"a", b"b"] and bytes(c.sent) == b"ab" and c.closed


def test_output_untaint_then_private_view_before_it_is_pointed():
    """transport_flush: moving tainted output bytes runs Python (a finalizer
    that reslices and exports the cached output View); the View must be
    private and the buffer clean together before it is pointed."""
    hold, kept, armed = [], [], [False]

    class Cyc:
        def __init__(self):
            self.me = self

        def __del__(self):
            if not armed[0]:
                return
            armed[0] = False
            for o in gc.get_referents(holder["c"]):
                if type(o) is View:
                    try:
                        o.reslice(View(bytearray(b"S" * 4096)))
                    except BufferError:
                        continue  # handed to the transport already: exported, pinned
                    kept.append(memoryview(o))

    def handler(msg, out):
        if msg == b"one":
            out.write(b"ok\n")
            return
        m = memoryview(out.writable())
        m[:3] = b"ok2"
        out.commit(3)
        hold.append(m)  # the window's export held: the output is tainted
        armed[0] = True
        Cyc()

    holder = {}
    c = make(handler)
    holder["c"] = c
    old = gc.get_threshold()
    gc.set_threshold(1)
    try:
        feed(c, b"one\n")
        feed(c, b"two\n")
    finally:
        gc.set_threshold(*old)
    assert bytes(c.sent) == b"ok\nok2"
    for m in kept:
        assert bytes(m[:4]) == b"SSSS"
        m.release()
    hold.pop().release()
    out = c.out
    out.write(b"ABCD")
    pv = memoryview(out.peek(4))
    with pytest.raises(BufferError):
        out.close()  # the export is counted: close refuses
    pv.release()


def test_replies_kept_by_the_transport_cannot_be_rewritten_by_a_kept_view():
    """A transport that keeps the replies' memoryview (a partial send) sends
    them later: a writable View of `out` the handler kept from an earlier
    call goes stale instead of rewriting bytes already handed over."""
    class Keeper(Conn):
        def _write(self, mv):
            self.kept_mv.append(mv)

    views, errors = [], []

    def handler(msg, out):
        for k in views:
            try:
                with memoryview(k) as m:
                    m[:] = b"Y" * len(m)
            except StaleViewError:
                errors.append(1)
        out.write(b"<" + bytes(msg) + b">")
        views.append(out.peek(out.readable))

    c = Keeper(-1, handler, **dict(Delimited(b"\n", limit=64)._args(), in_size=256,
                                   out_size=256, close_token=CLOSE, transport=True))
    c.modes, c.ends, c.sent, c.failures, c.kept_mv = [], [], bytearray(), [], []
    for m in (b"a\n", b"b\n", b"c\n"):
        feed(c, m)
    assert [bytes(m) for m in c.kept_mv] == [b"<a>", b"<b>", b"<c>"]
    assert len(errors) == 3  # 1 + 2: each kept View was stale
    for m in c.kept_mv:
        m.release()
