/* numfmt.c -- doubles (shortest round-trip, repr layout) and int64 as decimal
 * text, written into caller memory.
 *
 * Ownership: nothing is allocated or referenced.  Every function writes into
 * the caller's array (sizes in numfmt.h) and returns the byte count.  The
 * file uses no Python API at all, so the JSON encoder may call it in its
 * innermost loop, with or without the GIL.
 *
 * The double formatter follows Schubfach (Raffaello Giulietti, "The Schubfach
 * way to render doubles", 2020), written for nocopy from the paper's argument:
 *
 *   A finite positive double is v = c * 2^q.  Every real in its rounding
 *   interval R = [vl, vr] (open when c is odd, since the decimal reader
 *   rounds half to even) reads back as v.  Pick k so that the interval,
 *   scaled by 10^-k, has a width in [1, 10): then R*10^-k holds at most one
 *   multiple of 10 and at least one integer.  If it holds a multiple of 10,
 *   that is the unique shortest decimal (its trailing zeros go).  Otherwise
 *   the shortest decimals are integers there, and the one closest to v is
 *   floor(v*10^-k) or that plus one.  Python's repr (David Gay's dtoa, mode
 *   0) asks for exactly this: fewest digits, then closest, ties to even.
 *
 *   The scaled bounds are computed as 4 * x * 10^-k from a 126-bit
 *   over-approximation g of a power of ten (numfmt_table.h) and rounded to
 *   odd: the result is floor() when exact and floor() | 1 otherwise.  The
 *   values they are compared with are multiples of 4 (plus 0 or 1), so the
 *   odd marker keeps every "<" and "<=" exactly as on the real numbers,
 *   without ever computing the real products.
 *
 * Most doubles take a shorter road to the same digits: fast_decimal below
 * needs one product where Schubfach needs three, and hands the rare input
 * that lies too near a rounding decision to shortest().
 *
 * Java's reference implementation always emits at least two digits
 * (Double.toString's specification); Python's repr does not ("5e-324",
 * "1e-322"), so the one-digit-shorter candidate is tried for every s here. */
#include <string.h>

#include "numfmt.h"
#include "numfmt_digits.h"
#include "numfmt_table.h"
#if defined(__SSE2__) && !defined(NC_NO_SIMD)
#include <emmintrin.h>
#endif

#define C_MIN (UINT64_C(1) << 52)   /* hidden bit of a normal double */
#define Q_MIN (-1074)               /* exponent of the subnormals' unit */
#define MASK63 ((UINT64_C(1) << 63) - 1)

/* ---- small integer helpers ---------------------------------------------- */

/* floor(x / 2^n) for any sign without relying on >> of negative values. */
static inline int
floor_shift(int64_t x, int n)
{
#if defined(__GNUC__) || defined(__clang__)
    /* GCC and Clang define >> of a negative value as an arithmetic shift,
     * which is the floor; one instruction instead of a branch. */
    return (int)(x >> n);
#endif
    if (x >= 0)
        return (int)(x >> n);
    return (int)(-((-x - 1) >> n) - 1);
}

/* floor(q * log10(2)); exact for the q of finite doubles (generator-checked). */
static inline int
flog10_pow2(int q)
{
    return floor_shift(q * NC_L10P2_A + NC_L10P2_B, NC_L10_SHIFT);
}

/* floor(log10(3/4 * 2^q)): the narrower scale for a power of two, whose
 * lower neighbour is only half as far away as the upper one. */
static inline int
flog10_3q_pow2(int q)
{
    return floor_shift(q * NC_L10TQ_A + NC_L10TQ_B, NC_L10_SHIFT);
}

/* floor(e * log2(10)). */
static inline int
flog2_pow10(int e)
{
    return floor_shift(e * NC_L2P10_A + NC_L2P10_B, NC_L2_SHIFT);
}

/* 64x64 -> 128 multiply: returns the low half, stores the high half. */
static inline uint64_t
umul128(uint64_t a, uint64_t b, uint64_t *hi)
{
#if defined(__SIZEOF_INT128__)
    __extension__ unsigned __int128 p = (unsigned __int128)a * b;
    *hi = (uint64_t)(p >> 64);
    return (uint64_t)p;
#else
    /* Schoolbook on 32-bit halves for compilers without a 128-bit type. */
    uint64_t a0 = (uint32_t)a, a1 = a >> 32, b0 = (uint32_t)b, b1 = b >> 32;
    uint64_t p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
    uint64_t mid = (p00 >> 32) + (uint32_t)p01 + (uint32_t)p10;
    *hi = p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
    return (mid << 32) | (uint32_t)p00;
#endif
}

/* Round-to-odd of g * cp / 2^127 where g = gh * 2^64 + gl (126 bits) and
 * cp < 2^61.  The fraction is judged on its top 63 bits only: g exceeds the
 * true power of ten by less than one unit, so an exact product picks up an
 * error below 2^-66 that must not count as "inexact".  That this is exact
 * for every significand and exponent -- inexact products have a fraction of
 * at least 2^-63 or an odd floor already, and none sits within 2^-66 below
 * an integer -- is proved by tools/gen_numfmt_table.py (verify_round_to_odd),
 * which the test suite runs. */
