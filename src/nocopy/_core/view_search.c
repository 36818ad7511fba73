/* view_search.c -- View's searching, stripping, splitting and predicate
 * methods, each a thin call of a kernel (kernels.c) on the window, and the
 * lazy itersplit / iterlines iterator.
 *
 * Ownership rules:
 * - Arguments are borrowed for the call.  A bytes argument is read in place
 *   (PyBytes_AS_STRING); any other bytes-like one through a Py_buffer that
 *   every path releases (nc_arg_release).
 * - Converting arguments may run Python code (__index__, __bool__, buffer
 *   exporters), which may release or retarget this very View; so every
 *   method converts all its arguments first, then runs nc_view_check(), and
 *   only then reads NC_VIEW_PTR / NC_VIEW_LEN.
 * - Making result Views allocates, and an allocation may run a garbage
 *   collection, whose finalizers may release this View.  So a method that
 *   makes Views first takes its own reference to the holder (pin_window) and
 *   builds from that; every result is stamped with the epoch the window was
 *   checked at, so if the bytes moved meanwhile the results are stale, never
 *   wrong.
 * - A ViewIter owns a reference to the holder, a snapshot of the window
 *   bounds and epoch, the separator (a bytes object it owns) and, with
 *   reuse=True, the View it hands out each step.  Releasing or retargeting
 *   the source View does not affect it (it is one more user of the shared
 *   export); a moved ByteBuffer makes its next step raise StaleViewError.
 */
#include "nocopy.h"

#include <limits.h>

/* ---- argument helpers -------------------------------------------------------- */

/* A read-only bytes-like argument. */
typedef struct {
    const char *p;    /* borrowed: into a bytes object or into `view` */
    Py_ssize_t n;
    Py_buffer view;   /* valid iff view.obj != NULL */
} nc_arg;

static inline int
nc_arg_get(PyObject *o, nc_arg *a)
{
    a->view.obj = NULL;
    if (PyBytes_Check(o)) {
        a->p = PyBytes_AS_STRING(o);
        a->n = PyBytes_GET_SIZE(o);
        return 0;
    }
    if (nc_get_buffer(o, &a->view) < 0)
        return -1;
    a->p = a->view.buf;
    a->n = a->view.len;
    return 0;
}

static inline void
nc_arg_release(nc_arg *a)
{
    if (a->view.obj != NULL)
        PyBuffer_Release(&a->view);
}

/* The `sub` of find & co.: a bytes-like object, or an int in range(256)
 * (byte >= 0 then, and `a` holds nothing to release). */
static int
sub_arg(PyObject *o, nc_arg *a, int *byte)
{
    *byte = -1;
    a->view.obj = NULL;
    if (PyBytes_Check(o) || PyObject_CheckBuffer(o))
        return nc_arg_get(o, a);
    if (!PyIndex_Check(o)) {
        PyErr_Format(PyExc_TypeError, "argument should be integer or bytes-like object, not '%.200s'",
                     Py_TYPE(o)->tp_name);
        return -1;
    }
    Py_ssize_t b = PyNumber_AsSsize_t(o, NULL);  /* NULL: huge values clamp */
    if (b == -1 && PyErr_Occurred())
        return -1;
    if (b < 0 || b > 255) {
        PyErr_SetString(PyExc_ValueError, "byte must be in range(0, 256)");
        return -1;
    }
    *byte = (int)b;
    return 0;
}

/* Py_ssize_t as Argument Clinic converts it (split's maxsplit). */
static int
ssize_arg(PyObject *o, Py_ssize_t *out)
{
    if (PyLong_CheckExact(o))
        *out = PyLong_AsSsize_t(o);
    else {
        PyObject *i = PyNumber_Index(o);
        if (i == NULL)
            return -1;
        *out = PyLong_AsSsize_t(i);
        Py_DECREF(i);
    }
    return *out == -1 && PyErr_Occurred() ? -1 : 0;
}

/* A flag as bytes.splitlines(keepends) converts it: in 3.11 any integer
 * that fits a C int, tested for truth; from 3.12 (a `bool` converter) the
 * truth of any object. */
static int
int_flag_arg(PyObject *o, int *out)
{
#if PY_VERSION_HEX >= 0x030C0000
    int t = PyObject_IsTrue(o);
    if (t < 0)
        return -1;
    *out = t;
    return 0;
#else
    long r = PyLong_AsLong(o);
    if (r == -1 && PyErr_Occurred()) {
        if (PyErr_ExceptionMatches(PyExc_OverflowError))
            PyErr_SetString(PyExc_OverflowError, "Python int too large to convert to C int");
        return -1;
    }
    if (r > INT_MAX || r < INT_MIN) {
        PyErr_SetString(PyExc_OverflowError, "Python int too large to convert to C int");
        return -1;
    }
    *out = r != 0;
    return 0;
#endif
}

static PyObject *
find_keyword(PyObject *kwnames, PyObject *const *kwvalues, const char *name)
{
    Py_ssize_t n = PyTuple_GET_SIZE(kwnames);
    for (Py_ssize_t k = 0; k < n; k++) {
        PyObject *key = PyTuple_GET_ITEM(kwnames, k);
        if (PyUnicode_Check(key) && PyUnicode_CompareWithASCIIString(key, name) == 0)
            return kwvalues[k];
    }
    return NULL;
}

/* Keyword-capable parsing for signatures whose parameters are all optional:
 * names[0..maxpos) positional-or-keyword, names[maxpos..maxargs) keyword-only.
 * Errors carry Argument Clinic's messages, as bytes.split's do.  out[] gets
 * borrowed references, NULL where not given. */
