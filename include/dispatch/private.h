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
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* ==== Queue SPI (private/queue_private.h, layout_private.h) ==== */

/* Legacy widths for dispatch_queue_set_width. */
#define DISPATCH_QUEUE_WIDTH_ACTIVE_CPUS -1
#define DISPATCH_QUEUE_WIDTH_MAX_PHYSICAL_CPUS -2
#define DISPATCH_QUEUE_WIDTH_MAX_LOGICAL_CPUS -3

/* Concurrency limit of a concurrent queue, effective for items submitted after the call
 * (it runs as a barrier). 0 and 1 mean one at a time; negative values are the CPU counts
 * above. Global queues ignore it; a serial queue aborts. Deprecated: use
 * DISPATCH_QUEUE_CONCURRENT queues. */
void dispatch_queue_set_width(dispatch_queue_t dq, long width);

/* QoS of an inactive queue or source (aborts after activation). */
void dispatch_set_qos_class(dispatch_object_t object, dispatch_qos_class_t qos_class,
		int relative_priority);
void dispatch_set_qos_class_floor(dispatch_object_t object, dispatch_qos_class_t qos_class,
		int relative_priority);
void dispatch_set_qos_class_fallback(dispatch_object_t object,
		dispatch_qos_class_t qos_class);

/* Queues made with this attribute target an overcommit global queue (or not). */
dispatch_queue_attr_t dispatch_queue_attr_make_with_overcommit(dispatch_queue_attr_t attr,
		bool overcommit);

/* The label is kept, not copied: the string must outlive the queue. */
void dispatch_queue_set_label_nocopy(dispatch_queue_t queue, const char *label);

/* dispatch_async_f at the submitter's QoS class, even over the queue's own. */
void dispatch_async_enforce_qos_class_f(dispatch_queue_t queue, void *context,
		dispatch_function_t work);

/* Field offsets for debuggers (version 6 layout: offset, size; 0/0 when absent). */
struct dispatch_queue_offsets_s {
	uint16_t dqo_version;
	uint16_t dqo_label;
	uint16_t dqo_label_size;
	uint16_t dqo_flags;
	uint16_t dqo_flags_size;
	uint16_t dqo_serialnum;
	uint16_t dqo_serialnum_size;
	uint16_t dqo_width;
	uint16_t dqo_width_size;
	uint16_t dqo_running;
	uint16_t dqo_running_size;
	uint16_t dqo_suspend_cnt;
	uint16_t dqo_suspend_cnt_size;
	uint16_t dqo_target_queue;
	uint16_t dqo_target_queue_size;
	uint16_t dqo_priority;
	uint16_t dqo_priority_size;
};
extern const struct dispatch_queue_offsets_s dispatch_queue_offsets;

/* ==== Vouchers (os/voucher_private.h): none on Linux; any voucher is ignored ==== */

typedef void *voucher_t;
typedef unsigned long pthread_priority_t;

dispatch_queue_t dispatch_queue_create_with_accounting_override_voucher(const char *label,
		dispatch_queue_attr_t attr, voucher_t voucher);

#ifdef __BLOCKS__
dispatch_block_t dispatch_block_create_with_voucher(dispatch_block_flags_t flags,
		voucher_t voucher, dispatch_block_t block);
dispatch_block_t dispatch_block_create_with_voucher_and_qos_class(
		dispatch_block_flags_t flags, voucher_t voucher, dispatch_qos_class_t qos_class,
		int relative_priority, dispatch_block_t block);
/* pthread_priority_t: QoS class bits 0x003fff00 (one per class from bit 8), relative
 * priority minus one in the low byte; 0 means no class. */
dispatch_block_t _dispatch_block_create(dispatch_block_flags_t flags, voucher_t voucher,
		pthread_priority_t priority, dispatch_block_t block);
#endif

/* ==== os_object runtime (os/object_private.h) ==== */

/* Dispatch objects, or objects from _os_object_alloc: { const vtable *isa; int ref_cnt;
 * int xref_cnt; ... } with vtable { void (*xref_dispose)(_os_object_t);
 * void (*dispose)(_os_object_t); } (NULL entries: default disposal). */
