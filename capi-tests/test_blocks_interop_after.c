/*
 * test_blocks_interop_after.c: test_blocks_interop_before.c (see its checks) linked with
 * Debian's libBlocksRuntime after libdispatch, so the program's Blocks runtime symbols bind
 * to libdispatch's runtime while libBlocksRuntime is loaded too.
 *
 * capi-libs-after: -lBlocksRuntime
 */
#define INTEROP_FIRST "libdispatch"
#include "test_blocks_interop_before.c"
