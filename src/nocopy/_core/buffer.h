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
    NcView *wview;        /* owned or NULL: the last writable() view, reused when nobody holds it */
    PyObject *overflow;   /* owned or NULL: called by write() when data does not fit */
    nc_source src;        /* attached source (nocopy.io.Reader); fd -1 and meth NULL: none */
    int src_eof;          /* the attached source reported EOF */
    uint64_t gen;         /* bumped whenever storage moves or is reset (line iterators' scan cache) */
    uint64_t lends;       /* bumped by _reset() (nocopy.pool): older line iterators refuse */
    int busy;             /* a fill is running (Python code or a syscall): no mutation allowed */
    int wtaint;           /* committed while an export of wwin was held: readable bytes may
                           * still be written through it (buffer.c, bb_untaint) */
} NcByteBuffer;

#define NcByteBuffer_Check(st, op) PyObject_TypeCheck((op), (st)->ByteBufferType)

int nc_bytebuffer_module_init(PyObject *m, nc_state *st);

/* Make at least n bytes of contiguous free space (compacting, or moving to
 * fresh storage when a view of the old one is exported) and return a pointer
 * to it in *out.  BufferTooSmall (needed = n) when n > capacity - readable;
 * RuntimeError while a fill is running.  Nothing is committed. */
int nc_bytebuffer_reserve(NcByteBuffer *b, Py_ssize_t n, char **out);
/* Commit n bytes written into the free space (at the pointer from
 * nc_bytebuffer_reserve or through a writable() view).  ValueError when n is
 * negative or exceeds the free space; -1 also on MemoryError when a held
 * export of the write window forces a move to fresh storage.  0 on success. */
int nc_bytebuffer_commit(NcByteBuffer *b, Py_ssize_t n);

#endif /* NOCOPY_BUFFER_H */
