/* buffer_read.c -- the ByteBuffer's reader fast paths (nocopy.io.Reader):
 * an attached source read without a Python frame, _read_exact, _readline and
 * the C line iterator behind iterlines().
 *
 * The same rules as buffer.c (see its header): every path allocates first
 * (the View it returns, the bytes of an error), then reads the cursors,
 * validates and mutates with no Python code in between; a fill marks the
 * buffer busy.  The line iterator's type lives in the module state, never in
 * an attribute Python code could rebind. */
#include "buffer_impl.h"

#include <errno.h>
#include <unistd.h>

/* ---- an attached source (nocopy.io.Reader's fast paths) ----------------------------- */

PyDoc_STRVAR(attach_doc,
"_attach($self, src, /)\n--\n\n"
"Internal (nocopy.io.Reader): remember src (as fill_from's) for _fill() and\n"
"_read_exact(), which then run without a Python frame.");

static PyObject *
bb_attach(NcByteBuffer *b, PyObject *src)
{
    nc_source s;
    if (check_idle(b) < 0 || nc_bb_source_resolve(src, &s) < 0)
        return NULL;
    if (check_idle(b) < 0) {  /* resolving ran Python code */
        nc_bb_source_clear(&s);
        return NULL;
    }
    Py_XSETREF(b->src.meth, s.meth);
    b->src.fd = s.fd;
    b->src_eof = 0;
    Py_RETURN_NONE;
}

static int
check_attached(NcByteBuffer *b)
{
    if (b->src.meth == NULL && b->src.fd < 0) {
        PyErr_SetString(PyExc_RuntimeError, "no source attached to this ByteBuffer");
        return -1;
    }
    return check_idle(b);
}

static void
raise_blocked(void)
{
    errno = EAGAIN;
    PyErr_SetFromErrno(PyExc_OSError);  /* BlockingIOError */
}

/* One read from the attached source into the free space: the count, 0 at
 * EOF (remembered: later calls do not read again), -1 with an exception
 * (BlockingIOError when a non-blocking source had no data). */
Py_ssize_t
nc_bb_fill_attached(NcByteBuffer *b)
{
    Py_ssize_t n;
    if (b->src_eof)
        return 0;
    if (nc_bb_make_fill_room(b) < 0 || check_attached(b) < 0)  /* Python may have run */
        return -1;
    if (b->wpos == b->holder->len) {
        nc_bb_raise_too_small(b, 1, "ByteBuffer is full of unread bytes");
        return -1;
    }
    int rc = nc_bb_fill(b, &b->src, &n);
    if (rc < 0)
        return -1;
    if (rc == 0) {
        raise_blocked();
        return -1;
    }
    if (n == 0)
        b->src_eof = 1;
    return n;
}

PyDoc_STRVAR(fill_doc,
"_fill($self, /)\n--\n\n"
"Internal: one read from the attached source; 0 at EOF (remembered),\n"
"BlockingIOError when a non-blocking source had no data.");

static PyObject *
bb_fill_method(NcByteBuffer *b, PyObject *Py_UNUSED(ignored))
{
    if (check_attached(b) < 0)
        return NULL;
    Py_ssize_t n = nc_bb_fill_attached(b);
    return n < 0 ? NULL : PyLong_FromSsize_t(n);
}

/* One read from the attached source past the buffer's own storage:
 * read(2) of len bytes at p for an fd, else src.meth(arg), whose count is
 * checked to be in [0, len].  1 with *out; 0 when a non-blocking fd had no
 * data (EAGAIN) or the method returned None, no exception set; -1 with an
 * exception (a BlockingIOError raised by the method included).  The caller
 * keeps the buffer busy and p's memory pinned. */
