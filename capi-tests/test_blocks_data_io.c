/*
 * test_blocks_data_io.c: the block interfaces of dispatch data and dispatch I/O (clang -fblocks).
 *
 *   data_destructor_block  dispatch_data_create with a custom destructor block made in a helper
 *                          whose frame is gone: not run while references remain (retained
 *                          twice, released twice: 150 ms quiet), then run exactly once, on the
 *                          queue given, seeing its captured values; DEFAULT copies the buffer,
 *                          DISPATCH_DATA_DESTRUCTOR_FREE takes a malloc'd one without copying.
 *   destructor_counted     a counted stack block as destructor: copied (at least once) at
 *                          create, run once after the last release, and every copy disposed.
 *   data_apply_block       dispatch_data_apply with a block on a 3-piece concat: regions in
 *                          order, offsets contiguous, bytes right, __block writes visible;
 *                          returning false at the 2nd region stops it and apply returns false.
 *   io_cleanup_block       dispatch_io_create with a cleanup block (captures the fd and closes
 *                          it): runs once, on the queue given, error 0, after dispatch_io_close;
 *                          not before.
 *   io_read_write_blocks   a pipe with a write channel on one end and a read channel on the
 *                          other: dispatch_io_write of 256 KiB and dispatch_io_read of 256 KiB,
 *                          both with blocks (the read block made in a helper whose frame is
 *                          gone): the write ends done with error 0, the read gets all the
 *                          bytes in order, done once with error 0, on the queue given.
 *   read_write_oneshot     dispatch_write (block) of 50000 bytes into a pipe: handler once,
 *                          error 0; dispatch_read (block) of SIZE_MAX after the write end is
 *                          closed: handler once with the 50000 bytes, error 0; dispatch_read
 *                          on a bad fd: EBADF.
 *   io_barrier_block       read A (100), dispatch_io_barrier(block), read B (100) on an empty
 *                          pipe: the barrier block does not run while A is pending; after 200
 *                          bytes arrive it runs once with exactly 100 bytes left in the pipe,
 *                          before B's handler; a counted barrier block is run once and every
 *                          copy disposed.
 */
#include "check.h"
#include "byte_pattern.h"
#include "counted_block.h"

#include <dispatch/data.h>
#include <dispatch/io.h>
#include <sys/ioctl.h>

static bool data_is_pat(dispatch_data_t d, size_t start, size_t n)
{
    if (dispatch_data_get_size(d) != n)
        return false;
    const void *buf;
    size_t sz;
    dispatch_data_t m = dispatch_data_create_map(d, &buf, &sz);
    bool ok = sz == n && (n == 0 || is_pat(buf, start, n));
    dispatch_release(m);
    return ok;
}

/* ------------------------------------------------------------------ */

struct dstate {
    atomic_int calls;
    atomic_int wrong_queue;
    atomic_int wrong_capture;
    dispatch_semaphore_t sem;
};

/* the destructor block is a stack block of this frame, gone when the caller uses the data */
static dispatch_data_t make_data_with_block(const uint8_t *buf, size_t n, dispatch_queue_t q, struct dstate *st)
{
    const size_t captured_n = n;
    const uint8_t *captured_buf = buf;
    return dispatch_data_create(buf, n, q, ^{
        if (!on_q())
            atomic_fetch_add(&st->wrong_queue, 1);
        if (captured_n != 333 || captured_buf == NULL)
            atomic_fetch_add(&st->wrong_capture, 1);
        atomic_fetch_add(&st->calls, 1);
        dispatch_semaphore_signal(st->sem);
    });
}