static inline uint64_t
rop(uint64_t gh, uint64_t gl, uint64_t cp)
{
    uint64_t hi1, hi2;
    (void)umul128(gl, cp, &hi1);
    uint64_t lo2 = umul128(gh, cp, &hi2);
    uint64_t mlo = lo2 + hi1;             /* m = floor(g * cp / 2^64) */
    uint64_t mhi = hi2 + (mlo < lo2);
    uint64_t whole = (mhi << 1) | (mlo >> 63);
    return whole | ((mlo & MASK63) != 0);
}

/* ---- Schubfach core ------------------------------------------------------ */

/* The shortest decimal d * 10^e (d > 0) that reads back as c * 2^q > 0,
 * closest to it among the shortest, ties to even d. */
static void
shortest(uint64_t c, int q, uint64_t *d_out, int *e_out)
{
    uint64_t out = c & 1;          /* 1: interval bounds excluded */
    uint64_t cb = c << 2;          /* 4c: room for the quarter-unit bound */
    uint64_t cbr = cb + 2;
    uint64_t cbl;
    int k;
    if (c != C_MIN || q == Q_MIN) {
        cbl = cb - 2;
        k = flog10_pow2(q);
    }
    else {
        cbl = cb - 1;
        k = flog10_3q_pow2(q);
    }
    /* h aligns g(-k) (about 2^(125 + floor(log2 10^-k))) so that the
     * products come out as 4 * x * 10^-k; it is 2..5, so cb << h < 2^61. */
    int h = q + flog2_pow10(-k) + 2;
    const uint64_t *g = nc_g_table[-k - NC_G_EMIN];
    uint64_t vb = rop(g[0], g[1], cb << h);
    uint64_t vbl = rop(g[0], g[1], cbl << h);
    uint64_t vbr = rop(g[0], g[1], cbr << h);

    uint64_t s = vb >> 2;          /* floor(v * 10^-k) */
    /* One digit fewer: the multiples of 10 around v.  The width is below 10,
     * so at most one of them is inside; sp10 == 0 is never inside because
     * vl > 0. */
    uint64_t sp10 = s / 10 * 10;
    uint64_t tp10 = sp10 + 10;
    int upin = vbl + out <= sp10 << 2;
    int wpin = (tp10 << 2) + out <= vbr;
    if (upin != wpin) {
        *d_out = upin ? sp10 : tp10;
        *e_out = k;
        return;
    }
    /* Same length as s: of the integers inside, the closest to v is s or
     * s + 1, and at least one of them is inside because the width is >= 1. */
    uint64_t t = s + 1;
    int uin = vbl + out <= s << 2;
    int win = (t << 2) + out <= vbr;
    *e_out = k;
    if (uin != win) {
        *d_out = uin ? s : t;
        return;
    }
    /* Both inside: compare 4v with 4(s + 1/2); exact thanks to rounding to odd. */
    uint64_t mid = (s + t) << 1;
    *d_out = (vb < mid || (vb == mid && (s & 1) == 0)) ? s : t;
}

/* ---- one-product fast path --------------------------------------------- */

/* Schubfach needs three products (v and both bounds); the idea behind yy
 * and zmij is that one suffices almost always.  f = v * 10^-k (k as in
 * shortest(), so the scaled unit 2^q * 10^-k is in [1, 10)) is computed
 * once as a fixed-point number with 64 fraction bits, from the same table
 * g: M = floor(g * (c << (h + 1)) / 2^64), integral part s = M >> 64.
 * The scaled half-unit hw = 2^(q-1) * 10^-k comes from g's high word by a
 * shift.  Then, with r = f mod 10:
 *   r < hw         the multiple of 10 below f is inside the interval;
 *   r + hw > 10    the multiple of 10 above f is;
 *   neither        no decimal shorter than s is, and the nearest integer
 *                  to f is (it is at most 1/2 <= hw away), which is what
 *                  repr picks among the equally short.
 * Both cannot hold, as hw < 5.  The products are not exact: g exceeds the
 * real power by less than one unit, so M is f * 2^64 minus less than 1 or
 * plus less than 2^-5; r and hw are compared in units of 2^-60 where they
 * are off by less than 1 and 3 units.  Any comparison that comes within
 * NEAR units of its threshold (a tie, an interval end that is itself a
 * short decimal) goes to shortest(), which is exact -- so is this.  The
 * regular case only: the lower neighbour of a power of two is half as far
 * (c == C_MIN) and subnormals go to shortest() too. */
