"""nocopy.serve's poller (serve_poll.c, Linux): one epoll instance that the
loop watches for all the socket engine's connections.  Driven by hand here
(poll() called directly, socketpairs, no event loop), so every case is
deterministic: readiness, a batch whose handlers close, abort or replace
each other, a poll re-entered from a handler, a connection's fd closed behind
its back and its number reused, the poller closed under live connections, a
cycle through the poller's table left to the GC, argument checks and leaks.
The same engine under real loops is test_serve.py's "socket" runs (its
"socket-fd" runs cover the per-socket add_reader fallback)."""
import gc
import os
import socket
import weakref

import pytest

import leakcheck
from serve_helpers import SockConn, drain, fill_send_path, socket_conn
from nocopy import _core
from nocopy._core import _Conn
from nocopy.serve import CLOSE, Delimited

pytestmark = pytest.mark.skipif(not hasattr(_core, "_Poller"), reason="epoll: Linux only")

_Poller = getattr(_core, "_Poller", None)


_open = []


@pytest.fixture(autouse=True)
def _cleanup():
    yield
    while _open:
        o = _open.pop()
        if isinstance(o, _Conn):
            o.abort()
        else:
            o.close()


def echo(msg, out):
    out.write(b"<")
    out.write(msg)
    out.write(b">")


def conn(handler=echo, poller=None, cls=SockConn, **kw):
    c, b = socket_conn(handler, cls, **kw)
    _open.append(b)
    _open.append(c)
    if poller is not None:
        c._attach(poller)
    return c, b


def poller():
    p = _Poller()
    _open.append(p)
    return p


def test_ready_connections_are_run_by_poll():
    p = poller()
    c1, b1 = conn(poller=p)
    c2, b2 = conn(poller=p)
    assert p.registered == 2
    p.poll()  # nothing ready: nothing runs
    assert c1.messages == c2.messages == 0
    b1.send(b"a\nb")
    b2.send(b"c\n")
    p.poll()
    assert drain(b1) == b"<a>" and drain(b2) == b"<c>"
    b1.send(b"\n")
    p.poll()
    assert drain(b1) == b"<b>"
    assert ("mode", 0) not in c1.log + c2.log  # the poller, not Python's _mode, was told
    c1.close()
    assert c1.closed and p.registered == 1
    b2.shutdown(socket.SHUT_WR)
    p.poll()
    assert c2.closed and p.registered == 0
    assert [e[0] for e in c1.log + c2.log] == ["closed", "closed"]


def test_backpressure_switches_to_writability_and_back():
    p = poller()
    c, b = conn(poller=p, out_size=1 << 16, in_size=1 << 12)
    fill_send_path(c)
    b.send(b"x" * 60 + b"\n")
    p.poll()
    assert c._pending > 0  # the reply waits for the socket
    b.send(b"more\n")
    p.poll()  # waiting for writability: not reading
    assert c.messages == 1
    got = bytearray()
    for _ in range(200):
        got += drain(b)
        p.poll()
        if c.messages == 2 and not c._pending:
            break
    got += drain(b)
    assert got.endswith(b"<" + b"x" * 60 + b"><more>")
    assert c.messages == 2 and p.registered == 1 and not c.closed
    assert not [e for e in c.log if e[0] == "mode"]


def test_a_handler_closing_and_replacing_the_rest_of_its_batch():
    """The first connection run aborts the other ready ones and opens new
    connections (which take their fd numbers) in the same batch: the
    aborted ones are not run (or run as ended, a no-op); the new ones wait
    for their own input."""
    p = poller()
    conns = []
    fresh = []

    def handler_of(i):
        def handler(msg, out):
            out.write(b"!")
            if fresh:
                return
            for other in conns:
                if other is not conns[i]:
                    other.abort()
                    fresh.append(conn(poller=p))
        return handler

    peers = []
    for i in range(4):
        c, b = conn(handler_of(i), poller=p)
        conns.append(c)
        peers.append(b)
    for b in peers:
        b.send(b"go\n")
    p.poll()
    alive = [c for c in conns if not c.closed]
    assert len(alive) == 1 and alive[0].messages == 1
    assert sum(c.messages for c in conns) == 1
    assert len(fresh) == 3 and p.registered == 4
    for c, b in fresh:
        b.send(b"n\n")
    p.poll()
    assert all(drain(b) == b"<n>" for _, b in fresh)


