/* holder.c -- NcHolder: one buffer export (or owned storage) shared by views.
 *
 * Ownership: the holder owns `obj` and the Py_buffer acquired from it; it is
 * released in dealloc, or earlier by nc_holder_close (View.close(),
 * ByteBuffer.close(): closing.c), which first moves the epoch for good and
 * points buf at an empty stand-in.  So a holder's memory is valid for as long
 * as anyone references the holder *and its epoch is the one they read it
 * at*: every reader compares epochs after running Python code, and a loop
 * that reads buf across Python calls without that compare pins it (pins:
 * close() refuses meanwhile).  Owned storage (obj == NULL, owned)
 * is PyMem_Calloc'd (no byte that was never written reaches Python) and freed
 * in dealloc.  Storage inside a bytes object (h->bytes, owned, obj == NULL)
 * is zeroed too (bytes(len)) and goes with the holder's reference, unless
 * ByteBuffer.take_bytes() took that reference away first.  A window holder (base != NULL) points into its base's storage
 * and keeps the base alive; nothing in it is freed but that reference. */
#include "nocopy.h"

static int
holder_traverse(NcHolder *h, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(h));
    Py_VISIT(h->obj);
    Py_VISIT(h->base);
    Py_VISIT(h->on_close);
    return 0;
}

static int
holder_clear(NcHolder *h)
{
    /* The export must stay valid while any view can read it, and a view keeps
     * its holder alive; so a holder is only cleared when unreachable, and the
     * export goes back in dealloc. */
    return 0;
}

static void
holder_dealloc(NcHolder *h)
{
    PyTypeObject *tp = Py_TYPE(h);
    PyObject_GC_UnTrack(h);
    if (h->obj != NULL) {
        PyBuffer_Release(&h->pybuf);
        Py_CLEAR(h->obj);
    }
    if (h->owned && h->buf != NULL) {
        PyMem_Free(h->buf);
        h->buf = NULL;
    }
    Py_CLEAR(h->base);  /* an owned holder: its dealloc runs no Python code */
    Py_CLEAR(h->bytes);  /* a bytes object: no Python code either */
    Py_CLEAR(h->on_close);
    tp->tp_free((PyObject *)h);
    Py_DECREF(tp);
}

static PyType_Slot holder_slots[] = {
    {Py_tp_dealloc, holder_dealloc},
    {Py_tp_traverse, holder_traverse},
    {Py_tp_clear, holder_clear},
    {Py_tp_doc, "Internal: one buffer export shared by views."},
    {0, NULL},
};

static PyType_Spec holder_spec = {
    .name = "nocopy._core._Holder",
    .basicsize = sizeof(NcHolder),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_DISALLOW_INSTANTIATION |
             Py_TPFLAGS_IMMUTABLETYPE,
    .slots = holder_slots,
};

int
nc_holder_type_init(PyObject *m, nc_state *st)
{
    st->HolderType = (PyTypeObject *)PyType_FromModuleAndSpec(m, &holder_spec, NULL);
    return st->HolderType ? 0 : -1;
}

static NcHolder *
holder_alloc(nc_state *st)
{
    NcHolder *h = PyObject_GC_New(NcHolder, st->HolderType);
    if (h == NULL)
        return NULL;
    h->buf = NULL;
    h->len = 0;
    h->obj = NULL;
    h->exports = 0;
    h->epoch = 0;
    h->readonly = 0;
    h->owned = 0;
    h->acyclic = 0;
    h->base = NULL;
    h->bytes = NULL;
    h->on_close = NULL;
    h->closed = 0;
    h->lent = 0;
    h->close_on_exit = 0;
    h->pins = 0;
    return h;
}

int
nc_get_buffer(PyObject *arg, Py_buffer *out)
{
    if (!PyObject_CheckBuffer(arg)) {
        PyErr_Format(PyExc_TypeError, "a bytes-like object is required, not '%.100s'",
                     Py_TYPE(arg)->tp_name);
        return -1;
    }
    /* PyBUF_SIMPLE: C-contiguous bytes, any format read as raw bytes; the
     * exporter still reports readonly truthfully. */
    return PyObject_GetBuffer(arg, out, PyBUF_SIMPLE);
}

