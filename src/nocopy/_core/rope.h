/* rope.h -- the Rope object and the helpers shared by rope.c (type, building,
 * consuming, flattening), rope_search.c (search, compare) and rope_io.c
 * (scatter-gather writes).
 *
 * Ownership: a Rope owns a C array of segments; each live segment owns one
 * reference to its NcHolder and reads the window [start, stop) of it.  The
 * Rope never writes through a segment.  Live segments are segs[head ..
 * head + n): consuming from the front advances head instead of moving the
 * array.  No live segment is empty. */
#ifndef NOCOPY_ROPE_H
#define NOCOPY_ROPE_H

#include "nocopy.h"

typedef struct {
    NcHolder *holder;     /* owned */
    Py_ssize_t start;     /* window [start, stop) into holder->buf */
    Py_ssize_t stop;
    Py_ssize_t end;       /* cumulative end offset, in the Rope's base frame */
    uint64_t epoch;       /* holder->epoch when the source View was made */
    int frozen;           /* content can never change (bytes, or our own copy) */
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
#define NC_SEG_PTR(s) ((s)->holder->buf + (s)->start)

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
/* Copy logical [pos, pos + n) into dst (caller checks the range). */
void nc_rope_copy_out(const NcRope *r, Py_ssize_t pos, Py_ssize_t n, char *dst);

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

#endif /* NOCOPY_ROPE_H */
