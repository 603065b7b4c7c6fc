/*
 * test_io_open_error.c: which errors of dispatch_io_create_with_path go to the operations and
 * which to the cleanup handler (gcc, the _f interface).
 *
 * The reference (swift-corelibs-libdispatch, src/io.c) checks the path when the channel is
 * created (stat, or lstat with O_NOFOLLOW; a directory is EISDIR, a pipe or socket for a
 * RANDOM channel ESPIPE; a missing file is fine with O_CREAT if its directory exists). A
 * failed check is a channel-creation error: its operations and its cleanup handler get it.
 * Once the checks pass, the cleanup handler is set up with error 0 and the file is opened
 * when the first operation runs; an open(2) error then belongs to the operations only
 * (Apple's io.h: "If an unrecoverable error occurs on the I/O channel's underlying file
 * descriptor, the I/O handler will be enqueued with the done flag set, the appropriate
 * error code").
 *
 *   open_fails_eexist   O_CREAT|O_EXCL on a file that exists (the path checks pass, open(2)
 *                       fails with EEXIST): a read gets done=true with EEXIST and no data, a
 *                       write done=true with EEXIST and its data back; the cleanup handler
 *                       has not run before close; after close and release it runs once, on
 *                       the queue given, with error 0.
 *   open_fails_enxio    O_WRONLY|O_NONBLOCK on a FIFO with no reader (open(2) fails with
 *                       ENXIO): a write gets done=true with ENXIO; the cleanup handler gets 0.
 *   creation_errors     checks that fail at creation go to both, as in the reference: a path
 *                       that does not exist (ENOENT), one under a missing directory with
 *                       O_CREAT (ENOENT), a directory (EISDIR), a FIFO for a RANDOM channel
 *                       (ESPIPE, without blocking in open): the read gets done=true with the
 *                       error, the cleanup handler runs once with the same error.
 */
#include "check.h"
#include "byte_pattern.h"

#include <dispatch/data.h>
#include <dispatch/io.h>
#include <sys/stat.h>

/* ---- handler records ---- */

struct op {
    atomic_int calls, dones, wrong_queue;
    int err;
    long size; /* size of the data at done, -1 for NULL */
    dispatch_semaphore_t sem;
};

static void op_init(struct op *o)
{
    memset(o, 0, sizeof *o);
    o->err = -1;
    o->size = -2;
    o->sem = dispatch_semaphore_create(0);
}

static void op_handler(void *ctx, bool done, dispatch_data_t data, int error)
{
    struct op *o = ctx;
    if (!on_q())
        atomic_fetch_add(&o->wrong_queue, 1);
    atomic_fetch_add(&o->calls, 1);
    if (done) {
        o->err = error;
        o->size = data ? (long)dispatch_data_get_size(data) : -1;
        atomic_fetch_add(&o->dones, 1);
        dispatch_semaphore_signal(o->sem);
    }
}

/* done once with `err`, and (size >= -1) with data of `size` bytes (-1: NULL) */
static void op_check(struct op *o, int err, long size, const char *what)
{
    CHECK(sem_wait_ms(o->sem, 5000), "%s: the handler was not called with done=true", what);
    CHECK(atomic_load(&o->calls) == 1 && atomic_load(&o->dones) == 1, "%s: %d calls, %d with done", what,
          atomic_load(&o->calls), atomic_load(&o->dones));
    CHECK(atomic_load(&o->wrong_queue) == 0, "%s: handler off the queue given", what);
    CHECK(o->err == err, "%s: done with error %d (%s), expected %d (%s)", what, o->err, strerror(o->err), err,
          strerror(err));
    CHECK(o->size == size || (size == 0 && o->size == -1), "%s: data of size %ld at done, expected %ld", what,
          o->size, size);
    dispatch_release(o->sem);
}

struct cl {
    atomic_int calls, wrong_queue;
    int err;
    dispatch_semaphore_t sem;
};

static void cl_init(struct cl *c)
{
    memset(c, 0, sizeof *c);
    c->err = -1;
    c->sem = dispatch_semaphore_create(0);
}

static void cl_handler(void *ctx, int error)
{
    struct cl *c = ctx;
    if (!on_q())
        atomic_fetch_add(&c->wrong_queue, 1);
    c->err = error;
    atomic_fetch_add(&c->calls, 1);
    dispatch_semaphore_signal(c->sem);
}

static void cl_check(struct cl *c, int err, const char *what)
{
    CHECK(sem_wait_ms(c->sem, 5000), "%s: the cleanup handler did not run after close", what);
    CHECK(!sem_wait_ms(c->sem, 50), "%s: the cleanup handler ran twice", what);
    CHECK(atomic_load(&c->calls) == 1, "%s: cleanup handler ran %d times", what, atomic_load(&c->calls));
    CHECK(atomic_load(&c->wrong_queue) == 0, "%s: cleanup handler off the queue given", what);
    CHECK(c->err == err, "%s: cleanup handler got error %d (%s), expected %d (%s)", what, c->err, strerror(c->err),
          err, strerror(err));
    dispatch_release(c->sem);
}

