/* serve_conn.c -- nocopy.serve's connection: receive into the connection's
 * input ByteBuffer, frame in C (serve_frame.c), call the Python handler once
 * per message with a borrowed View of it and the output ByteBuffer, send the
 * replies straight from that buffer.  No coroutine, future or task per
 * message; on the socket engine no Python between the event loop and the
 * handler either (the loop calls _on_readable, a C method, directly).
 *
 * Two engines share the dispatch:
 *   socket    -- the connection owns a non-blocking socket fd; the loop's
 *                add_reader/add_writer call _on_readable/_on_writable, which
 *                recv(2)/send(2) here.  Python only on a partial send (the
 *                writer is registered) and at the end.
 *   transport -- the object is an asyncio BufferedProtocol (the Python
 *                subclass mixes the base class in): get_buffer hands out the
 *                input buffer's free space, buffer_updated frames and
 *                dispatches, replies go to transport.write through _write.
 *
 * The Python side (nocopy/serve.py) subclasses this type and provides:
 *   _mode(m)                 0 read, 1 wait for writability (stop reading),
 *                            2 neither;
 *   _closed(exc, how, fd)    the end: exc None or the error; how 0 close,
 *                            1 shut down and drain the input first
 *                            (lingering close), 2 abort (unsent replies
 *                            dropped); fd the socket (now Python's) or -1;
 *   _write(mv)               transport engine: hand a memoryview of replies
 *                            over (transport.write);
 *   _failed(exc)             log a handler's exception.
 *
 * Safety under hostile Python: every call out (the handler, the hooks, an
 * allocation that runs the GC) can run anything, including close(),
 * abort() and the ByteBuffers' methods.  So:
 *   - C_BUSY marks a C entry point that calls out: re-entering one raises;
 *     close()/abort() only set flags that the running one reads;
 *   - the input ByteBuffer is kept busy (its methods raise) except inside
 *     the few calls here that reserve room in it, so its cursors are ours;
 *     the output buffer is the handler's, and every cursor of it is read
 *     again after every call out;
 *   - the connection holds a reference to itself across calls out;
 *   - the fd is the connection's own until _closed takes it, and is never
 *     used after C_CLOSED. */
#include "serve.h"
#include "buffer_impl.h"

#include <errno.h>
#include <math.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "structmember.h"

enum { NC_SV_MODE, NC_SV_CLOSED, NC_SV_WRITE, NC_SV_FAILED, NC_SV_COUNT };
_Static_assert(NC_SV_COUNT == NC_SERVE_NAMES, "nc_state.serve_names holds one name per hook");
static const char *const sv_names[NC_SV_COUNT] = {"_mode", "_closed", "_write", "_failed"};

enum {
    C_BUSY = 1,       /* a C entry point that calls out is running */
    C_CLOSING = 2,    /* no more reading or handler calls: send out, then close */
    C_CLOSED = 4,     /* finished: _closed was called, the fd is gone */
    C_PAUSED = 8,     /* replies wait for the peer: no reading, no handler calls */
    C_EOF = 16,       /* the peer shut down its sending side */
    C_TRANSPORT = 32, /* transport engine */
    C_INMSG = 64,     /* a partial message is buffered: the deadline is the message's */
    C_LINGER = 128,   /* close by shutdown + drain: the peer may still be sending */
    C_ABORT = 256,    /* close now, dropping what was not sent */
};

typedef struct {
    PyObject_HEAD
    int fd;               /* socket engine: owned until _closed takes it; -1 after */
    int flags;
    int mode;             /* the last mode set (-1: none yet): told to the poller, or
                           * to Python's _mode */
    PyObject *poller;     /* owned or NULL: the _Poller this connection is registered
                           * with (socket engine on Linux), or NULL: Python's _mode */
    NcByteBuffer *in;     /* owned: the input; busy but for our reserves */
    NcByteBuffer *out;    /* owned: the replies; the handler's to write */
    PyObject *handler;    /* owned */
    PyObject *close_token;  /* owned: the handler returns it to close */
    PyObject *limit_reply;  /* owned bytes or NULL */
    PyObject *timeout_reply;  /* owned bytes or NULL */
    NcView *msg;          /* owned or NULL: the message View, reused while only we hold it */
    NcView *given;        /* owned or NULL: transport: the free space get_buffer() lent */
    NcView *outv;         /* owned or NULL: transport: the replies View, reused likewise */
    nc_framing fr;
    double idle_timeout;  /* seconds, < 0: none */
    double message_timeout;
    double deadline;      /* CLOCK_MONOTONIC seconds (time.monotonic()) */
    Py_ssize_t out_high;  /* send before the next handler call past this many bytes */
    Py_ssize_t messages;
    PyObject *weakreflist;
} NcConn;

static inline nc_state *
conn_state(NcConn *c)
{
    return nc_state_of_type(Py_TYPE(c));
}

static double
mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The exception in flight, normalized, and cleared (3.11 has no
 * PyErr_GetRaisedException). */
static PyObject *
exc_take(void)
{
#if PY_VERSION_HEX >= 0x030C0000
    return PyErr_GetRaisedException();
#else
    PyObject *t, *v, *tb;
    PyErr_Fetch(&t, &v, &tb);
    PyErr_NormalizeException(&t, &v, &tb);
    if (v != NULL && tb != NULL)
        PyException_SetTraceback(v, tb);
    Py_XDECREF(t);
    Py_XDECREF(tb);
    return v;
#endif
}

/* Raise exc again (owned; NULL: nothing), as exc_take() took it. */
static void
exc_restore(PyObject *exc)
{
    if (exc == NULL)
        return;
#if PY_VERSION_HEX >= 0x030C0000
    PyErr_SetRaisedException(exc);
#else
    PyErr_Restore(Py_NewRef((PyObject *)Py_TYPE(exc)), exc, PyException_GetTraceback(exc));
#endif
}

/* Call a hook of the Python side; its failure is reported as unraisable
 * (the loop has nobody to hand it to).  Runs anything. */
static void
conn_hook(NcConn *c, int which, PyObject *const *args, Py_ssize_t nargs)
{
    nc_state *st = conn_state(c);
    PyObject *stack[4];
    stack[0] = (PyObject *)c;
    for (Py_ssize_t i = 0; i < nargs; i++)
        stack[i + 1] = args[i];
    PyObject *r = PyObject_VectorcallMethod(st->serve_names[which], stack,
                                            (size_t)(nargs + 1), NULL);
    if (r == NULL)
        PyErr_WriteUnraisable((PyObject *)c);
    else
        Py_DECREF(r);
}