static int
parse_kwargs(const char *fname, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
             const char *const *names, int maxpos, int maxargs, PyObject **out)
{
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    for (int i = 0; i < maxargs; i++)
        out[i] = i < nargs ? args[i] : NULL;
    if (nargs + nkw > maxargs) {
        if (nc_bytes_arg_error(fname, args, nargs, kwnames))
            return -1;
        PyErr_Format(PyExc_TypeError, "%s() takes at most %d %sargument%s (%zd given)", fname,
                     maxargs, nargs == 0 ? "keyword " : "", maxargs == 1 ? "" : "s", nargs + nkw);
        return -1;
    }
    if (nargs > maxpos) {
        if (nc_bytes_arg_error(fname, args, nargs, kwnames))
            return -1;
        PyErr_Format(PyExc_TypeError, "%s() takes at most %d positional argument%s (%zd given)",
                     fname, maxpos, maxpos == 1 ? "" : "s", nargs);
        return -1;
    }
    if (nkw == 0)
        return 0;
    PyObject *const *kwvalues = args + nargs;
    Py_ssize_t used = 0;
    for (int i = (int)nargs; i < maxargs; i++)
        if ((out[i] = find_keyword(kwnames, kwvalues, names[i])) != NULL)
            used++;
    if (used == nkw)
        return 0;
    if (nc_bytes_arg_error(fname, args, nargs, kwnames))
        return -1;
    for (int i = 0; i < nargs; i++)
        if (find_keyword(kwnames, kwvalues, names[i]) != NULL) {
            PyErr_Format(PyExc_TypeError, "argument for %s() given by name ('%s') and position (%d)",
                         fname, names[i], i + 1);
            return -1;
        }
    for (Py_ssize_t k = 0; k < nkw; k++) {
        PyObject *key = PyTuple_GET_ITEM(kwnames, k);
        int known = 0;
        for (int i = 0; i < maxargs && !known; i++)
            known = PyUnicode_Check(key) && PyUnicode_CompareWithASCIIString(key, names[i]) == 0;
        if (!known) {
            if (!PyUnicode_Check(key))
                PyErr_SetString(PyExc_TypeError, "keywords must be strings");
            else
                PyErr_Format(PyExc_TypeError, "'%U' is an invalid keyword argument for %s()", key, fname);
            return -1;
        }
    }
    PyErr_Format(PyExc_TypeError, "invalid keyword arguments for %s()", fname);
    return -1;
}

/* (sub[, start[, end]]) of find & co.: arity, then start and end. */
static int
parse_range_args(const char *fname, PyObject *const *args, Py_ssize_t nargs,
                 Py_ssize_t *start, Py_ssize_t *end)
{
    if (nargs < 1 || nargs > 3) {
        if (nc_bytes_arg_error(fname, args, nargs, NULL))
            return -1;
        PyErr_Format(PyExc_TypeError, "%s() takes %s (%zd given)", fname,
                     nargs < 1 ? "at least 1 argument" : "at most 3 arguments", nargs);
        return -1;
    }
    *start = 0;
    *end = PY_SSIZE_T_MAX;
    if (nargs > 1 && nc_parse_slice_index(args[1], start) < 0)
        return -1;
    if (nargs > 2 && nc_parse_slice_index(args[2], end) < 0)
        return -1;
    return 0;
}

/* ---- result views ------------------------------------------------------------------ */

/* The checked window, with our own reference to its holder. */
typedef struct {
    NcHolder *holder;     /* owned */
    NcView *self;         /* borrowed, alive for the call; its type is read per piece,
                             since a finalizer may assign a subclass View's
                             __class__ and let the old class go */
    uint64_t epoch;
    Py_ssize_t base;      /* absolute offset of the window */
    const char *p;
    Py_ssize_t n;
} nc_window;

static inline void
pin_window(NcView *v, nc_window *w)
{
    w->holder = (NcHolder *)Py_NewRef(v->holder);
    w->holder->pins++;  /* w->p is read across allocations: no close() meanwhile */
    w->self = v;
    w->epoch = v->epoch;
    w->base = v->start;
    w->p = NC_VIEW_PTR(v);
    w->n = NC_VIEW_LEN(v);
}

static inline void
unpin_window(nc_window *w)
{
    w->holder->pins--;
    Py_DECREF(w->holder);
}

/* A new View of window offsets [a, b), stamped with the checked epoch. */
static inline PyObject *
window_piece(const nc_window *w, Py_ssize_t a, Py_ssize_t b)
{
    NcView *r = nc_view_new(Py_TYPE(w->self), w->holder, w->base + a, w->base + b);
    if (r != NULL)
        r->epoch = w->epoch;
    return (PyObject *)r;
}

/* One piece of a View, for methods with a single result. */
static PyObject *
view_piece(NcView *v, Py_ssize_t a, Py_ssize_t b)
{
    nc_window w;
    pin_window(v, &w);
    PyObject *r = window_piece(&w, a, b);
    unpin_window(&w);
    return r;
}

static PyObject *
stale_error(PyTypeObject *tp, const NcHolder *h)
{
    nc_state *st = nc_state_of_type(tp);
    if (st != NULL)
        PyErr_SetString(st->StaleViewError,
                        h->closed ? "stale View: its buffer was closed (View.close(), "
                                    "ByteBuffer.close() or the end of a with block)"
                                  : "stale View: its ByteBuffer has moved or overwritten these bytes");
    return NULL;
}

/* ---- find, rfind, index, rindex, count ------------------------------------------------ */

typedef enum { OP_FIND, OP_RFIND, OP_INDEX, OP_RINDEX, OP_COUNT } find_op;