def test_poll_re_entered_from_a_handler():
    p = poller()
    nested = []

    def handler(msg, out):
        out.write(b"[" + bytes(msg) + b"]")
        if not nested:
            nested.append(True)
            p.poll()  # runs the other ready connection; this one is busy

    c1, b1 = conn(handler, poller=p)
    c2, b2 = conn(handler, poller=p)
    b1.send(b"1\n")
    b2.send(b"2\n")
    p.poll()
    p.poll()
    assert drain(b1) == b"[1]" and drain(b2) == b"[2]"
    assert c1.messages == c2.messages == 1
    assert not c1.closed and not c2.closed


def test_fd_closed_behind_the_connections_back_and_its_number_reused():
    p = poller()
    old, old_peer = conn(poller=p)
    old.keep_fd = True  # its fd number will belong to the new connection
    fd = old._fileno
    keep_file = os.dup(fd)  # the file (and epoll's registration of it) stays
    try:
        os.close(fd)  # behind the connection's back
        new, new_peer = conn(poller=p)
        assert new._fileno == fd  # the number was reused
        old_peer.send(b"stale\n")  # events for the old registration: ignored
        new_peer.send(b"n\n")
        p.poll()
        p.poll()
        assert drain(new_peer) == b"<n>" and old.messages == 0
        old.close()  # its drop must not take the new connection's registration
        new_peer.send(b"m\n")
        p.poll()
        assert drain(new_peer) == b"<m>"
        assert p.registered == 1
    finally:
        os.close(keep_file)


def _stale(p, cls=SockConn):
    """A connection registered with p whose fd was closed behind its back,
    and a new connection (not attached yet) that got the same fd number;
    the stale one is held by nothing but p's table."""
    old, old_peer = conn(poller=p, cls=cls)
    _open.remove(old)
    fd = old._fileno
    os.close(fd)
    new, new_peer = conn()
    assert new._fileno == fd
    return old, new, new_peer


def test_an_evicted_connection_forgets_the_fd_number_it_lost():
    """Registering the new owner of a reused fd number evicts the stale
    connection: it ends with EBADF and never touches that number again --
    its dealloc must not close the new connection's fd."""
    p = poller()
    old, new, new_peer = _stale(p)
    ref = weakref.ref(old)
    log = old.log
    del old
    new._attach(p)
    assert ref() is None  # the table's reference was the last
    (kind, exc, how), = log
    assert kind == "closed" and isinstance(exc, OSError) and exc.errno == 9 and how == 2
    os.fstat(new._fileno)  # still open
    new_peer.send(b"a\n")
    p.poll()
    assert drain(new_peer) == b"<a>" and p.registered == 1


class Evil(SockConn):
    action = None
    kept = []

    def __del__(self):
        Evil.kept.append(self)  # resurrected: kept alive past the test body
        Evil.action()


def test_a_finalizer_of_the_evicted_connection_attaching_or_aborting_the_new_one():
    """The evicted connection is released after the new one's registration
    is stored: its finalizer finds the new connection attached (a second
    _attach refuses) or aborts it (which then leaves the table and epoll)."""
    import select
    p, p2 = poller(), poller()
    old, new, _ = _stale(p, Evil)
    del old
    errors = []

    def attach_elsewhere():
        try:
            new._attach(p2)
        except RuntimeError as e:
            errors.append(e)

    Evil.action = attach_elsewhere
    new._attach(p)
    assert p.registered == 1 and p2.registered == 0
    assert len(errors) == 1 and "already has a poller" in str(errors[0])
    new.abort()
    assert p.registered == 0

    p = poller()
    old, new, new_peer = _stale(p, Evil)
    del old
    Evil.action = new.abort
    new.keep_fd = True  # Python keeps the fd after the end (as a lingering close does)
    fd = new._fileno
    try:
        new._attach(p)
        assert new.closed and p.registered == 0
        new_peer.send(b"x\n")
        assert select.select([p.fileno()], [], [], 0)[0] == []  # nothing left in epoll
    finally:
        os.close(fd)


