/* json_escape.c -- str -> JSON string literal, straight into the writer.
 *
 * Ownership: borrows the str for the duration of the call and nothing else;
 * no intermediate str or bytes is ever made (no PyUnicode_AsUTF8, whose
 * cached UTF-8 copy would be one allocation per string).  The code points are
 * read from the str's own 1/2/4-byte storage and encoded to UTF-8 (or to
 * \uXXXX escapes with ensure_ascii) in one pass.
 *
 * Escaping is the stdlib's: '"' '\\' '\b' '\f' '\n' '\r' '\t' get their short
 * escapes, other controls below 0x20 become \u00XX; with ensure_ascii also
 * DEL (0x7f) and everything non-ASCII become \uXXXX (lowercase hex, astral
 * characters as surrogate pairs).  Without ensure_ascii, a lone surrogate
 * cannot be UTF-8: json.dumps() would emit it in its str and the caller's
 * .encode("utf-8") would fail, so we raise UnicodeEncodeError too (the
 * position is the one inside the offending str, not inside the document). */
#include "json.h"
#include "json_utf8.h"


/* 0: copied as is; otherwise the letter after the backslash, 'u' for \u00XX. */
const char nc_json_esc[128] = {
    'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'b', 't', 'n', 'u', 'f', 'r', 'u', 'u',
    'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u',
    0, 0, '"', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, '\\', 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

const char nc_json_hex[16] = "0123456789abcdef";

#define V16 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1
#define C32 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, \
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
const unsigned char nc_json_verbatim[2][128] = {
    {C32, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, V16, V16,
     1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, V16, V16},
    {C32, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, V16, V16,
     1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, V16,
     1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0},
};
#undef V16
#undef C32

/* The most bytes one code point can become: an astral char under
 * ensure_ascii is two \uXXXX escapes. */
#define MAX_PER_CHAR 12

#if NC_JSON_HAVE_CLEAN16
/* Sixteen bytes at a time with json.h's block check: the index of the first
 * byte below 0x20, '"', '\\' or (ensure_ascii) DEL in s[0:n], or the length
 * of the whole 16-byte blocks scanned clean.  Bytes >= 0x80 pass (UTF-8). */
static inline Py_ssize_t
clean_blocks(const unsigned char *s, Py_ssize_t n, int ensure_ascii)
{
    const __m128i del = _mm_set1_epi8(ensure_ascii ? 0x7f : '"');
    Py_ssize_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
        int m = _mm_movemask_epi8(nc_json_bad16(x, del));
        if (m != 0)
            return i + __builtin_ctz((unsigned)m);
    }
    return i;
}
#else
static inline Py_ssize_t
clean_blocks(const unsigned char *s, Py_ssize_t n, int ensure_ascii)
{
    (void)s;
    (void)n;
    (void)ensure_ascii;
    return 0;
}
#endif

/* Length of the prefix of the ASCII bytes s[0:n] that is copied verbatim:
 * blocks, then words (json.h's word check, exact on bytes < 0x80), then the
 * bytes of the first dirty word one by one. */
static Py_ssize_t
ascii_clean_prefix(const unsigned char *s, Py_ssize_t n, int ensure_ascii)
{
    Py_ssize_t i = clean_blocks(s, n, ensure_ascii);
    for (; i + 8 <= n; i += 8) {
        uint64_t x;
        memcpy(&x, s + i, 8);
        if (nc_json_ascii_word_dirty(x, ensure_ascii))
            break;
    }
    for (; i < n; i++) {
        unsigned char c = s[i];
        if (nc_json_esc[c] != 0 || (ensure_ascii && c == 0x7f))
            return i;
    }
    return n;
}

/* As nc_json_ascii_word_dirty without ensure_ascii, for UTF-8 bytes (high
 * bytes pass). */