#define NEAR 16
static inline int
fast_decimal(uint64_t c, int q, uint64_t *d_out, int *e_out, int *big)
{
    int k = flog10_pow2(q);
    int h = q + flog2_pow10(-k) + 2;                      /* 2..5 */
    const uint64_t *g = nc_g_table[-k - NC_G_EMIN];
    uint64_t y = c << (h + 1), hi1, hi2;
    uint64_t lo1 = umul128(g[0], y, &hi1);
    (void)umul128(g[1], y, &hi2);
    uint64_t frac = lo1 + hi2;
    uint64_t s = hi1 + (frac < lo1);                      /* floor(f) */
    /* d >= s10 >= 10^16 when this holds: known from the first product */
    *big = hi1 >= UINT64_C(10000000000000000);
    uint64_t s10 = s / 10 * 10;
    const uint64_t ten = UINT64_C(10) << 60, half = UINT64_C(1) << 63;
    uint64_t r = ((s - s10) << 60) | (frac >> 4);         /* f mod 10, 2^-60 units */
    uint64_t hw = (g[0] << 2) >> (6 - h);                 /* hw, 2^-60 units */
    uint64_t top = r + hw;
    /* |a - b| <= NEAR as one unsigned compare each; rarely true, so one
     * predictable branch for the three */
    if ((r - hw + NEAR <= 2 * NEAR) | (top - ten + NEAR <= 2 * NEAR) |
        (frac - half + NEAR <= 2 * NEAR))
        return 0;
    /* selects, not branches: which case holds is a coin flip for data */
    uint64_t d = s + (frac >> 63);
    d = top > ten ? s10 + 10 : d;
    d = r < hw ? s10 : d;
    *d_out = d;
    *e_out = k;
    return 1;
}

/* ---- exact short decimals ------------------------------------------------ */

static const double pow10_dbl[23] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/* Fast path for the doubles that sensors and humans write (21.5, 0.25,
 * 1013.25, 3.14159): when some integer r makes r * 10^-K read back as v,
 * with K the largest such that v * 10^K < 2^50, the shortest decimal is r
 * with its trailing zeros dropped (layout drops them).  Why:
 *   - The check below is exact: r < 2^50 and 10^K (K <= 22) are exact
 *     doubles, so r / 10^K is the correctly rounded quotient, the same
 *     half-even rounding the decimal reader applies to r * 10^-K.  A pass
 *     therefore proves r * 10^-K lies in v's rounding interval.
 *   - v * 10^K < 2^50 gives ulp(v) <= 2^-52 v < 2^-2 * 10^-K: the interval
 *     is narrower than the 10^-K grid, so it holds no other grid point, and
 *     no other point of any coarser grid 10^-j (j < K) either, as those are
 *     grid points too.  A shorter decimal with the same leading digit
 *     position would sit on a coarser grid; one with a lower leading
 *     position would need the interval to straddle a power of ten, which is
 *     itself on every grid.  So r, stripped, is the unique shortest decimal
 *     in the interval, which is what repr prints (no tie to break).
 * A miss (r rounded the wrong way, or v needs more than K digits) only
 * costs the few instructions here; Schubfach then runs as usual.  Only
 * normal v with binary exponent below 49 qualify.  Returns 1 on a hit. */
static inline int
exact_decimal(int bq, uint64_t abits, uint64_t *d_out, int *e_out)
{
    int eb = bq - 1023;            /* 2^eb <= v < 2^(eb + 1) */
    if (bq == 0 || eb > 48)
        return 0;
    /* K = floor((49 - eb) * log10(2)); 78913 / 2^18 is exact here */
    int K = ((49 - eb) * 78913) >> 18;
    if (K > 22)
        K = 22;
    double v;
    memcpy(&v, &abits, sizeof v);
    double y = v * pow10_dbl[K];
    /* signed conversions are single instructions on x86-64; r == 0 fails
     * the check by itself (v > 0) */
    int64_t r = (int64_t)(y + 0.5);
    if ((double)r / pow10_dbl[K] != v)
        return 0;
    *d_out = (uint64_t)r;
    *e_out = -K;
    return 1;
}

#if NC_SWAR_DIGITS && defined(__SIZEOF_INT128__)
#define NC_DEC8 1
/* exact_decimal on the grid 10^-8, in integers: for v = c * 2^-s with
 * 2^-11 <= v < 2^23 (30 <= s <= 63) and c not a power of two (whose
 * interval is lopsided).  The argument above holds for any K up to the
 * largest (a coarser grid is still wider than the interval), and K = 8
 * covers the usual data (prices, readings: up to 8 decimals).  With
 * P = c * 10^8 = Q * 2^s + R, the grid point nearest v is r = Q or Q + 1,
 * at distance R or 2^s - R in units of 2^-s * 10^-8; it reads back as v
 * when that is below half a unit of v, 10^8 / 2 of those.  Never equal:
 * P and 2^s are multiples of 2^8, so R is, and 10^8 / 2 is 128 more than
 * one (no decimal of 8 places is halfway between two doubles this large:
 * that needs s <= 7), so there is no tie to break.  One multiply where
 * exact_decimal needs a division and two conversions (about 25 cycles of
 * latency), and r comes out small for layout_dec8.  Returns 1 with r on a
 * hit. */
