/*
 * test_blocks_interop_before.c: a program linked with Debian's libBlocksRuntime as well as
 * libdispatch, libBlocksRuntime first on the link line, so the dynamic linker binds the
 * program's _Block_copy/_Block_release/_Block_object_assign/_NSConcrete*Block to
 * libBlocksRuntime while libdispatch keeps its own runtime internally.
 * test_blocks_interop_after.c compiles this same file with the link order reversed.
 *
 * capi-libs-before: -lBlocksRuntime
 *
 *   runtime_in_use        the program's _Block_copy is the one of the library linked first
 *                         (libBlocksRuntime here, libdispatch in the _after variant), so the
 *                         test exercises what it means to; both libraries are loaded.
 *   cross_refcount        a counted block (Blocks-ABI literal with counting copy/dispose
 *                         helpers) copied by one runtime, retained by the other, released
 *                         in either order by both: the copy helper runs once, dispose only
 *                         at the last release, in all four combinations.
 *   byref_and_nested      Block_copy/Block_release of blocks with __block variables and
 *                         captured blocks: values frozen at capture, shared __block state
 *                         after the copy, an inner stack block copied with the outer one
 *                         (copy/dispose helpers of a captured counted block run once).
 *   dispatch_with_blocks  dispatch_async (counted stack block: copied once, disposed once
 *                         after it ran; a heap block released by the caller right after
 *                         submission), dispatch_sync (caller's thread, __block writes),
 *                         dispatch_group_async + notify + wait, dispatch_apply, dispatch_after.
 *   block_objects         dispatch_block_create of a counted block, Block_copy'd and
 *                         released by the program's runtime: submitted, waited for, notify
 *                         fires; the wrapped block is disposed once after the last release.
 */
#include "check.h"

#include <Block.h>
#include <dlfcn.h>

#ifndef INTEROP_FIRST
#define INTEROP_FIRST "libBlocksRuntime"
#endif

/* ---- the counted block ---- */

#include "counted_block.h"


/* ------------------------------------------------------------------ */

typedef void *(*copy_fn)(const void *);
typedef void (*release_fn)(const void *);

static copy_fn br_copy, dd_copy;
static release_fn br_release, dd_release;

static const char *lib_of(void *addr)
{
    Dl_info info;
    if (dladdr(addr, &info) == 0 || info.dli_fname == NULL)
        return "(unknown)";
    return info.dli_fname;
}

static void test_runtime_in_use(void)
{
    test_start("runtime_in_use", 10);
    void *br = dlopen("libBlocksRuntime.so.0", RTLD_NOW | RTLD_NOLOAD);
    void *dd = dlopen("libdispatch.so", RTLD_NOW | RTLD_NOLOAD);
    CHECK(br != NULL, "libBlocksRuntime is not loaded: %s", dlerror());
    CHECK(dd != NULL, "libdispatch is not loaded: %s", dlerror());
    br_copy = (copy_fn)dlsym(br, "_Block_copy");
    br_release = (release_fn)dlsym(br, "_Block_release");
    dd_copy = (copy_fn)dlsym(dd, "_Block_copy");
    dd_release = (release_fn)dlsym(dd, "_Block_release");
    CHECK(br_copy && br_release && dd_copy && dd_release, "dlsym of a runtime function failed");
    CHECK(strstr(lib_of((void *)br_copy), "BlocksRuntime") != NULL, "libBlocksRuntime's _Block_copy is in %s",
          lib_of((void *)br_copy));
    CHECK(strstr(lib_of((void *)dd_copy), "libdispatch") != NULL, "libdispatch's _Block_copy is in %s",
          lib_of((void *)dd_copy));
    CHECK((void *)br_copy != (void *)dd_copy, "both handles give the same _Block_copy");

    const char *used = lib_of((void *)_Block_copy);
    CHECK(strstr(used, INTEROP_FIRST) != NULL, "the program's _Block_copy is in %s, expected %s", used,
          INTEROP_FIRST);
    const char *isa = lib_of((void *)_NSConcreteStackBlock);
    CHECK(strstr(isa, INTEROP_FIRST) != NULL, "the program's _NSConcreteStackBlock is in %s, expected %s", isa,
          INTEROP_FIRST);
    printf("note: the program's Blocks runtime is %s\n", used);
    OK("runtime_in_use");
}

/* ------------------------------------------------------------------ */

static void cross_case(copy_fn first, copy_fn retain, release_fn rel1, release_fn rel2, const char *what)
{
    struct counts c;
    struct counted_block sb;
    counted_init(&sb, &c);
    void *h = first(&sb);
    CHECK(h != NULL && h != (void *)&sb, "%s: copy of the stack block failed", what);
    CHECK(atomic_load(&c.copies) == 1, "%s: copy helper ran %d times", what, atomic_load(&c.copies));
    void *h2 = retain(h);
    CHECK(h2 == h, "%s: copying the heap block gave another pointer", what);
    CHECK(atomic_load(&c.copies) == 1, "%s: retaining ran the copy helper", what);
    as_block(h)();
    rel1(h);
    CHECK(atomic_load(&c.disposes) == 0, "%s: disposed after the first of two releases", what);
    as_block(h2)();
    rel2(h2);
    CHECK(atomic_load(&c.disposes) == 1, "%s: the last release disposed %d times", what, atomic_load(&c.disposes));
    CHECK(atomic_load(&c.runs) == 2, "%s: ran %d times", what, atomic_load(&c.runs));
}

