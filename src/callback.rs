//! A client's C function together with the context it is to be called with.
//!
//! The C API takes work as a function pointer and a `void *` context; the promise that the
//! function may be called with that context is the client's, made at the C boundary. The
//! boundary (`src/ffi`) checks the arguments and wraps the pair in a [`ClientFn`] (or a
//! [`ClientApplyFn`] for `dispatch_apply_f`'s `f(ctxt, index)`) through its `unsafe`
//! constructor, whose contract is that promise; the runtime then carries the value and
//! calls it safely. Each C signature has exactly one `unsafe` call, here.
//!
//! Both are two words (the pointer pair), as the fields they replace.

use core::ffi::c_void;

/// `void (*)(void *)`: `dispatch_function_t`.
pub type CFn = unsafe extern "C" fn(*mut c_void);

/// `void (*)(void *, size_t)`: `dispatch_apply_f`'s work function.
pub type CApplyFn = unsafe extern "C" fn(*mut c_void, usize);

/// A function the client promised may be called with its context.
#[derive(Clone, Copy)]
pub struct ClientFn {
    f: CFn,
    ctxt: *mut c_void,
}

// SAFETY: the value is two plain pointers the runtime never dereferences; `new`'s contract
// is that the call is allowed from any thread, which is all that moving or sharing it
// enables.
unsafe impl Send for ClientFn {}
// SAFETY: as for `Send`: the only operation is the call `new`'s contract allows from any
// thread.
unsafe impl Sync for ClientFn {}

impl ClientFn {
    /// # Safety
    /// The client promised (by the C API that received the pair) that `f` may be called
    /// with `ctxt`, from any thread, as many times as that API says; the runtime calls
    /// [`ClientFn::call`] only that many times (once for submitted work).
    pub unsafe fn new(f: CFn, ctxt: *mut c_void) -> ClientFn {
        ClientFn { f, ctxt }
    }

    /// A safe function with any context: a safe `extern "C" fn` may be called with any
    /// argument, any number of times, so no promise is needed.
    pub fn from_safe(f: extern "C" fn(*mut c_void), ctxt: *mut c_void) -> ClientFn {
        ClientFn { f, ctxt }
    }

    /// Calls `f(ctxt)`.
    #[inline]
    pub fn call(self) {
        // SAFETY: `new`'s contract: the client allowed this call, on any thread, and the
        // runtime makes no more calls than the API that took the pair says.
        unsafe { (self.f)(self.ctxt) }
    }
}

/// `dispatch_apply_f`'s function and context: called once per index.
#[derive(Clone, Copy)]
pub struct ClientApplyFn {
    f: CApplyFn,
    ctxt: *mut c_void,
}

// SAFETY: as for `ClientFn`: two pointers never dereferenced here, callable from any thread
// by `new`'s contract.
unsafe impl Send for ClientApplyFn {}
// SAFETY: as for `Send`.
unsafe impl Sync for ClientApplyFn {}

impl ClientApplyFn {
    /// # Safety
    /// The client promised (by `dispatch_apply_f`) that `f` may be called with `ctxt` and
    /// each index below the iteration count, concurrently, from any thread; the runtime
    /// calls [`ClientApplyFn::call`] once per such index.
    pub unsafe fn new(f: CApplyFn, ctxt: *mut c_void) -> ClientApplyFn {
        ClientApplyFn { f, ctxt }
    }

    /// Calls `f(ctxt, index)`.
    #[inline]
    pub fn call(self, index: usize) {
        // SAFETY: `new`'s contract: the client allowed a call per index below the count,
        // on any thread; the apply loop hands out each index once.
        unsafe { (self.f)(self.ctxt, index) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::sync::atomic::{AtomicUsize, Ordering};

    /// Two words each, as the `func`/`ctxt` pairs they replace: the async and sync fast
    /// paths carry no more than before.
    #[test]
    fn a_client_function_is_two_words() {
        assert_eq!(core::mem::size_of::<ClientFn>(), 2 * core::mem::size_of::<usize>());
        assert_eq!(core::mem::size_of::<ClientApplyFn>(), 2 * core::mem::size_of::<usize>());
        assert_eq!(core::mem::size_of::<Option<ClientFn>>(), 2 * core::mem::size_of::<usize>());
    }

    #[test]
    fn call_passes_the_context() {
        extern "C" fn bump(ctxt: *mut c_void) {
            // `ctxt` is only compared here, never dereferenced: a safe function.
            let counter = COUNTER.as_ptr() as *mut c_void;
            assert_eq!(ctxt, counter);
            COUNTER.fetch_add(1, Ordering::Relaxed);
        }
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let f = ClientFn::from_safe(bump, COUNTER.as_ptr() as *mut c_void);
        f.call();
        std::thread::spawn(move || f.call()).join().unwrap();
        assert_eq!(COUNTER.load(Ordering::Relaxed), 2);
    }
}