#define DEC8_BQ_MIN (1023 - 11)
#define DEC8_BQ_MAX (1023 + 22)
static inline int
exact_dec8(uint64_t c, int s, uint64_t *r_out)
{
    const uint64_t half_unit = 50000000;
    uint64_t hi, lo = umul128(c, 100000000, &hi);   /* P < 2^80 */
    uint64_t R = lo & ((UINT64_C(1) << s) - 1);
    uint64_t Q = (hi << (64 - s)) | (lo >> s);      /* < 2^50; s < 64 */
    uint64_t up = (UINT64_C(1) << s) - R;
    if (R < half_unit) {
        *r_out = Q;
        return 1;
    }
    if (up < half_unit) {
        *r_out = Q + 1;
        return 1;
    }
    return 0;
}
#else
#define NC_DEC8 0
#endif

/* ---- digits ------------------------------------------------------------ */

/* The digits of 0 < d <= 10^17 right-aligned in dg[0..18), followed by at
 * least 24 '0' characters (dg holds DG_SIZE bytes).  Returns the number of
 * trailing zero digits of d; *n0 gets its digit count. */
#define DG_END 18
#define DG_SIZE 48
static inline int
digits18(uint64_t d, char *dg, int *n0)
{
    int tz;
    memset(dg + DG_END, '0', DG_SIZE - DG_END);
#if NC_SWAR_DIGITS
    uint64_t lo, mid = 0, w;
    unsigned hi = 0;
    /* The leading digit is the lowest byte: the leading zero digits of the
     * top word are its zero low bytes, which gives the digit count. */
    if (d < 100000000) {
        lo = swar8((uint32_t)d);
        *n0 = 8 - (__builtin_ctzll(lo) >> 3);   /* lo != 0: d > 0 */
    }
    else {
        uint64_t q = d / 100000000;
        lo = swar8((uint32_t)(d - q * 100000000));
        if (q >= 100000000) {
            hi = (unsigned)(q / 100000000);   /* 1..10: d <= 10^17 */
            q -= (uint64_t)hi * 100000000;
            *n0 = 17 + (hi >= 10);
        }
        mid = swar8((uint32_t)q);
        if (hi == 0)
            *n0 = 16 - (__builtin_ctzll(mid) >> 3);   /* mid != 0: q > 0 */
    }
    memcpy(dg, digits2 + 2 * hi, 2);
    w = mid + ZEROS8;
    memcpy(dg + 2, &w, 8);
    w = lo + ZEROS8;
    memcpy(dg + 10, &w, 8);
    /* the last digit is the top byte: trailing zero digits are zero top bytes */
    if (lo != 0)
        tz = __builtin_clzll(lo) >> 3;
    else if (mid != 0)
        tz = 8 + (__builtin_clzll(mid) >> 3);
    else
        tz = 16 + (hi % 10 == 0);
#else
    *n0 = ndigits(d);
    write_digits(dg + DG_END, d);
    tz = 0;
    while (dg[DG_END - 1 - tz] == '0')
        tz++;
#endif
    return tz;
}

/* Lay out d * 10^e (d > 0) at p the way float.__repr__ does; returns the
 * end.  p has room for 40 bytes: the copies below are fixed-size and may
 * write past the end they return (nc_format_double's out has the room). */
static char *
layout_text(char *p, uint64_t d, int e)
{
    char dg[DG_SIZE];
    int n0;
    int tz = digits18(d, dg, &n0);
    const char *ds = dg + DG_END - n0;
    int n = n0 - tz;               /* significant digits */
    e += tz;
    int E = e + n - 1;             /* v = d.ddd * 10^E */

    if (E >= 0 && E < 16) {
        /* ds is followed by '0's: the integral case gets its zeros free */
        memcpy(p, ds, 16);
        if (n <= E + 1) {
            p += E + 1;
            memcpy(p, ".0", 2);
            return p + 2;
        }
        p[E + 1] = '.';
        memcpy(p + E + 2, ds + E + 1, 16);
        return p + n + 1;
    }
    if (E < 0 && E >= -4) {
        memcpy(p, "0.000000", 8);
        p += 2 + (-E - 1);
        memcpy(p, ds, 24);
        return p + n;
    }
    /* Scientific: d.ddd e+XX with at least two exponent digits. */
    p[0] = ds[0];
    if (n > 1) {
        p[1] = '.';
        memcpy(p + 2, ds + 1, 16);
        p += 1 + n;
    }
    else
        p += 1;
    *p++ = 'e';
    int ae = E;
    if (E < 0) {
        *p++ = '-';
        ae = -E;
    }
    else
        *p++ = '+';
    if (ae >= 100) {
        *p++ = (char)('0' + ae / 100);
        ae %= 100;
    }
    memcpy(p, digits2 + 2 * ae, 2);
    return p + 2;
}

