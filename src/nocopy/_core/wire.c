/* wire.c -- fixed-width integers, floats and LEB128 varints as bytes, shared
 * by ByteBuffer's typed cursors (buffer_wire.c) and Rope's typed reads
 * (rope_wire.c).  See wire.h for the contract.
 *
 * Ownership: the interned names and the struct.Struct type are loaded once,
 * on first use, and kept for the life of the process (like CPython's own
 * static strings); nothing else here keeps a reference. */
#include "wire.h"

const nc_wire_kind nc_wire_kinds[NC_NKINDS] = {
    [NC_U8] = {"read_u8", "write_u8", 1, 0, 0},
    [NC_U16] = {"read_u16", "write_u16", 2, 0, 0},
    [NC_U32] = {"read_u32", "write_u32", 4, 0, 0},
    [NC_U64] = {"read_u64", "write_u64", 8, 0, 0},
    [NC_I8] = {"read_i8", "write_i8", 1, 1, 0},
    [NC_I16] = {"read_i16", "write_i16", 2, 1, 0},
    [NC_I32] = {"read_i32", "write_i32", 4, 1, 0},
    [NC_I64] = {"read_i64", "write_i64", 8, 1, 0},
    [NC_F32] = {"read_f32", "write_f32", 4, 0, 1},
    [NC_F64] = {"read_f64", "write_f64", 8, 0, 1},
};

static PyObject *str_big, *str_little, *str_size;
/* "pack_into", "unpack_from", "pack" (NC_STRUCT_*), and struct.Struct's
 * descriptors of the same names */
static PyObject *str_meth[3], *struct_meth[3], *struct_size_descr;
static PyTypeObject *struct_type;

static int nc_wire_init(void);

static int
nc_wire_init(void)
{
    if (str_big != NULL)
        return 0;
    PyObject *names[6];
    const char *text[6] = {"big", "little", "pack_into", "unpack_from", "pack", "size"};
    for (int i = 0; i < 6; i++) {
        names[i] = PyUnicode_InternFromString(text[i]);
        if (names[i] == NULL) {
            while (--i >= 0)
                Py_DECREF(names[i]);
            return -1;
        }
    }
    str_little = names[1];
    str_meth[NC_STRUCT_PACK_INTO] = names[2];
    str_meth[NC_STRUCT_UNPACK_FROM] = names[3];
    str_meth[NC_STRUCT_PACK] = names[4];
    str_size = names[5];
    str_big = names[0];  /* last: the "initialised" flag */
    return 0;
}

int
nc_wire_byteorder(PyObject *arg, int *little)
{
    if (arg == NULL) {
        *little = 0;
        return 0;
    }
    if (str_big == NULL && nc_wire_init() < 0)
        return -1;
    if (arg == str_big) {
        *little = 0;
        return 0;
    }
    if (arg == str_little) {
        *little = 1;
        return 0;
    }
    if (!PyUnicode_Check(arg)) {
        PyErr_Format(PyExc_TypeError, "byteorder must be str, not '%.100s'", Py_TYPE(arg)->tp_name);
        return -1;
    }
    if (PyUnicode_CompareWithASCIIString(arg, "big") == 0) {
        *little = 0;
        return 0;
    }
    if (PyUnicode_CompareWithASCIIString(arg, "little") == 0) {
        *little = 1;
        return 0;
    }
    PyErr_SetString(PyExc_ValueError, "byteorder must be either 'little' or 'big'");
    return -1;
}

/* value as an int (a new reference): an int, or an object with __index__
 * (struct's rule; bool is an int).  TypeError otherwise, floats included. */
static PyObject *
int_arg(PyObject *value, const char *fname)
{
    if (PyLong_Check(value))
        return Py_NewRef(value);
    if (!PyIndex_Check(value)) {
        PyErr_Format(PyExc_TypeError, "%s() argument must be an integer, not '%.100s'", fname,
                     Py_TYPE(value)->tp_name);
        return NULL;
    }
    return PyNumber_Index(value);
}

/* An unsigned 64-bit value of the int x: 0; -2 (no exception set) when x
 * is negative or >= 2**64; -1 with an exception. */
