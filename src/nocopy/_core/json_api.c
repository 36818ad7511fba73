/* json_api.c -- nocopy.json's C entry points: dumps_into (into any writable
 * buffer, a View's window or a ByteBuffer's free space), dumps (a bytes
 * object) and the streaming core of dump (a fixed chunk handed to a sink),
 * their keyword options, checked as the stdlib checks them, and test hooks.
 *
 * Ownership: each call pins its destination for its whole length (a buffer
 * export, the chunk's holder, the bytes object under construction: see
 * json_encode.c's rules) and releases it on every path. */
#include "json.h"
#include "dictiter.h"
#include "buffer.h"
#include "json_utf8.h"

/* ---- options ---------------------------------------------------------------- */

/* The largest int indent (spaces per level): 1 GiB of spaces per level is
 * already absurd; past it, MemoryError at once (see finish_options). */
#define NC_JSON_INDENT_MAX ((Py_ssize_t)1 << 30)

typedef struct {
    PyObject *indent;      /* borrowed, NULL: None */
    PyObject *separators;  /* borrowed, NULL: None */
} nc_jopt_raw;

void
nc_json_enc_init(nc_jenc *e, nc_jw *w)
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
    e->marker_bits = 0;
    e->kc = NULL;
    e->kc_insert = 0;
    e->kc_dicts = 0;
    e->nest = 0;
    e->nowned = 0;
}

void
nc_json_enc_dispose(nc_jenc *e)
{
    if (e->stack != e->stack_small)
        PyMem_Free(e->stack);
    e->stack = e->stack_small;
    while (e->nowned > 0)
        Py_DECREF(e->owned[--e->nowned]);
}

