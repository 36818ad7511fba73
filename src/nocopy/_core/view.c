/* view.c -- View: a window (holder, start, stop) on any buffer.
 *
 * Ownership: a View owns one reference to its NcHolder (NULL once released)
 * and nothing else.  Sub-views, slices and split pieces share the holder, so
 * the exporter is asked for its buffer once per chain of views.  Every entry
 * point runs nc_view_check() *after* any argument conversion that may run
 * Python code (__index__, buffer exporters), then reads NC_VIEW_PTR(v): a
 * callback that releases or retargets the view cannot leave a dangling
 * pointer behind.  Buffer exports of a View count in v->exports and in
 * holder->exports; release() refuses while they are held, and a ByteBuffer
 * never moves bytes that are exported. */
#include "nocopy.h"

/* hash(v) must equal hash(bytes(v)): bytes' own hash function.  Public
 * from 3.14; before that the exported _Py_HashBytes (declared in an internal
 * header on 3.13, so declared here). */
#if PY_VERSION_HEX >= 0x030E0000
#define nc_hash_bytes(p, n) Py_HashBuffer((p), (n))
#else
#if PY_VERSION_HEX >= 0x030D0000
PyAPI_FUNC(Py_hash_t) _Py_HashBytes(const void *, Py_ssize_t);
#endif
#define nc_hash_bytes(p, n) _Py_HashBytes((p), (n))
#endif

/* ---- validity ----------------------------------------------------------- */

int
nc_view_check_slow(NcView *v)
{
    if (v->holder == NULL) {
        PyErr_SetString(PyExc_ValueError, "operation forbidden on released View object");
        return -1;
    }
    nc_state *st = nc_state_of_type(Py_TYPE(v));
    PyErr_SetString(st ? st->StaleViewError : PyExc_RuntimeError,
                    v->holder->closed
                        ? "stale View: its buffer was closed (View.close(), ByteBuffer.close() or "
                          "the end of a with block)"
                        : "stale View: its ByteBuffer has moved or overwritten these bytes");
    return -1;
}

/* A few freed Views are kept for reuse: strip / split / partition make a
 * View per result, and on 64 bytes malloc + free + the GC link are most of
 * such a method's time; reusing the memory keeps View methods within the
 * DESIGN's 1.2x of bytes.  Only exact Views (tp_dealloc == view_dealloc: no
 * subclass layout) are kept.  The list is per process, which is safe with
 * the GIL while the module does not opt in to a per-interpreter GIL. */
#ifndef Py_GIL_DISABLED
#define NC_VIEW_FREELIST 128
static NcView *view_freelist[NC_VIEW_FREELIST];
static int view_nfree;
#endif
static void view_dealloc(NcView *v);

/* A freshly allocated View's fields: its holder reference (already taken),
 * window and the epoch its caller computed them at. */
static inline void
view_set(NcView *v, NcHolder *holder, Py_ssize_t start, Py_ssize_t stop, uint64_t epoch)
{
    v->holder = holder;
    v->start = start;
    v->stop = stop;
    v->epoch = epoch;
    v->exports = 0;
}

/* nc_view_new for a subclass made in Python, out of line (the exact View's
 * path stays short).  A finalizer run by the allocation may also assign
 * __class__ away from `type` and a collection free it: pinned too. */
static Py_NO_INLINE NcView *
view_new_subclass(PyTypeObject *type, NcHolder *holder, Py_ssize_t start, Py_ssize_t stop,
                  uint64_t epoch)
{
    Py_INCREF(type);
    NcView *v = (NcView *)type->tp_alloc(type, 0);
    Py_DECREF(type);
    if (v == NULL) {
        Py_DECREF(holder);
        return NULL;
    }
    view_set(v, holder, start, stop, epoch);
    return v;
}

NcView *
nc_view_new(PyTypeObject *type, NcHolder *holder, Py_ssize_t start, Py_ssize_t stop)
{
    NcView *v;
    /* The allocation may run a collection whose finalizers drop the
     * caller's reference to `holder` (release a View, move a ByteBuffer to
     * fresh storage) or move its bytes.  So the new view's reference is taken
     * first, and its epoch is the one the caller computed start and stop at:
     * bytes moved meanwhile make the view stale, never wrong. */
    uint64_t epoch = holder->epoch;
    if (holder->closed)
        epoch--;  /* a window over the empty stand-in: stale, never read */
    Py_INCREF(holder);
    if (type->tp_dealloc != (destructor)view_dealloc)
        return view_new_subclass(type, holder, start, stop, epoch);
    /* An exact View: no subclass layout to zero or allocate for, so skip the
     * generic allocator's work. */
#ifdef NC_VIEW_FREELIST
    if (view_nfree > 0) {
        v = view_freelist[--view_nfree];
        (void)PyObject_Init((PyObject *)v, type);  /* type reference, refcount 1 */
    }
    else
#endif
    if ((v = PyObject_GC_New(NcView, type)) == NULL) {
        Py_DECREF(holder);
        return NULL;
    }
    view_set(v, holder, start, stop, epoch);
    /* An exact View refers only to its holder: over an acyclic holder it
     * cannot be part of a cycle, and untracked it costs the collector
     * nothing (a split into 37k pieces would otherwise feed it 37k). */
    if (!holder->acyclic)
        PyObject_GC_Track(v);
    return v;
}

int
nc_view_new_is_quiet(PyTypeObject *type)
{
#ifdef NC_VIEW_FREELIST
    return type->tp_dealloc == (destructor)view_dealloc && view_nfree > 0;
#else
    (void)type;
    return 0;
#endif
}

int
nc_view_is_exact(PyObject *o)
{
    return Py_TYPE(o)->tp_dealloc == (destructor)view_dealloc;
}

NcHolder *
nc_view_rebind(NcView *v, NcHolder *holder, Py_ssize_t start, Py_ssize_t stop, uint64_t epoch)
{
    NcHolder *old = v->holder;
    v->holder = (NcHolder *)Py_NewRef(holder);
    v->start = start;
    v->stop = stop;
    v->epoch = epoch;
    /* An exact View over an acyclic holder is left untracked by
     * nc_view_new; moved onto a holder that may be in a cycle, the
     * collector must see it. */
    if (!holder->acyclic && !PyObject_GC_IsTracked((PyObject *)v))
        PyObject_GC_Track(v);
    return old;
}

