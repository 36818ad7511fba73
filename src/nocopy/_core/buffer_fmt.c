/* buffer_fmt.c -- ByteBuffer.write_fmt / write_int / write_float /
 * prepend_fmt: text formatted straight into the storage.
 *
 * Every method converts its arguments first (the only place Python code
 * runs: __index__, __float__, __bytes__, repr, a mapping's __getitem__),
 * then makes its result object (an allocation may run the GC), then takes
 * room and writes with no Python code in between -- the rule of buffer.c.
 *
 * prepend_fmt writes below the read cursor through prepend()'s reserve and
 * commit (buffer.h: nc_bytebuffer_prepend_reserve), so both follow one rule
 * for the bytes Views may still show there and for held exports.
 *
 * Ownership: the methods own the fmt export and the job (fmt.h) for the
 * call; nothing is kept. */
#include "buffer_impl.h"
#include "fmt.h"
#include "numfmt.h"

/* ---- appending ------------------------------------------------------------ */

PyObject *
nc_bb_emit_fmt(PyObject *self, nc_fmt_job *job)
{
    NcByteBuffer *b = (NcByteBuffer *)self;
    char *dst;
    PyObject *res = PyLong_FromSsize_t(job->size);
    if (res == NULL)
        return NULL;
    if (check_idle(b) < 0 || nc_bytebuffer_reserve(b, job->size, &dst) < 0)
        goto fail;
    /* reserve left room at wpos and no export of the window; from here on
     * no Python code runs until the commit */
    if (nc_fmt_emit(job, dst) < 0 || nc_bytebuffer_commit(b, job->size) < 0)
        goto fail;
    return res;
fail:
    Py_DECREF(res);
    return NULL;
}

/* Copy n bytes of text (already made) into the free space and commit. */
static PyObject *
bb_put_text(NcByteBuffer *b, const char *text, Py_ssize_t n)
{
    char *dst;
    PyObject *res = PyLong_FromSsize_t(n);
    if (res == NULL)
        return NULL;
    if (check_idle(b) < 0 || nc_bytebuffer_reserve(b, n, &dst) < 0) {
        Py_DECREF(res);
        return NULL;
    }
    memcpy(dst, text, (size_t)n);
    if (nc_bytebuffer_commit(b, n) < 0) {
        Py_DECREF(res);
        return NULL;
    }
    return res;
}

PyDoc_STRVAR(write_fmt_doc,
"write_fmt($self, fmt, /, *args)\n--\n\n"
"Append fmt % args (the bytes % language: byte-identical output, the same\n"
"exceptions) to the free space and return the number of bytes written.  One\n"
"argument is applied as fmt % args[0] (a tuple gives its items, a mapping\n"
"serves %(key)s), several as fmt % args.  Every argument is converted first;\n"
"then room is made as write() makes it, BufferTooSmall (needed = length) with\n"
"nothing written when the text cannot fit.  O(output): no allocation for\n"
"int, float and bytes-like arguments (an int beyond 64 bits, %r/%a and\n"
"__bytes__ make temporaries).");

static PyObject *
bb_write_fmt(NcByteBuffer *b, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 1) {
        PyErr_SetString(PyExc_TypeError, "write_fmt() missing required argument 'fmt'");
        return NULL;
    }
    Py_buffer fmt;
    nc_fmt_job job;
    if (nc_get_buffer(args[0], &fmt) < 0)
        return NULL;
    PyObject *res = NULL;
    if (nc_fmt_prepare(&job, fmt.buf, fmt.len, args + 1, nargs - 1) == 0)
        res = nc_bb_emit_fmt((PyObject *)b, &job);
    nc_fmt_release(&job);
    PyBuffer_Release(&fmt);
    return res;
}

PyDoc_STRVAR(write_int_doc,
"write_int($self, n, /)\n--\n\n"
"Append str(n) for an int n (or an object with __index__; True gives b'1', as\n"
"b'%d' % True) as ASCII and return the number of bytes written.\n"
"BufferTooSmall (needed = length) with nothing written when it cannot fit.\n"
"O(digits); no allocation when n fits 64 bits (beyond: one temporary str).");

