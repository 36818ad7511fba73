/* buffer.c -- ByteBuffer: fixed-capacity owned storage with a read cursor
 * and a write cursor.  Its reader fast paths (attached source, _read_exact,
 * _readline, the line iterator) are in buffer_read.c, the helpers both share
 * in buffer_impl.h.
 *
 * Ownership: a ByteBuffer owns one reference to an owned NcHolder (its
 * storage), to a write-window holder over that storage, and to the last View
 * it handed out by writable() (cached so a fill loop allocates nothing).
 * Read views (peek, read, read_until, the buffer export) share the storage
 * holder and take its epoch at creation.
 *
 * The borrowed-view rule: bytes under a view are never moved or overwritten
 * while the view can still read them.  A compaction (compact(), clear(), or
 * the implicit one when room is needed) either
 *   - moves bytes in place and bumps holder->epoch, so every view of the
 *     holder raises StaleViewError from then on (O(1) check in C), or
 *   - when a buffer export is held (holder->exports or wwin->exports > 0:
 *     someone took memoryview(view) and the pointer is out of our hands),
 *     moves the unread bytes to a fresh owned holder and drops the old one,
 *     which the views keep alive, unchanged and valid.
 *
 * The write window: writable() views live on their own holder, `wwin`, whose
 * buf/len cover exactly the free space [wpos, capacity) of the storage and
 * whose epoch is bumped, and window re-based, every time wpos moves (commit,
 * write, a fill, a compaction, clear).  So every writable() view, every
 * sub-view or View() of one and every retarget of one is confined to the free
 * space of its time and goes stale as soon as any of it becomes readable:
 * nc_view_check stays one compare.  An export of a write-window view
 * (memoryview(b.writable()) kept across a commit) cannot be made stale; its
 * count lives in wwin->exports, which counts as an export of the storage
 * (compaction and clear() go to fresh storage).  A commit while one is held
 * is allowed -- uvloop holds the export of get_buffer() across
 * buffer_updated(), and `with memoryview(b.writable()) as m:
 * b.commit(f.readinto(m))` is natural code, so refusing like bytearray's
 * resize would break both -- but marks the buffer `wtaint`: before the next
 * View of readable bytes is handed out, if the export is still held, the
 * readable bytes move to fresh storage and the exporter keeps writing into
 * the old one, read by nobody.  The common case (export let go by then)
 * costs one flag test per View made; the move is paid only by code that
 * really keeps the export.  Copies (readinto(), find()) read the bytes where
 * they are.  A fill whose source *took* an export during the call and kept it
 * moves the delivered bytes at once (the source is the hostile party there).
 *
 * Headroom (issue 14): the storage is head + capacity bytes; the cursors
 * start at head, and every move that empties or compacts the buffer puts the
 * readable bytes at bb_front() -- head, or where they are when a prepend()
 * already reached below it -- so writes never use the headroom and clear(),
 * a compaction, a move to fresh storage and a pool's _reset() give it back
 * whole.  prepend() and take_bytes() are in buffer_build.c; take_bytes() can
 * leave the buffer "detached" (an empty stand-in holder, holder->len 0 !=
 * size): every relocation replaces it with fresh storage, so every path that
 * makes room (reserve, make_fill_room, commit, the line finder) attaches.
 *
 * Hostile Python: any allocation may run the cyclic GC and with it a
 * __del__ that uses this very ByteBuffer.  So every path allocates first
 * (the View it returns, the fresh storage it moves to, the bytes of an
 * error), then reads the cursors, validates and mutates with no Python code
 * in between; a value computed before an allocation is never trusted after
 * it.  A fill (fill_from, the line iterator) runs Python code (readinto,
 * recv_into) or releases the GIL around read(2): the ByteBuffer is marked
 * busy for its duration, every mutator refuses with RuntimeError, and the
 * storage is pinned by a reference to its holder.  What a source returns is
 * checked (0 <= n <= the room it was given). */
#include "buffer_impl.h"

#include <errno.h>
#include <unistd.h>

/* ---- small helpers ------------------------------------------------------- */

/* A byte count argument: int-like, >= 0.  `none_value` is stored for None
 * when allow_none.  TypeError names the type, ValueError the range. */
int
nc_bb_size_arg(PyObject *arg, const char *what, int allow_none, Py_ssize_t none_value, Py_ssize_t *out)
{
    if (arg == Py_None && allow_none) {
        *out = none_value;
        return 0;
    }
    if (!PyIndex_Check(arg) || PyBool_Check(arg)) {
        PyErr_Format(PyExc_TypeError, "%s must be an integer%s, not '%.100s'", what,
                     allow_none ? " or None" : "", Py_TYPE(arg)->tp_name);
        return -1;
    }
    Py_ssize_t n = PyNumber_AsSsize_t(arg, PyExc_OverflowError);
    if (n == -1 && PyErr_Occurred()) {
        if (!PyErr_ExceptionMatches(PyExc_OverflowError))
            return -1;
        PyErr_Clear();
        PyErr_Format(PyExc_ValueError, "%s is too large", what);
        return -1;
    }
    if (n < 0) {
        PyErr_Format(PyExc_ValueError, "%s must be >= 0, got %zd", what, n);
        return -1;
    }
    *out = n;
    return 0;
}

/* Positional-or-keyword parsing for METH_FASTCALL|METH_KEYWORDS: names[0 ..
 * npos) may be positional, names[npos .. nall) are keyword-only.  Missing
 * arguments stay NULL in out[]; the first nreq are required. */
int
nc_bb_parse_args(const char *fname, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
           const char *const *names, int npos, int nall, int nreq, PyObject **out)
{
    for (int i = 0; i < nall; i++)
        out[i] = NULL;
    if (nargs > npos) {
        PyErr_Format(PyExc_TypeError, "%s() takes at most %d positional argument%s (%zd given)",
                     fname, npos, npos == 1 ? "" : "s", nargs);
        return -1;
    }
    for (Py_ssize_t i = 0; i < nargs; i++)
        out[i] = args[i];
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    for (Py_ssize_t k = 0; k < nkw; k++) {
        PyObject *key = PyTuple_GET_ITEM(kwnames, k);  /* borrowed */
        int i;
        for (i = 0; i < nall; i++)
            if (PyUnicode_CompareWithASCIIString(key, names[i]) == 0)
                break;
        if (i == nall) {
            PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%U'", fname, key);
            return -1;
        }
        if (out[i] != NULL) {
            PyErr_Format(PyExc_TypeError, "%s() got multiple values for argument '%s'", fname, names[i]);
            return -1;
        }
        out[i] = args[nargs + k];
    }
    for (int i = 0; i < nreq; i++) {
        if (out[i] == NULL) {
            PyErr_Format(PyExc_TypeError, "%s() missing required argument '%s'", fname, names[i]);
            return -1;
        }
    }
    return 0;
}



