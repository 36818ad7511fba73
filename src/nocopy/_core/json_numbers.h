/* json_numbers.h -- ints and floats as JSON text, for the encoder's walk
 * (json_encode.c).  The fast paths are inline here, because the walk calls
 * them for every number; the general cases (big ints, nan/inf, no room)
 * and the float batch writer are in json_numbers.c. */
#ifndef NOCOPY_JSON_NUMBERS_H
#define NOCOPY_JSON_NUMBERS_H

#include "json.h"
#include "numfmt.h"

#include <math.h>

/* The general cases of enc_int and enc_float (json_numbers.c). */
int nc_json_enc_int_slow(nc_jenc *e, PyObject *o, int quoted);
int nc_json_enc_float_slow(nc_jenc *e, PyObject *o, int quoted);

/* The value of an int that fits one machine word (compact: at most two
 * 30-bit digits on 3.11) in *v, and 1; 0 for a larger one. */
static inline int
int_compact_value(PyObject *o, long long *v)
{
#if PY_VERSION_HEX >= 0x030C0000
    if (!PyUnstable_Long_IsCompact((PyLongObject *)o))
        return 0;
    *v = (long long)PyUnstable_Long_CompactValue((PyLongObject *)o);
    return 1;
#else
    Py_ssize_t size = Py_SIZE(o);
    if ((size_t)(size + 1) <= 2) {
        *v = size * (long long)((PyLongObject *)o)->ob_digit[0];
        return 1;
    }
    if ((size_t)(size + 2) <= 4) {
        const digit *dg = ((PyLongObject *)o)->ob_digit;
        long long m = (long long)(((uint64_t)dg[1] << PyLong_SHIFT) | dg[0]);
        *v = size < 0 ? -m : m;
        return 1;
    }
    return 0;
#endif
}

/* Fast path: an int that fits one machine word (compact: at most two
 * 30-bit digits on 3.11) written straight into a room that holds any
 * int64 text. */
static inline int
enc_int(nc_jenc *e, PyObject *o, int quoted)
{
    nc_jw *w = e->w;
    long long v;
    if (nc_jw_room(w) < 24 || !int_compact_value(o, &v))
        return nc_json_enc_int_slow(e, o, quoted);
    char *p = w->p;
    if (quoted)
        *p++ = '"';
    p += nc_format_int64((int64_t)v, p);
    if (quoted)
        *p++ = '"';
    w->p = p;
    return 0;
}

/* Fast path: a finite double formatted straight into a room that holds
 * any double's text. */
static inline int
enc_float(nc_jenc *e, PyObject *o, int quoted)
{
    nc_jw *w = e->w;
    double x = PyFloat_AS_DOUBLE(o);
    if (!isfinite(x) || nc_jw_room(w) < NC_DOUBLE_ROOM + 2)
        return nc_json_enc_float_slow(e, o, quoted);
    char *p = w->p;
    if (quoted)
        *p++ = '"';
    if (w->mode != NC_JW_FIXED || w->overflowed) {
        /* our own memory (dumps()'s bytes object, dump()'s chunk, the
         * counting scratch): the room past the text is scratch */
        p += nc_format_double_run(x, p, &w->float_run);
    }
    else if (nc_jw_room(w) >= NC_DOUBLE_ROOM + 2 + NC_JW_TAIL) {
        /* the caller's: what lies past the text is saved first */
        nc_jw_guard_tail(w, p);
        p += nc_format_double_run(x, p, &w->float_run);
    }
    else {
        p += nc_format_double_exact(x, p);   /* near its end */
    }
    if (quoted)
        *p++ = '"';
    w->p = p;
    return 0;
}

/* Exactly n >= 1 bytes from src to dst (no byte past dst + n touched):
 * fixed-size copies, overlapping at the end.  For the texts of a float
 * batch, a GeoJSON pair's 30 bytes or so: memcpy of a length known only at
 * run time is a call into libc (6% of a GeoJSON document in dumps_into). */
static inline void
copy_exact(char *dst, const char *src, size_t n)
{
    if (n >= 16) {
        for (size_t i = 0; i + 16 < n; i += 16)
            memcpy(dst + i, src + i, 16);
        memcpy(dst + n - 16, src + n - 16, 16);
    }
    else if (n >= 8) {
        memcpy(dst, src, 8);
        memcpy(dst + n - 8, src + n - 8, 8);
    }
    else if (n >= 4) {
        memcpy(dst, src, 4);
        memcpy(dst + n - 4, src + n - 4, 4);
    }
    else {
        dst[0] = src[0];
        dst[n >> 1] = src[n >> 1];
        dst[n - 1] = src[n - 1];
    }
}

/* How many items of at most `text` bytes a batch formatter may write now:
 * as many as the room holds -- in memory of our own (not `exact`) less the
 * scratch the formatter uses past the last text -- but at most `batch` and
 * the `left` there are.  The float batches and the coordinate groups
 * (json_encode.c) both size their rounds by it. */
static inline Py_ssize_t
nc_json_batch_cap(const nc_jw *w, int exact, Py_ssize_t text, Py_ssize_t batch, Py_ssize_t left)
{
    Py_ssize_t room = nc_jw_room(w) - (exact ? 0 : NC_DOUBLE_ROOM);
    Py_ssize_t cap = room > 0 ? room / text : 0;
    if (cap > batch)
        cap = batch;
    return cap < left ? cap : left;
}

/* Floats in a row among a compact list's items[i..n): their values are
 * gathered (exact floats, finite) NC_FLOAT_BATCH at a time and formatted
 * by one call each, with their one-byte separators (before every item but
 * the list's first).  In memory of our own the texts go straight to the
 * write position, whose room holds the longest texts and the scratch past
 * them; in the caller's (dumps_into) they are formatted into a local array
 * and copied, exactly: no byte past them is touched, so nothing is saved.
 * Returns the index of the first item not written: a float that needs the
 * general path (no room left, nan/inf) or anything else.  Runs no Python
 * code. */
#define NC_FLOAT_BATCH 16
#define NC_FLOAT_TEXT (NC_DOUBLE_MAX_CHARS + 1)
Py_ssize_t nc_json_enc_float_items(nc_jenc *e, PyObject *const *items, Py_ssize_t i, Py_ssize_t n,
                                   char sep);

#endif
