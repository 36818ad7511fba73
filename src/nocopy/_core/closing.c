/* closing.c -- giving an export back for everyone: View.close(), the holder
 * detach behind it (also used by ByteBuffer.close(), buffer_external.c), and
 * the owning View that nocopy.io.map_file returns.
 *
 * release() drops one View's reference to its holder; the export goes back
 * only when the last View, iterator or Rope segment sharing the holder goes,
 * which a caller who must close the exporter (mmap.close(),
 * SharedMemory.close(), bytearray resize) cannot wait for.  close() detaches
 * the holder itself: its epoch moves (every View, sub-view, iterator and
 * Rope segment of it compares epochs at each entry point and raises
 * StaleViewError from then on), its buf becomes an empty stand-in, and the
 * export is released at once.  A View made from the holder afterwards gets
 * an epoch that never matches (nc_view_new), so a window computed before a
 * callback that closed the holder is never read.
 *
 * A raw pointer cannot be made stale: while a buffer export of any View on
 * the holder is held (a memoryview of a View, h->exports) close() refuses
 * with BufferError.  Storage nocopy owns (a ByteBuffer's, a Rope's copy) has
 * no export to give back: TypeError there; a ByteBuffer is closed by its own
 * close(). */
#include "nocopy.h"

/* What a closed holder's buf points at: never written (len 0). */
static char closed_storage[1];

int
nc_holder_close(NcHolder *h)
{
    if (h->closed)
        return 0;
    /* final state first: everything below may run Python code */
    char *old = h->buf;
    h->closed = 1;
    h->epoch++;
    h->buf = closed_storage;
    h->len = 0;
    h->readonly = 1;
    PyObject *obj = h->obj;
    PyObject *cb = h->on_close;
    h->on_close = NULL;
    if (h->owned) {
        /* nothing reads it now: every reader compares epochs first */
        h->owned = 0;
        PyMem_Free(old);
    }
    if (obj != NULL && !PyBytes_CheckExact(obj)) {
        /* bytes are kept (dealloc releases them): no exporter waits for
         * them, and a frozen Rope segment reads their storage directly */
        h->obj = NULL;
        PyBuffer_Release(&h->pybuf);  /* may run __release_buffer__ */
        Py_DECREF(obj);               /* may run a finalizer */
    }
    Py_CLEAR(h->bytes);
    int rc = 0;
    if (cb != NULL) {
        PyObject *r = PyObject_CallNoArgs(cb);
        Py_DECREF(cb);
        if (r == NULL)
            rc = -1;
        Py_XDECREF(r);
    }
    return rc;
}

PyDoc_STRVAR(close_doc,
"close($self, /)\n--\n\n"
"Give the buffer export back now, for every View sharing it: this View, its\n"
"sub-views, split pieces, iterators and Rope segments over the same export\n"
"raise StaleViewError from then on, and the exporter is free to close or\n"
"resize (mmap.close(), SharedMemory.close(), bytearray.extend()).  For a\n"
"View from nocopy.io.map_file() the mapping is closed too.  BufferError\n"
"(nothing closed) while a buffer export of any of those Views is held (a\n"
"memoryview of one); TypeError for a View of storage nocopy owns (a\n"
"ByteBuffer's: close the ByteBuffer, or release() the View).  Idempotent;\n"
"a released View does nothing.  O(1).");

PyObject *
nc_view_close(NcView *v, PyObject *Py_UNUSED(ignored))
{
    NcHolder *h = v->holder;
    if (h == NULL || h->closed)
        Py_RETURN_NONE;
    if (h->obj == NULL || h->lent) {
        PyErr_SetString(PyExc_TypeError,
                        "View.close(): this View borrows storage a ByteBuffer (or nocopy) owns, "
                        "not an export of its own; close() the ByteBuffer, or release() the View");
        return NULL;
    }
    if (h->exports > 0) {
        PyErr_Format(PyExc_BufferError,
                     "cannot close View: %zd buffer export(s) of Views on this buffer still "
                     "held (release the memoryview first)",
                     h->exports);
        return NULL;
    }
    if (h->pins > 0) {
        PyErr_SetString(PyExc_BufferError,
                        "cannot close View: a View method is still reading this buffer");
        return NULL;
    }
    Py_INCREF(h);  /* the View's own reference may go in a callback */
    int rc = nc_holder_close(h);
    Py_DECREF(h);
    if (rc < 0)
        return NULL;
    Py_RETURN_NONE;
}

PyMethodDef nc_view_close_methods[] = {
    {"close", (PyCFunction)nc_view_close, METH_NOARGS, close_doc},
    {NULL},
};

PyDoc_STRVAR(owning_view_doc,
"_owning_view(obj, on_close, /)\n--\n\n"
"Internal (nocopy.io.map_file): a View of all of obj whose close() -- and\n"
"the end of a with block -- gives the export back and then calls\n"
"on_close() (None: nothing).");

static PyObject *
owning_view(PyObject *m, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "_owning_view() takes 2 arguments (%zd given)", nargs);
        return NULL;
    }
    nc_state *st = (nc_state *)PyModule_GetState(m);
    if (args[1] != Py_None && !PyCallable_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "_owning_view(): on_close must be callable or None");
        return NULL;
    }
    NcHolder *h = nc_holder_from_object(st, args[0]);
    if (h == NULL)
        return NULL;
    if (args[1] != Py_None) {
        h->on_close = Py_NewRef(args[1]);
        if (h->acyclic) {
            /* on_close may lead back to a View: the collector must see it */
            h->acyclic = 0;
            PyObject_GC_Track(h);
        }
    }
    h->close_on_exit = 1;
    PyObject *v = (PyObject *)nc_view_new(st->ViewType, h, 0, h->len);
    Py_DECREF(h);
    return v;
}

static PyMethodDef closing_functions[] = {
    {"_owning_view", (PyCFunction)(void (*)(void))owning_view, METH_FASTCALL, owning_view_doc},
    {NULL},
};

int
nc_closing_module_init(PyObject *m, nc_state *st)
{
    (void)st;
    return PyModule_AddFunctions(m, closing_functions);
}
