/* nocopy.h -- the C core's internal header: module state, the shared buffer
 * holder, the View object and the prototypes that cross file boundaries.
 *
 * Ownership in one paragraph: an exporter's Py_buffer is acquired exactly
 * once, into an NcHolder.  Every View, sub-view, split piece and Rope segment
 * holds a strong reference to that holder and a window (start, stop) into
 * it; slicing never asks the exporter again.  The export is given back when
 * the last holder reference goes, or at once for everyone by close()
 * (closing.c: the epoch moves for good, buf becomes an empty stand-in).  Storage owned by nocopy itself (a
 * ByteBuffer's) lives in a holder too, with obj == NULL.  A holder's epoch is
 * bumped by its owner when bytes move under borrowed views; a View remembers
 * the epoch it was made at and raises StaleViewError when they differ.
 */
#ifndef NOCOPY_H
#define NOCOPY_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#include "kernels.h"

/* ---- module state ------------------------------------------------------ */

#define NC_SERVE_NAMES 4

typedef struct {
    PyTypeObject *HolderType;
    PyTypeObject *ViewType;
    PyTypeObject *ViewIterType;    /* itersplit / iterlines iterators */
    PyTypeObject *RopeType;
    PyTypeObject *ByteBufferType;
    PyTypeObject *LineIterType;    /* ByteBuffer.iterlines' iterator (buffer.c) */
    PyTypeObject *FileRegionType;  /* a Rope file segment's fd (rope_file.c) */
    PyTypeObject *PollerType;      /* nocopy.serve's epoll (serve_poll.c); NULL: none */
    PyObject *StaleViewError;
    PyObject *BufferTooSmall;
    PyObject *LimitOverrun;
    PyObject *IncompleteRead;
    PyObject *EndOfStream;         /* IncompleteRead with nothing read (errors.py) */
    /* interned method names of the writable()/commit() protocol that
     * json.dumps_into calls on every use (json_encode.c) */
    PyObject *str_writable;
    PyObject *str_commit;
    /* the JSON encoder's key caches, [ensure_ascii] (json_encode.c); NULL
     * when off */
    struct nc_keycache *keycache;
    /* length of the last document dumps() built in a bytes object: where
     * the next one that outgrows the stack scratch starts (json_encode.c) */
    Py_ssize_t json_dumps_hint;
    /* KeyDict's private View (keydict.c): an existing key is stored through
     * it, never through the caller's View; NULL until first used */
    PyObject *kd_probe;
    /* nocopy.serve's connection calls these methods of its Python side
     * (serve_conn.c: NC_SV_* indices, NC_SERVE_NAMES of them) */
    PyObject *serve_names[NC_SERVE_NAMES];
} nc_state;

extern PyModuleDef nc_moduledef;

/* The state of the module that defined `type` (a nocopy heap type). */
static inline nc_state *
nc_state_of_type(PyTypeObject *type)
{
    /* By def, not by type: a subclass made in Python has no module of its
     * own (GetModuleState would return NULL); its MRO leads to ours. */
    PyObject *m = PyType_GetModuleByDef(type, &nc_moduledef);
    return m ? (nc_state *)PyModule_GetState(m) : NULL;
}

/* The state from any object of a nocopy type, or from a foreign type via the
 * module def lookup (slower; error paths only). */
nc_state *nc_state_of(PyObject *obj);  /* NULL + TypeError if foreign */

/* Raise type(*Py_BuildValue(fmt, ...)): for nocopy's exceptions whose
 * constructor takes more than a message (BufferTooSmall's needed,
 * LimitOverrun's and IncompleteRead's partial).  fmt must build a tuple. */
void nc_raise_new(PyObject *type, const char *fmt, ...);

/* ---- holder: one acquired export (or owned storage) shared by views ---- */

typedef struct {
    PyObject_HEAD
    char *buf;            /* start of the exported memory */
    Py_ssize_t len;       /* its length; fixed while the export is held */
    PyObject *obj;        /* the exporter (owned), NULL for owned storage */
    Py_buffer pybuf;      /* the export; valid iff obj != NULL */
    Py_ssize_t exports;   /* buffer exports made through Views on this holder */
    uint64_t epoch;       /* bumped by an owner that moves bytes under views */
    int readonly;
    int owned;            /* buf is PyMem_Malloc'd and freed with the holder */
    int acyclic;          /* obj cannot reach back to a view (exact bytes or
                             bytearray, or owned storage): the holder and exact
                             Views over it stay out of the cyclic GC */
    PyObject *base;       /* owned or NULL: the holder whose storage buf points
                             into (a ByteBuffer's write window, buffer.c) */
    PyObject *bytes;      /* owned or NULL: a bytes object whose ob_sval is buf
                             (ByteBuffer(storage="bytes")); never reachable from
                             Python until ByteBuffer.take_bytes() hands it over
                             and detaches it from this holder (buffer_build.c) */
    PyObject *on_close;   /* owned or NULL: called (no arguments) by nc_holder_close
                             after the export is given back (map_file: mmap.close) */
    int closed;           /* nc_holder_close ran: buf is an empty stand-in, every
                             View stale for good (closing.c) */
    int lent;             /* the storage of a ByteBuffer.wrap(): only the
                             ByteBuffer closes it */
    int close_on_exit;    /* View.__exit__ closes instead of releasing (map_file) */
    Py_ssize_t pins;      /* C loops reading buf across Python calls (a split making
                             its pieces): close() refuses meanwhile, as for exports */
} NcHolder;

