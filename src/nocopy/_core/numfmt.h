/* numfmt.h -- number formatting into caller memory, no heap allocation. */
#ifndef NOCOPY_NUMFMT_H
#define NOCOPY_NUMFMT_H

#include <stddef.h>

/* Longest text nc_format_double can write ("-2.2250738585072014e-308" is 24). */
#define NC_DOUBLE_MAX_CHARS 32

/* Write repr(x) for a finite double x into out (at least NC_DOUBLE_MAX_CHARS
 * bytes; no NUL written) and return the number of bytes.  Shortest
 * round-trip digits, formatted exactly as Python's float.__repr__ does:
 * "1.0", "-0.0", "1e+16", "1.5e-07", "123456789012345.6". */
int nc_format_double(double x, char *out);

#endif
