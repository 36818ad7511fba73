/* buffer_build.c -- building a message in a ByteBuffer: prepend() into the
 * bytes before the read cursor (the headroom), and take_bytes(), which hands
 * the readable bytes over as a real bytes object without copying them when
 * the storage lives inside one (ByteBuffer(storage="bytes")).
 *
 * The rules of buffer.c hold (see its header): allocate first, then read the
 * cursors and write with no Python code in between; refuse while a fill
 * runs (busy); never change bytes a View can still show -- make it stale,
 * or leave its storage to it when a buffer export pins it.
 *
 * Ownership of bytes storage: the holder owns the bytes object (h->bytes,
 * refcount 1: it never reaches Python while it is storage).  take_bytes()
 * takes that reference away, turns the holder into an empty stand-in (len 0,
 * buf a static byte, epoch bumped: every View of it is stale) and leaves the
 * buffer "detached" until something needs room; then the ordinary
 * relocation to fresh storage replaces the stand-in (buffer.c). */
#include "buffer_impl.h"

#include <stddef.h>

/* What a detached buffer's stand-in holder and window point at: never
 * written (length 0), never freed (not owned). */
static char no_storage[1];

int
nc_bytebuffer_prepend_reserve(NcByteBuffer *b, Py_ssize_t n, char **out)
{
    for (;;) {
        if (check_idle(b) < 0)
            return -1;
        Py_ssize_t room = bb_detached(b) ? b->head : b->rpos;
        if (n > room) {
            nc_bb_raise_too_small(b, n, "ByteBuffer headroom too small to prepend");
            return -1;
        }
        if (n == 0) {
            *out = b->holder->buf + b->rpos;
            return 0;
        }
        /* An exporter (memoryview of a View or of the buffer, a writable()
         * View's kept across a commit) may show or write these bytes: the
         * readable ones go to fresh storage at the same offsets.  The
         * allocation runs Python: everything is checked again. */
        if (bb_detached(b) || bb_exported(b)) {
            if (nc_bb_relocate(b, 1, NC_BB_KEEP) < 0)
                return -1;
            continue;
        }
        if (b->rpos != b->unseen) {
            /* some of [rpos - n, rpos) may be under a View made since the
             * last epoch change (a read() of bytes now consumed) */
            b->holder->epoch++;
            b->unseen = b->rpos;
        }
        *out = b->holder->buf + b->rpos - n;
        return 0;
    }
}

PyDoc_STRVAR(prepend_doc,
"prepend($self, data, /)\n--\n\n"
"Copy data (any buffer) into the bytes just before the read cursor and move\n"
"the cursor back over it: the data is read first.  Room: the headroom plus\n"
"any consumed bytes; BufferTooSmall (needed = len(data)) and nothing written\n"
"when it does not fit.  When the bytes overwritten were readable since the\n"
"storage last moved (consumed ones), every View of the buffer goes stale;\n"
"with a buffer export held, the readable bytes first move to fresh storage\n"
"(O(len) copy) and the exporter keeps the old one.  O(len(data)): one memcpy.");

static PyObject *
bb_prepend(NcByteBuffer *b, PyObject *arg)
{
    Py_buffer data;
    char *dst;
    if (nc_get_buffer(arg, &data) < 0)
        return NULL;
    /* The result first (it may run Python), then room, then the copy with
     * nothing in between. */
    PyObject *res = PyLong_FromSsize_t(data.len);
    if (res == NULL || nc_bytebuffer_prepend_reserve(b, data.len, &dst) < 0) {
        Py_CLEAR(res);
        goto done;
    }
    if (data.len > 0)
        memmove(dst, data.buf, (size_t)data.len);  /* data may be our own bytes */
    nc_bytebuffer_prepend_commit(b, data.len);
done:
    PyBuffer_Release(&data);
    return res;
}

