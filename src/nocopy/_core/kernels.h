/* kernels.h -- byte kernels on (pointer, length).  No PyObject in sight:
 * View, Rope and ByteBuffer all call these, as bytes and bytearray share
 * CPython's stringlib.  All lengths are Py_ssize_t and never negative. */
#ifndef NOCOPY_KERNELS_H
#define NOCOPY_KERNELS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#ifndef PY_SSIZE_T_CLEAN
#define PY_SSIZE_T_CLEAN
#endif
#include <Python.h>

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

/* A 256-bit set of byte values, for strip(chars) and friends. */
typedef struct { uint64_t w[4]; } nc_byteset;
void nc_byteset_init(nc_byteset *set, const char *chars, Py_ssize_t n);
static inline int
nc_byteset_has(const nc_byteset *set, unsigned char c)
{
    return (int)((set->w[c >> 6] >> (c & 63)) & 1u);
}
/* ASCII whitespace as bytes.strip() sees it: space \t \n \r \x0b \x0c. */
static inline int
nc_isspace(unsigned char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}
/* Number of leading / trailing bytes in set (set NULL: ASCII whitespace). */
Py_ssize_t nc_lstrip_len(const char *s, Py_ssize_t n, const nc_byteset *set);
Py_ssize_t nc_rstrip_len(const char *s, Py_ssize_t n, const nc_byteset *set);

#endif /* NOCOPY_KERNELS_H */
