/*
 * libdispatch loaded with dlopen() (as a plugin host or a language runtime loads it): the
 * per-thread slots of the sync fast path are an initial-exec thread-local (src/sys/tls.rs),
 * which a dlopen'ed library takes from glibc's static TLS surplus. The library must load,
 * and threads that existed before it was loaded and threads created after must each see
 * their own current queue inside nested dispatch_sync calls.
 *
 * No dispatch function is called directly: with --as-needed the executable does not
 * depend on libdispatch.so, so the dlopen() below is what loads it (checked first).
 *
 * capi-libs-before: -Wl,--as-needed
 */
#include "check.h"
#include <dlfcn.h>

static dispatch_queue_t (*p_create)(const char *, const void *);
static void (*p_sync_f)(dispatch_queue_t, void *, dispatch_function_t);
static dispatch_queue_t (*p_current)(void);
static const void *p_concurrent_attr;

static dispatch_queue_t serial_q, concurrent_q;

struct ran {
    pid_t caller;
    int outer, inner;
};

static void inner_fn(void *ctx)
{
    struct ran *r = ctx;
    CHECK(my_tid() == r->caller, "the inner function runs on the calling thread");
    CHECK(p_current() == concurrent_q, "inside the inner sync: the concurrent queue");
    r->inner++;
}

static void outer_fn(void *ctx)
{
    struct ran *r = ctx;
    CHECK(my_tid() == r->caller, "the outer function runs on the calling thread");
    CHECK(p_current() == serial_q, "inside the outer sync: the serial queue");
    p_sync_f(concurrent_q, r, inner_fn);
    CHECK(p_current() == serial_q, "back from the inner sync: the serial queue again");
    r->outer++;
}

enum { ROUNDS = 1000 };

static void run_syncs(void)
{
    struct ran r = { .caller = my_tid() };
    for (int i = 0; i < ROUNDS; i++) {
        p_sync_f(serial_q, &r, outer_fn);
        CHECK(p_current() != serial_q && p_current() != concurrent_q, "after the sync: neither queue is current");
    }
    CHECK(r.outer == ROUNDS && r.inner == ROUNDS, "every function ran once per round (%d, %d)", r.outer, r.inner);
}

static void *after_load(void *arg)
{
    UNUSED(arg);
    run_syncs();
    return NULL;
}

static pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;
static void *before_load(void *arg)
{
    UNUSED(arg);
    pthread_mutex_lock(&gate); /* held by main until the library is loaded */
    pthread_mutex_unlock(&gate);
    run_syncs();
    return NULL;
}

static void *sym(void *lib, const char *name)
{
    void *p = dlsym(lib, name);
    CHECK(p != NULL, "dlsym(%s): %s", name, dlerror());
    return p;
}

int main(void)
{
    test_start("dlopen", 30);
    CHECK(dlopen("libdispatch.so", RTLD_NOW | RTLD_NOLOAD) == NULL,
          "libdispatch.so must not be loaded before the dlopen (the test links with --as-needed)");
    pthread_mutex_lock(&gate);
    pthread_t early;
    CHECK(pthread_create(&early, NULL, before_load, NULL) == 0, "pthread_create");

    void *lib = dlopen("libdispatch.so", RTLD_NOW | RTLD_LOCAL);
    CHECK(lib != NULL, "dlopen(libdispatch.so): %s", dlerror());
    p_create = (dispatch_queue_t(*)(const char *, const void *))sym(lib, "dispatch_queue_create");
    p_sync_f = (void (*)(dispatch_queue_t, void *, dispatch_function_t))sym(lib, "dispatch_sync_f");
    p_current = (dispatch_queue_t(*)(void))sym(lib, "dispatch_get_current_queue");
    p_concurrent_attr = sym(lib, "_dispatch_queue_attr_concurrent");
    serial_q = p_create("dlopen.serial", NULL);
    concurrent_q = p_create("dlopen.concurrent", p_concurrent_attr);
    pthread_mutex_unlock(&gate);

    pthread_t late[3];
    for (int i = 0; i < 3; i++) {
        CHECK(pthread_create(&late[i], NULL, after_load, NULL) == 0, "pthread_create");
    }
    run_syncs();
    pthread_join(early, NULL);
    for (int i = 0; i < 3; i++) {
        pthread_join(late[i], NULL);
    }
    OK("dlopen: the library loads, and old and new threads see their own frames");
    return 0;
}