def test_close_stops_registrations_made_by_finalizers_it_runs():
    p = _Poller()
    victim, v_peer = conn()
    errors = []

    class Attacher(SockConn):
        def __del__(self):
            try:
                victim._attach(p)
            except RuntimeError as e:
                errors.append(e)

    a, _ = conn(poller=p, cls=Attacher)
    _open.remove(a)
    del a
    p.close()  # its drop of `a` runs the finalizer: the poller is closed by then
    assert p.registered == 0
    assert len(errors) == 1 and "poller is closed" in str(errors[0])


def test_a_huge_or_unopened_fd_is_refused_before_the_table_grows():
    p = poller()
    for fd in (20_000_000, 2**31 - 1):
        c = SockConn(fd, echo, **Delimited(b"\n")._args(), in_size=128, out_size=128,
                     close_token=CLOSE)
        c.log = []
        with pytest.raises(OSError) as e:
            c._attach(p)
        assert e.value.errno == 9
        c.keep_fd = True
        c.abort()  # hands the number back to _closed, which keeps it (never opened)
    assert p.registered == 0


def test_closing_the_poller_under_live_connections():
    p = poller()
    c, b = conn(poller=p, out_size=1 << 16, in_size=1 << 12)
    p.close()
    p.close()  # idempotent
    assert p.registered == 0
    p.poll()  # closed: nothing
    with pytest.raises(ValueError, match="closed"):
        p.fileno()
    # the connection can no longer wait for its socket: it ends when it must
    fill_send_path(c)
    b.send(b"x" * 60 + b"\n")
    c._on_readable()
    assert c.closed
    (kind, exc, how), = [e for e in c.log if e[0] == "closed"]
    assert isinstance(exc, RuntimeError) and "poller is closed" in str(exc) and how == 2
    with pytest.raises(RuntimeError, match="closed"):
        conn(poller=p)


def test_attach_checks_its_arguments():
    p = poller()
    c, _ = conn()
    with pytest.raises(TypeError, match="_Poller"):
        c._attach(object())
    c._attach(p)
    with pytest.raises(RuntimeError, match="already has a poller"):
        c._attach(p)
    c.close()
    with pytest.raises(RuntimeError, match="ended"):
        c._attach(poller())
    t = SockConn(-1, echo, **Delimited(b"\n")._args(), in_size=128, out_size=128,
                 close_token=CLOSE, transport=True)
    with pytest.raises(RuntimeError, match="socket-engine"):
        t._attach(p)
    with pytest.raises(TypeError):
        _Poller(1)
    with pytest.raises(TypeError):
        _Poller(x=1)
    with pytest.raises(TypeError):
        type("P", (_Poller,), {})  # not subclassable


def test_a_cycle_through_the_poller_is_collected_and_the_fd_closed():
    p = _Poller()
    c, b = conn(poller=p)
    _open.remove(c)
    fd = c._fileno
    epfd = p.fileno()
    c.cycle = p  # the poller's table holds c, c holds p
    ref = weakref.ref(c)
    del c, p
    gc.collect()
    assert ref() is None
    for gone in (fd, epfd):  # both collected: the socket and the epoll fd closed
        with pytest.raises(OSError):
            os.fstat(gone)
    assert drain(b) == b""  # the peer sees the end


