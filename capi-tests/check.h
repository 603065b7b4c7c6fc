/*
 * check.h: small helpers shared by the C API tests in capi-tests/.
 *
 *   CHECK(cond, fmt, ...)   on failure prints file:line, the condition and the message,
 *                           then exits with status 1.
 *   OK(name)                prints "ok <name>" (one line per passed check).
 *   test_start(name, secs)  names the running check and arms a watchdog: if the check is
 *                           still running after `secs` seconds the program prints
 *                           "TIMEOUT in <name>" and exits with status 1, so a broken
 *                           library makes a test fail instead of hang.
 *   now_ns()                monotonic clock in nanoseconds.
 *   my_tid()                the kernel thread id (gettid).
 *   in_ms(ms)               dispatch_time(DISPATCH_TIME_NOW, ms milliseconds).
 *   sem_wait_ms(s, ms)      dispatch_semaphore_wait with a timeout; true when signalled.
 *   expect_abort(fn, needle)
 *                           forks; the child runs fn with its stderr sent into a pipe.
 *                           Returns 1 when the child died of SIGABRT and its stderr holds
 *                           "BUG IN CLIENT OF LIBDISPATCH:" and `needle` (case-insensitive;
 *                           `needle` may list alternatives separated by '|'), else prints
 *                           what went wrong with the captured stderr and returns 0.
 *                           Every wait is bounded by 10 s.
 *   in_one_cpu_child(fn)    forks; the child binds itself to one CPU (the first it may
 *                           use), runs fn and exits 0; checks that it did. Called before
 *                           the process first uses the library, the child's pool sees one
 *                           CPU and starts with one worker.
 *
 * Everything is `static inline` so that a program may use any subset under -Werror.
 */
#ifndef CAPI_TESTS_CHECK_H
#define CAPI_TESTS_CHECK_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <dispatch/dispatch.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHECK(cond, ...)                                                              \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond);  \
            fprintf(stderr, __VA_ARGS__);                                             \
            fputc('\n', stderr);                                                      \
            fflush(stdout);                                                           \
            fflush(stderr);                                                           \
            exit(1);                                                                  \
        }                                                                             \
    } while (0)

#define OK(name)                          \
    do {                                          \
        alarm(0);                                 \
        printf("ok %s\n", (name));                \
        fflush(stdout);                           \
    } while (0)

#define UNUSED(x) ((void)(x))

static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline pid_t my_tid(void)
{
    return (pid_t)syscall(SYS_gettid);
}

static inline void sleep_ms(unsigned ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static inline dispatch_time_t in_ms(int64_t ms)
{
    return dispatch_time(DISPATCH_TIME_NOW, ms * (int64_t)NSEC_PER_MSEC);
}

/* true if the semaphore was signalled within `ms` milliseconds */
static inline bool sem_wait_ms(dispatch_semaphore_t s, int64_t ms)
{
    return dispatch_semaphore_wait(s, in_ms(ms)) == 0;
}

/* true if the group emptied within `ms` milliseconds */
static inline bool group_wait_ms(dispatch_group_t g, int64_t ms)
{
    return dispatch_group_wait(g, in_ms(ms)) == 0;
}

/* ---- watchdog ---- */

static const char *volatile check_current_name = "(startup)";

static inline void check_on_alarm(int sig)
{
    (void)sig;
    const char *name = check_current_name;
    static const char head[] = "TIMEOUT in ";
    ssize_t r = write(2, head, sizeof head - 1);
    r = write(2, name, strlen(name));
    r = write(2, "\n", 1);
    (void)r;
    _exit(1);
}

/* Call at the start of each check: names it and bounds its run time. */
static inline void test_start(const char *name, unsigned seconds)
{
    static int installed;
    if (!installed) {
        setvbuf(stdout, NULL, _IOLBF, 0);
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = check_on_alarm;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGALRM, &sa, NULL);
        installed = 1;
    }
    check_current_name = name;
    alarm(seconds);
}

/* ---- expect_abort ---- */

static inline bool check_contains_ci(const char *hay, const char *needle, size_t nlen)
{
    if (nlen == 0)
        return true;
    for (const char *p = hay; *p; p++) {
        size_t i = 0;
        while (i < nlen && p[i] && tolower((unsigned char)p[i]) == tolower((unsigned char)needle[i]))
            i++;
        if (i == nlen)
            return true;
    }
    return false;
}