#if NC_DEC8
/* The text of (-1)^neg * r * 10^-8 for an exact_dec8 hit (2^-11 <= v <
 * 2^23, so 1e-4 <= v < 1e16 where repr uses fixed notation, and v not
 * integral: integers went their own way before): the integer part (or
 * "0"), '.', the 8 fraction digits without their trailing zeros (there is
 * one nonzero: a grid point that is an integer is a double of its own,
 * never in v's interval) -- float.__repr__'s fixed notation for these.
 * Two words of digits, three stores at out[0..18); returns the length.
 * About half the instructions of layout_text, which splits 15-16 digits in
 * three and goes through a stack array. */
static inline int
layout_dec8(char *out, int neg, uint64_t r)
{
    uint64_t ip = r / 100000000, f = r - ip * 100000000;
    uint64_t wf = swar8((uint32_t)f);
    /* the last digit is the top byte: trailing zero digits are zero top
     * bytes (f > 0: v is not integral) */
    int tz = __builtin_clzll(wf | 1) >> 3;
    uint64_t x = '0';
    int nd = 1;
    if (ip != 0) {   /* ip < 2^26: at most 8 digits */
        uint64_t wi = swar8((uint32_t)ip);
        int lz = __builtin_ctzll(wi) >> 3;   /* leading zero digits */
        x = (wi + ZEROS8) >> (8 * lz);
        nd = 8 - lz;
    }
    out[0] = '-';
    char *p = out + neg;
    memcpy(p, &x, 8);
    p[nd] = '.';
    wf += ZEROS8;
    memcpy(p + nd + 1, &wf, 8);
    return neg + nd + 9 - tz;
}
#endif

/* The text of (-1)^neg * d * 10^e at out; returns its length. */
static inline int
layout_scalar(char *out, int neg, uint64_t d, int e)
{
    char *p = out;
    if (neg)
        *p++ = '-';
    return (int)(layout_text(p, d, e) - out);
}

#if defined(__SSE2__) && !defined(NC_NO_SIMD)
/* ---- digits and layout with SSE2 (every x86-64) ---------------------------
 *
 * The digits are made in registers and stored once, straight into the
 * output: the scalar layout above goes through a stack array, and reading
 * it back at a data-dependent offset right after the stores stalls store
 * forwarding.  d is first scaled to exactly 17 digits (d17 = d * 10^z), so
 * the leading digit is never zero and the digits past the significant
 * ones are the '0's an integral value needs. */

/* The 16 digits of hi * 10^8 + lo (hi, lo < 10^8) as bytes 0..9, most
 * significant first: the two 8-digit halves side by side, split into 4 + 4, 2 + 2 and 1 + 1
 * digits by multiply-shift division in every lane at once. */
static inline __m128i
bcd16(uint32_t hi, uint32_t lo)
{
    __m128i v = _mm_set_epi64x((long long)lo, (long long)hi);
    /* v / 10^4 = (v * ceil(2^40 / 10^4)) >> 40 for v < 10^8; each 64-bit
     * lane becomes (v / 10^4) << 32 | v % 10^4 */
    __m128i q = _mm_srli_epi64(_mm_mul_epu32(v, _mm_set1_epi64x(109951163)), 40);
    v = _mm_add_epi64(v, _mm_mul_epu32(q, _mm_set1_epi64x(INT64_C(4294967296) - 10000)));
    /* w / 100 = (w * 5243) >> 19 for w < 10^4; each 32-bit lane becomes
     * (w % 100) << 16 | w / 100 */
    __m128i t = _mm_srli_epi16(_mm_mulhi_epu16(v, _mm_set1_epi16(5243)), 3);
    __m128i m = _mm_sub_epi16(v, _mm_mullo_epi16(t, _mm_set1_epi16(100)));
    v = _mm_or_si128(_mm_slli_epi32(m, 16), t);
    /* u / 10 = (u * 6554) >> 16 for u < 100; each 16-bit lane becomes
     * (u % 10) << 8 | u / 10 = u * 256 - (u / 10) * 2559 */
    t = _mm_mulhi_epu16(v, _mm_set1_epi16(6554));
    v = _mm_sub_epi16(_mm_slli_epi16(v, 8), _mm_mullo_epi16(t, _mm_set1_epi16(2559)));
    /* the first 4 digits of each half sit in the upper 32 bits of its lane */
    return _mm_shuffle_epi32(v, _MM_SHUFFLE(2, 3, 0, 1));
}

/* d (0 < d <= 10^17) as 17 digits: the leading one (nonzero) into *lead,
 * the other 16 as ASCII in the result.  *n gets the count of significant
 * digits (trailing zeros excluded), *nd the digit count of d: counted here
 * when the caller passes 0, else 16 or 17 as the caller knows it. */
