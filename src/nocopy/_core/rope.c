/* rope.c -- Rope: bytes as an ordered array of shared segments.
 *
 * Ownership: every segment owns one reference to its owner (see rope.h); a
 * bytes part is referenced as it is (no export, no holder), a View part
 * shares the View's holder, a Rope part shares each of its segments' owners,
 * any other buffer is exported once into a new holder.
 * Copies are made in exactly three places, each documented: flatten (and the
 * buffer export, which flattens), the segment cap's coalescing, and
 * frozen()/tobytes().  Those copies live in holders we own (obj == NULL) and
 * mark readonly, so nobody writes into them through a View.
 *
 * While r->exports > 0 (a buffer export of the flat form, a write_to in
 * progress that released the GIL or calls Python code, or any method that
 * holds segment pointers across an allocation: nc_rope_pin) the segment array
 * is pinned: every mutation raises BufferError, as bytearray does.
 *
 * Any PyObject allocation may run the cyclic GC and so a finalizer that
 * appends to, takes from, flattens or exports this very Rope, or compacts the
 * ByteBuffer a segment came from.  So: allocate first, then validate and
 * mutate; hold the pin across allocations made while segment pointers or
 * counts are live; check staleness after the last allocation, right before
 * the bytes are read; drop owner references only once the array is
 * consistent again (a holder's dealloc can run Python code too). */
#include "rope.h"

#define DEFAULT_MAX_SEGMENTS 1024

static char empty_bytes[1];

/* ---- segment array --------------------------------------------------------- */

