/* json_utf8.c -- Latin-1/UCS-2/UCS-4 to UTF-8 a block at a time (see
 * json_utf8.h for the contract).
 *
 * One lane holds one code point c.  Its UTF-8 bytes are built in place at
 * the high end of the lane, in memory order, without a branch on the
 * length: the 6-bit groups of c are spread one per byte,
 *     y = c>>18 | (c>>12 & 63) << 8 | (c>>6 & 63) << 16 | (c & 63) << 24,
 * and the lead/continuation marks are ORed on by length:
 *     2 bytes  0x80C00000   (bytes 2..3)
 *     3 bytes  0x8080E000   (bytes 1..3)
 *     4 bytes  0x808080F0   (bytes 0..3),
 * which is (c >= 0x80) & 0x80C00000 ^ (c >= 0x800) & 0x0040E000
 * ^ (c >= 0x10000) & 0x000060F0 with all-ones comparison masks.  An ASCII
 * lane is c << 24.  The four lengths (2 bits each) index a table of byte
 * shuffles that keeps the last `length` bytes of every lane, in order. */
#include "json_utf8.h"

#if NC_JSON_HAVE_UTF8_BLOCKS
#include <tmmintrin.h>

int nc_json_utf8_blocks = 0;
static int cpu_has_ssse3 = 0;

/* [lengths index] -> pshufb mask, and the packed length in pack_len. */
static uint8_t pack_shuffle[256][16] __attribute__((aligned(16)));
static uint8_t pack_len[256];

#define SSSE3 __attribute__((target("ssse3")))

/* Chars of the string that must follow a block stored straight to out: a
 * 16-byte store of n >= 4 bytes leaves at most 12 spare bytes, and every
 * later char writes at least one byte over them. */
#define COVER 12

static inline SSSE3 int
bad4(__m128i c)
{
    /* '"', '\\', below 0x20, or a surrogate (D800..DFFF) */
    __m128i bad = _mm_or_si128(_mm_cmpeq_epi32(c, _mm_set1_epi32('"')),
                               _mm_cmpeq_epi32(c, _mm_set1_epi32('\\')));
    bad = _mm_or_si128(bad, _mm_cmplt_epi32(c, _mm_set1_epi32(0x20)));
    bad = _mm_or_si128(bad, _mm_cmpeq_epi32(_mm_and_si128(c, _mm_set1_epi32((int)0xfffff800)),
                                            _mm_set1_epi32(0xd800)));
    return _mm_movemask_epi8(bad);
}

/* Four clean code points (lanes of c, all <= 0x10FFFF) as UTF-8 at out:
 * stores 16 bytes, returns out + the UTF-8 length. */
static inline SSSE3 char *
put4(__m128i c, char *out)
{
    const __m128i m2 = _mm_cmpgt_epi32(c, _mm_set1_epi32(0x7f));
    const __m128i m3 = _mm_cmpgt_epi32(c, _mm_set1_epi32(0x7ff));
    const __m128i m4 = _mm_cmpgt_epi32(c, _mm_set1_epi32(0xffff));
    const __m128i six = _mm_set1_epi32(0x3f);
    __m128i y = _mm_or_si128(
        _mm_or_si128(_mm_slli_epi32(_mm_and_si128(c, six), 24),
                     _mm_and_si128(_mm_slli_epi32(c, 10), _mm_set1_epi32(0x003f0000))),
        _mm_or_si128(_mm_and_si128(_mm_srli_epi32(c, 4), _mm_set1_epi32(0x3f00)),
                     _mm_srli_epi32(c, 18)));
    __m128i marks = _mm_xor_si128(
        _mm_and_si128(m2, _mm_set1_epi32((int)0x80c00000)),
        _mm_xor_si128(_mm_and_si128(m3, _mm_set1_epi32(0x0040e000)),
                      _mm_and_si128(m4, _mm_set1_epi32(0x000060f0))));
    __m128i v = _mm_or_si128(_mm_and_si128(m2, _mm_or_si128(y, marks)),
                             _mm_andnot_si128(m2, _mm_slli_epi32(c, 24)));
    /* length - 1 per lane (0..3), packed to bytes, then 2 bits per lane */
    __m128i l = _mm_sub_epi32(_mm_setzero_si128(), _mm_add_epi32(_mm_add_epi32(m2, m3), m4));
    l = _mm_packus_epi16(_mm_packs_epi32(l, l), l);
    uint32_t x = (uint32_t)_mm_cvtsi128_si32(l);
    x |= x >> 6;
    unsigned idx = (x | x >> 12) & 0xff;
    __m128i shuf = _mm_load_si128((const __m128i *)(const void *)pack_shuffle[idx]);
    _mm_storeu_si128((__m128i *)(void *)out, _mm_shuffle_epi8(v, shuf));
    return out + pack_len[idx];
}