/* The storage's bytes object can go to the caller as it is: bytes storage,
 * attached, nobody holding a pointer into it, something to hand over.  And,
 * where shrinking it would go through pymalloc (small storage), a shrink of
 * at most a quarter: pymalloc shrinks a small block further by allocating a
 * new one and copying (a failure there would free the bytes, the buffer
 * already emptied); the copy below is the same work and cannot lose them. */
static int
can_hand_over(NcByteBuffer *b, Py_ssize_t k)
{
    NcHolder *h = b->holder;
    if (!b->bstore || k == 0 || bb_detached(b) || bb_exported(b) || h->bytes == NULL ||
        Py_REFCNT(h->bytes) != 1)
        return 0;
    Py_ssize_t size = PyBytes_GET_SIZE(h->bytes);
    if (k < size && (size_t)size + offsetof(PyBytesObject, ob_sval) + 1 <= 512 &&
        4 * (size_t)k <= 3 * (size_t)size)
        return 0;
    return 1;
}

/* Hand the storage over: the readable bytes to the front of the bytes
 * object (a memmove when the read cursor is not at 0: headroom not used up
 * by prepend, or consumed bytes; no allocation), the object shrunk in place
 * to them, every View of the old storage stale, the buffer detached.  Runs
 * no Python code before the storage is gone from the buffer. */
static PyObject *
hand_over(NcByteBuffer *b)
{
    NcHolder *h = b->holder, *w = b->wwin;
    Py_ssize_t k = b->wpos - b->rpos;
    PyObject *bo = h->bytes;  /* the holder's reference, now ours */
    if (b->rpos > 0)
        memmove(h->buf, h->buf + b->rpos, (size_t)k);
    h->bytes = NULL;
    h->buf = no_storage;
    h->len = 0;
    h->epoch++;
    w->buf = no_storage;
    w->len = 0;
    w->epoch++;
    b->rpos = b->wpos = b->unseen = 0;
    b->gen++;
    b->wtaint = 0;
    /* Shrinking: realloc in place (glibc never fails one); a failure would
     * free the object -- MemoryError, the bytes lost. */
    if (k < PyBytes_GET_SIZE(bo) && _PyBytes_Resize(&bo, k) < 0)
        return NULL;
    return bo;
}

PyDoc_STRVAR(take_bytes_doc,
"take_bytes($self, /)\n--\n\n"
"Consume every readable byte and return them as a bytes object.\n"
"storage='bytes': the storage itself is handed over, shrunk to the readable\n"
"bytes -- no allocation, no copy (a memmove to its front when the read\n"
"cursor is not at offset 0: headroom left over or consumed bytes); every\n"
"View of the buffer goes stale and the buffer gets fresh storage when it\n"
"next needs room.  A copy instead (one allocation of len bytes, the storage\n"
"kept) when the storage is 'heap', when a buffer export of it is held\n"
"(memoryview of a View: the exporter's bytes stay as they are), when\n"
"nothing is readable (b''), and for small storage (at most 512 bytes with\n"
"the bytes header) shrunk by more than a quarter, where the allocator would\n"
"copy anyway.");

static PyObject *
bb_take_bytes(NcByteBuffer *b, PyObject *Py_UNUSED(ignored))
{
    for (;;) {
        if (check_idle(b) < 0)
            return NULL;
        Py_ssize_t k = b->wpos - b->rpos;
        if (can_hand_over(b, k))
            return hand_over(b);
        PyObject *res = PyBytes_FromStringAndSize(NULL, k);
        if (res == NULL)
            return NULL;
        /* the allocation may have run Python: copy what is readable now,
         * if it still has the length allocated for */
        if (!b->busy && b->wpos - b->rpos == k) {
            if (k > 0)
                memcpy(PyBytes_AS_STRING(res), b->holder->buf + b->rpos, (size_t)k);
            b->rpos += k;
            return res;
        }
        Py_DECREF(res);
    }
}

PyMethodDef nc_bb_build_methods[] = {
    {"prepend", (PyCFunction)bb_prepend, METH_O, prepend_doc},
    {"take_bytes", (PyCFunction)bb_take_bytes, METH_NOARGS, take_bytes_doc},
    {NULL},
};
