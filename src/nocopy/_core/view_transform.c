/* view_transform.c -- View methods that must produce new content (bytes):
 * replace, case mapping, padding, join, *, %, and the number parsers. */
#include "nocopy.h"

/* bytes of the window: the operand of operations whose result is new bytes
 * anyway.  Used where the result's size dominates the cost. */
static PyObject *
window_bytes(NcView *v)
{
    if (nc_view_check(v) < 0)
        return NULL;
    return PyBytes_FromStringAndSize(NC_VIEW_PTR(v), NC_VIEW_LEN(v));
}

PyObject *
nc_view_repeat(PyObject *self, Py_ssize_t n)
{
    PyObject *b = window_bytes((NcView *)self);
    if (b == NULL)
        return NULL;
    PyObject *r = PySequence_Repeat(b, n);
    Py_DECREF(b);
    return r;
}

PyObject *
nc_view_multiply(PyObject *a, PyObject *b)
{
    /* One operand is a View (the slot's owner), which has no __index__. */
    PyObject *view, *count;
    if (PyIndex_Check(b)) {
        view = a;
        count = b;
    }
    else if (PyIndex_Check(a)) {
        view = b;
        count = a;
    }
    else
        Py_RETURN_NOTIMPLEMENTED;
    Py_ssize_t n = PyNumber_AsSsize_t(count, PyExc_OverflowError);
    if (n == -1 && PyErr_Occurred())
        return NULL;
    return nc_view_repeat(view, n);
}

PyObject *
nc_view_remainder(PyObject *a, PyObject *b)
{
    nc_state *st = nc_state_of(a);
    if (st == NULL) {
        PyErr_Clear();
        Py_RETURN_NOTIMPLEMENTED;
    }
    if (!NcView_Check(st, a))
        Py_RETURN_NOTIMPLEMENTED;
    PyObject *fmt = window_bytes((NcView *)a);
    if (fmt == NULL)
        return NULL;
    PyObject *r = PyNumber_Remainder(fmt, b);
    Py_DECREF(fmt);
    return r;
}

PyMethodDef nc_view_transform_methods[] = {
    {NULL},
};
