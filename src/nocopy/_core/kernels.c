/* kernels.c -- search / strip / split / predicate kernels on (pointer,
 * length); see kernels.h.
 *
 * Ownership: nothing here allocates or keeps a pointer past its return,
 * except nc_searcher and nc_splitter, which borrow the needle their caller
 * keeps alive.
 *
 * Substring search is two-phase.  The first phase jumps between candidates
 * with memchr (vectorised by libc) and confirms each with the last byte and
 * a memcmp: on real data that is the fastest thing there is, for 64 bytes
 * and for megabytes.  On self-similar data (b"a" * 10**6 searched for
 * b"a" * 1000 + b"b") every candidate costs a long memcmp, so the phase keeps
 * an account of its comparison work against the haystack bytes it has
 * passed; when work exceeds twice the progress, the search switches for good
 * to Crochemore-Perrin Two-Way (constant extra space, at most 2n
 * comparisons), with a bad-character skip: a window whose last byte is not
 * in the needle at all is passed in one jump.  Both phases run on the needle
 * and haystack read backwards too, for rfind / rsplit, through the ND / HY
 * accessors below; the `rev` argument is a compile-time constant at every
 * call, so the compiler emits a forward and a backward copy. */
#define _GNU_SOURCE
#include "kernels.h"

#include <string.h>

#define NC_INLINE static inline __attribute__((always_inline))

/* ---- single bytes ---------------------------------------------------------- */

Py_ssize_t
nc_find_byte(const char *hay, Py_ssize_t hn, unsigned char c)
{
    const char *p = hn > 0 ? memchr(hay, c, (size_t)hn) : NULL;
    return p ? (Py_ssize_t)(p - hay) : -1;
}

Py_ssize_t
nc_rfind_byte(const char *hay, Py_ssize_t hn, unsigned char c)
{
    const char *p = hn > 0 ? memrchr(hay, c, (size_t)hn) : NULL;
    return p ? (Py_ssize_t)(p - hay) : -1;
}

Py_ssize_t
nc_count_byte(const char *hay, Py_ssize_t hn, unsigned char c)
{
    /* A branch-free loop the compiler vectorises: faster than one memchr per
     * hit when the byte is common, as fast when it is rare. */
    const unsigned char *p = (const unsigned char *)hay;
    Py_ssize_t count = 0;
    for (Py_ssize_t i = 0; i < hn; i++)
        count += p[i] == c;
    return count;
}

/* ---- Two-Way ------------------------------------------------------------------ */

/* Byte i of the needle / haystack in the search direction. */
#define ND(i) ((unsigned char)(rev ? nd[nn - 1 - (i)] : nd[(i)]))
#define HY(i) ((unsigned char)(rev ? hy[hn - 1 - (i)] : hy[(i)]))

/* Start of the maximal suffix of the needle (minus one) under the byte order
 * (inverted: the reverse order), and the period of that suffix. */
NC_INLINE Py_ssize_t
max_suffix(const char *nd, Py_ssize_t nn, const int rev, int inverted, Py_ssize_t *period)
{
    Py_ssize_t ms = -1, j = 0, k = 1, p = 1;
    while (j + k < nn) {
        unsigned char a = ND(j + k), b = ND(ms + k);
        if (inverted ? a > b : a < b) {
            j += k;
            k = 1;
            p = j - ms;
        }
        else if (a == b) {
            if (k != p)
                k++;
            else {
                j += p;
                k = 1;
            }
        }
        else {
            ms = j++;
            k = p = 1;
        }
    }
    *period = p;
    return ms;
}

NC_INLINE void
tw_prepare_dir(nc_searcher *s, const int rev)
{
    const char *nd = s->needle;
    const Py_ssize_t nn = s->nn;
    Py_ssize_t p1, p2, suffix, period;
    Py_ssize_t m1 = max_suffix(nd, nn, rev, 0, &p1);
    Py_ssize_t m2 = max_suffix(nd, nn, rev, 1, &p2);
    /* The later of the two maximal suffixes is a critical factorization. */
    if (m1 > m2) {
        suffix = m1 + 1;
        period = p1;
    }
    else {
        suffix = m2 + 1;
        period = p2;
    }
    /* period is the right half's period, so suffix + period <= nn. */
    int periodic = suffix + period <= nn;
    for (Py_ssize_t k = 0; periodic && k < suffix; k++)
        periodic = ND(k) == ND(k + period);
    s->suffix = suffix;
    if (periodic)
        s->period = period;
    else
        s->period = (suffix > nn - suffix ? suffix : nn - suffix) + 1;
    s->periodic = periodic;
    nc_byteset_init(&s->bytes, nd, nn);
    s->two_way = 1;
}

