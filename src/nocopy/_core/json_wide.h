/* json_wide.h -- the bytes of a string literal checked and copied 32 at a
 * time with AVX-512 (BW and VL: byte compares of 256-bit registers into
 * mask registers, masked loads and stores) or AVX2 (the copy only), picked
 * at run time by what the CPU has (json_wide.c).
 *
 * Why: a string's bytes are the bulk of most documents, and the SSE2 loops
 * of json.h and json_escape.c take 16 bytes a step with four compares, four
 * ORs and a movemask each.  Here a step is 32 bytes with three compares
 * into a mask.  The copy ends in blocks that overlap the ones before; the
 * escaping writer ends in one masked load and store, whose masked-off
 * bytes are neither read (the load suppresses faults on them) nor written.
 *
 * The callers pick these by nc_json_wide and fall back to the SSE2 code
 * otherwise; all give the same bytes (the tests run each level). */
#ifndef NOCOPY_JSON_WIDE_H
#define NOCOPY_JSON_WIDE_H

#include "nocopy.h"

/* The levels, from what the CPU has (module init). */
enum { NC_WIDE_OFF = 0, NC_WIDE_AVX2 = 1, NC_WIDE_AVX512 = 2 };

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(NC_NO_SIMD)
#define NC_JSON_HAVE_WIDE 1
/* The level in use (a plain int: only the test hook changes it after
 * module init). */
extern int nc_json_wide;
/* Level AVX2 or AVX512: the n >= 16 bytes of src copied to out when none
 * needs an escape ('"', '\\', below 0x20, and DEL under ensure_ascii; bytes
 * >= 0x80 pass, so this serves UTF-8 too): 1.  Else 0, and out[0:n] may
 * hold part of the copy, which the caller does not count.  Writes at most
 * n bytes. */
int nc_json_copy_clean_avx512(char *out, const unsigned char *src, Py_ssize_t n, int ensure_ascii);
int nc_json_copy_clean_avx2(char *out, const unsigned char *src, Py_ssize_t n, int ensure_ascii);
/* The level's copy, picked at the call: a function between them that only
 * picked (a compare and a jump) took 3% of the time of short dicts of
 * cached non-ASCII strings. */
static inline int
nc_json_wide_copy_clean(char *out, const unsigned char *src, Py_ssize_t n, int ensure_ascii)
{
    return nc_json_wide == NC_WIDE_AVX512 ? nc_json_copy_clean_avx512(out, src, n, ensure_ascii)
                                          : nc_json_copy_clean_avx2(out, src, n, ensure_ascii);
}
/* Level AVX2 or AVX512, for a str whose UTF-8 CPython caches (at least
 * 16 bytes; json_escape.c sends 64 or more; ensure_ascii off): the whole
 * string literal, quotes included, from that cache when the room holds it
 * and nothing needs an escape, else by json_escape.c's general writer; 0,
 * or -1 with an exception.  Its own
 * function, reached from nc_json_write_str by a jump after a few tests:
 * there it paid that function's prologue for its short-string paths. */
struct nc_jw_s;
int nc_json_wide_write_cached(struct nc_jw_s *w, PyObject *s);
/* Level AVX512 only: the JSON text of the bytes s[0:n] (no quotes; ASCII,
 * or UTF-8 without ensure_ascii) at out, which has room for 6 * n bytes;
 * returns the end.  Writes no byte past the text it returns. */
char *nc_json_wide_escape(char *out, const unsigned char *s, Py_ssize_t n, int ensure_ascii);
#else
#define NC_JSON_HAVE_WIDE 0
#define nc_json_wide NC_WIDE_OFF
#endif

/* Module init: checks the CPU. */
void nc_json_wide_init(void);
/* Test hook: use `level` (at most the CPU's), or only ask (-1); returns
 * the level in use before. */
int nc_json_wide_set(int level);

#endif /* NOCOPY_JSON_WIDE_H */
