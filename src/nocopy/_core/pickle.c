/* pickle.c -- pickling and copying View, Rope and ByteBuffer: their
 * __reduce_ex__/__copy__/__deepcopy__ (concatenated into each type's method
 * table at module init) and the module-level reconstructors that a pickle
 * calls (nocopy._core._view_from_pickle, _rope_from_pickle,
 * _bytebuffer_from_pickle).
 *
 * Protocol 5 hands the payload to pickle as PickleBuffer objects -- out of
 * band when the caller passes a buffer_callback, in band otherwise -- so a
 * View is one buffer and a Rope one buffer per segment (never joined); below
 * protocol 5 the payload is copied into bytes (bytearray for a writable View,
 * so a round trip keeps `readonly`).  A ByteBuffer pickles a snapshot of its
 * readable bytes plus capacity, headroom and storage kind: it is a value, like
 * io.BytesIO and bytearray, so it can be the argument of a multiprocessing
 * task.
 *
 * Ownership and hostile Python: a PickleBuffer holds a buffer export of what
 * it wraps (a View, a segment's View, the ByteBuffer's readable window): a
 * View's export is re-checked for staleness when it is taken and counts in
 * its holder's exports, so a ByteBuffer moves to fresh storage instead of
 * overwriting the bytes a pending pickle buffer shows.  Every allocation may
 * run the GC and a finalizer that releases the View, mutates the Rope or
 * moves the ByteBuffer: the Rope is pinned (nc_rope_pin) across the loop
 * that allocates one object per segment, and each copy reads through a
 * Py_buffer acquired before the copy's allocation, or re-checks the segment
 * after it.  The reconstructors are reachable from any pickle, so they take
 * exactly their argument count and exact types, and raise TypeError or
 * ValueError for anything else. */
#include "rope.h"
#include "buffer.h"

/* ---- shared helpers -------------------------------------------------------- */

/* __reduce_ex__'s protocol argument: an int (or __index__, run first,
 * before the caller looks at its object). */
static int
protocol_arg(PyObject *arg, int *out)
{
    PyObject *n = PyNumber_Index(arg);
    if (n == NULL)
        return -1;
    int overflow;
    long p = PyLong_AsLongAndOverflow(n, &overflow);
    Py_DECREF(n);
    if (p == -1 && PyErr_Occurred())
        return -1;
    /* pickle passes its resolved protocol; anything larger than 5 is a
     * later protocol, which has PickleBuffer too */
    *out = overflow > 0 || p > 5 ? 5 : overflow < 0 || p < 0 ? 0 : (int)p;
    return 0;
}

/* The reconstructor `name` of the module that defined `type` (a new
 * reference): looked up in the module's dict (no Python code runs), so the
 * pickle names the function pickle will find there at load. */
static PyObject *
reconstructor(PyTypeObject *type, const char *name)
{
    PyObject *m = PyType_GetModuleByDef(type, &nc_moduledef);
    if (m == NULL)
        return NULL;
    PyObject *f = PyDict_GetItemString(PyModule_GetDict(m), name);  /* borrowed */
    if (f == NULL || !PyCFunction_Check(f)) {
        PyErr_Format(PyExc_RuntimeError, "nocopy._core.%s is missing or was replaced", name);
        return NULL;
    }
    return Py_NewRef(f);
}

/* A View subclass instance's state, taken as object.__reduce_ex__ and
 * bytearray's __reduce_ex__ take it: obj.__getstate__() -- the class's own
 * override, or object's (the instance __dict__ and any __slots__ values,
 * None when neither holds anything).  A new reference, or NULL with *err 0
 * for an exact View or a None state.  Runs Python code. */
static PyObject *
subclass_state(nc_state *st, PyObject *obj, int *err)
{
    *err = 0;
    if (st == NULL || Py_TYPE(obj) == st->ViewType)
        return NULL;
    PyObject *s = PyObject_CallMethod(obj, "__getstate__", NULL);
    if (s == NULL) {
        *err = 1;
        return NULL;
    }
    if (s == Py_None) {
        Py_DECREF(s);
        return NULL;
    }
    return s;
}