static void test_data_destructor_block(void)
{
    test_start("data_destructor_block", 15);
    dispatch_queue_t q = make_q("test.bdio.dtor");
    static uint8_t buf[333];
    fill_pat(buf, 0, sizeof buf);
    struct dstate st = { .sem = dispatch_semaphore_create(0) };
    dispatch_data_t d = make_data_with_block(buf, sizeof buf, q, &st);
    CHECK(d != NULL, "dispatch_data_create returned NULL");
    __block const void *seen = NULL;
    dispatch_data_apply(d, ^bool(dispatch_data_t region, size_t offset, const void *buffer, size_t size) {
        (void)region;
        (void)offset;
        (void)size;
        seen = buffer;
        return true;
    });
    CHECK(seen == buf, "a data object with a custom destructor copied its buffer");
    dispatch_retain(d);
    dispatch_retain(d);
    dispatch_release(d);
    dispatch_release(d);
    sleep_ms(150);
    CHECK(atomic_load(&st.calls) == 0, "destructor block ran with a reference left");
    CHECK(data_is_pat(d, 0, sizeof buf), "content wrong");
    dispatch_release(d);
    CHECK(sem_wait_ms(st.sem, 5000), "destructor block did not run within 5 s of the last release");
    sleep_ms(100);
    CHECK(atomic_load(&st.calls) == 1, "destructor block ran %d times", atomic_load(&st.calls));
    CHECK(atomic_load(&st.wrong_queue) == 0, "destructor block ran off the queue given");
    CHECK(atomic_load(&st.wrong_capture) == 0, "destructor block saw wrong captured values");

    /* DEFAULT copies */
    uint8_t src[100];
    fill_pat(src, 5, 100);
    dispatch_data_t dd = dispatch_data_create(src, 100, NULL, DISPATCH_DATA_DESTRUCTOR_DEFAULT);
    memset(src, 0, sizeof src);
    CHECK(data_is_pat(dd, 5, 100), "DEFAULT data changed with its source buffer");
    dispatch_release(dd);

    /* FREE takes a malloc'd buffer as it is */
    uint8_t *m = malloc(4000);
    fill_pat(m, 9, 4000);
    dispatch_data_t fd = dispatch_data_create(m, 4000, NULL, DISPATCH_DATA_DESTRUCTOR_FREE);
    __block const void *fseen = NULL;
    dispatch_data_apply(fd, ^bool(dispatch_data_t r, size_t o, const void *b, size_t s) {
        (void)r;
        (void)o;
        (void)s;
        fseen = b;
        return true;
    });
    CHECK(fseen == m, "DISPATCH_DATA_DESTRUCTOR_FREE copied the buffer");
    CHECK(data_is_pat(fd, 9, 4000), "FREE data content wrong");
    dispatch_release(fd);
    dispatch_release(st.sem);
    dispatch_release(q);
    OK("data_destructor_block");
}

static void test_destructor_counted(void)
{
    test_start("destructor_counted", 15);
    static uint8_t buf[64];
    struct counts c;
    struct counted_block sb;
    counted_init(&sb, &c);
    dispatch_data_t d = dispatch_data_create(buf, sizeof buf, NULL, as_block(&sb));
    CHECK(atomic_load(&c.copies) >= 1, "the destructor block was not copied at create");
    CHECK(atomic_load(&c.runs) == 0, "the destructor ran at create");
    dispatch_release(d);
    CHECK(wait_for_value(&c.runs, 1, 5000), "the destructor block did not run (runs %d)", atomic_load(&c.runs));
    int copies = atomic_load(&c.copies);
    CHECK(wait_for_value(&c.disposes, copies, 5000), "%d copies of the destructor block, %d disposed", copies,
          atomic_load(&c.disposes));
    sleep_ms(100);
    CHECK(atomic_load(&c.runs) == 1, "destructor ran %d times", atomic_load(&c.runs));
    CHECK(atomic_load(&c.disposes) == atomic_load(&c.copies), "copies %d, disposes %d", atomic_load(&c.copies),
          atomic_load(&c.disposes));
    OK("destructor_counted");
}

