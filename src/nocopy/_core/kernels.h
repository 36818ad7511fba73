/* kernels.h -- byte kernels on (pointer, length).  No PyObject in sight:
 * View, Rope and ByteBuffer all call these, as bytes and bytearray share
 * CPython's stringlib.  All lengths are Py_ssize_t and never negative.
 *
 * Every kernel reads only inside the (pointer, length) it is given and keeps
 * no pointer past its return, except the searcher and splitter states below,
 * which point at the needle their caller keeps alive. */
#ifndef NOCOPY_KERNELS_H
#define NOCOPY_KERNELS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#ifndef PY_SSIZE_T_CLEAN
#define PY_SSIZE_T_CLEAN
#endif
#include <Python.h>

/* ---- substring search ---------------------------------------------------- */

/* Index of the first occurrence of needle in haystack, or -1.  An empty
 * needle matches at 0.  Linear time on any input (no quadratic worst case). */
Py_ssize_t nc_find(const char *hay, Py_ssize_t hn, const char *needle, Py_ssize_t nn);
/* Index of the last occurrence, or -1.  An empty needle matches at hn. */
Py_ssize_t nc_rfind(const char *hay, Py_ssize_t hn, const char *needle, Py_ssize_t nn);
/* Non-overlapping occurrences, at most maxcount (maxcount < 0: no limit).
 * An empty needle counts hn + 1 (capped by maxcount). */
Py_ssize_t nc_count(const char *hay, Py_ssize_t hn, const char *needle, Py_ssize_t nn,
                    Py_ssize_t maxcount);
/* Single byte search through memchr / memrchr. */
Py_ssize_t nc_find_byte(const char *hay, Py_ssize_t hn, unsigned char c);
Py_ssize_t nc_rfind_byte(const char *hay, Py_ssize_t hn, unsigned char c);
/* Occurrences of one byte value. */
Py_ssize_t nc_count_byte(const char *hay, Py_ssize_t hn, unsigned char c);

/* A 256-bit set of byte values, for strip(chars) and friends. */
typedef struct { uint64_t w[4]; } nc_byteset;
void nc_byteset_init(nc_byteset *set, const char *chars, Py_ssize_t n);
static inline int
nc_byteset_has(const nc_byteset *set, unsigned char c)
{
    return (int)((set->w[c >> 6] >> (c & 63)) & 1u);
}

/* A prepared search for one needle in one direction, for callers that search
 * the same needle many times (count, split, iterators).  It starts with a
 * memchr-driven scan, which wins on ordinary data, and keeps an account of
 * the comparison work that scan costs against the bytes it has passed; once
 * the work outgrows the progress (an adversarial, self-similar input) it
 * switches for good to Crochemore-Perrin Two-Way, which is linear.  The
 * needle must stay valid and unchanged for the searcher's life; nn >= 1. */
typedef struct {
    const char *needle;   /* borrowed */
    Py_ssize_t nn;
    Py_ssize_t work;      /* comparison cost of the memchr scan so far */
    Py_ssize_t progress;  /* haystack bytes passed by earlier calls */
    int reverse;
    int two_way;          /* switched: the fields below are valid */
    int periodic;
    Py_ssize_t suffix;    /* critical factorization point */
    Py_ssize_t period;    /* shift after a match of a non-periodic needle, or its period */
    nc_byteset bytes;     /* every byte of the needle (bad-character skip) */
} nc_searcher;

void nc_searcher_init(nc_searcher *s, const char *needle, Py_ssize_t nn, int reverse);
/* Forward searcher: first match inside hay[0, hn), or -1.  A caller that
 * continues must pass the haystack starting right after the match (as
 * count and split do), so the work account stays honest. */
Py_ssize_t nc_searcher_find(nc_searcher *s, const char *hay, Py_ssize_t hn);
/* Reverse searcher: last match inside hay[0, hn), or -1; continue with
 * hn = the match's start. */
Py_ssize_t nc_searcher_rfind(nc_searcher *s, const char *hay, Py_ssize_t hn);
/* Skip the memchr phase (tests use it to check Two-Way on random inputs). */
void nc_searcher_force_two_way(nc_searcher *s);

