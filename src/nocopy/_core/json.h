/* json.h -- the JSON encoder's output writer (json_writer.c) and the
 * encoder's state, shared by json_encode.c (values and containers),
 * json_escape.c (strings) and json_api.c (options and entry points).
 *
 * Ownership: an nc_jw lives on the C stack of one encode call.  It never owns
 * the destination: in FIXED mode the caller holds the buffer export, in
 * STREAM mode the caller holds the holder of the fixed chunk buffer; only in
 * GROW mode does it own `grow` (a bytes object under construction), which
 * nc_jw_grow_finish hands out or nc_jw_dispose frees.
 *
 * The writer has one invariant that keeps BufferTooSmall.needed exact: the
 * slow path nc_jw_flush is only entered when the room is used up to the last
 * byte (p == end).  Code that wants to write a small item directly checks the
 * room first and otherwise formats into a local array and calls nc_jw_write,
 * which fills the room exactly before flushing. */
#ifndef NOCOPY_JSON_H
#define NOCOPY_JSON_H

#include "nocopy.h"
#include "numfmt.h"
#include "json_wide.h"

enum {
    NC_JW_FIXED = 0,   /* caller's memory; on overflow keep counting in scratch */
    NC_JW_GROW = 1,    /* scratch first, then a growing bytes object */
    NC_JW_STREAM = 2,  /* fixed chunk buffer handed to a sink when full */
};

/* Scratch space: the first chunk of dumps() and the counting area after a
 * FIXED destination overflowed. */
#define NC_JW_SCRATCH 4096
/* dumps(): a document that outgrows the scratch starts in a bytes object of
 * the previous such document's length (up to this much), and grows by
 * doubling from there.  Why: with glibc, a bytes object grown by doubling
 * past the size of the last one freed is a fresh mmap on every call, and
 * the first touch of each of its pages is a page fault (204 per call of
 * make bench's ~1 MB document: 1.5 ms instead of 1.05).  One of the same
 * size as the last one freed comes back from the heap: no mmap, no fault,
 * no copy.  A document smaller than the hint gives the rest back when the
 * bytes object is shrunk to its length. */
#define NC_JW_HINT_MAX ((Py_ssize_t)1 << 26)
/* The largest single item written without a loop (an escaped astral char is
 * 12 bytes, a double 32 with quotes 34); STREAM buffers are at least this. */
#define NC_JW_MIN_CHUNK 64

/* FIXED mode: nc_format_double stores up to NC_DOUBLE_ROOM bytes whatever
 * the length of its text (fixed-size stores at addresses known early are
 * what keeps it fast: exact-length ones made a float list 15% slower).  So
 * that bytes after the document stay as they were, before each such write
 * into the caller's memory the bytes it may reach that were never written
 * are saved, and when encoding ends those past the document are put back.
 * Only the last NC_JW_SAVES saves can matter: writes start at least 3
 * bytes apart (the shortest float text), so these cover the NC_JW_TAIL
 * bytes after the last float.  (A window of originals refilled ahead of
 * the writes was tried: it copies the whole document once more, 5% of the
 * ~1 MB document of make bench.) */
#define NC_JW_TAIL NC_DOUBLE_ROOM
#define NC_JW_SAVES 16

typedef struct {
    char *at;
    char bytes[NC_JW_TAIL];
} nc_jw_save;

typedef struct nc_jw_s {
    char *p;              /* write position */
    char *end;            /* end of the current room */
    char *base;           /* start of the current room */
    Py_ssize_t flushed;   /* bytes emitted before base (streamed or counted) */
    int mode;
    int overflowed;       /* FIXED: the destination filled up, now counting */
    PyObject *grow;       /* GROW: bytes object being filled, or NULL (scratch) */
    PyObject *sink;       /* STREAM: callable taking a View of the chunk (borrowed) */
    NcHolder *holder;     /* STREAM: holder of the chunk buffer (borrowed) */
    nc_state *st;
    /* A lone surrogate without ensure_ascii: json.dumps() itself succeeds and
     * only the oracle's .encode("utf-8") fails, after any error json.dumps
     * would raise.  dumps/dumps_into keep going (writing the surrogate as
     * 'surrogatepass' bytes) and raise UnicodeEncodeError at the end if
     * nothing else failed; dump raises at once (bytes already streamed cannot
     * be taken back, as with json.dump to a text file). */
    int defer_surrogates;
    PyObject *bad_str;    /* owned: first str with a lone surrogate, or NULL */
    Py_ssize_t bad_pos;
    char *clobbered;      /* FIXED: end of the fixed-size writes so far */
    unsigned nsaved;      /* FIXED: saves made; the last NC_JW_SAVES kept */
    int float_run;        /* nc_format_double_run's state */
    /* Set by nc_jw_flush: signals are due a check at the walk's next safe
     * point (where everything in use is held or re-read).  Not at the flush
     * itself: a signal handler is Python code, and a leaf being written
     * there is borrowed from a container the handler may mutate. */
    int poll;
    nc_jw_save saved[NC_JW_SAVES];
    char scratch[NC_JW_SCRATCH];
} nc_jw;