Py_ssize_t
nc_rope_seg_index(const NcRope *r, Py_ssize_t pos)
{
    Py_ssize_t lo = 0, hi = r->n - 1, target = r->base + pos;
    const nc_seg *segs = r->segs + r->head;
    while (lo < hi) {
        Py_ssize_t mid = lo + (hi - lo) / 2;
        if (segs[mid].end > target)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

static int
stale_error(const NcRope *r)
{
    nc_state *st = nc_state_of_type(Py_TYPE((PyObject *)r));
    PyErr_SetString(st ? st->StaleViewError : PyExc_RuntimeError,
                    "stale Rope segment: its ByteBuffer has moved or overwritten these bytes");
    return -1;
}

int
nc_seg_error(const NcRope *r, const nc_seg *s)
{
    if (NC_SEG_UNLOADED(s)) {
        /* only reachable when code appended a file segment between an
         * operation's nc_rope_load() and its read (a finalizer) */
        PyErr_SetString(PyExc_RuntimeError,
                        "a file segment of this Rope was appended during the operation "
                        "and is not loaded: retry it");
        return -1;
    }
    if (!PyBytes_CheckExact(s->owner) && ((NcHolder *)s->owner)->closed) {
        nc_state *st = nc_state_of_type(Py_TYPE((PyObject *)r));
        PyErr_SetString(st ? st->StaleViewError : PyExc_RuntimeError,
                        "stale Rope segment: its buffer was closed (View.close() or "
                        "ByteBuffer.close())");
        return -1;
    }
    return stale_error(r);
}

int
nc_rope_check(NcRope *r)
{
    for (Py_ssize_t i = 0; i < r->n; i++) {
        nc_seg *s = NC_SEG(r, i);
        if (nc_seg_stale(s))
            return nc_seg_error(r, s);
    }
    return 0;
}

int
nc_rope_copy_out(const NcRope *r, Py_ssize_t pos, Py_ssize_t n, char *dst)
{
    if (n <= 0)
        return 0;
    Py_ssize_t i = nc_rope_seg_index(r, pos);
    while (n > 0) {
        const nc_seg *s = &r->segs[r->head + i];
        if (nc_seg_stale(s))
            return nc_seg_error(r, s);
        Py_ssize_t off = pos - nc_seg_lstart(r, s);
        Py_ssize_t k = NC_SEG_LEN(s) - off;
        if (k > n)
            k = n;
        memcpy(dst, NC_SEG_PTR(s) + off, (size_t)k);
        dst += k;
        pos += k;
        n -= k;
        i++;
    }
    return 0;
}

static int
check_mutable(NcRope *r)
{
    if (r->exports > 0) {
        PyErr_SetString(PyExc_BufferError,
                        "cannot modify a Rope while its buffer is exported or a write_to "
                        "(or another call reading its segments) is running");
        return -1;
    }
    return 0;
}

/* Room for `extra` more segments after the live ones.  Reuses the consumed
 * front only when it is at least half the array, so alternating take and
 * append stays O(1) amortized. */
static int
reserve(NcRope *r, Py_ssize_t extra)
{
    if (r->n == 0)
        r->head = 0;
    if (r->head + r->n + extra <= r->cap)
        return 0;
    if (r->head > 0 && r->n + extra <= r->cap && r->head >= r->n) {
        memmove(r->segs, r->segs + r->head, (size_t)r->n * sizeof(nc_seg));
        r->head = 0;
        return 0;
    }
    if (extra > PY_SSIZE_T_MAX / 2 - r->n) {
        PyErr_NoMemory();
        return -1;
    }
    /* double, or exactly what a big batch needs (no 2x slack for it) */
    Py_ssize_t cap = r->cap < 4 ? 8 : r->cap > PY_SSIZE_T_MAX / 4 ? r->n + extra : r->cap * 2;
    if (cap < r->n + extra)
        cap = r->n + extra;
    if (r->head > 0) {
        memmove(r->segs, r->segs + r->head, (size_t)r->n * sizeof(nc_seg));
        r->head = 0;
    }
    nc_seg *segs = PyMem_Resize(r->segs, nc_seg, (size_t)cap);
    if (segs == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    r->segs = segs;
    r->cap = cap;
    return 0;
}

/* Append s (its holder reference moves in); room was reserved. */
static void
push_seg(NcRope *r, nc_seg s)
{
    Py_ssize_t len = NC_SEG_LEN(&s);
    s.end = (r->n ? NC_SEG(r, r->n - 1)->end : r->base) + len;
    r->segs[r->head + r->n++] = s;
    r->len += len;
}

int
nc_rope_reserve(NcRope *r, Py_ssize_t extra)
{
    return reserve(r, extra);
}

int
nc_rope_push_window(NcRope *r, NcHolder *h, Py_ssize_t start, Py_ssize_t stop)
{
    if (reserve(r, 1) < 0)
        return -1;
    nc_seg s = {Py_NewRef(h), h->buf, start, stop, 0, h->epoch, 0};
    push_seg(r, s);
    return 0;
}

NcHolder *
nc_seg_holder(nc_state *st, nc_seg *s)
{
    if (NC_SEG_UNLOADED(s)) {
        PyErr_SetString(PyExc_RuntimeError, "a Rope file segment is not loaded");
        return NULL;
    }
    if (!PyBytes_CheckExact(s->owner))
        return (NcHolder *)s->owner;
    NcHolder *h = nc_holder_from_object(st, s->owner);
    if (h == NULL)
        return NULL;
    /* (holder.c keeps holders of bytes out of the cyclic GC.)  Same storage (bytes export their own array): the window stays valid. */
    Py_SETREF(s->owner, (PyObject *)h);
    return h;
}

PyObject *
nc_seg_view(nc_state *st, nc_seg *s, Py_ssize_t a, Py_ssize_t b)
{
    NcHolder *h = nc_seg_holder(st, s);
    if (h == NULL)
        return NULL;
    NcView *v = nc_view_new(st->ViewType, h, a, b);
    /* nc_view_new stamps the holder's *current* epoch: a segment cut from a
     * View that has gone stale (or that went stale during this allocation)
     * would come back fresh and show the storage's new bytes */
    if (v != NULL)
        v->epoch = s->epoch;
    return (PyObject *)v;
}

/* Drop every segment, last first: the Rope is consistent (a shorter prefix)
 * at each Py_DECREF, which may run a finalizer that reads it. */
static void
release_segs(NcRope *r)
{
    while (r->n > 0) {
        nc_seg *s = NC_SEG(r, r->n - 1);
        PyObject *owner = s->owner;
        r->len -= NC_SEG_LEN(s);
        r->n--;
        Py_DECREF(owner);
    }
    r->head = 0;
    r->len = 0;
    r->base = 0;
}

/* Replace every segment by `s` (its reference moves in), atomically for
 * anyone reading the Rope: a new array, swapped in, then the old owners
 * dropped.  The caller pins the Rope, so a finalizer run by those drops
 * cannot change it before the caller is done.  -1 + MemoryError (s kept by
 * the caller). */
static int
replace_all(NcRope *r, nc_seg s)
{
    Py_ssize_t cap = r->cap > 0 ? r->cap : 1;
    nc_seg *segs = PyMem_New(nc_seg, (size_t)cap);
    if (segs == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    nc_seg *old = r->segs + r->head, *old_base = r->segs;
    Py_ssize_t n = r->n;
    s.end = NC_SEG_LEN(&s);
    segs[0] = s;
    r->segs = segs;
    r->cap = cap;
    r->head = 0;
    r->n = 1;
    r->base = 0;
    r->len = NC_SEG_LEN(&s);
    for (Py_ssize_t i = 0; i < n; i++)
        Py_DECREF(old[i].owner);
    PyMem_Free(old_base);
    return 0;
}

/* ---- staging parts: validated before anything is appended ------------------- */

typedef struct {
    nc_seg *v;
    Py_ssize_t n, cap;
} segvec;

static void
segvec_clear(segvec *sv)
{
    for (Py_ssize_t i = 0; i < sv->n; i++)
        Py_DECREF(sv->v[i].owner);
    PyMem_Free(sv->v);
    sv->v = NULL;
    sv->n = sv->cap = 0;
}

static int
segvec_room(segvec *sv, Py_ssize_t extra)
{
    if (sv->n + extra <= sv->cap)
        return 0;
    Py_ssize_t cap = sv->cap < 8 ? 8 : sv->cap;
    while (cap < sv->n + extra) {
        if (cap > PY_SSIZE_T_MAX / 4) {
            PyErr_NoMemory();
            return -1;
        }
        cap *= 2;
    }
    nc_seg *v = PyMem_Resize(sv->v, nc_seg, (size_t)cap);
    if (v == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    sv->v = v;
    sv->cap = cap;
    return 0;
}

static int
holder_immutable(const NcHolder *h)
{
    return h->obj != NULL && PyBytes_CheckExact(h->obj);
}

/* Is `part` something a Rope takes as one part?  (Not str: it has no buffer.) */
static int
is_part(nc_state *st, PyObject *part)
{
    return Py_IS_TYPE(part, st->RopeType) || NcView_Check(st, part) || PyObject_CheckBuffer(part);
}

/* Stage the segments of one part.  Empty parts add nothing. */
static int
segvec_add(nc_state *st, segvec *sv, PyObject *part)
{
    if (PyBytes_CheckExact(part)) {  /* the common part: checked first */
        /* immutable storage that never moves: referenced as it is */
        if (PyBytes_GET_SIZE(part) == 0)
            return 0;
        if (sv->n == sv->cap && segvec_room(sv, 1) < 0)
            return -1;
        nc_seg s = {Py_NewRef(part), PyBytes_AS_STRING(part), 0, PyBytes_GET_SIZE(part), 0, 0, 1};
        sv->v[sv->n++] = s;
        return 0;
    }
    if (Py_IS_TYPE(part, st->RopeType)) {
        NcRope *o = (NcRope *)part;
        if (segvec_room(sv, o->n) < 0)
            return -1;
        for (Py_ssize_t i = 0; i < o->n; i++) {
            nc_seg s = *NC_SEG(o, i);
            Py_INCREF(s.owner);
            sv->v[sv->n++] = s;
        }
        return 0;
    }
    if (NcView_Check(st, part)) {
        NcView *v = (NcView *)part;
        if (nc_view_check(v) < 0)
            return -1;
        if (NC_VIEW_LEN(v) == 0)
            return 0;
        if (segvec_room(sv, 1) < 0)
            return -1;
        nc_seg s = {Py_NewRef(v->holder), v->holder->buf, v->start, v->stop, 0, v->epoch,
                    holder_immutable(v->holder)};
        sv->v[sv->n++] = s;
        return 0;
    }
    if (!PyObject_CheckBuffer(part)) {
        PyErr_Format(PyExc_TypeError,
                     "Rope parts must be bytes-like objects, Views or Ropes, not '%.100s'",
                     Py_TYPE(part)->tp_name);
        return -1;
    }
    NcHolder *h = nc_holder_from_object(st, part);
    if (h == NULL)
        return -1;
    if (h->len == 0) {
        Py_DECREF(h);
        return 0;
    }
    if (segvec_room(sv, 1) < 0) {
        Py_DECREF(h);
        return -1;
    }
    nc_seg s = {(PyObject *)h, h->buf, 0, h->len, 0, h->epoch, holder_immutable(h)};
    sv->v[sv->n++] = s;
    return 0;
}

/* Stage every part of an iterable (or a single buffer/View/Rope). */
static int
segvec_add_parts(nc_state *st, segvec *sv, PyObject *parts)
{
    if (is_part(st, parts))
        return segvec_add(st, sv, parts);
    if (PyList_CheckExact(parts) || PyTuple_CheckExact(parts)) {
        /* No iterator; the size is re-read each step because adding a part
         * may run Python code (a __buffer__ method) that changes the list. */
        if (segvec_room(sv, PySequence_Fast_GET_SIZE(parts)) < 0)
            return -1;
        for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(parts); i++) {
            PyObject *item = Py_NewRef(PySequence_Fast_GET_ITEM(parts, i));
            int rc = segvec_add(st, sv, item);
            Py_DECREF(item);
            if (rc < 0)
                return -1;
        }
        return 0;
    }
    PyObject *it = PyObject_GetIter(parts);
    if (it == NULL) {
        if (PyErr_ExceptionMatches(PyExc_TypeError)) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError,
                         "Rope parts must be an iterable of bytes-like objects, Views or Ropes, "
                         "not '%.100s'", Py_TYPE(parts)->tp_name);
        }
        return -1;
    }
    PyObject *item;
    while ((item = PyIter_Next(it)) != NULL) {
        int rc = segvec_add(st, sv, item);
        Py_DECREF(item);
        if (rc < 0) {
            Py_DECREF(it);
            return -1;
        }
    }
    Py_DECREF(it);
    return PyErr_Occurred() ? -1 : 0;
}

/* ---- segment cap ----------------------------------------------------------------- */

/* One greedy pass: each maximal run of neighbouring fresh segments whose total
 * is at most `limit` becomes one owned segment.  Called pinned.  The new
 * array is built beside the old one and swapped in whole: the allocation of
 * a merged block may run a finalizer, which must find the Rope as it was, and
 * the merged owners are dropped only after the swap (their deallocation may
 * run Python code too).  On MemoryError the rest stays unmerged, the array is
 * consistent, and -1 is returned. */
static int
coalesce_pass(NcRope *r, nc_state *st, Py_ssize_t limit)
{
    Py_ssize_t n = r->n, w = 0, i = 0;
    nc_seg *old_base = r->segs, *old = r->segs + r->head;
    nc_seg *out = PyMem_New(nc_seg, (size_t)r->cap);
    int failed = 0;
    if (out == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    while (i < n) {
        Py_ssize_t j = i, sum = NC_SEG_LEN(&old[i]);
        if (!failed && !nc_seg_stale(&old[i])) {
            while (j + 1 < n && !nc_seg_stale(&old[j + 1])
                   && NC_SEG_LEN(&old[j + 1]) <= limit - sum) {
                j++;
                sum += NC_SEG_LEN(&old[j]);
            }
        }
        NcHolder *h = NULL;
        if (j > i) {
            h = nc_holder_new_owned_raw(st, sum);
            if (h == NULL)
                failed = 1;
            else {
                /* the allocation may have run a finalizer that moved a
                 * ByteBuffer's bytes: never launder stale bytes into a
                 * fresh copy */
                for (Py_ssize_t k = i; k <= j; k++)
                    if (nc_seg_stale(&old[k])) {
                        Py_CLEAR(h);
                        break;
                    }
            }
        }
        if (h == NULL) {
            /* kept as they are: the new array takes its own reference.  The
             * old array stays whole until the swap, because a collection run
             * by the next run's allocation traverses it (a NULL owner there
             * crashed rope_traverse). */
            for (; i <= j; i++) {
                out[w++] = old[i];
                Py_INCREF(old[i].owner);
            }
            continue;
        }
        h->readonly = 1;
        char *p = h->buf;
        for (Py_ssize_t k = i; k <= j; k++) {
            memcpy(p, NC_SEG_PTR(&old[k]), (size_t)NC_SEG_LEN(&old[k]));
            p += NC_SEG_LEN(&old[k]);
        }
        nc_seg s = {(PyObject *)h, h->buf, 0, sum, old[j].end, h->epoch, 1};
        out[w++] = s;
        i = j + 1;
    }
    r->segs = out;
    r->head = 0;
    r->n = w;
    /* the old array's references: the kept segments' owners live on in the
     * new array, the merged ones' go */
    for (Py_ssize_t k = 0; k < n; k++)
        Py_DECREF(old[k].owner);
    PyMem_Free(old_base);
    return failed ? -1 : 0;
}

/* Bound the segment count: passes with a run limit that starts at the mean
 * size the Rope would have at its cap and doubles, until the count is at most
 * 3/4 of the cap (the slack makes the next pass at least cap/4 appends away).
 * Small segments are merged first; a big one is copied only when no other
 * way fits the cap.  The cap is soft under memory pressure: a failed copy
 * leaves the (already appended) data as it is, so an append never reports
 * failure after it took effect.  Pinned throughout: a finalizer run by an
 * allocation here cannot change the array under the pass (it gets
 * BufferError). */
/* The fewest segments a coalescing pass could leave: every segment it may
 * not merge (a file segment not loaded, a stale one) plus one per run of
 * mergeable ones between them.  O(n), no allocation. */
static Py_ssize_t
cap_floor(NcRope *r)
{
    Py_ssize_t floor = 0;
    int in_run = 0;
    for (Py_ssize_t i = 0; i < r->n; i++) {
        if (nc_seg_stale(NC_SEG(r, i))) {
            floor++;
            in_run = 0;
        }
        else if (!in_run) {
            floor++;
            in_run = 1;
        }
    }
    return floor;
}

static void
enforce_cap(NcRope *r)
{
    if (r->n <= r->max_segments)
        return;
    /* More segments that cannot merge (file segments) than the cap: passes
     * would only copy the array, up to log2(len) times per append (an
     * append_file loop went quadratic in time and allocations).  The cap
     * is soft there, as under memory pressure; what can merge is merged
     * once max_segments/4 such segments gathered, as a reachable cap is
     * enforced at most once per max_segments/4 appends. */
    Py_ssize_t target = r->max_segments - r->max_segments / 4;
    Py_ssize_t floor = cap_floor(r);
    if (floor >= r->n || (floor > target && r->n - floor < r->max_segments / 4))
        return;
    nc_state *st = nc_state_of_type(Py_TYPE(r));
    Py_ssize_t limit = r->len / r->max_segments;
    if (limit < 16)
        limit = 16;
    nc_rope_pin(r);
    for (;;) {
        if (coalesce_pass(r, st, limit) < 0) {
            PyErr_Clear();
            break;
        }
        if (r->n <= target || r->n <= floor || limit >= r->len)
            break;
        limit = limit > PY_SSIZE_T_MAX / 2 ? PY_SSIZE_T_MAX : limit * 2;
    }
    nc_rope_unpin(r);
}

/* Can `extra` more bytes be appended?  A Rope's length is bounded by memory
 * only for memory segments: file segments (a sparse file can claim 2**62
 * bytes) and Ropes added to themselves are not, so the length and the
 * base-frame ends are checked against Py_ssize_t.  The base frame grows
 * with every byte consumed, so when only it would overflow the ends are
 * rebased to 0 (O(segments), once per PY_SSIZE_T_MAX bytes consumed).
 * -1 + OverflowError, nothing changed. */
static int
room_for_len(NcRope *r, Py_ssize_t extra)
{
    if (extra > PY_SSIZE_T_MAX - r->len) {
        PyErr_Format(PyExc_OverflowError,
                     "a Rope's length cannot exceed %zd bytes (it has %zd, %zd more asked)",
                     PY_SSIZE_T_MAX, r->len, extra);
        return -1;
    }
    if (r->base > PY_SSIZE_T_MAX - r->len - extra) {
        for (Py_ssize_t i = 0; i < r->n; i++)
            NC_SEG(r, i)->end -= r->base;
        r->base = 0;
    }
    return 0;
}

/* Move the staged segments in (ownership transfers) and apply the cap. */
static int
commit(NcRope *r, segvec *sv)
{
    if (check_mutable(r) < 0)
        return -1;
    Py_ssize_t extra = 0;
    for (Py_ssize_t i = 0; i < sv->n; i++) {
        Py_ssize_t k = NC_SEG_LEN(&sv->v[i]);
        if (k > PY_SSIZE_T_MAX - extra) {
            PyErr_Format(PyExc_OverflowError, "a Rope's length cannot exceed %zd bytes",
                         PY_SSIZE_T_MAX);
            return -1;
        }
        extra += k;
    }
    if (room_for_len(r, extra) < 0)
        return -1;
    if (r->segs == NULL) {
        /* a new Rope: the staging array becomes its array, nothing is moved */
        r->segs = sv->v;
        r->cap = sv->cap;
        r->head = r->n = r->len = r->base = 0;
        sv->v = NULL;
        for (Py_ssize_t i = 0; i < sv->n; i++) {
            r->len += NC_SEG_LEN(&r->segs[i]);
            r->segs[i].end = r->len;
        }
        r->n = sv->n;
        sv->n = sv->cap = 0;
    }
    else {
        if (reserve(r, sv->n) < 0)
            return -1;
        for (Py_ssize_t i = 0; i < sv->n; i++)
            push_seg(r, sv->v[i]);
        sv->n = 0;
    }
    enforce_cap(r);
    return 0;
}

int
nc_rope_append_seg(NcRope *r, nc_seg s)
{
    if (check_mutable(r) < 0 || room_for_len(r, NC_SEG_LEN(&s)) < 0 || reserve(r, 1) < 0)
        return -1;
    push_seg(r, s);
    enforce_cap(r);
    return 0;
}

/* ---- construction and lifetime ------------------------------------------------------ */

NcRope *
nc_rope_alloc(PyTypeObject *type, Py_ssize_t max_segments)
{
    NcRope *r = (NcRope *)type->tp_alloc(type, 0);
    if (r == NULL)
        return NULL;
    r->segs = NULL;
    r->head = r->n = r->cap = 0;
    r->base = r->len = 0;
    r->max_segments = max_segments;
    r->exports = 0;
    return r;
}

static int
check_max_segments(Py_ssize_t m)
{
    if (m < 2) {
        PyErr_Format(PyExc_ValueError, "max_segments must be at least 2, not %zd", m);
        return -1;
    }
    return 0;
}

static PyObject *
rope_tp_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"parts", "max_segments", NULL};
    PyObject *parts = NULL;
    Py_ssize_t max_segments = DEFAULT_MAX_SEGMENTS;
    segvec sv = {NULL, 0, 0};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O$n:Rope", kwlist, &parts, &max_segments))
        return NULL;
    if (check_max_segments(max_segments) < 0)
        return NULL;
    nc_state *st = nc_state_of_type(type);
    if (parts != NULL && segvec_add_parts(st, &sv, parts) < 0)
        goto fail;
    NcRope *r = nc_rope_alloc(type, max_segments);
    if (r == NULL)
        goto fail;
    if (commit(r, &sv) < 0) {
        Py_DECREF(r);
        goto fail;
    }
    segvec_clear(&sv);
    return (PyObject *)r;
fail:
    segvec_clear(&sv);
    return NULL;
}

static int
rope_traverse(NcRope *r, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(r));
    for (Py_ssize_t i = 0; i < r->n; i++)
        if (!PyBytes_CheckExact(NC_SEG(r, i)->owner))  /* bytes hold no references */
            Py_VISIT(NC_SEG(r, i)->owner);
    return 0;
}

