/* dictiter.h -- PyDict_Next without the call: the encoder's dict walk.
 *
 * PyDict_Next is an exported function that re-derives the entry table and
 * re-checks the dict's kind for every item (about 50 instructions an item
 * on 3.11).  For a JSON document made of dicts that is the largest single
 * cost after the writing itself, so the encoder reads combined tables
 * directly: the same entry order, the same "skip deleted entries" rule,
 * the same `pos` meaning (index of the next entry), in a few instructions.
 *
 * The layout of the keys object is CPython-internal (pycore_dict.h).  It is
 * the same in 3.11, 3.12 and 3.13 (GIL builds), so those versions get the
 * direct walk and every other build gets PyDict_Next.  Because an internal
 * layout can change in a patch release without warning, module init runs
 * nc_dictiter_selfcheck(), which walks dicts of each key kind, with deleted
 * entries and after a resize, both ways and compares; any difference
 * switches the direct walk off for the process.
 *
 * Safety under mutation: the caller may run Python code between two items
 * (a `default` hook may mutate the dict).  A cursor is only good while no
 * Python code runs; after anything that might run some, the caller takes
 * nc_dict_cursor_pos and re-inits from the dict's current table, which
 * bounds-checks pos against the current dk_nentries exactly as PyDict_Next
 * does.  A dict that cannot be walked directly (split table) goes on with
 * PyDict_Next from the same position: pos means the same there. */
#ifndef NOCOPY_DICTITER_H
#define NOCOPY_DICTITER_H

#include "nocopy.h"

#if PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030E0000 && !defined(Py_GIL_DISABLED)
#define NC_DICT_DIRECT 1

/* Mirror of struct _dictkeysobject (pycore_dict.h, 3.11-3.13). */
typedef struct {
    Py_ssize_t dk_refcnt;
    uint8_t dk_log2_size;
    uint8_t dk_log2_index_bytes;
    uint8_t dk_kind;             /* 0: general entries, else str-keyed entries */
    uint32_t dk_version;
    Py_ssize_t dk_usable;
    Py_ssize_t dk_nentries;
    char dk_indices[];           /* 1 << dk_log2_index_bytes bytes, then entries */
} nc_dictkeys;

typedef struct {
    Py_hash_t me_hash;
    PyObject *me_key;
    PyObject *me_value;
} nc_dict_entry;

typedef struct {
    PyObject *me_key;
    PyObject *me_value;
} nc_dict_str_entry;

extern int nc_dict_direct_ok;

/* A position in a combined table's entries.  Valid only while no Python
 * code runs: anything that may mutate the dict must be followed by
 * nc_dict_cursor_reload. */
typedef struct {
    const char *ep;      /* next entry to look at */
    const char *end;     /* one past the last used entry */
    size_t stride;       /* sizeof one entry: 16 (str keys) or 24 */
    Py_ssize_t i;        /* index of ep (kept, not divided out: 24 is no power of 2) */
} nc_dict_cursor;

/* Point c at entry `pos` of d's current table.  0 when d cannot be walked
 * directly (split table, or the self-check failed): use PyDict_Next from
 * the same pos then. */
static inline int
nc_dict_cursor_init(nc_dict_cursor *c, PyObject *d, Py_ssize_t pos)
{
    PyDictObject *mp = (PyDictObject *)d;
    if (!nc_dict_direct_ok || mp->ma_values != NULL)
        return 0;
    const nc_dictkeys *dk = (const nc_dictkeys *)mp->ma_keys;
    Py_ssize_t n = dk->dk_nentries;
    const char *base = dk->dk_indices + ((size_t)1 << dk->dk_log2_index_bytes);
    c->stride = dk->dk_kind != 0 ? sizeof(nc_dict_str_entry) : sizeof(nc_dict_entry);
    c->end = base + (size_t)n * c->stride;
    c->i = pos < n ? pos : n;
    c->ep = base + (size_t)c->i * c->stride;
    return 1;
}

/* The PyDict_Next position of the cursor (index of the next entry). */
static inline Py_ssize_t
nc_dict_cursor_pos(const nc_dict_cursor *c)
{
    return c->i;
}

/* Next live (key, value), both borrowed; 0 at the end.  Both entry kinds
 * end with (key, value): the general one has the hash before them. */
static inline int
nc_dict_cursor_next(nc_dict_cursor *c, PyObject **key, PyObject **value)
{
    while (c->ep < c->end) {
        const char *ep = c->ep;
        c->ep += c->stride;
        c->i++;
        PyObject *v;
        memcpy(&v, ep + c->stride - sizeof(PyObject *), sizeof v);
        if (v != NULL) {
            memcpy(key, ep + c->stride - 2 * sizeof(PyObject *), sizeof(PyObject *));
            *value = v;
            return 1;
        }
    }
    return 0;
}

/* nc_dict_next: the cursor as a drop-in PyDict_Next (used by the self-check). */
static inline int
nc_dict_next(PyObject *d, Py_ssize_t *pos, PyObject **key, PyObject **value)
{
    nc_dict_cursor c;
    if (*pos < 0 || !nc_dict_cursor_init(&c, d, *pos))
        return PyDict_Next(d, pos, key, value);
    int r = nc_dict_cursor_next(&c, key, value);
    *pos = nc_dict_cursor_pos(&c);
    return r;
}

#else
#define NC_DICT_DIRECT 0

typedef struct {
    int unused;
} nc_dict_cursor;

static inline int
nc_dict_cursor_init(nc_dict_cursor *c, PyObject *d, Py_ssize_t pos)
{
    (void)c, (void)d, (void)pos;
    return 0;
}

static inline Py_ssize_t
nc_dict_cursor_pos(const nc_dict_cursor *c)
{
    (void)c;
    return 0;
}

static inline int
nc_dict_cursor_next(nc_dict_cursor *c, PyObject **key, PyObject **value)
{
    (void)c, (void)key, (void)value;
    return 0;
}
#endif

/* Compare the direct walk with PyDict_Next on test dicts; switches the
 * direct walk off on any difference.  -1 only on MemoryError. */
int nc_dictiter_selfcheck(void);
/* 1 when the direct walk is in use (tests report it). */
int nc_dictiter_direct(void);

#endif /* NOCOPY_DICTITER_H */