void
nc_bb_raise_too_small(NcByteBuffer *b, Py_ssize_t needed, const char *what)
{
    nc_raise_new(bb_state(b)->BufferTooSmall, "(sn)", what, needed);
}



/* LimitOverrun carrying a borrowed view of (at most) the first `scanned`
 * readable bytes, which stay in the buffer. */
void
nc_bb_raise_limit(NcByteBuffer *b, Py_ssize_t scanned, const char *msg)
{
    NcView *partial = bb_alloc_view(b);
    if (partial == NULL)
        return;
    Py_ssize_t avail = b->wpos - b->rpos;  /* the allocation may have run Python */
    if (scanned > avail)
        scanned = avail;
    bb_point(partial, b->holder, b->rpos, b->rpos + scanned);
    nc_raise_new(bb_state(b)->LimitOverrun, "(sO)", msg, (PyObject *)partial);
    Py_DECREF(partial);
}

/* wpos moved (or the storage did): every writable() view made so far goes
 * stale, and the window covers the free space as it is now. */
static inline void
bb_wpos_moved(NcByteBuffer *b)
{
    NcHolder *w = b->wwin;
    w->epoch++;
    w->buf = b->holder->buf + b->wpos;
    w->len = b->holder->len - b->wpos;
}

/* ---- moving bytes ---------------------------------------------------------- */

/* New zeroed storage of `size` bytes, of the kind the buffer uses. */
static NcHolder *
bb_new_storage(nc_state *st, Py_ssize_t size, int bstore)
{
    return bstore ? nc_holder_new_bytes(st, size) : nc_holder_new_owned(st, size);
}

/* Fresh zeroed storage of the same size and a write window on it.  Runs
 * Python (allocations): the caller re-reads every cursor afterwards. */
static int
bb_alloc_fresh(NcByteBuffer *b, NcHolder **nh, NcHolder **nw)
{
    nc_state *st = bb_state(b);
    *nw = NULL;
    *nh = bb_new_storage(st, b->size, b->bstore);  /* the size never changes */
    if (*nh == NULL)
        return -1;
    *nw = nc_holder_new_window(st, *nh);
    if (*nw == NULL) {
        Py_CLEAR(*nh);
        return -1;
    }
    return 0;
}

/* Move the unread bytes (none for NC_BB_DROP) to where `mode` says
 * (buffer_impl.h): into nh (fresh storage from bb_alloc_fresh, its window
 * nw; both references stolen), or in place when nh is NULL (bumping the
 * storage epoch).  Runs no Python code, so it works on the cursors as they
 * are now.  A detached buffer (take_bytes) has none, and goes to head. */
static void
bb_move(NcByteBuffer *b, NcHolder *nh, NcHolder *nw, int mode)
{
    NcHolder *h = b->holder, *w = b->wwin;
    Py_ssize_t n = mode == NC_BB_DROP ? 0 : b->wpos - b->rpos;
    Py_ssize_t to;
    if (mode == NC_BB_KEEP && !bb_detached(b))
        to = b->rpos;
    else if (mode == NC_BB_DROP)
        to = b->head;
    else
        to = bb_front(b);
    w->epoch++;  /* the old window's views, in case it is replaced */
    if (nh != NULL) {
        if (n > 0)
            memcpy(nh->buf + to, h->buf + b->rpos, (size_t)n);
        b->holder = nh;
        b->wwin = nw;
    }
    else {
        if (n > 0 && b->rpos != to)
            memmove(h->buf + to, h->buf + b->rpos, (size_t)n);
        h->epoch++;
    }
    b->rpos = to;
    b->wpos = to + n;
    b->unseen = to;  /* new epoch or new storage: no View shows anything yet */
    b->gen++;
    b->wtaint = 0;  /* fresh storage, or in place: nothing exported (bb_exported) */
    bb_wpos_moved(b);
    if (nh != NULL) {
        Py_DECREF(h);  /* views keep it alive, bytes untouched */
        Py_DECREF(w);
    }
}

/* Move the unread bytes to the front (mode: buffer_impl.h): in place
 * unless an export is held, `force_fresh`, or the storage was handed over
 * (take_bytes), then into fresh storage.  Re-entrant: the fresh storage is
 * allocated first, and a nested move run by that allocation leaves
 * consistent cursors that the outer one then moves on. */
int
nc_bb_relocate(NcByteBuffer *b, int force_fresh, int mode)
{
    NcHolder *nh = NULL, *nw = NULL;
    int fresh = force_fresh || bb_exported(b) || bb_detached(b);
    if (fresh && (b->external || b->closed))
        return nc_bb_refuse_fresh(b, NULL);
    if (fresh && bb_alloc_fresh(b, &nh, &nw) < 0)
        return -1;
    if (b->closed) {
        /* a finalizer run by the allocation closed the buffer: installing
         * the fresh storage would reopen it behind closed == True */
        Py_XDECREF(nh);
        Py_XDECREF(nw);
        return nc_bb_refuse_fresh(b, NULL);
    }
    bb_move(b, nh, nw, mode);
    return 0;
}

/* Bytes committed while an export of the write window was held can still be
 * written through it: before a View of readable bytes goes out, move them to
 * fresh storage unless that export was let go since.  Runs Python when it
 * moves (and a finalizer may taint again): loops until clean.  The cursors
 * keep their offsets: a read-only call (peek, an export) that moves must not
 * take the room before the read cursor from a prepend() it interrupts. */
int
nc_bb_untaint(NcByteBuffer *b)
{
    while (b->wtaint) {
        if (b->wwin->exports == 0) {
            b->wtaint = 0;
            break;
        }
        if (nc_bb_relocate(b, 1, NC_BB_KEEP) < 0)
            return -1;
    }
    return 0;
}


/* Before a fill: compact when the tail is less than half the capacity and
 * there are consumed bytes to reclaim (one memmove per half buffer at most);
 * storage handed over by take_bytes() is replaced. */
int
nc_bb_make_fill_room(NcByteBuffer *b)
{
    Py_ssize_t cap = b->size - b->head;
    if (bb_detached(b) || (b->rpos > bb_front(b) && b->size - b->wpos < cap / 2 + 1))
        return nc_bb_relocate(b, 0, NC_BB_COMPACT);
    return 0;
}

