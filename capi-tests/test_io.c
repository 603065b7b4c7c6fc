/*
 * test_io.c: dispatch I/O channels and the one-shot dispatch_read/dispatch_write, through the
 * function (_f) interface (gcc, no blocks). Every handler is checked to run on the queue given
 * (queue-specific marker), to be called with done=true exactly once and never after that.
 *
 *   random_read      a 4 MiB file through a RANDOM channel: six reads submitted at once at
 *                    offsets/lengths (0, 4 MiB), (1, 100), (123457, 1000000), (end-5000, 5000),
 *                    (end-10, 100) -> the last 10 bytes, (end+100, 100) -> nothing, each
 *                    byte-exact, each done with error 0; close(0): the cleanup handler runs
 *                    once with error 0.
 *   random_relative  a RANDOM channel created while the fd is at position 1000: a read at
 *                    offset 0 returns the bytes from 1000 on.
 *   stream_eof       a STREAM channel on a 1 MiB + 17 byte file: two reads of 100 bytes (the
 *                    offset, 5000, is ignored) return bytes 0..99 then 100..199; a read with
 *                    length SIZE_MAX then returns the rest, up to EOF, done with error 0.
 *   pipe_stream      a writer thread writes 2 MiB into a pipe in 7919-byte pieces, pausing now
 *                    and then, and closes it; a STREAM channel read with SIZE_MAX gets all of
 *                    it, in order, done with error 0; the cleanup handler closes the read end.
 *   file_copy        a 3 MiB + 5 file copied by a STREAM read channel whose handler submits
 *                    each piece to a STREAM write channel on a new file: every write handler
 *                    ends done with error 0, the files are equal.
 *   socket_slow_peer one channel on a socketpair end writes 4 MiB (a peer thread reads it in
 *                    16 KiB reads with pauses) while it reads 2 MiB that another peer thread
 *                    writes slowly and then shuts down: the write completes (error 0) only once
 *                    the peer has read at least 3 MiB; both sides byte-exact.
 *   duplex           on a socketpair end, a read is pending (nothing to read) when a write of
 *                    10 bytes is submitted to the same STREAM channel: the write completes
 *                    (error 0) and the peer receives the bytes while the read still waits;
 *                    then the peer's reply completes the read ("Read and write operations may
 *                    be performed simultaneously on the same channel": Apple, DISPATCH_IO_STREAM).
 *   tcp_loopback     a TCP connection on 127.0.0.1: each end's channel writes 1 MiB and reads
 *                    exactly 1 MiB (length 1 MiB) at the same time; bytes exact both ways.
 *   many_channels    50 pipes (scaled to RLIMIT_NOFILE), a STREAM channel on each read end,
 *                    all on one serial queue, each reading 1000 bytes; the pipes are filled in
 *                    reverse order in two halves: every read completes with its own bytes;
 *                    all 50 cleanup handlers run once.
 *   close_stop       a read waiting on an empty pipe: no handler call for 150 ms; after
 *                    dispatch_io_close(DISPATCH_IO_STOP) its handler gets done=true with
 *                    ECANCELED and the cleanup handler runs once; a later read and write get
 *                    done=true with ECANCELED.
 *   close_pending    a 100-byte read pending on an empty pipe, then dispatch_io_close(0): the
 *                    cleanup handler does not run while the read is pending (150 ms); after 100
 *                    bytes arrive the read completes with them and error 0, then the cleanup
 *                    handler runs once (error 0); a read and a write submitted after that get
 *                    done=true with ECANCELED.
 *   release_pending  a 100-byte read pending on an empty pipe, then dispatch_release of the
 *                    channel without closing it: neither the read's handler nor the cleanup
 *                    handler runs for 150 ms; after 100 bytes arrive the read completes with
 *                    them and error 0, then the cleanup handler runs once (error 0), after
 *                    the read's final handler call.
 *   high_water       high_water 1000: a 10000-byte read from a file and one from a pipe are
 *                    delivered in pieces of at most 1000 bytes each (at least 10 of them),
 *                    byte-exact.
 *   low_water        low_water 4000 on a pipe fed 500 bytes every 3 ms (20000 in all): every
 *                    partial delivery (done=false) holds at least 4000 bytes; all bytes arrive
 *                    in order.
 *   interval         low_water 1 MiB and set_interval(20 ms, DISPATCH_IO_STRICT_INTERVAL) on a
 *                    pipe fed 50 bytes every 10 ms for about 1 s: partial deliveries arrive
 *                    while the writer is still writing (at least 5 of them, at least 3 with
 *                    data); all 5000 bytes arrive in order.
 *   barrier          read A (100 bytes), barrier, read B (100 bytes) on an empty pipe: the
 *                    barrier does not run for 150 ms; after 200 bytes arrive it runs once,
 *                    when A has consumed its 100 bytes and B none (FIONREAD is 100 inside it),
 *                    before B's handler is first called; A gets bytes 0..99, B 100..199;
 *                    get_descriptor inside the barrier is the fd; a barrier on an idle channel
 *                    runs promptly.
 *   get_descriptor   an fd channel returns its fd; -1 once closed; a path channel returns -1
 *                    before it is opened and a valid fd inside a barrier after a read.
 *   with_path        a nonexistent path: the first read's handler gets done=true with ENOENT,
 *                    the cleanup handler runs once with ENOENT; a new file opened with
 *                    O_CREAT|O_WRONLY|O_TRUNC, mode 0600, gets 300000 bytes written (error 0),
 *                    cleanup error 0, the file has those bytes and mode 0600; a RANDOM path
 *                    channel O_RDONLY reads them back from offset 777.
 *   with_io          a RANDOM channel created with create_with_io_f from a RANDOM fd channel:
 *                    reads right bytes, get_descriptor is the same fd; after the derived one is
 *                    closed the base still reads; both cleanup handlers run once, error 0.
 *   oneshot          dispatch_read_f on a pipe holding 5000 bytes (writer closed) delivers them
 *                    once, error 0; on a file with length 1000 exactly 1000 bytes;
 *                    dispatch_write_f of 300000 bytes to a pipe drained by a thread and of
 *                    70000 bytes to a file: handler once, error 0, nothing remaining; bytes
 *                    arrive exact.
 *   bad_fd           fd 999 (not open): dispatch_io_create_f returns a channel; a read and a
 *                    write on it get done=true with EBADF; the cleanup handler runs once with
 *                    EBADF; dispatch_read_f / dispatch_write_f on it get EBADF.
 *   epipe            SIGPIPE ignored, a pipe whose read end is closed: dispatch_io_write_f of
 *                    1000 bytes ends done=true with EPIPE and the 1000 unwritten bytes as
 *                    remaining data; dispatch_write_f likewise gets EPIPE.
 */
#include "check.h"
#include "byte_pattern.h"

#include <arpa/inet.h>
#include <dispatch/data.h>
#include <dispatch/io.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>

static atomic_int seqc;

static int next_seq(void)
{
    return atomic_fetch_add(&seqc, 1) + 1;
}

static dispatch_data_t data_pat(size_t start, size_t n)
{
    void *p = NULL;
    dispatch_data_t d = dispatch_data_create_alloc(n, &p);
    CHECK(d != NULL && p != NULL, "create_alloc(%zu)", n);
    fill_pat(p, start, n);
    return d;
}

/* ---- read handler record ---- */

#define MAXD 4096

struct rd {
    pthread_mutex_t mu;
    dispatch_data_t acc;
    int calls, partials, dones, after_done, wrong_queue, partial_err, nonempty_partials;
    int err;
    size_t max_size, min_partial, ndeliv;
    size_t sizes[MAXD];
    uint64_t times[MAXD];
    bool dones_flags[MAXD];
    int first_seq, done_seq;
    uint64_t done_ns;
    dispatch_semaphore_t sem;
};

static void rd_init(struct rd *r)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    r->acc = dispatch_data_empty;
    r->min_partial = (size_t)-1;
    r->err = -1;
    r->sem = dispatch_semaphore_create(0);
}

static void rd_destroy(struct rd *r)
{
    dispatch_release(r->acc);
    dispatch_release(r->sem);
    pthread_mutex_destroy(&r->mu);
}

