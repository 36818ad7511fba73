/* buffer_wire.c -- ByteBuffer's typed cursors: read_u8 .. read_f64 and
 * write_u8 .. write_f64 (both byte orders), LEB128 varints (read_uvarint,
 * read_varint zigzag, and their writes), read_struct / write_struct with a
 * struct.Struct.  Their method table is concatenated into ByteBuffer's at
 * module init (buffer.c).
 *
 * The rules of buffer.c (see its header), applied here:
 *   - writes convert the value first (__index__ / __float__ run arbitrary
 *     Python, which may clear, fill or read this very buffer) into bytes on
 *     the C stack, then reserve room and copy with no Python in between;
 *   - reads copy the value's bytes out of the storage, build the result
 *     (an allocation: the GC may run a finalizer that uses the buffer) and
 *     consume only if the cursors are as they were; else they start again;
 *   - read_struct / write_struct call out into the Struct while its memory
 *     is lent: the buffer is busy meanwhile (every mutator refuses), and a
 *     write is committed only after pack_into returned.
 * Errors leave the cursors where they were (nothing consumed, nothing
 * written).  With a source attached (nocopy.io.Reader), reads that find
 * too few bytes read from it first; a buffer with an overflow handler
 * (nocopy.io.Writer) drains through it when a write does not fit. */
#include "buffer_impl.h"
#include "wire.h"

/* ---- arguments ------------------------------------------------------------- */

/* read_X(byteorder="big") */
static int
read_args(const char *fname, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
          int *little)
{
    static const char *const names[] = {"byteorder"};
    PyObject *a[1];
    if (kwnames == NULL && nargs <= 1)
        return nc_wire_byteorder(nargs ? args[0] : NULL, little);
    if (nc_bb_parse_args(fname, args, nargs, kwnames, names, 1, 1, 0, a) < 0)
        return -1;
    return nc_wire_byteorder(a[0], little);
}

/* write_X(value, byteorder="big"): value borrowed in *value */
static int
write_args(const char *fname, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
           PyObject **value, int *little)
{
    static const char *const names[] = {"value", "byteorder"};
    PyObject *a[2];
    if (kwnames == NULL && (nargs == 1 || nargs == 2)) {
        *value = args[0];
        return nc_wire_byteorder(nargs == 2 ? args[1] : NULL, little);
    }
    if (nc_bb_parse_args(fname, args, nargs, kwnames, names, 2, 2, 1, a) < 0)
        return -1;
    *value = a[0];
    return nc_wire_byteorder(a[1], little);
}

/* ---- reading ---------------------------------------------------------------- */

static int
has_source(NcByteBuffer *b)
{
    return (b->src.meth != NULL || b->src.fd >= 0) && !b->src_eof;
}

/* IncompleteRead(.partial = a copy of the readable bytes, .expected =
 * expected or None when < 0), nothing consumed.  The bytes object first:
 * its allocation may run Python that moves the cursors. */
static void
raise_short(NcByteBuffer *b, Py_ssize_t expected)
{
    for (;;) {
        Py_ssize_t got = b->wpos - b->rpos;
        PyObject *partial = PyBytes_FromStringAndSize(NULL, got);
        if (partial == NULL)
            return;
        if (b->wpos - b->rpos == got) {
            memcpy(PyBytes_AS_STRING(partial), b->holder->buf + b->rpos, (size_t)got);
            if (expected >= 0)
                nc_raise_new(bb_state(b)->IncompleteRead, "(On)", partial, expected);
            else
                nc_raise_new(bb_state(b)->IncompleteRead, "(OO)", partial, Py_None);
            Py_DECREF(partial);
            return;
        }
        Py_DECREF(partial);
    }
}

/* The most bytes a compaction can line up from the read cursor: the
 * storage after bb_front() (the capacity, more when a prepend() reached into
 * the headroom).  Not holder->len: that counts the headroom, and is 0 while
 * take_bytes() has handed the storage over. */
static inline Py_ssize_t
value_room(NcByteBuffer *b)
{
    return b->size - bb_front(b);
}

/* One read from the attached source so that `n` bytes from the read cursor
 * can fit (compacting first when they would not, attaching fresh storage
 * after take_bytes()). */
