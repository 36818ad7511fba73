/* json_encode.c -- the JSON encoder: values and containers straight into the
 * destination memory, and the three entry points behind nocopy.json
 * (dumps_into, dumps, and the streaming core of dump).
 *
 * Ownership rules:
 * - The destination is pinned for the whole call: dumps_into holds a
 *   writable buffer export of it (a bytearray under it cannot be resized by
 *   a `default` callback: CPython raises BufferError), dump holds a holder of
 *   its chunk buffer, dumps owns its growing bytes object.  Nothing is ever
 *   written before the start offset.
 * - Containers are walked with a strong reference to every key, value and
 *   item while it is encoded, because `default` or a stream sink is Python
 *   code that may mutate them.  Lists are re-measured before each item (the
 *   stdlib's behaviour: a list shrunk by `default` just ends early); an exact
 *   dict is walked with PyDict_Next and a size change raises RuntimeError
 *   like iterating it in Python would (the stdlib iterates over a snapshot of
 *   the items instead, which costs a list per dict; that one difference is
 *   documented).  Dict subclasses and sort_keys go through a list of items,
 *   exactly as the stdlib does (subclass .items() is honoured).
 * - Circular detection keeps the chain of containers being encoded in a
 *   small stack (no id() ints, no dict): a cycle can only go through an
 *   ancestor.  Deep nesting is bounded by Py_EnterRecursiveCall.
 * - Allocations in the steady state: none, except for ints beyond 64 bits
 *   (their decimal text comes from int.__repr__), sort_keys and dict
 *   subclasses (a list of items), and nesting deeper than 32 with
 *   check_circular (the ancestor stack moves to the heap). */
#include "json.h"
#include "dictiter.h"
#include "buffer.h"
#include "numfmt.h"
#include "json_utf8.h"

#include <math.h>

/* ---- writer slow paths ---------------------------------------------------- */

int
nc_jw_flush(nc_jw *w)
{
    switch (w->mode) {
    case NC_JW_FIXED:
        /* The destination is full: keep encoding into scratch to learn the
         * exact size needed, recycling scratch as it fills. */
        w->flushed += w->p - w->base;
        w->overflowed = 1;
        w->base = w->p = w->scratch;
        w->end = w->scratch + NC_JW_SCRATCH;
        return 0;
    case NC_JW_GROW: {
        Py_ssize_t used = w->p - w->base, cap = w->end - w->base;
        if (cap > PY_SSIZE_T_MAX / 2) {
            PyErr_NoMemory();
            return -1;
        }
        Py_ssize_t ncap = cap < 16384 ? 16384 : cap * 2;
        if (w->grow == NULL) {
#ifndef Py_GIL_DISABLED
            Py_ssize_t hint = w->st->json_dumps_hint;   /* see NC_JW_HINT_MAX */
            if (hint > ncap) {
                w->grow = PyBytes_FromStringAndSize(NULL, hint);
                if (w->grow != NULL)
                    ncap = hint;
                else if (PyErr_ExceptionMatches(PyExc_MemoryError))
                    PyErr_Clear();   /* the last document's size is only a guess */
                else
                    return -1;
            }
#endif
            if (w->grow == NULL && (w->grow = PyBytes_FromStringAndSize(NULL, ncap)) == NULL)
                return -1;
            memcpy(PyBytes_AS_STRING(w->grow), w->base, (size_t)used);
        }
        else if (_PyBytes_Resize(&w->grow, ncap) < 0) {
            return -1;  /* grow is NULL now, the old storage freed */
        }
        w->base = PyBytes_AS_STRING(w->grow);
        w->p = w->base + used;
        w->end = w->base + ncap;
        return 0;
    }
    default: {
        Py_ssize_t n = w->p - w->base;
        if (n > 0) {
            PyObject *chunk = (PyObject *)nc_view_new(w->st->ViewType, w->holder, 0, n);
            if (chunk == NULL)
                return -1;
            PyObject *r = PyObject_CallOneArg(w->sink, chunk);
            Py_DECREF(chunk);
            if (r == NULL)
                return -1;
            Py_DECREF(r);
        }
        w->flushed += n;
        w->p = w->base;
        return 0;
    }
    }
}

int
nc_jw_write_slow(nc_jw *w, const char *src, Py_ssize_t n)
{
    while (n > 0) {
        Py_ssize_t room = nc_jw_room(w);
        if (room == 0) {
            if (nc_jw_flush(w) < 0)
                return -1;
            continue;
        }
        Py_ssize_t k = room < n ? room : n;
        memcpy(w->p, src, (size_t)k);
        w->p += k;
        src += k;
        n -= k;
    }
    return 0;
}

int
nc_jw_fill(nc_jw *w, char c, Py_ssize_t n)
{
    while (n > 0) {
        Py_ssize_t room = nc_jw_room(w);
        if (room == 0) {
            if (nc_jw_flush(w) < 0)
                return -1;
            continue;
        }
        Py_ssize_t k = room < n ? room : n;
        memset(w->p, c, (size_t)k);
        w->p += k;
        n -= k;
    }
    return 0;
}

static void
nc_jw_init(nc_jw *w, nc_state *st, int mode)
{
    w->mode = mode;
    w->flushed = 0;
    w->overflowed = 0;
    w->grow = NULL;
    w->sink = NULL;
    w->holder = NULL;
    w->st = st;
    w->defer_surrogates = mode != NC_JW_STREAM;
    w->bad_str = NULL;
    w->bad_pos = 0;
    w->clobbered = NULL;
    w->nsaved = 0;
    w->float_run = 0;
}

/* FIXED: save the never-written bytes a NC_JW_TAIL-byte write at p may
 * reach (p + 2 * NC_JW_TAIL <= end).  They start at p or where the last
 * such write ended, whichever is later: everything before was written. */
static inline void
nc_jw_guard_tail(nc_jw *w, char *p)
{
    char *from = w->clobbered != NULL && w->clobbered > p ? w->clobbered : p;
    nc_jw_save *t = &w->saved[w->nsaved++ % NC_JW_SAVES];
    t->at = from;
#if defined(__SSE2__)
    /* three vector moves: GCC turned the memcpy into `rep movs`, whose
     * start-up cost made each float of the ~1 KB document 9 ns slower */
    for (int i = 0; i < NC_JW_TAIL; i += 16)
        _mm_storeu_si128((__m128i *)(t->bytes + i), _mm_loadu_si128((const __m128i *)(from + i)));
#else
    memcpy(t->bytes, from, NC_JW_TAIL);
#endif
    w->clobbered = p + NC_JW_TAIL;
}

/* Put back the saved bytes between the write position and the end of the
 * fixed-size writes (each save holds originals only: it was taken where
 * nothing had been written yet), then drop the saves: bytes past the write
 * position are all as they were, and Python code may change them next.
 * Called when encoding ends, and before Python code runs (`default`, a dict
 * subclass's items() and the key comparisons of sort_keys after it), which
 * may write into the caller's buffer past the write position: put back
 * later, the saves would undo those writes.  Nothing to put back outside
 * FIXED mode (no saves) or once the destination overflowed (the write
 * position is in scratch; the caller gets BufferTooSmall). */
static void
nc_jw_restore_tail(nc_jw *w)
{
    char *end = w->p, *clobbered = w->clobbered;
    unsigned n = w->nsaved < NC_JW_SAVES ? w->nsaved : NC_JW_SAVES;
    if (!w->overflowed && clobbered != NULL && clobbered > end) {
        for (unsigned i = 0; i < n; i++) {
            nc_jw_save *t = &w->saved[i];
            char *from = t->at > end ? t->at : end;
            char *to = t->at + NC_JW_TAIL < clobbered ? t->at + NC_JW_TAIL : clobbered;
            if (to > from)
                memcpy(from, t->bytes + (from - t->at), (size_t)(to - from));
        }
    }
    w->clobbered = NULL;
    w->nsaved = 0;
}