static void
tw_prepare(nc_searcher *s)
{
    if (s->reverse)
        tw_prepare_dir(s, 1);
    else
        tw_prepare_dir(s, 0);
}

/* First alignment >= j (in direction coordinates) where the needle matches,
 * or -1. */
NC_INLINE Py_ssize_t
tw_search(const nc_searcher *s, const char *hy, Py_ssize_t hn, Py_ssize_t j, const int rev)
{
    const char *nd = s->needle;
    const Py_ssize_t nn = s->nn, suffix = s->suffix, period = s->period, last = hn - nn;
    if (s->periodic) {
        /* memory: a prefix of the needle known to match after a shift by
         * the period, which is never compared again. */
        Py_ssize_t memory = 0;
        while (j <= last) {
            if (!nc_byteset_has(&s->bytes, HY(j + nn - 1))) {
                j += nn;
                memory = 0;
                continue;
            }
            Py_ssize_t i = suffix > memory ? suffix : memory;
            while (i < nn && ND(i) == HY(i + j))
                i++;
            if (i >= nn) {
                i = suffix - 1;
                while (i >= memory && ND(i) == HY(i + j))
                    i--;
                if (i < memory)
                    return j;
                j += period;
                memory = nn - period;
            }
            else {
                j += i - suffix + 1;
                memory = 0;
            }
        }
    }
    else {
        while (j <= last) {
            if (!nc_byteset_has(&s->bytes, HY(j + nn - 1))) {
                j += nn;
                continue;
            }
            Py_ssize_t i = suffix;
            while (i < nn && ND(i) == HY(i + j))
                i++;
            if (i >= nn) {
                i = suffix - 1;
                while (i >= 0 && ND(i) == HY(i + j))
                    i--;
                if (i < 0)
                    return j;
                j += period;
            }
            else
                j += i - suffix + 1;
        }
    }
    return -1;
}

#undef ND
#undef HY

/* ---- searcher ---------------------------------------------------------------------- */

/* Switch to Two-Way when the memchr scan has done more than this much
 * comparison work for `progress` bytes passed. */
#define BUDGET(progress) (2 * (progress) + 256)

void
nc_searcher_init(nc_searcher *s, const char *needle, Py_ssize_t nn, int reverse)
{
    s->needle = needle;
    s->nn = nn;
    s->work = 0;
    s->progress = 0;
    s->reverse = reverse;
    s->two_way = 0;
}

void
nc_searcher_force_two_way(nc_searcher *s)
{
    if (!s->two_way && s->nn > 1)
        tw_prepare(s);
}

Py_ssize_t
nc_searcher_find(nc_searcher *s, const char *hay, Py_ssize_t hn)
{
    const char *nd = s->needle;
    const Py_ssize_t nn = s->nn;
    Py_ssize_t r = -1, j = 0;
    if (nn > hn)
        goto done;
    if (nn == 1) {
        r = nc_find_byte(hay, hn, (unsigned char)nd[0]);
        goto done;
    }
    if (!s->two_way) {
        const Py_ssize_t last = hn - nn;
        const char first = nd[0], tail = nd[nn - 1];
        while (j <= last) {
            const char *p = memchr(hay + j, first, (size_t)(last - j + 1));
            if (p == NULL)
                goto done;
            j = p - hay;
            s->work++;
            if (hay[j + nn - 1] == tail) {
                if (memcmp(hay + j + 1, nd + 1, (size_t)(nn - 2)) == 0) {
                    r = j;
                    goto done;
                }
                s->work += nn;
            }
            j++;
            if (s->work > BUDGET(s->progress + j)) {
                tw_prepare(s);
                break;
            }
        }
        if (!s->two_way)
            goto done;
    }
    r = tw_search(s, hay, hn, j, 0);
done:
    s->progress += r < 0 ? hn : r + nn;
    return r;
}