static char tmpdir[64];

static dispatch_data_t data_pat(size_t n)
{
    void *p = NULL;
    dispatch_data_t d = dispatch_data_create_alloc(n, &p);
    CHECK(d != NULL && p != NULL, "create_alloc(%zu)", n);
    fill_pat(p, 0, n);
    return d;
}

/* ---- checks ---- */

static void test_open_fails_eexist(void)
{
    test_start("open_fails_eexist", 20);
    dispatch_queue_t q = make_q("test.ioopen.eexist");
    char path[128];
    snprintf(path, sizeof path, "%s/exists", tmpdir);
    int fd = open(path, O_CREAT | O_WRONLY, 0600);
    CHECK(fd >= 0, "creating %s: %s", path, strerror(errno));
    close(fd);

    struct cl c;
    cl_init(&c);
    dispatch_io_t ch = dispatch_io_create_with_path_f(DISPATCH_IO_STREAM, path, O_CREAT | O_EXCL | O_RDWR, 0600, q,
                                                      &c, cl_handler);
    CHECK(ch != NULL, "create_with_path_f(O_CREAT|O_EXCL) on an existing file returned NULL");
    struct op r, w;
    op_init(&r);
    op_init(&w);
    dispatch_io_read_f(ch, 0, 100, q, &r, op_handler);
    dispatch_data_t d = data_pat(1000);
    dispatch_io_write_f(ch, 0, d, q, &w, op_handler);
    dispatch_release(d);
    op_check(&r, EEXIST, 0, "read after a failed open");
    op_check(&w, EEXIST, 1000, "write after a failed open");
    CHECK(atomic_load(&c.calls) == 0, "the cleanup handler ran before the channel was closed");
    dispatch_io_close(ch, 0);
    dispatch_release(ch);
    cl_check(&c, 0, "open failed with EEXIST");
    dispatch_release(q);
    OK("open_fails_eexist");
}

static void test_open_fails_enxio(void)
{
    test_start("open_fails_enxio", 20);
    dispatch_queue_t q = make_q("test.ioopen.enxio");
    char path[128];
    snprintf(path, sizeof path, "%s/fifo_w", tmpdir);
    CHECK(mkfifo(path, 0600) == 0, "mkfifo: %s", strerror(errno));

    struct cl c;
    cl_init(&c);
    dispatch_io_t ch =
        dispatch_io_create_with_path_f(DISPATCH_IO_STREAM, path, O_WRONLY | O_NONBLOCK, 0, q, &c, cl_handler);
    CHECK(ch != NULL, "create_with_path_f on a FIFO returned NULL");
    struct op w;
    op_init(&w);
    dispatch_data_t d = data_pat(10);
    dispatch_io_write_f(ch, 0, d, q, &w, op_handler);
    dispatch_release(d);
    op_check(&w, ENXIO, 10, "write to a FIFO with no reader");
    dispatch_io_close(ch, 0);
    dispatch_release(ch);
    cl_check(&c, 0, "open failed with ENXIO");
    dispatch_release(q);
    OK("open_fails_enxio");
}

static void creation_error(dispatch_io_type_t type, const char *path, int oflag, int err, const char *what)
{
    dispatch_queue_t q = make_q("test.ioopen.create");
    struct cl c;
    cl_init(&c);
    dispatch_io_t ch = dispatch_io_create_with_path_f(type, path, oflag, 0600, q, &c, cl_handler);
    CHECK(ch != NULL, "%s: create_with_path_f returned NULL", what);
    struct op r;
    op_init(&r);
    dispatch_io_read_f(ch, 0, 100, q, &r, op_handler);
    op_check(&r, err, 0, what);
    dispatch_io_close(ch, 0);
    dispatch_release(ch);
    cl_check(&c, err, what);
    dispatch_release(q);
}

static void test_creation_errors(void)
{
    test_start("creation_errors", 30);
    char path[128];
    snprintf(path, sizeof path, "%s/no_such_file", tmpdir);
    creation_error(DISPATCH_IO_STREAM, path, O_RDONLY, ENOENT, "a path that does not exist");
    snprintf(path, sizeof path, "%s/no_such_dir/file", tmpdir);
    creation_error(DISPATCH_IO_STREAM, path, O_CREAT | O_RDWR, ENOENT, "O_CREAT under a missing directory");
    creation_error(DISPATCH_IO_STREAM, tmpdir, O_RDONLY, EISDIR, "a directory");
    snprintf(path, sizeof path, "%s/fifo_r", tmpdir);
    CHECK(mkfifo(path, 0600) == 0, "mkfifo: %s", strerror(errno));
    creation_error(DISPATCH_IO_RANDOM, path, O_RDONLY, ESPIPE, "a FIFO for a RANDOM channel");
    OK("creation_errors");
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/capi_ioopen_XXXXXX");
    CHECK(mkdtemp(tmpdir) != NULL, "mkdtemp: %s", strerror(errno));
    test_open_fails_eexist();
    test_open_fails_enxio();
    test_creation_errors();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    CHECK(system(cmd) == 0, "removing %s", tmpdir);
    return 0;
}
