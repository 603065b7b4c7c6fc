/*
 * dispatch/time.h: dispatch_time_t and its constants.
 *
 * Hand-written C. The header layout is described in dispatch/dispatch.h.
 */
/* First and outside the guard: see dispatch/object.h. */
#include <dispatch/generated/functions.h>

#ifndef __DISPATCH_TIME__
#define __DISPATCH_TIME__

#include <dispatch/base.h>

typedef uint64_t dispatch_time_t;

/* Their values are part of the ABI (shared/abi/MACROS.md). */
#define DISPATCH_TIME_NOW (0ull)
#define DISPATCH_TIME_FOREVER (~0ull)
#define DISPATCH_WALLTIME_NOW (~1ull)
#define NSEC_PER_SEC 1000000000ull
#define NSEC_PER_MSEC 1000000ull
#define USEC_PER_SEC 1000000ull
#define NSEC_PER_USEC 1000ull

#endif /* __DISPATCH_TIME__ */
