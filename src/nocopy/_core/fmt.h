/* fmt.h -- the `bytes % args` language, formatted straight into caller
 * memory in two phases.
 *
 *   nc_fmt_job job;
 *   if (nc_fmt_prepare(&job, fmt, fmtlen, args, nargs) < 0) ...  (runs Python)
 *   ... check room for job.size, pin / reserve the target ...     (no Python after this)
 *   nc_fmt_emit(&job, out);                                        (exactly job.size bytes)
 *   nc_fmt_release(&job);                                          (on every path)
 *
 * prepare parses the whole format, converts and validates every argument
 * (__index__, __int__, __float__, __bytes__, repr/ascii, a mapping's
 * __getitem__ all run here, in the order bytes.__mod__ runs them, raising
 * the same exceptions), pins what the output will copy from (an export of a
 * bytes-like argument, a reference to a bytes or str) and computes the exact
 * size.  emit runs no Python code and allocates nothing (except a raw
 * PyMem scratch when the output overlaps the format or a pinned argument
 * and is larger than the stack scratch: PyMem_Malloc never runs the GC).
 *
 * Ownership: the job owns the references and exports it took; release gives
 * them all back (safe after a failed prepare, once).  The format memory is
 * the caller's: it must stay valid and unchanged until emit has run (pin it
 * with a Py_buffer).  The job is large (NC_FMT_INLINE pieces inline): keep it
 * on the stack of the function that formats, do not copy it.
 *
 * Argument convention (the `%` operator's): with nargs == 1 the format is
 * applied to args[0] as `fmt % args[0]` (a tuple gives its items, a mapping
 * serves %(key)s, anything else is the one value); otherwise to the tuple
 * args[0 .. nargs) (`fmt % ()` for none). */
#ifndef NOCOPY_FMT_H
#define NOCOPY_FMT_H

#include "nocopy.h"

/* Conversions (and %%) kept inline in the job before it goes to the heap. */
#define NC_FMT_INLINE 16
/* Inline text of one piece: every int64 in any base with its prefix, most
 * floats. */
#define NC_FMT_SMALL 40

typedef struct {
    Py_ssize_t lit_off;   /* format bytes [lit_off, lit_off + lit_len) come first */
    Py_ssize_t lit_len;
    Py_ssize_t lpad;      /* fill bytes before the text (after an early sign/prefix) */
    Py_ssize_t zeros;     /* precision zeros between the prefix and the digits */
    Py_ssize_t len;       /* body bytes */
    Py_ssize_t rpad;      /* spaces after */
    const char *ptr;      /* body, when kind is NC_FMT_PTR / NC_FMT_PTR_UPPER */
    PyObject *obj;        /* owned or NULL: the object ptr points into */
    Py_buffer view;       /* pinned export ptr points into, valid when view.obj != NULL */
    char *heap;           /* PyMem_Malloc'd text (a float longer than NC_FMT_SMALL), or NULL */
    char kind;            /* NC_FMT_* */
    char sign;            /* 0, '-', '+' or ' ' */
    char early;           /* sign and prefix go before the fill (zero padding) */
    char fill;            /* ' ' or '0' */
    char nprefix;         /* 0 or 2 */
    char prefix[2];
    char small[NC_FMT_SMALL];
} nc_fmt_piece;

/* Where a piece's body is: small[], or ptr (NC_FMT_PTR_UPPER: hex digits of
 * a big int, upper-cased as they are copied). */
enum { NC_FMT_INLINE_TEXT = 0, NC_FMT_PTR = 1, NC_FMT_PTR_UPPER = 2 };

typedef struct {
    const char *fmt;      /* borrowed: the caller keeps it valid through emit */
    Py_ssize_t fmtlen;
    Py_ssize_t size;      /* exact output size, set by a successful prepare */
    Py_ssize_t npieces;
    Py_ssize_t cap;
    nc_fmt_piece *pieces; /* stack, or PyMem_Malloc'd beyond NC_FMT_INLINE */
    nc_fmt_piece stack[NC_FMT_INLINE];
} nc_fmt_job;

/* Parse, convert and size; 0, or -1 with the exception bytes.__mod__ raises
 * for the same format and arguments.  Always follow with nc_fmt_release. */
int nc_fmt_prepare(nc_fmt_job *job, const char *fmt, Py_ssize_t fmtlen, PyObject *const *args,
                   Py_ssize_t nargs);
/* Write exactly job->size bytes at out.  No Python code.  out may overlap
 * the format or a pinned argument (it is then written through a scratch
 * copy); -1 (MemoryError) only when that scratch cannot be had. */
int nc_fmt_emit(nc_fmt_job *job, char *out);
/* Give back every reference and export; idempotent. */
void nc_fmt_release(nc_fmt_job *job);

/* Write the job into ByteBuffer bb's free space and commit it (buffer_fmt.c):
 * the result object first, then room (compacting as write() does;
 * BufferTooSmall, needed = job->size, with nothing written), then the text
 * with no Python code in between.  Returns the byte count as an int. */
PyObject *nc_bb_emit_fmt(PyObject *bb, nc_fmt_job *job);

/* Module-level nocopy.format_into (fmt.c). */
int nc_fmt_module_init(PyObject *m, nc_state *st);

#endif /* NOCOPY_FMT_H */
