/* view_search.c -- View's searching, stripping, splitting and predicate
 * methods, each a thin call of a kernel (kernels.c) on the window. */
#include "nocopy.h"

int
nc_view_contains(PyObject *self, PyObject *arg)
{
    NcView *v = (NcView *)self;
    if (PyIndex_Check(arg)) {
        Py_ssize_t b = PyNumber_AsSsize_t(arg, NULL);
        if (b == -1 && PyErr_Occurred())
            return -1;
        if (b < 0 || b > 255) {
            PyErr_SetString(PyExc_ValueError, "byte must be in range(0, 256)");
            return -1;
        }
        if (nc_view_check(v) < 0)
            return -1;
        return nc_find_byte(NC_VIEW_PTR(v), NC_VIEW_LEN(v), (unsigned char)b) >= 0;
    }
    Py_buffer sub;
    if (nc_get_buffer(arg, &sub) < 0)
        return -1;
    int rc = -1;
    if (nc_view_check(v) == 0)
        rc = nc_find(NC_VIEW_PTR(v), NC_VIEW_LEN(v), sub.buf, sub.len) >= 0;
    PyBuffer_Release(&sub);
    return rc;
}

PyMethodDef nc_view_search_methods[] = {
    {NULL},
};

int
nc_viewiter_module_init(PyObject *m, nc_state *st)
{
    return 0;
}