def test_no_leak_over_attach_poll_close():
    p = poller()

    def cycle():
        c, b = conn(poller=p)
        b.send(b"a\n")
        p.poll()
        c.close()
        _open.remove(c)
        _open.remove(b)
        b.close()

    leakcheck.assert_no_leak(cycle, n=2_000, warmup=200)
    assert p.registered == 0


# ---- random sequences against a model ---------------------------------------------

from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

OPS = st.lists(st.one_of(
    st.tuples(st.just("send"), st.integers(0, 5), st.binary(max_size=40)),
    st.tuples(st.just("poll")),
    st.tuples(st.just("close"), st.integers(0, 5)),
    st.tuples(st.just("abort"), st.integers(0, 5)),
    st.tuples(st.just("new")),
    # the next message on connection i makes its handler abort connection j
    st.tuples(st.just("evil"), st.integers(0, 5), st.integers(0, 5)),
    st.tuples(st.just("peer_eof"), st.integers(0, 5)),
), max_size=40)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=OPS)
def test_random_sequences_against_a_model(ops):
    """Connections on one poller, driven by a random sequence of sends,
    polls, closes, aborts, half-closes, new connections and handlers that
    abort another connection.  The model: every line a connection
    received before it ended is echoed to its peer, in order, and nothing
    else; the poller holds exactly the connections still open."""
    p = poller()
    conns, peers, sent, seen = [], [], [], []
    evil = {}

    def handler_of(i):
        def handler(msg, out):
            seen[i].append(bytes(msg))
            out.write(b"<")
            out.write(msg)
            out.write(b">")
            j = evil.pop(i, None)
            if j is not None and j < len(conns):
                conns[j].abort()
        return handler

    def new():
        i = len(conns)
        c, b = conn(handler_of(i), poller=p, in_size=64, out_size=256)
        conns.append(c)
        peers.append(b)
        sent.append(bytearray())
        seen.append([])

    try:
        run_ops(ops, p, conns, peers, sent, seen, evil, new)
    finally:  # per example: hypothesis runs many in one test
        for c in conns:
            c.abort()
        for b in peers:
            b.close()
        p.close()
        for o in conns + peers + [p]:
            if o in _open:
                _open.remove(o)


def _drain_until_reset(peer):
    """drain(), keeping what arrived before a reset (a close with unread input)."""
    got = bytearray()
    while True:
        try:
            b = peer.recv(1 << 20)
        except (BlockingIOError, ConnectionResetError):
            return bytes(got)
        if not b:
            return bytes(got)
        got += b


def run_ops(ops, p, conns, peers, sent, seen, evil, new):
    new()
    for op in ops:
        kind = op[0]
        if kind == "new":
            if len(conns) < 6:
                new()
            continue
        if kind == "poll":
            p.poll()
            continue
        i = op[1] % len(conns)
        c, b = conns[i], peers[i]
        if kind == "send":
            data = op[2].replace(b"\n", b"") + b"\n" if op[2] else b"x"
            if c.closed:
                continue
            try:
                b.send(data)
            except OSError:
                continue
            sent[i] += data
        elif kind == "close":
            c.close()
        elif kind == "abort":
            c.abort()
        elif kind == "evil":
            evil[i] = op[2] % len(conns)
        elif kind == "peer_eof":
            b.shutdown(socket.SHUT_WR)
    for _ in range(4):
        p.poll()
    open_conns = [c for c in conns if not c.closed]
    assert p.registered == len(open_conns)
    for i, c in enumerate(conns):
        lines = [ln for ln in bytes(sent[i]).split(b"\n")]
        complete = lines[:-1]
        # what was handled is a prefix of the complete lines sent (all of
        # them while the connection is open and has room)
        assert seen[i] == complete[:len(seen[i])], (seen[i], complete)
        got = _drain_until_reset(peers[i])
        want = b"".join(b"<" + m + b">" for m in seen[i])
        assert want.startswith(got) or got == want, (got, want)
        if not c.closed:
            assert len(seen[i]) == len(complete) and got == want
    for c in conns:
        c.abort()
    assert p.registered == 0
