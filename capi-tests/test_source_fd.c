/*
 * test_source_fd.c: DISPATCH_SOURCE_TYPE_READ and DISPATCH_SOURCE_TYPE_WRITE sources on pipes
 * and sockets.
 *
 *   read_exact        100 bytes written into a pipe before activation: the first call sees
 *                     get_data == 100 and reads them; with nothing left no further call comes
 *                     (150 ms); 50 more bytes written: called again with 1 <= data <= 50,
 *                     150 bytes read in all; the handler runs on the target queue and never
 *                     overlaps itself; the cancel handler closes the fd (F_GETFD then fails).
 *   level_triggered   100 bytes written before activation, the handler reads only 10 per call:
 *                     it is called again and again, get_data at each call equals the bytes
 *                     still in the pipe (100, 90, ..., 10): exactly 10 calls, then none.
 *   eof               5 bytes written and the write end closed: a call with data 5 reads
 *                     them, then a call with get_data 0 whose read returns 0 (EOF); that
 *                     handler cancels the source; the cancel handler runs once, after the event
 *                     handler returned, closes the fd (no crash; F_GETFD fails afterwards); no
 *                     event handler call after it.
 *   regular_file      READ on a regular file of 123 bytes (offset 0): called with get_data 123
 *                     (bytes up to end of file), the handler reads them.
 *   write_ready       WRITE on a socketpair end and on a pipe's write end: called promptly with
 *                     get_data > 0; once the socket / pipe is filled up (EAGAIN) a new WRITE
 *                     source is not called (150 ms) until the peer drains it, then it is.
 *   same_fd           on one socketpair end at once: a READ source (not called while nothing
 *                     arrives), a second READ source, and a WRITE source: the WRITE one is called
 *                     (data > 0); after 7 bytes arrive both READ ones are called with data 7;
 *                     each cancel handler runs once.
 *   many              up to 500 pipes (scaled to RLIMIT_NOFILE) each with a READ source on its
 *                     read end and a WRITE source on its write end, 1000 sources live at once
 *                     on one concurrent queue: every WRITE handler runs once (data > 0), one
 *                     byte written to every pipe makes every READ handler run once with data 1;
 *                     all 1000 cancel handlers run (the READ ones close their fd).
 */
#include "check.h"

#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>

#define MAXREC 256

static int queue_key;

struct rctx {
    dispatch_source_t src;
    int fd;
    void *marker;
    int chunk;               /* read at most this many bytes per call (0: what get_data says) */
    bool cancel_on_eof;
    bool cancel_on_first;    /* cancel itself at its first call (WRITE sources) */
    bool close_in_cancel;
    bool no_read;            /* do not read at all */
    dispatch_semaphore_t ev_sem;
    dispatch_semaphore_t cancel_sem;
    atomic_int calls;
    atomic_int inside;
    atomic_int overlap;
    atomic_int wrong_queue;
    atomic_int cancels;
    atomic_int cancel_saw_inside;
    atomic_int calls_after_cancel;
    atomic_int total_read;
    atomic_int eof_calls;
    atomic_int eof_with_data;  /* EOF call with get_data != 0 */
    atomic_int spurious;       /* read failed with EAGAIN: called with nothing to read */
    uintptr_t datas[MAXREC];
    atomic_int recorded;
};

static void rctx_init(struct rctx *c, int fd, void *marker)
{
    memset(c, 0, sizeof *c);
    c->fd = fd;
    c->marker = marker;
    c->ev_sem = dispatch_semaphore_create(0);
    c->cancel_sem = dispatch_semaphore_create(0);
}

static void rctx_destroy(struct rctx *c)
{
    dispatch_release(c->ev_sem);
    dispatch_release(c->cancel_sem);
}

