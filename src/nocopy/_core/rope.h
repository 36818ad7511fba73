/* rope.h -- the Rope object and the helpers shared by rope.c (type, building,
 * consuming, flattening), rope_search.c (search, compare) and rope_io.c
 * (scatter-gather writes).
 *
 * Ownership: a Rope owns a C array of segments; each live segment owns one
 * reference to its owner -- an NcHolder, or an exact bytes object taken as a
 * part (bytes are immutable and keep their storage, so they need no export
 * and no holder; one is made only when a View of the segment is asked for) --
 * and reads the window [start, stop) of the owner's storage `base`.  The
 * Rope never writes through a segment.  Live segments are segs[head ..
 * head + n): consuming from the front advances head instead of moving the
 * array.  No live segment is empty. */
#ifndef NOCOPY_ROPE_H
#define NOCOPY_ROPE_H

#include "nocopy.h"

typedef struct {
    PyObject *owner;      /* owned: an NcHolder, an exact bytes object, or (file
                             segment not loaded yet) an NcFileRegion */
    char *base;           /* owner's storage: a holder's buf never moves; NULL
                             for an unloaded file segment, whose [start, stop)
                             are then offsets in the file */
    Py_ssize_t start;     /* window [start, stop) of base */
    Py_ssize_t stop;
    Py_ssize_t end;       /* cumulative end offset, in the Rope's base frame */
    uint64_t epoch;       /* holder->epoch when the source View was made */
    int frozen;           /* content can never change (bytes, or our own copy);
                             always set for a bytes owner */
} nc_seg;

typedef struct {
    PyObject_HEAD
    nc_seg *segs;         /* owned array of cap entries, live [head, head + n) */
    Py_ssize_t head;
    Py_ssize_t n;
    Py_ssize_t cap;
    Py_ssize_t base;      /* logical offset p is base-frame offset base + p */
    Py_ssize_t len;       /* total payload bytes */
    Py_ssize_t max_segments;
    Py_ssize_t exports;   /* buffer exports and in-flight writes: no mutation */
} NcRope;

#define NC_SEG(r, i) (&(r)->segs[(r)->head + (i)])
#define NC_SEG_LEN(s) ((s)->stop - (s)->start)
#define NC_SEG_PTR(s) ((s)->base + (s)->start)

/* A file segment whose bytes are still in the file (rope_file.c): only
 * nc_rope_load() and write_to read it.  It is frozen, so no path takes its
 * owner for a holder. */
#define NC_SEG_UNLOADED(s) ((s)->base == NULL)

/* Can the segment's bytes not be read in memory now?  Its ByteBuffer moved
 * or overwrote them, or it is a file segment not loaded yet.  This is the
 * one gate every byte-reading path passes (nc_rope_check, nc_rope_copy_out,
 * per-segment checks): a path that did not call nc_rope_load() first (or a
 * finalizer that appended a file segment meanwhile) gets an error, never a
 * read through NULL.  A frozen segment's owner never changes its epoch (and
 * may not be a holder). */
static inline int
nc_seg_stale(const nc_seg *s)
{
    return s->base == NULL || (!s->frozen && s->epoch != ((NcHolder *)s->owner)->epoch);
}
/* The error for a segment nc_seg_stale() refused: StaleViewError, or
 * RuntimeError for a file segment that was not loaded.  Always -1. */
int nc_seg_error(const NcRope *r, const nc_seg *s);

/* The segment's holder (borrowed), made on first use for a bytes owner and
 * then kept in the segment in its place.  NULL + MemoryError. */
NcHolder *nc_seg_holder(nc_state *st, nc_seg *s);
/* Pin the segment array across anything that can run Python (an
 * allocation's GC, a callback) or a GIL release: while r->exports > 0 every
 * mutation raises BufferError, so the array, its count and every segment
 * read before stay valid.  Reads stay allowed. */
static inline void
nc_rope_pin(NcRope *r)
{
    r->exports++;
}
static inline void
nc_rope_unpin(NcRope *r)
{
    r->exports--;
}

/* A new View of [a, b) of segment s's storage carrying the *segment's*
 * epoch, so a segment that went stale makes a stale View instead of one that
 * shows the storage's new bytes.  May replace a bytes owner by its holder
 * and allocates: the caller pins the Rope (s must stay valid). */
PyObject *nc_seg_view(nc_state *st, nc_seg *s, Py_ssize_t a, Py_ssize_t b);

/* A new empty Rope of `type`. */
NcRope *nc_rope_alloc(PyTypeObject *type, Py_ssize_t max_segments);
/* Append the window [start, stop) of h (non-empty) as a new segment with
 * its own new reference to h; -1 + MemoryError.  For C code building a Rope
 * chunk by chunk from holders it just made (the segment takes h's current
 * epoch: no View of h can be older); no segment cap is applied. */