static int
rope_clear(NcRope *r)
{
    /* An exported flat segment must stay readable until its consumer lets go. */
    if (r->exports == 0)
        release_segs(r);
    return 0;
}

static void
rope_dealloc(NcRope *r)
{
    PyTypeObject *tp = Py_TYPE(r);
    PyObject_GC_UnTrack(r);
    /* untracked with no references left: nothing can read it any more, so
     * the plain loop (release_segs keeps the Rope consistent per drop) */
    for (Py_ssize_t i = 0; i < r->n; i++)
        Py_DECREF(NC_SEG(r, i)->owner);
    r->n = 0;
    PyMem_Free(r->segs);
    r->segs = NULL;
    tp->tp_free((PyObject *)r);
    Py_DECREF(tp);
}

/* Fill o, a new empty Rope the caller allocated *before* computing a and b
 * (an allocation can change r), with logical [a, b) of r (0 <= a <= b <=
 * len), sharing the segments.  Runs no Python code.  -1 + MemoryError. */
static int
rope_sub_into(NcRope *r, NcRope *o, Py_ssize_t a, Py_ssize_t b)
{
    if (a == b)
        return 0;
    Py_ssize_t i0 = nc_rope_seg_index(r, a), i1 = nc_rope_seg_index(r, b - 1);
    if (reserve(o, i1 - i0 + 1) < 0)
        return -1;
    for (Py_ssize_t i = i0; i <= i1; i++) {
        nc_seg s = *NC_SEG(r, i);
        Py_ssize_t ls = nc_seg_lstart(r, &s), le = ls + NC_SEG_LEN(&s);
        if (a > ls)
            s.start += a - ls;
        if (le > b)
            s.stop -= le - b;
        Py_INCREF(s.owner);
        push_seg(o, s);
    }
    return 0;
}

