/*
 * Runtime SPI: os_object reference counting, libdispatch_init, the multithreaded flag and
 * its prohibition, _dispatch_log/_dispatch_bug, _dispatch_iocntl, _dispatch_wait_for_enqueuer,
 * the autorelease-pool hooks.
 */
#include "check.h"
#include <dispatch/private.h>

/* ---- os_object ---- */
struct my_obj {
    const void *isa;
    int ref_cnt, xref_cnt;
    int payload[4];
};
static atomic_int xref_disposed, disposed;
static void my_xref_dispose(_os_object_t o) { atomic_fetch_add(&xref_disposed, 1); _os_object_release_internal(o); }
static void my_dispose(_os_object_t o) { atomic_fetch_add(&disposed, 1); _os_object_dealloc(o); }
static const struct { void (*xref_dispose)(_os_object_t); void (*dispose)(_os_object_t); } my_class = {
    my_xref_dispose, my_dispose };

static void nop(void *c) { UNUSED(c); }

static void prohibited_then_start_thread(void)
{
    _dispatch_prohibit_transition_to_multithreaded(true);
    dispatch_async_f(dispatch_get_global_queue(0, 0), NULL, nop);
    sleep_ms(2000);
}

/* expect_abort looks for the BUG IN CLIENT prefix: the log lines carry it. */
static void log_line(void)
{
    _dispatch_log("BUG IN CLIENT OF LIBDISPATCH: hello %s %d", "log", 42);
    abort();
}

static void bug_line(void)
{
    _dispatch_log("BUG IN CLIENT OF LIBDISPATCH: next:");
    _dispatch_bug(123, 0xabc);
    abort();
}

/* ---- autorelease hooks ---- */
static atomic_int pushes, pops, pool_ok;
static void *my_push(void) { atomic_fetch_add(&pushes, 1); return (void *)0x1234; }
static void my_pop(void *p) { atomic_fetch_add(&pops, 1); if (p == (void *)0x1234) atomic_fetch_add(&pool_ok, 1); }
/* ---- wait for enqueuer ---- */
static void *volatile slot;
static int target_value;
static void *publish(void *arg) { UNUSED(arg); sleep_ms(50); __atomic_store_n(&slot, &target_value, __ATOMIC_RELEASE); return NULL; }

/* ---- iocntl ---- */
static atomic_int deliveries, biggest;
static dispatch_semaphore_t io_done;
static atomic_int io_error = -1;
static void on_read(void *ctxt, bool done_flag, dispatch_data_t data, int error)
{
    UNUSED(ctxt);
    if (data && dispatch_data_get_size(data) > 0) {
        int n = (int)dispatch_data_get_size(data);
        atomic_fetch_add(&deliveries, 1);
        int seen = atomic_load(&biggest);
        while (n > seen && !atomic_compare_exchange_weak(&biggest, &seen, n)) {
        }
    }
    if (done_flag) {
        atomic_store(&io_error, error);
        dispatch_semaphore_signal(io_done);
    }
}