int
nc_bytebuffer_reserve(NcByteBuffer *b, Py_ssize_t n, char **out)
{
    /* the common case, no Python code run: it fits the tail, nobody exports
     * the window */
    if (!b->busy && n <= b->holder->len - b->wpos && b->wwin->exports == 0 && !b->closed) {
        *out = b->holder->buf + b->wpos;
        return 0;
    }
    for (;;) {
        if (check_idle(b) < 0)
            return -1;
        /* even n == 0: a closed buffer's empty stand-in "fits" nothing, and
         * a caller told BufferTooSmall would drain and retry for ever */
        if (b->closed)
            return nc_bb_refuse_fresh(b, NULL);
        /* what a compaction can give: the storage after the front (the
         * headroom stays reserved for prepend) */
        if (n > b->size - bb_front(b) - (b->wpos - b->rpos)) {
            nc_bb_raise_too_small(b, n, "ByteBuffer free space too small");
            return -1;
        }
        /* A held export of the write window could still write into what we
         * are about to make readable: write into fresh storage instead (and
         * storage handed over by take_bytes() is replaced). */
        int fresh = b->wwin->exports > 0 || bb_detached(b);
        if (b->holder->len - b->wpos >= n && !fresh) {
            *out = b->holder->buf + b->wpos;
            return 0;
        }
        /* may run Python (fresh storage): check everything again */
        if (nc_bb_relocate(b, fresh, 0) < 0)
            return -1;
    }
}

int
nc_bytebuffer_commit(NcByteBuffer *b, Py_ssize_t n)
{
    /* free reports fresh storage's room after take_bytes(): commit agrees
     * (what it commits is zeroes, as in any fresh storage) */
    if (n > 0 && bb_detached(b) && nc_bb_relocate(b, 0, NC_BB_COMPACT) < 0)
        return -1;
    Py_ssize_t room = b->holder->len - b->wpos;
    if (n < 0 || n > room) {
        PyErr_Format(PyExc_ValueError, "cannot commit %zd bytes: only %zd free", n, room);
        return -1;
    }
    /* An export of the window can still write into these bytes once they
     * are readable: no View of them goes out until it is let go or they
     * moved to fresh storage (nc_bb_untaint). */
    if (b->wwin->exports > 0)
        b->wtaint = 1;
    b->wpos += n;
    bb_wpos_moved(b);
    return 0;
}

int
nc_bytebuffer_truncate(NcByteBuffer *b, Py_ssize_t keep)
{
    if (b->closed || bb_detached(b) || keep < 0 || keep >= b->wpos - b->rpos)
        return 0;
    /* The dropped bytes are free space again: a View handed out over them
     * would show what is written there next.  So the kept bytes "move" in
     * place at their offsets (every View of the storage goes stale), or,
     * with an export held, to fresh storage and the exporter keeps the old
     * one unchanged: nc_bb_relocate's NC_BB_KEEP does exactly that. */
    Py_ssize_t old = b->wpos;
    b->wpos = b->rpos + keep;
    if (nc_bb_relocate(b, 0, NC_BB_KEEP) < 0) {
        if (b->wpos == b->rpos + keep)  /* the move did not happen */
            b->wpos = old;
        return -1;
    }
    return 0;
}

void
nc_bytebuffer_stale_views(NcByteBuffer *b)
{
    if (b->closed || bb_detached(b))
        return;
    b->holder->epoch++;
    b->unseen = b->rpos;  /* no View of the new epoch shows anything yet */
    b->gen++;
}

/* (buffer_impl.h) */
NcView *
nc_bb_wview(NcByteBuffer *b)
{
    /* Dropping the old cached View (resliced onto a foreign exporter) runs
     * that exporter's release, and a finalizer could reach the cache through
     * the GC: the new View must be private when the caller points it, so the
     * old one goes first and the new one is checked after it is stored. */
    for (int tries = 0;; tries++) {
        NcView *v = b->wview;
        if (v != NULL && Py_REFCNT(v) == 1 && v->exports == 0 && v->holder != NULL
            && bb_holder_ok(b, v))  /* not resliced onto another buffer */
            return (NcView *)Py_NewRef(v);
        if (tries == 8) {
            PyErr_SetString(PyExc_RuntimeError,
                            "ByteBuffer: finalizers kept taking its free-space View");
            return NULL;
        }
        Py_CLEAR(b->wview);
        NcHolder *w = (NcHolder *)Py_NewRef(b->wwin);
        v = nc_view_new(bb_state(b)->ViewType, w, 0, 0);
        Py_DECREF(w);
        if (v == NULL)
            return NULL;
        Py_XSETREF(b->wview, (NcView *)Py_NewRef(v));
        if (b->wview == v && Py_REFCNT(v) == 2 && v->exports == 0 && bb_holder_ok(b, v))
            return v;
        Py_DECREF(v);  /* someone took it meanwhile: start over */
    }
}
/* ---- sources ------------------------------------------------------------------ */

int
nc_bb_source_resolve(PyObject *src, nc_source *s)
{
    s->meth = NULL;
    s->fd = -1;
    if (PyLong_Check(src) && !PyBool_Check(src)) {
        long fd = PyLong_AsLong(src);
        if (fd == -1 && PyErr_Occurred())
            return -1;
        if (fd < 0 || fd > INT32_MAX) {
            PyErr_Format(PyExc_ValueError, "file descriptor must be >= 0, got %ld", fd);
            return -1;
        }
        s->fd = (int)fd;
        return 0;
    }
    /* Interned once: a fresh name string per call would be allocated and
     * then kept by the type attribute cache, one block per fill. */
    static PyObject *names[2] = {NULL, NULL};
    if (names[0] == NULL) {
        PyObject *a = PyUnicode_InternFromString("readinto");
        PyObject *r = a ? PyUnicode_InternFromString("recv_into") : NULL;
        if (r == NULL) {
            Py_XDECREF(a);
            return -1;
        }
        names[0] = a;  /* kept for the process, like CPython's _Py_ID strings */
        names[1] = r;
    }
    for (int i = 0; i < 2; i++) {
        s->meth = PyObject_GetAttr(src, names[i]);
        if (s->meth != NULL)
            return 0;
        if (!PyErr_ExceptionMatches(PyExc_AttributeError))
            return -1;
        PyErr_Clear();
    }
    PyErr_Format(PyExc_TypeError,
                 "cannot read from '%.100s': expected a file descriptor (int), a socket "
                 "or an object with readinto()", Py_TYPE(src)->tp_name);
    return -1;
}

void
nc_bb_source_clear(nc_source *s)
{
    Py_CLEAR(s->meth);
}

/* One read of the free space.  Returns 1 with *out = bytes read (0 at EOF),
 * 0 when a non-blocking source had no data (None / EAGAIN), -1 on error.
 * The caller ensures there is free space.  Busy from the first allocation
 * to the commit: no Python code run meanwhile can move the cursors. */
