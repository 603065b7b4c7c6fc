/*
 * When the heap refuses an allocation the library makes, the process aborts with a message
 * that names libdispatch, the size and what it was for, instead of Rust's anonymous
 * "memory allocation of N bytes failed" (or a crash on a null pointer).
 *
 *   queue_create   queues created until the address-space limit (RLIMIT_AS, a forked
 *                  child) refuses one: SIGABRT, "libdispatch: out of memory: cannot
 *                  allocate N bytes (queue)"
 *   work_items     dispatch_async_f onto a suspended queue until the limit refuses a work
 *                  item: SIGABRT, "... (work item)"
 */
#include "check.h"

#include <sys/resource.h>
#include <sys/wait.h>

static void nothing(void *ctx) { (void)ctx; }

/* Limits the child's address space to what it uses now plus 32 MiB. */
static void limit_address_space(void)
{
    unsigned long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL || fscanf(f, "%lu", &pages) != 1)
        _exit(3);
    fclose(f);
    rlim_t bytes = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + (32u << 20);
    struct rlimit rl = { bytes, bytes };
    if (setrlimit(RLIMIT_AS, &rl) != 0)
        _exit(3);
}

static void create_queues(void)
{
    limit_address_space();
    for (;;)
        (void)dispatch_queue_create("test.oom", NULL);
}

static void submit_items(void)
{
    dispatch_queue_t q = dispatch_queue_create("test.oom.items", NULL);
    dispatch_suspend(q); /* the items stay queued */
    limit_address_space();
    for (;;)
        dispatch_async_f(q, NULL, nothing);
}

/* Runs `fn` in a child with stderr captured; true if it aborted with `what` in the
 * library's out-of-memory message. */
static bool aborts_out_of_memory(void (*fn)(void), const char *what)
{
    int fds[2];
    CHECK(pipe(fds) == 0, "pipe");
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        fn();
        _exit(4);
    }
    close(fds[1]);
    char buf[4096];
    size_t len = 0;
    ssize_t n;
    while (len < sizeof buf - 1 && (n = read(fds[0], buf + len, sizeof buf - 1 - len)) > 0)
        len += (size_t)n;
    buf[len] = 0;
    close(fds[0]);
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
    bool aborted = WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
    bool named = strstr(buf, "libdispatch: out of memory: cannot allocate ") != NULL && strstr(buf, what) != NULL;
    if (!aborted || !named)
        fprintf(stderr, "child status %#x, stderr:\n%s\n", status, buf);
    return aborted && named;
}

int main(void)
{
    test_start("queue_create", 60);
    CHECK(aborts_out_of_memory(create_queues, "bytes (queue)"), "queue creation out of memory");
    OK("queue_create");

    test_start("work_items", 60);
    CHECK(aborts_out_of_memory(submit_items, "bytes (work item)"), "work item out of memory");
    OK("work_items");
    return 0;
}
