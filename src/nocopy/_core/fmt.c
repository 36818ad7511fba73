/* fmt.c -- the `bytes % args` language into caller memory (fmt.h), and
 * nocopy.format_into.
 *
 * The parser follows CPython's _PyBytes_FormatEx step by step (the same
 * cursor arithmetic, so malformed formats fail at the same place with the
 * same exception, 3.11 to 3.13), but instead of appending to a growing
 * bytes object it records, per conversion, the literal before it and the
 * layout of its text: [sign][prefix] fill [sign][prefix] zeros body spaces.
 * Sizes are summed as it goes; emit replays the records.  The messages are
 * 3.11-3.13's (identical across the three); CPython's main branch rewords a
 * few (%c, __bytes__) and would need its own branch here.
 *
 * Ownership: a piece owns its obj reference, its view export and its heap
 * text; nc_fmt_release drops them.  Argument objects are borrowed from the
 * caller (its argument array or tuple stays alive for the call); a mapping's
 * item is owned by prepare while it is the current argument, and a piece
 * whose text points into it takes its own reference.
 *
 * Allocation: none for an int that fits 64 bits, a float whose text is at
 * most NC_FMT_SMALL bytes, or a bytes / bytearray / buffer argument (its
 * export is pinned, not copied).  Otherwise, as CPython does: bigger ints
 * (their digits in a temporary str), floats of longer text (a PyMem copy of
 * it), %r/%a (ascii()), __bytes__ (its result), non-contiguous buffers (a
 * contiguous copy), %(key) (the key as bytes), more than NC_FMT_INLINE
 * conversions (a PyMem array of pieces). */
#include "fmt.h"
#include "numfmt.h"

#include <locale.h>
#include <math.h>
#include <stdio.h>

#define F_LJUST (1 << 0)
#define F_SIGN  (1 << 1)
#define F_BLANK (1 << 2)
#define F_ALT   (1 << 3)
#define F_ZERO  (1 << 4)

/* Float text up to this precision is made on the stack: the longest is
 * "%.150f" of -1.8e308: sign, 309 digits, point, 150 decimals, NUL. */
#define NC_FMT_FLOAT_STACK_PREC 150
#define NC_FMT_FLOAT_STACK 512

static int
size_add(Py_ssize_t *total, Py_ssize_t n)
{
    if (n > PY_SSIZE_T_MAX - *total) {
        PyErr_NoMemory();
        return -1;
    }
    *total += n;
    return 0;
}

/* ---- pieces ------------------------------------------------------------- */

static nc_fmt_piece *
new_piece(nc_fmt_job *job)
{
    if (job->npieces == job->cap) {
        Py_ssize_t cap = job->cap * 2;
        nc_fmt_piece *np;
        if ((size_t)cap > PY_SSIZE_T_MAX / sizeof(nc_fmt_piece)) {
            PyErr_NoMemory();
            return NULL;
        }
        if (job->pieces == job->stack) {
            np = PyMem_Malloc((size_t)cap * sizeof(nc_fmt_piece));
            if (np != NULL)
                memcpy(np, job->stack, sizeof(job->stack));
        }
        else
            np = PyMem_Realloc(job->pieces, (size_t)cap * sizeof(nc_fmt_piece));
        if (np == NULL) {
            PyErr_NoMemory();
            return NULL;
        }
        job->pieces = np;
        job->cap = cap;
    }
    nc_fmt_piece *p = &job->pieces[job->npieces++];
    p->lit_off = p->lit_len = 0;
    p->lpad = p->zeros = p->len = p->rpad = 0;
    p->ptr = NULL;
    p->obj = NULL;
    p->view.obj = NULL;
    p->heap = NULL;
    p->kind = NC_FMT_INLINE_TEXT;
    p->sign = 0;
    p->early = 0;
    p->fill = ' ';
    p->nprefix = 0;
    return p;
}

static inline const char *
piece_body(const nc_fmt_piece *p)
{
    return p->kind == NC_FMT_INLINE_TEXT ? p->small : p->ptr;
}

/* CPython's padding, replayed as counts: the text is [sign][prefix] then
 * zeros and the body (len, after the sign was taken out of it).  Returns the
 * bytes the piece writes (its literal not included). */
