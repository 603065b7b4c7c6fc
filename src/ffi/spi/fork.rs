//! The `fork` entry points of the reference's private interface. The library registers
//! its own `pthread_atfork` handlers when it is loaded; these let a program that manages
//! forks itself call them too (nested calls are counted, only the outermost acts).

/// Takes the runtime's internal locks before `fork`.
#[no_mangle]
pub extern "C" fn dispatch_atfork_prepare() {
    crate::fork::prepare();
}

/// Releases them in the parent after `fork`.
#[no_mangle]
pub extern "C" fn dispatch_atfork_parent() {
    crate::fork::parent();
}

/// Gives the child a fresh runtime (threads, descriptors) after `fork`.
#[no_mangle]
pub extern "C" fn dispatch_atfork_child() {
    crate::fork::child();
}

/// Whether this process is the child of a `fork` whose parent had dispatch threads.
#[no_mangle]
pub extern "C" fn _dispatch_is_fork_of_multithreaded_parent() -> bool {
    crate::fork::is_fork_of_multithreaded_parent()
}