static inline __m128i
digits17(uint64_t d, int *lead, int *n, int *nd)
{
    if (*nd != 0) {
        if (*nd == 16)
            d *= 10;
    }
    else if (d >= UINT64_C(100000000000000000)) {   /* only 10^17 itself */
        d /= 10;
        *nd = 18;
    }
    else {
        *nd = ndigits(d);
        d *= pow10_table[17 - *nd];
    }
    /* d / 10^8 first, then its leading digit and the low 8 digits side by
     * side: two steps of latency where d / 10^16 and then (d mod 10^16) /
     * 10^8 are four.  t < 10^9, and t / 10^8 = t * 1441151881 >> 57 there:
     * the product exceeds t * 2^57 / 10^8 by t * 24144128 / 10^8 < 2^57 /
     * 10^8, less than the distance of any t / 10^8 to the next integer. */
    uint64_t t = d / 100000000;
    uint32_t lo8 = (uint32_t)(d - t * 100000000);
    uint64_t a = (t * 1441151881) >> 57;
    __m128i b = bcd16((uint32_t)(t - a * 100000000), lo8);
    unsigned nz = (unsigned)_mm_movemask_epi8(_mm_cmpgt_epi8(b, _mm_setzero_si128()));
    *lead = (int)a;
    /* the last nonzero digit among the 16, or only the leading one */
    *n = nz ? 33 - __builtin_clz(nz) : 1;
    return _mm_or_si128(b, _mm_set1_epi8('0'));
}

/* Bytes of x where m is set, of y elsewhere. */
static inline __m128i
select128(__m128i m, __m128i x, __m128i y)
{
    return _mm_or_si128(_mm_and_si128(m, x), _mm_andnot_si128(m, y));
}

/* below[j]: bytes 0..j-1 set (0 <= j <= 17): the masks by position, loaded
 * instead of broadcast (SSE2 has no byte broadcast from a register). */
#define B16(j) {(j) > 0 ? -1 : 0, (j) > 1 ? -1 : 0, (j) > 2 ? -1 : 0, (j) > 3 ? -1 : 0,       \
                (j) > 4 ? -1 : 0, (j) > 5 ? -1 : 0, (j) > 6 ? -1 : 0, (j) > 7 ? -1 : 0,       \
                (j) > 8 ? -1 : 0, (j) > 9 ? -1 : 0, (j) > 10 ? -1 : 0, (j) > 11 ? -1 : 0,     \
                (j) > 12 ? -1 : 0, (j) > 13 ? -1 : 0, (j) > 14 ? -1 : 0, (j) > 15 ? -1 : 0}
static const _Alignas(16) signed char below[18][16] = {
    B16(0), B16(1), B16(2), B16(3), B16(4), B16(5), B16(6), B16(7), B16(8),
    B16(9), B16(10), B16(11), B16(12), B16(13), B16(14), B16(15), B16(16), B16(16),
};
#undef B16

static inline __m128i
below16(int j)
{
    return _mm_load_si128((const __m128i *)below[j]);
}

/* "0." and up to three more '0's before the digits: -4 <= E < 0. */
#define SMALL_CASE(z, prefix)                                                   \
    case z:                                                                     \
        a = _mm_or_si128(_mm_slli_si128(lo, z), _mm_cvtsi64_si128(prefix));     \
        b = _mm_or_si128(_mm_srli_si128(lo, 16 - z), _mm_slli_si128(hi, z));    \
        break;

/* The text of d * 10^e (0 < d <= 10^17, nd digits or 0: not known) as
 * float.__repr__ lays it out, composed in two registers: bytes 0..16 in
 * *pa, 16..32 in *pb; returns its length (at most 23). */
static inline int
layout_regs(__m128i lo, __m128i hi, int n, int E, __m128i *pa, __m128i *pb)
{
    const __m128i dots = _mm_set1_epi8('.');
    int len;
    __m128i a, b;
    if (E >= 0 && E < 16) {
        /* D[0..E] '.' D[E+1..n), or D[0..E] ".0" for an integral value:
         * then D[E+1] is a '0' already.  Byte 16 is the '.' when E is 15. */
        __m128i keep = below16(E + 1);
        a = select128(keep, lo, select128(_mm_xor_si128(keep, below16(E + 2)), dots,
                                          _mm_slli_si128(lo, 1)));
        b = select128(below16(E == 15), dots,
                      _mm_or_si128(_mm_srli_si128(lo, 15), _mm_slli_si128(hi, 1)));
        len = n > E + 1 ? n + 1 : E + 3;
    }
    else if (E < 0 && E >= -4) {
        switch (1 - E) {
        SMALL_CASE(2, 0x2E30)                   /* "0." */
        SMALL_CASE(3, 0x302E30)                 /* "0.0" */
        SMALL_CASE(4, 0x30302E30)               /* "0.00" */
        default:
        SMALL_CASE(5, INT64_C(0x3030302E30))    /* "0.000" */
        }
        len = 1 - E + n;
    }
    else {
        /* Scientific: D[0] '.' D[1..n) then e+XX (at least two exponent
         * digits); "De+XX" when n is 1. */
        a = select128(below16(1), lo, _mm_slli_si128(lo, 1));
        a = select128(_mm_xor_si128(below16(1), below16(2)), dots, a);
        b = _mm_or_si128(_mm_srli_si128(lo, 15), _mm_slli_si128(hi, 1));
        int at = n > 1 ? n + 1 : 1, ae = E < 0 ? -E : E;
        /* clear what follows the digits, then put the exponent at `at` */
        a = _mm_and_si128(a, below16(at < 16 ? at : 16));
        b = _mm_and_si128(b, below16(at > 16 ? at - 16 : 0));
        uint64_t x = (uint64_t)'e' | (uint64_t)(E < 0 ? '-' : '+') << 8;
        uint16_t two;   /* the last two exponent digits */
        memcpy(&two, digits2 + 2 * (ae % 100), 2);
        int xlen;
        if (ae >= 100) {
            x |= (uint64_t)('0' + ae / 100) << 16 | (uint64_t)two << 24;
            xlen = 5;
        }
        else {
            x |= (uint64_t)two << 16;
            xlen = 4;
        }
        /* the exponent lands in bytes at..at+xlen of the 24 (at <= 18) */
        uint64_t w0 = (uint64_t)_mm_cvtsi128_si64(a);
        uint64_t w1 = (uint64_t)_mm_cvtsi128_si64(_mm_unpackhi_epi64(a, a));
        uint64_t w2 = (uint64_t)_mm_cvtsi128_si64(b);
        int sh = 8 * (at & 7), word = at >> 3;
        uint64_t xl = x << sh, xh = sh ? x >> (64 - sh) : 0;
        w0 |= word == 0 ? xl : 0;
        w1 |= word == 1 ? xl : word == 0 ? xh : 0;
        w2 |= word == 2 ? xl : word == 1 ? xh : 0;
        a = _mm_set_epi64x((long long)w1, (long long)w0);
        b = _mm_cvtsi64_si128((long long)w2);
        len = at + xlen;
    }
    *pa = a;
    *pb = b;
    return len;
}
#undef SMALL_CASE

