/*
 * test_thread_signals.c: the library's threads block asynchronous signals, so signals
 * sent to the process reach the program's threads only.
 *
 * Each check runs in a forked child, after workers (dispatch_async onto global queues),
 * the pool monitor and the event thread (a dispatch_after and a repeating timer source)
 * have been started and found by name in /proc/self/task; only then does the program
 * change its own signal mask, so every library thread already exists when it does.
 *
 *   sigwait_sigterm  main blocks SIGTERM and sends kill(getpid(), SIGTERM) while items
 *                    spin on workers and the timer fires: sigwait returns SIGTERM and the
 *                    child exits 0. A library thread that left SIGTERM unblocked would take
 *                    it, and its default action would kill the child (= failure).
 *   handler_thread   a SIGUSR1 handler records gettid(); main blocks SIGUSR1 and one program
 *                    thread leaves it unblocked; while items spin (and record the tids of the
 *                    workers running them), items block on a semaphore and the timer fires,
 *                    50 kill(getpid(), SIGUSR1), each waited for: every handler call ran on
 *                    that program thread, never on a thread that ran dispatched work and
 *                    never on a thread named "dispatch-*".
 */
#include "check.h"

#include <dirent.h>

#define SPINNERS 2
#define BLOCKERS 2

static atomic_int stop_spinning;
static atomic_int spinners_running;
static atomic_int worker_tids[SPINNERS + BLOCKERS];
static atomic_int worker_count;
static dispatch_semaphore_t blocker_gate;
static dispatch_semaphore_t after_ran;
static atomic_int timer_fires;

static void record_worker(void)
{
    int i = atomic_fetch_add(&worker_count, 1);
    if (i < SPINNERS + BLOCKERS)
        atomic_store(&worker_tids[i], my_tid());
}

static void spin(void *ctx)
{
    UNUSED(ctx);
    record_worker();
    atomic_fetch_add(&spinners_running, 1);
    while (!atomic_load(&stop_spinning)) {
    }
}

static void block(void *ctx)
{
    UNUSED(ctx);
    record_worker();
    dispatch_semaphore_wait(blocker_gate, DISPATCH_TIME_FOREVER);
}

static void after(void *ctx)
{
    UNUSED(ctx);
    dispatch_semaphore_signal(after_ran);
}

static void tick(void *ctx)
{
    UNUSED(ctx);
    atomic_fetch_add(&timer_fires, 1);
}

/* Whether some thread of this process has a name starting with `prefix`. */
static bool thread_named(const char *prefix)
{
    DIR *d = opendir("/proc/self/task");
    CHECK(d != NULL, "opendir /proc/self/task");
    bool found = false;
    struct dirent *e;
    while (!found && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[300], name[32] = "";
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (f) {
            if (fgets(name, sizeof name, f))
                found = strncmp(name, prefix, strlen(prefix)) == 0;
            fclose(f);
        }
    }
    closedir(d);
    return found;
}

static bool tid_is_library_thread(pid_t tid)
{
    char path[64], name[32] = "";
    snprintf(path, sizeof path, "/proc/self/task/%d/comm", (int)tid);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    bool lib = fgets(name, sizeof name, f) && strncmp(name, "dispatch-", 9) == 0;
    fclose(f);
    return lib;
}

/* Starts workers, the monitor and the event thread, and waits until all exist. */
static dispatch_source_t start_library_threads(void)
{
    blocker_gate = dispatch_semaphore_create(0);
    after_ran = dispatch_semaphore_create(0);
    for (int i = 0; i < BLOCKERS; i++)
        dispatch_async_f(dispatch_get_global_queue(0, 0), NULL, block);
    dispatch_after_f(in_ms(5), dispatch_get_global_queue(0, 0), NULL, after);
    dispatch_source_t t =
        dispatch_source_create(DISPATCH_SOURCE_TYPE_TIMER, 0, 0, dispatch_get_global_queue(0, 0));
    dispatch_source_set_timer(t, dispatch_time(DISPATCH_TIME_NOW, 0), NSEC_PER_MSEC, 0);
    dispatch_source_set_event_handler_f(t, tick);
    dispatch_activate(t);

    CHECK(sem_wait_ms(after_ran, 5000), "dispatch_after never ran");
    while (atomic_load(&timer_fires) < 3)
        sleep_ms(1);
    /* The spinners last: on a small machine they may take every CPU the pool uses. */
    for (int i = 0; i < SPINNERS; i++)
        dispatch_async_f(dispatch_get_global_queue(0, 0), NULL, spin);
    while (atomic_load(&spinners_running) < SPINNERS || atomic_load(&worker_count) < SPINNERS + BLOCKERS)
        sleep_ms(1);
    CHECK(thread_named("dispatch-worker"), "no worker thread found");
    CHECK(thread_named("dispatch-monito"), "no monitor thread found");
    CHECK(thread_named("dispatch-event"), "no event thread found");
    return t;
}

