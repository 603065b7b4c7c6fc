/*
 * dispatch/block.h: dispatch_block_flags_t and its flags. The dispatch_block_* functions
 * (blocks only, clang -fblocks) are in the generated prototypes; dispatch_block_t is in
 * dispatch/object.h.
 *
 * Hand-written C. The header layout is described in dispatch/dispatch.h.
 */
/* First and outside the guard: see dispatch/object.h. */
#include <dispatch/generated/functions.h>

#ifndef __DISPATCH_BLOCK__
#define __DISPATCH_BLOCK__

#include <dispatch/base.h>
#include <dispatch/object.h>

typedef unsigned long dispatch_block_flags_t;

/* Their values are part of the ABI (shared/abi/MACROS.md). */
#define DISPATCH_BLOCK_BARRIER 0x1ul
#define DISPATCH_BLOCK_DETACHED 0x2ul
#define DISPATCH_BLOCK_ASSIGN_CURRENT 0x4ul
#define DISPATCH_BLOCK_NO_QOS_CLASS 0x8ul
#define DISPATCH_BLOCK_INHERIT_QOS_CLASS 0x10ul
#define DISPATCH_BLOCK_ENFORCE_QOS_CLASS 0x20ul

#endif /* __DISPATCH_BLOCK__ */