int
nc_bb_fill(NcByteBuffer *b, nc_source *s, Py_ssize_t *out)
{
    PyObject *meth = s->meth ? Py_NewRef(s->meth) : NULL;  /* nobody can drop it mid-call */
    PyObject *res = NULL;
    NcView *v = NULL;
    NcHolder *h = NULL;
    Py_ssize_t wpos, room, n = 0, wexports;
    int rc = -1;
    b->busy = 1;
    if (meth != NULL && (v = nc_bb_wview(b)) == NULL)
        goto done;
    h = (NcHolder *)Py_NewRef(b->holder);  /* pinned for the call */
    wpos = b->wpos;
    room = h->len - wpos;
    wexports = b->wwin->exports;
    if (meth == NULL) {
        ssize_t r;
        for (;;) {
            Py_BEGIN_ALLOW_THREADS
            r = read(s->fd, h->buf + wpos, (size_t)room);
            Py_END_ALLOW_THREADS
            if (r >= 0 || errno != EINTR)
                break;
            if (PyErr_CheckSignals() < 0)
                goto done;
        }
        if (r < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                rc = 0;
                goto done;
            }
            PyErr_SetFromErrno(PyExc_OSError);
            goto done;
        }
        n = (Py_ssize_t)r;
        if (n > room) {  /* a lying read(2) (a seccomp'd or LD_PRELOADed one) */
            PyErr_SetString(PyExc_OSError, "read() returned more bytes than asked for");
            goto done;
        }
    }
    else {
        bb_point(v, b->wwin, 0, room);
        res = PyObject_CallOneArg(meth, (PyObject *)v);
        Py_CLEAR(v);
        if (res == NULL) {
            if (PyErr_ExceptionMatches(PyExc_BlockingIOError)) {
                PyErr_Clear();
                rc = 0;
            }
            goto done;
        }
        if (res == Py_None) {
            rc = 0;
            goto done;
        }
        if (!PyLong_Check(res)) {
            PyErr_Format(PyExc_TypeError, "readinto()/recv_into() returned '%.100s', expected int",
                         Py_TYPE(res)->tp_name);
            goto done;
        }
        n = PyLong_AsSsize_t(res);
        if (n == -1 && PyErr_Occurred())
            goto done;
        if (n < 0 || n > room) {
            PyErr_Format(PyExc_OSError,
                         "readinto()/recv_into() returned invalid length %zd "
                         "(should have been between 0 and %zd)", n, room);
            goto done;
        }
    }
    /* Busy kept every mutator out: wpos and the storage are as they were. */
    if (b->wpos != wpos || b->holder != h) {
        PyErr_SetString(PyExc_RuntimeError, "ByteBuffer changed during a fill");
        goto done;
    }
    if (b->wwin->exports > wexports) {
        /* The source kept an export of what it was lent and could write into
         * the bytes it just delivered: they go to fresh storage at once, the
         * source keeps the old (allocated while still busy). */
        NcHolder *nh, *nw;
        if (b->external) {
            nc_bb_refuse_fresh(b, "the source kept a buffer export of the free space");
            goto done;
        }
        if (bb_alloc_fresh(b, &nh, &nw) < 0)
            goto done;
        b->wpos += n;
        bb_move(b, nh, nw, 0);
    }
    else if (nc_bytebuffer_commit(b, n) < 0)
        goto done;
    *out = n;
    rc = 1;
done:
    b->busy = 0;
    Py_XDECREF(v);
    Py_XDECREF(res);
    Py_XDECREF(h);
    Py_XDECREF(meth);
    return rc;
}

/* ---- type: construction, GC ----------------------------------------------------- */

static PyObject *
bb_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"capacity", "headroom", "storage", NULL};
    PyObject *capobj = NULL, *headobj = NULL, *storage = NULL;
    Py_ssize_t cap = 65536, head = 0;
    int bstore = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O$OO:ByteBuffer", kwlist, &capobj, &headobj,
                                     &storage))
        return NULL;
    if (capobj != NULL && nc_bb_size_arg(capobj, "capacity", 0, 0, &cap) < 0)
        return NULL;
    if (headobj != NULL && nc_bb_size_arg(headobj, "headroom", 0, 0, &head) < 0)
        return NULL;
    if (storage != NULL && storage != Py_None) {
        if (!PyUnicode_Check(storage)) {
            PyErr_Format(PyExc_TypeError, "storage must be 'heap' or 'bytes', not '%.100s'",
                         Py_TYPE(storage)->tp_name);
            return NULL;
        }
        if (PyUnicode_CompareWithASCIIString(storage, "bytes") == 0)
            bstore = 1;
        else if (PyUnicode_CompareWithASCIIString(storage, "heap") != 0) {
            PyErr_Format(PyExc_ValueError, "storage must be 'heap' or 'bytes', not %R", storage);
            return NULL;
        }
    }
    if (cap == 0) {
        PyErr_SetString(PyExc_ValueError, "capacity must be >= 1, got 0");
        return NULL;
    }
    if (head > PY_SSIZE_T_MAX - cap - 64) {  /* bytes storage adds its header */
        PyErr_SetString(PyExc_ValueError, "capacity + headroom is too large");
        return NULL;
    }
    nc_state *st = nc_state_of_type(type);
    NcHolder *h = bb_new_storage(st, cap + head, bstore);
    if (h == NULL)
        return NULL;
    NcHolder *w = nc_holder_new_window(st, h);
    if (w == NULL) {
        Py_DECREF(h);
        return NULL;
    }
    NcByteBuffer *b = (NcByteBuffer *)type->tp_alloc(type, 0);
    if (b == NULL) {
        Py_DECREF(h);
        Py_DECREF(w);
        return NULL;
    }
    nc_bb_setup(b, h, w, head, bstore);
    return (PyObject *)b;
}

void
nc_bb_setup(NcByteBuffer *b, NcHolder *h, NcHolder *w, Py_ssize_t head, int bstore)
{
    b->holder = h;
    b->wwin = w;
    w->buf = h->buf + head;  /* the window covers the free space only */
    w->len = h->len - head;
    b->rpos = b->wpos = head;
    b->head = head;
    b->unseen = head;
    b->size = h->len;
    b->bstore = bstore;
    b->wview = NULL;
    b->overflow = NULL;
    b->src.meth = NULL;
    b->src.fd = -1;
    b->src_eof = 0;
    b->gen = 0;
    b->lends = 0;
    b->busy = 0;
    b->wtaint = 0;
    b->external = 0;
    b->closed = 0;
}

static int
bb_traverse(NcByteBuffer *b, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(b));
    Py_VISIT(b->holder);
    Py_VISIT(b->wwin);
    Py_VISIT(b->wview);
    Py_VISIT(b->overflow);
    Py_VISIT(b->src.meth);
    return 0;
}

static int
bb_clear_gc(NcByteBuffer *b)
{
    /* The holders hold no references that lead back, so they are never part
     * of a cycle: keep them so the storage stays valid for anyone still
     * reaching the buffer. */
    Py_CLEAR(b->wview);
    Py_CLEAR(b->overflow);
    Py_CLEAR(b->src.meth);
    return 0;
}

