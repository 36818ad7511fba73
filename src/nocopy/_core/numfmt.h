/* numfmt.h -- number formatting into caller memory.
 *
 * Ownership: none.  Every function writes into the caller's array and
 * returns the byte count; nothing is allocated, no PyObject is touched, no
 * NUL is written.  Safe to call without the GIL. */
#ifndef NOCOPY_NUMFMT_H
#define NOCOPY_NUMFMT_H

#include <stddef.h>
#include <stdint.h>

/* Longest text nc_format_double writes: a sign, 17 digits, the point and
 * "e-308" ("-2.2250738585072014e-308"); fixed notation is shorter. */
#define NC_DOUBLE_MAX_CHARS 24
/* Longest text nc_format_int64 writes ("-9223372036854775808" is 20). */
#define NC_INT64_MAX_CHARS 20

/* Room nc_format_double needs at out: it composes with fixed-size copies
 * (no length-dependent loops), so it may overwrite bytes past the text. */
#define NC_DOUBLE_ROOM 48

/* Write repr(x) into out (at least NC_DOUBLE_ROOM bytes; the bytes after the
 * returned count are scratch and may be overwritten) and return the
 * number of bytes.  For finite x: the shortest digits that round-trip
 * (closest to x among those, ties to even), laid out as Python's
 * float.__repr__ does: "1.0", "-0.0", "1e+16", "1.5e-07", "123456789012345.6".
 * For non-finite x it also writes repr's text: "nan" (any sign), "inf",
 * "-inf" -- callers that must reject them (JSON) check before calling.
 * Schubfach (R. Giulietti, "The Schubfach way to render doubles"), after a
 * one-product fast path that defers to it near rounding decisions. */
int nc_format_double(double x, char *out);

/* nc_format_double for a run of doubles: *run (start it at 0, then leave it
 * to this function) lets it skip its short-decimal check while the recent
 * doubles had none.  Same text. */
int nc_format_double_run(double x, char *out, int *run);

/* n finite doubles x[0..n) as the items of a JSON array: each text after
 * one byte sep (the first one too when lead is set), at out, which needs
 * n * (NC_DOUBLE_MAX_CHARS + 1) + NC_DOUBLE_ROOM bytes; returns the end of
 * the text.  The bytes past it are scratch, as with nc_format_double, up to
 * NC_DOUBLE_ROOM bytes past the start of the last text.  One call for a run
 * of floats: the formatter is inlined into the loop. */
char *nc_format_doubles(const double *x, int n, char sep, int lead, char *out, int *run);

/* ngroups arrays of m finite doubles each, x[0..ngroups*m), as JSON arrays
 * that are items of an outer array: each "[a<sep>b...]" after one byte sep
 * (the first one too when lead is set).  out needs
 * ngroups * (m * (NC_DOUBLE_MAX_CHARS + 1) + 2) + NC_DOUBLE_ROOM bytes;
 * returns the end of the text, scratch past it as nc_format_doubles.  For
 * coordinate pairs (GeoJSON): one call for a run of them. */
char *nc_format_double_groups(const double *x, int ngroups, int m, char sep, int lead, char *out,
                              int *run);

/* nc_format_double writing exactly the returned count of bytes at out and
 * nothing past them (out needs only NC_DOUBLE_MAX_CHARS bytes): for memory
 * the caller owns beyond the text, as dumps_into's buffer. */
int nc_format_double_exact(double x, char *out);

/* Test hook for the two paths of the shortest-digits step.  For a normal x
 * whose significand bits are not all zero (the inputs the one-product fast
 * path takes): d[0], e[0] from the fast path and d[1], e[1] from Schubfach,
 * d * 10^e each; returns 0, or 1 when the fast path declined (it was too
 * near a rounding decision; d[0], e[0] then copy Schubfach's).  Returns -1
 * for other x. */
int nc_double_paths(double x, uint64_t d[2], int e[2]);

/* nc_format_int64(v, out): str(v) into out (at least NC_INT64_MAX_CHARS
 * bytes), returns the number of bytes; static inline in numfmt_digits.h. */
#include "numfmt_digits.h"

#endif
