/* view_transform.c -- View methods that must produce new content (bytes):
 * replace, case mapping, translate, expandtabs, padding, join, *, %, and the
 * number parsers to_int / to_float.
 *
 * Ownership: every method here borrows the View's window for the length of
 * one call and owns nothing past it.  Results are written straight into a
 * fresh PyBytes_FromStringAndSize(NULL, n) whose size is computed first (no
 * resize, no intermediate copy).  Argument conversion that may run Python code
 * (__index__, buffer exporters, iterating join()'s argument) happens before
 * nc_view_check(), so the window pointer read afterwards is current.  Every
 * Py_buffer acquired is released on every path through one done: label.
 *
 * Unlike bytes, which returns itself when a method would change nothing
 * (b.replace(x, x) is b), a View always returns a new bytes object: the View's
 * content may change under it, the result must not.
 *
 * The number parsers read the window in place.  The common case (optional
 * whitespace and sign, up to 18 decimal digits) is parsed here with no
 * allocation; every other input is handed to CPython's own parser on a
 * NUL-terminated copy of the non-whitespace core (a stack buffer when small),
 * so the accepted language and the error messages are int()'s and float()'s
 * by construction. */
#include "nocopy.h"

#include <limits.h>

/* Stack space for number literals; longer ones go to a PyMem buffer. */
#define NC_NUM_STACK 128

/* ---- argument helpers (Argument Clinic's conversions and messages) ------ */

/* Py_ssize_t through __index__, OverflowError when it does not fit. */
static int
ssize_arg(PyObject *arg, Py_ssize_t *out)
{
    PyObject *i = PyNumber_Index(arg);
    if (i == NULL)
        return -1;
    *out = PyLong_AsSsize_t(i);
    Py_DECREF(i);
    return (*out == -1 && PyErr_Occurred()) ? -1 : 0;
}

/* C int through __index__. */
static int
int_arg(PyObject *arg, int *out)
{
    PyObject *i = PyNumber_Index(arg);
    if (i == NULL)
        return -1;
    int overflow;
    long x = PyLong_AsLongAndOverflow(i, &overflow);
    Py_DECREF(i);
    if (x == -1 && PyErr_Occurred())
        return -1;
    if (overflow || x > INT_MAX || x < INT_MIN) {
        PyErr_SetString(PyExc_OverflowError, "Python int too large to convert to C int");
        return -1;
    }
    *out = (int)x;
    return 0;
}

/* A single byte given as bytes, bytearray or View of length 1 (fillchar).
 * bytes takes only the first two; a View is nocopy's bytes, and CPython's
 * string_tests pass fillchar as the type under test.  `self` gives the
 * module state for the View check. */
static int
char_arg(NcView *self, const char *fname, PyObject *arg, char *out)
{
    if (PyBytes_Check(arg) && PyBytes_GET_SIZE(arg) == 1) {
        *out = PyBytes_AS_STRING(arg)[0];
        return 0;
    }
    if (PyByteArray_Check(arg) && PyByteArray_GET_SIZE(arg) == 1) {
        *out = PyByteArray_AS_STRING(arg)[0];
        return 0;
    }
    nc_state *st = nc_state_of_type(Py_TYPE(self));
    if (st != NULL && NcView_Check(st, arg)) {
        NcView *f = (NcView *)arg;
        if (nc_view_check(f) < 0)
            return -1;
        if (NC_VIEW_LEN(f) == 1) {
            *out = NC_VIEW_PTR(f)[0];
            return 0;
        }
    }
    PyErr_Format(PyExc_TypeError, "%.200s() argument 2 must be a byte string of length 1, not %.50s",
                 fname, arg == Py_None ? "None" : Py_TYPE(arg)->tp_name);
    return -1;
}

/* Positional-only arity check with _PyArg_CheckPositional's message. */
static int
check_positional(const char *name, Py_ssize_t nargs, Py_ssize_t min, Py_ssize_t max)
{
    if (nargs >= min && nargs <= max)
        return 0;
    if (nargs < min)
        PyErr_Format(PyExc_TypeError, "%.200s expected %s%zd argument%s, got %zd", name,
                     min == max ? "" : "at least ", min, min == 1 ? "" : "s", nargs);
    else
        PyErr_Format(PyExc_TypeError, "%.200s expected %s%zd argument%s, got %zd", name,
                     min == max ? "" : "at most ", max, max == 1 ? "" : "s", nargs);
    return -1;
}

/* Raise the error that bytes' own method `name` raises for these arguments
 * (on b"").  Used on argument-parsing error paths only, where the wording
 * changes between Python versions (3.13 rewrote the keyword messages) and
 * the type under the call does not matter.  Returns 1 when bytes raised, 0
 * when it accepted the arguments (the caller then raises its own error). */
