/*
 * counted_block.h: a block literal built by hand, the way clang lays one out (Blocks ABI:
 * isa, flags, reserved, invoke, descriptor, then captures), whose copy and dispose helpers
 * count their calls. The block tests use it to check that the library copies what it keeps
 * once and releases it once, and never copies what it runs synchronously, without reading
 * freed memory. Include after check.h; needs clang -fblocks.
 *
 *   counted_init(&b, &counts)   a stack block (flags HAS_COPY_DISPOSE) counting into counts
 *   as_block(&b)                the same, typed as dispatch_block_t
 *   b.invoke.indexed = counted_invoke_indexed   makes it a void (^)(size_t) block
 *   wait_for_value(&a, want, ms)  bounded wait until an atomic int equals want
 */
#ifndef CAPI_TESTS_COUNTED_BLOCK_H
#define CAPI_TESTS_COUNTED_BLOCK_H

#include "check.h"

#define BLOCK_HAS_COPY_DISPOSE (1 << 25)

struct counts {
    atomic_int copies;
    atomic_int disposes;
    atomic_int runs;
    atomic_int tid; /* thread of the last run */
};

struct counted_desc {
    unsigned long reserved;
    unsigned long size;
    void (*copy)(void *dst, const void *src);
    void (*dispose)(const void *);
};

struct counted_block;
union counted_invoke_fn {
    void (*plain)(struct counted_block *);
    void (*indexed)(struct counted_block *, size_t);
};

struct counted_block {
    void *isa;
    int flags;
    int reserved;
    union counted_invoke_fn invoke;
    const struct counted_desc *descriptor;
    struct counts *counts;
};

static inline void counted_invoke(struct counted_block *b)
{
    atomic_store(&b->counts->tid, (int)my_tid());
    atomic_fetch_add(&b->counts->runs, 1);
}

static inline void counted_invoke_indexed(struct counted_block *b, size_t i)
{
    (void)i;
    atomic_fetch_add(&b->counts->runs, 1);
}

static inline void counted_copy(void *dst, const void *src)
{
    (void)dst;
    atomic_fetch_add(&((const struct counted_block *)src)->counts->copies, 1);
}

static inline void counted_dispose(const void *p)
{
    atomic_fetch_add(&((const struct counted_block *)p)->counts->disposes, 1);
}

static const struct counted_desc counted_descriptor = {
    0, sizeof(struct counted_block), counted_copy, counted_dispose,
};

static inline void *stack_isa(void)
{
    volatile int v = 1;
    void (^b)(void) = ^{
        (void)v;
    };
    return *(void **)(void *)b;
}

static inline void counted_init(struct counted_block *b, struct counts *c)
{
    memset(c, 0, sizeof *c);
    b->isa = stack_isa();
    b->flags = BLOCK_HAS_COPY_DISPOSE;
    b->reserved = 0;
    b->invoke.plain = counted_invoke;
    b->descriptor = &counted_descriptor;
    b->counts = c;
}

static inline dispatch_block_t as_block(struct counted_block *b)
{
    return (dispatch_block_t)(void *)b;
}

/* waits (bounded) until *a == want; true if it got there */
static inline bool wait_for_value(atomic_int *a, int want, int ms)
{
    uint64_t deadline = now_ns() + (uint64_t)ms * 1000000ull;
    while (atomic_load(a) != want) {
        if (now_ns() > deadline)
            return false;
        sleep_ms(1);
    }
    return true;
}

#endif /* CAPI_TESTS_COUNTED_BLOCK_H */
