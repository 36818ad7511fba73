/* json_encode.c -- the JSON encoder: values and containers straight into the
 * destination memory (json.h's writer).  The entry points behind
 * nocopy.json and the options are in json_api.c.
 *
 * Ownership rules:
 * - The destination is pinned for the whole call: dumps_into holds a
 *   writable buffer export of it (a bytearray under it cannot be resized by
 *   a `default` callback: CPython raises BufferError), dump holds a holder of
 *   its chunk buffer, dumps owns its growing bytes object.  Nothing is ever
 *   written before the start offset.
 * - Containers are walked with a strong reference to every key, value and
 *   item while it is encoded, because `default` or a stream sink is Python
 *   code that may mutate them.  Lists are re-measured before each item (the
 *   stdlib's behaviour: a list shrunk by `default` just ends early); an exact
 *   dict is walked with PyDict_Next and a size change raises RuntimeError
 *   like iterating it in Python would (the stdlib iterates over a snapshot of
 *   the items instead, which costs a list per dict; that one difference is
 *   documented).  Dict subclasses and sort_keys go through a list of items,
 *   exactly as the stdlib does (subclass .items() is honoured).
 * - In dump() any write may flush, and the flush calls the sink (Python):
 *   whatever was read before a write that may flush and is used after it
 *   is held (a list item across its separator, a leaf that may not fit
 *   the room, a dict item that may not), and containers are re-read.
 *   dumps() and dumps_into() run Python only in `default`, the items()
 *   and key comparisons of the listed path, and signal handlers, which run
 *   at the top of a list or dict round (enc_poll), never inside a flush.
 * - The option strings and `default` are held for the call (json_api.c),
 *   so pointers into them stay good whatever a callback replaces.
 * - Circular detection keeps the chain of containers being encoded in a
 *   small stack (no id() ints, no dict): a cycle can only go through an
 *   ancestor; a 64-bit filter of the ancestors' addresses spares the scan
 *   of that stack for almost every container (push_marker).  Containers
 *   that hold no container (empty ones, lists of leaves only, the dicts of
 *   leaves that enc_leaf_dict writes) need no marker at all.  Deep nesting
 *   is bounded by Py_EnterRecursiveCall.
 * - Allocations in the steady state: none, except for ints beyond 64 bits
 *   (their decimal text comes from int.__repr__), sort_keys and dict
 *   subclasses (a list of items), and nesting deeper than 32 with
 *   check_circular (the ancestor stack moves to the heap). */
#include "json.h"
#include "dictiter.h"
#include "buffer.h"
#include "numfmt.h"
#include "json_numbers.h"
#include "json_utf8.h"

#include <math.h>

/* ---- the encoder ---------------------------------------------------------- */

/* Key cache slots.  64 held twitter.json's 94 distinct keys badly: it
 * evicted and re-inserted keys all along (kc_insert alone was 4.5% of its
 * time); 256 hold the keys of twitter, github (114) and most of
 * citm_catalog's (321, many of them one-offs). */
#define NC_KC_SLOTS 256
#define NC_KC_TEXT 32           /* longest cached text: '"' key '"' ':' */

/* Key cache (see enc_item): the text "key": of exact str keys written with
 * the compact ':' separator, keyed by the key object; the same object again
 * is one fixed-size copy.  It lives in the module state and outlasts the
 * call, so a dict encoded again and again (the seed's sensor loop) finds its
 * keys there from the second call on.  Every cached key is held (an owned
 * reference), so its address cannot be reused by another str while cached;
 * at most NC_KC_SLOTS short str objects are kept alive that way, released
 * when evicted or when the module is cleared.  A slot's key, length and
 * text share one 64-byte line: a hit reads one line, not three arrays.
 * No Python code runs between a lookup and the copy of its text, so a
 * nested call (from `default`) using the cache meanwhile is harmless.
 * Two caches, one per ensure_ascii mode (DEL is written raw without it,
 * as \u007f with it).  Off in free-threaded builds. */
typedef struct {
    PyObject *key;                  /* held; NULL: the slot is free */
    unsigned char len;
    char text[NC_KC_TEXT];
} __attribute__((aligned(64))) nc_kc_slot;

struct nc_keycache {
    nc_kc_slot slot[NC_KC_SLOTS];
    void *raw;                      /* [0] only: the allocation, for PyMem_Free */
};

static int enc_owned(nc_jenc *e, PyObject *o);
static inline int enc_container(nc_jenc *e, PyObject *o, int is_dict, Py_ssize_t start);

static int grow_markers(nc_jenc *e);

/* o's bit in e->marker_bits: from address bits above the 16-byte
 * alignment of objects. */
static inline uint64_t
marker_bit(PyObject *o)
{
    uintptr_t a = (uintptr_t)o;
    return UINT64_C(1) << (((a >> 4) ^ (a >> 10)) & 63);
}

/* ValueError when o is a container being walked (the stack is scanned
 * only when the address filter says it may be there). */
static inline int
refuse_ancestor(nc_jenc *e, PyObject *o, uint64_t bit)
{
    if (e->marker_bits & bit) {
        for (Py_ssize_t i = 0; i < e->depth; i++) {
            if (e->stack[i] == o) {
                PyErr_SetString(PyExc_ValueError, "Circular reference detected");
                return -1;
            }
        }
    }
    return 0;
}

/* o onto the ancestor stack, ValueError if it is there already.
 * e->marker_bits holds the bits of every ancestor (each push ORs its bit
 * in; each pop puts back the value saved at its push, the OR of the ones
 * below), so a clear bit proves o is none of them without the scan, which
 * walked every ancestor for every container (5% of citm_catalog.json,
 * which nests 8 deep).  *saved is for pop_marker. */
static inline int
push_marker(nc_jenc *e, PyObject *o, uint64_t *saved)
{
    uint64_t bit = marker_bit(o);
    if (refuse_ancestor(e, o, bit) < 0)
        return -1;
    if (e->depth == e->stack_cap && grow_markers(e) < 0)
        return -1;
    e->stack[e->depth++] = o;
    *saved = e->marker_bits;
    e->marker_bits |= bit;
    return 0;
}