static void
bb_dealloc(NcByteBuffer *b)
{
    PyTypeObject *tp = Py_TYPE(b);
    PyObject_GC_UnTrack(b);
    Py_CLEAR(b->wview);
    Py_CLEAR(b->overflow);
    Py_CLEAR(b->src.meth);
    Py_CLEAR(b->holder);
    Py_CLEAR(b->wwin);
    tp->tp_free((PyObject *)b);
    Py_DECREF(tp);
}

/* ---- filling ------------------------------------------------------------------------ */

PyDoc_STRVAR(writable_doc,
"writable($self, n=None, /)\n--\n\n"
"A writable View of the free space (n given: of exactly n bytes, compacting\n"
"when needed; BufferTooSmall when n cannot fit), to hand to\n"
"readinto()/recv_into() or to serialize into; then commit(k).  Without n it\n"
"compacts first when the free tail is under half the capacity.  The view is\n"
"borrowed: commit(), write() and any compaction make it stale\n"
"(StaleViewError), so it never writes into readable bytes.  O(1) (plus the\n"
"compaction's memmove of the unread bytes); reuses one View object when the\n"
"previous one was dropped.");

static PyObject *
bb_writable(NcByteBuffer *b, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t n = -1;
    char *dst;
    if (nargs > 1) {
        PyErr_Format(PyExc_TypeError, "writable() takes at most 1 argument (%zd given)", nargs);
        return NULL;
    }
    if (nargs == 1 && nc_bb_size_arg(args[0], "n", 1, -1, &n) < 0)
        return NULL;
    if (check_idle(b) < 0)
        return NULL;
    /* The view first: its allocation may run Python.  Then make room (which
     * re-checks everything after its own allocations) and point the view at
     * the window as it is then. */
    NcView *v = nc_bb_wview(b);
    if (v == NULL)
        return NULL;
    if (n < 0) {
        if (check_idle(b) < 0 || nc_bb_make_fill_room(b) < 0)
            goto fail;
        bb_point(v, b->wwin, 0, b->wwin->len);
        return (PyObject *)v;
    }
    if (nc_bytebuffer_reserve(b, n, &dst) < 0)
        goto fail;
    bb_point(v, b->wwin, 0, n);
    return (PyObject *)v;
fail:
    Py_DECREF(v);
    return NULL;
}

PyDoc_STRVAR(commit_doc,
"commit($self, n, /)\n--\n\n"
"Mark n bytes written into writable() as readable.  ValueError when n exceeds\n"
"the free space.  O(1).");

static PyObject *
bb_commit(NcByteBuffer *b, PyObject *arg)
{
    Py_ssize_t n;
    if (nc_bb_size_arg(arg, "n", 0, 0, &n) < 0 || check_idle(b) < 0)
        return NULL;
    if (nc_bytebuffer_commit(b, n) < 0)
        return NULL;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(write_doc,
"write($self, data, offset=0, length=None)\n--\n\n"
"Copy data[offset:offset+length] (any buffer; length None: to the end) into\n"
"the free space and return the number of bytes written.  Compacts when that\n"
"makes it fit; BufferTooSmall (needed = length) and nothing written when it\n"
"cannot fit.  O(length): one memcpy, no slice object.");

static PyObject *
bb_write(NcByteBuffer *b, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"data", "offset", "length"};
    PyObject *a[3];
    Py_ssize_t offset = 0, length = -1;
    Py_buffer data;
    char *dst;
    if (nargs == 1 && kwnames == NULL)
        a[0] = args[0], a[1] = a[2] = NULL;
    else if (nc_bb_parse_args("write", args, nargs, kwnames, names, 3, 3, 1, a) < 0)
        return NULL;
    if (a[1] != NULL && nc_bb_size_arg(a[1], "offset", 0, 0, &offset) < 0)
        return NULL;
    if (a[2] != NULL && nc_bb_size_arg(a[2], "length", 1, -1, &length) < 0)
        return NULL;
    if (nc_get_buffer(a[0], &data) < 0)
        return NULL;
    PyObject *res = NULL;
    if (offset > data.len) {
        PyErr_Format(PyExc_ValueError, "offset %zd is past the end of data (%zd bytes)",
                     offset, data.len);
        goto done;
    }
    if (length < 0)
        length = data.len - offset;
    else if (length > data.len - offset) {
        PyErr_Format(PyExc_ValueError, "offset %zd + length %zd is past the end of data (%zd bytes)",
                     offset, length, data.len);
        goto done;
    }
    /* not for a closed buffer (its tail is 0): reserve's ValueError, nothing sent */
    if (b->overflow != NULL && length > nc_bytebuffer_tail(b) && !b->busy && !b->closed) {
        /* A sink (nocopy.io.Writer) sends it out without copying it here.
         * Its own reference: the handler may replace itself while it runs. */
        PyBuffer_Release(&data);
        PyObject *handler = Py_NewRef(b->overflow);
        res = PyObject_CallFunction(handler, "OOnn", (PyObject *)b, a[0], offset, length);
        Py_DECREF(handler);
        if (res != NULL && !PyLong_CheckExact(res)) {
            PyErr_Format(PyExc_TypeError, "ByteBuffer overflow handler returned '%.100s', "
                         "expected int", Py_TYPE(res)->tp_name);
            Py_CLEAR(res);
        }
        return res;
    }
    /* The result first (it may run Python), then room, then the copy with
     * nothing in between. */
    res = PyLong_FromSsize_t(length);
    if (res == NULL || nc_bytebuffer_reserve(b, length, &dst) < 0) {
        Py_CLEAR(res);
        goto done;
    }
    if (length > 0)
        memmove(dst, (char *)data.buf + offset, (size_t)length);  /* data may be our own bytes */
    b->wpos += length;  /* reserve left no export of the window: nobody else writes there */
    bb_wpos_moved(b);
done:
    PyBuffer_Release(&data);
    return res;
}

PyDoc_STRVAR(set_overflow_doc,
"_set_overflow($self, handler, /)\n--\n\n"
"Internal (nocopy.io.Writer): when set, write() calls\n"
"handler(self, data, offset, length) and returns its result instead of\n"
"raising BufferTooSmall when data does not fit the free space, and the\n"
"typed writes (write_u32, write_struct ...) call handler(self, b\"\", 0, 0)\n"
"to drain the buffered bytes before a value that does not fit.  None clears.");

static PyObject *
bb_set_overflow(NcByteBuffer *b, PyObject *handler)
{
    if (handler != Py_None && !PyCallable_Check(handler)) {
        PyErr_Format(PyExc_TypeError, "overflow handler must be callable or None, not '%.100s'",
                     Py_TYPE(handler)->tp_name);
        return NULL;
    }
    Py_XSETREF(b->overflow, handler == Py_None ? NULL : Py_NewRef(handler));
    Py_RETURN_NONE;
}