Py_ssize_t
nc_searcher_rfind(nc_searcher *s, const char *hay, Py_ssize_t hn)
{
    const char *nd = s->needle;
    const Py_ssize_t nn = s->nn;
    Py_ssize_t r = -1, i;
    if (nn > hn)
        goto done;
    if (nn == 1) {
        r = nc_rfind_byte(hay, hn, (unsigned char)nd[0]);
        goto done;
    }
    i = hn - nn;  /* the next candidate start, going left */
    if (!s->two_way) {
        const char first = nd[0], tail = nd[nn - 1];
        while (i >= 0) {
            const char *p = memrchr(hay, first, (size_t)(i + 1));
            if (p == NULL)
                goto done;
            i = p - hay;
            s->work++;
            if (hay[i + nn - 1] == tail) {
                if (memcmp(hay + i + 1, nd + 1, (size_t)(nn - 2)) == 0) {
                    r = i;
                    goto done;
                }
                s->work += nn;
            }
            i--;
            if (s->work > BUDGET(s->progress + (hn - nn - i))) {
                tw_prepare(s);
                break;
            }
        }
        if (!s->two_way || i < 0)
            goto done;
    }
    /* Alignment jr of the reversed needle in the reversed haystack is the
     * window starting at hn - nn - jr. */
    Py_ssize_t jr = tw_search(s, hay, hn, hn - nn - i, 1);
    r = jr < 0 ? -1 : hn - nn - jr;
done:
    s->progress += r < 0 ? hn : hn - r;
    return r;
}

/* ---- one-shot search ------------------------------------------------------------------ */

Py_ssize_t
nc_find(const char *hay, Py_ssize_t hn, const char *needle, Py_ssize_t nn)
{
    if (nn == 0)
        return 0;
    if (nn > hn)
        return -1;
    if (nn == 1)
        return nc_find_byte(hay, hn, (unsigned char)needle[0]);
    if (nn == hn)
        return memcmp(hay, needle, (size_t)nn) == 0 ? 0 : -1;
    nc_searcher s;
    nc_searcher_init(&s, needle, nn, 0);
    return nc_searcher_find(&s, hay, hn);
}

Py_ssize_t
nc_rfind(const char *hay, Py_ssize_t hn, const char *needle, Py_ssize_t nn)
{
    if (nn == 0)
        return hn;
    if (nn > hn)
        return -1;
    if (nn == 1)
        return nc_rfind_byte(hay, hn, (unsigned char)needle[0]);
    if (nn == hn)
        return memcmp(hay, needle, (size_t)nn) == 0 ? 0 : -1;
    nc_searcher s;
    nc_searcher_init(&s, needle, nn, 1);
    return nc_searcher_rfind(&s, hay, hn);
}

Py_ssize_t
nc_count(const char *hay, Py_ssize_t hn, const char *needle, Py_ssize_t nn,
         Py_ssize_t maxcount)
{
    if (maxcount < 0)
        maxcount = PY_SSIZE_T_MAX;
    if (nn == 0)
        return hn < maxcount ? hn + 1 : maxcount;
    if (nn > hn || maxcount == 0)
        return 0;
    if (nn == 1 && maxcount == PY_SSIZE_T_MAX)
        return nc_count_byte(hay, hn, (unsigned char)needle[0]);
    /* One searcher for the whole count, so its work account spans every
     * match and the total stays linear. */
    nc_searcher s;
    nc_searcher_init(&s, needle, nn, 0);
    Py_ssize_t count = 0, pos = 0;
    while (count < maxcount) {
        Py_ssize_t i = nc_searcher_find(&s, hay + pos, hn - pos);
        if (i < 0)
            break;
        count++;
        pos += i + nn;
    }
    return count;
}

/* ---- byte sets and strip ---------------------------------------------------------------- */

void
nc_byteset_init(nc_byteset *set, const char *chars, Py_ssize_t n)
{
    memset(set, 0, sizeof(*set));
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)chars[i];
        set->w[c >> 6] |= (uint64_t)1 << (c & 63);
    }
}

Py_ssize_t
nc_lstrip_len(const char *s, Py_ssize_t n, const nc_byteset *set)
{
    const unsigned char *p = (const unsigned char *)s;
    Py_ssize_t i = 0;
    if (set == NULL)
        while (i < n && (nc_ctype[p[i]] & NC_CT_SPACE))
            i++;
    else
        while (i < n && nc_byteset_has(set, p[i]))
            i++;
    return i;
}

Py_ssize_t
nc_rstrip_len(const char *s, Py_ssize_t n, const nc_byteset *set)
{
    const unsigned char *p = (const unsigned char *)s;
    Py_ssize_t i = n;
    if (set == NULL)
        while (i > 0 && (nc_ctype[p[i - 1]] & NC_CT_SPACE))
            i--;
    else
        while (i > 0 && nc_byteset_has(set, p[i - 1]))
            i--;
    return n - i;
}

/* ---- character classes ------------------------------------------------------------------ */