static void stop_library_threads(dispatch_source_t t)
{
    atomic_store(&stop_spinning, 1);
    for (int i = 0; i < BLOCKERS; i++)
        dispatch_semaphore_signal(blocker_gate);
    dispatch_source_cancel(t);
    dispatch_release(t);
}

/* Runs `fn` in a forked child; true when the child exited with status 0. */
static bool in_child(void (*fn)(void), const char *name)
{
    pid_t pid = fork();
    CHECK(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        alarm(20); /* the parent's watchdog is not inherited */
        fn();
        _exit(0);
    }
    int status;
    CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
    if (WIFSIGNALED(status))
        fprintf(stderr, "%s: child killed by signal %d (%s)\n", name, WTERMSIG(status), strsignal(WTERMSIG(status)));
    else if (WEXITSTATUS(status) != 0)
        fprintf(stderr, "%s: child exited with status %d\n", name, WEXITSTATUS(status));
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void sigwait_sigterm(void)
{
    dispatch_source_t t = start_library_threads();
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    CHECK(pthread_sigmask(SIG_BLOCK, &set, NULL) == 0, "pthread_sigmask");
    /* More threads may start now (the monitor compensates for the blocked items): they
     * must block SIGTERM too, although main's mask is not what they inherit. */
    CHECK(kill(getpid(), SIGTERM) == 0, "kill");
    int sig = 0;
    CHECK(sigwait(&set, &sig) == 0, "sigwait");
    CHECK(sig == SIGTERM, "sigwait returned %d", sig);
    stop_library_threads(t);
}

#define KILLS 50
static atomic_int handler_calls;
static atomic_int handler_tids[KILLS + 8];
static atomic_int catcher_tid;

static void on_usr1(int sig)
{
    UNUSED(sig);
    int i = atomic_fetch_add(&handler_calls, 1);
    if (i < KILLS + 8)
        atomic_store(&handler_tids[i], (int)syscall(SYS_gettid));
}

static void *catcher(void *arg)
{
    UNUSED(arg);
    atomic_store(&catcher_tid, my_tid());
    for (;;)
        pause();
    return NULL;
}

static void handler_thread(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    CHECK(sigaction(SIGUSR1, &sa, NULL) == 0, "sigaction");

    dispatch_source_t t = start_library_threads();
    /* The program's own thread, started with SIGUSR1 unblocked; then main blocks it. */
    pthread_t th;
    CHECK(pthread_create(&th, NULL, catcher, NULL) == 0, "pthread_create");
    while (atomic_load(&catcher_tid) == 0)
        sleep_ms(1);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    CHECK(pthread_sigmask(SIG_BLOCK, &set, NULL) == 0, "pthread_sigmask");

    for (int i = 0; i < KILLS; i++) {
        CHECK(kill(getpid(), SIGUSR1) == 0, "kill");
        while (atomic_load(&handler_calls) <= i)
            sleep_ms(1);
    }
    CHECK(atomic_load(&handler_calls) == KILLS, "%d handler calls for %d kills", atomic_load(&handler_calls), KILLS);
    int catcher = atomic_load(&catcher_tid);
    for (int i = 0; i < KILLS; i++) {
        int tid = atomic_load(&handler_tids[i]);
        for (int w = 0; w < SPINNERS + BLOCKERS; w++)
            CHECK(tid != atomic_load(&worker_tids[w]), "handler call %d ran on worker %d", i, tid);
        CHECK(!tid_is_library_thread(tid), "handler call %d ran on library thread %d", i, tid);
        CHECK(tid == catcher, "handler call %d ran on thread %d, not the program's thread %d", i, tid, catcher);
    }
    stop_library_threads(t);
}

int main(void)
{
    test_start("sigwait_sigterm", 30);
    CHECK(in_child(sigwait_sigterm, "sigwait_sigterm"), "SIGTERM did not reach sigwait in main");
    OK("sigwait_sigterm");

    test_start("handler_thread", 30);
    CHECK(in_child(handler_thread, "handler_thread"), "a SIGUSR1 handler ran on a library thread");
    OK("handler_thread");
    return 0;
}