int nc_rope_push_window(NcRope *r, NcHolder *h, Py_ssize_t start, Py_ssize_t stop);
/* Append segment s (its owner reference moves in, its end is computed),
 * then apply the segment cap.  -1 + BufferError (pinned) or MemoryError,
 * the reference staying with the caller. */
int nc_rope_append_seg(NcRope *r, nc_seg s);
/* Room for `extra` more segments (exactly, when that is more than doubling
 * gives); -1 + MemoryError. */
int nc_rope_reserve(NcRope *r, Py_ssize_t extra);

/* Logical offset of segment s's first byte. */
static inline Py_ssize_t
nc_seg_lstart(const NcRope *r, const nc_seg *s)
{
    return s->end - r->base - NC_SEG_LEN(s);
}

/* Index of the segment holding logical offset pos (0 <= pos < len): a
 * binary search over the cumulative ends.  O(log n). */
Py_ssize_t nc_rope_seg_index(const NcRope *r, Py_ssize_t pos);
/* StaleViewError if any segment's holder moved its bytes since the source
 * View was made; 0 otherwise.  O(n) over segments, no payload read. */
int nc_rope_check(NcRope *r);
/* Copy logical [pos, pos + n) into dst (caller checks the range).  -1 with
 * StaleViewError when a segment it reads is stale (dst then partly written);
 * callers that ran nc_rope_check() first, with no Python since, get 0. */
int nc_rope_copy_out(const NcRope *r, Py_ssize_t pos, Py_ssize_t n, char *dst);

/* rope_search.c */
PyObject *nc_rope_find(PyObject *self, PyObject *const *args, Py_ssize_t nargs);
PyObject *nc_rope_rfind(PyObject *self, PyObject *const *args, Py_ssize_t nargs);
PyObject *nc_rope_index(PyObject *self, PyObject *const *args, Py_ssize_t nargs);
PyObject *nc_rope_rindex(PyObject *self, PyObject *const *args, Py_ssize_t nargs);
PyObject *nc_rope_count(PyObject *self, PyObject *const *args, Py_ssize_t nargs);
PyObject *nc_rope_startswith(PyObject *self, PyObject *const *args, Py_ssize_t nargs);
PyObject *nc_rope_endswith(PyObject *self, PyObject *const *args, Py_ssize_t nargs);
PyObject *nc_rope_richcompare(PyObject *self, PyObject *other, int op);
int nc_rope_contains(PyObject *self, PyObject *arg);
extern const char nc_rope_find_doc[], nc_rope_rfind_doc[], nc_rope_index_doc[],
    nc_rope_rindex_doc[], nc_rope_count_doc[], nc_rope_startswith_doc[],
    nc_rope_endswith_doc[];

/* rope_io.c: write every byte to dst (fd, socket, file); pins the Rope. */
PyObject *nc_rope_write_to(PyObject *self, PyObject *dst);
extern const char nc_rope_write_to_doc[];
/* rope_io.c: read_chunks' fast path for a file descriptor (a classmethod). */
PyObject *nc_rope_read_fd(PyObject *type, PyObject *const *args, Py_ssize_t nargs);
extern const char nc_rope_read_fd_doc[];

/* rope_file.c: file segments. */
typedef struct {
    PyObject_HEAD
    int fd;               /* owned: a dup of the caller's, closed at dealloc */
} NcFileRegion;
/* Load every unloaded file segment overlapping logical [pos, pos + n) into
 * an owned read-only holder (pread with the GIL released), in place: same
 * bytes, same lengths, so it is allowed while the Rope is pinned.  Pins the
 * Rope while it works.  0, or -1 + OSError (the file shrank, EIO; segments
 * loaded before stay loaded, which changes nothing a reader can see).
 * Runs Python code (allocations): callers load first, then pin and re-check
 * staleness as they already do. */
int nc_rope_load(NcRope *r, Py_ssize_t pos, Py_ssize_t n);
/* An int as a file descriptor (rope_io.c): 0, or -1 + OverflowError /
 * ValueError for a negative or too large one. */
int nc_fd_from_long(PyObject *obj, int *fd);
/* pread exactly n bytes at off of the region into dst, GIL released (the
 * caller owns a reference to fr).  -1 + OSError, truncation included. */
int nc_file_pread(NcFileRegion *fr, char *dst, Py_ssize_t n, Py_ssize_t off);
extern PyMethodDef nc_rope_file_methods[];
int nc_file_region_module_init(PyObject *m, nc_state *st);

/* rope_wire.c: typed reads at an offset (concatenated into Rope's methods). */
extern PyMethodDef nc_rope_wire_methods[];

/* pickle.c: __reduce_ex__, __copy__, __deepcopy__ (concatenated too). */
extern PyMethodDef nc_rope_pickle_methods[];

#endif /* NOCOPY_ROPE_H */