/* needle may be "a|b|c": true if any alternative occurs */
static inline bool check_contains_any_ci(const char *hay, const char *needle)
{
    const char *start = needle;
    for (;;) {
        const char *bar = strchr(start, '|');
        size_t len = bar ? (size_t)(bar - start) : strlen(start);
        if (check_contains_ci(hay, start, len))
            return true;
        if (!bar)
            return false;
        start = bar + 1;
    }
}

static inline int expect_abort(void (*fn)(void), const char *needle)
{
    int fds[2];
    if (pipe(fds) != 0) {
        perror("pipe");
        return 0;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        close(fds[0]);
        close(fds[1]);
        return 0;
    }
    if (pid == 0) {
        /* child: stderr into the pipe, bounded by its own alarm (SIGALRM kills it) */
        close(fds[0]);
        dup2(fds[1], 2);
        close(fds[1]);
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = SIG_DFL;
        sigaction(SIGALRM, &sa, NULL);
        sigaction(SIGABRT, &sa, NULL);
        alarm(10);
        fn();
        static const char msg[] = "expect_abort: the function returned without aborting\n";
        ssize_t r = write(2, msg, sizeof msg - 1);
        (void)r;
        _exit(0);
    }

    /* parent: read the child's stderr until EOF, at most 10 s in all */
    close(fds[1]);
    char buf[8192];
    size_t len = 0;
    uint64_t deadline = now_ns() + 10ull * 1000000000ull;
    bool eof = false;
    while (!eof) {
        uint64_t now = now_ns();
        if (now >= deadline)
            break;
        struct pollfd pfd = { fds[0], POLLIN, 0 };
        int ms = (int)((deadline - now) / 1000000ull) + 1;
        int pr = poll(&pfd, 1, ms);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0)
            break;
        char tmp[1024];
        ssize_t n = read(fds[0], tmp, sizeof tmp);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            eof = true;
            break;
        }
        size_t room = sizeof buf - 1 - len;
        size_t take = (size_t)n < room ? (size_t)n : room;
        memcpy(buf + len, tmp, take);
        len += take;
    }
    close(fds[0]);
    buf[len] = '\0';

    /* reap the child, bounded */
    int status = 0;
    bool reaped = false;
    while (!reaped) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid) {
            reaped = true;
            break;
        }
        if (w < 0 && errno != EINTR)
            break;
        if (now_ns() >= deadline)
            break;
        sleep_ms(5);
    }
    if (!reaped) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        fprintf(stderr, "expect_abort(%s): child did not finish within 10 s; its stderr:\n%s\n", needle, buf);
        return 0;
    }

    int good = 1;
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT) {
        if (WIFSIGNALED(status))
            fprintf(stderr, "expect_abort(%s): child died of signal %d, not SIGABRT\n", needle, WTERMSIG(status));
        else
            fprintf(stderr, "expect_abort(%s): child exited with status %d, not SIGABRT\n", needle,
                    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        good = 0;
    }
    if (!check_contains_any_ci(buf, "BUG IN CLIENT OF LIBDISPATCH:")) {
        fprintf(stderr, "expect_abort(%s): stderr lacks \"BUG IN CLIENT OF LIBDISPATCH:\"\n", needle);
        good = 0;
    }
    if (!check_contains_any_ci(buf, needle)) {
        fprintf(stderr, "expect_abort(%s): stderr lacks \"%s\"\n", needle, needle);
        good = 0;
    }
    if (!good)
        fprintf(stderr, "---- child's stderr ----\n%s\n------------------------\n", buf);
    return good;
}

static inline void in_one_cpu_child(void (*fn)(void))
{
    fflush(stdout);
    pid_t pid = fork();
    CHECK(pid >= 0, "fork failed");
    if (pid == 0) {
        cpu_set_t all, one;
        CHECK(sched_getaffinity(0, sizeof all, &all) == 0, "sched_getaffinity failed");
        CPU_ZERO(&one);
        for (int c = 0; c < CPU_SETSIZE; c++) {
            if (CPU_ISSET(c, &all)) {
                CPU_SET(c, &one);
                break;
            }
        }
        CHECK(sched_setaffinity(0, sizeof one, &one) == 0, "sched_setaffinity failed");
        fn();
        fflush(stdout);
        _exit(0);
    }
    int status;
    CHECK(waitpid(pid, &status, 0) == pid, "waitpid failed");
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the one-CPU child failed (status %d)", status);
}

#endif /* CAPI_TESTS_CHECK_H */