static int
grow_markers(nc_jenc *e)
{
    Py_ssize_t ncap = e->stack_cap * 2;
    PyObject **ns;
    if (e->stack == e->stack_small) {
        ns = PyMem_New(PyObject *, ncap);
        if (ns != NULL)
            memcpy(ns, e->stack, sizeof(PyObject *) * (size_t)e->depth);
    }
    else {
        ns = e->stack;
        PyMem_Resize(ns, PyObject *, ncap);
    }
    if (ns == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    e->stack = ns;
    e->stack_cap = ncap;
    return 0;
}

static inline void
pop_marker(nc_jenc *e, uint64_t saved)
{
    e->depth--;
    e->marker_bits = saved;
}

static int
write_newline_indent(nc_jenc *e)
{
    nc_jw *w = e->w;
    if (nc_jw_byte(w, '\n') < 0)
        return -1;
    for (Py_ssize_t i = 0; i < e->level; i++) {
        int rc = e->indent ? nc_jw_write(w, e->indent, e->indent_len)
                           : nc_jw_fill(w, ' ', e->indent_len);
        if (rc < 0)
            return -1;
    }
    return 0;
}

static inline int
write_sep(nc_jw *w, const char *sep, Py_ssize_t len)
{
    if (len == 1)
        return nc_jw_byte(w, sep[0]);
    return nc_jw_write(w, sep, len);
}

static inline int
write_item_sep(nc_jenc *e)
{
    if (write_sep(e->w, e->item_sep, e->item_sep_len) < 0)
        return -1;
    return e->indented ? write_newline_indent(e) : 0;
}

/* The first items of an exact list or tuple, for a type test. */
static inline PyObject *
nth_item(PyObject *seq, Py_ssize_t j)
{
    return Py_TYPE(seq) == &PyList_Type ? PyList_GET_ITEM(seq, j) : PyTuple_GET_ITEM(seq, j);
}

/* Short float arrays in a row among a compact list's items[i..n): exact
 * lists or tuples of m = 2 or 3 exact finite floats each (coordinate pairs
 * and triples: GeoJSON), m set by the first, gathered NC_GROUP_BATCH at a
 * time and written by one formatter call, brackets and separators
 * included: through the general path each pair paid a leaf-prefix attempt,
 * a float batch of two and its own call (a list of 20,000 pairs took 1.6x
 * the time of the same 40,000 floats in one list).  Memory as in
 * nc_json_enc_float_items.  A pair is never an ancestor being walked (it holds no
 * container) unless a `default` emptied one and handed it back: checked,
 * as in enc_leaf_prefix.  Returns the index of the first item not written
 * (-1 with ValueError for a circular one).  Runs no Python code. */
#define NC_GROUP_BATCH 8
static Py_ssize_t __attribute__((noinline))
enc_float_groups(nc_jenc *e, PyObject *const *items, Py_ssize_t i, Py_ssize_t n, char sep)
{
    nc_jw *w = e->w;
    const int exact = w->mode == NC_JW_FIXED && !w->overflowed;
    const Py_ssize_t m = Py_SIZE(items[i]);   /* 2 or 3: the caller checked */
    const Py_ssize_t text = m * NC_FLOAT_TEXT + 2;
    double x[NC_GROUP_BATCH * 3];
    char tmp[NC_GROUP_BATCH * (3 * NC_FLOAT_TEXT + 2) + NC_DOUBLE_ROOM];
    for (;;) {
        Py_ssize_t cap = nc_json_batch_cap(w, exact, text, NC_GROUP_BATCH, n - i);
        int k = 0;
        for (; k < cap; k++) {
            PyObject *g = items[i + k];
            PyTypeObject *gt = Py_TYPE(g);
            if ((gt != &PyList_Type && gt != &PyTuple_Type) || Py_SIZE(g) != m)
                break;
            PyObject *const *gi = gt == &PyList_Type ? ((PyListObject *)g)->ob_item
                                                     : ((PyTupleObject *)g)->ob_item;
            Py_ssize_t j = 0;
            for (; j < m; j++) {
                if (Py_TYPE(gi[j]) != &PyFloat_Type || !isfinite(PyFloat_AS_DOUBLE(gi[j])))
                    break;
                x[k * m + j] = PyFloat_AS_DOUBLE(gi[j]);
            }
            if (j < m)
                break;
            if (e->check_circular && refuse_ancestor(e, g, marker_bit(g)) < 0)
                return -1;
        }
        if (k == 0)
            return i;
        if (exact) {
            char *end = nc_format_double_groups(x, k, (int)m, sep, i > 0, tmp, &w->float_run);
            copy_exact(w->p, tmp, (size_t)(end - tmp));
            w->p += end - tmp;
        }
        else {
            w->p = nc_format_double_groups(x, k, (int)m, sep, i > 0, w->p, &w->float_run);
        }
        i += k;
        if (k < cap || i == n)
            return i;
    }
}

/* A value kept alive while it is encoded (held by us or by a caller, or
 * the caller's argument): an exact list, tuple or dict goes straight to
 * its walk, anything else through enc_owned.  Inline for enc_item's
 * containers. */
static inline int
enc_held_value(nc_jenc *e, PyObject *o)
{
    PyTypeObject *t = Py_TYPE(o);
    if (t == &PyDict_Type)
        return enc_container(e, o, 1, 0);
    if (t == &PyList_Type || t == &PyTuple_Type)
        return enc_container(e, o, 0, 0);
    return enc_owned(e, o);
}

/* o (borrowed from its container) under a reference of our own: encoding
 * it may run Python code (`default`, dump()'s sink) that mutates the
 * container and drops the container's reference. */
static int __attribute__((noinline))
enc_value_held(nc_jenc *e, PyObject *o)
{
    Py_INCREF(o);
    int rc = enc_held_value(e, o);
    nc_jw_release(e->w, o);
    return rc;
}

/* The most bytes the leaf o can take in the output (a bound, not the
 * size): a str's char becomes at most 12 bytes (an astral char as two
 * \\uXXXX escapes), a compact int or a float at most 24; 0 for anything
 * that is not a leaf or has no small bound (a big int). */
static inline Py_ssize_t
leaf_bound(PyObject *o)
{
    PyTypeObject *t = Py_TYPE(o);
    if (t == &PyUnicode_Type) {
        Py_ssize_t n = PyUnicode_GET_LENGTH(o);
        return n < PY_SSIZE_T_MAX / 16 ? 12 * n + 2 : 0;
    }
    if (t == &PyFloat_Type)
        return NC_DOUBLE_ROOM + 2;
    if (t == &PyLong_Type) {
#if PY_VERSION_HEX >= 0x030C0000
        return PyUnstable_Long_IsCompact((PyLongObject *)o) ? 24 : 0;
#else
        return (size_t)(Py_SIZE(o) + 2) <= 4 ? 24 : 0;
#endif
    }
    return o == Py_None || o == Py_True || o == Py_False ? 5 : 0;
}

/* 1 when writing the leaf o cannot reach the end of the room.  Only then
 * can dump() (STREAM mode) write it without holding it: the sink, which is
 * Python code, runs only when the room is used up. */
static inline int
fits_unflushed(const nc_jw *w, PyObject *o)
{
    Py_ssize_t b = leaf_bound(o);
    return b > 0 && nc_jw_room(w) > b;
}

/* A dict value or list item, borrowed from its container.  The leaves
 * (exact str, int, float and the three constants) are written without an
 * INCREF/DECREF pair: writing them runs no Python code -- no `default`, no
 * __repr__ of a subclass; the allocations of dumps() make bytes objects,
 * which the GC does not track, so no collection (and no finalizer) can
 * start -- hence nothing can drop the container's reference meanwhile.
 * An error, whose exception object could start one, ends the walk before
 * the value is touched again.  The exception: an int beyond 64 bits, whose
 * conversion checks signals (Python handlers) and on 3.12+ may collect;
 * nc_json_enc_int_slow holds it across that, and a list's walk re-reads its size
 * and items every round (the dict walk takes such an int the held way).
 * dump()'s sink is Python code that runs whenever the chunk fills: there a
 * leaf goes without a reference only when it fits the room left. */
static inline __attribute__((always_inline)) int
enc_value(nc_jenc *e, PyObject *o)
{
    nc_jw *w = e->w;
    if (w->mode == NC_JW_STREAM && !fits_unflushed(w, o))
        return enc_value_held(e, o);
    PyTypeObject *t = Py_TYPE(o);
    if (t == &PyLong_Type)
        return enc_int(e, o, 0);
    if (t == &PyUnicode_Type)
        return nc_json_try_ascii(w, o, e->ensure_ascii) ? 0 : nc_json_write_str(w, o, e->ensure_ascii);
    if (t == &PyFloat_Type)
        return enc_float(e, o, 0);
    if (o == Py_None)
        return nc_jw_write(w, "null", 4);
    if (o == Py_True)
        return nc_jw_write(w, "true", 4);
    if (o == Py_False)
        return nc_jw_write(w, "false", 5);
    return enc_value_held(e, o);
}

/* The most bytes write_item_sep writes (dump(): see enc_seq); "more than
 * any room" when the indentation is absurd. */
static Py_ssize_t
item_sep_bound(const nc_jenc *e)
{
    Py_ssize_t b = e->item_sep_len;
    if (e->indented) {
        if (e->level > 0 && e->indent_len > PY_SSIZE_T_MAX / 4 / e->level)
            return PY_SSIZE_T_MAX / 2;
        b += 1 + e->level * e->indent_len;
    }
    return b;
}

/* dump(): a list item's separator, then the item, with the item held
 * across the separator's flush (enc_seq). */
static int __attribute__((noinline))
enc_sep_item_held(nc_jenc *e, PyObject *item)
{
    Py_INCREF(item);
    int rc = write_item_sep(e) < 0 ? -1 : enc_held_value(e, item);
    nc_jw_release(e->w, item);
    return rc;
}

/* A flush happened since the last check: run the signal handlers (Ctrl-C
 * stops a long dumps_into that only counts, or a dump into a C-level
 * write).  Only called where nothing borrowed is used afterwards without
 * being re-read.  Handlers are Python code: the saved tail bytes are put
 * back first, as before `default`. */
static int __attribute__((noinline, cold))
enc_poll(nc_jenc *e)
{
    e->w->poll = 0;
    nc_jw_restore_tail(e->w);
    return PyErr_CheckSignals();
}

/* An exact list or dict that is empty: written as a leaf ("[]", "{}"),
 * with no reference and no circular-check marker -- it holds nothing, so
 * no cycle goes through it and writing it runs no Python code (the
 * stdlib writes these before its markers too). */
static inline int
empty_container(PyObject *v, PyTypeObject *vt)
{
    return (vt == &PyList_Type && Py_SIZE(v) == 0) ||
           (vt == &PyDict_Type && PyDict_GET_SIZE(v) == 0);
}

/* The constants as text: the first byte, then the last four bytes at
 * len - 4 (for "false" that is "alse"), so that writing any of them is two
 * stores of fixed size at addresses known from the table, no byte past the
 * text touched (dumps_into's caller's memory), and no branch on which
 * constant it is: in a list of random true/false/null that branch missed
 * about every other item. */
static const struct {
    char tail[4];
    char first;
    unsigned char len;
} CONST_TEXT[3] = {{{'t', 'r', 'u', 'e'}, 't', 4},
                   {{'a', 'l', 's', 'e'}, 'f', 5},
                   {{'n', 'u', 'l', 'l'}, 'n', 4}};

/* The same after a separator: ",true" is the word {sep, 't', 'r', 'u'}
 * and the word "true" one byte on -- two 4-byte stores an item, where the
 * separator, the first byte and the tail were three stores and a test of
 * the item's index (the item after '[' takes CONST_TEXT).  head[0] is 0
 * and the separator is ORed into that byte (sep_word). */
static const struct {
    char head[4];
    char tail[4];
    uint32_t len;
} SEP_CONST[3] = {{{0, 't', 'r', 'u'}, {'t', 'r', 'u', 'e'}, 5},
                  {{0, 'f', 'a', 'l'}, {'a', 'l', 's', 'e'}, 6},
                  {{0, 'n', 'u', 'l'}, {'n', 'u', 'l', 'l'}, 5}};

/* The separator as the word that puts it in byte 0 of SEP_CONST's head. */
static inline uint32_t
sep_word(char sep)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    return (uint32_t)(unsigned char)sep << 24;
#else
    return (uint32_t)(unsigned char)sep;
#endif
}