int
nc_get_writable_space(nc_state *st, PyObject *target, Py_buffer *out)
{
    PyObject *space = PyObject_CallMethodNoArgs(target, st->str_writable);
    if (space == NULL)
        return -1;
    int got = PyObject_GetBuffer(space, out, PyBUF_WRITABLE);
    Py_DECREF(space);
    if (got < 0)
        return -1;
    if (out->len < 0 || (out->buf == NULL && out->len > 0)) {
        PyBuffer_Release(out);
        PyErr_SetString(PyExc_BufferError, "writable() returned an invalid buffer");
        return -1;
    }
    return 0;
}

NcHolder *
nc_holder_from_object(nc_state *st, PyObject *obj)
{
    NcHolder *h = holder_alloc(st);
    if (h == NULL)
        return NULL;
    if (nc_get_buffer(obj, &h->pybuf) < 0)
        goto fail;
    if ((h->pybuf.buf == NULL && h->pybuf.len != 0) || h->pybuf.len < 0) {
        /* a foreign exporter's word is not trusted */
        PyBuffer_Release(&h->pybuf);
        PyErr_SetString(PyExc_BufferError, "exporter returned an invalid buffer");
        goto fail;
    }
    h->obj = Py_NewRef(obj);
    h->buf = (char *)h->pybuf.buf;
    h->len = h->pybuf.len;
    h->readonly = h->pybuf.readonly;
    /* bytes and bytearray hold no references, so nothing reached from this
     * holder can lead back to it: tracking it would only cost collections. */
    h->acyclic = PyBytes_CheckExact(obj) || PyByteArray_CheckExact(obj);
    if (!h->acyclic)
        PyObject_GC_Track(h);
    return h;
fail:
    Py_DECREF(h);  /* obj is still NULL: dealloc releases nothing */
    return NULL;
}

static NcHolder *
holder_new_owned(nc_state *st, Py_ssize_t len, int zero)
{
    NcHolder *h = holder_alloc(st);
    if (h == NULL)
        return NULL;
    size_t size = len > 0 ? (size_t)len : 1;
    h->buf = zero ? PyMem_Calloc(size, 1) : PyMem_Malloc(size);
    if (h->buf == NULL) {
        Py_DECREF(h);
        PyErr_NoMemory();
        return NULL;
    }
    h->len = len;
    h->owned = 1;
    h->acyclic = 1;  /* owned storage references no object */
    return h;
}

NcHolder *
nc_holder_new_window(nc_state *st, NcHolder *base)
{
    NcHolder *h = holder_alloc(st);
    if (h == NULL)
        return NULL;
    h->buf = base->buf;
    h->len = base->len;
    h->readonly = base->readonly;
    h->base = Py_NewRef((PyObject *)base);
    h->acyclic = 1;  /* base holds no references: no cycle through it */
    return h;
}

NcHolder *
nc_holder_new_owned(nc_state *st, Py_ssize_t len)
{
    return holder_new_owned(st, len, 1);
}

NcHolder *
nc_holder_new_owned_raw(nc_state *st, Py_ssize_t len)
{
    return holder_new_owned(st, len, 0);
}

NcHolder *
nc_holder_new_bytes(nc_state *st, Py_ssize_t len)
{
    /* Large: bytes(len), which is calloc'd -- fresh pages from the system
     * come zeroed, no clearing pass up front.  Small: the call costs more
     * than the memset. */
    PyObject *bo;
    if (len < (128 << 10)) {
        bo = PyBytes_FromStringAndSize(NULL, len);
        if (bo != NULL)
            memset(PyBytes_AS_STRING(bo), 0, (size_t)len);
    }
    else {
        PyObject *n = PyLong_FromSsize_t(len);
        if (n == NULL)
            return NULL;
        bo = PyObject_CallOneArg((PyObject *)&PyBytes_Type, n);
        Py_DECREF(n);
    }
    if (bo == NULL)
        return NULL;
    if (len < 1 || !PyBytes_CheckExact(bo) || PyBytes_GET_SIZE(bo) != len || Py_REFCNT(bo) != 1) {
        /* a shared object (the empty singleton) must never be written */
        Py_DECREF(bo);
        PyErr_SetString(PyExc_SystemError, "bytes storage is not a fresh bytes object");
        return NULL;
    }
    NcHolder *h = holder_alloc(st);
    if (h == NULL) {
        Py_DECREF(bo);
        return NULL;
    }
    h->bytes = bo;
    h->buf = PyBytes_AS_STRING(bo);
    h->len = len;
    h->acyclic = 1;  /* a bytes object references nothing */
    return h;
}