/* Give dst (a View subclass instance) `state` as copy._reconstruct does:
 * dst.__setstate__(state) when the class has one, else a (dict, slots)
 * pair or a dict put into dst's __dict__ and slots.  Runs Python code. */
static int
set_state(PyObject *dst, PyObject *state)
{
    PyObject *f = PyObject_GetAttrString(dst, "__setstate__"), *r;
    if (f != NULL) {
        r = PyObject_CallOneArg(f, state);
        Py_DECREF(f);
        Py_XDECREF(r);
        return r ? 0 : -1;
    }
    if (!PyErr_ExceptionMatches(PyExc_AttributeError))
        return -1;
    PyErr_Clear();
    /* borrowed from the tuple, which the caller holds */
    PyObject *d = state, *slots = NULL;
    if (PyTuple_Check(state) && PyTuple_GET_SIZE(state) == 2) {
        d = PyTuple_GET_ITEM(state, 0);
        slots = PyTuple_GET_ITEM(state, 1);
    }
    int t = PyObject_IsTrue(d);
    if (t < 0)
        return -1;
    if (t) {
        PyObject *dd = PyObject_GetAttrString(dst, "__dict__");
        if (dd == NULL)
            return -1;
        r = PyObject_CallMethod(dd, "update", "O", d);
        Py_DECREF(dd);
        if (r == NULL)
            return -1;
        Py_DECREF(r);
    }
    if (slots == NULL || (t = PyObject_IsTrue(slots)) == 0)
        return 0;
    if (t < 0)
        return -1;
    PyObject *items = PyMapping_Items(slots);  /* a new list only we hold */
    if (items == NULL)
        return -1;
    int rc = 0;
    for (Py_ssize_t i = 0; rc == 0 && i < PyList_GET_SIZE(items); i++) {
        PyObject *kv = PyList_GET_ITEM(items, i);
        if (!PyTuple_Check(kv) || PyTuple_GET_SIZE(kv) != 2) {
            PyErr_SetString(PyExc_TypeError, "slot state items must be (name, value) pairs");
            rc = -1;
        }
        else
            rc = PyObject_SetAttr(dst, PyTuple_GET_ITEM(kv, 0), PyTuple_GET_ITEM(kv, 1));
    }
    Py_DECREF(items);
    return rc;
}

/* (func, args) or (func, args, state); steals args and state. */
static PyObject *
reduce_value(PyObject *func, PyObject *args, PyObject *state)
{
    PyObject *res = NULL;
    if (args != NULL)
        res = state ? PyTuple_Pack(3, func, args, state) : PyTuple_Pack(2, func, args);
    Py_XDECREF(args);
    Py_XDECREF(state);
    return res;
}

/* A strict int argument of a reconstructor: an exact int, nothing that runs
 * __index__ (a pickle could hand anything). */
static int
strict_size(PyObject *arg, const char *fname, const char *what, Py_ssize_t *out)
{
    if (!PyLong_CheckExact(arg)) {
        PyErr_Format(PyExc_TypeError, "%s: %s must be an int, not '%.100s'", fname, what,
                     Py_TYPE(arg)->tp_name);
        return -1;
    }
    *out = PyLong_AsSsize_t(arg);
    if (*out == -1 && PyErr_Occurred())
        return -1;  /* OverflowError */
    return 0;
}

static int
nargs_exactly(const char *fname, Py_ssize_t nargs, Py_ssize_t want)
{
    if (nargs != want) {
        PyErr_Format(PyExc_TypeError, "%s() takes exactly %zd arguments (%zd given)", fname, want,
                     nargs);
        return -1;
    }
    return 0;
}

/* ---- View --------------------------------------------------------------------- */

PyDoc_STRVAR(view_reduce_ex_doc,
"__reduce_ex__($self, protocol, /)\n--\n\n"
"Pickle support.  Protocol 5: the window as one PickleBuffer, out of band\n"
"with a buffer_callback (O(1), no copy) or in band; protocols 0-4: one copy\n"
"of the window into bytes (bytearray for a writable View).  The loaded View\n"
"covers all of a new object holding exactly the window's bytes; `readonly`\n"
"is kept, except out of band where it is that of the buffer handed back.\n"
"A subclass's __getstate__() (its __dict__ and __slots__) is the pickle's\n"
"state.  StaleViewError for a stale borrowed View, ValueError once released.");