/* 1 when o is true, false or null, with *k its CONST_TEXT index: one
 * branch for the three (a sum of compares: written with || or |, GCC
 * branched on each, and true/false/null in random order missed there about
 * every other item). */
static inline int
constant_index(PyObject *o, unsigned *k)
{
    unsigned f = (unsigned)(o == Py_False), z = (unsigned)(o == Py_None);
    *k = f + 2u * z;
    return ((unsigned)(o == Py_True) + f + z) != 0;
}

/* CONST_TEXT[k] at p; returns its end. */
static inline char *
put_constant(char *p, unsigned k)
{
    p[0] = CONST_TEXT[k].first;
    memcpy(p + CONST_TEXT[k].len - 4, CONST_TEXT[k].tail, 4);
    return p + CONST_TEXT[k].len;
}

/* Room a leaf of the run takes at most: a separator and an int64's text. */
#define NC_RUN_ITEM (1 + NC_INT64_MAX_CHARS)

/* The constants among items[i..n) from items[i] on (whose CONST_TEXT
 * index k the caller found, with NC_RUN_ITEM of room for it), each as two
 * 4-byte stores after its separator, while the room holds NC_RUN_ITEM:
 * sw is sep_word of the separator, first_sw that of the first item's
 * (enc_leaf_prefix's is '[').  Returns the index of the first item not
 * written, with *pp moved. */
static inline Py_ssize_t
put_sep_constants(char **pp, const char *end, PyObject *const *items, Py_ssize_t i, Py_ssize_t n,
                  unsigned k, uint32_t first_sw, uint32_t sw)
{
    char *p = *pp;
    do {
        uint32_t head;
        memcpy(&head, SEP_CONST[k].head, 4);
        head |= first_sw;
        first_sw = sw;
        memcpy(p, &head, 4);
        memcpy(p + SEP_CONST[k].len - 4, SEP_CONST[k].tail, 4);
        p += SEP_CONST[k].len;
    } while (++i < n && end - p >= NC_RUN_ITEM && constant_index(items[i], &k));
    *pp = p;
    return i;
}

/* A run of true/false/null and compact ints among a compact list's
 * items[i..n), each after the one-byte separator (not before the list's
 * first item), while the room holds the longest such item.  The write
 * position lives in a local for the run: through w->p every byte store
 * might alias it, so the compiler stored and reloaded it around every
 * item (a store-to-load chain per item).  Returns the index of the first
 * item not written (anything else, or no room: the caller's general path
 * takes it, flushing as needed).  Writes only inside the room and runs no
 * Python code, so the borrowed items and the list stay as they are. */
static inline Py_ssize_t
enc_leaf_run(nc_jw *w, PyObject *const *items, Py_ssize_t i, Py_ssize_t n, char sep)
{
    char *p = w->p;
    char *const end = w->end;
    /* A loop per kind: a row of flags or of ints stays in its own loop,
     * one test per item, with nothing for the other kind in the way (as
     * one loop with a branch per kind, a profile-guided build put the less
     * trained kind out of line: two taken jumps per item of it). */
    while (i < n && end - p >= NC_RUN_ITEM) {
        unsigned k;
        if (constant_index(items[i], &k)) {
            if (i == 0) {
                p = put_constant(p, k);
                if (++i == n || end - p < NC_RUN_ITEM || !constant_index(items[i], &k))
                    continue;
            }
            const uint32_t sw = sep_word(sep);
            i = put_sep_constants(&p, end, items, i, n, k, sw, sw);
            continue;
        }
        PyObject *o = items[i];
        long long v;
        if (Py_TYPE(o) != &PyLong_Type || !int_compact_value(o, &v))
            break;
        do {
            *p = sep;
            p += i > 0;
            p += nc_format_int64((int64_t)v, p);
        } while (++i < n && end - p >= NC_RUN_ITEM && Py_TYPE(o = items[i]) == &PyLong_Type &&
                 int_compact_value(o, &v));
    }
    w->p = p;
    return i;
}

/* The most bytes one item of a leaf list takes, with its separator. */
#define NC_LEAF_ITEM (NC_FLOAT_TEXT > NC_RUN_ITEM ? NC_FLOAT_TEXT : NC_RUN_ITEM)
/* true, false or null, under one branch: a sum of compares.  Written with
 * ||, GCC branched on each, and where a list's first item is true or null
 * at random that branch missed on half of the lists (3,000 lists of 8
 * random true/null: 0.67x orjson's speed with it, 0.87x without).  Not
 * constant_index: that one also says which constant, and in is_run_leaf
 * it made the lists of true/false/null 5% slower. */
static inline int
is_constant(PyObject *o)
{
    return ((unsigned)(Py_TYPE(o) == &PyBool_Type) + (unsigned)(o == Py_None)) != 0;
}

/* A leaf that enc_leaf_run or nc_json_enc_float_items writes. */
static inline int
is_run_leaf(PyObject *o)
{
    PyTypeObject *t = Py_TYPE(o);
    long long v;
    if (t == &PyFloat_Type)
        return isfinite(PyFloat_AS_DOUBLE(o));
    if (t == &PyLong_Type)
        return int_compact_value(o, &v);
    return is_constant(o);
}

/* The leading leaves of a non-empty exact list or tuple in a compact
 * document (finite exact floats, compact ints, true/false/null: a GeoJSON
 * [lon, lat] pair, a row of flags), written with the run writers after its
 * '[' while the room holds them, before any of the walk's per-container
 * work: a list that turns out to be all leaves is done with no reference,
 * no circular-check marker, no recursion count and no second pass (it
 * holds no container, so no cycle goes through it, and writing leaves runs
 * no Python code, so neither it nor its items can change meanwhile).
 * Returns the number of items written: 0 when the first one is not such a
 * leaf or the room is short (then nothing at all is written);
 * NC_LEAVES_DONE when all of them and the ']' are out; -1 with an
 * exception (the ']' flushed and the sink raised).  With 0 < k < n
 * written, the caller walks the rest as usual from item k (enc_seq's
 * start), '[' already out.  After the ']' nothing of seq may be used: its
 * flush may have run Python code.  Kept out of line: inlined into enc_seq
 * (which the two-store constant loop made small enough for GCC to), it
 * made citm_catalog.json's lists of ints and dicts 6% slower. */
#define NC_LEAVES_DONE PY_SSIZE_T_MAX