static int
fill_once(NcByteBuffer *b, Py_ssize_t n, const char *fname)
{
    Py_ssize_t room = value_room(b);
    if (n > room) {
        PyObject *msg = PyUnicode_FromFormat("%s() needs %zd bytes, more than the buffer's "
                                             "capacity (%zd)", fname, n, room);
        if (msg != NULL) {
            nc_raise_new(bb_state(b)->BufferTooSmall, "(On)", msg, n);
            Py_DECREF(msg);
        }
        return -1;
    }
    if (b->holder->len - b->rpos < n && nc_bb_relocate(b, 0, 0) < 0)
        return -1;
    return nc_bb_fill_attached(b) < 0 ? -1 : 0;
}

/* At least n readable bytes (reading the attached source as needed), the
 * buffer idle; IncompleteRead when they cannot come. */
static inline int
need(NcByteBuffer *b, Py_ssize_t n, const char *fname)
{
    for (;;) {
        if (check_idle(b) < 0)
            return -1;
        if (b->wpos - b->rpos >= n)
            return 0;
        if (!has_source(b)) {
            raise_short(b, n);
            return -1;
        }
        if (fill_once(b, n, fname) < 0)
            return -1;
    }
}

/* Consume n bytes whose value `res` was built from a copy taken at
 * (rpos, gen); 1 when done, 0 when the buffer changed under the allocation
 * of res (res dropped: the caller starts again). */
static inline int
consume_if_unchanged(NcByteBuffer *b, Py_ssize_t rpos, uint64_t gen, Py_ssize_t n, PyObject *res)
{
    if (b->rpos == rpos && b->gen == gen && !b->busy && b->wpos - rpos >= n) {
        b->rpos = rpos + n;
        return 1;
    }
    Py_DECREF(res);
    return 0;
}

static PyObject *
read_fixed(NcByteBuffer *b, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames, int kind)
{
    const nc_wire_kind *k = &nc_wire_kinds[kind];
    unsigned char tmp[8];
    int little;
    if (read_args(k->read_name, args, nargs, kwnames, &little) < 0)
        return NULL;
    for (;;) {
        if (need(b, k->size, k->read_name) < 0)
            return NULL;
        Py_ssize_t rpos = b->rpos;
        uint64_t gen = b->gen;
        memcpy(tmp, b->holder->buf + rpos, (size_t)k->size);
        PyObject *res = nc_wire_unpack(tmp, k, little);
        if (res == NULL)
            return NULL;
        if (consume_if_unchanged(b, rpos, gen, k->size, res))
            return res;
    }
}

static PyObject *
read_varint(NcByteBuffer *b, PyObject *const *args, Py_ssize_t nargs, int zigzag)
{
    const char *fname = zigzag ? "read_varint" : "read_uvarint";
    if (nargs != 0) {
        PyErr_Format(PyExc_TypeError, "%s() takes no arguments (%zd given)", fname, nargs);
        return NULL;
    }
    for (;;) {
        if (check_idle(b) < 0)
            return NULL;
        Py_ssize_t rpos = b->rpos, avail = b->wpos - rpos;
        uint64_t gen = b->gen, x;
        int n = nc_wire_get_uvarint((const unsigned char *)b->holder->buf + rpos, avail, &x);
        if (n < 0) {
            nc_wire_raise_overlong(fname);
            return NULL;
        }
        if (n == 0) {
            if (!has_source(b)) {
                raise_short(b, -1);
                return NULL;
            }
            if (fill_once(b, avail + 1, fname) < 0)
                return NULL;
            continue;
        }
        PyObject *res = zigzag ? PyLong_FromLongLong(nc_wire_unzigzag(x))
                               : PyLong_FromUnsignedLongLong(x);
        if (res == NULL)
            return NULL;
        if (consume_if_unchanged(b, rpos, gen, n, res))
            return res;
    }
}

PyDoc_STRVAR(read_struct_doc,
"read_struct($self, s, /)\n--\n\n"
"Consume s.size bytes and return s.unpack_from() of them (s: a struct.Struct).\n"
"Too few readable bytes: the attached source (nocopy.io.Reader) is read\n"
"first, else IncompleteRead (.partial: the readable bytes), nothing consumed.\n"
"A Struct larger than the capacity, with a source attached, is read as\n"
"_read_exact(s.size) is (IncompleteRead then consumes what arrived).\n"
"The buffer is busy while the Struct unpacks.  O(s.size): the tuple and its\n"
"items are the only allocations (the Struct reads a reused private View).");