static void rd_handler(void *ctx, bool done, dispatch_data_t data, int error)
{
    struct rd *r = ctx;
    int s = next_seq();
    size_t n = data ? dispatch_data_get_size(data) : 0;
    pthread_mutex_lock(&r->mu);
    if (!on_q())
        r->wrong_queue++;
    if (r->dones)
        r->after_done++;
    if (r->calls++ == 0)
        r->first_seq = s;
    if (r->ndeliv < MAXD) {
        r->sizes[r->ndeliv] = n;
        r->times[r->ndeliv] = now_ns();
        r->dones_flags[r->ndeliv] = done;
        r->ndeliv++;
    }
    if (n > r->max_size)
        r->max_size = n;
    if (n) {
        dispatch_data_t c = dispatch_data_create_concat(r->acc, data);
        dispatch_release(r->acc);
        r->acc = c;
    }
    if (!done) {
        r->partials++;
        if (n)
            r->nonempty_partials++;
        if (error)
            r->partial_err = error;
        if (n < r->min_partial)
            r->min_partial = n;
    } else {
        r->dones++;
        r->err = error;
        r->done_seq = s;
        r->done_ns = now_ns();
    }
    pthread_mutex_unlock(&r->mu);
    if (done)
        dispatch_semaphore_signal(r->sem);
}

static void rd_wait(struct rd *r, int ms, const char *what)
{
    CHECK(sem_wait_ms(r->sem, ms), "%s: the read handler was not called with done=true within %d ms", what, ms);
}

/* after rd_wait: no further calls, right queue, error, then content */
static void rd_check(struct rd *r, int err, size_t start, size_t n, const char *what)
{
    sleep_ms(20);
    pthread_mutex_lock(&r->mu);
    CHECK(r->dones == 1, "%s: %d done calls", what, r->dones);
    CHECK(r->after_done == 0, "%s: %d handler calls after done", what, r->after_done);
    CHECK(r->wrong_queue == 0, "%s: %d handler calls off the queue given", what, r->wrong_queue);
    CHECK(r->err == err, "%s: done with error %d (%s), expected %d", what, r->err, strerror(r->err), err);
    CHECK(r->partial_err == 0, "%s: a partial delivery carried error %d", what, r->partial_err);
    size_t got = dispatch_data_get_size(r->acc);
    CHECK(got == n, "%s: %zu bytes read, expected %zu", what, got, n);
    if (n) {
        const void *buf;
        size_t sz;
        dispatch_data_t m = dispatch_data_create_map(r->acc, &buf, &sz);
        size_t bad = first_mismatch(buf, start, n);
        CHECK(bad == (size_t)-1, "%s: byte %zu differs (got %u, expected %u)", what, bad,
              ((const uint8_t *)buf)[bad], pat(start + bad));
        dispatch_release(m);
    }
    pthread_mutex_unlock(&r->mu);
}

/* ---- write handler record ---- */

struct wr {
    atomic_int calls, dones, after_done, wrong_queue;
    int err;
    long remaining; /* -1: NULL */
    dispatch_semaphore_t sem;
    dispatch_group_t group; /* left at done when set */
    int done_seq;
};

static void wr_init(struct wr *w)
{
    memset(w, 0, sizeof *w);
    w->err = -1;
    w->remaining = -2;
    w->sem = dispatch_semaphore_create(0);
}

static void wr_handler(void *ctx, bool done, dispatch_data_t data, int error)
{
    struct wr *w = ctx;
    if (!on_q())
        atomic_fetch_add(&w->wrong_queue, 1);
    if (atomic_load(&w->dones))
        atomic_fetch_add(&w->after_done, 1);
    atomic_fetch_add(&w->calls, 1);
    if (done) {
        w->err = error;
        w->remaining = data ? (long)dispatch_data_get_size(data) : -1;
        w->done_seq = next_seq();
        atomic_fetch_add(&w->dones, 1);
        if (w->group)
            dispatch_group_leave(w->group);
        dispatch_semaphore_signal(w->sem);
    }
}

static void wr_wait_check(struct wr *w, int err, const char *what)
{
    CHECK(sem_wait_ms(w->sem, 10000), "%s: the write handler was not called with done=true within 10 s", what);
    sleep_ms(20);
    CHECK(atomic_load(&w->dones) == 1, "%s: %d done calls", what, atomic_load(&w->dones));
    CHECK(atomic_load(&w->after_done) == 0, "%s: handler called after done", what);
    CHECK(atomic_load(&w->wrong_queue) == 0, "%s: handler off the queue given", what);
    CHECK(w->err == err, "%s: write done with error %d (%s), expected %d", what, w->err, strerror(w->err), err);
    if (err == 0)
        CHECK(w->remaining <= 0, "%s: %ld bytes remaining after success", what, w->remaining);
}

/* ---- cleanup handler record ---- */

struct cl {
    atomic_int calls, wrong_queue;
    int err;
    int close_fd; /* closed by the handler when >= 0 */
    int seq;
    dispatch_semaphore_t sem;
};

static void cl_init(struct cl *c, int close_fd)
{
    memset(c, 0, sizeof *c);
    c->err = -1;
    c->close_fd = close_fd;
    c->sem = dispatch_semaphore_create(0);
}

static void cl_handler(void *ctx, int error)
{
    struct cl *c = ctx;
    if (!on_q())
        atomic_fetch_add(&c->wrong_queue, 1);
    c->err = error;
    c->seq = next_seq();
    if (c->close_fd >= 0)
        close(c->close_fd);
    atomic_fetch_add(&c->calls, 1);
    dispatch_semaphore_signal(c->sem);
}

static void cl_wait_check(struct cl *c, int err, const char *what)
{
    CHECK(sem_wait_ms(c->sem, 5000), "%s: the cleanup handler did not run within 5 s", what);
    sleep_ms(20);
    CHECK(atomic_load(&c->calls) == 1, "%s: cleanup handler ran %d times", what, atomic_load(&c->calls));
    CHECK(atomic_load(&c->wrong_queue) == 0, "%s: cleanup handler off the queue given", what);
    CHECK(c->err == err, "%s: cleanup handler got error %d (%s), expected %d", what, c->err, strerror(c->err), err);
}

/* ---- files, pipes, threads ---- */

static char tmpdir[64];

static void make_tmpdir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/capi_io_XXXXXX");
    CHECK(mkdtemp(tmpdir) != NULL, "mkdtemp: %s", strerror(errno));
}

static void write_all(int fd, const void *buf, size_t n)
{
    const uint8_t *p = buf;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        CHECK(w > 0, "write: %s", strerror(errno));
        p += w;
        n -= (size_t)w;
    }
}

/* a file of n pattern bytes (pattern from `start`), opened O_RDONLY at position 0 */
static int make_file(const char *name, size_t start, size_t n, char *path_out)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0, "open %s: %s", path, strerror(errno));
    uint8_t *buf = malloc(n ? n : 1);
    fill_pat(buf, start, n);
    write_all(fd, buf, n);
    free(buf);
    close(fd);
    fd = open(path, O_RDONLY);
    CHECK(fd >= 0, "reopen %s: %s", path, strerror(errno));
    if (path_out)
        strcpy(path_out, path);
    return fd;
}

static uint8_t *read_file(const char *path, size_t *n)
{
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0, "open %s: %s", path, strerror(errno));
    struct stat st;
    fstat(fd, &st);
    uint8_t *buf = malloc((size_t)st.st_size + 1);
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
        CHECK(r > 0, "read %s", path);
        got += (size_t)r;
    }
    close(fd);
    *n = got;
    return buf;
}

struct pw {
    int fd;
    size_t start, total, chunk;
    unsigned pause_ms;
    int pause_every;
    bool close_at_end;
    bool shut_wr;
    uint64_t end_ns;
    atomic_size_t written;
};

