//! Blocks made by `dispatch_block_create*`: a heap block whose captures are the reference
//! implementation's `dispatch_block_private_data_s`.
//!
//! The reference builds these with a C++ lambda-like block capturing that struct by value,
//! so the private data starts right after the 32-byte block header, and every such block
//! shares one invoke function, exported as `_dispatch_block_special_invoke`. Code that
//! inspects a dispatch block (to copy its flags or QoS onto a wrapper, say) relies on both
//! facts, so this module lays the block out the same way, by hand:
//!
//! ```text
//! offset  0  Block_layout  isa, flags (NEEDS_FREE|HAS_COPY_DISPOSE|HAS_SIGNATURE|count),
//!                          reserved, invoke = special_invoke, descriptor
//!        32  magic 0xD159B10C      40 flags (dispatch_block_flags_t | HAS_PRIORITY...)
//!        48  atomic flags (u32)    52 performed count (i32)
//!        56  priority (pthread_priority_t encoding of the QoS)
//!        64  voucher (always NULL) 72 the client's block (our copy)
//!        80  group (entered at creation, left by the first run)
//!        88  queue (unused)        96 tid of the thread that ran it
//! ```
//!
//! Wait and notify are the group's; cancel is a bit the run checks before calling the
//! client's block (a cancelled block still counts as run, so notifications fire).

use super::layout::{
    BlockLayout, CopyDispose, Descriptor, SignatureInfo, HAS_COPY_DISPOSE, HAS_SIGNATURE, NEEDS_FREE,
};
use super::runtime;
use crate::qos;
use crate::queue::continuation::WorkFn;
use crate::queue::root::{self, rank_of_qos};
use crate::queue::Queue;
use crate::sync::group::Group;
use crate::sys::{self, Clock};
use core::ffi::c_void;
use core::ptr;
use core::sync::atomic::{AtomicI32, AtomicPtr, AtomicU32, Ordering::Relaxed};

pub const MAGIC: u64 = 0xD159_B10C;

pub const BARRIER: u64 = 0x1;
pub const DETACHED: u64 = 0x2;
pub const ASSIGN_CURRENT: u64 = 0x4;
pub const NO_QOS_CLASS: u64 = 0x8;
// INHERIT_QOS_CLASS (0x10) is the default for submitted blocks: nothing to test for.
pub const ENFORCE_QOS_CLASS: u64 = 0x20;
/// Every flag a client may pass.
const API_MASK: u64 = 0x3f;
/// Internal: the priority field is meaningful (possibly "no QoS").
pub const HAS_PRIORITY: u64 = 1 << 30;
// Bit 31 (HAS_VOUCHER) is never set: there are no vouchers on Linux.

// Bits of `atomic_flags`, as in the reference.
const CANCELED: u32 = 1;
const WAITING: u32 = 2;
const WAITED: u32 = 4;

/// `pthread_priority_t`: one bit per QoS class from bit 8, relative priority minus one in
/// the low byte.
const PRIORITY_QOS_SHIFT: u32 = 8;
const PRIORITY_QOS_MASK: u64 = 0x00ff_ff00;

#[repr(C)]
pub struct PrivateData {
    pub magic: u64,
    pub flags: u64,
    pub atomic_flags: AtomicU32,
    pub performed: AtomicI32,
    pub priority: u64,
    pub voucher: *mut c_void,
    pub block: *mut c_void,
    pub group: *const Group,
    pub queue: AtomicPtr<c_void>,
    pub thread: AtomicU32,
}

#[repr(C)]
struct DispatchBlock {
    layout: BlockLayout,
    data: PrivateData,
}

#[repr(C)]
struct FullDescriptor {
    basic: Descriptor,
    helpers: CopyDispose,
    signature: SignatureInfo,
}

// SAFETY: the descriptor is immutable and its pointers are to static data.
unsafe impl Sync for FullDescriptor {}

