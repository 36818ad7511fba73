/* rope_io.c -- Rope.write_to: scatter-gather output of the segments.
 *
 * Ownership: the Rope is pinned (r->exports++) for the whole call, because
 * writev runs with the GIL released and sendmsg/write run Python code: no
 * thread or callback can drop a segment (and free its memory) under the
 * iovec array.  The storage is pinned too: every mutable segment's holder
 * gets exports++ for the call, so a ByteBuffer compacted or cleared by
 * another thread (or by a callback) meanwhile moves to fresh storage instead
 * of overwriting the bytes on their way out.  Staleness is re-checked right
 * before each batch goes out (and after the allocations that build a
 * batch of Views), so a segment that went stale before the call raises
 * StaleViewError instead of sending other bytes.  The iovec array and the
 * per-batch lists are freed on every path; both pins are dropped on every
 * path.
 *
 * Rope._read_fd (read_chunks' direct path) builds a new Rope that nobody else
 * should see until it returns: its blocks are owned holders, each shared by
 * the chunk segments cut from it, so it may still move a block's storage
 * (realloc) and repoint those segments -- but only while the block's
 * references are exactly those segments (gc.get_objects() from a finalizer
 * could reach the Rope and take a View).  The Rope is pinned while it is
 * built, so such code cannot change it either. */
#include "rope.h"

#include <errno.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

/* Bytes of a file segment read per step where it cannot go by sendfile(2):
 * write() objects, sendmsg sockets, fds sendfile refuses.  Bounded, so a big
 * file never becomes that much Python memory. */
#define FILE_CHUNK ((Py_ssize_t)1 << 16)

/* A non-negative Py_ssize_t argument (at least `min`) of _read_fd. */
static int
size_arg(PyObject *obj, const char *what, Py_ssize_t min, Py_ssize_t *out)
{
    if (!PyLong_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "%s must be an int, not '%.100s'", what, Py_TYPE(obj)->tp_name);
        return -1;
    }
    *out = PyLong_AsSsize_t(obj);
    if (*out == -1 && PyErr_Occurred())
        return -1;
    if (*out < min) {
        PyErr_Format(PyExc_ValueError, "%s must be at least %zd, not %zd", what, min, *out);
        return -1;
    }
    return 0;
}

/* Position in the Rope: segment i, offset off inside it. */
typedef struct {
    Py_ssize_t i, off;
} cursor;

static void
advance(NcRope *r, cursor *c, Py_ssize_t w)
{
    while (w > 0) {
        Py_ssize_t rem = NC_SEG_LEN(NC_SEG(r, c->i)) - c->off;
        if (w >= rem) {
            w -= rem;
            c->i++;
            c->off = 0;
        }
        else {
            c->off += w;
            w = 0;
        }
    }
}

static Py_ssize_t
iov_max(void)
{
    long v = sysconf(_SC_IOV_MAX);
    return v > 0 ? (Py_ssize_t)v : 1024;
}

/* BlockingIOError(err, strerror, written): io's convention for partial writes. */
static void
set_blocking_error(int err, Py_ssize_t written)
{
    PyObject *exc = PyObject_CallFunction(PyExc_BlockingIOError, "isn", err, strerror(err), written);
    if (exc != NULL) {
        PyErr_SetObject(PyExc_BlockingIOError, exc);
        Py_DECREF(exc);
    }
}

/* A BlockingIOError from a Python-level write/sendmsg: re-raise it with the
 * bytes this call wrote before it added to its characters_written. */
static void
rebase_blocking_error(Py_ssize_t written)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    Py_ssize_t cw = 0;
    PyObject *a = value ? PyObject_GetAttrString(value, "characters_written") : NULL;
    if (a != NULL) {
        cw = PyLong_AsSsize_t(a);
        Py_DECREF(a);
    }
    if (a == NULL || cw < 0)
        cw = 0;
    PyErr_Clear();
    PyObject *eno = value ? PyObject_GetAttrString(value, "errno") : NULL;
    int err = (eno && PyLong_Check(eno)) ? (int)PyLong_AsLong(eno) : EAGAIN;
    Py_XDECREF(eno);
    PyErr_Clear();
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
    set_blocking_error(err, written + cw);
}