/* Remove the first k bytes (0 <= k <= len).  O(segments touched).  Each
 * owner is dropped with the Rope consistent and pinned: its deallocation may
 * run a finalizer, which sees the Rope part-way consumed and cannot change
 * it under the loop. */
static void
drop_front(NcRope *r, Py_ssize_t k)
{
    nc_rope_pin(r);
    while (k > 0) {
        nc_seg *s = NC_SEG(r, 0);
        Py_ssize_t len = NC_SEG_LEN(s);
        if (len > k) {
            s->start += k;
            r->base += k;
            r->len -= k;
            break;
        }
        PyObject *owner = s->owner;
        r->head++;
        r->n--;
        r->base += len;
        r->len -= len;
        k -= len;
        if (r->n == 0) {
            r->head = 0;
            r->base = 0;
        }
        Py_DECREF(owner);
    }
    nc_rope_unpin(r);
}

/* ---- building --------------------------------------------------------------------- */

PyDoc_STRVAR(append_doc,
"append($self, part, /)\n--\n\n"
"Add part (any C-contiguous buffer, View or Rope) at the end, sharing its\n"
"memory: O(1) amortized, copies nothing (a Rope part adds its segments).\n"
"Empty parts add nothing.  TypeError naming the type for anything else.");

static PyObject *
rope_append(NcRope *r, PyObject *part)
{
    segvec sv = {NULL, 0, 0};
    nc_state *st = nc_state_of_type(Py_TYPE(r));
    if (check_mutable(r) < 0 || segvec_add(st, &sv, part) < 0 || commit(r, &sv) < 0) {
        segvec_clear(&sv);
        return NULL;
    }
    segvec_clear(&sv);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(extend_doc,
"extend($self, parts, /)\n--\n\n"
"Append every part of an iterable (a single buffer, View or Rope counts as one\n"
"part).  All parts are validated before any is added: a bad part raises\n"
"TypeError and appends nothing.  O(number of parts), copies nothing.");

static PyObject *
rope_extend(NcRope *r, PyObject *parts)
{
    segvec sv = {NULL, 0, 0};
    nc_state *st = nc_state_of_type(Py_TYPE(r));
    if (check_mutable(r) < 0 || segvec_add_parts(st, &sv, parts) < 0 || commit(r, &sv) < 0) {
        segvec_clear(&sv);
        return NULL;
    }
    segvec_clear(&sv);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(join_doc,
"join($type, parts, /)\n--\n\n"
"A new Rope of the parts, in order, sharing their memory: Rope(parts).\n"
"O(number of parts), copies nothing.");

static PyObject *
rope_join(PyTypeObject *type, PyObject *parts)
{
    segvec sv = {NULL, 0, 0};
    nc_state *st = nc_state_of_type(type);
    NcRope *r = NULL;
    if (segvec_add_parts(st, &sv, parts) < 0)
        goto fail;
    r = nc_rope_alloc(type, DEFAULT_MAX_SEGMENTS);
    if (r == NULL || commit(r, &sv) < 0)
        goto fail;
    segvec_clear(&sv);
    return (PyObject *)r;
fail:
    Py_XDECREF(r);
    segvec_clear(&sv);
    return NULL;
}

/* The Rope among the operands of a binary slot (the slot may be called with
 * the Rope on either side). */
static PyObject *rope_add(PyObject *a, PyObject *b);

/* The Rope among the operands of nb_add (called with the Rope on either side). */
static NcRope *
rope_operand(PyObject *a, PyObject *b, PyObject **other)
{
    if (PyType_GetSlot(Py_TYPE(a), Py_nb_add) == (void *)rope_add) {
        *other = b;
        return (NcRope *)a;
    }
    *other = a;
    return (NcRope *)b;
}

static PyObject *
rope_add(PyObject *a, PyObject *b)
{
    PyObject *other;
    NcRope *r = rope_operand(a, b, &other);
    nc_state *st = nc_state_of_type(Py_TYPE(r));
    if (!is_part(st, other))
        Py_RETURN_NOTIMPLEMENTED;
    segvec sv = {NULL, 0, 0};
    NcRope *res = NULL;
    if (segvec_add(st, &sv, a) < 0 || segvec_add(st, &sv, b) < 0)
        goto fail;
    res = nc_rope_alloc(Py_TYPE(r), r->max_segments);
    if (res == NULL || commit(res, &sv) < 0)
        goto fail;
    segvec_clear(&sv);
    return (PyObject *)res;
fail:
    Py_XDECREF(res);
    segvec_clear(&sv);
    return NULL;
}

static PyObject *
rope_inplace_add(PyObject *a, PyObject *b)
{
    NcRope *r = (NcRope *)a;
    nc_state *st = nc_state_of_type(Py_TYPE(r));
    if (!is_part(st, b))
        Py_RETURN_NOTIMPLEMENTED;
    PyObject *res = rope_append(r, b);
    if (res == NULL)
        return NULL;
    Py_DECREF(res);
    return Py_NewRef(a);
}

/* ---- reading ----------------------------------------------------------------------- */

static Py_ssize_t
rope_length(NcRope *r)
{
    return r->len;
}

static PyObject *
rope_item(NcRope *r, Py_ssize_t i)
{
    if (i < 0 || i >= r->len) {
        PyErr_SetString(PyExc_IndexError, "Rope index out of range");
        return NULL;
    }
    /* loading may run Python code: the index is checked again after it */
    if (nc_rope_load(r, i, 1) < 0)
        return NULL;
    if (i >= r->len) {
        PyErr_SetString(PyExc_IndexError, "Rope index out of range");
        return NULL;
    }
    nc_seg *s = NC_SEG(r, nc_rope_seg_index(r, i));
    if (nc_seg_stale(s))
        return (PyObject *)(nc_seg_error(r, s), NULL);
    return PyLong_FromLong((unsigned char)NC_SEG_PTR(s)[i - nc_seg_lstart(r, s)]);
}

static PyObject *
rope_subscript(NcRope *r, PyObject *key)
{
    if (PySlice_Check(key)) {
        Py_ssize_t start, stop, step;
        if (PySlice_Unpack(key, &start, &stop, &step) < 0)
            return NULL;
        if (step != 1) {
            PyErr_SetString(PyExc_ValueError,
                            "Rope slices must have step 1 (a strided slice is a copy: "
                            "use bytes(r)[a:b:c])");
            return NULL;
        }
        /* the result first: its allocation may run a finalizer that changes
         * r; then the length, read after __index__ and the allocation */
        NcRope *o = nc_rope_alloc(Py_TYPE(r), r->max_segments);
        if (o == NULL)
            return NULL;
        PySlice_AdjustIndices(r->len, &start, &stop, step);
        if (stop < start)
            stop = start;
        if (rope_sub_into(r, o, start, stop) < 0)
            Py_CLEAR(o);
        return (PyObject *)o;
    }
    if (!PyIndex_Check(key)) {
        PyErr_Format(PyExc_TypeError, "Rope indices must be integers or slices, not %.200s",
                     Py_TYPE(key)->tp_name);
        return NULL;
    }
    Py_ssize_t i = PyNumber_AsSsize_t(key, PyExc_IndexError);
    if (i == -1 && PyErr_Occurred())
        return NULL;
    if (i < 0)
        i += r->len;
    return rope_item(r, i);
}

PyDoc_STRVAR(segments_doc,
"segments($self, /)\n--\n\n"
"A tuple of Views, one per segment, sharing the segments' buffers: hand it to\n"
"os.writev or socket.sendmsg.  O(number of segments), copies no payload; file\n"
"segments (append_file) are loaded first (see raw_segments() to avoid that).");

static PyObject *
rope_segments(NcRope *r, PyObject *Py_UNUSED(ignored))
{
    nc_state *st = nc_state_of_type(Py_TYPE(r));
    PyObject *t = NULL;
    if (nc_rope_load(r, 0, r->len) < 0)
        return NULL;
    /* pinned: the tuple and View allocations may run finalizers, which must
     * not append to, take from or flatten the array being walked */
    nc_rope_pin(r);
    if (nc_rope_check(r) < 0 || (t = PyTuple_New(r->n)) == NULL)
        goto done;
    for (Py_ssize_t i = 0; i < r->n; i++) {
        nc_seg *s = NC_SEG(r, i);
        PyObject *v = nc_seg_view(st, s, s->start, s->stop);
        if (v == NULL) {
            Py_CLEAR(t);
            goto done;
        }
        PyTuple_SET_ITEM(t, i, v);
    }
    /* a finalizer may have moved a ByteBuffer's bytes meanwhile */
    if (nc_rope_check(r) < 0)
        Py_CLEAR(t);
done:
    nc_rope_unpin(r);
    return t;
}

/* ---- consuming ---------------------------------------------------------------------- */

/* The count argument of take/skip, converted (__index__ runs Python code). */
static int
count_arg(PyObject *arg, const char *what, Py_ssize_t *out)
{
    if (!PyIndex_Check(arg)) {
        PyErr_Format(PyExc_TypeError, "%s() argument must be an integer, not '%.100s'",
                     what, Py_TYPE(arg)->tp_name);
        return -1;
    }
    *out = PyNumber_AsSsize_t(arg, PyExc_OverflowError);
    if (*out == -1 && PyErr_Occurred())
        return -1;
    return 0;
}

/* Validated against the Rope as it is now: after the last thing that could
 * run Python code, with nothing between this and the mutation. */
static int
count_check(NcRope *r, const char *what, Py_ssize_t *out)
{
    if (*out < 0 || *out > r->len) {
        PyErr_Format(PyExc_ValueError, "cannot %s %zd bytes of a %zd-byte Rope", what, *out, r->len);
        return -1;
    }
    return check_mutable(r);
}

PyDoc_STRVAR(take_doc,
"take($self, n, /)\n--\n\n"
"Remove the first n bytes and return them as a new Rope sharing their\n"
"segments.  O(segments touched), copies nothing.  ValueError (the Rope\n"
"unchanged) when n is negative or more than len(self).");

static PyObject *
rope_take(NcRope *r, PyObject *arg)
{
    Py_ssize_t k;
    if (count_arg(arg, "take", &k) < 0)
        return NULL;
    /* allocate first: a finalizer run by the allocation may shorten or
     * export r, so n and "not exported" are checked after it */
    NcRope *o = nc_rope_alloc(Py_TYPE(r), r->max_segments);
    if (o == NULL)
        return NULL;
    if (count_check(r, "take", &k) < 0 || rope_sub_into(r, o, 0, k) < 0) {
        Py_DECREF(o);
        return NULL;
    }
    drop_front(r, k);
    return (PyObject *)o;
}

PyDoc_STRVAR(skip_doc,
"skip($self, n, /)\n--\n\n"
"Remove the first n bytes.  O(segments touched).  ValueError (the Rope\n"
"unchanged) when n is negative or more than len(self).");

static PyObject *
rope_skip(NcRope *r, PyObject *arg)
{
    Py_ssize_t k;
    if (count_arg(arg, "skip", &k) < 0 || count_check(r, "skip", &k) < 0)
        return NULL;
    drop_front(r, k);
    Py_RETURN_NONE;
}

/* ---- flattening and copies --------------------------------------------------------- */

/* Make the Rope at most one segment: one copy of everything into an owned,
 * read-only holder that replaces the segments, so it is never copied twice. */
static int
make_flat(NcRope *r)
{
    /* a lone file segment is flat but not in memory */
    if (nc_rope_load(r, 0, r->len) < 0)
        return -1;
    if (r->n <= 1)
        return 0;
    if (check_mutable(r) < 0)
        return -1;
    nc_state *st = nc_state_of_type(Py_TYPE(r));
    /* pinned: the allocation may run a finalizer, which must not change the
     * length the block is sized for */
    nc_rope_pin(r);
    NcHolder *h = nc_holder_new_owned_raw(st, r->len);
    int rc = -1;
    /* staleness after the allocation: it may have moved a ByteBuffer */
    if (h == NULL || nc_rope_check(r) < 0)
        goto done;
    h->readonly = 1;
    nc_rope_copy_out(r, 0, r->len, h->buf);
    nc_seg s = {(PyObject *)h, h->buf, 0, r->len, 0, h->epoch, 1};
    if (replace_all(r, s) < 0)
        goto done;
    h = NULL;  /* moved into the Rope */
    rc = 0;
done:
    nc_rope_unpin(r);
    Py_XDECREF(h);
    return rc;
}

PyDoc_STRVAR(flatten_doc,
"flatten($self, /)\n--\n\n"
"One contiguous View of the whole content.  With one segment it shares that\n"
"segment's buffer (O(1)); with more it copies once (O(n)) into new read-only\n"
"storage that then replaces the segments, so a second flatten() is O(1).\n"
"BufferError while the Rope's buffer is exported in another form.");

static PyObject *
rope_flatten(NcRope *r, PyObject *Py_UNUSED(ignored))
{
    nc_state *st = nc_state_of_type(Py_TYPE(r));
    if (make_flat(r) < 0)
        return NULL;
    if (r->n == 0)
        return PyObject_CallNoArgs((PyObject *)st->ViewType);
    nc_seg *s = NC_SEG(r, 0);
    if (nc_seg_stale(s))
        return (PyObject *)(nc_seg_error(r, s), NULL);
    /* pinned: s must survive the allocations; a View made from a segment
     * that goes stale meanwhile carries the segment's epoch, so it raises */
    nc_rope_pin(r);
    PyObject *v = nc_seg_view(st, s, s->start, s->stop);
    nc_rope_unpin(r);
    return v;
}

PyDoc_STRVAR(tobytes_doc,
"tobytes($self, /)\n--\n\n"
"A new bytes object with the content.  Copies once: O(n).");

static PyObject *
rope_tobytes(NcRope *r, PyObject *Py_UNUSED(ignored))
{
    if (nc_rope_load(r, 0, r->len) < 0)
        return NULL;
    /* pinned: the allocation may run a finalizer, which must not change the
     * length the bytes object is sized for; staleness checked after it */
    nc_rope_pin(r);
    PyObject *b = PyBytes_FromStringAndSize(NULL, r->len);
    if (b != NULL) {
        if (nc_rope_check(r) < 0)
            Py_CLEAR(b);
        else
            nc_rope_copy_out(r, 0, r->len, PyBytes_AS_STRING(b));
    }
    nc_rope_unpin(r);
    return b;
}

PyDoc_STRVAR(frozen_doc,
"frozen($self, /)\n--\n\n"
"A new Rope with the same content that can never change: segments over bytes\n"
"objects (or over the Rope's own copies) are shared, every other segment is\n"
"copied, all into one new read-only block.  O(bytes of mutable segments).");

static PyObject *
rope_frozen(NcRope *r, PyObject *Py_UNUSED(ignored))
{
    nc_state *st = nc_state_of_type(Py_TYPE(r));
    NcHolder *h = NULL;
    /* the result first; then pinned, so the size counted below is the size
     * copied even if the block's allocation runs a finalizer */
    NcRope *o = nc_rope_alloc(Py_TYPE(r), r->max_segments);
    if (o == NULL)
        return NULL;
    /* a file's bytes can change on disk: frozen() snapshots them too.
     * Loaded after the last unpinned allocation, so nothing can append an
     * unloaded one before the pin below */
    if (nc_rope_load(r, 0, r->len) < 0) {
        Py_DECREF(o);
        return NULL;
    }
    nc_rope_pin(r);
    Py_ssize_t mutable_bytes = 0;
    for (Py_ssize_t i = 0; i < r->n; i++)
        if (!NC_SEG(r, i)->frozen)
            mutable_bytes += NC_SEG_LEN(NC_SEG(r, i));
    if (reserve(o, r->n) < 0)
        goto fail;
    if (mutable_bytes > 0) {
        if ((h = nc_holder_new_owned_raw(st, mutable_bytes)) == NULL)
            goto fail;
        h->readonly = 1;
    }
    /* after the last allocation: it may have moved a ByteBuffer's bytes */
    if (nc_rope_check(r) < 0)
        goto fail;
    Py_ssize_t at = 0;
    for (Py_ssize_t i = 0; i < r->n; i++) {
        nc_seg s = *NC_SEG(r, i);
        if (!s.frozen) {
            Py_ssize_t len = NC_SEG_LEN(&s);
            memcpy(h->buf + at, NC_SEG_PTR(&s), (size_t)len);
            s.owner = (PyObject *)h;
            s.base = h->buf;
            s.start = at;
            s.stop = at + len;
            s.epoch = h->epoch;
            s.frozen = 1;
            at += len;
        }
        Py_INCREF(s.owner);
        push_seg(o, s);
    }
    nc_rope_unpin(r);
    Py_XDECREF(h);
    return (PyObject *)o;
fail:
    nc_rope_unpin(r);
    Py_XDECREF(h);
    Py_XDECREF(o);
    return NULL;
}

/* ---- buffer export: the flat form ----------------------------------------------------- */

static int
rope_getbuffer(NcRope *r, Py_buffer *b, int flags)
{
    NcHolder *h = NULL;
    char *p = empty_bytes;
    Py_ssize_t len = 0;
    if (make_flat(r) < 0)
        return -1;
    if (r->n == 1) {
        nc_seg *s = NC_SEG(r, 0);
        if (nc_seg_stale(s))
            return nc_seg_error(r, s);
        /* a bytes owner needs no export count: nothing can move it */
        if (!PyBytes_CheckExact(s->owner))
            h = (NcHolder *)s->owner;
        p = NC_SEG_PTR(s);
        len = NC_SEG_LEN(s);
    }
    /* read-only always: the Rope never writes through its segments */
    if (PyBuffer_FillInfo(b, (PyObject *)r, p, len, 1, flags) < 0)
        return -1;
    b->internal = h;  /* borrowed: the pinned segment keeps it alive */
    if (h != NULL)
        h->exports++;
    r->exports++;
    return 0;
}

static void
rope_releasebuffer(NcRope *r, Py_buffer *b)
{
    if (b->internal != NULL)
        ((NcHolder *)b->internal)->exports--;
    r->exports--;
}

/* ---- misc --------------------------------------------------------------------------- */

static PyObject *
rope_repr(NcRope *r)
{
    return PyUnicode_FromFormat("<nocopy.Rope: %zd bytes in %zd segment%s>", r->len, r->n,
                                r->n == 1 ? "" : "s");
}

static PyObject *
rope_get_max_segments(NcRope *r, void *c)
{
    return PyLong_FromSsize_t(r->max_segments);
}

static PyObject *
rope_get_nsegments(NcRope *r, void *c)
{
    return PyLong_FromSsize_t(r->n);
}

static PyGetSetDef rope_getset[] = {
    {"max_segments", (getter)rope_get_max_segments, NULL,
     "Segment cap: past it, small neighbouring segments are coalesced.", NULL},
    {"nsegments", (getter)rope_get_nsegments, NULL, "Number of segments now.", NULL},
    {NULL},
};

#define FASTCALL(f) (PyCFunction)(void (*)(void))(f), METH_FASTCALL

static PyMethodDef rope_own_methods[] = {
    {"append", (PyCFunction)rope_append, METH_O, append_doc},
    {"extend", (PyCFunction)rope_extend, METH_O, extend_doc},
    {"join", (PyCFunction)rope_join, METH_O | METH_CLASS, join_doc},
    {"segments", (PyCFunction)rope_segments, METH_NOARGS, segments_doc},
    {"take", (PyCFunction)rope_take, METH_O, take_doc},
    {"skip", (PyCFunction)rope_skip, METH_O, skip_doc},
    {"flatten", (PyCFunction)rope_flatten, METH_NOARGS, flatten_doc},
    {"tobytes", (PyCFunction)rope_tobytes, METH_NOARGS, tobytes_doc},
    {"__bytes__", (PyCFunction)rope_tobytes, METH_NOARGS, tobytes_doc},
    {"frozen", (PyCFunction)rope_frozen, METH_NOARGS, frozen_doc},
    {"find", FASTCALL(nc_rope_find), nc_rope_find_doc},
    {"rfind", FASTCALL(nc_rope_rfind), nc_rope_rfind_doc},
    {"index", FASTCALL(nc_rope_index), nc_rope_index_doc},
    {"rindex", FASTCALL(nc_rope_rindex), nc_rope_rindex_doc},
    {"count", FASTCALL(nc_rope_count), nc_rope_count_doc},
    {"startswith", FASTCALL(nc_rope_startswith), nc_rope_startswith_doc},
    {"endswith", FASTCALL(nc_rope_endswith), nc_rope_endswith_doc},
    {"write_to", (PyCFunction)nc_rope_write_to, METH_O, nc_rope_write_to_doc},
    {"_read_fd", (PyCFunction)(void (*)(void))nc_rope_read_fd, METH_FASTCALL | METH_CLASS,
     nc_rope_read_fd_doc},
    {NULL},
};

/* rope_own_methods, then nc_rope_wire_methods (rope_wire.c), filled at
 * module init */
static PyMethodDef rope_methods[64];

PyDoc_STRVAR(rope_doc,
"Rope(parts=(), *, max_segments=1024)\n--\n\n"
"Bytes as an ordered list of segments, each sharing the memory of the buffer\n"
"it came from (any C-contiguous buffer, View or Rope; a single one passed as\n"
"parts counts as one part).  Appending, slicing, take/skip are O(1) in the\n"
"payload size; find/count/startswith see matches across segment boundaries\n"
"without joining; write_to() sends the segments with writev/sendmsg.\n\n"
"The Rope never writes into its segments, and a segment over a mutable buffer\n"
"shows that buffer's current content: frozen() or bytes() to snapshot.  A\n"
"bytearray held by a Rope cannot be resized while the Rope holds it.  Empty\n"
"parts are skipped.  A segment taken from a ByteBuffer's borrowed View goes\n"
"stale with it: reading it raises StaleViewError, never other bytes (call\n"
"frozen() before the buffer moves to keep a copy).\n\n"
"Segment cap: when appending makes the count exceed max_segments (>= 2),\n"
"runs of neighbouring segments are copied into one new segment each, run size\n"
"limit starting at len/max_segments (at least 16 bytes) and doubling until\n"
"at most 3/4 of max_segments remain.  Small segments merge first; a large one\n"
"is copied only when nothing else fits the cap.  Cost: one copy of the merged\n"
"bytes, at most once per max_segments/4 appends.\n\n"
"The buffer protocol exports the flat form (see flatten()): hashlib, zlib and\n"
"struct accept a Rope; while exported, changing the Rope raises BufferError.\n\n"
"append_file() adds a region of a file as a segment that write_to() sends\n"
"with sendfile(2) and that is read into memory only when its bytes are needed.");

int
nc_rope_module_init(PyObject *m, nc_state *st)
{
    if (rope_methods[0].ml_name == NULL) {
        /* one table from the per-file ones; the last slot stays the sentinel,
         * and a table that outgrows the array fails the import loudly */
        PyMethodDef *parts[] = {rope_own_methods, nc_rope_wire_methods, nc_rope_pickle_methods,
                                nc_rope_file_methods};
        size_t k = 0, cap = sizeof(rope_methods) / sizeof(rope_methods[0]);
        for (size_t t = 0; t < sizeof(parts) / sizeof(parts[0]); t++)
            for (PyMethodDef *d = parts[t]; d->ml_name != NULL; d++) {
                if (k >= cap - 1) {
                    memset(rope_methods, 0, sizeof(rope_methods));
                    PyErr_SetString(PyExc_SystemError, "Rope method table overflow: grow rope_methods");
                    return -1;
                }
                rope_methods[k++] = *d;
            }
    }
    PyType_Slot slots[] = {
        {Py_tp_new, rope_tp_new},
        {Py_tp_dealloc, rope_dealloc},
        {Py_tp_traverse, rope_traverse},
        {Py_tp_clear, rope_clear},
        {Py_tp_repr, rope_repr},
        {Py_tp_hash, PyObject_HashNotImplemented},
        {Py_tp_richcompare, nc_rope_richcompare},
        {Py_tp_methods, rope_methods},
        {Py_tp_getset, rope_getset},
        {Py_tp_doc, (void *)rope_doc},
        {Py_sq_length, rope_length},
        {Py_sq_item, rope_item},
        {Py_sq_contains, nc_rope_contains},
        {Py_mp_length, rope_length},
        {Py_mp_subscript, rope_subscript},
        {Py_nb_add, rope_add},
        {Py_nb_inplace_add, rope_inplace_add},
        {Py_bf_getbuffer, rope_getbuffer},
        {Py_bf_releasebuffer, rope_releasebuffer},
        {0, NULL},
    };
    PyType_Spec spec = {
        .name = "nocopy.Rope",
        .basicsize = sizeof(NcRope),
        .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
        .slots = slots,
    };
    st->RopeType = (PyTypeObject *)PyType_FromModuleAndSpec(m, &spec, NULL);
    if (st->RopeType == NULL || nc_file_region_module_init(m, st) < 0)
        return -1;
    return PyModule_AddType(m, st->RopeType);
}
