/*
 * test_source_signal_proc_vnode.c: SIGNAL, PROC, VNODE and MEMORYPRESSURE sources.
 *
 *   signal_counted     SIGUSR1 ignored (SIG_IGN, as Apple's documentation requires), a SIGNAL
 *                      source registered (registration handler ran), then suspended: 3 raises
 *                      (20 ms apart) deliver nothing while suspended; after resume exactly one
 *                      call with get_data 3; get_handle is SIGUSR1. After the source is
 *                      cancelled a raise(SIGUSR1) is still harmless (ignored).
 *   signal_thread      SIGUSR2 ignored, SIGNAL source on a serial queue; another thread sends
 *                      kill(getpid(), SIGUSR2) 5 times (20 ms apart): the get_data values sum
 *                      to 5 exactly; the handler runs on the target queue.
 *   signal_two         two SIGNAL sources for the same signal (SIGHUP, ignored) on different
 *                      queues: 2 raises are counted by each (sum of get_data 2 on both); after
 *                      one is cancelled the other still counts the next raise.
 *   proc_exit          a forked child blocked on a pipe; a PROC source (DISPATCH_PROC_EXIT) on
 *                      its pid registered, then the child is released and _exits(7): the
 *                      handler runs once with get_data & DISPATCH_PROC_EXIT, get_handle == pid;
 *                      the library did not reap the child: waitpid still returns it with exit
 *                      status 7.
 *   vnode              a temporary file's open fd with a VNODE source for DELETE|WRITE|EXTEND|
 *                      ATTRIB|LINK|RENAME, and a second VNODE source for DELETE only: write at
 *                      the end -> WRITE and EXTEND; overwrite in place -> WRITE; fchmod ->
 *                      ATTRIB; link() -> LINK; rename() -> RENAME; unlink() -> DELETE; every
 *                      delivered value is within the mask, DELETE and RENAME never show up
 *                      before their action; the DELETE-only source is not called by the
 *                      write/chmod/link/rename, and is called after the file's last name is
 *                      unlinked, with data exactly DELETE; cancel handlers close the fds.
 *   vnode_dir          VNODE WRITE|LINK on an open directory: creating a file in it reports
 *                      WRITE; creating a subdirectory reports WRITE (and LINK on systems that
 *                      count ".." links: only WRITE is required).
 *   proc_two           two PROC sources (EXIT) on one child: both handlers run.
 *   memorypressure     a MEMORYPRESSURE source (WARN|CRITICAL) is created, activated and
 *                      cancelled cleanly: its cancel handler runs once; if its event handler
 *                      ran, the data is within the mask.
 *   signal_stale       (after signal_thread's SIGUSR2 source was cancelled) a SIGUSR2 sent while
 *                      no source watches it is not counted by a source created afterwards:
 *                      one kill after registration gives get_data sum exactly 1.
 *   signal_reignore    Apple's documented pattern done a second time for a signal:
 *                      signal(SIGUSR1, SIG_IGN) then create a SIGNAL source (signal_counted did
 *                      it once before): the new source counts a raise (sum >= 1; exactness
 *                      is signal_stale's), i.e. the client's signal() call did not disable the
 *                      library's watching.
 */
#include "check.h"

#include <sys/stat.h>

static int queue_key;

struct sctx {
    dispatch_source_t src;
    void *marker;
    dispatch_semaphore_t reg_sem;
    dispatch_semaphore_t ev_sem;
    dispatch_semaphore_t cancel_sem;
    atomic_int calls;
    atomic_int inside;
    atomic_int overlap;
    atomic_int wrong_queue;
    atomic_int cancels;
    atomic_int cancel_saw_inside;
    atomic_ullong sum;
    atomic_ullong acc;      /* OR of data since last cleared */
    atomic_ullong acc_all;  /* OR of all data */
    atomic_ullong last;
    atomic_ullong handle_seen;
    int close_fd;           /* closed by the cancel handler if >= 0 */
};

static void sctx_init(struct sctx *c, void *marker)
{
    memset(c, 0, sizeof *c);
    c->marker = marker;
    c->close_fd = -1;
    c->reg_sem = dispatch_semaphore_create(0);
    c->ev_sem = dispatch_semaphore_create(0);
    c->cancel_sem = dispatch_semaphore_create(0);
}