static PyObject *
view_reduce_ex(NcView *v, PyObject *arg)
{
    int proto, err;
    if (protocol_arg(arg, &proto) < 0)
        return NULL;
    PyObject *func = reconstructor(Py_TYPE(v), "_view_from_pickle");
    if (func == NULL)
        return NULL;
    /* a subclass's __getstate__ runs here, before the View is checked */
    PyObject *state = subclass_state(nc_state_of_type(Py_TYPE(v)), (PyObject *)v, &err);
    PyObject *data = NULL;
    if (err)
        goto fail;
    if (nc_view_check(v) < 0)
        goto fail;
    if (proto >= 5)
        /* its export re-checks the View after the PickleBuffer's allocation */
        data = PyPickleBuffer_FromObject((PyObject *)v);
    else {
        /* the export pins the window's memory through the copy's allocation */
        Py_buffer pb;
        if (PyObject_GetBuffer((PyObject *)v, &pb, PyBUF_SIMPLE) < 0)
            goto fail;
        data = pb.readonly ? PyBytes_FromStringAndSize(pb.buf, pb.len)
                           : PyByteArray_FromStringAndSize(pb.buf, pb.len);
        PyBuffer_Release(&pb);
    }
    if (data == NULL)
        goto fail;
    PyObject *res = reduce_value(func, Py_BuildValue("(ON)", (PyObject *)Py_TYPE(v), data), state);
    Py_DECREF(func);
    return res;
fail:
    Py_DECREF(func);
    Py_XDECREF(state);
    return NULL;
}

/* Give dst (a View subclass instance) src's state (subclass_state):
 * shallow, or deep through copy.deepcopy with memo (dst registered in memo
 * first, as the copy module does, so a state that refers back to src gets
 * dst).  Runs Python. */
static int
copy_state(nc_state *st, PyObject *src, PyObject *dst, PyObject *memo)
{
    int err;
    PyObject *d = subclass_state(st, src, &err), *copy = NULL, *key = NULL;
    if (d == NULL)
        return err ? -1 : 0;
    int rc = -1;
    if (memo != NULL && memo != Py_None) {
        if ((key = PyLong_FromVoidPtr(src)) == NULL || PyObject_SetItem(memo, key, dst) < 0)
            goto done;
        if ((copy = PyImport_ImportModule("copy")) == NULL)
            goto done;
        PyObject *c = PyObject_CallMethod(copy, "deepcopy", "OO", d, memo);
        if (c == NULL)
            goto done;
        Py_SETREF(d, c);
    }
    rc = set_state(dst, d);
done:
    Py_XDECREF(d);
    Py_XDECREF(copy);
    Py_XDECREF(key);
    return rc;
}

PyDoc_STRVAR(view_copy_doc,
"__copy__($self, /)\n--\n\n"
"copy.copy(view): a new View of the same window of the same memory (writes\n"
"through either show in both; a borrowed View's copy goes stale with it).\n"
"O(1), copies no payload.  A subclass's state (__getstate__(): its __dict__\n"
"and __slots__) is copied shallowly, through __setstate__ when it has one.");

static PyObject *
view_copy(NcView *v, PyObject *Py_UNUSED(ignored))
{
    if (nc_view_check(v) < 0)
        return NULL;
    /* nc_view_new stamps the epoch read before its allocation: a move
     * during it leaves the copy stale, never showing other bytes */
    PyObject *c = (PyObject *)nc_view_new(Py_TYPE(v), v->holder, v->start, v->stop);
    if (c != NULL && copy_state(nc_state_of_type(Py_TYPE(v)), (PyObject *)v, c, NULL) < 0)
        Py_CLEAR(c);
    return c;
}

PyDoc_STRVAR(view_deepcopy_doc,
"__deepcopy__($self, memo, /)\n--\n\n"
"copy.deepcopy(view): a View over a private copy of the window -- bytes for a\n"
"read-only View, a bytearray for a writable one (readonly is kept).  O(n): one\n"
"copy.  A subclass's state (__getstate__(): its __dict__ and __slots__) is\n"
"deep-copied, through __setstate__ when it has one.");