static void conn_finish(NcConn *c, PyObject *exc);

static void
conn_set_mode(NcConn *c, int mode)
{
    if (c->mode == mode || (c->flags & C_CLOSED))
        return;
    c->mode = mode;
    if (c->poller != NULL) {
        /* the poller runs no Python but for a dropped reference (not
         * ours: we hold one to c across the call) */
        PyObject *drop;
        if (nc_poller_set(c->poller, (PyObject *)c, c->fd, mode, &drop) < 0) {
            /* cannot wait for the socket any more: the connection ends */
            c->flags |= C_ABORT;
            conn_finish(c, exc_take());
        }
        nc_conn_evicted(drop);
        return;
    }
    PyObject *m = PyLong_FromLong(mode);  /* a small int: cached, no allocation */
    if (m == NULL) {
        PyErr_WriteUnraisable((PyObject *)c);
        return;
    }
    conn_hook(c, NC_SV_MODE, &m, 1);
    Py_DECREF(m);
}

/* The end: state final first (nothing here runs again), then the Python
 * side takes the fd and tears down.  exc: owned reference or NULL. */
static void
conn_finish(NcConn *c, PyObject *exc)
{
    if (c->flags & C_CLOSED) {
        Py_XDECREF(exc);
        return;
    }
    int fd = c->fd;
    c->fd = -1;
    c->flags |= C_CLOSED;
    c->flags &= ~C_PAUSED;
    /* out of the poller while the fd is still ours (Python may dup or reuse
     * the number once it has it); the poller's reference goes, ours stays */
    PyObject *poller = c->poller;
    c->poller = NULL;
    if (poller != NULL) {
        PyObject *drop;
        nc_poller_set(poller, (PyObject *)c, fd, NC_POLL_NONE, &drop);  /* drop: NULL */
    }
    PyObject *args[3];
    args[0] = exc != NULL ? exc : Py_None;
    /* how: 2 abort, 1 linger (a peer that finished sending has nothing left
     * to reset the reply with), 0 close */
    int how = (c->flags & C_ABORT) ? 2 : (c->flags & C_LINGER) && !(c->flags & C_EOF) ? 1 : 0;
    args[1] = PyLong_FromLong(how);  /* small ints: cached */
    args[2] = PyLong_FromLong(fd);
    if (args[1] == NULL || args[2] == NULL) {
        PyErr_WriteUnraisable((PyObject *)c);
        if (fd >= 0)
            close(fd);
    }
    else
        conn_hook(c, NC_SV_CLOSED, args, 3);
    Py_XDECREF(args[1]);
    Py_XDECREF(args[2]);
    Py_XDECREF(exc);
    Py_XDECREF(poller);
}

/* An OSError from recv/send: the connection ends (the Python side logs
 * resets quietly). */
static void
conn_io_failed(NcConn *c, int err)
{
    errno = err;
    PyErr_SetFromErrno(PyExc_OSError);
    conn_finish(c, exc_take());
}

/* A C-level failure (MemoryError, a buffer that refuses): the connection
 * ends with the exception in flight. */
static void
conn_fail(NcConn *c)
{
    conn_finish(c, exc_take());
}

/* Replies wait for the peer: no reading, no handler calls.  From here the
 * idle timeout is the deadline (a message timeout no longer applies: the
 * peer, not its request, is what is slow), refreshed by each send that
 * makes progress. */
static void
conn_pause(NcConn *c)
{
    if (c->flags & C_PAUSED)
        return;
    c->flags |= C_PAUSED;
    c->flags &= ~C_INMSG;
    c->deadline = c->idle_timeout >= 0 ? mono_now() + c->idle_timeout : INFINITY;
}

/* ---- buffers ------------------------------------------------------------------- */

static inline Py_ssize_t
out_pending(NcByteBuffer *out)
{
    if (out->closed || bb_detached(out))
        return 0;
    return out->wpos - out->rpos;
}

/* Everything in `out` was sent: the cursors go back to the headroom's end,
 * so the next reply starts there with the whole headroom in front of it
 * for prepend() (and low in the storage).  Views of the sent replies go
 * stale; with an export held nothing moves (the export keeps the bytes). */
static void
out_rewind(NcByteBuffer *out)
{
    if (out->busy || out->closed || bb_detached(out) || bb_exported(out)
        || out->wpos != out->rpos || out->rpos == out->head)
        return;
    (void)nc_bb_relocate(out, 0, NC_BB_DROP);  /* in place: runs no Python, cannot fail */
}

/* Room to receive into: the free tail of the input, compacted when worth it.
 * May run Python (fresh storage when a message View was exported), which
 * may close the connection: the caller checks C_CLOSED. */
static int
in_room(NcConn *c, char **p, Py_ssize_t *room)
{
    NcByteBuffer *in = c->in;
    in->busy = 0;
    int r = nc_bb_make_fill_room(in);
    if (r == 0)
        r = nc_bytebuffer_reserve(in, 1, p);
    in->busy = 1;
    if (r < 0)
        return -1;
    /* reserve ran no Python once it returned: the pointer and tail agree */
    *room = in->holder->len - in->wpos;
    return 0;
}

/* Copy a canned reply (limit_reply, timeout_reply) after the replies so
 * far; skipped when it does not fit (the close still happens). */
static void
out_append(NcConn *c, PyObject *bytes)
{
    if (bytes == NULL)
        return;
    NcByteBuffer *out = c->out;
    Py_ssize_t n = PyBytes_GET_SIZE(bytes);
    char *dst;
    if (out->busy || nc_bytebuffer_reserve(out, n, &dst) < 0) {
        PyErr_Clear();
        return;
    }
    memcpy(dst, PyBytes_AS_STRING(bytes), (size_t)n);
    if (nc_bytebuffer_commit(out, n) < 0)
        PyErr_Clear();
}

/* A private View cached in *slot over buffer b's storage: the cached one
 * while only the slot holds it, else a new one (borrowed from the slot).
 * The old one is dropped first -- resliced onto a foreign exporter, its
 * release runs that exporter's code, which could reach the slot through the
 * GC -- and the new one is checked after it is stored.  Runs Python: the
 * caller reads the cursors after. */