#define S NC_CT_SPACE
#define L NC_CT_LOWER
#define U NC_CT_UPPER
#define D NC_CT_DIGIT
const unsigned char nc_ctype[256] = {
    0, 0, 0, 0, 0, 0, 0, 0,
    0, S, S, S, S, S, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0,
    S, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0,
    D, D, D, D, D, D, D, D,
    D, D, 0, 0, 0, 0, 0, 0,
    0, U, U, U, U, U, U, U,
    U, U, U, U, U, U, U, U,
    U, U, U, U, U, U, U, U,
    U, U, U, 0, 0, 0, 0, 0,
    0, L, L, L, L, L, L, L,
    L, L, L, L, L, L, L, L,
    L, L, L, L, L, L, L, L,
    L, L, L, 0, 0, 0, 0, 0,
    /* 0x80-0xff: no class, as bytes' methods are ASCII-only */
};
#undef S
#undef L
#undef U
#undef D

/* Every byte is in class `mask`, and there is at least one byte. */
static int
all_of(const char *s, Py_ssize_t n, unsigned char mask)
{
    const unsigned char *p = (const unsigned char *)s;
    if (n == 0)
        return 0;
    for (Py_ssize_t i = 0; i < n; i++)
        if (!(nc_ctype[p[i]] & mask))
            return 0;
    return 1;
}

int nc_bytes_isalnum(const char *s, Py_ssize_t n) { return all_of(s, n, NC_CT_ALNUM); }
int nc_bytes_isalpha(const char *s, Py_ssize_t n) { return all_of(s, n, NC_CT_ALPHA); }
int nc_bytes_isdigit(const char *s, Py_ssize_t n) { return all_of(s, n, NC_CT_DIGIT); }
int nc_bytes_isspace(const char *s, Py_ssize_t n) { return all_of(s, n, NC_CT_SPACE); }

int
nc_bytes_isascii(const char *s, Py_ssize_t n)
{
    Py_ssize_t i = 0;
    uint64_t acc = 0;
    /* Eight bytes per step: OR them together and test the high bits once. */
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        acc |= w;
    }
    for (; i < n; i++)
        acc |= (unsigned char)s[i];
    return (acc & UINT64_C(0x8080808080808080)) == 0;
}

/* At least one byte of class `want`, none of class `avoid`. */
static int
cased_only(const char *s, Py_ssize_t n, unsigned char want, unsigned char avoid)
{
    const unsigned char *p = (const unsigned char *)s;
    int cased = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned char ct = nc_ctype[p[i]];
        if (ct & avoid)
            return 0;
        cased |= ct & want;
    }
    return cased != 0;
}

int nc_bytes_islower(const char *s, Py_ssize_t n) { return cased_only(s, n, NC_CT_LOWER, NC_CT_UPPER); }
int nc_bytes_isupper(const char *s, Py_ssize_t n) { return cased_only(s, n, NC_CT_UPPER, NC_CT_LOWER); }

int
nc_bytes_istitle(const char *s, Py_ssize_t n)
{
    /* Upper-case bytes only after uncased ones, lower-case only after cased
     * ones, and at least one cased byte. */
    const unsigned char *p = (const unsigned char *)s;
    int cased = 0, previous_cased = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned char ct = nc_ctype[p[i]];
        if (ct & NC_CT_UPPER) {
            if (previous_cased)
                return 0;
            previous_cased = cased = 1;
        }
        else if (ct & NC_CT_LOWER) {
            if (!previous_cased)
                return 0;
            previous_cased = cased = 1;
        }
        else
            previous_cased = 0;
    }
    return cased;
}

/* ---- split --------------------------------------------------------------------------------- */

void
nc_splitter_init(nc_splitter *sp, nc_split_kind kind, Py_ssize_t n, const char *sep,
                 Py_ssize_t sepn, Py_ssize_t maxsplit, int keepends)
{
    sp->kind = kind;
    sp->done = 0;
    sp->keepends = keepends;
    sp->left = maxsplit < 0 ? PY_SSIZE_T_MAX : maxsplit;
    sp->pos = kind == NC_RSPLIT_WS || kind == NC_RSPLIT_SEP ? n : 0;
    sp->next_cr = sp->next_lf = -1;
    if (kind == NC_SPLIT_SEP || kind == NC_RSPLIT_SEP)
        nc_searcher_init(&sp->sep, sep, sepn, kind == NC_RSPLIT_SEP);
}

#define IS_WS(c) (nc_ctype[(unsigned char)(c)] & NC_CT_SPACE)