static int
source_read(NcByteBuffer *b, PyObject *arg, char *p, Py_ssize_t len, Py_ssize_t *out)
{
    if (b->src.meth == NULL) {
        ssize_t k;
        for (;;) {
            Py_BEGIN_ALLOW_THREADS
            k = read(b->src.fd, p, (size_t)len);
            Py_END_ALLOW_THREADS
            if (k >= 0 || errno != EINTR)
                break;
            if (PyErr_CheckSignals() < 0)
                return -1;
        }
        if (k < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            PyErr_SetFromErrno(PyExc_OSError);
            return -1;
        }
        *out = (Py_ssize_t)k;
        return 1;
    }
    PyObject *meth = Py_NewRef(b->src.meth);  /* nobody can drop it mid-call */
    PyObject *ret = PyObject_CallOneArg(meth, arg);
    Py_DECREF(meth);
    if (ret == NULL)
        return -1;
    if (ret == Py_None) {
        Py_DECREF(ret);
        return 0;
    }
    Py_ssize_t r = PyLong_Check(ret) ? PyLong_AsSsize_t(ret) : -2;
    Py_DECREF(ret);
    if (r == -1 && PyErr_Occurred())
        return -1;
    if (r < 0 || r > len) {
        PyErr_Format(PyExc_OSError,
                     "readinto()/recv_into() returned invalid length "
                     "(should have been between 0 and %zd)", len);
        return -1;
    }
    *out = r;
    return 1;
}

PyDoc_STRVAR(readinto_direct_doc,
"_readinto_direct($self, out, /)\n--\n\n"
"Internal (nocopy.io.Reader.readinto with nothing buffered and a large out):\n"
"one read from the attached source straight into the writable buffer out,\n"
"bypassing the storage; the count, 0 at EOF (remembered), BlockingIOError\n"
"when a non-blocking source had no data.  The buffer is busy meanwhile: a\n"
"finalizer or the source's readinto that read through this buffer would\n"
"fill it with the bytes after these, handing the stream out of order.");

static PyObject *
bb_readinto_direct(NcByteBuffer *b, PyObject *out)
{
    Py_buffer pb;
    Py_ssize_t n = -1;
    if (PyObject_GetBuffer(out, &pb, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) < 0)
        return NULL;
    /* the export pins out's memory; taking it may have run Python */
    if (check_attached(b) < 0)
        goto done;
    if (b->wpos != b->rpos) {
        /* filled meanwhile: these bytes come first */
        PyErr_SetString(PyExc_RuntimeError,
                        "ByteBuffer was filled while a direct read was being set up");
        goto done;
    }
    if (b->src_eof || pb.len == 0) {
        /* nothing asked: a read of 0 bytes returns 0, which is not EOF */
        n = 0;
        goto done;
    }
    b->busy = 1;
    int rc = source_read(b, out, pb.buf, pb.len, &n);
    if (rc == 0)
        raise_blocked();
    if (rc <= 0)
        n = -1;
    b->busy = 0;
    if (n == 0)
        b->src_eof = 1;
done:
    PyBuffer_Release(&pb);
    return n < 0 ? NULL : PyLong_FromSsize_t(n);
}

PyObject *
nc_bb_get_src_eof(NcByteBuffer *b, void *c)
{
    return PyBool_FromLong(b->src_eof);
}

static void
raise_incomplete(NcByteBuffer *b, const char *p, Py_ssize_t got, Py_ssize_t expected)
{
    PyObject *partial = PyBytes_FromStringAndSize(p, got);
    if (partial == NULL)
        return;
    nc_raise_new(bb_state(b)->IncompleteRead, "(On)", partial, expected);
    Py_DECREF(partial);
}

/* IncompleteRead with every readable byte as .partial, consumed.  The bytes
 * object first: its allocation may run Python that moves the cursors, so the
 * copy and the consumption follow it with nothing in between. */
static void
raise_incomplete_consume(NcByteBuffer *b, Py_ssize_t expected)
{
    for (;;) {
        Py_ssize_t got = b->wpos - b->rpos;
        PyObject *partial = PyBytes_FromStringAndSize(NULL, got);
        if (partial == NULL)
            return;
        if (check_idle(b) < 0) {
            Py_DECREF(partial);
            return;
        }
        if (b->wpos - b->rpos == got) {
            memcpy(PyBytes_AS_STRING(partial), b->holder->buf + b->rpos, (size_t)got);
            b->rpos += got;
            nc_raise_new(bb_state(b)->IncompleteRead, "(On)", partial, expected);
            Py_DECREF(partial);
            return;
        }
        Py_DECREF(partial);  /* changed under the allocation: again */
    }
}

