"""nocopy.serve's C connection vs a pure-Python oracle of its framing.

A ``nocopy._core._Conn`` of the transport engine is driven directly, with no
socket and no event loop: a Python subclass provides the hooks nocopy.serve's
_TransportConnection provides (_mode, _write, _closed, _failed) and records
what they receive, and the harness plays the transport: get_buffer(-1),
bytes copied into the View it lends (sometimes through a memoryview export
kept past buffer_updated, as uvloop does), buffer_updated(n); reading only
while the connection has not paused it (_mode); pause_writing from inside
_write now and then (as transport.write does past its high-water mark),
resume_writing later; exports of the replies kept by "the transport"; at
the end EOF or close().  The framing is fuzzer-chosen: Delimited with a
1-3 byte delimiter, LengthPrefixed u8/u16/u32 in both byte orders or
uvarint (padded and overlong encodings too), Fixed; small limits, keep,
input buffers from the smallest allowed up, small output buffers (so
replies hit BufferTooSmall), limit_reply/timeout_reply.

The handler echoes each message as a u32-prefixed frame into `out` and
sometimes returns CLOSE, calls close() or abort(), raises, keeps the
borrowed message View or an export of it, or calls back into the
connection (which must refuse: RuntimeError).  Checked against the oracle
(the framing applied to all the bytes fed, in one piece): the messages the
handler saw are the oracle's, in order, up to the first limit violation /
bad varint, after which nothing more is handled; the bytes handed to
_write are the replies of the calls that did not raise, then limit_reply
(or timeout_reply after a deadline), exactly (a prefix of them after an
abort or a _write that raised); _closed is called once, last; a kept View
shows its bytes or raises StaleViewError, a kept export always shows its
bytes.  Finalizers (gc.set_threshold(1)) close, abort, pause or resume the
connection from inside its C code; a step where one ran is checked for "no
crash, a prefix of the oracle" only.
"""
import os
import struct
import sys

import atheris

import common
from common import Hostile
from nocopy import BufferTooSmall, StaleViewError
from nocopy._core import _Conn
from nocopy.serve import CLOSE, Delimited, Fixed, LengthPrefixed

H = Hostile()
DEBUG = bool(os.environ.get("FUZZ_DEBUG"))
U32 = struct.Struct(">I")


class Boom(Exception):
    """What the handler raises on purpose."""


def uvarint(n, pad=0):
    """LEB128; pad > 0: that many extra bytes (0x80...0x00, a padded encoding)."""
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            break
    if pad:
        out[-1] |= 0x80
        out += b"\x80" * (pad - 1) + b"\x00"
    return bytes(out)


def frame_oracle(spec, data):
    """The framing over all of data: ([(message, bytes consumed)], error),
    error True when the input stops at a limit violation or a bad varint
    (no message after it)."""
    kind, delim, width, little, keep, limit = spec
    msgs, pos, n = [], 0, len(data)
    while True:
        if kind == "delim":
            dn = len(delim)
            # the first delimiter, if it starts within the limit
            i = data.find(delim, pos, pos + limit + dn)
            if i >= 0:
                total = i - pos + dn
                msgs.append((data[pos:i + dn] if keep else data[pos:i], total))
                pos += total
                continue
            return msgs, n - pos >= limit + dn
        if kind == "fixed":
            if n - pos < limit:
                return msgs, False
            msgs.append((data[pos:pos + limit], limit))
            pos += limit
            continue
        if width:
            if n - pos < width:
                return msgs, False
            v = int.from_bytes(data[pos:pos + width], "little" if little else "big")
            w = width
        else:
            # LEB128, at most 10 bytes, within 63 bits; refused as soon as
            # the value read so far is past the limit
            v, w = 0, 0
            while True:
                if pos + w >= n:
                    return msgs, False
                c = data[pos + w]
                if w == 9:
                    if c != 0:
                        return msgs, True
                    w += 1
                    break
                v |= (c & 0x7F) << (7 * w)
                w += 1
                if v > limit:
                    return msgs, True
                if not c & 0x80:
                    break
        if v > limit:
            return msgs, True
        if n - pos - w < v:
            return msgs, False
        body = data[pos + w:pos + w + v]
        msgs.append((data[pos:pos + w + v] if keep else body, w + v))
        pos += w + v