static void test_data_apply_block(void)
{
    test_start("data_apply_block", 10);
    static uint8_t a[10], b[2000], c[77];
    fill_pat(a, 0, 10);
    fill_pat(b, 10, 2000);
    fill_pat(c, 2010, 77);
    dispatch_data_t da = dispatch_data_create(a, 10, NULL, DISPATCH_DATA_DESTRUCTOR_NONE);
    dispatch_data_t db = dispatch_data_create(b, 2000, NULL, DISPATCH_DATA_DESTRUCTOR_NONE);
    dispatch_data_t dc = dispatch_data_create(c, 77, NULL, DISPATCH_DATA_DESTRUCTOR_NONE);
    dispatch_data_t ab = dispatch_data_create_concat(da, db);
    dispatch_data_t abc = dispatch_data_create_concat(ab, dc);
    dispatch_release(da);
    dispatch_release(db);
    dispatch_release(dc);
    dispatch_release(ab);
    CHECK(dispatch_data_get_size(abc) == 2087, "size %zu", dispatch_data_get_size(abc));
    __block int calls = 0;
    __block size_t next = 0;
    __block bool bad = false;
    bool r = dispatch_data_apply(abc, ^bool(dispatch_data_t region, size_t offset, const void *buffer, size_t size) {
        if (offset != next || dispatch_data_get_size(region) != size || !is_pat(buffer, offset, size))
            bad = true;
        next = offset + size;
        calls++;
        return true;
    });
    CHECK(r, "apply returned false");
    CHECK(!bad, "a region had a wrong offset, size or bytes");
    CHECK(calls == 3 && next == 2087, "%d regions covering %zu bytes", calls, next);
    calls = 0;
    r = dispatch_data_apply(abc, ^bool(dispatch_data_t region, size_t offset, const void *buffer, size_t size) {
        (void)region;
        (void)offset;
        (void)buffer;
        (void)size;
        return ++calls < 2;
    });
    CHECK(!r && calls == 2, "early stop: apply returned %d after %d calls", r, calls);
    dispatch_release(abc);
    OK("data_apply_block");
}

static void test_io_cleanup_block(void)
{
    test_start("io_cleanup_block", 15);
    dispatch_queue_t q = make_q("test.bdio.cleanup");
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    const int rfd = p[0];
    __block atomic_int calls = 0;
    __block int err = -1;
    __block bool wrongq = false;
    dispatch_semaphore_t sem = dispatch_semaphore_create(0);
    dispatch_io_t ch = dispatch_io_create(DISPATCH_IO_STREAM, rfd, q, ^(int error) {
        if (!on_q())
            wrongq = true;
        err = error;
        close(rfd);
        atomic_fetch_add(&calls, 1);
        dispatch_semaphore_signal(sem);
    });
    CHECK(ch != NULL, "dispatch_io_create returned NULL");
    sleep_ms(100);
    CHECK(atomic_load(&calls) == 0, "cleanup block ran before the channel was closed");
    dispatch_io_close(ch, 0);
    CHECK(sem_wait_ms(sem, 5000), "cleanup block did not run within 5 s of close");
    sleep_ms(100);
    CHECK(atomic_load(&calls) == 1, "cleanup block ran %d times", atomic_load(&calls));
    CHECK(err == 0, "cleanup error %d", err);
    CHECK(!wrongq, "cleanup block ran off the queue given");
    CHECK(fcntl(rfd, F_GETFD) == -1, "the cleanup block's close did not happen");
    dispatch_release(ch);
    close(p[1]);
    dispatch_release(sem);
    dispatch_release(q);
    OK("io_cleanup_block");
}

struct rstate {
    dispatch_data_t acc;
    int dones, after_done, wrongq, err;
    dispatch_semaphore_t sem;
};

/* the read handler block is a stack block of this frame */
static void submit_read(dispatch_io_t ch, size_t len, dispatch_queue_t q, struct rstate *rs)
{
    dispatch_io_read(ch, 0, len, q, ^(bool done, dispatch_data_t data, int error) {
        if (!on_q())
            rs->wrongq++;
        if (rs->dones)
            rs->after_done++;
        if (data && dispatch_data_get_size(data)) {
            dispatch_data_t c = dispatch_data_create_concat(rs->acc, data);
            dispatch_release(rs->acc);
            rs->acc = c;
        }
        if (done) {
            rs->dones++;
            rs->err = error;
            dispatch_semaphore_signal(rs->sem);
        }
    });
}