static PyObject *
view_deepcopy(NcView *v, PyObject *memo)
{
    if (nc_view_check(v) < 0)
        return NULL;
    nc_state *st = nc_state_of_type(Py_TYPE(v));
    Py_buffer pb;
    if (PyObject_GetBuffer((PyObject *)v, &pb, PyBUF_SIMPLE) < 0)
        return NULL;
    PyObject *data = pb.readonly ? PyBytes_FromStringAndSize(pb.buf, pb.len)
                                 : PyByteArray_FromStringAndSize(pb.buf, pb.len);
    PyBuffer_Release(&pb);
    if (data == NULL)
        return NULL;
    NcHolder *h = nc_holder_from_object(st, data);
    Py_DECREF(data);  /* the holder keeps it */
    if (h == NULL)
        return NULL;
    PyObject *c = (PyObject *)nc_view_new(Py_TYPE(v), h, 0, h->len);
    Py_DECREF(h);
    if (c != NULL && copy_state(st, (PyObject *)v, c, memo) < 0)
        Py_CLEAR(c);
    return c;
}

PyMethodDef nc_view_pickle_methods[] = {
    {"__reduce_ex__", (PyCFunction)view_reduce_ex, METH_O, view_reduce_ex_doc},
    {"__copy__", (PyCFunction)view_copy, METH_NOARGS, view_copy_doc},
    {"__deepcopy__", (PyCFunction)view_deepcopy, METH_O, view_deepcopy_doc},
    {NULL},
};

PyDoc_STRVAR(view_from_pickle_doc,
"_view_from_pickle(cls, data, /)\n--\n\n"
"Internal: View.__reduce_ex__'s reconstructor.  A `cls` (View or a subclass,\n"
"made without calling __init__) over all of `data`, any C-contiguous buffer\n"
"(a PickleBuffer, a read-only memoryview, bytes, bytearray).  O(1): one buffer\n"
"export, no copy.  TypeError for anything else.");

static PyObject *
view_from_pickle(PyObject *m, PyObject *const *args, Py_ssize_t nargs)
{
    nc_state *st = (nc_state *)PyModule_GetState(m);
    if (nargs_exactly("_view_from_pickle", nargs, 2) < 0)
        return NULL;
    PyObject *cls = args[0], *data = args[1];
    if (!PyType_Check(cls) || !PyType_IsSubtype((PyTypeObject *)cls, st->ViewType)) {
        PyErr_Format(PyExc_TypeError, "_view_from_pickle: %R is not a View type", cls);
        return NULL;
    }
    if (PyUnicode_Check(data)) {
        PyErr_SetString(PyExc_TypeError, "_view_from_pickle: data must be bytes-like, not 'str'");
        return NULL;
    }
    /* the class stays alive through the holder's allocation and export */
    Py_INCREF(cls);
    NcHolder *h = nc_holder_from_object(st, data);
    PyObject *v = h ? (PyObject *)nc_view_new((PyTypeObject *)cls, h, 0, h->len) : NULL;
    Py_XDECREF(h);
    Py_DECREF(cls);
    return v;
}

/* ---- Rope ------------------------------------------------------------------------ */

PyDoc_STRVAR(rope_reduce_ex_doc,
"__reduce_ex__($self, protocol, /)\n--\n\n"
"Pickle support.  Protocol 5: one PickleBuffer per segment (never joined),\n"
"out of band with a buffer_callback or in band; O(segments), copies no\n"
"payload.  Protocols 0-4: a tuple of one bytes per segment (a whole bytes\n"
"segment is pickled as it is, others copied: O(n)).  The loaded Rope has the\n"
"same segments and max_segments.  File segments (append_file) are read into\n"
"memory first: a pickle carries bytes, not a file descriptor.  StaleViewError\n"
"when a segment is stale.");

/* Segment s as pickle payload: a PickleBuffer (protocol 5) or bytes.  The
 * caller pins the Rope; this allocates, so staleness is checked after. */