/* New holder over obj's C-contiguous export; TypeError/BufferError on failure. */
int nc_holder_type_init(PyObject *m, nc_state *st);
NcHolder *nc_holder_from_object(nc_state *st, PyObject *obj);
/* New holder owning `len` bytes of fresh zeroed storage (MemoryError). */
NcHolder *nc_holder_new_owned(nc_state *st, Py_ssize_t len);
/* The same, uninitialised: only for a caller that writes every byte before
 * anyone can see the holder (a copy of exactly its length), or clears what
 * it did not write (Rope's _read_fd).  A View can be retargeted anywhere in
 * its holder, so an unwritten byte there would reach Python.  Saves the
 * clearing where it would double the cost (flatten, coalescing, reads). */
NcHolder *nc_holder_new_owned_raw(nc_state *st, Py_ssize_t len);
/* New holder owning zeroed storage inside a fresh bytes object of `len` >= 1
 * bytes (bytes(len): calloc'd), held in h->bytes (MemoryError). */
NcHolder *nc_holder_new_bytes(nc_state *st, Py_ssize_t len);
/* Close h for everyone (closing.c): the epoch moves for good, buf becomes
 * an empty stand-in, and the export goes back to the exporter (a bytes
 * exporter is kept: its storage needs no giving back and frozen Rope
 * segments read it), owned storage is freed, then on_close() is called.
 * The state is final before any Python code runs (the exporter's release,
 * a finalizer, on_close); a nested call returns 0 at once.  The caller
 * holds a reference to h and has checked that no export is held.  -1 only
 * when on_close fails (h is closed all the same). */
int nc_holder_close(NcHolder *h);
/* New holder windowing base's storage (initially all of it; its owner moves
 * buf/len within base), keeping base alive; not owned, never freed by it. */
NcHolder *nc_holder_new_window(nc_state *st, NcHolder *base);

/* ---- View --------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    NcHolder *holder;     /* owned; NULL once released */
    Py_ssize_t start;     /* window [start, stop) into holder->buf */
    Py_ssize_t stop;
    uint64_t epoch;       /* holder->epoch when this view was made */
    Py_ssize_t exports;   /* buffer exports of this View still held */
} NcView;

#define NcView_Check(st, op) PyObject_TypeCheck((op), (st)->ViewType)

/* Validity check at every entry point: released -> ValueError, stale ->
 * StaleViewError.  Returns 0 on success, -1 with an exception set. */
int nc_view_check_slow(NcView *v);
static inline int
nc_view_check(NcView *v)
{
    if (v->holder != NULL && v->epoch == v->holder->epoch)
        return 0;
    return nc_view_check_slow(v);
}
#define NC_VIEW_PTR(v) ((v)->holder->buf + (v)->start)
#define NC_VIEW_LEN(v) ((v)->stop - (v)->start)

/* A new View of type `type` sharing `holder`, window [start, stop) taken as
 * absolute holder offsets (caller guarantees 0 <= start <= stop <= len).
 * The epoch is the holder's at the call: taken, with the view's reference to
 * the holder, before the allocation (which may run Python code). */
NcView *nc_view_new(PyTypeObject *type, NcHolder *holder, Py_ssize_t start, Py_ssize_t stop);
/* 1 when the next nc_view_new(type, ...) runs no Python code: an exact View
 * taken from the freelist (no allocation, so no collection, no finalizer).
 * Valid until Python code runs or a View is made or freed. */
int nc_view_new_is_quiet(PyTypeObject *type);
/* 1 when o is an exact View (no subclass layout, no __dict__ or weakrefs:
 * an object only a container references is then unobservable). */
int nc_view_is_exact(PyObject *o);
/* Point v at [start, stop) of holder (absolute, caller checked), stamped
 * with epoch, in place, runs no Python code.  Returns v's previous holder
 * reference (or NULL) for the caller to drop when that is safe: dropping
 * the last one gives an export back, which may run Python code. */
NcHolder *nc_view_rebind(NcView *v, NcHolder *holder, Py_ssize_t start, Py_ssize_t stop,
                         uint64_t epoch);
