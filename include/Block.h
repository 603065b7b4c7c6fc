/*
 * Block.h: the Blocks runtime interface (libdispatch carries its own Blocks runtime, so
 * `clang -fblocks prog.c -ldispatch` needs nothing else). The same declarations as
 * libBlocksRuntime's Block.h: a program may include either and link either or both.
 */
#ifndef _BLOCK_H_
#define _BLOCK_H_

#include <stddef.h>

#if defined(__cplusplus)
#define BLOCK_EXPORT extern "C" __attribute__((__visibility__("default")))
#else
#define BLOCK_EXPORT extern __attribute__((__visibility__("default")))
#endif

/* Copies a stack block to the heap, or retains a heap block; returns what to release. */
BLOCK_EXPORT void *_Block_copy(const void *aBlock);
/* Releases a block returned by _Block_copy. */
BLOCK_EXPORT void _Block_release(const void *aBlock);

/* Used by the compiler's copy/dispose helpers. */
BLOCK_EXPORT void _Block_object_assign(void *destAddr, const void *object, const int flags);
BLOCK_EXPORT void _Block_object_dispose(const void *object, const int flags);

/* The class objects clang's code points a block's isa at. */
BLOCK_EXPORT void *_NSConcreteGlobalBlock[32];
BLOCK_EXPORT void *_NSConcreteStackBlock[32];

#define Block_copy(...) ((__typeof(__VA_ARGS__))_Block_copy((const void *)(__VA_ARGS__)))
#define Block_release(...) _Block_release((const void *)(__VA_ARGS__))

#endif /* _BLOCK_H_ */