/* ---- argument helpers ---------------------------------------------------- */

int
nc_parse_slice_index(PyObject *arg, Py_ssize_t *out)
{
    if (arg == Py_None)
        return 0;  /* leave the default in *out */
    if (PyLong_CheckExact(arg)) {
        *out = PyLong_AsSsize_t(arg);
        if (*out == -1 && PyErr_Occurred()) {
            /* bytes clamps huge indices instead of raising */
            PyErr_Clear();
            *out = _PyLong_Sign(arg) < 0 ? PY_SSIZE_T_MIN : PY_SSIZE_T_MAX;
        }
        return 0;
    }
    if (!PyIndex_Check(arg)) {
        PyErr_SetString(PyExc_TypeError,
                        "slice indices must be integers or None or have an __index__ method");
        return -1;
    }
    return _PyEval_SliceIndex(arg, out) ? 0 : -1;
}

/* Raise the error that bytes' own method `name` raises for these arguments
 * (on b"").  Used on argument-parsing error paths only, where the wording
 * changes between Python versions (3.13 rewrote the keyword messages) and
 * the type under the call does not matter.  Returns 1 when bytes raised, 0
 * when it accepted the arguments or has no such method (the caller then
 * raises its own error). */
int
nc_bytes_arg_error(const char *name, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *stack[8];
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    if (nargs + nkw + 1 > (Py_ssize_t)(sizeof(stack) / sizeof(stack[0])))
        return 0;
    /* The interned name: the type attribute cache keeps a reference to the
     * name it was asked with, and a fresh string per call would fill it. */
    PyObject *iname = PyUnicode_InternFromString(name);
    PyObject *meth = iname ? PyObject_GetAttr((PyObject *)&PyBytes_Type, iname) : NULL;
    Py_XDECREF(iname);
    if (meth == NULL && PyErr_ExceptionMatches(PyExc_AttributeError)) {
        PyErr_Clear();
        return 0;  /* not a bytes method: the caller words its own error */
    }
    PyObject *empty = PyBytes_FromStringAndSize(NULL, 0);
    if (meth == NULL || empty == NULL) {
        Py_XDECREF(meth);
        Py_XDECREF(empty);
        return 1;
    }
    stack[0] = empty;
    for (Py_ssize_t i = 0; i < nargs + nkw; i++)
        stack[i + 1] = args[i];
    PyObject *r = PyObject_Vectorcall(meth, stack, (size_t)(nargs + 1), kwnames);
    Py_DECREF(meth);
    Py_DECREF(empty);
    if (r == NULL)
        return 1;
    Py_DECREF(r);
    return 0;
}

/* Clamp a constructor index like a slice bound. */
static Py_ssize_t
clamp_index(Py_ssize_t i, Py_ssize_t len)
{
    if (i < 0) {
        i += len;
        return i < 0 ? 0 : i;
    }
    return i > len ? len : i;
}

/* ---- construction and lifetime -------------------------------------------- */

static PyObject *
view_tp_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"obj", "start", "stop", NULL};
    PyObject *obj = NULL, *ostart = Py_None, *ostop = Py_None;
    Py_ssize_t start = 0, stop = PY_SSIZE_T_MAX;
    NcHolder *holder = NULL;
    Py_ssize_t base = 0, len;
    NcView *v = NULL;

    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|OOO:View", kwlist, &obj, &ostart, &ostop))
        return NULL;
    if (nc_parse_slice_index(ostart, &start) < 0 || nc_parse_slice_index(ostop, &stop) < 0)
        return NULL;
    nc_state *st = nc_state_of_type(type);
    if (obj != NULL && NcView_Check(st, obj)) {
        /* Share the parent's export: a view of a view asks nobody again. */
        NcView *parent = (NcView *)obj;
        if (nc_view_check(parent) < 0)
            return NULL;
        holder = (NcHolder *)Py_NewRef(parent->holder);
        base = parent->start;
        len = NC_VIEW_LEN(parent);
    }
    else {
        PyObject *empty = obj ? NULL : PyBytes_FromStringAndSize(NULL, 0);
        if (obj == NULL && empty == NULL)
            return NULL;
        holder = nc_holder_from_object(st, obj ? obj : empty);
        Py_XDECREF(empty);
        if (holder == NULL)
            return NULL;
        len = holder->len;
    }
    start = clamp_index(start, len);
    stop = clamp_index(stop, len);
    if (stop < start)
        stop = start;
    v = nc_view_new(type, holder, base + start, base + stop);
    Py_DECREF(holder);
    return (PyObject *)v;
}

static int
view_traverse(NcView *v, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(v));
    Py_VISIT(v->holder);
    return 0;
}

static int
view_clear(NcView *v)
{
    /* An exported window must stay readable until its consumer lets go. */
    if (v->exports == 0)
        Py_CLEAR(v->holder);
    return 0;
}

static void
view_dealloc(NcView *v)
{
    PyTypeObject *tp = Py_TYPE(v);
    PyObject_GC_UnTrack(v);
    Py_CLEAR(v->holder);
#ifdef NC_VIEW_FREELIST
    if (view_nfree < NC_VIEW_FREELIST && tp->tp_dealloc == (destructor)view_dealloc) {
        view_freelist[view_nfree++] = v;
        Py_DECREF(tp);
        return;
    }
#endif
    tp->tp_free((PyObject *)v);
    Py_DECREF(tp);
}

PyDoc_STRVAR(release_doc,
"release($self, /)\n--\n\n"
"Drop this View's share of the buffer export now instead of at garbage\n"
"collection (sub-views share it and keep it until they go too; close() gives\n"
"it back for all of them).  Every later use raises ValueError.  BufferError\n"
"while a memoryview of this View is alive.  O(1).");