static DESCRIPTOR: FullDescriptor = FullDescriptor {
    basic: Descriptor { reserved: 0, size: core::mem::size_of::<DispatchBlock>() },
    helpers: CopyDispose { copy: copy_helper, dispose: dispose_helper },
    signature: SignatureInfo { signature: c"v8@?0".as_ptr(), layout: ptr::null() },
};

/// The invoke function every dispatch block shares.
pub const SPECIAL_INVOKE: unsafe extern "C" fn(*mut c_void) = special_invoke;

/// Encodes a QoS class (0: none) as the reference's `pthread_priority_t`.
pub fn encode_priority(qos: u32, relative_priority: i32) -> u64 {
    if qos == 0 {
        return 0;
    }
    let thread_qos = rank_of_qos(qos) as u32 + 1;
    (1u64 << (PRIORITY_QOS_SHIFT + thread_qos - 1)) | ((relative_priority - 1) as u8 as u64)
}

/// The QoS class a `pthread_priority_t` names (0: none).
pub fn decode_priority(priority: u64) -> u32 {
    let bits = (priority & PRIORITY_QOS_MASK) >> PRIORITY_QOS_SHIFT;
    if bits == 0 {
        return 0;
    }
    let rank = bits.trailing_zeros() as usize;
    if rank < 6 {
        root::qos_of_index(rank * 2)
    } else {
        0
    }
}

/// Whether `block` was made by [`create`].
///
/// # Safety
/// `block` must be a block literal.
pub unsafe fn is_dispatch_block(block: *const c_void) -> bool {
    // SAFETY: a block per the contract.
    let invoke = unsafe { (*(block as *const BlockLayout)).invoke };
    invoke == SPECIAL_INVOKE as *const c_void
}

/// The private data of a dispatch block, or an abort naming `what` for any other block.
///
/// # Safety
/// `block` must be NULL or a block literal.
pub unsafe fn data<'a>(block: *const c_void, what: &str) -> &'a PrivateData {
    // SAFETY: NULL checked first; otherwise a block per the contract.
    if block.is_null() || !unsafe { is_dispatch_block(block) } {
        sys::abort_with_message(&format!(
            "BUG IN CLIENT OF LIBDISPATCH: Invalid block object passed to {what}"
        ));
    }
    // SAFETY: a dispatch block is a `DispatchBlock`.
    let d = unsafe { &(*(block as *const DispatchBlock)).data };
    if d.magic != MAGIC {
        sys::abort_with_message("BUG IN CLIENT OF LIBDISPATCH: Corruption of dispatch block object");
    }
    d
}

/// `dispatch_block_create*`: NULL for invalid flags (as the reference returns).
///
/// `qos`: `Some((class, relative priority))` for `dispatch_block_create_with_qos_class`.
///
/// # Safety
/// `block` must be a block literal.
pub unsafe fn create(flags: u64, qos: Option<(u32, i32)>, block: *const c_void) -> *mut c_void {
    if flags & !API_MASK != 0 {
        return ptr::null_mut();
    }
    if block.is_null() {
        sys::abort_with_message(
            "BUG IN CLIENT OF LIBDISPATCH: dispatch_block_create called with a NULL block",
        );
    }
    let mut flags = flags;
    let mut priority = 0;
    if flags & (NO_QOS_CLASS | DETACHED) != 0 {
        flags |= HAS_PRIORITY; // explicitly no QoS
    }
    if let Some((class, relative)) = qos {
        priority = encode_priority(class, relative);
        flags |= HAS_PRIORITY;
    }
    if flags & ASSIGN_CURRENT != 0 && flags & HAS_PRIORITY == 0 {
        priority = encode_priority(qos::current(), 0);
        flags |= HAS_PRIORITY;
    }
    let group = Group::create();
    // SAFETY: just created; we hold its only reference.
    unsafe { (*group).enter() };
    // SAFETY: a block per the contract; our copy is released by `dispose_helper`.
    let inner = unsafe { runtime::copy(block) };
    let db = sys::c_malloc(core::mem::size_of::<DispatchBlock>()) as *mut DispatchBlock;
    if db.is_null() {
        sys::abort_with_message("dispatch: out of memory creating a dispatch block");
    }
    let value = DispatchBlock {
        layout: BlockLayout {
            isa: ptr::addr_of!(runtime::_NSConcreteMallocBlock) as *const c_void,
            flags: AtomicI32::new(NEEDS_FREE | HAS_COPY_DISPOSE | HAS_SIGNATURE | 1),
            reserved: 0,
            invoke: SPECIAL_INVOKE as *const c_void,
            descriptor: &DESCRIPTOR.basic,
        },
        data: PrivateData {
            magic: MAGIC,
            flags,
            atomic_flags: AtomicU32::new(0),
            performed: AtomicI32::new(0),
            priority,
            voucher: ptr::null_mut(),
            block: inner,
            group,
            queue: AtomicPtr::new(ptr::null_mut()),
            thread: AtomicU32::new(0),
        },
    };
    // SAFETY: `db` is a fresh allocation of the right size (malloc aligns to 16).
    unsafe { ptr::write(db, value) };
    db as *mut c_void
}

