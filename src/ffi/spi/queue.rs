//! Private queue interfaces (`private/queue_private.h`, `os/voucher_private.h`,
//! `private/layout_private.h`): legacy width, QoS setters, overcommit attribute, label
//! without copy, QoS-enforcing async, the voucher variants (no vouchers on Linux), and the
//! queue layout table for debuggers.

use super::super::{
    dispatch_function_t, dispatch_object_t, dispatch_qos_class_t, dispatch_queue_attr_t, dispatch_queue_t,
    function_arg, queue_arg,
};
use crate::callback::ClientFn;
use crate::object::{resolve, Kind};
use crate::queue::attr::QueueAttr;
use crate::queue::continuation::Continuation;
use crate::queue::root::{is_qos_class, rank_of_qos, root_queue};
use crate::queue::{self, layout, state, Flavor, Queue};
use crate::source::Source;
use crate::sys;
use core::ffi::{c_char, c_int, c_long, c_void};

/// `voucher_t`: vouchers do not exist on Linux; any value (usually NULL) is accepted and
/// ignored.
pub type voucher_t = *mut c_void;

// The legacy widths of `dispatch_queue_set_width`.
const DISPATCH_QUEUE_WIDTH_ACTIVE_CPUS: c_long = -1;
const DISPATCH_QUEUE_WIDTH_MAX_PHYSICAL_CPUS: c_long = -2;

/// The width a `dispatch_queue_set_width` argument asks for, as the reference computes it:
/// 0 and 1 are 1; `-1` the CPUs this process may run on; `-2` and `-3` (and any other
/// negative value) the CPUs configured, which is what the reference reports for both
/// physical and logical CPUs on Linux. Capped at the largest width.
fn legacy_width(width: c_long) -> u32 {
    let n = match width {
        w if w > 0 => w as u64,
        0 => 1,
        DISPATCH_QUEUE_WIDTH_ACTIVE_CPUS => sys::cpu_count() as u64,
        DISPATCH_QUEUE_WIDTH_MAX_PHYSICAL_CPUS => sys::cpu_count_configured() as u64,
        _ => sys::cpu_count_configured() as u64,
    };
    n.clamp(1, state::WIDTH_MAX as u64) as u32
}

/// Legacy concurrency limit of a concurrent queue. Takes effect as a barrier, as in the
/// reference: items submitted before run under the old width, items submitted after under
/// the new one. Global queues are left alone; a serial queue (or the main queue) aborts
/// with the reference's message (only a concurrent queue's width can change).
#[no_mangle]
pub unsafe extern "C" fn dispatch_queue_set_width(dq: dispatch_queue_t, width: c_long) {
    // SAFETY: the client passes a queue.
    let q = unsafe { queue_arg(dq, "dispatch_queue_set_width") };
    if q.is_root() {
        return;
    }
    if q.flavor != Flavor::Custom || q.is_serial() {
        sys::abort_with_message("BUG IN CLIENT OF LIBDISPATCH: Cannot set width of a serial queue");
    }
    let limit = legacy_width(width);
    let qp = q as *const Queue as usize;
    // The item runs while the queue is held by this barrier; the queue is alive because a
    // queue with items is enqueued, draining or held (see `queue::submit`).
    let mut c = Continuation::from_closure(Box::new(move || {
        // SAFETY: see above.
        unsafe { &*(qp as *const Queue) }.state.set_width_limit(limit)
    }));
    c.barrier = true;
    queue::submit(q, c);
}

/// The queue a QoS setter applies to: a custom queue, or a source's queue; either must
/// still be inactive (the reference's rule: these are set up before activation).
unsafe fn qos_target<'a>(object: dispatch_object_t, what: &str) -> &'a Queue {
    // SAFETY: the client passes a dispatch object.
    let h = unsafe { resolve(object, None, what) };
    let q: &Queue = if h.kind_is(Kind::Queue) {
        // SAFETY: a queue's header is its first field.
        unsafe { &*(h as *const _ as *const Queue) }
    } else if h.kind_is(Kind::Source) {
        // SAFETY: a source's header is its first field.
        unsafe { &*(h as *const _ as *const Source) }.queue()
    } else {
        sys::abort_with_message(&format!(
            "BUG IN CLIENT OF LIBDISPATCH: {what} called on invalid object type"
        ))
    };
    if q.flavor != Flavor::Custom || !q.state.snapshot().is_inactive() {
        sys::abort_with_message(
            "BUG IN CLIENT OF LIBDISPATCH: dispatch queue/source property setter called after activation",
        );
    }
    q
}