/* BlockingIOError carrying the bytes read so far as .partial: nothing may be
 * lost when a non-blocking source runs dry in the middle of a large frame. */
static void
raise_blocked_partial(const char *p, Py_ssize_t got)
{
    PyObject *exc = PyObject_CallFunction(PyExc_BlockingIOError, "(is)", EAGAIN,
                                          "the non-blocking source had no data");
    PyObject *partial = exc ? PyBytes_FromStringAndSize(p, got) : NULL;
    if (partial != NULL && PyObject_SetAttrString(exc, "partial", partial) == 0)
        PyErr_SetObject(PyExc_BlockingIOError, exc);
    Py_XDECREF(partial);
    Py_XDECREF(exc);
}

/* n > capacity: one new bytearray, the buffered bytes first, then the source
 * straight into it (no bounce through the ByteBuffer). */
static PyObject *
read_exact_large(NcByteBuffer *b, Py_ssize_t n)
{
    nc_state *st = bb_state(b);
    PyObject *out = PyByteArray_FromStringAndSize(NULL, n), *res = NULL;
    NcHolder *h = NULL;
    if (out == NULL)
        return NULL;
    if (check_idle(b) < 0) {  /* the allocation may have run Python */
        Py_DECREF(out);
        return NULL;
    }
    Py_ssize_t got = b->wpos - b->rpos;
    if (got > n)  /* prepend() can buffer more than the capacity */
        got = n;
    memcpy(PyByteArray_AS_STRING(out), b->holder->buf + b->rpos, (size_t)got);
    /* the rest is lent to the source: no heap garbage reaches a readinto() */
    memset(PyByteArray_AS_STRING(out) + got, 0, (size_t)(n - got));
    b->rpos += got;
    /* From here the frame is ours alone: a finalizer run by an allocation
     * below, or the source's readinto, that read from this buffer would
     * take bytes out of the middle of the frame (they come from the same
     * source), so the buffer is busy until the frame is complete and every
     * mutator or reader that fills refuses with RuntimeError. */
    b->busy = 1;
    /* The holder pins the bytearray's storage (an export) for the reads. */
    if ((h = nc_holder_from_object(st, out)) == NULL)
        goto done;
    while (got < n && !b->src_eof) {
        Py_ssize_t r;
        NcView *v = NULL;
        if (b->src.meth != NULL) {
            /* the source's argument: a View of the rest of the frame */
            if ((v = nc_view_new(st->ViewType, h, got, n)) == NULL)
                goto done;
            if (b->src.meth == NULL) {  /* the allocation ran Python that dropped it */
                Py_DECREF(v);
                continue;
            }
        }
        int rc = source_read(b, (PyObject *)v, h->buf + got, n - got, &r);
        Py_XDECREF(v);
        if (rc < 0 && PyErr_ExceptionMatches(PyExc_BlockingIOError)) {
            PyErr_Clear();
            rc = 0;
        }
        if (rc == 0)
            raise_blocked_partial(h->buf, got);
        if (rc <= 0)
            goto done;
        if (r == 0)
            b->src_eof = 1;
        got += r;
    }
    if (got < n) {
        raise_incomplete(b, h->buf, got, n);
        goto done;
    }
    res = (PyObject *)nc_view_new(st->ViewType, h, 0, n);
done:
    b->busy = 0;
    Py_XDECREF(h);
    Py_DECREF(out);
    return res;
}

PyDoc_STRVAR(read_exact_doc,
"_read_exact($self, n, /)\n--\n\n"
"Internal (nocopy.io.Reader.read_exact): consume exactly n bytes, reading the\n"
"attached source as needed; a borrowed View (n <= capacity) or a View of one\n"
"new bytearray; IncompleteRead(partial, n) at EOF.");