/* Make room after p reached end.  0 on success (room > 0), -1 with an
 * exception (sink raised, MemoryError). */
int nc_jw_flush(nc_jw *w);

static inline Py_ssize_t
nc_jw_room(const nc_jw *w)
{
    return w->end - w->p;
}

/* Total bytes of the document so far. */
static inline Py_ssize_t
nc_jw_total(const nc_jw *w)
{
    return w->flushed + (w->p - w->base);
}

/* Copy n bytes, flushing as often as needed (pieces larger than the room are
 * written across several flushes, never through an intermediate copy). */
int nc_jw_write_slow(nc_jw *w, const char *src, Py_ssize_t n);
static inline int
nc_jw_write(nc_jw *w, const char *src, Py_ssize_t n)
{
    if (nc_jw_room(w) >= n) {
        memcpy(w->p, src, (size_t)n);
        w->p += n;
        return 0;
    }
    return nc_jw_write_slow(w, src, n);
}

static inline int
nc_jw_byte(nc_jw *w, char c)
{
    if (w->p == w->end && nc_jw_flush(w) < 0)
        return -1;
    *w->p++ = c;
    return 0;
}

/* n copies of byte c (indentation). */
int nc_jw_fill(nc_jw *w, char c, Py_ssize_t n);

/* An empty writer in `mode`; the caller sets base, p and end. */
static inline void
nc_jw_init(nc_jw *w, nc_state *st, int mode)
{
    w->mode = mode;
    w->flushed = 0;
    w->overflowed = 0;
    w->grow = NULL;
    w->sink = NULL;
    w->holder = NULL;
    w->st = st;
    w->defer_surrogates = mode != NC_JW_STREAM;
    w->bad_str = NULL;
    w->bad_pos = 0;
    w->clobbered = NULL;
    w->nsaved = 0;
    w->float_run = 0;
    w->poll = 0;
}

void nc_json_raise_surrogate(PyObject *str, Py_ssize_t i);   /* json_escape.c */

/* After a successful encode: the deferred lone-surrogate error, if any. */
static inline int
nc_jw_check_surrogate(nc_jw *w)
{
    if (w->bad_str == NULL)
        return 0;
    nc_json_raise_surrogate(w->bad_str, w->bad_pos);
    return -1;
}

static inline void
nc_jw_dispose(nc_jw *w)
{
    Py_CLEAR(w->grow);
    Py_CLEAR(w->bad_str);
}

/* FIXED: put back the saved bytes past the write position (json_writer.c
 * says when); nothing to do unless a float's fixed-size writes were saved. */
void nc_jw_restore_tail_slow(nc_jw *w);
static inline void
nc_jw_restore_tail(nc_jw *w)
{
    if (w->clobbered != NULL || w->nsaved != 0)
        nc_jw_restore_tail_slow(w);
}

/* Drop a reference the encoder owns (an item held across a call out, a
 * list of items, default's result).  The last one frees the object, which
 * may run Python code (its __del__, or the finalizers of what it held): the
 * saved bytes past the text go back into the caller's buffer first, as
 * before any other Python code. */
static inline void
nc_jw_release(nc_jw *w, PyObject *o)
{
    if (Py_REFCNT(o) == 1)
        nc_jw_restore_tail(w);
    Py_DECREF(o);
}

/* GROW mode: the document as a bytes object (owned); the writer is empty
 * afterwards. */