static void *pw_thread(void *arg)
{
    struct pw *w = arg;
    uint8_t *buf = malloc(w->chunk);
    size_t done = 0;
    int n = 0;
    while (done < w->total) {
        size_t len = w->total - done < w->chunk ? w->total - done : w->chunk;
        fill_pat(buf, w->start + done, len);
        write_all(w->fd, buf, len);
        done += len;
        atomic_store(&w->written, done);
        if (w->pause_ms && w->pause_every && ++n % w->pause_every == 0)
            sleep_ms(w->pause_ms);
    }
    w->end_ns = now_ns();
    if (w->shut_wr)
        shutdown(w->fd, SHUT_WR);
    if (w->close_at_end)
        close(w->fd);
    free(buf);
    return NULL;
}

struct pr {
    int fd;
    size_t start, expect, chunk;
    unsigned pause_ms;
    atomic_size_t got;
    size_t bad_at;
    bool eof_early;
};

static void *pr_thread(void *arg)
{
    struct pr *r = arg;
    uint8_t *buf = malloc(r->chunk);
    r->bad_at = (size_t)-1;
    size_t got = 0;
    while (got < r->expect) {
        size_t want = r->expect - got < r->chunk ? r->expect - got : r->chunk;
        ssize_t n = read(r->fd, buf, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            r->eof_early = true;
            break;
        }
        size_t bad = first_mismatch(buf, r->start + got, (size_t)n);
        if (bad != (size_t)-1 && r->bad_at == (size_t)-1)
            r->bad_at = got + bad;
        got += (size_t)n;
        atomic_store(&r->got, got);
        if (r->pause_ms)
            sleep_ms(r->pause_ms);
    }
    free(buf);
    return NULL;
}

/* ------------------------------------------------------------------ */

#define MIB (1024u * 1024u)

static void test_random_read(void)
{
    test_start("random_read", 30);
    dispatch_queue_t q = make_q("test.io.random");
    const size_t N = 4 * MIB;
    int fd = make_file("random", 0, N, NULL);
    struct cl c;
    cl_init(&c, -1);
    dispatch_io_t ch = dispatch_io_create_f(DISPATCH_IO_RANDOM, fd, q, &c, cl_handler);
    CHECK(ch != NULL, "dispatch_io_create_f returned NULL");
    static const struct { off_t off; size_t len; size_t expect; } reads[] = {
        { 0, 4 * MIB, 4 * MIB },
        { 1, 100, 100 },
        { 123457, 1000000, 1000000 },
        { 4 * MIB - 5000, 5000, 5000 },
        { 4 * MIB - 10, 100, 10 },
        { 4 * MIB + 100, 100, 0 },
    };
    enum { NR = sizeof reads / sizeof reads[0] };
    static struct rd r[NR];
    for (int i = 0; i < NR; i++) {
        rd_init(&r[i]);
        dispatch_io_read_f(ch, reads[i].off, reads[i].len, q, &r[i], rd_handler);
    }
    for (int i = 0; i < NR; i++) {
        char what[64];
        snprintf(what, sizeof what, "read(%lld, %zu)", (long long)reads[i].off, reads[i].len);
        rd_wait(&r[i], 10000, what);
        rd_check(&r[i], 0, (size_t)reads[i].off, reads[i].expect, what);
        rd_destroy(&r[i]);
    }
    CHECK(atomic_load(&c.calls) == 0, "cleanup handler ran before the channel was closed");
    dispatch_io_close(ch, 0);
    cl_wait_check(&c, 0, "random_read");
    dispatch_release(ch);
    close(fd);
    dispatch_release(q);
    OK("random_read");
}

static void test_random_relative(void)
{
    test_start("random_relative", 15);
    dispatch_queue_t q = make_q("test.io.relative");
    int fd = make_file("relative", 0, 10000, NULL);
    CHECK(lseek(fd, 1000, SEEK_SET) == 1000, "lseek");
    struct cl c;
    cl_init(&c, -1);
    dispatch_io_t ch = dispatch_io_create_f(DISPATCH_IO_RANDOM, fd, q, &c, cl_handler);
    CHECK(ch != NULL, "create returned NULL");
    struct rd r;
    rd_init(&r);
    dispatch_io_read_f(ch, 0, 500, q, &r, rd_handler);
    rd_wait(&r, 5000, "relative read");
    rd_check(&r, 0, 1000, 500, "RANDOM read at 0 with the fd at 1000");
    rd_destroy(&r);
    rd_init(&r);
    dispatch_io_read_f(ch, 8000, 5000, q, &r, rd_handler);
    rd_wait(&r, 5000, "relative read 2");
    rd_check(&r, 0, 9000, 1000, "RANDOM read at 8000 with the fd at 1000 (to EOF)");
    rd_destroy(&r);
    dispatch_io_close(ch, 0);
    cl_wait_check(&c, 0, "random_relative");
    dispatch_release(ch);
    close(fd);
    dispatch_release(q);
    OK("random_relative");
}

static void test_stream_eof(void)
{
    test_start("stream_eof", 20);
    dispatch_queue_t q = make_q("test.io.stream");
    const size_t N = MIB + 17;
    int fd = make_file("stream", 0, N, NULL);
    struct cl c;
    cl_init(&c, fd);
    dispatch_io_t ch = dispatch_io_create_f(DISPATCH_IO_STREAM, fd, q, &c, cl_handler);
    CHECK(ch != NULL, "create returned NULL");
    struct rd a, b, rest;
    rd_init(&a);
    rd_init(&b);
    rd_init(&rest);
    dispatch_io_read_f(ch, 5000, 100, q, &a, rd_handler);
    dispatch_io_read_f(ch, 5000, 100, q, &b, rd_handler);
    dispatch_io_read_f(ch, 0, SIZE_MAX, q, &rest, rd_handler);
    rd_wait(&a, 5000, "stream read 1");
    rd_wait(&b, 5000, "stream read 2");
    rd_wait(&rest, 10000, "stream read to EOF");
    rd_check(&a, 0, 0, 100, "first STREAM read (offset ignored)");
    rd_check(&b, 0, 100, 100, "second STREAM read");
    rd_check(&rest, 0, 200, N - 200, "STREAM read of SIZE_MAX to EOF");
    rd_destroy(&a);
    rd_destroy(&b);
    rd_destroy(&rest);
    dispatch_io_close(ch, 0);
    cl_wait_check(&c, 0, "stream_eof");
    dispatch_release(ch);
    dispatch_release(q);
    OK("stream_eof");
}

static void test_pipe_stream(void)
{
    test_start("pipe_stream", 30);
    dispatch_queue_t q = make_q("test.io.pipe");
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    struct cl c;
    cl_init(&c, p[0]);
    dispatch_io_t ch = dispatch_io_create_f(DISPATCH_IO_STREAM, p[0], q, &c, cl_handler);
    CHECK(ch != NULL, "create returned NULL");
    struct rd r;
    rd_init(&r);
    dispatch_io_read_f(ch, 0, SIZE_MAX, q, &r, rd_handler);
    struct pw w = { .fd = p[1], .start = 77, .total = 2 * MIB, .chunk = 7919, .pause_ms = 2, .pause_every = 25,
                    .close_at_end = true };
    pthread_t t;
    pthread_create(&t, NULL, pw_thread, &w);
    rd_wait(&r, 20000, "pipe read to EOF");
    pthread_join(t, NULL);
    rd_check(&r, 0, 77, 2 * MIB, "pipe STREAM read to EOF");
    rd_destroy(&r);
    dispatch_io_close(ch, 0);
    cl_wait_check(&c, 0, "pipe_stream");
    dispatch_release(ch);
    dispatch_release(q);
    OK("pipe_stream");
}

/* ---- file copy: read channel -> write channel ---- */

struct copy {
    dispatch_io_t wch;
    dispatch_queue_t q;
    dispatch_group_t g;
    struct wr w[MAXD];
    atomic_int nw;
    struct rd r;
};

static void copy_read_handler(void *ctx, bool done, dispatch_data_t data, int error)
{
    struct copy *cp = ctx;
    if (data && dispatch_data_get_size(data)) {
        int i = atomic_fetch_add(&cp->nw, 1);
        CHECK(i < MAXD, "too many pieces");
        wr_init(&cp->w[i]);
        cp->w[i].group = cp->g;
        dispatch_group_enter(cp->g);
        dispatch_io_write_f(cp->wch, 0, data, cp->q, &cp->w[i], wr_handler);
    }
    rd_handler(&cp->r, done, data, error);
}

