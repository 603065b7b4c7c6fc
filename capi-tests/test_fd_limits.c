/*
 * test_fd_limits.c: a full (or nearly full) descriptor table, each scenario in a forked
 * child with RLIMIT_NOFILE lowered and the table filled with /dev/null descriptors before
 * the child's first dispatch call.
 *
 *   read_source_table_full  with no descriptor free, dispatch_source_create(READ) on a
 *                           pipe returns NULL (no abort); with the event thread started and
 *                           the table full again, it returns NULL (its private dup cannot be
 *                           had: a source that can never fire is never handed out); with one
 *                           descriptor freed it returns a source whose handler runs when a
 *                           byte is written, with get_data 1.
 *   proc_source_table_full  with the table full, dispatch_source_create(PROC, EXIT) for a
 *                           live child returns NULL; with one descriptor freed it returns a
 *                           source that reports nothing while the process lives (100 ms),
 *                           then DISPATCH_PROC_EXIT once the process exits.
 *   two_free_descriptors    with exactly 2 descriptors free before the first dispatch call,
 *                           dispatch_async_f, dispatch_after_f (10 ms) and a 5 ms repeating
 *                           timer source all run: 1 call, 1 call, >= 3 calls.
 */
#include "check.h"

#include <sys/resource.h>

#define LIMIT 64

static int fillers[LIMIT];
static int n_fillers;

/* Lowers the descriptor limit and opens /dev/null until the table is full. */
static void fill_table(void)
{
    struct rlimit rl = { LIMIT, LIMIT };
    CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0, "setrlimit: %s", strerror(errno));
    for (;;) {
        int fd = open("/dev/null", O_RDONLY);
        if (fd < 0) {
            CHECK(errno == EMFILE, "open: %s", strerror(errno));
            return;
        }
        CHECK(n_fillers < LIMIT, "more than %d descriptors open", LIMIT);
        fillers[n_fillers++] = fd;
    }
}

static void free_descriptors(int n)
{
    for (int i = 0; i < n; i++) {
        CHECK(n_fillers > 0, "no filler left to close");
        close(fillers[--n_fillers]);
    }
}

/* Runs `scenario` in a forked child; it passes when the child exits with status 0. */
static void in_child(const char *name, void (*scenario)(void))
{
    test_start(name, 30);
    fflush(stdout);
    pid_t pid = fork();
    CHECK(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        test_start(name, 20);
        scenario();
        fflush(stdout);
        _exit(0);
    }
    int status;
    CHECK(waitpid(pid, &status, 0) == pid, "waitpid: %s", strerror(errno));
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s: child %s %d", name,
          WIFSIGNALED(status) ? "killed by signal" : "exited with", WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    OK(name);
}

static atomic_int calls;
static atomic_ulong last_data;

/* Counts a call in the atomic_int `ctxt` points at. */
static void count(void *ctxt)
{
    atomic_fetch_add((atomic_int *)ctxt, 1);
}

static void on_source(void *ctxt)
{
    atomic_store(&last_data, dispatch_source_get_data((dispatch_source_t)ctxt));
    atomic_fetch_add(&calls, 1);
}

static void wait_calls(atomic_int *n, int want)
{
    for (int i = 0; i < 5000 && atomic_load(n) < want; i++)
        sleep_ms(1);
    CHECK(atomic_load(n) >= want, "%d calls, want %d", atomic_load(n), want);
}

/* Starts the event thread (a dispatch_after) and waits for it to fire. */
static void start_event_thread(void)
{
    static atomic_int fired;
    dispatch_after_f(in_ms(1), dispatch_get_global_queue(0, 0), &fired, count);
    wait_calls(&fired, 1);
}

static dispatch_source_t watch(dispatch_source_type_t type, uintptr_t handle, uintptr_t mask)
{
    dispatch_source_t s = dispatch_source_create(type, handle, mask, dispatch_get_global_queue(0, 0));
    if (s) {
        dispatch_set_context(s, s);
        dispatch_source_set_event_handler_f(s, on_source);
    }
    return s;
}

