/*
 * dispatch/once.h: dispatch_once_t and the inline fast path of dispatch_once and
 * dispatch_once_f (shared/abi/MACROS.md: the client binary tests the predicate against
 * ~0l itself and calls the library only while it is not yet ~0l).
 *
 * Hand-written C. The header layout is described in dispatch/dispatch.h.
 */
/* First and outside the guard: see dispatch/object.h. */
#include <dispatch/generated/functions.h>

#ifndef __DISPATCH_ONCE__
#define __DISPATCH_ONCE__

#include <dispatch/base.h>
#include <dispatch/object.h>

typedef intptr_t dispatch_once_t;

/* Both functions are declared here, not by cbindgen: the inline functions below call them
 * and are read before the generated prototypes, and after the #define below a generated
 * prototype of dispatch_once_f would declare _dispatch_once_f instead. */
#ifdef __cplusplus
extern "C" {
#endif
void dispatch_once_f(dispatch_once_t *predicate, void *context, dispatch_function_t function);
#ifdef __BLOCKS__
DISPATCH_EXPORT void dispatch_once(dispatch_once_t *predicate, dispatch_block_t block);
#endif
#ifdef __cplusplus
}
#endif

DISPATCH_INLINE DISPATCH_ALWAYS_INLINE void
_dispatch_once_f(dispatch_once_t *predicate, void *context, dispatch_function_t function)
{
    if (DISPATCH_EXPECT(*predicate, ~0l) != ~0l) {
        dispatch_once_f(predicate, context, function);
    } else {
        dispatch_compiler_barrier();
    }
}
#undef dispatch_once_f
#define dispatch_once_f _dispatch_once_f

#ifdef __BLOCKS__
DISPATCH_INLINE DISPATCH_ALWAYS_INLINE void
_dispatch_once(dispatch_once_t *predicate, dispatch_block_t block)
{
    if (DISPATCH_EXPECT(*predicate, ~0l) != ~0l) {
        dispatch_once(predicate, block);
    } else {
        dispatch_compiler_barrier();
    }
}
#undef dispatch_once
#define dispatch_once _dispatch_once
#endif /* __BLOCKS__ */

#endif /* __DISPATCH_ONCE__ */
