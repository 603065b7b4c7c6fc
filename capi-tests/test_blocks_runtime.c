/*
 * test_blocks_runtime.c: the Blocks runtime that libdispatch.so carries (_Block_copy,
 * _Block_release, _Block_object_assign/_dispose, Block_size, _Block_signature), used
 * through <Block.h> and clang's -fblocks code generation, with no dispatch queue involved.
 *
 * Some checks use a "counted" block: a block literal laid out by hand following the Blocks
 * ABI (isa, flags = HAS_COPY_DISPOSE | HAS_SIGNATURE, invoke, descriptor with copy and
 * dispose helpers) whose helpers count how often the runtime calls them. That is exactly
 * what clang emits for a block with captures that need helpers, but observable.
 *
 *   capture_by_value      a captured int is frozen when the literal is evaluated: later
 *                         writes to the variable are not seen by the block nor by its heap
 *                         copy; a captured struct likewise.
 *   byref_shared          a __block int written by the block is visible outside after it
 *                         ran; after Block_copy the heap copy, the stack block and the stack
 *                         frame all share the one variable (writes in any are seen by all);
 *                         two heap blocks sharing one __block variable keep it alive while
 *                         either lives.
 *   block_in_block        a function returns Block_copy of a block capturing a stack block
 *                         (itself capturing a local and a __block variable): after the
 *                         frame returned (and the stack was reused) the copy still calls the
 *                         inner block with the right values.
 *   heap_outlives_frame   make_counter(start) returns Block_copy(^{ return ++count; }) of a
 *                         __block local: two counters count independently after their frames
 *                         are gone.
 *   copy_of_heap          Block_copy of a heap block returns the same pointer; it needs its
 *                         own Block_release: the copy helper runs only for the stack->heap
 *                         copy, the dispose helper only at the last release (N copies, N+1
 *                         releases).
 *   global_block          a block without captures copies to itself; releasing it any
 *                         number of times is harmless; it stays callable.
 *   block_size            Block_size() equals the descriptor's size field, is at least the
 *                         32-byte header plus the captures, and is the same for the copy.
 *   signature             _Block_has_signature is true for clang blocks and for the heap
 *                         copy; _Block_signature is non-NULL and its first character encodes
 *                         the return type ('v' for void, 'i' for int).
 *   helpers_counted       Block_copy of a counted stack block calls its copy helper once,
 *                         the copy runs the same invoke, and the last Block_release calls
 *                         the dispose helper once (on the heap copy, not the stack one).
 *   captured_block_helper a clang block capturing a counted block: copying the outer block
 *                         copies the inner one (copy helper once), releasing it releases the
 *                         inner (dispose once). Through a __block variable holding a
 *                         counted block (byref keep/destroy path, non-ARC): the held block
 *                         is neither copied nor disposed, copies share the variable and see
 *                         the frame's later writes to it.
 *   concurrent_refcount   8 threads each Block_copy/Block_release one heap block 20000 times
 *                         concurrently: the dispose helper has not run when they finish; the
 *                         final release runs it exactly once.
 */
#include "check.h"

#include <Block.h>

/* Apple's prototypes (Block_private.h / libclosure) */
extern size_t Block_size(void *aBlock);
extern bool _Block_has_signature(void *aBlock);
extern const char *_Block_signature(void *aBlock);

/* the 32-byte header every block starts with */
struct layout {
    void *isa;
    int flags;
    int reserved;
    void (*invoke)(void *, ...);
    struct descriptor *descriptor;
};

struct descriptor {
    unsigned long reserved;
    unsigned long size;
    /* then, if BLOCK_HAS_COPY_DISPOSE: copy, dispose; then signature if BLOCK_HAS_SIGNATURE */
};

#define BLOCK_HAS_COPY_DISPOSE (1 << 25)
#define BLOCK_HAS_SIGNATURE (1 << 30)

/* ---- the counted block ---- */

struct counts {
    atomic_int copies;   /* copy helper calls */
    atomic_int disposes; /* dispose helper calls */
    atomic_int runs;     /* invoke calls */
};

struct counted_desc {
    unsigned long reserved;
    unsigned long size;
    void (*copy)(void *dst, const void *src);
    void (*dispose)(const void *);
    const char *signature;
};

struct counted_block {
    void *isa;
    int flags;
    int reserved;
    void (*invoke)(struct counted_block *);
    const struct counted_desc *descriptor;
    struct counts *counts;
    int magic; /* must be carried over to the copy by the runtime */
};

#define COUNTED_MAGIC 0x5eed1234

