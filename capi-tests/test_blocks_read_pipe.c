/*
 * test_blocks_read_pipe.c: dispatch_read on a pipe or socket delivers what is available
 * (clang -fblocks; dispatch_read takes a block).
 *
 * Apple's io.h: "The data object passed to the handler will only contain as much data as is
 * currently available from the file descriptor (up to the specified length)". The reference
 * (swift-corelibs-libdispatch) completes a convenience read that has data as soon as the next
 * read(2) would block; programs that read a stream chunk by chunk rely on it.
 *
 *   pipe_chunks      a writer thread writes 20 chunks of 32 bytes into a pipe, one at a
 *                    time, each only after the dispatch_read issued for the previous chunk
 *                    completed (it pauses a little before some writes, so some reads wait
 *                    first and some find the chunk there); the reads ask for SIZE_MAX and
 *                    4096 bytes alternately: each handler is called once, on the queue
 *                    given, with exactly its chunk's 32 bytes (content checked) and error 0.
 *   socket_chunks    the same on a socketpair (AF_UNIX, SOCK_STREAM).
 *   pipe_eof_empty   a pipe whose writer closed without writing: dispatch_read(SIZE_MAX)
 *                    delivers empty data and error 0, once.
 *   pipe_then_eof    a pipe holding 100 bytes whose writer then closed: dispatch_read of
 *                    SIZE_MAX gets the 100 bytes, error 0; the next one gets empty data.
 *
 * dispatch_io channel reads on pipes keep their water-mark semantics (a read of N bytes
 * waits for N bytes or EOF): test_io.c covers them (pipe_stream, close_pending, barrier,
 * low_water) and is unchanged.
 */
#include "check.h"
#include "byte_pattern.h"

#include <dispatch/data.h>
#include <dispatch/io.h>
#include <sys/socket.h>

enum { CHUNK = 32, CHUNKS = 20 };

struct chunk_run {
    int wfd;
    dispatch_semaphore_t read_done; /* signalled by each read handler */
    dispatch_semaphore_t wrote;     /* signalled by the writer after each chunk */
};

/* Writes chunk i only after read i-1 completed; pauses before some writes so that the read
 * for that chunk is already waiting on an empty descriptor. */
static void *chunk_writer(void *arg)
{
    struct chunk_run *run = arg;
    uint8_t buf[CHUNK];
    for (int i = 0; i < CHUNKS; i++) {
        if (i > 0)
            CHECK(sem_wait_ms(run->read_done, 10000),
                  "the dispatch_read for chunk %d did not complete with the %d bytes available", i - 1, CHUNK);
        if (i % 3 == 1)
            sleep_ms(20);
        fill_pat(buf, (size_t)i * CHUNK, CHUNK);
        CHECK(write(run->wfd, buf, CHUNK) == CHUNK, "write of chunk %d: %s", i, strerror(errno));
        dispatch_semaphore_signal(run->wrote);
    }
    return NULL;
}

static bool data_is_pat(dispatch_data_t d, size_t start, size_t n)
{
    if (dispatch_data_get_size(d) != n)
        return false;
    if (n == 0)
        return true;
    const void *buf;
    size_t sz;
    dispatch_data_t m = dispatch_data_create_map(d, &buf, &sz);
    bool ok = sz == n && is_pat(buf, start, n);
    dispatch_release(m);
    return ok;
}

/* One dispatch_read per chunk on `rfd`, each issued after the previous one completed. */
static void read_chunks(int rfd, int wfd, const char *what)
{
    dispatch_queue_t q = make_q("test.readpipe");
    struct chunk_run run = { .wfd = wfd,
                             .read_done = dispatch_semaphore_create(0),
                             .wrote = dispatch_semaphore_create(0) };
    dispatch_semaphore_t handled = dispatch_semaphore_create(0);
    pthread_t writer;
    CHECK(pthread_create(&writer, NULL, chunk_writer, &run) == 0, "pthread_create");
    for (int i = 0; i < CHUNKS; i++) {
        __block int calls = 0, err = -1;
        __block bool right_queue = false;
        __block size_t size = 0;
        __block bool content = false;
        size_t length = i % 2 ? 4096 : SIZE_MAX;
        const size_t start = (size_t)i * CHUNK;
        dispatch_read(rfd, length, q, ^(dispatch_data_t data, int error) {
            calls++;
            err = error;
            right_queue = on_q();
            size = data ? dispatch_data_get_size(data) : (size_t)-1;
            content = data && data_is_pat(data, start, CHUNK);
            dispatch_semaphore_signal(handled);
        });
        /* Bounded only so that the old behaviour (waiting for the whole length or EOF)
         * fails with a message instead of the watchdog. */
        CHECK(sem_wait_ms(handled, 10000), "%s: dispatch_read %d (length %zu) did not complete with the %d bytes of its chunk",
              what, i, length, CHUNK);
        CHECK(sem_wait_ms(run.wrote, 10000), "%s: writer did not write chunk %d", what, i);
        CHECK(calls == 1, "%s: read %d: handler called %d times", what, i, calls);
        CHECK(err == 0, "%s: read %d: error %d (%s)", what, i, err, strerror(err));
        CHECK(right_queue, "%s: read %d: handler ran off the queue given", what, i);
        CHECK(size == CHUNK, "%s: read %d: %zu bytes, expected exactly the chunk's %d", what, i, size, CHUNK);
        CHECK(content, "%s: read %d: the bytes are not chunk %d's", what, i, i);
        dispatch_semaphore_signal(run.read_done);
    }
    CHECK(pthread_join(writer, NULL) == 0, "pthread_join");
    /* the handler was called once per read and never again */
    CHECK(!sem_wait_ms(handled, 50), "%s: a handler was called after its read completed", what);
    dispatch_release(handled);
    dispatch_release(run.read_done);
    dispatch_release(run.wrote);
    dispatch_release(q);
}