PyObject *nc_jw_grow_finish(nc_jw *w);

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* FIXED: save the never-written bytes a NC_JW_TAIL-byte write at p may
 * reach (p + 2 * NC_JW_TAIL <= end).  They start at p or where the last
 * such write ended, whichever is later: everything before was written. */
static inline void
nc_jw_guard_tail(nc_jw *w, char *p)
{
    char *from = w->clobbered != NULL && w->clobbered > p ? w->clobbered : p;
    nc_jw_save *t = &w->saved[w->nsaved++ % NC_JW_SAVES];
    t->at = from;
#if defined(__SSE2__)
    /* three vector moves: GCC turned the memcpy into `rep movs`, whose
     * start-up cost made each float of the ~1 KB document 9 ns slower */
    for (int i = 0; i < NC_JW_TAIL; i += 16)
        _mm_storeu_si128((__m128i *)(t->bytes + i), _mm_loadu_si128((const __m128i *)(from + i)));
#else
    memcpy(t->bytes, from, NC_JW_TAIL);
#endif
    w->clobbered = p + NC_JW_TAIL;
}

static inline int
nc_json_ascii_word_dirty(uint64_t x, int ensure_ascii)
{
    /* bytes are < 0x80: a high bit after subtracting flags a control char,
     * '"', '\\' or (ensure_ascii) DEL; the borrow of a flagged byte only
     * spills into higher bytes, which keeps the "any" answer exact */
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    uint64_t bad = (x - ones * 0x20) | ((x ^ ones * 0x22) - ones) | ((x ^ ones * 0x5c) - ones);
    if (ensure_ascii)
        bad |= (x ^ ones * 0x7f) - ones;
    return (bad & highs) != 0;
}

/* json_escape.c's tables: for an ASCII byte, 0 when copied as is, else the
 * letter after the backslash ('u' for \u00XX); the lowercase hex digits. */
extern const char nc_json_esc[128];
extern const char nc_json_hex[16];

static inline char *
nc_json_put_u(char *out, Py_UCS4 c)
{
    out[0] = '\\';
    out[1] = 'u';
    out[2] = nc_json_hex[(c >> 12) & 0xf];
    out[3] = nc_json_hex[(c >> 8) & 0xf];
    out[4] = nc_json_hex[(c >> 4) & 0xf];
    out[5] = nc_json_hex[c & 0xf];
    return out + 6;
}

/* Escape of an ASCII char that needs one (nc_json_esc[c] != 0, or DEL). */
static inline char *
nc_json_put_ascii_escape(char *out, Py_UCS4 c)
{
    char e = c < 128 ? nc_json_esc[c] : 0;
    if (e != 'u' && e != 0) {  /* 0 here: DEL under ensure_ascii */
        out[0] = '\\';
        out[1] = e;
        return out + 2;
    }
    return nc_json_put_u(out, c);
}

/* 1 for the ASCII bytes a JSON string takes verbatim: [0] without,
 * [1] with ensure_ascii (which also escapes DEL).  json_escape.c. */
extern const unsigned char nc_json_verbatim[2][128];

#if defined(__SSE2__)
/* Copy n >= 16 bytes from src to out sixteen at a time (SSE2 is part of
 * x86-64) while checking them: 1 when none needs an escape ('"', '\\',
 * below 0x20, and DEL under ensure_ascii; bytes >= 0x80 pass, so this
 * serves UTF-8 too), 0 otherwise (out then holds garbage the caller does
 * not count).  Exactly n bytes are written: the tail is one overlapping
 * block. */
static inline __m128i
nc_json_bad16(__m128i x, __m128i del)
{
    const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\');
    const __m128i ctl = _mm_set1_epi8(0x1f);
    __m128i bad = _mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, bslash));
    /* unsigned x <= 0x1f  <=>  min(x, 0x1f) == x */
    bad = _mm_or_si128(bad, _mm_cmpeq_epi8(_mm_min_epu8(x, ctl), x));
    return _mm_or_si128(bad, _mm_cmpeq_epi8(x, del));
}

