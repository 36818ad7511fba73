/* json_numbers.c -- the general cases of ints and floats as JSON text
 * (beyond 64 bits, nan/inf, no room left) and the batch writer of floats in
 * a row; the inline fast paths the walk takes for most numbers are in
 * json_numbers.h. */
#include "json_numbers.h"

/* ---- integers ------------------------------------------------------------- */

static const char DIGITS2[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

static inline int
u64_digits(uint64_t v)
{
    /* A few compares instead of divisions: most ints are short. */
    if (v < 10000) {
        if (v < 100)
            return v < 10 ? 1 : 2;
        return v < 1000 ? 3 : 4;
    }
    if (v < 100000000ULL) {
        if (v < 1000000)
            return v < 100000 ? 5 : 6;
        return v < 10000000 ? 7 : 8;
    }
    int n = 8;
    v /= 100000000ULL;
    while (v >= 100) {
        v /= 100;
        n += 2;
    }
    return n + (v >= 10 ? 2 : 1);
}

/* Decimal text of v at out (at least 20 bytes); returns the end.  Written
 * back to front in place, two digits per step.  Only for ints in
 * (INT64_MAX, UINT64_MAX]; numfmt's nc_format_int64 does the signed range. */
static char *
fmt_u64(char *out, uint64_t v)
{
    char *end = out + u64_digits(v), *q = end;
    while (v >= 100) {
        unsigned idx = (unsigned)(v % 100) * 2;
        v /= 100;
        q -= 2;
        q[0] = DIGITS2[idx];
        q[1] = DIGITS2[idx + 1];
    }
    if (v >= 10) {
        q[-2] = DIGITS2[v * 2];
        q[-1] = DIGITS2[v * 2 + 1];
    }
    else {
        q[-1] = (char)('0' + v);
    }
    return end;
}

/* Integer text, optionally in quotes (dict keys).  The general case; the
 * inline enc_int (json_numbers.h) takes the common small ints. */
int
nc_json_enc_int_slow(nc_jenc *e, PyObject *o, int quoted)
{
    nc_jw *w = e->w;
    char tmp[24], *out, *end;
    int overflow = 0;
    long long v;
    if (!int_compact_value(o, &v))
        v = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (overflow == 0) {
        if (v == -1 && PyErr_Occurred())
            return -1;
        out = nc_jw_room(w) >= (Py_ssize_t)sizeof tmp ? w->p : tmp;
        end = out;
        if (quoted)
            *end++ = '"';
        end += nc_format_int64((int64_t)v, end);
    }
    else {
        unsigned long long u = overflow > 0 ? PyLong_AsUnsignedLongLong(o) : (unsigned long long)-1;
        if (overflow < 0 || (u == (unsigned long long)-1 && PyErr_Occurred())) {
            /* Beyond 64 bits: int.__repr__ makes the text (one str), as the
             * stdlib does; it also enforces the int max-str-digits limit. */
            PyErr_Clear();
            /* The conversion checks for signals as it goes (and on 3.12+
             * may collect, or call into _pylong), so Python code can run
             * inside it: o is held (its container's reference may go), and
             * the saved bytes past the text are put back first, as before
             * any Python code. */
            Py_INCREF(o);
            nc_jw_restore_tail(w);
            PyObject *s = PyLong_Type.tp_repr(o);
            nc_jw_release(w, o);
            if (s == NULL)
                return -1;
            int rc = (quoted && nc_jw_byte(w, '"') < 0) ||
                     nc_jw_write(w, (const char *)PyUnicode_DATA(s), PyUnicode_GET_LENGTH(s)) < 0 ||
                     (quoted && nc_jw_byte(w, '"') < 0) ? -1 : 0;
            Py_DECREF(s);
            return rc;
        }
        out = nc_jw_room(w) >= (Py_ssize_t)sizeof tmp ? w->p : tmp;
        end = out;
        if (quoted)
            *end++ = '"';
        end = fmt_u64(end, u);
    }
    if (quoted)
        *end++ = '"';
    if (out == w->p) {
        w->p = end;
        return 0;
    }
    return nc_jw_write(w, tmp, end - tmp);
}

/* ---- floats --------------------------------------------------------------- */

static void
raise_out_of_range(PyObject *o)
{
#if PY_VERSION_HEX >= 0x030C0000
    PyErr_Format(PyExc_ValueError, "Out of range float values are not JSON compliant: %R", o);
#else
    (void)o;
    PyErr_SetString(PyExc_ValueError, "Out of range float values are not JSON compliant");
#endif
}

/* float.__repr__ text of o's value (subclasses' own __repr__ is ignored, as
 * in the stdlib), or NaN/Infinity/-Infinity per allow_nan. */
int
nc_json_enc_float_slow(nc_jenc *e, PyObject *o, int quoted)
{
    nc_jw *w = e->w;
    double x = PyFloat_AS_DOUBLE(o);
    if (!isfinite(x)) {
        if (!e->allow_nan) {
            raise_out_of_range(o);
            return -1;
        }
        const char *t = isnan(x) ? "\"NaN\"" : x > 0 ? "\"Infinity\"" : "\"-Infinity\"";
        size_t n = strlen(t);
        return quoted ? nc_jw_write(w, t, (Py_ssize_t)n) : nc_jw_write(w, t + 1, (Py_ssize_t)n - 2);
    }
    char tmp[NC_DOUBLE_ROOM + 2];
    char *out = w->mode == NC_JW_GROW && nc_jw_room(w) >= (Py_ssize_t)sizeof tmp ? w->p : tmp;
    char *end = out;
    if (quoted)
        *end++ = '"';
    int n = nc_format_double(x, end);
    if (n <= 0) {
        PyErr_NoMemory();
        return -1;
    }
    end += n;
    if (quoted)
        *end++ = '"';
    if (out == w->p) {
        w->p = end;
        return 0;
    }
    return nc_jw_write(w, tmp, end - tmp);
}

Py_ssize_t
nc_json_enc_float_items(nc_jenc *e, PyObject *const *items, Py_ssize_t i, Py_ssize_t n, char sep)
{
    nc_jw *w = e->w;
    const int exact = w->mode == NC_JW_FIXED && !w->overflowed;
    double x[NC_FLOAT_BATCH];
    char tmp[NC_FLOAT_BATCH * NC_FLOAT_TEXT + NC_DOUBLE_ROOM];
    for (;;) {
        Py_ssize_t cap = nc_json_batch_cap(w, exact, NC_FLOAT_TEXT, NC_FLOAT_BATCH, n - i);
        int k = 0;
        for (; k < cap; k++) {
            PyObject *o = items[i + k];
            if (Py_TYPE(o) != &PyFloat_Type || !isfinite(PyFloat_AS_DOUBLE(o)))
                break;
            x[k] = PyFloat_AS_DOUBLE(o);
        }
        if (k == 0)
            return i;
        if (exact) {
            char *end = nc_format_doubles(x, k, sep, i > 0, tmp, &w->float_run);
            copy_exact(w->p, tmp, (size_t)(end - tmp));
            w->p += end - tmp;
        }
        else {
            w->p = nc_format_doubles(x, k, sep, i > 0, w->p, &w->float_run);
        }
        i += k;
        if (k < cap || i == n)
            return i;
    }
}