static PyObject *
seg_payload(nc_state *st, NcRope *r, nc_seg *s, int proto)
{
    int whole = PyBytes_CheckExact(s->owner) && s->start == 0
                && s->stop == PyBytes_GET_SIZE(s->owner);
    if (whole)  /* immutable: shared as it is */
        return proto >= 5 ? PyPickleBuffer_FromObject(s->owner) : Py_NewRef(s->owner);
    if (proto >= 5) {
        /* a View carrying the segment's epoch: its export (taken after both
         * allocations) raises StaleViewError for a stale segment */
        PyObject *v = nc_seg_view(st, s, s->start, s->stop);
        if (v == NULL)
            return NULL;
        PyObject *pb = PyPickleBuffer_FromObject(v);
        Py_DECREF(v);
        return pb;
    }
    PyObject *b = PyBytes_FromStringAndSize(NULL, NC_SEG_LEN(s));
    if (b == NULL)
        return NULL;
    /* after the allocation, which may have moved the segment's ByteBuffer */
    if (nc_seg_stale(s)) {
        Py_DECREF(b);
        (void)nc_rope_check(r);  /* raises the Rope's StaleViewError */
        return NULL;
    }
    memcpy(PyBytes_AS_STRING(b), NC_SEG_PTR(s), (size_t)NC_SEG_LEN(s));
    return b;
}

static PyObject *
rope_reduce_ex(NcRope *r, PyObject *arg)
{
    int proto;
    if (protocol_arg(arg, &proto) < 0)
        return NULL;
    nc_state *st = nc_state_of_type(Py_TYPE(r));
    PyObject *func = reconstructor(Py_TYPE(r), "_rope_from_pickle");
    if (func == NULL)
        return NULL;
    PyObject *parts = NULL;
    /* a file segment's bytes go in the pickle: loaded before the walk (this
     * runs Python code, so the check and the pin come after it) */
    if (nc_rope_load(r, 0, r->len) < 0 || nc_rope_check(r) < 0)
        goto fail;
    /* pinned: the allocations below may run a finalizer, which must not
     * append to, take from or flatten the array being walked */
    nc_rope_pin(r);
    parts = PyTuple_New(r->n);
    for (Py_ssize_t i = 0; parts != NULL && i < r->n; i++) {
        PyObject *p = seg_payload(st, r, NC_SEG(r, i), proto);
        if (p == NULL)
            Py_CLEAR(parts);
        else
            PyTuple_SET_ITEM(parts, i, p);
    }
    nc_rope_unpin(r);
    if (parts == NULL)
        goto fail;
    PyObject *res = reduce_value(func, Py_BuildValue("(Nn)", parts, r->max_segments), NULL);
    Py_DECREF(func);
    return res;
fail:
    Py_DECREF(func);
    return NULL;
}

PyDoc_STRVAR(rope_copy_doc,
"__copy__($self, /)\n--\n\n"
"copy.copy(rope): a new Rope sharing the same segments (their memory is not\n"
"copied; a file segment stays unread, sharing the file).  O(segments).\n"
"StaleViewError when a segment is stale.");

static PyObject *
rope_copy(NcRope *r, PyObject *Py_UNUSED(ignored))
{
    PyObject *all = PySlice_New(NULL, NULL, NULL);
    if (all == NULL)
        return NULL;
    /* r[:] allocates the result before it reads r and then shares the
     * segments with no Python code in between */
    PyObject *c = PyObject_GetItem((PyObject *)r, all);
    Py_DECREF(all);
    if (c == NULL)
        return NULL;
    /* the copy carries the segments' epochs: a stale one is refused here;
     * an unread file segment is shared as it is, not an error */
    NcRope *rc = (NcRope *)c;
    for (Py_ssize_t i = 0; i < rc->n; i++) {
        nc_seg *s = NC_SEG(rc, i);
        if (!NC_SEG_UNLOADED(s) && nc_seg_stale(s)) {
            (void)nc_seg_error(rc, s);
            Py_DECREF(c);
            return NULL;
        }
    }
    return c;
}