static void fd_handler(void *ctx)
{
    struct rctx *c = ctx;
    if (atomic_fetch_add(&c->inside, 1) != 0)
        atomic_fetch_add(&c->overlap, 1);
    if (atomic_load(&c->cancels) != 0)
        atomic_fetch_add(&c->calls_after_cancel, 1);
    if (c->marker && dispatch_get_specific(&queue_key) != c->marker)
        atomic_fetch_add(&c->wrong_queue, 1);
    uintptr_t d = dispatch_source_get_data(c->src);
    int n = atomic_fetch_add(&c->calls, 1) + 1;
    if (n <= MAXREC) {
        c->datas[n - 1] = d;
        atomic_store(&c->recorded, n);
    }
    if (!c->no_read) {
        char buf[4096];
        size_t want = d ? (size_t)d : sizeof buf;
        if (c->chunk && want > (size_t)c->chunk)
            want = (size_t)c->chunk;
        if (want > sizeof buf)
            want = sizeof buf;
        ssize_t r = read(c->fd, buf, want);
        if (r > 0) {
            atomic_fetch_add(&c->total_read, (int)r);
        } else if (r == 0) {
            atomic_fetch_add(&c->eof_calls, 1);
            if (d != 0)
                atomic_fetch_add(&c->eof_with_data, 1);
            if (c->cancel_on_eof)
                dispatch_source_cancel(c->src);
        } else if (errno == EAGAIN) {
            atomic_fetch_add(&c->spurious, 1);
        }
    }
    if (c->cancel_on_first)
        dispatch_source_cancel(c->src);
    atomic_fetch_sub(&c->inside, 1);
    dispatch_semaphore_signal(c->ev_sem);
}

static void fd_cancel_handler(void *ctx)
{
    struct rctx *c = ctx;
    if (atomic_load(&c->inside) != 0)
        atomic_fetch_add(&c->cancel_saw_inside, 1);
    if (c->close_in_cancel)
        close(c->fd);
    atomic_fetch_add(&c->cancels, 1);
    dispatch_semaphore_signal(c->cancel_sem);
}

static dispatch_source_t make_fd_source(struct rctx *c, dispatch_source_type_t type, dispatch_queue_t q)
{
    dispatch_source_t s = dispatch_source_create(type, (uintptr_t)c->fd, 0, q);
    CHECK(s != NULL, "dispatch_source_create(%s, fd %d) returned NULL", type == DISPATCH_SOURCE_TYPE_READ ? "READ" : "WRITE",
          c->fd);
    c->src = s;
    dispatch_set_context(s, c);
    dispatch_source_set_event_handler_f(s, fd_handler);
    dispatch_source_set_cancel_handler_f(s, fd_cancel_handler);
    return s;
}

static void wait_cancel(struct rctx *c)
{
    CHECK(sem_wait_ms(c->cancel_sem, 5000), "cancel handler did not run within 5 s (fd %d)", c->fd);
    sleep_ms(20);
    CHECK(atomic_load(&c->cancels) == 1, "cancel handler ran %d times", atomic_load(&c->cancels));
    CHECK(atomic_load(&c->cancel_saw_inside) == 0, "cancel handler ran while the event handler ran");
    CHECK(atomic_load(&c->calls_after_cancel) == 0, "event handler ran after the cancel handler");
}

static void cancel_and_release(struct rctx *c)
{
    dispatch_source_cancel(c->src);
    wait_cancel(c);
    dispatch_release(c->src);
}

static void common_checks(struct rctx *c)
{
    CHECK(atomic_load(&c->overlap) == 0, "handler overlapped itself %d times", atomic_load(&c->overlap));
    CHECK(atomic_load(&c->wrong_queue) == 0, "handler ran off its target queue %d times", atomic_load(&c->wrong_queue));
}

static bool wait_int(atomic_int *a, int want, int ms)
{
    uint64_t deadline = now_ns() + (uint64_t)ms * 1000000ull;
    while (atomic_load(a) < want) {
        if (now_ns() > deadline)
            return false;
        sleep_ms(1);
    }
    return true;
}

static void set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    CHECK(fl >= 0 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0, "O_NONBLOCK on fd %d", fd);
}

static void write_n(int fd, int n)
{
    char buf[4096];
    memset(buf, 'x', sizeof buf);
    CHECK(n <= (int)sizeof buf, "write_n too large");
    ssize_t w = write(fd, buf, (size_t)n);
    CHECK(w == n, "write of %d bytes returned %zd (%s)", n, w, strerror(errno));
}

static void expect_closed(int fd)
{
    errno = 0;
    CHECK(fcntl(fd, F_GETFD) == -1 && errno == EBADF, "fd %d still open after the cancel handler closed it", fd);
}

/* ------------------------------------------------------------------ */

