/*
 * dispatch/io.h: dispatch_io_t, descriptors, the channel types and flags, and the
 * handler types of the channel and convenience I/O functions.
 *
 * Hand-written C. The header layout is described in dispatch/dispatch.h.
 */
/* First and outside the guard: see dispatch/object.h. */
#include <dispatch/generated/functions.h>

#ifndef __DISPATCH_IO__
#define __DISPATCH_IO__

#include <dispatch/base.h>
#include <dispatch/object.h>
#include <dispatch/data.h>

DISPATCH_DECL(dispatch_io);

typedef int dispatch_fd_t;
typedef unsigned long dispatch_io_type_t;
typedef unsigned long dispatch_io_close_flags_t;
typedef unsigned long dispatch_io_interval_flags_t;
typedef void (*dispatch_io_handler_function_t)(void *context, bool done, dispatch_data_t data, int error);
typedef void (*dispatch_io_cleanup_function_t)(void *context, int error);
typedef void (*dispatch_io_data_handler_function_t)(void *context, dispatch_data_t data, int error);
#ifdef __BLOCKS__
typedef void (^dispatch_io_handler_t)(bool done, dispatch_data_t data, int error);
typedef void (^dispatch_io_cleanup_handler_t)(int error);
typedef void (^dispatch_io_data_handler_t)(dispatch_data_t data, int error);
#endif

/* Their values are part of the ABI (shared/abi/MACROS.md). */
#define DISPATCH_IO_STREAM 0
#define DISPATCH_IO_RANDOM 1
#define DISPATCH_IO_STOP 0x1
#define DISPATCH_IO_STRICT_INTERVAL 0x1

#endif /* __DISPATCH_IO__ */
