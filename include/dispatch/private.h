/*
 * libdispatch for Linux, in Rust: system programming interfaces (SPI).
 *
 * The exports of the reference Linux libdispatch that are not part of Apple's public
 * headers: private queue, data and source interfaces, the runtime's fork and debugging
 * hooks, and the os_object runtime. Programs built against the reference library's
 * private headers resolve these names here. The Rust definitions are in src/ffi/spi/,
 * one file per section below.
 */
#ifndef __DISPATCH_PRIVATE__
#define __DISPATCH_PRIVATE__

#include <dispatch/dispatch.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Workloops (private/workloop_private.h; src/ffi/spi/workloop.rs) ---- */
typedef uint64_t dispatch_workloop_param_flags_t;
#define DISPATCH_WORKLOOP_NONE ((dispatch_workloop_param_flags_t)0x0)
#define DISPATCH_WORKLOOP_FIXED_PRIORITY ((dispatch_workloop_param_flags_t)0x1)
void dispatch_workloop_set_qos_class_floor(dispatch_workloop_t workloop, dispatch_qos_class_t qos,
                                           int relpri, dispatch_workloop_param_flags_t flags);
void dispatch_workloop_set_qos_class(dispatch_workloop_t workloop, dispatch_qos_class_t qos,
                                     dispatch_workloop_param_flags_t flags);
void dispatch_workloop_set_cpupercent(dispatch_workloop_t workloop, uint8_t percent, uint32_t refillms);
dispatch_workloop_t dispatch_workloop_copy_current(void);
bool dispatch_workloop_is_current(dispatch_workloop_t workloop);
bool _dispatch_workloop_should_yield_4NW(void);

#ifdef __cplusplus
}
#endif

#endif /* __DISPATCH_PRIVATE__ */
