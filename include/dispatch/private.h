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

#ifdef __cplusplus
}
#endif

#endif /* __DISPATCH_PRIVATE__ */
