/* serve.h -- nocopy.serve's C side: message framing (serve_frame.c) and the
 * connection object that receives, frames, calls the handler and sends
 * (serve_conn.c). */
#ifndef NOCOPY_SERVE_H
#define NOCOPY_SERVE_H

#include "nocopy.h"

enum { NC_FR_DELIM = 0, NC_FR_PREFIX = 1, NC_FR_FIXED = 2 };
/* NC_FR_PREFIX widths; 0 is the unsigned LEB128 varint */
enum { NC_FR_UVARINT = 0 };
/* nc_framing_next's results */
enum { NC_FR_MORE = 0, NC_FR_MSG = 1, NC_FR_LIMIT = -1, NC_FR_BAD = -2 };

typedef struct {
    int kind;
    int width;            /* PREFIX: 1, 2, 4 bytes, or NC_FR_UVARINT */
    int little;           /* PREFIX: little-endian length */
    int keep;             /* the message keeps its delimiter / prefix */
    Py_ssize_t limit;     /* payload bytes at most (DELIM: before the delimiter;
                           * FIXED: the size) */
    PyObject *delim;      /* owned bytes (DELIM), NULL otherwise */
    nc_searcher search;   /* DELIM: over delim's bytes, which never change */
    Py_ssize_t scanned;   /* DELIM: no delimiter starts in the first `scanned`
                           * bytes of the pending message (resume point) */
} nc_framing;

/* Validate and set up; ValueError/TypeError naming the bad argument.
 * delim: a bytes-like (copied to bytes) for DELIM, ignored otherwise. */
int nc_framing_init(nc_framing *f, int kind, PyObject *delim, int width, int little, int keep,
                    Py_ssize_t limit);
void nc_framing_clear(nc_framing *f);
/* The most bytes one message takes with its framing: an input buffer this
 * big always holds a whole message. */
Py_ssize_t nc_framing_span(const nc_framing *f);
/* The next message in p[0, n) (the pending input): NC_FR_MSG with the
 * message at p[*off, *off + *len) and *total bytes to consume; NC_FR_MORE
 * when it is incomplete (and within the limit); NC_FR_LIMIT when it is over
 * the limit (known as soon as the length or enough bytes are in);
 * NC_FR_BAD for a malformed varint.  Runs no Python code. */
int nc_framing_next(nc_framing *f, const char *p, Py_ssize_t n, Py_ssize_t *off, Py_ssize_t *len,
                    Py_ssize_t *total);


/* ---- the poller (serve_poll.c; Linux) ---- */
enum { NC_POLL_READ = 0, NC_POLL_WRITE = 1, NC_POLL_NONE = 2 };
/* Register conn (a _Conn whose socket is fd) for mode, or drop it
 * (NC_POLL_NONE: only if fd's registration is conn's; never fails).
 * poller: an object of st->PollerType (the caller checked).  Runs Python
 * only as the last step (dropping a reference). */
/* *drop: NULL, or a connection the table let go because conn now holds its
 * fd number (its own fd was closed behind its back and the number reused):
 * the caller passes it to nc_conn_evicted once its own state is stored --
 * that can run anything. */
int nc_poller_set(PyObject *poller, PyObject *conn, int fd, int mode, PyObject **drop);

/* serve_conn.c: the poller's wake-up of a registered connection: receive or
 * send per its current mode (a no-op when that wake-up is stale).  -1 with
 * an exception when it cannot run at all (re-entered, torn down). */
int nc_conn_on_ready(PyObject *conn);
/* serve_conn.c: a connection evicted by nc_poller_set (NULL: nothing):
 * its fd number is another's now, so it forgets it (never closes or uses
 * it) and ends with EBADF; the reference passed is consumed.  Runs anything. */
void nc_conn_evicted(PyObject *conn);

#endif /* NOCOPY_SERVE_H */
