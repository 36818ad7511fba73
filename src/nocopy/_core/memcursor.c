/* memcursor.c -- _MemCursor: the C base class of nocopy.io.MemoryReader,
 * holding its View and its position, with the per-line and per-read methods
 * (readline, readlines, iteration, read, read1) in C.
 *
 * Why a base class and not a cursor object the reader delegates to: `for
 * line in r` must call C straight from the loop, as io.BytesIO's does, and
 * iter(r) must stay r (as io.BytesIO).  A Python __next__ costs a frame per
 * line whatever it calls (~500 ns against io.BytesIO's ~35 ns); a slot of a
 * C base class is called by FOR_ITER directly.  So MemoryReader is
 * `class MemoryReader(_MemCursor, io.BufferedIOBase)`, and _MemCursor
 * derives from _io._BufferedIOBase in C: two C layouts cannot be combined in
 * one Python class, so ours has to extend _io's.  _io's instance struct is
 * private, so our fields sit after it at an offset taken from the base's
 * tp_basicsize at module init (mc_offset), not in a struct that copies it.
 *
 * State (one source of truth, read by the Python methods through _view,
 * _pos, _len, _views): `view` is the reader's one pinned View of the buffer
 * (owned; NULL: closed); `pos` the position (may be past the end after a
 * seek); the length is the View's.  The View is re-checked (released, stale,
 * retargeted) at every entry: it is reachable from Python as r._view.
 *
 * Hostile Python: the size argument is converted first (its __index__ may
 * close or seek the reader), then view and pos are read, and no Python code
 * runs until pos is set and the result made.  The result's allocation may
 * collect and run a finalizer that closes the reader: a View result takes
 * its holder reference before allocating (nc_view_new), a bytes result
 * holds the holder across its copy. */
#include "nocopy.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

typedef struct {
    NcView *view;       /* owned; NULL while closed (or never opened) */
    Py_ssize_t pos;     /* >= 0 */
    int views;          /* results are Views (1) or bytes (0) */
} mc_fields;

/* _io._BufferedIOBase's layout and the slots of _io's that our own call on,
 * as found at module init.  The same in every interpreter of the process
 * (one _io C struct), so process-wide. */
static Py_ssize_t mc_offset;
static destructor mc_base_dealloc;
static traverseproc mc_base_traverse;
static inquiry mc_base_clear;
static int mc_dealloc_heap;    /* mc_base_dealloc is a heap type's (_io's
                                  types are heap types from 3.12): it drops
                                  the type reference itself */
static int mc_traverse_heap;   /* and mc_base_traverse visits the type */

static inline mc_fields *
MC(PyObject *self)
{
    return (mc_fields *)((char *)self + mc_offset);
}

/* The first b"\n" in s[0:n], or NULL.  Log and text lines are short: the
 * first 128 bytes are scanned inline, 16 at a time (a call to memchr costs
 * about as much as the scan of a 60-byte line), the rest by memchr.  Loads
 * stay inside s[0:n]: the buffer may end at a page end (an mmap). */
static inline const char *
mc_find_nl(const char *s, Py_ssize_t n)
{
    Py_ssize_t i = 0;
#ifdef __SSE2__
    const __m128i nl = _mm_set1_epi8('\n');
    for (; i + 16 <= n && i < 128; i += 16) {
        int m = _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(s + i)), nl));
        if (m != 0)
            return s + i + __builtin_ctz((unsigned)m);
    }
#endif
    return memchr(s + i, '\n', (size_t)(n - i));
}

static const char closed_msg[] = "I/O operation on closed file.";

/* The reader's View, checked (borrowed); NULL + ValueError when closed. */
static inline NcView *
mc_view(PyObject *self)
{
    NcView *v = MC(self)->view;
    if (v == NULL) {
        PyErr_SetString(PyExc_ValueError, closed_msg);
        return NULL;
    }
    if (nc_view_check(v) < 0)
        return NULL;
    return v;
}

/* The bytes result for bytes [a, a + len) of h when a == 0: as io.BytesIO,
 * a read of all of a bytes object is that object.  Out of line: only reads
 * from the start of the buffer get here. */