/* The text at out[0..33): a '-' that the digits overwrite when positive,
 * then two 16-byte stores at an address known early (the sign bit is); the
 * bytes past the text are scratch. */
/* NC_MEMSHIFT=0 lays out the fixed notation in registers (layout_regs) as
 * before: equal wall time here, 22 more instructions per double. */
#ifndef NC_MEMSHIFT
#define NC_MEMSHIFT 1
#endif
/* Inlined into every caller: GCC otherwise keeps one out-of-line copy for
 * its two call sites in format_double, a call per double in the loops of
 * nc_format_doubles (measured: 12 more instructions per double). */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((always_inline))
#endif
static inline int
layout(char *out, int neg, uint64_t d, int nd, int e)
{
    int lead, n;
    __m128i v = digits17(d, &lead, &n, &nd);
    int E = e + nd - 1;            /* v = d.ddd * 10^E */
    /* D, the 17 digits: lo = D[0..16), hi = D[16] */
    __m128i lo = _mm_or_si128(_mm_slli_si128(v, 1), _mm_cvtsi32_si128('0' + lead));
    __m128i hi = _mm_srli_si128(v, 15);
    out[0] = '-';
    out += neg;
    if (NC_MEMSHIFT && E >= 0 && E < 16) {
        /* Fixed notation with a point inside the digits (the usual case):
         * D[0..E] '.' D[E+1..n), or D[0..E] ".0" for an integral value
         * (D[E+1] is a '0' then).  The 17 digits are stored, the part
         * after the point is moved one byte up by a load and store of 16
         * bytes (all of them written just before: out[E+1..E+17) is within
         * out[0..32)), and the '.' goes in the gap: a few instructions
         * where composing the text in registers takes about 30 (SSE2 has
         * no byte shift by a variable count).  The reload is not forwarded
         * from the stores, but nothing waits for it: the length does not
         * depend on it. */
        _mm_storeu_si128((__m128i *)out, lo);
        _mm_storeu_si128((__m128i *)(out + 16), hi);
        __m128i t = _mm_loadu_si128((const __m128i *)(out + E + 1));
        _mm_storeu_si128((__m128i *)(out + E + 2), t);
        out[E + 1] = '.';
        return neg + (n > E + 1 ? n + 1 : E + 3);
    }
    __m128i a, b;
    int len = layout_regs(lo, hi, n, E, &a, &b);
    _mm_storeu_si128((__m128i *)out, a);
    _mm_storeu_si128((__m128i *)(out + 16), b);
    return len + neg;
}
#else
/* Long digit strings take the same road as the short ones. */
#define layout(out, neg, d, nd, e) layout_scalar(out, neg, d, e)
#endif

/* ---- entry points --------------------------------------------------------- */

/* *run counts the doubles in a row that were not short decimals; past 8,
 * exact_decimal (whose division costs about 3 ns on a miss) is skipped, and
 * tried again after 64.  Either way the text is the same. */