static void sctx_destroy(struct sctx *c)
{
    dispatch_release(c->reg_sem);
    dispatch_release(c->ev_sem);
    dispatch_release(c->cancel_sem);
}

static void ev_handler(void *ctx)
{
    struct sctx *c = ctx;
    if (atomic_fetch_add(&c->inside, 1) != 0)
        atomic_fetch_add(&c->overlap, 1);
    if (c->marker && dispatch_get_specific(&queue_key) != c->marker)
        atomic_fetch_add(&c->wrong_queue, 1);
    uintptr_t d = dispatch_source_get_data(c->src);
    atomic_store(&c->handle_seen, dispatch_source_get_handle(c->src));
    atomic_fetch_add(&c->sum, (unsigned long long)d);
    atomic_fetch_or(&c->acc, (unsigned long long)d);
    atomic_fetch_or(&c->acc_all, (unsigned long long)d);
    atomic_store(&c->last, (unsigned long long)d);
    atomic_fetch_add(&c->calls, 1);
    atomic_fetch_sub(&c->inside, 1);
    dispatch_semaphore_signal(c->ev_sem);
}

static void reg_handler(void *ctx)
{
    struct sctx *c = ctx;
    dispatch_semaphore_signal(c->reg_sem);
}

static void cancel_handler(void *ctx)
{
    struct sctx *c = ctx;
    if (atomic_load(&c->inside) != 0)
        atomic_fetch_add(&c->cancel_saw_inside, 1);
    if (c->close_fd >= 0)
        close(c->close_fd);
    atomic_fetch_add(&c->cancels, 1);
    dispatch_semaphore_signal(c->cancel_sem);
}

static dispatch_source_t make_source(struct sctx *c, dispatch_source_type_t type, uintptr_t handle, uintptr_t mask,
                                     dispatch_queue_t q, const char *what)
{
    dispatch_source_t s = dispatch_source_create(type, handle, mask, q);
    CHECK(s != NULL, "dispatch_source_create(%s) returned NULL", what);
    c->src = s;
    dispatch_set_context(s, c);
    dispatch_source_set_event_handler_f(s, ev_handler);
    dispatch_source_set_cancel_handler_f(s, cancel_handler);
    dispatch_source_set_registration_handler_f(s, reg_handler);
    return s;
}

static void activate_registered(struct sctx *c, const char *what)
{
    dispatch_activate(c->src);
    CHECK(sem_wait_ms(c->reg_sem, 2000), "%s: registration handler did not run within 2 s", what);
}

static void cancel_and_release(struct sctx *c)
{
    dispatch_source_cancel(c->src);
    CHECK(sem_wait_ms(c->cancel_sem, 5000), "cancel handler did not run within 5 s");
    sleep_ms(20);
    CHECK(atomic_load(&c->cancels) == 1, "cancel handler ran %d times", atomic_load(&c->cancels));
    CHECK(atomic_load(&c->cancel_saw_inside) == 0, "cancel handler ran while the event handler ran");
    dispatch_release(c->src);
}

static void common_checks(struct sctx *c)
{
    CHECK(atomic_load(&c->overlap) == 0, "handler overlapped itself");
    CHECK(atomic_load(&c->wrong_queue) == 0, "handler ran off its target queue");
}

static bool wait_ull_eq(atomic_ullong *a, unsigned long long want, int ms)
{
    uint64_t deadline = now_ns() + (uint64_t)ms * 1000000ull;
    while (atomic_load(a) != want) {
        if (now_ns() > deadline)
            return false;
        sleep_ms(1);
    }
    return true;
}

/* ------------------------------------------------------------------ */

