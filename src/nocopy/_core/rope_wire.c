/* rope_wire.c -- Rope's typed reads at an offset: read_u8 .. read_f64 (both
 * byte orders), read_uvarint / read_varint and read_struct.  A Rope is not
 * a cursor (take/skip consume it), so these read at a byte offset and move
 * nothing; a value that straddles segment boundaries is gathered into a
 * small stack array, never by flattening.
 *
 * Ownership: nothing kept.  The offset is converted first (__index__ runs
 * Python, which may change the Rope), then the Rope is read as it is now:
 * bounds, staleness of the segments touched and the copy to the stack with
 * no Python in between; the result is built from that copy only, so its
 * allocation needs no pin. */
#include "rope.h"
#include "wire.h"

/* offset argument: an int or __index__; absent: 0. */
static int
offset_arg(PyObject *arg, const char *fname, Py_ssize_t *out)
{
    *out = 0;
    if (arg == NULL)
        return 0;
    if (!PyIndex_Check(arg)) {
        PyErr_Format(PyExc_TypeError, "%s() offset must be an integer, not '%.100s'", fname,
                     Py_TYPE(arg)->tp_name);
        return -1;
    }
    *out = PyNumber_AsSsize_t(arg, PyExc_IndexError);
    return *out == -1 && PyErr_Occurred() ? -1 : 0;
}

/* A negative offset counts from the end (struct.unpack_from's rule); the
 * n bytes from it must lie inside the Rope: IndexError. */
static int
bounds(NcRope *r, const char *fname, Py_ssize_t n, Py_ssize_t *pos)
{
    Py_ssize_t p = *pos < 0 ? *pos + r->len : *pos;
    if (p < 0 || p > r->len || r->len - p < n) {
        PyErr_Format(PyExc_IndexError,
                     "%s() needs %zd byte(s) at offset %zd of a %zd-byte Rope", fname, n, *pos,
                     r->len);
        return -1;
    }
    *pos = p;
    return 0;
}

/* bounds(), then the file segments the read touches loaded (n == 0: a
 * varint's at most NC_VARINT_MAX bytes).  Loading may run Python code, so
 * the offset is resolved again against the Rope as it is after it. */
static int
resolve(NcRope *r, const char *fname, Py_ssize_t n, Py_ssize_t *pos)
{
    Py_ssize_t orig = *pos;
    if (bounds(r, fname, n, pos) < 0)
        return -1;
    Py_ssize_t want = n;
    if (n == 0)
        want = r->len - *pos < NC_VARINT_MAX ? r->len - *pos : NC_VARINT_MAX;
    if (nc_rope_load(r, *pos, want) < 0)
        return -1;
    *pos = orig;
    return bounds(r, fname, n, pos);
}

/* read_X(offset=0, byteorder="big") */
static PyObject *
read_fixed(NcRope *r, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames, int kind)
{
    const nc_wire_kind *k = &nc_wire_kinds[kind];
    PyObject *a[2] = {NULL, NULL};
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    if (nargs > 2) {
        PyErr_Format(PyExc_TypeError, "%s() takes at most 2 arguments (%zd given)", k->read_name,
                     nargs + nkw);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < nargs; i++)
        a[i] = args[i];
    for (Py_ssize_t j = 0; j < nkw; j++) {
        PyObject *key = PyTuple_GET_ITEM(kwnames, j);  /* borrowed */
        int i = PyUnicode_CompareWithASCIIString(key, "offset") == 0 ? 0
              : PyUnicode_CompareWithASCIIString(key, "byteorder") == 0 ? 1 : -1;
        if (i < 0) {
            PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%U'",
                         k->read_name, key);
            return NULL;
        }
        if (a[i] != NULL) {
            PyErr_Format(PyExc_TypeError, "%s() got multiple values for argument '%s'",
                         k->read_name, i ? "byteorder" : "offset");
            return NULL;
        }
        a[i] = args[nargs + j];
    }
    Py_ssize_t pos;
    int little;
    unsigned char tmp[8];
    if (nc_wire_byteorder(a[1], &little) < 0 || offset_arg(a[0], k->read_name, &pos) < 0)
        return NULL;
    if (resolve(r, k->read_name, k->size, &pos) < 0 || nc_rope_copy_out(r, pos, k->size, (char *)tmp) < 0)
        return NULL;
    return nc_wire_unpack(tmp, k, little);
}

/* read_[u]varint(offset=0) -> (value, next_offset) */
static PyObject *
read_varint(NcRope *r, PyObject *const *args, Py_ssize_t nargs, int zigzag)
{
    const char *fname = zigzag ? "read_varint" : "read_uvarint";
    unsigned char tmp[NC_VARINT_MAX];
    Py_ssize_t pos;
    uint64_t x;
    if (nargs > 1) {
        PyErr_Format(PyExc_TypeError, "%s() takes at most 1 argument (%zd given)", fname, nargs);
        return NULL;
    }
    if (offset_arg(nargs ? args[0] : NULL, fname, &pos) < 0 || resolve(r, fname, 0, &pos) < 0)
        return NULL;
    Py_ssize_t avail = r->len - pos;
    if (avail > NC_VARINT_MAX)
        avail = NC_VARINT_MAX;
    if (nc_rope_copy_out(r, pos, avail, (char *)tmp) < 0)
        return NULL;
    int n = nc_wire_get_uvarint(tmp, avail, &x);
    if (n < 0) {
        nc_wire_raise_overlong(fname);
        return NULL;
    }
    if (n == 0) {
        PyErr_Format(PyExc_IndexError, "%s(): the varint at offset %zd runs past the end of the "
                     "%zd-byte Rope", fname, pos, r->len);
        return NULL;
    }
    PyObject *v = zigzag ? PyLong_FromLongLong(nc_wire_unzigzag(x))
                         : PyLong_FromUnsignedLongLong(x);
    if (v == NULL)
        return NULL;
    return Py_BuildValue("(Nn)", v, pos + n);
}