static PyObject *
bb_read_struct(NcByteBuffer *b, PyObject *s)
{
    Py_ssize_t size;
    if (nc_wire_struct_size(s, "read_struct", &size) < 0)
        return NULL;
    if (size > value_room(b) && has_source(b) && b->wpos - b->rpos < size) {
        /* larger than the whole buffer (nocopy.io.Reader): read_exact's
         * frame, straight from the source into one bytearray */
        PyObject *frame = PyObject_CallMethod((PyObject *)b, "_read_exact", "n", size);
        if (frame == NULL)
            return NULL;
        PyObject *argv[2] = {s, frame};
        PyObject *res = nc_wire_struct_call(NC_STRUCT_UNPACK_FROM, argv, 2);
        Py_DECREF(frame);
        return res;
    }
    /* unpack_from(view): the buffer's cached View (no allocation in a
     * steady loop) pointed at exactly the s.size bytes.  need() and the
     * View and untaint allocations may run Python: again until all three
     * hold with nothing run in between. */
    NcView *v;
    for (;;) {
        if (need(b, size, "read_struct") < 0 || (v = nc_bb_wview(b)) == NULL)
            return NULL;
        if (b->wtaint && nc_bb_untaint(b) < 0) {
            Py_DECREF(v);
            return NULL;
        }
        if (!b->busy && b->wpos - b->rpos >= size)
            break;
        Py_DECREF(v);
    }
    bb_point(v, b->holder, b->rpos, b->rpos + size);
    PyObject *argv[2] = {s, (PyObject *)v};
    b->busy = 1;  /* a Struct subclass's Python code cannot move what it reads */
    PyObject *res = nc_wire_struct_call(NC_STRUCT_UNPACK_FROM, argv, 2);
    b->busy = 0;
    Py_DECREF(v);
    if (res == NULL)
        return NULL;
    if (b->wpos - b->rpos < size) {  /* cannot happen while busy; never trusted */
        Py_DECREF(res);
        PyErr_SetString(PyExc_RuntimeError, "ByteBuffer changed during read_struct()");
        return NULL;
    }
    b->rpos += size;
    return res;
}

/* ---- writing ---------------------------------------------------------------- */

/* The overflow handler (nocopy.io.Writer) sends the buffered bytes:
 * handler(self, b"", 0, 0).  Runs Python. */
int
nc_bb_drain(NcByteBuffer *b)
{
    PyObject *empty = PyBytes_FromStringAndSize(NULL, 0);
    if (empty == NULL)
        return -1;
    PyObject *handler = Py_NewRef(b->overflow);  /* it may replace itself while it runs */
    PyObject *r = PyObject_CallFunction(handler, "OOnn", (PyObject *)b, empty, (Py_ssize_t)0,
                                        (Py_ssize_t)0);
    Py_DECREF(handler);
    Py_DECREF(empty);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 0;
}

static inline int
wants_drain(NcByteBuffer *b, Py_ssize_t n)
{
    return b->overflow != NULL && !b->busy && n > nc_bytebuffer_tail(b);
}

/* Copy the n converted bytes at src in at the write cursor; the count. */
static PyObject *
put(NcByteBuffer *b, const unsigned char *src, Py_ssize_t n)
{
    char *dst;
    if (wants_drain(b, n) && nc_bb_drain(b) < 0)
        return NULL;
    if (nc_bytebuffer_reserve(b, n, &dst) < 0)
        return NULL;
    memcpy(dst, src, (size_t)n);
    /* reserve left no export of the write window: the commit cannot fail */
    if (nc_bytebuffer_commit(b, n) < 0)
        return NULL;
    return PyLong_FromSsize_t(n);  /* a cached small int */
}

static PyObject *
write_fixed(NcByteBuffer *b, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames, int kind)
{
    const nc_wire_kind *k = &nc_wire_kinds[kind];
    unsigned char tmp[8];
    PyObject *value;
    int little;
    if (write_args(k->write_name, args, nargs, kwnames, &value, &little) < 0
        || nc_wire_pack(value, k, little, tmp) < 0)
        return NULL;
    return put(b, tmp, k->size);
}