static Py_NO_INLINE PyObject *
mc_bytes_from_start(NcHolder *h, Py_ssize_t len)
{
    PyObject *obj = h->obj;
    if (obj != NULL && PyBytes_CheckExact(obj) && len == PyBytes_GET_SIZE(obj) && len > 0
        && h->buf == PyBytes_AS_STRING(obj))
        return Py_NewRef(obj);
    return PyBytes_FromStringAndSize(h->buf, len);  /* not GC: see mc_result */
}

/* Bytes [p, e) of v's window as the reader's result type.  No Python code
 * may have run since v was checked. */
static inline PyObject *
mc_result(PyObject *self, NcView *v, Py_ssize_t p, Py_ssize_t e)
{
    if (MC(self)->views)
        return nc_view_sub(v, p, e);
    NcHolder *h = v->holder;
    Py_ssize_t a = v->start + p;
    if (a == 0)
        return mc_bytes_from_start(h, e - p);
    /* A bytes object is not GC-tracked: its allocation never collects, so
     * no finalizer can close the reader (and free h's memory) mid-copy. */
    return PyBytes_FromStringAndSize(h->buf + a, e - p);
}

/* size as io.BytesIO takes it (its _Py_convert_optional_to_ssize_t): None
 * or an integer (-1: no limit).  Runs __index__: re-read the state after. */
static int
mc_size_arg(PyObject *arg, Py_ssize_t *out)
{
    if (arg == Py_None) {
        *out = -1;
        return 0;
    }
    if (!PyIndex_Check(arg)) {
        PyErr_Format(PyExc_TypeError, "argument should be integer or None, not '%.200s'",
                     Py_TYPE(arg)->tp_name);
        return -1;
    }
    Py_ssize_t n = PyNumber_AsSsize_t(arg, PyExc_OverflowError);
    if (n == -1 && PyErr_Occurred())
        return -1;
    *out = n;
    return 0;
}

static int
mc_one_size(const char *name, PyObject *const *args, Py_ssize_t nargs, Py_ssize_t *size)
{
    *size = -1;
    if (nargs > 1) {
        PyErr_Format(PyExc_TypeError, "%s expected at most 1 argument, got %zd", name, nargs);
        return -1;
    }
    return nargs == 1 ? mc_size_arg(args[0], size) : 0;
}

/* ---- reading ------------------------------------------------------------------ */

PyDoc_STRVAR(mc_readline_doc,
"readline($self, size=-1, /)\n--\n\n"
"Read one line: up to and including the next b\"\\n\", or to the end; at most\n"
"size bytes when size >= 0.  Empty at or past the end.  A View (O(line): one\n"
"memchr, no copy), or bytes with views=False (one copy of the line).");

static PyObject *
mc_readline(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t size;
    if (mc_one_size("readline", args, nargs, &size) < 0)
        return NULL;
    NcView *v = mc_view(self);
    if (v == NULL)
        return NULL;
    Py_ssize_t p = MC(self)->pos, n = NC_VIEW_LEN(v);
    if (p >= n || size == 0)
        return mc_result(self, v, 0, 0);
    Py_ssize_t lim = n - p;
    if (size > 0 && size < lim)
        lim = size;
    const char *at = NC_VIEW_PTR(v) + p;
    const char *nl = mc_find_nl(at, lim);
    Py_ssize_t e = nl != NULL ? p + (nl - at) + 1 : p + lim;
    MC(self)->pos = e;
    return mc_result(self, v, p, e);
}

static PyObject *
mc_iternext(PyObject *self)
{
    NcView *v = mc_view(self);
    if (v == NULL)
        return NULL;
    Py_ssize_t p = MC(self)->pos, n = NC_VIEW_LEN(v);
    if (p >= n)
        return NULL;  /* StopIteration */
    const char *at = NC_VIEW_PTR(v) + p;
    const char *nl = mc_find_nl(at, n - p);
    Py_ssize_t e = nl != NULL ? p + (nl - at) + 1 : n;
    MC(self)->pos = e;
    return mc_result(self, v, p, e);
}

PyDoc_STRVAR(mc_readlines_doc,
"readlines($self, hint=-1, /)\n--\n\n"
"A list of the remaining lines; with hint > 0, lines until their total size\n"
"reaches hint.  Views (O(line) each: one memchr, no copy), or bytes with\n"
"views=False.");