static Py_ssize_t __attribute__((noinline))
enc_leaf_prefix(nc_jenc *e, PyObject *seq, char sep)
{
    nc_jw *w = e->w;
    Py_ssize_t n = Py_SIZE(seq), i;
    PyObject *const *items = Py_TYPE(seq) == &PyList_Type ? ((PyListObject *)seq)->ob_item
                                                          : ((PyTupleObject *)seq)->ob_item;
    /* A list of leaves holds no container, so no cycle goes on from it and
     * it is never pushed -- but it may be an ancestor still being walked,
     * which `default` or a finalizer emptied of containers and handed back:
     * the stdlib raises then, and so does this. */
    if (e->check_circular && refuse_ancestor(e, seq, marker_bit(seq)) < 0)
        return -1;
    /* the room for '[' and one item of either writer: the first round
     * writes at least that item */
    if (nc_jw_room(w) < 1 + NC_LEAF_ITEM + NC_DOUBLE_ROOM)
        return 0;
    unsigned k;
    if (constant_index(items[0], &k)) {
        /* A list of flags, the '[' in the first one's separator's place
         * and the ']' with no test of the room: for 300 short lists of
         * true/false/null we ran 207 instructions a list (callgrind) to
         * orjson's 130, 164 now; a tenth less time. */
        char *p = w->p;
        i = put_sep_constants(&p, w->end, items, 0, n, k, sep_word('['), sep_word(sep));
        w->p = p;
        if (i == n) {
            /* the room held NC_RUN_ITEM before the last one, which took 6 */
            *w->p++ = ']';
            return NC_LEAVES_DONE;
        }
    }
    else if (is_run_leaf(items[0])) {
        *w->p++ = '[';
        i = 0;
    }
    else {
        return 0;
    }
    for (;;) {
        Py_ssize_t j = enc_leaf_run(w, items, i, n, sep);
        if (j < n)
            j = nc_json_enc_float_items(e, items, j, n, sep);
        if (j == i || j == n) {
            i = j;
            break;
        }
        i = j;
    }
    /* i >= 1 here: the room checked above holds the first item */
    if (i < n)
        return i;
    return nc_jw_byte(w, ']') < 0 ? -1 : NC_LEAVES_DONE;
}

static Py_ssize_t enc_leaf_dict(nc_jenc *e, PyObject *d);
/* enc_leaf_dict's result when it did not try (no room, no direct cursor):
 * the dict's siblings may still be dicts of leaves. */
#define NC_LEAF_DICT_UNTRIED (PY_SSIZE_T_MAX - 1)

/* enc_leaf_prefix's or enc_leaf_dict's result k is -1 or NC_LEAVES_DONE:
 * the container is done (or failed), and nothing of it may be used. */
static inline int
leaves_done(Py_ssize_t k)
{
    return (size_t)k >= (size_t)NC_LEAVES_DONE;
}

/* The items of a list or tuple from `start` on: 0 for a whole one (its
 * leaf prefix tried here first); NC_SEQ_TRIED for a whole one whose
 * prefix the caller tried, which wrote nothing; more when enc_leaf_prefix
 * wrote the '[' and the items before start. */
static int enc_seq_iterated(nc_jenc *e, PyObject *seq);

/* enc_seq's start when the caller's enc_leaf_prefix wrote nothing: walk
 * from item 0 without a second attempt (a list of lists paid two calls
 * per inner list, 16% of its instructions). */
#define NC_SEQ_TRIED ((Py_ssize_t)-1)

static int
enc_seq(nc_jenc *e, PyObject *seq, Py_ssize_t start)
{
    nc_jw *w = e->w;
    int is_list = PyList_Check(seq), rc = -1, pushed = 0;
    uint64_t marker_saved = 0;
    if (Py_TYPE(seq) != &PyList_Type && Py_TYPE(seq) != &PyTuple_Type)
        return enc_seq_iterated(e, seq);
    if (start == NC_SEQ_TRIED) {
        start = 0;
    }
    else if (start == 0) {
        if (Py_SIZE(seq) == 0)
            return nc_jw_write(w, "[]", 2);
        if (!e->indented && e->item_sep_len == 1) {   /* an exact list or tuple here */
            start = enc_leaf_prefix(e, seq, e->item_sep[0]);
            if (leaves_done(start))
                return start < 0 ? -1 : 0;
        }
    }
    if (e->check_circular) {
        if (push_marker(e, seq, &marker_saved) < 0)
            return -1;
        pushed = 1;
    }
    if (start > 0)
        ;   /* '[' and the first items are out (compact: no indent) */
    else if (nc_jw_byte(w, '[') < 0)
        goto done;
    else if (e->indented) {
        e->level++;
        if (write_newline_indent(e) < 0)
            goto done;
    }
    /* Py_SIZE re-read every round: `default` may shrink the list.  The
     * one-byte separator in a local: the byte stores of the loop may alias
     * e's fields, which the compiler would reload every round. */
    const int one_sep = !e->indented && e->item_sep_len == 1;
    const char sep = e->item_sep[0];
    int leaf_dicts = one_sep;   /* dict items go to enc_leaf_dict first */
    for (Py_ssize_t i = start; i < Py_SIZE(seq); i++) {
        if (__builtin_expect(w->poll, 0)) {
            if (enc_poll(e) < 0)   /* nothing borrowed here */
                goto done;
            if (i >= Py_SIZE(seq))   /* a signal handler shrank the list */
                break;
        }
        PyObject *item = is_list ? PyList_GET_ITEM(seq, i) : PyTuple_GET_ITEM(seq, i);
        /* a str skips the run checks with one compare (a list of str
         * items paid four more per item for them) */
        if (Py_TYPE(item) != &PyUnicode_Type && one_sep) {
            PyObject *const *items = is_list ? ((PyListObject *)seq)->ob_item
                                             : ((PyTupleObject *)seq)->ob_item;
            /* a list item skips the leaves' four tests with one compare
             * (a list of short lists) */
            if (Py_TYPE(item) != &PyList_Type) {
                if (Py_TYPE(item) == &PyBool_Type || item == Py_None || Py_TYPE(item) == &PyLong_Type) {
                    i = enc_leaf_run(w, items, i, Py_SIZE(seq), sep);
                    if (i == Py_SIZE(seq))
                        break;
                    item = items[i];
                }
                if (Py_TYPE(item) == &PyFloat_Type) {
                    i = nc_json_enc_float_items(e, items, i, Py_SIZE(seq), sep);
                    if (i == Py_SIZE(seq))
                        break;
                    item = items[i];
                }
            }
            if ((Py_TYPE(item) == &PyList_Type || Py_TYPE(item) == &PyTuple_Type) &&
                (size_t)(Py_SIZE(item) - 2) <= 1 && Py_TYPE(nth_item(item, 0)) == &PyFloat_Type) {
                i = enc_float_groups(e, items, i, Py_SIZE(seq), sep);
                if (i < 0)
                    goto done;
                if (i == Py_SIZE(seq))
                    break;
                item = items[i];
            }
        }
        if (i > 0) {
            /* A separator that does not fit the room flushes, and dump()'s
             * sink (Python) may drop the item read before it: then the
             * item is held across its separator. */
            if (one_sep) {
                if (w->p == w->end) {
                    if (enc_sep_item_held(e, item) < 0)
                        goto done;
                    continue;
                }
                *w->p++ = sep;
            }
            else if (nc_jw_room(w) <= item_sep_bound(e)) {
                if (enc_sep_item_held(e, item) < 0)
                    goto done;
                continue;
            }
            else if (write_item_sep(e) < 0) {
                goto done;
            }
        }
        /* an exact list or dict item straight to its walk: through
         * enc_value it took two more calls per container (a list of
         * 3,000 small lists spent a third of its time there) */
        PyTypeObject *it = Py_TYPE(item);
        int r;
        if (it != &PyUnicode_Type && (it == &PyList_Type || it == &PyDict_Type)) {
            if (empty_container(item, it)) {
                r = nc_jw_write(w, it == &PyDict_Type ? "{}" : "[]", 2);
                goto next;
            }
            Py_ssize_t k = 0;
            if (it == &PyList_Type && one_sep) {
                k = enc_leaf_prefix(e, item, sep);
                if (leaves_done(k)) {   /* item not used after its ']' */
                    r = k < 0 ? -1 : 0;
                    goto next;
                }
                if (k == 0)
                    k = NC_SEQ_TRIED;
            }
            else if (it == &PyDict_Type && leaf_dicts && e->kc != NULL && !e->sort_keys) {
                k = enc_leaf_dict(e, item);
                if (leaves_done(k)) {   /* item not used after its '}' */
                    r = k < 0 ? -1 : 0;
                    goto next;
                }
                if (k == NC_LEAF_DICT_UNTRIED)
                    k = 0;
                else
                    /* an item the run does not write (a container, as a
                     * rule): so do its siblings', and each attempt cost
                     * them a call, a second cursor and a second circular
                     * check (twitter.json 5% slower with every dict tried;
                     * a try only after a dict of leaves lost citm_catalog
                     * half of its gain) */
                    leaf_dicts = 0;
            }
            Py_INCREF(item);
            r = enc_container(e, item, it == &PyDict_Type, k);
            nc_jw_release(e->w, item);
        }
        else {
            r = enc_value(e, item);
        }
    next:
        if (r < 0)
            goto done;
    }
    if (e->indented) {
        e->level--;
        if (write_newline_indent(e) < 0)
            goto done;
    }
    rc = nc_jw_byte(w, ']');
done:
    if (pushed)
        pop_marker(e, marker_saved);
    return rc;
}

