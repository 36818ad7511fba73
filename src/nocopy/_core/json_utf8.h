/* json_utf8.h -- Latin-1/UCS-2/UCS-4 code points to UTF-8 a block at a
 * time, for json_escape.c's strings without ensure_ascii (json_utf8.c).
 *
 * A per-char loop branches on the UTF-8 length of every char, and mixed
 * scripts (Latin, Greek, CJK, emoji and spaces side by side) make that
 * branch unpredictable.  These runs take 16 Latin-1, 8 UCS-2 or 4 UCS-4
 * chars per step with no branch on their lengths: every 32-bit lane is
 * turned into its UTF-8 bytes, then one byte shuffle (SSSE3 pshufb, picked
 * at run time) packs four lanes.
 *
 * Contract of a run: it starts at *pp, takes whole blocks of clean chars
 * (no '"', '\\', control char or surrogate) while a block fits before
 * `stop`, and stops at the first block that is not clean, leaving *pp at
 * its start for the caller's per-char code.  It writes exactly the bytes it
 * returns (out + length): bytes past the text are never touched, because
 * in dumps_into they belong to the caller.  Blocks with at least 12 chars
 * of the string (up to `send`) after them are stored straight to out with
 * one 16-byte store each (those later chars overwrite the store's spare
 * bytes); the last blocks go through a local array. */
#ifndef NOCOPY_JSON_UTF8_H
#define NOCOPY_JSON_UTF8_H

#include "nocopy.h"

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__)) \
    && !defined(NC_NO_SIMD)
#define NC_JSON_HAVE_UTF8_BLOCKS 1
/* 1 when the CPU has SSSE3 and the block runs are in use (module init). */
extern int nc_json_utf8_blocks;
char *nc_json_utf8_run4(const Py_UCS4 **pp, const Py_UCS4 *stop, const Py_UCS4 *send, char *out);
char *nc_json_utf8_run1(const Py_UCS1 **pp, const Py_UCS1 *stop, const Py_UCS1 *send, char *out);
char *nc_json_utf8_run2(const Py_UCS2 **pp, const Py_UCS2 *stop, const Py_UCS2 *send, char *out);
#else
#define NC_JSON_HAVE_UTF8_BLOCKS 0
#define nc_json_utf8_blocks 0
#endif

/* Module init: builds the shuffle table, checks the CPU. */
void nc_json_utf8_init(void);
/* Test hook: switch the block runs on (1) or off (0), or only ask (-1);
 * returns whether they were on.  Off when the CPU or build lacks them. */
int nc_json_utf8_set_blocks(int on);

#endif /* NOCOPY_JSON_UTF8_H */