static void test_read_exact(void)
{
    test_start("read_exact", 15);
    static char marker;
    dispatch_queue_t q = dispatch_queue_create("test.fd.read", DISPATCH_QUEUE_CONCURRENT);
    dispatch_queue_set_specific(q, &queue_key, &marker, NULL);
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    set_nonblock(p[0]);
    write_n(p[1], 100);
    struct rctx c;
    rctx_init(&c, p[0], &marker);
    c.close_in_cancel = true;
    dispatch_source_t s = make_fd_source(&c, DISPATCH_SOURCE_TYPE_READ, q);
    sleep_ms(50);
    CHECK(atomic_load(&c.calls) == 0, "READ source called before activation");
    dispatch_activate(s);
    CHECK(sem_wait_ms(c.ev_sem, 2000), "READ source not called for 100 readable bytes");
    CHECK(c.datas[0] == 100, "first call: get_data %lu, want 100 (bytes in the pipe)", (unsigned long)c.datas[0]);
    CHECK(atomic_load(&c.total_read) == 100, "read %d bytes", atomic_load(&c.total_read));
    sleep_ms(150);
    CHECK(atomic_load(&c.calls) == 1, "READ source called %d times with nothing left to read",
          atomic_load(&c.calls) - 1);
    write_n(p[1], 50);
    CHECK(wait_int(&c.total_read, 150, 2000), "after 50 more bytes, read %d of 150", atomic_load(&c.total_read));
    int n = atomic_load(&c.recorded);
    for (int i = 1; i < n; i++)
        CHECK(c.datas[i] >= 1 && c.datas[i] <= 50, "call %d: get_data %lu, want 1..50", i + 1,
              (unsigned long)c.datas[i]);
    CHECK(atomic_load(&c.spurious) == 0, "%d calls with nothing to read", atomic_load(&c.spurious));
    common_checks(&c);
    cancel_and_release(&c);
    expect_closed(p[0]);
    close(p[1]);
    rctx_destroy(&c);
    dispatch_release(q);
    OK("read_exact");
}

/* ------------------------------------------------------------------ */

static void test_level_triggered(void)
{
    test_start("level_triggered", 15);
    dispatch_queue_t q = dispatch_queue_create("test.fd.level", NULL);
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    set_nonblock(p[0]);
    write_n(p[1], 100);
    struct rctx c;
    rctx_init(&c, p[0], NULL);
    c.chunk = 10;
    dispatch_source_t s = make_fd_source(&c, DISPATCH_SOURCE_TYPE_READ, q);
    dispatch_activate(s);
    CHECK(wait_int(&c.total_read, 100, 3000),
          "a handler reading 10 bytes per call read %d of 100 (not called again while data remains?)",
          atomic_load(&c.total_read));
    sleep_ms(150);
    CHECK(atomic_load(&c.calls) == 10, "%d calls to read 100 bytes 10 at a time, want 10", atomic_load(&c.calls));
    for (int i = 0; i < 10; i++)
        CHECK(c.datas[i] == (uintptr_t)(100 - 10 * i), "call %d: get_data %lu, want %d (bytes in the pipe)", i + 1,
              (unsigned long)c.datas[i], 100 - 10 * i);
    CHECK(atomic_load(&c.spurious) == 0, "%d calls with nothing to read", atomic_load(&c.spurious));
    common_checks(&c);
    cancel_and_release(&c);
    close(p[0]);
    close(p[1]);
    rctx_destroy(&c);
    dispatch_release(q);
    OK("level_triggered");
}

/* ------------------------------------------------------------------ */

static void test_eof(void)
{
    test_start("eof", 15);
    dispatch_queue_t q = dispatch_queue_create("test.fd.eof", DISPATCH_QUEUE_CONCURRENT);
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    set_nonblock(p[0]);
    write_n(p[1], 5);
    close(p[1]);
    struct rctx c;
    rctx_init(&c, p[0], NULL);
    c.cancel_on_eof = true;
    c.close_in_cancel = true;
    dispatch_source_t s = make_fd_source(&c, DISPATCH_SOURCE_TYPE_READ, q);
    dispatch_activate(s);
    wait_cancel(&c);
    CHECK(atomic_load(&c.total_read) == 5, "read %d of 5 bytes before EOF", atomic_load(&c.total_read));
    CHECK(atomic_load(&c.eof_calls) == 1, "%d calls saw EOF", atomic_load(&c.eof_calls));
    CHECK(atomic_load(&c.eof_with_data) == 0, "the EOF call had get_data != 0");
    CHECK(c.datas[0] == 5, "first call get_data %lu, want 5", (unsigned long)c.datas[0]);
    int n = atomic_load(&c.recorded);
    CHECK(c.datas[n - 1] == 0, "last call (EOF) get_data %lu, want 0", (unsigned long)c.datas[n - 1]);
    expect_closed(p[0]);
    sleep_ms(100);
    CHECK(atomic_load(&c.calls_after_cancel) == 0, "event handler ran after the cancel handler closed the fd");
    common_checks(&c);
    dispatch_release(s);
    rctx_destroy(&c);
    dispatch_release(q);
    OK("eof");
}