static PyObject *
view_release(NcView *v, PyObject *Py_UNUSED(ignored))
{
    if (v->exports > 0) {
        PyErr_Format(PyExc_BufferError,
                     "cannot release View: %zd buffer export(s) of it still held", v->exports);
        return NULL;
    }
    Py_CLEAR(v->holder);
    Py_RETURN_NONE;
}

static PyObject *
view_enter(NcView *v, PyObject *Py_UNUSED(ignored))
{
    if (nc_view_check(v) < 0)
        return NULL;
    return Py_NewRef(v);
}

static PyObject *
view_exit(NcView *v, PyObject *const *args, Py_ssize_t nargs)
{
    if (v->holder != NULL && v->holder->close_on_exit)
        return nc_view_close(v, NULL);  /* map_file: the mapping goes too */
    return view_release(v, NULL);
}

/* ---- attributes ------------------------------------------------------------ */

static PyObject *
view_get_obj(NcView *v, void *c)
{
    if (nc_view_check(v) < 0)
        return NULL;
    return Py_NewRef(v->holder->obj ? v->holder->obj : Py_None);
}

static PyObject *
view_get_start(NcView *v, void *c)
{
    if (nc_view_check(v) < 0)
        return NULL;
    return PyLong_FromSsize_t(v->start);
}

static PyObject *
view_get_stop(NcView *v, void *c)
{
    if (nc_view_check(v) < 0)
        return NULL;
    return PyLong_FromSsize_t(v->stop);
}

/* Convert an absolute offset for the start/stop setters and retarget:
 * strict, since a silently clamped window would send the wrong bytes. */
static int
bound_arg(PyObject *arg, const char *what, Py_ssize_t *out)
{
    if (arg == NULL) {
        PyErr_Format(PyExc_AttributeError, "cannot delete View.%s", what);
        return -1;
    }
    if (PyLong_CheckExact(arg)) {
        *out = PyLong_AsSsize_t(arg);
        if (*out == -1 && PyErr_Occurred()) {
            PyErr_Clear();
            *out = PY_SSIZE_T_MAX;  /* out of range: reported by check_window */
        }
        return 0;
    }
    if (!PyIndex_Check(arg)) {
        PyErr_Format(PyExc_TypeError, "View.%s must be an integer, not '%.100s'",
                     what, Py_TYPE(arg)->tp_name);
        return -1;
    }
    *out = PyNumber_AsSsize_t(arg, NULL);
    if (*out == -1 && PyErr_Occurred()) {
        if (!PyErr_ExceptionMatches(PyExc_OverflowError))
            return -1;
        PyErr_Clear();
        *out = PY_SSIZE_T_MAX;
    }
    return 0;
}

static int
check_window(NcView *v, Py_ssize_t start, Py_ssize_t stop)
{
    Py_ssize_t len = v->holder->len;
    if (start < 0 || stop < 0 || start > len || stop > len) {
        PyErr_Format(PyExc_ValueError,
                     "View window [%zd:%zd] out of range for an object of %zd bytes",
                     start, stop, len);
        return -1;
    }
    if (start > stop) {
        PyErr_Format(PyExc_ValueError, "View start %zd is past its stop %zd", start, stop);
        return -1;
    }
    return 0;
}

static int
view_set_start(NcView *v, PyObject *arg, void *c)
{
    Py_ssize_t start;
    if (bound_arg(arg, "start", &start) < 0 || nc_view_check(v) < 0)
        return -1;
    if (check_window(v, start, v->stop) < 0)
        return -1;
    v->start = start;
    return 0;
}

static int
view_set_stop(NcView *v, PyObject *arg, void *c)
{
    Py_ssize_t stop;
    if (bound_arg(arg, "stop", &stop) < 0 || nc_view_check(v) < 0)
        return -1;
    if (check_window(v, v->start, stop) < 0)
        return -1;
    v->stop = stop;
    return 0;
}

static PyObject *
view_get_readonly(NcView *v, void *c)
{
    if (nc_view_check(v) < 0)
        return NULL;
    return PyBool_FromLong(v->holder->readonly);
}

static PyObject *
view_get_nbytes(NcView *v, void *c)
{
    if (nc_view_check(v) < 0)
        return NULL;
    return PyLong_FromSsize_t(NC_VIEW_LEN(v));
}

static PyObject *
view_get_closed(NcView *v, void *c)
{
    return PyBool_FromLong(v->holder != NULL && v->holder->closed);
}

static PyObject *
view_get_released(NcView *v, void *c)
{
    return PyBool_FromLong(v->holder == NULL);
}

static PyGetSetDef view_getset[] = {
    {"obj", (getter)view_get_obj, NULL,
     "The object whose buffer this View windows (None for a ByteBuffer's storage).", NULL},
    {"start", (getter)view_get_start, (setter)view_set_start,
     "Window start, an absolute offset into obj's buffer (find() and slices count from\n"
     "start); settable in place (ValueError out of range).", NULL},
    {"stop", (getter)view_get_stop, (setter)view_set_stop,
     "Window end, an absolute offset into obj's buffer; settable in place (ValueError\n"
     "out of range).", NULL},
    {"readonly", (getter)view_get_readonly, NULL, "True when the window cannot be written.", NULL},
    {"nbytes", (getter)view_get_nbytes, NULL, "Length of the window in bytes.", NULL},
    {"released", (getter)view_get_released, NULL, "True after release().", NULL},
    {"closed", (getter)view_get_closed, NULL,
     "True once close() (or its ByteBuffer's close()) gave the buffer back.", NULL},
    {NULL},
};

PyDoc_STRVAR(retarget_doc,
"retarget($self, start, stop=None, /)\n--\n\n"
"Move the window to [start, stop) of obj (absolute offsets; stop None means the\n"
"end of obj) in place and return this same View, so\n"
"``sock.send(view.retarget(0, n))`` allocates nothing.  ValueError when the\n"
"window does not fit obj: it is never silently clamped.  O(1).  Offsets that\n"
"find(), index() or a slice return are relative to a View's window: to move\n"
"onto other[a:b] with them, use reslice(other, a, b).");

