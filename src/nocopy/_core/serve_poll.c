/* serve_poll.c -- nocopy.serve's poller (Linux): one epoll instance for all
 * the socket-engine connections of a server, registered with the event loop
 * as a single reader.  When it is readable the loop calls _Poller.poll, a C
 * method, which takes up to NC_POLL_BATCH ready connections from the epoll
 * instance and runs each one's receive/handle/send directly.
 *
 * Why: with one add_reader per connection, asyncio's loop pays per ready
 * socket a selector key lookup, a tuple, a Handle queued and run through a
 * Context -- Python code and allocations per request, more than nocopy's own
 * work for a small message.  Behind one fd they are paid once per batch.
 * uvloop gains less (its per-fd path is C) but the same code serves both.
 *
 * Registrations live in a table indexed by fd: {conn, gen}.  epoll's data
 * carries fd and gen, never a pointer, so an event for a registration this
 * table no longer holds (a connection dropped, its fd number reused) is
 * recognised and ignored instead of reaching freed memory.  The table holds a
 * reference to each registered connection; poll() takes its own reference to
 * every connection of the batch before running any of them, since running
 * one (a handler) can close or drop the others.
 *
 * Where epoll is missing the type does not exist and nocopy.serve falls back
 * to one add_reader per connection (serve_conn.c's _mode hook). */
#include "serve.h"

#ifdef __linux__
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <unistd.h>

#define NC_POLL_BATCH 64

typedef struct {
    PyObject *conn;   /* owned, NULL: free */
    uint32_t gen;     /* of the registration, in epoll's data */
} nc_poll_slot;

typedef struct {
    PyObject_HEAD
    int epfd;             /* -1 once closed */
    uint32_t gen;         /* the last registration's generation */
    Py_ssize_t cap;       /* slots */
    Py_ssize_t count;     /* registered connections */
    nc_poll_slot *slots;  /* indexed by fd */
} NcPoller;

/* Drop slot fd's connection if it is `conn` (any, when conn is NULL): out of
 * epoll first, then out of the table, then the reference -- the last, since
 * it can run anything. */
static void
poller_drop(NcPoller *p, int fd, PyObject *conn)
{
    if (fd < 0 || fd >= p->cap || p->slots[fd].conn == NULL
        || (conn != NULL && p->slots[fd].conn != conn))
        return;
    PyObject *old = p->slots[fd].conn;
    p->slots[fd].conn = NULL;
    p->count--;
    /* the fd is still the connection's (it passes to Python only after
     * this); ENOENT/EBADF: its file was closed behind our back, epoll has
     * forgotten it already */
    if (p->epfd >= 0)
        (void)epoll_ctl(p->epfd, EPOLL_CTL_DEL, fd, NULL);
    Py_DECREF(old);
}