static void counted_invoke(struct counted_block *b)
{
    CHECK(b->magic == COUNTED_MAGIC, "counted block invoked with magic %#x", b->magic);
    atomic_fetch_add(&b->counts->runs, 1);
}

static void counted_copy(void *dst, const void *src)
{
    struct counted_block *d = dst;
    const struct counted_block *s = src;
    CHECK(d != s, "copy helper called with dst == src");
    CHECK(d->counts == s->counts && d->magic == COUNTED_MAGIC,
          "copy helper: the runtime did not copy the captured fields before calling it");
    atomic_fetch_add(&s->counts->copies, 1);
}

static void counted_dispose(const void *p)
{
    const struct counted_block *b = p;
    CHECK(b->magic == COUNTED_MAGIC, "dispose helper called on a block with magic %#x", b->magic);
    atomic_fetch_add(&b->counts->disposes, 1);
}

static const struct counted_desc counted_descriptor = {
    0, sizeof(struct counted_block), counted_copy, counted_dispose, "v8@?0",
};

static void *stack_isa(void)
{
    volatile int v = 1;
    void (^b)(void) = ^{
        (void)v;
    };
    return ((struct layout *)(void *)b)->isa;
}

/* fills *b as a stack block (as clang would for a literal with helpers) */
static void counted_init(struct counted_block *b, struct counts *c)
{
    b->isa = stack_isa();
    b->flags = BLOCK_HAS_COPY_DISPOSE | BLOCK_HAS_SIGNATURE;
    b->reserved = 0;
    b->invoke = counted_invoke;
    b->descriptor = &counted_descriptor;
    b->counts = c;
    b->magic = COUNTED_MAGIC;
}

typedef void (^void_block)(void);

static void_block as_block(struct counted_block *b)
{
    return (void_block)(void *)b;
}

/* overwrite a good chunk of stack so that dangling stack blocks would show */
static __attribute__((noinline)) void clobber_stack(void)
{
    volatile unsigned char junk[8192];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (unsigned char)(0xA5 ^ i);
    (void)junk[100];
}

/* ------------------------------------------------------------------ */

struct pair {
    int a, b;
};

static void test_capture_by_value(void)
{
    test_start("capture_by_value", 5);
    int x = 1;
    struct pair p = { 3, 4 };
    int (^get)(void) = ^{
        return x * 100 + p.a * 10 + p.b;
    };
    x = 2;
    p.a = 9;
    CHECK(get() == 134, "the stack block returned %d, expected 134 (values at creation)", get());
    int (^h)(void) = Block_copy(get);
    CHECK(h != NULL, "Block_copy returned NULL");
    x = 5;
    p.b = 7;
    CHECK(h() == 134, "the heap copy returned %d, expected 134", h());
    Block_release(h);
    OK("capture_by_value");
}

/* ------------------------------------------------------------------ */

static void test_byref_shared(void)
{
    test_start("byref_shared", 5);
    __block int n = 0;
    void (^inc)(void) = ^{
        n++;
    };
    inc();
    inc();
    CHECK(n == 2, "after two calls the __block variable is %d", n);

    void (^h)(void) = Block_copy(inc);
    h();
    CHECK(n == 3, "a write by the heap copy is not visible in the frame (n = %d)", n);
    n = 10;
    h();
    CHECK(n == 11, "the heap copy did not see the frame's write (n = %d)", n);
    inc();
    CHECK(n == 12, "the stack block no longer shares the variable with the heap copy (n = %d)", n);

    /* two heap blocks sharing one __block variable */
    __block int shared = 100;
    int (^add)(int) = ^(int d) {
        shared += d;
        return shared;
    };
    int (^get)(void) = ^{
        return shared;
    };
    int (^ha)(int) = Block_copy(add);
    int (^hg)(void) = Block_copy(get);
    CHECK(ha(5) == 105, "add returned a wrong sum");
    CHECK(hg() == 105, "the second heap block does not share the variable (%d)", hg());
    Block_release(ha);
    clobber_stack();
    CHECK(hg() == 105, "releasing one sharer broke the variable for the other (%d)", hg());
    shared = 7;
    CHECK(hg() == 7, "the frame's write is not seen by the remaining heap block (%d)", hg());
    Block_release(hg);
    Block_release(h);
    OK("byref_shared");
}

/* ------------------------------------------------------------------ */

