/* rope_file.c -- file segments: Rope.append_file, loading, raw_segments,
 * and the FileRegion that keeps a segment's file open.
 *
 * A file segment is a segment whose owner is an NcFileRegion (a dup of the
 * caller's fd, closed when the last segment sharing it goes) and whose base
 * is NULL: its [start, stop) are offsets in the file.  write_to sends it
 * with sendfile(2) (rope_io.c) without reading it; anything that reads the
 * bytes in memory calls nc_rope_load() first, which preads the segment's
 * window into an owned read-only holder and puts that in the segment's
 * place (same bytes, same length: a reader cannot tell, so it is allowed on
 * a pinned Rope).  nc_seg_stale() refuses a NULL base, so a path that did
 * not load (or a file segment appended by a finalizer between the load and
 * the read) raises instead of reading through NULL.
 *
 * Ownership: a segment owns one reference to its FileRegion, as to any
 * owner; the Rope is pinned while segments are loaded, and each load holds
 * its own reference to the region across the GIL release (another thread
 * may load the same segment meanwhile, dropping the segment's reference).
 * A FileRegion holds no Python object, so its dealloc (close(2)) runs no
 * Python code. */
#include "rope.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- FileRegion ------------------------------------------------------------------ */

static void
region_dealloc(NcFileRegion *fr)
{
    PyTypeObject *tp = Py_TYPE(fr);
    if (fr->fd >= 0)
        close(fr->fd);
    tp->tp_free((PyObject *)fr);
    Py_DECREF(tp);
}

static PyObject *
region_repr(NcFileRegion *fr)
{
    return PyUnicode_FromFormat("<nocopy.FileRegion fd=%d>", fr->fd);
}

PyDoc_STRVAR(region_fileno_doc,
"fileno($self, /)\n--\n\n"
"The region's own file descriptor (a dup of the one given to append_file),\n"
"open as long as this object lives.  Read it with os.pread or hand it to\n"
"os.sendfile; do not close it.  O(1).");

static PyObject *
region_fileno(NcFileRegion *fr, PyObject *Py_UNUSED(ignored))
{
    return PyLong_FromLong(fr->fd);
}

static PyMethodDef region_methods[] = {
    {"fileno", (PyCFunction)region_fileno, METH_NOARGS, region_fileno_doc},
    {NULL},
};

PyDoc_STRVAR(region_doc,
"The open file behind a Rope's file segments (see Rope.append_file and\n"
"Rope.raw_segments); not made directly.");

int
nc_file_region_module_init(PyObject *m, nc_state *st)
{
    PyType_Slot slots[] = {
        {Py_tp_dealloc, region_dealloc},
        {Py_tp_repr, region_repr},
        {Py_tp_methods, region_methods},
        {Py_tp_doc, (void *)region_doc},
        {0, NULL},
    };
    PyType_Spec spec = {
        .name = "nocopy.FileRegion",
        .basicsize = sizeof(NcFileRegion),
        .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE
                 | Py_TPFLAGS_DISALLOW_INSTANTIATION,
        .slots = slots,
    };
    st->FileRegionType = (PyTypeObject *)PyType_FromModuleAndSpec(m, &spec, NULL);
    if (st->FileRegionType == NULL)
        return -1;
    return PyModule_AddType(m, st->FileRegionType);
}

/* ---- loading ------------------------------------------------------------------------ */

int
nc_file_pread(NcFileRegion *fr, char *dst, Py_ssize_t n, Py_ssize_t off)
{
    Py_ssize_t done = 0;
    while (done < n) {
        ssize_t k;
        int err;
        size_t want = (size_t)(n - done);
        if (want > ((size_t)1 << 30))
            want = (size_t)1 << 30;
        Py_BEGIN_ALLOW_THREADS
        k = pread(fr->fd, dst + done, want, (off_t)(off + done));
        err = errno;
        Py_END_ALLOW_THREADS
        if (k < 0) {
            if (err == EINTR) {
                if (PyErr_CheckSignals() < 0)
                    return -1;
                continue;
            }
            errno = err;
            PyErr_SetFromErrno(PyExc_OSError);
            return -1;
        }
        if (k == 0) {
            PyErr_Format(PyExc_OSError,
                         "Rope file segment: the file ends at offset %zd, before the %zd "
                         "bytes at offset %zd it had when appended (it was truncated)",
                         off + done, n, off);
            return -1;
        }
        done += k;
    }
    return 0;
}