PyDoc_STRVAR(fill_from_doc,
"fill_from($self, src, /)\n--\n\n"
"One read of the free space from src and commit: src is a file descriptor\n"
"(int, read(2) without the GIL), or an object with readinto() (files) or\n"
"recv_into() (sockets).  Returns the number of bytes read, 0 at EOF, None when\n"
"a non-blocking source had no data (None or BlockingIOError).  Compacts first\n"
"when the free tail is under half the capacity; BufferTooSmall (needed=1)\n"
"when the buffer is full of unread bytes.  A source that claims more bytes\n"
"than it was given room for raises OSError.  No copy: the source writes\n"
"straight into the storage.");

static PyObject *
bb_fill_from(NcByteBuffer *b, PyObject *src)
{
    nc_source s;
    Py_ssize_t n;
    PyObject *res = NULL;
    if (check_idle(b) < 0 || nc_bb_source_resolve(src, &s) < 0)
        return NULL;
    /* resolving ran Python code (__getattr__): check again */
    if (check_idle(b) < 0 || nc_bb_make_fill_room(b) < 0)
        goto done;
    if (b->wpos == b->holder->len) {
        nc_bb_raise_too_small(b, 1, "ByteBuffer is full of unread bytes");
        goto done;
    }
    int rc = nc_bb_fill(b, &s, &n);
    if (rc < 0)
        goto done;
    res = rc ? PyLong_FromSsize_t(n) : Py_NewRef(Py_None);
done:
    nc_bb_source_clear(&s);
    return res;
}

/* ---- reading ------------------------------------------------------------------------- */

static Py_ssize_t
bb_length(NcByteBuffer *b)
{
    return b->wpos - b->rpos;
}

/* Optional size argument: absent or None means everything readable
 * (PY_SSIZE_T_MAX here: the caller clamps to what is readable once its View
 * is allocated, as the allocation may change that). */
static int
opt_size(PyObject *const *args, Py_ssize_t nargs, const char *fname, Py_ssize_t *out)
{
    if (nargs > 1) {
        PyErr_Format(PyExc_TypeError, "%s() takes at most 1 argument (%zd given)", fname, nargs);
        return -1;
    }
    *out = PY_SSIZE_T_MAX;
    if (nargs == 1 && nc_bb_size_arg(args[0], "n", 1, PY_SSIZE_T_MAX, out) < 0)
        return -1;
    return 0;
}

PyDoc_STRVAR(peek_doc,
"peek($self, n=None, /)\n--\n\n"
"A borrowed View of the first min(n, len) readable bytes (n None: all of\n"
"them) without consuming them.  O(1): copies nothing.");

static PyObject *
bb_peek(NcByteBuffer *b, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t n;
    if (opt_size(args, nargs, "peek", &n) < 0)
        return NULL;
    NcView *v = bb_alloc_view(b);
    if (v == NULL)
        return NULL;
    Py_ssize_t avail = b->wpos - b->rpos;
    if (n > avail)
        n = avail;
    bb_point(v, b->holder, b->rpos, b->rpos + n);
    return (PyObject *)v;
}

PyDoc_STRVAR(read_doc,
"read($self, n=None, /)\n--\n\n"
"Consume and return a borrowed View of the first min(n, len) readable bytes\n"
"(n None: all of them).  The view stays valid until the buffer moves or\n"
"overwrites those bytes.  O(1): copies nothing.");

static PyObject *
bb_read(NcByteBuffer *b, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t n;
    if (opt_size(args, nargs, "read", &n) < 0)
        return NULL;
    NcView *v = bb_alloc_view(b);
    if (v == NULL)
        return NULL;
    if (check_idle(b) < 0) {
        Py_DECREF(v);
        return NULL;
    }
    Py_ssize_t avail = b->wpos - b->rpos;
    if (n > avail)
        n = avail;
    bb_point(v, b->holder, b->rpos, b->rpos + n);
    b->rpos += n;
    return (PyObject *)v;
}

PyDoc_STRVAR(find_doc,
"find($self, sub, start=0, end=None, /)\n--\n\n"
"Offset of sub in the readable bytes (relative to the read cursor), or -1;\n"
"start/end as bytes.find.  O(len): memchr / memmem, no copy.");

static PyObject *
bb_find(NcByteBuffer *b, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer sub;
    Py_ssize_t start = 0, end = PY_SSIZE_T_MAX;
    if (nargs < 1 || nargs > 3) {
        PyErr_Format(PyExc_TypeError, "find() takes from 1 to 3 arguments (%zd given)", nargs);
        return NULL;
    }
    if (nargs > 1 && nc_parse_slice_index(args[1], &start) < 0)
        return NULL;
    if (nargs > 2 && nc_parse_slice_index(args[2], &end) < 0)
        return NULL;
    if (nc_get_buffer(args[0], &sub) < 0)
        return NULL;
    Py_ssize_t len = b->wpos - b->rpos, r = -1;
    nc_adjust_indices(&start, &end, len);
    if (end - start >= sub.len) {
        r = nc_find(b->holder->buf + b->rpos + start, end - start, sub.buf, sub.len);
        if (r >= 0)
            r += start;
    }
    PyBuffer_Release(&sub);
    return PyLong_FromSsize_t(r);
}

PyDoc_STRVAR(read_until_doc,
"read_until($self, delim, *, limit=None)\n--\n\n"
"Consume and return a borrowed View of the readable bytes up to and including\n"
"the first delim, or None when delim has not arrived yet (nothing consumed).\n"
"limit bounds the returned view's length, delimiter included: when delim does\n"
"not end within the first `limit` readable bytes and `limit` bytes are there,\n"
"LimitOverrun is raised with .partial a borrowed View of the bytes scanned;\n"
"they stay in the buffer.  O(len): one memchr / memmem, no copy.");

static PyObject *
bb_read_until(NcByteBuffer *b, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"delim", "limit"};
    PyObject *a[2];
    Py_ssize_t limit = PY_SSIZE_T_MAX;
    Py_buffer delim;
    PyObject *res = NULL;
    NcView *v = NULL;
    if (nc_bb_parse_args("read_until", args, nargs, kwnames, names, 1, 2, 1, a) < 0)
        return NULL;
    if (a[1] != NULL && nc_bb_size_arg(a[1], "limit", 1, PY_SSIZE_T_MAX, &limit) < 0)
        return NULL;
    if (nc_get_buffer(a[0], &delim) < 0)
        return NULL;
    if (delim.len == 0) {
        PyErr_SetString(PyExc_ValueError, "read_until() delimiter must not be empty");
        goto done;
    }
    /* The View before the scan: its allocation may run Python. */
    v = bb_alloc_view(b);
    if (v == NULL || check_idle(b) < 0)
        goto done;
    Py_ssize_t avail = b->wpos - b->rpos;
    Py_ssize_t scan = avail < limit ? avail : limit;
    Py_ssize_t i = nc_find(b->holder->buf + b->rpos, scan, delim.buf, delim.len);
    if (i >= 0) {
        Py_ssize_t e = b->rpos + i + delim.len;
        bb_point(v, b->holder, b->rpos, e);
        b->rpos = e;
        res = (PyObject *)v;
        v = NULL;
    }
    else if (avail >= limit) {
        bb_point(v, b->holder, b->rpos, b->rpos + scan);
        nc_raise_new(bb_state(b)->LimitOverrun, "(sO)", "delimiter not found within the limit",
                     (PyObject *)v);
    }
    else
        res = Py_NewRef(Py_None);
