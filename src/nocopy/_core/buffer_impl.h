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
/* nc_bb_relocate's `mode`: where the unread bytes go. */
enum {
    NC_BB_COMPACT = 0,  /* to the front: min(rpos, head), or head when none */
    NC_BB_DROP = 1,     /* discard them: both cursors at head */
    NC_BB_KEEP = 2,     /* same offsets (fresh storage only: for prepend) */
};
int nc_bb_relocate(NcByteBuffer *b, int force_fresh, int mode);
/* Fill in a new ByteBuffer's fields over storage h (size h->len, cursors at
 * head) and its write window w; both references stolen (buffer.c). */
void nc_bb_setup(NcByteBuffer *b, NcHolder *h, NcHolder *w, Py_ssize_t head, int bstore);
/* buffer_external.c: wrap, close, __enter__/__exit__ */
extern PyMethodDef nc_bb_external_methods[];
/* The buffer would have to move to fresh storage and cannot: closed
 * (ValueError) or external (BufferError naming the reason).  Returns -1. */
int nc_bb_refuse_fresh(NcByteBuffer *b, const char *why);
PyObject *nc_bb_get_closed(NcByteBuffer *b, void *c);
int nc_bb_untaint(NcByteBuffer *b);
int nc_bb_make_fill_room(NcByteBuffer *b);
int nc_bb_source_resolve(PyObject *src, nc_source *s);
void nc_bb_source_clear(nc_source *s);
int nc_bb_fill(NcByteBuffer *b, nc_source *s, Py_ssize_t *out);
/* A View object for writable() and write_struct(): the cached one when
 * nobody else holds it, else a new one (the allocation may run Python).
 * Private to the caller, who points it with bb_point(v, b->wwin, 0, k). */
NcView *nc_bb_wview(NcByteBuffer *b);

/* buffer_read.c: its methods (concatenated into ByteBuffer's at module
 * init), the _src_eof getter and the line iterator type. */
extern PyMethodDef nc_bb_reader_methods[];
/* buffer_build.c: prepend, take_bytes */
extern PyMethodDef nc_bb_build_methods[];
/* buffer_fmt.c: write_fmt, write_int, write_float, prepend_fmt. */
extern PyMethodDef nc_bb_fmt_methods[];
PyObject *nc_bb_get_src_eof(NcByteBuffer *b, void *c);
/* One read from the attached source into the free space: the count, 0 at
 * EOF (remembered), -1 with an exception (BlockingIOError included). */
Py_ssize_t nc_bb_fill_attached(NcByteBuffer *b);

/* buffer_wire.c: the typed cursors (concatenated into ByteBuffer's methods). */
extern PyMethodDef nc_bb_wire_methods[];
/* json_frame.c: write_json (concatenated into ByteBuffer's methods). */
extern PyMethodDef nc_bb_json_methods[];
/* The overflow handler (nocopy.io.Writer) sends the buffered bytes; runs Python. */
int nc_bb_drain(NcByteBuffer *b);
int nc_bb_lineiter_init(PyObject *m, nc_state *st);

static inline nc_state *
bb_state(NcByteBuffer *b)
{
    return nc_state_of_type(Py_TYPE(b));
}

/* Someone holds a pointer into the storage or its free space. */
static inline int
bb_exported(NcByteBuffer *b)
{
    return b->holder->exports > 0 || b->wwin->exports > 0;
}

/* The storage was handed over by take_bytes(): holder is an empty stand-in
 * (len 0, cursors 0) until the next operation that needs room relocates to
 * fresh storage (every relocation does). */
static inline int
bb_detached(NcByteBuffer *b)
{
    return b->holder->len != b->size;
}

/* Where a compaction puts the readable bytes: the headroom's end, or where
 * they are when a prepend already reached below it (they never move later);
 * the headroom's end when there are none. */
static inline Py_ssize_t
bb_front(NcByteBuffer *b)
{
    if (b->wpos == b->rpos || b->rpos > b->head)
        return b->head;
    return b->rpos;
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

/* 1 when v, a View this buffer cached and reuses (writable()'s, a reuse=True
 * line iterator's), is still on b's storage or write window.  View.reslice()
 * moves any View onto another buffer; bb_point() would then drop that
 * buffer's last reference, whose release (an exporter's __del__) runs Python
 * code after the caller read the cursors.  Such a View is not reused: a new
 * one is made (its allocation point already re-checks everything). */
static inline int
bb_holder_ok(NcByteBuffer *b, NcView *v)
{
    return v->holder == b->holder || v->holder == b->wwin;
}

/* Point the private (unexported) view v at [a, e) of holder h, at h's
 * current epoch.  Runs no Python code: dropping a holder frees memory only
 * -- as long as v's old holder is one of this buffer's (the caller checked
 * with bb_holder_ok when v is a cached View it reuses). */
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
