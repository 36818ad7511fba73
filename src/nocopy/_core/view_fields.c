/* view_fields.c -- parsing with no object per field: split_into() fills a
 * caller's list with the pieces of a split, moving the Views already in it
 * instead of making new ones, and reslice() points a scratch View at a
 * window of another View (relative offsets, sharing its holder).
 *
 * Ownership: split_into() owns a reference to the split View's holder
 * (pinned: close() refuses meanwhile) for the whole call, and the
 * separator's export.  A View already in the list is reused only when the
 * list holds its one reference (an exact View, not exported): no one else
 * can see it move.  Its old holder reference, and any list item replaced,
 * may be the last one, whose release can run Python code (a buffer
 * exporter's release, a finalizer); those are kept in a trash array and
 * dropped after the last byte was read.  The only Python code that can run
 * in the middle is a finalizer run by the allocation of a new View: after
 * each, the window's epoch and the list's length are checked again. */
#include "nocopy.h"

/* ---- deferred releases ------------------------------------------------- */

typedef struct {
    PyObject **items;    /* owned references; `small` or PyMem_Malloc'd */
    Py_ssize_t n, cap;
    PyObject *small[8];
} nc_trash;

static void
trash_init(nc_trash *t)
{
    t->items = t->small;
    t->n = 0;
    t->cap = (Py_ssize_t)(sizeof(t->small) / sizeof(t->small[0]));
}

