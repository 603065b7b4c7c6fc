//! Whether the library has started a thread of its own, and the client's ban on it.
//!
//! Every place that starts a library thread (workers, the pool monitor, the event thread)
//! calls [`will_start_thread`] first. The first call makes the process "multithreaded" for
//! `_dispatch_is_multithreaded()`; if the client called
//! `_dispatch_prohibit_transition_to_multithreaded(true)` before that, it aborts instead, as
//! the reference does (a process that must stay single-threaded, e.g. to `fork` safely,
//! learns at once which call would have broken that). Once multithreaded, the ban has no
//! effect: the transition already happened.

use crate::sys;
use core::sync::atomic::{AtomicU8, Ordering::Relaxed};

const MULTITHREADED: u8 = 1;
const PROHIBITED: u8 = 2;

/// Relaxed throughout: the flags order nothing else; each is one read-modify-write.
static FLAGS: AtomicU8 = AtomicU8::new(0);

/// Called before the library starts any thread.
pub fn will_start_thread() {
    if FLAGS.load(Relaxed) & MULTITHREADED != 0 {
        return;
    }
    let before = FLAGS.fetch_or(MULTITHREADED, Relaxed);
    if before & (MULTITHREADED | PROHIBITED) == PROHIBITED {
        sys::abort_with_message("BUG IN CLIENT OF LIBDISPATCH: Transition to multithreaded is prohibited");
    }
}

/// `_dispatch_is_multithreaded`.
pub fn is_multithreaded() -> bool {
    FLAGS.load(Relaxed) & MULTITHREADED != 0
}

/// `_dispatch_prohibit_transition_to_multithreaded`.
pub fn prohibit(prohibit: bool) {
    if prohibit {
        FLAGS.fetch_or(PROHIBITED, Relaxed);
    } else {
        FLAGS.fetch_and(!PROHIBITED, Relaxed);
    }
}
