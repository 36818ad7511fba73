/* serve_frame.c -- the framings of nocopy.serve: by delimiter, by length
 * prefix (u8/u16/u32 in either byte order, or an unsigned LEB128 varint)
 * and by fixed size.  Pure functions over the pending input: the connection
 * (serve_conn.c) calls nc_framing_next after each receive and consumes what
 * it reports.  Every framing knows its limit before it buffers past it, so
 * a connection's memory is bounded by nc_framing_span. */
#include "serve.h"

int
nc_framing_init(nc_framing *f, int kind, PyObject *delim, int width, int little, int keep,
                Py_ssize_t limit)
{
    memset(f, 0, sizeof(*f));
    if (limit < 1) {
        PyErr_Format(PyExc_ValueError, "limit must be at least 1, not %zd", limit);
        return -1;
    }
    /* a bound that keeps span arithmetic far from overflow */
    if (limit > PY_SSIZE_T_MAX / 4) {
        PyErr_Format(PyExc_ValueError, "limit %zd is too large", limit);
        return -1;
    }
    f->kind = kind;
    f->keep = keep != 0;
    f->little = little != 0;
    f->limit = limit;
    switch (kind) {
    case NC_FR_DELIM: {
        Py_buffer d;
        if (delim == NULL || nc_get_buffer(delim, &d) < 0) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_TypeError, "delimiter must be a bytes-like object");
            return -1;
        }
        if (d.len == 0) {
            PyBuffer_Release(&d);
            PyErr_SetString(PyExc_ValueError, "delimiter must not be empty");
            return -1;
        }
        if (d.len > 4096) {
            Py_ssize_t n = d.len;
            PyBuffer_Release(&d);
            PyErr_Format(PyExc_ValueError, "delimiter of %zd bytes: at most 4096", n);
            return -1;
        }
        /* our own immutable copy: the searcher keeps a pointer into it */
        f->delim = PyBytes_FromStringAndSize(d.buf, d.len);
        PyBuffer_Release(&d);
        if (f->delim == NULL)
            return -1;
        nc_searcher_init(&f->search, PyBytes_AS_STRING(f->delim), PyBytes_GET_SIZE(f->delim), 0);
        return 0;
    }
    case NC_FR_PREFIX:
        if (width != 1 && width != 2 && width != 4 && width != NC_FR_UVARINT) {
            PyErr_Format(PyExc_ValueError, "prefix width %d: 1, 2, 4 or 0 (uvarint)", width);
            return -1;
        }
        f->width = width;
        if (width == 4 && limit > 0xffffffffLL)
            f->limit = 0xffffffffLL;  /* no u32 length is larger */
        return 0;
    case NC_FR_FIXED:
        return 0;
    default:
        PyErr_Format(PyExc_ValueError, "unknown framing kind %d", kind);
        return -1;
    }
}

void
nc_framing_clear(nc_framing *f)
{
    Py_CLEAR(f->delim);
}

Py_ssize_t
nc_framing_span(const nc_framing *f)
{
    switch (f->kind) {
    case NC_FR_DELIM:
        return f->limit + PyBytes_GET_SIZE(f->delim);
    case NC_FR_PREFIX:
        return f->limit + (f->width == NC_FR_UVARINT ? 10 : f->width);
    default:
        return f->limit;
    }
}

static int
delim_next(nc_framing *f, const char *p, Py_ssize_t n, Py_ssize_t *off, Py_ssize_t *len,
           Py_ssize_t *total)
{
    Py_ssize_t dn = PyBytes_GET_SIZE(f->delim);
    /* a delimiter starting past the limit makes the message too long: never
     * look further than where the last allowed one ends */
    Py_ssize_t end = n < f->limit + dn ? n : f->limit + dn;
    Py_ssize_t from = f->scanned;
    if (from < end) {
        Py_ssize_t i = nc_searcher_find(&f->search, p + from, end - from);
        if (i >= 0) {
            Py_ssize_t at = from + i;
            f->scanned = 0;
            *off = 0;
            *len = f->keep ? at + dn : at;
            *total = at + dn;
            return NC_FR_MSG;
        }
        /* a delimiter can still start in the last dn - 1 bytes */
        if (end - (dn - 1) > f->scanned)
            f->scanned = end - (dn - 1);
    }
    return n >= f->limit + dn ? NC_FR_LIMIT : NC_FR_MORE;
}

static int
prefix_next(nc_framing *f, const unsigned char *p, Py_ssize_t n, Py_ssize_t *off,
            Py_ssize_t *len, Py_ssize_t *total)
{
    uint64_t v = 0;
    Py_ssize_t w;
    switch (f->width) {
    case 1:
        if (n < 1)
            return NC_FR_MORE;
        v = p[0];
        w = 1;
        break;
    case 2:
        if (n < 2)
            return NC_FR_MORE;
        v = f->little ? (uint64_t)p[0] | (uint64_t)p[1] << 8 : (uint64_t)p[0] << 8 | p[1];
        w = 2;
        break;
    case 4:
        if (n < 4)
            return NC_FR_MORE;
        if (f->little)
            v = (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24;
        else
            v = (uint64_t)p[0] << 24 | (uint64_t)p[1] << 16 | (uint64_t)p[2] << 8 | p[3];
        w = 4;
        break;
    default: {
        /* LEB128: 7 bits a byte, low first; at most 10 bytes, the value
         * within 63 bits (a tenth byte can then only be a final 0x00) */
        Py_ssize_t i = 0;
        for (;;) {
            if (i >= n)
                return NC_FR_MORE;
            unsigned char c = p[i];
            if (i == 9) {
                if (c != 0)
                    return NC_FR_BAD;
                i++;
                break;
            }
            v |= (uint64_t)(c & 0x7f) << (7 * i);
            i++;
            if (v > (uint64_t)f->limit)
                return NC_FR_LIMIT;
            if (!(c & 0x80))
                break;
        }
        w = i;
        break;
    }
    }
    if (v > (uint64_t)f->limit)
        return NC_FR_LIMIT;
    Py_ssize_t body = (Py_ssize_t)v;
    if (n - w < body)
        return NC_FR_MORE;
    *off = f->keep ? 0 : w;
    *len = f->keep ? w + body : body;
    *total = w + body;
    return NC_FR_MSG;
}

int
nc_framing_next(nc_framing *f, const char *p, Py_ssize_t n, Py_ssize_t *off, Py_ssize_t *len,
                Py_ssize_t *total)
{
    switch (f->kind) {
    case NC_FR_DELIM:
        return delim_next(f, p, n, off, len, total);
    case NC_FR_PREFIX:
        return prefix_next(f, (const unsigned char *)p, n, off, len, total);
    default:
        if (n < f->limit)
            return NC_FR_MORE;
        *off = 0;
        *len = *total = f->limit;
        return NC_FR_MSG;
    }
}