/* exports++ on the holder of every segment whose bytes can change (not
 * frozen: a frozen segment's owner may be a bytes object, and its content
 * never moves), checking on the way that none is stale: one pass; returns
 * how many it pinned.  On a stale segment the pins taken are given back and
 * StaleViewError raised (-1).
 * The Rope is pinned until unpin_storage, so both see the same segments. */
static Py_ssize_t
pin_storage(NcRope *r)
{
    Py_ssize_t pinned = 0;
    for (Py_ssize_t i = 0; i < r->n; i++) {
        nc_seg *s = NC_SEG(r, i);
        if (s->frozen)
            continue;
        if (nc_seg_stale(s)) {
            nc_seg_error(r, s);
            while (i-- > 0)
                if (!NC_SEG(r, i)->frozen)
                    ((NcHolder *)NC_SEG(r, i)->owner)->exports--;
            return -1;
        }
        ((NcHolder *)s->owner)->exports++;
        pinned++;
    }
    /* the count: a Rope of frozen segments only (bytes parts, the common
     * case) has nothing to unpin or re-check, and skips both passes */
    return pinned;
}

static void
unpin_storage(NcRope *r)
{
    for (Py_ssize_t i = 0; i < r->n; i++) {
        nc_seg *s = NC_SEG(r, i);
        if (!s->frozen)
            ((NcHolder *)s->owner)->exports--;
    }
}

/* StaleViewError if a segment in memory is stale (file segments not loaded
 * are sent from the file, so they are not "stale" here). */
static int
check_mem(NcRope *r)
{
    for (Py_ssize_t i = 0; i < r->n; i++) {
        nc_seg *s = NC_SEG(r, i);
        if (!NC_SEG_UNLOADED(s) && nc_seg_stale(s))
            return nc_seg_error(r, s);
    }
    return 0;
}

/* StaleViewError if a segment of [i, i + k) is stale. */
static int
check_batch(NcRope *r, Py_ssize_t i, Py_ssize_t k)
{
    for (Py_ssize_t j = i; j < i + k; j++)
        if (nc_seg_stale(NC_SEG(r, j)))
            return nc_seg_error(r, NC_SEG(r, j));
    return 0;
}

/* One step of file segment s (unloaded) from offset off inside it to fd:
 * sendfile(2), or -- where the kernel refuses it for this fd (EINVAL,
 * ENOSYS: an O_APPEND file, some special files) -- pread into a bounded
 * buffer and write(2).  The bytes written (> 0), or -1 with errno set, -2
 * with an exception set.  The caller holds the Rope pinned; the region gets
 * its own reference across the GIL release, because another thread may
 * load s meanwhile (which drops the segment's reference). */
static Py_ssize_t
send_file_step(nc_seg *s, Py_ssize_t off, int fd, int *no_sendfile, char **bounce)
{
    NcFileRegion *fr = (NcFileRegion *)Py_NewRef(s->owner);
    Py_ssize_t left = NC_SEG_LEN(s) - off;
    off_t at = (off_t)(s->start + off);
    ssize_t w = -1;
    int err = 0;
    if (!*no_sendfile) {
        size_t want = left > ((Py_ssize_t)1 << 30) ? (size_t)1 << 30 : (size_t)left;
        Py_BEGIN_ALLOW_THREADS
        w = sendfile(fd, fr->fd, &at, want);
        err = errno;
        Py_END_ALLOW_THREADS
        if (w < 0 && (err == EINVAL || err == ENOSYS))
            *no_sendfile = 1;
    }
    if (*no_sendfile) {
        Py_ssize_t k = left < FILE_CHUNK ? left : FILE_CHUNK;
        if (*bounce == NULL && (*bounce = PyMem_Malloc((size_t)FILE_CHUNK)) == NULL) {
            Py_DECREF(fr);
            PyErr_NoMemory();
            return -2;
        }
        if (nc_file_pread(fr, *bounce, k, s->start + off) < 0) {
            Py_DECREF(fr);
            return -2;
        }
        char *p = *bounce;
        Py_BEGIN_ALLOW_THREADS
        w = write(fd, p, (size_t)k);
        err = errno;
        Py_END_ALLOW_THREADS
    }
    Py_DECREF(fr);
    if (w == 0) {
        /* sendfile: the file ended early (it was shortened since) */
        PyErr_Format(PyExc_OSError,
                     "Rope file segment: the file ends before the %zd bytes at offset %zd "
                     "it had when appended (it was truncated)", NC_SEG_LEN(s), s->start);
        return -2;
    }
    errno = err;
    return (Py_ssize_t)w;
}