static int
as_u64(PyObject *x, uint64_t *out)
{
    int ovf;
    long long v = PyLong_AsLongLongAndOverflow(x, &ovf);
    if (v == -1 && PyErr_Occurred())
        return -1;
    if (ovf == 0) {
        if (v < 0)
            return -2;
        *out = (uint64_t)v;
        return 0;
    }
    if (ovf < 0)
        return -2;
    unsigned long long u = PyLong_AsUnsignedLongLong(x);
    if (u == (unsigned long long)-1 && PyErr_Occurred()) {
        if (!PyErr_ExceptionMatches(PyExc_OverflowError))
            return -1;
        PyErr_Clear();
        return -2;
    }
    *out = (uint64_t)u;
    return 0;
}

static void
store(uint64_t v, int size, int little, unsigned char *out)
{
    for (int i = 0; i < size; i++) {
        unsigned char c = (unsigned char)(v >> (8 * i));
        out[little ? i : size - 1 - i] = c;
    }
}

static uint64_t
load(const unsigned char *p, int size, int little)
{
    uint64_t v = 0;
    for (int i = 0; i < size; i++)
        v = (v << 8) | p[little ? size - 1 - i : i];
    return v;
}

int
nc_wire_pack(PyObject *value, const nc_wire_kind *k, int little, unsigned char *out)
{
    if (k->is_float) {
        double d = PyFloat_AsDouble(value);  /* __float__, then __index__ */
        if (d == -1.0 && PyErr_Occurred())
            return -1;
        return k->size == 4 ? PyFloat_Pack4(d, (char *)out, little)
                            : PyFloat_Pack8(d, (char *)out, little);
    }
    PyObject *x = int_arg(value, k->write_name);
    if (x == NULL)
        return -1;
    uint64_t u;
    int rc = 0;
    if (k->is_signed) {
        int ovf;
        long long v = PyLong_AsLongLongAndOverflow(x, &ovf);
        long long hi = (long long)(((uint64_t)1 << (8 * k->size - 1)) - 1), lo = -hi - 1;
        if (v == -1 && PyErr_Occurred())
            rc = -1;
        else if (ovf != 0 || v < lo || v > hi) {
            PyErr_Format(PyExc_OverflowError, "%s() argument out of range: %lld <= value <= %lld",
                         k->write_name, lo, hi);
            rc = -1;
        }
        u = (uint64_t)v;
    }
    else {
        uint64_t max = k->size == 8 ? UINT64_MAX : ((uint64_t)1 << (8 * k->size)) - 1;
        rc = as_u64(x, &u);
        if (rc == -2 || (rc == 0 && u > max)) {
            PyErr_Format(PyExc_OverflowError, "%s() argument out of range: 0 <= value <= %llu",
                         k->write_name, (unsigned long long)max);
            rc = -1;
        }
    }
    Py_DECREF(x);
    if (rc == 0)
        store(u, k->size, little, out);
    return rc;
}

PyObject *
nc_wire_unpack(const unsigned char *p, const nc_wire_kind *k, int little)
{
    if (k->is_float) {
        double d = k->size == 4 ? PyFloat_Unpack4((const char *)p, little)
                                : PyFloat_Unpack8((const char *)p, little);
        if (d == -1.0 && PyErr_Occurred())
            return NULL;
        return PyFloat_FromDouble(d);
    }
    uint64_t u = load(p, k->size, little);
    if (!k->is_signed)
        return PyLong_FromUnsignedLongLong(u);
    int shift = 64 - 8 * k->size;  /* sign-extend through the top bit */
    return PyLong_FromLongLong((long long)((int64_t)(u << shift) >> shift));
}

int
nc_wire_varint_arg(PyObject *value, int zigzag, const char *fname, uint64_t *out)
{
    PyObject *x = int_arg(value, fname);
    if (x == NULL)
        return -1;
    int rc;
    if (!zigzag) {
        rc = as_u64(x, out);
        if (rc == -2)
            PyErr_Format(PyExc_OverflowError,
                         "%s() argument out of range: 0 <= value <= 18446744073709551615", fname);
    }
    else {
        int ovf;
        long long v = PyLong_AsLongLongAndOverflow(x, &ovf);
        rc = 0;
        if (v == -1 && PyErr_Occurred())
            rc = -1;
        else if (ovf != 0) {
            PyErr_Format(PyExc_OverflowError,
                         "%s() argument out of range: "
                         "-9223372036854775808 <= value <= 9223372036854775807", fname);
            rc = -1;
        }
        else
            *out = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);  /* zigzag */
    }
    Py_DECREF(x);
    return rc < 0 ? -1 : 0;
}