/* A list or tuple subclass: walked from a list of what iterating it
 * yields, made by the stdlib's own call (PySequence_Fast, with its error
 * message), so a subclass's __iter__ decides the items and `default`
 * mutating the subclass mid-walk does not change them -- as in the stdlib.
 * The subclass object itself is the ancestor, so a cycle through it is
 * still found.  Its __iter__ (and any finalizer) is Python code: the saved
 * tail goes back into the caller's buffer first. */
static int
enc_seq_iterated(nc_jenc *e, PyObject *seq)
{
    nc_jw_restore_tail(e->w);
    PyObject *items = PySequence_Fast(seq, "_iterencode_list needs a sequence");
    if (items == NULL)
        return -1;
    int rc;
    uint64_t saved = 0;
    if (PyList_GET_SIZE(items) == 0)
        rc = nc_jw_write(e->w, "[]", 2);
    else if (e->check_circular && push_marker(e, seq, &saved) < 0)
        rc = -1;
    else {
        rc = enc_seq(e, items, 0);
        if (e->check_circular)
            pop_marker(e, saved);
    }
    nc_jw_release(e->w, items);
    return rc;
}

/* One "key": value pair; *first tracks the item separator.  Keys are
 * converted as the stdlib converts them; unsupported keys are skipped with
 * skipkeys, else TypeError.  The general case: enc_item below takes exact
 * str keys of compact documents inline. */
static int __attribute__((noinline))
enc_item_general(nc_jenc *e, PyObject *key, PyObject *value, int *first)
{
    nc_jw *w = e->w;
    int kind;  /* 0 str, 1 float, 2 const, 3 int */
    if (PyUnicode_CheckExact(key) && !e->indented) {
        /* Hot path: str key of a compact document; with one-byte
         * separators (the default) the separator, the quoted key and the
         * colon go out under one room check. */
        int done = 0;
        if (e->item_sep_len == 1 && e->key_sep_len == 1)
            done = nc_json_try_ascii_wrapped(w, key, e->ensure_ascii,
                                             *first ? -1 : (unsigned char)e->item_sep[0],
                                             (unsigned char)e->key_sep[0]);
        if (!done) {
            if (!*first && write_sep(w, e->item_sep, e->item_sep_len) < 0)
                return -1;
            if (!nc_json_try_ascii(w, key, e->ensure_ascii) &&
                nc_json_write_str(w, key, e->ensure_ascii) < 0)
                return -1;
            if (write_sep(w, e->key_sep, e->key_sep_len) < 0)
                return -1;
        }
        *first = 0;
        return enc_value(e, value);
    }
    if (PyUnicode_Check(key))
        kind = 0;
    else if (PyFloat_Check(key))
        kind = 1;
    else if (key == Py_True || key == Py_False || key == Py_None)
        kind = 2;
    else if (PyLong_Check(key))
        kind = 3;
    else if (e->skipkeys)
        return 0;
    else {
        PyErr_Format(PyExc_TypeError, "keys must be str, int, float, bool or None, not %.100s",
                     Py_TYPE(key)->tp_name);
        return -1;
    }
    if (*first)
        *first = 0;
    else if (write_item_sep(e) < 0)
        return -1;
    int rc;
    switch (kind) {
    case 0:
        rc = nc_json_write_str(w, key, e->ensure_ascii);
        break;
    case 1:
        rc = enc_float(e, key, 1);
        break;
    case 2:
        rc = key == Py_True ? nc_jw_write(w, "\"true\"", 6)
             : key == Py_False ? nc_jw_write(w, "\"false\"", 7) : nc_jw_write(w, "\"null\"", 6);
        break;
    default:
        rc = enc_int(e, key, 1);
        break;
    }
    if (rc < 0 || write_sep(w, e->key_sep, e->key_sep_len) < 0)
        return -1;
    return enc_value(e, value);
}

/* Two candidate slots per key, from its str hash (computed for every dict
 * key; the address otherwise): a key goes to the first free one, so two
 * keys that share one slot do not keep evicting each other. */
static inline uint64_t
kc_hash(PyObject *key)
{
    Py_hash_t h = ((PyASCIIObject *)key)->hash;
    return h != -1 ? (uint64_t)h : (uint64_t)(uintptr_t)key >> 4;
}

/* The key's two candidate slots. */
static inline void
kc_slots(uint64_t hv, int *a, int *b)
{
    *a = (int)(hv & (NC_KC_SLOTS - 1));
    *b = (int)((hv >> 8) & (NC_KC_SLOTS - 1));
}

/* The slot holding key, or -1. */
static inline int
kc_find(const nc_keycache *kc, uint64_t hv, PyObject *key)
{
    int a, b;
    kc_slots(hv, &a, &b);
    /* key is never NULL: a free slot never matches */
    if (kc->slot[a].key == key)
        return a;
    if (kc->slot[b].key == key)
        return b;
    return -1;
}

static void
kc_insert(nc_keycache *kc, uint64_t hv, PyObject *key, const char *text, Py_ssize_t n)
{
    if (n > NC_KC_TEXT)
        return;
    int h, b;
    kc_slots(hv, &h, &b);
    if (kc->slot[h].key != NULL && kc->slot[b].key == NULL)
        h = b;
    nc_kc_slot *sl = &kc->slot[h];
    /* the key replaced is an exact str: its release runs no Python code */
    PyObject *old = sl->key;
    sl->key = Py_NewRef(key);
    Py_XDECREF(old);
    sl->len = (unsigned char)n;
    memcpy(sl->text, text, (size_t)n);
}

void
nc_json_keycache_clear(nc_state *st)
{
    if (st->keycache == NULL)
        return;
    for (int m = 0; m < 2; m++) {
        nc_keycache *kc = st->keycache + m;
        for (int i = 0; i < NC_KC_SLOTS; i++)
            Py_CLEAR(kc->slot[i].key);
    }
}

/* After nc_json_keycache_clear (module.c's nc_free clears first). */
void
nc_json_keycache_free(nc_state *st)
{
    if (st->keycache != NULL)
        PyMem_Free(st->keycache[0].raw);
    st->keycache = NULL;
}

/* A leaf value whose type the caller has checked (enc_dict_items, with
 * dump()'s room checked too, and enc_owned): written without enc_value's
 * second dispatch; also the empty exact containers (empty_container).
 * The same six cases as enc_value's, written twice on purpose: enc_value
 * calling this instead made GCC inline differently, +4.6% instructions on
 * the ~1 MB document and +4.2% on the float list. */
static inline int
enc_leaf(nc_jenc *e, PyObject *v, PyTypeObject *vt)
{
    nc_jw *w = e->w;
    if (vt == &PyLong_Type)
        return enc_int(e, v, 0);
    if (vt == &PyUnicode_Type)
        return nc_json_try_ascii(w, v, e->ensure_ascii) ? 0 : nc_json_write_str(w, v, e->ensure_ascii);
    if (vt == &PyFloat_Type)
        return enc_float(e, v, 0);
    if (v == Py_None)
        return nc_jw_write(w, "null", 4);
    if (v == Py_True)
        return nc_jw_write(w, "true", 4);
    if (vt == &PyBool_Type)
        return nc_jw_write(w, "false", 5);
    return nc_jw_write(w, vt == &PyDict_Type ? "{}" : "[]", 2);   /* empty_container */
}