/* A failed writev/sendfile with errno err, after `total` bytes went out:
 * 0 when it was interrupted and no signal handler raised (retry), else -1
 * with BlockingIOError (characters_written = total) or OSError set. */
static int
write_failed(int err, Py_ssize_t total)
{
    if (err == EINTR)
        return PyErr_CheckSignals() < 0 ? -1 : 0;
    if (err == EAGAIN || err == EWOULDBLOCK)
        set_blocking_error(err, total);
    else {
        errno = err;
        PyErr_SetFromErrno(PyExc_OSError);
    }
    return -1;
}

static PyObject *
write_fd(NcRope *r, int fd)
{
    int no_sendfile = 0;
    char *bounce = NULL;
    Py_ssize_t maxv = iov_max(), total = 0;
    cursor c = {0, 0};
    Py_ssize_t cnt = r->n < maxv ? r->n : maxv;
    int released = 0;  /* the GIL was let go: other code may have run */
    struct iovec *iov = PyMem_New(struct iovec, (size_t)(cnt > 0 ? cnt : 1));
    if (iov == NULL)
        return PyErr_NoMemory();
    Py_ssize_t pinned = pin_storage(r);
    if (pinned < 0) {
        PyMem_Free(iov);
        return NULL;
    }
    nc_rope_pin(r);
    while (c.i < r->n) {
        if (NC_SEG_UNLOADED(NC_SEG(r, c.i))) {
            Py_ssize_t w = send_file_step(NC_SEG(r, c.i), c.off, fd, &no_sendfile, &bounce);
            released = 1;
            if (w == -2)
                goto fail;
            if (w < 0) {
                if (write_failed(errno, total) < 0)
                    goto fail;
                continue;
            }
            total += w;
            advance(r, &c, w);
            continue;
        }
        int k = 0;
        /* the memory segments up to the next file segment: one writev */
        for (Py_ssize_t j = c.i; j < r->n && k < maxv && !NC_SEG_UNLOADED(NC_SEG(r, j));
             j++, k++) {
            nc_seg *s = NC_SEG(r, j);
            Py_ssize_t o = j == c.i ? c.off : 0;
            iov[k].iov_base = NC_SEG_PTR(s) + o;
            iov[k].iov_len = (size_t)(NC_SEG_LEN(s) - o);
        }
        /* Right before the batch goes out.  The first one was checked by
         * pin_storage with nothing run since; later ones come after the
         * GIL was released (another thread, a signal handler). */
        if (released && pinned && check_batch(r, c.i, k) < 0)
            goto fail;
        released = 1;
        ssize_t w;
        int err;
        Py_BEGIN_ALLOW_THREADS
        w = writev(fd, iov, k);
        err = errno;
        Py_END_ALLOW_THREADS
        if (w < 0) {
            if (write_failed(err, total) < 0)
                goto fail;
            continue;
        }
        if (w == 0) {
            PyErr_SetString(PyExc_OSError, "writev() wrote nothing");
            goto fail;
        }
        total += w;
        advance(r, &c, w);
    }
    if (pinned)
        unpin_storage(r);
    nc_rope_unpin(r);
    PyMem_Free(iov);
    PyMem_Free(bounce);
    return PyLong_FromSsize_t(total);
fail:
    if (pinned)
        unpin_storage(r);
    nc_rope_unpin(r);
    PyMem_Free(iov);
    PyMem_Free(bounce);
    return NULL;
}