static PyObject *
find_common(NcView *v, PyObject *const *args, Py_ssize_t nargs, find_op op, const char *fname)
{
    Py_ssize_t start, end, r;
    nc_arg sub;
    int byte;
    PyObject *res = NULL;
    if (parse_range_args(fname, args, nargs, &start, &end) < 0)
        return NULL;
    if (sub_arg(args[0], &sub, &byte) < 0)
        return NULL;
    if (nc_view_check(v) < 0)
        goto done;
    nc_adjust_indices(&start, &end, NC_VIEW_LEN(v));
    Py_ssize_t hn = end - start;  /* start may be far past the end: no pointer yet */
    if (hn < (byte >= 0 ? 1 : sub.n))
        r = op == OP_COUNT ? 0 : -1;
    else {
        const char *h = NC_VIEW_PTR(v) + start;
        switch (op) {
        case OP_COUNT:
            r = byte >= 0 ? nc_count_byte(h, hn, (unsigned char)byte) : nc_count(h, hn, sub.p, sub.n, -1);
            break;
        case OP_FIND:
        case OP_INDEX:
            r = byte >= 0 ? nc_find_byte(h, hn, (unsigned char)byte) : nc_find(h, hn, sub.p, sub.n);
            break;
        default:
            r = byte >= 0 ? nc_rfind_byte(h, hn, (unsigned char)byte) : nc_rfind(h, hn, sub.p, sub.n);
            break;
        }
        if (r >= 0 && op != OP_COUNT)
            r += start;
    }
    if (r < 0 && (op == OP_INDEX || op == OP_RINDEX)) {
        PyErr_SetString(PyExc_ValueError, "subsection not found");
        goto done;
    }
    res = PyLong_FromSsize_t(r);
done:
    if (byte < 0)
        nc_arg_release(&sub);
    return res;
}

PyDoc_STRVAR(find_doc,
"find($self, sub, start=None, end=None, /)\n--\n\n"
"Lowest index of sub (bytes-like or an int byte) in the window[start:end], or\n"
"-1; as bytes.find.  start, end and the result are relative to the window\n"
"(0 is its first byte), as for slicing and reslice(), not absolute like\n"
"retarget() and the start/stop attributes.  O(n) worst case (Two-Way), no copy.");
static PyObject *
view_find(NcView *v, PyObject *const *args, Py_ssize_t nargs)
{
    return find_common(v, args, nargs, OP_FIND, "find");
}

PyDoc_STRVAR(rfind_doc,
"rfind($self, sub, start=None, end=None, /)\n--\n\n"
"Highest index of sub in the window[start:end], or -1; as bytes.rfind.\n"
"O(n) worst case, no copy.");
static PyObject *
view_rfind(NcView *v, PyObject *const *args, Py_ssize_t nargs)
{
    return find_common(v, args, nargs, OP_RFIND, "rfind");
}

PyDoc_STRVAR(index_doc,
"index($self, sub, start=None, end=None, /)\n--\n\n"
"Like find() but raise ValueError when sub is not found; as bytes.index.  O(n).");
static PyObject *
view_index(NcView *v, PyObject *const *args, Py_ssize_t nargs)
{
    return find_common(v, args, nargs, OP_INDEX, "index");
}

PyDoc_STRVAR(rindex_doc,
"rindex($self, sub, start=None, end=None, /)\n--\n\n"
"Like rfind() but raise ValueError when sub is not found; as bytes.rindex.  O(n).");
static PyObject *
view_rindex(NcView *v, PyObject *const *args, Py_ssize_t nargs)
{
    return find_common(v, args, nargs, OP_RINDEX, "rindex");
}

PyDoc_STRVAR(count_doc,
"count($self, sub, start=None, end=None, /)\n--\n\n"
"Number of non-overlapping occurrences of sub in the window[start:end]; as\n"
"bytes.count.  O(n) worst case, no copy.");
static PyObject *
view_count(NcView *v, PyObject *const *args, Py_ssize_t nargs)
{
    return find_common(v, args, nargs, OP_COUNT, "count");
}

/* ---- startswith, endswith -------------------------------------------------------------- */

/* 1 if the window[start:end] starts (direction < 0) / ends with sub, 0 if
 * not, -1 with an exception. */
static int
tailmatch(NcView *v, PyObject *subobj, Py_ssize_t start, Py_ssize_t end, int direction)
{
    nc_arg sub;
    int r = -1;
    if (nc_arg_get(subobj, &sub) < 0)
        return -1;
    if (nc_view_check(v) < 0)
        goto done;
    Py_ssize_t len = NC_VIEW_LEN(v), slen = sub.n;
    nc_adjust_indices(&start, &end, len);
    r = 0;
    if (direction < 0) {
        if (start > len - slen)
            goto done;
    }
    else {
        if (end - start < slen || start > len)
            goto done;
        if (end - slen > start)
            start = end - slen;
    }
    if (end - start < slen)
        goto done;
    r = slen == 0 || memcmp(NC_VIEW_PTR(v) + start, sub.p, (size_t)slen) == 0;
done:
    nc_arg_release(&sub);
    return r;
}

static PyObject *
tailmatch_common(NcView *v, PyObject *const *args, Py_ssize_t nargs, int direction, const char *fname)
{
    Py_ssize_t start, end;
    if (parse_range_args(fname, args, nargs, &start, &end) < 0)
        return NULL;
    PyObject *subobj = args[0];
    if (PyTuple_Check(subobj)) {
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(subobj); i++) {
            int r = tailmatch(v, PyTuple_GET_ITEM(subobj, i), start, end, direction);
            if (r < 0)
                return NULL;
            if (r)
                Py_RETURN_TRUE;
        }
        Py_RETURN_FALSE;
    }
    int r = tailmatch(v, subobj, start, end, direction);
    if (r < 0) {
        if (PyErr_ExceptionMatches(PyExc_TypeError))
            PyErr_Format(PyExc_TypeError, "%s first arg must be bytes or a tuple of bytes, not %s",
                         fname, Py_TYPE(subobj)->tp_name);
        return NULL;
    }
    return PyBool_FromLong(r);
}

PyDoc_STRVAR(startswith_doc,
"startswith($self, prefix, start=None, end=None, /)\n--\n\n"
"True if the window[start:end] starts with prefix (bytes-like, or a tuple of\n"
"them); as bytes.startswith.  O(len(prefix)), no copy.");
static PyObject *
view_startswith(NcView *v, PyObject *const *args, Py_ssize_t nargs)
{
    return tailmatch_common(v, args, nargs, -1, "startswith");
}

