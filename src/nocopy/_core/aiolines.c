/* aiolines.c -- the async face of the ByteBuffer line iterator, for
 * nocopy.aio's `async for line in reader.lines()`.
 *
 * _AsyncLines(it, wait, ready): __anext__ asks the C line iterator `it` for
 * the next line.  A line already buffered is returned through `ready`, an
 * awaitable that completes at once (am_send: PYGEN_RETURN, no StopIteration
 * object, no coroutine frame); when `it` raises BlockingIOError (no complete
 * line yet) __anext__ returns wait(it), a coroutine of the reader that waits
 * for data and retries; StopIteration becomes StopAsyncIteration.  An async
 * generator costs a frame resumption and an asend object per line; this costs
 * one C call.
 *
 * Ownership: _AsyncLines owns `it`, `wait` and `ready`.  _Ready owns its
 * pending value until an await takes it.  `ready` is reused while nobody else
 * holds it (refcount 1), so each __anext__ awaitable carries its own value. */
#include "nocopy.h"

typedef struct {
    PyObject_HEAD
    PyObject *value;  /* owned or NULL: what the await returns */
} NcReady;

typedef struct {
    PyObject_HEAD
    PyObject *it;     /* owned: the C line iterator */
    PyObject *wait;   /* owned: wait(it) -> awaitable of the next line */
    NcReady *ready;   /* owned */
} NcAsyncLines;

/* ---- _Ready ---------------------------------------------------------------- */

static NcReady *
ready_alloc(PyTypeObject *type)
{
    NcReady *r = (NcReady *)type->tp_alloc(type, 0);
    if (r != NULL)
        r->value = NULL;
    return r;
}

static PyObject *
ready_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    if (PyTuple_GET_SIZE(args) != 0 || (kwds != NULL && PyDict_GET_SIZE(kwds) != 0)) {
        PyErr_SetString(PyExc_TypeError, "_Ready() takes no arguments");
        return NULL;
    }
    return (PyObject *)ready_alloc(type);
}

static int
ready_traverse(NcReady *r, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(r));
    Py_VISIT(r->value);
    return 0;
}

static int
ready_clear(NcReady *r)
{
    Py_CLEAR(r->value);
    return 0;
}

static void
ready_dealloc(NcReady *r)
{
    PyTypeObject *tp = Py_TYPE(r);
    PyObject_GC_UnTrack(r);
    Py_CLEAR(r->value);
    tp->tp_free((PyObject *)r);
    Py_DECREF(tp);
}

/* The value, handed over once (None when already taken). */
static PyObject *
ready_take(NcReady *r)
{
    PyObject *v = r->value;
    r->value = NULL;
    return v != NULL ? v : Py_NewRef(Py_None);
}

static PySendResult
ready_send(NcReady *r, PyObject *Py_UNUSED(arg), PyObject **result)
{
    *result = ready_take(r);
    return PYGEN_RETURN;
}

/* The iterator protocol, for `yield from` (asyncio's wrapped awaitables). */
static PyObject *
ready_iternext(NcReady *r)
{
    PyObject *v = ready_take(r);
    PyObject *exc = PyObject_CallOneArg(PyExc_StopIteration, v);
    Py_DECREF(v);
    if (exc != NULL) {
        PyErr_SetObject(PyExc_StopIteration, exc);
        Py_DECREF(exc);
    }
    return NULL;
}

static PyObject *
ready_send_meth(NcReady *r, PyObject *arg)
{
    if (arg != Py_None) {
        PyErr_SetString(PyExc_TypeError, "can't send non-None value to a just-started awaitable");
        return NULL;
    }
    return ready_iternext(r);
}

static PyObject *
ready_throw(NcReady *r, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 1 || nargs > 3) {
        PyErr_Format(PyExc_TypeError, "throw() takes from 1 to 3 arguments (%zd given)", nargs);
        return NULL;
    }
    Py_CLEAR(r->value);
    PyObject *typ = args[0];
    if (PyExceptionInstance_Check(typ)) {
        PyErr_SetObject((PyObject *)Py_TYPE(typ), typ);
        return NULL;
    }
    if (PyExceptionClass_Check(typ)) {
        PyErr_SetObject(typ, nargs > 1 ? args[1] : NULL);
        return NULL;
    }
    PyErr_SetString(PyExc_TypeError, "exceptions must be classes or instances deriving from BaseException");
    return NULL;
}