/* Load segment s of a pinned Rope (see nc_rope_load). */
static int
load_seg(nc_state *st, nc_seg *s)
{
    NcFileRegion *fr = (NcFileRegion *)Py_NewRef(s->owner);
    Py_ssize_t off = s->start, len = NC_SEG_LEN(s);
    NcHolder *h = nc_holder_new_owned_raw(st, len);
    int rc = -1;
    if (h == NULL)
        goto done;
    /* The allocation could run a finalizer and the pread lets other
     * threads run: either may have loaded s meanwhile (the Rope is pinned,
     * so s is still this segment). */
    if (!NC_SEG_UNLOADED(s) || nc_file_pread(fr, h->buf, len, off) < 0 || !NC_SEG_UNLOADED(s)) {
        rc = PyErr_Occurred() ? -1 : 0;
        goto done;
    }
    h->readonly = 1;
    PyObject *old = s->owner;  /* fr: we still hold a reference */
    s->owner = (PyObject *)h;
    s->base = h->buf;
    s->start = 0;
    s->stop = len;
    s->epoch = h->epoch;
    s->frozen = 1;
    h = NULL;  /* moved into the segment */
    Py_DECREF(old);
    rc = 0;
done:
    Py_XDECREF(h);
    Py_DECREF(fr);
    return rc;
}

int
nc_rope_load(NcRope *r, Py_ssize_t pos, Py_ssize_t n)
{
    if (pos < 0) {
        n += pos;
        pos = 0;
    }
    if (n <= 0 || pos >= r->len)
        return 0;
    nc_state *st = nc_state_of_type(Py_TYPE(r));
    int rc = 0;
    /* pinned: the loads allocate and release the GIL; nothing may add,
     * drop or move segments under the loop (loading itself is allowed) */
    nc_rope_pin(r);
    for (Py_ssize_t i = nc_rope_seg_index(r, pos); i < r->n; i++) {
        nc_seg *s = NC_SEG(r, i);
        if (nc_seg_lstart(r, s) - pos >= n)
            break;
        if (NC_SEG_UNLOADED(s) && load_seg(st, s) < 0) {
            rc = -1;
            break;
        }
    }
    nc_rope_unpin(r);
    return rc;
}

/* ---- append_file ------------------------------------------------------------------- */

/* 0 with *out NULL when obj has no such attribute; -1 on another error. */
static int
optional_attr(PyObject *obj, const char *name, PyObject **out)
{
    *out = PyObject_GetAttrString(obj, name);
    if (*out != NULL)
        return 0;
    if (!PyErr_ExceptionMatches(PyExc_AttributeError))
        return -1;
    PyErr_Clear();
    return 0;
}

/* An int fd, or file.fileno() (after file.flush() when it has one, so bytes
 * still in a Python-level write buffer are in the file). */
static int
fd_of(PyObject *file, int *fd)
{
    PyObject *fdobj;
    if (PyLong_Check(file))
        fdobj = Py_NewRef(file);
    else {
        PyObject *flush;
        if (optional_attr(file, "flush", &flush) < 0)
            return -1;
        if (flush != NULL) {
            PyObject *res = PyObject_CallNoArgs(flush);
            Py_DECREF(flush);
            if (res == NULL)
                return -1;
            Py_DECREF(res);
        }
        PyObject *meth;
        if (optional_attr(file, "fileno", &meth) < 0)
            return -1;
        if (meth == NULL) {
            PyErr_Format(PyExc_TypeError,
                         "append_file() needs an int fd or an object with fileno(), not '%.100s'",
                         Py_TYPE(file)->tp_name);
            return -1;
        }
        fdobj = PyObject_CallNoArgs(meth);
        Py_DECREF(meth);
        if (fdobj == NULL)
            return -1;
        if (!PyLong_Check(fdobj)) {
            PyErr_Format(PyExc_TypeError, "fileno() returned '%.100s', not int",
                         Py_TYPE(fdobj)->tp_name);
            Py_DECREF(fdobj);
            return -1;
        }
    }
    int rc = nc_fd_from_long(fdobj, fd);
    Py_DECREF(fdobj);
    return rc;
}