typedef void *_os_object_t;

_os_object_t _os_object_alloc(const void *cls, size_t size);
_os_object_t _os_object_alloc_realized(const void *cls, size_t size);
void _os_object_dealloc(_os_object_t object);
_os_object_t _os_object_retain(_os_object_t object);
_os_object_t _os_object_retain_with_resurrect(_os_object_t object);
void _os_object_release(_os_object_t object);
_os_object_t _os_object_retain_internal(_os_object_t object);
void _os_object_release_internal(_os_object_t object);
_os_object_t _os_object_retain_internal_n(_os_object_t object, uint16_t n);
void _os_object_release_internal_n(_os_object_t object, uint16_t n);

/* ==== Runtime hooks (private/private.h, src/internal.h) ==== */

/* Idempotent: everything initialises itself on first use. */
void libdispatch_init(void);
/* True once the library has started a thread of its own. */
bool _dispatch_is_multithreaded(void);
/* While set, starting the library's first thread aborts (BUG IN CLIENT). */
void _dispatch_prohibit_transition_to_multithreaded(bool prohibit);
/* No-op on Linux (launchd's kqueue hook on Apple platforms). */
void _dispatch_poll_for_events_4launchd(void);
/* Autorelease-pool hooks an Objective-C/Swift runtime sets; called around each item of
 * queues with DISPATCH_AUTORELEASE_FREQUENCY_WORK_ITEM. NULL by default. */
extern void *(*_dispatch_begin_NSAutoReleasePool)(void);
extern void (*_dispatch_end_NSAutoReleasePool)(void *);
/* A line to stderr. */
void _dispatch_log(const char *msg, ...) __attribute__((__format__(__printf__, 1, 2)));
void _dispatch_bug(size_t line, uintptr_t val);
/* I/O tuning: DISPATCH_IOCNTL_CHUNK_PAGES (1) sets the pages one channel read step reads;
 * other parameters are accepted and ignored. */
#define DISPATCH_IOCNTL_CHUNK_PAGES 1
#define DISPATCH_IOCNTL_LOW_WATER_CHUNKS 2
#define DISPATCH_IOCNTL_INITIAL_DELIVERY 3
#define DISPATCH_IOCNTL_MAX_PENDING_IO_REQS 4
void _dispatch_iocntl(uint32_t param, uint64_t value);
/* Spins until *ptr is non-NULL and returns it. */
void *_dispatch_wait_for_enqueuer(void **ptr);

/* ---- Interval sources (private/source_private.h; src/source/timer.rs) ----
 * A timer source whose interval is its handle, in milliseconds (or in animation frames of
 * 1/60 s with DISPATCH_INTERVAL_UI_ANIMATION in the mask), phase-aligned: it fires at the
 * multiples of the interval on the uptime clock, so sources of the same interval fire
 * together. Its data is the number of intervals since the last delivery. No
 * dispatch_source_set_timer (it aborts). */
#define DISPATCH_SOURCE_TYPE_INTERVAL (&_dispatch_source_type_interval)
#define DISPATCH_INTERVAL_UI_ANIMATION 0x20ul
DISPATCH_EXPORT const struct dispatch_source_type_s _dispatch_source_type_interval;

/* ---- fork (src/ffi/spi/fork.rs) ----
 * The library registers these as pthread_atfork handlers when it is loaded; a program that
 * manages forks itself may call them too (nested calls are counted; the outermost acts).
 * In the child of a process that had dispatch threads the runtime starts over: a fresh
 * pool and event thread, the parent's sources cancelled, and a queue another thread was
 * draining at the fork aborts when used. */
DISPATCH_EXPORT void dispatch_atfork_prepare(void);
DISPATCH_EXPORT void dispatch_atfork_parent(void);
DISPATCH_EXPORT void dispatch_atfork_child(void);
DISPATCH_EXPORT bool _dispatch_is_fork_of_multithreaded_parent(void);

#ifdef __cplusplus
}
#endif

#endif /* __DISPATCH_PRIVATE__ */