/* Hold o for the call (see nc_jenc.owned). */
static void
enc_hold(nc_jenc *e, PyObject *o)
{
    e->owned[e->nowned++] = Py_NewRef(o);
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
    if (e->defaultfn != NULL)
        enc_hold(e, e->defaultfn);
    if (ind != NULL) {
        e->indented = 1;
        if (PyLong_Check(ind)) {
            /* OverflowError past Py_ssize_t, as ' ' * indent raises */
            Py_ssize_t k = PyLong_AsSsize_t(ind);
            if (k == -1 && PyErr_Occurred())
                return -1;
            if (k > NC_JSON_INDENT_MAX) {
                /* The stdlib makes ' ' * indent first and fails there with
                 * MemoryError, before writing anything; written space by
                 * space, such an indent would run until memory (dumps) or
                 * patience (dump, dumps_into counting) runs out. */
                PyErr_Format(PyExc_MemoryError,
                             "indent of %zd spaces is too large (at most %zd)", k,
                             (Py_ssize_t)NC_JSON_INDENT_MAX);
                return -1;
            }
            e->indent = NULL;
            e->indent_len = k < 0 ? 0 : k;  /* ' ' * -1 == '' */
        }
        else if (PyUnicode_Check(ind)) {
            e->indent = PyUnicode_AsUTF8AndSize(ind, &e->indent_len);
            if (e->indent == NULL)
                return -1;
            enc_hold(e, ind);
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
        /* Both str held before either is converted: the conversion may
         * allocate (GC: a finalizer may replace a list's items). */
        PyObject *isep = PySequence_Fast_GET_ITEM(sep, 0), *ksep = PySequence_Fast_GET_ITEM(sep, 1);
        enc_hold(e, isep);
        enc_hold(e, ksep);
        if (sep_utf8(isep, &e->item_sep, &e->item_sep_len) < 0 ||
            sep_utf8(ksep, &e->key_sep, &e->key_sep_len) < 0)
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
void
nc_json_default_options(nc_jenc *e)
{
    e->item_sep = ",";
    e->item_sep_len = 1;
    e->key_sep = ":";
    e->key_sep_len = 1;
}

/* Keywords of a FASTCALL call: the options, plus the names in `extra`
 * (nextra of them; their values borrowed into extra_out[i], which the
 * caller set to NULL or to a positional value).  Raises TypeError for
 * unknown or repeated names. */
int
nc_json_parse_keywords(const char *fname, nc_jenc *e, PyObject *const *kwvalues,
                       PyObject *kwnames, const char *const *extra, PyObject **extra_out,
                       int nextra)
{
    nc_jopt_raw raw = {NULL, NULL};
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    for (Py_ssize_t i = 0; i < nkw; i++) {
        PyObject *name = PyTuple_GET_ITEM(kwnames, i);
        int k = 0;
        while (k < nextra && PyUnicode_CompareWithASCIIString(name, extra[k]) != 0)
            k++;
        if (k < nextra) {
            if (extra_out[k] != NULL) {
                PyErr_Format(PyExc_TypeError, "%s() got multiple values for argument '%s'",
                             fname, extra[k]);
                return -1;
            }
            extra_out[k] = kwvalues[i];
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

static int
parse_keywords(const char *fname, nc_jenc *e, PyObject *const *kwvalues, PyObject *kwnames,
               PyObject **offset_out)
{
    static const char *const offset_name[] = {"offset"};
    return nc_json_parse_keywords(fname, e, kwvalues, kwnames, offset_name, offset_out,
                                  offset_out != NULL);
}

/* ---- entry points ------------------------------------------------------------ */

int
nc_json_raise_too_small(nc_state *st, Py_ssize_t needed, Py_ssize_t have)
{
    PyObject *msg = PyUnicode_FromFormat(
        "JSON document does not fit: the buffer needs %zd bytes, it has %zd", needed, have);
    if (msg == NULL)
        return -1;
    nc_raise_new(st->BufferTooSmall, "(On)", msg, needed);
    Py_DECREF(msg);
    return -1;
}

/* BufferTooSmall for a document of n bytes at offset: needed = offset + n,
 * unless the offset is so large that the sum is no size at all (an offset
 * counted from a ByteBuffer's write cursor is not bounded by its length):
 * OverflowError then, never a wrapped negative needed. */
static int
raise_too_small_at(nc_state *st, Py_ssize_t offset, Py_ssize_t n, Py_ssize_t have)
{
    if (n > PY_SSIZE_T_MAX - offset) {
        PyErr_Format(PyExc_OverflowError,
                     "offset %zd + a JSON document of %zd bytes is too large a size", offset, n);
        return -1;
    }
    return nc_json_raise_too_small(st, offset + n, have);
}

/* Encode obj into [dst + offset, dst + len).  Returns the document length,
 * or -1 with an exception; *overflow set when it did not fit (the length is
 * then still exact). */
Py_ssize_t
nc_json_encode_fixed(nc_jenc *e, nc_jw *w, PyObject *obj, char *dst, Py_ssize_t len, Py_ssize_t offset,
             int *overflow)
{
    w->mode = NC_JW_FIXED;
    w->base = w->p = dst + offset;
    w->end = dst + len;
    /* the common top level, a dict, straight to its container walk */
    int rc = nc_json_encode(e, obj);
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

/* dumps_into for nocopy's ByteBuffer (subclasses included): encode
 * straight into its free space through buffer.h, never through a method
 * looked up by name (a subclass or a patched method could hand back any
 * memory, and the length committed must be checked against the real free
 * space).  `offset` counts from the write cursor: that many bytes are
 * zeroed (never old storage shown as data) and committed before the
 * document, room for a header the caller patches in.  The buffer is
 * marked busy while encoding, so a `default` callback or a finalizer that
 * tries to write into, compact or clear it gets RuntimeError instead of
 * moving the memory being written; its holder is held too, and the
 * cursors are checked unchanged before the commit, so a mutator that
 * forgot the busy flag cannot make us commit into storage we did not
 * write. */
static PyObject *
dumps_into_bytebuffer(nc_state *st, nc_jenc *e, nc_jw *w, PyObject *obj, NcByteBuffer *bb,
                      Py_ssize_t offset)
{
    int overflow = 0;
    char *dst;
    if (bb->busy) {
        PyErr_SetString(PyExc_RuntimeError,
                        "ByteBuffer is busy (a fill or a dumps_into is running on it)");
        return NULL;
    }
    if (bb->closed) {
        /* its tail is 0: an offset would make this BufferTooSmall, which a
         * caller answers by draining and retrying (as reserve() says) */
        PyErr_SetString(PyExc_ValueError, "I/O operation on closed ByteBuffer");
        return NULL;
    }
    Py_ssize_t have = nc_bytebuffer_tail(bb);  /* take_bytes(): what fresh storage gives */
    if (offset > have) {
        /* not even the gap fits: count the document (no room at all) so
         * that needed is exact */
        char scratch[1];
        Py_ssize_t n = nc_json_encode_fixed(e, w, obj, scratch, 0, 0, &overflow);
        if (n >= 0)
            raise_too_small_at(st, offset, n, have);
        return NULL;
    }
    if (nc_bytebuffer_reserve(bb, have, &dst) < 0)
        return NULL;
    /* reserve may have moved the storage (it does not for the space that
     * is already free, but that is buffer.c's business): re-read after */
    NcHolder *h = (NcHolder *)Py_NewRef(bb->holder);
    Py_ssize_t wpos = bb->wpos;
    have = h->len - wpos;
    Py_INCREF(bb);
    bb->busy = 1;
    Py_ssize_t n = nc_json_encode_fixed(e, w, obj, dst, have, offset, &overflow);
    bb->busy = 0;
    int moved = bb->holder != h || bb->wpos != wpos;
    Py_DECREF(h);   /* bb still holds it, or (moved) it is left alone */
    PyObject *result = NULL;
    if (n < 0)
        goto done;
    if (moved) {
        PyErr_SetString(PyExc_RuntimeError,
                        "ByteBuffer changed while a JSON document was encoded into it");
        goto done;
    }
    if (overflow) {
        raise_too_small_at(st, offset, n, have);
        goto done;
    }
    if (offset)
        memset(dst, 0, (size_t)offset);
    if (nc_bytebuffer_commit(bb, offset + n) < 0)
        goto done;
    result = PyLong_FromSsize_t(offset + n);
done:
    Py_DECREF(bb);
    return result;
}

/* dumps_into for any other object with writable() and commit(n): what
 * writable() returns must export a writable buffer (the export pins it
 * while encoding), and commit gets the length written into it, which is
 * at most that buffer's length; `offset` counts from its start, the bytes
 * before the document zeroed and committed with it. */
static PyObject *
dumps_into_committing(nc_state *st, nc_jenc *e, nc_jw *w, PyObject *obj, PyObject *bb,
                      Py_ssize_t offset)
{
    Py_buffer view;
    int overflow = 0;
    if (nc_get_writable_space(st, bb, &view) < 0)
        return NULL;
    Py_ssize_t have = view.len, n = -1;
    if (offset > have) {
        /* not even the gap fits: count the document so that needed is exact */
        char scratch[1];
        n = nc_json_encode_fixed(e, w, obj, scratch, 0, 0, &overflow);
        overflow = 1;
    }
    else
        n = nc_json_encode_fixed(e, w, obj, view.buf, view.len, offset, &overflow);
    if (n >= 0 && !overflow && offset)
        memset(view.buf, 0, (size_t)offset);
    PyBuffer_Release(&view);  /* before commit: the owner may check exports */
    if (n < 0)
        return NULL;
    if (overflow) {
        raise_too_small_at(st, offset, n, have);
        return NULL;
    }
    PyObject *nobj = PyLong_FromSsize_t(offset + n);
    if (nobj == NULL)
        return NULL;
    PyObject *r = PyObject_CallMethodOneArg(bb, st->str_commit, nobj);
    Py_DECREF(nobj);
    if (r == NULL)
        return NULL;
    Py_DECREF(r);
    return PyLong_FromSsize_t(offset + n);
}

/* dumps_into for a stream with write_json(obj, **options) (nocopy.io.Writer,
 * nocopy.aio.StreamWriter): handed over with the caller's options, offset
 * left out; only offset 0 makes sense for a stream. */
static PyObject *
dumps_into_stream(PyObject *obj, PyObject *stream, PyObject *const *kwvalues, PyObject *kwnames,
                  Py_ssize_t offset)
{
    static PyObject *str_write_json = NULL;  /* interned, never freed (as fmt.c's __bytes__) */
    if (offset != 0) {
        PyErr_SetString(PyExc_ValueError,
                        "offset must be 0 when writing to a stream (an object with write_json())");
        return NULL;
    }
    if (str_write_json == NULL && (str_write_json = PyUnicode_InternFromString("write_json")) == NULL)
        return NULL;
    PyObject *small[12], **argv = small, *names = NULL, *res = NULL;
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0, k = 0;
    for (Py_ssize_t i = 0; i < nkw; i++)
        k += PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(kwnames, i), "offset") != 0;
    if (k + 2 > (Py_ssize_t)(sizeof(small) / sizeof(small[0]))) {
        argv = PyMem_New(PyObject *, (size_t)k + 2);
        if (argv == NULL)
            return PyErr_NoMemory();
    }
    if (k && (names = PyTuple_New(k)) == NULL)
        goto done;
    argv[0] = stream;
    argv[1] = obj;
    k = 0;
    for (Py_ssize_t i = 0; i < nkw; i++) {
        PyObject *name = PyTuple_GET_ITEM(kwnames, i);
        if (PyUnicode_CompareWithASCIIString(name, "offset") == 0)
            continue;
        PyTuple_SET_ITEM(names, k, Py_NewRef(name));
        argv[2 + k++] = kwvalues[i];
    }
    res = PyObject_VectorcallMethod(str_write_json, argv, 2,
                                    names);
done:
    Py_XDECREF(names);
    if (argv != small)
        PyMem_Free(argv);
    return res;
}

PyDoc_STRVAR(dumps_into_doc,
"json_dumps_into($module, obj, buf, /, offset=0, **options)\n--\n\n"
"Write obj as JSON (UTF-8) into the writable buffer buf at offset and return\n"
"the end offset.  O(document): no intermediate str or bytes is made.\n"
"buf: bytearray, writable memoryview, View (its window), mmap, array; a\n"
"ByteBuffer or an object with writable() and commit(n): the document goes\n"
"at the write cursor + offset (the offset bytes before it zeroed), all is\n"
"committed and the count committed returned; a stream with write_json()\n"
"(nocopy.io.Writer, nocopy.aio.StreamWriter): handed to it, offset 0 only.\n"
"When the document does not fit, BufferTooSmall is raised with .needed =\n"
"offset + document length (the smallest len(buf) that fits); bytes before\n"
"offset are untouched, bytes from offset on may have been overwritten.");

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
    nc_json_enc_init(&e, &w);
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
        result = dumps_into_bytebuffer(st, &e, &w, args[0], (NcByteBuffer *)buf, offset);
        goto done;
    }
    if (!PyByteArray_CheckExact(buf) && !PyObject_CheckBuffer(buf)) {
        if (PyObject_HasAttrString(buf, "write_json")) {
            result = dumps_into_stream(args[0], buf, args + nargs, kwnames, offset);
            goto done;
        }
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
        n = nc_json_encode_fixed(&e, &w, args[0], dst, have, offset, &overflow);
    if (pinned != NULL)
        pinned->ob_exports--;
    else
        PyBuffer_Release(&view);
    if (n < 0)
        goto done;
    if (overflow) {
        raise_too_small_at(st, offset, n, have);
        goto done;
    }
    result = PyLong_FromSsize_t(offset + n);
done:
    nc_jw_dispose(&w);
    nc_json_enc_dispose(&e);
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
    nc_json_enc_init(&e, &w);
    if (kwnames == NULL)
        nc_json_default_options(&e);
    else if (parse_keywords("dumps", &e, args + nargs, kwnames, NULL) < 0)
        goto done;
    if (nc_json_encode(&e, args[0]) < 0 || nc_jw_check_surrogate(&w) < 0)
        goto done;
    result = nc_jw_grow_finish(&w);
done:
    nc_jw_dispose(&w);
    nc_json_enc_dispose(&e);
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
    nc_json_enc_init(&e, &w);
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
    if (nc_json_encode(&e, args[0]) < 0 || nc_jw_flush(&w) < 0)
        goto done;
    result = PyLong_FromSsize_t(w.flushed);
done:
    nc_jw_dispose(&w);
    Py_XDECREF(holder);
    nc_json_enc_dispose(&e);
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

/* Test hook: the string-copy level (json_wide.h). */
static PyObject *
json_wide(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    long level = -1;
    if (nargs > 1) {
        PyErr_Format(PyExc_TypeError, "_json_wide() takes at most 1 argument (%zd given)", nargs);
        return NULL;
    }
    if (nargs == 1 && args[0] != Py_None) {
        if (PyBool_Check(args[0])) {   /* it once took on/off: True is not a level */
            PyErr_SetString(PyExc_TypeError, "_json_wide() takes a level 0, 1 or 2, not a bool");
            return NULL;
        }
        level = PyLong_AsLong(args[0]);
        if (level == -1 && PyErr_Occurred())
            return NULL;
        if (level < NC_WIDE_OFF || level > NC_WIDE_AVX512) {
            PyErr_Format(PyExc_ValueError, "_json_wide() level must be 0, 1 or 2, not %ld", level);
            return NULL;
        }
    }
    return PyLong_FromLong(nc_json_wide_set((int)level));
}

static PyMethodDef json_methods[] = {
    {"_json_dict_walk_direct", json_dict_walk_direct, METH_NOARGS,
     "True when the encoder walks dicts directly (dictiter.h), False when through PyDict_Next."},
    {"_json_utf8_blocks", (PyCFunction)(void (*)(void))json_utf8_blocks, METH_FASTCALL,
     "_json_utf8_blocks(on=None, /)\n--\n\nWhether strings are encoded to UTF-8 a block at a "
     "time (json_utf8.c); switch it with True/False (test hook).  Returns the previous state."},
    {"_json_wide", (PyCFunction)(void (*)(void))json_wide, METH_FASTCALL,
     "_json_wide(level=None, /)\n--\n\nHow string bytes are checked and copied (json_wide.c): "
     "0 SSE2, 1 AVX2 (32 bytes a step), 2 AVX-512 (and the escaping writer too).  Test hook: "
     "sets the level (at most the CPU's), None only asks; returns the level before."},
    {"json_dumps_into", (PyCFunction)(void (*)(void))json_dumps_into, METH_FASTCALL | METH_KEYWORDS,
     dumps_into_doc},
    {"json_dumps", (PyCFunction)(void (*)(void))json_dumps, METH_FASTCALL | METH_KEYWORDS, dumps_doc},
    {"json_dump_stream", (PyCFunction)(void (*)(void))json_dump_stream, METH_FASTCALL | METH_KEYWORDS,
     dump_stream_doc},
    {NULL, NULL, 0, NULL},
};

/* Which build of the json_*.c files this is: setup.py defines it as "pgo"
 * for the profile-guided build; the benchmarks print it. */
#ifndef NC_JSON_BUILD
#define NC_JSON_BUILD "plain"
#endif

int
nc_json_module_init(PyObject *m, nc_state *st)
{
    st->str_writable = PyUnicode_InternFromString("writable");
    st->str_commit = PyUnicode_InternFromString("commit");
    if (st->str_writable == NULL || st->str_commit == NULL)
        return -1;
    if (nc_json_keycache_alloc(st) < 0)
        return -1;
    if (nc_dictiter_selfcheck() < 0)
        return -1;
    nc_json_utf8_init();
    nc_json_wide_init();
    if (PyModule_AddStringConstant(m, "_json_build", NC_JSON_BUILD) < 0)
        return -1;
    return PyModule_AddFunctions(m, json_methods);
}
