/* line_load.c -- the C twin of examples/line_load.py, for `bench lines`:
 * the same connections, batches (GET/SET/INCR over 100 keys per connection),
 * counting and output, with a client that spends far less CPU per request
 * than any of the servers it measures.  The Python client needs about as
 * much CPU per round trip as the servers do, so with one command per round
 * trip it set the pace for all of them and the ratios said nothing about
 * the servers (the same reason the sensor server is measured with wrk).
 *
 *     cc -O2 -o line_load bench/line_load.c
 *     ./line_load HOST:PORT [-c 16] [-p 32] [-d 3] [--json]
 *
 * Linux (epoll).  Exits 2 with a message when the server misbehaves (closes
 * mid-batch, sends more replies than commands). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    int fd;
    char *batch;
    size_t len;
    long got;     /* replies to the batch in flight */
    int running;
} conn_t;

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void
die(const char *what)
{
    fprintf(stderr, "line_load: %s: %s\n", what, errno ? strerror(errno) : "failed");
    exit(2);
}

/* The same batch as line_load.py's batch(conn, pipeline). */
static char *
make_batch(int c, long pipeline, size_t *len)
{
    size_t cap = (size_t)pipeline * 64 + 1, n = 0;
    char *out = malloc(cap);
    if (out == NULL)
        die("malloc");
    for (long i = 0; i < pipeline; i++) {
        char key[48];
        snprintf(key, sizeof key, "c%d:k%ld", c, i % 100);
        long kind = i % 4;
        int k;
        if (kind == 0 || kind == 2)
            k = snprintf(out + n, cap - n, "GET %s\n", key);
        else if (kind == 1)
            k = snprintf(out + n, cap - n, "SET %s value-%ld-of-some-length\n", key, i);
        else
            k = snprintf(out + n, cap - n, "INCR n%s\n", key);
        if (k < 0 || (size_t)k >= cap - n)
            die("batch too long");
        n += (size_t)k;
    }
    *len = n;
    return out;
}

static void
send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            die("send");
        }
        p += k;
        n -= (size_t)k;
    }
}

static int
connect_to(const char *host, const char *port)
{
    struct addrinfo hints, *res, *ai;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, port, &hints, &res) != 0) {
        errno = 0;
        die("getaddrinfo");
    }
    int fd = -1;
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        die("connect");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

int
main(int argc, char **argv)
{
    const char *addr = NULL;
    long connections = 16, pipeline = 32;
    double duration = 3.0;
    int as_json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-c") && i + 1 < argc)
            connections = atol(argv[++i]);
        else if (!strcmp(argv[i], "-p") && i + 1 < argc)
            pipeline = atol(argv[++i]);
        else if (!strcmp(argv[i], "-d") && i + 1 < argc)
            duration = atof(argv[++i]);
        else if (!strcmp(argv[i], "--json"))
            as_json = 1;
        else if (addr == NULL && argv[i][0] != '-')
            addr = argv[i];
        else {
            fprintf(stderr, "usage: %s HOST:PORT [-c 16] [-p 32] [-d 3] [--json]\n", argv[0]);
            return 2;
        }
    }
    if (addr == NULL || connections < 1 || connections > 10000 || pipeline < 1 || pipeline > 100000
        || !(duration > 0)) {
        fprintf(stderr, "usage: %s HOST:PORT [-c 16] [-p 32] [-d 3] [--json]\n", argv[0]);
        return 2;
    }
    char host[256];
    const char *colon = strrchr(addr, ':');
    if (colon == NULL || (size_t)(colon - addr) >= sizeof host) {
        fprintf(stderr, "line_load: address must be HOST:PORT\n");
        return 2;
    }
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = '\0';

    int ep = epoll_create1(0);
    if (ep < 0)
        die("epoll_create1");
    conn_t *conns = calloc((size_t)connections, sizeof *conns);
    if (conns == NULL)
        die("calloc");
    for (long c = 0; c < connections; c++) {
        conns[c].fd = connect_to(host, colon + 1);
        conns[c].batch = make_batch((int)c, pipeline, &conns[c].len);
        conns[c].running = 1;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &conns[c]};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, conns[c].fd, &ev) < 0)
            die("epoll_ctl");
    }
    long requests = 0, running = connections;
    double t0 = now(), end = t0 + duration;
    for (long c = 0; c < connections; c++)
        send_all(conns[c].fd, conns[c].batch, conns[c].len);
    static char buf[262144];
    struct epoll_event evs[64];
    while (running) {
        int n = epoll_wait(ep, evs, 64, 1000);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("epoll_wait");
        }
        if (n == 0) {
            errno = 0;
            die("no reply for 1 s");
        }
        for (int i = 0; i < n; i++) {
            conn_t *c = evs[i].data.ptr;
            if (!c->running)
                continue;
            ssize_t k = recv(c->fd, buf, sizeof buf, MSG_DONTWAIT);
            if (k < 0) {
                if (errno == EAGAIN || errno == EINTR)
                    continue;
                die("recv");
            }
            if (k == 0) {
                errno = 0;
                die("the server closed a connection mid-batch");
            }
            for (const char *p = buf, *e = buf + k; (p = memchr(p, '\n', (size_t)(e - p))) != NULL; p++)
                c->got++;
            if (c->got >= pipeline) {
                if (c->got != pipeline) {
                    fprintf(stderr, "line_load: %ld replies to a batch of %ld\n", c->got, pipeline);
                    return 2;
                }
                requests += pipeline;
                c->got = 0;
                if (now() < end)
                    send_all(c->fd, c->batch, c->len);
                else {
                    c->running = 0;
                    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                    running--;
                }
            }
        }
    }
    double dt = now() - t0;
    for (long c = 0; c < connections; c++) {
        close(conns[c].fd);
        free(conns[c].batch);
    }
    free(conns);
    close(ep);
    if (as_json)
        printf("{\"requests\": %ld, \"seconds\": %.6f, \"rps\": %.3f}\n", requests, dt, requests / dt);
    else
        printf("%ld requests in %.2f s: %.0f requests/s\n", requests, dt, requests / dt);
    return 0;
}