static Py_ssize_t
layout(nc_fmt_piece *p, Py_ssize_t width, int flags, int numeric)
{
    Py_ssize_t len = p->nprefix + p->zeros + p->len;
    if (numeric) {
        if (p->sign == 0)
            p->sign = (flags & F_SIGN) ? '+' : (flags & F_BLANK) ? ' ' : 0;
        p->fill = (flags & F_ZERO) ? '0' : ' ';
    }
    p->early = p->fill != ' ';
    Py_ssize_t total = 0;
    if (width < len)
        width = len;
    if (p->sign) {
        total++;
        if (width > len)
            width--;
    }
    if (p->nprefix) {
        total += 2;
        width -= 2;
        if (width < 0)
            width = 0;
        len -= 2;
    }
    if (width > len && !(flags & F_LJUST)) {
        p->lpad = width - len;
        width = len;
    }
    if (width > len)
        p->rpad = width - len;
    /* each term is at most width (<= PY_SSIZE_T_MAX) plus 3: checked by
     * the caller's size_add per term */
    return total;
}

static int
piece_size(nc_fmt_piece *p, Py_ssize_t width, int flags, int numeric, Py_ssize_t *size)
{
    Py_ssize_t fixed = layout(p, width, flags, numeric);
    if (size_add(size, p->lit_len) < 0 || size_add(size, fixed) < 0 ||
        size_add(size, p->lpad) < 0 || size_add(size, p->zeros) < 0 ||
        size_add(size, p->len) < 0 || size_add(size, p->rpad) < 0)
        return -1;
    return 0;
}

/* ---- conversions ---------------------------------------------------------- */

static const char hexlower[] = "0123456789abcdef";
static const char hexupper[] = "0123456789ABCDEF";

/* |v|'s digits in base into p->small (at most 22 octal digits). */
static void
u64_text(nc_fmt_piece *p, uint64_t u, int base, int upper)
{
    if (base == 10) {
        int n = ndigits(u);
        write_digits(p->small + n, u);
        p->len = n;
        return;
    }
    char tmp[24];
    char *e = tmp + sizeof(tmp), *s = e;
    const char *dig = upper ? hexupper : hexlower;
    int shift = base == 16 ? 4 : 3;
    unsigned mask = (unsigned)base - 1;
    do {
        *--s = dig[u & mask];
        u >>= shift;
    } while (u != 0);
    p->len = e - s;
    memcpy(p->small, s, (size_t)p->len);
}

/* %d %i %u %o %x %X: formatlong() and _PyUnicode_FormatLong(). */
static int
conv_int(nc_fmt_piece *p, PyObject *v, int c, int flags, int prec)
{
    int base = c == 'o' ? 8 : (c == 'x' || c == 'X') ? 16 : 10;
    PyObject *iobj = NULL;  /* owned: int(v) or operator.index(v) */
    int64_t sv = 0;
    int small = 0;
    if (PyLong_Check(v)) {
        /* as is, subclasses too: no __index__ or __int__ is asked */
    }
    else if (base == 10 && PyFloat_CheckExact(v)) {
        /* int(x) without making the int: truncation, exact below 2**63 */
        double d = PyFloat_AS_DOUBLE(v);
        if (d >= -9223372036854775808.0 && d < 9223372036854775808.0) {
            sv = (int64_t)d;
            small = 1;
        }
        else if ((iobj = PyNumber_Long(v)) == NULL)   /* nan, inf: its error */
            return -1;
    }
    else if (PyNumber_Check(v)) {
        iobj = base == 10 ? PyNumber_Long(v) : PyNumber_Index(v);
        if (iobj == NULL) {
            if (!PyErr_ExceptionMatches(PyExc_TypeError))
                return -1;
            PyErr_Clear();
            goto type_error;
        }
    }
    else
        goto type_error;
    PyObject *val = iobj ? iobj : v;
    if (!small) {
        int overflow;
        sv = PyLong_AsLongLongAndOverflow(val, &overflow);
        if (sv == -1 && PyErr_Occurred()) {
            Py_XDECREF(iobj);
            return -1;
        }
        small = !overflow;
    }
    if (small) {
        uint64_t u = (uint64_t)sv;
        if (sv < 0) {
            p->sign = '-';
            u = 0 - u;
        }
        u64_text(p, u, base, c == 'X');
        Py_XDECREF(iobj);
    }
    else {
        /* Beyond 64 bits: CPython's own digits ("-0x1f..."), in a str. */
        PyObject *text = PyNumber_ToBase(val, base);
        Py_XDECREF(iobj);
        if (text == NULL)
            return -1;
        Py_ssize_t n;
        const char *s = PyUnicode_AsUTF8AndSize(text, &n);
        if (s == NULL) {
            Py_DECREF(text);
            return -1;
        }
        if (n > 0 && s[0] == '-') {
            p->sign = '-';
            s++;
            n--;
        }
        if (base != 10) {
            s += 2;
            n -= 2;
        }
        p->obj = text;
        p->ptr = s;
        p->len = n;
        p->kind = c == 'X' ? NC_FMT_PTR_UPPER : NC_FMT_PTR;
    }
    if (prec > p->len)
        p->zeros = prec - p->len;
    if ((flags & F_ALT) && base != 10) {
        p->nprefix = 2;
        p->prefix[0] = '0';
        p->prefix[1] = (char)(c == 'o' ? 'o' : c);
    }
    return 0;
type_error:
    PyErr_Format(PyExc_TypeError, "%%%c format: %s is required, not %.200s", c == 'i' ? 'd' : c,
                 base != 10 ? "an integer" : "a real number", Py_TYPE(v)->tp_name);
    return -1;
}

