/*
 * dispatch/workloop.h: dispatch_workloop_t, a subclass of dispatch_queue_t. Its functions
 * are in the generated prototypes.
 *
 * Hand-written C. The header layout is described in dispatch/dispatch.h.
 */
/* First and outside the guard: see dispatch/object.h. */
#include <dispatch/generated/functions.h>

#ifndef __DISPATCH_WORKLOOP__
#define __DISPATCH_WORKLOOP__

#include <dispatch/base.h>
#include <dispatch/object.h>
#include <dispatch/queue.h>

DISPATCH_DECL_SUBCLASS(dispatch_workloop, dispatch_queue);

#endif /* __DISPATCH_WORKLOOP__ */
