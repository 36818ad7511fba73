/* json_frame.c -- ByteBuffer.write_json: a JSON document written at the write
 * cursor in one C call, optionally behind its length (a u8/u16/u32/u64
 * prefix in either byte order): the frame of length-prefixed JSON protocols.
 * nocopy.io.Writer binds it as its own write_json, so a frame costs one C
 * call and the flush happens here, through the buffer's overflow handler.
 *
 * How (and why this way): the header's room is skipped, the document is
 * encoded straight into the free space after it (FIXED mode: it counts on
 * past the end, so its exact length is known either way), then the length
 * is stored in front and header + document are committed together.  No
 * temporary bytes, no second pass over the document when it fits.  When it
 * does not fit, the buffer is drained (a Writer) or compacted and the
 * document encoded once more: a `default` callback then runs again for it.
 * A frame larger than a Writer's whole capacity is encoded into one bytes
 * object with the header room in front (patched in place before anyone
 * sees it) and handed to the overflow handler, which sends the buffered
 * bytes and it in one scatter-gather call.
 *
 * The rules of buffer.c apply: the options are converted first (their
 * __bool__ / __index__ may run anything); the buffer is busy while the
 * encoder runs (a `default` or a finalizer that tries to write into,
 * compact or clear it gets RuntimeError), its holder is held and the
 * cursors are checked unchanged before the commit; every drain (Python)
 * is followed by a fresh look at the cursors.  Nothing is committed unless
 * the whole frame is (bad options, a document that cannot be encoded, a
 * length too large for the prefix: the buffer is as it was). */
#include "json.h"
#include "buffer_impl.h"
#include "wire.h"

typedef struct {
    const char *name;
    Py_ssize_t size;
    uint64_t max;
} nc_prefix;

static const nc_prefix prefixes[] = {
    {"u8", 1, 0xffu},
    {"u16", 2, 0xffffu},
    {"u32", 4, 0xffffffffu},
    {"u64", 8, UINT64_MAX},
};

/* prefix=None (no header) or one of the names above. */
static int
prefix_arg(PyObject *o, const nc_prefix **out)
{
    *out = NULL;
    if (o == NULL || o == Py_None)
        return 0;
    if (!PyUnicode_Check(o)) {
        PyErr_Format(PyExc_TypeError, "prefix must be None or str, not '%.100s'",
                     Py_TYPE(o)->tp_name);
        return -1;
    }
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        if (PyUnicode_CompareWithASCIIString(o, prefixes[i].name) == 0) {
            *out = &prefixes[i];
            return 0;
        }
    }
    PyErr_Format(PyExc_ValueError, "prefix must be None, 'u8', 'u16', 'u32' or 'u64', not %R", o);
    return -1;
}

static int
check_length(const nc_prefix *p, Py_ssize_t n)
{
    if (p == NULL || (uint64_t)n <= p->max)
        return 0;
    PyErr_Format(PyExc_OverflowError,
                 "JSON document of %zd bytes does not fit a %s length prefix", n, p->name);
    return -1;
}

static void
put_length(char *dst, const nc_prefix *p, int little, uint64_t n)
{
    for (Py_ssize_t i = 0; i < p->size; i++) {
        Py_ssize_t at = little ? i : p->size - 1 - i;
        dst[at] = (char)(n & 0xff);
        n >>= 8;
    }
}

/* A frame larger than the whole buffer, with an overflow handler: the
 * header room and the document in one bytes object (the header patched in
 * while it is still ours alone), handed to the handler after the buffered
 * bytes.  The frame's size, or -1. */
static Py_ssize_t
write_large(NcByteBuffer *b, nc_jenc *e, nc_jw *w, PyObject *obj, const nc_prefix *p, int little)
{
    static const char zeros[8] = {0};
    Py_ssize_t hlen = p ? p->size : 0;
    nc_jw_dispose(w);
    nc_jw_init(w, w->st, NC_JW_GROW);
    w->base = w->p = w->scratch;
    w->end = w->scratch + NC_JW_SCRATCH;
    if (nc_jw_write(w, zeros, hlen) < 0 || nc_json_encode(e, obj) < 0
        || nc_jw_check_surrogate(w) < 0)
        return -1;
    PyObject *frame = nc_jw_grow_finish(w);
    if (frame == NULL)
        return -1;
    Py_ssize_t total = PyBytes_GET_SIZE(frame);
    if (check_length(p, total - hlen) < 0)
        goto fail;
    if (p != NULL)
        put_length(PyBytes_AS_STRING(frame), p, little, (uint64_t)(total - hlen));
    if (b->closed) {  /* the encoder ran Python: a closed buffer sends nothing */
        nc_bb_refuse_fresh(b, NULL);
        goto fail;
    }
    if (b->overflow == NULL || b->busy) {  /* the encoder ran Python */
        nc_bb_raise_too_small(b, total, "ByteBuffer free space too small");
        goto fail;
    }
    PyObject *handler = Py_NewRef(b->overflow);
    PyObject *r = PyObject_CallFunction(handler, "OOnn", (PyObject *)b, frame, (Py_ssize_t)0,
                                        total);
    Py_DECREF(handler);
    if (r == NULL)
        goto fail;
    Py_DECREF(r);
    Py_DECREF(frame);
    return total;
fail:
    Py_DECREF(frame);
    return -1;
}

