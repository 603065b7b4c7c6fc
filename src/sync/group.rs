//! `dispatch_group_t`: a count of unfinished work, with waiters and notifications.
//!
//! `count` is the number of `enter`s not yet matched by a `leave`. The transition to zero
//! advances the epoch `generation` (waking every `dispatch_group_wait`) and fires the
//! notifications registered so far. While the count is above zero the group holds an
//! internal reference on itself (taken by the 0 -> 1 `enter`, dropped by the leave that
//! returns to zero when it is done), so that leave never touches a group the client freed
//! the moment its wait returned. Notifications are registered under a small mutex and
//! the registrar re-checks `count` afterwards; the leaver takes the list under the same
//! mutex after its decrement, so a notification is never lost between the two (whoever
//! locks second sees the other's write).

use crate::callback::ClientFn;
use crate::object::{Header, Kind, ObjectKind, ObjectVTable, Ref};
use crate::park::Epoch;
use crate::queue::continuation::{install_group_leave, Continuation};
use crate::queue::{self, Queue};
use crate::sys::{self, Clock};
use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering::SeqCst};
use std::sync::Mutex;

/// A registered notification; it holds a reference on the queue it will be submitted to.
/// (The group itself is kept alive by `Group::notify`'s caller until registration, and
/// by the reference each pending notification holds, dropped once it fired.)
struct Notify {
    queue: Ref<Queue>,
    _group: Ref<Group>,
    work: ClientFn,
}

#[repr(C)]
pub struct Group {
    pub header: Header,
    count: AtomicUsize,
    generation: Epoch,
    /// Threads inside `wait`: the last leave makes the wake syscall only if there are any.
    waiters: AtomicU32,
    notifies: Mutex<Vec<Notify>>,
}

// SAFETY: `#[repr(C)]` with its `Header` first; created with the vtable that frees it.
unsafe impl crate::object::Object for Group {
    fn header(&self) -> &crate::object::Header {
        &self.header
    }
}

// SAFETY: only `Group::create` makes headers of kind `Group`, the first field of a boxed
// `Group`.
unsafe impl ObjectKind for Group {
    const KIND: Kind = Kind::Group;

    fn dispose(self: Box<Group>) -> Option<Ref<Header>> {
        if self.count.load(SeqCst) != 0 {
            sys::abort_with_message("BUG IN CLIENT OF LIBDISPATCH: Group object deallocated while in use");
        }
        Some(Ref::retain(&crate::queue::root::default_queue().header))
    }
}

static GROUP_VTABLE: ObjectVTable = ObjectVTable::for_type::<Group>();

impl Group {
    pub fn create() -> *const Group {
        Box::into_raw(Box::new(Group {
            header: Header::new(Kind::Group, &GROUP_VTABLE),
            count: AtomicUsize::new(0),
            generation: Epoch::new(),
            waiters: AtomicU32::new(0),
            notifies: Mutex::new(Vec::new()),
        }))
    }

    /// Makes `c` (not yet submitted) a member of this group (`dispatch_group_async*`):
    /// enters it, and the continuation leaves it and drops the reference taken here once
    /// its function returned (`Continuation::run`).
    pub fn attach(&self, c: &mut Continuation) {
        install_group_leave(leave_by_header);
        self.enter();
        c.group = Some(crate::object::Ref::retain(&self.header));
    }

    pub fn enter(&self) {
        // The 0 -> 1 transition takes an internal reference, which the leave that brings
        // the count back to 0 drops once it is done with the group (libdispatch does the
        // same): the client may release the group as soon as a wait returns or a
        // notification runs, which can happen while that leave is still waking waiters and
        // firing notifications.
        if self.count.fetch_add(1, SeqCst) == 0 {
            self.header.retain_internal();
        }
    }

    pub fn leave(&self) {
        let prev = self.count.fetch_sub(1, SeqCst);
        if prev == 0 {
            self.count.fetch_add(1, SeqCst);
            sys::abort_with_message(
                "BUG IN CLIENT OF LIBDISPATCH: Unbalanced call to dispatch_group_leave()",
            );
        }
        if prev == 1 {
            self.generation.advance();
            // Dekker pair with `wait` (count to 0, then read waiters; there: count
            // waiters, then read count): a waiter we do not see will see the empty group.
            if self.waiters.load(SeqCst) > 0 {
                self.generation.wake_all();
            }
            self.fire_notifies();
            // SAFETY: the reference the 0 -> 1 `enter` took for this busy period (see
            // `enter`); the group is not touched after it.
            unsafe { self.header.release_internal() };
        }
    }

    fn fire_notifies(&self) {
        let fired = core::mem::take(&mut *self.notifies.lock().unwrap_or_else(|e| e.into_inner()));
        for n in fired {
            queue::async_f(&n.queue, n.work);
            // `n` drops here: the registration's references on the queue and the group.
        }
    }

    /// `dispatch_group_notify_f`.
    pub fn notify(&self, q: &Queue, work: ClientFn) {
        let n = Notify { queue: Ref::retain(q), _group: Ref::retain(self), work };
        self.notifies.lock().unwrap_or_else(|e| e.into_inner()).push(n);
        if self.count.load(SeqCst) == 0 {
            self.fire_notifies();
        }
    }

    /// `dispatch_group_wait`: `true` when the group emptied before the deadline.
    pub fn wait(&self, deadline: Option<(Clock, u64)>) -> bool {
        self.waiters.fetch_add(1, SeqCst);
        let emptied = loop {
            let ticket = self.generation.ticket();
            if self.count.load(SeqCst) == 0 {
                break true;
            }
            if deadline.is_some_and(|(clock, ns)| sys::now_ns(clock) >= ns) {
                break false;
            }
            self.generation.sleep(ticket, deadline);
        };
        self.waiters.fetch_sub(1, SeqCst);
        emptied
    }
}

/// [`Group::leave`] for a continuation, which knows its group by header.
fn leave_by_header(h: &Header) {
    h.downcast::<Group>().expect("a continuation's group is a group").leave();
}