static PyObject *
bb_read_exact(NcByteBuffer *b, PyObject *arg)
{
    Py_ssize_t n;
    NcView *v;
    if (PyLong_CheckExact(arg) && (n = PyLong_AsSsize_t(arg)) >= 0 && n <= b->wpos - b->rpos &&
        !b->busy) {
        /* the hot path: buffered.  The View first, then check again. */
        if ((v = bb_alloc_view(b)) == NULL)
            return NULL;
        if (n <= b->wpos - b->rpos && !b->busy) {
            bb_point(v, b->holder, b->rpos, b->rpos + n);
            b->rpos += n;
            return (PyObject *)v;
        }
        Py_DECREF(v);
    }
    PyErr_Clear();
    if (nc_bb_size_arg(arg, "n", 0, 0, &n) < 0 || check_attached(b) < 0)
        return NULL;
    if (n > b->size - b->head && n > b->wpos - b->rpos)
        return read_exact_large(b, n);
    for (;;) {
        while (b->wpos - b->rpos < n) {
            /* room for the whole frame in the tail, or compact for it */
            if ((bb_detached(b) || b->holder->len - b->rpos < n) && nc_bb_relocate(b, 0, 0) < 0)
                return NULL;
            if (check_attached(b) < 0)  /* the move may have run Python */
                return NULL;
            Py_ssize_t r = b->wpos - b->rpos >= n ? 1 : nc_bb_fill_attached(b);
            if (r < 0)
                return NULL;
            if (r == 0) {
                raise_incomplete_consume(b, n);
                return NULL;
            }
        }
        if ((v = bb_alloc_view(b)) == NULL)
            return NULL;
        if (check_idle(b) < 0) {
            Py_DECREF(v);
            return NULL;
        }
        if (b->wpos - b->rpos >= n) {
            bb_point(v, b->holder, b->rpos, b->rpos + n);
            b->rpos += n;
            return (PyObject *)v;
        }
        Py_DECREF(v);  /* consumed under the allocation: read on */
    }
}

/* ---- the line iterator ------------------------------------------------------------------ */

typedef struct {
    PyObject_HEAD
    NcByteBuffer *bb;    /* owned */
    nc_source src;       /* src.meth owned */
    NcView *view;        /* owned or NULL: the reused view (reuse=True) */
    NcView *spare[2];    /* owned or NULL: recently yielded views, recycled once the
                          * consumer dropped them (refcount 1), like a freelist */
    Py_ssize_t scan;     /* bytes after the read cursor known to hold no newline */
    Py_ssize_t scan_rpos;
    uint64_t scan_gen;
    uint64_t lends;      /* bb->lends at creation: a pool lent the buffer on since */
    int keepends;
    int reuse;
    int eof;
} NcLineIter;

static int
lineiter_traverse(NcLineIter *it, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(it));
    Py_VISIT(it->bb);
    Py_VISIT(it->src.meth);
    Py_VISIT(it->view);
    Py_VISIT(it->spare[0]);
    Py_VISIT(it->spare[1]);
    return 0;
}

static int
lineiter_clear(NcLineIter *it)
{
    Py_CLEAR(it->bb);
    Py_CLEAR(it->src.meth);
    Py_CLEAR(it->view);
    Py_CLEAR(it->spare[0]);
    Py_CLEAR(it->spare[1]);
    return 0;
}

static void
lineiter_dealloc(NcLineIter *it)
{
    PyTypeObject *tp = Py_TYPE(it);
    PyObject_GC_UnTrack(it);
    lineiter_clear(it);
    tp->tp_free((PyObject *)it);
    Py_DECREF(tp);
}

/* A View object for the next line, with no Python code run: the reused one
 * (reuse=True) unless its buffer is exported (its export count must stay
 * with its holder), it was released or someone else holds it, or a recycled one only this iterator
 * still references (reuse=False: unobservable, so as good as new; two slots,
 * because `for line in it` still binds the previous line while asking for
 * the next one).  NULL (no exception) when there is none. */