static PyObject *
view_retarget(NcView *v, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t start, stop = -1;
    if (nargs < 1 || nargs > 2) {
        PyErr_Format(PyExc_TypeError, "retarget() takes 1 or 2 arguments (%zd given)", nargs);
        return NULL;
    }
    if (bound_arg(args[0], "start", &start) < 0)
        return NULL;
    int stop_given = nargs == 2 && args[1] != Py_None;
    if (stop_given && bound_arg(args[1], "stop", &stop) < 0)
        return NULL;
    if (nc_view_check(v) < 0)
        return NULL;
    if (!stop_given)
        stop = v->holder->len;
    if (check_window(v, start, stop) < 0)
        return NULL;
    v->start = start;
    v->stop = stop;
    return Py_NewRef(v);
}

/* ---- sequence and mapping ------------------------------------------------- */

static Py_ssize_t
view_length(NcView *v)
{
    if (nc_view_check(v) < 0)
        return -1;
    return NC_VIEW_LEN(v);
}

static PyObject *
view_item(NcView *v, Py_ssize_t i)
{
    if (nc_view_check(v) < 0)
        return NULL;
    if (i < 0 || i >= NC_VIEW_LEN(v)) {
        PyErr_SetString(PyExc_IndexError, "index out of range");
        return NULL;
    }
    return PyLong_FromLong((unsigned char)NC_VIEW_PTR(v)[i]);
}

static int
unpack_slice(NcView *v, PyObject *key, Py_ssize_t *start, Py_ssize_t *stop)
{
    Py_ssize_t step;
    if (PySlice_Unpack(key, start, stop, &step) < 0)
        return -1;
    if (nc_view_check(v) < 0)  /* __index__ may have released us */
        return -1;
    if (step != 1) {
        PyErr_SetString(PyExc_ValueError,
                        "View slices must have step 1 (a strided slice is a copy: use bytes(v)[a:b:c])");
        return -1;
    }
    PySlice_AdjustIndices(NC_VIEW_LEN(v), start, stop, step);
    if (*stop < *start)
        *stop = *start;
    return 0;
}

static int
index_arg(NcView *v, PyObject *key, Py_ssize_t *i)
{
    *i = PyNumber_AsSsize_t(key, PyExc_IndexError);
    if (*i == -1 && PyErr_Occurred())
        return -1;
    if (nc_view_check(v) < 0)
        return -1;
    if (*i < 0)
        *i += NC_VIEW_LEN(v);
    if (*i < 0 || *i >= NC_VIEW_LEN(v)) {
        PyErr_SetString(PyExc_IndexError, "index out of range");
        return -1;
    }
    return 0;
}

static PyObject *
view_subscript(NcView *v, PyObject *key)
{
    Py_ssize_t i, start, stop;
    if (PySlice_Check(key)) {
        if (unpack_slice(v, key, &start, &stop) < 0)
            return NULL;
        return nc_view_sub(v, start, stop);
    }
    if (!PyIndex_Check(key)) {
        PyErr_Format(PyExc_TypeError, "View indices must be integers or slices, not %.200s",
                     Py_TYPE(key)->tp_name);
        return NULL;
    }
    if (index_arg(v, key, &i) < 0)
        return NULL;
    return PyLong_FromLong((unsigned char)NC_VIEW_PTR(v)[i]);
}

static int
check_writable(NcView *v)
{
    if (v->holder->readonly) {
        PyErr_SetString(PyExc_TypeError, "cannot modify read-only View");
        return -1;
    }
    return 0;
}

/* An int in range(256) as bytearray's item assignment wants it. */
static int
byte_arg(PyObject *value, int *out)
{
    if (!PyIndex_Check(value)) {
        PyErr_Format(PyExc_TypeError, "'%.200s' object cannot be interpreted as an integer",
                     Py_TYPE(value)->tp_name);
        return -1;
    }
    Py_ssize_t b = PyNumber_AsSsize_t(value, NULL);
    if (b == -1 && PyErr_Occurred()) {
        if (PyErr_ExceptionMatches(PyExc_OverflowError)) {
            PyErr_Clear();
            b = 256;
        }
        else
            return -1;
    }
    if (b < 0 || b > 255) {
        PyErr_SetString(PyExc_ValueError, "byte must be in range(0, 256)");
        return -1;
    }
    *out = (int)b;
    return 0;
}

static int
view_ass_subscript(NcView *v, PyObject *key, PyObject *value)
{
    Py_ssize_t i, start, stop;
    if (value == NULL) {
        PyErr_SetString(PyExc_TypeError, "View object doesn't support item deletion");
        return -1;
    }
    if (PySlice_Check(key)) {
        Py_buffer src;
        if (nc_get_buffer(value, &src) < 0)
            return -1;
        int rc = -1;
        if (unpack_slice(v, key, &start, &stop) < 0 || check_writable(v) < 0)
            goto done;
        if (src.len != stop - start) {
            PyErr_Format(PyExc_ValueError,
                         "View slice assignment cannot change the size: %zd bytes into a %zd-byte slice",
                         src.len, stop - start);
            goto done;
        }
        if (src.len)
            memmove(NC_VIEW_PTR(v) + start, src.buf, (size_t)src.len);
        rc = 0;
    done:
        PyBuffer_Release(&src);
        return rc;
    }
    if (!PyIndex_Check(key)) {
        PyErr_Format(PyExc_TypeError, "View indices must be integers or slices, not %.200s",
                     Py_TYPE(key)->tp_name);
        return -1;
    }
    int b;
    if (byte_arg(value, &b) < 0 || index_arg(v, key, &i) < 0 || check_writable(v) < 0)
        return -1;
    NC_VIEW_PTR(v)[i] = (char)b;
    return 0;
}

/* ---- buffer export ------------------------------------------------------------ */

static int
view_getbuffer(NcView *v, Py_buffer *b, int flags)
{
    if (v->holder == NULL) {
        PyErr_SetString(PyExc_ValueError, "operation forbidden on released View object");
        return -1;
    }
    if (nc_view_check(v) < 0)
        return -1;
    if (PyBuffer_FillInfo(b, (PyObject *)v, NC_VIEW_PTR(v), NC_VIEW_LEN(v),
                          v->holder->readonly, flags) < 0)
        return -1;
    v->exports++;
    v->holder->exports++;
    return 0;
}