static void test_file_copy(void)
{
    test_start("file_copy", 30);
    dispatch_queue_t q = make_q("test.io.copy");
    const size_t N = 3 * MIB + 5;
    char src[256], dst[256];
    int rfd = make_file("copy_src", 4242, N, src);
    snprintf(dst, sizeof dst, "%s/copy_dst", tmpdir);
    int wfd = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(wfd >= 0, "open dst");
    struct cl rc, wc;
    cl_init(&rc, rfd);
    cl_init(&wc, wfd);
    static struct copy cp;
    memset(&cp, 0, sizeof cp);
    rd_init(&cp.r);
    cp.q = q;
    cp.g = dispatch_group_create();
    dispatch_io_t rch = dispatch_io_create_f(DISPATCH_IO_STREAM, rfd, q, &rc, cl_handler);
    cp.wch = dispatch_io_create_f(DISPATCH_IO_STREAM, wfd, q, &wc, cl_handler);
    CHECK(rch && cp.wch, "create returned NULL");
    dispatch_io_read_f(rch, 0, SIZE_MAX, q, &cp, copy_read_handler);
    rd_wait(&cp.r, 20000, "copy read");
    CHECK(cp.r.err == 0, "copy read ended with error %d", cp.r.err);
    CHECK(group_wait_ms(cp.g, 20000), "the writes did not all complete within 20 s");
    int nw = atomic_load(&cp.nw);
    CHECK(nw >= 1, "no write submitted");
    for (int i = 0; i < nw; i++) {
        char what[32];
        snprintf(what, sizeof what, "copy write %d", i);
        wr_wait_check(&cp.w[i], 0, what);
        dispatch_release(cp.w[i].sem);
    }
    dispatch_io_close(rch, 0);
    dispatch_io_close(cp.wch, 0);
    cl_wait_check(&rc, 0, "copy read channel");
    cl_wait_check(&wc, 0, "copy write channel");
    size_t n;
    uint8_t *b = read_file(dst, &n);
    CHECK(n == N, "copy has %zu bytes, expected %zu", n, N);
    size_t bad = first_mismatch(b, 4242, N);
    CHECK(bad == (size_t)-1, "copy differs at byte %zu", bad);
    free(b);
    rd_destroy(&cp.r);
    dispatch_release(cp.g);
    dispatch_release(rch);
    dispatch_release(cp.wch);
    dispatch_release(q);
    OK("file_copy");
}

static void test_socket_slow_peer(void)
{
    test_start("socket_slow_peer", 40);
    dispatch_queue_t q = make_q("test.io.sock");
    int s[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, s) == 0, "socketpair");
    struct cl c;
    cl_init(&c, s[0]);
    dispatch_io_t ch = dispatch_io_create_f(DISPATCH_IO_STREAM, s[0], q, &c, cl_handler);
    CHECK(ch != NULL, "create returned NULL");
    const size_t OUT = 4 * MIB, IN = 2 * MIB;
    struct pr peer_r = { .fd = s[1], .start = 1000, .expect = OUT, .chunk = 16384, .pause_ms = 1 };
    struct pw peer_w = { .fd = s[1], .start = 5000000, .total = IN, .chunk = 10000, .pause_ms = 2, .pause_every = 8,
                         .shut_wr = true };
    pthread_t tr, tw;
    pthread_create(&tr, NULL, pr_thread, &peer_r);
    struct wr w;
    wr_init(&w);
    struct rd r;
    rd_init(&r);
    dispatch_data_t out = data_pat(1000, OUT);
    dispatch_io_write_f(ch, 0, out, q, &w, wr_handler);
    dispatch_release(out);
    dispatch_io_read_f(ch, 0, SIZE_MAX, q, &r, rd_handler);
    pthread_create(&tw, NULL, pw_thread, &peer_w);
    CHECK(sem_wait_ms(w.sem, 30000), "write of 4 MiB to a slow peer did not complete within 30 s");
    size_t peer_got_at_done = atomic_load(&peer_r.got);
    dispatch_semaphore_signal(w.sem);
    wr_wait_check(&w, 0, "socket write");
    CHECK(peer_got_at_done >= 3 * MIB, "write reported done when the peer had read only %zu bytes", peer_got_at_done);
    rd_wait(&r, 30000, "socket read to EOF");
    pthread_join(tr, NULL);
    pthread_join(tw, NULL);
    CHECK(!peer_r.eof_early && atomic_load(&peer_r.got) == OUT, "peer read %zu bytes", atomic_load(&peer_r.got));
    CHECK(peer_r.bad_at == (size_t)-1, "peer got a wrong byte at %zu", peer_r.bad_at);
    rd_check(&r, 0, 5000000, IN, "socket read from a slow peer");
    rd_destroy(&r);
    dispatch_io_close(ch, 0);
    cl_wait_check(&c, 0, "socket_slow_peer");
    close(s[1]);
    dispatch_release(ch);
    dispatch_release(q);
    OK("socket_slow_peer");
}

static void test_duplex(void)
{
    test_start("duplex", 20);
    dispatch_queue_t q = make_q("test.io.duplex");
    int s[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, s) == 0, "socketpair");
    struct cl c;
    cl_init(&c, s[0]);
    dispatch_io_t ch = dispatch_io_create_f(DISPATCH_IO_STREAM, s[0], q, &c, cl_handler);
    CHECK(ch != NULL, "create returned NULL");
    struct rd r;
    rd_init(&r);
    dispatch_io_read_f(ch, 0, 10, q, &r, rd_handler);
    sleep_ms(50);
    struct wr w;
    wr_init(&w);
    dispatch_data_t d = data_pat(600, 10);
    dispatch_io_write_f(ch, 0, d, q, &w, wr_handler);
    dispatch_release(d);
    CHECK(sem_wait_ms(w.sem, 3000),
          "a write on a STREAM socket channel did not complete within 3 s while a read on the same channel "
          "was waiting for data (reads and writes must run simultaneously)");
    dispatch_semaphore_signal(w.sem);
    wr_wait_check(&w, 0, "duplex write");
    struct pollfd pfd = { s[1], POLLIN, 0 };
    CHECK(poll(&pfd, 1, 2000) == 1, "the peer did not receive the written bytes");
    uint8_t buf[10];
    CHECK(read(s[1], buf, 10) == 10 && first_mismatch(buf, 600, 10) == (size_t)-1, "peer got wrong bytes");
    CHECK(r.calls == 0, "the pending read was called with nothing sent to it");
    fill_pat(buf, 700, 10);
    write_all(s[1], buf, 10);
    rd_wait(&r, 5000, "duplex read");
    rd_check(&r, 0, 700, 10, "duplex read");
    rd_destroy(&r);
    dispatch_io_close(ch, 0);
    cl_wait_check(&c, 0, "duplex");
    close(s[1]);
    dispatch_release(ch);
    dispatch_release(q);
    OK("duplex");
}

static void test_tcp_loopback(void)
{
    test_start("tcp_loopback", 30);
    dispatch_queue_t q = make_q("test.io.tcp");
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(ls >= 0, "socket");
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = 0;
    CHECK(bind(ls, (struct sockaddr *)&sa, sizeof sa) == 0, "bind: %s", strerror(errno));
    CHECK(listen(ls, 4) == 0, "listen");
    socklen_t sl = sizeof sa;
    getsockname(ls, (struct sockaddr *)&sa, &sl);
    int cs = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(connect(cs, (struct sockaddr *)&sa, sizeof sa) == 0, "connect: %s", strerror(errno));
    int as = accept(ls, NULL, NULL);
    CHECK(as >= 0, "accept: %s", strerror(errno));
    close(ls);
    struct cl cc, ac;
    cl_init(&cc, cs);
    cl_init(&ac, as);
    dispatch_io_t chc = dispatch_io_create_f(DISPATCH_IO_STREAM, cs, q, &cc, cl_handler);
    dispatch_io_t cha = dispatch_io_create_f(DISPATCH_IO_STREAM, as, q, &ac, cl_handler);
    CHECK(chc && cha, "create returned NULL");
    struct wr wc, wa;
    struct rd rc, ra;
    wr_init(&wc);
    wr_init(&wa);
    rd_init(&rc);
    rd_init(&ra);
    dispatch_io_read_f(chc, 0, MIB, q, &rc, rd_handler);
    dispatch_io_read_f(cha, 0, MIB, q, &ra, rd_handler);
    dispatch_data_t dc = data_pat(0, MIB), da = data_pat(300000000, MIB);
    dispatch_io_write_f(chc, 0, dc, q, &wc, wr_handler);
    dispatch_io_write_f(cha, 0, da, q, &wa, wr_handler);
    dispatch_release(dc);
    dispatch_release(da);
    wr_wait_check(&wc, 0, "tcp client write");
    wr_wait_check(&wa, 0, "tcp server write");
    rd_wait(&rc, 10000, "tcp client read");
    rd_wait(&ra, 10000, "tcp server read");
    rd_check(&rc, 0, 300000000, MIB, "tcp client read");
    rd_check(&ra, 0, 0, MIB, "tcp server read");
    rd_destroy(&rc);
    rd_destroy(&ra);
    dispatch_io_close(chc, 0);
    dispatch_io_close(cha, 0);
    cl_wait_check(&cc, 0, "tcp client channel");
    cl_wait_check(&ac, 0, "tcp server channel");
    dispatch_release(chc);
    dispatch_release(cha);
    dispatch_release(q);
    OK("tcp_loopback");
}

