/*
 * test_thread_memory.c: many blocked workers fit in a modest address-space limit.
 *
 *   blocked_queues_rlimit_as  (forked child) RLIMIT_AS set to 400 MB; 100 serial queues each
 *                             get one item that blocks on a shared semaphore, so the pool
 *                             needs 100 threads at once: all 100 items start (each signals
 *                             `started`), then main signals the semaphore 100 times and all
 *                             100 items complete; the child exits 0. With default 8 MiB
 *                             stacks, or with a glibc malloc arena (64 MiB reserved) per
 *                             worker, the threads do not fit and the child hangs or aborts
 *                             ("memory allocation of N bytes failed").
 */
#include "check.h"

#include <sys/resource.h>

#define QUEUES 100
#define LIMIT_BYTES (400l * 1000 * 1024)

static dispatch_semaphore_t gate, started, done;

static void blocker(void *ctx)
{
    UNUSED(ctx);
    dispatch_semaphore_signal(started);
    dispatch_semaphore_wait(gate, DISPATCH_TIME_FOREVER);
    dispatch_semaphore_signal(done);
}

static void blocked_queues(void)
{
    struct rlimit rl = { LIMIT_BYTES, LIMIT_BYTES };
    CHECK(setrlimit(RLIMIT_AS, &rl) == 0, "setrlimit(RLIMIT_AS): %s", strerror(errno));
    gate = dispatch_semaphore_create(0);
    started = dispatch_semaphore_create(0);
    done = dispatch_semaphore_create(0);
    dispatch_queue_t queues[QUEUES];
    for (int i = 0; i < QUEUES; i++) {
        char name[32];
        snprintf(name, sizeof name, "blocked-%d", i);
        queues[i] = dispatch_queue_create(name, NULL);
        dispatch_async_f(queues[i], NULL, blocker);
    }
    for (int i = 0; i < QUEUES; i++)
        CHECK(sem_wait_ms(started, 10000), "only %d of %d blocked items started", i, QUEUES);
    for (int i = 0; i < QUEUES; i++)
        dispatch_semaphore_signal(gate);
    for (int i = 0; i < QUEUES; i++)
        CHECK(sem_wait_ms(done, 10000), "only %d of %d items completed", i, QUEUES);
    for (int i = 0; i < QUEUES; i++)
        dispatch_release(queues[i]);
}

int main(void)
{
    test_start("blocked_queues_rlimit_as", 50);
    pid_t pid = fork();
    CHECK(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        alarm(45);
        blocked_queues();
        _exit(0);
    }
    int status;
    CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child %s %d", WIFSIGNALED(status) ? "killed by signal" : "exited with",
          WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    OK("blocked_queues_rlimit_as");
    return 0;
}