static void test_signal_counted(void)
{
    test_start("signal_counted", 15);
    signal(SIGUSR1, SIG_IGN);
    dispatch_queue_t q = dispatch_queue_create("test.sig.counted", NULL);
    struct sctx c;
    sctx_init(&c, NULL);
    dispatch_source_t s = make_source(&c, DISPATCH_SOURCE_TYPE_SIGNAL, SIGUSR1, 0, q, "SIGNAL SIGUSR1");
    CHECK(dispatch_source_get_handle(s) == SIGUSR1, "get_handle %lu", (unsigned long)dispatch_source_get_handle(s));
    activate_registered(&c, "SIGNAL");
    dispatch_suspend(s);
    for (int i = 0; i < 3; i++) {
        CHECK(raise(SIGUSR1) == 0, "raise");
        sleep_ms(20);
    }
    sleep_ms(100);
    CHECK(atomic_load(&c.calls) == 0, "a suspended SIGNAL source delivered");
    dispatch_resume(s);
    CHECK(sem_wait_ms(c.ev_sem, 2000), "nothing delivered after resume");
    sleep_ms(100);
    CHECK(atomic_load(&c.calls) == 1, "%d calls after resume, want 1", atomic_load(&c.calls));
    CHECK(atomic_load(&c.last) == 3, "get_data %llu after 3 raises, want 3", (unsigned long long)atomic_load(&c.last));
    CHECK(atomic_load(&c.handle_seen) == SIGUSR1, "get_handle in the handler %llu",
          (unsigned long long)atomic_load(&c.handle_seen));
    common_checks(&c);
    cancel_and_release(&c);
    sctx_destroy(&c);
    raise(SIGUSR1); /* still ignored: must not kill the process */
    sleep_ms(20);
    dispatch_release(q);
    OK("signal_counted");
}

/* ------------------------------------------------------------------ */

static void *signal_sender(void *arg)
{
    UNUSED(arg);
    for (int i = 0; i < 5; i++) {
        kill(getpid(), SIGUSR2);
        sleep_ms(20);
    }
    return NULL;
}

static void test_signal_thread(void)
{
    test_start("signal_thread", 15);
    static char marker;
    signal(SIGUSR2, SIG_IGN);
    dispatch_queue_t q = dispatch_queue_create("test.sig.thread", NULL);
    dispatch_queue_set_specific(q, &queue_key, &marker, NULL);
    struct sctx c;
    sctx_init(&c, &marker);
    make_source(&c, DISPATCH_SOURCE_TYPE_SIGNAL, SIGUSR2, 0, q, "SIGNAL SIGUSR2");
    activate_registered(&c, "SIGNAL");
    pthread_t th;
    CHECK(pthread_create(&th, NULL, signal_sender, NULL) == 0, "pthread_create");
    pthread_join(th, NULL);
    CHECK(wait_ull_eq(&c.sum, 5, 2000), "sum of get_data %llu after 5 kills, want 5",
          (unsigned long long)atomic_load(&c.sum));
    sleep_ms(100);
    CHECK(atomic_load(&c.sum) == 5, "sum of get_data grew to %llu", (unsigned long long)atomic_load(&c.sum));
    common_checks(&c);
    cancel_and_release(&c);
    sctx_destroy(&c);
    dispatch_release(q);
    OK("signal_thread");
}

/* ------------------------------------------------------------------ */

static void test_signal_two(void)
{
    test_start("signal_two", 15);
    signal(SIGHUP, SIG_IGN);
    dispatch_queue_t q1 = dispatch_queue_create("test.sig.two.1", NULL);
    dispatch_queue_t q2 = dispatch_queue_create("test.sig.two.2", NULL);
    struct sctx a, b;
    sctx_init(&a, NULL);
    sctx_init(&b, NULL);
    make_source(&a, DISPATCH_SOURCE_TYPE_SIGNAL, SIGHUP, 0, q1, "SIGNAL a");
    make_source(&b, DISPATCH_SOURCE_TYPE_SIGNAL, SIGHUP, 0, q2, "SIGNAL b");
    activate_registered(&a, "SIGNAL a");
    activate_registered(&b, "SIGNAL b");
    for (int i = 0; i < 2; i++) {
        raise(SIGHUP);
        sleep_ms(20);
    }
    CHECK(wait_ull_eq(&a.sum, 2, 2000) && wait_ull_eq(&b.sum, 2, 2000),
          "two sources on one signal after 2 raises: sums %llu and %llu, want 2 each",
          (unsigned long long)atomic_load(&a.sum), (unsigned long long)atomic_load(&b.sum));
    cancel_and_release(&a);
    raise(SIGHUP);
    CHECK(wait_ull_eq(&b.sum, 3, 2000), "the remaining source counted %llu, want 3 after one more raise",
          (unsigned long long)atomic_load(&b.sum));
    cancel_and_release(&b);
    sctx_destroy(&a);
    sctx_destroy(&b);
    dispatch_release(q1);
    dispatch_release(q2);
    OK("signal_two");
}