/* Room for `extra` more references (MemoryError). */
static int
trash_reserve(nc_trash *t, Py_ssize_t extra)
{
    if (t->cap - t->n >= extra)
        return 0;
    Py_ssize_t cap = t->cap * 2 > t->n + extra ? t->cap * 2 : t->n + extra;
    if ((size_t)cap > PY_SSIZE_T_MAX / sizeof(PyObject *)) {
        PyErr_NoMemory();
        return -1;
    }
    PyObject **items = PyMem_Malloc((size_t)cap * sizeof(PyObject *));
    if (items == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    memcpy(items, t->items, (size_t)t->n * sizeof(PyObject *));
    if (t->items != t->small)
        PyMem_Free(t->items);
    t->items = items;
    t->cap = cap;
    return 0;
}

/* Keep reference o (stolen) to drop later; drop it now when that cannot be
 * the last one.  -1 (MemoryError) drops o at once: the caller stops reading
 * on -1, so Python code run by that is harmless. */
static int
trash_add(nc_trash *t, PyObject *o)
{
    if (o == NULL)
        return 0;
    if (Py_REFCNT(o) > 1) {
        Py_DECREF(o);
        return 0;
    }
    if (trash_reserve(t, 1) < 0) {
        Py_DECREF(o);
        return -1;
    }
    t->items[t->n++] = o;
    return 0;
}

static void
trash_empty(nc_trash *t)
{
    /* An exception in flight survives finalizers run here. */
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    for (Py_ssize_t i = 0; i < t->n; i++)
        Py_DECREF(t->items[i]);
    if (t->items != t->small)
        PyMem_Free(t->items);
    trash_init(t);
    PyErr_Restore(type, value, tb);
}

/* ---- split_into ---------------------------------------------------------- */

#define FIELDS_BATCH 32

static const char *const split_into_kwnames[] = {"fields", "sep", "maxsplit"};

/* (fields, /, sep=None, maxsplit=-1), by hand: the call is per line. */
static int
split_into_args(PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames, PyObject **argv)
{
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    if (nargs < 1 || nargs + nkw > 3 || nargs > 3) {
        PyErr_Format(PyExc_TypeError,
                     nargs < 1 ? "split_into() missing required argument 'fields' (pos 1)"
                               : "split_into() takes at most 3 arguments (%zd given)",
                     nargs + nkw);
        return -1;
    }
    for (int i = 0; i < 3; i++)
        argv[i] = i < nargs ? args[i] : NULL;
    for (Py_ssize_t k = 0; k < nkw; k++) {
        PyObject *key = PyTuple_GET_ITEM(kwnames, k);
        int found = -1;
        for (int i = 1; i < 3 && found < 0; i++)
            if (PyUnicode_Check(key) && PyUnicode_CompareWithASCIIString(key, split_into_kwnames[i]) == 0)
                found = i;
        if (found < 0) {
            if (PyUnicode_Check(key))
                PyErr_Format(PyExc_TypeError, "'%U' is an invalid keyword argument for split_into()",
                             key);
            else
                PyErr_SetString(PyExc_TypeError, "keywords must be strings");
            return -1;
        }
        if (argv[found] != NULL) {
            PyErr_Format(PyExc_TypeError,
                         "argument for split_into() given by name ('%s') and position (%d)",
                         split_into_kwnames[found], found + 1);
            return -1;
        }
        argv[found] = args[nargs + k];
    }
    return 0;
}

/* Put piece [a, b) (absolute offsets of holder h, at epoch) at fields[i]:
 * the View there moved in place when only the list holds it, else a new
 * View (whose allocation may run a finalizer: the caller re-checks).  1 when
 * a new View was made by an allocation that could run Python code, 2 when
 * one was made with none (taken from the View freelist: nothing can have
 * changed, no re-check needed), 0 when one was reused, -1 on error. */
static int
put_field(PyObject *fields, Py_ssize_t i, NcView *self, NcHolder *h, Py_ssize_t a, Py_ssize_t b,
          uint64_t epoch, nc_trash *trash)
{
    if (i < PyList_GET_SIZE(fields)) {
        PyObject *item = PyList_GET_ITEM(fields, i);  /* borrowed */
        /* item != self: the caller's reference makes that hold already on
         * CPython's stack; checked anyway, moving the View being split
         * would change what is read */
        if (Py_REFCNT(item) == 1 && item != (PyObject *)self && nc_view_is_exact(item)
            && Py_TYPE(item) == Py_TYPE(self) && ((NcView *)item)->exports == 0) {
            NcView *f = (NcView *)item;
            if (f->holder == h) {
                f->start = a;
                f->stop = b;
                f->epoch = epoch;
                return 0;
            }
            return trash_add(trash, (PyObject *)nc_view_rebind(f, h, a, b, epoch));
        }
    }
    int made = nc_view_new_is_quiet(Py_TYPE(self)) ? 2 : 1;
    NcView *nv = nc_view_new(Py_TYPE(self), h, a, b);
    if (nv == NULL)
        return -1;
    nv->epoch = epoch;
    /* The allocation may have run a finalizer that changed the list. */
    Py_ssize_t size = PyList_GET_SIZE(fields);
    if (i < size) {
        PyObject *old = PyList_GET_ITEM(fields, i);
        PyList_SET_ITEM(fields, i, (PyObject *)nv);
        return trash_add(trash, old) < 0 ? -1 : made;
    }
    if (i == size && size < ((PyListObject *)fields)->allocated) {
        /* room kept by an earlier truncation: PyList_Append would shrink
         * the list's array first when under half of it is in use */
        PyList_SET_ITEM(fields, i, (PyObject *)nv);
        Py_SET_SIZE(fields, i + 1);
        return made;
    }
    if (i == size) {
        /* a resize of the list's array (PyMem): no collection */
        int rc = PyList_Append(fields, (PyObject *)nv);
        Py_DECREF(nv);
        return rc < 0 ? -1 : made;
    }
    Py_DECREF(nv);
    PyErr_SetString(PyExc_RuntimeError, "split_into(): the fields list changed size during the split");
    return -1;
}

PyDoc_STRVAR(split_into_doc,
"split_into($self, fields, /, sep=None, maxsplit=-1)\n--\n\n"
"Split the window as split(sep, maxsplit) does and put the pieces into the\n"
"list fields, in place: afterwards ``fields == self.split(sep, maxsplit)``\n"
"and the count is returned.  A View already in fields that only the list\n"
"references is moved to its new piece instead of a new View being made, so\n"
"a loop that splits each line into the same list makes no object per field\n"
"(O(len) scan, no allocation once the list holds enough Views).  Items\n"
"past the count are removed (the list keeps its room, so lines with varying\n"
"field counts never reallocate it); items that are not reusable Views (held\n"
"elsewhere, exported, another type) are replaced, never changed.  Copy a\n"
"field you keep past the next call (tobytes()), or hold a reference to it:\n"
"a held View is left alone.  Offsets inside the pieces are relative to each\n"
"piece, as for split().");

static PyObject *
view_split_into(NcView *v, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *argv[3];
    Py_ssize_t maxsplit = -1, count = 0;
    Py_buffer sep;
    sep.obj = NULL;
    nc_splitter sp;
    nc_trash trash;
    NcHolder *h = NULL;
    PyObject *res = NULL;
    trash_init(&trash);
    if (split_into_args(args, nargs, kwnames, argv) < 0)
        return NULL;
    PyObject *fields = argv[0];
    if (!PyList_Check(fields)) {
        PyErr_Format(PyExc_TypeError, "split_into() fields must be a list, not '%.100s'",
                     Py_TYPE(fields)->tp_name);
        return NULL;
    }
    Py_INCREF(fields);  /* a finalizer may drop the caller's last reference */
    if (argv[2] != NULL && argv[2] != Py_None) {
        /* bytes.split's maxsplit: an index, None refused as there */
        PyObject *i = PyNumber_Index(argv[2]);
        if (i == NULL)
            goto done;
        maxsplit = PyLong_AsSsize_t(i);
        Py_DECREF(i);
        if (maxsplit == -1 && PyErr_Occurred())
            goto done;
    }
    else if (argv[2] == Py_None) {
        PyErr_SetString(PyExc_TypeError, "'NoneType' object cannot be interpreted as an integer");
        goto done;
    }
    int ws = argv[1] == NULL || argv[1] == Py_None;
    if (!ws) {
        if (nc_get_buffer(argv[1], &sep) < 0)
            goto done;
        if (sep.len == 0) {
            PyErr_SetString(PyExc_ValueError, "empty separator");
            goto done;
        }
    }
    /* Every argument converted: from here no Python code runs but in the
     * finalizers an allocation may trigger. */
    if (nc_view_check(v) < 0)
        goto done;
    h = (NcHolder *)Py_NewRef(v->holder);
    h->pins++;
    uint64_t epoch = v->epoch;
    Py_ssize_t base = v->start, n = NC_VIEW_LEN(v);
    int allocated = 0;
    if (ws)
        nc_splitter_init(&sp, NC_SPLIT_WS, n, NULL, 0, maxsplit, 0);
    else
        nc_splitter_init(&sp, NC_SPLIT_SEP, n, sep.buf, sep.len, maxsplit, 0);
    Py_ssize_t ab[2 * FIELDS_BATCH], k;
    while ((k = nc_splitter_fill(&sp, h->buf + base, n, ab, FIELDS_BATCH)) > 0) {
        for (Py_ssize_t j = 0; j < k; j++) {
            int made = put_field(fields, count, v, h, base + ab[2 * j], base + ab[2 * j + 1],
                                 epoch, &trash);
            if (made < 0)
                goto done;
            count++;
            allocated |= made == 1;
            if (made == 1 && h->epoch != epoch) {
                nc_state *st = nc_state_of_type(Py_TYPE(v));
                PyErr_SetString(st ? st->StaleViewError : PyExc_RuntimeError,
                                "stale View: its ByteBuffer moved these bytes during split_into()");
                goto done;
            }
        }
    }
    /* A finalizer run by an allocation (the only point where Python runs)
     * may have changed items already placed -- an insert, a replace, a
     * split_into of its own into this list -- which the size checks do not
     * see: then the pieces are checked against the list once more, O(count),
     * only on a call that allocated a View (never on a steady loop -- nor
     * on one whose caller keeps a field, e.g. `url = fields[6]`, so that a
     * new View is made per line: that one comes from the View freelist,
     * which runs no Python code). */
    if (allocated) {
        if (ws)
            nc_splitter_init(&sp, NC_SPLIT_WS, n, NULL, 0, maxsplit, 0);
        else
            nc_splitter_init(&sp, NC_SPLIT_SEP, n, sep.buf, sep.len, maxsplit, 0);
        Py_ssize_t i = 0;
        int changed = 0;
        while (!changed && (k = nc_splitter_fill(&sp, h->buf + base, n, ab, FIELDS_BATCH)) > 0) {
            for (Py_ssize_t j = 0; j < k; j++, i++) {
                PyObject *item = i < PyList_GET_SIZE(fields) ? PyList_GET_ITEM(fields, i) : NULL;
                NcView *f = (NcView *)item;
                if (i >= count || item == NULL || Py_TYPE(item) != Py_TYPE(v) || f->holder != h ||
                    f->epoch != epoch || f->start != base + ab[2 * j] ||
                    f->stop != base + ab[2 * j + 1]) {
                    changed = 1;
                    break;
                }
            }
        }
        /* the bytes themselves may have changed too (a finalizer writing
         * into a bytearray): the pieces then differ, or their count does */
        if (changed || i != count) {
            PyErr_SetString(PyExc_RuntimeError,
                            "split_into(): the fields list or the bytes being split were changed "
                            "during the split (by a finalizer)");
            goto done;
        }
    }
    /* Trailing items go, released with the trash after the last read.  The
     * list keeps its allocated room (as list.pop() does until it is half
     * empty, here always): lines of varying field counts then never
     * reallocate it. */
    Py_ssize_t size = PyList_GET_SIZE(fields);
    if (size > count) {
        if (trash_reserve(&trash, size - count) < 0)
            goto done;
        for (Py_ssize_t i = count; i < size; i++) {
            (void)trash_add(&trash, PyList_GET_ITEM(fields, i));  /* room reserved */
            PyList_SET_ITEM(fields, i, NULL);
        }
        Py_SET_SIZE(fields, count);
    }
    res = PyLong_FromSsize_t(count);
done:
    if (h != NULL) {
        h->pins--;
        Py_DECREF(h);
    }
    if (sep.obj != NULL)
        PyBuffer_Release(&sep);
    trash_empty(&trash);
    Py_DECREF(fields);
    return res;
}

/* ---- reslice ------------------------------------------------------------- */

PyDoc_STRVAR(reslice_doc,
"reslice($self, other, start=None, stop=None, /)\n--\n\n"
"Make this View show other[start:stop], in place, and return it: start and\n"
"stop are relative to other's window and clamp like a slice (negatives count\n"
"from its end), unlike retarget()'s absolute offsets into obj.  This View\n"
"then shares other's buffer, so it works for Views whose obj is None (a\n"
"Reader's or ByteBuffer's).  A scratch View moved this way costs no\n"
"allocation: O(1).  other must be a View (TypeError); BufferError when this\n"
"View has buffer exports and other's buffer is another one; ValueError when\n"
"this View was released (as for retarget()).");

static PyObject *
view_reslice(NcView *v, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 1 || nargs > 3) {
        PyErr_Format(PyExc_TypeError, "reslice() takes from 1 to 3 arguments (%zd given)", nargs);
        return NULL;
    }
    PyObject *otherobj = args[0];
    if (!nc_view_is_exact(otherobj)) {
        nc_state *st = nc_state_of_type(Py_TYPE(v));
        if (st == NULL || !NcView_Check(st, otherobj)) {
            PyErr_Format(PyExc_TypeError,
                         "reslice() argument 1 must be a View, not '%.100s' (View(obj, start, stop) "
                         "windows any other buffer)",
                         Py_TYPE(otherobj)->tp_name);
            return NULL;
        }
    }
    NcView *other = (NcView *)Py_NewRef(otherobj);  /* __index__ may drop the caller's */
    PyObject *res = NULL;
    NcHolder *old = NULL;
    Py_ssize_t start = 0, stop = PY_SSIZE_T_MAX;
    if (nargs > 1 && nc_parse_slice_index(args[1], &start) < 0)
        goto done;
    if (nargs > 2 && nc_parse_slice_index(args[2], &stop) < 0)
        goto done;
    if (nc_view_check(other) < 0)
        goto done;
    if (v->holder == NULL) {   /* released (maybe by an __index__ above): stays so */
        PyErr_SetString(PyExc_ValueError, "operation forbidden on released View object");
        goto done;
    }
    if (v->exports > 0 && v->holder != other->holder) {
        PyErr_SetString(PyExc_BufferError,
                         "reslice(): this View has buffer exports and cannot move to another buffer");
        goto done;
    }
    Py_ssize_t len = NC_VIEW_LEN(other);
    (void)PySlice_AdjustIndices(len, &start, &stop, 1);
    if (stop < start)
        stop = start;
    if (v->holder == other->holder) {
        v->start = other->start + start;
        v->stop = other->start + stop;
        v->epoch = other->epoch;
    }
    else
        old = nc_view_rebind(v, other->holder, other->start + start, other->start + stop,
                             other->epoch);
    res = Py_NewRef(v);
done:
    Py_DECREF(other);
    Py_XDECREF(old);
    return res;
}

PyMethodDef nc_view_fields_methods[] = {
    {"split_into", (PyCFunction)(void (*)(void))view_split_into, METH_FASTCALL | METH_KEYWORDS,
     split_into_doc},
    {"reslice", (PyCFunction)(void (*)(void))view_reslice, METH_FASTCALL, reslice_doc},
    {NULL},
};
