/* json_writer.c -- the slow paths of the JSON encoder's writer (json.h):
 * flushing a full room (counting past a FIXED destination, growing dumps()'s
 * bytes object, handing dump()'s chunk to its sink), and the bytes past a
 * dumps_into document that the float formatter's fixed-size writes reached
 * and that are put back.
 *
 * Ownership: see json.h; nothing here outlives the encode call. */
#include "json.h"
#include "buffer.h"

/* ---- writer slow paths ---------------------------------------------------- */

int
nc_jw_flush(nc_jw *w)
{
    w->poll = 1;
    switch (w->mode) {
    case NC_JW_FIXED:
        /* The destination is full: keep encoding into scratch to learn the
         * exact size needed, recycling scratch as it fills. */
        w->flushed += w->p - w->base;
        w->overflowed = 1;
        w->base = w->p = w->scratch;
        w->end = w->scratch + NC_JW_SCRATCH;
        return 0;
    case NC_JW_GROW: {
        Py_ssize_t used = w->p - w->base, cap = w->end - w->base;
        if (cap > PY_SSIZE_T_MAX / 2) {
            PyErr_NoMemory();
            return -1;
        }
        Py_ssize_t ncap = cap < 16384 ? 16384 : cap * 2;
        if (w->grow == NULL) {
#ifndef Py_GIL_DISABLED
            Py_ssize_t hint = w->st->json_dumps_hint;   /* see NC_JW_HINT_MAX */
            if (hint > ncap) {
                w->grow = PyBytes_FromStringAndSize(NULL, hint);
                if (w->grow != NULL)
                    ncap = hint;
                else if (PyErr_ExceptionMatches(PyExc_MemoryError))
                    PyErr_Clear();   /* the last document's size is only a guess */
                else
                    return -1;
            }
#endif
            if (w->grow == NULL && (w->grow = PyBytes_FromStringAndSize(NULL, ncap)) == NULL)
                return -1;
            memcpy(PyBytes_AS_STRING(w->grow), w->base, (size_t)used);
        }
        else if (_PyBytes_Resize(&w->grow, ncap) < 0) {
            return -1;  /* grow is NULL now, the old storage freed */
        }
        w->base = PyBytes_AS_STRING(w->grow);
        w->p = w->base + used;
        w->end = w->base + ncap;
        return 0;
    }
    default: {
        Py_ssize_t n = w->p - w->base;
        if (n > 0) {
            PyObject *chunk = (PyObject *)nc_view_new(w->st->ViewType, w->holder, 0, n);
            if (chunk == NULL)
                return -1;
            PyObject *r = PyObject_CallOneArg(w->sink, chunk);
            Py_DECREF(chunk);
            if (r == NULL)
                return -1;
            Py_DECREF(r);
        }
        w->flushed += n;
        w->p = w->base;
        return 0;
    }
    }
}

/* n bytes from src, or n copies of c when src is NULL, across as many
 * flushes as the room takes. */
static int
put_slow(nc_jw *w, const char *src, char c, Py_ssize_t n)
{
    while (n > 0) {
        Py_ssize_t room = nc_jw_room(w);
        if (room == 0) {
            if (nc_jw_flush(w) < 0)
                return -1;
            if (w->overflowed) {
                /* FIXED past its end only counts: the rest is counted at
                 * once, not copied into scratch 4 KB at a time (an indent
                 * or a str of gigabytes would take seconds per write) */
                if (n > PY_SSIZE_T_MAX - nc_jw_total(w)) {
                    PyErr_NoMemory();
                    return -1;
                }
                w->flushed += n;
                return 0;
            }
            continue;
        }
        Py_ssize_t k = room < n ? room : n;
        if (src != NULL) {
            memcpy(w->p, src, (size_t)k);
            src += k;
        }
        else {
            memset(w->p, c, (size_t)k);
        }
        w->p += k;
        n -= k;
    }
    return 0;
}

int
nc_jw_write_slow(nc_jw *w, const char *src, Py_ssize_t n)
{
    return put_slow(w, src, 0, n);
}

int
nc_jw_fill(nc_jw *w, char c, Py_ssize_t n)
{
    return put_slow(w, NULL, c, n);
}


/* Put back the saved bytes between the write position and the end of the
 * fixed-size writes (each save holds originals only: it was taken where
 * nothing had been written yet), then drop the saves: bytes past the write
 * position are all as they were, and Python code may change them next.
 * Called when encoding ends, and before Python code runs (`default`, a dict
 * subclass's items() and the key comparisons of sort_keys after it), which
 * may write into the caller's buffer past the write position: put back
 * later, the saves would undo those writes.  Nothing to put back outside
 * FIXED mode (no saves) or once the destination overflowed (the write
 * position is in scratch; the caller gets BufferTooSmall). */
void
nc_jw_restore_tail_slow(nc_jw *w)
{
    char *end = w->p, *clobbered = w->clobbered;
    unsigned n = w->nsaved < NC_JW_SAVES ? w->nsaved : NC_JW_SAVES;
    if (!w->overflowed && clobbered != NULL && clobbered > end) {
        for (unsigned i = 0; i < n; i++) {
            nc_jw_save *t = &w->saved[i];
            char *from = t->at > end ? t->at : end;
            char *to = t->at + NC_JW_TAIL < clobbered ? t->at + NC_JW_TAIL : clobbered;
            if (to > from)
                memcpy(from, t->bytes + (from - t->at), (size_t)(to - from));
        }
    }
    w->clobbered = NULL;
    w->nsaved = 0;
}



/* GROW mode: the document as a bytes object (owned); the writer is empty
 * afterwards. */
PyObject *
nc_jw_grow_finish(nc_jw *w)
{
    Py_ssize_t used = w->p - w->base;
    if (w->grow == NULL)
        return PyBytes_FromStringAndSize(w->scratch, used);
    PyObject *b = w->grow;
    w->grow = NULL;
#ifndef Py_GIL_DISABLED
    w->st->json_dumps_hint = used <= NC_JW_HINT_MAX ? used : 0;
#endif
    if (_PyBytes_Resize(&b, used) < 0)
        return NULL;
    return b;
}
