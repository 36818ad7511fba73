/* json_wide.c -- a string literal's bytes checked and copied 32 at a time
 * with AVX-512 BW/VL or AVX2 (see json_wide.h for the contract).
 *
 * One step: load 32 bytes, check them (AVX-512: three byte compares, four
 * with ensure_ascii, into one 32-bit mask of the bytes that go verbatim;
 * AVX2: a vector of the bytes to escape), store the 32 bytes.  The copy
 * covers a string with blocks that overlap at its end (every load and store
 * inside it); the AVX-512 escaping writer ends with the same step under the
 * mask of the bytes that exist: the masked load reads nothing past them
 * (and cannot fault there), the masked store writes nothing past them. */
#include "json.h"

#if NC_JSON_HAVE_WIDE
#include <immintrin.h>

int nc_json_wide = 0;
static int cpu_wide = NC_WIDE_OFF;

#define WIDE __attribute__((target("avx512f,avx512bw,avx512vl")))

/* The bytes of x that go verbatim: above 0x1f and not '"' or '\\' (nor
 * DEL under ensure_ascii).  Each compare after the first is masked by the
 * ones before, so the answer stays in one mask register: GCC moved every
 * mask of four ORed compares to a general register to OR them there (eight
 * moves per 64 bytes, slower than the SSE2 loop on 188-byte strings). */
#define DEFINE_GOOD(NAME, VEC, MASK, P)                                                      \
    static inline __attribute__((always_inline)) WIDE MASK                                   \
    NAME(VEC x, int ensure_ascii)                                                            \
    {                                                                                        \
        MASK k = P##_cmpgt_epu8_mask(x, P##_set1_epi8(0x1f));                                \
        k = P##_mask_cmpneq_epi8_mask(k, x, P##_set1_epi8('"'));                             \
        k = P##_mask_cmpneq_epi8_mask(k, x, P##_set1_epi8('\\'));                            \
        if (ensure_ascii)                                                                    \
            k = P##_mask_cmpneq_epi8_mask(k, x, P##_set1_epi8(0x7f));                        \
        return k;                                                                            \
    }

DEFINE_GOOD(good32, __m256i, __mmask32, _mm256)
DEFINE_GOOD(good16, __m128i, __mmask16, _mm)

/* the mask of the first r bytes, 0 < r < 32 */
static inline __mmask32
first(Py_ssize_t r)
{
    return (__mmask32)((1u << (unsigned)r) - 1u);
}

#define ALL ((__mmask32)0xffffffffu)
#define LOAD32(p) _mm256_loadu_si256((const __m256i *)(const void *)(p))
#define STORE32(p, x) _mm256_storeu_si256((__m256i *)(void *)(p), (x))

/* n in [16, 32): two overlapping 16-byte halves (a masked load and store
 * took 4.4 ns a 30-byte string, these 3.7). */
static inline __attribute__((always_inline)) WIDE int
halves_avx512(char *out, const unsigned char *src, Py_ssize_t n, int ensure_ascii)
{
    __m128i a = _mm_loadu_si128((const __m128i *)(const void *)src);
    __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(src + n - 16));
    if ((good16(a, ensure_ascii) & good16(b, ensure_ascii)) != 0xffff)
        return 0;
    _mm_storeu_si128((__m128i *)(void *)out, a);
    _mm_storeu_si128((__m128i *)(void *)(out + n - 16), b);
    return 1;
}

#define AVX512_START ALL
#define AVX512_ADD(k, x, ea) ((k) & good32((x), (ea)))
#define AVX512_CLEAN(k) ((k) == ALL)

/* AVX2: the bytes to escape as a vector of 0xff lanes.  x ^ 2 maps '"'
 * (0x22) to 0x20 and keeps the controls below 0x20, and nothing else lands
 * at or below 0x20, so one unsigned min-compare finds both. */
#define AVX2 __attribute__((target("avx2")))

static inline __attribute__((always_inline)) AVX2 __m256i
bad32_avx2(__m256i x, int ensure_ascii)
{
    __m256i t = _mm256_xor_si256(x, _mm256_set1_epi8(2));
    __m256i bad = _mm256_or_si256(_mm256_cmpeq_epi8(_mm256_min_epu8(t, _mm256_set1_epi8(0x20)), t),
                                  _mm256_cmpeq_epi8(x, _mm256_set1_epi8('\\')));
    if (ensure_ascii)
        bad = _mm256_or_si256(bad, _mm256_cmpeq_epi8(x, _mm256_set1_epi8(0x7f)));
    return bad;
}