done:
    Py_XDECREF(v);
    PyBuffer_Release(&delim);
    return res;
}

PyDoc_STRVAR(readinto_doc,
"readinto($self, buf, /)\n--\n\n"
"Copy up to len(buf) readable bytes into the writable buffer buf, consume\n"
"them and return the count (0 when empty).  O(n): one memcpy.");

static PyObject *
bb_readinto(NcByteBuffer *b, PyObject *arg)
{
    Py_buffer dst;
    if (PyObject_GetBuffer(arg, &dst, PyBUF_WRITABLE) < 0) {
        if (PyErr_ExceptionMatches(PyExc_BufferError) || PyErr_ExceptionMatches(PyExc_TypeError)) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError,
                         "readinto() argument must be a writable bytes-like object, not '%.100s'",
                         Py_TYPE(arg)->tp_name);
        }
        return NULL;
    }
    PyObject *res = NULL;
    if (check_idle(b) < 0)
        goto done;
    Py_ssize_t n = b->wpos - b->rpos;
    if (n > dst.len)
        n = dst.len;
    /* the count first: its allocation may run Python (n <= 256 is cached) */
    if ((res = PyLong_FromSsize_t(n)) == NULL)
        goto done;
    if (check_idle(b) < 0 || b->wpos - b->rpos < n) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_RuntimeError, "ByteBuffer changed during readinto()");
        Py_CLEAR(res);
        goto done;
    }
    if (n > 0)
        memmove(dst.buf, b->holder->buf + b->rpos, (size_t)n);
    b->rpos += n;
done:
    PyBuffer_Release(&dst);
    return res;
}

PyDoc_STRVAR(consume_doc,
"consume($self, n, /)\n--\n\n"
"Drop the first n readable bytes.  ValueError when fewer are readable.  O(1).");