/* ------------------------------------------------------------------ */

static void test_proc_exit(void)
{
    test_start("proc_exit", 15);
    int gate[2];
    CHECK(pipe(gate) == 0, "pipe");
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        close(gate[1]);
        char b;
        alarm(10);
        ssize_t r = read(gate[0], &b, 1);
        (void)r;
        _exit(7);
    }
    close(gate[0]);
    dispatch_queue_t q = dispatch_queue_create("test.proc", NULL);
    struct sctx c;
    sctx_init(&c, NULL);
    dispatch_source_t s = make_source(&c, DISPATCH_SOURCE_TYPE_PROC, (uintptr_t)pid, DISPATCH_PROC_EXIT, q, "PROC");
    activate_registered(&c, "PROC");
    sleep_ms(50);
    CHECK(atomic_load(&c.calls) == 0, "PROC source called while the child lives");
    CHECK(write(gate[1], "x", 1) == 1, "release the child");
    CHECK(sem_wait_ms(c.ev_sem, 3000), "PROC source not called within 3 s of the child's exit");
    sleep_ms(100);
    CHECK(atomic_load(&c.calls) == 1, "PROC handler called %d times", atomic_load(&c.calls));
    CHECK(atomic_load(&c.last) & DISPATCH_PROC_EXIT, "get_data %#llx lacks DISPATCH_PROC_EXIT",
          (unsigned long long)atomic_load(&c.last));
    CHECK(atomic_load(&c.handle_seen) == (unsigned long long)pid, "get_handle %llu, want %d",
          (unsigned long long)atomic_load(&c.handle_seen), (int)pid);
    CHECK(dispatch_source_get_mask(s) == DISPATCH_PROC_EXIT, "mask %#lx", (unsigned long)dispatch_source_get_mask(s));
    int st = 0;
    pid_t w;
    uint64_t deadline = now_ns() + 3 * NSEC_PER_SEC;
    while ((w = waitpid(pid, &st, WNOHANG)) == 0 && now_ns() < deadline)
        sleep_ms(5);
    CHECK(w == pid, "waitpid(child) returned %d (%s): the library reaped the child?", (int)w,
          w < 0 ? strerror(errno) : "not exited");
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 7, "child status %#x, want exit 7", st);
    common_checks(&c);
    cancel_and_release(&c);
    sctx_destroy(&c);
    close(gate[1]);
    dispatch_release(q);
    OK("proc_exit");
}

/* ------------------------------------------------------------------ */

#define VN_ALL                                                                                             \
    (DISPATCH_VNODE_DELETE | DISPATCH_VNODE_WRITE | DISPATCH_VNODE_EXTEND | DISPATCH_VNODE_ATTRIB |         \
     DISPATCH_VNODE_LINK | DISPATCH_VNODE_RENAME)

static void expect_bits(struct sctx *c, unsigned long long bits, unsigned long long forbidden, const char *what)
{
    uint64_t deadline = now_ns() + 3 * NSEC_PER_SEC;
    while ((atomic_load(&c->acc) & bits) != bits && now_ns() < deadline)
        sleep_ms(1);
    unsigned long long got = atomic_load(&c->acc);
    CHECK((got & bits) == bits, "%s: VNODE data %#llx lacks %#llx", what, got, bits);
    sleep_ms(50);
    got = atomic_load(&c->acc);
    CHECK((got & forbidden) == 0, "%s: VNODE data %#llx has unexpected bits %#llx", what, got, got & forbidden);
    CHECK((atomic_load(&c->acc_all) & ~(unsigned long long)VN_ALL) == 0, "%s: VNODE data %#llx outside the mask",
          what, (unsigned long long)atomic_load(&c->acc_all));
    atomic_store(&c->acc, 0);
}

