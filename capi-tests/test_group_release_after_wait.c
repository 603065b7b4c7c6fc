/*
 * A group may be released the moment dispatch_group_wait returns (or its notification
 * runs), even while the dispatch_group_leave that emptied it is still waking waiters and
 * firing notifications on another thread: that leave must not touch the freed group.
 *
 *   release_right_after_wait   3 threads x 3,000 rounds of: create, enter, a
 *                              global-queue item that leaves, every other round a
 *                              notification, wait (a futex sleep, so the leave makes the
 *                              wake syscall before it looks at the notifications),
 *                              release at once (after the notification ran). Run in a child re-executed with glibc's
 *                              malloc perturbation (and no tcache), so a use of the freed
 *                              group reads garbage (a poisoned mutex word: a hang or a
 *                              crash) instead of the next round's identical group.
 *
 * The race needs the leaving thread to be preempted between its decrement and its look
 * at the notifications; this program did not catch the old code on a 2-core machine (the
 * soak did: test_soak_short crashed in Group::fire_notifies in 2 of 28 runs two at a time,
 * 0 of 40 with the fix). It states the guarantee and catches a regression that widens
 * the window.
 */
#include "check.h"

static void leave(void *ctx)
{
    usleep(20); // the waiter is asleep by now: the leave makes the wake syscall
    dispatch_group_leave((dispatch_group_t)ctx);
}

static void notified(void *ctx) { dispatch_semaphore_signal((dispatch_semaphore_t)ctx); }

static void *rounds(void *arg)
{
    dispatch_queue_t q = dispatch_get_global_queue(DISPATCH_QUEUE_PRIORITY_DEFAULT, 0);
    dispatch_semaphore_t sem = dispatch_semaphore_create(0);
    for (int i = 0; i < 3000; i++) {
        dispatch_group_t g = dispatch_group_create();
        dispatch_group_enter(g);
        dispatch_async_f(q, g, leave);
        if (i % 2)
            dispatch_group_notify_f(g, q, sem, notified);
        if (dispatch_group_wait(g, dispatch_time(DISPATCH_TIME_NOW, 10 * 1000000000ll)) != 0) {
            fprintf(stderr, "round %d: the group never emptied\n", i);
            exit(1);
        }
        if (i % 2)
            dispatch_semaphore_wait(sem, DISPATCH_TIME_FOREVER);
        dispatch_release(g);
    }
    dispatch_release(sem);
    return arg;
}

/* Three threads at once, so that leaves are preempted between their decrement and the
   rest of their work often enough. */
static int run_rounds(void)
{
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        if (pthread_create(&t[i], NULL, rounds, NULL) != 0) return 1;
    for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "child") == 0) {
        alarm(40); // a hang (a poisoned lock) kills the child, which the parent reports
        return run_rounds();
    }
    test_start("release_right_after_wait", 50);
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        setenv("GLIBC_TUNABLES", "glibc.malloc.perturb=165:glibc.malloc.tcache_count=0", 1);
        execl("/proc/self/exe", argv[0], "child", (char *)NULL);
        _exit(127);
    }
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child: %s %d",
          WIFSIGNALED(status) ? "killed by signal" : "exit status",
          WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    OK("release_right_after_wait");
    return 0;
}