static void test_pipe_chunks(void)
{
    test_start("pipe_chunks", 30);
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    read_chunks(p[0], p[1], "pipe");
    close(p[0]);
    close(p[1]);
    OK("pipe_chunks");
}

static void test_socket_chunks(void)
{
    test_start("socket_chunks", 30);
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");
    read_chunks(sv[0], sv[1], "socketpair");
    close(sv[0]);
    close(sv[1]);
    OK("socket_chunks");
}

/* One dispatch_read of SIZE_MAX; returns its data (retained) and error. */
static dispatch_data_t read_once(int fd, dispatch_queue_t q, int *error, const char *what)
{
    dispatch_semaphore_t sem = dispatch_semaphore_create(0);
    __block int calls = 0;
    __block int err = -1;
    __block dispatch_data_t got = NULL;
    dispatch_read(fd, SIZE_MAX, q, ^(dispatch_data_t data, int e) {
        calls++;
        err = e;
        if (data) {
            dispatch_retain(data);
            got = data;
        }
        dispatch_semaphore_signal(sem);
    });
    CHECK(sem_wait_ms(sem, 10000), "%s: dispatch_read handler not called", what);
    CHECK(!sem_wait_ms(sem, 50), "%s: dispatch_read handler called twice", what);
    CHECK(calls == 1, "%s: %d handler calls", what, calls);
    dispatch_release(sem);
    *error = err;
    return got;
}

static void test_pipe_eof_empty(void)
{
    test_start("pipe_eof_empty", 20);
    dispatch_queue_t q = make_q("test.readpipe.eof");
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    close(p[1]);
    int err;
    dispatch_data_t d = read_once(p[0], q, &err, "writer closed, no data");
    CHECK(err == 0, "EOF read: error %d (%s), expected 0", err, strerror(err));
    CHECK(d != NULL && dispatch_data_get_size(d) == 0, "EOF read: %s data of %zu bytes, expected empty data",
          d ? "non-NULL" : "NULL", d ? dispatch_data_get_size(d) : 0);
    dispatch_release(d);
    close(p[0]);
    dispatch_release(q);
    OK("pipe_eof_empty");
}

static void test_pipe_then_eof(void)
{
    test_start("pipe_then_eof", 20);
    dispatch_queue_t q = make_q("test.readpipe.then_eof");
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    uint8_t buf[100];
    fill_pat(buf, 7, sizeof buf);
    CHECK(write(p[1], buf, sizeof buf) == (ssize_t)sizeof buf, "write");
    close(p[1]);
    int err;
    dispatch_data_t d = read_once(p[0], q, &err, "100 bytes then EOF");
    CHECK(err == 0, "read of 100 bytes then EOF: error %d", err);
    CHECK(d != NULL && data_is_pat(d, 7, sizeof buf), "read of 100 bytes then EOF: %zu bytes / wrong bytes",
          d ? dispatch_data_get_size(d) : 0);
    dispatch_release(d);
    d = read_once(p[0], q, &err, "read after EOF");
    CHECK(err == 0 && d != NULL && dispatch_data_get_size(d) == 0, "read after EOF: error %d, %zu bytes", err,
          d ? dispatch_data_get_size(d) : 0);
    dispatch_release(d);
    close(p[0]);
    dispatch_release(q);
    OK("pipe_then_eof");
}

int main(void)
{
    test_pipe_chunks();
    test_socket_chunks();
    test_pipe_eof_empty();
    test_pipe_then_eof();
    return 0;
}
