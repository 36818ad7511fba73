/* buffer_external.c -- ByteBuffer.wrap() (storage that is a caller's buffer:
 * SharedMemory.buf, an mmap, a bytearray) and ByteBuffer.close().
 *
 * A wrapped ByteBuffer's storage holder is an export of the caller's buffer
 * (obj != NULL, `lent`: View.close() on its Views refuses, the ByteBuffer
 * owns it).  Every rule of buffer.c holds, except one: where a heap buffer
 * would move its bytes to fresh storage -- a buffer export of a View held
 * during a compaction, one of writable() kept across a commit, a source
 * that kept the free space it was lent -- moving would silently stop
 * writing into the shared memory, so nc_bb_relocate refuses instead
 * (BufferError) and nothing changes.  In-place compactions stay as they are
 * (Views go stale).  take_bytes() copies (the storage is not a bytes object).
 *
 * close() gives the storage back: every View of it goes stale, the export of
 * the caller's buffer is released (so shm.close() / mmap.close() then work),
 * a heap storage is freed; the buffer is empty and anything that needs room
 * raises ValueError from then on (it stays "detached" for good: see
 * bb_detached, and the closed test in nc_bb_relocate). */
#include "buffer_impl.h"

int
nc_bb_refuse_fresh(NcByteBuffer *b, const char *why)
{
    if (b->closed) {
        PyErr_SetString(PyExc_ValueError, "I/O operation on closed ByteBuffer");
        return -1;
    }
    if (why == NULL)
        why = b->wwin->exports > 0 ? "a buffer export of writable() is still held"
                                   : "a buffer export of one of its Views is held";
    PyErr_Format(PyExc_BufferError,
                 "ByteBuffer.wrap() storage cannot move to fresh storage: %s "
                 "(release the memoryview first)",
                 why);
    return -1;
}

PyDoc_STRVAR(wrap_doc,
"wrap($type, buffer, *, headroom=0)\n--\n\n"
"A ByteBuffer whose storage is `buffer`, a writable C-contiguous buffer\n"
"(SharedMemory.buf, a writable mmap, a bytearray): capacity\n"
"len(buffer) - headroom, empty, cursors at headroom; storage == 'external'.\n"
"Everything written goes into buffer's memory; it never moves to fresh\n"
"storage: where a heap ByteBuffer would (a memoryview of one of its Views\n"
"held during a compaction, of writable() kept across a commit), it raises\n"
"BufferError instead.  Holds one buffer export of `buffer` until close()\n"
"(or the end of a with block, or the last View of it going).  TypeError\n"
"for a read-only or non-buffer object, ValueError when headroom leaves no\n"
"capacity.  O(1), no copy.");

static PyObject *
bb_wrap(PyObject *cls, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PyTypeObject *type = (PyTypeObject *)cls;
    static const char *const names[] = {"buffer", "headroom"};
    PyObject *a[2] = {NULL, NULL};
    Py_ssize_t head = 0;
    if (nargs > 1) {
        PyErr_Format(PyExc_TypeError, "wrap() takes 1 positional argument (%zd given)", nargs);
        return NULL;
    }
    if (nc_bb_parse_args("wrap", args, nargs, kwnames, names, 1, 2, 1, a) < 0)
        return NULL;
    if (a[1] != NULL && nc_bb_size_arg(a[1], "headroom", 0, 0, &head) < 0)
        return NULL;
    nc_state *st = nc_state_of_type(type);
    if (st == NULL)
        return NULL;
    /* every argument converted: the export is the last thing that can run
     * the caller's code (a Python exporter's __buffer__) */
    NcHolder *h = nc_holder_from_object(st, a[0]);
    if (h == NULL)
        return NULL;
    if (h->readonly) {
        PyErr_Format(PyExc_TypeError, "ByteBuffer.wrap() needs a writable buffer, not a "
                     "read-only '%.100s'", Py_TYPE(a[0])->tp_name);
        goto fail;
    }
    if (h->len - head < 1) {
        PyErr_Format(PyExc_ValueError,
                     "ByteBuffer.wrap(): a %zd-byte buffer leaves no capacity after "
                     "headroom=%zd", h->len, head);
        goto fail;
    }
    h->lent = 1;
    NcHolder *w = nc_holder_new_window(st, h);
    if (w == NULL)
        goto fail;
    NcByteBuffer *b = (NcByteBuffer *)type->tp_alloc(type, 0);
    if (b == NULL) {
        Py_DECREF(w);
        goto fail;
    }
    nc_bb_setup(b, h, w, head, 0);
    b->external = 1;
    return (PyObject *)b;
fail:
    Py_DECREF(h);  /* gives the export back */
    return NULL;
}