static __attribute__((noinline)) int (^make_outer(int base))(int)
{
    __block int calls = 0;
    int (^inner)(int) = ^(int v) {
        calls++;
        return base + v + calls * 1000;
    };
    int (^outer)(int) = ^(int v) {
        return inner(v) * 2;
    };
    return Block_copy(outer);
}

static void test_block_in_block(void)
{
    test_start("block_in_block", 5);
    int (^o)(int) = make_outer(7);
    clobber_stack();
    int r1 = o(1);
    CHECK(r1 == (7 + 1 + 1000) * 2, "first call returned %d", r1);
    clobber_stack();
    int r2 = o(2);
    CHECK(r2 == (7 + 2 + 2000) * 2, "second call returned %d (inner's __block state lost?)", r2);
    int (^o2)(int) = make_outer(100);
    clobber_stack();
    int r3 = o2(0);
    CHECK(r3 == (100 + 1000) * 2, "a second outer block returned %d", r3);
    CHECK(o(0) == (7 + 0 + 3000) * 2, "the first outer block was affected by the second");
    Block_release(o2);
    Block_release(o);
    OK("block_in_block");
}

/* ------------------------------------------------------------------ */

static __attribute__((noinline)) int (^make_counter(int start))(void)
{
    __block int count = start;
    return Block_copy(^{
        return ++count;
    });
}

static void test_heap_outlives_frame(void)
{
    test_start("heap_outlives_frame", 5);
    int (^a)(void) = make_counter(10);
    int (^b)(void) = make_counter(500);
    clobber_stack();
    CHECK(a() == 11, "counter a");
    CHECK(a() == 12, "counter a, second call");
    clobber_stack();
    CHECK(b() == 501, "counter b");
    CHECK(a() == 13, "counter a after b ran");
    for (int i = 0; i < 1000; i++)
        b();
    CHECK(b() == 1502, "counter b after 1000 calls");
    Block_release(a);
    CHECK(b() == 1503, "counter b after a was released");
    Block_release(b);
    OK("heap_outlives_frame");
}

/* ------------------------------------------------------------------ */

static void test_copy_of_heap(void)
{
    test_start("copy_of_heap", 5);
    struct counts c = { 0, 0, 0 };
    struct counted_block sb;
    counted_init(&sb, &c);
    void_block h = Block_copy(as_block(&sb));
    CHECK((void *)h != (void *)&sb, "Block_copy of a stack block returned the stack block");
    CHECK(atomic_load(&c.copies) == 1, "copy helper ran %d times for one stack->heap copy", atomic_load(&c.copies));

    void_block more[5];
    for (int i = 0; i < 5; i++) {
        more[i] = Block_copy(h);
        CHECK((void *)more[i] == (void *)h, "Block_copy of a heap block returned another pointer");
    }
    CHECK(atomic_load(&c.copies) == 1, "copying the heap block ran the copy helper (%d calls)", atomic_load(&c.copies));
    for (int i = 0; i < 5; i++) {
        Block_release(more[i]);
        CHECK(atomic_load(&c.disposes) == 0, "dispose ran after %d of 6 releases", i + 1);
        h();
    }
    CHECK(atomic_load(&c.runs) == 5, "the heap block ran %d times, expected 5", atomic_load(&c.runs));
    Block_release(h);
    CHECK(atomic_load(&c.disposes) == 1, "the last release ran dispose %d times", atomic_load(&c.disposes));
    CHECK(atomic_load(&c.copies) == 1, "copy helper calls changed to %d", atomic_load(&c.copies));
    OK("copy_of_heap");
}

/* ------------------------------------------------------------------ */

static int global_calls;

static void test_global_block(void)
{
    test_start("global_block", 5);
    void (^g)(void) = ^{
        global_calls++;
    };
    void (^c)(void) = Block_copy(g);
    CHECK((void *)c == (void *)g, "Block_copy of a global block returned another pointer (%p vs %p)", (void *)c,
          (void *)g);
    for (int i = 0; i < 100; i++)
        Block_release(g);
    for (int i = 0; i < 10; i++) {
        void (^d)(void) = Block_copy(g);
        CHECK((void *)d == (void *)g, "copy %d of the global block moved", i);
        Block_release(d);
    }
    c();
    g();
    CHECK(global_calls == 2, "the global block ran %d times", global_calls);
    Block_release(c);
    OK("global_block");
}

/* ------------------------------------------------------------------ */