static PyObject *
mc_readlines(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs > 1) {
        PyErr_Format(PyExc_TypeError, "readlines expected at most 1 argument, got %zd", nargs);
        return NULL;
    }
    /* as io.BytesIO: the closed test before the argument, and an int (or a
     * subclass) only, not any __index__: no Python code runs before the loop */
    NcView *v = mc_view(self);
    if (v == NULL)
        return NULL;
    Py_ssize_t hint = -1;
    if (nargs == 1 && args[0] != Py_None) {
        if (!PyLong_Check(args[0])) {
            PyErr_Format(PyExc_TypeError, "integer argument expected, got '%.200s'",
                         Py_TYPE(args[0])->tp_name);
            return NULL;
        }
        hint = PyLong_AsSsize_t(args[0]);
        if (hint == -1 && PyErr_Occurred())
            return NULL;
    }
    /* Each View or list allocation may collect, and a finalizer may close,
     * seek or retarget the reader: the loop keeps its own reference to the
     * View, re-checks it every line, and works on its local position (the
     * reader's moves forward to it at the end, as the Python loop did). */
    Py_INCREF(v);
    Py_ssize_t start = MC(self)->pos, p = start, total = 0;
    PyObject *lines = PyList_New(0);
    if (lines == NULL)
        goto fail;
    for (;;) {
        if (nc_view_check(v) < 0)
            goto fail;
        Py_ssize_t n = NC_VIEW_LEN(v);
        if (p >= n)
            break;
        const char *at = NC_VIEW_PTR(v) + p;
        const char *nl = mc_find_nl(at, n - p);
        Py_ssize_t e = nl != NULL ? p + (nl - at) + 1 : n;
        PyObject *line = mc_result(self, v, p, e);
        if (line == NULL)
            goto fail;
        int rc = PyList_Append(lines, line);
        Py_DECREF(line);
        if (rc < 0)
            goto fail;
        total += e - p;
        p = e;
        if (hint > 0 && total >= hint)
            break;
    }
    Py_DECREF(v);
    if (p > MC(self)->pos)
        MC(self)->pos = p;
    return lines;
fail:
    Py_DECREF(v);
    Py_XDECREF(lines);
    return NULL;
}

/* read(size) after the argument: shared by read and read1. */
static PyObject *
mc_read_size(PyObject *self, Py_ssize_t size)
{
    NcView *v = mc_view(self);
    if (v == NULL)
        return NULL;
    Py_ssize_t p = MC(self)->pos, n = NC_VIEW_LEN(v);
    if (p >= n)
        return mc_result(self, v, 0, 0);
    Py_ssize_t e = size < 0 || size >= n - p ? n : p + size;
    MC(self)->pos = e;
    return mc_result(self, v, p, e);
}

PyDoc_STRVAR(mc_read_doc,
"read($self, size=-1, /)\n--\n\n"
"Read up to size bytes (-1 or None: to the end) and move past them; empty at\n"
"or past the end.  A View (O(1), no copy), or bytes with views=False (one\n"
"copy; a read of all of a bytes object returns that object).");

static PyObject *
mc_read(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t size;
    if (mc_one_size("read", args, nargs, &size) < 0)
        return NULL;
    return mc_read_size(self, size);
}

PyDoc_STRVAR(mc_read1_doc,
"read1($self, size=-1, /)\n--\n\n"
"read(size): memory has no raw reads to limit.");

static PyObject *
mc_read1(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t size;
    if (mc_one_size("read1", args, nargs, &size) < 0)
        return NULL;
    return mc_read_size(self, size);
}

/* ---- the state, for the Python methods ------------------------------------------ */

static PyObject *
mc_get_view(PyObject *self, void *c)
{
    NcView *v = MC(self)->view;
    return Py_NewRef(v != NULL ? (PyObject *)v : Py_None);
}

/* r._view = View (open on it) or None (close).  Exact Views only: the
 * results are made with the View's type. */