static int
bytes_error(const char *name, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
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

/* Vectorcall arguments of a method with `posonly` required positional-only
 * parameters followed by `nkw` optional positional-or-keyword ones named in
 * kwlist.  out[] receives borrowed references (NULL: not given).  On a
 * mismatch, bytes' method of the same name (when `like_bytes`) raises its
 * own error; otherwise Argument Clinic's messages are written here. */
static int
parse_kw(const char *fname, int like_bytes, PyObject *const *args, Py_ssize_t nargs,
         PyObject *kwnames, int posonly, const char *const *kwlist, int nkw, PyObject **out)
{
    int max = posonly + nkw;
    Py_ssize_t nkwargs = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    if (nargs + nkwargs > max) {
        if (like_bytes && bytes_error(fname, args, nargs, kwnames))
            return -1;
        PyErr_Format(PyExc_TypeError, "%.200s() takes at most %d %sargument%s (%zd given)", fname, max,
                     nargs == 0 ? "keyword " : "", max == 1 ? "" : "s", nargs + nkwargs);
        return -1;
    }
    if (nargs < posonly) {
        if (like_bytes && bytes_error(fname, args, nargs, kwnames))
            return -1;
        PyErr_Format(PyExc_TypeError, "%.200s() takes %s %d positional argument%s (%zd given)", fname,
                     posonly < max ? "at least" : "exactly", posonly, posonly == 1 ? "" : "s", nargs);
        return -1;
    }
    for (int i = 0; i < max; i++)
        out[i] = i < nargs ? args[i] : NULL;
    for (Py_ssize_t k = 0; k < nkwargs; k++) {
        PyObject *name = PyTuple_GET_ITEM(kwnames, k);  /* borrowed */
        int j = 0;
        while (j < nkw && PyUnicode_CompareWithASCIIString(name, kwlist[j]) != 0)
            j++;
        if (j == nkw || posonly + j < nargs) {
            if (like_bytes && bytes_error(fname, args, nargs, kwnames))
                return -1;
            if (j == nkw)
                PyErr_Format(PyExc_TypeError, "%.200s() got an unexpected keyword argument '%S'", fname, name);
            else
                PyErr_Format(PyExc_TypeError, "argument for %.200s() given by name ('%s') and position (%d)",
                             fname, kwlist[j], posonly + j + 1);
            return -1;
        }
        out[posonly + j] = args[nargs + k];
    }
    return 0;
}

/* A new bytes object of n bytes, *out pointing at its (uninitialised) data. */
static PyObject *
new_bytes(Py_ssize_t n, char **out)
{
    PyObject *res = PyBytes_FromStringAndSize(NULL, n);
    if (res != NULL)
        *out = PyBytes_AS_STRING(res);
    return res;
}

/* ---- *, % --------------------------------------------------------------- */

PyObject *
nc_view_repeat(PyObject *self, Py_ssize_t n)
{
    NcView *v = (NcView *)self;
    if (nc_view_check(v) < 0)
        return NULL;
    Py_ssize_t len = NC_VIEW_LEN(v);
    if (n < 0)
        n = 0;
    if (n > 0 && len > PY_SSIZE_T_MAX / n) {
        PyErr_SetString(PyExc_OverflowError, "repeated bytes are too long");
        return NULL;
    }
    char *d;
    Py_ssize_t size = len * n;
    PyObject *res = new_bytes(size, &d);
    if (res == NULL || size == 0)
        return res;
    if (len == 1) {
        memset(d, NC_VIEW_PTR(v)[0], (size_t)size);
        return res;
    }
    /* Copy once, then double what is already written: log2(n) memcpy calls. */
    memcpy(d, NC_VIEW_PTR(v), (size_t)len);
    Py_ssize_t done = len;
    while (done < size) {
        Py_ssize_t chunk = done <= size - done ? done : size - done;
        memcpy(d + done, d, (size_t)chunk);
        done += chunk;
    }
    return res;
}

PyObject *
nc_view_multiply(PyObject *a, PyObject *b)
{
    /* One operand's type carries this slot, so it is a View; find which. */
    PyObject *view, *count;
    if (PyLong_CheckExact(b)) {
        view = a;
        count = b;
    }
    else if (PyLong_CheckExact(a)) {
        view = b;
        count = a;
    }
    else {
        nc_state *st = nc_state_of(a);
        if (st == NULL) {
            PyErr_Clear();
            st = nc_state_of(b);
            if (st == NULL)
                return NULL;
        }
        if (NcView_Check(st, a)) {
            view = a;
            count = b;
        }
        else {
            view = b;
            count = a;
        }
        if (!NcView_Check(st, view) || !PyIndex_Check(count))
            Py_RETURN_NOTIMPLEMENTED;
    }
    Py_ssize_t n = PyNumber_AsSsize_t(count, PyExc_OverflowError);
    if (n == -1 && PyErr_Occurred())
        return NULL;
    return nc_view_repeat(view, n);
}

PyObject *
nc_view_remainder(PyObject *a, PyObject *b)
{
    nc_state *st = nc_state_of(a);
    if (st == NULL) {
        PyErr_Clear();
        Py_RETURN_NOTIMPLEMENTED;
    }
    if (!NcView_Check(st, a))
        Py_RETURN_NOTIMPLEMENTED;
    /* The result is new content of unknown size, so the window is copied
     * once into a bytes format and bytes' own % (PEP 461) does the rest:
     * one implementation, identical results and errors. */
    NcView *v = (NcView *)a;
    if (nc_view_check(v) < 0)
        return NULL;
    PyObject *fmt = PyBytes_FromStringAndSize(NC_VIEW_PTR(v), NC_VIEW_LEN(v));
    if (fmt == NULL)
        return NULL;
    PyObject *r = PyNumber_Remainder(fmt, b);
    Py_DECREF(fmt);
    return r;
}

/* ---- replace ------------------------------------------------------------ */

PyDoc_STRVAR(replace_doc,
"replace($self, old, new, count=-1, /)\n--\n\n"
"A new bytes object with occurrences of old replaced by new, as bytes.replace():\n"
"the first count of them, or all when count is -1.  Always a new bytes object,\n"
"even when nothing is replaced.  O(n + result size), linear on any input.");

static PyObject *
view_replace(NcView *v, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer from, to;
    int have_to = 0;
    Py_ssize_t maxcount = -1;
    PyObject *res = NULL;
    if (check_positional("replace", nargs, 2, 3) < 0)
        return NULL;
    if (nc_get_buffer(args[0], &from) < 0)
        return NULL;
    if (nc_get_buffer(args[1], &to) < 0)
        goto done;
    have_to = 1;
    if (nargs == 3 && ssize_arg(args[2], &maxcount) < 0)
        goto done;
    if (nc_view_check(v) < 0)
        goto done;

    const char *s = NC_VIEW_PTR(v), *f = from.buf, *t = to.buf;
    Py_ssize_t n = NC_VIEW_LEN(v), fl = from.len, tl = to.len, count = 0;
    if (maxcount < 0)
        maxcount = PY_SSIZE_T_MAX;
    char *d;
    if (fl == tl && fl > 0) {
        /* Same length: the size is known, so one pass that copies everything
         * and overwrites the matches, no counting pass. */
        if ((res = new_bytes(n, &d)) == NULL)
            goto done;
        memcpy(d, s, (size_t)n);
        for (Py_ssize_t k = 0, pos = 0; k < maxcount; k++) {
            Py_ssize_t i = nc_find(s + pos, n - pos, f, fl);
            if (i < 0)
                break;
            memcpy(d + pos + i, t, (size_t)tl);
            pos += i + fl;
        }
        goto done;
    }
    if (fl == 1 && maxcount >= n) {
        /* One byte, no cap: a counting loop the compiler vectorises beats a
         * memchr call per match on short windows and ties on long ones. */
        const unsigned char c = (unsigned char)f[0];
        for (Py_ssize_t i = 0; i < n; i++)
            count += (unsigned char)s[i] == c;
    }
    else if (n >= fl && maxcount > 0 && (fl > 0 || tl > 0))
        count = nc_count(s, n, f, fl, maxcount);
    if (count == 0) {
        res = PyBytes_FromStringAndSize(s, n);
        goto done;
    }
    Py_ssize_t size;
    if (tl >= fl) {
        Py_ssize_t grow = tl - fl;
        if (grow > 0 && count > (PY_SSIZE_T_MAX - n) / grow) {
            PyErr_SetString(PyExc_OverflowError, "replace bytes is too long");
            goto done;
        }
        size = n + count * grow;
    }
    else
        size = n - count * (fl - tl);
    if ((res = new_bytes(size, &d)) == NULL)
        goto done;
    if (fl == 0) {
        /* b"ab".replace(b"", b"-") == b"-a-b-": new before each of the first
         * count positions. */
        for (Py_ssize_t i = 0; i < count; i++) {
            memcpy(d, t, (size_t)tl);
            d += tl;
            if (i < n)
                *d++ = s[i];
        }
        if (count < n)
            memcpy(d, s + count, (size_t)(n - count));
        goto done;
    }
    Py_ssize_t pos = 0;
    for (Py_ssize_t k = 0; k < count; k++) {
        Py_ssize_t gap = nc_find(s + pos, n - pos, f, fl);
        memcpy(d, s + pos, (size_t)gap);
        d += gap;
        memcpy(d, t, (size_t)tl);
        d += tl;
        pos += gap + fl;
    }
    memcpy(d, s + pos, (size_t)(n - pos));
done:
    PyBuffer_Release(&from);
    if (have_to)
        PyBuffer_Release(&to);
    return res;
}

/* ---- case mapping ------------------------------------------------------- */

enum { CASE_LOWER, CASE_UPPER, CASE_SWAP, CASE_CAPITALIZE, CASE_TITLE };

/* Branch-free per byte so the compiler vectorises the first three. */
static inline unsigned char
lower1(unsigned char c)
{
    return (unsigned char)((unsigned char)(c - 'A') < 26 ? c | 0x20 : c);
}
static inline unsigned char
upper1(unsigned char c)
{
    return (unsigned char)((unsigned char)(c - 'a') < 26 ? c & 0xDF : c);
}

static PyObject *
case_map(NcView *v, int kind)
{
    if (nc_view_check(v) < 0)
        return NULL;
    Py_ssize_t n = NC_VIEW_LEN(v);
    char *out;
    PyObject *res = new_bytes(n, &out);
    if (res == NULL)
        return NULL;
    const unsigned char *s = (const unsigned char *)NC_VIEW_PTR(v);
    unsigned char *d = (unsigned char *)out;
    switch (kind) {
    case CASE_LOWER:
        for (Py_ssize_t i = 0; i < n; i++)
            d[i] = lower1(s[i]);
        break;
    case CASE_UPPER:
        for (Py_ssize_t i = 0; i < n; i++)
            d[i] = upper1(s[i]);
        break;
    case CASE_SWAP:
        /* c | 0x20 is a lower-case letter exactly when c is a letter. */
        for (Py_ssize_t i = 0; i < n; i++)
            d[i] = (unsigned char)((unsigned char)((s[i] | 0x20) - 'a') < 26 ? s[i] ^ 0x20 : s[i]);
        break;
    case CASE_CAPITALIZE:
        if (n > 0)
            d[0] = upper1(s[0]);
        for (Py_ssize_t i = 1; i < n; i++)
            d[i] = lower1(s[i]);
        break;
    default: {
        /* title: upper-case a letter that follows a non-letter, lower-case
         * one that follows a letter (bytes.title's ASCII rule). */
        /* Whether a letter follows a letter depends only on the byte
         * before it, so each byte is computed on its own (vectorisable). */
        if (n > 0)
            d[0] = upper1(s[0]);
        for (Py_ssize_t i = 1; i < n; i++) {
            unsigned char c = s[i], lc = c | 0x20;
            int cased = (unsigned char)(lc - 'a') < 26;
            int prev_cased = (unsigned char)((s[i - 1] | 0x20) - 'a') < 26;
            unsigned char letter = prev_cased ? lc : (unsigned char)(lc & 0xDF);
            d[i] = cased ? letter : c;
        }
    }
    }
    return res;
}

#define CASE_METHOD(name, kind, text)                                                     \
    PyDoc_STRVAR(name##_doc, #name "($self, /)\n--\n\n" text                              \
                 "  Always a new bytes object.  O(n): copies into the result.");          \
    static PyObject *view_##name(NcView *v, PyObject *Py_UNUSED(ignored))                 \
    {                                                                                     \
        return case_map(v, kind);                                                         \
    }

CASE_METHOD(lower, CASE_LOWER, "A copy with ASCII upper-case letters lower-cased, as bytes.lower().")
CASE_METHOD(upper, CASE_UPPER, "A copy with ASCII lower-case letters upper-cased, as bytes.upper().")
CASE_METHOD(swapcase, CASE_SWAP, "A copy with the case of ASCII letters swapped, as bytes.swapcase().")
CASE_METHOD(capitalize, CASE_CAPITALIZE,
            "A copy with the first byte upper-cased and the rest lower-cased (ASCII),\n"
            "as bytes.capitalize().")
CASE_METHOD(title, CASE_TITLE,
            "A copy where each run of ASCII letters starts upper-case and continues\n"
            "lower-case, as bytes.title().")

/* ---- translate, expandtabs ---------------------------------------------- */

PyDoc_STRVAR(translate_doc,
"translate($self, table, /, delete=b'')\n--\n\n"
"A new bytes object with the bytes in delete removed and the rest mapped\n"
"through table (a 256-byte buffer, or None for identity), as bytes.translate().\n"
"Always a new bytes object.  O(n).");

static PyObject *
view_translate(NcView *v, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const kwlist[] = {"delete"};
    PyObject *a[2];
    Py_buffer table, del;
    int have_table = 0, have_del = 0;
    PyObject *res = NULL;
    if (parse_kw("translate", 1, args, nargs, kwnames, 1, kwlist, 1, a) < 0)
        return NULL;
    if (a[0] != Py_None) {
        if (nc_get_buffer(a[0], &table) < 0)
            return NULL;
        have_table = 1;
        if (table.len != 256) {
            PyErr_SetString(PyExc_ValueError, "translation table must be 256 characters long");
            goto done;
        }
    }
    if (a[1] != NULL) {
        if (nc_get_buffer(a[1], &del) < 0)
            goto done;
        have_del = 1;
    }
    if (nc_view_check(v) < 0)
        goto done;

    const unsigned char *s = (const unsigned char *)NC_VIEW_PTR(v);
    const unsigned char *map = have_table ? table.buf : NULL;  /* NULL: identity */
    Py_ssize_t n = NC_VIEW_LEN(v);
    char *out;
    if (!have_del || del.len == 0) {
        if ((res = new_bytes(n, &out)) == NULL)
            goto done;
        if (map == NULL)
            memcpy(out, s, (size_t)n);
        else
            for (Py_ssize_t i = 0; i < n; i++)
                out[i] = (char)map[s[i]];
        goto done;
    }
    /* Two table-driven passes: count the survivors, then write them. */
    unsigned char drop[256], ident[256];
    memset(drop, 0, sizeof(drop));
    for (Py_ssize_t i = 0; i < del.len; i++)
        drop[((const unsigned char *)del.buf)[i]] = 1;
    if (map == NULL) {
        for (int c = 0; c < 256; c++)
            ident[c] = (unsigned char)c;
        map = ident;
    }
    Py_ssize_t dropped = 0;
    for (Py_ssize_t i = 0; i < n; i++)
        dropped += drop[s[i]];
    if ((res = new_bytes(n - dropped, &out)) == NULL)
        goto done;
    /* Branch-free: every byte is written, the cursor advances past kept
     * ones.  A trailing dropped byte lands on the bytes object's NUL slot,
     * which is restored after. */
    char *o = out;
    for (Py_ssize_t i = 0; i < n; i++) {
        *o = (char)map[s[i]];
        o += !drop[s[i]];
    }
    *o = '\0';
done:
    if (have_table)
        PyBuffer_Release(&table);
    if (have_del)
        PyBuffer_Release(&del);
    return res;
}

PyDoc_STRVAR(expandtabs_doc,
"expandtabs($self, /, tabsize=8)\n--\n\n"
"A new bytes object with each tab replaced by spaces up to the next multiple\n"
"of tabsize (column reset by \\n and \\r), as bytes.expandtabs().  Always a new\n"
"bytes object.  O(n + result size).");

static PyObject *
view_expandtabs(NcView *v, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const kwlist[] = {"tabsize"};
    PyObject *a[1];
    int tabsize = 8;
    if (parse_kw("expandtabs", 1, args, nargs, kwnames, 0, kwlist, 1, a) < 0)
        return NULL;
    if (a[0] != NULL && int_arg(a[0], &tabsize) < 0)
        return NULL;
    if (nc_view_check(v) < 0)
        return NULL;
    const char *s = NC_VIEW_PTR(v), *e = s + NC_VIEW_LEN(v);
    /* First pass: the size, with stringlib's overflow checks. */
    Py_ssize_t i = 0, j = 0;  /* i: complete lines' size, j: current column */
    for (const char *p = s; p < e; p++) {
        if (*p == '\t') {
            if (tabsize > 0) {
                Py_ssize_t incr = tabsize - (j % tabsize);
                if (j > PY_SSIZE_T_MAX - incr)
                    goto fail;
                j += incr;
            }
        }
        else {
            if (j > PY_SSIZE_T_MAX - 1)
                goto fail;
            j++;
            if (*p == '\n' || *p == '\r') {
                if (i > PY_SSIZE_T_MAX - j)
                    goto fail;
                i += j;
                j = 0;
            }
        }
    }
    if (i > PY_SSIZE_T_MAX - j)
        goto fail;
    char *d;
    PyObject *res = new_bytes(i + j, &d);
    if (res == NULL)
        return NULL;
    j = 0;
    for (const char *p = s; p < e; p++) {
        if (*p == '\t') {
            if (tabsize > 0) {
                Py_ssize_t incr = tabsize - (j % tabsize);
                memset(d, ' ', (size_t)incr);
                d += incr;
                j += incr;
            }
        }
        else {
            j++;
            *d++ = *p;
            if (*p == '\n' || *p == '\r')
                j = 0;
        }
    }
    return res;
fail:
    PyErr_SetString(PyExc_OverflowError, "result too long");
    return NULL;
}

/* ---- padding ------------------------------------------------------------- */

/* The window between `left` and `right` bytes of fill. */
static PyObject *
pad(NcView *v, Py_ssize_t left, Py_ssize_t right, char fill)
{
    Py_ssize_t n = NC_VIEW_LEN(v);
    char *d;
    PyObject *res = new_bytes(left + n + right, &d);
    if (res == NULL)
        return NULL;
    memset(d, fill, (size_t)left);
    memcpy(d + left, NC_VIEW_PTR(v), (size_t)n);
    memset(d + left + n, fill, (size_t)right);
    return res;
}

enum { PAD_CENTER, PAD_LJUST, PAD_RJUST };

static PyObject *
pad_method(NcView *v, PyObject *const *args, Py_ssize_t nargs, const char *name, int kind)
{
    Py_ssize_t width;
    char fill = ' ';
    if (check_positional(name, nargs, 1, 2) < 0)
        return NULL;
    if (ssize_arg(args[0], &width) < 0)
        return NULL;
    if (nargs == 2 && char_arg(v, name, args[1], &fill) < 0)
        return NULL;
    if (nc_view_check(v) < 0)
        return NULL;
    Py_ssize_t n = NC_VIEW_LEN(v);
    if (width <= n)
        return PyBytes_FromStringAndSize(NC_VIEW_PTR(v), n);
    Py_ssize_t marg = width - n;
    switch (kind) {
    case PAD_CENTER: {
        /* stringlib's rounding: the odd byte goes left when width is odd. */
        Py_ssize_t left = marg / 2 + (marg & width & 1);
        return pad(v, left, marg - left, fill);
    }
    case PAD_LJUST:
        return pad(v, 0, marg, fill);
    default:
        return pad(v, marg, 0, fill);
    }
}

#define PAD_METHOD(name, kind, text)                                                      \
    PyDoc_STRVAR(name##_doc, #name "($self, width, fillchar=b' ', /)\n--\n\n" text        \
                 "  fillchar is a bytes, bytearray or View of length 1.  Always a new\n" \
                 "bytes object.  O(width).");                                             \
    static PyObject *view_##name(NcView *v, PyObject *const *args, Py_ssize_t nargs)      \
    {                                                                                     \
        return pad_method(v, args, nargs, #name, kind);                                   \
    }

PAD_METHOD(center, PAD_CENTER, "The window centered in width bytes of fillchar, as bytes.center().")
PAD_METHOD(ljust, PAD_LJUST, "The window left-justified in width bytes of fillchar, as bytes.ljust().")
PAD_METHOD(rjust, PAD_RJUST, "The window right-justified in width bytes of fillchar, as bytes.rjust().")

PyDoc_STRVAR(zfill_doc,
"zfill($self, width, /)\n--\n\n"
"The window padded on the left with b'0' to width bytes, a leading sign kept\n"
"in front, as bytes.zfill().  Always a new bytes object.  O(width).");

static PyObject *
view_zfill(NcView *v, PyObject *arg)
{
    Py_ssize_t width;
    if (ssize_arg(arg, &width) < 0 || nc_view_check(v) < 0)
        return NULL;
    Py_ssize_t n = NC_VIEW_LEN(v);
    if (width <= n)
        return PyBytes_FromStringAndSize(NC_VIEW_PTR(v), n);
    Py_ssize_t fill = width - n;
    PyObject *res = pad(v, fill, 0, '0');
    if (res != NULL && n > 0) {
        char *p = PyBytes_AS_STRING(res);
        if (p[fill] == '+' || p[fill] == '-') {
            p[0] = p[fill];
            p[fill] = '0';
        }
    }
    return res;
}

/* ---- join ---------------------------------------------------------------- */

PyDoc_STRVAR(join_doc,
"join($self, iterable_of_bytes, /)\n--\n\n"
"The buffers of iterable_of_bytes (any bytes-like objects, Views included)\n"
"concatenated with the window between them, as bytes.join().  Always a new\n"
"bytes object.  O(result size): one allocation, one copy of each part.");

/* Parts acquired without a heap array up to this count (bytes.join's too). */
#define NC_JOIN_STATIC 10

static PyObject *
view_join(NcView *v, PyObject *iterable)
{
    Py_buffer stack[NC_JOIN_STATIC], *bufs = stack;
    Py_ssize_t nbufs = 0;
    PyObject *res = NULL;
    PyObject *seq = PySequence_Fast(iterable, "can only join an iterable");
    if (seq == NULL)
        return NULL;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(seq);
    if (count > NC_JOIN_STATIC && (bufs = PyMem_New(Py_buffer, count)) == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    /* Acquire every part first: an exporter may run Python code, and the
     * buffers keep the parts alive and unresizable while we copy. */
    Py_ssize_t total = 0;
    for (; nbufs < count; nbufs++) {
        /* An exporter that runs Python code (__buffer__) may shrink a list
         * argument under us: never index past its current end. */
        if (nbufs >= PySequence_Fast_GET_SIZE(seq)) {
            PyErr_SetString(PyExc_RuntimeError, "join() argument changed size during iteration");
            goto done;
        }
        PyObject *item = PySequence_Fast_GET_ITEM(seq, nbufs);  /* borrowed */
        if (PyBytes_CheckExact(item)) {
            /* bytes has no releasebuffer: a referenced pointer is its export,
             * as in bytes.join.  The reference survives list mutation by a
             * later part's exporter. */
            bufs[nbufs].obj = Py_NewRef(item);
            bufs[nbufs].buf = PyBytes_AS_STRING(item);
            bufs[nbufs].len = PyBytes_GET_SIZE(item);
        }
        else {
            /* Held across the call: its exporter may drop the list's
             * reference (the export then holds its own). */
            Py_INCREF(item);
            int rc = PyObject_GetBuffer(item, &bufs[nbufs], PyBUF_SIMPLE);
            if (rc != 0)
                PyErr_Format(PyExc_TypeError, "sequence item %zd: expected a bytes-like object, %.80s found",
                             nbufs, Py_TYPE(item)->tp_name);
            Py_DECREF(item);
            if (rc != 0)
                goto done;
        }
        if (bufs[nbufs].len > PY_SSIZE_T_MAX - total) {
            nbufs++;
            PyErr_SetString(PyExc_OverflowError, "join() result is too long for bytes");
            goto done;
        }
        total += bufs[nbufs].len;
    }
    if (nc_view_check(v) < 0)
        goto done;
    const char *sep = NC_VIEW_PTR(v);
    Py_ssize_t seplen = NC_VIEW_LEN(v);
    if (count > 1 && seplen > 0) {
        if (count - 1 > (PY_SSIZE_T_MAX - total) / seplen) {
            PyErr_SetString(PyExc_OverflowError, "join() result is too long for bytes");
            goto done;
        }
        total += (count - 1) * seplen;
    }
    char *d;
    if ((res = new_bytes(total, &d)) == NULL)
        goto done;
    for (Py_ssize_t i = 0; i < count; i++) {
        if (i > 0 && seplen > 0) {
            memcpy(d, sep, (size_t)seplen);
            d += seplen;
        }
        if (bufs[i].len > 0) {
            memcpy(d, bufs[i].buf, (size_t)bufs[i].len);
            d += bufs[i].len;
        }
    }
done:
    for (Py_ssize_t i = 0; i < nbufs; i++)
        PyBuffer_Release(&bufs[i]);
    if (bufs != stack)
        PyMem_Free(bufs);
    Py_DECREF(seq);
    return res;
}

/* ---- number parsers ------------------------------------------------------ */

/* A NUL-terminated copy of s[0:n] in `stack` (NC_NUM_STACK bytes) or on the
 * PyMem heap; *heap is set when the caller must PyMem_Free it. */
static char *
cstring_copy(const char *s, Py_ssize_t n, char *stack, char **heap)
{
    char *buf = stack;
    *heap = NULL;
    if (n >= NC_NUM_STACK) {
        if ((buf = *heap = PyMem_Malloc((size_t)n + 1)) == NULL) {
            PyErr_NoMemory();
            return NULL;
        }
    }
    memcpy(buf, s, (size_t)n);
    buf[n] = '\0';
    return buf;
}

/* int()'s error for the window: its first 200 bytes, repr cut at 200. */
static void
int_literal_error(const char *s, Py_ssize_t n, int base)
{
    PyObject *b = PyBytes_FromStringAndSize(s, n < 200 ? n : 200);
    if (b != NULL) {
        PyErr_Format(PyExc_ValueError, "invalid literal for int() with base %d: %.200R", base, b);
        Py_DECREF(b);
    }
}

/* Everything the fast path leaves: CPython's PyLong_FromString on a
 * NUL-terminated copy of the non-whitespace core, judged the way int(bytes)
 * judges it (_PyLong_FromBytes). */
static PyObject *
to_int_slow(const char *s, Py_ssize_t n, int base)
{
    Py_ssize_t lead = nc_lstrip_len(s, n, NULL);
    Py_ssize_t core = n - lead;
    core -= nc_rstrip_len(s + lead, core, NULL);
    char stack[NC_NUM_STACK], *heap;
    char *buf = cstring_copy(s + lead, core, stack, &heap);
    if (buf == NULL)
        return NULL;
    char *end = NULL;
    PyObject *res = PyLong_FromString(buf, &end, base);
    PyMem_Free(heap);
    /* end stays NULL when PyLong_FromString raised for a reason other than
     * the literal (the int_max_str_digits limit): keep that error. */
    if (end == NULL || (res != NULL && end == buf + core))
        return res;
    Py_XDECREF(res);
    int_literal_error(s, n, base);
    return NULL;
}

PyDoc_STRVAR(to_int_doc,
"to_int($self, /, base=10)\n--\n\n"
"The window parsed as int(bytes(self), base) would parse it -- whitespace,\n"
"sign, underscores, 0x/0o/0b prefixes, bases 0 and 2..36 -- with the same\n"
"ValueError on bad input, but without copying the window.  O(n): up to 18\n"
"decimal digits are parsed in place with no allocation but the result; longer\n"
"or other literals are copied (without surrounding whitespace) to a stack\n"
"buffer, or a heap temporary from 128 bytes on.");

static PyObject *
view_to_int(NcView *v, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    int base = 10;
    if (nargs > 0 || kwnames != NULL) {
        static const char *const kwlist[] = {"base"};
        PyObject *a[1];
        if (parse_kw("to_int", 0, args, nargs, kwnames, 0, kwlist, 1, a) < 0)
            return NULL;
        if (a[0] != NULL) {
            /* int()'s own conversion: huge values clamp, then fail the range. */
            Py_ssize_t b = PyNumber_AsSsize_t(a[0], NULL);
            if (b == -1 && PyErr_Occurred())
                return NULL;
            if ((b != 0 && b < 2) || b > 36) {
                PyErr_SetString(PyExc_ValueError, "int() base must be >= 2 and <= 36, or 0");
                return NULL;
            }
            base = (int)b;
        }
    }
    if (nc_view_check(v) < 0)
        return NULL;
    const char *s = NC_VIEW_PTR(v);
    Py_ssize_t n = NC_VIEW_LEN(v);
    if (base == 10) {
        Py_ssize_t i = 0;
        while (i < n && nc_isspace((unsigned char)s[i]))
            i++;
        int neg = 0;
        if (i < n && (s[i] == '-' || s[i] == '+'))
            neg = s[i++] == '-';
        Py_ssize_t first = i;
        uint64_t acc = 0;
        /* 18 digits cannot overflow int64; a 19th sends us to the slow path. */
        while (i < n && i - first < 19 && (unsigned char)(s[i] - '0') < 10)
            acc = acc * 10 + (uint64_t)(s[i++] - '0');
        Py_ssize_t ndigits = i - first;
        if (ndigits > 0 && ndigits <= 18) {
            while (i < n && nc_isspace((unsigned char)s[i]))
                i++;
            if (i == n)
                return PyLong_FromLongLong(neg ? -(long long)acc : (long long)acc);
        }
    }
    return to_int_slow(s, n, base);
}

/* float()'s error: the repr of the whole window as bytes. */
static void
float_literal_error(const char *s, Py_ssize_t n)
{
    PyObject *b = PyBytes_FromStringAndSize(s, n);
    if (b != NULL) {
        PyErr_Format(PyExc_ValueError, "could not convert string to float: %R", b);
        Py_DECREF(b);
    }
}

PyDoc_STRVAR(to_float_doc,
"to_float($self, /)\n--\n\n"
"The window parsed as float(bytes(self)) would parse it -- whitespace, sign,\n"
"exponent, underscores, inf/infinity/nan in any case -- with the same\n"
"ValueError on bad input.  O(n): the literal (without surrounding whitespace)\n"
"is copied to a stack buffer for CPython's correctly rounded parser; only\n"
"literals of 128 bytes or more use a heap temporary.");

static PyObject *
view_to_float(NcView *v, PyObject *Py_UNUSED(ignored))
{
    char stack[NC_NUM_STACK], *heap = NULL;
    if (nc_view_check(v) < 0)
        return NULL;
    const char *s = NC_VIEW_PTR(v);
    Py_ssize_t n = NC_VIEW_LEN(v);
    Py_ssize_t lead = nc_lstrip_len(s, n, NULL);
    Py_ssize_t core = n - lead;
    core -= nc_rstrip_len(s + lead, core, NULL);
    /* CPython's parser stops at NUL; float() rejects any embedded one. */
    if (core == 0 || nc_find_byte(s + lead, core, 0) >= 0)
        goto invalid;
    char *buf = cstring_copy(s + lead, core, stack, &heap);
    if (buf == NULL)
        return NULL;
    if (nc_find_byte(buf, core, '_') >= 0) {
        /* PEP 515, as _Py_string_to_number_with_underscores: an underscore
         * only between two digits.  Compacted in place (out <= in). */
        char prev = '\0', *out = buf;
        for (Py_ssize_t i = 0; i < core; i++) {
            char c = buf[i];
            if (c == '_') {
                if (!(prev >= '0' && prev <= '9'))
                    goto invalid;
            }
            else {
                if (prev == '_' && !(c >= '0' && c <= '9'))
                    goto invalid;
                *out++ = c;
            }
            prev = c;
        }
        if (prev == '_')
            goto invalid;
        *out = '\0';
        core = out - buf;
    }
    char *end;
    double x = PyOS_string_to_double(buf, &end, NULL);
    if (end != buf + core)
        goto invalid;
    PyMem_Free(heap);
    if (x == -1.0 && PyErr_Occurred())
        return NULL;
    return PyFloat_FromDouble(x);
invalid:
    PyMem_Free(heap);
    /* Replaces PyOS_string_to_double's own message (str repr of the core). */
    float_literal_error(s, n);
    return NULL;
}

/* ---- table ---------------------------------------------------------------- */

#define FASTCALL(f) (PyCFunction)(void (*)(void))(f)

PyMethodDef nc_view_transform_methods[] = {
    {"replace", FASTCALL(view_replace), METH_FASTCALL, replace_doc},
    {"lower", (PyCFunction)view_lower, METH_NOARGS, lower_doc},
    {"upper", (PyCFunction)view_upper, METH_NOARGS, upper_doc},
    {"swapcase", (PyCFunction)view_swapcase, METH_NOARGS, swapcase_doc},
    {"capitalize", (PyCFunction)view_capitalize, METH_NOARGS, capitalize_doc},
    {"title", (PyCFunction)view_title, METH_NOARGS, title_doc},
    {"translate", FASTCALL(view_translate), METH_FASTCALL | METH_KEYWORDS, translate_doc},
    {"expandtabs", FASTCALL(view_expandtabs), METH_FASTCALL | METH_KEYWORDS, expandtabs_doc},
    {"center", FASTCALL(view_center), METH_FASTCALL, center_doc},
    {"ljust", FASTCALL(view_ljust), METH_FASTCALL, ljust_doc},
    {"rjust", FASTCALL(view_rjust), METH_FASTCALL, rjust_doc},
    {"zfill", (PyCFunction)view_zfill, METH_O, zfill_doc},
    {"join", (PyCFunction)view_join, METH_O, join_doc},
    {"to_int", FASTCALL(view_to_int), METH_FASTCALL | METH_KEYWORDS, to_int_doc},
    {"to_float", (PyCFunction)view_to_float, METH_NOARGS, to_float_doc},
    {NULL},
};