static void test_many_channels(void)
{
    test_start("many_channels", 30);
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    int n = 50;
    if (rl.rlim_cur < 256)
        n = ((int)rl.rlim_cur - 40) / 2;
    CHECK(n >= 10, "RLIMIT_NOFILE too small");
    dispatch_queue_t q = make_q("test.io.many");
    static int fds[50][2];
    static struct rd r[50];
    static struct cl c[50];
    static dispatch_io_t ch[50];
    for (int i = 0; i < n; i++) {
        CHECK(pipe(fds[i]) == 0, "pipe %d: %s", i, strerror(errno));
        cl_init(&c[i], fds[i][0]);
        rd_init(&r[i]);
        ch[i] = dispatch_io_create_f(DISPATCH_IO_STREAM, fds[i][0], q, &c[i], cl_handler);
        CHECK(ch[i] != NULL, "create %d returned NULL", i);
        dispatch_io_read_f(ch[i], 0, 1000, q, &r[i], rd_handler);
    }
    uint8_t buf[1000];
    for (int i = n - 1; i >= 0; i--) {
        fill_pat(buf, (size_t)i * 100000, 1000);
        write_all(fds[i][1], buf, 500);
    }
    sleep_ms(20);
    for (int i = n - 1; i >= 0; i--) {
        fill_pat(buf, (size_t)i * 100000, 1000);
        write_all(fds[i][1], buf + 500, 500);
    }
    for (int i = 0; i < n; i++) {
        char what[32];
        snprintf(what, sizeof what, "pipe %d", i);
        rd_wait(&r[i], 10000, what);
        rd_check(&r[i], 0, (size_t)i * 100000, 1000, what);
        rd_destroy(&r[i]);
    }
    for (int i = 0; i < n; i++)
        dispatch_io_close(ch[i], 0);
    for (int i = 0; i < n; i++) {
        char what[32];
        snprintf(what, sizeof what, "cleanup %d", i);
        cl_wait_check(&c[i], 0, what);
        dispatch_release(ch[i]);
        close(fds[i][1]);
    }
    dispatch_release(q);
    OK("many_channels");
}

static void test_close_stop(void)
{
    test_start("close_stop", 20);
    dispatch_queue_t q = make_q("test.io.stop");
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    struct cl c;
    cl_init(&c, -1);
    dispatch_io_t ch = dispatch_io_create_f(DISPATCH_IO_STREAM, p[0], q, &c, cl_handler);
    CHECK(ch != NULL, "create returned NULL");
    struct rd r;
    rd_init(&r);
    dispatch_io_read_f(ch, 0, SIZE_MAX, q, &r, rd_handler);
    sleep_ms(150);
    CHECK(r.calls == 0, "the read handler was called %d times with nothing to read", r.calls);
    dispatch_io_close(ch, DISPATCH_IO_STOP);
    rd_wait(&r, 5000, "read after DISPATCH_IO_STOP");
    rd_check(&r, ECANCELED, 0, 0, "read stopped by DISPATCH_IO_STOP");
    cl_wait_check(&c, 0, "close_stop");
    rd_destroy(&r);
    struct rd r2;
    rd_init(&r2);
    dispatch_io_read_f(ch, 0, 10, q, &r2, rd_handler);
    rd_wait(&r2, 5000, "read after stop");
    rd_check(&r2, ECANCELED, 0, 0, "read submitted after the channel was stopped");
    rd_destroy(&r2);
    struct wr w;
    wr_init(&w);
    dispatch_data_t d = data_pat(0, 10);
    dispatch_io_write_f(ch, 0, d, q, &w, wr_handler);
    dispatch_release(d);
    wr_wait_check(&w, ECANCELED, "write submitted after the channel was stopped");
    dispatch_release(ch);
    close(p[0]);
    close(p[1]);
    dispatch_release(q);
    OK("close_stop");
}

static void test_close_pending(void)
{
    test_start("close_pending", 20);
    dispatch_queue_t q = make_q("test.io.close");
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    struct cl c;
    cl_init(&c, -1);
    dispatch_io_t ch = dispatch_io_create_f(DISPATCH_IO_STREAM, p[0], q, &c, cl_handler);
    CHECK(ch != NULL, "create returned NULL");
    struct rd r;
    rd_init(&r);
    dispatch_io_read_f(ch, 0, 100, q, &r, rd_handler);
    dispatch_io_close(ch, 0);
    sleep_ms(150);
    CHECK(r.dones == 0, "the pending read completed (error %d) with nothing written", r.err);
    CHECK(atomic_load(&c.calls) == 0, "the cleanup handler ran while a read was pending");
    uint8_t buf[100];
    fill_pat(buf, 900, 100);
    write_all(p[1], buf, 100);
    rd_wait(&r, 5000, "pending read after close(0)");
    rd_check(&r, 0, 900, 100, "read pending at close(0)");
    cl_wait_check(&c, 0, "close_pending");
    CHECK(c.seq > r.done_seq, "the cleanup handler ran before the pending read's final handler call");
    rd_destroy(&r);
    struct rd r2;
    rd_init(&r2);
    dispatch_io_read_f(ch, 0, 10, q, &r2, rd_handler);
    rd_wait(&r2, 5000, "read after close");
    rd_check(&r2, ECANCELED, 0, 0, "read submitted after close(0)");
    rd_destroy(&r2);
    struct wr w;
    wr_init(&w);
    dispatch_data_t d = data_pat(0, 10);
    dispatch_io_write_f(ch, 0, d, q, &w, wr_handler);
    dispatch_release(d);
    wr_wait_check(&w, ECANCELED, "write submitted after close(0)");
    dispatch_release(ch);
    close(p[0]);
    close(p[1]);
    dispatch_release(q);
    OK("close_pending");
}

static void test_release_pending(void)
{
    test_start("release_pending", 20);
    dispatch_queue_t q = make_q("test.io.release");
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    struct cl c;
    cl_init(&c, -1);
    dispatch_io_t ch = dispatch_io_create_f(DISPATCH_IO_STREAM, p[0], q, &c, cl_handler);
    CHECK(ch != NULL, "create returned NULL");
    struct rd r;
    rd_init(&r);
    dispatch_io_read_f(ch, 0, 100, q, &r, rd_handler);
    dispatch_release(ch); /* the client's last reference; the read keeps running */
    sleep_ms(150);
    CHECK(r.dones == 0, "the pending read completed (error %d) with nothing written", r.err);
    CHECK(atomic_load(&c.calls) == 0, "the cleanup handler ran while a read was pending");
    uint8_t buf[100];
    fill_pat(buf, 700, 100);
    write_all(p[1], buf, 100);
    rd_wait(&r, 5000, "pending read after release");
    rd_check(&r, 0, 700, 100, "read pending at release");
    cl_wait_check(&c, 0, "release_pending");
    CHECK(c.seq > r.done_seq, "the cleanup handler ran before the pending read's final handler call");
    rd_destroy(&r);
    close(p[0]);
    close(p[1]);
    dispatch_release(q);
    OK("release_pending");
}