static void test_cross_refcount(void)
{
    test_start("cross_refcount", 10);
    for (int i = 0; i < 50; i++) {
        cross_case(br_copy, dd_copy, br_release, dd_release, "BlocksRuntime copy, libdispatch retain");
        cross_case(br_copy, dd_copy, dd_release, br_release, "BlocksRuntime copy, libdispatch retain (rev)");
        cross_case(dd_copy, br_copy, dd_release, br_release, "libdispatch copy, BlocksRuntime retain");
        cross_case(dd_copy, br_copy, br_release, dd_release, "libdispatch copy, BlocksRuntime retain (rev)");
    }
    /* a clang block with a __block variable, copied by one runtime, released by the other */
    __block int n = 0;
    void (^inc)(void) = ^{
        n++;
    };
    void (^h)(void) = (void (^)(void))br_copy((const void *)inc);
    void (^h2)(void) = (void (^)(void))dd_copy((const void *)h);
    h();
    br_release((const void *)h);
    h2();
    CHECK(n == 2, "__block variable is %d after two calls", n);
    dd_release((const void *)h2);
    OK("cross_refcount");
}

/* ------------------------------------------------------------------ */

static __attribute__((noinline)) int (^make_counter(int start))(void)
{
    __block int count = start;
    int (^inner)(void) = ^{
        return ++count;
    };
    return Block_copy(^{
        return inner() * 10;
    });
}

static __attribute__((noinline)) void clobber_stack(void)
{
    volatile unsigned char junk[8192];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (unsigned char)i;
    (void)junk[7];
}

static void test_byref_and_nested(void)
{
    test_start("byref_and_nested", 10);
    int x = 3;
    int (^get)(void) = ^{
        return x;
    };
    x = 4;
    int (^hg)(void) = Block_copy(get);
    CHECK(hg() == 3, "captured value %d, expected 3", hg());
    Block_release(hg);

    __block int shared = 0;
    void (^add)(int) = ^(int d) {
        shared += d;
    };
    void (^ha)(int) = Block_copy(add);
    ha(5);
    add(1);
    shared += 10;
    ha(100);
    CHECK(shared == 116, "__block variable %d, expected 116", shared);
    Block_release(ha);

    int (^c1)(void) = make_counter(0);
    int (^c2)(void) = make_counter(50);
    clobber_stack();
    CHECK(c1() == 10 && c1() == 20, "counter 1 wrong");
    CHECK(c2() == 510, "counter 2 wrong");
    int (^c1b)(void) = Block_copy(c1);
    Block_release(c1);
    CHECK(c1b() == 30, "counter 1 after copy+release wrong");
    Block_release(c1b);
    Block_release(c2);

    struct counts c;
    struct counted_block sb;
    counted_init(&sb, &c);
    dispatch_block_t inner = as_block(&sb);
    dispatch_block_t outer = ^{
        inner();
    };
    dispatch_block_t ho = Block_copy(outer);
    CHECK(atomic_load(&c.copies) == 1, "copying the outer block copied the inner %d times", atomic_load(&c.copies));
    ho();
    Block_release(ho);
    CHECK(atomic_load(&c.disposes) == 1, "releasing the outer block disposed the inner %d times",
          atomic_load(&c.disposes));
    OK("byref_and_nested");
}

/* ------------------------------------------------------------------ */