static void test_vnode(void)
{
    test_start("vnode", 30);
    char dir[] = "/tmp/test_source_vnode.XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp: %s", strerror(errno));
    char path[256], path2[256], path3[256];
    snprintf(path, sizeof path, "%s/file", dir);
    snprintf(path2, sizeof path2, "%s/hardlink", dir);
    snprintf(path3, sizeof path3, "%s/renamed", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0644);
    CHECK(fd >= 0, "open %s: %s", path, strerror(errno));
    int fd2 = open(path, O_RDONLY);
    CHECK(fd2 >= 0, "second open");

    dispatch_queue_t q = dispatch_queue_create("test.vnode", NULL);
    struct sctx c, d;
    sctx_init(&c, NULL);
    sctx_init(&d, NULL);
    c.close_fd = fd;
    d.close_fd = fd2;
    dispatch_source_t s = make_source(&c, DISPATCH_SOURCE_TYPE_VNODE, (uintptr_t)fd, VN_ALL, q, "VNODE all");
    CHECK(dispatch_source_get_mask(s) == VN_ALL, "mask %#lx", (unsigned long)dispatch_source_get_mask(s));
    CHECK(dispatch_source_get_handle(s) == (uintptr_t)fd, "handle");
    make_source(&d, DISPATCH_SOURCE_TYPE_VNODE, (uintptr_t)fd2, DISPATCH_VNODE_DELETE, q, "VNODE delete");
    activate_registered(&c, "VNODE");
    activate_registered(&d, "VNODE delete-only");
    sleep_ms(50);
    CHECK(atomic_load(&c.calls) == 0, "VNODE source called with no change (data %#llx)",
          (unsigned long long)atomic_load(&c.acc));

    unsigned long long gone = DISPATCH_VNODE_DELETE | DISPATCH_VNODE_RENAME;
    CHECK(write(fd, "hello", 5) == 5, "write");
    expect_bits(&c, DISPATCH_VNODE_WRITE | DISPATCH_VNODE_EXTEND, gone, "write at the end");
    CHECK(pwrite(fd, "J", 1, 0) == 1, "pwrite");
    expect_bits(&c, DISPATCH_VNODE_WRITE, gone, "overwrite in place");
    CHECK(fchmod(fd, 0600) == 0, "fchmod");
    expect_bits(&c, DISPATCH_VNODE_ATTRIB, gone, "fchmod");
    CHECK(link(path, path2) == 0, "link: %s", strerror(errno));
    expect_bits(&c, DISPATCH_VNODE_LINK, gone, "link");
    CHECK(rename(path, path3) == 0, "rename: %s", strerror(errno));
    expect_bits(&c, DISPATCH_VNODE_RENAME, DISPATCH_VNODE_DELETE, "rename");
    CHECK(atomic_load(&d.calls) == 0, "DELETE-only source called (data %#llx) by write/chmod/link/rename",
          (unsigned long long)atomic_load(&d.acc_all));
    /* removing the extra name first (what that reports is left open), then the last name */
    CHECK(unlink(path2) == 0, "unlink of the hard link");
    sleep_ms(100);
    atomic_store(&c.acc, 0);
    int d_before = atomic_load(&d.calls);
    CHECK(unlink(path3) == 0, "unlink: %s", strerror(errno));
    expect_bits(&c, DISPATCH_VNODE_DELETE, 0, "unlink");
    uint64_t deadline = now_ns() + 3 * NSEC_PER_SEC;
    while (atomic_load(&d.calls) == d_before && now_ns() < deadline)
        sleep_ms(1);
    CHECK(atomic_load(&d.calls) > d_before, "DELETE-only source not called after unlink");
    sleep_ms(50);
    CHECK(atomic_load(&d.acc_all) == DISPATCH_VNODE_DELETE, "DELETE-only source saw data %#llx",
          (unsigned long long)atomic_load(&d.acc_all));
    common_checks(&c);
    common_checks(&d);
    cancel_and_release(&c);
    cancel_and_release(&d);
    errno = 0;
    CHECK(fcntl(fd, F_GETFD) == -1 && errno == EBADF, "cancel handler did not close the fd");
    sctx_destroy(&c);
    sctx_destroy(&d);
    rmdir(dir);
    dispatch_release(q);
    OK("vnode");
}

