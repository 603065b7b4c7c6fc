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
/* ---- Data transforms (private/data_private.h; src/ffi/spi/data.rs) ----
 * Format types are data objects compared by their content, so copies made by copy
 * relocations work. Two families: none/base32/base32hex/base64 (bytes; RFC 4648 with
 * padding) and utf8/utf16le/utf16be/utf_any (text; utf_any is input only and picks the
 * format by byte-order mark, UTF-8 without one). UTF-16 output starts with a BOM. The
 * result is NULL for invalid input or a transform across families. */
typedef const struct dispatch_data_format_type_s *dispatch_data_format_type_t;
DISPATCH_EXPORT const struct dispatch_data_format_type_s _dispatch_data_format_type_none;
DISPATCH_EXPORT const struct dispatch_data_format_type_s _dispatch_data_format_type_base32;
DISPATCH_EXPORT const struct dispatch_data_format_type_s _dispatch_data_format_type_base32hex;
DISPATCH_EXPORT const struct dispatch_data_format_type_s _dispatch_data_format_type_base64;
DISPATCH_EXPORT const struct dispatch_data_format_type_s _dispatch_data_format_type_utf8;
DISPATCH_EXPORT const struct dispatch_data_format_type_s _dispatch_data_format_type_utf16le;
DISPATCH_EXPORT const struct dispatch_data_format_type_s _dispatch_data_format_type_utf16be;
DISPATCH_EXPORT const struct dispatch_data_format_type_s _dispatch_data_format_type_utf_any;
#define DISPATCH_DATA_FORMAT_TYPE_NONE (&_dispatch_data_format_type_none)
#define DISPATCH_DATA_FORMAT_TYPE_BASE32 (&_dispatch_data_format_type_base32)
#define DISPATCH_DATA_FORMAT_TYPE_BASE32HEX (&_dispatch_data_format_type_base32hex)
#define DISPATCH_DATA_FORMAT_TYPE_BASE64 (&_dispatch_data_format_type_base64)
#define DISPATCH_DATA_FORMAT_TYPE_UTF8 (&_dispatch_data_format_type_utf8)
#define DISPATCH_DATA_FORMAT_TYPE_UTF16LE (&_dispatch_data_format_type_utf16le)
#define DISPATCH_DATA_FORMAT_TYPE_UTF16BE (&_dispatch_data_format_type_utf16be)
#define DISPATCH_DATA_FORMAT_TYPE_UTF_ANY (&_dispatch_data_format_type_utf_any)
DISPATCH_EXPORT dispatch_data_t dispatch_data_create_with_transform(dispatch_data_t data,
        dispatch_data_format_type_t input_type, dispatch_data_format_type_t output_type);

/* ---- Benchmark (private/benchmark.h; src/ffi/spi/benchmark.rs) ----
 * Calls the function count times on the calling thread and returns the average
 * nanoseconds per call, minus the loop's own per-call cost (measured once per process
 * with an empty function); 0 when count is 0 (nothing is called) or when a call costs
 * less than the loop. */
DISPATCH_EXPORT uint64_t dispatch_benchmark_f(size_t count, void *ctxt, dispatch_function_t func);
#ifdef __BLOCKS__
DISPATCH_EXPORT uint64_t dispatch_benchmark(size_t count, dispatch_block_t block);
#endif

#ifdef __cplusplus
}
#endif

#endif /* __DISPATCH_PRIVATE__ */