/* n in [16, 32): json.h's SSE2 copy, which there is two overlapping
 * 16-byte halves. */
#define halves_avx2 nc_json_copy_clean16

#define AVX2_START _mm256_setzero_si256()
#define AVX2_ADD(acc, x, ea) _mm256_or_si256((acc), bad32_avx2((x), (ea)))
#define AVX2_CLEAN(acc) _mm256_testz_si256((acc), (acc))

/* The copy, for n >= 16, once per instruction set: TARGET, the type and
 * operations of the accumulated check, and the 16-to-31-byte copy.
 * The blocks overlap rather than follow a count of them: a string takes
 * one path for every length in (64, 128], and one round of 128 bytes more
 * per 128 bytes beyond.  Why: a loop of 32-byte blocks and a tail, exact
 * in length, mispredicted its exit on strings whose lengths vary by a block
 * or two (cached UTF-8 texts of 150-250 bytes: 11 ns each against 6.5 at
 * one length, and 9 with the SSE2 loop); so did a split at 192 bytes. */
#define DEFINE_COPY_CLEAN(NAME, TARGET, ACC_T, START, ADD, CLEAN, HALVES)                    \
    static inline __attribute__((always_inline)) TARGET int                                  \
    NAME##_4(char *out, const unsigned char *src, Py_ssize_t a, Py_ssize_t b, Py_ssize_t c,  \
             Py_ssize_t d, int ea)                                                           \
    {                                                                                        \
        __m256i w = LOAD32(src + a), x = LOAD32(src + b), y = LOAD32(src + c),               \
                z = LOAD32(src + d);                                                         \
        ACC_T k = START;                                                                     \
        k = ADD(k, w, ea);                                                                   \
        k = ADD(k, x, ea);                                                                   \
        k = ADD(k, y, ea);                                                                   \
        k = ADD(k, z, ea);                                                                   \
        if (!CLEAN(k))                                                                       \
            return 0;                                                                        \
        STORE32(out + a, w);                                                                 \
        STORE32(out + b, x);                                                                 \
        STORE32(out + c, y);                                                                 \
        STORE32(out + d, z);                                                                 \
        return 1;                                                                            \
    }                                                                                        \
    static inline __attribute__((always_inline)) TARGET int                                  \
    NAME(char *out, const unsigned char *src, Py_ssize_t n, int ea)                          \
    {                                                                                        \
        if (n < 32)                                                                          \
            return HALVES(out, src, n, ea);                                                  \
        if (n <= 64) {                                                                       \
            __m256i a = LOAD32(src), b = LOAD32(src + n - 32);                               \
            ACC_T k = START;                                                                 \
            k = ADD(k, a, ea);                                                               \
            k = ADD(k, b, ea);                                                               \
            if (!CLEAN(k))                                                                   \
                return 0;                                                                    \
            STORE32(out, a);                                                                 \
            STORE32(out + n - 32, b);                                                        \
            return 1;                                                                        \
        }                                                                                    \
        if (n < 128)                                                                         \
            return NAME##_4(out, src, 0, 32, n - 64, n - 32, ea);                            \
        Py_ssize_t i = 0;                                                                    \
        for (; n - i > 128; i += 128)                                                        \
            if (!NAME##_4(out + i, src + i, 0, 32, 64, 96, ea))                              \
                return 0;                                                                    \
        i = n - 128;                                                                         \
        return NAME##_4(out + i, src + i, 0, 32, 64, 96, ea);                                \
    }

DEFINE_COPY_CLEAN(copy_avx512, WIDE, __mmask32, AVX512_START, AVX512_ADD, AVX512_CLEAN,
                  halves_avx512)
DEFINE_COPY_CLEAN(copy_avx2, AVX2, __m256i, AVX2_START, AVX2_ADD, AVX2_CLEAN, halves_avx2)

WIDE int
nc_json_copy_clean_avx512(char *out, const unsigned char *src, Py_ssize_t n, int ensure_ascii)
{
    return ensure_ascii ? copy_avx512(out, src, n, 1) : copy_avx512(out, src, n, 0);
}

AVX2 int
nc_json_copy_clean_avx2(char *out, const unsigned char *src, Py_ssize_t n, int ensure_ascii)
{
    return ensure_ascii ? copy_avx2(out, src, n, 1) : copy_avx2(out, src, n, 0);
}

#if NC_JSON_UTF8_CACHE
/* The cached UTF-8 writer once per level, each with its copy inlined: a
 * call to the copy made this one save five registers. */
#define DEFINE_WRITE_CACHED(NAME, TARGET, COPY)                                               \
    static TARGET int                                                                        \
    NAME(nc_jw *w, PyObject *s)                                                              \
    {                                                                                        \
        PyCompactUnicodeObject *c = (PyCompactUnicodeObject *)s;                             \
        Py_ssize_t n = c->utf8_length;                                                       \
        char *out = w->p + 1;                                                                \
        if (nc_jw_room(w) >= n + 2 && COPY(out, (const unsigned char *)c->utf8, n, 0)) {      \
            out[-1] = '"';                                                                   \
            out[n] = '"';                                                                    \
            w->p = out + n + 1;                                                              \
            return 0;                                                                        \
        }                                                                                    \
        return nc_json_write_str_general(w, s, 0);                                           \
    }

DEFINE_WRITE_CACHED(write_cached_avx512, WIDE, copy_avx512)
DEFINE_WRITE_CACHED(write_cached_avx2, AVX2, copy_avx2)

int
nc_json_wide_write_cached(nc_jw *w, PyObject *s)
{
    return nc_json_wide == NC_WIDE_AVX512 ? write_cached_avx512(w, s) : write_cached_avx2(w, s);
}
#endif

/* The rest of a 32-byte block from byte j on, one byte at a time by its
 * bit in bad (the bytes to escape); returns the end of the text. */
static inline __attribute__((always_inline)) char *
escape_rest(char *out, const unsigned char *s, unsigned j, unsigned end, __mmask32 bad)
{
    for (; j < end; j++)
        out = (bad >> j) & 1 ? nc_json_put_ascii_escape(out, s[j]) : (*out = (char)s[j], out + 1);
    return out;
}

/* A block with a byte to escape is stored whole all the same: the bytes
 * before that byte stand, and its escape and the text after it overwrite
 * the rest -- from that byte on at least n - i + 1 bytes of text follow
 * (the escape is two or more), more than the block's 32 bytes.  One escape
 * in a block: the next block starts after it.  More: the rest of the block
 * goes byte by byte -- each fresh block waits for its load and compares,
 * which made a text of every other byte escaped 20% slower than SSE2. */
static inline __attribute__((always_inline)) WIDE char *
escape(char *out, const unsigned char *s, Py_ssize_t n, int ensure_ascii)
{
    Py_ssize_t i = 0;
    while (n - i >= 32) {
        __m256i a = LOAD32(s + i);
        __mmask32 bad = ~good32(a, ensure_ascii);
        STORE32(out, a);
        if (bad == 0) {
            out += 32;
            i += 32;
            continue;
        }
        unsigned j = (unsigned)__builtin_ctz(bad);
        if ((bad & (bad - 1)) == 0) {
            out = nc_json_put_ascii_escape(out + j, s[i + j]);
            i += j + 1;
            continue;
        }
        out = escape_rest(out + j, s + i, j, 32, bad);
        i += 32;
    }
    if (i == n)
        return out;
    Py_ssize_t r = n - i;
    __mmask32 m = first(r);
    __m256i a = _mm256_maskz_loadu_epi8(m, s + i);
    __mmask32 bad = ~good32(a, ensure_ascii) & m;
    _mm256_mask_storeu_epi8(out, m, a);
    if (bad == 0)
        return out + r;
    unsigned j = (unsigned)__builtin_ctz(bad);
    return escape_rest(out + j, s + i, j, (unsigned)r, bad);
}

WIDE char *
nc_json_wide_escape(char *out, const unsigned char *s, Py_ssize_t n, int ensure_ascii)
{
    return ensure_ascii ? escape(out, s, n, 1) : escape(out, s, n, 0);
}

void
nc_json_wide_init(void)
{
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl"))
        cpu_wide = NC_WIDE_AVX512;
    else if (__builtin_cpu_supports("avx2"))
        cpu_wide = NC_WIDE_AVX2;
    else
        cpu_wide = NC_WIDE_OFF;
    nc_json_wide = cpu_wide;
}

int
nc_json_wide_set(int level)
{
    int was = nc_json_wide;
    if (level >= 0)
        nc_json_wide = level < cpu_wide ? level : cpu_wide;
    return was;
}

#else

void
nc_json_wide_init(void)
{
}

int
nc_json_wide_set(int level)
{
    (void)level;
    return NC_WIDE_OFF;
}

#endif