static NcView *
lineiter_reusable(NcLineIter *it)
{
    if (it->reuse) {
        NcView *v = it->view;
        /* ... and not while anyone but us and one name (the loop variable
         * bound to the last line) holds it: a View kept in a plain dict or a
         * list must not be retargeted under its holder. */
        if (v != NULL && v->exports == 0 && v->holder != NULL && Py_REFCNT(v) <= 2
            && bb_holder_ok(it->bb, v))  /* not resliced onto another buffer */
            return (NcView *)Py_NewRef(v);
        return NULL;
    }
    for (int i = 0; i < 2; i++) {
        NcView *v = it->spare[i];
        if (v != NULL && Py_REFCNT(v) == 1 && v->exports == 0 && v->holder != NULL
            && bb_holder_ok(it->bb, v)) {  /* not resliced onto another buffer */
            if (i == 0) {  /* most recent last */
                it->spare[0] = it->spare[1];
                it->spare[1] = v;
            }
            return (NcView *)Py_NewRef(v);
        }
    }
    return NULL;
}

/* Keep a newly allocated view v (reference stolen) where lineiter_reusable()
 * finds it. */
static void
lineiter_keep(NcLineIter *it, NcView *v)
{
    if (it->reuse) {
        Py_XSETREF(it->view, v);
        return;
    }
    Py_XSETREF(it->spare[0], it->spare[1]);
    it->spare[1] = v;
}

/* Locate the next line, reading src when no complete line is buffered
 * (*eof set: src is done and not read again).  Returns 1 with *nl the
 * newline's absolute offset, or -1 for a last line without one that ends at
 * wpos; 0 when nothing is left; -1 with an exception.  Consumes nothing.
 * *scan counts the bytes after rpos already known to hold no newline; it
 * stays valid across the compactions done here, which move it with rpos. */
static int
bb_find_line(NcByteBuffer *b, nc_source *src, int *eof, Py_ssize_t *scan, Py_ssize_t *nl)
{
    for (;;) {
        Py_ssize_t avail = b->wpos - b->rpos;
        if (*scan < avail) {
            const char *base = b->holder->buf + b->rpos;
            const char *p = memchr(base + *scan, '\n', (size_t)(avail - *scan));
            if (p != NULL) {
                *nl = b->rpos + (p - base);
                return 1;
            }
            *scan = avail;
        }
        if (*eof) {
            *nl = -1;
            return avail > 0;
        }
        /* No complete line buffered: make room, then one read. */
        if (bb_detached(b)) {  /* take_bytes() handed the storage over */
            if (nc_bb_relocate(b, 0, NC_BB_COMPACT) < 0)
                return -1;
            continue;
        }
        Py_ssize_t cap = b->holder->len, n;
        if (b->wpos == cap && b->rpos <= b->head) {  /* nothing a compaction frees */
            /* the size and the settings that change it: where users look first */
            char msg[200];
            PyOS_snprintf(msg, sizeof msg,
                          "line longer than the buffer capacity (no b'\\n' in %zd bytes): "
                          "give a larger buffer (nocopy.io.Reader(src, buffer_size=...), "
                          "nocopy.aio limit=...)", cap - b->head);
            nc_bb_raise_limit(b, avail, msg);
            return -1;
        }
        if (nc_bb_make_fill_room(b) < 0)
            return -1;
        if (b->wpos == cap && nc_bb_relocate(b, 0, 0) < 0)
            return -1;
        /* a move to fresh storage ran Python: look again before reading */
        if (check_idle(b) < 0)
            return -1;
        if (b->wpos == cap || b->wpos - b->rpos != avail) {
            if (b->wpos - b->rpos < *scan)
                *scan = 0;
            continue;
        }
        int rc = nc_bb_fill(b, src, &n);
        if (rc < 0)
            return -1;
        if (rc == 0) {
            raise_blocked();
            return -1;
        }
        if (n == 0)
            *eof = 1;
    }
}