static PyObject *
bb_consume(NcByteBuffer *b, PyObject *arg)
{
    Py_ssize_t n;
    if (nc_bb_size_arg(arg, "n", 0, 0, &n) < 0 || check_idle(b) < 0)
        return NULL;
    if (n > b->wpos - b->rpos) {
        PyErr_Format(PyExc_ValueError, "cannot consume %zd bytes: only %zd readable",
                     n, b->wpos - b->rpos);
        return NULL;
    }
    b->rpos += n;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(compact_doc,
"compact($self, /)\n--\n\n"
"Move the unread bytes to the front of the storage: right after the\n"
"headroom (never into it: bytes a prepend() put there stay).  Views of this storage\n"
"go stale, unless a buffer export of one is held (memoryview(view)): then\n"
"the unread bytes move to fresh storage and the old one stays, unchanged, for\n"
"the views.  O(len): one memmove (or memcpy).");

static PyObject *
bb_compact(NcByteBuffer *b, PyObject *Py_UNUSED(ignored))
{
    if (check_idle(b) < 0)
        return NULL;
    /* storage handed over by take_bytes() holds nothing to move: it stays
     * unallocated until something needs room */
    if (!bb_detached(b) && b->rpos > bb_front(b) && nc_bb_relocate(b, 0, 0) < 0)
        return NULL;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(clear_doc,
"clear($self, /)\n--\n\n"
"Drop everything; the next write starts after the headroom (offset 0\n"
"without one), which is whole again for prepend().  Every View of this\n"
"buffer goes stale, writable() ones included, even when it was empty (or,\n"
"with an export held, the buffer takes fresh storage and leaves the old one\n"
"to it).  O(1).");

static PyObject *
bb_clear(NcByteBuffer *b, PyObject *Py_UNUSED(ignored))
{
    if (check_idle(b) < 0)
        return NULL;
    /* Always, even when empty: a view retargeted over free space would
     * otherwise write into whatever comes next (nocopy.pool lends it on). */
    if (nc_bb_relocate(b, 0, 1) < 0)
        return NULL;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(reset_doc,
"_reset($self, /)\n--\n\n"
"Internal (nocopy.pool, taking a buffer back): clear(), detach the source\n"
"and the overflow handler, and make the line iterators made so far raise\n"
"StaleViewError: nothing the previous borrower kept can read or write what\n"
"the next one puts here.  RuntimeError while a fill runs.");

static PyObject *
bb_reset(NcByteBuffer *b, PyObject *Py_UNUSED(ignored))
{
    if (check_idle(b) < 0)
        return NULL;
    /* A borrower closed it: storage of our own can be made again (detached
     * until the relocation below attaches fresh storage), so the pool does
     * not lose the buffer.  A wrap()ped one stays closed: ValueError. */
    if (b->closed && !b->external)
        b->closed = 0;
    if (nc_bb_relocate(b, 0, 1) < 0)
        return NULL;
    if (check_idle(b) < 0)  /* a move to fresh storage ran Python */
        return NULL;
    b->lends++;
    b->src.fd = -1;
    b->src_eof = 0;
    /* last, state consistent: dropping these may run their finalizers */
    Py_CLEAR(b->src.meth);
    Py_CLEAR(b->overflow);
    Py_RETURN_NONE;
}

static PyObject *
bb_get_capacity(NcByteBuffer *b, void *c)
{
    return PyLong_FromSsize_t(b->size - b->head);
}

static PyObject *
bb_get_headroom(NcByteBuffer *b, void *c)
{
    return PyLong_FromSsize_t(b->head);
}

static PyObject *
bb_get_storage(NcByteBuffer *b, void *c)
{
    return PyUnicode_FromString(b->external ? "external" : b->bstore ? "bytes" : "heap");
}

static PyObject *
bb_get_free(NcByteBuffer *b, void *c)
{
    return PyLong_FromSsize_t(nc_bytebuffer_tail(b));
}

static PyObject *
bb_get_readable(NcByteBuffer *b, void *c)
{
    return PyLong_FromSsize_t(b->wpos - b->rpos);
}

static PyObject *
bb_repr(NcByteBuffer *b)
{
    if (b->head > 0)
        return PyUnicode_FromFormat(
            "<nocopy.ByteBuffer capacity=%zd headroom=%zd readable=%zd free=%zd>",
            b->size - b->head, b->head, b->wpos - b->rpos, nc_bytebuffer_tail(b));
    return PyUnicode_FromFormat("<nocopy.ByteBuffer capacity=%zd readable=%zd free=%zd>",
                                b->size, b->wpos - b->rpos, nc_bytebuffer_tail(b));
}

/* The readable region, exported through a borrowed View: the consumer's
 * Py_buffer references that View, so its export counts in holder->exports
 * and a later compaction moves to fresh storage instead of touching it. */
static int
bb_getbuffer(NcByteBuffer *b, Py_buffer *out, int flags)
{
    NcView *v = bb_alloc_view(b);
    if (v == NULL)
        return -1;
    bb_point(v, b->holder, b->rpos, b->wpos);
    int rc = PyObject_GetBuffer((PyObject *)v, out, flags);
    Py_DECREF(v);  /* out->obj keeps it */
    return rc;
}

/* ---- type objects ----------------------------------------------------------------------- */

static PyMethodDef bb_own_methods[] = {
    {"writable", (PyCFunction)(void (*)(void))bb_writable, METH_FASTCALL, writable_doc},
    {"commit", (PyCFunction)bb_commit, METH_O, commit_doc},
    {"write", (PyCFunction)(void (*)(void))bb_write, METH_FASTCALL | METH_KEYWORDS, write_doc},
    {"fill_from", (PyCFunction)bb_fill_from, METH_O, fill_from_doc},
    {"_set_overflow", (PyCFunction)bb_set_overflow, METH_O, set_overflow_doc},
    {"peek", (PyCFunction)(void (*)(void))bb_peek, METH_FASTCALL, peek_doc},
    {"read", (PyCFunction)(void (*)(void))bb_read, METH_FASTCALL, read_doc},
    {"find", (PyCFunction)(void (*)(void))bb_find, METH_FASTCALL, find_doc},
    {"read_until", (PyCFunction)(void (*)(void))bb_read_until, METH_FASTCALL | METH_KEYWORDS,
     read_until_doc},
    {"readinto", (PyCFunction)bb_readinto, METH_O, readinto_doc},
    {"consume", (PyCFunction)bb_consume, METH_O, consume_doc},
    {"compact", (PyCFunction)bb_compact, METH_NOARGS, compact_doc},
    {"clear", (PyCFunction)bb_clear, METH_NOARGS, clear_doc},
    {"_reset", (PyCFunction)bb_reset, METH_NOARGS, reset_doc},
    {NULL},
};

static PyGetSetDef bb_getset[] = {
    {"capacity", (getter)bb_get_capacity, NULL,
     "Bytes of storage for data after the headroom (fixed).", NULL},
    {"headroom", (getter)bb_get_headroom, NULL,
     "Bytes reserved before the data for prepend(); the cursors start there (fixed).", NULL},
    {"storage", (getter)bb_get_storage, NULL,
     "'heap', 'bytes' (storage inside a bytes object that take_bytes() hands over) or "
     "'external' (ByteBuffer.wrap(): a caller's buffer).", NULL},
    {"free", (getter)bb_get_free, NULL,
     "Bytes that can be written after the write cursor without compacting.", NULL},
    {"readable", (getter)bb_get_readable, NULL, "Bytes between the read and write cursors (len).",
     NULL},
    {"closed", (getter)nc_bb_get_closed, NULL, "True after close().", NULL},
    {"_src_eof", (getter)nc_bb_get_src_eof, NULL, "Internal: the attached source reported EOF.", NULL},
    {NULL},
};

PyDoc_STRVAR(bb_doc,
"ByteBuffer(capacity=65536, *, headroom=0, storage='heap')\n--\n\n"
"Owned, fixed-capacity storage with a read cursor and a write cursor.\n"
"Fill it with writable()+commit(), write() or fill_from(); read it through\n"
"borrowed Views (peek, read, read_until) that raise StaleViewError once the\n"
"buffer moves or overwrites their bytes (compact, clear, an implicit\n"
"compaction).  A view whose buffer export is held (memoryview(view)) is never\n"
"changed under its holder: the buffer moves to fresh storage instead.  The\n"
"buffer protocol exports the readable bytes, by the same rule.\n\n"
"headroom bytes are reserved before the data (storage: headroom + capacity):\n"
"the cursors start after them, clear() and compactions put them back, and\n"
"prepend() writes into them.  storage='bytes' keeps the storage inside a\n"
"bytes object that take_bytes() hands over without a copy.\n\n"
"ByteBuffer.wrap(buffer) uses a caller's buffer (shared memory, an mmap) as\n"
"the storage instead.  close() (or the end of a with block) gives the\n"
"storage back and makes every View of it stale.");

/* bb_own_methods, then nc_bb_reader_methods (buffer_read.c) and
 * nc_bb_build_methods (buffer_build.c), nc_bb_wire_methods (buffer_wire.c),
 * nc_bb_fmt_methods (buffer_fmt.c), filled at module init */
static PyMethodDef bb_methods[128];

static PyType_Slot bb_slots[] = {
    {Py_tp_new, bb_new},
    {Py_tp_dealloc, bb_dealloc},
    {Py_tp_traverse, bb_traverse},
    {Py_tp_clear, bb_clear_gc},
    {Py_tp_repr, bb_repr},
    {Py_tp_methods, bb_methods},
    {Py_tp_getset, bb_getset},
    {Py_tp_doc, (void *)bb_doc},
    {Py_sq_length, bb_length},
    {Py_bf_getbuffer, bb_getbuffer},
    {0, NULL},
};

static PyType_Spec bb_spec = {
    .name = "nocopy.ByteBuffer",
    .basicsize = sizeof(NcByteBuffer),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = bb_slots,
};

int
nc_bytebuffer_module_init(PyObject *m, nc_state *st)
{
    if (bb_methods[0].ml_name == NULL) {
        /* one table from the per-file ones; the last slot stays the sentinel,
         * and a table that outgrows the array fails the import loudly */
        PyMethodDef *parts[] = {bb_own_methods, nc_bb_reader_methods, nc_bb_build_methods,
                                 nc_bb_wire_methods, nc_bb_fmt_methods, nc_bb_pickle_methods,
                                 nc_bb_external_methods, nc_bb_json_methods};
        size_t k = 0, cap = sizeof(bb_methods) / sizeof(bb_methods[0]);
        for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
            for (PyMethodDef *d = parts[i]; d->ml_name != NULL; d++) {
                if (k >= cap - 1) {
                    memset(bb_methods, 0, sizeof(bb_methods));
                    PyErr_SetString(PyExc_SystemError,
                                    "ByteBuffer method table too small: raise bb_methods' size");
                    return -1;
                }
                bb_methods[k++] = *d;
            }
        }
    }
    st->ByteBufferType = (PyTypeObject *)PyType_FromModuleAndSpec(m, &bb_spec, NULL);
    if (st->ByteBufferType == NULL)
        return -1;
    if (nc_bb_lineiter_init(m, st) < 0)
        return -1;
    return PyModule_AddType(m, st->ByteBufferType);
}