/* The C library formats with the locale's decimal point; Python never does. */
static int
c_locale_point(void)
{
    const char *dp = localeconv()->decimal_point;
    return dp != NULL && dp[0] == '.' && dp[1] == '\0';
}

/* %e %E %f %F %g %G: formatfloat(), PyOS_double_to_string's text. */
static int
conv_float(nc_fmt_piece *p, PyObject *v, int c, int flags, int prec)
{
    double x = PyFloat_CheckExact(v) ? PyFloat_AS_DOUBLE(v) : PyFloat_AsDouble(v);
    if (x == -1.0 && PyErr_Occurred()) {
        PyErr_Format(PyExc_TypeError, "float argument required, not %.200s", Py_TYPE(v)->tp_name);
        return -1;
    }
    if (prec < 0)
        prec = 6;
    int upper = c == 'F' || c == 'E' || c == 'G';
    if (!isfinite(x)) {
        if (isinf(x) && x < 0)
            p->sign = '-';
        memcpy(p->small, isnan(x) ? (upper ? "NAN" : "nan") : (upper ? "INF" : "inf"), 3);
        p->len = 3;
        return 0;
    }
    const char *text;
    Py_ssize_t n;
    char stackbuf[NC_FMT_FLOAT_STACK];
    if (prec <= NC_FMT_FLOAT_STACK_PREC && c_locale_point()) {
        /* glibc's printf is correctly rounded, as Python's dtoa is */
        char spec[8], *q = spec;
        *q++ = '%';
        if (flags & F_ALT)
            *q++ = '#';
        *q++ = '.';
        *q++ = '*';
        *q++ = (char)(c == 'F' ? 'f' : c);
        *q = '\0';
        int k = snprintf(stackbuf, sizeof(stackbuf), spec, prec, x);
        if (k < 0 || k >= (int)sizeof(stackbuf)) {
            PyErr_SetString(PyExc_SystemError, "float formatting failed");
            return -1;
        }
        text = stackbuf;
        n = k;
    }
    else {
        p->heap = PyOS_double_to_string(x, (char)c, prec, (flags & F_ALT) ? Py_DTSF_ALT : 0, NULL);
        if (p->heap == NULL)
            return -1;
        text = p->heap;
        n = (Py_ssize_t)strlen(p->heap);
    }
    if (n > 0 && text[0] == '-') {
        p->sign = '-';
        text++;
        n--;
    }
    p->len = n;
    if (p->heap == NULL && n <= NC_FMT_SMALL) {
        memcpy(p->small, text, (size_t)n);
        return 0;
    }
    if (p->heap == NULL) {
        p->heap = PyMem_Malloc((size_t)n);
        if (p->heap == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        memcpy(p->heap, text, (size_t)n);
        text = p->heap;
    }
    p->ptr = text;
    p->kind = NC_FMT_PTR;
    return 0;
}

/* %c: byte_converter(). */
static int
conv_char(nc_fmt_piece *p, PyObject *v)
{
    if (PyBytes_Check(v) && PyBytes_GET_SIZE(v) == 1)
        p->small[0] = PyBytes_AS_STRING(v)[0];
    else if (PyByteArray_Check(v) && PyByteArray_GET_SIZE(v) == 1)
        p->small[0] = PyByteArray_AS_STRING(v)[0];
    else {
        int overflow;
        long ival = PyLong_AsLongAndOverflow(v, &overflow);
        if (ival == -1 && PyErr_Occurred()) {
            if (PyErr_ExceptionMatches(PyExc_TypeError)) {
                PyErr_SetString(PyExc_TypeError,
                                "%c requires an integer in range(256) or a single byte");
            }
            return -1;
        }
        if (!(0 <= ival && ival <= 255)) {
            PyErr_SetString(PyExc_OverflowError, "%c arg not in range(256)");
            return -1;
        }
        p->small[0] = (char)ival;
    }
    p->len = 1;
    return 0;
}

/* View's bf_getbuffer (the same function in every module instance), set
 * at module init: a cheap first test before the MRO walk below. */
static getbufferproc view_getbuffer;

/* nocopy's own View, exactly: its __bytes__ is a copy of the window that
 * its buffer export shows without one. */
static int
is_exact_view(PyObject *v)
{
    PyTypeObject *t = Py_TYPE(v);
    if (t->tp_as_buffer == NULL || t->tp_as_buffer->bf_getbuffer != view_getbuffer)
        return 0;
    PyObject *m = PyType_GetModuleByDef(t, &nc_moduledef);  /* borrowed */
    if (m == NULL) {
        PyErr_Clear();
        return 0;
    }
    nc_state *st = (nc_state *)PyModule_GetState(m);
    return st != NULL && t == st->ViewType;
}

/* %s %b: format_obj(), pinning instead of copying where it can. */
static int
conv_bytes(nc_fmt_piece *p, PyObject *v)
{
    if (PyBytes_Check(v)) {
        p->obj = Py_NewRef(v);
        p->ptr = PyBytes_AS_STRING(v);
        p->len = PyBytes_GET_SIZE(v);
        p->kind = NC_FMT_PTR;
        return 0;
    }
    if (!PyByteArray_Check(v) && !is_exact_view(v)) {
        static PyObject *name = NULL;  /* interned, immortal enough: never freed */
        if (name == NULL && (name = PyUnicode_InternFromString("__bytes__")) == NULL)
            return -1;
        PyObject *func = _PyType_Lookup(Py_TYPE(v), name);  /* borrowed */
        if (func != NULL) {
            descrgetfunc get = Py_TYPE(func)->tp_descr_get;
            PyObject *res;
            Py_INCREF(func);
            if (get != NULL) {
                PyObject *bound = get(func, v, (PyObject *)Py_TYPE(v));
                Py_DECREF(func);
                if (bound == NULL)
                    return -1;
                res = PyObject_CallNoArgs(bound);
                Py_DECREF(bound);
            }
            else {
                res = PyObject_CallNoArgs(func);
                Py_DECREF(func);
            }
            if (res == NULL)
                return -1;
            if (!PyBytes_Check(res)) {
                PyErr_Format(PyExc_TypeError, "__bytes__ returned non-bytes (type %.200s)",
                             Py_TYPE(res)->tp_name);
                Py_DECREF(res);
                return -1;
            }
            p->obj = res;
            p->ptr = PyBytes_AS_STRING(res);
            p->len = PyBytes_GET_SIZE(res);
            p->kind = NC_FMT_PTR;
            return 0;
        }
        if (!PyObject_CheckBuffer(v)) {
            PyErr_Format(PyExc_TypeError,
                         "%%b requires a bytes-like object, or an object that implements "
                         "__bytes__, not '%.100s'", Py_TYPE(v)->tp_name);
            return -1;
        }
    }
    if (PyObject_GetBuffer(v, &p->view, PyBUF_FULL_RO) < 0) {
        p->view.obj = NULL;
        return -1;
    }
    if (!PyBuffer_IsContiguous(&p->view, 'C')) {
        PyBuffer_Release(&p->view);
        p->view.obj = NULL;
        PyObject *copy = PyBytes_FromObject(v);
        if (copy == NULL)
            return -1;
        p->obj = copy;
        p->ptr = PyBytes_AS_STRING(copy);
        p->len = PyBytes_GET_SIZE(copy);
    }
    else {
        p->ptr = p->view.buf;
        p->len = p->view.len;
    }
    p->kind = NC_FMT_PTR;
    return 0;
}

/* %r %a: ascii(v). */
static int
conv_ascii(nc_fmt_piece *p, PyObject *v)
{
    PyObject *s = PyObject_ASCII(v);
    if (s == NULL)
        return -1;
    Py_ssize_t n;
    const char *d = PyUnicode_AsUTF8AndSize(s, &n);  /* ASCII: its own data, no copy */
    if (d == NULL) {
        Py_DECREF(s);
        return -1;
    }
    p->obj = s;
    p->ptr = d;
    p->len = n;
    p->kind = NC_FMT_PTR;
    return 0;
}

/* ---- the parser --------------------------------------------------------- */

static PyObject *
next_arg(PyObject *const *items, PyObject *one, Py_ssize_t arglen, Py_ssize_t *argidx)
{
    Py_ssize_t i = *argidx;
    if (i < arglen) {
        (*argidx)++;
        return arglen < 0 ? one : items[i];
    }
    PyErr_SetString(PyExc_TypeError, "not enough arguments for format string");
    return NULL;
}

static int
as_int(PyObject *v, int *out)
{
#if PY_VERSION_HEX >= 0x030D0000
    int r = PyLong_AsInt(v);
#else
    int r = _PyLong_AsInt(v);
#endif
    if (r == -1 && PyErr_Occurred())
        return -1;
    *out = r;
    return 0;
}

int
nc_fmt_prepare(nc_fmt_job *job, const char *format, Py_ssize_t fmtlen, PyObject *const *args,
               Py_ssize_t nargs)
{
    job->fmt = format;
    job->fmtlen = fmtlen;
    job->size = 0;
    job->npieces = 0;
    job->cap = NC_FMT_INLINE;
    job->pieces = job->stack;

    PyObject *const *items = NULL;  /* borrowed: the caller's arguments or tuple */
    PyObject *one = NULL;           /* the one argument when arglen < 0 */
    PyObject *owned = NULL;         /* a mapping's item, while it is `one` */
    PyObject *dict = NULL;          /* borrowed */
    Py_ssize_t arglen, argidx;
    if (nargs == 1) {
        PyObject *a = args[0];
        if (PyTuple_Check(a)) {
            items = &PyTuple_GET_ITEM(a, 0);
            arglen = PyTuple_GET_SIZE(a);
            argidx = 0;
        }
        else {
            one = a;
            arglen = -1;
            argidx = -2;
        }
        if (Py_TYPE(a)->tp_as_mapping && Py_TYPE(a)->tp_as_mapping->mp_subscript &&
            !PyTuple_Check(a) && !PyBytes_Check(a) && !PyUnicode_Check(a) && !PyByteArray_Check(a))
            dict = a;
    }
    else {
        items = args;
        arglen = nargs;
        argidx = 0;
    }

    const char *fmt = format, *end = format + fmtlen;
    Py_ssize_t fmtcnt = fmtlen;
    Py_ssize_t lit = 0;  /* start of the literal run not yet given to a piece */
    Py_ssize_t size = 0;

    while (--fmtcnt >= 0) {
        if (*fmt != '%') {
            const char *pos = memchr(fmt + 1, '%', (size_t)fmtcnt);
            Py_ssize_t len = pos != NULL ? pos - fmt : fmtcnt + 1;
            fmt += len;
            fmtcnt -= len - 1;
            continue;
        }
        Py_ssize_t spec = fmt - format;
        int flags = 0;
        Py_ssize_t width = -1;
        int prec = -1;
        int c = '\0';
        PyObject *v;
        fmt++;
        nc_fmt_piece *p;
        /* CPython reads the NUL after a bytes object here; a buffer has none */
        if (fmt < end && *fmt == '%') {
            if ((p = new_piece(job)) == NULL)
                goto fail;
            p->lit_off = lit;
            p->lit_len = spec - lit;
            p->small[0] = '%';
            p->len = 1;
            if (size_add(&size, p->lit_len + 1) < 0)
                goto fail;
            fmt++;
            fmtcnt--;
            lit = fmt - format;
            continue;
        }
        if (fmt < end && *fmt == '(') {
            int pcount = 1;
            if (dict == NULL) {
                PyErr_SetString(PyExc_TypeError, "format requires a mapping");
                goto fail;
            }
            ++fmt;
            --fmtcnt;
            const char *keystart = fmt;
            while (pcount > 0 && --fmtcnt >= 0) {
                if (*fmt == ')')
                    --pcount;
                else if (*fmt == '(')
                    ++pcount;
                fmt++;
            }
            Py_ssize_t keylen = fmt - keystart - 1;
            if (fmtcnt < 0 || pcount > 0) {
                PyErr_SetString(PyExc_ValueError, "incomplete format key");
                goto fail;
            }
            PyObject *key = PyBytes_FromStringAndSize(keystart, keylen);
            if (key == NULL)
                goto fail;
            Py_CLEAR(owned);
            one = NULL;
            owned = PyObject_GetItem(dict, key);
            Py_DECREF(key);
            if (owned == NULL)
                goto fail;
            one = owned;
            arglen = -1;
            argidx = -2;
        }
        while (--fmtcnt >= 0) {
            switch (c = *fmt++) {
            case '-': flags |= F_LJUST; continue;
            case '+': flags |= F_SIGN; continue;
            case ' ': flags |= F_BLANK; continue;
            case '#': flags |= F_ALT; continue;
            case '0': flags |= F_ZERO; continue;
            }
            break;
        }
        if (c == '*') {
            if ((v = next_arg(items, one, arglen, &argidx)) == NULL)
                goto fail;
            if (!PyLong_Check(v)) {
                PyErr_SetString(PyExc_TypeError, "* wants int");
                goto fail;
            }
            width = PyLong_AsSsize_t(v);
            if (width == -1 && PyErr_Occurred())
                goto fail;
            if (width < 0) {
                flags |= F_LJUST;
                /* -PY_SSIZE_T_MIN wraps in CPython: no padding at all */
                width = width == PY_SSIZE_T_MIN ? -1 : -width;
            }
            if (--fmtcnt >= 0)
                c = *fmt++;
        }
        else if (c >= 0 && Py_ISDIGIT(c)) {
            width = c - '0';
            while (--fmtcnt >= 0) {
                c = Py_CHARMASK(*fmt++);
                if (!Py_ISDIGIT(c))
                    break;
                if (width > (PY_SSIZE_T_MAX - (c - '0')) / 10) {
                    PyErr_SetString(PyExc_ValueError, "width too big");
                    goto fail;
                }
                width = width * 10 + (c - '0');
            }
        }
        if (c == '.') {
            prec = 0;
            if (--fmtcnt >= 0)
                c = *fmt++;
            if (c == '*') {
                if ((v = next_arg(items, one, arglen, &argidx)) == NULL)
                    goto fail;
                if (!PyLong_Check(v)) {
                    PyErr_SetString(PyExc_TypeError, "* wants int");
                    goto fail;
                }
                if (as_int(v, &prec) < 0)
                    goto fail;
                if (prec < 0)
                    prec = 0;
                if (--fmtcnt >= 0)
                    c = *fmt++;
            }
            else if (c >= 0 && Py_ISDIGIT(c)) {
                prec = c - '0';
                while (--fmtcnt >= 0) {
                    c = Py_CHARMASK(*fmt++);
                    if (!Py_ISDIGIT(c))
                        break;
                    if (prec > (INT_MAX - (c - '0')) / 10) {
                        PyErr_SetString(PyExc_ValueError, "prec too big");
                        goto fail;
                    }
                    prec = prec * 10 + (c - '0');
                }
            }
        }
        if (fmtcnt >= 0 && (c == 'h' || c == 'l' || c == 'L')) {
            if (--fmtcnt >= 0)
                c = *fmt++;
        }
        if (fmtcnt < 0) {
            PyErr_SetString(PyExc_ValueError, "incomplete format");
            goto fail;
        }
        if ((v = next_arg(items, one, arglen, &argidx)) == NULL)
            goto fail;
        if ((p = new_piece(job)) == NULL)
            goto fail;
        p->lit_off = lit;
        p->lit_len = spec - lit;
        int numeric = 0, rc;
        switch (c) {
        case 'r':
        case 'a':
            rc = conv_ascii(p, v);
            if (rc == 0 && prec >= 0 && p->len > prec)
                p->len = prec;
            break;
        case 's':
        case 'b':
            rc = conv_bytes(p, v);
            if (rc == 0 && prec >= 0 && p->len > prec)
                p->len = prec;
            break;
        case 'i':
        case 'd':
        case 'u':
        case 'o':
        case 'x':
        case 'X':
            rc = conv_int(p, v, c, flags, prec);
            numeric = 1;
            break;
        case 'e':
        case 'E':
        case 'f':
        case 'F':
        case 'g':
        case 'G':
            rc = conv_float(p, v, c, flags, prec);
            numeric = 1;
            break;
        case 'c':
            rc = conv_char(p, v);
            break;
        default:
            /* c is a plain char, signed where CPython's is: a byte >= 0x80
             * read that way makes PyErr_Format's %c raise OverflowError */
            if (c < 0)
                PyErr_SetString(PyExc_OverflowError, "character argument not in range(0x110000)");
            else
                PyErr_Format(PyExc_ValueError, "unsupported format character '%c' (0x%x) at index %zd",
                             c, c, (Py_ssize_t)(fmt - 1 - format));
            rc = -1;
        }
        if (rc < 0)
            goto fail;
        if (piece_size(p, width, flags, numeric, &size) < 0)
            goto fail;
        lit = fmt - format;
    }
    if (argidx < arglen && dict == NULL) {
        PyErr_SetString(PyExc_TypeError, "not all arguments converted during bytes formatting");
        goto fail;
    }
    /* the literal after the last piece: a piece of its own, no text */
    if (lit < fmtlen) {
        nc_fmt_piece *p = new_piece(job);
        if (p == NULL)
            goto fail;
        p->lit_off = lit;
        p->lit_len = fmtlen - lit;
        if (size_add(&size, p->lit_len) < 0)
            goto fail;
    }
    Py_XDECREF(owned);
    job->size = size;
    return 0;
fail:
    Py_XDECREF(owned);
    return -1;
}

/* ---- emit ------------------------------------------------------------------ */

static char *
emit_pieces(const nc_fmt_job *job, char *o)
{
    for (Py_ssize_t i = 0; i < job->npieces; i++) {
        const nc_fmt_piece *p = &job->pieces[i];
        if (p->lit_len) {
            memcpy(o, job->fmt + p->lit_off, (size_t)p->lit_len);
            o += p->lit_len;
        }
        if (p->early) {
            if (p->sign)
                *o++ = p->sign;
            if (p->nprefix) {
                memcpy(o, p->prefix, 2);
                o += 2;
            }
        }
        if (p->lpad) {
            memset(o, p->fill, (size_t)p->lpad);
            o += p->lpad;
        }
        if (!p->early) {
            if (p->sign)
                *o++ = p->sign;
            if (p->nprefix) {
                memcpy(o, p->prefix, 2);
                o += 2;
            }
        }
        if (p->zeros) {
            memset(o, '0', (size_t)p->zeros);
            o += p->zeros;
        }
        if (p->len) {
            const char *s = piece_body(p);
            if (p->kind == NC_FMT_PTR_UPPER) {
                for (Py_ssize_t k = 0; k < p->len; k++)
                    o[k] = (char)((s[k] >= 'a' && s[k] <= 'z') ? s[k] - ('a' - 'A') : s[k]);
            }
            else
                memcpy(o, s, (size_t)p->len);
            o += p->len;
        }
        if (p->rpad) {
            memset(o, ' ', (size_t)p->rpad);
            o += p->rpad;
        }
    }
    return o;
}

static inline int
overlaps(const char *a, Py_ssize_t an, const char *b, Py_ssize_t bn)
{
    return an > 0 && bn > 0 && (uintptr_t)a < (uintptr_t)b + (uintptr_t)bn &&
           (uintptr_t)b < (uintptr_t)a + (uintptr_t)an;
}

int
nc_fmt_emit(nc_fmt_job *job, char *out)
{
    Py_ssize_t n = job->size;
    int clash = overlaps(out, n, job->fmt, job->fmtlen);
    for (Py_ssize_t i = 0; i < job->npieces && !clash; i++) {
        const nc_fmt_piece *p = &job->pieces[i];
        if (p->kind != NC_FMT_INLINE_TEXT)
            clash = overlaps(out, n, p->ptr, p->len);
    }
    if (!clash) {
        char *e = emit_pieces(job, out);
        assert(e - out == n);
        (void)e;
        return 0;
    }
    /* the output would overwrite what it still has to read (the target's
     * own bytes as the format or an argument): through a scratch copy */
    char stackbuf[512];
    char *tmp = n <= (Py_ssize_t)sizeof(stackbuf) ? stackbuf : PyMem_Malloc((size_t)n);
    if (tmp == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    char *e = emit_pieces(job, tmp);
    assert(e - tmp == n);
    (void)e;
    memmove(out, tmp, (size_t)n);
    if (tmp != stackbuf)
        PyMem_Free(tmp);
    return 0;
}

void
nc_fmt_release(nc_fmt_job *job)
{
    for (Py_ssize_t i = 0; i < job->npieces; i++) {
        nc_fmt_piece *p = &job->pieces[i];
        if (p->view.obj != NULL) {
            PyBuffer_Release(&p->view);
            p->view.obj = NULL;
        }
        if (p->heap != NULL) {
            PyMem_Free(p->heap);
            p->heap = NULL;
        }
        Py_CLEAR(p->obj);
    }
    job->npieces = 0;
    if (job->pieces != job->stack) {
        PyMem_Free(job->pieces);
        job->pieces = job->stack;
        job->cap = NC_FMT_INLINE;
    }
}

/* ---- nocopy.format_into ------------------------------------------------------ */

static PyObject *
too_small(nc_state *st, Py_ssize_t needed)
{
    nc_raise_new(st->BufferTooSmall, "(sn)", "format_into: the formatted text does not fit", needed);
    return NULL;
}

/* Any other object with writable() and commit(n), as json.dumps_into does:
 * the export of what writable() returns pins it while the text goes in. */
static PyObject *
into_committing(nc_state *st, nc_fmt_job *job, PyObject *target)
{
    Py_buffer view;
    if (nc_get_writable_space(st, target, &view) < 0)
        return NULL;
    if (job->size > view.len) {
        PyBuffer_Release(&view);
        return too_small(st, job->size);
    }
    int rc = nc_fmt_emit(job, view.buf);
    PyBuffer_Release(&view);  /* before commit: the owner may check exports */
    if (rc < 0)
        return NULL;
    PyObject *nobj = PyLong_FromSsize_t(job->size);
    if (nobj == NULL)
        return NULL;
    PyObject *r = PyObject_CallMethodOneArg(target, st->str_commit, nobj);
    if (r == NULL) {
        Py_DECREF(nobj);
        return NULL;
    }
    Py_DECREF(r);
    return nobj;
}

PyDoc_STRVAR(format_into_doc,
"format_into($module, buf, offset, fmt, /, *args)\n--\n\n"
"Write fmt % args (the bytes % language, byte-identical output and the same\n"
"exceptions) into the writable buffer buf at offset; return the end offset.\n"
"One argument is applied as fmt % args[0] (a tuple gives its items, a mapping\n"
"serves %(key)s), several as fmt % args.  buf: bytearray, writable\n"
"memoryview, View, mmap, array, a ByteBuffer (offset 0: the text goes into\n"
"its free space and is committed; returns its length) or an object with\n"
"writable() and commit(n).  Every argument is converted before buf is\n"
"touched; BufferTooSmall (needed = offset + length) with nothing written when\n"
"it does not fit.  O(output); no allocation for int, float and bytes-like\n"
"arguments (an int beyond 64 bits, %r/%a and __bytes__ make temporaries).");

static PyObject *
format_into(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    nc_state *st = (nc_state *)PyModule_GetState(module);
    if (nargs < 3) {
        PyErr_Format(PyExc_TypeError, "format_into() takes at least 3 arguments (%zd given)", nargs);
        return NULL;
    }
    PyObject *buf = args[0];
    int is_bb = !PyByteArray_CheckExact(buf) && PyObject_TypeCheck(buf, st->ByteBufferType);
    int committing = 0;
    if (!is_bb && !PyByteArray_CheckExact(buf) && !PyObject_CheckBuffer(buf)) {
        if (!PyObject_HasAttr(buf, st->str_writable) || !PyObject_HasAttr(buf, st->str_commit)) {
            PyErr_Format(PyExc_TypeError,
                         "format_into() argument 'buf' must be a writable buffer, not %.100s",
                         Py_TYPE(buf)->tp_name);
            return NULL;
        }
        committing = 1;
    }
    if (!PyIndex_Check(args[1]) || PyBool_Check(args[1])) {
        PyErr_Format(PyExc_TypeError, "offset must be an integer, not '%.100s'",
                     Py_TYPE(args[1])->tp_name);
        return NULL;
    }
    Py_ssize_t offset = PyNumber_AsSsize_t(args[1], PyExc_OverflowError);
    if (offset == -1 && PyErr_Occurred())
        return NULL;
    if (offset < 0) {
        PyErr_SetString(PyExc_ValueError, "offset must be >= 0");
        return NULL;
    }
    if ((is_bb || committing) && offset != 0) {
        PyErr_SetString(PyExc_ValueError,
                        "offset must be 0 when writing into a ByteBuffer's free space");
        return NULL;
    }
    Py_buffer fmtview;
    if (nc_get_buffer(args[2], &fmtview) < 0)
        return NULL;
    nc_fmt_job job;
    PyObject *result = NULL;
    if (nc_fmt_prepare(&job, fmtview.buf, fmtview.len, args + 3, nargs - 3) < 0)
        goto done;
    /* Every call-out has run: from here the target is acquired, checked and
     * written with no Python code in between. */
    if (is_bb) {
        result = nc_bb_emit_fmt(buf, &job);
        goto done;
    }
    if (committing) {
        result = into_committing(st, &job, buf);
        goto done;
    }
    if (job.size > PY_SSIZE_T_MAX - offset) {
        PyErr_NoMemory();
        goto done;
    }
    result = PyLong_FromSsize_t(offset + job.size);  /* before the target is pinned */
    if (result == NULL)
        goto done;
    Py_buffer view;
    if (PyObject_GetBuffer(buf, &view, PyBUF_WRITABLE) < 0) {
        if (PyErr_ExceptionMatches(PyExc_BufferError)) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError,
                         "format_into() argument 'buf' must be a writable C-contiguous buffer, "
                         "not a read-only or strided %.100s", Py_TYPE(buf)->tp_name);
        }
        Py_CLEAR(result);
        goto done;
    }
    if (offset > view.len) {
        PyErr_Format(PyExc_ValueError, "offset %zd is beyond the end of the buffer (%zd bytes)",
                     offset, view.len);
        Py_CLEAR(result);
    }
    else if (job.size > view.len - offset) {
        too_small(st, offset + job.size);
        Py_CLEAR(result);
    }
    else if (nc_fmt_emit(&job, (char *)view.buf + offset) < 0)
        Py_CLEAR(result);
    PyBuffer_Release(&view);
done:
    nc_fmt_release(&job);
    PyBuffer_Release(&fmtview);
    return result;
}

static PyMethodDef fmt_methods[] = {
    {"format_into", (PyCFunction)(void (*)(void))format_into, METH_FASTCALL, format_into_doc},
    {NULL},
};

int
nc_fmt_module_init(PyObject *m, nc_state *st)
{
    view_getbuffer = (getbufferproc)PyType_GetSlot(st->ViewType, Py_bf_getbuffer);
    return PyModule_AddFunctions(m, fmt_methods);
}