static NcView *
conn_cached_view(NcConn *c, NcView **slot, NcByteBuffer *b)
{
    for (int tries = 0;; tries++) {
        NcView *v = *slot;
        if (v != NULL && Py_REFCNT(v) == 1 && v->exports == 0 && v->holder == b->holder)
            return v;
        if (tries == 8 || c->in == NULL) {
            PyErr_SetString(PyExc_RuntimeError,
                            "nocopy.serve: finalizers kept taking the connection's Views");
            return NULL;
        }
        Py_CLEAR(*slot);
        NcHolder *h = (NcHolder *)Py_NewRef(b->holder);
        v = nc_view_new(conn_state(c)->ViewType, h, 0, 0);
        Py_DECREF(h);
        if (v == NULL)
            return NULL;
        Py_XSETREF(*slot, v);
        if (*slot == v && Py_REFCNT(v) == 1 && v->exports == 0)
            return v;  /* (its holder may be older storage: bb_point moves it on) */
    }
}

/* The message View, cached over the input's storage. */
static NcView *
conn_msg_view(NcConn *c)
{
    return conn_cached_view(c, &c->msg, c->in);
}

/* ---- sending --------------------------------------------------------------------- */

/* Socket engine: send what `out` holds.  0 all sent, 1 some left (the
 * socket is full), -1 the connection ended (closed here). */