static inline int
utf8_word_dirty(uint64_t x)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    uint64_t q = x ^ (ones * '"'), b = x ^ (ones * '\\');
    uint64_t bad = ((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((b - ones) & ~b);
    return (bad & highs) != 0;
}

/* Worst-case output of n bytes escaped in place (every byte a \u00XX),
 * and the largest n for which that product does not overflow. */
#define ESCAPED_MAX(n) (6 * (n))
#define ESCAPED_N_MAX (PY_SSIZE_T_MAX / 8)

#if NC_JSON_HAVE_CLEAN16
/* The JSON text of the bytes s[0:n] (UTF-8 or ASCII; bytes >= 0x80 pass,
 * ensure_ascii escapes DEL too) straight to out, which must have room for
 * ESCAPED_MAX(n) bytes; returns the end.  Sixteen bytes are checked and
 * stored at a time, clean or not: where a block holds a byte to escape,
 * the bytes before it stand and the escape and what follows overwrite the
 * rest of the store -- from out, at least n - i + 1 bytes follow (the
 * escape is two bytes or more for one), which is more than the 16 stored,
 * so no byte past the text is ever written (dumps_into: the caller's).
 * A string with escapes (a tweet's "\n") is one pass, where write_utf8
 * copies it in pieces of one nc_jw_write each.  The last n % 16 bytes go
 * in overlapping words, or byte by byte when one of them needs escaping. */
static char *
escape_direct(char *out, const unsigned char *s, Py_ssize_t n, int ensure_ascii)
{
    const __m128i del = _mm_set1_epi8(ensure_ascii ? 0x7f : '"');
    Py_ssize_t i = 0;
    while (n - i >= 16) {
        /* long clean runs 64 bytes a round, one test for four blocks */
        while (n - i >= 64) {
            __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
            __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(s + i + 16));
            __m128i c = _mm_loadu_si128((const __m128i *)(const void *)(s + i + 32));
            __m128i d = _mm_loadu_si128((const __m128i *)(const void *)(s + i + 48));
            __m128i bad = _mm_or_si128(_mm_or_si128(nc_json_bad16(a, del), nc_json_bad16(b, del)),
                                       _mm_or_si128(nc_json_bad16(c, del), nc_json_bad16(d, del)));
            if (_mm_movemask_epi8(bad) != 0)
                break;
            _mm_storeu_si128((__m128i *)(void *)out, a);
            _mm_storeu_si128((__m128i *)(void *)(out + 16), b);
            _mm_storeu_si128((__m128i *)(void *)(out + 32), c);
            _mm_storeu_si128((__m128i *)(void *)(out + 48), d);
            out += 64;
            i += 64;
        }
        if (n - i < 16)
            break;
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
        unsigned m = (unsigned)_mm_movemask_epi8(nc_json_bad16(x, del));
        _mm_storeu_si128((__m128i *)(void *)out, x);
        if (m == 0) {
            out += 16;
            i += 16;
            continue;
        }
        unsigned j = (unsigned)__builtin_ctz(m);
        out = nc_json_put_ascii_escape(out + j, s[i + j]);
        i += j + 1;
    }
    Py_ssize_t r = n - i;
    if (r >= 8) {
        uint64_t a, b;
        memcpy(&a, s + i, 8);
        memcpy(&b, s + n - 8, 8);
        if (!utf8_word_dirty(a) && !utf8_word_dirty(b) &&
            !(ensure_ascii && (nc_json_ascii_word_dirty(a, 1) || nc_json_ascii_word_dirty(b, 1)))) {
            memcpy(out, &a, 8);
            memcpy(out + r - 8, &b, 8);
            return out + r;
        }
    }
    for (; i < n; i++) {
        unsigned char c = s[i];
        if (c >= 0x80 || (nc_json_esc[c] == 0 && !(ensure_ascii && c == 0x7f)))
            *out++ = (char)c;
        else
            out = nc_json_put_ascii_escape(out, c);
    }
    return out;
}
#endif