/* Eight UCS-2 units: any '"', '\\', control char or surrogate. */
static inline SSSE3 int
bad8(__m128i c)
{
    __m128i bad = _mm_or_si128(_mm_cmpeq_epi16(c, _mm_set1_epi16('"')),
                               _mm_cmpeq_epi16(c, _mm_set1_epi16('\\')));
    /* unsigned c <= 0x1f  <=>  c -sat 0x1f == 0 */
    bad = _mm_or_si128(bad, _mm_cmpeq_epi16(_mm_subs_epu16(c, _mm_set1_epi16(0x1f)),
                                            _mm_setzero_si128()));
    bad = _mm_or_si128(bad, _mm_cmpeq_epi16(_mm_and_si128(c, _mm_set1_epi16((short)0xf800)),
                                            _mm_set1_epi16((short)0xd800)));
    return _mm_movemask_epi8(bad);
}

static inline SSSE3 char *
put8(__m128i c, char *out)
{
    out = put4(_mm_unpacklo_epi16(c, _mm_setzero_si128()), out);
    return put4(_mm_unpackhi_epi16(c, _mm_setzero_si128()), out);
}

/* Sixteen Latin-1 chars: any '"', '\\' or control char (>= 0x80 are all
 * plain in Latin-1: no surrogates there). */
static inline SSSE3 int
bad16(__m128i c)
{
    __m128i bad = _mm_or_si128(_mm_cmpeq_epi8(c, _mm_set1_epi8('"')),
                               _mm_cmpeq_epi8(c, _mm_set1_epi8('\\')));
    bad = _mm_or_si128(bad, _mm_cmpeq_epi8(_mm_min_epu8(c, _mm_set1_epi8(0x1f)), c));
    return _mm_movemask_epi8(bad);
}

/* An all-ASCII block is its own UTF-8 (one exact store); otherwise its
 * four quarters go through put4. */
static inline SSSE3 char *
put16(__m128i c, char *out)
{
    if (_mm_movemask_epi8(c) == 0) {
        _mm_storeu_si128((__m128i *)(void *)out, c);
        return out + 16;
    }
    const __m128i z = _mm_setzero_si128();
    __m128i lo = _mm_unpacklo_epi8(c, z), hi = _mm_unpackhi_epi8(c, z);
    out = put4(_mm_unpacklo_epi16(lo, z), out);
    out = put4(_mm_unpackhi_epi16(lo, z), out);
    out = put4(_mm_unpacklo_epi16(hi, z), out);
    return put4(_mm_unpackhi_epi16(hi, z), out);
}

/* One run over T units, N a block: straight stores while COVER chars of
 * the string follow the block, then the last blocks through tmp, then an
 * exact copy.  tmp holds them: fewer than N + COVER units are left, i.e.
 * at most 3 UCS-4, 2 UCS-2 or 1 Latin-1 block, whose last 16-byte store
 * ends by byte 48, 52 and 40. */
#define DEFINE_RUN(NAME, T, N, BAD, PUT)                                               \
SSSE3 char *                                                                           \
NAME(const T **pp, const T *stop, const T *send, char *out)                            \
{                                                                                      \
    const T *p = *pp;                                                                  \
    while (stop - p >= N && send - p >= N + COVER) {                                   \
        __m128i c = _mm_loadu_si128((const __m128i *)(const void *)p);                 \
        if (BAD(c))                                                                    \
            goto done;                                                                 \
        out = PUT(c, out);                                                             \
        p += N;                                                                        \
    }                                                                                  \
    if (stop - p >= N) {                                                               \
        char tmp[64], *t = tmp;                                                        \
        while (stop - p >= N) {                                                        \
            __m128i c = _mm_loadu_si128((const __m128i *)(const void *)p);             \
            if (BAD(c))                                                                \
                break;                                                                 \
            t = PUT(c, t);                                                             \
            p += N;                                                                    \
        }                                                                              \
        memcpy(out, tmp, (size_t)(t - tmp));                                           \
        out += t - tmp;                                                                \
    }                                                                                  \
done:                                                                                  \
    *pp = p;                                                                           \
    return out;                                                                        \
}

DEFINE_RUN(nc_json_utf8_run4, Py_UCS4, 4, bad4, put4)
DEFINE_RUN(nc_json_utf8_run2, Py_UCS2, 8, bad8, put8)
DEFINE_RUN(nc_json_utf8_run1, Py_UCS1, 16, bad16, put16)

void
nc_json_utf8_init(void)
{
    for (unsigned idx = 0; idx < 256; idx++) {
        unsigned k = 0;
        for (unsigned lane = 0; lane < 4; lane++) {
            unsigned len = ((idx >> (2 * lane)) & 3) + 1;
            for (unsigned b = 4 - len; b < 4; b++)
                pack_shuffle[idx][k++] = (uint8_t)(4 * lane + b);
        }
        pack_len[idx] = (uint8_t)k;
        for (; k < 16; k++)
            pack_shuffle[idx][k] = 0x80;   /* pshufb: a zero byte */
    }
    __builtin_cpu_init();
    cpu_has_ssse3 = __builtin_cpu_supports("ssse3") != 0;
    nc_json_utf8_blocks = cpu_has_ssse3;
}

int
nc_json_utf8_set_blocks(int on)
{
    int was = nc_json_utf8_blocks;
    if (on >= 0)
        nc_json_utf8_blocks = on && cpu_has_ssse3;
    return was;
}

#else  /* no block runs in this build */

void
nc_json_utf8_init(void)
{
}

int
nc_json_utf8_set_blocks(int on)
{
    return 0;
}

#endif
