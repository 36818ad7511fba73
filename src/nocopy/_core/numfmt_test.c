/* numfmt_test.c -- private test hooks for numfmt.c: _format_double and
 * _format_int64 on the nocopy._core module.
 *
 * Ownership: each call formats into a stack array and returns a new bytes
 * object holding a copy; nothing else is allocated or retained.  They exist
 * so the tests can compare the C formatters with repr() and str() directly;
 * they are not part of nocopy's public API. */
#include "nocopy.h"
#include "numfmt.h"

/* The double of a float argument; -1 with TypeError for anything else. */
static int
float_arg(const char *fname, PyObject *arg, double *x)
{
    if (!PyFloat_Check(arg)) {
        PyErr_Format(PyExc_TypeError, "%s() argument must be float, not '%.200s'", fname,
                     Py_TYPE(arg)->tp_name);
        return -1;
    }
    *x = PyFloat_AS_DOUBLE(arg);
    return 0;
}

PyDoc_STRVAR(format_double_doc,
"_format_double($module, x, /)\n--\n\n"
"Test hook: nc_format_double(x) as bytes -- repr(x) for any float.\n"
"O(1): formats on the stack, allocates only the result.");

static PyObject *
format_double(PyObject *module, PyObject *arg)
{
    double x;
    if (float_arg("_format_double", arg, &x) < 0)
        return NULL;
    char buf[NC_DOUBLE_ROOM];
    int n = nc_format_double(x, buf);
    return PyBytes_FromStringAndSize(buf, n);
}

PyDoc_STRVAR(format_int64_doc,
"_format_int64($module, x, /)\n--\n\n"
"Test hook: nc_format_int64(x) as bytes -- str(x) for -2**63 <= x < 2**63\n"
"(OverflowError outside).  O(1): formats on the stack, allocates only the result.");

static PyObject *
format_int64(PyObject *module, PyObject *arg)
{
    if (!PyLong_Check(arg)) {
        PyErr_Format(PyExc_TypeError, "_format_int64() argument must be int, not '%.200s'",
                     Py_TYPE(arg)->tp_name);
        return NULL;
    }
    long long v = PyLong_AsLongLong(arg);
    if (v == -1 && PyErr_Occurred())
        return NULL;  /* OverflowError from the conversion */
    char buf[NC_INT64_MAX_CHARS];
    int n = nc_format_int64((int64_t)v, buf);
    return PyBytes_FromStringAndSize(buf, n);
}

PyDoc_STRVAR(double_paths_doc,
"_double_paths($module, x, /)\n--\n\n"
"Test hook: None when the one-product fast path does not apply to x (zero,\n"
"subnormal, a power of two, non-finite); else (declined, (d, e) of the fast\n"
"path, (d, e) of Schubfach), where declined is True when the fast path left\n"
"x to Schubfach.  O(1).");

static PyObject *
double_paths(PyObject *module, PyObject *arg)
{
    double x;
    if (float_arg("_double_paths", arg, &x) < 0)
        return NULL;
    uint64_t d[2];
    int e[2];
    int r = nc_double_paths(x, d, e);
    if (r < 0)
        Py_RETURN_NONE;
    return Py_BuildValue("(O(Ki)(Ki))", r ? Py_True : Py_False, (unsigned long long)d[0], e[0],
                         (unsigned long long)d[1], e[1]);
}

static PyMethodDef numfmt_test_functions[] = {
    {"_double_paths", (PyCFunction)double_paths, METH_O, double_paths_doc},
    {"_format_double", (PyCFunction)format_double, METH_O, format_double_doc},
    {"_format_int64", (PyCFunction)format_int64, METH_O, format_int64_doc},
    {NULL, NULL, 0, NULL},
};

int
nc_numfmt_module_init(PyObject *m, nc_state *st)
{
    return PyModule_AddFunctions(m, numfmt_test_functions);
}