/// How a run of a dispatch block was started.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum RunKind {
    /// Called like a function (`db()`, `dispatch_block_perform`, sync APIs): the block's
    /// QoS is enforced, as the reference does for direct invocation.
    Direct,
    /// Taken off a queue: the submission already chose the QoS (see `submit.rs`).
    Submitted,
}

/// Runs a dispatch block once: unless cancelled, its client block; then the first run
/// leaves the group, which is what wait and notify observe.
///
/// # Safety
/// `block` must be a live dispatch block.
pub unsafe fn run(block: *const c_void, kind: RunKind) {
    // SAFETY: forwarded contract.
    let d = unsafe { data(block, "a dispatch block invocation") };
    // Relaxed: the flag bits are advisory between runs; the group orders the results.
    let atomic_flags = d.atomic_flags.load(Relaxed);
    if atomic_flags & WAITED != 0 {
        sys::abort_with_message(
            "BUG IN CLIENT OF LIBDISPATCH: A block object may not be both run more than once and waited for",
        );
    }
    if atomic_flags & CANCELED == 0 {
        d.thread.store(crate::queue::frames::thread_id(), Relaxed);
        let call = || {
            // SAFETY: `inner` is our copy of a `void (^)(void)` block.
            unsafe { call_void_block(d.block) }
        };
        let wanted = if kind == RunKind::Direct { decode_priority(d.priority) } else { 0 };
        qos::with_raised(wanted, call);
    }
    // Relaxed: the group's own synchronisation publishes the run to waiters.
    if d.performed.fetch_add(1, Relaxed) == 0 {
        // SAFETY: the group lives until the block's dispose.
        unsafe { (*d.group).leave() };
    }
}

/// Calls a `void (^)(void)` block.
///
/// # Safety
/// `block` must be a live block of that type.
pub unsafe fn call_void_block(block: *mut c_void) {
    // SAFETY: a block's invoke takes the block as its first argument.
    let invoke: WorkFn = unsafe { core::mem::transmute((*(block as *const BlockLayout)).invoke) };
    // SAFETY: as above.
    unsafe { invoke(block) }
}

unsafe extern "C" fn special_invoke(block: *mut c_void) {
    // SAFETY: only dispatch blocks have this invoke function.
    unsafe { run(block, RunKind::Direct) }
}

/// Never called: dispatch blocks are born on the heap, and copying a heap block only
/// counts a reference.
unsafe extern "C" fn copy_helper(_dst: *mut c_void, _src: *const c_void) {
    sys::abort_with_message("dispatch internal error: a dispatch block was copied from the stack");
}

unsafe extern "C" fn dispose_helper(block: *const c_void) {
    // SAFETY: called once, by the last release of a dispatch block.
    let d = unsafe { &(*(block as *const DispatchBlock)).data };
    // SAFETY: the group and the inner copy belong to this block.
    unsafe {
        if d.performed.load(Relaxed) == 0 {
            (*d.group).leave(); // never ran: balance the creation's enter, as the reference does
        }
        (*d.group).header.release();
        runtime::release(d.block);
    }
}