/* ------------------------------------------------------------------ */

static void test_vnode_dir(void)
{
    test_start("vnode_dir", 15);
    char dir[] = "/tmp/test_source_vdir.XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    CHECK(dfd >= 0, "open dir");
    dispatch_queue_t q = dispatch_queue_create("test.vnode.dir", NULL);
    struct sctx c;
    sctx_init(&c, NULL);
    c.close_fd = dfd;
    make_source(&c, DISPATCH_SOURCE_TYPE_VNODE, (uintptr_t)dfd, DISPATCH_VNODE_WRITE | DISPATCH_VNODE_LINK, q,
                "VNODE dir");
    activate_registered(&c, "VNODE dir");
    char path[256], sub[256];
    snprintf(path, sizeof path, "%s/f", dir);
    snprintf(sub, sizeof sub, "%s/sub", dir);
    int fd = open(path, O_WRONLY | O_CREAT, 0644);
    CHECK(fd >= 0, "create file in dir");
    close(fd);
    uint64_t deadline = now_ns() + 3 * NSEC_PER_SEC;
    while (!(atomic_load(&c.acc) & DISPATCH_VNODE_WRITE) && now_ns() < deadline)
        sleep_ms(1);
    CHECK(atomic_load(&c.acc) & DISPATCH_VNODE_WRITE, "creating a file in the directory: data %#llx lacks WRITE",
          (unsigned long long)atomic_load(&c.acc));
    sleep_ms(50);
    atomic_store(&c.acc, 0);
    CHECK(mkdir(sub, 0755) == 0, "mkdir");
    deadline = now_ns() + 3 * NSEC_PER_SEC;
    while (!(atomic_load(&c.acc) & DISPATCH_VNODE_WRITE) && now_ns() < deadline)
        sleep_ms(1);
    CHECK(atomic_load(&c.acc) & DISPATCH_VNODE_WRITE, "mkdir in the directory: data %#llx lacks WRITE",
          (unsigned long long)atomic_load(&c.acc));
    CHECK((atomic_load(&c.acc_all) & ~(unsigned long long)(DISPATCH_VNODE_WRITE | DISPATCH_VNODE_LINK)) == 0,
          "data %#llx outside the mask", (unsigned long long)atomic_load(&c.acc_all));
    common_checks(&c);
    cancel_and_release(&c);
    sctx_destroy(&c);
    rmdir(sub);
    unlink(path);
    rmdir(dir);
    dispatch_release(q);
    OK("vnode_dir");
}

/* ------------------------------------------------------------------ */

static void test_proc_two(void)
{
    test_start("proc_two", 15);
    int gate[2];
    CHECK(pipe(gate) == 0, "pipe");
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        close(gate[1]);
        char b;
        alarm(10);
        ssize_t r = read(gate[0], &b, 1);
        (void)r;
        _exit(0);
    }
    close(gate[0]);
    dispatch_queue_t q = dispatch_queue_create("test.proc.two", DISPATCH_QUEUE_CONCURRENT);
    struct sctx a, b;
    sctx_init(&a, NULL);
    sctx_init(&b, NULL);
    make_source(&a, DISPATCH_SOURCE_TYPE_PROC, (uintptr_t)pid, DISPATCH_PROC_EXIT, q, "PROC a");
    make_source(&b, DISPATCH_SOURCE_TYPE_PROC, (uintptr_t)pid, DISPATCH_PROC_EXIT, q, "PROC b");
    activate_registered(&a, "PROC a");
    activate_registered(&b, "PROC b");
    CHECK(write(gate[1], "x", 1) == 1, "release the child");
    CHECK(sem_wait_ms(a.ev_sem, 3000), "first PROC source not called");
    CHECK(sem_wait_ms(b.ev_sem, 3000), "second PROC source on the same pid not called");
    CHECK((atomic_load(&a.last) & DISPATCH_PROC_EXIT) && (atomic_load(&b.last) & DISPATCH_PROC_EXIT),
          "data %#llx / %#llx", (unsigned long long)atomic_load(&a.last), (unsigned long long)atomic_load(&b.last));
    int st;
    uint64_t deadline = now_ns() + 3 * NSEC_PER_SEC;
    pid_t w;
    while ((w = waitpid(pid, &st, WNOHANG)) == 0 && now_ns() < deadline)
        sleep_ms(5);
    CHECK(w == pid, "waitpid: %d", (int)w);
    cancel_and_release(&a);
    cancel_and_release(&b);
    sctx_destroy(&a);
    sctx_destroy(&b);
    close(gate[1]);
    dispatch_release(q);
    OK("proc_two");
}