extern PyMethodDef nc_view_fields_methods[];     /* view_fields.c */
/* Sub-view of v, offsets relative to v's window (caller guarantees bounds). */
static inline PyObject *
nc_view_sub(NcView *v, Py_ssize_t a, Py_ssize_t b)
{
    return (PyObject *)nc_view_new(Py_TYPE(v), v->holder, v->start + a, v->start + b);
}

/* Argument helpers shared by the method files. */

/* Acquire a C-contiguous buffer of `arg` for reading; TypeError naming the
 * type when it has none ("a bytes-like object is required, not 'str'"). */
int nc_get_buffer(PyObject *arg, Py_buffer *out);
/* The free space of a target with writable() and commit(n) (the protocol
 * json.dumps_into and format_into accept besides plain buffers): call
 * target.writable() and acquire a writable export of what it returns into
 * *out, refusing an exporter that reports a negative length or a NULL
 * buffer.  The caller releases *out before calling commit (the owner may
 * check exports there).  Runs Python code. */
int nc_get_writable_space(nc_state *st, PyObject *target, Py_buffer *out);
/* Convert start/end arguments as bytes.find does (None, negatives, __index__).
 * Returns 0 on success.  Runs Python code (__index__): re-check views after. */
int nc_parse_slice_index(PyObject *arg, Py_ssize_t *out);
/* On an argument-parsing error path of View method `name`: raise the error
 * bytes' own method raises for the same arguments (the wording changes
 * between Python versions).  1: raised; 0: bytes accepted them or has no
 * such method, the caller raises its own. */
int nc_bytes_arg_error(const char *name, PyObject *const *args, Py_ssize_t nargs,
                       PyObject *kwnames);
/* Clamp [*start, *end) like bytes.find's ADJUST_INDICES against len. */
static inline void
nc_adjust_indices(Py_ssize_t *start, Py_ssize_t *end, Py_ssize_t len)
{
    if (*end > len)
        *end = len;
    else if (*end < 0) {
        *end += len;
        if (*end < 0)
            *end = 0;
    }
    if (*start < 0) {
        *start += len;
        if (*start < 0)
            *start = 0;
    }
}

/* Method tables contributed by the method files, concatenated into the View
 * type at module init (each ends with a {NULL} sentinel). */
extern PyMethodDef nc_view_search_methods[];     /* view_search.c */
extern PyMethodDef nc_view_transform_methods[];  /* view_transform.c */
extern PyMethodDef nc_view_pickle_methods[];     /* pickle.c */
extern PyMethodDef nc_view_export_methods[];     /* view_export.c */

/* Slots implemented outside view.c. */
int nc_view_contains(PyObject *self, PyObject *arg);          /* view_search.c */
PyObject *nc_view_repeat(PyObject *self, Py_ssize_t n);        /* view_transform.c */
PyObject *nc_view_multiply(PyObject *a, PyObject *b);          /* view_transform.c */
PyObject *nc_view_remainder(PyObject *a, PyObject *b);         /* view_transform.c */

/* Per-file type/function registration, called from module.c. */
int nc_view_module_init(PyObject *m, nc_state *st);
int nc_viewiter_module_init(PyObject *m, nc_state *st);       /* view_search.c */
int nc_numfmt_module_init(PyObject *m, nc_state *st);         /* numfmt_test.c */
int nc_bytebuffer_module_init(PyObject *m, nc_state *st);     /* buffer.c */
int nc_rope_module_init(PyObject *m, nc_state *st);            /* rope.c */
int nc_json_module_init(PyObject *m, nc_state *st);           /* json_encode.c */
void nc_json_keycache_clear(nc_state *st);                     /* json_encode.c */
void nc_json_keycache_free(nc_state *st);                      /* json_encode.c */
int nc_alloccount_module_init(PyObject *m, nc_state *st);     /* alloccount.c */
int nc_aiolines_module_init(PyObject *m, nc_state *st);       /* aiolines.c */
int nc_fmt_module_init(PyObject *m, nc_state *st);            /* fmt.c */
int nc_memcursor_module_init(PyObject *m, nc_state *st);      /* memcursor.c */
int nc_pickle_module_init(PyObject *m, nc_state *st);         /* pickle.c */
int nc_closing_module_init(PyObject *m, nc_state *st);        /* closing.c */
int nc_keydict_module_init(PyObject *m, nc_state *st);        /* keydict.c */
int nc_serve_module_init(PyObject *m, nc_state *st);          /* serve_conn.c */
int nc_poller_module_init(PyObject *m, nc_state *st);         /* serve_poll.c */
extern PyMethodDef nc_view_close_methods[];                    /* closing.c */
PyObject *nc_view_close(NcView *v, PyObject *ignored);         /* closing.c */

#endif /* NOCOPY_H */
