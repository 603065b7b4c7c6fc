//! `private/benchmark.h`: `dispatch_benchmark` and `dispatch_benchmark_f` (see
//! `crate::benchmark` for what is measured).

use super::super::{function_arg, size_t};
use crate::benchmark::benchmark;
use crate::callback::ClientFn;
use core::ffi::c_void;

#[no_mangle]
pub unsafe extern "C" fn dispatch_benchmark_f(
    count: size_t,
    ctxt: *mut c_void,
    func: super::super::dispatch_function_t,
) -> u64 {
    // SAFETY: dispatch_benchmark_f's contract: the function is called `count` times with
    // the context, on this thread.
    benchmark(count, unsafe { ClientFn::new(function_arg(func, "dispatch_benchmark_f"), ctxt) })
}

#[cfg(feature = "blocks")]
#[no_mangle]
pub unsafe extern "C" fn dispatch_benchmark(
    count: size_t,
    block: super::super::block::dispatch_block_t,
) -> u64 {
    use crate::blocks::layout::BlockLayout;
    let block = crate::blocks::submit::block_arg(block, "dispatch_benchmark");
    // SAFETY: a `void (^)(void)` block's invoke takes the block as its only argument; the
    // block is called in place (not copied), as the caller holds it for the call.
    let invoke: unsafe extern "C" fn(*mut c_void) =
        unsafe { core::mem::transmute((*(block as *const BlockLayout)).invoke) };
    // SAFETY: dispatch_benchmark's contract: the block is called `count` times on this
    // thread, through its invoke with itself as the argument.
    benchmark(count, unsafe { ClientFn::new(invoke, block as *mut c_void) })
}