static PyObject *
write_varint(NcByteBuffer *b, PyObject *const *args, Py_ssize_t nargs, int zigzag)
{
    const char *fname = zigzag ? "write_varint" : "write_uvarint";
    unsigned char tmp[NC_VARINT_MAX];
    uint64_t x;
    if (nargs != 1) {
        PyErr_Format(PyExc_TypeError, "%s() takes exactly one argument (%zd given)", fname, nargs);
        return NULL;
    }
    if (nc_wire_varint_arg(args[0], zigzag, fname, &x) < 0)
        return NULL;
    return put(b, tmp, nc_wire_put_uvarint(x, tmp));
}

/* A struct larger than the whole buffer, with an overflow handler: packed
 * into one bytes object and handed to the handler with the buffered bytes
 * (nocopy.io.Writer sends both in one call). */
static PyObject *
write_struct_large(NcByteBuffer *b, PyObject *const *args, Py_ssize_t nargs, Py_ssize_t size)
{
    PyObject *packed = nc_wire_struct_call(NC_STRUCT_PACK, args, (size_t)nargs);
    if (packed == NULL)
        return NULL;
    PyObject *r = NULL;
    if (!PyBytes_Check(packed)) {
        PyErr_Format(PyExc_TypeError, "Struct.pack() returned '%.100s', expected bytes",
                     Py_TYPE(packed)->tp_name);
        goto done;
    }
    if (b->closed) {  /* the pack ran Python: a closed buffer sends nothing */
        nc_bb_refuse_fresh(b, NULL);
        goto done;
    }
    if (b->overflow == NULL || b->busy) {  /* the pack ran Python */
        nc_bb_raise_too_small(b, size, "ByteBuffer free space too small");
        goto done;
    }
    PyObject *handler = Py_NewRef(b->overflow);
    r = PyObject_CallFunction(handler, "OOnn", (PyObject *)b, packed, (Py_ssize_t)0,
                              PyBytes_GET_SIZE(packed));
    Py_DECREF(handler);
    if (r != NULL) {
        Py_SETREF(r, PyLong_FromSsize_t(PyBytes_GET_SIZE(packed)));
    }
done:
    Py_DECREF(packed);
    return r;
}

PyDoc_STRVAR(write_struct_doc,
"write_struct($self, s, /, *values)\n--\n\n"
"s.pack_into() the values straight into the free space at the write cursor\n"
"and commit s.size bytes (s: a struct.Struct); returns s.size.  Compacts\n"
"when that makes it fit, else BufferTooSmall (needed = s.size); nothing is\n"
"committed when packing fails (struct.error, OverflowError, TypeError).  The\n"
"buffer is busy while the Struct converts the values (their __index__ cannot\n"
"change it).  O(s.size): no temporary bytes.");

static PyObject *
bb_write_struct(NcByteBuffer *b, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t size;
    char *dst;
    if (nargs < 1) {
        PyErr_SetString(PyExc_TypeError, "write_struct() missing required argument 's'");
        return NULL;
    }
    if (nc_wire_struct_size(args[0], "write_struct", &size) < 0 || check_idle(b) < 0)
        return NULL;
    /* never fits, even drained: the capacity (the headroom is not for writes) */
    if (b->overflow != NULL && size > b->size - b->head && !b->closed)
        return write_struct_large(b, args, nargs, size);
    if (wants_drain(b, size) && nc_bb_drain(b) < 0)
        return NULL;
    /* pack_into(view, 0, *values): the arguments, then the View (both
     * allocate, so may run Python), then room, and nothing else runs until
     * the Struct gets the View. */
    PyObject *small[16], **argv = small;
    size_t argc = (size_t)nargs + 2;
    if (argc > sizeof(small) / sizeof(small[0])) {
        argv = PyMem_New(PyObject *, argc);
        if (argv == NULL)
            return PyErr_NoMemory();
    }
    PyObject *res = NULL, *zero = PyLong_FromLong(0);  /* a cached small int */
    NcView *v = NULL;
    if (zero == NULL || (v = nc_bb_wview(b)) == NULL)
        goto done;
    if (nc_bytebuffer_reserve(b, size, &dst) < 0)
        goto done;
    bb_point(v, b->wwin, 0, size);
    argv[0] = args[0];
    argv[1] = (PyObject *)v;
    argv[2] = zero;
    for (Py_ssize_t i = 1; i < nargs; i++)
        argv[i + 2] = args[i];
    b->busy = 1;  /* values' __index__ run inside pack_into: no mutation meanwhile */
    PyObject *r = nc_wire_struct_call(NC_STRUCT_PACK_INTO, argv, argc);
    b->busy = 0;
    if (r == NULL)
        goto done;
    Py_DECREF(r);
    /* busy kept the cursors; a subclass's pack_into that kept an export of
     * the window is handled by the commit (the buffer is marked tainted) */
    if (nc_bytebuffer_commit(b, size) < 0)
        goto done;
    res = PyLong_FromSsize_t(size);
done:
    Py_XDECREF(v);
    Py_XDECREF(zero);
    if (argv != small)
        PyMem_Free(argv);
    return res;
}