#if defined(__SSE2__) && (defined(__GNUC__) || defined(__clang__))
#include <emmintrin.h>
#define NC_WS_SSE2 1
/* Bit j set when s[j] (j < 16) may be ASCII whitespace: a byte <= ' ' (all
 * of ' ' and \t..\r are; the other control bytes are rare in text, and
 * ws_first() checks the candidate).  Two vector operations: the scan's
 * latency per word is what counts. */
static inline unsigned
ws_candidates16(const char *s)
{
    __m128i x = _mm_loadu_si128((const __m128i *)s);
    return (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(x, _mm_set1_epi8(' ')), x));
}

/* The lowest bit of candidate mask m (nonzero) over p[0..16) that is a
 * whitespace byte, as an offset; 16 when none is. */
static inline Py_ssize_t
ws_first(const char *p, unsigned m)
{
    do {
        int j = __builtin_ctz(m);
        if (IS_WS(p[j]))
            return j;
        m &= m - 1;
    } while (m);
    return 16;
}
#endif

/* The first offset >= i of a whitespace byte in s[0:n], n when none: a
 * word's end.  Sixteen bytes a step (no branch per byte: words of varying
 * lengths mispredict a bytewise loop's exit); the last partial block is
 * the final sixteen bytes of s read again, those before i shifted out, so
 * nothing past s + n is read. */
NC_INLINE Py_ssize_t
find_ws(const char *s, Py_ssize_t i, Py_ssize_t n)
{
#ifdef NC_WS_SSE2
    if (i < n && IS_WS(s[i]))
        return i;  /* a one-byte word ("-"): no vector latency */
    for (; i + 16 <= n; i += 16) {
        unsigned m = ws_candidates16(s + i);
        if (m) {
            Py_ssize_t j = ws_first(s + i, m);
            if (j < 16)
                return i + j;
        }
    }
    if (i < n && n >= 16) {
        Py_ssize_t base = n - 16;
        unsigned m = ws_candidates16(s + base) >> (unsigned)(i - base) << (unsigned)(i - base);
        Py_ssize_t j = m ? ws_first(s + base, m) : 16;
        return j < 16 ? base + j : n;
    }
#endif
    while (i < n && !IS_WS(s[i]))
        i++;
    return i;
}

/* bytes.split(None, maxsplit): runs of whitespace separate, leading and
 * trailing whitespace make no empty pieces; once the splits are used up, the
 * rest (whitespace-stripped on the left only) is the last piece. */
NC_INLINE int
split_ws_next(nc_splitter *sp, const char *s, Py_ssize_t n, Py_ssize_t *a, Py_ssize_t *b)
{
    Py_ssize_t i = sp->pos;
    while (i < n && IS_WS(s[i]))
        i++;
    if (i == n) {
        sp->done = 1;
        return 0;
    }
    *a = i;
    if (sp->left == 0) {
        sp->done = 1;
        *b = n;
        return 1;
    }
    i = find_ws(s, i + 1, n);
    *b = i;
    sp->pos = i;
    sp->left--;
    return 1;
}

NC_INLINE int
rsplit_ws_next(nc_splitter *sp, const char *s, Py_ssize_t n, Py_ssize_t *a, Py_ssize_t *b)
{
    Py_ssize_t i = sp->pos;
    while (i > 0 && IS_WS(s[i - 1]))
        i--;
    if (i == 0) {
        sp->done = 1;
        return 0;
    }
    *b = i;
    if (sp->left == 0) {
        sp->done = 1;
        *a = 0;
        return 1;
    }
    i--;
    while (i > 0 && !IS_WS(s[i - 1]))
        i--;
    *a = i;
    sp->pos = i;
    sp->left--;
    return 1;
}

/* bytes.split(sep, maxsplit): always at least one piece, empty ones kept. */
NC_INLINE int
split_sep_next(nc_splitter *sp, const char *s, Py_ssize_t n, Py_ssize_t *a, Py_ssize_t *b)
{
    Py_ssize_t pos = sp->pos;
    *a = pos;
    if (sp->left > 0) {
        Py_ssize_t m;
        if (sp->sep.nn == 1) {  /* the common case, without the searcher's bookkeeping */
            const char *q = memchr(s + pos, sp->sep.needle[0], (size_t)(n - pos));
            m = q ? q - (s + pos) : -1;
        }
        else
            m = nc_searcher_find(&sp->sep, s + pos, n - pos);
        if (m >= 0) {
            *b = pos + m;
            sp->pos = pos + m + sp->sep.nn;
            sp->left--;
            return 1;
        }
    }
    *b = n;
    sp->done = 1;
    return 1;
}