static void
view_releasebuffer(NcView *v, Py_buffer *b)
{
    v->exports--;
    v->holder->exports--;  /* holder cannot go while exports > 0 */
}

/* ---- comparison, hash, repr ------------------------------------------------------ */

static PyObject *
view_richcompare(NcView *v, PyObject *other, int op)
{
    Py_buffer ob;
    if (PyBytes_CheckExact(other) && (op == Py_EQ || op == Py_NE)) {
        /* the dict-lookup path (a bytes key against a View): no export */
        if (nc_view_check(v) < 0)
            return NULL;
        Py_ssize_t n = NC_VIEW_LEN(v);
        int eq = n == PyBytes_GET_SIZE(other)
                 && (n == 0 || memcmp(NC_VIEW_PTR(v), PyBytes_AS_STRING(other), (size_t)n) == 0);
        return Py_NewRef(eq == (op == Py_EQ) ? Py_True : Py_False);
    }
    if (!PyObject_CheckBuffer(other) || PyUnicode_Check(other))
        Py_RETURN_NOTIMPLEMENTED;
    if (PyObject_GetBuffer(other, &ob, PyBUF_SIMPLE) < 0) {
        PyErr_Clear();
        Py_RETURN_NOTIMPLEMENTED;
    }
    PyObject *res = NULL;
    if (nc_view_check(v) < 0)
        goto done;
    Py_ssize_t n = NC_VIEW_LEN(v), m = ob.len;
    int c;
    if ((op == Py_EQ || op == Py_NE) && n != m)
        c = 1;
    else {
        Py_ssize_t k = n < m ? n : m;
        c = k ? memcmp(NC_VIEW_PTR(v), ob.buf, (size_t)k) : 0;
        if (c == 0)
            c = (n > m) - (n < m);
    }
    int r;
    switch (op) {
    case Py_EQ: r = c == 0; break;
    case Py_NE: r = c != 0; break;
    case Py_LT: r = c < 0; break;
    case Py_LE: r = c <= 0; break;
    case Py_GT: r = c > 0; break;
    default:    r = c >= 0; break;
    }
    res = Py_NewRef(r ? Py_True : Py_False);
done:
    PyBuffer_Release(&ob);
    return res;
}

/* hash(v) == hash(v.tobytes()) for every View, writable ones included, so a
 * View finds an equal bytes key in a dict or set with no copy.  Computed from
 * the current bytes on every call, never cached: the bytes of a writable
 * buffer (and a retargeted window) change, and a stored hash would go out of
 * date.  A View used as a key of a plain dict therefore must not change while
 * it is there -- KeyDict/Counter (keydict.c) store a bytes copy instead.  A
 * stale or released View raises as its other reads do.  O(n), no allocation. */
static Py_hash_t
view_hash(NcView *v)
{
    if (nc_view_check(v) < 0)
        return -1;
    return nc_hash_bytes(NC_VIEW_PTR(v), NC_VIEW_LEN(v));
}

static PyObject *
view_repr(NcView *v)
{
    if (v->holder == NULL)
        return PyUnicode_FromString("<released nocopy.View>");
    if (v->epoch != v->holder->epoch)
        return PyUnicode_FromString("<stale nocopy.View>");
    Py_ssize_t n = NC_VIEW_LEN(v), shown = n > 64 ? 64 : n;
    PyObject *head = PyBytes_FromStringAndSize(NC_VIEW_PTR(v), shown);
    if (head == NULL)
        return NULL;
    PyObject *r = n > shown
        ? PyUnicode_FromFormat("View(%R...) [%zd bytes]", head, n)
        : PyUnicode_FromFormat("View(%R)", head);
    Py_DECREF(head);
    return r;
}

/* ---- explicit copies and in-place writes -------------------------------------------- */

PyDoc_STRVAR(tobytes_doc,
"tobytes($self, /)\n--\n\n"
"A new bytes object with the window's content.  Copies: O(n).");

static PyObject *
view_tobytes(NcView *v, PyObject *Py_UNUSED(ignored))
{
    if (nc_view_check(v) < 0)
        return NULL;
    return PyBytes_FromStringAndSize(NC_VIEW_PTR(v), NC_VIEW_LEN(v));
}

PyDoc_STRVAR(copy_from_doc,
"copy_from($self, src, at=0, /)\n--\n\n"
"Copy the bytes of buffer src into this window at offset at; return the end\n"
"offset (at + len(src)).  BufferTooSmall (needed = at + len(src)) and nothing\n"
"written when it does not fit.  TypeError on a read-only window.  O(len(src)).");

static PyObject *
view_copy_from(NcView *v, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer src;
    Py_ssize_t at = 0;
    PyObject *res = NULL;
    if (nargs < 1 || nargs > 2) {
        PyErr_Format(PyExc_TypeError, "copy_from() takes 1 or 2 arguments (%zd given)", nargs);
        return NULL;
    }
    if (nargs == 2) {
        at = PyNumber_AsSsize_t(args[1], PyExc_OverflowError);
        if (at == -1 && PyErr_Occurred())
            return NULL;
    }
    if (nc_get_buffer(args[0], &src) < 0)
        return NULL;
    if (nc_view_check(v) < 0 || check_writable(v) < 0)
        goto done;
    Py_ssize_t n = NC_VIEW_LEN(v);
    if (at < 0 || at > n) {
        PyErr_Format(PyExc_ValueError, "copy_from offset %zd out of range for a %zd-byte View", at, n);
        goto done;
    }
    if (src.len > n - at) {
        nc_state *st = nc_state_of_type(Py_TYPE(v));
        nc_raise_new(st->BufferTooSmall, "(sn)", "source does not fit the View window",
                     at + src.len);
        goto done;
    }
    if (src.len)
        memmove(NC_VIEW_PTR(v) + at, src.buf, (size_t)src.len);
    res = PyLong_FromSsize_t(at + src.len);
done:
    PyBuffer_Release(&src);
    return res;
}

PyDoc_STRVAR(fill_doc,
"fill($self, byte, /)\n--\n\n"
"Set every byte of the window to byte (an int in range(256)).  O(n), in place.");

