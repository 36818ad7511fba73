/* buffer.h -- ByteBuffer: owned storage with a read and a write cursor.
 *
 * Exposed to other C files (the JSON encoder writes straight into a
 * ByteBuffer's free space) through the few helpers below; the layout is here
 * so they can be inlined, but only buffer.c and buffer_read.c change the
 * cursors' rules. */
#ifndef NOCOPY_BUFFER_H
#define NOCOPY_BUFFER_H

#include "nocopy.h"

/* A resolved byte source: meth (owned) is the bound readinto/recv_into, or
 * NULL and fd >= 0 for a raw file descriptor read with read(2). */
typedef struct {
    PyObject *meth;
    int fd;
} nc_source;

typedef struct {
    PyObject_HEAD
    NcHolder *holder;     /* owned storage (owned); replaced when a held export forces a move */
    NcHolder *wwin;       /* owned: the write window, a holder over holder's free space
                           * [wpos, len) that writable() views live on; its epoch is
                           * bumped (and it is re-based) whenever wpos moves */
    Py_ssize_t rpos;      /* read cursor: readable bytes are [rpos, wpos) */
    Py_ssize_t wpos;      /* write cursor: free space is [wpos, holder->len) */
    Py_ssize_t head;      /* headroom: where the cursors go when the buffer is emptied
                           * (clear, compaction of nothing), and the offset below which
                           * a compaction never moves readable bytes; prepend() writes
                           * below rpos.  capacity = size - head */
    Py_ssize_t size;      /* the storage's length (headroom + capacity), fixed; holder->len
                           * is 0 instead while the storage is handed over (take_bytes),
                           * until something needs room ("detached", buffer_impl.h) */
    Py_ssize_t unseen;    /* no byte below this offset was readable since holder->epoch last
                           * changed, so no View made since shows one: a prepend into
                           * them stales nothing (rpos >= unseen always) */
    int bstore;           /* storage lives in a bytes object (storage="bytes") */
    NcView *wview;        /* owned or NULL: the last writable() view, reused when nobody holds it */
    PyObject *overflow;   /* owned or NULL: called by write() when data does not fit */
    nc_source src;        /* attached source (nocopy.io.Reader); fd -1 and meth NULL: none */
    int src_eof;          /* the attached source reported EOF */
    uint64_t gen;         /* bumped whenever storage moves or is reset (line iterators' scan cache) */
    uint64_t lends;       /* bumped by _reset() (nocopy.pool): older line iterators refuse */
    int busy;             /* a fill is running (Python code or a syscall): no mutation allowed */
    int wtaint;           /* committed while an export of wwin was held: readable bytes may
                           * still be written through it (buffer.c, bb_untaint) */
    int external;         /* ByteBuffer.wrap(): the storage is a caller's buffer, never
                           * replaced by fresh storage (buffer_external.c) */
    int closed;           /* close() ran: storage given back, detached for good */
} NcByteBuffer;

#define NcByteBuffer_Check(st, op) PyObject_TypeCheck((op), (st)->ByteBufferType)

int nc_bytebuffer_module_init(PyObject *m, nc_state *st);
/* pickle.c: __reduce_ex__, __copy__, __deepcopy__ (concatenated into its methods). */
extern PyMethodDef nc_bb_pickle_methods[];

/* Make at least n bytes of contiguous free space (compacting, or moving to
 * fresh storage when a view of the old one is exported or take_bytes()
 * handed the storage over) and return a pointer to it in *out.
 * ValueError on a closed buffer (even for n == 0);
 * BufferTooSmall (needed = n) when even a compaction to the front (which
 * keeps the headroom) leaves less; RuntimeError while a fill is running.
 * Nothing is committed. */
int nc_bytebuffer_reserve(NcByteBuffer *b, Py_ssize_t n, char **out);
/* Commit n bytes written into the free space (at the pointer from
 * nc_bytebuffer_reserve or through a writable() view).  ValueError when n is
 * negative or exceeds the free space; -1 also on MemoryError when storage
 * handed over by take_bytes() is replaced (which runs Python: only then).
 * 0 on success. */
int nc_bytebuffer_commit(NcByteBuffer *b, Py_ssize_t n);

/* Drop the readable bytes past the first `keep` (what a failed writer
 * appended): the write cursor goes back.  Views of the storage go stale;
 * with an export held the kept bytes move to fresh storage instead (may run
 * Python, -1 on MemoryError).  Nothing happens when keep covers what is
 * readable, or on a closed or handed-over buffer. */
int nc_bytebuffer_truncate(NcByteBuffer *b, Py_ssize_t keep);

/* Every View of the storage goes stale; nothing moves (a buffer export,
 * which holds a pointer, is unaffected).  For an owner that handed bytes to
 * a reader which keeps them: no View may write into them any more. */
void nc_bytebuffer_stale_views(NcByteBuffer *b);

/* The free tail: bytes writable at the write cursor without compacting.
 * For a buffer whose storage take_bytes() handed over, what fresh storage
 * will give (nc_bytebuffer_reserve of it attaches that storage).  Read it
 * through here, not as holder->len - wpos. */
static inline Py_ssize_t
nc_bytebuffer_tail(NcByteBuffer *b)
{
    if (b->holder->len != b->size)
        return b->closed ? 0 : b->size - b->head;
    return b->holder->len - b->wpos;
}

/* Prepend (buffer_build.c): make n bytes right before the read cursor
 * writable and return where they start in *out (= storage + rpos - n).
 * The caller writes exactly n bytes there and then calls
 * nc_bytebuffer_prepend_commit(b, n), running no Python code in between.
 * BufferTooSmall (needed = n) when fewer than n bytes are before the read
 * cursor (the headroom plus the consumed bytes), RuntimeError while a fill
 * runs; nothing changed then.  When some of those bytes were readable since
 * the storage's epoch last changed (consumed bytes, or bytes an earlier
 * prepend put there and read() handed out), a View made then may still
 * show them: every View of the storage goes stale (one epoch bump: the
 * buffer does not know which views cover them).  Untouched headroom stales
 * nothing.  When a buffer export is held (memoryview of a
 * View, of the buffer, or of a writable() View kept across a commit), the
 * readable bytes first move to fresh storage at the same offsets, and the
 * exporter keeps the old storage, unchanged.  May run Python (that move's
 * allocation); n == 0 succeeds and changes nothing. */
int nc_bytebuffer_prepend_reserve(NcByteBuffer *b, Py_ssize_t n, char **out);
static inline void
nc_bytebuffer_prepend_commit(NcByteBuffer *b, Py_ssize_t n)
{
    b->rpos -= n;
    if (b->unseen > b->rpos)  /* n > 0: reserve left unseen == the old rpos */
        b->unseen = b->rpos;
    b->gen++;
}

#endif /* NOCOPY_BUFFER_H */