static int
mc_set_view(PyObject *self, PyObject *arg, void *c)
{
    if (arg == NULL) {
        PyErr_SetString(PyExc_AttributeError, "cannot delete _view");
        return -1;
    }
    if (arg == Py_None) {
        Py_CLEAR(MC(self)->view);
        return 0;
    }
    nc_state *st = nc_state_of_type(Py_TYPE(self));
    if (st == NULL)
        return -1;
    if (!Py_IS_TYPE(arg, st->ViewType)) {
        PyErr_Format(PyExc_TypeError, "_view must be a View or None, not %.200s",
                     Py_TYPE(arg)->tp_name);
        return -1;
    }
    Py_XSETREF(MC(self)->view, (NcView *)Py_NewRef(arg));
    return 0;
}

static PyObject *
mc_get_pos(PyObject *self, void *c)
{
    return PyLong_FromSsize_t(MC(self)->pos);
}

static int
mc_set_pos(PyObject *self, PyObject *arg, void *c)
{
    if (arg == NULL) {
        PyErr_SetString(PyExc_AttributeError, "cannot delete _pos");
        return -1;
    }
    Py_ssize_t n = PyLong_AsSsize_t(arg);  /* int only: no __index__ runs */
    if (n == -1 && PyErr_Occurred())
        return -1;
    if (n < 0) {
        PyErr_SetString(PyExc_ValueError, "_pos must be >= 0");
        return -1;
    }
    MC(self)->pos = n;
    return 0;
}

static PyObject *
mc_get_len(PyObject *self, void *c)
{
    NcView *v = MC(self)->view;
    if (v == NULL)
        return PyLong_FromLong(0);
    if (nc_view_check(v) < 0)
        return NULL;
    return PyLong_FromSsize_t(NC_VIEW_LEN(v));
}

static PyObject *
mc_get_views(PyObject *self, void *c)
{
    return PyBool_FromLong(MC(self)->views);
}

static int
mc_set_views(PyObject *self, PyObject *arg, void *c)
{
    if (arg == NULL) {
        PyErr_SetString(PyExc_AttributeError, "cannot delete _views");
        return -1;
    }
    int t = PyObject_IsTrue(arg);
    if (t < 0)
        return -1;
    MC(self)->views = t;
    return 0;
}

static PyGetSetDef mc_getset[] = {
    {"_view", mc_get_view, mc_set_view, "The reader's View of the buffer; None while closed.", NULL},
    {"_pos", mc_get_pos, mc_set_pos, "The position (may be past the end).", NULL},
    {"_len", mc_get_len, NULL, "The buffer's length (0 while closed).", NULL},
    {"_views", mc_get_views, mc_set_views, "Results are Views (True) or bytes (False).", NULL},
    {NULL},
};

static PyMethodDef mc_methods[] = {
    {"readline", (PyCFunction)(void (*)(void))mc_readline, METH_FASTCALL, mc_readline_doc},
    {"readlines", (PyCFunction)(void (*)(void))mc_readlines, METH_FASTCALL, mc_readlines_doc},
    {"read", (PyCFunction)(void (*)(void))mc_read, METH_FASTCALL, mc_read_doc},
    {"read1", (PyCFunction)(void (*)(void))mc_read1, METH_FASTCALL, mc_read1_doc},
    {NULL},
};

/* ---- lifetime -------------------------------------------------------------------- */

static int
mc_traverse(PyObject *self, visitproc visit, void *arg)
{
    if (!mc_traverse_heap)
        Py_VISIT(Py_TYPE(self));
    Py_VISIT(MC(self)->view);
    return mc_base_traverse(self, visit, arg);
}

static int
mc_clear(PyObject *self)
{
    Py_CLEAR(MC(self)->view);
    return mc_base_clear(self);
}

static void
mc_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    /* IOBase's finalizer (close()) first, while the reader is whole; a
     * subclass's subtype_dealloc has run it already (then this is a no-op). */
    if (PyObject_CallFinalizerFromDealloc(self) < 0)
        return;  /* resurrected */
    /* Dropping the View may release the export, which may run Python code:
     * untracked meanwhile, as subtype_dealloc does around its own clearing. */
    PyObject_GC_UnTrack(self);
    Py_CLEAR(MC(self)->view);
    PyObject_GC_Track(self);  /* _io's dealloc untracks it */
    mc_base_dealloc(self);
    if (!mc_dealloc_heap)
        Py_DECREF(tp);
}

