/* json_wide.h -- the bytes of a string literal checked and copied 32 at a
 * time with AVX-512 (BW and VL: byte compares of 256-bit registers into
 * mask registers, masked loads and stores), picked at run time when the CPU
 * has it (json_wide.c).
 *
 * Why: a string's bytes are the bulk of most documents, and the SSE2 loops
 * of json.h and json_escape.c take 16 bytes a step with four compares, four
 * ORs and a movemask each.  Here a step is 32 bytes with three compares
 * into a mask.  The copy ends in blocks that overlap the ones before; the
 * escaping writer ends in one masked load and store, whose masked-off
 * bytes are neither read (the load suppresses faults on them) nor written.
 *
 * The callers pick these when nc_json_wide is set and fall back to the
 * SSE2 code otherwise; both give the same bytes (the tests run each). */
#ifndef NOCOPY_JSON_WIDE_H
#define NOCOPY_JSON_WIDE_H

#include "nocopy.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(NC_NO_SIMD)
#define NC_JSON_HAVE_WIDE 1
/* 1 when the CPU has AVX-512 F, BW and VL and they are in use (module
 * init; a plain int: only the test hook changes it after). */
extern int nc_json_wide;
/* The n >= 16 bytes of src copied to out when none needs an escape ('"', '\\',
 * below 0x20, and DEL under ensure_ascii; bytes >= 0x80 pass, so this
 * serves UTF-8 too): 1.  Else 0, and out[0:n] may hold part of the copy,
 * which the caller does not count.  Writes at most n bytes. */
int nc_json_wide_copy_clean(char *out, const unsigned char *src, Py_ssize_t n, int ensure_ascii);
/* The JSON text of the bytes s[0:n] (no quotes; ASCII, or UTF-8 without
 * ensure_ascii) at out, which has room for 6 * n bytes; returns the end.
 * Writes no byte past the text it returns. */
char *nc_json_wide_escape(char *out, const unsigned char *s, Py_ssize_t n, int ensure_ascii);
#else
#define NC_JSON_HAVE_WIDE 0
#define nc_json_wide 0
#endif

/* Module init: checks the CPU. */
void nc_json_wide_init(void);
/* Test hook: switch the wide loops on (1) or off (0), or only ask (-1);
 * returns whether they were on.  Off when the CPU or build lacks them. */
int nc_json_wide_set(int on);

#endif /* NOCOPY_JSON_WIDE_H */