/* key: value; vt is value's type when the caller knows it is a leaf, else
 * NULL. */
static inline __attribute__((always_inline)) int
enc_item(nc_jenc *e, PyObject *key, PyObject *value, int *first, PyTypeObject *vt)
{
    /* Hot path: exact str key, compact document, one-byte separators (the
     * default): separator, quoted key and colon under one room check, or
     * as one copy from the key cache (e->kc is set only for these). */
    nc_keycache *kc = e->kc;
    if (PyUnicode_CheckExact(key) &&
        (kc != NULL || (!e->indented && e->item_sep_len == 1 && e->key_sep_len == 1))) {
        nc_jw *w = e->w;
        int sep = !*first;
        uint64_t hv = 0;
        if (kc != NULL) {
            hv = kc_hash(key);
            int h = kc_find(kc, hv, key);
            if (h >= 0 && nc_jw_room(w) > NC_KC_TEXT) {
                char *p = w->p;
                *p = e->item_sep[0];   /* overwritten by the text when first */
                p += sep;
                copy_exact(p, kc->slot[h].text, kc->slot[h].len);
                w->p = p + kc->slot[h].len;
                *first = 0;
                return vt != NULL ? enc_leaf(e, value, vt) : enc_held_value(e, value);
            }
        }
        char *start = w->p;
        if (nc_json_try_ascii_wrapped(w, key, e->ensure_ascii,
                                      sep ? (unsigned char)e->item_sep[0] : -1,
                                      (unsigned char)e->key_sep[0])) {
            if (kc != NULL && e->kc_insert)
                kc_insert(kc, hv, key, start + sep, w->p - start - sep);
            *first = 0;
            return vt != NULL ? enc_leaf(e, value, vt) : enc_held_value(e, value);
        }
    }
    return enc_item_general(e, key, value, first);
}

/* dump(): the bytes a dict item takes besides its key's and value's text
 * (separators, the key's quotes, a newline and the indentation), the same
 * for every item of a dict; "never fits" when the indentation is absurd. */
static Py_ssize_t
stream_item_fixed(const nc_jenc *e)
{
    Py_ssize_t fixed = e->item_sep_len + e->key_sep_len + 2;
    if (e->indented) {
        if (e->level > 0 && e->indent_len > PY_SSIZE_T_MAX / 4 / e->level)
            return PY_SSIZE_T_MAX / 2;
        fixed += 1 + e->level * e->indent_len;
    }
    return fixed;
}

/* dump(): 1 when the item k: v (k an exact str, v a leaf of type vt)
 * cannot reach the end of the room, so no sink call (Python code) can
 * happen while it is written.  leaf_bound's bounds, with the types known:
 * a str char takes at most 12 bytes, a compact int or a float 26 with
 * quotes, a constant 5; `fixed` from stream_item_fixed. */
static inline int
item_fits_unflushed(const nc_jw *w, PyObject *k, PyObject *v, PyTypeObject *vt,
                    Py_ssize_t fixed)
{
    Py_ssize_t room = nc_jw_room(w) - fixed;
    size_t chars = (size_t)PyUnicode_GET_LENGTH(k);
    Py_ssize_t vb;
    if (vt == &PyUnicode_Type) {
        chars += (size_t)PyUnicode_GET_LENGTH(v);
        vb = 2;
    }
    else if (vt == &PyLong_Type) {
        vb = leaf_bound(v);
        if (vb == 0)
            return 0;   /* a big int: no small bound */
    }
    else {
        vb = NC_DOUBLE_ROOM + 2;   /* a float, or a constant */
    }
    return room > vb && chars < (size_t)(room - vb) / 12;
}

/* Room one item of enc_dict_run takes at most besides a str value's
 * characters: its separator, the cached key text and an int64's text (the
 * longest of its other values). */
#define NC_DICT_RUN_ITEM (1 + NC_KC_TEXT + NC_INT64_MAX_CHARS)
/* ... and one whose value is a float (as enc_float's room, with the
 * separator and the key's text before) */
#define NC_DICT_RUN_FLOAT (1 + NC_KC_TEXT + NC_DOUBLE_ROOM + 2)

/* What enc_dict_run found in a value: below RUN_INT, the CONST_TEXT index
 * of true/false/null. */
enum {
    RUN_INT = 3,     /* a compact int */
    RUN_EMPTY,       /* an empty exact list or dict */
    RUN_ASCII,       /* an exact ASCII str */
    RUN_UTF8,        /* an exact str with CPython's UTF-8 cache */
    RUN_FLOAT,       /* a finite exact float */
    RUN_STR          /* another exact str */
};

/* What enc_dict_run returns: the item the cursor gave last is ... */
enum {
    RUN_END = 0,         /* none: the dict is done */
    RUN_TAKEN = 1,       /* not written; it may be a leaf (as the cursor's 1) */
    RUN_NOT_LEAF = 2,    /* not written; its value is no leaf */
    RUN_KEY_FLOAT = 3,   /* its key written; its value a float for enc_float */
    RUN_KEY_STR = 4      /* its key written; its value a str for nc_json_write_str */
};

/* A run of the commonest dict items of a compact document (e->kc set): an
 * exact str key found in the key cache and a value that is a compact int,
 * true/false/null, an empty exact list or dict, an exact ASCII str with
 * nothing to escape or (ensure_ascii=0) an exact str whose UTF-8 CPython
 * has cached (read, never created) with nothing to escape, while the room
 * holds the longest such item.  The items of the small dicts that make up
 * most of citm_catalog.json or a log record.  As in enc_leaf_run, the
 * write position and the first-item flag live in locals for the run:
 * through w->p and *first, each byte stored might alias them, so the
 * compiler stored and reloaded them around every item, a store-to-load
 * chain through memory per item.  Writes only inside the room, and runs
 * no Python code (no flush, no `default`; its only calls out are the pure
 * C copies nc_json_utf8_put and nc_json_copy_clean16_call), so the cursor
 * and the borrowed items stay valid.  Returns RUN_END at the end of the
 * dict; else the next item is in *k, *v (already taken from the cursor)
 * and: RUN_TAKEN, it is not written and may be a leaf (the caller's
 * general path writes it); RUN_NOT_LEAF, it is not written and its value
 * is no leaf (a container or another object: the caller skips its leaf
 * test, which a second mispredicted type dispatch made cost more than the
 * run saved on nested dicts); RUN_KEY_FLOAT, its key is written and its
 * value is a finite float with room for enc_float's fast path, which the
 * caller calls (a float formatted in here, a call in the loop, kept the
 * locals in saved registers: the ~1 MB document got 4% slower);
 * RUN_KEY_STR, its key is written and its value is another exact str (no
 * UTF-8 cache, or ensure_ascii) with room for its longest text, which the
 * caller's nc_json_write_str writes (ending the run there cost short dicts
 * of fresh non-ASCII strings 7%); with strs 0 (enc_leaf_dict) such an
 * item is RUN_TAKEN instead, its key not written. */