static inline int
format_double(double x, char *out, int *run)
{
    uint64_t bits;
    memcpy(&bits, &x, sizeof bits);
    uint64_t m = bits & (C_MIN - 1);
    int bq = (int)(bits >> 52) & 0x7ff, neg = (int)(bits >> 63);

    if (bq == 0x7ff) {
        if (m != 0) {
            memcpy(out, "nan", 3);   /* repr drops a NaN's sign */
            return 3;
        }
        memcpy(out, &"-inf"[!neg], 3 + neg);
        return 3 + neg;
    }
    uint64_t c, d;
    int q, e;
    if (bq != 0) {
        c = C_MIN | m;
        q = bq - 1075;
        /* Integers below 2^53: their neighbours are integers too, so no
         * shorter decimal lies within half a unit; print them as they are
         * (at most 16 digits, always in fixed notation). */
        if (q < 0 && q > -53) {
            uint64_t f = c >> -q;
            if (f << -q == c)
                return layout_scalar(out, neg, f, 0);
        }
    }
    else if (m != 0) {
        c = m;
        q = Q_MIN;
    }
    else {
        memcpy(out, &"-0.0"[!neg], 3 + neg);
        return 3 + neg;
    }
    /* A short decimal is laid out by the scalar code (layout_dec8 for those
     * on the 10^-8 grid, layout_text for the rest), the 16-17 digits of the
     * general case by the vector code (on the ~1 MB document of prices like
     * 123.45 layout_text beat the vector layout, 1016 against 1063 us; on
     * the float list of make bench the vector layout won, 224 against 235). */
    if (*run < 8) {
#if NC_DEC8
        if (bq >= DEC8_BQ_MIN && bq <= DEC8_BQ_MAX && m != 0) {
            if (exact_dec8(c, 1075 - bq, &d)) {
                *run = 0;
                return layout_dec8(out, neg, d);
            }
        }
        else
#endif
        if (exact_decimal(bq, bits & ~(UINT64_C(1) << 63), &d, &e)) {
            *run = 0;
            return layout_scalar(out, neg, d, e);
        }
        ++*run;
    }
    else if (++*run >= 64) {
        *run = 0;
    }
    /* fast_decimal's d has 16 or 17 digits: c * 2^q * 10^-e is in
     * [2^52, 2^53 * 10), and d is within 10 of it.  Which of the two can
     * be a coin flip (random coordinates between 52 and 141: 100 and up
     * have 17), and then the branch on it misses on half of the doubles.
     * Taken on d, it waited for all of fast_decimal's products; taken on
     * `big`, it waits only for the first, and a miss costs less: a GeoJSON
     * polygon of 20,000 random pairs 665 -> 605 us, canada.json 1720 ->
     * 1667 us.  A select instead of the branch made every double 1 ns
     * slower, where the branch is predictable too. */
    int big;
    if (bq != 0 && m != 0 && fast_decimal(c, q, &d, &e, &big)) {
        if (big)
            return layout(out, neg, d, 17, e);
        /* below 10^16 unless rounded up to it */
        return layout(out, neg, d, d >= UINT64_C(10000000000000000) ? 17 : 16, e);
    }
    shortest(c, q, &d, &e);
    return layout(out, neg, d, 0, e);
}

int
nc_format_double(double x, char *out)
{
    int run = 0;
    return format_double(x, out, &run);
}

int
nc_format_double_run(double x, char *out, int *run)
{
    return format_double(x, out, run);
}

/* Aligned to a cache line: its loop is most of a float list's time, and
 * where the code before it moved this function by 16 or 48 bytes off that
 * line, the same code ran 6-10% slower (a list of 10,000 two-decimal floats,
 * with nothing else changed). */
__attribute__((aligned(64))) char *
nc_format_doubles(const double *x, int n, char sep, int lead, char *out, int *run)
{
    int r = *run;   /* in a local: the byte stores below may alias *run */
    for (int j = 0; j < n; j++) {
        *out = sep;   /* overwritten by the text when not wanted */
        out += j > 0 || lead;
        out += format_double(x[j], out, &r);
    }
    *run = r;
    return out;
}

char *
nc_format_double_groups(const double *x, int ngroups, int m, char sep, int lead, char *out,
                        int *run)
{
    int r = *run;
    for (int g = 0; g < ngroups; g++) {
        *out = sep;   /* overwritten by the '[' when not wanted */
        out += g > 0 || lead;
        *out++ = '[';
        out += format_double(x[0], out, &r);
        for (int j = 1; j < m; j++) {
            *out++ = sep;
            out += format_double(x[j], out, &r);
        }
        *out++ = ']';
        x += m;
    }
    *run = r;
    return out;
}

int
nc_format_double_exact(double x, char *out)
{
    char tmp[NC_DOUBLE_ROOM];
    int n = nc_format_double(x, tmp);
    memcpy(out, tmp, (size_t)n);
    return n;
}

int
nc_double_paths(double x, uint64_t d[2], int e[2])
{
    uint64_t bits;
    memcpy(&bits, &x, sizeof bits);
    uint64_t m = bits & (C_MIN - 1);
    int bq = (int)(bits >> 52) & 0x7ff;
    if (bq == 0 || bq == 0x7ff || m == 0)
        return -1;
    shortest(C_MIN | m, bq - 1075, &d[1], &e[1]);
    int big;
    if (!fast_decimal(C_MIN | m, bq - 1075, &d[0], &e[0], &big)) {
        d[0] = d[1];
        e[0] = e[1];
        return 1;
    }
    return 0;
}