static inline int
nc_json_copy_clean16(char *out, const unsigned char *src, Py_ssize_t n, int ensure_ascii)
{
    const __m128i del = _mm_set1_epi8(ensure_ascii ? 0x7f : '"');
    Py_ssize_t i = 0;
    /* 64 bytes a round, one test of the combined flags per round */
    for (; i + 64 <= n; i += 64) {
        __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(src + i));
        __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(src + i + 16));
        __m128i c = _mm_loadu_si128((const __m128i *)(const void *)(src + i + 32));
        __m128i d = _mm_loadu_si128((const __m128i *)(const void *)(src + i + 48));
        __m128i bad = _mm_or_si128(_mm_or_si128(nc_json_bad16(a, del), nc_json_bad16(b, del)),
                                   _mm_or_si128(nc_json_bad16(c, del), nc_json_bad16(d, del)));
        if (_mm_movemask_epi8(bad) != 0)
            return 0;
        _mm_storeu_si128((__m128i *)(void *)(out + i), a);
        _mm_storeu_si128((__m128i *)(void *)(out + i + 16), b);
        _mm_storeu_si128((__m128i *)(void *)(out + i + 32), c);
        _mm_storeu_si128((__m128i *)(void *)(out + i + 48), d);
    }
    __m128i acc = _mm_setzero_si128();
    for (; i + 16 <= n; i += 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(src + i));
        acc = _mm_or_si128(acc, nc_json_bad16(x, del));
        _mm_storeu_si128((__m128i *)(void *)(out + i), x);
    }
    if (i < n) {  /* the tail as one block overlapping what came before */
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(src + n - 16));
        acc = _mm_or_si128(acc, nc_json_bad16(x, del));
        _mm_storeu_si128((__m128i *)(void *)(out + n - 16), x);
    }
    return _mm_movemask_epi8(acc) == 0;
}
/* The same for 16 <= n <= 64 with no branch on n: four blocks at 0,
 * min(16, n - 16), min(32, n - 16) and n - 16, overlapping when n is
 * short (the same bytes stored twice).  The loop above exits after one to
 * three blocks, and on strings of random lengths it missed that exit about
 * once a string: 3,000 short dicts of cached non-ASCII strings took 31 ns
 * a dict, the same lengths repeating every 900 strings 26 ns.  Nothing is
 * written when a byte needs an escape. */
static inline int
nc_json_copy_clean16to64(char *out, const unsigned char *src, Py_ssize_t n, int ensure_ascii)
{
    const __m128i del = _mm_set1_epi8(ensure_ascii ? 0x7f : '"');
    const Py_ssize_t t = n - 16, b = t < 16 ? t : 16, c = t < 32 ? t : 32;
    __m128i x0 = _mm_loadu_si128((const __m128i *)(const void *)src);
    __m128i x1 = _mm_loadu_si128((const __m128i *)(const void *)(src + b));
    __m128i x2 = _mm_loadu_si128((const __m128i *)(const void *)(src + c));
    __m128i x3 = _mm_loadu_si128((const __m128i *)(const void *)(src + t));
    __m128i bad = _mm_or_si128(_mm_or_si128(nc_json_bad16(x0, del), nc_json_bad16(x1, del)),
                               _mm_or_si128(nc_json_bad16(x2, del), nc_json_bad16(x3, del)));
    if (_mm_movemask_epi8(bad) != 0)
        return 0;
    _mm_storeu_si128((__m128i *)(void *)out, x0);
    _mm_storeu_si128((__m128i *)(void *)(out + b), x1);
    _mm_storeu_si128((__m128i *)(void *)(out + c), x2);
    _mm_storeu_si128((__m128i *)(void *)(out + t), x3);
    return 1;
}

/* The same as a call: nc_json_try_ascii_wrapped, inlined into every
 * key and value path, stays small (measured: the 1 MB document of small
 * dicts 10% faster with the call, long cached-UTF-8 strings 15% slower). */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((noinline))
#endif
static int
nc_json_copy_clean16_call(char *out, const unsigned char *src, Py_ssize_t n, int ensure_ascii)
{
#if NC_JSON_HAVE_WIDE
    if (nc_json_wide)
        return nc_json_wide_copy_clean(out, src, n, ensure_ascii);
#endif
    return nc_json_copy_clean16(out, src, n, ensure_ascii);
}
#define NC_JSON_HAVE_CLEAN16 1
#else
#define NC_JSON_HAVE_CLEAN16 0
#endif