PyDoc_STRVAR(read_struct_doc,
"read_struct($self, s, offset=0, /)\n--\n\n"
"s.unpack_from() of the s.size bytes at offset (s: a struct.Struct; a negative\n"
"offset counts from the end), without consuming.  IndexError when they run\n"
"past the end.  O(s.size): the bytes are gathered across segments into one\n"
"temporary bytes object (s.unpack_from(rope, offset) would flatten the\n"
"whole Rope instead).");

static PyObject *
rope_read_struct(NcRope *r, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t size, pos;
    if (nargs < 1 || nargs > 2) {
        PyErr_Format(PyExc_TypeError, "read_struct() takes 1 or 2 arguments (%zd given)", nargs);
        return NULL;
    }
    if (nc_wire_struct_size(args[0], "read_struct", &size) < 0
        || offset_arg(nargs > 1 ? args[1] : NULL, "read_struct", &pos) < 0)
        return NULL;
    /* the bytes object first: its allocation may run Python that changes r */
    PyObject *tmp = PyBytes_FromStringAndSize(NULL, size), *res = NULL;
    if (tmp == NULL)
        return NULL;
    if (resolve(r, "read_struct", size, &pos) < 0
        || nc_rope_copy_out(r, pos, size, PyBytes_AS_STRING(tmp)) < 0)
        goto done;
    PyObject *argv[2] = {args[0], tmp};
    res = nc_wire_struct_call(NC_STRUCT_UNPACK_FROM, argv, 2);
done:
    Py_DECREF(tmp);
    return res;
}

#define READ_DOC(NAME, N, WHAT)                                                              \
    #NAME "($self, offset=0, byteorder='big')\n--\n\n"                                       \
    "The " #N " byte(s) at offset as " WHAT " (byteorder 'big' or 'little'; a\n"             \
    "negative offset counts from the end), without consuming.  A value that\n"               \
    "straddles segments is gathered on the stack, never flattened.  IndexError\n"            \
    "when it runs past the end.  O(log segments), no allocation beyond the result."

#define FIXED(KIND, NAME, N, WHAT)                                                           \
    static PyObject *rope_##NAME(NcRope *r, PyObject *const *args, Py_ssize_t nargs,        \
                                 PyObject *kwnames)                                          \
    {                                                                                        \
        return read_fixed(r, args, nargs, kwnames, KIND);                                    \
    }                                                                                        \
    PyDoc_STRVAR(NAME##_doc, READ_DOC(NAME, N, WHAT));

FIXED(NC_U8, read_u8, 1, "an unsigned int")
FIXED(NC_U16, read_u16, 2, "an unsigned int")
FIXED(NC_U32, read_u32, 4, "an unsigned int")
FIXED(NC_U64, read_u64, 8, "an unsigned int")
FIXED(NC_I8, read_i8, 1, "a signed (two's complement) int")
FIXED(NC_I16, read_i16, 2, "a signed (two's complement) int")
FIXED(NC_I32, read_i32, 4, "a signed (two's complement) int")
FIXED(NC_I64, read_i64, 8, "a signed (two's complement) int")
FIXED(NC_F32, read_f32, 4, "an IEEE 754 binary32 float")
FIXED(NC_F64, read_f64, 8, "an IEEE 754 binary64 float")

static PyObject *
rope_read_uvarint(NcRope *r, PyObject *const *args, Py_ssize_t nargs)
{
    return read_varint(r, args, nargs, 0);
}

static PyObject *
rope_read_varint(NcRope *r, PyObject *const *args, Py_ssize_t nargs)
{
    return read_varint(r, args, nargs, 1);
}

PyDoc_STRVAR(read_uvarint_doc,
"read_uvarint($self, offset=0, /)\n--\n\n"
"Decode the unsigned LEB128 varint at offset: (value, offset just past it),\n"
"without consuming.  VarintError when over-long (more than 10 bytes, or past\n"
"2**64 - 1); IndexError when it runs past the end of the Rope (truncated).\n"
"O(log segments): at most 10 bytes gathered.");

PyDoc_STRVAR(read_varint_doc,
"read_varint($self, offset=0, /)\n--\n\n"
"Decode the zigzag-encoded signed LEB128 varint at offset: (value, offset\n"
"just past it).  Errors as read_uvarint().  O(log segments).");

#define FC(f) (PyCFunction)(void (*)(void))(f), METH_FASTCALL
#define FCK(f) (PyCFunction)(void (*)(void))(f), METH_FASTCALL | METH_KEYWORDS

PyMethodDef nc_rope_wire_methods[] = {
    {"read_u8", FCK(rope_read_u8), read_u8_doc},
    {"read_u16", FCK(rope_read_u16), read_u16_doc},
    {"read_u32", FCK(rope_read_u32), read_u32_doc},
    {"read_u64", FCK(rope_read_u64), read_u64_doc},
    {"read_i8", FCK(rope_read_i8), read_i8_doc},
    {"read_i16", FCK(rope_read_i16), read_i16_doc},
    {"read_i32", FCK(rope_read_i32), read_i32_doc},
    {"read_i64", FCK(rope_read_i64), read_i64_doc},
    {"read_f32", FCK(rope_read_f32), read_f32_doc},
    {"read_f64", FCK(rope_read_f64), read_f64_doc},
    {"read_uvarint", FC(rope_read_uvarint), read_uvarint_doc},
    {"read_varint", FC(rope_read_varint), read_varint_doc},
    {"read_struct", FC(rope_read_struct), read_struct_doc},
    {NULL},
};