/* Already-valid UTF-8 (a str's cached representation): copy clean runs,
 * escape the ASCII specials.  Only for ensure_ascii=0. */
static int
write_utf8(nc_jw *w, const unsigned char *s, Py_ssize_t n)
{
    Py_ssize_t i = 0;
#if NC_JSON_HAVE_CLEAN16
    /* the common case, room for the worst: one pass */
    if (n <= ESCAPED_N_MAX && nc_jw_room(w) >= ESCAPED_MAX(n)) {
#if NC_JSON_HAVE_WIDE
        if (nc_json_wide == NC_WIDE_AVX512) {
            w->p = nc_json_wide_escape(w->p, s, n, 0);
            return 0;
        }
#endif
        w->p = escape_direct(w->p, s, n, 0);
        return 0;
    }
#endif
    while (i < n) {
        Py_ssize_t j = i + clean_blocks(s + i, n - i, 0);
        for (; j + 8 <= n; j += 8) {
            uint64_t x;
            memcpy(&x, s + j, 8);
            if (utf8_word_dirty(x))
                break;
        }
        while (j < n && (s[j] >= 0x80 || nc_json_esc[s[j]] == 0))
            j++;
        if (j > i && nc_jw_write(w, (const char *)s + i, j - i) < 0)
            return -1;
        if (j == n)
            break;
        char tmp[6];
        char *e = nc_json_put_ascii_escape(tmp, s[j]);
        if (nc_jw_write(w, tmp, e - tmp) < 0)
            return -1;
        i = j + 1;
    }
    return 0;
}

/* The copying part of try_utf8_whole below: the n bytes of a str's cached
 * UTF-8 (valid, not all ASCII) to out (no quotes) when none needs an
 * escape, 1; else 0, and out[0:n] may then hold garbage, which the
 * escaping writer the caller falls back to overwrites (the escaped text
 * starts at or before out and is longer).  Short strings as overlapping
 * words, as in nc_json_try_ascii_wrapped (json.h).  Also used on its own by
 * json_encode.c's dict run (nc_json_utf8_put). */
static inline int
utf8_put(char *out, const unsigned char *s, Py_ssize_t n)
{
#if NC_JSON_HAVE_CLEAN16
    if (n >= 16) {
        /* under 64 bytes the SSE2 blocks stay inline here: the call and
         * the wide copy's branches on the length cost more there (300
         * short dicts of cached non-ASCII strings of 16-63 bytes: 8.3 us
         * with the wide copy from 16 bytes on, 7.7 from 64) */
        if (n < 64)
            return nc_json_copy_clean16to64(out, s, n, 0);
#if NC_JSON_HAVE_WIDE
        if (nc_json_wide)
            return nc_json_wide_copy_clean(out, s, n, 0);
#endif
        return nc_json_copy_clean16(out, s, n, 0);
    }
    else
#endif
    if (n >= 8) {
        Py_ssize_t i = 0;
        uint64_t x;
        for (; i + 8 <= n; i += 8) {
            memcpy(&x, s + i, 8);
            if (utf8_word_dirty(x))
                return 0;
            memcpy(out + i, &x, 8);
        }
        if (i < n) {   /* the tail as one word overlapping the last */
            memcpy(&x, s + n - 8, 8);
            if (utf8_word_dirty(x))
                return 0;
            memcpy(out + n - 8, &x, 8);
        }
    }
    else if (n >= 4) {   /* two overlapping halves checked as one word */
        uint32_t lo, hi;
        memcpy(&lo, s, 4);
        memcpy(&hi, s + n - 4, 4);
        if (utf8_word_dirty(lo | ((uint64_t)hi << 32)))
            return 0;
        memcpy(out, &lo, 4);
        memcpy(out + n - 4, &hi, 4);
    }
    else {
        for (Py_ssize_t i = 0; i < n; i++) {
            unsigned char c = s[i];
            if (c < 0x80 && nc_json_esc[c] != 0)
                return 0;
            out[i] = (char)c;
        }
    }
    return 1;
}

