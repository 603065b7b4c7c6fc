/*
 * dispatch/source.h: dispatch_source_t, the source types (addresses of library data
 * objects) and the flags of each type.
 *
 * Hand-written C. The header layout is described in dispatch/dispatch.h.
 */
/* First and outside the guard: see dispatch/object.h. */
#include <dispatch/generated/functions.h>

#ifndef __DISPATCH_SOURCE__
#define __DISPATCH_SOURCE__

#include <dispatch/base.h>
#include <dispatch/object.h>

DISPATCH_DECL(dispatch_source);

typedef const struct dispatch_source_type_s *dispatch_source_type_t;
struct dispatch_source_extended_data_s {
    unsigned long data;
    unsigned long status;
};
typedef struct dispatch_source_extended_data_s *dispatch_source_extended_data_t;

/* Their values are part of the ABI (shared/abi/MACROS.md). */
#define DISPATCH_SOURCE_TYPE_DATA_ADD (&_dispatch_source_type_data_add)
#define DISPATCH_SOURCE_TYPE_DATA_OR (&_dispatch_source_type_data_or)
#define DISPATCH_SOURCE_TYPE_DATA_REPLACE (&_dispatch_source_type_data_replace)
#define DISPATCH_SOURCE_TYPE_TIMER (&_dispatch_source_type_timer)
#define DISPATCH_SOURCE_TYPE_READ (&_dispatch_source_type_read)
#define DISPATCH_SOURCE_TYPE_WRITE (&_dispatch_source_type_write)
#define DISPATCH_SOURCE_TYPE_SIGNAL (&_dispatch_source_type_signal)
#define DISPATCH_SOURCE_TYPE_PROC (&_dispatch_source_type_proc)
#define DISPATCH_SOURCE_TYPE_VNODE (&_dispatch_source_type_vnode)
#define DISPATCH_SOURCE_TYPE_MEMORYPRESSURE (&_dispatch_source_type_memorypressure)
#define DISPATCH_TIMER_STRICT 0x1ul
#define DISPATCH_PROC_EXIT 0x80000000ul
#define DISPATCH_PROC_FORK 0x40000000ul
#define DISPATCH_PROC_EXEC 0x20000000ul
#define DISPATCH_PROC_SIGNAL 0x08000000ul
#define DISPATCH_VNODE_DELETE 0x1ul
#define DISPATCH_VNODE_WRITE 0x2ul
#define DISPATCH_VNODE_EXTEND 0x4ul
#define DISPATCH_VNODE_ATTRIB 0x8ul
#define DISPATCH_VNODE_LINK 0x10ul
#define DISPATCH_VNODE_RENAME 0x20ul
#define DISPATCH_VNODE_REVOKE 0x40ul
#define DISPATCH_VNODE_FUNLOCK 0x100ul
#define DISPATCH_MEMORYPRESSURE_NORMAL 0x1ul
#define DISPATCH_MEMORYPRESSURE_WARN 0x2ul
#define DISPATCH_MEMORYPRESSURE_CRITICAL 0x4ul

#ifdef __cplusplus
extern "C" {
#endif
DISPATCH_EXPORT const struct dispatch_source_type_s _dispatch_source_type_data_add;
DISPATCH_EXPORT const struct dispatch_source_type_s _dispatch_source_type_data_or;
DISPATCH_EXPORT const struct dispatch_source_type_s _dispatch_source_type_data_replace;
DISPATCH_EXPORT const struct dispatch_source_type_s _dispatch_source_type_timer;
DISPATCH_EXPORT const struct dispatch_source_type_s _dispatch_source_type_read;
DISPATCH_EXPORT const struct dispatch_source_type_s _dispatch_source_type_write;
DISPATCH_EXPORT const struct dispatch_source_type_s _dispatch_source_type_signal;
DISPATCH_EXPORT const struct dispatch_source_type_s _dispatch_source_type_proc;
DISPATCH_EXPORT const struct dispatch_source_type_s _dispatch_source_type_vnode;
DISPATCH_EXPORT const struct dispatch_source_type_s _dispatch_source_type_memorypressure;
#ifdef __cplusplus
}
#endif

#endif /* __DISPATCH_SOURCE__ */