/* A View of the next at most FILE_CHUNK bytes of unloaded file segment s
 * from offset off inside it, read into *bounce: an owned holder reused
 * while nobody else holds it (the write() callee did not keep the View),
 * else replaced by a fresh one, so a callee that keeps its View keeps its
 * bytes.  *len gets the View's length.  NULL + exception. */
static PyObject *
file_chunk_view(nc_state *st, nc_seg *s, Py_ssize_t off, NcHolder **bounce, Py_ssize_t *len)
{
    Py_ssize_t k = NC_SEG_LEN(s) - off;
    if (k > FILE_CHUNK)
        k = FILE_CHUNK;
    /* The region and the file offset are taken before the allocation: a
     * finalizer it runs may load s (allowed on a pinned Rope), after which
     * s->owner is a holder and s->start 0 -- read then, they made a holder
     * pass for a FileRegion (its buf pointer read as the fd).  Our reference
     * keeps the region's fd open; the file's bytes are the ones the load
     * read. */
    NcFileRegion *fr = (NcFileRegion *)Py_NewRef(s->owner);
    Py_ssize_t start = s->start;
    if (*bounce != NULL && (Py_REFCNT(*bounce) != 1 || (*bounce)->exports != 0))
        Py_CLEAR(*bounce);
    if (*bounce == NULL) {
        if ((*bounce = nc_holder_new_owned_raw(st, FILE_CHUNK)) == NULL) {
            Py_DECREF(fr);
            return NULL;
        }
        (*bounce)->readonly = 1;
    }
    int rc = nc_file_pread(fr, (*bounce)->buf, k, start + off);
    Py_DECREF(fr);
    if (rc < 0)
        return NULL;
    *len = k;
    return (PyObject *)nc_view_new(st->ViewType, *bounce, 0, k);
}

/* Through a Python method taking a list of buffers (sendmsg) or one buffer
 * at a time (write), looping on partial writes.  An unloaded file segment
 * goes FILE_CHUNK bytes per call through a reused buffer, on its own. */
static PyObject *
write_method(NcRope *r, PyObject *meth, int gather)
{
    nc_state *st = nc_state_of_type(Py_TYPE(r));
    Py_ssize_t maxv = gather ? iov_max() : 1, total = 0;
    cursor c = {0, 0};
    NcHolder *bounce = NULL;
    Py_ssize_t pinned = pin_storage(r);
    if (pinned < 0)
        return NULL;
    nc_rope_pin(r);
    while (c.i < r->n) {
        Py_ssize_t k = r->n - c.i < maxv ? r->n - c.i : maxv, left = 0;
        int file = NC_SEG_UNLOADED(NC_SEG(r, c.i));
        if (file)
            k = 1;
        else  /* the memory segments up to the next file segment */
            for (Py_ssize_t j = 1; j < k; j++)
                if (NC_SEG_UNLOADED(NC_SEG(r, c.i + j))) {
                    k = j;
                    break;
                }
        PyObject *arg = NULL, *list = gather ? PyList_New(k) : NULL;
        if (gather && list == NULL)
            goto fail;
        if (file && !NC_SEG_UNLOADED(NC_SEG(r, c.i))) {
            /* the list's allocation ran a finalizer that loaded the
             * segment: it is memory now, sent as such on the next turn */
            Py_XDECREF(list);
            continue;
        }
        for (Py_ssize_t j = 0; j < k; j++) {
            nc_seg *s = NC_SEG(r, c.i + j);
            Py_ssize_t o = j == 0 ? c.off : 0;
            PyObject *v;
            if (file)
                v = file_chunk_view(st, s, o, &bounce, &left);
            else {
                /* carries the segment's epoch, not the storage's current one */
                v = nc_seg_view(st, s, s->start + o, s->stop);
                left += NC_SEG_LEN(s) - o;
            }
            if (v == NULL) {
                Py_XDECREF(list);
                goto fail;
            }
            if (gather)
                PyList_SET_ITEM(list, j, v);
            else
                arg = v;
        }
        /* right before the call, after the allocations above (which may
         * have run a finalizer) */
        if (!file && check_batch(r, c.i, k) < 0) {
            Py_XDECREF(list);
            Py_XDECREF(arg);
            goto fail;
        }
        PyObject *res = PyObject_CallOneArg(meth, gather ? list : arg);
        Py_XDECREF(list);
        Py_XDECREF(arg);
        if (res == NULL) {
            if (PyErr_ExceptionMatches(PyExc_BlockingIOError))
                rebase_blocking_error(total);
            goto fail;
        }
        if (res == Py_None) {
            /* a non-blocking raw stream that would block */
            Py_DECREF(res);
            set_blocking_error(EAGAIN, total);
            goto fail;
        }
        Py_ssize_t w = PyNumber_AsSsize_t(res, PyExc_OverflowError);
        Py_DECREF(res);
        if (w == -1 && PyErr_Occurred())
            goto fail;
        if (w <= 0 || w > left) {
            PyErr_Format(PyExc_OSError, "%s() returned %zd for %zd bytes",
                         gather ? "sendmsg" : "write", w, left);
            goto fail;
        }
        total += w;
        advance(r, &c, w);
    }
    if (pinned)
        unpin_storage(r);
    nc_rope_unpin(r);
    Py_XDECREF(bounce);
    return PyLong_FromSsize_t(total);
fail:
    if (pinned)
        unpin_storage(r);
    nc_rope_unpin(r);
    Py_XDECREF(bounce);
    return NULL;
}

