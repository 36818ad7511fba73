/* module.c -- nocopy._core: multi-phase init, module state, exceptions.
 *
 * The exception classes are defined in Python (nocopy/errors.py) so they are
 * documented and picklable; the state holds strong references to them. */
#include "nocopy.h"

nc_state *
nc_state_of(PyObject *obj)
{
    PyObject *m = PyType_GetModuleByDef(Py_TYPE(obj), &nc_moduledef);
    if (m == NULL)
        return NULL;  /* TypeError: not one of ours */
    return (nc_state *)PyModule_GetState(m);
}

void
nc_raise_new(PyObject *type, const char *fmt, ...)
{
    va_list va;
    va_start(va, fmt);
    PyObject *args = Py_VaBuildValue(fmt, va);
    va_end(va);
    if (args == NULL)
        return;
    PyObject *exc = PyObject_CallObject(type, args);
    Py_DECREF(args);
    if (exc != NULL) {
        PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
        Py_DECREF(exc);
    }
}

static int
load_exceptions(nc_state *st)
{
    PyObject *errors = PyImport_ImportModule("nocopy.errors");
    if (errors == NULL)
        return -1;
    int rc = -1;
    if ((st->StaleViewError = PyObject_GetAttrString(errors, "StaleViewError")) == NULL)
        goto done;
    if ((st->BufferTooSmall = PyObject_GetAttrString(errors, "BufferTooSmall")) == NULL)
        goto done;
    if ((st->LimitOverrun = PyObject_GetAttrString(errors, "LimitOverrun")) == NULL)
        goto done;
    if ((st->IncompleteRead = PyObject_GetAttrString(errors, "IncompleteRead")) == NULL)
        goto done;
    rc = 0;
done:
    Py_DECREF(errors);
    return rc;
}

static int
nc_exec(PyObject *m)
{
    nc_state *st = (nc_state *)PyModule_GetState(m);
    if (load_exceptions(st) < 0)
        return -1;
    if (nc_view_module_init(m, st) < 0)
        return -1;
    if (nc_viewiter_module_init(m, st) < 0)
        return -1;
    /* nc-init-hooks: one line per type file below this marker */
    if (nc_numfmt_module_init(m, st) < 0) return -1;
    if (nc_bytebuffer_module_init(m, st) < 0) return -1;
    if (nc_rope_module_init(m, st) < 0) return -1;
    if (nc_json_module_init(m, st) < 0) return -1;
    if (nc_alloccount_module_init(m, st) < 0) return -1;
    if (nc_aiolines_module_init(m, st) < 0) return -1;
    return 0;
}

static int
nc_traverse(PyObject *m, visitproc visit, void *arg)
{
    nc_state *st = (nc_state *)PyModule_GetState(m);
    Py_VISIT(st->HolderType);
    Py_VISIT(st->ViewType);
    Py_VISIT(st->ViewIterType);
    Py_VISIT(st->RopeType);
    Py_VISIT(st->ByteBufferType);
    Py_VISIT(st->LineIterType);
    Py_VISIT(st->StaleViewError);
    Py_VISIT(st->BufferTooSmall);
    Py_VISIT(st->LimitOverrun);
    Py_VISIT(st->IncompleteRead);
    Py_VISIT(st->str_writable);
    Py_VISIT(st->str_commit);
    return 0;
}

static int
nc_clear(PyObject *m)
{
    nc_state *st = (nc_state *)PyModule_GetState(m);
    Py_CLEAR(st->HolderType);
    Py_CLEAR(st->ViewType);
    Py_CLEAR(st->ViewIterType);
    Py_CLEAR(st->RopeType);
    Py_CLEAR(st->ByteBufferType);
    Py_CLEAR(st->LineIterType);
    Py_CLEAR(st->StaleViewError);
    Py_CLEAR(st->BufferTooSmall);
    Py_CLEAR(st->LimitOverrun);
    Py_CLEAR(st->IncompleteRead);
    Py_CLEAR(st->str_writable);
    Py_CLEAR(st->str_commit);
    nc_json_keycache_clear(st);
    return 0;
}

static void
nc_free(void *m)
{
    nc_clear((PyObject *)m);
    nc_json_keycache_free((nc_state *)PyModule_GetState((PyObject *)m));
}

static PyModuleDef_Slot nc_slots[] = {
    {Py_mod_exec, nc_exec},
    {0, NULL},
};

PyModuleDef nc_moduledef = {
    PyModuleDef_HEAD_INIT,
    .m_name = "nocopy._core",
    .m_doc = "The C core of nocopy: View, Rope, ByteBuffer, byte kernels, JSON encoder.",
    .m_size = sizeof(nc_state),
    .m_slots = nc_slots,
    .m_traverse = nc_traverse,
    .m_clear = nc_clear,
    .m_free = nc_free,
};

PyMODINIT_FUNC
PyInit__core(void)
{
    return PyModuleDef_Init(&nc_moduledef);
}
