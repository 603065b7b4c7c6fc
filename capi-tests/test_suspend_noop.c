/*
 * test_suspend_noop.c: dispatch_suspend/dispatch_resume on objects that have no suspend
 * count (groups, semaphores, data, I/O channels) do nothing, as in the reference
 * implementation, whose own dispatch_io_pipe_close test resumes an I/O channel.
 *
 *   group         suspend, resume, suspend twice, resume three times (an "over-resume"
 *                 that would abort on a queue): the process lives; the group then counts
 *                 enter/leave and dispatch_group_wait returns 0 once it is empty, and an
 *                 async item on the group still runs.
 *   semaphore     the same calls on a semaphore with value 0: signal then wait returns 0,
 *                 a second wait with a 10 ms timeout still times out (value back to 0).
 *   data          the same calls on a 100-byte data object and on dispatch_data_empty:
 *                 sizes stay 100 and 0, the bytes are unchanged.
 *   io_channel    the same calls on a random-access channel over a 4096-byte file: a read
 *                 of the whole file then delivers exactly those bytes, done with error 0,
 *                 and closing the channel runs the cleanup handler with error 0.
 *   queue_still_counts
 *                 queues keep their suspend count: a suspended queue holds its item until
 *                 resumed, and resuming it once more still aborts with the over-resume
 *                 message (the no-op is only for objects without a count).
 */
#include "check.h"
#include "byte_pattern.h"

static void suspend_resume_unbalanced(dispatch_object_t o)
{
    dispatch_suspend(o);
    dispatch_resume(o);
    dispatch_suspend(o);
    dispatch_suspend(o);
    dispatch_resume(o);
    dispatch_resume(o);
    dispatch_resume(o);
}

/* ------------------------------------------------------------------ */

static void bump(void *ctx)
{
    atomic_fetch_add((atomic_int *)ctx, 1);
}

static void test_group(void)
{
    test_start("group", 10);
    dispatch_group_t g = dispatch_group_create();
    suspend_resume_unbalanced(g);
    dispatch_group_enter(g);
    CHECK(dispatch_group_wait(g, in_ms(10)) != 0, "a group with one entered member reported empty");
    dispatch_group_leave(g);
    CHECK(dispatch_group_wait(g, DISPATCH_TIME_NOW) == 0, "an emptied group did not report empty");
    atomic_int ran = 0;
    dispatch_group_async_f(g, dispatch_get_global_queue(0, 0), &ran, bump);
    CHECK(group_wait_ms(g, 5000), "the group's async item did not finish within 5 s");
    CHECK(atomic_load(&ran) == 1, "the group's item ran %d times", atomic_load(&ran));
    dispatch_release(g);
    OK("group");
}

/* ------------------------------------------------------------------ */

static void test_semaphore(void)
{
    test_start("semaphore", 10);
    dispatch_semaphore_t s = dispatch_semaphore_create(0);
    suspend_resume_unbalanced(s);
    CHECK(dispatch_semaphore_wait(s, in_ms(10)) != 0, "a semaphore of value 0 was acquired");
    dispatch_semaphore_signal(s);
    CHECK(dispatch_semaphore_wait(s, DISPATCH_TIME_NOW) == 0, "a signalled semaphore was not acquired");
    CHECK(dispatch_semaphore_wait(s, in_ms(10)) != 0, "the semaphore's value is above 0 after one signal and wait");
    dispatch_release(s);
    OK("semaphore");
}

/* ------------------------------------------------------------------ */

static void test_data(void)
{
    test_start("data", 10);
    uint8_t bytes[100];
    fill_pat(bytes, 0, sizeof bytes);
    dispatch_data_t d = dispatch_data_create_f(bytes, sizeof bytes, NULL, NULL);
    suspend_resume_unbalanced(d);
    suspend_resume_unbalanced(dispatch_data_empty);
    CHECK(dispatch_data_get_size(d) == 100, "data size %zu, expected 100", dispatch_data_get_size(d));
    CHECK(dispatch_data_get_size(dispatch_data_empty) == 0, "dispatch_data_empty has size %zu",
          dispatch_data_get_size(dispatch_data_empty));
    const void *buf = NULL;
    size_t len = 0;
    dispatch_data_t map = dispatch_data_create_map(d, &buf, &len);
    CHECK(len == 100 && is_pat(buf, 0, len), "the data's bytes changed (len %zu)", len);
    dispatch_release(map);
    dispatch_release(d);
    OK("data");
}