/* After a successful encode: the deferred lone-surrogate error, if any. */
static int
nc_jw_check_surrogate(nc_jw *w)
{
    if (w->bad_str == NULL)
        return 0;
    nc_json_raise_surrogate(w->bad_str, w->bad_pos);
    return -1;
}

static void
nc_jw_dispose(nc_jw *w)
{
    Py_CLEAR(w->grow);
    Py_CLEAR(w->bad_str);
}

/* GROW mode: the document as a bytes object (owned); the writer is empty
 * afterwards. */
static PyObject *
nc_jw_grow_finish(nc_jw *w)
{
    Py_ssize_t used = w->p - w->base;
    if (w->grow == NULL)
        return PyBytes_FromStringAndSize(w->scratch, used);
    PyObject *b = w->grow;
    w->grow = NULL;
#ifndef Py_GIL_DISABLED
    w->st->json_dumps_hint = used <= NC_JW_HINT_MAX ? used : 0;
#endif
    if (_PyBytes_Resize(&b, used) < 0)
        return NULL;
    return b;
}

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


/* ---- the encoder ---------------------------------------------------------- */

#define NC_JSTACK_SMALL 32
#define NC_KC_SLOTS 64          /* key cache slots: one bit each in `used` */
#define NC_KC_TEXT 32           /* longest cached text: '"' key '"' ':' */

/* Key cache (see enc_item): the text "key": of exact str keys written with
 * the compact ':' separator, keyed by the key object; the same object again
 * is one fixed-size copy.  It lives in the module state and outlasts the
 * call, so a dict encoded again and again (the seed's sensor loop) finds its
 * keys there from the second call on.  Every cached key is held (an owned
 * reference), so its address cannot be reused by another str while cached;
 * at most NC_KC_SLOTS short str objects are kept alive that way, released
 * when evicted or when the module is cleared.  No Python code runs between
 * a lookup and the copy of its text, so a nested call (from `default`)
 * using the cache meanwhile is harmless.  Two caches, one per
 * ensure_ascii mode (DEL is written raw without it, as \u007f with it).
 * Off in free-threaded builds. */
struct nc_keycache {
    uint64_t used;                  /* bit i: key[i] holds a key */
    PyObject *key[NC_KC_SLOTS];
    unsigned char len[NC_KC_SLOTS];
    char text[NC_KC_SLOTS][NC_KC_TEXT];
};
typedef struct nc_keycache nc_keycache;

typedef struct {
    nc_jw *w;
    PyObject *defaultfn;            /* borrowed; NULL: none */
    int skipkeys, ensure_ascii, check_circular, allow_nan, sort_keys;
    int indented;
    const char *item_sep;           /* borrowed from a str or static */
    Py_ssize_t item_sep_len;
    const char *key_sep;
    Py_ssize_t key_sep_len;
    const char *indent;             /* UTF-8 of an indent str; NULL: spaces */
    Py_ssize_t indent_len;          /* bytes of indent, or number of spaces */
    Py_ssize_t level;
    PyObject **stack;               /* ancestors (borrowed: each is kept alive
                                     * by its own parent's strong reference) */
    Py_ssize_t depth, stack_cap;
    nc_keycache *kc;                /* the module's, when this call can use it */
    int nest;                       /* containers open, up to NC_NEST_UNCHECKED */
    int kc_insert;                  /* new keys go into the cache */
    Py_ssize_t kc_dicts;            /* dicts started */
    PyObject *stack_small[NC_JSTACK_SMALL];
} nc_jenc;

static int enc_owned(nc_jenc *e, PyObject *o);
static int enc_container(nc_jenc *e, PyObject *o, int is_dict);
static int enc_obj_rest(nc_jenc *e, PyObject *o);

static int grow_markers(nc_jenc *e);

static inline int
push_marker(nc_jenc *e, PyObject *o)
{
    for (Py_ssize_t i = 0; i < e->depth; i++) {
        if (e->stack[i] == o) {
            PyErr_SetString(PyExc_ValueError, "Circular reference detected");
            return -1;
        }
    }
    if (e->depth == e->stack_cap && grow_markers(e) < 0)
        return -1;
    e->stack[e->depth++] = o;
    return 0;
}