static void check_deliveries_max(struct rd *r, size_t max, int min_count, const char *what)
{
    int nonempty = 0;
    for (size_t i = 0; i < r->ndeliv; i++) {
        CHECK(r->sizes[i] <= max, "%s: delivery %zu holds %zu bytes, high water %zu", what, i, r->sizes[i], max);
        if (r->sizes[i])
            nonempty++;
    }
    CHECK(nonempty >= min_count, "%s: only %d deliveries with data", what, nonempty);
}

static void test_high_water(void)
{
    test_start("high_water", 20);
    dispatch_queue_t q = make_q("test.io.high");
    int fd = make_file("high", 0, 20000, NULL);
    struct cl c;
    cl_init(&c, fd);
    dispatch_io_t ch = dispatch_io_create_f(DISPATCH_IO_RANDOM, fd, q, &c, cl_handler);
    CHECK(ch != NULL, "create returned NULL");
    dispatch_io_set_high_water(ch, 1000);
    struct rd r;
    rd_init(&r);
    dispatch_io_read_f(ch, 3000, 10000, q, &r, rd_handler);
    rd_wait(&r, 5000, "high water file read");
    rd_check(&r, 0, 3000, 10000, "high water file read");
    check_deliveries_max(&r, 1000, 10, "high water file read");
    rd_destroy(&r);
    dispatch_io_close(ch, 0);
    cl_wait_check(&c, 0, "high_water file");
    dispatch_release(ch);

    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    cl_init(&c, p[0]);
    ch = dispatch_io_create_f(DISPATCH_IO_STREAM, p[0], q, &c, cl_handler);
    dispatch_io_set_high_water(ch, 1000);
    rd_init(&r);
    dispatch_io_read_f(ch, 0, 10000, q, &r, rd_handler);
    uint8_t buf[10000];
    fill_pat(buf, 31, 10000);
    write_all(p[1], buf, 10000);
    rd_wait(&r, 5000, "high water pipe read");
    rd_check(&r, 0, 31, 10000, "high water pipe read");
    check_deliveries_max(&r, 1000, 10, "high water pipe read");
    rd_destroy(&r);
    dispatch_io_close(ch, 0);
    cl_wait_check(&c, 0, "high_water pipe");
    dispatch_release(ch);
    close(p[1]);
    dispatch_release(q);
    OK("high_water");
}

static void test_low_water(void)
{
    test_start("low_water", 20);
    dispatch_queue_t q = make_q("test.io.low");
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    struct cl c;
    cl_init(&c, p[0]);
    dispatch_io_t ch = dispatch_io_create_f(DISPATCH_IO_STREAM, p[0], q, &c, cl_handler);
    CHECK(ch != NULL, "create returned NULL");
    dispatch_io_set_low_water(ch, 4000);
    struct rd r;
    rd_init(&r);
    dispatch_io_read_f(ch, 0, SIZE_MAX, q, &r, rd_handler);
    struct pw w = { .fd = p[1], .start = 12345, .total = 20000, .chunk = 500, .pause_ms = 3, .pause_every = 1,
                    .close_at_end = true };
    pthread_t t;
    pthread_create(&t, NULL, pw_thread, &w);
    rd_wait(&r, 10000, "low water read");
    pthread_join(t, NULL);
    rd_check(&r, 0, 12345, 20000, "low water read");
    for (size_t i = 0; i < r.ndeliv; i++)
        if (!r.dones_flags[i])
            CHECK(r.sizes[i] >= 4000, "partial delivery %zu holds %zu bytes, low water 4000", i, r.sizes[i]);
    rd_destroy(&r);
    dispatch_io_close(ch, 0);
    cl_wait_check(&c, 0, "low_water");
    dispatch_release(ch);
    dispatch_release(q);
    OK("low_water");
}

static void test_interval(void)
{
    test_start("interval", 20);
    dispatch_queue_t q = make_q("test.io.interval");
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    struct cl c;
    cl_init(&c, p[0]);
    dispatch_io_t ch = dispatch_io_create_f(DISPATCH_IO_STREAM, p[0], q, &c, cl_handler);
    CHECK(ch != NULL, "create returned NULL");
    dispatch_io_set_low_water(ch, MIB);
    dispatch_io_set_interval(ch, 20 * NSEC_PER_MSEC, DISPATCH_IO_STRICT_INTERVAL);
    static struct rd r;
    rd_init(&r);
    dispatch_io_read_f(ch, 0, SIZE_MAX, q, &r, rd_handler);
    struct pw w = { .fd = p[1], .start = 555, .total = 5000, .chunk = 50, .pause_ms = 10, .pause_every = 1,
                    .close_at_end = true };
    pthread_t t;
    pthread_create(&t, NULL, pw_thread, &w);
    rd_wait(&r, 10000, "interval read");
    pthread_join(t, NULL);
    rd_check(&r, 0, 555, 5000, "interval read");
    int during = 0, during_data = 0;
    for (size_t i = 0; i < r.ndeliv; i++)
        if (!r.dones_flags[i] && r.times[i] < w.end_ns) {
            during++;
            if (r.sizes[i])
                during_data++;
        }
    CHECK(during >= 5 && during_data >= 3,
          "only %d partial deliveries (%d with data) during the ~1 s the writer was writing, interval 20 ms", during,
          during_data);
    rd_destroy(&r);
    dispatch_io_close(ch, 0);
    cl_wait_check(&c, 0, "interval");
    dispatch_release(ch);
    dispatch_release(q);
    OK("interval");
}

/* ---- barrier ---- */

struct bar {
    int fd;
    dispatch_io_t ch;
    atomic_int runs;
    int seq;
    int fionread;
    int desc;
    bool wrong;
    dispatch_semaphore_t sem;
};

static void barrier_fn(void *ctx)
{
    struct bar *b = ctx;
    b->seq = next_seq();
    int avail = -1;
    if (b->fd >= 0)
        ioctl(b->fd, FIONREAD, &avail);
    b->fionread = avail;
    b->desc = dispatch_io_get_descriptor(b->ch);
    atomic_fetch_add(&b->runs, 1);
    dispatch_semaphore_signal(b->sem);
}

static void test_barrier(void)
{
    test_start("barrier", 20);
    dispatch_queue_t q = make_q("test.io.barrier");
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    struct cl c;
    cl_init(&c, p[0]);
    dispatch_io_t ch = dispatch_io_create_f(DISPATCH_IO_STREAM, p[0], q, &c, cl_handler);
    CHECK(ch != NULL, "create returned NULL");

    /* on an idle channel a barrier runs promptly */
    struct bar b0 = { .fd = -1, .ch = ch, .sem = dispatch_semaphore_create(0) };
    dispatch_io_barrier_f(ch, &b0, barrier_fn);
    CHECK(sem_wait_ms(b0.sem, 2000), "a barrier on an idle channel did not run within 2 s");
    CHECK(b0.desc == p[0], "get_descriptor in a barrier: %d, fd %d", b0.desc, p[0]);

    struct rd a, bb;
    rd_init(&a);
    rd_init(&bb);
    struct bar b = { .fd = p[0], .ch = ch, .sem = dispatch_semaphore_create(0) };
    dispatch_io_read_f(ch, 0, 100, q, &a, rd_handler);
    dispatch_io_barrier_f(ch, &b, barrier_fn);
    dispatch_io_read_f(ch, 0, 100, q, &bb, rd_handler);
    sleep_ms(150);
    CHECK(atomic_load(&b.runs) == 0, "the barrier ran while an earlier read was pending");
    CHECK(bb.calls == 0, "a read submitted after the barrier was called before it");
    uint8_t buf[200];
    fill_pat(buf, 0, 200);
    write_all(p[1], buf, 200);
    CHECK(sem_wait_ms(b.sem, 5000), "the barrier did not run within 5 s after the earlier read could complete");
    rd_wait(&a, 5000, "read before the barrier");
    rd_wait(&bb, 5000, "read after the barrier");
    rd_check(&a, 0, 0, 100, "read before the barrier");
    rd_check(&bb, 0, 100, 100, "read after the barrier");
    CHECK(atomic_load(&b.runs) == 1, "the barrier ran %d times", atomic_load(&b.runs));
    CHECK(b.fionread == 100, "inside the barrier %d bytes were left in the pipe, expected 100 (A done, B not started)",
          b.fionread);
    CHECK(b.seq < bb.first_seq, "the read submitted after the barrier was called (seq %d) before the barrier ran (%d)",
          bb.first_seq, b.seq);
    rd_destroy(&a);
    rd_destroy(&bb);
    dispatch_io_close(ch, 0);
    cl_wait_check(&c, 0, "barrier");
    dispatch_release(b0.sem);
    dispatch_release(b.sem);
    dispatch_release(ch);
    close(p[1]);
    dispatch_release(q);
    OK("barrier");
}