PyDoc_STRVAR(endswith_doc,
"endswith($self, suffix, start=None, end=None, /)\n--\n\n"
"True if the window[start:end] ends with suffix (bytes-like, or a tuple of\n"
"them); as bytes.endswith.  O(len(suffix)), no copy.");
static PyObject *
view_endswith(NcView *v, PyObject *const *args, Py_ssize_t nargs)
{
    return tailmatch_common(v, args, nargs, +1, "endswith");
}

/* ---- strip, lstrip, rstrip ---------------------------------------------------------------- */

static PyObject *
strip_common(NcView *v, PyObject *const *args, Py_ssize_t nargs, int left, int right, const char *fname)
{
    nc_arg chars;
    nc_byteset set;
    const nc_byteset *setp = NULL;
    PyObject *res = NULL;
    if (nargs > 1) {
        PyErr_Format(PyExc_TypeError, "%s expected at most 1 argument, got %zd", fname, nargs);
        return NULL;
    }
    chars.view.obj = NULL;
    if (nargs == 1 && args[0] != Py_None) {
        if (nc_arg_get(args[0], &chars) < 0)
            return NULL;
        nc_byteset_init(&set, chars.p, chars.n);
        setp = &set;
    }
    if (nc_view_check(v) < 0)
        goto done;
    const char *p = NC_VIEW_PTR(v);
    Py_ssize_t n = NC_VIEW_LEN(v);
    Py_ssize_t a = left ? nc_lstrip_len(p, n, setp) : 0;
    Py_ssize_t b = n - (right && a < n ? nc_rstrip_len(p + a, n - a, setp) : 0);
    res = view_piece(v, a, b);
done:
    nc_arg_release(&chars);
    return res;
}

PyDoc_STRVAR(strip_doc,
"strip($self, bytes=None, /)\n--\n\n"
"The window without leading and trailing bytes in `bytes` (default: ASCII\n"
"whitespace), as a View; as bytes.strip.  O(1) in memory: returns a view,\n"
"copies nothing.  Always a new View, never this one, so retargeting one\n"
"never moves the other (the same holds for every method returning Views).");
static PyObject *
view_strip(NcView *v, PyObject *const *args, Py_ssize_t nargs)
{
    return strip_common(v, args, nargs, 1, 1, "strip");
}

PyDoc_STRVAR(lstrip_doc,
"lstrip($self, bytes=None, /)\n--\n\n"
"The window without leading bytes in `bytes` (default: ASCII whitespace), as\n"
"a View; as bytes.lstrip.  O(1) in memory: returns a view, copies nothing.");
static PyObject *
view_lstrip(NcView *v, PyObject *const *args, Py_ssize_t nargs)
{
    return strip_common(v, args, nargs, 1, 0, "lstrip");
}

PyDoc_STRVAR(rstrip_doc,
"rstrip($self, bytes=None, /)\n--\n\n"
"The window without trailing bytes in `bytes` (default: ASCII whitespace), as\n"
"a View; as bytes.rstrip.  O(1) in memory: returns a view, copies nothing.");
static PyObject *
view_rstrip(NcView *v, PyObject *const *args, Py_ssize_t nargs)
{
    return strip_common(v, args, nargs, 0, 1, "rstrip");
}

/* ---- split, rsplit, splitlines ---------------------------------------------------------------- */

#define SPLIT_BATCH 32