PyDoc_STRVAR(rope_deepcopy_doc,
"__deepcopy__($self, memo, /)\n--\n\n"
"copy.deepcopy(rope): rope.frozen() -- every segment over mutable memory is\n"
"copied (all into one new read-only block, segment boundaries kept); segments\n"
"over bytes are shared, as copy.deepcopy(bytes) shares the bytes.  O(bytes of\n"
"mutable segments).  StaleViewError when a segment is stale.");

static PyObject *
rope_deepcopy(NcRope *r, PyObject *memo)
{
    PyObject *name = PyUnicode_InternFromString("frozen");
    if (name == NULL)
        return NULL;
    /* Rope is an immutable type with no instance dict: this is rope.c's
     * frozen(), which pins, allocates, then re-checks staleness */
    PyObject *c = PyObject_CallMethodNoArgs((PyObject *)r, name);
    Py_DECREF(name);
    return c;
}

PyMethodDef nc_rope_pickle_methods[] = {
    {"__reduce_ex__", (PyCFunction)rope_reduce_ex, METH_O, rope_reduce_ex_doc},
    {"__copy__", (PyCFunction)rope_copy, METH_NOARGS, rope_copy_doc},
    {"__deepcopy__", (PyCFunction)rope_deepcopy, METH_O, rope_deepcopy_doc},
    {NULL},
};

PyDoc_STRVAR(rope_from_pickle_doc,
"_rope_from_pickle(parts, max_segments, /)\n--\n\n"
"Internal: Rope.__reduce_ex__'s reconstructor.  A Rope of `parts`, a tuple of\n"
"bytes-like objects (PickleBuffers, memoryviews, bytes, bytearrays), one\n"
"segment each, sharing their memory; max_segments an int >= 2.  O(parts).\n"
"TypeError or ValueError for anything else.");

static PyObject *
rope_from_pickle(PyObject *m, PyObject *const *args, Py_ssize_t nargs)
{
    nc_state *st = (nc_state *)PyModule_GetState(m);
    Py_ssize_t maxseg;
    if (nargs_exactly("_rope_from_pickle", nargs, 2) < 0)
        return NULL;
    PyObject *parts = args[0];
    if (!PyTuple_CheckExact(parts)) {
        PyErr_Format(PyExc_TypeError, "_rope_from_pickle: parts must be a tuple, not '%.100s'",
                     Py_TYPE(parts)->tp_name);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(parts); i++) {
        PyObject *p = PyTuple_GET_ITEM(parts, i);
        /* what a buffer_callback consumer hands back: any buffer (a View
         * of received bytes included), never str */
        if (PyUnicode_Check(p) || !PyObject_CheckBuffer(p)) {
            PyErr_Format(PyExc_TypeError,
                         "_rope_from_pickle: part %zd must be a bytes-like object, not '%.100s'",
                         i, Py_TYPE(p)->tp_name);
            return NULL;
        }
    }
    if (strict_size(args[1], "_rope_from_pickle", "max_segments", &maxseg) < 0)
        return NULL;
    /* the constructor checks max_segments (ValueError below 2) and takes each
     * part as it would from Rope(parts): bytes referenced, others exported */
    PyObject *kw = Py_BuildValue("{sO}", "max_segments", args[1]);
    if (kw == NULL)
        return NULL;
    PyObject *a = PyTuple_Pack(1, parts);
    PyObject *r = a ? PyObject_Call((PyObject *)st->RopeType, a, kw) : NULL;
    Py_XDECREF(a);
    Py_DECREF(kw);
    return r;
}

/* ---- ByteBuffer ---------------------------------------------------------------- */

static PyObject *
closed_error(void)
{
    PyErr_SetString(PyExc_ValueError, "I/O operation on closed ByteBuffer");
    return NULL;
}

/* A new ByteBuffer of the given shape whose readable bytes are data[0:n]
 * (the caller pins data; the new buffer is private until returned). */