/* ------------------------------------------------------------------ */

static void test_memorypressure(void)
{
    test_start("memorypressure", 15);
    dispatch_queue_t q = dispatch_queue_create("test.mempressure", NULL);
    struct sctx c;
    sctx_init(&c, NULL);
    uintptr_t mask = DISPATCH_MEMORYPRESSURE_WARN | DISPATCH_MEMORYPRESSURE_CRITICAL;
    dispatch_source_t s = dispatch_source_create(DISPATCH_SOURCE_TYPE_MEMORYPRESSURE, 0, mask, q);
    CHECK(s != NULL, "MEMORYPRESSURE create returned NULL");
    c.src = s;
    dispatch_set_context(s, &c);
    dispatch_source_set_event_handler_f(s, ev_handler);
    dispatch_source_set_cancel_handler_f(s, cancel_handler);
    CHECK(dispatch_source_get_mask(s) == mask, "mask %#lx", (unsigned long)dispatch_source_get_mask(s));
    dispatch_activate(s);
    sleep_ms(100);
    cancel_and_release(&c);
    CHECK((atomic_load(&c.acc_all) & ~(unsigned long long)mask) == 0, "memory pressure data %#llx outside the mask",
          (unsigned long long)atomic_load(&c.acc_all));
    sctx_destroy(&c);
    dispatch_release(q);
    OK("memorypressure");
}

/* ------------------------------------------------------------------ */

/* exact: the sum must be 1; otherwise at least 1 (signal_stale checks exactness) */
static void count_one_raise(int signo, const char *what, bool exact)
{
    dispatch_queue_t q = dispatch_queue_create("test.sig.again", NULL);
    struct sctx c;
    sctx_init(&c, NULL);
    make_source(&c, DISPATCH_SOURCE_TYPE_SIGNAL, (uintptr_t)signo, 0, q, what);
    activate_registered(&c, what);
    sleep_ms(50);
    CHECK(kill(getpid(), signo) == 0, "kill");
    uint64_t deadline = now_ns() + 2 * NSEC_PER_SEC;
    while (atomic_load(&c.sum) == 0 && now_ns() < deadline)
        sleep_ms(1);
    sleep_ms(100);
    unsigned long long sum = atomic_load(&c.sum);
    CHECK(exact ? sum == 1 : sum >= 1, "%s: one signal sent after registration, get_data sum %llu, want %s", what,
          sum, exact ? "1" : ">= 1");
    cancel_and_release(&c);
    sctx_destroy(&c);
    dispatch_release(q);
}

static void test_signal_stale(void)
{
    test_start("signal_stale", 15);
    /* signal_thread's SIGUSR2 source is cancelled and released: nothing watches SIGUSR2 */
    CHECK(kill(getpid(), SIGUSR2) == 0, "kill");
    sleep_ms(50);
    count_one_raise(SIGUSR2, "SIGUSR2 after an unwatched SIGUSR2", true);
    OK("signal_stale");
}

static void test_signal_reignore(void)
{
    test_start("signal_reignore", 15);
    signal(SIGUSR1, SIG_IGN); /* as Apple's documentation says, before creating the source */
    count_one_raise(SIGUSR1, "SIGUSR1 source after signal(SIGUSR1, SIG_IGN) again", false);
    OK("signal_reignore");
}

/* ------------------------------------------------------------------ */

int main(void)
{
    test_signal_counted();
    test_signal_thread();
    test_signal_two();
    test_proc_exit();
    test_proc_two();
    test_vnode();
    test_memorypressure();
    test_signal_reignore();
    test_vnode_dir();
    test_signal_stale();
    return 0;
}