static PyObject *
bb_write_int(NcByteBuffer *b, PyObject *arg)
{
    PyObject *iobj;
    if (PyLong_Check(arg))
        iobj = Py_NewRef(arg);
    else if (PyIndex_Check(arg)) {
        if ((iobj = PyNumber_Index(arg)) == NULL)
            return NULL;
    }
    else {
        PyErr_Format(PyExc_TypeError, "write_int() argument must be an int, not '%.100s'",
                     Py_TYPE(arg)->tp_name);
        return NULL;
    }
    int overflow;
    long long v = PyLong_AsLongLongAndOverflow(iobj, &overflow);
    PyObject *res = NULL;
    if (v == -1 && PyErr_Occurred())
        goto done;
    if (!overflow) {
        char text[NC_INT64_MAX_CHARS + 4];
        int n = nc_format_int64((int64_t)v, text);
        res = bb_put_text(b, text, n);
    }
    else {
        PyObject *s = PyNumber_ToBase(iobj, 10);
        if (s == NULL)
            goto done;
        Py_ssize_t n;
        const char *text = PyUnicode_AsUTF8AndSize(s, &n);
        if (text != NULL)
            res = bb_put_text(b, text, n);
        Py_DECREF(s);
    }
done:
    Py_DECREF(iobj);
    return res;
}

PyDoc_STRVAR(write_float_doc,
"write_float($self, x, /)\n--\n\n"
"Append repr(float(x)) as ASCII (the shortest text that round-trips, as the\n"
"JSON encoder writes it; 'inf', '-inf', 'nan' as repr gives them) and return\n"
"the number of bytes written.  BufferTooSmall (needed = length) with nothing\n"
"written when it cannot fit.  O(1), no allocation.");

static PyObject *
bb_write_float(NcByteBuffer *b, PyObject *arg)
{
    double x = PyFloat_CheckExact(arg) ? PyFloat_AS_DOUBLE(arg) : PyFloat_AsDouble(arg);
    if (x == -1.0 && PyErr_Occurred())
        return NULL;
    char text[NC_DOUBLE_ROOM];
    int n = nc_format_double(x, text);
    return bb_put_text(b, text, n);
}

/* ---- prepending ----------------------------------------------------------- */

PyDoc_STRVAR(prepend_fmt_doc,
"prepend_fmt($self, fmt, /, *args)\n--\n\n"
"Write fmt % args (as write_fmt) into the bytes just before the read cursor\n"
"and move the cursor back over them, so the text becomes the start of the\n"
"readable bytes (a header in front of a body written first).  Return the\n"
"number of bytes written.  BufferTooSmall (needed = length) with nothing\n"
"written when fewer bytes than that lie before the read cursor.  Views and\n"
"held exports follow prepend()'s rule: Views go stale when the bytes written\n"
"over were readable since the storage last moved; with an export held the\n"
"readable bytes first move to fresh storage (O(readable)).  Otherwise\n"
"O(output), no allocation for int, float and bytes-like arguments.");

static PyObject *
bb_prepend_fmt(NcByteBuffer *b, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 1) {
        PyErr_SetString(PyExc_TypeError, "prepend_fmt() missing required argument 'fmt'");
        return NULL;
    }
    Py_buffer fmt;
    nc_fmt_job job;
    if (nc_get_buffer(args[0], &fmt) < 0)
        return NULL;
    PyObject *res = NULL;
    if (nc_fmt_prepare(&job, fmt.buf, fmt.len, args + 1, nargs - 1) < 0)
        goto done;
    Py_ssize_t n = job.size;
    char *dst;
    if ((res = PyLong_FromSsize_t(n)) == NULL)
        goto done;
    /* the room checks, staleness and a move off held exports are prepend()'s
     * (buffer_build.c); from the reserve to the commit no Python code runs */
    if (nc_bytebuffer_prepend_reserve(b, n, &dst) < 0)
        goto fail;
    if (n > 0) {
        if (nc_fmt_emit(&job, dst) < 0)
            goto fail;
        nc_bytebuffer_prepend_commit(b, n);
    }
    goto done;
fail:
    Py_CLEAR(res);
done:
    nc_fmt_release(&job);
    PyBuffer_Release(&fmt);
    return res;
}

PyMethodDef nc_bb_fmt_methods[] = {
    {"write_fmt", (PyCFunction)(void (*)(void))bb_write_fmt, METH_FASTCALL, write_fmt_doc},
    {"write_int", (PyCFunction)bb_write_int, METH_O, write_int_doc},
    {"write_float", (PyCFunction)bb_write_float, METH_O, write_float_doc},
    {"prepend_fmt", (PyCFunction)(void (*)(void))bb_prepend_fmt, METH_FASTCALL, prepend_fmt_doc},
    {NULL},
};