static PyObject *
ready_close(NcReady *r, PyObject *Py_UNUSED(ignored))
{
    Py_CLEAR(r->value);
    Py_RETURN_NONE;
}

static PyObject *
ready_await(NcReady *r)
{
    return Py_NewRef(r);
}

static PyMethodDef ready_methods[] = {
    {"send", (PyCFunction)ready_send_meth, METH_O, "send(None): finish with the value."},
    {"throw", (PyCFunction)(void (*)(void))ready_throw, METH_FASTCALL, "throw(exc): raise it."},
    {"close", (PyCFunction)ready_close, METH_NOARGS, "close(): drop the value."},
    {NULL},
};

static PyType_Slot ready_slots[] = {
    {Py_tp_new, ready_new},
    {Py_tp_dealloc, ready_dealloc},
    {Py_tp_traverse, ready_traverse},
    {Py_tp_clear, ready_clear},
    {Py_tp_iter, ready_await},
    {Py_tp_iternext, ready_iternext},
    {Py_tp_methods, ready_methods},
    {Py_am_await, ready_await},
    {Py_am_send, ready_send},
    {Py_tp_doc, "An awaitable that completes at once with a value (nocopy.aio internals)."},
    {0, NULL},
};

static PyType_Spec ready_spec = {
    .name = "nocopy._core._Ready",
    .basicsize = sizeof(NcReady),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = ready_slots,
};

/* ---- _AsyncLines ---------------------------------------------------------------- */

static PyObject *
alines_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    PyObject *it, *wait, *ready;
    if (kwds != NULL && PyDict_GET_SIZE(kwds) != 0) {
        PyErr_SetString(PyExc_TypeError, "_AsyncLines() takes no keyword arguments");
        return NULL;
    }
    if (!PyArg_UnpackTuple(args, "_AsyncLines", 3, 3, &it, &wait, &ready))
        return NULL;
    if (!PyIter_Check(it)) {
        PyErr_Format(PyExc_TypeError, "_AsyncLines() needs an iterator, not '%.100s'",
                     Py_TYPE(it)->tp_name);
        return NULL;
    }
    if (!PyCallable_Check(wait)) {
        PyErr_Format(PyExc_TypeError, "_AsyncLines() wait must be callable, not '%.100s'",
                     Py_TYPE(wait)->tp_name);
        return NULL;
    }
    if (Py_TYPE(ready)->tp_as_async == NULL || Py_TYPE(ready)->tp_as_async->am_send != (sendfunc)ready_send) {
        PyErr_Format(PyExc_TypeError, "_AsyncLines() ready must be a _Ready, not '%.100s'",
                     Py_TYPE(ready)->tp_name);
        return NULL;
    }
    NcAsyncLines *a = (NcAsyncLines *)type->tp_alloc(type, 0);
    if (a == NULL)
        return NULL;
    a->it = Py_NewRef(it);
    a->wait = Py_NewRef(wait);
    a->ready = (NcReady *)Py_NewRef(ready);
    return (PyObject *)a;
}

static int
alines_traverse(NcAsyncLines *a, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(a));
    Py_VISIT(a->it);
    Py_VISIT(a->wait);
    Py_VISIT(a->ready);
    return 0;
}

static int
alines_clear(NcAsyncLines *a)
{
    Py_CLEAR(a->it);
    Py_CLEAR(a->wait);
    Py_CLEAR(a->ready);
    return 0;
}

static void
alines_dealloc(NcAsyncLines *a)
{
    PyTypeObject *tp = Py_TYPE(a);
    PyObject_GC_UnTrack(a);
    alines_clear(a);
    tp->tp_free((PyObject *)a);
    Py_DECREF(tp);
}

