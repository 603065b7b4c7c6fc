//! `dispatch_group_t`: the object around [`Members`] (`group_state.rs`, which explains the
//! protocol): a notification is a queue submission holding references on its queue and on
//! the group, which keep the group alive while it is registered (the protocol relies on
//! that, see "who may touch the group when").
//!
//! A group with members stays alive until its last leave, even when the client released
//! it (libdispatch's group retains itself on its first enter for the same reason): when
//! the client's last reference goes from a group that is not empty, a *hold* is registered
//! like a notification, with a reference on the group and nothing to submit, and the last
//! leave drops it after its last touch of the group. So a `dispatch_group_async` work item
//! keeps its group by address alone ([`Kept`]), with no retain and no release per item, and
//! a client may release a group right after `dispatch_group_enter` and leave it later.

use super::group_state::Members;
use crate::callback::ClientFn;
use crate::object::{Header, Kept, Kind, ObjectKind, ObjectVTable, Ref};
use crate::queue::continuation::{install_group_leave, Continuation};
use crate::queue::{self, Queue};
use crate::sys::{self, Clock};

/// A registered notification: a reference on the group (`Group::notify`'s caller keeps it
/// alive until registration, this reference from then until the notification fired) and
/// what to submit where, or nothing for the hold of a released group (module doc).
struct Notify {
    _group: Ref<Group>,
    submit: Option<(Ref<Queue>, ClientFn)>,
}

impl Notify {
    /// Submits the work, if any; the references go once it is submitted.
    fn fire(self) {
        if let Some((queue, work)) = self.submit {
            queue::async_f(&queue, work);
        }
    }
}

#[repr(C)]
pub struct Group {
    pub header: Header,
    members: Members<Notify>,
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

    /// The client's last reference went: a group with members registers its hold (module
    /// doc), which the last leave drops; an empty one drops it at once.
    fn xref_dispose(&self) {
        let hold = Notify { _group: Ref::retain(self), submit: None };
        if let Some(hold) = self.members.notify(hold) {
            hold.fire();
        }
    }

    fn dispose(self: Box<Group>) -> Option<Ref<Header>> {
        if self.members.count() != 0 {
            sys::abort_with_message("BUG IN CLIENT OF LIBDISPATCH: Group object deallocated while in use");
        }
        Some(Ref::retain(&crate::queue::root::default_queue().header))
    }
}

// SAFETY: `Members` keeps its state word, a `core::sync::atomic::AtomicU32` outside loom, at
// `STATE_OFFSET`, and `Group` holds a `Members` at `offset_of!(Group, members)`.
#[cfg(not(loom))]
unsafe impl sys::atomic::AtomicU32At for Group {
    const OFFSET: usize = core::mem::offset_of!(Group, members) + Members::<Notify>::STATE_OFFSET;
}

static GROUP_VTABLE: ObjectVTable = ObjectVTable::for_type::<Group>();

impl Group {
    pub fn create() -> *const Group {
        // Here rather than in `attach`, which runs per `dispatch_group_async` item: every
        // group, so every attached one, was created first.
        install_group_leave(leave_by_header);
        Box::into_raw(Box::new(Group {
            header: Header::new(Kind::Group, &GROUP_VTABLE),
            members: Members::new(),
        }))
    }

    /// Makes `c` (not yet submitted) a member of this group (`dispatch_group_async*`):
    /// enters it, and the continuation leaves it once its function returned
    /// (`Continuation::run`).
    #[inline]
    pub fn attach(&self, c: &mut Continuation) {
        self.enter();
        // SAFETY: the enter above counts `c` as a member until it leaves, which is the
        // handle's last use; a group with members is not disposed (module doc: the
        // caller's reference, or once the client released it, the hold the last leave
        // drops after its last touch).
        c.group = Some(unsafe { Kept::new(&self.header) });
    }

    #[inline]
    pub fn enter(&self) {
        if !self.members.enter() {
            enter_overflow(self);
        }
    }

    #[inline]
    pub fn leave(&self) {
        // Outside loom, `Members::leave`'s subtraction as `lock sub [group + offset]; jl`.
        #[cfg(not(loom))]
        let cold = sys::atomic::fetch_sub_was_below::<Group, { Members::<Notify>::LEAVE_SUBTRAHEND }>(self);
        #[cfg(loom)]
        let cold = self.members.leave();
        if cold {
            Group::last_leave(self);
        }
    }

    #[cold]
    #[inline(never)]
    fn last_leave(&self) {
        // Each notification holds its own references (queue, group): submitting it
        // touches no more of this group than the notification's reference keeps alive.
        self.members.last_leave(Notify::fire);
    }

    /// `dispatch_group_notify_f`.
    pub fn notify(&self, q: &Queue, work: ClientFn) {
        let n = Notify { _group: Ref::retain(self), submit: Some((Ref::retain(q), work)) };
        if let Some(n) = self.members.notify(n) {
            n.fire();
        }
    }

    /// `dispatch_group_wait`: `true` when the group emptied before the deadline.
    pub fn wait(&self, deadline: Option<(Clock, u64)>) -> bool {
        self.members.wait(deadline)
    }
}

/// Returns `()`, not `!`, so that `enter` reaches it by a tail jump (no stack frame).
#[cold]
#[inline(never)]
fn enter_overflow(g: &Group) {
    g.members.undo_enter();
    sys::abort_with_message("BUG IN CLIENT OF LIBDISPATCH: Too many nested calls to dispatch_group_enter()")
}

/// [`Group::leave`] for a continuation, which knows its group by header.
fn leave_by_header(h: &Header) {
    h.downcast::<Group>().expect("a continuation's group is a group").leave();
}