static void test_get_descriptor(void)
{
    test_start("get_descriptor", 20);
    dispatch_queue_t q = make_q("test.io.desc");
    char path[256];
    int fd = make_file("desc", 0, 1000, path);
    struct cl c;
    cl_init(&c, -1);
    dispatch_io_t ch = dispatch_io_create_f(DISPATCH_IO_RANDOM, fd, q, &c, cl_handler);
    CHECK(dispatch_io_get_descriptor(ch) == fd, "get_descriptor %d, fd %d", dispatch_io_get_descriptor(ch), fd);
    dispatch_io_close(ch, 0);
    cl_wait_check(&c, 0, "get_descriptor");
    CHECK(dispatch_io_get_descriptor(ch) == -1, "get_descriptor of a channel closed with dispatch_io_close (and cleaned up): %d, expected -1 (io.h: \"Will return -1 for a channel closed with dispatch_io_close()\")",
          dispatch_io_get_descriptor(ch));
    dispatch_release(ch);
    close(fd);

    cl_init(&c, -1);
    ch = dispatch_io_create_with_path_f(DISPATCH_IO_RANDOM, path, O_RDONLY, 0, q, &c, cl_handler);
    CHECK(ch != NULL, "create_with_path_f returned NULL");
    CHECK(dispatch_io_get_descriptor(ch) == -1, "get_descriptor of a path channel not yet opened: %d",
          dispatch_io_get_descriptor(ch));
    struct rd r;
    rd_init(&r);
    dispatch_io_read_f(ch, 10, 20, q, &r, rd_handler);
    rd_wait(&r, 5000, "path read");
    rd_check(&r, 0, 10, 20, "path read");
    rd_destroy(&r);
    struct bar b = { .fd = -1, .ch = ch, .sem = dispatch_semaphore_create(0) };
    dispatch_io_barrier_f(ch, &b, barrier_fn);
    CHECK(sem_wait_ms(b.sem, 5000), "barrier did not run");
    CHECK(b.desc >= 0 && fcntl(b.desc, F_GETFD) != -1, "get_descriptor in a barrier of an opened path channel: %d",
          b.desc);
    dispatch_io_close(ch, 0);
    cl_wait_check(&c, 0, "path channel");
    dispatch_release(b.sem);
    dispatch_release(ch);
    dispatch_release(q);
    OK("get_descriptor");
}

static void test_with_path(void)
{
    test_start("with_path", 20);
    dispatch_queue_t q = make_q("test.io.path");
    char path[256];
    snprintf(path, sizeof path, "%s/no/such/file", tmpdir);
    struct cl c;
    cl_init(&c, -1);
    dispatch_io_t ch = dispatch_io_create_with_path_f(DISPATCH_IO_STREAM, path, O_RDONLY, 0, q, &c, cl_handler);
    CHECK(ch != NULL, "create_with_path_f returned NULL for a path that does not exist (opens lazily)");
    struct rd r;
    rd_init(&r);
    dispatch_io_read_f(ch, 0, 100, q, &r, rd_handler);
    rd_wait(&r, 5000, "read of a nonexistent path");
    rd_check(&r, ENOENT, 0, 0, "read of a nonexistent path");
    rd_destroy(&r);
    dispatch_io_close(ch, 0);
    cl_wait_check(&c, ENOENT, "nonexistent path channel");
    dispatch_release(ch);

    snprintf(path, sizeof path, "%s/created", tmpdir);
    mode_t old = umask(022);
    cl_init(&c, -1);
    ch = dispatch_io_create_with_path_f(DISPATCH_IO_STREAM, path, O_CREAT | O_WRONLY | O_TRUNC, 0600, q, &c,
                                        cl_handler);
    CHECK(ch != NULL, "create_with_path_f(O_CREAT) returned NULL");
    struct wr w;
    wr_init(&w);
    dispatch_data_t d = data_pat(99, 300000);
    dispatch_io_write_f(ch, 0, d, q, &w, wr_handler);
    dispatch_release(d);
    wr_wait_check(&w, 0, "write through a path channel");
    dispatch_io_close(ch, 0);
    cl_wait_check(&c, 0, "created path channel");
    dispatch_release(ch);
    umask(old);
    struct stat st;
    CHECK(stat(path, &st) == 0, "the file was not created: %s", strerror(errno));
    CHECK((st.st_mode & 0777) == 0600, "created with mode %o, expected 600", st.st_mode & 0777);
    size_t n;
    uint8_t *b = read_file(path, &n);
    CHECK(n == 300000 && first_mismatch(b, 99, n) == (size_t)-1, "the created file holds %zu bytes / wrong bytes", n);
    free(b);

    cl_init(&c, -1);
    ch = dispatch_io_create_with_path_f(DISPATCH_IO_RANDOM, path, O_RDONLY, 0, q, &c, cl_handler);
    rd_init(&r);
    dispatch_io_read_f(ch, 777, SIZE_MAX, q, &r, rd_handler);
    rd_wait(&r, 5000, "read back");
    rd_check(&r, 0, 99 + 777, 300000 - 777, "read back through a RANDOM path channel");
    rd_destroy(&r);
    dispatch_io_close(ch, 0);
    cl_wait_check(&c, 0, "read-back path channel");
    dispatch_release(ch);
    dispatch_release(q);
    OK("with_path");
}

static void test_with_io(void)
{
    test_start("with_io", 20);
    dispatch_queue_t q = make_q("test.io.withio");
    int fd = make_file("withio", 0, 100000, NULL);
    struct cl cb, cd;
    cl_init(&cb, -1);
    cl_init(&cd, -1);
    dispatch_io_t base = dispatch_io_create_f(DISPATCH_IO_RANDOM, fd, q, &cb, cl_handler);
    CHECK(base != NULL, "create returned NULL");
    dispatch_io_t der = dispatch_io_create_with_io_f(DISPATCH_IO_RANDOM, base, q, &cd, cl_handler);
    CHECK(der != NULL, "create_with_io_f returned NULL");
    struct rd r;
    rd_init(&r);
    dispatch_io_read_f(der, 500, 7000, q, &r, rd_handler);
    rd_wait(&r, 5000, "derived read");
    rd_check(&r, 0, 500, 7000, "read through a create_with_io channel");
    rd_destroy(&r);
    CHECK(dispatch_io_get_descriptor(der) == fd, "derived get_descriptor %d, fd %d", dispatch_io_get_descriptor(der), fd);
    dispatch_io_close(der, 0);
    rd_init(&r);
    dispatch_io_read_f(base, 90000, 20000, q, &r, rd_handler);
    rd_wait(&r, 5000, "base read");
    rd_check(&r, 0, 90000, 10000, "base channel read after the derived one was closed");
    rd_destroy(&r);
    dispatch_io_close(base, 0);
    cl_wait_check(&cd, 0, "derived channel");
    cl_wait_check(&cb, 0, "base channel");
    dispatch_release(der);
    dispatch_release(base);
    close(fd);
    dispatch_release(q);
    OK("with_io");
}

/* ---- one-shot dispatch_read_f / dispatch_write_f ---- */

struct one {
    atomic_int calls, wrong_queue;
    int err;
    dispatch_data_t data; /* retained copy */
    long size;            /* -1: NULL */
    dispatch_semaphore_t sem;
};

static void one_init(struct one *o)
{
    memset(o, 0, sizeof *o);
    o->err = -1;
    o->sem = dispatch_semaphore_create(0);
}