UNRAISABLE = []  # what the connection reported as unraisable (a hook that failed)


def _unraisable(u):
    UNRAISABLE.append(u.exc_value)


sys.unraisablehook = _unraisable


def hook(fn):
    """A hook's failed check is kept for the driver to raise (the C side
    would only report it as unraisable)."""
    def wrapper(self, *args):
        try:
            return fn(self, *args)
        except AssertionError as e:
            self.errors.append(e)
    return wrapper


class FuzzConn(_Conn):
    """The hooks of nocopy.serve's _TransportConnection, recording."""

    @hook
    def _mode(self, mode):
        assert mode in (0, 1, 2), mode
        assert not self.ends or H.fired, "_mode after _closed"
        self.modes.append(mode)
        if mode == 0:
            self.reading = True
        elif mode == 1:
            self.reading = False

    @hook
    def _write(self, view):
        # (a finalizer that runs as the call starts may have ended it)
        assert not self.ends or H.fired, "_write after _closed"
        assert not self.in_handler, "_write while the handler runs"
        fdp = self.fdp
        act = fdp.ConsumeIntInRange(0, 31) if self.acts else 0
        if act == 31 and self.may_fail_write:
            self.write_failed = True
            raise RuntimeError("the transport is closing")
        data = view.tobytes()
        self.wire.append(data)
        if act in (1, 2):
            m = memoryview(view)  # kept, as a transport that could not send it all
            self.held.append((m, data))
        elif act == 3:
            self.kept.append((view, data))  # the View itself, not an export
        if act in (2, 4, 5) and self.may_pause:
            self.pause_writing()  # the transport's buffer is past its high-water mark
        if act == 6:
            # as an SSL transport may from inside write(): the connection is
            # busy, so this only clears the pause for the running call
            self.resume_writing()

    @hook
    def _closed(self, exc, how, fd):
        assert fd == -1, fd
        assert how in (0, 1, 2), how  # close, lingering close, abort
        self.ends.append((exc, how))

    @hook
    def _failed(self, exc):
        self.failures.append(exc)


def check_hooks(conn):
    if conn.errors:
        raise conn.errors[0]
    assert not UNRAISABLE, UNRAISABLE