fn valid_qos(qos: dispatch_qos_class_t, relative_priority: c_int) -> bool {
    (qos == 0 || is_qos_class(qos)) && (-15..=0).contains(&relative_priority)
}

/// QoS class of an inactive queue or source, as if given by its creation attribute: its
/// items run at that class (a block's own class only with ENFORCE). Invalid values are
/// ignored, as the reference's encoding of them is "unspecified".
#[no_mangle]
pub unsafe extern "C" fn dispatch_set_qos_class(
    object: dispatch_object_t,
    qos_class: dispatch_qos_class_t,
    relative_priority: c_int,
) {
    // SAFETY: forwarded contract.
    let q = unsafe { qos_target(object, "dispatch_set_qos_class") };
    if valid_qos(qos_class, relative_priority) {
        q.set_qos(qos_class, relative_priority, false, None);
    }
}

/// QoS floor of an inactive queue or source: its items run at least at that class, and a
/// submitted block's own higher class is honoured.
#[no_mangle]
pub unsafe extern "C" fn dispatch_set_qos_class_floor(
    object: dispatch_object_t,
    qos_class: dispatch_qos_class_t,
    relative_priority: c_int,
) {
    // SAFETY: forwarded contract.
    let q = unsafe { qos_target(object, "dispatch_set_qos_class_floor") };
    if valid_qos(qos_class, relative_priority) {
        q.set_qos(qos_class, relative_priority, true, None);
    }
}

/// Fallback QoS of an inactive queue or source: the class its items run at when the queue
/// has no class of its own (a class set with the attribute or `dispatch_set_qos_class`
/// wins).
#[no_mangle]
pub unsafe extern "C" fn dispatch_set_qos_class_fallback(
    object: dispatch_object_t,
    qos_class: dispatch_qos_class_t,
) {
    // SAFETY: forwarded contract.
    let q = unsafe { qos_target(object, "dispatch_set_qos_class_fallback") };
    if valid_qos(qos_class, 0) {
        q.set_qos(0, 0, false, Some(qos_class));
    }
}

/// An attribute whose queues target an overcommit root queue (`true`: a thread is always
/// found for them, even when every CPU is busy) or a plain one (`false`), whatever their
/// kind's default (serial: overcommit; concurrent: not).
#[no_mangle]
pub unsafe extern "C" fn dispatch_queue_attr_make_with_overcommit(
    attr: dispatch_queue_attr_t,
    overcommit: bool,
) -> dispatch_queue_attr_t {
    // SAFETY: the client passes NULL or a queue attribute.
    let a = QueueAttr::from_client(unsafe { (attr as *const QueueAttr).as_ref() });
    QueueAttr { overcommit: if overcommit { 1 } else { 2 }, ..a }.intern() as *const QueueAttr
        as dispatch_queue_attr_t
}

/// Sets the label to the client's string without copying it (the client keeps it alive
/// for the queue's life). Global and main queues keep their labels.
#[no_mangle]
pub unsafe extern "C" fn dispatch_queue_set_label_nocopy(queue: dispatch_queue_t, label: *const c_char) {
    // SAFETY: the client passes a queue.
    let q = unsafe { queue_arg(queue, "dispatch_queue_set_label_nocopy") };
    if q.flavor == Flavor::Custom {
        // SAFETY: the client keeps a non-NULL label alive for the queue's life (the call's
        // contract); "" is static.
        unsafe { q.set_label_nocopy(if label.is_null() { c"".as_ptr() } else { label }) };
    }
}

