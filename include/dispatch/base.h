/*
 * dispatch/base.h: what every dispatch header builds on: the C library headers the
 * interface uses, the attribute macros, and dispatch_function_t.
 *
 * Hand-written C (reviewed as C). The header layout is described in dispatch/dispatch.h.
 * This header declares no function, so unlike the other topic headers it does not pull
 * in the generated prototypes.
 */
#ifndef __DISPATCH_BASE__
#define __DISPATCH_BASE__

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <time.h>
#include <sys/types.h>

struct timespec; /* complete in <time.h> under POSIX; strict C99 sees only this */

#if defined(__GNUC__) || defined(__clang__)
#define DISPATCH_EXPORT extern __attribute__((__visibility__("default")))
#define DISPATCH_NORETURN __attribute__((__noreturn__))
#define DISPATCH_INLINE static __inline__
#define DISPATCH_ALWAYS_INLINE __attribute__((__always_inline__))
#define DISPATCH_EXPECT(x, v) __builtin_expect((x), (v))
#define dispatch_compiler_barrier() __asm__ __volatile__("" ::: "memory")
#define DISPATCH_TRANSPARENT_UNION __attribute__((__transparent_union__))
#else
#define DISPATCH_EXPORT extern
#define DISPATCH_NORETURN
#define DISPATCH_INLINE static inline
#define DISPATCH_ALWAYS_INLINE
#define DISPATCH_EXPECT(x, v) (x)
#define dispatch_compiler_barrier() do { } while (0)
#define DISPATCH_TRANSPARENT_UNION
#endif

typedef void (*dispatch_function_t)(void *);

#endif /* __DISPATCH_BASE__ */