/* Attribute or NULL without an exception when it is absent. */
static PyObject *
optional_attr(PyObject *obj, const char *name)
{
    PyObject *a = PyObject_GetAttrString(obj, name);
    if (a == NULL && PyErr_ExceptionMatches(PyExc_AttributeError))
        PyErr_Clear();
    return a;
}

int
nc_fd_from_long(PyObject *obj, int *fd)
{
    long v = PyLong_AsLong(obj);
    if (v == -1 && PyErr_Occurred())
        return -1;
    if (v < 0 || v > INT_MAX) {
        PyErr_Format(PyExc_ValueError, "file descriptor must be a non-negative int, not %ld", v);
        return -1;
    }
    *fd = (int)v;
    return 0;
}

/* 1 when dst is exactly a socket.socket (not a subclass such as
 * ssl.SSLSocket, whose fd must not be written raw) with no timeout or in
 * non-blocking mode (timeout 0.0), where writev on the fd behaves as send. */
static int
is_plain_socket(PyObject *dst)
{
    PyObject *name = PyUnicode_FromString("socket");
    if (name == NULL)
        return -1;
    PyObject *mod = PyImport_GetModule(name);
    Py_DECREF(name);
    if (mod == NULL)
        return PyErr_Occurred() ? -1 : 0;  /* socket never imported: not a socket */
    PyObject *cls = PyObject_GetAttrString(mod, "socket");
    Py_DECREF(mod);
    if (cls == NULL) {
        PyErr_Clear();
        return 0;
    }
    int exact = (PyObject *)Py_TYPE(dst) == cls;
    Py_DECREF(cls);
    if (!exact)
        return 0;
    PyObject *t = PyObject_CallMethod(dst, "gettimeout", NULL);
    if (t == NULL)
        return -1;
    int plain = t == Py_None || (PyFloat_Check(t) && PyFloat_AS_DOUBLE(t) == 0.0);
    Py_DECREF(t);
    return plain;
}

const char nc_rope_write_to_doc[] =
"write_to($self, dst, /)\n--\n\n"
"Write every byte to dst and return the count, scatter-gather: an int fd or an\n"
"object with fileno() (flushed first) goes through writev(2) with the GIL\n"
"released, and so does a socket.socket without a timeout (blocking or\n"
"non-blocking); other sockets (timeouts, subclasses) go through sendmsg, in\n"
"batches of at most IOV_MAX segments (an ssl socket, without sendmsg, through\n"
"send); any other object with write() gets one call per segment.  Partial writes loop; EINTR retries.  A non-blocking destination\n"
"that would block raises BlockingIOError whose characters_written says how\n"
"much went out (the Rope is not consumed: skip() that much to resume).  The\n"
"Rope cannot change during the call (BufferError).  Copies nothing.\n\n"
"File segments (append_file) are not loaded: to an fd or a plain socket they\n"
"go by sendfile(2), GIL released (pread + write through a 64 KiB buffer where\n"
"the kernel refuses sendfile for that fd); to sendmsg/send/write objects, in\n"
"64 KiB Views of one reused buffer.  Memory segments between them still go\n"
"by writev, in order.";