/* ---- the method table -------------------------------------------------------- */

#define READ_DOC(NAME, N, WHAT)                                                              \
    #NAME "($self, byteorder='big')\n--\n\n"                                                 \
    "Consume " #N " byte(s) at the read cursor and return them as " WHAT "\n"                \
    "(byteorder 'big' or 'little', positional or keyword).  Too few readable\n"              \
    "bytes: the attached source (nocopy.io.Reader) is read first; else\n"                    \
    "IncompleteRead (.partial: a copy of the readable bytes, .expected: " #N "),\n"          \
    "nothing consumed.  O(1): no allocation beyond the result."

#define WRITE_DOC(NAME, N, WHAT)                                                             \
    #NAME "($self, value, byteorder='big')\n--\n\n"                                          \
    "Write value as " WHAT " (" #N " byte(s)) at the write cursor and return " #N ".\n"      \
    "TypeError for a value of the wrong type, OverflowError out of range (struct\n"          \
    "raises struct.error there); BufferTooSmall (needed = " #N ") when it cannot\n"          \
    "fit; nothing written on any error.  O(1), no allocation."

#define FIXED(KIND, RNAME, WNAME, N, WHAT)                                                   \
    static PyObject *bb_##RNAME(NcByteBuffer *b, PyObject *const *args, Py_ssize_t nargs,   \
                                PyObject *kwnames)                                           \
    {                                                                                        \
        return read_fixed(b, args, nargs, kwnames, KIND);                                    \
    }                                                                                        \
    static PyObject *bb_##WNAME(NcByteBuffer *b, PyObject *const *args, Py_ssize_t nargs,   \
                                PyObject *kwnames)                                           \
    {                                                                                        \
        return write_fixed(b, args, nargs, kwnames, KIND);                                   \
    }                                                                                        \
    PyDoc_STRVAR(RNAME##_doc, READ_DOC(RNAME, N, WHAT));                                     \
    PyDoc_STRVAR(WNAME##_doc, WRITE_DOC(WNAME, N, WHAT));

FIXED(NC_U8, read_u8, write_u8, 1, "an unsigned int")
FIXED(NC_U16, read_u16, write_u16, 2, "an unsigned int")
FIXED(NC_U32, read_u32, write_u32, 4, "an unsigned int")
FIXED(NC_U64, read_u64, write_u64, 8, "an unsigned int")
FIXED(NC_I8, read_i8, write_i8, 1, "a signed (two's complement) int")
FIXED(NC_I16, read_i16, write_i16, 2, "a signed (two's complement) int")
FIXED(NC_I32, read_i32, write_i32, 4, "a signed (two's complement) int")
FIXED(NC_I64, read_i64, write_i64, 8, "a signed (two's complement) int")
FIXED(NC_F32, read_f32, write_f32, 4, "an IEEE 754 binary32 float")
FIXED(NC_F64, read_f64, write_f64, 8, "an IEEE 754 binary64 float")

static PyObject *
bb_read_uvarint(NcByteBuffer *b, PyObject *const *args, Py_ssize_t nargs)
{
    return read_varint(b, args, nargs, 0);
}

static PyObject *
bb_read_varint(NcByteBuffer *b, PyObject *const *args, Py_ssize_t nargs)
{
    return read_varint(b, args, nargs, 1);
}

static PyObject *
bb_write_uvarint(NcByteBuffer *b, PyObject *const *args, Py_ssize_t nargs)
{
    return write_varint(b, args, nargs, 0);
}

static PyObject *
bb_write_varint(NcByteBuffer *b, PyObject *const *args, Py_ssize_t nargs)
{
    return write_varint(b, args, nargs, 1);
}

PyDoc_STRVAR(read_uvarint_doc,
"read_uvarint($self, /)\n--\n\n"
"Consume an unsigned LEB128 varint (protobuf, Go's encoding/binary) and return\n"
"it, 0 <= value < 2**64.  Over-long (more than 10 bytes, or a value past\n"
"2**64 - 1): VarintError; truncated (the readable bytes end inside it, and\n"
"the attached source, if any, is at EOF): IncompleteRead (.partial: the\n"
"readable bytes, .expected None).  Nothing consumed on any error.  O(1): at\n"
"most 10 bytes scanned, no allocation beyond the result.");

PyDoc_STRVAR(read_varint_doc,
"read_varint($self, /)\n--\n\n"
"Consume a zigzag-encoded signed LEB128 varint (protobuf's sint64: 0, -1, 1,\n"
"-2 ... as 0, 1, 2, 3 ...) and return it, -2**63 <= value < 2**63.  Errors\n"
"as read_uvarint(), nothing consumed.  O(1).");

PyDoc_STRVAR(write_uvarint_doc,
"write_uvarint($self, value, /)\n--\n\n"
"Write value (0 <= value < 2**64, else OverflowError; TypeError for a\n"
"non-integer) as an unsigned LEB128 varint and return its length (1-10).\n"
"BufferTooSmall when it cannot fit; nothing written on any error.  O(1).");

PyDoc_STRVAR(write_varint_doc,
"write_varint($self, value, /)\n--\n\n"
"Write value (-2**63 <= value < 2**63) zigzag-mapped as a LEB128 varint and\n"
"return its length (1-10).  Errors as write_uvarint().  O(1).");

#define FC(f) (PyCFunction)(void (*)(void))(f), METH_FASTCALL
#define FCK(f) (PyCFunction)(void (*)(void))(f), METH_FASTCALL | METH_KEYWORDS

PyMethodDef nc_bb_wire_methods[] = {
    {"read_u8", FCK(bb_read_u8), read_u8_doc},
    {"read_u16", FCK(bb_read_u16), read_u16_doc},
    {"read_u32", FCK(bb_read_u32), read_u32_doc},
    {"read_u64", FCK(bb_read_u64), read_u64_doc},
    {"read_i8", FCK(bb_read_i8), read_i8_doc},
    {"read_i16", FCK(bb_read_i16), read_i16_doc},
    {"read_i32", FCK(bb_read_i32), read_i32_doc},
    {"read_i64", FCK(bb_read_i64), read_i64_doc},
    {"read_f32", FCK(bb_read_f32), read_f32_doc},
    {"read_f64", FCK(bb_read_f64), read_f64_doc},
    {"write_u8", FCK(bb_write_u8), write_u8_doc},
    {"write_u16", FCK(bb_write_u16), write_u16_doc},
    {"write_u32", FCK(bb_write_u32), write_u32_doc},
    {"write_u64", FCK(bb_write_u64), write_u64_doc},
    {"write_i8", FCK(bb_write_i8), write_i8_doc},
    {"write_i16", FCK(bb_write_i16), write_i16_doc},
    {"write_i32", FCK(bb_write_i32), write_i32_doc},
    {"write_i64", FCK(bb_write_i64), write_i64_doc},
    {"write_f32", FCK(bb_write_f32), write_f32_doc},
    {"write_f64", FCK(bb_write_f64), write_f64_doc},
    {"read_uvarint", FC(bb_read_uvarint), read_uvarint_doc},
    {"read_varint", FC(bb_read_varint), read_varint_doc},
    {"write_uvarint", FC(bb_write_uvarint), write_uvarint_doc},
    {"write_varint", FC(bb_write_varint), write_varint_doc},
    {"read_struct", (PyCFunction)bb_read_struct, METH_O, read_struct_doc},
    {"write_struct", FC(bb_write_struct), write_struct_doc},
    {NULL},
};