static PyObject *
bb_build(nc_state *st, const char *data, Py_ssize_t n, Py_ssize_t cap, Py_ssize_t head,
         int bstore)
{
    if (n > cap) {
        PyErr_Format(PyExc_ValueError,
                     "%zd readable bytes do not fit a ByteBuffer of capacity %zd", n, cap);
        return NULL;
    }
    PyObject *args = Py_BuildValue("(n)", cap);
    PyObject *kw = Py_BuildValue("{snss}", "headroom", head, "storage", bstore ? "bytes" : "heap");
    PyObject *b = args && kw ? PyObject_Call((PyObject *)st->ByteBufferType, args, kw) : NULL;
    Py_XDECREF(args);
    Py_XDECREF(kw);
    if (b == NULL || n == 0)
        return b;
    char *dst;
    /* a fresh buffer: cap bytes free, no compaction, no Python code */
    if (nc_bytebuffer_reserve((NcByteBuffer *)b, n, &dst) < 0)
        goto fail;
    memcpy(dst, data, (size_t)n);
    if (nc_bytebuffer_commit((NcByteBuffer *)b, n) < 0)
        goto fail;
    return b;
fail:
    Py_DECREF(b);
    return NULL;
}

/* A copy of b: its readable bytes, read through an export (which pins them
 * through the allocations), into a new buffer of the same shape. */
static PyObject *
bb_copy(NcByteBuffer *b, PyObject *Py_UNUSED(ignored))
{
    nc_state *st = nc_state_of_type(Py_TYPE(b));
    Py_buffer pb;
    if (PyObject_GetBuffer((PyObject *)b, &pb, PyBUF_SIMPLE) < 0)
        return NULL;
    /* after the export, which close() refuses while held: a closed buffer
     * has no value to copy (its bytes were given back) */
    if (b->closed) {
        PyBuffer_Release(&pb);
        return closed_error();
    }
    /* the shape is fixed for the buffer's life: read after the export */
    PyObject *c = bb_build(st, pb.buf, pb.len, b->size - b->head, b->head, b->bstore);
    PyBuffer_Release(&pb);
    return c;
}

static PyObject *
bb_deepcopy(NcByteBuffer *b, PyObject *memo)
{
    return bb_copy(b, NULL);
}

PyDoc_STRVAR(bb_reduce_ex_doc,
"__reduce_ex__($self, protocol, /)\n--\n\n"
"Pickle support: a value copy.  The readable bytes (protocol 5: one\n"
"PickleBuffer of the readable window, out of band with a buffer_callback --\n"
"its export pins those bytes: the buffer moves to fresh storage rather than\n"
"change them; protocols 0-4: one copy into bytes, O(n)) plus capacity,\n"
"headroom and storage.  Loaded, a new ByteBuffer whose readable bytes are\n"
"those (at its front); cursors, views and the overflow handler are not\n"
"carried.  A wrapped buffer (storage 'external') loads with heap storage: a\n"
"pickle carries bytes, not the caller's memory.  ValueError when closed.");

static PyObject *
bb_reduce_ex(NcByteBuffer *b, PyObject *arg)
{
    int proto;
    if (protocol_arg(arg, &proto) < 0)
        return NULL;
    PyObject *func = reconstructor(Py_TYPE(b), "_bytebuffer_from_pickle");
    if (func == NULL)
        return NULL;
    PyObject *data;
    if (proto >= 5)
        data = PyPickleBuffer_FromObject((PyObject *)b);
    else {
        Py_buffer pb;
        data = NULL;
        if (PyObject_GetBuffer((PyObject *)b, &pb, PyBUF_SIMPLE) == 0) {
            data = PyBytes_FromStringAndSize(pb.buf, pb.len);
            PyBuffer_Release(&pb);
        }
    }
    /* checked after the export (a pending PickleBuffer makes close()
     * refuse): a closed buffer has no value to pickle */
    if (data != NULL && b->closed) {
        Py_CLEAR(data);
        (void)closed_error();
    }
    if (data == NULL) {
        Py_DECREF(func);
        return NULL;
    }
    /* capacity, headroom and storage never change for a buffer's life */
    PyObject *res = reduce_value(
        func, Py_BuildValue("(Nnns)", data, b->size - b->head, b->head, b->bstore ? "bytes" : "heap"),
        NULL);
    Py_DECREF(func);
    return res;
}