NC_INLINE int
rsplit_sep_next(nc_splitter *sp, const char *s, Py_ssize_t n, Py_ssize_t *a, Py_ssize_t *b)
{
    Py_ssize_t pos = sp->pos;
    *b = pos;
    if (sp->left > 0) {
        Py_ssize_t m;
        if (sp->sep.nn == 1) {
            const char *q = pos > 0 ? memrchr(s, sp->sep.needle[0], (size_t)pos) : NULL;
            m = q ? q - s : -1;
        }
        else
            m = nc_searcher_rfind(&sp->sep, s, pos);
        if (m >= 0) {
            *a = m + sp->sep.nn;
            sp->pos = m;
            sp->left--;
            return 1;
        }
    }
    *a = 0;
    sp->done = 1;
    return 1;
}

/* bytes.splitlines(keepends): \n, \r and \r\n end lines, nothing else; no
 * empty piece after a final line break.  The next \r and \n are found with
 * memchr and remembered, so text with one kind of break is scanned once for
 * the other, not once per line. */
NC_INLINE int
splitlines_next(nc_splitter *sp, const char *s, Py_ssize_t n, Py_ssize_t *a, Py_ssize_t *b)
{
    Py_ssize_t pos = sp->pos;
    if (pos >= n) {
        sp->done = 1;
        return 0;
    }
    if (sp->next_lf < pos) {
        Py_ssize_t k = nc_find_byte(s + pos, n - pos, '\n');
        sp->next_lf = k < 0 ? n : pos + k;
    }
    if (sp->next_cr < pos) {
        Py_ssize_t k = nc_find_byte(s + pos, n - pos, '\r');
        sp->next_cr = k < 0 ? n : pos + k;
    }
    Py_ssize_t eol = sp->next_lf < sp->next_cr ? sp->next_lf : sp->next_cr;
    *a = pos;
    if (eol == n) {
        *b = n;
        sp->pos = n;
        return 1;
    }
    Py_ssize_t next = eol + (s[eol] == '\r' && eol + 1 < n && s[eol + 1] == '\n' ? 2 : 1);
    *b = sp->keepends ? next : eol;
    sp->pos = next;
    return 1;
}

int
nc_splitter_next(nc_splitter *sp, const char *s, Py_ssize_t n, Py_ssize_t *a, Py_ssize_t *b)
{
    if (sp->done)
        return 0;
    switch (sp->kind) {
    case NC_SPLIT_WS:
        return split_ws_next(sp, s, n, a, b);
    case NC_RSPLIT_WS:
        return rsplit_ws_next(sp, s, n, a, b);
    case NC_SPLIT_SEP:
        return split_sep_next(sp, s, n, a, b);
    case NC_RSPLIT_SEP:
        return rsplit_sep_next(sp, s, n, a, b);
    case NC_SPLIT_LINES:
        return splitlines_next(sp, s, n, a, b);
    }
    return 0;
}

Py_ssize_t
nc_splitter_fill(nc_splitter *sp, const char *s, Py_ssize_t n, Py_ssize_t *ab, Py_ssize_t max)
{
    /* The state is worked on in a local copy whose address never escapes,
     * so it lives in registers: ab cannot alias it. */
    nc_splitter st = *sp;
    Py_ssize_t k = 0;
    if (st.done)
        return 0;
    switch (st.kind) {
    case NC_SPLIT_WS:
        while (k < max && !st.done && split_ws_next(&st, s, n, &ab[2 * k], &ab[2 * k + 1]))
            k++;
        break;
    case NC_RSPLIT_WS:
        while (k < max && !st.done && rsplit_ws_next(&st, s, n, &ab[2 * k], &ab[2 * k + 1]))
            k++;
        break;
    case NC_SPLIT_SEP:
        while (k < max && !st.done && split_sep_next(&st, s, n, &ab[2 * k], &ab[2 * k + 1]))
            k++;
        break;
    case NC_RSPLIT_SEP:
        while (k < max && !st.done && rsplit_sep_next(&st, s, n, &ab[2 * k], &ab[2 * k + 1]))
            k++;
        break;
    case NC_SPLIT_LINES:
        while (k < max && !st.done && splitlines_next(&st, s, n, &ab[2 * k], &ab[2 * k + 1]))
            k++;
        break;
    }
    *sp = st;
    return k;
}
