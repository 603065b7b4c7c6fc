//! A queue as a `dispatch_after` target of the event thread's timer heaps, which sit
//! below the queues and know them only through [`Target`].

use super::Queue;
use crate::event::{Target, WorkFn};
use core::ffi::c_void;

impl Target for Queue {
    fn submit(&self, ctxt: *mut c_void, func: WorkFn) {
        super::async_f(self, ctxt, func);
    }

    fn retain_for_timer(&self) {
        self.header.retain_internal();
    }

    unsafe fn release_for_timer(&self) {
        // SAFETY: the caller owns the reference `retain_for_timer` took.
        unsafe { self.header.release_internal() };
    }
}