static void test_block_size(void)
{
    test_start("block_size", 5);
    long a = 1, b = 2, c = 3;
    double d = 4.0;
    long (^blk)(void) = ^{
        return a + b + c + (long)d;
    };
    struct layout *l = (struct layout *)(void *)blk;
    size_t sz = Block_size((void *)blk);
    CHECK(sz == l->descriptor->size, "Block_size %zu, descriptor size %lu", sz, l->descriptor->size);
    CHECK(sz >= 32 + 4 * 8, "Block_size %zu is smaller than the header plus four 8-byte captures", sz);
    long (^h)(void) = Block_copy(blk);
    CHECK(Block_size((void *)h) == sz, "the copy's Block_size %zu differs from %zu", Block_size((void *)h), sz);
    CHECK(h() == 10, "the copy returned %ld", h());
    Block_release(h);

    struct counts cnt = { 0, 0, 0 };
    struct counted_block sb;
    counted_init(&sb, &cnt);
    CHECK(Block_size(&sb) == sizeof sb, "Block_size of the counted block %zu, expected %zu", Block_size(&sb),
          sizeof sb);
    OK("block_size");
}

/* ------------------------------------------------------------------ */

static void test_signature(void)
{
    test_start("signature", 5);
    int k = 3;
    void (^v)(void) = ^{
        (void)k;
    };
    int (^i)(int) = ^(int x) {
        return x + k;
    };
    CHECK(_Block_has_signature((void *)v), "a clang block has no signature");
    const char *sv = _Block_signature((void *)v);
    CHECK(sv != NULL, "_Block_signature returned NULL");
    CHECK(sv[0] == 'v', "signature of void(^)(void) is \"%s\"", sv);
    const char *si = _Block_signature((void *)i);
    CHECK(si != NULL && si[0] == 'i', "signature of int(^)(int) is \"%s\"", si ? si : "(null)");

    void (^hv)(void) = Block_copy(v);
    CHECK(_Block_has_signature((void *)hv), "the heap copy has no signature");
    const char *shv = _Block_signature((void *)hv);
    CHECK(shv != NULL && strcmp(shv, sv) == 0, "the copy's signature \"%s\" differs from \"%s\"",
          shv ? shv : "(null)", sv);
    Block_release(hv);

    struct counts c = { 0, 0, 0 };
    struct counted_block sb;
    counted_init(&sb, &c);
    CHECK(_Block_has_signature(&sb), "the counted block (HAS_SIGNATURE) has no signature");
    const char *sc = _Block_signature(&sb);
    CHECK(sc != NULL && strcmp(sc, "v8@?0") == 0, "counted block signature \"%s\"", sc ? sc : "(null)");
    sb.flags &= ~BLOCK_HAS_SIGNATURE;
    CHECK(!_Block_has_signature(&sb), "a block without BLOCK_HAS_SIGNATURE has a signature");
    CHECK(_Block_signature(&sb) == NULL, "a block without BLOCK_HAS_SIGNATURE gave a signature");
    OK("signature");
}

/* ------------------------------------------------------------------ */

static void test_helpers_counted(void)
{
    test_start("helpers_counted", 5);
    for (int round = 0; round < 100; round++) {
        struct counts c = { 0, 0, 0 };
        struct counted_block sb;
        counted_init(&sb, &c);
        as_block(&sb)();
        CHECK(atomic_load(&c.runs) == 1, "the stack block did not run");
        void_block h = Block_copy(as_block(&sb));
        CHECK(atomic_load(&c.copies) == 1, "round %d: copy helper ran %d times", round, atomic_load(&c.copies));
        struct counted_block *hb = (struct counted_block *)(void *)h;
        CHECK(hb->invoke == counted_invoke && hb->descriptor == &counted_descriptor && hb->counts == &c,
              "the heap copy's fields differ from the stack block's");
        clobber_stack();
        h();
        CHECK(atomic_load(&c.runs) == 2, "the heap copy did not run the invoke");
        sb.magic = 0; /* the stack block is dead; dispose must be called on the heap copy */
        Block_release(h);
        CHECK(atomic_load(&c.disposes) == 1, "round %d: dispose ran %d times", round, atomic_load(&c.disposes));
    }
    OK("helpers_counted");
}

/* ------------------------------------------------------------------ */

