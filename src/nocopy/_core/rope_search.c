/* rope_search.c -- Rope's search and comparison methods, across segment
 * boundaries and without flattening.
 *
 * Ownership: nothing here keeps a reference.  Each method acquires its
 * argument buffers and converts start/end (which may run Python code:
 * __index__, a Python-level __buffer__) first, then reads the Rope's current
 * segments; every Py_buffer is released on every path.
 *
 * Search: each segment piece is searched with the kernels (nc_find /
 * nc_rfind); a match straddling the boundary after a piece starts in that
 * piece's last len(sub)-1 bytes, so those and the next len(sub)-1 bytes of
 * the Rope are copied into a small window and searched there.  Cost:
 * O(n + segments * len(sub)), never a copy of the payload. */
#include "rope.h"

/* ---- arguments ---------------------------------------------------------------- */

typedef struct {
    Py_buffer view;
    int has_view;
    char byte;
    const char *p;
    Py_ssize_t n;
} subarg;

static void
subarg_release(subarg *s)
{
    if (s->has_view) {
        PyBuffer_Release(&s->view);
        s->has_view = 0;
    }
}

/* bytes.find's sub: a bytes-like object or an int in range(256). */
static int
subarg_get(PyObject *arg, subarg *s)
{
    s->has_view = 0;
    if (PyObject_CheckBuffer(arg)) {
        if (PyObject_GetBuffer(arg, &s->view, PyBUF_SIMPLE) < 0)
            return -1;
        s->has_view = 1;
        s->p = s->view.buf;
        s->n = s->view.len;
        return 0;
    }
    if (!PyIndex_Check(arg)) {
        PyErr_Format(PyExc_TypeError, "argument should be integer or bytes-like object, not '%.200s'",
                     Py_TYPE(arg)->tp_name);
        return -1;
    }
    Py_ssize_t v = PyNumber_AsSsize_t(arg, NULL);
    if (v == -1 && PyErr_Occurred())
        return -1;
    if (v < 0 || v > 255) {
        PyErr_SetString(PyExc_ValueError, "byte must be in range(0, 256)");
        return -1;
    }
    s->byte = (char)v;
    s->p = &s->byte;
    s->n = 1;
    return 0;
}

static int
check_nargs(const char *name, Py_ssize_t nargs)
{
    if (nargs < 1) {
        PyErr_Format(PyExc_TypeError, "%s expected at least 1 argument, got %zd", name, nargs);
        return -1;
    }
    if (nargs > 3) {
        PyErr_Format(PyExc_TypeError, "%s expected at most 3 arguments, got %zd", name, nargs);
        return -1;
    }
    return 0;
}

/* start/end as bytes methods take them, converted before the Rope is read. */
static int
range_args(PyObject *const *args, Py_ssize_t nargs, Py_ssize_t *start, Py_ssize_t *end)
{
    *start = 0;
    *end = PY_SSIZE_T_MAX;
    if (nargs > 1 && nc_parse_slice_index(args[1], start) < 0)
        return -1;
    if (nargs > 2 && nc_parse_slice_index(args[2], end) < 0)
        return -1;
    return 0;
}

/* ---- kernels over segments ---------------------------------------------------------- */

/* First (dir > 0) or last match of nd[0:nn] within logical [start, end).
 * Caller guarantees 0 <= start, end <= len, end - start >= nn >= 1, fresh
 * segments, and a scratch window of at least 2 * nn bytes. */
static Py_ssize_t
find_range(const NcRope *r, Py_ssize_t start, Py_ssize_t end, const char *nd, Py_ssize_t nn,
           int dir, char *win)
{
    Py_ssize_t i0 = nc_rope_seg_index(r, start), i1 = nc_rope_seg_index(r, end - 1);
    for (Py_ssize_t t = 0; t <= i1 - i0; t++) {
        Py_ssize_t i = dir > 0 ? i0 + t : i1 - t;
        const nc_seg *s = &r->segs[r->head + i];
        Py_ssize_t ls = nc_seg_lstart(r, s);
        Py_ssize_t a = ls > start ? ls : start;
        Py_ssize_t e = ls + NC_SEG_LEN(s) < end ? ls + NC_SEG_LEN(s) : end;
        const char *p = NC_SEG_PTR(s) + (a - ls);
        Py_ssize_t k;
        if (dir > 0 && e - a >= nn && (k = nc_find(p, e - a, nd, nn)) >= 0)
            return a + k;
        if (e < end && nn > 1) {
            /* matches starting in [ps, e) and running past e */
            Py_ssize_t ps = e - (nn - 1) > a ? e - (nn - 1) : a;
            Py_ssize_t we = e + (nn - 1) < end ? e + (nn - 1) : end;
            if (we - ps >= nn) {
                nc_rope_copy_out(r, ps, we - ps, win);
                k = dir > 0 ? nc_find(win, we - ps, nd, nn) : nc_rfind(win, we - ps, nd, nn);
                if (k >= 0)
                    return ps + k;
            }
        }
        if (dir < 0 && e - a >= nn && (k = nc_rfind(p, e - a, nd, nn)) >= 0)
            return a + k;
    }
    return -1;
}