/* ------------------------------------------------------------------ */

struct rd {
    dispatch_data_t acc;
    atomic_int dones;
    int err;
    dispatch_semaphore_t sem;
};

static void rd_handler(void *ctx, bool done, dispatch_data_t data, int error)
{
    struct rd *r = ctx;
    if (data && dispatch_data_get_size(data)) {
        dispatch_data_t c = dispatch_data_create_concat(r->acc, data);
        dispatch_release(r->acc);
        r->acc = c;
    }
    if (done) {
        r->err = error;
        atomic_fetch_add(&r->dones, 1);
        dispatch_semaphore_signal(r->sem);
    }
}

struct cl {
    atomic_int calls;
    int err;
    dispatch_semaphore_t sem;
};

static void cl_handler(void *ctx, int error)
{
    struct cl *c = ctx;
    c->err = error;
    atomic_fetch_add(&c->calls, 1);
    dispatch_semaphore_signal(c->sem);
}

static void test_io_channel(void)
{
    test_start("io_channel", 20);
    enum { N = 4096 };
    char path[] = "/tmp/test_suspend_noop.XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp: %s", strerror(errno));
    unlink(path);
    static uint8_t bytes[N];
    fill_pat(bytes, 0, N);
    CHECK(write(fd, bytes, N) == N, "write: %s", strerror(errno));
    /* random-access offsets count from the file position at channel creation */
    CHECK(lseek(fd, 0, SEEK_SET) == 0, "lseek: %s", strerror(errno));

    dispatch_queue_t q = dispatch_queue_create("test.suspend_noop.io", NULL);
    struct cl c = { .sem = dispatch_semaphore_create(0) };
    dispatch_io_t ch = dispatch_io_create_f(DISPATCH_IO_RANDOM, fd, q, &c, cl_handler);
    CHECK(ch != NULL, "dispatch_io_create_f returned NULL");
    suspend_resume_unbalanced(ch);

    struct rd r = { .acc = dispatch_data_empty, .sem = dispatch_semaphore_create(0) };
    dispatch_io_read_f(ch, 0, N, q, &r, rd_handler);
    CHECK(sem_wait_ms(r.sem, 10000), "the read did not finish within 10 s");
    CHECK(r.err == 0, "the read ended with error %d (%s)", r.err, strerror(r.err));
    const void *buf = NULL;
    size_t len = 0;
    dispatch_data_t map = dispatch_data_create_map(r.acc, &buf, &len);
    CHECK(len == N, "read %zu bytes, expected %d", len, N);
    CHECK(is_pat(buf, 0, len), "the bytes read differ from the file's");
    dispatch_release(map);

    dispatch_io_close(ch, 0);
    CHECK(sem_wait_ms(c.sem, 5000), "the cleanup handler did not run within 5 s");
    CHECK(c.err == 0, "the cleanup handler got error %d", c.err);
    CHECK(atomic_load(&r.dones) == 1, "the read reported done %d times", atomic_load(&r.dones));
    dispatch_release(ch);
    dispatch_release(r.acc);
    dispatch_release(r.sem);
    dispatch_release(c.sem);
    dispatch_release(q);
    close(fd);
    OK("io_channel");
}

/* ------------------------------------------------------------------ */

static void over_resume_queue(void)
{
    dispatch_queue_t q = dispatch_queue_create("test.suspend_noop.over", NULL);
    dispatch_suspend(q);
    dispatch_resume(q);
    dispatch_resume(q);
}

static void test_queue_still_counts(void)
{
    test_start("queue_still_counts", 20);
    dispatch_queue_t q = dispatch_queue_create("test.suspend_noop.q", NULL);
    atomic_int ran = 0;
    dispatch_suspend(q);
    dispatch_async_f(q, &ran, bump);
    sleep_ms(20);
    CHECK(atomic_load(&ran) == 0, "an item ran on a suspended queue");
    dispatch_resume(q);
    dispatch_sync_f(q, &ran, bump);
    CHECK(atomic_load(&ran) == 2, "after resume %d of 2 items ran", atomic_load(&ran));
    dispatch_release(q);
    CHECK(expect_abort(over_resume_queue, "over-resume|overresume"), "over-resume of a queue did not abort");
    OK("queue_still_counts");
}

int main(void)
{
    test_group();
    test_semaphore();
    test_data();
    test_io_channel();
    test_queue_still_counts();
    return 0;
}
