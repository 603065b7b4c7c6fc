/*
 * The runtime's per-thread slots, in the initial-exec TLS model.
 *
 * Rust's `thread_local!` in a shared library uses the general-dynamic model: every access
 * calls `__tls_get_addr`, which costs more than the whole `dispatch_sync` fast path should.
 * Stable Rust cannot choose a TLS model, C can: this variable lives in the static TLS block
 * at a fixed offset from the thread pointer, so its address is one load from the GOT plus
 * the thread pointer (`tls.rs` reads it with inline asm on x86_64; elsewhere it calls the
 * accessor below). A library loaded with `dlopen` takes its initial-exec variables out of
 * glibc's static TLS surplus (`glibc.rtld.optional_static_tls`, 512 bytes by default); 56
 * bytes fit in it easily.
 *
 * Hidden: neither symbol is exported from libdispatch.so. No destructor: the slots hold a
 * pointer into the thread's own stack, a cached id, and the block cache, which
 * sys/slab.rs frees itself (a worker when it retires, other threads through a Rust
 * thread-local destructor registered on the cache's slow path).
 */
#include <stdint.h>

struct dispatch_thread_slots {
	const void *top; /* innermost frame (queue/frames.rs), NULL outside any queue */
	uint32_t tid;    /* cached gettid(), 0 until first use and again in a forked child */
	uint64_t slab[5]; /* sys/slab.rs: the per-thread work-item block cache, zero = empty */
};

__attribute__((visibility("hidden"), tls_model("initial-exec")))
__thread struct dispatch_thread_slots _dispatch_thread_slots;

__attribute__((visibility("hidden")))
struct dispatch_thread_slots *_dispatch_thread_slots_get(void)
{
	return &_dispatch_thread_slots;
}