/* ------------------------------------------------------------------ */

static void test_regular_file(void)
{
    test_start("regular_file", 15);
    char path[] = "/tmp/test_source_fd.XXXXXX";
    int wfd = mkstemp(path);
    CHECK(wfd >= 0, "mkstemp");
    write_n(wfd, 123);
    close(wfd);
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0, "open");
    unlink(path);
    dispatch_queue_t q = dispatch_queue_create("test.fd.file", NULL);
    struct rctx c;
    rctx_init(&c, fd, NULL);
    c.cancel_on_first = true;
    c.close_in_cancel = true;
    dispatch_source_t s = make_fd_source(&c, DISPATCH_SOURCE_TYPE_READ, q);
    dispatch_activate(s);
    CHECK(sem_wait_ms(c.ev_sem, 2000), "READ source on a regular file not called");
    CHECK(c.datas[0] == 123, "get_data %lu on a 123-byte file at offset 0, want 123", (unsigned long)c.datas[0]);
    CHECK(atomic_load(&c.total_read) == 123, "read %d", atomic_load(&c.total_read));
    wait_cancel(&c);
    expect_closed(fd);
    dispatch_release(s);
    rctx_destroy(&c);
    dispatch_release(q);
    OK("regular_file");
}

/* ------------------------------------------------------------------ */

static void fill(int fd)
{
    char buf[4096];
    memset(buf, 'y', sizeof buf);
    for (;;) {
        ssize_t w = write(fd, buf, sizeof buf);
        if (w < 0) {
            CHECK(errno == EAGAIN, "write while filling: %s", strerror(errno));
            /* smaller writes to really fill the last bit */
            while (write(fd, buf, 1) == 1) {
            }
            return;
        }
    }
}

static void drain(int fd)
{
    char buf[4096];
    while (read(fd, buf, sizeof buf) > 0) {
    }
}

/* wfd: the end to write; rfd: its peer */
static void write_ready_case(const char *what, int wfd, int rfd)
{
    dispatch_queue_t q = dispatch_queue_create("test.fd.write", NULL);
    set_nonblock(wfd);
    set_nonblock(rfd);

    struct rctx c;
    rctx_init(&c, wfd, NULL);
    c.no_read = true;
    c.cancel_on_first = true;
    dispatch_source_t s = make_fd_source(&c, DISPATCH_SOURCE_TYPE_WRITE, q);
    dispatch_activate(s);
    CHECK(sem_wait_ms(c.ev_sem, 2000), "%s: WRITE source on a writable fd not called", what);
    wait_cancel(&c);
    CHECK(atomic_load(&c.calls) == 1, "%s: %d calls", what, atomic_load(&c.calls));
    CHECK(c.datas[0] > 0, "%s: WRITE get_data %lu, want > 0", what, (unsigned long)c.datas[0]);
    dispatch_release(s);
    rctx_destroy(&c);

    fill(wfd);
    rctx_init(&c, wfd, NULL);
    c.no_read = true;
    c.cancel_on_first = true;
    s = make_fd_source(&c, DISPATCH_SOURCE_TYPE_WRITE, q);
    dispatch_activate(s);
    sleep_ms(150);
    CHECK(atomic_load(&c.calls) == 0, "%s: WRITE source called while the fd is full", what);
    drain(rfd);
    sleep_ms(5);
    drain(rfd);
    CHECK(sem_wait_ms(c.ev_sem, 2000), "%s: WRITE source not called after the peer drained", what);
    CHECK(c.datas[0] > 0, "%s: WRITE get_data %lu after drain, want > 0", what, (unsigned long)c.datas[0]);
    wait_cancel(&c);
    dispatch_release(s);
    rctx_destroy(&c);
    dispatch_release(q);
}