static PyObject *
view_fill(NcView *v, PyObject *arg)
{
    int b;
    if (byte_arg(arg, &b) < 0 || nc_view_check(v) < 0 || check_writable(v) < 0)
        return NULL;
    if (NC_VIEW_LEN(v))
        memset(NC_VIEW_PTR(v), b, (size_t)NC_VIEW_LEN(v));
    Py_RETURN_NONE;
}

static PyObject *
case_inplace(NcView *v, int upper)
{
    if (nc_view_check(v) < 0 || check_writable(v) < 0)
        return NULL;
    unsigned char *p = (unsigned char *)NC_VIEW_PTR(v);
    Py_ssize_t n = NC_VIEW_LEN(v);
    unsigned char lo = upper ? 'a' : 'A';
    for (Py_ssize_t i = 0; i < n; i++)
        if ((unsigned char)(p[i] - lo) < 26)
            p[i] ^= 0x20;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(lower_inplace_doc,
"lower_inplace($self, /)\n--\n\nASCII lower-case the window in place, as bytes.lower() would.  O(n).");
static PyObject *
view_lower_inplace(NcView *v, PyObject *Py_UNUSED(ignored))
{
    return case_inplace(v, 0);
}

PyDoc_STRVAR(upper_inplace_doc,
"upper_inplace($self, /)\n--\n\nASCII upper-case the window in place, as bytes.upper() would.  O(n).");
static PyObject *
view_upper_inplace(NcView *v, PyObject *Py_UNUSED(ignored))
{
    return case_inplace(v, 1);
}

PyDoc_STRVAR(translate_inplace_doc,
"translate_inplace($self, table, /)\n--\n\n"
"Map every byte through table (a 256-byte buffer, or None for no change) in\n"
"place.  ValueError unless the table has 256 bytes.  O(n).");

static PyObject *
view_translate_inplace(NcView *v, PyObject *table)
{
    Py_buffer t;
    PyObject *res = NULL;
    if (table == Py_None) {
        if (nc_view_check(v) < 0 || check_writable(v) < 0)
            return NULL;
        Py_RETURN_NONE;
    }
    if (nc_get_buffer(table, &t) < 0)
        return NULL;
    if (t.len != 256) {
        PyErr_SetString(PyExc_ValueError, "translation table must be 256 characters long");
        goto done;
    }
    if (nc_view_check(v) < 0 || check_writable(v) < 0)
        goto done;
    unsigned char *p = (unsigned char *)NC_VIEW_PTR(v);
    const unsigned char *map = t.buf;
    for (Py_ssize_t i = 0, n = NC_VIEW_LEN(v); i < n; i++)
        p[i] = map[p[i]];
    res = Py_NewRef(Py_None);
done:
    PyBuffer_Release(&t);
    return res;
}

PyDoc_STRVAR(decode_doc,
"decode($self, /, encoding='utf-8', errors='strict')\n--\n\n"
"Decode the window to str straight from the buffer, as bytes.decode().  O(n).");

/* The codecs PyUnicode_Decode runs in C (its "fast paths"), by the same
 * name normalization (_Py_normalize_encoding: lower case, runs of other
 * characters than letters, digits and '.' become one '_', at most 10
 * characters).  Those decoders never call Python with our pointer: an error
 * handler gets a bytes copy, and decoding goes on from that copy. */
enum { CODEC_OTHER, CODEC_UTF8, CODEC_UTF16, CODEC_UTF32, CODEC_ASCII, CODEC_LATIN1 };

static int
native_codec(const char *e)
{
    char low[11], *l = low, *end = low + sizeof(low) - 1;
    int punct = 0;
    for (; *e; e++) {
        unsigned char c = (unsigned char)*e;
        if (Py_ISALNUM(c) || c == '.') {
            if (punct && l != low) {
                if (l == end)
                    return CODEC_OTHER;
                *l++ = '_';
            }
            punct = 0;
            if (l == end)
                return CODEC_OTHER;
            *l++ = (char)Py_TOLOWER(c);
        }
        else
            punct = 1;
    }
    *l = '\0';
    if (low[0] == 'u' && low[1] == 't' && low[2] == 'f') {
        const char *t = low[3] == '_' ? low + 4 : low + 3;
        if (strcmp(t, "8") == 0)
            return CODEC_UTF8;
        if (strcmp(t, "16") == 0)
            return CODEC_UTF16;
        if (strcmp(t, "32") == 0)
            return CODEC_UTF32;
        return CODEC_OTHER;
    }
    if (strcmp(low, "ascii") == 0 || strcmp(low, "us_ascii") == 0)
        return CODEC_ASCII;
    if (strcmp(low, "latin1") == 0 || strcmp(low, "latin_1") == 0
        || strcmp(low, "iso_8859_1") == 0 || strcmp(low, "iso8859_1") == 0)
        return CODEC_LATIN1;
    return CODEC_OTHER;
}

/* mv.release(), keeping the exception in flight if any.  A BufferError
 * (someone holds an export of mv itself) is not an error here: that export
 * keeps ours, and with it the bytes, alive and unmoved until it goes. */
static int
release_memoryview(PyObject *mv)
{
#if PY_VERSION_HEX >= 0x030C0000
    PyObject *exc = PyErr_GetRaisedException();
#else
    PyObject *et, *ev, *tb;
    PyErr_Fetch(&et, &ev, &tb);
#endif
    PyObject *r = PyObject_CallMethod(mv, "release", NULL);
    int rc = 0;
    if (r != NULL)
        Py_DECREF(r);
    else if (PyErr_ExceptionMatches(PyExc_BufferError))
        PyErr_Clear();
    else
        rc = -1;
#if PY_VERSION_HEX >= 0x030C0000
    if (exc != NULL) {
        if (rc < 0)
            PyErr_Clear();
        PyErr_SetRaisedException(exc);
        rc = -1;
    }
#else
    if (et != NULL) {
        if (rc < 0)
            PyErr_Clear();
        PyErr_Restore(et, ev, tb);
        rc = -1;
    }
#endif
    return rc;
}

/* A codec from the registry, which may be Python code.  PyUnicode_Decode
 * would hand it a memoryview of the bare pointer, owned by nobody: the codec
 * could release this View (or drop the exporter) and read freed memory, or
 * keep the memoryview and read it later.  It gets a memoryview of this View
 * instead, as bytes.decode would give one of the bytes: a buffer export, so
 * while it is held release() raises BufferError (as memoryview's does) and a
 * ByteBuffer never moves these bytes; we release it when the codec returns,
 * so one the codec kept raises ValueError on use.  The rest is
 * _PyCodec_DecodeText's contract, in public API. */
static PyObject *
decode_with_codec(NcView *v, const char *encoding, const char *errors)
{
    PyObject *mod = NULL, *info = NULL, *mv = NULL, *res = NULL, *out = NULL;
    if ((mod = PyImport_ImportModule("_codecs")) == NULL)
        goto done;
    if ((info = PyObject_CallMethod(mod, "lookup", "s", encoding)) == NULL)
        goto done;
    if (!PyTuple_Check(info) || PyTuple_GET_SIZE(info) != 4) {
        PyErr_SetString(PyExc_TypeError, "codec search functions must return 4-tuples");
        goto done;
    }
    PyObject *flag = PyObject_GetAttrString(info, "_is_text_encoding");
    if (flag == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_AttributeError))
            goto done;
        PyErr_Clear();
    }
    else {
        int text = PyObject_IsTrue(flag);
        Py_DECREF(flag);
        if (text < 0)
            goto done;
        if (!text) {
            PyErr_Format(PyExc_LookupError,
                         "'%.400s' is not a text encoding; use codecs.decode() to handle arbitrary codecs",
                         encoding);
            goto done;
        }
    }
    PyObject *decoder = PyTuple_GET_ITEM(info, 1);  /* borrowed: info is ours */
    if ((mv = PyMemoryView_FromObject((PyObject *)v)) == NULL)  /* checks v */
        goto done;
    res = errors ? PyObject_CallFunction(decoder, "Os", mv, errors)
                 : PyObject_CallOneArg(decoder, mv);
    if (release_memoryview(mv) < 0)
        Py_CLEAR(res);
    if (res == NULL)
        goto done;
    if (!PyTuple_Check(res) || PyTuple_GET_SIZE(res) != 2) {
        PyErr_SetString(PyExc_TypeError, "decoder must return a tuple (object,integer)");
        goto done;
    }
    out = PyTuple_GET_ITEM(res, 0);
    if (!PyUnicode_Check(out)) {
        PyErr_Format(PyExc_TypeError,
                     "'%.400s' decoder returned '%.400s' instead of 'str'; "
                     "use codecs.decode() to decode to arbitrary types",
                     encoding, Py_TYPE(out)->tp_name);
        out = NULL;
        goto done;
    }
    Py_INCREF(out);