int
nc_wire_put_uvarint(uint64_t v, unsigned char *out)
{
    int n = 0;
    while (v >= 0x80) {
        out[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (unsigned char)v;
    return n;
}

int
nc_wire_get_uvarint(const unsigned char *p, Py_ssize_t n, uint64_t *out)
{
    uint64_t x = 0;
    Py_ssize_t m = n < NC_VARINT_MAX ? n : NC_VARINT_MAX;
    for (Py_ssize_t i = 0; i < m; i++) {
        unsigned char c = p[i];
        if (i == NC_VARINT_MAX - 1 && c > 1)
            return -1;
        x |= (uint64_t)(c & 0x7f) << (7 * i);
        if (c < 0x80) {
            *out = x;
            return (int)i + 1;
        }
    }
    return n >= NC_VARINT_MAX ? -1 : 0;
}

void
nc_wire_raise_overlong(const char *fname)
{
    PyObject *errors = PyImport_ImportModule("nocopy.errors");
    if (errors == NULL)
        return;
    PyObject *cls = PyObject_GetAttrString(errors, "VarintError");
    Py_DECREF(errors);
    if (cls == NULL)
        return;
    PyErr_Format(cls, "%s(): over-long varint (more than 10 bytes, or a value above 2**64 - 1)",
                 fname);
    Py_DECREF(cls);
}

PyTypeObject *
nc_wire_struct_type(void)
{
    if (struct_type != NULL)
        return struct_type;
    if (str_big == NULL && nc_wire_init() < 0)
        return NULL;
    PyObject *mod = PyImport_ImportModule("_struct");
    if (mod == NULL)
        return NULL;
    PyObject *t = PyObject_GetAttrString(mod, "Struct");
    Py_DECREF(mod);
    if (t == NULL)
        return NULL;
    if (!PyType_Check(t)) {
        PyErr_SetString(PyExc_TypeError, "_struct.Struct is not a type");
        Py_DECREF(t);
        return NULL;
    }
    PyObject *d[4] = {NULL, NULL, NULL, NULL};
    for (int i = 0; i < 3; i++)
        if ((d[i] = PyObject_GetAttr(t, str_meth[i])) == NULL)
            goto fail;
    if ((d[3] = PyObject_GetAttr(t, str_size)) == NULL)
        goto fail;
    if (Py_TYPE(d[3])->tp_descr_get == NULL) {
        PyErr_SetString(PyExc_TypeError, "_struct.Struct.size is not a descriptor");
        goto fail;
    }
    if (struct_type != NULL) {  /* the import ran Python that got here first */
        for (int i = 0; i < 4; i++)
            Py_DECREF(d[i]);
        Py_DECREF(t);
        return struct_type;
    }
    for (int i = 0; i < 3; i++)
        struct_meth[i] = d[i];
    struct_size_descr = d[3];
    struct_type = (PyTypeObject *)t;  /* last: the "loaded" flag */
    return struct_type;
fail:
    for (int i = 0; i < 4; i++)
        Py_XDECREF(d[i]);
    Py_DECREF(t);
    return NULL;
}

PyObject *
nc_wire_struct_call(int which, PyObject *const *args, size_t nargs)
{
    if (Py_IS_TYPE(args[0], struct_type))
        return PyObject_Vectorcall(struct_meth[which], args, nargs, NULL);
    return PyObject_VectorcallMethod(str_meth[which], args, nargs, NULL);
}

int
nc_wire_struct_size(PyObject *s, const char *fname, Py_ssize_t *out)
{
    PyTypeObject *t = nc_wire_struct_type();
    if (t == NULL)
        return -1;
    if (!PyObject_TypeCheck(s, t)) {
        PyErr_Format(PyExc_TypeError, "%s() argument must be a struct.Struct, not '%.100s'", fname,
                     Py_TYPE(s)->tp_name);
        return -1;
    }
    /* exact: the member's getter, no attribute lookup (a subclass may
     * override size: looked up) */
    PyObject *size = Py_IS_TYPE(s, t)
        ? Py_TYPE(struct_size_descr)->tp_descr_get(struct_size_descr, s, (PyObject *)t)
        : PyObject_GetAttr(s, str_size);
    if (size == NULL)
        return -1;
    Py_ssize_t n = PyLong_Check(size) ? PyLong_AsSsize_t(size) : -2;
    Py_DECREF(size);
    if (n == -1 && PyErr_Occurred())
        return -1;
    if (n < 0) {
        PyErr_Format(PyExc_TypeError, "%s(): the Struct's size is not an int >= 0", fname);
        return -1;
    }
    *out = n;
    return 0;
}