static PyObject *
lineiter_next(NcLineIter *it)
{
    NcByteBuffer *b = it->bb;
    if (b == NULL)
        return NULL;
    if (it->lends != b->lends) {
        PyErr_SetString(bb_state(b)->StaleViewError,
                        "line iterator of a ByteBuffer that was given back to its pool");
        return NULL;
    }
    for (;;) {
        Py_ssize_t nl;
        if (check_idle(b) < 0)
            return NULL;
        if (it->scan_gen != b->gen || it->scan_rpos != b->rpos)
            it->scan = 0;  /* someone else read or moved the bytes */
        int rc = bb_find_line(b, &it->src, &it->eof, &it->scan, &nl);
        it->scan_rpos = b->rpos;  /* a compaction moved the scanned prefix along */
        it->scan_gen = b->gen;
        if (rc <= 0)
            return NULL;  /* error, or the end: StopIteration */
        if (b->wtaint) {  /* the fill committed under a held export: move, look again */
            if (nc_bb_untaint(b) < 0)
                return NULL;
            continue;
        }
        NcView *v = lineiter_reusable(it);
        if (v != NULL) {
            /* no Python code since the line was found */
            Py_ssize_t stop = nl < 0 ? b->wpos : (it->keepends ? nl + 1 : nl);
            /* without ends, a CRLF line loses both (as bytes.splitlines) */
            if (nl > b->rpos && !it->keepends && b->holder->buf[nl - 1] == '\r')
                stop--;
            bb_point(v, b->holder, b->rpos, stop);
            b->rpos = nl < 0 ? b->wpos : nl + 1;
            it->scan = 0;
            it->scan_rpos = b->rpos;
            return (PyObject *)v;
        }
        /* A new View: its allocation may run Python that moves the bytes, so
         * keep it and find the line again (the scan cache makes that O(1)
         * when nothing changed). */
        it->scan = nl < 0 ? b->wpos - b->rpos : nl - b->rpos;
        if ((v = bb_alloc_view(b)) == NULL)
            return NULL;
        lineiter_keep(it, v);
    }
}

PyDoc_STRVAR(readline_doc,
"_readline($self, /)\n--\n\n"
"Internal (nocopy.io.Reader.readline): consume and return the next line with\n"
"its newline as a borrowed View, reading the attached source as needed; the\n"
"last line may lack one; an empty View at the end.  LimitOverrun (bytes kept)\n"
"for a line that does not fit the capacity.");

static PyObject *
bb_readline(NcByteBuffer *b, PyObject *Py_UNUSED(ignored))
{
    Py_ssize_t scan = 0, nl;
    if (check_attached(b) < 0)
        return NULL;
    /* The View first (its allocation may run Python); it is private, so the
     * Python code the search may run (the source) cannot export it. */
    NcView *line = bb_alloc_view(b);
    if (line == NULL)
        return NULL;
    int rc;
    for (;;) {
        rc = bb_find_line(b, &b->src, &b->src_eof, &scan, &nl);
        if (rc < 0) {
            Py_DECREF(line);
            return NULL;
        }
        if (!b->wtaint)
            break;
        if (nc_bb_untaint(b) < 0) {  /* moved: look again */
            Py_DECREF(line);
            return NULL;
        }
        scan = 0;
    }
    Py_ssize_t stop = rc == 0 ? b->rpos : (nl < 0 ? b->wpos : nl + 1);
    bb_point(line, b->holder, b->rpos, stop);
    b->rpos = stop;
    return (PyObject *)line;
}