int main(void)
{
    test_start("prohibited transition to multithreaded aborts", 15);
    CHECK(!_dispatch_is_multithreaded(), "multithreaded before any thread");
    CHECK(expect_abort(prohibited_then_start_thread, "Transition to multithreaded is prohibited"), "no abort");
    _dispatch_prohibit_transition_to_multithreaded(true);
    _dispatch_prohibit_transition_to_multithreaded(false); /* lifted again: threads may start */
    OK("prohibited transition to multithreaded aborts");

    test_start("_dispatch_log and _dispatch_bug write to stderr", 15);
    CHECK(expect_abort(log_line, "hello log 42"), "no log line");
    CHECK(expect_abort(bug_line, "BUG in libdispatch: 123 - 0xabc"), "no bug line");
    OK("_dispatch_log and _dispatch_bug write to stderr");

    test_start("libdispatch_init is idempotent; multithreaded after the first thread", 10);
    for (int i = 0; i < 3; i++) libdispatch_init();
    _dispatch_poll_for_events_4launchd();
    dispatch_sync_f(dispatch_get_global_queue(0, 0), NULL, nop); /* runs inline: no thread */
    dispatch_group_t g = dispatch_group_create();
    dispatch_group_async_f(g, dispatch_get_global_queue(0, 0), NULL, nop);
    CHECK(group_wait_ms(g, 5000), "item did not run");
    CHECK(_dispatch_is_multithreaded(), "a worker ran an item but the flag is false");
    OK("libdispatch_init is idempotent; multithreaded after the first thread");

    test_start("os_object on a bare object", 10);
    struct my_obj *o = (struct my_obj *)_os_object_alloc(&my_class, sizeof *o);
    CHECK(o && o->isa == &my_class && o->payload[3] == 0, "zeroed allocation with its class");
    CHECK(_os_object_retain(o) == o, "retain returns the object");
    _os_object_retain_internal_n(o, 2);
    _os_object_release(o);
    CHECK(atomic_load(&xref_disposed) == 0, "disposed early");
    _os_object_release(o); /* last client reference */
    CHECK(atomic_load(&xref_disposed) == 1 && atomic_load(&disposed) == 0, "xref dispose once");
    _os_object_release_internal_n(o, 2);
    CHECK(atomic_load(&disposed) == 1, "dispose after the last internal reference");
    struct my_obj *d = (struct my_obj *)_os_object_alloc_realized(NULL, 64);
    _os_object_release(d); /* default class: freed (valgrind/ASan would see a leak otherwise) */
    OK("os_object on a bare object");

    test_start("os_object on dispatch objects", 10);
    dispatch_queue_t q = dispatch_queue_create("osobj", NULL);
    CHECK(_os_object_retain(q) == (void *)q, "retain");
    _os_object_release(q);
    _os_object_retain_internal(q);
    dispatch_release(q);                 /* last client reference; internal one remains */
    _os_object_retain_with_resurrect(q); /* the client count comes back */
    dispatch_sync_f(q, NULL, nop);
    _os_object_release_internal(q);
    dispatch_release(q);
    OK("os_object on dispatch objects");

    test_start("_dispatch_wait_for_enqueuer", 10);
    pthread_t th;
    pthread_create(&th, NULL, publish, NULL);
    CHECK(_dispatch_wait_for_enqueuer((void **)&slot) == &target_value, "value");
    pthread_join(th, NULL);
    OK("_dispatch_wait_for_enqueuer");

    test_start("autorelease hooks run around WORK_ITEM items only", 10);
    _dispatch_begin_NSAutoReleasePool = my_push;
    _dispatch_end_NSAutoReleasePool = my_pop;
    q = dispatch_queue_create("ar", dispatch_queue_attr_make_with_autorelease_frequency(NULL,
            DISPATCH_AUTORELEASE_FREQUENCY_WORK_ITEM));
    for (int i = 0; i < 5; i++) dispatch_async_f(q, NULL, nop);
    dispatch_sync_f(q, NULL, nop); /* sync items run on the caller: no pool, as async ones finished */
    CHECK(atomic_load(&pushes) == 5 && atomic_load(&pops) == 5 && atomic_load(&pool_ok) == 5,
          "pushes %d pops %d", atomic_load(&pushes), atomic_load(&pops));
    dispatch_queue_t plain = dispatch_queue_create("plain", NULL);
    for (int i = 0; i < 5; i++) dispatch_async_f(plain, NULL, nop);
    dispatch_sync_f(plain, NULL, nop);
    CHECK(atomic_load(&pushes) == 5, "hook ran for a queue without WORK_ITEM");
    _dispatch_begin_NSAutoReleasePool = NULL;
    _dispatch_end_NSAutoReleasePool = NULL;
    dispatch_release(q);
    dispatch_release(plain);
    OK("autorelease hooks run around WORK_ITEM items only");

    test_start("DISPATCH_IOCNTL_CHUNK_PAGES bounds each read step", 20);
    char path[] = "/tmp/spi_iocntl_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp");
    unlink(path);
    static char buf[64 * 1024];
    memset(buf, 'x', sizeof buf);
    CHECK(write(fd, buf, sizeof buf) == (ssize_t)sizeof buf, "write");
    CHECK(lseek(fd, 0, SEEK_SET) == 0, "lseek");
    long page = sysconf(_SC_PAGESIZE);
    _dispatch_iocntl(DISPATCH_IOCNTL_CHUNK_PAGES, 1);
    _dispatch_iocntl(999, 5); /* unknown: ignored */
    io_done = dispatch_semaphore_create(0);
    dispatch_io_t ch = dispatch_io_create_f(DISPATCH_IO_RANDOM, fd, dispatch_get_global_queue(0, 0), NULL, NULL);
    dispatch_io_set_low_water(ch, 1);
    dispatch_io_read_f(ch, 0, sizeof buf, dispatch_get_global_queue(0, 0), NULL, on_read);
    CHECK(sem_wait_ms(io_done, 10000), "read did not finish");
    CHECK(atomic_load(&io_error) == 0, "error %d", atomic_load(&io_error));
    CHECK(atomic_load(&biggest) <= page, "a delivery of %d bytes (page %ld)", atomic_load(&biggest), page);
    CHECK(atomic_load(&deliveries) >= (int)(sizeof buf / (size_t)page), "%d deliveries", atomic_load(&deliveries));
    dispatch_io_close(ch, 0);
    dispatch_release(ch);
    close(fd);
    OK("DISPATCH_IOCNTL_CHUNK_PAGES bounds each read step");
    return 0;
}
