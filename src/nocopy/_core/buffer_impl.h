/* buffer_impl.h -- what buffer.c (the ByteBuffer) and buffer_read.c (its
 * reader fast paths: the attached source, _read_exact, _readline and the line
 * iterator) share.  Private to those two files. */
#ifndef NOCOPY_BUFFER_IMPL_H
#define NOCOPY_BUFFER_IMPL_H

#include "buffer.h"

int nc_bb_size_arg(PyObject *arg, const char *what, int allow_none, Py_ssize_t none_value,
                   Py_ssize_t *out);
int nc_bb_parse_args(const char *fname, PyObject *const *args, Py_ssize_t nargs,
                     PyObject *kwnames, const char *const *names, int npos, int nall, int nreq,
                     PyObject **out);
void nc_bb_raise_too_small(NcByteBuffer *b, Py_ssize_t needed, const char *what);
void nc_bb_raise_limit(NcByteBuffer *b, Py_ssize_t scanned, const char *msg);
int nc_bb_relocate(NcByteBuffer *b, int force_fresh, int drop);
int nc_bb_untaint(NcByteBuffer *b);
int nc_bb_make_fill_room(NcByteBuffer *b);
int nc_bb_source_resolve(PyObject *src, nc_source *s);
void nc_bb_source_clear(nc_source *s);
int nc_bb_fill(NcByteBuffer *b, nc_source *s, Py_ssize_t *out);

/* buffer_read.c: its methods (concatenated into ByteBuffer's at module
 * init), the _src_eof getter and the line iterator type. */
extern PyMethodDef nc_bb_reader_methods[];
/* buffer_fmt.c: write_fmt, write_int, write_float, prepend_fmt. */
extern PyMethodDef nc_bb_fmt_methods[];
PyObject *nc_bb_get_src_eof(NcByteBuffer *b, void *c);
int nc_bb_lineiter_init(PyObject *m, nc_state *st);

static inline nc_state *
bb_state(NcByteBuffer *b)
{
    return nc_state_of_type(Py_TYPE(b));
}

static inline int
check_idle(NcByteBuffer *b)
{
    if (b->busy) {
        PyErr_SetString(PyExc_RuntimeError,
                        "ByteBuffer is being filled (a readinto/recv_into is running on it)");
        return -1;
    }
    return 0;
}

/* Point the private (unexported) view v at [a, e) of holder h, at h's
 * current epoch.  Runs no Python code: dropping a holder frees memory only. */
static inline Py_ALWAYS_INLINE void
bb_point(NcView *v, NcHolder *h, Py_ssize_t a, Py_ssize_t e)
{
    if (v->holder != h)
        Py_SETREF(v->holder, (NcHolder *)Py_NewRef(h));
    v->start = a;
    v->stop = e;
    v->epoch = h->epoch;
}

/* A View object for a borrowed window of readable bytes, allocated before
 * the caller reads the cursors: the allocation may run Python (GC -> __del__)
 * that moves the storage or the cursors, so the caller points it with
 * bb_point() after.  The View is private to the caller until returned. */
static inline Py_ALWAYS_INLINE NcView *
bb_alloc_view(NcByteBuffer *b)
{
    NcHolder *h = (NcHolder *)Py_NewRef(b->holder);  /* alive through the allocation */
    NcView *v = nc_view_new(bb_state(b)->ViewType, h, 0, 0);
    Py_DECREF(h);
    if (v != NULL && b->wtaint && nc_bb_untaint(b) < 0)
        Py_CLEAR(v);
    return v;
}

#endif /* NOCOPY_BUFFER_IMPL_H */
