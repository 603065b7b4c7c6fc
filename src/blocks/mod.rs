//! Blocks: the runtime clang's `-fblocks` code calls (`_Block_copy` and friends), and the
//! `dispatch_block_create` objects built on it.
//!
//! The runtime follows the Clang Block ABI ("Block Implementation Specification",
//! clang/docs/Block-ABI-Apple.rst) with the flags-word encoding of compiler-rt's
//! BlocksRuntime, which Debian ships as libBlocksRuntime: the reference count sits in the
//! low 16 bits of `flags`, one per reference, latching at 0xffff. Keeping that encoding
//! exactly is what lets a program link both `-ldispatch` and `-lBlocksRuntime`: whichever
//! library the dynamic linker picks for the program's calls, a block copied by one runtime
//! is retained and released correctly by the other (both decide by flags, never by `isa`).
//!
//! * [`layout`]: the `repr(C)` shapes of a block, its descriptor and a `__block` variable.
//! * [`runtime`]: copy, release, and the helpers' `_Block_object_assign`/`_dispose`.
//! * [`owned`]: [`owned::OwnedBlock`], a heap copy released on drop.
//! * [`submit`]: blocks as work items (copy once, run, release once).
//! * [`dispatch_block`]: blocks made by `dispatch_block_create*`, which carry private data
//!   (flags, QoS, cancel state, a group for wait/notify) where the reference lays it out.

pub mod dispatch_block;
pub mod layout;
pub mod owned;
pub mod runtime;
pub mod submit;