done:
    Py_XDECREF(res);
    Py_XDECREF(mv);
    Py_XDECREF(info);
    Py_XDECREF(mod);
    return out;
}

static PyObject *decode_named(NcView *v, const char *encoding, const char *errors);

static PyObject *
view_decode(NcView *v, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"encoding", "errors", NULL};
    const char *encoding = NULL, *errors = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|ss:decode", kwlist, &encoding, &errors))
        return NULL;
    if (nc_view_check(v) < 0)
        return NULL;
    if (encoding == NULL)
        return PyUnicode_DecodeUTF8(NC_VIEW_PTR(v), NC_VIEW_LEN(v), errors);
    return decode_named(v, encoding, errors);
}

/* decode() with an encoding name, out of line so that the default path
 * above stays as small as it was. */
static Py_NO_INLINE PyObject *
decode_named(NcView *v, const char *encoding, const char *errors)
{
    const char *p = NC_VIEW_PTR(v);
    Py_ssize_t n = NC_VIEW_LEN(v);
    switch (native_codec(encoding)) {
    case CODEC_UTF8:
        return PyUnicode_DecodeUTF8Stateful(p, n, errors, NULL);
    case CODEC_UTF16:
        return PyUnicode_DecodeUTF16(p, n, errors, NULL);
    case CODEC_UTF32:
        return PyUnicode_DecodeUTF32(p, n, errors, NULL);
    case CODEC_ASCII:
        return PyUnicode_DecodeASCII(p, n, errors);
    case CODEC_LATIN1:
        return PyUnicode_DecodeLatin1(p, n, errors);
    default:
        if (n == 0)  /* as bytes.decode: no codec lookup for nothing */
            return PyUnicode_New(0, 0);
        return decode_with_codec(v, encoding, errors);
    }
}

PyDoc_STRVAR(hex_doc,
"hex($self, /, sep=<unrepresentable>, bytes_per_sep=1)\n--\n\n"
"The window as hexadecimal text, as bytes.hex().  Copies into a new str: O(n).");

static PyObject *
view_hex(NcView *v, PyObject *args, PyObject *kwds)
{
    if ((args == NULL || PyTuple_GET_SIZE(args) == 0) && (kwds == NULL || PyDict_GET_SIZE(kwds) == 0)) {
        static const char digits[] = "0123456789abcdef";
        if (nc_view_check(v) < 0)
            return NULL;
        Py_ssize_t n = NC_VIEW_LEN(v);
        if (n > PY_SSIZE_T_MAX / 2)
            return PyErr_NoMemory();
        PyObject *s = PyUnicode_New(2 * n, 127);
        if (s == NULL)
            return NULL;
        Py_UCS1 *out = PyUnicode_1BYTE_DATA(s);
        const unsigned char *p = (const unsigned char *)NC_VIEW_PTR(v);
        for (Py_ssize_t i = 0; i < n; i++) {
            out[2 * i] = digits[p[i] >> 4];
            out[2 * i + 1] = digits[p[i] & 15];
        }
        return s;
    }
    /* Separator forms: memoryview.hex shares bytes.hex's implementation and
     * messages, and reads our export without copying the payload. */
    PyObject *mv = PyMemoryView_FromObject((PyObject *)v);
    if (mv == NULL)
        return NULL;
    PyObject *meth = PyObject_GetAttrString(mv, "hex");
    PyObject *res = meth ? PyObject_Call(meth, args, kwds) : NULL;
    Py_XDECREF(meth);
    if (release_memoryview(mv) < 0)
        Py_CLEAR(res);
    Py_DECREF(mv);
    return res;
}