PyObject *
nc_rope_write_to(PyObject *self, PyObject *dst)
{
    NcRope *r = (NcRope *)self;
    int fd;
    PyObject *meth, *res = NULL;
    if (PyLong_Check(dst)) {  /* write_fd checks staleness as it pins */
        if (nc_fd_from_long(dst, &fd) < 0)
            return NULL;
        return write_fd(r, fd);
    }
    if (check_mem(r) < 0)
        return NULL;
    int plain = is_plain_socket(dst);
    if (plain < 0)
        return NULL;
    if (plain) {
        /* Blocking or non-blocking (not timeout-mode) socket.socket: writev
         * on its fd is what sendmsg would do, without a View per segment. */
        PyObject *fdobj = PyObject_CallMethod(dst, "fileno", NULL);
        if (fdobj == NULL)
            return NULL;
        int rc = nc_fd_from_long(fdobj, &fd);
        Py_DECREF(fdobj);
        if (rc < 0)
            return NULL;
        return write_fd(r, fd);  /* checks staleness as it pins */
    }
    if ((meth = optional_attr(dst, "sendmsg")) != NULL) {
        res = write_method(r, meth, 1);
        Py_DECREF(meth);
        if (res != NULL || !PyErr_ExceptionMatches(PyExc_NotImplementedError))
            return res;
        /* ssl.SSLSocket: no sendmsg (and its fd must not be written raw) */
        PyErr_Clear();
        if ((meth = PyObject_GetAttrString(dst, "send")) == NULL)
            return NULL;
        res = write_method(r, meth, 0);
        Py_DECREF(meth);
        return res;
    }
    if (PyErr_Occurred())
        return NULL;
    if ((meth = optional_attr(dst, "fileno")) != NULL) {
        PyObject *flush = optional_attr(dst, "flush");
        if (flush == NULL && PyErr_Occurred()) {
            Py_DECREF(meth);
            return NULL;
        }
        PyObject *fres = flush ? PyObject_CallNoArgs(flush) : Py_NewRef(Py_None);
        Py_XDECREF(flush);
        PyObject *fdobj = fres ? PyObject_CallNoArgs(meth) : NULL;
        Py_DECREF(meth);
        if (fres == NULL)
            return NULL;
        Py_DECREF(fres);
        if (fdobj != NULL) {
            int rc = PyLong_Check(fdobj) ? nc_fd_from_long(fdobj, &fd) : -1;
            if (!PyLong_Check(fdobj))
                PyErr_Format(PyExc_TypeError, "fileno() returned '%.100s', not int",
                             Py_TYPE(fdobj)->tp_name);
            Py_DECREF(fdobj);
            if (rc < 0)
                return NULL;
            /* flush/fileno ran Python code: write_fd checks as it pins */
            return write_fd(r, fd);
        }
        /* io.BytesIO and friends: fileno() exists but is unsupported */
        if (!PyErr_ExceptionMatches(PyExc_OSError) && !PyErr_ExceptionMatches(PyExc_ValueError))
            return NULL;
        PyErr_Clear();
    }
    else if (PyErr_Occurred())
        return NULL;
    if ((meth = optional_attr(dst, "write")) != NULL) {
        if (check_mem(r) == 0)
            res = write_method(r, meth, 0);
        Py_DECREF(meth);
        return res;
    }
    if (!PyErr_Occurred())
        PyErr_Format(PyExc_TypeError,
                     "write_to() needs an int fd, a socket or a writable file object, not '%.100s'",
                     Py_TYPE(dst)->tp_name);
    return NULL;
}


/* ---- read_chunks' fast path --------------------------------------------------------- */

