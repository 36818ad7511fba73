/* json.h -- the JSON encoder's output writer, shared by json_encode.c (values,
 * containers, entry points) and json_escape.c (strings).
 *
 * Ownership: an nc_jw lives on the C stack of one encode call.  It never owns
 * the destination: in FIXED mode the caller holds the buffer export, in
 * STREAM mode the caller holds the holder of the fixed chunk buffer; only in
 * GROW mode does it own `grow` (a bytes object under construction), which
 * nc_jw_grow_finish hands out or nc_jw_dispose frees.
 *
 * The writer has one invariant that keeps BufferTooSmall.needed exact: the
 * slow path nc_jw_flush is only entered when the room is used up to the last
 * byte (p == end).  Code that wants to write a small item directly checks the
 * room first and otherwise formats into a local array and calls nc_jw_write,
 * which fills the room exactly before flushing. */
#ifndef NOCOPY_JSON_H
#define NOCOPY_JSON_H

#include "nocopy.h"

enum {
    NC_JW_FIXED = 0,   /* caller's memory; on overflow keep counting in scratch */
    NC_JW_GROW = 1,    /* scratch first, then a growing bytes object */
    NC_JW_STREAM = 2,  /* fixed chunk buffer handed to a sink when full */
};

/* Scratch space: the first chunk of dumps() and the counting area after a
 * FIXED destination overflowed. */
#define NC_JW_SCRATCH 4096
/* The largest single item written without a loop (an escaped astral char is
 * 12 bytes, a double 32 with quotes 34); STREAM buffers are at least this. */
#define NC_JW_MIN_CHUNK 64

typedef struct {
    char *p;              /* write position */
    char *end;            /* end of the current room */
    char *base;           /* start of the current room */
    Py_ssize_t flushed;   /* bytes emitted before base (streamed or counted) */
    int mode;
    int overflowed;       /* FIXED: the destination filled up, now counting */
    PyObject *grow;       /* GROW: bytes object being filled, or NULL (scratch) */
    PyObject *sink;       /* STREAM: callable taking a View of the chunk (borrowed) */
    NcHolder *holder;     /* STREAM: holder of the chunk buffer (borrowed) */
    nc_state *st;
    /* A lone surrogate without ensure_ascii: json.dumps() itself succeeds and
     * only the oracle's .encode("utf-8") fails, after any error json.dumps
     * would raise.  dumps/dumps_into keep going (writing the surrogate as
     * 'surrogatepass' bytes) and raise UnicodeEncodeError at the end if
     * nothing else failed; dump raises at once (bytes already streamed cannot
     * be taken back, as with json.dump to a text file). */
    int defer_surrogates;
    PyObject *bad_str;    /* owned: first str with a lone surrogate, or NULL */
    Py_ssize_t bad_pos;
    char scratch[NC_JW_SCRATCH];
} nc_jw;

/* Make room after p reached end.  0 on success (room > 0), -1 with an
 * exception (sink raised, MemoryError). */
int nc_jw_flush(nc_jw *w);

static inline Py_ssize_t
nc_jw_room(const nc_jw *w)
{
    return w->end - w->p;
}

/* Total bytes of the document so far. */
static inline Py_ssize_t
nc_jw_total(const nc_jw *w)
{
    return w->flushed + (w->p - w->base);
}

/* Copy n bytes, flushing as often as needed (pieces larger than the room are
 * written across several flushes, never through an intermediate copy). */
int nc_jw_write_slow(nc_jw *w, const char *src, Py_ssize_t n);
static inline int
nc_jw_write(nc_jw *w, const char *src, Py_ssize_t n)
{
    if (nc_jw_room(w) >= n) {
        memcpy(w->p, src, (size_t)n);
        w->p += n;
        return 0;
    }
    return nc_jw_write_slow(w, src, n);
}

static inline int
nc_jw_byte(nc_jw *w, char c)
{
    if (w->p == w->end && nc_jw_flush(w) < 0)
        return -1;
    *w->p++ = c;
    return 0;
}

/* n copies of byte c (indentation). */
int nc_jw_fill(nc_jw *w, char c, Py_ssize_t n);

/* json_escape.c: write the str `s` as a JSON string literal (quotes included)
 * in UTF-8, with the stdlib's escaping for the ensure_ascii mode.  A lone
 * surrogate with ensure_ascii=0 raises UnicodeEncodeError, as
 * json.dumps(...).encode("utf-8") does. */
int nc_json_write_str(nc_jw *w, PyObject *s, int ensure_ascii);
/* UnicodeEncodeError for the lone surrogate at str[i] (and the run after it). */
void nc_json_raise_surrogate(PyObject *str, Py_ssize_t i);

/* Module registration (json_encode.c). */
int nc_json_module_init(PyObject *m, nc_state *st);

#endif /* NOCOPY_JSON_H */