static void test_dispatch_with_blocks(void)
{
    test_start("dispatch_with_blocks", 20);
    dispatch_queue_t q = dispatch_queue_create("test.interop.q", NULL);
    dispatch_queue_t cq = dispatch_queue_create("test.interop.cq", DISPATCH_QUEUE_CONCURRENT);

    /* async with a counted stack block */
    struct counts c;
    struct counted_block sb;
    counted_init(&sb, &c);
    dispatch_async(cq, as_block(&sb));
    CHECK(atomic_load(&c.copies) == 1, "dispatch_async copied the block %d times", atomic_load(&c.copies));
    memset(&sb, 0xEE, sizeof sb);
    CHECK(wait_for_value(&c.runs, 1, 5000), "the async block did not run");
    CHECK(wait_for_value(&c.disposes, 1, 5000), "the async block's copy was not released");
    CHECK(atomic_load(&c.tid) != my_tid(), "dispatch_async ran the block on the caller's thread");

    /* a heap block released by the caller right after submission */
    dispatch_semaphore_t gate = dispatch_semaphore_create(0);
    dispatch_async(q, ^{
        dispatch_semaphore_wait(gate, in_ms(5000));
    });
    struct counts c2;
    struct counted_block sb2;
    counted_init(&sb2, &c2);
    dispatch_block_t h = Block_copy(as_block(&sb2));
    dispatch_async(q, h);
    Block_release(h);
    CHECK(atomic_load(&c2.disposes) == 0, "the caller's release disposed a queued block");
    dispatch_semaphore_signal(gate);
    CHECK(wait_for_value(&c2.runs, 1, 5000), "the released heap block did not run");
    CHECK(wait_for_value(&c2.disposes, 1, 5000), "the released heap block was not disposed after it ran");

    /* sync */
    __block int out = 0;
    __block pid_t tid = 0;
    int in = 21;
    dispatch_sync(q, ^{
        out = in * 2;
        tid = my_tid();
    });
    CHECK(out == 42, "dispatch_sync: __block write %d", out);
    CHECK(tid == my_tid(), "dispatch_sync ran on another thread");

    /* group */
    dispatch_group_t g = dispatch_group_create();
    static atomic_int items, at_notify;
    atomic_store(&items, 0);
    atomic_store(&at_notify, -1);
    for (int i = 0; i < 10; i++)
        dispatch_group_async(g, (i & 1) ? q : cq, ^{
            sleep_ms((unsigned)i % 3);
            atomic_fetch_add(&items, 1);
        });
    dispatch_semaphore_t notified = dispatch_semaphore_create(0);
    dispatch_group_notify(g, q, ^{
        atomic_store(&at_notify, atomic_load(&items));
        dispatch_semaphore_signal(notified);
    });
    CHECK(group_wait_ms(g, 5000), "the group did not empty");
    CHECK(atomic_load(&items) == 10, "%d group items ran", atomic_load(&items));
    CHECK(sem_wait_ms(notified, 5000), "group notify did not run");
    CHECK(atomic_load(&at_notify) == 10, "notify ran after %d items", atomic_load(&at_notify));

    /* apply */
    static atomic_int hits[100];
    for (int i = 0; i < 100; i++)
        atomic_store(&hits[i], 0);
    dispatch_apply(100, cq, ^(size_t i) {
        atomic_fetch_add(&hits[i], 1);
    });
    for (int i = 0; i < 100; i++)
        CHECK(atomic_load(&hits[i]) == 1, "apply index %d ran %d times", i, atomic_load(&hits[i]));

    /* after */
    uint64_t t0 = now_ns();
    __block uint64_t ran_at = 0;
    dispatch_after(in_ms(30), q, ^{
        ran_at = now_ns();
        dispatch_semaphore_signal(notified);
    });
    CHECK(sem_wait_ms(notified, 5000), "dispatch_after did not run");
    CHECK(ran_at - t0 >= 30ull * 1000000ull, "dispatch_after(30 ms) ran after %.1f ms", (ran_at - t0) / 1e6);

    dispatch_release(notified);
    dispatch_release(g);
    dispatch_release(gate);
    dispatch_release(cq);
    dispatch_release(q);
    OK("dispatch_with_blocks");
}

/* ------------------------------------------------------------------ */

static void test_block_objects(void)
{
    test_start("block_objects", 15);
    dispatch_queue_t q = dispatch_queue_create("test.interop.obj", NULL);
    struct counts c;
    struct counted_block sb;
    counted_init(&sb, &c);
    dispatch_block_t b = dispatch_block_create(0, as_block(&sb));
    CHECK(b != NULL, "dispatch_block_create returned NULL");
    CHECK(atomic_load(&c.copies) == 1, "dispatch_block_create copied the block %d times", atomic_load(&c.copies));
    dispatch_block_t b2 = Block_copy(b);
    CHECK((void *)b2 == (void *)b, "Block_copy of a block object gave another pointer");
    dispatch_semaphore_t notified = dispatch_semaphore_create(0);
    dispatch_block_notify(b, q, ^{
        dispatch_semaphore_signal(notified);
    });
    dispatch_async(q, b);
    Block_release(b);
    CHECK(dispatch_block_wait(b2, in_ms(5000)) == 0, "dispatch_block_wait did not return 0");
    CHECK(atomic_load(&c.runs) == 1, "the object ran %d times", atomic_load(&c.runs));
    CHECK(sem_wait_ms(notified, 5000), "dispatch_block_notify did not fire");
    dispatch_sync(q, ^{
    });
    CHECK(atomic_load(&c.disposes) == 0, "the wrapped block was disposed while the object lives");
    Block_release(b2);
    CHECK(wait_for_value(&c.disposes, 1, 5000), "the wrapped block was disposed %d times after the last release",
          atomic_load(&c.disposes));

    __block int performed = 0;
    dispatch_block_perform(0, ^{
        performed++;
    });
    CHECK(performed == 1, "dispatch_block_perform ran %d times", performed);
    dispatch_release(notified);
    dispatch_release(q);
    OK("block_objects");
}

/* ------------------------------------------------------------------ */

int main(void)
{
    test_runtime_in_use();
    test_cross_refcount();
    test_byref_and_nested();
    test_dispatch_with_blocks();
    test_block_objects();
    return 0;
}