static void test_captured_block_helper(void)
{
    test_start("captured_block_helper", 5);
    struct counts c = { 0, 0, 0 };
    struct counted_block sb;
    counted_init(&sb, &c);
    void_block inner = as_block(&sb);
    int tag = 9;
    void_block outer = ^{
        inner();
        (void)tag;
    };
    void_block h = Block_copy(outer);
    CHECK(atomic_load(&c.copies) == 1, "copying the outer block copied the inner %d times", atomic_load(&c.copies));
    h();
    CHECK(atomic_load(&c.runs) == 1, "the outer copy did not run the inner block");
    void_block h2 = Block_copy(h);
    Block_release(h2);
    CHECK(atomic_load(&c.disposes) == 0, "inner disposed while the outer copy lives");
    Block_release(h);
    CHECK(atomic_load(&c.disposes) == 1, "releasing the outer copy disposed the inner %d times",
          atomic_load(&c.disposes));

    /* a __block variable holding the counted block: without ARC the byref copy helper
     * (BLOCK_BYREF_CALLER | BLOCK_FIELD_IS_BLOCK) copies the pointer only, it neither copies
     * nor releases the held block (Apple's runtime: "MRC __block only") */
    struct counts c2 = { 0, 0, 0 };
    struct counted_block sb2;
    counted_init(&sb2, &c2);
    __block void_block held = as_block(&sb2);
    void_block user = ^{
        held();
    };
    void_block hu = Block_copy(user);
    CHECK(atomic_load(&c2.copies) == 0, "moving the __block variable to the heap copied the held block %d times",
          atomic_load(&c2.copies));
    hu();
    held();
    CHECK(atomic_load(&c2.runs) == 2, "the held block ran %d times, expected 2", atomic_load(&c2.runs));
    struct counts c3 = { 0, 0, 0 };
    struct counted_block sb3;
    counted_init(&sb3, &c3);
    held = as_block(&sb3); /* the frame writes the moved variable; the heap copy sees it */
    hu();
    CHECK(atomic_load(&c3.runs) == 1 && atomic_load(&c2.runs) == 2,
          "the heap copy did not see the frame's write to the __block variable");
    void_block hu2 = Block_copy(user);
    CHECK((void *)hu2 != (void *)hu, "two stack->heap copies gave the same pointer");
    Block_release(hu);
    hu2();
    CHECK(atomic_load(&c3.runs) == 2, "the second copy does not share the __block variable");
    Block_release(hu2);
    CHECK(atomic_load(&c2.disposes) == 0 && atomic_load(&c3.disposes) == 0,
          "releasing the byref disposed the held block (it was never copied)");
    OK("captured_block_helper");
}

/* ------------------------------------------------------------------ */

#define RC_THREADS 8
#define RC_ITERS 20000

static void_block rc_block;
static pthread_barrier_t rc_barrier;

static void *rc_thread(void *arg)
{
    (void)arg;
    pthread_barrier_wait(&rc_barrier);
    for (int i = 0; i < RC_ITERS; i++) {
        void_block c = Block_copy(rc_block);
        if ((void *)c != (void *)rc_block)
            return (void *)1;
        if ((i & 1023) == 0)
            c();
        Block_release(c);
    }
    return NULL;
}

static void test_concurrent_refcount(void)
{
    test_start("concurrent_refcount", 20);
    struct counts c = { 0, 0, 0 };
    struct counted_block sb;
    counted_init(&sb, &c);
    rc_block = Block_copy(as_block(&sb));
    pthread_barrier_init(&rc_barrier, NULL, RC_THREADS);
    pthread_t t[RC_THREADS];
    for (int i = 0; i < RC_THREADS; i++)
        pthread_create(&t[i], NULL, rc_thread, NULL);
    for (int i = 0; i < RC_THREADS; i++) {
        void *r;
        pthread_join(t[i], &r);
        CHECK(r == NULL, "a thread saw Block_copy of the heap block return another pointer");
    }
    pthread_barrier_destroy(&rc_barrier);
    CHECK(atomic_load(&c.disposes) == 0, "dispose ran during balanced concurrent copy/release");
    CHECK(atomic_load(&c.copies) == 1, "copy helper ran %d times", atomic_load(&c.copies));
    int expected_runs = RC_THREADS * ((RC_ITERS + 1023) / 1024);
    CHECK(atomic_load(&c.runs) == expected_runs, "runs %d, expected %d", atomic_load(&c.runs), expected_runs);
    Block_release(rc_block);
    CHECK(atomic_load(&c.disposes) == 1, "final release ran dispose %d times", atomic_load(&c.disposes));
    OK("concurrent_refcount");
}

/* ------------------------------------------------------------------ */

int main(void)
{
    test_capture_by_value();
    test_byref_shared();
    test_block_in_block();
    test_heap_outlives_frame();
    test_copy_of_heap();
    test_global_block();
    test_block_size();
    test_signature();
    test_helpers_counted();
    test_captured_block_helper();
    test_concurrent_refcount();
    return 0;
}