static void test_write_ready(void)
{
    test_start("write_ready", 20);
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");
    write_ready_case("socketpair", sv[0], sv[1]);
    close(sv[0]);
    close(sv[1]);
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    write_ready_case("pipe", p[1], p[0]);
    close(p[0]);
    close(p[1]);
    OK("write_ready");
}

/* ------------------------------------------------------------------ */

static void test_same_fd(void)
{
    test_start("same_fd", 15);
    dispatch_queue_t q = dispatch_queue_create("test.fd.same", DISPATCH_QUEUE_CONCURRENT);
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");
    set_nonblock(sv[0]);

    struct rctx r1, r2, w;
    rctx_init(&r1, sv[0], NULL);
    rctx_init(&r2, sv[0], NULL);
    rctx_init(&w, sv[0], NULL);
    r1.no_read = r2.no_read = w.no_read = true;
    r1.cancel_on_first = r2.cancel_on_first = w.cancel_on_first = true;
    dispatch_source_t rs1 = make_fd_source(&r1, DISPATCH_SOURCE_TYPE_READ, q);
    dispatch_source_t rs2 = make_fd_source(&r2, DISPATCH_SOURCE_TYPE_READ, q);
    dispatch_activate(rs1);
    dispatch_activate(rs2);
    sleep_ms(50);
    dispatch_source_t ws = make_fd_source(&w, DISPATCH_SOURCE_TYPE_WRITE, q);
    dispatch_activate(ws);
    CHECK(sem_wait_ms(w.ev_sem, 2000), "WRITE source not called while two READ sources share its fd");
    CHECK(w.datas[0] > 0, "WRITE get_data %lu", (unsigned long)w.datas[0]);
    wait_cancel(&w);
    sleep_ms(100);
    CHECK(atomic_load(&r1.calls) == 0 && atomic_load(&r2.calls) == 0, "READ source called with nothing to read");

    write_n(sv[1], 7);
    CHECK(sem_wait_ms(r1.ev_sem, 2000), "first READ source not called");
    CHECK(sem_wait_ms(r2.ev_sem, 2000), "second READ source on the same fd not called");
    CHECK(r1.datas[0] == 7 && r2.datas[0] == 7, "READ get_data %lu and %lu, want 7", (unsigned long)r1.datas[0],
          (unsigned long)r2.datas[0]);
    wait_cancel(&r1);
    wait_cancel(&r2);
    CHECK(atomic_load(&r1.calls) == 1 && atomic_load(&r2.calls) == 1 && atomic_load(&w.calls) == 1,
          "calls %d %d %d, want 1 each", atomic_load(&r1.calls), atomic_load(&r2.calls), atomic_load(&w.calls));
    dispatch_release(rs1);
    dispatch_release(rs2);
    dispatch_release(ws);
    rctx_destroy(&r1);
    rctx_destroy(&r2);
    rctx_destroy(&w);
    close(sv[0]);
    close(sv[1]);
    dispatch_release(q);
    OK("same_fd");
}

/* ------------------------------------------------------------------ */

#define MAX_PIPES 500

struct pipe_pair {
    int r, w;
    dispatch_source_t rs, ws;
    atomic_int rcalls, wcalls, rbad, wbad;
};

static struct pipe_pair pipes[MAX_PIPES];
static atomic_int many_r_done, many_w_done, many_r_cancel, many_w_cancel;

static void many_read(void *ctx)
{
    struct pipe_pair *pp = ctx;
    uintptr_t d = dispatch_source_get_data(pp->rs);
    char b;
    ssize_t r = read(pp->r, &b, 1);
    if (d != 1 || r != 1)
        atomic_fetch_add(&pp->rbad, 1);
    if (atomic_fetch_add(&pp->rcalls, 1) == 0)
        atomic_fetch_add(&many_r_done, 1);
    dispatch_source_cancel(pp->rs);
}

static void many_read_cancel(void *ctx)
{
    struct pipe_pair *pp = ctx;
    close(pp->r);
    atomic_fetch_add(&many_r_cancel, 1);
}