static int
index_arg(PyObject *obj, const char *what, Py_ssize_t *out)
{
    if (!PyIndex_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "append_file() %s must be an integer%s, not '%.100s'",
                     what, what[0] == 'l' ? " or None" : "", Py_TYPE(obj)->tp_name);
        return -1;
    }
    *out = PyNumber_AsSsize_t(obj, PyExc_OverflowError);
    return *out == -1 && PyErr_Occurred() ? -1 : 0;
}

PyDoc_STRVAR(append_file_doc,
"append_file($self, file, offset=0, length=None)\n--\n\n"
"Append bytes [offset, offset + length) of a regular file as one segment,\n"
"without reading them: file is an int fd or an object with fileno() (flushed\n"
"first); the Rope keeps its own dup of the fd, so the caller may close theirs.\n"
"length None: to the end of the file as it is now.  write_to() sends the\n"
"segment with sendfile(2), never through Python memory; an operation that\n"
"needs the bytes in memory (search, compare, indexing, bytes(), flatten(),\n"
"segments(), typed reads, the buffer export) loads them once with pread into\n"
"read-only storage that replaces the segment (and a later change to the file\n"
"is then not seen).  Until then the segment shows the file as it is when it is\n"
"sent or loaded; a file shortened below the segment raises OSError then.\n"
"len(), slicing to a Rope, take() and skip() never load.  O(1) plus fstat and\n"
"dup; ValueError when the range is outside the file or the fd is not a\n"
"regular file open for reading, OSError for a bad fd.  length 0 appends\n"
"nothing.");

static PyObject *
rope_append_file(NcRope *r, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"file", "offset", "length"};
    PyObject *a[3] = {NULL, NULL, NULL};
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    if (nargs > 3) {
        PyErr_Format(PyExc_TypeError, "append_file() takes at most 3 arguments (%zd given)",
                     nargs + nkw);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < nargs; i++)
        a[i] = args[i];
    for (Py_ssize_t j = 0; j < nkw; j++) {
        PyObject *key = PyTuple_GET_ITEM(kwnames, j);
        int i = -1;
        for (int k = 0; k < 3; k++)
            if (PyUnicode_CompareWithASCIIString(key, names[k]) == 0)
                i = k;
        if (i < 0) {
            PyErr_Format(PyExc_TypeError, "append_file() got an unexpected keyword argument '%U'",
                         key);
            return NULL;
        }
        if (a[i] != NULL) {
            PyErr_Format(PyExc_TypeError, "append_file() got multiple values for argument '%s'",
                         names[i]);
            return NULL;
        }
        a[i] = args[nargs + j];
    }
    if (a[0] == NULL) {
        PyErr_SetString(PyExc_TypeError, "append_file() missing required argument 'file'");
        return NULL;
    }
    /* every argument converted (fileno, flush, __index__ run Python code)
     * before anything is looked at or changed */
    int fd, dfd;
    Py_ssize_t offset = 0, length = -1;
    if (fd_of(a[0], &fd) < 0 || (a[1] != NULL && index_arg(a[1], "offset", &offset) < 0)
        || (a[2] != NULL && a[2] != Py_None && index_arg(a[2], "length", &length) < 0))
        return NULL;
    if (offset < 0 || (a[2] != NULL && a[2] != Py_None && length < 0)) {
        PyErr_Format(PyExc_ValueError, "append_file() %s must not be negative, not %zd",
                     offset < 0 ? "offset" : "length", offset < 0 ? offset : length);
        return NULL;
    }
    if ((dfd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0)
        return PyErr_SetFromErrno(PyExc_OSError);
    struct stat sb;
    if (fstat(dfd, &sb) < 0) {
        PyErr_SetFromErrno(PyExc_OSError);
        goto fail;
    }
    int fl = fcntl(dfd, F_GETFL);
    if (fl >= 0 && (fl & O_ACCMODE) == O_WRONLY) {
        PyErr_Format(PyExc_ValueError, "append_file() needs a file open for reading (fd %d is "
                     "write-only)", fd);
        goto fail;
    }
    if (!S_ISREG(sb.st_mode)) {
        PyErr_Format(PyExc_ValueError,
                     "append_file() needs a regular file (fd %d is not one): pipes, sockets "
                     "and devices cannot be sent with sendfile or re-read", fd);
        goto fail;
    }
    Py_ssize_t size = sb.st_size > PY_SSIZE_T_MAX ? PY_SSIZE_T_MAX : (Py_ssize_t)sb.st_size;
    if (offset > size || (length >= 0 && length > size - offset)) {
        if (length >= 0)
            PyErr_Format(PyExc_ValueError,
                         "append_file() range [%zd, %zd + %zd) is past the end of the "
                         "%zd-byte file", offset, offset, length, size);
        else
            PyErr_Format(PyExc_ValueError,
                         "append_file() offset %zd is past the end of the %zd-byte file",
                         offset, size);
        goto fail;
    }
    if (length < 0)
        length = size - offset;
    if (length == 0) {  /* empty parts add nothing */
        close(dfd);
        Py_RETURN_NONE;
    }
    nc_state *st = nc_state_of_type(Py_TYPE(r));
    NcFileRegion *fr = PyObject_New(NcFileRegion, st->FileRegionType);
    if (fr == NULL)
        goto fail;
    fr->fd = dfd;  /* the region closes it from here on */
    /* frozen: no path takes the owner for a holder; base NULL: unloaded */
    nc_seg s = {(PyObject *)fr, NULL, offset, offset + length, 0, 0, 1};
    if (nc_rope_append_seg(r, s) < 0) {
        Py_DECREF(fr);
        return NULL;
    }
    Py_RETURN_NONE;
fail:
    close(dfd);
    return NULL;
}