int
nc_poller_set(PyObject *poller, PyObject *conn, int fd, int mode, PyObject **drop)
{
    NcPoller *p = (NcPoller *)poller;
    *drop = NULL;
    if (mode == NC_POLL_NONE) {
        poller_drop(p, fd, conn);
        return 0;
    }
    if (mode != NC_POLL_READ && mode != NC_POLL_WRITE) {
        PyErr_Format(PyExc_ValueError, "poller mode must be 0, 1 or 2, not %d", mode);
        return -1;
    }
    if (p->epfd < 0) {
        PyErr_SetString(PyExc_RuntimeError, "nocopy.serve: the poller is closed");
        return -1;
    }
    if (fd < 0) {
        PyErr_SetString(PyExc_ValueError, "nocopy.serve: no fd to poll (the connection has ended)");
        return -1;
    }
    if (fd >= p->cap) {
        /* a real fd first (any int reaches here): the table is not grown
         * for a number that cannot be registered */
        if (fcntl(fd, F_GETFD) < 0) {
            PyErr_SetFromErrno(PyExc_OSError);
            return -1;
        }
        Py_ssize_t cap = p->cap ? p->cap : 64;
        while (cap <= fd) {
            if (cap > PY_SSIZE_T_MAX / 2 / (Py_ssize_t)sizeof(nc_poll_slot)) {
                PyErr_NoMemory();
                return -1;
            }
            cap *= 2;
        }
        /* PyMem_Realloc runs no Python (raw domain semantics: no GC) */
        nc_poll_slot *s = PyMem_Realloc(p->slots, (size_t)cap * sizeof(nc_poll_slot));
        if (s == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        for (Py_ssize_t i = p->cap; i < cap; i++) {
            s[i].conn = NULL;
            s[i].gen = 0;
        }
        p->slots = s;
        p->cap = cap;
    }
    PyObject *stale = NULL;
    int op = EPOLL_CTL_MOD;
    if (p->slots[fd].conn != conn) {
        /* another connection holds this fd number: its own fd was closed
         * behind its back and the number reused; epoll dropped it with the
         * file, so the table lets it go too (its later drop finds the slot
         * not its own and leaves it alone) */
        stale = p->slots[fd].conn;
        if (stale != NULL) {
            p->slots[fd].conn = NULL;
            p->count--;
        }
        op = EPOLL_CTL_ADD;
    }
    uint32_t gen = ++p->gen;
    struct epoll_event ev;
    ev.events = mode == NC_POLL_READ ? EPOLLIN : EPOLLOUT;
    ev.data.u64 = (uint64_t)(uint32_t)fd | ((uint64_t)gen << 32);
    int r = epoll_ctl(p->epfd, op, fd, &ev);
    if (r < 0 && op == EPOLL_CTL_ADD && errno == EEXIST)
        r = epoll_ctl(p->epfd, EPOLL_CTL_MOD, fd, &ev);  /* the same file, registered by the stale one */
    else if (r < 0 && op == EPOLL_CTL_MOD && errno == ENOENT)
        r = epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &ev);  /* closed and reopened under us */
    if (r < 0) {
        int err = errno;
        if (p->slots[fd].conn == conn) {  /* a MOD that failed: not registered any more */
            (void)epoll_ctl(p->epfd, EPOLL_CTL_DEL, fd, NULL);
            p->slots[fd].conn = NULL;
            p->count--;
            Py_DECREF(conn);  /* the caller holds its own reference */
        }
        *drop = stale;  /* the caller's to release once its own state is stored */
        errno = err;
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    if (p->slots[fd].conn != conn) {
        p->slots[fd].conn = Py_NewRef(conn);
        p->count++;
    }
    p->slots[fd].gen = gen;
    /* can run anything: released by the caller after it stored its state
     * (conn_attach's c->poller) */
    *drop = stale;
    return 0;
}

PyDoc_STRVAR(poll_doc,
"poll($self, /)\n--\n\n"
"The event loop's reader callback: run the ready connections (at most 64;\n"
"the rest stay ready for the next call).");

static PyObject *
poller_poll(NcPoller *p, PyObject *Py_UNUSED(ignored))
{
    if (p->epfd < 0)
        Py_RETURN_NONE;
    struct epoll_event evs[NC_POLL_BATCH];
    PyObject *ready[NC_POLL_BATCH];
    int n = epoll_wait(p->epfd, evs, NC_POLL_BATCH, 0);
    if (n < 0) {
        if (errno == EINTR)
            Py_RETURN_NONE;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    /* pin the whole batch before running any of it: no Python runs in this loop */
    int k = 0;
    for (int i = 0; i < n; i++) {
        uint64_t d = evs[i].data.u64;
        int fd = (int)(uint32_t)d;
        uint32_t gen = (uint32_t)(d >> 32);
        if (fd >= 0 && fd < p->cap && p->slots[fd].conn != NULL && p->slots[fd].gen == gen)
            ready[k++] = Py_NewRef(p->slots[fd].conn);
        /* else: a registration the table let go (see nc_poller_set); its
         * events stop when its file is closed */
    }
    for (int i = 0; i < k; i++) {
        /* the connection decides what the wake-up means from its own state
         * now (it may have changed since epoll_wait, by an earlier one's
         * handler): a stale wake-up is a no-op */
        if (nc_conn_on_ready(ready[i]) < 0)
            PyErr_WriteUnraisable(ready[i]);
        Py_DECREF(ready[i]);
    }
    Py_RETURN_NONE;
}

static void
poller_clear_all(NcPoller *p)
{
    for (Py_ssize_t fd = 0; fd < p->cap; fd++)
        poller_drop(p, (int)fd, NULL);
}

PyDoc_STRVAR(close_doc,
"close($self, /)\n--\n\n"
"Drop every registration and close the epoll fd.  Idempotent.");

static PyObject *
poller_close(NcPoller *p, PyObject *Py_UNUSED(ignored))
{
    /* closed first: a finalizer run by a drop below cannot register
     * anything any more (closing the epoll fd drops all its registrations) */
    if (p->epfd >= 0) {
        int fd = p->epfd;
        p->epfd = -1;
        close(fd);
    }
    poller_clear_all(p);  /* drops run finalizers: the loop re-reads cap */
    Py_RETURN_NONE;
}

static PyObject *
poller_fileno(NcPoller *p, PyObject *Py_UNUSED(ignored))
{
    if (p->epfd < 0) {
        PyErr_SetString(PyExc_ValueError, "nocopy.serve: the poller is closed");
        return NULL;
    }
    return PyLong_FromLong(p->epfd);
}

static PyObject *
poller_get_count(NcPoller *p, void *Py_UNUSED(x))
{
    return PyLong_FromSsize_t(p->count);
}

static PyObject *
poller_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    if (PyTuple_GET_SIZE(args) != 0 || (kwds != NULL && PyDict_GET_SIZE(kwds) != 0)) {
        PyErr_SetString(PyExc_TypeError, "_Poller() takes no arguments");
        return NULL;
    }
    NcPoller *p = (NcPoller *)type->tp_alloc(type, 0);
    if (p == NULL)
        return NULL;
    p->slots = NULL;
    p->cap = p->count = 0;
    p->gen = 0;
    p->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (p->epfd < 0) {
        PyErr_SetFromErrno(PyExc_OSError);
        Py_DECREF(p);
        return NULL;
    }
    return (PyObject *)p;
}

static int
poller_traverse(NcPoller *p, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(p));
    for (Py_ssize_t fd = 0; fd < p->cap; fd++)
        Py_VISIT(p->slots[fd].conn);
    return 0;
}