static void read_source_table_full(void)
{
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    fill_table();
    CHECK(watch(DISPATCH_SOURCE_TYPE_READ, (uintptr_t)p[0], 0) == NULL,
          "READ source created with no descriptor free for the event thread");
    free_descriptors(2);
    start_event_thread();
    CHECK(watch(DISPATCH_SOURCE_TYPE_READ, (uintptr_t)p[0], 0) == NULL,
          "READ source created with no descriptor free for its dup");
    free_descriptors(1);
    dispatch_source_t s = watch(DISPATCH_SOURCE_TYPE_READ, (uintptr_t)p[0], 0);
    CHECK(s != NULL, "READ source with one descriptor free");
    dispatch_activate(s);
    CHECK(write(p[1], "x", 1) == 1, "write");
    wait_calls(&calls, 1);
    CHECK(atomic_load(&last_data) == 1, "READ get_data %lu, want 1", atomic_load(&last_data));
    dispatch_source_cancel(s);
    dispatch_release(s);
}

static void proc_source_table_full(void)
{
    int gate[2];
    CHECK(pipe(gate) == 0, "pipe");
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        char c;
        close(gate[1]);
        while (read(gate[0], &c, 1) < 0 && errno == EINTR) {
        }
        _exit(7); /* the gate closed */
    }
    close(gate[0]);
    start_event_thread();
    fill_table();
    CHECK(watch(DISPATCH_SOURCE_TYPE_PROC, (uintptr_t)pid, DISPATCH_PROC_EXIT) == NULL,
          "PROC source created with no descriptor free for its pidfd");
    free_descriptors(1);
    dispatch_source_t s = watch(DISPATCH_SOURCE_TYPE_PROC, (uintptr_t)pid, DISPATCH_PROC_EXIT);
    CHECK(s != NULL, "PROC source with one descriptor free");
    dispatch_activate(s);
    sleep_ms(100);
    CHECK(atomic_load(&calls) == 0, "EXIT reported for a live process (data 0x%lx)", atomic_load(&last_data));
    close(gate[1]);
    wait_calls(&calls, 1);
    CHECK(atomic_load(&last_data) == DISPATCH_PROC_EXIT, "PROC get_data 0x%lx", atomic_load(&last_data));
    int status;
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 7, "grandchild status");
    dispatch_source_cancel(s);
    dispatch_release(s);
}

static atomic_int async_calls, after_calls, timer_calls;

static void two_free_descriptors(void)
{
    fill_table();
    free_descriptors(2);
    dispatch_queue_t q = dispatch_get_global_queue(0, 0);
    dispatch_async_f(q, &async_calls, count);
    dispatch_after_f(in_ms(10), q, &after_calls, count);
    dispatch_source_t t = dispatch_source_create(DISPATCH_SOURCE_TYPE_TIMER, 0, 0, q);
    CHECK(t != NULL, "timer source with the event thread running");
    dispatch_set_context(t, &timer_calls);
    dispatch_source_set_event_handler_f(t, count);
    dispatch_source_set_timer(t, DISPATCH_TIME_NOW, 5 * NSEC_PER_MSEC, 0);
    dispatch_activate(t);
    wait_calls(&async_calls, 1);
    wait_calls(&after_calls, 1);
    wait_calls(&timer_calls, 3);
    dispatch_source_cancel(t);
    dispatch_release(t);
    sleep_ms(20);
    CHECK(atomic_load(&async_calls) == 1 && atomic_load(&after_calls) == 1, "async %d calls, after %d calls",
          atomic_load(&async_calls), atomic_load(&after_calls));
}

/* An argument runs only the scenario of that name. */
int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        void (*scenario)(void);
    } scenarios[] = {
        { "read_source_table_full", read_source_table_full },
        { "proc_source_table_full", proc_source_table_full },
        { "two_free_descriptors", two_free_descriptors },
    };
    for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++)
        if (argc < 2 || strcmp(argv[1], scenarios[i].name) == 0)
            in_child(scenarios[i].name, scenarios[i].scenario);
    return 0;
}