static PyObject *
alines_aiter(NcAsyncLines *a)
{
    return Py_NewRef(a);
}

/* An awaitable of the next line: `ready` when one is buffered. */
static PyObject *
alines_anext(NcAsyncLines *a)
{
    if (a->it == NULL || a->ready == NULL) {
        PyErr_SetNone(PyExc_StopAsyncIteration);
        return NULL;
    }
    /* tp_iternext may run Python code (the source's readinto) that could
     * aclose() us: pin what we use across it. */
    PyObject *it = Py_NewRef(a->it);
    PyObject *res = NULL;
    PyObject *line = Py_TYPE(it)->tp_iternext(it);
    if (line != NULL) {
        NcReady *r = a->ready;
        if (r == NULL) {
            Py_DECREF(line);
            PyErr_SetNone(PyExc_StopAsyncIteration);
            goto done;
        }
        if (Py_REFCNT(r) > 1 || r->value != NULL) {
            /* someone still holds the last awaitable: this value gets its own */
            NcReady *fresh = ready_alloc(Py_TYPE(r));
            if (fresh == NULL) {
                Py_DECREF(line);
                goto done;
            }
            Py_SETREF(a->ready, fresh);
            r = fresh;
        }
        r->value = line;
        res = Py_NewRef(r);
        goto done;
    }
    if (!PyErr_Occurred() || PyErr_ExceptionMatches(PyExc_StopIteration)) {
        PyErr_Clear();
        PyErr_SetNone(PyExc_StopAsyncIteration);
        goto done;
    }
    if (!PyErr_ExceptionMatches(PyExc_BlockingIOError) || a->wait == NULL)
        goto done;
    PyErr_Clear();
    PyObject *wait = Py_NewRef(a->wait);
    res = PyObject_CallOneArg(wait, it);
    Py_DECREF(wait);
done:
    Py_DECREF(it);
    return res;
}

static PyObject *
alines_aclose(NcAsyncLines *a, PyObject *Py_UNUSED(ignored))
{
    /* Nothing to run: stop iterating and hand back a finished awaitable. */
    Py_CLEAR(a->it);
    NcReady *r = a->ready;
    if (r == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "the async line iterator was cleared");
        return NULL;
    }
    if (Py_REFCNT(r) > 1 || r->value != NULL)
        return (PyObject *)ready_alloc(Py_TYPE(r));
    return Py_NewRef(r);
}

static PyMethodDef alines_methods[] = {
    {"aclose", (PyCFunction)alines_aclose, METH_NOARGS,
     "aclose($self, /)\n--\n\nStop iterating (awaitable, for symmetry with async generators)."},
    {NULL},
};

static PyType_Slot alines_slots[] = {
    {Py_tp_new, alines_new},
    {Py_tp_dealloc, alines_dealloc},
    {Py_tp_traverse, alines_traverse},
    {Py_tp_clear, alines_clear},
    {Py_tp_methods, alines_methods},
    {Py_am_aiter, alines_aiter},
    {Py_am_anext, alines_anext},
    {Py_tp_doc, "_AsyncLines(it, wait, ready)\n--\n\n"
                "Async iterator over a C line iterator: one C call per buffered line\n"
                "(nocopy.aio internals)."},
    {0, NULL},
};

static PyType_Spec alines_spec = {
    .name = "nocopy._core._AsyncLines",
    .basicsize = sizeof(NcAsyncLines),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = alines_slots,
};

int
nc_aiolines_module_init(PyObject *m, nc_state *Py_UNUSED(st))
{
    PyObject *ready = PyType_FromModuleAndSpec(m, &ready_spec, NULL);
    if (ready == NULL)
        return -1;
    int rc = PyModule_AddObjectRef(m, "_Ready", ready);
    Py_DECREF(ready);
    if (rc < 0)
        return -1;
    PyObject *al = PyType_FromModuleAndSpec(m, &alines_spec, NULL);
    if (al == NULL)
        return -1;
    rc = PyModule_AddObjectRef(m, "_AsyncLines", al);
    Py_DECREF(al);
    return rc;
}