/// `dispatch_block_wait`: 0 when the block ran (or was cancelled) before the deadline.
///
/// # Safety
/// `block` must be NULL or a block literal.
pub unsafe fn wait(block: *const c_void, deadline: Option<(Clock, u64)>) -> isize {
    // SAFETY: forwarded contract.
    let d = unsafe { data(block, "dispatch_block_wait()") };
    // Relaxed: misuse detection only; the group wait orders the block's effects.
    let before = d.atomic_flags.fetch_or(WAITING, Relaxed);
    if before & (WAITED | WAITING) != 0 {
        sys::abort_with_message(
            "BUG IN CLIENT OF LIBDISPATCH: A block object may not be waited for more than once",
        );
    }
    if d.performed.load(Relaxed) > 1 {
        sys::abort_with_message(
            "BUG IN CLIENT OF LIBDISPATCH: A block object may not be both run more than once and waited for",
        );
    }
    // SAFETY: the group lives as long as the block, which the caller holds.
    if unsafe { (*d.group).wait(deadline) } {
        d.atomic_flags.fetch_or(WAITED, Relaxed);
        0
    } else {
        d.atomic_flags.fetch_and(!WAITING, Relaxed);
        -1
    }
}

/// `dispatch_block_notify`: `func(ctxt)` runs on `q` once the block has run.
///
/// # Safety
/// `block` must be NULL or a block literal.
pub unsafe fn notify(block: *const c_void, q: &Queue, work: crate::callback::ClientFn) {
    // SAFETY: forwarded contract.
    let d = unsafe { data(block, "dispatch_block_notify()") };
    if d.performed.load(Relaxed) > 1 {
        sys::abort_with_message(
            "BUG IN CLIENT OF LIBDISPATCH: A block object may not be both run more than once and observed",
        );
    }
    // SAFETY: as in `wait`.
    unsafe { (*d.group).notify(q, work) };
}

/// `dispatch_block_cancel`.
///
/// # Safety
/// `block` must be NULL or a block literal.
pub unsafe fn cancel(block: *const c_void) {
    // SAFETY: forwarded contract.
    let d = unsafe { data(block, "dispatch_block_cancel()") };
    // Relaxed: cancellation is asynchronous by definition; a run that already read the
    // flags proceeds, as documented.
    d.atomic_flags.fetch_or(CANCELED, Relaxed);
}

/// `dispatch_block_testcancel`.
///
/// # Safety
/// `block` must be NULL or a block literal.
pub unsafe fn is_cancelled(block: *const c_void) -> bool {
    // SAFETY: forwarded contract.
    let d = unsafe { data(block, "dispatch_block_testcancel()") };
    d.atomic_flags.load(Relaxed) & CANCELED != 0
}

/// Whether `flags` only holds flags a client may pass.
pub fn flags_are_valid(flags: u64) -> bool {
    flags & !API_MASK == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_data_sits_where_the_reference_puts_it() {
        assert_eq!(core::mem::size_of::<BlockLayout>(), 32);
        assert_eq!(core::mem::offset_of!(DispatchBlock, data), 32);
        assert_eq!(core::mem::offset_of!(PrivateData, flags), 8);
        assert_eq!(core::mem::offset_of!(PrivateData, atomic_flags), 16);
        assert_eq!(core::mem::offset_of!(PrivateData, priority), 24);
        assert_eq!(core::mem::offset_of!(PrivateData, block), 40);
        assert_eq!(core::mem::offset_of!(PrivateData, group), 48);
        assert_eq!(core::mem::offset_of!(PrivateData, thread), 64);
    }

    #[test]
    fn priority_round_trips_every_class() {
        for qos in [0x21, 0x19, 0x15, 0x11, 0x09, 0x05] {
            assert_eq!(decode_priority(encode_priority(qos, 0)), qos);
            assert_eq!(encode_priority(qos, 0) & 0xff, 0xff); // relative priority 0
        }
        assert_eq!(encode_priority(0x15, 0), 0x8ff); // default: thread QoS 4 → bit 11
        assert_eq!(decode_priority(0), 0);
    }
}
