/*
 * dispatch/queue.h: queue and queue-attribute types, priorities and QoS classes, the
 * queue constants, the data objects their macros take the address of, and the inline
 * dispatch_get_main_queue.
 *
 * Hand-written C. The header layout is described in dispatch/dispatch.h.
 */
/* First and outside the guard: see dispatch/object.h. */
#include <dispatch/generated/functions.h>

#ifndef __DISPATCH_QUEUE__
#define __DISPATCH_QUEUE__

#include <dispatch/base.h>
#include <dispatch/object.h>
#include <dispatch/time.h>

DISPATCH_DECL(dispatch_queue);
DISPATCH_DECL_SUBCLASS(dispatch_queue_global, dispatch_queue);
DISPATCH_DECL_SUBCLASS(dispatch_queue_serial, dispatch_queue);
DISPATCH_DECL_SUBCLASS(dispatch_queue_main, dispatch_queue_serial);
DISPATCH_DECL_SUBCLASS(dispatch_queue_concurrent, dispatch_queue);
DISPATCH_DECL(dispatch_queue_attr);

typedef long dispatch_queue_priority_t;
typedef unsigned int dispatch_qos_class_t;
typedef unsigned long dispatch_autorelease_frequency_t;

/* Their values are part of the ABI (shared/abi/MACROS.md). */
#define DISPATCH_QUEUE_PRIORITY_HIGH 2
#define DISPATCH_QUEUE_PRIORITY_DEFAULT 0
#define DISPATCH_QUEUE_PRIORITY_LOW (-2)
#define DISPATCH_QUEUE_PRIORITY_BACKGROUND INT16_MIN
#define DISPATCH_QUEUE_OVERCOMMIT 0x2ull

/* The reference Linux header has no QOS_CLASS_*; Apple-platform code uses them. */
#ifndef QOS_CLASS_USER_INTERACTIVE
#define QOS_CLASS_USER_INTERACTIVE 0x21
#define QOS_CLASS_USER_INITIATED 0x19
#define QOS_CLASS_DEFAULT 0x15
#define QOS_CLASS_UTILITY 0x11
#define QOS_CLASS_BACKGROUND 0x09
#define QOS_CLASS_MAINTENANCE 0x05
#define QOS_CLASS_UNSPECIFIED 0x00
#endif
#define QOS_MIN_RELATIVE_PRIORITY (-15)

#define DISPATCH_AUTORELEASE_FREQUENCY_INHERIT 0
#define DISPATCH_AUTORELEASE_FREQUENCY_WORK_ITEM 1
#define DISPATCH_AUTORELEASE_FREQUENCY_NEVER 2

#define DISPATCH_TARGET_QUEUE_DEFAULT NULL
#define DISPATCH_CURRENT_QUEUE_LABEL NULL
#define DISPATCH_APPLY_AUTO ((dispatch_queue_t)0)
#define DISPATCH_QUEUE_SERIAL NULL
#define DISPATCH_QUEUE_SERIAL_INACTIVE dispatch_queue_attr_make_initially_inactive(DISPATCH_QUEUE_SERIAL)
#define DISPATCH_QUEUE_CONCURRENT ((dispatch_queue_attr_t)&_dispatch_queue_attr_concurrent)
#define DISPATCH_QUEUE_CONCURRENT_INACTIVE dispatch_queue_attr_make_initially_inactive(DISPATCH_QUEUE_CONCURRENT)

#ifdef __cplusplus
extern "C" {
#endif
/* Data objects the macros above and dispatch_get_main_queue take the address of. */
DISPATCH_EXPORT struct dispatch_queue_s _dispatch_main_q;
DISPATCH_EXPORT struct dispatch_queue_attr_s _dispatch_queue_attr_concurrent;
#ifdef __BLOCKS__
/* By hand: its block type has no typedef for cbindgen to print. */
DISPATCH_EXPORT void dispatch_apply(size_t iterations, dispatch_queue_t queue, void (^block)(size_t iteration));
#endif
#ifdef __cplusplus
}
#endif

/* Inline (expanded into the client binary): the main queue is the address of a data object. */
DISPATCH_INLINE DISPATCH_ALWAYS_INLINE dispatch_queue_main_t
dispatch_get_main_queue(void)
{
    return (dispatch_queue_main_t)&_dispatch_main_q;
}

#endif /* __DISPATCH_QUEUE__ */
