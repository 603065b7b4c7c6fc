/*
 * dispatch/semaphore.h: dispatch_semaphore_t. Its functions are in the generated
 * prototypes.
 *
 * Hand-written C. The header layout is described in dispatch/dispatch.h.
 */
/* First and outside the guard: see dispatch/object.h. */
#include <dispatch/generated/functions.h>

#ifndef __DISPATCH_SEMAPHORE__
#define __DISPATCH_SEMAPHORE__

#include <dispatch/base.h>
#include <dispatch/object.h>

DISPATCH_DECL(dispatch_semaphore);

#endif /* __DISPATCH_SEMAPHORE__ */