/// `dispatch_async_f` whose item runs at the submitter's QoS class even when the queue has
/// a class of its own (as a block created with `DISPATCH_BLOCK_ENFORCE_QOS_CLASS` does). On
/// a global queue of a lower class the item goes to the global queue of the submitter's.
#[no_mangle]
pub unsafe extern "C" fn dispatch_async_enforce_qos_class_f(
    queue: dispatch_queue_t,
    context: *mut c_void,
    work: dispatch_function_t,
) {
    // SAFETY: the client passes a queue.
    let q = unsafe { queue_arg(queue, "dispatch_async_enforce_qos_class_f") };
    // SAFETY: as dispatch_async_f's contract: the function is called once with the
    // context, on a thread of the queue's choosing.
    let work = unsafe { ClientFn::new(function_arg(work, "dispatch_async_enforce_qos_class_f"), context) };
    let mut c = Continuation::boxed(work, false);
    let run_qos = crate::qos::current();
    c.qos = run_qos;
    let target = match q.flavor {
        Flavor::Root(index) if rank_of_qos(run_qos) > rank_of_qos(q.qos()) => {
            root_queue(rank_of_qos(run_qos), index % 2 == 1)
        }
        _ => q,
    };
    queue::submit(target, c);
}

/// A removed Apple SPI (accounting vouchers): a plain `dispatch_queue_create`; the voucher
/// is ignored.
#[no_mangle]
pub unsafe extern "C" fn dispatch_queue_create_with_accounting_override_voucher(
    label: *const c_char,
    attr: dispatch_queue_attr_t,
    _voucher: voucher_t,
) -> dispatch_queue_t {
    // SAFETY: forwarded contract.
    unsafe { super::super::queue::dispatch_queue_create(label, attr) }
}

/// `struct dispatch_queue_offsets_s` of the reference's `layout_private.h`: where a
/// debugger finds a queue's fields (offset, then size in bytes; 0/0 for fields this
/// library does not keep as a field of their own).
#[repr(C)]
pub struct DispatchQueueOffsets {
    pub dqo_version: u16,
    pub dqo_label: u16,
    pub dqo_label_size: u16,
    pub dqo_flags: u16,
    pub dqo_flags_size: u16,
    pub dqo_serialnum: u16,
    pub dqo_serialnum_size: u16,
    pub dqo_width: u16,
    pub dqo_width_size: u16,
    pub dqo_running: u16,
    pub dqo_running_size: u16,
    pub dqo_suspend_cnt: u16,
    pub dqo_suspend_cnt_size: u16,
    pub dqo_target_queue: u16,
    pub dqo_target_queue_size: u16,
    pub dqo_priority: u16,
    pub dqo_priority_size: u16,
}

/// The label is the creation label's pointer (`dispatch_queue_set_label_nocopy` keeps its
/// string elsewhere; `dispatch_queue_get_label` is authoritative), the width is the width
/// limit (a `uint32_t`), the priority the QoS class (`dispatch_qos_class_t`). The running
/// and suspend counts are packed into the state word (`docs/ARCHITECTURE.md`), and there
/// are no flags or serial numbers: those are 0/0.
#[no_mangle]
pub static dispatch_queue_offsets: DispatchQueueOffsets = DispatchQueueOffsets {
    dqo_version: 6,
    dqo_label: layout::LABEL as u16,
    dqo_label_size: core::mem::size_of::<*const c_char>() as u16,
    dqo_flags: 0,
    dqo_flags_size: 0,
    dqo_serialnum: 0,
    dqo_serialnum_size: 0,
    dqo_width: layout::WIDTH as u16,
    dqo_width_size: 4,
    dqo_running: 0,
    dqo_running_size: 0,
    dqo_suspend_cnt: 0,
    dqo_suspend_cnt_size: 0,
    dqo_target_queue: layout::TARGET as u16,
    dqo_target_queue_size: core::mem::size_of::<*const Queue>() as u16,
    dqo_priority: layout::QOS as u16,
    dqo_priority_size: 4,
};

const _: () = assert!(core::mem::size_of::<DispatchQueueOffsets>() == 34); // the reference's size
