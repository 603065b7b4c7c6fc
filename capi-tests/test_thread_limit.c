/*
 * test_thread_limit.c: threads the system refused are retried; no item waits for an
 * unrelated push.
 *
 * RLIMIT_NPROC does not bind root, so each check runs in a forked child that first drops
 * to uid/gid 65534 (nobody) with setresuid when the test runs as root (no exec: the test
 * binary and the library need not be readable by nobody). The child sets the soft limit
 * to 0 and keeps the hard one, so it can raise the soft limit again unprivileged; a
 * program thread created beforehand raises it 1.5 s later. The check is skipped (with the
 * reason printed) when privileges cannot be dropped or the limit does not stop a
 * pthread_create.
 *
 *   first_push_at_limit  no library thread exists yet; one dispatch_async_f onto a global
 *                        queue under the limit, and no other push: the item runs, after
 *                        the limit was lifted, on a thread named "dispatch-worker".
 *   refused_worker       one item holds the only worker (blocked on a semaphore); under the
 *                        limit a second item is pushed: it runs (on a new worker, while the
 *                        first is still blocked) once the limit is lifted, with no further
 *                        push; then the first is released and completes.
 */
#include "check.h"

#include <grp.h>
#include <sys/resource.h>

#define SKIP 77

static atomic_int lifted;
static dispatch_semaphore_t ran, gate;
static atomic_int ran_after_lift = -1;
static atomic_int ran_on_worker = -1;

static void *lifter(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char c;
    CHECK(read(fd, &c, 1) == 1, "lifter pipe");
    sleep_ms(1500);
    struct rlimit rl;
    CHECK(getrlimit(RLIMIT_NPROC, &rl) == 0, "getrlimit");
    rl.rlim_cur = rl.rlim_max;
    CHECK(setrlimit(RLIMIT_NPROC, &rl) == 0, "raising RLIMIT_NPROC: %s", strerror(errno));
    atomic_store(&lifted, 1);
    return NULL;
}

static void *nothing(void *arg)
{
    return arg;
}

static void item(void *ctx)
{
    UNUSED(ctx);
    atomic_store(&ran_after_lift, atomic_load(&lifted));
    char name[32] = "";
    pthread_getname_np(pthread_self(), name, sizeof name);
    atomic_store(&ran_on_worker, strcmp(name, "dispatch-worker") == 0);
    dispatch_semaphore_signal(ran);
}

static void holder(void *ctx)
{
    UNUSED(ctx);
    dispatch_semaphore_signal(ran);
    dispatch_semaphore_wait(gate, DISPATCH_TIME_FOREVER);
    dispatch_semaphore_signal(ran);
}

/* Drops to nobody if root; starts the lifter; lowers the limit. Returns the pipe end that
 * starts the lifter's 1.5 s countdown, or exits SKIP. */
static int limit_threads(void)
{
    if (geteuid() == 0) {
        if (setgroups(0, NULL) != 0 || setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0) {
            printf("skip: cannot become uid 65534: %s\n", strerror(errno));
            _exit(SKIP);
        }
    }
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    pthread_t th;
    CHECK(pthread_create(&th, NULL, lifter, (void *)(intptr_t)p[0]) == 0, "pthread_create lifter");
    CHECK(pthread_detach(th) == 0, "pthread_detach");
    struct rlimit rl;
    CHECK(getrlimit(RLIMIT_NPROC, &rl) == 0, "getrlimit");
    rl.rlim_cur = 0;
    CHECK(setrlimit(RLIMIT_NPROC, &rl) == 0, "setrlimit: %s", strerror(errno));
    int r = pthread_create(&th, NULL, nothing, NULL);
    if (r == 0) {
        pthread_join(th, NULL);
        printf("skip: RLIMIT_NPROC 0 does not stop pthread_create here\n");
        _exit(SKIP);
    }
    CHECK(r == EAGAIN, "pthread_create under the limit: %s", strerror(r));
    return p[1];
}

static void first_push_at_limit(void)
{
    ran = dispatch_semaphore_create(0);
    int go = limit_threads();
    CHECK(write(go, "x", 1) == 1, "write");
    dispatch_async_f(dispatch_get_global_queue(0, 0), NULL, item);
    CHECK(sem_wait_ms(ran, 10000), "the item never ran after the limit was lifted");
    CHECK(atomic_load(&ran_after_lift) == 1, "the item ran before the limit was lifted?");
    CHECK(atomic_load(&ran_on_worker) == 1, "the item did not run on a worker");
}

static void refused_worker(void)
{
    ran = dispatch_semaphore_create(0);
    gate = dispatch_semaphore_create(0);
    dispatch_async_f(dispatch_get_global_queue(0, 0), NULL, holder);
    CHECK(sem_wait_ms(ran, 10000), "the holder never started");
    int go = limit_threads();
    CHECK(write(go, "x", 1) == 1, "write");
    dispatch_async_f(dispatch_get_global_queue(0, 0), NULL, item);
    CHECK(sem_wait_ms(ran, 10000), "the second item never ran after the limit was lifted");
    CHECK(atomic_load(&ran_after_lift) == 1, "the item ran before the limit was lifted?");
    dispatch_semaphore_signal(gate);
    CHECK(sem_wait_ms(ran, 10000), "the holder never finished");
}

static void run(void (*fn)(void), const char *name)
{
    test_start(name, 30);
    pid_t pid = fork();
    CHECK(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        alarm(25);
        fn();
        _exit(0);
    }
    int status;
    CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
    if (WIFEXITED(status) && WEXITSTATUS(status) == SKIP) {
        printf("skipped %s\n", name);
        return;
    }
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s: child %s %d", name,
          WIFSIGNALED(status) ? "killed by signal" : "exited with",
          WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    OK(name);
}

int main(void)
{
    /* The children must start with no library thread: this process never touches the
     * library itself. */
    run(first_push_at_limit, "first_push_at_limit");
    run(refused_worker, "refused_worker");
    return 0;
}