/* The frame at the write cursor; its size, or -1 (nothing committed). */
static Py_ssize_t
write_frame(NcByteBuffer *b, nc_jenc *e, nc_jw *w, PyObject *obj, const nc_prefix *p, int little)
{
    Py_ssize_t hlen = p ? p->size : 0, total = -1;
    for (int attempt = 0; attempt < 3; attempt++) {
        char scratch[8], *dst;
        int overflow = 0, counted = 0;
        if (check_idle(b) < 0)
            return -1;
        /* ValueError before anything runs: the header's count below would
         * encode (`default` and all) and then drain or hand a large frame
         * to the overflow handler as if the buffer were open */
        if (b->closed)
            return nc_bb_refuse_fresh(b, NULL);
        Py_ssize_t tail = nc_bytebuffer_tail(b);
        NcHolder *h = NULL;
        Py_ssize_t wpos = 0, have;
        if (tail < hlen) {
            /* not even the header fits where it stands: count the document
             * in a scratch to learn the frame's size */
            dst = scratch;
            have = hlen;
            counted = 1;
        }
        else {
            if (nc_bytebuffer_reserve(b, tail, &dst) < 0)  /* attaches handed-over storage */
                return -1;
            h = (NcHolder *)Py_NewRef(b->holder);
            wpos = b->wpos;
            have = h->len - wpos;
        }
        nc_jw_dispose(w);
        nc_jw_init(w, w->st, NC_JW_FIXED);
        Py_INCREF(b);
        b->busy = 1;
        Py_ssize_t n = nc_json_encode_fixed(e, w, obj, dst, have, hlen, &overflow);
        b->busy = 0;
        int moved = h != NULL && (b->holder != h || b->wpos != wpos);
        Py_XDECREF(h);
        Py_DECREF(b);
        if (n < 0)
            return -1;
        if (moved) {
            PyErr_SetString(PyExc_RuntimeError,
                            "ByteBuffer changed while a JSON document was encoded into it");
            return -1;
        }
        if (check_length(p, n) < 0)
            return -1;
        total = hlen + n;
        if (!overflow && !counted) {
            if (p != NULL)
                put_length(dst, p, little, (uint64_t)n);
            if (nc_bytebuffer_commit(b, total) < 0)
                return -1;
            return total;
        }
        if (b->overflow != NULL && !b->busy) {
            if (total > b->size - b->head)  /* never fits, even drained */
                return write_large(b, e, w, obj, p, little);
            if (nc_bb_drain(b) < 0)
                return -1;
        }
        else {
            /* compact when that makes room; BufferTooSmall(total) when not */
            if (nc_bytebuffer_reserve(b, total, &dst) < 0)
                return -1;
        }
    }
    /* a `default` that makes the document grow on every call */
    nc_bb_raise_too_small(b, total, "ByteBuffer free space too small");
    return -1;
}

PyDoc_STRVAR(write_json_doc,
"write_json($self, obj, /, *, prefix=None, byteorder='big', **options)\n--\n\n"
"Write obj as JSON (nocopy.json's encoder and options) at the write cursor and\n"
"commit it; with prefix 'u8', 'u16', 'u32' or 'u64', the document's length in\n"
"front of it (byteorder 'big' or 'little'): a length-prefixed frame in one C\n"
"call.  Returns the bytes written (prefix + document).  O(document), no\n"
"temporary bytes: the document is encoded straight into the free space after\n"
"the header's room.  When it does not fit: compacts if that makes room, else\n"
"BufferTooSmall(needed = the frame's size); with an overflow handler\n"
"(nocopy.io.Writer) the buffered bytes are sent first, and a frame larger than\n"
"the whole buffer is built in one bytes object and sent with them.  Either way\n"
"the document is encoded again (`default` runs again).  OverflowError when the\n"
"length does not fit the prefix.  Nothing is committed on any error.");

static PyObject *
bb_write_json(NcByteBuffer *b, PyObject *const *args, Py_ssize_t nargsf, PyObject *kwnames)
{
    static const char *const names[] = {"prefix", "byteorder"};
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    nc_state *st = bb_state(b);
    PyObject *extra[2] = {NULL, NULL}, *result = NULL;
    const nc_prefix *p;
    int little = 0;
    nc_jw w;
    nc_jenc e;
    if (nargs != 1) {
        PyErr_Format(PyExc_TypeError, "write_json() takes exactly 1 positional argument (%zd given)",
                     nargs);
        return NULL;
    }
    if (st == NULL)
        return NULL;
    nc_jw_init(&w, st, NC_JW_FIXED);
    nc_json_enc_init(&e, &w);
    if (kwnames == NULL)
        nc_json_default_options(&e);
    else if (nc_json_parse_keywords("write_json", &e, args + 1, kwnames, names, extra, 2) < 0)
        goto done;
    if (prefix_arg(extra[0], &p) < 0 || nc_wire_byteorder(extra[1], &little) < 0)
        goto done;
    Py_ssize_t total = write_frame(b, &e, &w, args[0], p, little);
    if (total >= 0)
        result = PyLong_FromSsize_t(total);
done:
    nc_jw_dispose(&w);
    nc_json_enc_dispose(&e);
    return result;
}

PyMethodDef nc_bb_json_methods[] = {
    {"write_json", (PyCFunction)(void (*)(void))bb_write_json, METH_FASTCALL | METH_KEYWORDS,
     write_json_doc},
    {NULL, NULL, 0, NULL},
};