/* The copying part of nc_json_try_ascii_wrapped below: the n ASCII bytes
 * src[0:n] to out (no quotes) when none needs an escape, 1; else 0, and
 * out[0:n] then holds garbage, which the escaping writer the caller falls
 * back to overwrites (the escaped text starts at or before out and is
 * longer).  Also used on its own by json_encode.c's dict run, which keeps
 * the write position in a local. */
static inline int
nc_json_ascii_put(char *out, const unsigned char *src, Py_ssize_t n, int ensure_ascii)
{
#if NC_JSON_HAVE_CLEAN16
    if (n >= 16) {
        if (!nc_json_copy_clean16_call(out, src, n, ensure_ascii))
            return 0;
    }
    else
#endif
    if (n >= 8) {
        Py_ssize_t i = 0;
        uint64_t x;
        for (; i + 8 <= n; i += 8) {
            memcpy(&x, src + i, 8);
            if (nc_json_ascii_word_dirty(x, ensure_ascii))
                return 0;
            memcpy(out + i, &x, 8);
        }
        if (i < n) {  /* the tail as one overlapping word */
            memcpy(&x, src + n - 8, 8);
            if (nc_json_ascii_word_dirty(x, ensure_ascii))
                return 0;
            memcpy(out + n - 8, &x, 8);
        }
    }
    else if (n >= 4) {  /* two overlapping halves checked as one word */
        uint32_t lo, hi;
        memcpy(&lo, src, 4);
        memcpy(&hi, src + n - 4, 4);
        if (nc_json_ascii_word_dirty(lo | ((uint64_t)hi << 32), ensure_ascii))
            return 0;
        memcpy(out, &lo, 4);
        memcpy(out + n - 4, &hi, 4);
    }
    else if (n > 0) {
        /* 1..3 bytes: src[0], src[n / 2] and src[n - 1] cover them all */
        unsigned char a = src[0], b = src[n >> 1], c = src[n - 1];
        const unsigned char *verbatim = nc_json_verbatim[ensure_ascii != 0];
        if (!(verbatim[a] & verbatim[b] & verbatim[c]))  /* ASCII str: all < 0x80 */
            return 0;
        out[0] = (char)a;
        out[n >> 1] = (char)b;
        out[n - 1] = (char)c;
    }
    return 1;
}

/* Fast path for a clean ASCII str (nothing to escape) that fits the room:
 * written with its quotes, scanned and copied eight bytes at a time (short
 * strings and tails as overlapping words, never reading outside the str).
 * `pre` and `post` (-1: none; any byte, NUL included, is one: a NUL
 * separator is legal) are single bytes written before and after in the
 * same room check: a dict key goes out as ,"key": in one piece.
 * Returns 1 when written, 0 when nothing was written and the caller must
 * take the general path. */
static inline int
nc_json_try_ascii_wrapped(nc_jw *w, PyObject *s, int ensure_ascii, int pre, int post)
{
    if (!PyUnicode_IS_ASCII(s))
        return 0;
    Py_ssize_t n = PyUnicode_GET_LENGTH(s);
    if (nc_jw_room(w) < n + 4)
        return 0;
    char *out = w->p + 1 + (pre >= 0);
    if (!nc_json_ascii_put(out, PyUnicode_DATA(s), n, ensure_ascii))
        return 0;
    out[-1] = '"';
    if (pre >= 0)
        out[-2] = (char)pre;
    out[n] = '"';
    w->p = out + n + 1;
    if (post >= 0)
        *w->p++ = (char)post;
    return 1;
}

static inline int
nc_json_try_ascii(nc_jw *w, PyObject *s, int ensure_ascii)
{
    return nc_json_try_ascii_wrapped(w, s, ensure_ascii, -1, -1);
}

/* ---- the encoder's state (json_encode.c walks, json_api.c sets up) ---- */

#define NC_JSTACK_SMALL 32
typedef struct nc_keycache nc_keycache;   /* json_encode.c */