/* Compare logical [pos, pos + n) with p[0:n], memcmp-style. */
static int
cmp_at(const NcRope *r, Py_ssize_t pos, const char *p, Py_ssize_t n)
{
    if (n <= 0)
        return 0;
    Py_ssize_t i = nc_rope_seg_index(r, pos);
    while (n > 0) {
        const nc_seg *s = &r->segs[r->head + i];
        Py_ssize_t off = pos - nc_seg_lstart(r, s);
        Py_ssize_t k = NC_SEG_LEN(s) - off;
        if (k > n)
            k = n;
        int c = memcmp(NC_SEG_PTR(s) + off, p, (size_t)k);
        if (c != 0)
            return c;
        p += k;
        pos += k;
        n -= k;
        i++;
    }
    return 0;
}

/* Lexicographic comparison of two Ropes, segment against segment. */
static int
cmp_ropes(const NcRope *a, const NcRope *b)
{
    Py_ssize_t i = 0, j = 0, oi = 0, oj = 0;
    while (i < a->n && j < b->n) {
        const nc_seg *s = &a->segs[a->head + i], *u = &b->segs[b->head + j];
        Py_ssize_t ki = NC_SEG_LEN(s) - oi, kj = NC_SEG_LEN(u) - oj;
        Py_ssize_t k = ki < kj ? ki : kj;
        int c = memcmp(NC_SEG_PTR(s) + oi, NC_SEG_PTR(u) + oj, (size_t)k);
        if (c != 0)
            return c;
        oi += k;
        oj += k;
        if (oi == NC_SEG_LEN(s)) {
            i++;
            oi = 0;
        }
        if (oj == NC_SEG_LEN(u)) {
            j++;
            oj = 0;
        }
    }
    return (a->len > b->len) - (a->len < b->len);
}

/* ---- find family ---------------------------------------------------------------- */

/* Shared body of find/rfind/index/rindex: returns the position, -1 when not
 * found, -2 with an exception set. */