static PyObject *
view_concat(PyObject *a, PyObject *b)
{
    Py_buffer x, y;
    PyObject *res = NULL;
    if (!PyObject_CheckBuffer(a) || !PyObject_CheckBuffer(b) || PyUnicode_Check(a) || PyUnicode_Check(b))
        Py_RETURN_NOTIMPLEMENTED;
    if (PyObject_GetBuffer(a, &x, PyBUF_SIMPLE) < 0)
        return NULL;
    if (PyObject_GetBuffer(b, &y, PyBUF_SIMPLE) < 0) {
        PyBuffer_Release(&x);
        return NULL;
    }
    if (x.len > PY_SSIZE_T_MAX - y.len) {
        PyErr_NoMemory();
        goto done;
    }
    res = PyBytes_FromStringAndSize(NULL, x.len + y.len);
    if (res == NULL)
        goto done;
    if (x.len)
        memcpy(PyBytes_AS_STRING(res), x.buf, (size_t)x.len);
    if (y.len)
        memcpy(PyBytes_AS_STRING(res) + x.len, y.buf, (size_t)y.len);
done:
    PyBuffer_Release(&x);
    PyBuffer_Release(&y);
    return res;
}

/* ---- type ---------------------------------------------------------------------------- */

static PyMethodDef view_core_methods[] = {
    {"retarget", (PyCFunction)(void (*)(void))view_retarget, METH_FASTCALL, retarget_doc},
    {"release", (PyCFunction)view_release, METH_NOARGS, release_doc},
    {"__enter__", (PyCFunction)view_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)(void (*)(void))view_exit, METH_FASTCALL, NULL},
    {"tobytes", (PyCFunction)view_tobytes, METH_NOARGS, tobytes_doc},
    {"copy_from", (PyCFunction)(void (*)(void))view_copy_from, METH_FASTCALL, copy_from_doc},
    {"fill", (PyCFunction)view_fill, METH_O, fill_doc},
    {"lower_inplace", (PyCFunction)view_lower_inplace, METH_NOARGS, lower_inplace_doc},
    {"upper_inplace", (PyCFunction)view_upper_inplace, METH_NOARGS, upper_inplace_doc},
    {"translate_inplace", (PyCFunction)view_translate_inplace, METH_O, translate_inplace_doc},
    {"decode", (PyCFunction)(void (*)(void))view_decode, METH_VARARGS | METH_KEYWORDS, decode_doc},
    {"hex", (PyCFunction)(void (*)(void))view_hex, METH_VARARGS | METH_KEYWORDS, hex_doc},
    {NULL},
};

PyDoc_STRVAR(view_doc,
"View(obj=b'', start=0, stop=None)\n--\n\n"
"A window on any C-contiguous buffer, with every bytes method.  Methods that\n"
"can return part of the window return Views (O(1), no copy); the window moves\n"
"in place with retarget() or the start/stop attributes.  The View holds one\n"
"buffer export of obj for its life (a bytearray under it cannot be resized),\n"
"shared by every sub-view; release() or ``with`` drops this View's share,\n"
"close() gives the export back for every View sharing it (they go stale).");

static PyMethodDef *
merged_methods(void)
{
    /* The method files each contribute a table; the type wants one.  Built
     * once and kept for the process, as static method tables are. */
    static PyMethodDef *merged = NULL;
    if (merged != NULL)
        return merged;
    PyMethodDef *tables[] = {view_core_methods, nc_view_search_methods, nc_view_transform_methods,
                             nc_view_pickle_methods, nc_view_close_methods, nc_view_export_methods,
                             nc_view_fields_methods};
    size_t n = 0;
    for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++)
        for (PyMethodDef *d = tables[t]; d->ml_name; d++)
            n++;
    merged = PyMem_RawCalloc(n + 1, sizeof(PyMethodDef));
    if (merged == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    n = 0;
    for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++)
        for (PyMethodDef *d = tables[t]; d->ml_name; d++)
            merged[n++] = *d;
    return merged;
}

int
nc_view_module_init(PyObject *m, nc_state *st)
{
    if (nc_holder_type_init(m, st) < 0)
        return -1;
    PyMethodDef *methods = merged_methods();
    if (methods == NULL)
        return -1;
    PyType_Slot slots[] = {
        {Py_tp_new, view_tp_new},
        {Py_tp_dealloc, view_dealloc},
        {Py_tp_traverse, view_traverse},
        {Py_tp_clear, view_clear},
        {Py_tp_repr, view_repr},
        {Py_tp_hash, view_hash},
        {Py_tp_richcompare, view_richcompare},
        {Py_tp_methods, methods},
        {Py_tp_getset, view_getset},
        {Py_tp_doc, (void *)view_doc},
        {Py_sq_length, view_length},
        {Py_sq_item, view_item},
        {Py_sq_contains, nc_view_contains},
        {Py_sq_repeat, nc_view_repeat},
        {Py_mp_length, view_length},
        {Py_mp_subscript, view_subscript},
        {Py_mp_ass_subscript, view_ass_subscript},
        {Py_nb_multiply, nc_view_multiply},
        {Py_nb_remainder, nc_view_remainder},
        {Py_nb_add, view_concat},
        {Py_bf_getbuffer, view_getbuffer},
        {Py_bf_releasebuffer, view_releasebuffer},
        {0, NULL},
    };
    PyType_Spec spec = {
        .name = "nocopy.View",
        .basicsize = sizeof(NcView),
        /* Immutable: a patched method or attribute on the type must not
         * change what C code (or every other user) gets; subclassing stays. */
        .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE
                 | Py_TPFLAGS_IMMUTABLETYPE,
        .slots = slots,
    };
    st->ViewType = (PyTypeObject *)PyType_FromModuleAndSpec(m, &spec, NULL);
    if (st->ViewType == NULL)
        return -1;
    return PyModule_AddType(m, st->ViewType);
}
