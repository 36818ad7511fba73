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

/* The states whose exception classes nc_raise_new knows how to build in C:
 * the live module instances (one per process in practice; a few more for
 * subinterpreters).  Compared by identity only. */
#define NC_RAISE_STATES 8
static nc_state *raise_states[NC_RAISE_STATES];

/* exc.<name> = value, straight into the instance dict: no __setattr__ or
 * descriptor of the (patchable) class runs. */
static int
set_exc_attr(PyObject *exc, const char *name, PyObject *value)
{
    PyObject *d = PyObject_GenericGetDict(exc, NULL);
    if (d == NULL)
        return -1;
    int rc = PyDict_SetItemString(d, name, value);
    Py_DECREF(d);
    return rc;
}

/* nocopy's exception classes are Python classes, so their __new__ and
 * __init__ can be rebound by anyone; calling the class would run that code
 * in the middle of a C call and raise whatever it returns.  So the instance
 * is made by BaseException's own tp_new (type->tp_alloc: no Python but a
 * possible collection), with the message in args and the attributes the
 * Python __init__ sets (errors.py: keep the two in step) put in its dict.
 * The class raised is always the one given, from the module state. */
void
nc_raise_new(PyObject *type, const char *fmt, ...)
{
    va_list va;
    va_start(va, fmt);
    PyObject *args = Py_VaBuildValue(fmt, va);
    va_end(va);
    if (args == NULL)
        return;
    PyObject *msgargs = NULL, *exc = NULL, *consumed = NULL;
    if (!PyExceptionClass_Check(type)) {  /* never from our callers */
        PyErr_Format(PyExc_SystemError, "nc_raise_new: %R is not an exception class", type);
        goto done;
    }
    const char *attr = NULL;      /* (message, value): exc.<attr> = value */
    int incomplete = 0;           /* (partial, expected) */
    nc_state *limit_state = NULL, *incomplete_state = NULL;
    for (int i = 0; i < NC_RAISE_STATES && PyTuple_Check(args) && PyTuple_GET_SIZE(args) == 2; i++) {
        nc_state *st = raise_states[i];
        if (st == NULL)
            continue;
        if (type == st->BufferTooSmall)
            attr = "needed";
        else if (type == st->LimitOverrun) {
            attr = "partial";
            limit_state = st;
        }
        else if (type == st->IncompleteRead) {
            incomplete = 1;
            incomplete_state = st;
        }
        else
            continue;
        break;
    }
    if (limit_state != NULL) {
        /* LimitOverrun.consumed (asyncio's name): the bytes of partial, which
         * stay buffered for the caller to skip (errors.py's default) */
        PyObject *partial = PyTuple_GET_ITEM(args, 1);
        Py_ssize_t kept = partial == Py_None ? 0 : PyObject_Size(partial);
        if (kept < 0 || (consumed = PyLong_FromSsize_t(kept)) == NULL)
            goto done;
    }
    if (attr != NULL)
        msgargs = PyTuple_Pack(1, PyTuple_GET_ITEM(args, 0));
    else if (incomplete) {
        PyObject *partial = PyTuple_GET_ITEM(args, 0), *expected = PyTuple_GET_ITEM(args, 1);
        Py_ssize_t got = PyObject_Size(partial);
        if (got < 0)
            goto done;
        if (got == 0)  /* nothing of it arrived: a clean end of stream */
            type = incomplete_state->EndOfStream;
        /* asyncio.IncompleteReadError's message, word for word */
        PyObject *msg = expected == Py_None
            ? PyUnicode_FromFormat("%zd bytes read on a total of undefined expected bytes", got)
            : PyUnicode_FromFormat("%zd bytes read on a total of %S expected bytes", got, expected);
        if (msg == NULL)
            goto done;
        msgargs = PyTuple_Pack(1, msg);
        Py_DECREF(msg);
    }
    else  /* a class we do not know: args as given, always a tuple */
        msgargs = PyTuple_Check(args) ? Py_NewRef(args) : PyTuple_Pack(1, args);
    if (msgargs == NULL)
        goto done;
    exc = ((PyTypeObject *)PyExc_BaseException)->tp_new((PyTypeObject *)type, msgargs, NULL);
    if (exc == NULL)
        goto done;
    if (attr != NULL && set_exc_attr(exc, attr, PyTuple_GET_ITEM(args, 1)) < 0)
        goto done;
    if (consumed != NULL && set_exc_attr(exc, "consumed", consumed) < 0)
        goto done;
    if (incomplete && (set_exc_attr(exc, "partial", PyTuple_GET_ITEM(args, 0)) < 0
                       || set_exc_attr(exc, "expected", PyTuple_GET_ITEM(args, 1)) < 0))
        goto done;
    PyErr_SetObject(type, exc);
done:
    Py_XDECREF(consumed);
    Py_XDECREF(exc);
    Py_XDECREF(msgargs);
    Py_DECREF(args);
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
    if ((st->EndOfStream = PyObject_GetAttrString(errors, "EndOfStream")) == NULL)
        goto done;
    /* nc_raise_new builds instances with BaseException's tp_new */
    PyObject *classes[] = {st->StaleViewError, st->BufferTooSmall, st->LimitOverrun, st->IncompleteRead,
                           st->EndOfStream};
    for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++)
        if (!PyExceptionClass_Check(classes[i])) {
            PyErr_Format(PyExc_TypeError, "nocopy.errors: %R is not an exception class", classes[i]);
            goto done;
        }
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
    for (int i = 0; i < NC_RAISE_STATES; i++)
        if (raise_states[i] == NULL) {
            raise_states[i] = st;
            break;
        }
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
    if (nc_fmt_module_init(m, st) < 0) return -1;
    if (nc_memcursor_module_init(m, st) < 0) return -1;
    if (nc_pickle_module_init(m, st) < 0) return -1;
    if (nc_closing_module_init(m, st) < 0) return -1;
    if (nc_keydict_module_init(m, st) < 0) return -1;
    if (nc_serve_module_init(m, st) < 0) return -1;
    if (nc_poller_module_init(m, st) < 0) return -1;
    return 0;
}