PyDoc_STRVAR(iterlines_doc,
"iterlines($self, src, keepends=False, reuse=False)\n--\n\n"
"Iterate the lines of the stream src (as fill_from's src; None: only what is\n"
"buffered, as if at EOF), buffered here:\n"
"each line is consumed and returned as a borrowed View (with its b'\\n' when\n"
"keepends; without, a b'\\r\\n' ending is dropped whole, as bytes.splitlines()\n"
"does; a lone b'\\r' is data); the last line may lack one.  The loop runs in C and calls src\n"
"only when no complete line is buffered.  reuse=True yields the same View\n"
"object every step, retargeted (zero allocations per line; copy what you\n"
"keep: a new one is made when the last is held besides the loop variable,\n"
"but a reference count cannot tell a variable from a dict or list slot, so a\n"
"View kept only in a container can still be moved).  A line that does not fit the capacity with its newline raises\n"
"LimitOverrun (.partial is a View of the bytes, kept in the buffer); so does a\n"
"last, unterminated line that fills the whole buffer, as EOF cannot be seen\n"
"without room to read.  O(1) per line plus one memchr.");

static PyObject *
bb_iterlines(NcByteBuffer *b, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"src", "keepends", "reuse"};
    PyObject *a[3];
    int keepends = 0, reuse = 0;
    if (nc_bb_parse_args("iterlines", args, nargs, kwnames, names, 3, 3, 1, a) < 0)
        return NULL;
    if (a[1] != NULL && (keepends = PyObject_IsTrue(a[1])) < 0)
        return NULL;
    if (a[2] != NULL && (reuse = PyObject_IsTrue(a[2])) < 0)
        return NULL;
    /* From the module state, never from an attribute Python code can rebind. */
    PyTypeObject *tp = bb_state(b)->LineIterType;
    NcLineIter *it = (NcLineIter *)tp->tp_alloc(tp, 0);
    if (it == NULL)
        return NULL;
    it->bb = (NcByteBuffer *)Py_NewRef(b);
    it->view = NULL;
    it->spare[0] = it->spare[1] = NULL;
    it->scan = 0;
    it->scan_rpos = b->rpos;
    it->scan_gen = b->gen;
    it->lends = b->lends;
    it->keepends = keepends;
    it->reuse = reuse;
    it->eof = 0;
    it->src.meth = NULL;
    it->src.fd = -1;
    if (a[0] == Py_None)
        it->eof = 1;  /* no more input: the buffered lines, the last may lack its newline */
    else if (nc_bb_source_resolve(a[0], &it->src) < 0) {
        Py_DECREF(it);
        return NULL;
    }
    return (PyObject *)it;
}

/* ---- methods contributed to ByteBuffer ------------------------------------------------- */

PyMethodDef nc_bb_reader_methods[] = {
    {"_attach", (PyCFunction)bb_attach, METH_O, attach_doc},
    {"_fill", (PyCFunction)bb_fill_method, METH_NOARGS, fill_doc},
    {"_readinto_direct", (PyCFunction)bb_readinto_direct, METH_O, readinto_direct_doc},
    {"_read_exact", (PyCFunction)bb_read_exact, METH_O, read_exact_doc},
    {"_readline", (PyCFunction)bb_readline, METH_NOARGS, readline_doc},
    {"iterlines", (PyCFunction)(void (*)(void))bb_iterlines, METH_FASTCALL | METH_KEYWORDS,
     iterlines_doc},
    {NULL},
};

static PyType_Slot lineiter_slots[] = {
    {Py_tp_dealloc, lineiter_dealloc},
    {Py_tp_traverse, lineiter_traverse},
    {Py_tp_clear, lineiter_clear},
    {Py_tp_iter, PyObject_SelfIter},
    {Py_tp_iternext, lineiter_next},
    {Py_tp_doc, "Iterator over the lines of a stream, buffered in a ByteBuffer."},
    {0, NULL},
};

static PyType_Spec lineiter_spec = {
    .name = "nocopy._core._LineIter",
    .basicsize = sizeof(NcLineIter),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_DISALLOW_INSTANTIATION |
             Py_TPFLAGS_IMMUTABLETYPE,
    .slots = lineiter_slots,
};

int
nc_bb_lineiter_init(PyObject *m, nc_state *st)
{
    st->LineIterType = (PyTypeObject *)PyType_FromModuleAndSpec(m, &lineiter_spec, NULL);
    return st->LineIterType ? 0 : -1;
}