/* Append views of window offsets ab[0..2k) to *list (made on first use). */
static int
flush_pieces(const nc_window *w, PyObject **list, const Py_ssize_t *ab, Py_ssize_t k)
{
    if (*list == NULL && (*list = PyList_New(0)) == NULL)
        return -1;
    for (Py_ssize_t i = 0; i < k; i++) {
        PyObject *piece = window_piece(w, ab[2 * i], ab[2 * i + 1]);
        if (piece == NULL)
            return -1;
        int rc = PyList_Append(*list, piece);
        Py_DECREF(piece);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* Run the splitter over the checked window of v: a list of Views, left to
 * right.  Offsets come in batches, so the common short split makes its list
 * at the exact size in one go. */
static PyObject *
split_to_list(NcView *v, nc_splitter *sp)
{
    nc_window w;
    Py_ssize_t ab[2 * SPLIT_BATCH], k;
    PyObject *list = NULL;
    pin_window(v, &w);
    k = nc_splitter_fill(sp, w.p, w.n, ab, SPLIT_BATCH);
    if (k < SPLIT_BATCH || sp->done) {
        if ((list = PyList_New(k)) == NULL)
            goto fail;
        for (Py_ssize_t i = 0; i < k; i++) {
            PyObject *piece = window_piece(&w, ab[2 * i], ab[2 * i + 1]);
            if (piece == NULL)
                goto fail;
            PyList_SET_ITEM(list, i, piece);
        }
    }
    else {
        do {
            if (flush_pieces(&w, &list, ab, k) < 0)
                goto fail;
            /* Allocating may have run a finalizer that moved our bytes. */
            if (w.holder->epoch != w.epoch) {
                stale_error(Py_TYPE(w.self), w.holder);
                goto fail;
            }
            w.p = w.holder->buf + w.base;
        } while ((k = nc_splitter_fill(sp, w.p, w.n, ab, SPLIT_BATCH)) > 0);
    }
    if ((sp->kind == NC_RSPLIT_WS || sp->kind == NC_RSPLIT_SEP) && PyList_Reverse(list) < 0)
        goto fail;
    unpin_window(&w);
    return list;
fail:
    Py_XDECREF(list);
    unpin_window(&w);
    return NULL;
}

static const char *const split_kwnames[] = {"sep", "maxsplit", "reuse"};

/* split(sep=None, maxsplit=-1) and rsplit: parse, then split the window. */
static PyObject *
split_common(NcView *v, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames, int reverse,
             const char *fname)
{
    PyObject *argv[2];
    Py_ssize_t maxsplit = -1;
    nc_arg sep;
    nc_splitter sp;
    PyObject *res = NULL;
    if (kwnames == NULL && nargs <= 2) {
        argv[0] = nargs > 0 ? args[0] : NULL;
        argv[1] = nargs > 1 ? args[1] : NULL;
    }
    else if (parse_kwargs(fname, args, nargs, kwnames, split_kwnames, 2, 2, argv) < 0)
        return NULL;
    if (argv[1] != NULL && ssize_arg(argv[1], &maxsplit) < 0)
        return NULL;
    sep.view.obj = NULL;
    int ws = argv[0] == NULL || argv[0] == Py_None;
    if (!ws) {
        if (nc_arg_get(argv[0], &sep) < 0)
            return NULL;
        if (sep.n == 0) {
            PyErr_SetString(PyExc_ValueError, "empty separator");
            goto done;
        }
    }
    if (nc_view_check(v) < 0)
        goto done;
    if (ws)
        nc_splitter_init(&sp, reverse ? NC_RSPLIT_WS : NC_SPLIT_WS, NC_VIEW_LEN(v), NULL, 0, maxsplit, 0);
    else
        nc_splitter_init(&sp, reverse ? NC_RSPLIT_SEP : NC_SPLIT_SEP, NC_VIEW_LEN(v), sep.p, sep.n,
                         maxsplit, 0);
    res = split_to_list(v, &sp);
done:
    nc_arg_release(&sep);
    return res;
}

PyDoc_STRVAR(split_doc,
"split($self, /, sep=None, maxsplit=-1)\n--\n\n"
"The window split at sep (default: runs of ASCII whitespace), as a list of\n"
"Views; as bytes.split.  The pieces share this View's buffer: memory is\n"
"O(number of pieces), never a copy of the bytes.");
static PyObject *
view_split(NcView *v, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    return split_common(v, args, nargs, kwnames, 0, "split");
}

PyDoc_STRVAR(rsplit_doc,
"rsplit($self, /, sep=None, maxsplit=-1)\n--\n\n"
"Like split(), splitting from the right; as bytes.rsplit.  A list of Views:\n"
"memory O(number of pieces), no copy of the bytes.");
static PyObject *
view_rsplit(NcView *v, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    return split_common(v, args, nargs, kwnames, 1, "rsplit");
}

static const char *const lines_kwnames[] = {"keepends", "reuse"};

PyDoc_STRVAR(splitlines_doc,
"splitlines($self, /, keepends=False)\n--\n\n"
"The window's lines (ended by \\n, \\r or \\r\\n) as a list of Views, with the\n"
"line breaks when keepends is true; as bytes.splitlines.  Memory O(number of\n"
"lines), no copy of the bytes.");
static PyObject *
view_splitlines(NcView *v, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *argv[1] = {nargs > 0 ? args[0] : NULL};
    int keepends = 0;
    nc_splitter sp;
    if ((kwnames != NULL || nargs > 1)
        && parse_kwargs("splitlines", args, nargs, kwnames, lines_kwnames, 1, 1, argv) < 0)
        return NULL;
    if (argv[0] != NULL && int_flag_arg(argv[0], &keepends) < 0)
        return NULL;
    if (nc_view_check(v) < 0)
        return NULL;
    nc_splitter_init(&sp, NC_SPLIT_LINES, NC_VIEW_LEN(v), NULL, 0, -1, keepends);
    return split_to_list(v, &sp);
}

/* ---- partition, rpartition ------------------------------------------------------------------- */

static PyObject *
partition_common(NcView *v, PyObject *sepobj, int reverse)
{
    nc_arg sep;
    nc_window w;
    PyObject *res = NULL;
    if (nc_arg_get(sepobj, &sep) < 0)
        return NULL;
    if (sep.n == 0) {
        PyErr_SetString(PyExc_ValueError, "empty separator");
        goto done;
    }
    if (nc_view_check(v) < 0)
        goto done;
    pin_window(v, &w);
    Py_ssize_t n = w.n;
    Py_ssize_t m = reverse ? nc_rfind(w.p, n, sep.p, sep.n) : nc_find(w.p, n, sep.p, sep.n);
    Py_ssize_t cut[4];  /* the three parts are [cut[0]:cut[1]] [cut[1]:cut[2]] [cut[2]:cut[3]] */
    if (m >= 0) {
        cut[0] = 0;
        cut[1] = m;
        cut[2] = m + sep.n;
        cut[3] = n;
    }
    else if (reverse) {  /* (b"", b"", whole) */
        cut[0] = cut[1] = cut[2] = 0;
        cut[3] = n;
    }
    else {  /* (whole, b"", b"") */
        cut[0] = 0;
        cut[1] = cut[2] = cut[3] = n;
    }
    res = PyTuple_New(3);
    for (int i = 0; res != NULL && i < 3; i++) {
        PyObject *piece = window_piece(&w, cut[i], cut[i + 1]);
        if (piece == NULL)
            Py_CLEAR(res);
        else
            PyTuple_SET_ITEM(res, i, piece);
    }
    unpin_window(&w);
done:
    nc_arg_release(&sep);
    return res;
}

PyDoc_STRVAR(partition_doc,
"partition($self, sep, /)\n--\n\n"
"(before, sep, after) around the first sep, three Views; (window, empty,\n"
"empty) when sep is absent; as bytes.partition.  No copy.");
static PyObject *
view_partition(NcView *v, PyObject *sep)
{
    return partition_common(v, sep, 0);
}

PyDoc_STRVAR(rpartition_doc,
"rpartition($self, sep, /)\n--\n\n"
"(before, sep, after) around the last sep, three Views; (empty, empty,\n"
"window) when sep is absent; as bytes.rpartition.  No copy.");
static PyObject *
view_rpartition(NcView *v, PyObject *sep)
{
    return partition_common(v, sep, 1);
}

/* ---- removeprefix, removesuffix ---------------------------------------------------------------- */

static PyObject *
remove_affix(NcView *v, PyObject *affixobj, int suffix)
{
    nc_arg affix;
    PyObject *res = NULL;
    if (nc_arg_get(affixobj, &affix) < 0)
        return NULL;
    if (nc_view_check(v) < 0)
        goto done;
    const char *p = NC_VIEW_PTR(v);
    Py_ssize_t n = NC_VIEW_LEN(v), k = affix.n, a = 0, b = n;
    if (k > 0 && k <= n && memcmp(suffix ? p + n - k : p, affix.p, (size_t)k) == 0) {
        if (suffix)
            b = n - k;
        else
            a = k;
    }
    res = view_piece(v, a, b);
done:
    nc_arg_release(&affix);
    return res;
}

PyDoc_STRVAR(removeprefix_doc,
"removeprefix($self, prefix, /)\n--\n\n"
"The window without prefix if it starts with it, as a View; as\n"
"bytes.removeprefix.  O(len(prefix)), no copy.");
static PyObject *
view_removeprefix(NcView *v, PyObject *prefix)
{
    return remove_affix(v, prefix, 0);
}

PyDoc_STRVAR(removesuffix_doc,
"removesuffix($self, suffix, /)\n--\n\n"
"The window without suffix if it ends with it, as a View; as\n"
"bytes.removesuffix.  O(len(suffix)), no copy.");
static PyObject *
view_removesuffix(NcView *v, PyObject *suffix)
{
    return remove_affix(v, suffix, 1);
}

/* ---- predicates -------------------------------------------------------------------------------- */

#define PREDICATE(name, what)                                                          \
    PyDoc_STRVAR(name##_doc, #name "($self, /)\n--\n\n" what "; as bytes." #name "().  O(n)."); \
    static PyObject *                                                                  \
    view_##name(NcView *v, PyObject *Py_UNUSED(ignored))                               \
    {                                                                                  \
        if (nc_view_check(v) < 0)                                                      \
            return NULL;                                                               \
        return PyBool_FromLong(nc_bytes_##name(NC_VIEW_PTR(v), NC_VIEW_LEN(v)));       \
    }

PREDICATE(isalnum, "True if the window is not empty and all ASCII letters or digits")
PREDICATE(isalpha, "True if the window is not empty and all ASCII letters")
PREDICATE(isascii, "True if every byte of the window is below 0x80 (True when empty)")
PREDICATE(isdigit, "True if the window is not empty and all ASCII digits")
PREDICATE(islower, "True if the window has ASCII lower-case letters and no upper-case ones")
PREDICATE(isspace, "True if the window is not empty and all ASCII whitespace")
PREDICATE(istitle, "True if the window is ASCII title-cased and has a cased letter")
PREDICATE(isupper, "True if the window has ASCII upper-case letters and no lower-case ones")

#undef PREDICATE

/* ---- x in view ------------------------------------------------------------------------------------ */

int
nc_view_contains(PyObject *self, PyObject *arg)
{
    NcView *v = (NcView *)self;
    nc_arg sub;
    int rc = -1;
    /* As bytes.__contains__: an integer first; anything that fails as one is
     * tried as a buffer. */
    if (!PyBytes_Check(arg) && PyIndex_Check(arg)) {
        Py_ssize_t b = PyNumber_AsSsize_t(arg, NULL);
        if (b == -1 && PyErr_Occurred())
            PyErr_Clear();
        else {
            if (b < 0 || b > 255) {
                PyErr_SetString(PyExc_ValueError, "byte must be in range(0, 256)");
                return -1;
            }
            if (nc_view_check(v) < 0)
                return -1;
            return nc_find_byte(NC_VIEW_PTR(v), NC_VIEW_LEN(v), (unsigned char)b) >= 0;
        }
    }
    if (nc_arg_get(arg, &sub) < 0)
        return -1;
    if (nc_view_check(v) == 0)
        rc = nc_find(NC_VIEW_PTR(v), NC_VIEW_LEN(v), sub.p, sub.n) >= 0;
    nc_arg_release(&sub);
    return rc;
}

/* ---- lazy iterators: itersplit, iterlines ------------------------------------------------------------ */

typedef struct {
    PyObject_HEAD
    NcHolder *holder;      /* owned; NULL once exhausted */
    PyTypeObject *vtype;   /* owned: the type of the Views yielded */
    PyObject *sep;         /* owned bytes: the separator the splitter reads */
    NcView *reuse;         /* owned: the View yielded every step (reuse=True) */
    int reusing;
    uint64_t epoch;        /* the holder's epoch at creation */
    Py_ssize_t start;      /* snapshot of the window, absolute offsets */
    Py_ssize_t stop;
    nc_splitter sp;
} NcViewIter;

static int
viewiter_traverse(NcViewIter *it, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(it));
    Py_VISIT(it->holder);
    Py_VISIT(it->vtype);
    Py_VISIT(it->sep);
    Py_VISIT(it->reuse);
    return 0;
}

static int
viewiter_clear(NcViewIter *it)
{
    Py_CLEAR(it->holder);
    Py_CLEAR(it->vtype);
    Py_CLEAR(it->reuse);
    Py_CLEAR(it->sep);
    return 0;
}

static void
viewiter_dealloc(NcViewIter *it)
{
    PyTypeObject *tp = Py_TYPE(it);
    PyObject_GC_UnTrack(it);
    viewiter_clear(it);
    tp->tp_free((PyObject *)it);
    Py_DECREF(tp);
}

static PyObject *
viewiter_next(NcViewIter *it)
{
    Py_ssize_t a, b;
    NcHolder *h = it->holder;  /* borrowed: owned by it */
    if (h == NULL)
        return NULL;
    if (h->epoch != it->epoch)
        return stale_error(it->vtype, h);
    if (!nc_splitter_next(&it->sp, h->buf + it->start, it->stop - it->start, &a, &b)) {
        viewiter_clear(it);  /* gives our share of the export back now */
        return NULL;
    }
    NcView *r = it->reuse;
    /* Retarget it only while no one else holds it: besides us, one name
     * (the loop variable still bound to the last piece).  A View kept
     * elsewhere -- a key of a plain dict, an item of a list -- would change
     * under its holder (a dict key's hash with it), so a new one is made and
     * reused from then on.  So is one the caller reslice()d onto another
     * buffer: a scratch View now, theirs (dropping it here may run that
     * buffer's finalizer: nothing is read after).  And one with buffer
     * exports: a memoryview of it (whose reference may be its only other
     * one) keeps showing its bytes, as the Reader's lines() does. */
    if (r == NULL || Py_REFCNT(r) > 2 || r->exports > 0 ||
        (r->holder != NULL && r->holder != h)) {
        /* nc_view_new takes its holder reference before allocating: a
         * finalizer that runs next() on us meanwhile (and exhausts us,
         * dropping it->holder) cannot free h under it. */
        r = nc_view_new(it->vtype, h, it->start + a, it->start + b);
        if (r == NULL)
            return NULL;
        r->epoch = it->epoch;
        if (it->reusing)
            Py_XSETREF(it->reuse, (NcView *)Py_NewRef(r));  /* may free a resliced one: r is done */
        return (PyObject *)r;
    }
    if (r->holder != h) {
        PyErr_SetString(PyExc_ValueError,
                        "the View yielded with reuse=True was released; the iterator cannot go on");
        return NULL;
    }
    r->start = it->start + a;
    r->stop = it->start + b;
    r->epoch = it->epoch;
    return Py_NewRef(r);
}

static PyType_Slot viewiter_slots[] = {
    {Py_tp_dealloc, viewiter_dealloc},
    {Py_tp_traverse, viewiter_traverse},
    {Py_tp_clear, viewiter_clear},
    {Py_tp_iter, PyObject_SelfIter},
    {Py_tp_iternext, viewiter_next},
    {Py_tp_doc, "Lazy iterator of Views made by View.itersplit() and View.iterlines()."},
    {0, NULL},
};

static PyType_Spec viewiter_spec = {
    .name = "nocopy._core.ViewIterator",
    .basicsize = sizeof(NcViewIter),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_DISALLOW_INSTANTIATION
             | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = viewiter_slots,
};

/* A new iterator over v's window; steals nothing, takes its own
 * references.  sep: a bytes object or NULL.  Checks v itself, after the
 * allocation: a finalizer run by it may release or retarget v. */
static PyObject *
viewiter_new(NcView *v, nc_split_kind kind, PyObject *sep, Py_ssize_t maxsplit, int keepends,
             int reuse)
{
    nc_state *st = nc_state_of_type(Py_TYPE(v));
    if (st == NULL)
        return NULL;
    PyTypeObject *itype = st->ViewIterType;
    NcViewIter *it = PyObject_GC_New(NcViewIter, itype);
    if (it == NULL)
        return NULL;
    Py_INCREF(itype);  /* instances of heap types own a type reference */
    if (nc_view_check(v) < 0) {
        it->holder = NULL;
        it->vtype = NULL;
        it->sep = NULL;
        it->reuse = NULL;
        Py_DECREF(it);  /* untracked, empty: dealloc releases the type only */
        return NULL;
    }
    it->holder = (NcHolder *)Py_NewRef(v->holder);
    it->vtype = (PyTypeObject *)Py_NewRef(Py_TYPE(v));
    it->sep = Py_XNewRef(sep);
    it->reuse = NULL;
    it->reusing = reuse;
    it->epoch = v->epoch;
    it->start = v->start;
    it->stop = v->stop;
    nc_splitter_init(&it->sp, kind, it->stop - it->start, sep ? PyBytes_AS_STRING(sep) : NULL,
                     sep ? PyBytes_GET_SIZE(sep) : 0, maxsplit, keepends);
    PyObject_GC_Track(it);
    return (PyObject *)it;
}

PyDoc_STRVAR(itersplit_doc,
"itersplit($self, /, sep=None, maxsplit=-1, *, reuse=False)\n--\n\n"
"Lazily yield the pieces split(sep, maxsplit) would return, as Views.  With\n"
"reuse=True every step yields the same View, moved to the next piece: no\n"
"allocation per item; copy what you keep (tobytes(), KeyDict/Counter): the\n"
"View is moved unless something besides the loop variable holds it, and a\n"
"reference count cannot tell a variable from a dict or list slot.  The\n"
"iterator works on the window\n"
"as it was when created; it holds its own share of the buffer export, so\n"
"releasing or retargeting this View does not disturb it.  O(1) memory.");
static PyObject *
view_itersplit(NcView *v, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *argv[3];
    Py_ssize_t maxsplit = -1;
    int reuse = 0;
    PyObject *sep = NULL, *res = NULL;
    if (parse_kwargs("itersplit", args, nargs, kwnames, split_kwnames, 2, 3, argv) < 0)
        return NULL;
    if (argv[1] != NULL && ssize_arg(argv[1], &maxsplit) < 0)
        return NULL;
    if (argv[2] != NULL && (reuse = PyObject_IsTrue(argv[2])) < 0)
        return NULL;
    if (argv[0] != NULL && argv[0] != Py_None) {
        if (PyBytes_CheckExact(argv[0]))
            sep = Py_NewRef(argv[0]);
        else {
            /* The iterator outlives this call: keep a private copy of the
             * separator rather than pin someone's buffer. */
            nc_arg a;
            if (nc_arg_get(argv[0], &a) < 0)
                return NULL;
            sep = PyBytes_FromStringAndSize(a.p, a.n);
            nc_arg_release(&a);
            if (sep == NULL)
                return NULL;
        }
        if (PyBytes_GET_SIZE(sep) == 0) {
            PyErr_SetString(PyExc_ValueError, "empty separator");
            goto done;
        }
    }
    if (nc_view_check(v) < 0)
        goto done;
    res = viewiter_new(v, sep ? NC_SPLIT_SEP : NC_SPLIT_WS, sep, maxsplit, 0, reuse);
done:
    Py_XDECREF(sep);
    return res;
}

PyDoc_STRVAR(iterlines_doc,
"iterlines($self, /, keepends=False, *, reuse=False)\n--\n\n"
"Lazily yield the lines splitlines(keepends) would return, as Views.  With\n"
"reuse=True every step yields the same View, moved to the next line: no\n"
"allocation per line; copy what you keep (see itersplit).  Works on the window as it was\n"
"when created, like itersplit().  O(1) memory.");
static PyObject *
view_iterlines(NcView *v, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *argv[2];
    int keepends = 0, reuse = 0;
    if (parse_kwargs("iterlines", args, nargs, kwnames, lines_kwnames, 1, 2, argv) < 0)
        return NULL;
    if (argv[0] != NULL && int_flag_arg(argv[0], &keepends) < 0)
        return NULL;
    if (argv[1] != NULL && (reuse = PyObject_IsTrue(argv[1])) < 0)
        return NULL;
    if (nc_view_check(v) < 0)
        return NULL;
    return viewiter_new(v, NC_SPLIT_LINES, NULL, -1, keepends, reuse);
}

/* ---- method table and registration ---------------------------------------------------------------- */

#define FASTCALL(f) (PyCFunction)(void (*)(void))(f)

PyMethodDef nc_view_search_methods[] = {
    {"find", FASTCALL(view_find), METH_FASTCALL, find_doc},
    {"rfind", FASTCALL(view_rfind), METH_FASTCALL, rfind_doc},
    {"index", FASTCALL(view_index), METH_FASTCALL, index_doc},
    {"rindex", FASTCALL(view_rindex), METH_FASTCALL, rindex_doc},
    {"count", FASTCALL(view_count), METH_FASTCALL, count_doc},
    {"startswith", FASTCALL(view_startswith), METH_FASTCALL, startswith_doc},
    {"endswith", FASTCALL(view_endswith), METH_FASTCALL, endswith_doc},
    {"strip", FASTCALL(view_strip), METH_FASTCALL, strip_doc},
    {"lstrip", FASTCALL(view_lstrip), METH_FASTCALL, lstrip_doc},
    {"rstrip", FASTCALL(view_rstrip), METH_FASTCALL, rstrip_doc},
    {"split", FASTCALL(view_split), METH_FASTCALL | METH_KEYWORDS, split_doc},
    {"rsplit", FASTCALL(view_rsplit), METH_FASTCALL | METH_KEYWORDS, rsplit_doc},
    {"splitlines", FASTCALL(view_splitlines), METH_FASTCALL | METH_KEYWORDS, splitlines_doc},
    {"partition", (PyCFunction)view_partition, METH_O, partition_doc},
    {"rpartition", (PyCFunction)view_rpartition, METH_O, rpartition_doc},
    {"removeprefix", (PyCFunction)view_removeprefix, METH_O, removeprefix_doc},
    {"removesuffix", (PyCFunction)view_removesuffix, METH_O, removesuffix_doc},
    {"isalnum", (PyCFunction)view_isalnum, METH_NOARGS, isalnum_doc},
    {"isalpha", (PyCFunction)view_isalpha, METH_NOARGS, isalpha_doc},
    {"isascii", (PyCFunction)view_isascii, METH_NOARGS, isascii_doc},
    {"isdigit", (PyCFunction)view_isdigit, METH_NOARGS, isdigit_doc},
    {"islower", (PyCFunction)view_islower, METH_NOARGS, islower_doc},
    {"isspace", (PyCFunction)view_isspace, METH_NOARGS, isspace_doc},
    {"istitle", (PyCFunction)view_istitle, METH_NOARGS, istitle_doc},
    {"isupper", (PyCFunction)view_isupper, METH_NOARGS, isupper_doc},
    {"itersplit", FASTCALL(view_itersplit), METH_FASTCALL | METH_KEYWORDS, itersplit_doc},
    {"iterlines", FASTCALL(view_iterlines), METH_FASTCALL | METH_KEYWORDS, iterlines_doc},
    {NULL},
};

/* Test hook: the kernels on their own, so tests can drive the Two-Way phase
 * on random inputs (the public methods reach it only on adversarial ones).
 * mode 0 find, 1 rfind, 2 count; returns the index / count. */
static PyObject *
kernel_search(PyObject *mod, PyObject *args)
{
    Py_buffer hay, needle;
    int mode, force;
    PyObject *res = NULL;
    if (!PyArg_ParseTuple(args, "y*y*ip:_kernel_search", &hay, &needle, &mode, &force))
        return NULL;
    if (needle.len == 0 || mode < 0 || mode > 2) {
        PyErr_SetString(PyExc_ValueError, "_kernel_search: needle must not be empty, mode in 0..2");
        goto done;
    }
    nc_searcher s;
    nc_searcher_init(&s, needle.buf, needle.len, mode == 1);
    if (force)
        nc_searcher_force_two_way(&s);
    Py_ssize_t r;
    if (mode == 0)
        r = nc_searcher_find(&s, hay.buf, hay.len);
    else if (mode == 1)
        r = nc_searcher_rfind(&s, hay.buf, hay.len);
    else {
        Py_ssize_t pos = 0, i;
        r = 0;
        while ((i = nc_searcher_find(&s, (const char *)hay.buf + pos, hay.len - pos)) >= 0) {
            r++;
            pos += i + needle.len;
        }
    }
    res = Py_BuildValue("ni", r, s.two_way);
done:
    PyBuffer_Release(&hay);
    PyBuffer_Release(&needle);
    return res;
}

static PyMethodDef kernel_test_functions[] = {
    {"_kernel_search", kernel_search, METH_VARARGS,
     "_kernel_search(hay, needle, mode, force_two_way) -> (result, used_two_way); tests only."},
    {NULL},
};

int
nc_viewiter_module_init(PyObject *m, nc_state *st)
{
    st->ViewIterType = (PyTypeObject *)PyType_FromModuleAndSpec(m, &viewiter_spec, NULL);
    if (st->ViewIterType == NULL)
        return -1;
    return PyModule_AddFunctions(m, kernel_test_functions);
}