PyDoc_STRVAR(bb_copy_doc,
"__copy__($self, /)\n--\n\n"
"copy.copy(buffer): an independent ByteBuffer with the same readable bytes,\n"
"capacity, headroom and storage (a ByteBuffer owns its bytes, so a copy is a\n"
"value copy, as for bytearray).  O(n): one copy of the readable bytes.");

PyDoc_STRVAR(bb_deepcopy_doc,
"__deepcopy__($self, memo, /)\n--\n\n"
"copy.deepcopy(buffer): the same as copy.copy(buffer).  O(n).");

PyMethodDef nc_bb_pickle_methods[] = {
    {"__reduce_ex__", (PyCFunction)bb_reduce_ex, METH_O, bb_reduce_ex_doc},
    {"__copy__", (PyCFunction)bb_copy, METH_NOARGS, bb_copy_doc},
    {"__deepcopy__", (PyCFunction)bb_deepcopy, METH_O, bb_deepcopy_doc},
    {NULL},
};

PyDoc_STRVAR(bb_from_pickle_doc,
"_bytebuffer_from_pickle(data, capacity, headroom, storage, /)\n--\n\n"
"Internal: ByteBuffer.__reduce_ex__'s reconstructor.  A new ByteBuffer(\n"
"capacity, headroom=headroom, storage=storage) holding a copy of `data` (any\n"
"C-contiguous buffer, at most capacity bytes) as its readable bytes.  O(n).\n"
"TypeError or ValueError for anything else.");

static PyObject *
bb_from_pickle(PyObject *m, PyObject *const *args, Py_ssize_t nargs)
{
    nc_state *st = (nc_state *)PyModule_GetState(m);
    Py_ssize_t cap, head;
    int bstore;
    if (nargs_exactly("_bytebuffer_from_pickle", nargs, 4) < 0)
        return NULL;
    if (strict_size(args[1], "_bytebuffer_from_pickle", "capacity", &cap) < 0
        || strict_size(args[2], "_bytebuffer_from_pickle", "headroom", &head) < 0)
        return NULL;
    if (cap < 1 || head < 0) {
        PyErr_Format(PyExc_ValueError,
                     "_bytebuffer_from_pickle: capacity must be >= 1 and headroom >= 0, "
                     "got %zd and %zd", cap, head);
        return NULL;
    }
    PyObject *storage = args[3];
    if (!PyUnicode_CheckExact(storage)) {
        PyErr_Format(PyExc_TypeError, "_bytebuffer_from_pickle: storage must be a str, not '%.100s'",
                     Py_TYPE(storage)->tp_name);
        return NULL;
    }
    if (PyUnicode_CompareWithASCIIString(storage, "bytes") == 0)
        bstore = 1;
    else if (PyUnicode_CompareWithASCIIString(storage, "heap") == 0)
        bstore = 0;
    else {
        PyErr_Format(PyExc_ValueError, "_bytebuffer_from_pickle: storage must be 'heap' or "
                     "'bytes', not %R", storage);
        return NULL;
    }
    PyObject *data = args[0];
    if (PyUnicode_Check(data)) {
        PyErr_Format(PyExc_TypeError,
                     "_bytebuffer_from_pickle: data must be a bytes-like object, not '%.100s'",
                     Py_TYPE(data)->tp_name);
        return NULL;
    }
    Py_buffer pb;
    if (nc_get_buffer(data, &pb) < 0)
        return NULL;
    PyObject *b = bb_build(st, pb.buf, pb.len, cap, head, bstore);
    PyBuffer_Release(&pb);
    return b;
}

/* ---- module functions -------------------------------------------------------------- */

static PyMethodDef pickle_functions[] = {
    {"_view_from_pickle", (PyCFunction)(void (*)(void))view_from_pickle, METH_FASTCALL,
     view_from_pickle_doc},
    {"_rope_from_pickle", (PyCFunction)(void (*)(void))rope_from_pickle, METH_FASTCALL,
     rope_from_pickle_doc},
    {"_bytebuffer_from_pickle", (PyCFunction)(void (*)(void))bb_from_pickle, METH_FASTCALL,
     bb_from_pickle_doc},
    {NULL},
};

int
nc_pickle_module_init(PyObject *m, nc_state *st)
{
    return PyModule_AddFunctions(m, pickle_functions);
}