int
nc_json_utf8_put(char *out, const unsigned char *s, Py_ssize_t n)
{
    return utf8_put(out, s, n);
}

/* A str's cached UTF-8 (valid, not all ASCII) as the whole literal, quotes
 * included, under one room check: the words of a short one overlap as in
 * nc_json_try_ascii_wrapped (json.h), so a 5-to-15-byte string is two loads,
 * two checks and two stores where write_utf8 would go byte by byte and
 * write the quotes and the text in three calls.  Writes exactly n + 2 bytes;
 * returns 1, or 0 having written nothing (no room, or something to escape:
 * write_utf8 then takes it). */
static inline int
try_utf8_whole(nc_jw *w, const unsigned char *s, Py_ssize_t n)
{
    if (nc_jw_room(w) < n + 2)
        return 0;
    char *out = w->p + 1;
    if (!utf8_put(out, s, n))
        return 0;
    out[-1] = '"';
    out[n] = '"';
    w->p = out + n + 1;
    return 1;
}

static int
write_ascii(nc_jw *w, const unsigned char *s, Py_ssize_t n, int ensure_ascii)
{
    Py_ssize_t i = 0;
#if NC_JSON_HAVE_CLEAN16
    if (n <= ESCAPED_N_MAX && nc_jw_room(w) >= ESCAPED_MAX(n)) {
#if NC_JSON_HAVE_WIDE
        if (nc_json_wide == NC_WIDE_AVX512) {
            w->p = nc_json_wide_escape(w->p, s, n, ensure_ascii);
            return 0;
        }
#endif
        w->p = escape_direct(w->p, s, n, ensure_ascii);
        return 0;
    }
#endif
    while (i < n) {
        Py_ssize_t run = ascii_clean_prefix(s + i, n - i, ensure_ascii);
        if (run && nc_jw_write(w, (const char *)s + i, run) < 0)
            return -1;
        i += run;
        if (i == n)
            break;
        char tmp[6];
        char *e = nc_json_put_ascii_escape(tmp, s[i]);
        if (nc_jw_write(w, tmp, e - tmp) < 0)
            return -1;
        i++;
    }
    return 0;
}

void
nc_json_raise_surrogate(PyObject *str, Py_ssize_t i)
{
    Py_ssize_t n = PyUnicode_GET_LENGTH(str), j = i + 1;
    while (j < n && Py_UNICODE_IS_SURROGATE(PyUnicode_READ_CHAR(str, j)))
        j++;
    PyObject *exc = PyObject_CallFunction(PyExc_UnicodeEncodeError, "sOnns", "utf-8", str,
                                          i, j, "surrogates not allowed");
    if (exc != NULL) {
        PyErr_SetObject(PyExc_UnicodeEncodeError, exc);
        Py_DECREF(exc);
    }
}

/* One non-ASCII-path code point; NULL on a lone surrogate without
 * ensure_ascii (the caller raises). */
