/*
 * test_debug.c: dispatch_debug and dispatch_debugv (object.h). Each check sends stderr
 * to a temporary file (dup2), calls the function, restores stderr and reads the line.
 *
 *   format        dispatch_debug(q, "hello %d %s %.2f ...", ...) writes one line holding
 *                 the formatted message, with integers, a string, doubles (vector
 *                 registers) and more arguments than fit in registers (stack) all right.
 *   queue         the line describes a serial queue: "queue[", label="com.test.debug",
 *                 "suspended=0", "width=1", xref=1, and the default target's label; after
 *                 dispatch_suspend: "suspended=1"; after a second suspend: "suspended=2";
 *                 after dispatch_retain: xref=2.
 *   target        a concurrent queue targeting a custom serial queue: width > 1 and
 *                 target="com.test.debug.target"; an inactive queue says "inactive".
 *   debugv        dispatch_debugv through a wrapper that forwards its own va_list: same
 *                 line as dispatch_debug with the same arguments.
 *   other_kinds   a data object's line says "data[" and "size=5"; a group's says "group[";
 *                 the main queue's says xref=global and label="com.apple.main-thread".
 */
#include "check.h"

#include <stdarg.h>

/* Runs fn(arg) with stderr sent to a file; returns what was written (static buffer). */
static const char *captured(void (*fn)(void *), void *arg)
{
    static char buf[4096];
    char path[] = "/tmp/dispatch-debug-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp");
    unlink(path);
    fflush(stderr);
    int saved = dup(2);
    CHECK(saved >= 0 && dup2(fd, 2) == 2, "redirect stderr");
    fn(arg);
    CHECK(dup2(saved, 2) == 2, "restore stderr");
    close(saved);
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    close(fd);
    CHECK(n > 0, "something was written (%zd)", n);
    buf[n] = '\0';
    return buf;
}

static void expect_has(const char *line, const char *needle)
{
    CHECK(strstr(line, needle) != NULL, "missing \"%s\" in: %s", needle, line);
}

static void debug_many(void *q)
{
    dispatch_debug(q, "hello %d %s %.2f %ld %c %u %.1f %d %d %d %s", 42, "x", 3.25, 1234567890123L, 'c', 7u, -0.5, 1, 2,
                   3, "end");
}

static void format(void)
{
    test_start("format", 10);
    dispatch_queue_t q = dispatch_queue_create("com.test.debug", NULL);
    const char *line = captured(debug_many, q);
    expect_has(line, "hello 42 x 3.25 1234567890123 c 7 -0.5 1 2 3 end");
    CHECK(strchr(line, '\n') == line + strlen(line) - 1, "one line: %s", line);
    dispatch_release(q);
    OK("format");
}

static void debug_plain(void *q)
{
    dispatch_debug(q, "state");
}

static void queue(void)
{
    test_start("queue", 10);
    dispatch_queue_t q = dispatch_queue_create("com.test.debug", NULL);
    const char *line = captured(debug_plain, q);
    expect_has(line, "state");
    expect_has(line, "queue[");
    expect_has(line, "label=\"com.test.debug\"");
    expect_has(line, "suspended=0");
    expect_has(line, "width=1");
    expect_has(line, "xref=1");
    expect_has(line, "target=\"com.apple.root.");
    dispatch_suspend(q);
    expect_has(captured(debug_plain, q), "suspended=1");
    dispatch_suspend(q);
    expect_has(captured(debug_plain, q), "suspended=2");
    dispatch_resume(q);
    dispatch_resume(q);
    expect_has(captured(debug_plain, q), "suspended=0");
    dispatch_retain(q);
    expect_has(captured(debug_plain, q), "xref=2");
    dispatch_release(q);
    dispatch_release(q);
    OK("queue");
}

static void target(void)
{
    test_start("target", 10);
    dispatch_queue_t t = dispatch_queue_create("com.test.debug.target", NULL);
    dispatch_queue_t c = dispatch_queue_create_with_target("com.test.debug.c", DISPATCH_QUEUE_CONCURRENT, t);
    const char *line = captured(debug_plain, c);
    expect_has(line, "target=\"com.test.debug.target\"");
    CHECK(strstr(line, "width=1 ") == NULL, "a concurrent queue is wider than 1: %s", line);
    dispatch_queue_t i = dispatch_queue_create("com.test.debug.i", DISPATCH_QUEUE_SERIAL_INACTIVE);
    expect_has(captured(debug_plain, i), "inactive");
    dispatch_activate(i);
    dispatch_release(i);
    dispatch_release(c);
    dispatch_release(t);
    OK("target");
}

static void forward(dispatch_object_t o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    dispatch_debugv(o, fmt, ap);
    va_end(ap);
}

static void debugv_many(void *q)
{
    forward(q, "hello %d %s %.2f %ld %c %u %.1f %d %d %d %s", 42, "x", 3.25, 1234567890123L, 'c', 7u, -0.5, 1, 2, 3,
            "end");
}

static void debugv(void)
{
    test_start("debugv", 10);
    dispatch_queue_t q = dispatch_queue_create("com.test.debug", NULL);
    char a[4096];
    snprintf(a, sizeof(a), "%s", captured(debug_many, q));
    const char *b = captured(debugv_many, q);
    CHECK(strcmp(a, b) == 0, "debug and debugv agree:\n%s%s", a, b);
    expect_has(b, "hello 42 x 3.25 1234567890123 c 7 -0.5 1 2 3 end");
    dispatch_release(q);
    OK("debugv");
}

static void other_kinds(void)
{
    test_start("other_kinds", 10);
    dispatch_data_t d = dispatch_data_create_f("hello", 5, NULL, NULL);
    const char *line = captured(debug_plain, d);
    expect_has(line, "data[");
    expect_has(line, "size=5");
    dispatch_release(d);
    dispatch_group_t g = dispatch_group_create();
    expect_has(captured(debug_plain, g), "group[");
    dispatch_release(g);
    line = captured(debug_plain, dispatch_get_main_queue());
    expect_has(line, "xref=global");
    expect_has(line, "label=\"com.apple.main-thread\"");
    OK("other_kinds");
}

int main(void)
{
    format();
    queue();
    target();
    debugv();
    other_kinds();
    return 0;
}