/* ---- raw_segments -------------------------------------------------------------------- */

PyDoc_STRVAR(raw_segments_doc,
"raw_segments($self, /)\n--\n\n"
"Like segments(), without loading file segments: a tuple with, per segment,\n"
"a View (a segment in memory) or a (FileRegion, offset, length) triple (a file\n"
"segment not loaded yet: send it with os.sendfile(out, region.fileno(),\n"
"offset, length) or loop.sendfile; the FileRegion keeps the file open).\n"
"O(number of segments), reads and copies no payload.");

static PyObject *
rope_raw_segments(NcRope *r, PyObject *Py_UNUSED(ignored))
{
    nc_state *st = nc_state_of_type(Py_TYPE(r));
    PyObject *t = NULL;
    /* pinned: the allocations may run finalizers, which must not change the
     * array being walked */
    nc_rope_pin(r);
    if ((t = PyTuple_New(r->n)) == NULL)
        goto done;
    for (Py_ssize_t i = 0; i < r->n; i++) {
        nc_seg *s = NC_SEG(r, i);
        PyObject *item;
        if (NC_SEG_UNLOADED(s))
            item = Py_BuildValue("(Onn)", s->owner, s->start, NC_SEG_LEN(s));
        else if (nc_seg_stale(s))
            item = (PyObject *)(nc_seg_error(r, s), NULL);
        else
            item = nc_seg_view(st, s, s->start, s->stop);
        if (item == NULL) {
            Py_CLEAR(t);
            goto done;
        }
        PyTuple_SET_ITEM(t, i, item);
    }
    /* a finalizer may have moved a ByteBuffer's bytes meanwhile (the Views
     * carry their segment's epoch, so they would raise, but say it now) */
    for (Py_ssize_t i = 0; i < r->n; i++) {
        nc_seg *s = NC_SEG(r, i);
        if (!NC_SEG_UNLOADED(s) && nc_seg_stale(s)) {
            nc_seg_error(r, s);
            Py_CLEAR(t);
            break;
        }
    }
done:
    nc_rope_unpin(r);
    return t;
}

PyDoc_STRVAR(load_doc,
"load($self, /)\n--\n\n"
"Read every file segment into memory now (what the first search, bytes() or\n"
"flatten() would do): one pread per file segment, into read-only storage\n"
"that replaces it.  O(bytes of unloaded file segments); nothing to do for a\n"
"Rope without them.  OSError when a file is now shorter than its segment.");

static PyObject *
rope_load(NcRope *r, PyObject *Py_UNUSED(ignored))
{
    if (nc_rope_load(r, 0, r->len) < 0)
        return NULL;
    Py_RETURN_NONE;
}

PyMethodDef nc_rope_file_methods[] = {
    {"append_file", (PyCFunction)(void (*)(void))rope_append_file,
     METH_FASTCALL | METH_KEYWORDS, append_file_doc},
    {"raw_segments", (PyCFunction)rope_raw_segments, METH_NOARGS, raw_segments_doc},
    {"load", (PyCFunction)rope_load, METH_NOARGS, load_doc},
    {NULL},
};