typedef struct {
    nc_jw *w;
    PyObject *defaultfn;            /* NULL: none; held in `owned` */
    int skipkeys, ensure_ascii, check_circular, allow_nan, sort_keys;
    int indented;
    /* item_sep, key_sep and indent point into str objects (or static
     * text); those str and `defaultfn` are held in `owned` for the call:
     * the caller's separators list or any other reference to them may be
     * dropped by Python code run meanwhile (`default`, a flag's __bool__,
     * offset's __index__, a finalizer). */
    const char *item_sep;
    Py_ssize_t item_sep_len;
    const char *key_sep;
    Py_ssize_t key_sep_len;
    const char *indent;             /* UTF-8 of an indent str; NULL: spaces */
    Py_ssize_t indent_len;          /* bytes of indent, or number of spaces */
    Py_ssize_t level;
    PyObject **stack;               /* ancestors (borrowed: each is kept alive
                                     * by its own parent's strong reference) */
    Py_ssize_t depth, stack_cap;
    uint64_t marker_bits;           /* json_encode.c's push_marker */
    nc_keycache *kc;                /* the module's, when this call can use it */
    int nest;                       /* containers open, up to NC_NEST_UNCHECKED */
    int kc_insert;                  /* new keys go into the cache */
    Py_ssize_t kc_dicts;            /* dicts started */
    int nowned;
    PyObject *owned[4];
    PyObject *stack_small[NC_JSTACK_SMALL];
} nc_jenc;

/* Encode obj (kept alive by the caller) into e's writer; -1 with an
 * exception.  json_encode.c. */
int nc_json_encode(nc_jenc *e, PyObject *obj);

/* json_api.c, for entry points in other files (json_frame.c): an encoder
 * over writer w with no options set; the default (compact) options; the
 * keyword options plus the extra names a caller takes (see there);
 * encoding into [dst + offset, dst + len) in FIXED mode (the document's
 * length, *overflow set when it did not fit; the length is exact anyway);
 * BufferTooSmall for a document needing `needed` bytes where `have` are. */
void nc_json_enc_init(nc_jenc *e, nc_jw *w);
void nc_json_enc_dispose(nc_jenc *e);
void nc_json_default_options(nc_jenc *e);
int nc_json_parse_keywords(const char *fname, nc_jenc *e, PyObject *const *kwvalues,
                           PyObject *kwnames, const char *const *extra, PyObject **extra_out,
                           int nextra);
Py_ssize_t nc_json_encode_fixed(nc_jenc *e, nc_jw *w, PyObject *obj, char *dst, Py_ssize_t len,
                                Py_ssize_t offset, int *overflow);
int nc_json_raise_too_small(nc_state *st, Py_ssize_t needed, Py_ssize_t have);
/* The module's two key caches (json_encode.c); -1 with MemoryError. */
int nc_json_keycache_alloc(nc_state *st);

/* json_escape.c: write the str `s` as a JSON string literal (quotes included)
 * in UTF-8, with the stdlib's escaping for the ensure_ascii mode.  A lone
 * surrogate with ensure_ascii=0 raises UnicodeEncodeError, as
 * json.dumps(...).encode("utf-8") does. */
int nc_json_write_str(nc_jw *w, PyObject *s, int ensure_ascii);
/* The same without its fast paths: escapes, strs without a UTF-8 cache,
 * ensure_ascii, no room (json_wide.c's cached-UTF-8 writer falls back to
 * it). */
int nc_json_write_str_general(nc_jw *w, PyObject *s, int ensure_ascii);
/* 3.14 moved a str's UTF-8 cache out of PyCompactUnicodeObject; there every
 * non-ASCII str is transcoded. */
#define NC_JSON_UTF8_CACHE (PY_VERSION_HEX < 0x030E0000)
/* json_escape.c: the n bytes of a str's cached UTF-8 to out, no quotes, when
 * none needs an escape (ensure_ascii=0), 1; else 0 with out[0:n] garbage
 * (see nc_json_ascii_put).  For json_encode.c's dict run. */
int nc_json_utf8_put(char *out, const unsigned char *s, Py_ssize_t n);
/* UnicodeEncodeError for the lone surrogate at str[i] (and the run after it). */
void nc_json_raise_surrogate(PyObject *str, Py_ssize_t i);

/* Module registration (json_encode.c). */
int nc_json_module_init(PyObject *m, nc_state *st);

#endif /* NOCOPY_JSON_H */