static void many_write(void *ctx)
{
    struct pipe_pair *pp = ctx;
    if (dispatch_source_get_data(pp->ws) == 0)
        atomic_fetch_add(&pp->wbad, 1);
    if (atomic_fetch_add(&pp->wcalls, 1) == 0)
        atomic_fetch_add(&many_w_done, 1);
    dispatch_source_cancel(pp->ws);
}

static void many_write_cancel(void *ctx)
{
    UNUSED(ctx);
    atomic_fetch_add(&many_w_cancel, 1);
}

static void test_many(void)
{
    test_start("many", 40);
    struct rlimit rl;
    CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0, "getrlimit");
    if (rl.rlim_cur < 2 * MAX_PIPES + 128 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max < 2 * MAX_PIPES + 128 ? rl.rlim_max : 2 * MAX_PIPES + 128;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    int n = MAX_PIPES;
    if ((rlim_t)(2 * n + 128) > rl.rlim_cur)
        n = (int)((rl.rlim_cur - 128) / 2);
    CHECK(n >= 50, "RLIMIT_NOFILE %lu too small", (unsigned long)rl.rlim_cur);

    dispatch_queue_t q = dispatch_queue_create("test.fd.many", DISPATCH_QUEUE_CONCURRENT);
    for (int i = 0; i < n; i++) {
        struct pipe_pair *pp = &pipes[i];
        int p[2];
        CHECK(pipe(p) == 0, "pipe %d: %s", i, strerror(errno));
        pp->r = p[0];
        pp->w = p[1];
        set_nonblock(pp->r);
        pp->rs = dispatch_source_create(DISPATCH_SOURCE_TYPE_READ, (uintptr_t)pp->r, 0, q);
        pp->ws = dispatch_source_create(DISPATCH_SOURCE_TYPE_WRITE, (uintptr_t)pp->w, 0, q);
        CHECK(pp->rs && pp->ws, "source %d: create returned NULL", i);
        dispatch_set_context(pp->rs, pp);
        dispatch_set_context(pp->ws, pp);
        dispatch_source_set_event_handler_f(pp->rs, many_read);
        dispatch_source_set_cancel_handler_f(pp->rs, many_read_cancel);
        dispatch_source_set_event_handler_f(pp->ws, many_write);
        dispatch_source_set_cancel_handler_f(pp->ws, many_write_cancel);
        dispatch_activate(pp->rs);
        dispatch_activate(pp->ws);
    }
    CHECK(wait_int(&many_w_done, n, 10000), "%d of %d WRITE handlers ran", atomic_load(&many_w_done), n);
    sleep_ms(50);
    CHECK(atomic_load(&many_r_done) == 0, "%d READ handlers ran on empty pipes", atomic_load(&many_r_done));
    for (int i = 0; i < n; i++)
        write_n(pipes[i].w, 1);
    CHECK(wait_int(&many_r_done, n, 10000), "%d of %d READ handlers ran", atomic_load(&many_r_done), n);
    CHECK(wait_int(&many_r_cancel, n, 10000), "%d of %d READ cancel handlers ran", atomic_load(&many_r_cancel), n);
    CHECK(wait_int(&many_w_cancel, n, 10000), "%d of %d WRITE cancel handlers ran", atomic_load(&many_w_cancel), n);
    sleep_ms(50);
    for (int i = 0; i < n; i++) {
        struct pipe_pair *pp = &pipes[i];
        CHECK(atomic_load(&pp->rcalls) == 1 && atomic_load(&pp->wcalls) == 1, "pipe %d: read calls %d write calls %d",
              i, atomic_load(&pp->rcalls), atomic_load(&pp->wcalls));
        CHECK(atomic_load(&pp->rbad) == 0, "pipe %d: READ get_data != 1 or read failed", i);
        CHECK(atomic_load(&pp->wbad) == 0, "pipe %d: WRITE get_data 0", i);
        expect_closed(pp->r);
        close(pp->w);
        dispatch_release(pp->rs);
        dispatch_release(pp->ws);
    }
    dispatch_release(q);
    printf("# many: %d pipes, %d sources\n", n, 2 * n);
    OK("many");
}

/* ------------------------------------------------------------------ */

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    test_read_exact();
    test_level_triggered();
    test_eof();
    test_regular_file();
    test_write_ready();
    test_same_fd();
    test_many();
    return 0;
}