PyDoc_STRVAR(mc_doc,
"The C base of nocopy.io.MemoryReader: its View, its position and the\n"
"methods called per line or per read (readline, readlines, iteration, read,\n"
"read1).  "
"Use nocopy.io.MemoryReader.");

static PyType_Slot mc_slots[] = {
    {Py_tp_dealloc, mc_dealloc},
    {Py_tp_traverse, mc_traverse},
    {Py_tp_clear, mc_clear},
    /* as io.BytesIO: iter() of a closed file succeeds, next() raises */
    {Py_tp_iter, PyObject_SelfIter},
    {Py_tp_iternext, mc_iternext},
    {Py_tp_methods, mc_methods},
    {Py_tp_getset, mc_getset},
    {Py_tp_doc, (void *)mc_doc},
    {0, NULL},
};

static PyType_Spec mc_spec = {
    .name = "nocopy._core._MemCursor",
    .basicsize = 0,  /* set at init: after _io._BufferedIOBase's layout */
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC
             | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = mc_slots,
};

int
nc_memcursor_module_init(PyObject *m, nc_state *Py_UNUSED(st))
{
    PyObject *io = PyImport_ImportModule("_io");
    if (io == NULL)
        return -1;
    PyObject *base = PyObject_GetAttrString(io, "_BufferedIOBase");
    Py_DECREF(io);
    if (base == NULL)
        return -1;
    int rc = -1;
    PyObject *probe = NULL;
    PyTypeObject *bt = (PyTypeObject *)base;
    if (!PyType_Check(base) || !PyType_HasFeature(bt, Py_TPFLAGS_HAVE_GC)
        || bt->tp_itemsize != 0) {
        PyErr_SetString(PyExc_TypeError, "_io._BufferedIOBase is not the type nocopy expects");
        goto done;
    }
    /* A heap type made from a spec without a dealloc (or a class statement)
     * gets CPython's generic subtype_dealloc, which calls the dealloc of the
     * nearest base of the *instance's* type that has another one: ours
     * again, for ever.  So the slots called are the first along the bases
     * that are not the generic ones, as a probe class shows them (from 3.12
     * _io._BufferedIOBase is such a heap type; its dealloc is _IOBase's). */
    probe = PyObject_CallFunction((PyObject *)&PyType_Type, "s(O){}", "_nc_probe",
                                  (PyObject *)&PyBaseObject_Type);
    if (probe == NULL)
        goto done;
    PyTypeObject *pt = (PyTypeObject *)probe, *d = bt, *tr = bt, *cl = bt;
    while (d != NULL && d->tp_dealloc == pt->tp_dealloc)
        d = d->tp_base;
    while (tr != NULL && tr->tp_traverse == pt->tp_traverse)
        tr = tr->tp_base;
    while (cl != NULL && cl->tp_clear == pt->tp_clear)
        cl = cl->tp_base;
    if (d == NULL || tr == NULL || cl == NULL || d->tp_dealloc == NULL
        || tr->tp_traverse == NULL || cl->tp_clear == NULL) {
        PyErr_SetString(PyExc_TypeError, "_io._BufferedIOBase is not the type nocopy expects");
        goto done;
    }
    const Py_ssize_t align = (Py_ssize_t)_Alignof(mc_fields);
    mc_offset = (bt->tp_basicsize + align - 1) / align * align;
    mc_base_dealloc = d->tp_dealloc;
    mc_dealloc_heap = PyType_HasFeature(d, Py_TPFLAGS_HEAPTYPE);
    mc_base_traverse = tr->tp_traverse;
    mc_traverse_heap = PyType_HasFeature(tr, Py_TPFLAGS_HEAPTYPE);
    mc_base_clear = cl->tp_clear;
    mc_spec.basicsize = (int)(mc_offset + (Py_ssize_t)sizeof(mc_fields));
    PyObject *t = PyType_FromModuleAndSpec(m, &mc_spec, base);
    if (t == NULL)
        goto done;
    rc = PyModule_AddObjectRef(m, "_MemCursor", t);
    Py_DECREF(t);
done:
    Py_XDECREF(probe);
    Py_DECREF(base);
    return rc;
}