PyDoc_STRVAR(close_doc,
"close($self, /)\n--\n\n"
"Give the storage back: every View of the current storage (read, peek, writable(),\n"
"their sub-views, iterators, Rope segments) raises StaleViewError from then\n"
"on; a wrap()ped buffer's export is released (SharedMemory.close() and\n"
"mmap.close() then succeed), heap storage is freed.  The buffer is empty\n"
"afterwards and anything that needs room raises ValueError.  (A View made\n"
"before the buffer moved to fresh storage -- because an export pinned the\n"
"old -- keeps that old storage alive and its unchanged bytes: close() gives\n"
"back the current storage only.)  BufferError\n"
"(nothing closed) while a buffer export of one of its Views is held;\n"
"RuntimeError while a fill runs.  Idempotent.  O(1).  (A pool taking a\n"
"closed heap buffer back gives it fresh storage.)");

static PyObject *
bb_close(NcByteBuffer *b, PyObject *Py_UNUSED(ignored))
{
    if (b->closed)
        Py_RETURN_NONE;
    if (check_idle(b) < 0)
        return NULL;
    NcHolder *h = b->holder, *w = b->wwin;
    if (bb_exported(b) || h->pins > 0 || w->pins > 0) {
        PyErr_Format(PyExc_BufferError,
                     "cannot close ByteBuffer: %zd buffer export(s) of its Views still held "
                     "(release the memoryview first)",
                     h->exports + w->exports + h->pins + w->pins);
        return NULL;
    }
    /* final state first: closing the holder runs the exporter's code */
    b->closed = 1;
    b->rpos = b->wpos = b->unseen = 0;
    b->gen++;
    b->wtaint = 0;
    Py_INCREF(h);
    Py_INCREF(w);
    int rc = nc_holder_close(w);  /* a window: nothing but its epoch and buf */
    if (nc_holder_close(h) < 0)
        rc = -1;
    Py_DECREF(w);
    Py_DECREF(h);
    if (rc < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *
bb_enter(NcByteBuffer *b, PyObject *Py_UNUSED(ignored))
{
    if (b->closed) {
        PyErr_SetString(PyExc_ValueError, "I/O operation on closed ByteBuffer");
        return NULL;
    }
    return Py_NewRef(b);
}

static PyObject *
bb_exit(NcByteBuffer *b, PyObject *const *Py_UNUSED(args), Py_ssize_t Py_UNUSED(nargs))
{
    return bb_close(b, NULL);
}

PyObject *
nc_bb_get_closed(NcByteBuffer *b, void *Py_UNUSED(c))
{
    return PyBool_FromLong(b->closed);
}

PyMethodDef nc_bb_external_methods[] = {
    {"wrap", (PyCFunction)(void (*)(void))bb_wrap, METH_FASTCALL | METH_KEYWORDS | METH_CLASS,
     wrap_doc},
    {"close", (PyCFunction)bb_close, METH_NOARGS, close_doc},
    {"__enter__", (PyCFunction)bb_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)(void (*)(void))bb_exit, METH_FASTCALL, NULL},
    {NULL},
};