const char nc_rope_read_fd_doc[] =
"_read_fd($type, fd, chunk_size, budget, /)\n--\n\n"
"nocopy.io.read_chunks' path for a file descriptor it may read directly:\n"
"read until EOF, or until `budget` bytes (-1: no budget), into fresh\n"
"uninitialised storage with the GIL released during each read(2), as\n"
"chunk_size-byte segments, and return (rope, blocked).  blocked is True when\n"
"a non-blocking fd had no data; the Rope then holds everything read before.\n"
"A regular file's rest (fstat) is read into one block of storage (at most\n"
"1024 chunks; the segments share it, so it is freed when the last of them\n"
"goes), costing the system calls and the allocation of one read(); other\n"
"fds get one block per chunk.  The last block is shrunk to its data.  EINTR\n"
"retries after running signal handlers; any other error raises OSError.\n"
"Copies nothing: the kernel writes into the segments' storage.";

/* Bytes of a regular file left after the current offset, or -1 when fd is
 * not a regular file (or its offset is unknown): those are read a chunk at
 * a time. */
static Py_ssize_t
file_remaining(int fd)
{
    struct stat sb;
    if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode))
        return -1;
    off_t pos = lseek(fd, 0, SEEK_CUR);
    if (pos < 0)
        return -1;
    return sb.st_size > pos ? (Py_ssize_t)(sb.st_size - pos) : 0;
}

/* read(2) into [p, p + n) until full, EOF, or a non-blocking fd has no data
 * (*blocked).  Returns the bytes read, -1 with an exception. */
static Py_ssize_t
fill(int fd, char *p, Py_ssize_t n, int *blocked)
{
    Py_ssize_t filled = 0;
    while (filled < n) {
        ssize_t k;
        int err;
        Py_BEGIN_ALLOW_THREADS
        k = read(fd, p + filled, (size_t)(n - filled));
        err = errno;
        Py_END_ALLOW_THREADS
        if (k < 0) {
            if (err == EINTR) {
                if (PyErr_CheckSignals() < 0)
                    return -1;
                continue;
            }
            if (err == EAGAIN || err == EWOULDBLOCK) {
                *blocked = 1;
                break;
            }
            errno = err;
            PyErr_SetFromErrno(PyExc_OSError);
            return -1;
        }
        if (k == 0)
            break;
        filled += k;
    }
    return filled;
}

/* Move h's storage to `size` bytes (a fresh holder nobody but r's last
 * segments, given `from` the index of its first, has seen): the segments'
 * base pointers follow.  -1 + MemoryError, h unchanged. */