def run(fdp):
    fk = fdp.ConsumeIntInRange(0, 8)
    limit = fdp.ConsumeIntInRange(1, 40)
    keep = fdp.ConsumeBool()
    delim = None
    if fk == 0:
        delim = fdp.ConsumeBytes(fdp.ConsumeIntInRange(1, 3)).ljust(1, b"\n")
        framing = Delimited(delim, limit=limit, keep=keep)
        spec = ("delim", delim, 0, False, keep, limit)
        span = limit + len(delim)
    elif fk <= 7:
        prefix = ("u8", "u16", "u32", "uvarint")[(fk - 1) // 2]
        little = fk % 2 == 0
        width = {"u8": 1, "u16": 2, "u32": 4, "uvarint": 0}[prefix]
        framing = LengthPrefixed(prefix, byteorder="little" if little else "big", limit=limit,
                                 keep=keep)
        spec = ("prefix", None, width, little and width > 1, keep, limit)
        span = limit + (width or 10)
    else:
        framing = Fixed(limit)
        spec = ("fixed", None, 0, False, False, limit)
        span = limit
    in_size = fdp.ConsumeIntInRange(1, span + 16)
    out_size = fdp.ConsumeIntInRange(64, 200)
    limit_reply = (None, b"", b"-LIMIT\r\n")[fdp.ConsumeIntInRange(0, 2)]
    timeout_reply = (None, b"-TIME\r\n")[fdp.ConsumeIntInRange(0, 1)]
    timeouts = fdp.ConsumeBool()
    sloppy = fdp.ConsumeBool()  # the transport delivers data while reading is paused

    # the input: well-formed frames (mostly), frames past the limit, garbage
    data = bytearray()
    for _ in range(fdp.ConsumeIntInRange(0, 24)):
        seg = fdp.ConsumeIntInRange(0, 15)  # 0 garbage, 13 past the limit, 14-15 odd
        payload = fdp.ConsumeBytes(fdp.ConsumeIntInRange(limit + 1, limit + 2) if seg == 13
                                   else fdp.ConsumeIntInRange(0, limit))
        if seg == 0:
            data += payload
        elif spec[0] == "delim":
            if seg >= 14:  # made of the delimiter's bytes: overlapping, partial delimiters
                alpha = delim + b"x"
                payload = bytes(alpha[c % len(alpha)] for c in payload)
            data += payload + delim
        elif spec[0] == "fixed":
            data += payload.ljust(limit, b"=")[:limit]
        elif spec[2]:
            n = len(payload) if seg < 14 else fdp.ConsumeIntInRange(0, (1 << (8 * spec[2])) - 1)
            data += n.to_bytes(spec[2], "little" if spec[3] else "big") + payload
        else:
            pad = fdp.ConsumeIntInRange(0, 10) if seg >= 14 else 0  # padded, overlong
            data += uvarint(len(payload), pad) + payload
    data = bytes(data)

    calls = []      # [message bytes, outcome] per handler call
    replies = []    # the reply of each call that did not raise

    conn_box = []

    def handler(msg, out):
        conn = conn_box[0]
        assert not conn.ends or H.fired, "handler called after _closed"
        conn.in_handler = True
        try:
            b = msg.tobytes()
            rec = [b, "ok"]
            calls.append(rec)
            act = fdp.ConsumeIntInRange(0, 63) if conn.acts else 0
            if act == 1:
                conn.kept.append((msg, b))
            elif act == 2:
                conn.held.append((memoryview(msg), b))
            elif act == 3:
                for call in (lambda: conn.get_buffer(-1), lambda: conn.buffer_updated(1),
                             conn.eof_received, lambda: conn._check_deadline(float("inf"))):
                    try:
                        r = call()
                    except RuntimeError:
                        continue
                    # _check_deadline of a busy connection: False, nothing done;
                    # buffer_updated of an ended one (a finalizer's abort()): ignored
                    assert r is False or (r is None and conn.closed), ("re-entered", r, call)
            try:
                out.write_u32(len(b))
                out.write(msg)
            except ValueError:  # BufferTooSmall: handled as a raising handler
                rec[1] = "raise"
                raise
            if act == 4:
                rec[1] = "raise"
                raise Boom("on purpose")
            if 4 + len(b) > out_size // 2:
                # the connection fails a reply past out_size // 2 even when it
                # fit: as if the handler had raised BufferTooSmall
                rec[1] = "raise"
                rec.append("too big")
                if act == 7:
                    rec.append("abort")
                    conn.abort()
                return CLOSE if act == 5 else None
            replies.append(U32.pack(len(b)) + b)
            if act == 5:
                rec[1] = "close"
                return CLOSE
            if act == 6:
                rec[1] = "close"
                conn.close()
                return None
            if act == 7:
                rec[1] = "abort"
                conn.abort()
                return None
            if act == 8:
                return "not CLOSE"  # ignored
            return None
        finally:
            conn.in_handler = False

    conn = FuzzConn(-1, handler, close_token=CLOSE,
                    **dict(framing._args(), in_size=in_size, out_size=out_size,
                           limit_reply=limit_reply, timeout_reply=timeout_reply,
                           idle_timeout=3600.0 if timeouts else None,
                           message_timeout=3600.0 if timeouts else None, transport=True))
    conn_box.append(conn)
    conn.fdp = fdp
    conn.acts = True
    conn.modes, conn.wire, conn.ends, conn.failures, conn.errors = [], [], [], [], []
    del UNRAISABLE[:]
    conn.held, conn.kept = [], []
    conn.reading = True
    conn.in_handler = False
    conn.write_failed = False
    conn.may_pause = True
    conn.may_fail_write = fdp.ConsumeIntInRange(0, 7) == 0
    in_held = []    # exports of get_buffer's Views, kept past buffer_updated
    fed = bytearray()
    relaxed = False  # a finalizer ran: only "a prefix of the oracle" holds
    deadline = None  # what the deadline sweep did: "idle", "partial", "paused"
    pos = 0

    def check_views():
        keep = []
        for v, want in conn.kept:
            try:
                got = v.tobytes()
            except StaleViewError:
                continue
            assert got == want, ("a kept View shows other bytes", got, want)
            keep.append((v, want))
        conn.kept[:] = keep
        for m, want in conn.held + in_held:  # pinned: never other bytes
            got = m[:len(want)].tobytes()
            assert got == want, ("an export shows other bytes", got, want)

    def release_all():
        for m, _ in conn.held + in_held:
            m.release()
        conn.held.clear()
        in_held.clear()

    steps = 0
    while not conn.ends and steps < 400:
        steps += 1
        H.reset()
        op = fdp.ConsumeIntInRange(0, 23)
        if op >= 15:  # mostly feeding: 0-9 and 15-19 feed, 20-23 the other steps
            op = op - 15 if op < 20 else op - 10
        if DEBUG:
            print("op", op, "pos", pos, "of", len(data), "reading", conn.reading, flush=True)
        if op == 14:
            akind = fdp.ConsumeIntInRange(0, 3)
            action = (conn.close, conn.abort, conn.pause_writing, conn.resume_writing)[akind]
            H.arm(action, fdp.ConsumeIntInRange(0, 6))
            op = fdp.ConsumeIntInRange(0, 9)  # the step it may fire in
        try:
            if op <= 9:
                if pos >= len(data):
                    break
                if not conn.reading and not sloppy:
                    if op < 5:
                        continue
                    conn.resume_writing()
                    continue
                try:
                    buf = conn.get_buffer(-1)
                except (RuntimeError, BufferTooSmall) as e:
                    # full: only while paused (a whole message always fits
                    # otherwise; a finalizer's resume_writing() while the
                    # connection is busy can leave complete messages
                    # buffered until the next call); RuntimeError is the
                    # intended error, the input ByteBuffer's BufferTooSmall
                    # is what comes
                    assert relaxed or H.fired or not conn.reading, (repr(e), conn.reading)
                    conn.resume_writing()
                    continue
                k = min(fdp.ConsumeIntInRange(1, span + 4), len(buf), len(data) - pos)
                m = memoryview(buf)
                m[:k] = data[pos:pos + k]
                if op == 9:
                    in_held.append((m, data[pos:pos + k]))  # the transport keeps its export (uvloop)
                else:
                    m.release()
                try:
                    conn.buffer_updated(k)
                except RuntimeError as e:
                    # a finalizer of this step (gc at every allocation, after
                    # get_buffer) resumed the connection, whose run moved
                    # the input and with it the free space lent: the
                    # transport's word is refused and nothing changes, as
                    # for op 12's bad calls; without a finalizer, a bug
                    assert H.fired, repr(e)
                    continue
                fed += data[pos:pos + k]
                pos += k
            elif op == 10:
                # the transport writes through the exports it kept of lent
                # buffers: into storage the connection no longer reads
                for m, _ in in_held:
                    m[:] = b"\xee" * len(m)
                release_all()
            elif op == 11:
                if conn.reading:
                    conn.pause_writing()
                else:
                    conn.resume_writing()
            elif op == 12:
                # a transport that breaks the protocol: refused, nothing changes
                for bad in (lambda: conn.buffer_updated(1),
                            lambda: (conn.get_buffer(-1), conn.buffer_updated(1 << 30))):
                    try:
                        bad()
                    except RuntimeError:
                        pass
                    except BufferTooSmall:  # get_buffer of a full input (see above)
                        assert relaxed or H.fired or not conn.reading, "full while reading"
                    else:
                        assert H.fired or conn.ends, "a bad buffer_updated accepted"
            elif op == 13 and timeouts:
                was = "paused" if not conn.reading else "partial" if fed else "idle"
                acted = conn._check_deadline(float("inf"))
                assert acted is True or H.fired, acted
                if acted:
                    deadline = was
                    assert conn.ends or H.fired, "a deadline passed and the connection stays"
        finally:
            H.disarm()
            if H.fired:
                relaxed = True
                common.settle()
        check_hooks(conn)
        check_views()
        # the transport engine hands every reply over at once: a connection
        # told to close has finished by the time the call returns -- unless
        # the transport paused it (then resume_writing() finishes it)
        assert not conn.closing or conn.closed or not conn.reading, \
            "close() lost: closing, never closed"

    # the end: resume until everything buffered is handled, then EOF or close
    conn.acts = fdp.ConsumeBool()  # the handler and _write go on acting, or not
    conn.may_pause = False
    for _ in range(10000):
        if conn.ends or conn.reading:
            break
        conn.resume_writing()
    assert conn.ends or conn.reading, "still paused after resume_writing"
    assert conn.ends or not conn.closing, "close() lost: closing, resumed, never closed"
    eof = fdp.ConsumeBool()
    if not conn.ends and eof:
        assert conn.eof_received() is True
        # paused meanwhile: the messages in hand are answered once the
        # transport resumes writing, then the connection ends (whatever
        # _mode said last: a finalizer's pause_writing() inside a _mode(0)
        # hook reaches the transport before that hook does)
        for _ in range(10000):
            if conn.ends:
                break
            conn.resume_writing()
        assert conn.ends, ("not closed after EOF", conn.reading, conn.closing, conn._pending)
    if not conn.ends:
        conn.close()
    assert conn.ends and conn.closed, "not closed after close()"
    check_hooks(conn)
    check_views()
    release_all()

    # ---- against the oracle ----------------------------------------------------------
    assert len(conn.ends) == 1, conn.ends
    assert conn.messages == len(calls), (conn.messages, len(calls), conn.failures)
    want_msgs, error = frame_oracle(spec, bytes(fed))
    got = [c[0] for c in calls]
    assert got == [m for m, _ in want_msgs[:len(got)]], ("messages", got, want_msgs, spec, bytes(fed))
    stops = [i for i, c in enumerate(calls) if c[1] != "ok"]
    assert not stops or stops[0] == len(calls) - 1, ("a call after a stop", calls)
    raised = sum(c[1] == "raise" for c in calls)
    assert len(conn.failures) == raised, (conn.failures, calls)
    exc, how = conn.ends[0]
    assert (exc is None) != conn.write_failed or relaxed, (exc, conn.write_failed)
    aborted = any("abort" in c[1:] for c in calls) or deadline == "paused"
    assert (how == 2) == aborted or relaxed, (how, calls, deadline)
    wire = b"".join(conn.wire)
    expect = b"".join(replies)
    if not stops and deadline is None and not relaxed and not conn.write_failed:
        # nothing stopped it early: every complete message was handled
        assert len(got) == len(want_msgs), ("messages left", got, want_msgs, spec, bytes(fed))
        if error and limit_reply:
            expect += limit_reply
    elif deadline == "partial" and not stops and not relaxed and timeout_reply:
        consumed = sum(t for _, t in want_msgs[:len(got)])
        if consumed < len(fed):
            expect += timeout_reply
    if relaxed or conn.write_failed or aborted:
        # a finalizer's close() may come after a limit error or a deadline was answered
        tails = (b"", limit_reply or b"", timeout_reply or b"") if relaxed else (b"",)
        assert any((expect + t).startswith(wire) for t in tails), ("wire not a prefix", wire, expect)
    else:
        assert wire == expect, ("wire", wire, expect, calls, spec, bytes(fed))


def test_one_input(data):
    fdp = atheris.FuzzedDataProvider(data)
    try:
        run(fdp)
    finally:
        H.disarm()
        common.settle()


if __name__ == "__main__":
    common.main(test_one_input)