static int
nc_traverse(PyObject *m, visitproc visit, void *arg)
{
    nc_state *st = (nc_state *)PyModule_GetState(m);
    Py_VISIT(st->HolderType);
    Py_VISIT(st->ViewType);
    Py_VISIT(st->kd_probe);
    Py_VISIT(st->ViewIterType);
    Py_VISIT(st->RopeType);
    Py_VISIT(st->ByteBufferType);
    Py_VISIT(st->LineIterType);
    Py_VISIT(st->FileRegionType);
    Py_VISIT(st->PollerType);
    Py_VISIT(st->StaleViewError);
    Py_VISIT(st->BufferTooSmall);
    Py_VISIT(st->LimitOverrun);
    Py_VISIT(st->IncompleteRead);
    Py_VISIT(st->EndOfStream);
    Py_VISIT(st->str_writable);
    Py_VISIT(st->str_commit);
    for (int i = 0; i < NC_SERVE_NAMES; i++)
        Py_VISIT(st->serve_names[i]);
    return 0;
}

static int
nc_clear(PyObject *m)
{
    nc_state *st = (nc_state *)PyModule_GetState(m);
    Py_CLEAR(st->HolderType);
    Py_CLEAR(st->kd_probe);  /* a View: before its type */
    Py_CLEAR(st->ViewType);
    Py_CLEAR(st->ViewIterType);
    Py_CLEAR(st->RopeType);
    Py_CLEAR(st->ByteBufferType);
    Py_CLEAR(st->LineIterType);
    Py_CLEAR(st->FileRegionType);
    Py_CLEAR(st->PollerType);
    Py_CLEAR(st->StaleViewError);
    Py_CLEAR(st->BufferTooSmall);
    Py_CLEAR(st->LimitOverrun);
    Py_CLEAR(st->IncompleteRead);
    Py_CLEAR(st->EndOfStream);
    Py_CLEAR(st->str_writable);
    Py_CLEAR(st->str_commit);
    for (int i = 0; i < NC_SERVE_NAMES; i++)
        Py_CLEAR(st->serve_names[i]);
    nc_json_keycache_clear(st);
    return 0;
}

static void
nc_free(void *m)
{
    for (int i = 0; i < NC_RAISE_STATES; i++)
        if (raise_states[i] == PyModule_GetState((PyObject *)m))
            raise_states[i] = NULL;
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