static Py_ssize_t
find_impl(PyObject *self, PyObject *const *args, Py_ssize_t nargs, const char *name, int dir)
{
    NcRope *r = (NcRope *)self;
    subarg sub;
    Py_ssize_t start, end, res = -2;
    char small[128], *win = small;
    if (check_nargs(name, nargs) < 0 || subarg_get(args[0], &sub) < 0)
        return -2;
    if (range_args(args, nargs, &start, &end) < 0 || nc_rope_load(r, 0, r->len) < 0
        || nc_rope_check(r) < 0)
        goto done;
    nc_adjust_indices(&start, &end, r->len);
    if (end - start < sub.n) {
        res = -1;
        goto done;
    }
    if (sub.n == 0) {
        res = dir > 0 ? start : end;
        goto done;
    }
    if (sub.n > (Py_ssize_t)sizeof(small) / 2 && (win = PyMem_Malloc((size_t)sub.n * 2)) == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    res = find_range(r, start, end, sub.p, sub.n, dir, win);
    if (win != small)
        PyMem_Free(win);
done:
    subarg_release(&sub);
    return res;
}

const char nc_rope_find_doc[] =
"find($self, sub[, start[, end]], /)\n--\n\n"
"Lowest index of sub (bytes-like or int) in self[start:end], -1 if absent, as\n"
"bytes.find; matches may straddle segments.  O(n + segments * len(sub)), no copy.";

PyObject *
nc_rope_find(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t i = find_impl(self, args, nargs, "find", 1);
    return i == -2 ? NULL : PyLong_FromSsize_t(i);
}

const char nc_rope_rfind_doc[] =
"rfind($self, sub[, start[, end]], /)\n--\n\n"
"Highest index of sub in self[start:end], -1 if absent, as bytes.rfind.\n"
"O(n + segments * len(sub)), no copy.";

PyObject *
nc_rope_rfind(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t i = find_impl(self, args, nargs, "rfind", -1);
    return i == -2 ? NULL : PyLong_FromSsize_t(i);
}

const char nc_rope_index_doc[] =
"index($self, sub[, start[, end]], /)\n--\n\n"
"Like find() but raise ValueError when sub is absent, as bytes.index.";

PyObject *
nc_rope_index(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t i = find_impl(self, args, nargs, "index", 1);
    if (i == -1)
        PyErr_SetString(PyExc_ValueError, "subsection not found");
    return i < 0 ? NULL : PyLong_FromSsize_t(i);
}

const char nc_rope_rindex_doc[] =
"rindex($self, sub[, start[, end]], /)\n--\n\n"
"Like rfind() but raise ValueError when sub is absent, as bytes.rindex.";

PyObject *
nc_rope_rindex(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t i = find_impl(self, args, nargs, "rindex", -1);
    if (i == -1)
        PyErr_SetString(PyExc_ValueError, "subsection not found");
    return i < 0 ? NULL : PyLong_FromSsize_t(i);
}

const char nc_rope_count_doc[] =
"count($self, sub[, start[, end]], /)\n--\n\n"
"Number of non-overlapping occurrences of sub in self[start:end], as\n"
"bytes.count, straddling matches included.  O(n + matches * log segments).";

PyObject *
nc_rope_count(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    NcRope *r = (NcRope *)self;
    subarg sub;
    Py_ssize_t start, end, count = 0;
    PyObject *res = NULL;
    char small[128], *win = small;
    if (check_nargs("count", nargs) < 0 || subarg_get(args[0], &sub) < 0)
        return NULL;
    if (range_args(args, nargs, &start, &end) < 0 || nc_rope_load(r, 0, r->len) < 0
        || nc_rope_check(r) < 0)
        goto done;
    nc_adjust_indices(&start, &end, r->len);
    if (end - start < 0)
        count = 0;
    else if (sub.n == 0)
        count = end - start + 1;
    else if (sub.n == 1) {
        /* no straddles: count piece by piece */
        for (Py_ssize_t i = start < end ? nc_rope_seg_index(r, start) : r->n; i < r->n; i++) {
            const nc_seg *s = NC_SEG(r, i);
            Py_ssize_t ls = nc_seg_lstart(r, s);
            if (ls >= end)
                break;
            Py_ssize_t a = ls > start ? ls : start;
            Py_ssize_t e = ls + NC_SEG_LEN(s) < end ? ls + NC_SEG_LEN(s) : end;
            count += nc_count(NC_SEG_PTR(s) + (a - ls), e - a, sub.p, 1, -1);
        }
    }
    else {
        if (sub.n > (Py_ssize_t)sizeof(small) / 2 && (win = PyMem_Malloc((size_t)sub.n * 2)) == NULL) {
            PyErr_NoMemory();
            goto done;
        }
        Py_ssize_t pos = start, k;
        while (end - pos >= sub.n && (k = find_range(r, pos, end, sub.p, sub.n, 1, win)) >= 0) {
            count++;
            pos = k + sub.n;
        }
        if (win != small)
            PyMem_Free(win);
    }
    res = PyLong_FromSsize_t(count);
done:
    subarg_release(&sub);
    return res;
}

/* ---- startswith / endswith ------------------------------------------------------- */

/* CPython's tailmatch on the Rope: 1 match, 0 none, -1 error. */
static int
tailmatch(NcRope *r, PyObject *substr, Py_ssize_t start, Py_ssize_t end, int dir)
{
    Py_buffer sub;
    if (nc_get_buffer(substr, &sub) < 0)
        return -1;
    int rc = 0;
    /* after the export, which may run code (a Rope argument flattens, and
     * its allocation may run a finalizer that moves a ByteBuffer's bytes);
     * the length below is read after it too */
    if (nc_rope_load(r, 0, r->len) < 0 || nc_rope_check(r) < 0) {
        PyBuffer_Release(&sub);
        return -1;
    }
    Py_ssize_t len = r->len, slen = sub.len;
    nc_adjust_indices(&start, &end, len);
    if (dir < 0) {
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
    rc = cmp_at(r, start, sub.buf, slen) == 0;
done:
    PyBuffer_Release(&sub);
    return rc;
}

static PyObject *
tailmatch_method(PyObject *self, PyObject *const *args, Py_ssize_t nargs, const char *name,
                 int dir)
{
    NcRope *r = (NcRope *)self;
    Py_ssize_t start, end;
    if (check_nargs(name, nargs) < 0 || range_args(args, nargs, &start, &end) < 0)
        return NULL;
    PyObject *subobj = args[0];
    if (PyTuple_Check(subobj)) {
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(subobj); i++) {
            int rc = tailmatch(r, PyTuple_GET_ITEM(subobj, i), start, end, dir);
            if (rc < 0)
                return NULL;
            if (rc)
                Py_RETURN_TRUE;
        }
        Py_RETURN_FALSE;
    }
    int rc = tailmatch(r, subobj, start, end, dir);
    if (rc < 0) {
        if (PyErr_ExceptionMatches(PyExc_TypeError)) {
            PyErr_Format(PyExc_TypeError,
                         "%s first arg must be bytes or a tuple of bytes, not %s",
                         name, Py_TYPE(subobj)->tp_name);
        }
        return NULL;
    }
    return PyBool_FromLong(rc);
}

const char nc_rope_startswith_doc[] =
"startswith($self, prefix[, start[, end]], /)\n--\n\n"
"True if self[start:end] starts with prefix (bytes-like or a tuple of them),\n"
"as bytes.startswith.  O(len(prefix) + log segments), no copy.";

PyObject *
nc_rope_startswith(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    return tailmatch_method(self, args, nargs, "startswith", -1);
}

const char nc_rope_endswith_doc[] =
"endswith($self, suffix[, start[, end]], /)\n--\n\n"
"True if self[start:end] ends with suffix (bytes-like or a tuple of them),\n"
"as bytes.endswith.  O(len(suffix) + log segments), no copy.";

PyObject *
nc_rope_endswith(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    return tailmatch_method(self, args, nargs, "endswith", 1);
}

/* ---- comparisons and membership -------------------------------------------------- */

PyObject *
nc_rope_richcompare(PyObject *self, PyObject *other, int op)
{
    NcRope *r = (NcRope *)self;
    int c;
    if (Py_IS_TYPE(other, Py_TYPE(self))) {
        NcRope *o = (NcRope *)other;
        /* both loaded first, then both checked; r pinned while o loads
         * (which runs code), so r stays loaded */
        if (nc_rope_load(r, 0, r->len) < 0)
            return NULL;
        nc_rope_pin(r);
        int rc = nc_rope_load(o, 0, o->len);
        nc_rope_unpin(r);
        if (rc < 0 || nc_rope_check(r) < 0 || nc_rope_check(o) < 0)
            return NULL;
        if ((op == Py_EQ || op == Py_NE) && r->len != o->len)
            c = 1;
        else
            c = cmp_ropes(r, o);
    }
    else {
        Py_buffer ob;
        if (!PyObject_CheckBuffer(other))
            Py_RETURN_NOTIMPLEMENTED;
        if (PyObject_GetBuffer(other, &ob, PyBUF_SIMPLE) < 0) {
            PyErr_Clear();
            Py_RETURN_NOTIMPLEMENTED;
        }
        if (nc_rope_load(r, 0, r->len) < 0 || nc_rope_check(r) < 0) {
            PyBuffer_Release(&ob);
            return NULL;
        }
        Py_ssize_t n = r->len, m = ob.len;
        if ((op == Py_EQ || op == Py_NE) && n != m)
            c = 1;
        else {
            c = cmp_at(r, 0, ob.buf, n < m ? n : m);
            if (c == 0)
                c = (n > m) - (n < m);
        }
        PyBuffer_Release(&ob);
    }
    Py_RETURN_RICHCOMPARE(c, 0, op);
}

int
nc_rope_contains(PyObject *self, PyObject *arg)
{
    NcRope *r = (NcRope *)self;
    subarg sub;
    int rc = -1;
    char small[128], *win = small;
    if (subarg_get(arg, &sub) < 0)
        return -1;
    if (nc_rope_load(r, 0, r->len) < 0 || nc_rope_check(r) < 0)
        goto done;
    if (sub.n == 0 || sub.n > r->len) {
        rc = sub.n == 0;
        goto done;
    }
    if (sub.n > (Py_ssize_t)sizeof(small) / 2 && (win = PyMem_Malloc((size_t)sub.n * 2)) == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    rc = find_range(r, 0, r->len, sub.p, sub.n, 1, win) >= 0;
    if (win != small)
        PyMem_Free(win);
done:
    subarg_release(&sub);
    return rc;
}