static inline int
enc_dict_run(nc_jenc *e, nc_dict_cursor *c, int *first, PyObject **k, PyObject **v, int strs)
{
    nc_jw *w = e->w;
    const nc_keycache *kc = e->kc;
    char *p = w->p;
    char *const end = w->end;
    const char sep = e->item_sep[0];
    const int ensure_ascii = e->ensure_ascii;
    int f = *first, more;
    while ((more = nc_dict_cursor_next(c, k, v)) != 0) {
        PyObject *key = *k, *val = *v;
        if (end - p < NC_DICT_RUN_ITEM || !PyUnicode_CheckExact(key))
            break;
        PyTypeObject *vt = Py_TYPE(val);
        long long iv = 0;
        Py_ssize_t n = 0;   /* RUN_ASCII, RUN_UTF8: the bytes of the str's text */
        unsigned kind;
        if (vt == &PyLong_Type) {
            if (!int_compact_value(val, &iv))
                break;
            kind = RUN_INT;
        }
        else if (vt == &PyFloat_Type) {
            if (!isfinite(PyFloat_AS_DOUBLE(val)) || end - p < NC_DICT_RUN_FLOAT + NC_JW_TAIL)
                break;
            kind = RUN_FLOAT;
        }
        else if (vt == &PyUnicode_Type) {
            /* an ASCII one that needs no escape (checked as it is copied);
             * or, with ensure_ascii=0, one whose UTF-8 CPython has cached
             * (never created here) */
            if (PyUnicode_IS_ASCII(val)) {
                kind = RUN_ASCII;
                n = PyUnicode_GET_LENGTH(val);
            }
#if NC_JSON_UTF8_CACHE
            else if (!ensure_ascii && ((PyCompactUnicodeObject *)val)->utf8 != NULL) {
                kind = RUN_UTF8;
                n = ((PyCompactUnicodeObject *)val)->utf8_length;
            }
#endif
            else {
                /* another str, without a UTF-8 cache or under ensure_ascii:
                 * its key here, its text by the caller's
                 * nc_json_write_str; in room for the worst (12 bytes a
                 * char: an escaped astral char under ensure_ascii) */
                if (!strs || (end - p - NC_DICT_RUN_ITEM) / 12 <= PyUnicode_GET_LENGTH(val))
                    break;
                kind = RUN_STR;
            }
            if (kind != RUN_STR && end - p - NC_DICT_RUN_ITEM < n + 2)
                break;
        }
        else if (!constant_index(val, &kind)) {
            if (empty_container(val, vt))
                kind = RUN_EMPTY;
            else {
                /* a container or another object: tell the caller so its
                 * leaf test is skipped (a second mispredictable dispatch) */
                more = RUN_NOT_LEAF;
                break;
            }
        }
        int h = kc_find(kc, kc_hash(key), key);
        if (h < 0)
            break;
        char *q = p + !f;   /* where the key's text goes */
        size_t klen = kc->slot[h].len;
        if (kind == RUN_ASCII || kind == RUN_UTF8) {
            /* the str first, after its quote: a str to escape leaves only
             * bytes of the room past p, which the general path overwrites */
#if NC_JSON_UTF8_CACHE
            if (kind == RUN_UTF8) {
                if (!nc_json_utf8_put(q + klen + 1,
                                      (const unsigned char *)((PyCompactUnicodeObject *)val)->utf8, n))
                    break;
            }
            else
#endif
            if (!nc_json_ascii_put(q + klen + 1, PyUnicode_DATA(val), n, ensure_ascii))
                break;
        }
        /* the separator, overwritten by the key's text for the first item */
        *p = sep;
        f = 0;
        copy_exact(q, kc->slot[h].text, klen);
        p = q + klen;
        if (kind == RUN_ASCII || kind == RUN_UTF8) {
            p[0] = '"';
            p[n + 1] = '"';
            p += n + 2;
        }
        else if (kind == RUN_INT) {
            p += nc_format_int64((int64_t)iv, p);
        }
        else if (kind == RUN_STR) {
            more = RUN_KEY_STR;
            break;
        }
        else if (kind == RUN_FLOAT) {
            /* the caller's enc_float writes it (a call in this loop made
             * the ~1 MB document 4% slower: the locals then live in saved
             * registers); the room left takes enc_float's fast path */
            more = RUN_KEY_FLOAT;
            break;
        }
        else if (kind < RUN_INT) {
            p = put_constant(p, kind);
        }
        else {   /* RUN_EMPTY */
            p[0] = vt == &PyDict_Type ? '{' : '[';
            p[1] = vt == &PyDict_Type ? '}' : ']';
            p += 2;
        }
    }
    w->p = p;
    *first = f;
    return more;
}

/* enc_dict_items: the value of an item whose key enc_dict_run wrote
 * (RUN_KEY_STR: a str with room for its longest text; RUN_KEY_FLOAT: a
 * finite float with room for enc_float's fast path): written with no
 * flush, so no Python code runs and the cursor and the borrowed items
 * stay good. */
static inline int
enc_run_value(nc_jenc *e, int got, PyObject *v)
{
    return got == RUN_KEY_STR ? nc_json_write_str(e->w, v, e->ensure_ascii) : enc_float(e, v, 0);
}

/* The items of an exact dict in insertion order, from entry pos on (0, or
 * where enc_leaf_dict stopped, *first then 0).  The common item (exact
 * str key, leaf value: see enc_value; in dump() one that fits the room
 * left) runs no Python code, so the direct cursor of dictiter.h stays
 * valid across it and neither object needs a reference of ours.  Any
 * other item may run Python code that mutates the dict: it is held, the
 * size is checked as the stdlib checks it, and the cursor is re-read from
 * the dict's current table. */
static int
enc_dict_items(nc_jenc *e, PyObject *d, int *first, Py_ssize_t pos)
{
    Py_ssize_t size = PyDict_GET_SIZE(d);
    PyObject *k, *v;
    nc_dict_cursor c = {0};   /* set by nc_dict_cursor_init; zeroed for the compiler's sake */
    nc_jw *w = e->w;
    int stream = w->mode == NC_JW_STREAM;
    Py_ssize_t fixed = stream ? stream_item_fixed(e) : 0;
    int direct = nc_dict_cursor_init(&c, d, pos);
    if (e->kc_dicts++ == 0 && e->w->st->keycache != NULL && !e->indented &&
        e->item_sep_len == 1 && e->key_sep_len == 1 && e->key_sep[0] == ':')
        e->kc = e->w->st->keycache + (e->ensure_ascii != 0);
    /* Keys go into the cache from the second dict on (they are likely to
     * repeat from there) and from a small first dict (which may be the
     * dict of a loop, encoded again next call); a big first dict of one-off
     * keys would only churn it. */
    e->kc_insert = e->kc_dicts > 1 || size <= 32;
    for (;;) {
        if (w->poll) {
            /* between items: the cursor is re-read after the handlers */
            if (enc_poll(e) < 0)
                return -1;
            if (PyDict_GET_SIZE(d) != size) {
                PyErr_SetString(PyExc_RuntimeError, "dictionary changed size during iteration");
                return -1;
            }
            if (direct)
                direct = nc_dict_cursor_init(&c, d, pos = nc_dict_cursor_pos(&c));
        }
        if (direct) {
            int got = e->kc != NULL ? enc_dict_run(e, &c, first, &k, &v, 1) : nc_dict_cursor_next(&c, &k, &v);
            if (!got)
                return 0;
            if (got == RUN_KEY_STR || got == RUN_KEY_FLOAT) {
                if (enc_run_value(e, got, v) < 0)
                    return -1;
                continue;
            }
            /* a leaf: bool cannot be subclassed, so its type means True
             * or False (one compare for both).  An int beyond 64 bits is
             * not one here: its conversion can run Python code (nc_json_enc_int_slow)
             * that changes the dict, so it takes the held path, which checks
             * the size and re-reads the cursor after it. */
            PyTypeObject *vt = Py_TYPE(v);
            if (got == RUN_TAKEN && PyUnicode_CheckExact(k) &&
                ((vt == &PyLong_Type && leaf_bound(v) != 0) || vt == &PyUnicode_Type ||
                 vt == &PyFloat_Type ||
                 vt == &PyBool_Type || v == Py_None || empty_container(v, vt)) &&
                (!stream || item_fits_unflushed(e->w, k, v, vt, fixed))) {
                if (enc_item(e, k, v, first, vt) < 0)
                    return -1;
                continue;
            }
        }
        else if (!PyDict_Next(d, &pos, &k, &v)) {
            return 0;
        }
        Py_INCREF(k);
        Py_INCREF(v);
        int r = enc_item(e, k, v, first, NULL);
        nc_jw_release(e->w, k);
        nc_jw_release(e->w, v);
        if (r < 0)
            return -1;
        if (PyDict_GET_SIZE(d) != size) {
            PyErr_SetString(PyExc_RuntimeError, "dictionary changed size during iteration");
            return -1;
        }
        if (direct)
            direct = nc_dict_cursor_init(&c, d, pos = nc_dict_cursor_pos(&c));
    }
}