static int
move_block(NcRope *r, Py_ssize_t from, NcHolder *h, Py_ssize_t size)
{
    char *p = PyMem_Realloc(h->buf, (size_t)size);
    if (p == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    h->buf = p;
    h->len = size;
    for (Py_ssize_t i = from; i < r->n; i++)
        NC_SEG(r, i)->base = p;
    return 0;
}

PyObject *
nc_rope_read_fd(PyObject *type, PyObject *const *args, Py_ssize_t nargs)
{
    int fd;
    Py_ssize_t chunk, budget, total = 0;
    int blocked = 0, eof = 0;
    NcHolder *h = NULL;
    NcRope *r = NULL;
    if (nargs != 3) {
        PyErr_Format(PyExc_TypeError, "_read_fd() takes exactly 3 arguments (%zd given)", nargs);
        return NULL;
    }
    if (!PyLong_Check(args[0])) {
        PyErr_Format(PyExc_TypeError, "fd must be an int, not '%.100s'", Py_TYPE(args[0])->tp_name);
        return NULL;
    }
    if (nc_fd_from_long(args[0], &fd) < 0 || size_arg(args[1], "chunk_size", 1, &chunk) < 0
        || size_arg(args[2], "budget", -1, &budget) < 0)
        return NULL;
    nc_state *st = nc_state_of_type((PyTypeObject *)type);
    Py_ssize_t left = file_remaining(fd);  /* -1: not a regular file */
    Py_ssize_t maxblock = chunk > PY_SSIZE_T_MAX / 1024 ? chunk : chunk * 1024;
    Py_ssize_t first = 0;  /* index of the first segment of the last block */
    if ((r = nc_rope_alloc((PyTypeObject *)type, PY_SSIZE_T_MAX)) == NULL)
        return NULL;
    nc_rope_pin(r);
    if (left > 0) {
        /* The segment array sized once for the whole file (within the
         * budget), unless its size is implausible (a special file). */
        Py_ssize_t expect = budget >= 0 && budget < left ? budget : left;
        Py_ssize_t nsegs = (expect - 1) / chunk + 1;
        if (nsegs <= 65536 && nc_rope_reserve(r, nsegs) < 0)
            goto fail;
    }
    while (!eof && !blocked && (budget < 0 || total < budget)) {
        char probe;
        Py_ssize_t pre = 0;
        if (left == 0) {
            /* A regular file read up to its size: see EOF with a one-byte
             * read instead of a fresh chunk, whose allocation would cost
             * more than the read. */
            if ((pre = fill(fd, &probe, 1, &blocked)) < 0)
                goto fail;
            if (pre == 0)
                break;
            left = -1;  /* the file grew: its size is unknown, chunk by chunk */
            nc_seg *s = r->n ? NC_SEG(r, r->n - 1) : NULL;
            if (s != NULL && NC_SEG_LEN(s) < chunk
                && Py_REFCNT(s->owner) == r->n - first
                && ((NcHolder *)s->owner)->exports == 0) {
                /* The short last chunk, sized to the file's old end, is not
                 * the last any more: grow it to a full chunk (one realloc,
                 * only in this race; no View of it exists yet) and fill it. */
                NcHolder *bh = (NcHolder *)s->owner;
                Py_ssize_t have = NC_SEG_LEN(s), w = chunk;
                if (budget >= 0 && w - have > budget - total)
                    w = have + (budget - total);
                if (move_block(r, first, bh, s->stop + (w - have)) < 0)
                    goto fail;
                bh->buf[s->stop] = probe;
                Py_ssize_t got = fill(fd, bh->buf + s->stop + 1, w - have - 1, &blocked);
                if (got < 0)
                    goto fail;
                got += 1;
                /* the grown block's unread tail: cleared, never shown as it was */
                if (got < w - have)
                    memset(bh->buf + s->stop + got, 0, (size_t)(w - have - got));
                s->stop += got;
                s->end += got;
                r->len += got;
                total += got;
                eof = got < w - have && !blocked;
                continue;
            }
            /* else the byte starts the next block */
        }
        /* The block: the file's known rest (up to 1024 chunks) or one chunk,
         * within the budget.  Uninitialised: nothing reads past the data. */
        Py_ssize_t ask = left > 0 ? (left < maxblock ? left : maxblock) : chunk;
        if (budget >= 0 && ask > budget - total)
            ask = budget - total;
        if ((h = nc_holder_new_owned_raw(st, ask)) == NULL)
            goto fail;
        if (pre)
            h->buf[0] = probe;
        Py_ssize_t got = ask > pre ? fill(fd, h->buf + pre, ask - pre, &blocked) : 0;
        if (got < 0)
            goto fail;
        got += pre;
        eof = got < ask && !blocked;
        if (got == 0) {
            Py_CLEAR(h);
            break;
        }
        if (got < ask) {
            /* nobody has seen the block yet: its storage may move */
            char *p = PyMem_Realloc(h->buf, (size_t)got);
            if (p != NULL) {
                h->buf = p;
                h->len = got;
            }
            else  /* kept as it is: no byte read(2) did not write is shown */
                memset(h->buf + got, 0, (size_t)(ask - got));
        }
        first = r->n;
        if (nc_rope_reserve(r, (got - 1) / chunk + 1) < 0)
            goto fail;
        for (Py_ssize_t off = 0; off < got; off += chunk)
            if (nc_rope_push_window(r, h, off, got - off < chunk ? got : off + chunk) < 0)
                goto fail;
        Py_CLEAR(h);
        total += got;
        if (left > 0)
            left = got < left ? left - got : 0;
    }
    nc_rope_unpin(r);
    return Py_BuildValue("(NO)", (PyObject *)r, blocked ? Py_True : Py_False);
fail:
    Py_XDECREF(h);
    if (r != NULL)
        nc_rope_unpin(r);
    Py_XDECREF(r);
    return NULL;
}