static inline __attribute__((always_inline)) char *
put_char(char *out, Py_UCS4 c, int ensure_ascii)
{
    if (c < 0x80) {
        if (nc_json_esc[c] == 0 && !(ensure_ascii && c == 0x7f)) {
            *out = (char)c;
            return out + 1;
        }
        return nc_json_put_ascii_escape(out, c);
    }
    if (ensure_ascii) {
        if (c >= 0x10000) {
            Py_UCS4 v = c - 0x10000;
            out = nc_json_put_u(out, 0xd800 | (v >> 10));
            return nc_json_put_u(out, 0xdc00 | (v & 0x3ff));
        }
        return nc_json_put_u(out, c);
    }
    if (c < 0x800) {
        out[0] = (char)(0xc0 | (c >> 6));
        out[1] = (char)(0x80 | (c & 0x3f));
        return out + 2;
    }
    if (c < 0x10000) {
        if (Py_UNICODE_IS_SURROGATE(c))
            return NULL;
        out[0] = (char)(0xe0 | (c >> 12));
        out[1] = (char)(0x80 | ((c >> 6) & 0x3f));
        out[2] = (char)(0x80 | (c & 0x3f));
        return out + 3;
    }
    out[0] = (char)(0xf0 | (c >> 18));
    out[1] = (char)(0x80 | ((c >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((c >> 6) & 0x3f));
    out[3] = (char)(0x80 | (c & 0x3f));
    return out + 4;
}

/* A lone surrogate at str[i]: raise now, or remember the first one and let
 * the caller write it as 'surrogatepass' bytes (see json.h). */
static int
surrogate_seen(nc_jw *w, PyObject *str, Py_ssize_t i)
{
    if (!w->defer_surrogates) {
        nc_json_raise_surrogate(str, i);
        return -1;
    }
    if (w->bad_str == NULL) {
        w->bad_str = Py_NewRef(str);
        w->bad_pos = i;
    }
    return 0;
}

static inline char *
put_surrogate(char *out, Py_UCS4 c)
{
    out[0] = (char)(0xe0 | (c >> 12));
    out[1] = (char)(0x80 | ((c >> 6) & 0x3f));
    out[2] = (char)(0x80 | (c & 0x3f));
    return out + 3;
}

/* A clean ASCII word of a 1-byte-kind string: when the next eight chars
 * are all ASCII and need no escape, copy them to out and return 1. */
static inline int
ascii_word_1(const Py_UCS1 *s, char *out, int ensure_ascii)
{
    uint64_t x;
    memcpy(&x, s, 8);
    if ((x & 0x8080808080808080ULL) || nc_json_ascii_word_dirty(x, ensure_ascii))
        return 0;
    memcpy(out, &x, 8);
    return 1;
}

/* The most bytes one code point can become without ensure_ascii: a control
 * char's \u00XX. */
#define MAX_PER_CHAR_UTF8 6

/* The UTF-8 hot loop of a string without ensure_ascii: encode chars from
 * *pp while they need no escape and are not surrogates; stop at the first
 * that does (or at stop) and leave *pp there.  Kept apart from the rare
 * cases so the loop stays in registers.  Strings go a block at a time
 * where the CPU allows (json_utf8.c), and per char here for the rest of a
 * block that was not clean; the per-char loop branches on each
 * char's UTF-8 length, which mixed scripts make unpredictable.  (Four-chars
 * SWAR variants for ASCII and 2-byte runs were measured slower on mixed
 * text: the failed attempts cost more than the runs saved.) */
#define DEFINE_PLAIN_RUN(NAME, T, BLOCKS, BLOCK)                                       \
static inline char *                                                                   \
NAME(const T **pp, const T *stop, const T *send, char *out)                            \
{                                                                                      \
    const T *p = *pp;                                                                  \
    (void)send;   /* only the block runs use it (none with NC_NO_SIMD) */              \
    for (;;) {                                                                         \
        const T *lim = stop;                                                           \
        if (BLOCK > 0 && nc_json_utf8_blocks) {                                        \
            out = BLOCKS(&p, stop, send, out);                                         \
            if (stop - p > BLOCK)                                                      \
                lim = p + BLOCK;   /* the block that was not clean */                  \
        }                                                                              \
        while (p < lim) {                                                              \
            Py_UCS4 c = *p;                                                            \
            if (c < 0x80) {                                                            \
                if (nc_json_esc[c] != 0)                                               \
                    goto done;                                                         \
                *out++ = (char)c;                                                      \
            }                                                                          \
            else if (c < 0x800) {                                                      \
                out[0] = (char)(0xc0 | (c >> 6));                                      \
                out[1] = (char)(0x80 | (c & 0x3f));                                    \
                out += 2;                                                              \
            }                                                                          \
            else if (sizeof(T) == 2 || c < 0x10000) {                                  \
                if (Py_UNICODE_IS_SURROGATE(c))                                        \
                    goto done;                                                         \
                out[0] = (char)(0xe0 | (c >> 12));                                     \
                out[1] = (char)(0x80 | ((c >> 6) & 0x3f));                             \
                out[2] = (char)(0x80 | (c & 0x3f));                                    \
                out += 3;                                                              \
            }                                                                          \
            else {                                                                     \
                out[0] = (char)(0xf0 | (c >> 18));                                     \
                out[1] = (char)(0x80 | ((c >> 12) & 0x3f));                            \
                out[2] = (char)(0x80 | ((c >> 6) & 0x3f));                             \
                out[3] = (char)(0x80 | (c & 0x3f));                                    \
                out += 4;                                                              \
            }                                                                          \
            p++;                                                                       \
        }                                                                              \
        if (p == stop)                                                                 \
            break;                                                                     \
    }                                                                                  \
done:                                                                                  \
    *pp = p;                                                                           \
    return out;                                                                        \
}

#define NO_BLOCKS(pp, stop, send, out) (out)
#if NC_JSON_HAVE_UTF8_BLOCKS
#define RUN1_BLOCKS nc_json_utf8_run1
#define RUN2_BLOCKS nc_json_utf8_run2
#define RUN4_BLOCKS nc_json_utf8_run4
#define RUN1_BLOCK 16
#define RUN2_BLOCK 8
#define RUN4_BLOCK 4
#else
#define RUN1_BLOCKS NO_BLOCKS
#define RUN2_BLOCKS NO_BLOCKS
#define RUN4_BLOCKS NO_BLOCKS
#define RUN1_BLOCK 0
#define RUN2_BLOCK 0
#define RUN4_BLOCK 0
#endif

/* 1-byte strings take plain_run1 only with the block runs: without them
 * their eight-at-a-time ASCII words below are faster. */
DEFINE_PLAIN_RUN(plain_run1, Py_UCS1, RUN1_BLOCKS, RUN1_BLOCK)
DEFINE_PLAIN_RUN(plain_run2, Py_UCS2, RUN2_BLOCKS, RUN2_BLOCK)
DEFINE_PLAIN_RUN(plain_run4, Py_UCS4, RUN4_BLOCKS, RUN4_BLOCK)

/* Encode [i, n) of a 1/2/4-byte-kind string.  Runs of chars that fit the
 * room at worst-case size go without bounds checks (the room is checked once
 * per run, not per char).  Without ensure_ascii the plain run above takes
 * everything but escapes and surrogates (in a 1-byte string only with the
 * block runs); otherwise clean ASCII in a 1-byte string goes eight chars at
 * a time.  Near the end of the room one char at a time goes through a
 * local array so the room is filled exactly (json.h). */
#define DEFINE_WRITE_KIND(NAME, T, PLAIN, USE_PLAIN, ensure_ascii)                    \
static int                                                                             \
NAME(nc_jw *w, PyObject *str, const T *s, Py_ssize_t n)                                \
{                                                                                      \
    const Py_ssize_t maxper = ensure_ascii ? MAX_PER_CHAR : MAX_PER_CHAR_UTF8;         \
    Py_ssize_t i = 0;                                                                  \
    while (i < n) {                                                                    \
        Py_ssize_t chunk = nc_jw_room(w) / maxper;                                     \
        if (chunk > n - i)                                                             \
            chunk = n - i;                                                             \
        if (chunk > 0) {                                                               \
            char *out = w->p;                                                          \
            const T *p = s + i, *stop = p + chunk;                                      \
            const T *next_word = p;                                                    \
            while (p < stop) {                                                         \
                if (USE_PLAIN && !ensure_ascii &&                                      \
                    (sizeof(T) > 1 || nc_json_utf8_blocks)) {                          \
                    out = PLAIN(&p, stop, s + n, out);                                 \
                    if (p == stop)                                                     \
                        break;                                                         \
                }                                                                      \
                Py_UCS4 c = *p;                                                        \
                if (c < 0x80) {                                                        \
                    /* after a word that was not clean, go char by char to \
                     * its end before trying again */                          \
                    if (sizeof(T) == 1 && p >= next_word && stop - p >= 8) {           \
                        if (ascii_word_1((const Py_UCS1 *)p, out, ensure_ascii)) {     \
                            p += 8;                                                    \
                            out += 8;                                                  \
                            continue;                                                  \
                        }                                                              \
                        next_word = p + 8;                                             \
                    }                                                                  \
                    p++;                                                               \
                    if (nc_json_esc[c] == 0 && !(ensure_ascii && c == 0x7f))           \
                        *out++ = (char)c;                                              \
                    else                                                               \
                        out = nc_json_put_ascii_escape(out, c);                        \
                    continue;                                                          \
                }                                                                      \
                p++;                                                                   \
                if (ensure_ascii) {                                                    \
                    out = put_char(out, c, 1);                                         \
                    continue;                                                          \
                }                                                                      \
                if (c < 0x800) {                                                       \
                    out[0] = (char)(0xc0 | (c >> 6));                                  \
                    out[1] = (char)(0x80 | (c & 0x3f));                                \
                    out += 2;                                                          \
                    continue;                                                          \
                }                                                                      \
                if (sizeof(T) == 4 && c >= 0x10000) {                                  \
                    out[0] = (char)(0xf0 | (c >> 18));                                 \
                    out[1] = (char)(0x80 | ((c >> 12) & 0x3f));                        \
                    out[2] = (char)(0x80 | ((c >> 6) & 0x3f));                         \
                    out[3] = (char)(0x80 | (c & 0x3f));                                \
                    out += 4;                                                          \
                    continue;                                                          \
                }                                                                      \
                if (Py_UNICODE_IS_SURROGATE(c)) {                                      \
                    if (surrogate_seen(w, str, p - 1 - s) < 0) {                       \
                        w->p = out;                                                    \
                        return -1;                                                     \
                    }                                                                  \
                }                                                                      \
                out[0] = (char)(0xe0 | (c >> 12));                                     \
                out[1] = (char)(0x80 | ((c >> 6) & 0x3f));                             \
                out[2] = (char)(0x80 | (c & 0x3f));                                    \
                out += 3;                                                              \
            }                                                                          \
            w->p = out;                                                                \
            i += chunk;                                                                \
            continue;                                                                  \
        }                                                                              \
        char tmp[MAX_PER_CHAR];                                                        \
        char *e = put_char(tmp, s[i], ensure_ascii);                                   \
        if (e == NULL) {                                                               \
            if (surrogate_seen(w, str, i) < 0)                                         \
                return -1;                                                             \
            e = put_surrogate(tmp, s[i]);                                              \
        }                                                                              \
        if (nc_jw_write(w, tmp, e - tmp) < 0)                                          \
            return -1;                                                                 \
        i++;                                                                           \
    }                                                                                  \
    return 0;                                                                          \
}

/* One instance per kind and ensure_ascii mode, so the mode is a constant in
 * the per-char loop. */
DEFINE_WRITE_KIND(write_ucs1, Py_UCS1, plain_run1, 1, 0)
DEFINE_WRITE_KIND(write_ucs2, Py_UCS2, plain_run2, 1, 0)
DEFINE_WRITE_KIND(write_ucs4, Py_UCS4, plain_run4, 1, 0)
DEFINE_WRITE_KIND(write_ucs1_ea, Py_UCS1, plain_run1, 0, 1)
DEFINE_WRITE_KIND(write_ucs2_ea, Py_UCS2, plain_run2, 0, 1)
DEFINE_WRITE_KIND(write_ucs4_ea, Py_UCS4, plain_run4, 0, 1)

/* The str as the holder of a UTF-8 form CPython has already cached
 * (someone called PyUnicode_AsUTF8 on it before), when that form is what
 * is written: no ensure_ascii, not an ASCII str; else NULL.  We read that
 * cache, never create it. */
static inline PyCompactUnicodeObject *
cached_utf8(PyObject *s, int ensure_ascii)
{
#if NC_JSON_UTF8_CACHE
    if (!ensure_ascii && !PyUnicode_IS_ASCII(s) && ((PyCompactUnicodeObject *)s)->utf8 != NULL)
        return (PyCompactUnicodeObject *)s;
#else
    (void)s;
    (void)ensure_ascii;
#endif
    return NULL;
}

/* Everything but the two fast paths of nc_json_write_str: escapes, strs
 * without a UTF-8 cache, ensure_ascii, no room.  Apart so that the fast
 * paths' function stays small (few registers to save per string). */
int __attribute__((noinline))
nc_json_write_str_general(nc_jw *w, PyObject *s, int ensure_ascii)
{
    Py_ssize_t n = PyUnicode_GET_LENGTH(s);
    const void *data = PyUnicode_DATA(s);
    int rc;
    if (nc_jw_byte(w, '"') < 0)
        return -1;
#if NC_JSON_UTF8_CACHE
    PyCompactUnicodeObject *c = cached_utf8(s, ensure_ascii);
    if (c != NULL) {
        if (write_utf8(w, (const unsigned char *)c->utf8, c->utf8_length) < 0)
            return -1;
        return nc_jw_byte(w, '"');
    }
#endif
    switch (PyUnicode_KIND(s)) {
    case PyUnicode_1BYTE_KIND:
        rc = PyUnicode_IS_ASCII(s) ? write_ascii(w, data, n, ensure_ascii)
             : ensure_ascii        ? write_ucs1_ea(w, s, data, n)
                                   : write_ucs1(w, s, data, n);
        break;
    case PyUnicode_2BYTE_KIND:
        rc = ensure_ascii ? write_ucs2_ea(w, s, data, n) : write_ucs2(w, s, data, n);
        break;
    default:
        rc = ensure_ascii ? write_ucs4_ea(w, s, data, n) : write_ucs4(w, s, data, n);
        break;
    }
    if (rc < 0)
        return -1;
    return nc_jw_byte(w, '"');
}

/* Everything but a long cached UTF-8 under AVX2/AVX-512. */
static int __attribute__((noinline))
write_str(nc_jw *w, PyObject *s, int ensure_ascii)
{
    if (nc_json_try_ascii(w, s, ensure_ascii))
        return 0;
#if NC_JSON_UTF8_CACHE
    /* a cached UTF-8 form is copied from there: no allocation, and the
     * bytes are known-valid UTF-8 */
    PyCompactUnicodeObject *c = cached_utf8(s, ensure_ascii);
    if (c != NULL) {
        if (try_utf8_whole(w, (const unsigned char *)c->utf8, c->utf8_length))
            return 0;
    }
#endif
    return nc_json_write_str_general(w, s, ensure_ascii);
}

/* A few tests and a jump: the long cached UTF-8 goes to json_wide.c's
 * writer without the prologue of write_str's short-string paths (six
 * saved registers): 1,000 cached strings of 150-250 bytes 8.1 -> 7.2 ns
 * each with AVX-512, 9.0 -> 7.5 with AVX2. */
int
nc_json_write_str(nc_jw *w, PyObject *s, int ensure_ascii)
{
#if NC_JSON_UTF8_CACHE && NC_JSON_HAVE_WIDE
    PyCompactUnicodeObject *c = cached_utf8(s, ensure_ascii);
    if (nc_json_wide && c != NULL && c->utf8_length >= 64)
        return nc_json_wide_write_cached(w, s);
#endif
    return write_str(w, s, ensure_ascii);
}