/* A dict item of a compact list (exact, not sorted, with the key cache
 * set) written by the dict run alone, before the walk's per-container
 * work, as enc_leaf_prefix does for a list: while its items are the run's
 * (enc_dict_run: no Python code runs, no flush), no reference, no marker,
 * no recursion count and no second cursor.  A dict of leaves holds no
 * container, so no cycle goes through it; it may still be an ancestor
 * handed back by `default`, which is refused.  Returns NC_LEAVES_DONE
 * when the whole dict and its '}' are out (after the '}', whose flush may
 * run Python code, nothing of d is used); NC_LEAF_DICT_UNTRIED when it
 * wrote nothing for want of room or of a direct cursor; 0 when its first
 * item is none of the run's (the '{' is taken back); start > 0 when the
 * '{' and the items before entry start - 1 are out, which enc_dict walks
 * on from; -1 with an exception.
 * For 14,000 one-item dicts in a list this took ~60 of the ~380
 * instructions a dict, the part orjson did not spend. */
static Py_ssize_t __attribute__((noinline))
enc_leaf_dict(nc_jenc *e, PyObject *d)
{
    nc_jw *w = e->w;
    nc_dict_cursor c;
    if (e->check_circular && refuse_ancestor(e, d, marker_bit(d)) < 0)
        return -1;
    if (nc_jw_room(w) < 1 + NC_DICT_RUN_ITEM || !nc_dict_cursor_init(&c, d, 0))
        return NC_LEAF_DICT_UNTRIED;
    char *const start = w->p;
    *w->p++ = '{';
    int first = 1;
    PyObject *k, *v;
    for (;;) {
        /* a str to transcode (no UTF-8 cache, or ensure_ascii) is the
         * walk's: written here, 300 short dicts of fresh non-ASCII strings
         * got 40% slower under dumps() between other encoders' calls (not
         * alone: the same instructions; we did not find why) */
        int got = enc_dict_run(e, &c, &first, &k, &v, 0);
        if (got == RUN_END)
            break;
        if (got == RUN_KEY_FLOAT) {   /* no RUN_KEY_STR with strs 0 */
            if (enc_float(e, v, 0) < 0)   /* in the room the run left: no flush */
                return -1;
            continue;
        }
        /* an item the run does not write, at entry pos - 1: the walk's */
        if (first) {
            w->p = start;
            return 0;
        }
        return nc_dict_cursor_pos(&c);
    }
    return nc_jw_byte(w, '}') < 0 ? -1 : NC_LEAVES_DONE;
}

/* start: 0 for a whole dict; else enc_leaf_dict wrote the '{' and the
 * items before entry start - 1 (compact, exact, not sorted). */
static int
enc_dict(nc_jenc *e, PyObject *d, Py_ssize_t start)
{
    nc_jw *w = e->w;
    int rc = -1, pushed = 0, first = start == 0;
    PyObject *items = NULL;
    uint64_t marker_saved = 0;
    if (start == 0 && PyDict_GET_SIZE(d) == 0)
        return nc_jw_write(w, "{}", 2);
    if (e->check_circular) {
        if (push_marker(e, d, &marker_saved) < 0)
            return -1;
        pushed = 1;
    }
    if (start > 0)
        ;   /* '{' and the first items are out (compact: no indent) */
    else if (nc_jw_byte(w, '{') < 0)
        goto done;
    else if (e->indented) {
        e->level++;
        if (write_newline_indent(e) < 0)
            goto done;
    }
    if (PyDict_CheckExact(d) && !e->sort_keys) {
        if (enc_dict_items(e, d, &first, start > 0 ? start - 1 : 0) < 0)
            goto done;
    }
    else {
        nc_jw_restore_tail(w);   /* Python code may run from here */
        items = PyMapping_Items(d);
        if (items == NULL)
            goto done;
        if (e->sort_keys && PyList_Sort(items) < 0)
            goto done;
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(items); i++) {
            PyObject *item = PyList_GET_ITEM(items, i);
            if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2) {
                PyErr_SetString(PyExc_ValueError, "items must return 2-tuples");
                goto done;
            }
            Py_INCREF(item);
            int r = enc_item(e, PyTuple_GET_ITEM(item, 0), PyTuple_GET_ITEM(item, 1), &first, NULL);
            nc_jw_release(e->w, item);
            if (r < 0)
                goto done;
        }
    }
    if (e->indented) {
        e->level--;
        if (write_newline_indent(e) < 0)
            goto done;
    }
    rc = nc_jw_byte(w, '}');
done:
    if (items != NULL)
        nc_jw_release(w, items);
    if (pushed)
        pop_marker(e, marker_saved);
    return rc;
}

static int
enc_default(nc_jenc *e, PyObject *o)
{
    int rc = -1, pushed = 0;
    uint64_t marker_saved = 0;
    if (e->defaultfn == NULL) {
        PyObject *name = PyType_GetName(Py_TYPE(o));
        if (name != NULL) {
            PyErr_Format(PyExc_TypeError, "Object of type %U is not JSON serializable", name);
            Py_DECREF(name);
        }
        return -1;
    }
    if (e->check_circular) {
        if (push_marker(e, o, &marker_saved) < 0)
            return -1;
        pushed = 1;
    }
    nc_jw_restore_tail(e->w);   /* Python code runs next */
    PyObject *newobj = PyObject_CallOneArg(e->defaultfn, o);
    if (newobj == NULL)
        goto done;
    if (Py_EnterRecursiveCall(" while encoding a JSON object") == 0) {
        rc = enc_held_value(e, newobj);
        Py_LeaveRecursiveCall();
    }
    nc_jw_release(e->w, newobj);
done:
    if (pushed)
        pop_marker(e, marker_saved);
    return rc;
}

/* The first NC_NEST_UNCHECKED levels of containers skip CPython's recursion
 * check (two calls into libpython per container, 3.5% of the ~1 MB
 * document of make bench, 5.5% of citm_catalog.json, whose dicts nest 8
 * deep; twitter.json's 11): the C stack they take is bounded (an enc_dict
 * frame is about 250 bytes: 4 KB for all of them), and deeper levels are
 * checked as usual, so nesting past the recursion limit (plus those few
 * levels) still raises RecursionError. */
#define NC_NEST_UNCHECKED 16

/* start: see enc_seq (0 for a dict). */
static inline int
enc_container(nc_jenc *e, PyObject *o, int is_dict, Py_ssize_t start)
{
    int rc;
    if (e->nest < NC_NEST_UNCHECKED) {
        e->nest++;
        rc = is_dict ? enc_dict(e, o, start) : enc_seq(e, o, start);
        e->nest--;
        return rc;
    }
    if (Py_EnterRecursiveCall(" while encoding a JSON object"))
        return -1;
    rc = is_dict ? enc_dict(e, o, start) : enc_seq(e, o, start);
    Py_LeaveRecursiveCall();
    return rc;
}

/* A kept-alive value that is not an exact container (enc_held_value takes
 * those): the exact leaves without a second dispatch, the singletons (one
 * compare each), then the stdlib's order for subclasses. */
static int
enc_owned(nc_jenc *e, PyObject *o)
{
    PyTypeObject *t = Py_TYPE(o);
    if (t == &PyLong_Type || t == &PyUnicode_Type || t == &PyFloat_Type)
        return enc_leaf(e, o, t);
    if (o == Py_None)
        return nc_jw_write(e->w, "null", 4);
    if (o == Py_True)
        return nc_jw_write(e->w, "true", 4);
    if (o == Py_False)
        return nc_jw_write(e->w, "false", 5);
    if (PyUnicode_Check(o))
        return nc_json_write_str(e->w, o, e->ensure_ascii);
    if (PyLong_Check(o))
        return enc_int(e, o, 0);
    if (PyFloat_Check(o))
        return enc_float(e, o, 0);
    if (PyList_Check(o) || PyTuple_Check(o))
        return enc_container(e, o, 0, 0);
    if (PyDict_Check(o))
        return enc_container(e, o, 1, 0);
    return enc_default(e, o);
}

int
nc_json_encode(nc_jenc *e, PyObject *obj)
{
    return enc_held_value(e, obj);
}

int
nc_json_keycache_alloc(nc_state *st)
{
#ifndef Py_GIL_DISABLED
    /* two, per ensure_ascii; aligned by hand (PyMem gives 16 bytes) so
     * that each slot is one cache line */
    void *raw = PyMem_Calloc(1, 2 * sizeof(nc_keycache) + 63);
    if (raw == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    st->keycache = (nc_keycache *)(((uintptr_t)raw + 63) & ~(uintptr_t)63);
    st->keycache[0].raw = raw;
#else
    (void)st;
#endif
    return 0;
}