static int
sock_flush(NcConn *c)
{
    NcByteBuffer *out = c->out;
    for (;;) {
        if (c->flags & C_CLOSED)
            return -1;
        Py_ssize_t n = out_pending(out);
        if (n <= 0)
            return 0;
        ssize_t k = send(c->fd, out->holder->buf + out->rpos, (size_t)n,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (k > n) {  /* a lying send(2) (seccomp'd, LD_PRELOADed): as nc_bb_fill refuses one */
            PyErr_SetString(PyExc_OSError, "send() reported more bytes than it was given");
            conn_fail(c);
            return -1;
        }
        if (k >= 0) {
            out->rpos += k;
            if (c->flags & C_PAUSED && c->idle_timeout >= 0)
                c->deadline = mono_now() + c->idle_timeout;  /* progress */
            if (k == n)
                out_rewind(out);
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 1;
        conn_io_failed(c, errno);
        return -1;
    }
}

/* Transport engine: hand the replies to the transport (which sends or
 * keeps them: an export it keeps pins the storage, and the buffer moves to
 * fresh storage before it writes there again).  0, or -1 when the
 * connection ended. */
static int
transport_flush(NcConn *c)
{
    NcByteBuffer *out = c->out;
    if (c->flags & C_CLOSED)
        return -1;
    if (out_pending(out) <= 0)
        return 0;
    /* What the transport gets is a memoryview: its bytes are fixed when it
     * is made, whatever Python code does to the View afterwards (a
     * finalizer run when the transport's Python code starts could reslice
     * a View reached through the GC, and the transport would send other
     * bytes).  Untainting (moving bytes an export of the window could still
     * write), making the View and making the memoryview all run Python: the
     * View is checked private and clean before it is pointed, and pointed
     * where we put it after the memoryview is taken. */
    PyObject *mv = NULL;
    for (int tries = 0;; tries++) {
        if (tries == 8) {
            PyErr_SetString(PyExc_RuntimeError,
                            "nocopy.serve: finalizers kept changing the output buffer");
            conn_fail(c);
            return -1;
        }
        if (out->wtaint && nc_bb_untaint(out) < 0) {
            conn_fail(c);
            return -1;
        }
        NcView *v = conn_cached_view(c, &c->outv, out);
        if (v == NULL) {
            conn_fail(c);
            return -1;
        }
        if (c->flags & C_CLOSED)
            return -1;
        if (out->wtaint || Py_REFCNT(v) != 1 || v->exports != 0)
            continue;
        Py_ssize_t n = out_pending(out);  /* after the allocations */
        if (n <= 0)
            return 0;
        NcHolder *h = out->holder;
        Py_ssize_t a = out->rpos;
        bb_point(v, h, a, a + n);
        uint64_t ep = h->epoch;
        Py_INCREF(v);
        mv = PyMemoryView_FromObject((PyObject *)v);
        int moved = v->holder != h || v->start != a || v->stop != a + n || v->epoch != ep;
        Py_DECREF(v);
        if (mv == NULL) {
            conn_fail(c);
            return -1;
        }
        if (c->flags & C_CLOSED) {
            Py_DECREF(mv);
            return -1;
        }
        if (moved || h != out->holder || h->epoch != ep || out->rpos != a || out->wpos < a + n) {
            Py_DECREF(mv);  /* something moved meanwhile: once more */
            continue;
        }
        out->rpos = a + n;  /* the transport has them now (or holds the export) */
        break;
    }
    nc_state *st = conn_state(c);
    PyObject *stack[2] = {(PyObject *)c, mv};
    PyObject *r = PyObject_VectorcallMethod(st->serve_names[NC_SV_WRITE], stack, 2, NULL);
    /* The transport kept the bytes (an export of them outlives the call: a
     * partial send): they are pinned until it sends them, so no View of the
     * storage -- one the handler kept, writable -- may change them now. */
    if (Py_REFCNT(mv) > 1 && !(c->flags & C_CLOSED) && c->out == out)
        nc_bytebuffer_stale_views(out);
    Py_DECREF(mv);
    if (r == NULL) {
        conn_fail(c);  /* the transport refused: it is closing */
        return -1;
    }
    Py_DECREF(r);
    out_rewind(out);  /* unless the transport kept an export of what it was given */
    return (c->flags & C_CLOSED) ? -1 : 0;
}

static inline int
conn_flush(NcConn *c)
{
    return (c->flags & C_TRANSPORT) ? transport_flush(c) : sock_flush(c);
}

/* ---- dispatch ------------------------------------------------------------------ */

/* Past the framing's limit, or a malformed length: the canned answer, the
 * pending input dropped, a lingering close. */
static void
conn_refuse(NcConn *c)
{
    NcByteBuffer *in = c->in;
    in->rpos = in->wpos;
    c->fr.scanned = 0;
    out_append(c, c->limit_reply);
    c->flags |= C_CLOSING | C_LINGER;
}

/* The handler raised: what it wrote in this call goes (the replies before
 * it stay and are sent), the exception is logged, the connection closes. */
static void
conn_handler_failed(NcConn *c, Py_ssize_t keep)
{
    PyObject *exc = exc_take();
    c->flags |= C_CLOSING | C_LINGER;
    if (nc_bytebuffer_truncate(c->out, keep) < 0) {
        /* the failed call's bytes could not be dropped: none may be sent */
        PyErr_WriteUnraisable((PyObject *)c);
        c->flags |= C_ABORT;
        c->flags &= ~C_LINGER;
        conn_finish(c, NULL);
    }
    if (exc != NULL) {
        conn_hook(c, NC_SV_FAILED, &exc, 1);
        Py_DECREF(exc);
    }
}

/* Call the handler for each complete message while the connection may
 * (not closing, closed or paused).  -1 with an exception for a failure of
 * the connection itself (the handler's own are handled here). */
static int
conn_dispatch(NcConn *c)
{
    NcByteBuffer *in = c->in;
    for (;;) {
        if (c->flags & (C_CLOSING | C_CLOSED | C_PAUSED))
            return 0;
        /* room for the next reply: send what piled up first */
        if (out_pending(c->out) > c->out_high) {
            if (conn_flush(c) != 0)
                return 0;
            if (out_pending(c->out) > c->out_high && !(c->flags & C_TRANSPORT)) {
                conn_pause(c);  /* settle registers the writer */
                return 0;
            }
            continue;  /* Python may have run: look again */
        }
        NcView *v = conn_msg_view(c);
        if (v == NULL)
            return -1;
        if (c->flags & (C_CLOSING | C_CLOSED | C_PAUSED))
            continue;
        Py_ssize_t at = in->rpos, avail = in->wpos - in->rpos;
        Py_ssize_t off = 0, len = 0, total = 0;
        int r = nc_framing_next(&c->fr, in->holder->buf + at, avail, &off, &len, &total);
        if (r == NC_FR_MORE)
            return 0;
        if (r != NC_FR_MSG) {
            conn_refuse(c);
            return 0;
        }
        bb_point(v, in->holder, at + off, at + off + len);
        NcByteBuffer *out = (NcByteBuffer *)Py_NewRef(c->out), *out_before = out;
        Py_ssize_t keep = out_pending(out);
        PyObject *h = Py_NewRef(c->handler);
        PyObject *stack[3] = {NULL, (PyObject *)v, (PyObject *)out};
        Py_INCREF(v);
        PyObject *res = PyObject_Vectorcall(h, stack + 1, 2 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
        Py_DECREF(h);
        Py_DECREF(v);
        Py_DECREF(out);
        /* consumed whatever happened: a message that failed is not handled
         * twice.  The input was busy throughout: its cursors are ours. */
        if (in->rpos != at || in->wpos < at + total) {
            Py_XDECREF(res);
            PyErr_SetString(PyExc_RuntimeError,
                            "nocopy.serve: the connection's input buffer changed during the handler");
            return -1;
        }
        in->rpos = at + total;
        c->flags &= ~C_INMSG;
        c->messages++;
        if (res != NULL && c->out == out_before && out_pending(out_before) - keep > c->out_high) {
            /* a reply of more than half the buffer fails even when it happened
             * to fit: whether it fits must not depend on what else is pending */
            Py_ssize_t n = out_pending(out_before) - keep;
            Py_DECREF(res);
            res = NULL;
            nc_bb_raise_too_small(out_before, n, "reply larger than half the output buffer "
                                                 "(out_size // 2): raise out_size");
        }
        if (res == NULL)
            conn_handler_failed(c, keep);
        else {
            if (res == c->close_token)
                c->flags |= C_CLOSING | C_LINGER;
            Py_DECREF(res);
        }
    }
}

/* Deadlines: the message timeout from a partial message's first byte, the
 * idle timeout otherwise (a paused connection's is refreshed by progress). */
static void
conn_stamp(NcConn *c)
{
    if (c->idle_timeout < 0 && c->message_timeout < 0)
        return;
    if (c->flags & C_PAUSED)
        return;
    double now = mono_now();
    if (c->in->wpos > c->in->rpos) {
        if (!(c->flags & C_INMSG)) {
            c->flags |= C_INMSG;
            double t = c->message_timeout >= 0 ? c->message_timeout : c->idle_timeout;
            c->deadline = t >= 0 ? now + t : INFINITY;
        }
    }
    else {
        c->flags &= ~C_INMSG;
        c->deadline = c->idle_timeout >= 0 ? now + c->idle_timeout : INFINITY;
    }
}

/* After a batch: send, then decide what to wait for, or finish. */
static void
conn_settle(NcConn *c)
{
    if (c->flags & C_CLOSED)
        return;
    int r = conn_flush(c);
    if (r < 0 || (c->flags & C_CLOSED))
        return;
    if (r == 1) {  /* socket engine: wait until the socket takes the rest */
        conn_pause(c);
        conn_set_mode(c, 1);
        return;
    }
    if ((c->flags & (C_EOF | C_PAUSED | C_CLOSING)) == (C_EOF | C_PAUSED)) {
        /* transport engine, paused by the transport: the messages in hand
         * are still to be answered (resume_writing runs them, then ends) */
        return;
    }
    if (c->flags & (C_CLOSING | C_EOF)) {
        conn_finish(c, NULL);
        return;
    }
    if (c->flags & C_TRANSPORT) {
        if (!(c->flags & C_PAUSED))
            conn_set_mode(c, 0);
    }
    else {
        c->flags &= ~C_PAUSED;
        conn_set_mode(c, 0);
    }
    conn_stamp(c);
}

/* Enter a C entry point that calls out; 0 when it must not run. */
static int
conn_enter(NcConn *c)
{
    if (c->in == NULL) {  /* cleared by the GC (a finalizer in its cycle calls us) */
        PyErr_SetString(PyExc_RuntimeError, "nocopy.serve: connection already torn down");
        return -1;
    }
    if (c->flags & C_BUSY) {
        PyErr_SetString(PyExc_RuntimeError,
                        "nocopy.serve: connection re-entered (its handler called back into it)");
        return -1;
    }
    c->flags |= C_BUSY;
    Py_INCREF(c);
    return 0;
}

static void conn_settle(NcConn *c);

/* Leave: a close() made while busy (by a hook, a finalizer) is acted on
 * here if the running entry point did not get to it. */
static void
conn_leave(NcConn *c)
{
    /* (a paused socket connection closes when its writer drains it; a
     * paused transport connection has handed everything to the transport,
     * whose own close sends it) */
    for (int i = 0; i < 4 && (c->flags & (C_CLOSING | C_CLOSED)) == C_CLOSING
                    && (!(c->flags & C_PAUSED) || (c->flags & C_TRANSPORT)); i++)
        conn_settle(c);
    c->flags &= ~C_BUSY;
    Py_DECREF(c);
}

/* dispatch + settle, a failure of the connection itself ending it */
static void
conn_run(NcConn *c)
{
    if (conn_dispatch(c) < 0)
        conn_fail(c);
    conn_settle(c);
}

/* ---- socket engine ------------------------------------------------------------- */

PyDoc_STRVAR(on_readable_doc,
"_on_readable($self, /)\n--\n\n"
"The event loop's reader callback (socket engine): one recv into the input\n"
"buffer, the handler for each complete message, one send of the replies.");

static PyObject *
conn_on_readable(NcConn *c, PyObject *Py_UNUSED(ignored))
{
    if (c->flags & C_TRANSPORT) {
        PyErr_SetString(PyExc_RuntimeError, "_on_readable: not a socket-engine connection");
        return NULL;
    }
    if (conn_enter(c) < 0)
        return NULL;
    if (c->flags & (C_CLOSED | C_CLOSING | C_PAUSED | C_EOF))
        goto done;  /* a stale wake-up */
    char *p;
    Py_ssize_t room;
    if (in_room(c, &p, &room) < 0) {
        conn_fail(c);
        goto done;
    }
    if (c->flags & (C_CLOSED | C_CLOSING | C_PAUSED))
        goto done;  /* Python ran in in_room */
    ssize_t k = recv(c->fd, p, (size_t)room, MSG_DONTWAIT);
    if (k > 0) {
        /* in_room's reserve left nothing to relocate: runs no Python */
        if (nc_bytebuffer_commit(c->in, (Py_ssize_t)k) < 0) {
            conn_fail(c);
            goto done;
        }
    }
    else if (k == 0)
        c->flags |= C_EOF;
    else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        goto done;
    else {
        conn_io_failed(c, errno);
        goto done;
    }
    conn_run(c);
done:
    conn_leave(c);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(on_writable_doc,
"_on_writable($self, /)\n--\n\n"
"The event loop's writer callback (socket engine): send the pending replies;\n"
"once all are out, go back to reading and handle the messages buffered meanwhile.");

static PyObject *
conn_on_writable(NcConn *c, PyObject *Py_UNUSED(ignored))
{
    if (c->flags & C_TRANSPORT) {
        PyErr_SetString(PyExc_RuntimeError, "_on_writable: not a socket-engine connection");
        return NULL;
    }
    if (conn_enter(c) < 0)
        return NULL;
    if (c->flags & C_CLOSED)
        goto done;
    if (sock_flush(c) != 0)
        goto done;  /* still full, or ended */
    c->flags &= ~C_PAUSED;
    conn_run(c);
done:
    conn_leave(c);
    Py_RETURN_NONE;
}

int
nc_conn_on_ready(PyObject *conn)
{
    NcConn *c = (NcConn *)conn;
    PyObject *r;
    if (c->flags & C_CLOSED)
        return 0;
    if (c->mode == NC_POLL_READ)
        r = conn_on_readable(c, NULL);
    else if (c->mode == NC_POLL_WRITE)
        r = conn_on_writable(c, NULL);
    else
        return 0;
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 0;
}

PyDoc_STRVAR(attach_doc,
"_attach($self, poller, /)\n--\n\n"
"Socket engine: wait for the socket through poller (a _Poller) from now on,\n"
"reading first, instead of calling _mode.");

static PyObject *
conn_attach(NcConn *c, PyObject *poller)
{
    nc_state *st = conn_state(c);
    if (st == NULL || st->PollerType == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "nocopy.serve: no poller on this platform");
        return NULL;
    }
    if (!PyObject_TypeCheck(poller, st->PollerType)) {
        PyErr_Format(PyExc_TypeError, "_attach() needs a nocopy._core._Poller, not %.100s",
                     Py_TYPE(poller)->tp_name);
        return NULL;
    }
    if (c->flags & C_TRANSPORT) {
        PyErr_SetString(PyExc_RuntimeError, "_attach: not a socket-engine connection");
        return NULL;
    }
    if (c->flags & (C_BUSY | C_CLOSED | C_CLOSING) || c->fd < 0) {
        PyErr_SetString(PyExc_RuntimeError, "_attach: the connection is busy, closing or ended");
        return NULL;
    }
    if (c->poller != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "_attach: the connection already has a poller");
        return NULL;
    }
    /* in the mode it is in (reading, for a new one); registered before it
     * is stored: a failure leaves the connection as it was */
    PyObject *drop;
    if (nc_poller_set(poller, (PyObject *)c, c->fd, c->mode, &drop) < 0) {
        if (drop != NULL) {  /* run with no exception in flight */
            PyObject *exc = exc_take();
            nc_conn_evicted(drop);
            if (PyErr_Occurred())
                PyErr_WriteUnraisable((PyObject *)c);
            exc_restore(exc);
        }
        return NULL;
    }
    c->poller = Py_NewRef(poller);
    nc_conn_evicted(drop);  /* last: anything it runs finds the connection attached */
    Py_RETURN_NONE;
}

void
nc_conn_evicted(PyObject *conn)
{
    if (conn == NULL)
        return;
    NcConn *c = (NcConn *)conn;
    if (!(c->flags & C_CLOSED)) {
        c->fd = -1;  /* another connection's now: conn_finish hands Python -1 */
        c->flags &= ~C_LINGER;
        c->flags |= C_ABORT;
        errno = EBADF;
        PyErr_SetFromErrno(PyExc_OSError);
        conn_finish(c, exc_take());
    }
    Py_DECREF(conn);
}

/* ---- transport engine (asyncio BufferedProtocol methods) -------------------------- */

static PyObject *
conn_get_buffer(NcConn *c, PyObject *Py_UNUSED(sizehint))
{
    if (!(c->flags & C_TRANSPORT)) {
        PyErr_SetString(PyExc_RuntimeError, "get_buffer: not a transport-engine connection");
        return NULL;
    }
    if (c->flags & C_BUSY) {
        PyErr_SetString(PyExc_RuntimeError, "get_buffer: connection re-entered");
        return NULL;
    }
    if (c->flags & C_CLOSED) {
        /* the transport still reads while it closes (an SSL close_notify):
         * somewhere to put it, dropped by buffer_updated */
        return PyByteArray_FromStringAndSize(NULL, 16384);
    }
    Py_CLEAR(c->given);  /* the buffer's cached View is reused only when nobody holds it */
    char *p;
    Py_ssize_t room;
    if (in_room(c, &p, &room) < 0)
        return NULL;
    NcByteBuffer *in = c->in;
    NcView *v = nc_bb_wview(in);  /* may run Python */
    if (v == NULL)
        return NULL;
    /* in_room reserved at least one byte; nc_bb_wview ran Python since, so
     * the tail is read again (the input is busy: nothing moved it) */
    room = in->holder->len - in->wpos;
    if (room <= 0 || in->closed) {  /* cannot happen while the input is busy: refuse, not lie */
        Py_DECREF(v);
        PyErr_SetString(PyExc_RuntimeError, "nocopy.serve: the input buffer has no room");
        return NULL;
    }
    bb_point(v, in->wwin, 0, room);
    Py_XSETREF(c->given, (NcView *)Py_NewRef(v));
    return (PyObject *)v;
}

static PyObject *
conn_buffer_updated(NcConn *c, PyObject *arg)
{
    if (!(c->flags & C_TRANSPORT)) {
        PyErr_SetString(PyExc_RuntimeError, "buffer_updated: not a transport-engine connection");
        return NULL;
    }
    Py_ssize_t n = PyNumber_AsSsize_t(arg, PyExc_OverflowError);
    if (n == -1 && PyErr_Occurred())
        return NULL;
    /* the transport's word is checked against what it was lent: n bytes of
     * the View from the get_buffer() just before, still the free space */
    if (c->flags & C_CLOSED)
        Py_RETURN_NONE;  /* what arrived after the end is dropped */
    NcView *g = c->given;
    c->given = NULL;
    int ok = g != NULL && g->holder == c->in->wwin && g->epoch == g->holder->epoch
             && n >= 0 && n <= g->stop - g->start;
    Py_XDECREF(g);
    if (!ok) {
        PyErr_Format(PyExc_RuntimeError,
                     "buffer_updated(%zd): not the free space the get_buffer() before it lent", n);
        return NULL;
    }
    if (conn_enter(c) < 0)
        return NULL;
    NcByteBuffer *in = c->in;
    if (nc_bytebuffer_commit(in, n) < 0) {
        conn_fail(c);
        goto done;
    }
    if (in->wtaint) {  /* the transport still holds its export of the window */
        in->busy = 0;
        int r = nc_bb_untaint(in);
        in->busy = 1;
        if (r < 0) {
            conn_fail(c);
            goto done;
        }
    }
    if (!(c->flags & (C_CLOSED | C_CLOSING | C_PAUSED)))
        conn_run(c);
    else
        conn_stamp(c);
done:
    conn_leave(c);
    Py_RETURN_NONE;
}

static PyObject *
conn_eof_received(NcConn *c, PyObject *Py_UNUSED(ignored))
{
    if (conn_enter(c) < 0)
        return NULL;
    c->flags |= C_EOF;
    if (!(c->flags & C_CLOSED))
        conn_run(c);
    conn_leave(c);
    Py_RETURN_TRUE;  /* keep the transport: we close it once the replies are out */
}

static PyObject *
conn_pause_writing(NcConn *c, PyObject *Py_UNUSED(ignored))
{
    if (c->flags & C_CLOSED)
        Py_RETURN_NONE;
    conn_pause(c);
    conn_set_mode(c, 1);
    Py_RETURN_NONE;
}

static PyObject *
conn_resume_writing(NcConn *c, PyObject *Py_UNUSED(ignored))
{
    if (c->flags & C_CLOSED)
        Py_RETURN_NONE;
    c->flags &= ~C_PAUSED;
    if (c->flags & C_BUSY)
        Py_RETURN_NONE;  /* the running dispatch goes on, and settles */
    if (conn_enter(c) < 0)
        return NULL;
    conn_run(c);
    conn_leave(c);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(progress_doc,
"_progress($self, /)\n--\n\n"
"The transport engine's sweep saw the transport's write buffer shrink:\n"
"a paused connection's deadline moves on (as a partial send moves it).");

static PyObject *
conn_progress(NcConn *c, PyObject *Py_UNUSED(ignored))
{
    if ((c->flags & (C_PAUSED | C_CLOSED)) == C_PAUSED && c->idle_timeout >= 0)
        c->deadline = mono_now() + c->idle_timeout;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(lost_doc,
"_lost($self, exc, /)\n--\n\n"
"The transport is gone (connection_lost): no more I/O; _closed is called.");

static PyObject *
conn_lost(NcConn *c, PyObject *exc)
{
    if (exc != Py_None && !PyExceptionInstance_Check(exc)) {
        PyErr_SetString(PyExc_TypeError, "_lost: an exception or None");
        return NULL;
    }
    c->flags &= ~C_LINGER;
    conn_finish(c, exc == Py_None ? NULL : Py_NewRef(exc));
    Py_RETURN_NONE;
}

/* ---- public methods ------------------------------------------------------------- */

PyDoc_STRVAR(close_doc,
"close($self, /)\n--\n\n"
"Close gracefully: no more reading or handler calls; the replies written\n"
"so far are sent, then the connection closes.  Idempotent; the handler may\n"
"call it (as returning CLOSE does).");

static PyObject *
conn_close(NcConn *c, PyObject *Py_UNUSED(ignored))
{
    if (c->flags & (C_CLOSED | C_CLOSING)) {
        c->flags |= C_CLOSING;
        Py_RETURN_NONE;
    }
    c->flags |= C_CLOSING | C_LINGER;
    if (c->flags & C_BUSY)
        Py_RETURN_NONE;  /* the running entry point settles */
    if (conn_enter(c) < 0)
        return NULL;
    conn_settle(c);
    conn_leave(c);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(abort_doc,
"abort($self, /)\n--\n\n"
"Close now; replies not yet sent are dropped.  Idempotent.");

static PyObject *
conn_abort(NcConn *c, PyObject *Py_UNUSED(ignored))
{
    if (c->flags & C_CLOSED)
        Py_RETURN_NONE;
    c->flags &= ~C_LINGER;
    c->flags |= C_ABORT;
    Py_INCREF(c);
    conn_finish(c, NULL);
    Py_DECREF(c);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(check_deadline_doc,
"_check_deadline($self, now, /)\n--\n\n"
"The server's sweep: past its deadline (now: time.monotonic()), a\n"
"connection with a partial message gets timeout_reply and closes; an idle\n"
"or stuck one closes.  True when it acted.");

static PyObject *
conn_check_deadline(NcConn *c, PyObject *arg)
{
    double now = PyFloat_AsDouble(arg);
    if (now == -1.0 && PyErr_Occurred())
        return NULL;
    if ((c->flags & (C_CLOSED | C_BUSY)) || !(c->deadline < now))
        Py_RETURN_FALSE;
    if (conn_enter(c) < 0)
        return NULL;
    if (c->flags & C_PAUSED) {  /* the peer stopped reading */
        c->flags &= ~C_LINGER;
        c->flags |= C_ABORT;
        conn_finish(c, NULL);
    }
    else {
        if (c->flags & C_INMSG) {
            NcByteBuffer *in = c->in;
            in->rpos = in->wpos;
            c->fr.scanned = 0;
            out_append(c, c->timeout_reply);
            c->flags |= C_LINGER;
        }
        c->flags |= C_CLOSING;
        conn_settle(c);
    }
    conn_leave(c);
    Py_RETURN_TRUE;
}

/* ---- the type ------------------------------------------------------------------ */

static double
timeout_arg(PyObject *o, const char *name, int *err)
{
    if (o == NULL || o == Py_None)
        return -1.0;
    double t = PyFloat_AsDouble(o);
    if (t == -1.0 && PyErr_Occurred()) {
        *err = 1;
        return 0;
    }
    if (!(t > 0) || isinf(t)) {
        PyErr_Format(PyExc_ValueError, "%s must be a positive number of seconds or None", name);
        *err = 1;
        return 0;
    }
    return t;
}

static PyObject *
conn_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"fd", "handler", "kind", "delim", "width", "little", "keep",
                             "limit", "in_size", "out_size", "close_token", "limit_reply",
                             "timeout_reply", "idle_timeout", "message_timeout", "transport",
                             "out_headroom", NULL};
    int fd, kind, width = 4, little = 0, keep = 0, transport = 0;
    PyObject *handler, *delim = Py_None, *close_token, *limit_reply = Py_None,
             *timeout_reply = Py_None, *idle = Py_None, *msgt = Py_None;
    Py_ssize_t limit, in_size, out_size, out_headroom = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "iOiOippnnnO|OOOOpn:_Conn", kwlist, &fd,
                                     &handler, &kind, &delim, &width, &little, &keep, &limit,
                                     &in_size, &out_size, &close_token, &limit_reply,
                                     &timeout_reply, &idle, &msgt, &transport, &out_headroom))
        return NULL;
    if (!PyCallable_Check(handler)) {
        PyErr_SetString(PyExc_TypeError, "handler must be callable");
        return NULL;
    }
    if (!transport && fd < 0) {
        PyErr_SetString(PyExc_ValueError, "a socket-engine connection needs an fd");
        return NULL;
    }
    if ((limit_reply != Py_None && !PyBytes_Check(limit_reply))
        || (timeout_reply != Py_None && !PyBytes_Check(timeout_reply))) {
        PyErr_SetString(PyExc_TypeError, "limit_reply and timeout_reply must be bytes or None");
        return NULL;
    }
    int err = 0;
    double it = timeout_arg(idle, "idle_timeout", &err);
    double mt = err ? 0 : timeout_arg(msgt, "message_timeout", &err);
    if (err)
        return NULL;
    nc_state *st = nc_state_of_type(type);
    if (st == NULL)
        return NULL;
    NcConn *c = (NcConn *)type->tp_alloc(type, 0);
    if (c == NULL)
        return NULL;
    c->fd = -1;
    c->mode = 0;  /* the Python side starts it reading */
    c->flags = transport ? C_TRANSPORT : 0;
    /* until set up, a failure below deallocates an object with no fd */
    if (nc_framing_init(&c->fr, kind, delim, width, little, keep, limit) < 0)
        goto fail;
    Py_ssize_t span = nc_framing_span(&c->fr);
    if (in_size < span)
        in_size = span;
    if (out_size < 64) {
        PyErr_Format(PyExc_ValueError, "out_size must be at least 64, not %zd", out_size);
        goto fail;
    }
    c->in = (NcByteBuffer *)PyObject_CallFunction((PyObject *)st->ByteBufferType, "n", in_size);
    if (c->in == NULL)
        goto fail;
    if (out_headroom < 0) {
        PyErr_Format(PyExc_ValueError, "out_headroom must be >= 0, not %zd", out_headroom);
        goto fail;
    }
    {
        PyObject *kw = Py_BuildValue("{sn}", "headroom", out_headroom);
        PyObject *a = kw != NULL ? Py_BuildValue("(n)", out_size) : NULL;
        c->out = a != NULL ? (NcByteBuffer *)PyObject_Call((PyObject *)st->ByteBufferType, a, kw)
                           : NULL;
        Py_XDECREF(a);
        Py_XDECREF(kw);
    }
    if (c->out == NULL)
        goto fail;
    c->in->busy = 1;
    c->handler = Py_NewRef(handler);
    c->close_token = Py_NewRef(close_token);
    c->limit_reply = limit_reply == Py_None ? NULL : Py_NewRef(limit_reply);
    c->timeout_reply = timeout_reply == Py_None ? NULL : Py_NewRef(timeout_reply);
    c->idle_timeout = it;
    c->message_timeout = mt;
    c->out_high = out_size / 2;
    c->deadline = INFINITY;
    c->fd = transport ? -1 : fd;
    conn_stamp(c);
    return (PyObject *)c;
fail:
    Py_DECREF(c);
    return NULL;
}

static int
conn_traverse(NcConn *c, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(c));
    Py_VISIT(c->in);
    Py_VISIT(c->out);
    Py_VISIT(c->handler);
    Py_VISIT(c->close_token);
    Py_VISIT(c->msg);
    Py_VISIT(c->given);
    Py_VISIT(c->outv);
    Py_VISIT(c->poller);
    return 0;
}

static int
conn_clear(NcConn *c)
{
    c->flags |= C_CLOSED;  /* first: finalizers run by the drops below find it ended */
    if (c->poller != NULL) {  /* a cycle through the poller's table, cleared by the GC */
        PyObject *poller = c->poller;
        c->poller = NULL;
        PyObject *drop;
        nc_poller_set(poller, (PyObject *)c, c->fd, NC_POLL_NONE, &drop);  /* drop: NULL */
        Py_DECREF(poller);
    }
    Py_CLEAR(c->handler);
    Py_CLEAR(c->close_token);
    Py_CLEAR(c->msg);
    Py_CLEAR(c->given);
    Py_CLEAR(c->outv);
    Py_CLEAR(c->limit_reply);
    Py_CLEAR(c->timeout_reply);
    nc_framing_clear(&c->fr);
    if (c->in != NULL)
        c->in->busy = 0;
    Py_CLEAR(c->in);
    Py_CLEAR(c->out);
    return 0;
}

static void
conn_dealloc(NcConn *c)
{
    PyTypeObject *tp = Py_TYPE(c);
    PyObject_GC_UnTrack(c);
    if (c->weakreflist != NULL)
        PyObject_ClearWeakRefs((PyObject *)c);
    if (c->fd >= 0) {  /* never finished (a server torn down without closing it) */
        close(c->fd);
        c->fd = -1;
    }
    conn_clear(c);
    tp->tp_free(c);
    Py_DECREF(tp);
}

static PyObject *
conn_get_out(NcConn *c, void *Py_UNUSED(x))
{
    if (c->out == NULL)
        Py_RETURN_NONE;
    return Py_NewRef(c->out);
}

static PyObject *
conn_get_messages(NcConn *c, void *Py_UNUSED(x))
{
    return PyLong_FromSsize_t(c->messages);
}

static PyObject *
conn_get_closed(NcConn *c, void *Py_UNUSED(x))
{
    return PyBool_FromLong((c->flags & C_CLOSED) != 0);
}

static PyObject *
conn_get_closing(NcConn *c, void *Py_UNUSED(x))
{
    return PyBool_FromLong((c->flags & (C_CLOSED | C_CLOSING)) != 0);
}

static PyObject *
conn_get_fileno(NcConn *c, void *Py_UNUSED(x))
{
    return PyLong_FromLong(c->fd);
}

static PyObject *
conn_get_deadline(NcConn *c, void *Py_UNUSED(x))
{
    return PyFloat_FromDouble(c->deadline);
}

static PyObject *
conn_get_pending(NcConn *c, void *Py_UNUSED(x))
{
    Py_ssize_t n = c->out != NULL ? out_pending(c->out) : 0;
    return PyLong_FromSsize_t(n);
}

static PyObject *
conn_get_handler(NcConn *c, void *Py_UNUSED(x))
{
    if (c->handler == NULL)
        Py_RETURN_NONE;
    return Py_NewRef(c->handler);
}

static int
conn_set_handler(NcConn *c, PyObject *v, void *Py_UNUSED(x))
{
    if (v == NULL || !PyCallable_Check(v)) {
        PyErr_SetString(PyExc_TypeError, "handler must be callable");
        return -1;
    }
    Py_SETREF(c->handler, Py_NewRef(v));  /* a running call holds its own reference */
    return 0;
}

static PyGetSetDef conn_getset[] = {
    {"out", (getter)conn_get_out, NULL, "The output ByteBuffer (the handler's `out`).", NULL},
    {"messages", (getter)conn_get_messages, NULL, "Messages handled so far.", NULL},
    {"closed", (getter)conn_get_closed, NULL, "The connection has ended.", NULL},
    {"closing", (getter)conn_get_closing, NULL, "close() was called, or the connection ended.", NULL},
    {"handler", (getter)conn_get_handler, (setter)conn_set_handler,
     "The handler called for this connection's messages.", NULL},
    {"_fileno", (getter)conn_get_fileno, NULL, "The socket's fd (socket engine), -1 after the end.", NULL},
    {"_deadline", (getter)conn_get_deadline, NULL, "time.monotonic() deadline, inf: none.", NULL},
    {"_pending", (getter)conn_get_pending, NULL, "Reply bytes not yet sent.", NULL},
    {NULL},
};

static PyMethodDef conn_methods[] = {
    {"_on_readable", (PyCFunction)conn_on_readable, METH_NOARGS, on_readable_doc},
    {"_on_writable", (PyCFunction)conn_on_writable, METH_NOARGS, on_writable_doc},
    {"_attach", (PyCFunction)conn_attach, METH_O, attach_doc},
    {"get_buffer", (PyCFunction)conn_get_buffer, METH_O, "BufferedProtocol.get_buffer"},
    {"buffer_updated", (PyCFunction)conn_buffer_updated, METH_O, "BufferedProtocol.buffer_updated"},
    {"eof_received", (PyCFunction)conn_eof_received, METH_NOARGS, "Protocol.eof_received"},
    {"pause_writing", (PyCFunction)conn_pause_writing, METH_NOARGS, "Protocol.pause_writing"},
    {"resume_writing", (PyCFunction)conn_resume_writing, METH_NOARGS, "Protocol.resume_writing"},
    {"_lost", (PyCFunction)conn_lost, METH_O, lost_doc},
    {"_progress", (PyCFunction)conn_progress, METH_NOARGS, progress_doc},
    {"close", (PyCFunction)conn_close, METH_NOARGS, close_doc},
    {"abort", (PyCFunction)conn_abort, METH_NOARGS, abort_doc},
    {"_check_deadline", (PyCFunction)conn_check_deadline, METH_O, check_deadline_doc},
    {NULL},
};

static PyMemberDef conn_members[] = {
    {"__weaklistoffset__", T_PYSSIZET, offsetof(NcConn, weakreflist), READONLY, NULL},
    {NULL},
};

PyDoc_STRVAR(conn_doc,
"One connection of a nocopy.serve server (the C core; nocopy.serve subclasses it).");

int
nc_serve_module_init(PyObject *m, nc_state *st)
{
    for (int i = 0; i < NC_SV_COUNT; i++) {
        st->serve_names[i] = PyUnicode_InternFromString(sv_names[i]);
        if (st->serve_names[i] == NULL)
            return -1;
    }
    PyType_Slot slots[] = {
        {Py_tp_new, conn_new},
        {Py_tp_dealloc, conn_dealloc},
        {Py_tp_traverse, conn_traverse},
        {Py_tp_clear, conn_clear},
        {Py_tp_methods, conn_methods},
        {Py_tp_getset, conn_getset},
        {Py_tp_members, conn_members},
        {Py_tp_doc, (void *)conn_doc},
        {0, NULL},
    };
    PyType_Spec spec = {
        .name = "nocopy._core._Conn",
        .basicsize = sizeof(NcConn),
        .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE
                 | Py_TPFLAGS_IMMUTABLETYPE,
        .slots = slots,
    };
    PyObject *tp = PyType_FromModuleAndSpec(m, &spec, NULL);
    if (tp == NULL)
        return -1;
    if (PyModule_AddType(m, (PyTypeObject *)tp) < 0) {
        Py_DECREF(tp);
        return -1;
    }
    Py_DECREF(tp);
    return 0;
}