/* ---- character classes ------------------------------------------------------- */

/* ASCII classes as bytes' is*() methods see them. */
enum {
    NC_CT_SPACE = 1,   /* space \t \n \r \x0b \x0c */
    NC_CT_LOWER = 2,
    NC_CT_UPPER = 4,
    NC_CT_DIGIT = 8,
    NC_CT_ALPHA = NC_CT_LOWER | NC_CT_UPPER,
    NC_CT_ALNUM = NC_CT_ALPHA | NC_CT_DIGIT,
};
extern const unsigned char nc_ctype[256];

/* ASCII whitespace as bytes.strip() sees it: space \t \n \r \x0b \x0c. */
static inline int
nc_isspace(unsigned char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

/* Predicates on a whole byte string, with bytes' results (an empty string is
 * False for all but isascii, which is True). */
int nc_bytes_isalnum(const char *s, Py_ssize_t n);
int nc_bytes_isalpha(const char *s, Py_ssize_t n);
int nc_bytes_isascii(const char *s, Py_ssize_t n);
int nc_bytes_isdigit(const char *s, Py_ssize_t n);
int nc_bytes_islower(const char *s, Py_ssize_t n);
int nc_bytes_isspace(const char *s, Py_ssize_t n);
int nc_bytes_istitle(const char *s, Py_ssize_t n);
int nc_bytes_isupper(const char *s, Py_ssize_t n);

/* ---- strip --------------------------------------------------------------------- */

/* Number of leading / trailing bytes in set (set NULL: ASCII whitespace). */
Py_ssize_t nc_lstrip_len(const char *s, Py_ssize_t n, const nc_byteset *set);
Py_ssize_t nc_rstrip_len(const char *s, Py_ssize_t n, const nc_byteset *set);

/* ---- split ------------------------------------------------------------------------ */

/* A splitter yields the pieces of bytes.split / rsplit / splitlines one at a
 * time as (start, stop) offsets, so a list, a lazy iterator or a Rope can
 * make each piece whatever it likes (a sub-view, a segment).  The string is
 * passed again on every call and must be the same (pointer may move, bytes
 * and length may not).  Pieces of the reverse kinds come right to left. */
typedef enum {
    NC_SPLIT_WS,        /* bytes.split(None, maxsplit) */
    NC_RSPLIT_WS,       /* bytes.rsplit(None, maxsplit) */
    NC_SPLIT_SEP,       /* bytes.split(sep, maxsplit) */
    NC_RSPLIT_SEP,      /* bytes.rsplit(sep, maxsplit) */
    NC_SPLIT_LINES,     /* bytes.splitlines(keepends) */
} nc_split_kind;

typedef struct {
    nc_split_kind kind;
    int done;
    int keepends;
    Py_ssize_t pos;       /* forward: next offset to scan; reverse: end of the unscanned part */
    Py_ssize_t left;      /* splits still allowed */
    Py_ssize_t next_cr;   /* splitlines: cached offsets of the next \r / \n at or */
    Py_ssize_t next_lf;   /* after pos (n: none); below pos means not searched yet */
    nc_searcher sep;      /* the *_SEP kinds */
} nc_splitter;

/* maxsplit < 0: no limit.  sep/sepn only for the *_SEP kinds (sepn >= 1,
 * sep kept alive by the caller); keepends only for NC_SPLIT_LINES. */
void nc_splitter_init(nc_splitter *sp, nc_split_kind kind, Py_ssize_t n, const char *sep,
                      Py_ssize_t sepn, Py_ssize_t maxsplit, int keepends);
/* Next piece as [*a, *b): returns 1, or 0 when there are no more. */
int nc_splitter_next(nc_splitter *sp, const char *s, Py_ssize_t n, Py_ssize_t *a, Py_ssize_t *b);
/* Up to max next pieces into ab[0..2k) as (start, stop) pairs; returns k
 * (0 when there are no more).  Faster than nc_splitter_next per piece. */
Py_ssize_t nc_splitter_fill(nc_splitter *sp, const char *s, Py_ssize_t n, Py_ssize_t *ab,
                            Py_ssize_t max);

#endif /* NOCOPY_KERNELS_H */
