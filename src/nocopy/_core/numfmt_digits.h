/* numfmt_digits.h -- decimal digits of integers: the pieces shared by the
 * double formatter (numfmt.c) and the int64 formatter, which lives here as
 * a static inline so the JSON encoder's per-item loop calls no function for
 * an int.  Ownership: none; writes only into the caller's array. */
#ifndef NOCOPY_NUMFMT_DIGITS_H
#define NOCOPY_NUMFMT_DIGITS_H

#include <stdint.h>
#include <string.h>

static const char digits2[200] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

static const uint64_t pow10_table[20] = {
    UINT64_C(1), UINT64_C(10), UINT64_C(100), UINT64_C(1000), UINT64_C(10000),
    UINT64_C(100000), UINT64_C(1000000), UINT64_C(10000000), UINT64_C(100000000),
    UINT64_C(1000000000), UINT64_C(10000000000), UINT64_C(100000000000),
    UINT64_C(1000000000000), UINT64_C(10000000000000), UINT64_C(100000000000000),
    UINT64_C(1000000000000000), UINT64_C(10000000000000000),
    UINT64_C(100000000000000000), UINT64_C(1000000000000000000),
    UINT64_C(10000000000000000000),
};

/* Number of decimal digits of d (1 for 0). */
static inline int
ndigits(uint64_t d)
{
#if defined(__GNUC__) || defined(__clang__)
    /* bits * log10(2) (1233 / 4096) is the digit count or one less; one
     * table compare settles it without a data-dependent loop.  d | 1 has
     * the digit count of d (an odd number is never a power of ten) and
     * keeps 0 at one digit and clz defined. */
    uint64_t x = d | 1;
    int t = ((64 - __builtin_clzll(x)) * 1233) >> 12;
    return t + 1 - (x < pow10_table[t]);
#else
    int n = 1;
    while (n < 20 && d >= pow10_table[n])
        n++;
    return n;
#endif
}

/* Write the digits of d so that they end just before `end`. */
static inline void
write_digits(char *end, uint64_t d)
{
    /* Peel 8 digits at a time so the inner pairs use 32-bit division. */
    while (d >= 100000000) {
        uint32_t low = (uint32_t)(d % 100000000);
        d /= 100000000;
        for (int i = 0; i < 4; i++) {
            end -= 2;
            memcpy(end, digits2 + 2 * (low % 100), 2);
            low /= 100;
        }
    }
    uint32_t r = (uint32_t)d;
    while (r >= 100) {
        end -= 2;
        memcpy(end, digits2 + 2 * (r % 100), 2);
        r /= 100;
    }
    if (r >= 10) {
        end -= 2;
        memcpy(end, digits2 + 2 * r, 2);
    }
    else
        *--end = (char)('0' + r);
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && \
    (defined(__GNUC__) || defined(__clang__))
#define NC_SWAR_DIGITS 1
/* The eight decimal digits of n < 10^8 (leading zeros included) as byte
 * values 0..9 in one word, most significant digit in the lowest byte, i.e.
 * in memory order once stored little-endian.  Three rounds of "divide every
 * lane by 10^k" with multiply-shift reciprocals, each exact on its range:
 *   n / 10^4 = n * 109951163 >> 40 for n < 10^8 (the reciprocal's excess,
 *     0.2224 / 2^40 per unit, adds < 2e-5 to a fraction of at most 0.9999);
 *   x / 100 = x * 10486 >> 20 for 32-bit lanes x < 10^4 (excess < 0.0023
 *     against 0.99; 10^4 * 10486 < 2^32, so no lane spills into the next);
 *   x / 10 = x * 103 >> 10 for 16-bit lanes x < 100 (excess < 0.058
 *     against 0.9; 99 * 103 < 2^16).
 * Also checked for every n < 10^8 against printf during development;
 * tests/test_numfmt.py runs dense ranges around every group boundary. */
static inline uint64_t
swar8(uint32_t n)
{
    uint64_t x = n;
    uint64_t hi4 = (x * 109951163) >> 40;
    uint64_t m = hi4 | ((x - hi4 * 10000) << 32);
    uint64_t hi2 = ((m * 10486) >> 20) & ((UINT64_C(0x7f) << 32) | 0x7f);
    uint64_t h = hi2 | ((m - 100 * hi2) << 16);
    uint64_t hi1 = ((h * 103) >> 10) & UINT64_C(0x000f000f000f000f);
    return hi1 | ((h - 10 * hi1) << 8);
}
#else
#define NC_SWAR_DIGITS 0
#endif

#define ZEROS8 UINT64_C(0x3030303030303030)

/* The digits of u < 10^4: one or two table pairs. */
static inline char *
put_upto4(char *p, uint32_t u)
{
    if (u < 100) {
        if (u < 10) {
            *p = (char)('0' + u);
            return p + 1;
        }
        memcpy(p, digits2 + 2 * u, 2);
        return p + 2;
    }
    uint32_t h = u / 100, l = u - h * 100;
    if (h < 10) {
        *p++ = (char)('0' + h);
    }
    else {
        memcpy(p, digits2 + 2 * h, 2);
        p += 2;
    }
    memcpy(p, digits2 + 2 * l, 2);
    return p + 2;
}

/* Exactly four digits of x < 10^4 (leading zeros kept): two table pairs.
 * x / 100 = x * 5243 >> 19 holds for x < 43699. */
static inline char *
put4(char *p, uint32_t x)
{
    uint32_t a = (x * 5243) >> 19, b = x - a * 100;
    memcpy(p, digits2 + 2 * a, 2);
    memcpy(p + 2, digits2 + 2 * b, 2);
    return p + 4;
}

/* Exactly eight digits of x < 10^8: two independent groups of four
 * (x / 10^4 = x * 109951163 >> 40 for x < 10^8).  Table pairs beat the SWAR
 * word here: the two halves' short chains run side by side, where the
 * word's three multiply rounds are one long chain (measured 25-50% faster
 * for 5- to 9-digit ints). */
static inline char *
put8(char *p, uint32_t x)
{
    uint32_t h = (uint32_t)(((uint64_t)x * 109951163) >> 40), l = x - h * 10000;
    put4(p, h);
    put4(p + 4, l);
    return p + 8;
}

/* The digits of u < 10^8 without leading zeros. */
static inline char *
put_upto8(char *p, uint32_t u)
{
    if (u < 10000)
        return put_upto4(p, u);
    uint32_t h = (uint32_t)(((uint64_t)u * 109951163) >> 40), l = u - h * 10000;
    return put4(put_upto4(p, h), l);
}

static inline int
nc_format_int64(int64_t v, char *out)
{
    char *p = out;
    uint64_t u = (uint64_t)v;
    if (v < 0) {
        *p++ = '-';
        u = 0 - u;                 /* well defined for INT64_MIN too */
    }
    if (u < 100000000)
        return (int)(put_upto8(p, (uint32_t)u) - out);
    uint64_t hi = u / 100000000;
    uint32_t lo = (uint32_t)(u - hi * 100000000);
    if (hi < 100000000) {
        p = put_upto8(p, (uint32_t)hi);
    }
    else {
        uint64_t top = hi / 100000000;   /* < 10^4: u < 2^64 */
        p = put_upto4(p, (uint32_t)top);
        p = put8(p, (uint32_t)(hi - top * 100000000));
    }
    return (int)(put8(p, lo) - out);
}

#endif /* NOCOPY_NUMFMT_DIGITS_H */