static void one_handler(void *ctx, dispatch_data_t data, int error)
{
    struct one *o = ctx;
    if (!on_q())
        atomic_fetch_add(&o->wrong_queue, 1);
    o->err = error;
    o->size = data ? (long)dispatch_data_get_size(data) : -1;
    if (data) {
        dispatch_retain(data);
        o->data = data;
    }
    atomic_fetch_add(&o->calls, 1);
    dispatch_semaphore_signal(o->sem);
}

static void one_wait(struct one *o, int err, const char *what)
{
    CHECK(sem_wait_ms(o->sem, 10000), "%s: handler not called within 10 s", what);
    sleep_ms(20);
    CHECK(atomic_load(&o->calls) == 1, "%s: handler called %d times", what, atomic_load(&o->calls));
    CHECK(atomic_load(&o->wrong_queue) == 0, "%s: handler off the queue given", what);
    CHECK(o->err == err, "%s: error %d (%s), expected %d", what, o->err, strerror(o->err), err);
}

static void one_check_bytes(struct one *o, size_t start, size_t n, const char *what)
{
    CHECK(o->size == (long)n, "%s: %ld bytes, expected %zu", what, o->size, n);
    const void *buf;
    size_t sz;
    dispatch_data_t m = dispatch_data_create_map(o->data, &buf, &sz);
    CHECK(first_mismatch(buf, start, n) == (size_t)-1, "%s: wrong bytes", what);
    dispatch_release(m);
}

static void one_destroy(struct one *o)
{
    if (o->data)
        dispatch_release(o->data);
    dispatch_release(o->sem);
}

static void test_oneshot(void)
{
    test_start("oneshot", 30);
    dispatch_queue_t q = make_q("test.io.oneshot");
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    uint8_t buf[5000];
    fill_pat(buf, 42, 5000);
    write_all(p[1], buf, 5000);
    close(p[1]);
    struct one o;
    one_init(&o);
    dispatch_read_f(p[0], SIZE_MAX, q, &o, one_handler);
    one_wait(&o, 0, "dispatch_read_f on a pipe");
    one_check_bytes(&o, 42, 5000, "dispatch_read_f on a pipe");
    one_destroy(&o);
    close(p[0]);

    int fd = make_file("oneshot", 7, 5000, NULL);
    one_init(&o);
    dispatch_read_f(fd, 1000, q, &o, one_handler);
    one_wait(&o, 0, "dispatch_read_f(1000) on a file");
    one_check_bytes(&o, 7, 1000, "dispatch_read_f(1000) on a file");
    one_destroy(&o);
    close(fd);

    CHECK(pipe(p) == 0, "pipe");
    struct pr rdr = { .fd = p[0], .start = 3, .expect = 300000, .chunk = 4096 };
    pthread_t t;
    pthread_create(&t, NULL, pr_thread, &rdr);
    dispatch_data_t d = data_pat(3, 300000);
    one_init(&o);
    dispatch_write_f(p[1], d, q, &o, one_handler);
    dispatch_release(d);
    one_wait(&o, 0, "dispatch_write_f to a pipe");
    CHECK(o.size <= 0, "dispatch_write_f: %ld bytes remaining after success", o.size);
    one_destroy(&o);
    pthread_join(t, NULL);
    CHECK(atomic_load(&rdr.got) == 300000 && rdr.bad_at == (size_t)-1, "the pipe's reader got %zu bytes (bad at %zu)",
          atomic_load(&rdr.got), rdr.bad_at);
    close(p[0]);
    close(p[1]);

    char path[256];
    snprintf(path, sizeof path, "%s/oneshot_w", tmpdir);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0, "open");
    d = data_pat(8, 70000);
    one_init(&o);
    dispatch_write_f(fd, d, q, &o, one_handler);
    dispatch_release(d);
    one_wait(&o, 0, "dispatch_write_f to a file");
    one_destroy(&o);
    close(fd);
    size_t n;
    uint8_t *b = read_file(path, &n);
    CHECK(n == 70000 && first_mismatch(b, 8, n) == (size_t)-1, "file written by dispatch_write_f: %zu bytes", n);
    free(b);
    dispatch_release(q);
    OK("oneshot");
}

static void test_bad_fd(void)
{
    test_start("bad_fd", 20);
    dispatch_queue_t q = make_q("test.io.badfd");
    const int bad = 999;
    CHECK(fcntl(bad, F_GETFD) == -1, "fd 999 is open");
    struct cl c;
    cl_init(&c, -1);
    dispatch_io_t ch = dispatch_io_create_f(DISPATCH_IO_STREAM, bad, q, &c, cl_handler);
    CHECK(ch != NULL, "dispatch_io_create_f with a bad fd returned NULL (expected a channel whose operations fail)");
    struct rd r;
    rd_init(&r);
    dispatch_io_read_f(ch, 0, 100, q, &r, rd_handler);
    rd_wait(&r, 5000, "read on a bad fd");
    rd_check(&r, EBADF, 0, 0, "read on a bad fd");
    rd_destroy(&r);
    struct wr w;
    wr_init(&w);
    dispatch_data_t d = data_pat(0, 100);
    dispatch_io_write_f(ch, 0, d, q, &w, wr_handler);
    wr_wait_check(&w, EBADF, "write on a bad fd");
    dispatch_io_close(ch, 0);
    cl_wait_check(&c, EBADF, "bad fd channel");
    dispatch_release(ch);

    struct one o;
    one_init(&o);
    dispatch_read_f(bad, 100, q, &o, one_handler);
    one_wait(&o, EBADF, "dispatch_read_f on a bad fd");
    CHECK(o.size <= 0, "dispatch_read_f on a bad fd delivered %ld bytes", o.size);
    one_destroy(&o);
    one_init(&o);
    dispatch_write_f(bad, d, q, &o, one_handler);
    one_wait(&o, EBADF, "dispatch_write_f on a bad fd");
    one_destroy(&o);
    dispatch_release(d);
    dispatch_release(q);
    OK("bad_fd");
}

static void test_epipe(void)
{
    test_start("epipe", 20);
    signal(SIGPIPE, SIG_IGN);
    dispatch_queue_t q = make_q("test.io.epipe");
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    close(p[0]);
    struct cl c;
    cl_init(&c, -1);
    dispatch_io_t ch = dispatch_io_create_f(DISPATCH_IO_STREAM, p[1], q, &c, cl_handler);
    CHECK(ch != NULL, "create returned NULL");
    struct wr w;
    wr_init(&w);
    dispatch_data_t d = data_pat(0, 1000);
    dispatch_io_write_f(ch, 0, d, q, &w, wr_handler);
    wr_wait_check(&w, EPIPE, "write to a pipe without reader");
    CHECK(w.remaining == 1000, "EPIPE: remaining data has %ld bytes, expected the 1000 unwritten", w.remaining);
    dispatch_io_close(ch, 0);
    cl_wait_check(&c, 0, "epipe channel");
    dispatch_release(ch);

    struct one o;
    one_init(&o);
    dispatch_write_f(p[1], d, q, &o, one_handler);
    one_wait(&o, EPIPE, "dispatch_write_f to a pipe without reader");
    CHECK(o.size == 1000, "dispatch_write_f EPIPE: %ld bytes remaining, expected 1000", o.size);
    one_destroy(&o);
    dispatch_release(d);
    close(p[1]);
    dispatch_release(q);
    OK("epipe");
}

static void rm_tmpdir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    int rc = system(cmd);
    (void)rc;
}

int main(void)
{
    make_tmpdir();
    atexit(rm_tmpdir);
    test_random_read();
    test_random_relative();
    test_stream_eof();
    test_pipe_stream();
    test_file_copy();
    test_socket_slow_peer();
    test_duplex();
    test_tcp_loopback();
    test_many_channels();
    test_close_stop();
    test_close_pending();
    test_release_pending();
    test_high_water();
    test_low_water();
    test_interval();
    test_barrier();
    test_get_descriptor();
    test_with_path();
    test_with_io();
    test_oneshot();
    test_bad_fd();
    test_epipe();
    printf("all io checks passed\n");
    return 0;
}