static void test_io_read_write_blocks(void)
{
    test_start("io_read_write_blocks", 20);
    dispatch_queue_t q = make_q("test.bdio.rw");
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    dispatch_semaphore_t csem = dispatch_semaphore_create(0);
    const int p0 = p[0], p1 = p[1];
    dispatch_io_t rch = dispatch_io_create(DISPATCH_IO_STREAM, p0, q, ^(int e) {
        (void)e;
        close(p0);
        dispatch_semaphore_signal(csem);
    });
    dispatch_io_t wch = dispatch_io_create(DISPATCH_IO_STREAM, p1, q, ^(int e) {
        (void)e;
        close(p1);
        dispatch_semaphore_signal(csem);
    });
    CHECK(rch && wch, "create returned NULL");
    const size_t N = 256 * 1024;
    struct rstate rs = { .acc = dispatch_data_empty, .err = -1, .sem = dispatch_semaphore_create(0) };
    submit_read(rch, N, q, &rs);
    void *buf;
    dispatch_data_t d = dispatch_data_create_alloc(N, &buf);
    fill_pat(buf, 17, N);
    __block int wdones = 0, werr = -1;
    __block bool wwrongq = false;
    dispatch_semaphore_t wsem = dispatch_semaphore_create(0);
    dispatch_io_write(wch, 0, d, q, ^(bool done, dispatch_data_t remaining, int error) {
        (void)remaining;
        if (!on_q())
            wwrongq = true;
        if (done) {
            wdones++;
            werr = error;
            dispatch_semaphore_signal(wsem);
        }
    });
    dispatch_release(d);
    CHECK(sem_wait_ms(wsem, 10000), "write block not called with done within 10 s");
    CHECK(sem_wait_ms(rs.sem, 10000), "read block not called with done within 10 s");
    sleep_ms(50);
    CHECK(wdones == 1 && werr == 0, "write: %d done calls, error %d", wdones, werr);
    CHECK(!wwrongq, "write block off the queue given");
    CHECK(rs.dones == 1 && rs.after_done == 0 && rs.err == 0, "read: %d done calls, %d after, error %d", rs.dones,
          rs.after_done, rs.err);
    CHECK(rs.wrongq == 0, "read block off the queue given");
    CHECK(data_is_pat(rs.acc, 17, N), "read got %zu bytes / wrong bytes", dispatch_data_get_size(rs.acc));
    dispatch_release(rs.acc);
    dispatch_io_close(rch, 0);
    dispatch_io_close(wch, 0);
    CHECK(sem_wait_ms(csem, 5000) && sem_wait_ms(csem, 5000), "cleanup blocks did not both run");
    dispatch_release(rch);
    dispatch_release(wch);
    dispatch_release(rs.sem);
    dispatch_release(wsem);
    dispatch_release(csem);
    dispatch_release(q);
    OK("io_read_write_blocks");
}

static void test_read_write_oneshot(void)
{
    test_start("read_write_oneshot", 20);
    dispatch_queue_t q = make_q("test.bdio.oneshot");
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    const size_t N = 50000;
    void *buf;
    dispatch_data_t d = dispatch_data_create_alloc(N, &buf);
    fill_pat(buf, 3, N);
    __block int wcalls = 0, werr = -1;
    __block bool wq = true;
    dispatch_semaphore_t sem = dispatch_semaphore_create(0);
    dispatch_write(p[1], d, q, ^(dispatch_data_t remaining, int error) {
        (void)remaining;
        wq = on_q();
        wcalls++;
        werr = error;
        dispatch_semaphore_signal(sem);
    });
    dispatch_release(d);
    CHECK(sem_wait_ms(sem, 10000), "dispatch_write handler not called within 10 s");
    close(p[1]);
    __block int rcalls = 0, rerr = -1;
    __block dispatch_data_t got = NULL;
    __block bool rq = true;
    dispatch_read(p[0], SIZE_MAX, q, ^(dispatch_data_t data, int error) {
        rq = on_q();
        rcalls++;
        rerr = error;
        if (data) {
            dispatch_retain(data);
            got = data;
        }
        dispatch_semaphore_signal(sem);
    });
    CHECK(sem_wait_ms(sem, 10000), "dispatch_read handler not called within 10 s");
    sleep_ms(50);
    CHECK(wcalls == 1 && werr == 0 && wq, "dispatch_write: %d calls, error %d, on queue %d", wcalls, werr, wq);
    CHECK(rcalls == 1 && rerr == 0 && rq, "dispatch_read: %d calls, error %d, on queue %d", rcalls, rerr, rq);
    CHECK(got && data_is_pat(got, 3, N), "dispatch_read got %zu bytes / wrong bytes",
          got ? dispatch_data_get_size(got) : 0);
    dispatch_release(got);
    close(p[0]);

    CHECK(fcntl(999, F_GETFD) == -1, "fd 999 is open");
    rcalls = 0;
    rerr = -1;
    dispatch_read(999, 100, q, ^(dispatch_data_t data, int error) {
        (void)data;
        rcalls++;
        rerr = error;
        dispatch_semaphore_signal(sem);
    });
    CHECK(sem_wait_ms(sem, 5000), "dispatch_read on a bad fd: handler not called");
    CHECK(rcalls == 1 && rerr == EBADF, "dispatch_read on a bad fd: %d calls, error %d", rcalls, rerr);
    dispatch_release(sem);
    dispatch_release(q);
    OK("read_write_oneshot");
}

