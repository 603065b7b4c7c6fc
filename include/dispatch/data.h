/*
 * dispatch/data.h: dispatch_data_t, its applier types, dispatch_data_empty and the
 * destructor constants, and the data objects those macros name.
 *
 * Hand-written C. The header layout is described in dispatch/dispatch.h.
 */
/* First and outside the guard: see dispatch/object.h. */
#include <dispatch/generated/functions.h>

#ifndef __DISPATCH_DATA__
#define __DISPATCH_DATA__

#include <dispatch/base.h>
#include <dispatch/object.h>

DISPATCH_DECL(dispatch_data);

typedef bool (*dispatch_data_applier_function_t)(void *context, dispatch_data_t region, size_t offset,
                                                 const void *buffer, size_t size);
#ifdef __BLOCKS__
typedef bool (^dispatch_data_applier_t)(dispatch_data_t region, size_t offset, const void *buffer, size_t size);
#endif

/* Part of the ABI (shared/abi/MACROS.md): DESTRUCTOR_FREE/_MUNMAP expand to the value of
 * the library's variable, read by the client binary. */
#define dispatch_data_empty ((dispatch_data_t)&_dispatch_data_empty)
#define DISPATCH_DATA_DESTRUCTOR_DEFAULT NULL
#define DISPATCH_DATA_DESTRUCTOR_FREE (_dispatch_data_destructor_free)
#define DISPATCH_DATA_DESTRUCTOR_MUNMAP (_dispatch_data_destructor_munmap)
#define DISPATCH_DATA_DESTRUCTOR_NONE (_dispatch_data_destructor_none)

#ifdef __cplusplus
extern "C" {
#endif
DISPATCH_EXPORT struct dispatch_data_s _dispatch_data_empty;
#ifdef __BLOCKS__
DISPATCH_EXPORT const dispatch_block_t _dispatch_data_destructor_free;
DISPATCH_EXPORT const dispatch_block_t _dispatch_data_destructor_munmap;
DISPATCH_EXPORT const dispatch_block_t _dispatch_data_destructor_none;
#else
/* Without blocks these are opaque markers: cast to dispatch_function_t for dispatch_data_create_f. */
DISPATCH_EXPORT const void *const _dispatch_data_destructor_free;
DISPATCH_EXPORT const void *const _dispatch_data_destructor_munmap;
DISPATCH_EXPORT const void *const _dispatch_data_destructor_none;
#endif
#ifdef __cplusplus
}
#endif

#endif /* __DISPATCH_DATA__ */