static int
grow_markers(nc_jenc *e)
{
    Py_ssize_t ncap = e->stack_cap * 2;
    PyObject **ns;
    if (e->stack == e->stack_small) {
        ns = PyMem_New(PyObject *, ncap);
        if (ns != NULL)
            memcpy(ns, e->stack, sizeof(PyObject *) * (size_t)e->depth);
    }
    else {
        ns = e->stack;
        PyMem_Resize(ns, PyObject *, ncap);
    }
    if (ns == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    e->stack = ns;
    e->stack_cap = ncap;
    return 0;
}

static inline void
pop_marker(nc_jenc *e)
{
    e->depth--;
}

static int
write_newline_indent(nc_jenc *e)
{
    nc_jw *w = e->w;
    if (nc_jw_byte(w, '\n') < 0)
        return -1;
    for (Py_ssize_t i = 0; i < e->level; i++) {
        int rc = e->indent ? nc_jw_write(w, e->indent, e->indent_len)
                           : nc_jw_fill(w, ' ', e->indent_len);
        if (rc < 0)
            return -1;
    }
    return 0;
}

static inline int
write_sep(nc_jw *w, const char *sep, Py_ssize_t len)
{
    if (len == 1)
        return nc_jw_byte(w, sep[0]);
    return nc_jw_write(w, sep, len);
}

static inline int
write_item_sep(nc_jenc *e)
{
    if (write_sep(e->w, e->item_sep, e->item_sep_len) < 0)
        return -1;
    return e->indented ? write_newline_indent(e) : 0;
}

/* Integer text, optionally in quotes (dict keys).  The general case; the
 * inline enc_int below takes the common small ints. */
static int __attribute__((noinline))
enc_int_slow(nc_jenc *e, PyObject *o, int quoted)
{
    nc_jw *w = e->w;
    char tmp[24], *out, *end;
    int overflow = 0;
    long long v;
#if PY_VERSION_HEX >= 0x030C0000
    if (PyUnstable_Long_IsCompact((PyLongObject *)o))
        v = (long long)PyUnstable_Long_CompactValue((PyLongObject *)o);
#else
    /* 3.11: up to two 30-bit digits, read directly (sign in the size). */
    Py_ssize_t size = Py_SIZE(o);
    if ((size_t)(size + 1) <= 2)
        v = size * (long long)((PyLongObject *)o)->ob_digit[0];
    else if ((size_t)(size + 2) <= 4) {
        const digit *dg = ((PyLongObject *)o)->ob_digit;
        v = (long long)(((uint64_t)dg[1] << PyLong_SHIFT) | dg[0]);
        if (size < 0)
            v = -v;
    }
#endif
    else
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
            PyObject *s = PyLong_Type.tp_repr(o);
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

/* Fast path: an int that fits one machine word (compact: at most two
 * 30-bit digits on 3.11) written straight into a room that holds any
 * int64 text. */
static inline int
enc_int(nc_jenc *e, PyObject *o, int quoted)
{
    nc_jw *w = e->w;
    long long v;
    if (nc_jw_room(w) < 24)
        return enc_int_slow(e, o, quoted);
#if PY_VERSION_HEX >= 0x030C0000
    if (!PyUnstable_Long_IsCompact((PyLongObject *)o))
        return enc_int_slow(e, o, quoted);
    v = (long long)PyUnstable_Long_CompactValue((PyLongObject *)o);
#else
    Py_ssize_t size = Py_SIZE(o);
    if ((size_t)(size + 1) <= 2) {
        v = size * (long long)((PyLongObject *)o)->ob_digit[0];
    }
    else if ((size_t)(size + 2) <= 4) {
        const digit *dg = ((PyLongObject *)o)->ob_digit;
        v = (long long)(((uint64_t)dg[1] << PyLong_SHIFT) | dg[0]);
        if (size < 0)
            v = -v;
    }
    else {
        return enc_int_slow(e, o, quoted);
    }
#endif
    char *p = w->p;
    if (quoted)
        *p++ = '"';
    p += nc_format_int64((int64_t)v, p);
    if (quoted)
        *p++ = '"';
    w->p = p;
    return 0;
}

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
static int __attribute__((noinline))
enc_float_slow(nc_jenc *e, PyObject *o, int quoted)
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

/* Fast path: a finite double formatted straight into a room that holds
 * any double's text. */
static inline int
enc_float(nc_jenc *e, PyObject *o, int quoted)
{
    nc_jw *w = e->w;
    double x = PyFloat_AS_DOUBLE(o);
    if (!isfinite(x) || nc_jw_room(w) < NC_DOUBLE_ROOM + 2)
        return enc_float_slow(e, o, quoted);
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
static Py_ssize_t __attribute__((noinline))
enc_float_items(nc_jenc *e, PyObject *const *items, Py_ssize_t i, Py_ssize_t n, char sep)
{
    nc_jw *w = e->w;
    const int exact = w->mode == NC_JW_FIXED && !w->overflowed;
    double x[NC_FLOAT_BATCH];
    char tmp[NC_FLOAT_BATCH * NC_FLOAT_TEXT + NC_DOUBLE_ROOM];
    for (;;) {
        Py_ssize_t room = nc_jw_room(w) - (exact ? 0 : NC_DOUBLE_ROOM);
        Py_ssize_t cap = room > 0 ? room / NC_FLOAT_TEXT : 0;
        if (cap > NC_FLOAT_BATCH)
            cap = NC_FLOAT_BATCH;
        if (cap > n - i)
            cap = n - i;
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
            memcpy(w->p, tmp, (size_t)(end - tmp));
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

/* o (borrowed from its container) under a reference of our own: encoding
 * it may run Python code (`default`, dump()'s sink) that mutates the
 * container and drops the container's reference. */
static int __attribute__((noinline))
enc_value_held(nc_jenc *e, PyObject *o)
{
    Py_INCREF(o);
    PyTypeObject *t = Py_TYPE(o);
    int rc;
    if (t == &PyDict_Type)
        rc = enc_container(e, o, 1);
    else if (t == &PyList_Type || t == &PyTuple_Type)
        rc = enc_container(e, o, 0);
    else if (t == &PyLong_Type)
        rc = enc_int(e, o, 0);
    else if (t == &PyUnicode_Type)
        rc = nc_json_try_ascii(e->w, o, e->ensure_ascii) ? 0 : nc_json_write_str(e->w, o, e->ensure_ascii);
    else if (t == &PyFloat_Type)
        rc = enc_float(e, o, 0);
    else
        rc = enc_obj_rest(e, o);
    Py_DECREF(o);
    return rc;
}

/* The most bytes the leaf o can take in the output (a bound, not the
 * size): a str's char becomes at most 12 bytes (an astral char as two
 * \\uXXXX escapes), a compact int or a float at most 24; 0 for anything
 * that is not a leaf or has no small bound (a big int). */
static inline Py_ssize_t
leaf_bound(PyObject *o)
{
    PyTypeObject *t = Py_TYPE(o);
    if (t == &PyUnicode_Type) {
        Py_ssize_t n = PyUnicode_GET_LENGTH(o);
        return n < PY_SSIZE_T_MAX / 16 ? 12 * n + 2 : 0;
    }
    if (t == &PyFloat_Type)
        return NC_DOUBLE_ROOM + 2;
    if (t == &PyLong_Type) {
#if PY_VERSION_HEX >= 0x030C0000
        return PyUnstable_Long_IsCompact((PyLongObject *)o) ? 24 : 0;
#else
        return (size_t)(Py_SIZE(o) + 2) <= 4 ? 24 : 0;
#endif
    }
    return o == Py_None || o == Py_True || o == Py_False ? 5 : 0;
}

/* 1 when writing the leaf o cannot reach the end of the room.  Only then
 * can dump() (STREAM mode) write it without holding it: the sink, which is
 * Python code, runs only when the room is used up. */
static inline int
fits_unflushed(const nc_jw *w, PyObject *o)
{
    Py_ssize_t b = leaf_bound(o);
    return b > 0 && nc_jw_room(w) > b;
}

/* A dict value or list item, borrowed from its container.  The leaves
 * (exact str, int, float and the three constants) are written without an
 * INCREF/DECREF pair: writing them runs no Python code -- no `default`, no
 * __repr__ of a subclass; the allocations of dumps() make bytes objects,
 * which the GC does not track, so no collection (and no finalizer) can
 * start -- hence nothing can drop the container's reference meanwhile.
 * An error, whose exception object could start one, ends the walk before
 * the value is touched again.  dump()'s sink is Python code that runs
 * whenever the chunk fills: there a leaf goes without a reference only
 * when it fits the room left. */
static inline int
enc_value(nc_jenc *e, PyObject *o)
{
    nc_jw *w = e->w;
    if (w->mode == NC_JW_STREAM && !fits_unflushed(w, o))
        return enc_value_held(e, o);
    PyTypeObject *t = Py_TYPE(o);
    if (t == &PyLong_Type)
        return enc_int(e, o, 0);
    if (t == &PyUnicode_Type)
        return nc_json_try_ascii(w, o, e->ensure_ascii) ? 0 : nc_json_write_str(w, o, e->ensure_ascii);
    if (t == &PyFloat_Type)
        return enc_float(e, o, 0);
    if (o == Py_None)
        return nc_jw_write(w, "null", 4);
    if (o == Py_True)
        return nc_jw_write(w, "true", 4);
    if (o == Py_False)
        return nc_jw_write(w, "false", 5);
    return enc_value_held(e, o);
}

static int
enc_seq(nc_jenc *e, PyObject *seq)
{
    nc_jw *w = e->w;
    int is_list = PyList_Check(seq), rc = -1, pushed = 0;
    if (Py_SIZE(seq) == 0)
        return nc_jw_write(w, "[]", 2);
    if (e->check_circular) {
        if (push_marker(e, seq) < 0)
            return -1;
        pushed = 1;
    }
    if (nc_jw_byte(w, '[') < 0)
        goto done;
    if (e->indented) {
        e->level++;
        if (write_newline_indent(e) < 0)
            goto done;
    }
    /* Py_SIZE re-read every round: `default` may shrink the list.  The
     * one-byte separator in a local: the byte stores of the loop may alias
     * e's fields, which the compiler would reload every round. */
    const int one_sep = !e->indented && e->item_sep_len == 1;
    const char sep = e->item_sep[0];
    for (Py_ssize_t i = 0; i < Py_SIZE(seq); i++) {
        PyObject *item = is_list ? PyList_GET_ITEM(seq, i) : PyTuple_GET_ITEM(seq, i);
        if (one_sep && Py_TYPE(item) == &PyFloat_Type) {
            PyObject *const *items = is_list ? ((PyListObject *)seq)->ob_item
                                             : ((PyTupleObject *)seq)->ob_item;
            i = enc_float_items(e, items, i, Py_SIZE(seq), sep);
            if (i == Py_SIZE(seq))
                break;
            item = items[i];
        }
        if (i > 0 && (one_sep ? nc_jw_byte(w, sep) : write_item_sep(e)) < 0)
            goto done;
        int r = enc_value(e, item);
        if (r < 0)
            goto done;
    }
    if (e->indented) {
        e->level--;
        if (write_newline_indent(e) < 0)
            goto done;
    }
    rc = nc_jw_byte(w, ']');
done:
    if (pushed)
        pop_marker(e);
    return rc;
}

/* One "key": value pair; *first tracks the item separator.  Keys are
 * converted as the stdlib converts them; unsupported keys are skipped with
 * skipkeys, else TypeError.  The general case: enc_item below takes exact
 * str keys of compact documents inline. */
static int __attribute__((noinline))
enc_item_general(nc_jenc *e, PyObject *key, PyObject *value, int *first)
{
    nc_jw *w = e->w;
    int kind;  /* 0 str, 1 float, 2 const, 3 int */
    if (PyUnicode_CheckExact(key) && !e->indented) {
        /* Hot path: str key of a compact document; with one-byte
         * separators (the default) the separator, the quoted key and the
         * colon go out under one room check. */
        int done = 0;
        if (e->item_sep_len == 1 && e->key_sep_len == 1)
            done = nc_json_try_ascii_wrapped(w, key, e->ensure_ascii,
                                             *first ? 0 : e->item_sep[0], e->key_sep[0]);
        if (!done) {
            if (!*first && write_sep(w, e->item_sep, e->item_sep_len) < 0)
                return -1;
            if (!nc_json_try_ascii(w, key, e->ensure_ascii) &&
                nc_json_write_str(w, key, e->ensure_ascii) < 0)
                return -1;
            if (write_sep(w, e->key_sep, e->key_sep_len) < 0)
                return -1;
        }
        *first = 0;
        return enc_value(e, value);
    }
    if (PyUnicode_Check(key))
        kind = 0;
    else if (PyFloat_Check(key))
        kind = 1;
    else if (key == Py_True || key == Py_False || key == Py_None)
        kind = 2;
    else if (PyLong_Check(key))
        kind = 3;
    else if (e->skipkeys)
        return 0;
    else {
        PyErr_Format(PyExc_TypeError, "keys must be str, int, float, bool or None, not %.100s",
                     Py_TYPE(key)->tp_name);
        return -1;
    }
    if (*first)
        *first = 0;
    else if (write_item_sep(e) < 0)
        return -1;
    int rc;
    switch (kind) {
    case 0:
        rc = nc_json_write_str(w, key, e->ensure_ascii);
        break;
    case 1:
        rc = enc_float(e, key, 1);
        break;
    case 2:
        rc = key == Py_True ? nc_jw_write(w, "\"true\"", 6)
             : key == Py_False ? nc_jw_write(w, "\"false\"", 7) : nc_jw_write(w, "\"null\"", 6);
        break;
    default:
        rc = enc_int(e, key, 1);
        break;
    }
    if (rc < 0 || write_sep(w, e->key_sep, e->key_sep_len) < 0)
        return -1;
    return enc_value(e, value);
}

/* Two candidate slots per key, from its str hash (computed for every dict
 * key; the address otherwise): a key goes to the first free one, so two
 * keys that share one slot do not keep evicting each other. */
static inline uint64_t
kc_hash(PyObject *key)
{
    Py_hash_t h = ((PyASCIIObject *)key)->hash;
    return h != -1 ? (uint64_t)h : (uint64_t)(uintptr_t)key >> 4;
}

/* The key's two candidate slots. */
static inline void
kc_slots(uint64_t hv, int *a, int *b)
{
    *a = (int)(hv & (NC_KC_SLOTS - 1));
    *b = (int)((hv >> 6) & (NC_KC_SLOTS - 1));
}

/* The slot holding key, or -1. */
static inline int
kc_find(const nc_keycache *kc, uint64_t hv, PyObject *key)
{
    int a, b;
    kc_slots(hv, &a, &b);
    if (((kc->used >> a) & 1) && kc->key[a] == key)
        return a;
    if (((kc->used >> b) & 1) && kc->key[b] == key)
        return b;
    return -1;
}

/* Exactly n (3..NC_KC_TEXT) bytes from src to dst, as two overlapping
 * fixed-size copies. */
static inline void
copy_short(char *dst, const char *src, size_t n)
{
    if (n >= 16) {
        memcpy(dst, src, 16);
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
        memcpy(dst, src, 3);  /* "": */
    }
}

static void
kc_insert(nc_keycache *kc, uint64_t hv, PyObject *key, const char *text, Py_ssize_t n)
{
    if (n > NC_KC_TEXT)
        return;
    int h, b;
    kc_slots(hv, &h, &b);
    if (((kc->used >> h) & 1) && !((kc->used >> b) & 1))
        h = b;
    /* the key replaced is an exact str: its release runs no Python code */
    PyObject *old = (kc->used >> h) & 1 ? kc->key[h] : NULL;
    kc->key[h] = Py_NewRef(key);
    kc->used |= UINT64_C(1) << h;
    Py_XDECREF(old);
    kc->len[h] = (unsigned char)n;
    memcpy(kc->text[h], text, (size_t)n);
}

void
nc_json_keycache_clear(nc_state *st)
{
    if (st->keycache == NULL)
        return;
    for (int m = 0; m < 2; m++) {
        nc_keycache *kc = st->keycache + m;
        for (int i = 0; i < NC_KC_SLOTS; i++) {
            if ((kc->used >> i) & 1)
                Py_DECREF(kc->key[i]);
        }
        kc->used = 0;
    }
}

/* After nc_json_keycache_clear (module.c's nc_free clears first). */
void
nc_json_keycache_free(nc_state *st)
{
    PyMem_Free(st->keycache);
    st->keycache = NULL;
}

/* A leaf value whose type the caller has checked (enc_dict_items, with
 * dump()'s room checked too, and enc_owned): written without enc_value's
 * second dispatch.
 * The same six cases as enc_value's, written twice on purpose: enc_value
 * calling this instead made GCC inline differently, +4.6% instructions on
 * the ~1 MB document and +4.2% on the float list. */
static inline int
enc_leaf(nc_jenc *e, PyObject *v, PyTypeObject *vt)
{
    nc_jw *w = e->w;
    if (vt == &PyLong_Type)
        return enc_int(e, v, 0);
    if (vt == &PyUnicode_Type)
        return nc_json_try_ascii(w, v, e->ensure_ascii) ? 0 : nc_json_write_str(w, v, e->ensure_ascii);
    if (vt == &PyFloat_Type)
        return enc_float(e, v, 0);
    if (v == Py_None)
        return nc_jw_write(w, "null", 4);
    if (v == Py_True)
        return nc_jw_write(w, "true", 4);
    return nc_jw_write(w, "false", 5);
}

/* key: value; vt is value's type when the caller knows it is a leaf, else
 * NULL. */
static inline int
enc_item(nc_jenc *e, PyObject *key, PyObject *value, int *first, PyTypeObject *vt)
{
    /* Hot path: exact str key, compact document, one-byte separators (the
     * default): separator, quoted key and colon under one room check, or
     * as one copy from the key cache (e->kc is set only for these). */
    nc_keycache *kc = e->kc;
    if (PyUnicode_CheckExact(key) &&
        (kc != NULL || (!e->indented && e->item_sep_len == 1 && e->key_sep_len == 1))) {
        nc_jw *w = e->w;
        int sep = !*first;
        uint64_t hv = 0;
        if (kc != NULL) {
            hv = kc_hash(key);
            int h = kc_find(kc, hv, key);
            if (h >= 0 && nc_jw_room(w) > NC_KC_TEXT) {
                char *p = w->p;
                *p = e->item_sep[0];   /* overwritten by the text when first */
                p += sep;
                copy_short(p, kc->text[h], kc->len[h]);
                w->p = p + kc->len[h];
                *first = 0;
                return vt != NULL ? enc_leaf(e, value, vt) : enc_owned(e, value);
            }
        }
        char *start = w->p;
        if (nc_json_try_ascii_wrapped(w, key, e->ensure_ascii, sep ? e->item_sep[0] : 0,
                                      e->key_sep[0])) {
            if (kc != NULL && e->kc_insert)
                kc_insert(kc, hv, key, start + sep, w->p - start - sep);
            *first = 0;
            return vt != NULL ? enc_leaf(e, value, vt) : enc_owned(e, value);
        }
    }
    return enc_item_general(e, key, value, first);
}

/* dump(): 1 when the item k: v (k an exact str, v a leaf of type vt)
 * cannot reach the end of the room, so no sink call (Python code) can
 * happen while it is written.  leaf_bound's bounds, with the types known:
 * a str char takes at most 12 bytes, a compact int or a float 26 with
 * quotes, a constant 5. */
static inline int
item_fits_unflushed(const nc_jenc *e, PyObject *k, PyObject *v, PyTypeObject *vt)
{
    Py_ssize_t room = nc_jw_room(e->w) - e->item_sep_len - e->key_sep_len - 2;
    if (e->indented) {  /* a newline and the indentation */
        if (e->level > 0 && e->indent_len > PY_SSIZE_T_MAX / 4 / e->level)
            return 0;
        room -= 1 + e->level * e->indent_len;
    }
    size_t chars = (size_t)PyUnicode_GET_LENGTH(k);
    Py_ssize_t vb;
    if (vt == &PyUnicode_Type) {
        chars += (size_t)PyUnicode_GET_LENGTH(v);
        vb = 2;
    }
    else if (vt == &PyLong_Type) {
        vb = leaf_bound(v);
        if (vb == 0)
            return 0;   /* a big int: no small bound */
    }
    else {
        vb = NC_DOUBLE_ROOM + 2;   /* a float, or a constant */
    }
    return room > vb && chars < (size_t)(room - vb) / 12;
}

/* The items of an exact dict in insertion order.  The common item (exact
 * str key, leaf value: see enc_value; in dump() one that fits the room
 * left) runs no Python code, so the direct cursor of dictiter.h stays
 * valid across it and neither object needs a reference of ours.  Any other item may run Python code that mutates the
 * dict: it is held, the size is checked as the stdlib checks it, and the
 * cursor is re-read from the dict's current table. */
static int
enc_dict_items(nc_jenc *e, PyObject *d, int *first)
{
    Py_ssize_t pos = 0, size = PyDict_GET_SIZE(d);
    PyObject *k, *v;
    nc_dict_cursor c;
    int stream = e->w->mode == NC_JW_STREAM;
    int direct = nc_dict_cursor_init(&c, d, 0);
    if (e->kc_dicts++ == 0 && e->w->st->keycache != NULL && !e->indented &&
        e->item_sep_len == 1 && e->key_sep_len == 1 && e->key_sep[0] == ':')
        e->kc = e->w->st->keycache + (e->ensure_ascii != 0);
    /* Keys go into the cache from the second dict on (they are likely to
     * repeat from there) and from a small first dict (which may be the
     * dict of a loop, encoded again next call); a big first dict of one-off
     * keys would only churn it. */
    e->kc_insert = e->kc_dicts > 1 || size <= 32;
    for (;;) {
        if (direct) {
            if (!nc_dict_cursor_next(&c, &k, &v))
                return 0;
            /* a leaf: bool cannot be subclassed, so its type means True
             * or False (one compare for both) */
            PyTypeObject *vt = Py_TYPE(v);
            if (PyUnicode_CheckExact(k) &&
                (vt == &PyLong_Type || vt == &PyUnicode_Type || vt == &PyFloat_Type ||
                 vt == &PyBool_Type || v == Py_None) &&
                (!stream || item_fits_unflushed(e, k, v, vt))) {
                if (enc_item(e, k, v, first, vt) < 0)
                    return -1;
                continue;
            }
        }
        else if (!PyDict_Next(d, &pos, &k, &v)) {
            return 0;
        }
        Py_INCREF(k);
        Py_INCREF(v);
        int r = enc_item(e, k, v, first, NULL);
        Py_DECREF(k);
        Py_DECREF(v);
        if (r < 0)
            return -1;
        if (PyDict_GET_SIZE(d) != size) {
            PyErr_SetString(PyExc_RuntimeError, "dictionary changed size during iteration");
            return -1;
        }
        if (direct)
            direct = nc_dict_cursor_init(&c, d, pos = nc_dict_cursor_pos(&c));
    }
}

static int
enc_dict(nc_jenc *e, PyObject *d)
{
    nc_jw *w = e->w;
    int rc = -1, pushed = 0, first = 1;
    PyObject *items = NULL;
    if (PyDict_GET_SIZE(d) == 0)
        return nc_jw_write(w, "{}", 2);
    if (e->check_circular) {
        if (push_marker(e, d) < 0)
            return -1;
        pushed = 1;
    }
    if (nc_jw_byte(w, '{') < 0)
        goto done;
    if (e->indented) {
        e->level++;
        if (write_newline_indent(e) < 0)
            goto done;
    }
    if (PyDict_CheckExact(d) && !e->sort_keys) {
        if (enc_dict_items(e, d, &first) < 0)
            goto done;
    }
    else {
        nc_jw_restore_tail(w);   /* Python code may run from here */
        items = PyMapping_Items(d);
        if (items == NULL)
            goto done;
        if (e->sort_keys && PyList_Sort(items) < 0)
            goto done;
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(items); i++) {
            PyObject *item = PyList_GET_ITEM(items, i);
            if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2) {
                PyErr_SetString(PyExc_ValueError, "items must return 2-tuples");
                goto done;
            }
            Py_INCREF(item);
            int r = enc_item(e, PyTuple_GET_ITEM(item, 0), PyTuple_GET_ITEM(item, 1), &first, NULL);
            Py_DECREF(item);
            if (r < 0)
                goto done;
        }
    }
    if (e->indented) {
        e->level--;
        if (write_newline_indent(e) < 0)
            goto done;
    }
    rc = nc_jw_byte(w, '}');
done:
    Py_XDECREF(items);
    if (pushed)
        pop_marker(e);
    return rc;
}

static int
enc_default(nc_jenc *e, PyObject *o)
{
    int rc = -1, pushed = 0;
    if (e->defaultfn == NULL) {
        PyObject *name = PyType_GetName(Py_TYPE(o));
        if (name != NULL) {
            PyErr_Format(PyExc_TypeError, "Object of type %U is not JSON serializable", name);
            Py_DECREF(name);
        }
        return -1;
    }
    if (e->check_circular) {
        if (push_marker(e, o) < 0)
            return -1;
        pushed = 1;
    }
    nc_jw_restore_tail(e->w);   /* Python code runs next */
    PyObject *newobj = PyObject_CallOneArg(e->defaultfn, o);
    if (newobj == NULL)
        goto done;
    if (Py_EnterRecursiveCall(" while encoding a JSON object") == 0) {
        rc = enc_owned(e, newobj);
        Py_LeaveRecursiveCall();
    }
    Py_DECREF(newobj);
done:
    if (pushed)
        pop_marker(e);
    return rc;
}

/* The first NC_NEST_UNCHECKED levels of containers skip CPython's recursion
 * check (two calls into libpython per container, 3.5% of the ~1 MB
 * document of make bench): the C stack they take is bounded, and deeper
 * levels are checked as usual, so nesting past the recursion limit (plus
 * those few levels) still raises RecursionError. */
#define NC_NEST_UNCHECKED 4

static int
enc_container(nc_jenc *e, PyObject *o, int is_dict)
{
    int rc;
    if (e->nest < NC_NEST_UNCHECKED) {
        e->nest++;
        rc = is_dict ? enc_dict(e, o) : enc_seq(e, o);
        e->nest--;
        return rc;
    }
    if (Py_EnterRecursiveCall(" while encoding a JSON object"))
        return -1;
    rc = is_dict ? enc_dict(e, o) : enc_seq(e, o);
    Py_LeaveRecursiveCall();
    return rc;
}

/* Everything but the exact str, int and float that enc_value takes: exact
 * containers and singletons (one compare each), then the stdlib's order for
 * subclasses. */
static int
enc_obj_rest(nc_jenc *e, PyObject *o)
{
    PyTypeObject *t = Py_TYPE(o);
    if (t == &PyDict_Type)
        return enc_container(e, o, 1);
    if (t == &PyList_Type || t == &PyTuple_Type)
        return enc_container(e, o, 0);
    if (o == Py_None)
        return nc_jw_write(e->w, "null", 4);
    if (o == Py_True)
        return nc_jw_write(e->w, "true", 4);
    if (o == Py_False)
        return nc_jw_write(e->w, "false", 5);
    if (PyUnicode_Check(o))
        return nc_json_write_str(e->w, o, e->ensure_ascii);
    if (PyLong_Check(o))
        return enc_int(e, o, 0);
    if (PyFloat_Check(o))
        return enc_float(e, o, 0);
    if (PyList_Check(o) || PyTuple_Check(o))
        return enc_container(e, o, 0);
    if (PyDict_Check(o))
        return enc_container(e, o, 1);
    return enc_default(e, o);
}

/* An object kept alive by someone else than a container being walked (the
 * caller's argument, the result of `default`): nothing to hold. */
static int
enc_owned(nc_jenc *e, PyObject *o)
{
    PyTypeObject *t = Py_TYPE(o);
    if (t == &PyLong_Type || t == &PyUnicode_Type || t == &PyFloat_Type)
        return enc_leaf(e, o, t);
    if (t == &PyList_Type || t == &PyTuple_Type)
        return enc_container(e, o, 0);
    return enc_obj_rest(e, o);
}

/* ---- options ---------------------------------------------------------------- */

typedef struct {
    PyObject *indent;      /* borrowed, NULL: None */
    PyObject *separators;  /* borrowed, NULL: None */
} nc_jopt_raw;

static void
enc_init(nc_jenc *e, nc_jw *w)
{
    /* field by field: a memset of the header compiles to `rep stos`, whose
     * start-up cost was a tenth of a small document's encode */
    e->w = w;
    e->defaultfn = NULL;
    e->skipkeys = e->ensure_ascii = e->sort_keys = e->indented = 0;
    e->check_circular = 1;
    e->allow_nan = 1;
    e->item_sep = e->key_sep = e->indent = NULL;
    e->item_sep_len = e->key_sep_len = e->indent_len = 0;
    e->level = 0;
    e->stack = e->stack_small;
    e->depth = 0;
    e->stack_cap = NC_JSTACK_SMALL;
    e->kc = NULL;
    e->kc_insert = 0;
    e->kc_dicts = 0;
    e->nest = 0;
}

static void
enc_dispose(nc_jenc *e)
{
    if (e->stack != e->stack_small)
        PyMem_Free(e->stack);
    e->stack = e->stack_small;
}

static int
set_flag(int *flag, PyObject *v)
{
    int b = PyObject_IsTrue(v);
    if (b < 0)
        return -1;
    *flag = b;
    return 0;
}

/* Store one keyword option: 1 when the name is an option, 0 when it is not
 * (the caller raises), -1 on a bad value. */
static int
set_option(nc_jenc *e, nc_jopt_raw *raw, PyObject *name, PyObject *v)
{
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(name, &n);
    if (s == NULL)
        return -1;
#define IS(lit) (n == (Py_ssize_t)sizeof(lit) - 1 && memcmp(s, lit, sizeof(lit) - 1) == 0)
    if (IS("ensure_ascii"))
        return set_flag(&e->ensure_ascii, v) < 0 ? -1 : 1;
    if (IS("sort_keys"))
        return set_flag(&e->sort_keys, v) < 0 ? -1 : 1;
    if (IS("indent")) {
        raw->indent = v == Py_None ? NULL : v;
        return 1;
    }
    if (IS("separators")) {
        raw->separators = v == Py_None ? NULL : v;
        return 1;
    }
    if (IS("default")) {
        if (v != Py_None && !PyCallable_Check(v)) {
            PyErr_Format(PyExc_TypeError, "default must be callable or None, not %.100s",
                         Py_TYPE(v)->tp_name);
            return -1;
        }
        e->defaultfn = v == Py_None ? NULL : v;
        return 1;
    }
    if (IS("skipkeys"))
        return set_flag(&e->skipkeys, v) < 0 ? -1 : 1;
    if (IS("check_circular"))
        return set_flag(&e->check_circular, v) < 0 ? -1 : 1;
    if (IS("allow_nan"))
        return set_flag(&e->allow_nan, v) < 0 ? -1 : 1;
#undef IS
    return 0;
}

static int
sep_utf8(PyObject *s, const char **out, Py_ssize_t *len)
{
    if (!PyUnicode_Check(s)) {
        PyErr_Format(PyExc_TypeError, "separators must be a pair of str, not %.100s",
                     Py_TYPE(s)->tp_name);
        return -1;
    }
    *out = PyUnicode_AsUTF8AndSize(s, len);
    return *out == NULL ? -1 : 0;
}

/* Resolve indent and separators once the keywords are all seen. */
static int
finish_options(nc_jenc *e, nc_jopt_raw *raw)
{
    PyObject *ind = raw->indent, *sep = raw->separators;
    if (ind != NULL) {
        e->indented = 1;
        if (PyLong_Check(ind)) {
            Py_ssize_t k = PyLong_AsSsize_t(ind);
            if (k == -1 && PyErr_Occurred())
                return -1;
            e->indent = NULL;
            e->indent_len = k < 0 ? 0 : k;  /* ' ' * -1 == '' */
        }
        else if (PyUnicode_Check(ind)) {
            e->indent = PyUnicode_AsUTF8AndSize(ind, &e->indent_len);
            if (e->indent == NULL)
                return -1;
        }
        else {
            PyErr_Format(PyExc_TypeError, "indent must be None, an int or a str, not %.100s",
                         Py_TYPE(ind)->tp_name);
            return -1;
        }
    }
    if (sep != NULL) {
        if (!PyTuple_Check(sep) && !PyList_Check(sep)) {
            PyErr_Format(PyExc_TypeError,
                         "separators must be a (item_separator, key_separator) tuple, not %.100s",
                         Py_TYPE(sep)->tp_name);
            return -1;
        }
        if (PySequence_Fast_GET_SIZE(sep) != 2) {
            PyErr_Format(PyExc_ValueError, "separators must have 2 items, not %zd",
                         PySequence_Fast_GET_SIZE(sep));
            return -1;
        }
        if (sep_utf8(PySequence_Fast_GET_ITEM(sep, 0), &e->item_sep, &e->item_sep_len) < 0 ||
            sep_utf8(PySequence_Fast_GET_ITEM(sep, 1), &e->key_sep, &e->key_sep_len) < 0)
            return -1;
    }
    else {
        /* nocopy's compact default; with indent, json.dumps' (",", ": "). */
        e->item_sep = ",";
        e->item_sep_len = 1;
        e->key_sep = e->indented ? ": " : ":";
        e->key_sep_len = e->indented ? 2 : 1;
    }
    return 0;
}

/* The options of a call without keywords (what finish_options resolves to
 * then), without its generic work: dumps(obj) is the hot call. */
static inline void
default_options(nc_jenc *e)
{
    e->item_sep = ",";
    e->item_sep_len = 1;
    e->key_sep = ":";
    e->key_sep_len = 1;
}

/* Keywords of a FASTCALL call: options, plus `offset` when offset_out is
 * given.  Raises TypeError for unknown or repeated names. */
static int
parse_keywords(const char *fname, nc_jenc *e, PyObject *const *kwvalues, PyObject *kwnames,
               PyObject **offset_out)
{
    nc_jopt_raw raw = {NULL, NULL};
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    for (Py_ssize_t i = 0; i < nkw; i++) {
        PyObject *name = PyTuple_GET_ITEM(kwnames, i);
        if (offset_out != NULL && PyUnicode_CompareWithASCIIString(name, "offset") == 0) {
            if (*offset_out != NULL) {
                PyErr_Format(PyExc_TypeError, "%s() got multiple values for argument 'offset'", fname);
                return -1;
            }
            *offset_out = kwvalues[i];
            continue;
        }
        int r = set_option(e, &raw, name, kwvalues[i]);
        if (r < 0)
            return -1;
        if (r == 0) {
            PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%U'", fname, name);
            return -1;
        }
    }
    return finish_options(e, &raw);
}

/* ---- entry points ------------------------------------------------------------ */

static int
raise_too_small(nc_state *st, Py_ssize_t needed, Py_ssize_t have)
{
    PyObject *msg = PyUnicode_FromFormat(
        "JSON document does not fit: the buffer needs %zd bytes, it has %zd", needed, have);
    if (msg == NULL)
        return -1;
    nc_raise_new(st->BufferTooSmall, "(On)", msg, needed);
    Py_DECREF(msg);
    return -1;
}

/* Encode obj into [dst + offset, dst + len).  Returns the document length,
 * or -1 with an exception; *overflow set when it did not fit (the length is
 * then still exact). */
static Py_ssize_t
encode_fixed(nc_jenc *e, nc_jw *w, PyObject *obj, char *dst, Py_ssize_t len, Py_ssize_t offset,
             int *overflow)
{
    w->mode = NC_JW_FIXED;
    w->base = w->p = dst + offset;
    w->end = dst + len;
    /* the common top level, a dict, straight to its container walk */
    int rc = Py_TYPE(obj) == &PyDict_Type ? enc_container(e, obj, 1) : enc_owned(e, obj);
    nc_jw_restore_tail(w);
    if (rc < 0 || nc_jw_check_surrogate(w) < 0)
        return -1;
    *overflow = w->overflowed;
    return nc_jw_total(w);
}

static Py_ssize_t
parse_offset(PyObject *o)
{
    if (o == NULL)
        return 0;
    Py_ssize_t off = PyNumber_AsSsize_t(o, PyExc_OverflowError);
    if (off == -1 && PyErr_Occurred())
        return -1;
    if (off < 0) {
        PyErr_SetString(PyExc_ValueError, "offset must be >= 0");
        return -1;
    }
    return off;
}

/* dumps_into for an object with writable() and commit(n): encode into its
 * free space, commit what was written.  For nocopy's own ByteBuffer the
 * buffer is marked busy while encoding, so a `default` callback that tries
 * to write into, compact or clear it gets RuntimeError instead of racing
 * with the bytes being encoded; the commit then goes straight through
 * buffer.h. */
static PyObject *
dumps_into_committing(nc_state *st, nc_jenc *e, nc_jw *w, PyObject *obj, PyObject *bb,
                      Py_ssize_t offset)
{
    Py_buffer view;
    int overflow = 0;
    NcByteBuffer *own = NULL;
    if (offset != 0) {
        PyErr_SetString(PyExc_ValueError,
                        "offset must be 0 when writing into a ByteBuffer's free space");
        return NULL;
    }
    if (st->ByteBufferType != NULL && PyObject_TypeCheck(bb, st->ByteBufferType)) {
        own = (NcByteBuffer *)bb;
        if (own->busy) {
            PyErr_SetString(PyExc_RuntimeError,
                            "ByteBuffer is busy (a fill or a dumps_into is running on it)");
            return NULL;
        }
    }
    PyObject *space = PyObject_CallMethodNoArgs(bb, st->str_writable);
    if (space == NULL)
        return NULL;
    int got = PyObject_GetBuffer(space, &view, PyBUF_WRITABLE);
    Py_DECREF(space);
    if (got < 0)
        return NULL;
    if (own != NULL)
        own->busy = 1;
    Py_ssize_t n = encode_fixed(e, w, obj, view.buf, view.len, 0, &overflow);
    if (own != NULL)
        own->busy = 0;
    Py_ssize_t have = view.len;
    PyBuffer_Release(&view);  /* before commit: the owner may check exports */
    if (n < 0)
        return NULL;
    if (overflow) {
        raise_too_small(st, n, have);
        return NULL;
    }
    if (own != NULL) {
        nc_bytebuffer_commit(own, n);
    }
    else {
        PyObject *nobj = PyLong_FromSsize_t(n);
        if (nobj == NULL)
            return NULL;
        PyObject *r = PyObject_CallMethodOneArg(bb, st->str_commit, nobj);
        Py_DECREF(nobj);
        if (r == NULL)
            return NULL;
        Py_DECREF(r);
    }
    return PyLong_FromSsize_t(n);
}

PyDoc_STRVAR(dumps_into_doc,
"json_dumps_into($module, obj, buf, /, offset=0, **options)\n--\n\n"
"Write obj as JSON (UTF-8) into the writable buffer buf at offset and return\n"
"the end offset.  O(document): no intermediate str or bytes is made.\n"
"buf: bytearray, writable memoryview, View (its window), mmap, array, or an\n"
"object with writable() and commit(n) (a ByteBuffer: offset must be 0, the\n"
"return value is the number of bytes committed).  When the document does not\n"
"fit, BufferTooSmall is raised with .needed = offset + document length (the\n"
"smallest len(buf) that fits); bytes before offset are untouched, bytes from\n"
"offset on may have been overwritten.");

static PyObject *
json_dumps_into(PyObject *module, PyObject *const *args, Py_ssize_t nargsf, PyObject *kwnames)
{
    nc_state *st = (nc_state *)PyModule_GetState(module);
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    PyObject *offset_obj = NULL, *result = NULL;
    nc_jw w;
    nc_jenc e;
    Py_buffer view;
    int overflow = 0;
    if (nargs < 2 || nargs > 3) {
        PyErr_Format(PyExc_TypeError, "dumps_into() takes 2 or 3 positional arguments (%zd given)",
                     nargs);
        return NULL;
    }
    if (nargs == 3)
        offset_obj = args[2];
    nc_jw_init(&w, st, NC_JW_FIXED);
    enc_init(&e, &w);
    if (kwnames != NULL && parse_keywords("dumps_into", &e, args + nargs, kwnames, &offset_obj) < 0)
        goto done;
    if (kwnames == NULL) {
        e.item_sep = ",";
        e.item_sep_len = 1;
        e.key_sep = ":";
        e.key_sep_len = 1;
    }
    Py_ssize_t offset = parse_offset(offset_obj);
    if (offset < 0)
        goto done;
    PyObject *buf = args[1];
    /* A ByteBuffer exports its *readable* bytes through the buffer protocol;
     * what dumps_into fills is its free space: check for it first. */
    if (!PyByteArray_CheckExact(buf) && st->ByteBufferType != NULL &&
        PyObject_TypeCheck(buf, st->ByteBufferType)) {
        result = dumps_into_committing(st, &e, &w, args[0], buf, offset);
        goto done;
    }
    if (!PyByteArray_CheckExact(buf) && !PyObject_CheckBuffer(buf)) {
        if (PyObject_HasAttr(buf, st->str_writable) && PyObject_HasAttr(buf, st->str_commit)) {
            result = dumps_into_committing(st, &e, &w, args[0], buf, offset);
            goto done;
        }
        PyErr_Format(PyExc_TypeError, "dumps_into() argument 'buf' must be a writable buffer, not %.100s",
                     Py_TYPE(buf)->tp_name);
        goto done;
    }
    char *dst;
    Py_ssize_t have;
    PyByteArrayObject *pinned = NULL;
    if (PyByteArray_CheckExact(buf)) {
        /* The sensor-loop case: pin the bytearray exactly as a buffer export
         * does (bytearray's getbuffer only counts ob_exports), without the
         * generic export round trip. */
        pinned = (PyByteArrayObject *)buf;
        pinned->ob_exports++;
        dst = PyByteArray_AS_STRING(buf);
        have = PyByteArray_GET_SIZE(buf);
    }
    else {
        if (PyObject_GetBuffer(buf, &view, PyBUF_WRITABLE) < 0) {
            if (PyErr_ExceptionMatches(PyExc_BufferError)) {
                PyErr_Clear();
                PyErr_Format(PyExc_TypeError,
                             "dumps_into() argument 'buf' must be a writable C-contiguous buffer, "
                             "not a read-only or strided %.100s", Py_TYPE(buf)->tp_name);
            }
            goto done;
        }
        dst = view.buf;
        have = view.len;
    }
    Py_ssize_t n = -1;
    if (offset > have)
        PyErr_Format(PyExc_ValueError, "offset %zd is beyond the end of the buffer (%zd bytes)",
                     offset, have);
    else
        n = encode_fixed(&e, &w, args[0], dst, have, offset, &overflow);
    if (pinned != NULL)
        pinned->ob_exports--;
    else
        PyBuffer_Release(&view);
    if (n < 0)
        goto done;
    if (overflow) {
        raise_too_small(st, offset + n, have);
        goto done;
    }
    result = PyLong_FromSsize_t(offset + n);
done:
    nc_jw_dispose(&w);
    enc_dispose(&e);
    return result;
}

PyDoc_STRVAR(dumps_doc,
"json_dumps($module, obj, /, **options)\n--\n\n"
"Return obj as JSON in a new bytes object (UTF-8).  O(document): one bytes\n"
"object; small documents are built on the C stack, larger ones in place in a\n"
"growing bytes object (no final copy) that starts at the size of the last\n"
"such document.");

static PyObject *
json_dumps(PyObject *module, PyObject *const *args, Py_ssize_t nargsf, PyObject *kwnames)
{
    nc_state *st = (nc_state *)PyModule_GetState(module);
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    PyObject *result = NULL;
    nc_jw w;
    nc_jenc e;
    if (nargs != 1) {
        PyErr_Format(PyExc_TypeError, "dumps() takes exactly 1 positional argument (%zd given)", nargs);
        return NULL;
    }
    nc_jw_init(&w, st, NC_JW_GROW);
    w.base = w.p = w.scratch;
    w.end = w.scratch + NC_JW_SCRATCH;
    enc_init(&e, &w);
    if (kwnames == NULL)
        default_options(&e);
    else if (parse_keywords("dumps", &e, args + nargs, kwnames, NULL) < 0)
        goto done;
    if (enc_owned(&e, args[0]) < 0 || nc_jw_check_surrogate(&w) < 0)
        goto done;
    result = nc_jw_grow_finish(&w);
done:
    nc_jw_dispose(&w);
    enc_dispose(&e);
    return result;
}

PyDoc_STRVAR(dump_stream_doc,
"json_dump_stream($module, obj, sink, chunk, /, **options)\n--\n\n"
"Streaming core of nocopy.json.dump: encode obj through the fixed writable\n"
"buffer `chunk`, calling sink(view) with a View of the filled part whenever it\n"
"is full and once at the end; sink must consume the bytes before returning\n"
"(the buffer is reused).  Returns the document length.  Peak memory: the\n"
"chunk, whatever the document size.");

static PyObject *
json_dump_stream(PyObject *module, PyObject *const *args, Py_ssize_t nargsf, PyObject *kwnames)
{
    nc_state *st = (nc_state *)PyModule_GetState(module);
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    PyObject *result = NULL;
    NcHolder *holder = NULL;
    nc_jw w;
    nc_jenc e;
    if (nargs != 3) {
        PyErr_Format(PyExc_TypeError, "json_dump_stream() takes exactly 3 positional arguments (%zd given)",
                     nargs);
        return NULL;
    }
    if (!PyCallable_Check(args[1])) {
        PyErr_Format(PyExc_TypeError, "sink must be callable, not %.100s", Py_TYPE(args[1])->tp_name);
        return NULL;
    }
    nc_jw_init(&w, st, NC_JW_STREAM);
    w.sink = args[1];
    enc_init(&e, &w);
    if (parse_keywords("dump", &e, args + nargs, kwnames, NULL) < 0)
        goto done;
    holder = nc_holder_from_object(st, args[2]);
    if (holder == NULL)
        goto done;
    if (holder->readonly || holder->len < NC_JW_MIN_CHUNK) {
        PyErr_Format(PyExc_ValueError, "the chunk buffer must be writable and at least %d bytes",
                     NC_JW_MIN_CHUNK);
        goto done;
    }
    w.holder = holder;
    w.base = w.p = holder->buf;
    w.end = holder->buf + holder->len;
    if (enc_owned(&e, args[0]) < 0 || nc_jw_flush(&w) < 0)
        goto done;
    result = PyLong_FromSsize_t(w.flushed);
done:
    nc_jw_dispose(&w);
    Py_XDECREF(holder);
    enc_dispose(&e);
    return result;
}

static PyObject *
json_dict_walk_direct(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    return PyBool_FromLong(nc_dictiter_direct());
}

/* Test hook: the per-char path and the block path must agree, and only
 * one of them runs on a given machine unless the tests switch. */
static PyObject *
json_utf8_blocks(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    int on = -1;
    if (nargs > 1) {
        PyErr_Format(PyExc_TypeError, "_json_utf8_blocks() takes at most 1 argument (%zd given)",
                     nargs);
        return NULL;
    }
    if (nargs == 1 && args[0] != Py_None && (on = PyObject_IsTrue(args[0])) < 0)
        return NULL;
    return PyBool_FromLong(nc_json_utf8_set_blocks(on));
}

static PyMethodDef json_methods[] = {
    {"_json_dict_walk_direct", json_dict_walk_direct, METH_NOARGS,
     "True when the encoder walks dicts directly (dictiter.h), False when through PyDict_Next."},
    {"_json_utf8_blocks", (PyCFunction)(void (*)(void))json_utf8_blocks, METH_FASTCALL,
     "_json_utf8_blocks(on=None, /)\n--\n\nWhether strings are encoded to UTF-8 a block at a "
     "time (json_utf8.c); switch it with True/False (test hook).  Returns the previous state."},
    {"json_dumps_into", (PyCFunction)(void (*)(void))json_dumps_into, METH_FASTCALL | METH_KEYWORDS,
     dumps_into_doc},
    {"json_dumps", (PyCFunction)(void (*)(void))json_dumps, METH_FASTCALL | METH_KEYWORDS, dumps_doc},
    {"json_dump_stream", (PyCFunction)(void (*)(void))json_dump_stream, METH_FASTCALL | METH_KEYWORDS,
     dump_stream_doc},
    {NULL, NULL, 0, NULL},
};

int
nc_json_module_init(PyObject *m, nc_state *st)
{
    st->str_writable = PyUnicode_InternFromString("writable");
    st->str_commit = PyUnicode_InternFromString("commit");
    if (st->str_writable == NULL || st->str_commit == NULL)
        return -1;
#ifndef Py_GIL_DISABLED
    st->keycache = PyMem_Calloc(2, sizeof(nc_keycache));   /* per ensure_ascii */
    if (st->keycache == NULL) {
        PyErr_NoMemory();
        return -1;
    }
#endif
    if (nc_dictiter_selfcheck() < 0)
        return -1;
    nc_json_utf8_init();
    return PyModule_AddFunctions(m, json_methods);
}