static int
poller_tp_clear(NcPoller *p)
{
    poller_clear_all(p);
    return 0;
}

static void
poller_dealloc(NcPoller *p)
{
    PyTypeObject *tp = Py_TYPE(p);
    PyObject_GC_UnTrack(p);
    if (p->epfd >= 0)
        close(p->epfd);
    p->epfd = -1;
    poller_clear_all(p);
    PyMem_Free(p->slots);
    p->slots = NULL;
    p->cap = 0;
    tp->tp_free(p);
    Py_DECREF(tp);
}

static PyMethodDef poller_methods[] = {
    {"poll", (PyCFunction)poller_poll, METH_NOARGS, poll_doc},
    {"close", (PyCFunction)poller_close, METH_NOARGS, close_doc},
    {"fileno", (PyCFunction)poller_fileno, METH_NOARGS, "The epoll fd (for loop.add_reader)."},
    {NULL},
};

static PyGetSetDef poller_getset[] = {
    {"registered", (getter)poller_get_count, NULL, "Connections registered.", NULL},
    {NULL},
};

PyDoc_STRVAR(poller_doc,
"_Poller()\n--\n\n"
"nocopy.serve's epoll instance for the socket engine's connections (Linux).");

int
nc_poller_module_init(PyObject *m, nc_state *st)
{
    PyType_Slot slots[] = {
        {Py_tp_new, poller_new},
        {Py_tp_dealloc, poller_dealloc},
        {Py_tp_traverse, poller_traverse},
        {Py_tp_clear, poller_tp_clear},
        {Py_tp_methods, poller_methods},
        {Py_tp_getset, poller_getset},
        {Py_tp_doc, (void *)poller_doc},
        {0, NULL},
    };
    PyType_Spec spec = {
        .name = "nocopy._core._Poller",
        .basicsize = sizeof(NcPoller),
        .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
        .slots = slots,
    };
    PyObject *tp = PyType_FromModuleAndSpec(m, &spec, NULL);
    if (tp == NULL)
        return -1;
    st->PollerType = (PyTypeObject *)Py_NewRef(tp);
    if (PyModule_AddType(m, (PyTypeObject *)tp) < 0) {
        Py_DECREF(tp);
        return -1;
    }
    Py_DECREF(tp);
    return 0;
}

#else  /* no epoll: nocopy.serve registers each connection with the loop */

int
nc_poller_set(PyObject *poller, PyObject *conn, int fd, int mode, PyObject **drop)
{
    (void)poller; (void)conn; (void)fd; (void)mode;
    *drop = NULL;
    PyErr_SetString(PyExc_RuntimeError, "nocopy.serve: no poller on this platform");
    return -1;
}

int
nc_poller_module_init(PyObject *m, nc_state *st)
{
    (void)m;
    st->PollerType = NULL;
    return 0;
}

#endif