static void test_io_barrier_block(void)
{
    test_start("io_barrier_block", 20);
    dispatch_queue_t q = make_q("test.bdio.barrier");
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    dispatch_semaphore_t csem = dispatch_semaphore_create(0);
    const int p0 = p[0];
    dispatch_io_t ch = dispatch_io_create(DISPATCH_IO_STREAM, p0, q, ^(int e) {
        (void)e;
        close(p0);
        dispatch_semaphore_signal(csem);
    });
    CHECK(ch != NULL, "create returned NULL");
    struct rstate ra = { .acc = dispatch_data_empty, .err = -1, .sem = dispatch_semaphore_create(0) };
    struct rstate rb = { .acc = dispatch_data_empty, .err = -1, .sem = dispatch_semaphore_create(0) };
    __block atomic_int bruns = 0;
    __block int left = -1;
    __block int b_calls_at_barrier = -1;
    dispatch_semaphore_t bsem = dispatch_semaphore_create(0);
    const int rfd = p[0];
    struct rstate *rbp = &rb;
    submit_read(ch, 100, q, &ra);
    dispatch_io_barrier(ch, ^{
        int avail = -1;
        ioctl(rfd, FIONREAD, &avail);
        left = avail;
        b_calls_at_barrier = rbp->dones + (dispatch_data_get_size(rbp->acc) != 0);
        atomic_fetch_add(&bruns, 1);
        dispatch_semaphore_signal(bsem);
    });
    submit_read(ch, 100, q, &rb);
    sleep_ms(150);
    CHECK(atomic_load(&bruns) == 0, "the barrier block ran while an earlier read was pending");
    uint8_t buf[200];
    fill_pat(buf, 0, 200);
    ssize_t w = write(p[1], buf, 200);
    CHECK(w == 200, "write");
    CHECK(sem_wait_ms(bsem, 5000), "the barrier block did not run within 5 s");
    CHECK(sem_wait_ms(ra.sem, 5000) && sem_wait_ms(rb.sem, 5000), "reads did not complete");
    sleep_ms(50);
    CHECK(atomic_load(&bruns) == 1, "barrier ran %d times", atomic_load(&bruns));
    CHECK(left == 100, "inside the barrier %d bytes were left in the pipe, expected 100", left);
    CHECK(b_calls_at_barrier == 0, "the later read had already been delivered when the barrier ran");
    CHECK(ra.err == 0 && data_is_pat(ra.acc, 0, 100), "read A: error %d, %zu bytes", ra.err,
          dispatch_data_get_size(ra.acc));
    CHECK(rb.err == 0 && data_is_pat(rb.acc, 100, 100), "read B: error %d, %zu bytes", rb.err,
          dispatch_data_get_size(rb.acc));

    /* a counted barrier block: run once, every copy disposed */
    struct counts c;
    struct counted_block sb;
    counted_init(&sb, &c);
    dispatch_io_barrier(ch, as_block(&sb));
    CHECK(wait_for_value(&c.runs, 1, 5000), "counted barrier block did not run");
    int copies = atomic_load(&c.copies);
    CHECK(copies >= 1, "the barrier block was never copied");
    CHECK(wait_for_value(&c.disposes, copies, 5000), "%d copies of the barrier block, %d disposed", copies,
          atomic_load(&c.disposes));

    dispatch_io_close(ch, 0);
    CHECK(sem_wait_ms(csem, 5000), "cleanup block did not run");
    dispatch_release(ra.acc);
    dispatch_release(rb.acc);
    dispatch_release(ra.sem);
    dispatch_release(rb.sem);
    dispatch_release(bsem);
    dispatch_release(csem);
    dispatch_release(ch);
    close(p[1]);
    dispatch_release(q);
    OK("io_barrier_block");
}

int main(void)
{
    test_data_destructor_block();
    test_destructor_counted();
    test_data_apply_block();
    test_io_cleanup_block();
    test_io_read_write_blocks();
    test_read_write_oneshot();
    test_io_barrier_block();
    printf("all block data/io checks passed\n");
    return 0;
}
