//! `dispatch/source.h`.
//!
//! Source types are data objects the header takes the address of
//! (`DISPATCH_SOURCE_TYPE_READ` is `&_dispatch_source_type_read`). A non-PIE program holds
//! a copy of each (copy relocation) and passes that copy's address, so a type is
//! recognised by comparing the pointer against both our objects and the addresses the
//! dynamic linker resolved the names to, never by reading through an unknown pointer.

use super::block::dispatch_block_t;
use super::{dispatch_function_t, dispatch_queue_t, dispatch_time_t, intptr_t, queue_arg, size_t, uintptr_t};
use crate::blocks::owned::OwnedBlock;
use crate::object::Kind;
use crate::source::kinds::SourceKind;
use crate::source::{HandlerSlot, Source};
use crate::sys;
use core::ffi::{c_void, CStr};
use std::sync::OnceLock;

pub type dispatch_source_t = *mut c_void;
pub type dispatch_source_type_t = *const c_void;

/// A source type object: 48 bytes, the reference's size (a copy relocation has that size).
#[repr(C, align(8))]
pub struct SourceType([u64; 6]);

macro_rules! source_types {
    ($($name:ident => $kind:ident,)*) => {
        $(
            #[no_mangle]
            pub static $name: SourceType = SourceType([0x6473_7074_7479_7065, SourceKind::$kind as u64, 0, 0, 0, 0]);
        )*
        fn known_types() -> &'static [(usize, SourceKind)] {
            static KNOWN: OnceLock<Vec<(usize, SourceKind)>> = OnceLock::new();
            KNOWN.get_or_init(|| {
                let mut v = Vec::new();
                $(
                    v.push((core::ptr::addr_of!($name) as usize, SourceKind::$kind));
                    let name = CStr::from_bytes_with_nul(concat!(stringify!($name), "\0").as_bytes()).expect("literal");
                    if let Some(p) = sys::global_symbol_address(name) {
                        v.push((p as usize, SourceKind::$kind));
                    }
                )*
                v
            })
        }
    };
}

source_types! {
    _dispatch_source_type_data_add => DataAdd,
    _dispatch_source_type_data_or => DataOr,
    _dispatch_source_type_data_replace => DataReplace,
    _dispatch_source_type_timer => Timer,
    _dispatch_source_type_interval => Interval,
    _dispatch_source_type_read => Read,
    _dispatch_source_type_write => Write,
    _dispatch_source_type_signal => Signal,
    _dispatch_source_type_proc => Proc,
    _dispatch_source_type_vnode => Vnode,
    _dispatch_source_type_memorypressure => MemoryPressure,
}

fn kind_of(t: dispatch_source_type_t) -> Option<SourceKind> {
    known_types().iter().find(|(addr, _)| *addr == t as usize).map(|&(_, k)| k)
}

unsafe fn source_arg<'a>(s: dispatch_source_t, what: &str) -> &'a Source {
    // SAFETY: forwarded contract.
    unsafe { super::object_arg(s, Kind::Source, what) }
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_source_create(
    r#type: dispatch_source_type_t,
    handle: uintptr_t,
    mask: uintptr_t,
    queue: dispatch_queue_t,
) -> dispatch_source_t {
    let Some(kind) = kind_of(r#type) else { return core::ptr::null_mut() };
    let target = if queue.is_null() {
        crate::queue::root::default_queue()
    } else {
        // SAFETY: the client passes a queue.
        unsafe { queue_arg(queue, "dispatch_source_create") }
    };
    Source::create(kind, handle, mask, Some(target)).map_or(core::ptr::null_mut(), |s| s as dispatch_source_t)
}

unsafe fn set_handler_f(
    source: dispatch_source_t,
    slot: HandlerSlot,
    handler: dispatch_function_t,
    what: &str,
) {
    // SAFETY: the client passes a source.
    let s = unsafe { source_arg(source, what) };
    // SAFETY: the client's handler may be called with the source's context.
    unsafe { s.set_handler(slot, handler) };
}

unsafe fn set_handler_block(
    source: dispatch_source_t,
    slot: HandlerSlot,
    handler: dispatch_block_t,
    what: &str,
) {
    // SAFETY: the client passes a source.
    let s = unsafe { source_arg(source, what) };
    // SAFETY: the client passes a block or NULL, handed to dispatch; it is copied.
    s.set_block_handler(slot, unsafe { OwnedBlock::copy(handler) });
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_source_set_event_handler_f(
    source: dispatch_source_t,
    handler: dispatch_function_t,
) {
    // SAFETY: forwarded.
    unsafe { set_handler_f(source, HandlerSlot::Event, handler, "dispatch_source_set_event_handler_f") }
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_source_set_cancel_handler_f(
    source: dispatch_source_t,
    handler: dispatch_function_t,
) {
    // SAFETY: forwarded.
    unsafe { set_handler_f(source, HandlerSlot::Cancel, handler, "dispatch_source_set_cancel_handler_f") }
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_source_set_mandatory_cancel_handler_f(
    source: dispatch_source_t,
    handler: dispatch_function_t,
) {
    // SAFETY: forwarded.
    unsafe {
        set_handler_f(
            source,
            HandlerSlot::MandatoryCancel,
            handler,
            "dispatch_source_set_mandatory_cancel_handler_f",
        )
    }
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_source_set_registration_handler_f(
    source: dispatch_source_t,
    handler: dispatch_function_t,
) {
    // SAFETY: forwarded.
    unsafe {
        set_handler_f(
            source,
            HandlerSlot::Registration,
            handler,
            "dispatch_source_set_registration_handler_f",
        )
    }
}

#[cfg(feature = "blocks")]
#[no_mangle]
pub unsafe extern "C" fn dispatch_source_set_event_handler(
    source: dispatch_source_t,
    handler: dispatch_block_t,
) {
    // SAFETY: forwarded.
    unsafe { set_handler_block(source, HandlerSlot::Event, handler, "dispatch_source_set_event_handler") }
}

#[cfg(feature = "blocks")]
#[no_mangle]
pub unsafe extern "C" fn dispatch_source_set_cancel_handler(
    source: dispatch_source_t,
    handler: dispatch_block_t,
) {
    // SAFETY: forwarded.
    unsafe { set_handler_block(source, HandlerSlot::Cancel, handler, "dispatch_source_set_cancel_handler") }
}

#[cfg(feature = "blocks")]
#[no_mangle]
pub unsafe extern "C" fn dispatch_source_set_mandatory_cancel_handler(
    source: dispatch_source_t,
    handler: dispatch_block_t,
) {
    // SAFETY: forwarded.
    unsafe {
        set_handler_block(
            source,
            HandlerSlot::MandatoryCancel,
            handler,
            "dispatch_source_set_mandatory_cancel_handler",
        )
    }
}

#[cfg(feature = "blocks")]
#[no_mangle]
pub unsafe extern "C" fn dispatch_source_set_registration_handler(
    source: dispatch_source_t,
    handler: dispatch_block_t,
) {
    // SAFETY: forwarded.
    unsafe {
        set_handler_block(
            source,
            HandlerSlot::Registration,
            handler,
            "dispatch_source_set_registration_handler",
        )
    }
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_source_cancel(source: dispatch_source_t) {
    // SAFETY: the client passes a source.
    unsafe { source_arg(source, "dispatch_source_cancel") }.cancel();
}

/// Cancels `source` and returns once its cancel handler has run.
#[no_mangle]
pub unsafe extern "C" fn dispatch_source_cancel_and_wait(source: dispatch_source_t) {
    // SAFETY: the client passes a source.
    unsafe { source_arg(source, "dispatch_source_cancel_and_wait") }.cancel_and_wait();
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_source_testcancel(source: dispatch_source_t) -> intptr_t {
    // SAFETY: the client passes a source.
    unsafe { source_arg(source, "dispatch_source_testcancel") }.is_cancelled() as intptr_t
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_source_get_data(source: dispatch_source_t) -> uintptr_t {
    // SAFETY: the client passes a source.
    unsafe { source_arg(source, "dispatch_source_get_data") }.data() as uintptr_t
}

/// `struct dispatch_source_extended_data_s`: the data, and a process's exit status.
#[repr(C)]
struct ExtendedData {
    data: u64,
    status: u64,
}

/// C's `dispatch_source_extended_data_t` (declared in the header prelude).
pub type dispatch_source_extended_data_t = *mut c_void;

#[no_mangle]
pub unsafe extern "C" fn dispatch_source_get_extended_data(
    source: dispatch_source_t,
    data: dispatch_source_extended_data_t,
    size: size_t,
) -> size_t {
    // SAFETY: the client passes a source.
    let s = unsafe { source_arg(source, "dispatch_source_get_extended_data") };
    let value = ExtendedData { data: s.data(), status: s.status() };
    let n = size.min(core::mem::size_of::<ExtendedData>());
    if !data.is_null() {
        // SAFETY: the client gives `size` writable bytes at `data`.
        unsafe { core::ptr::copy_nonoverlapping(&value as *const _ as *const u8, data as *mut u8, n) };
    }
    n
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_source_get_mask(source: dispatch_source_t) -> uintptr_t {
    // SAFETY: the client passes a source.
    unsafe { source_arg(source, "dispatch_source_get_mask") }.mask
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_source_get_handle(source: dispatch_source_t) -> uintptr_t {
    // SAFETY: the client passes a source.
    unsafe { source_arg(source, "dispatch_source_get_handle") }.handle
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_source_merge_data(source: dispatch_source_t, value: uintptr_t) {
    // SAFETY: the client passes a source.
    let s = unsafe { source_arg(source, "dispatch_source_merge_data") };
    if !s.kind.is_data() {
        sys::abort_with_message("BUG IN CLIENT OF LIBDISPATCH: dispatch_source_merge_data called on a source that is not a DATA_ADD, DATA_OR or DATA_REPLACE source");
    }
    s.merge_data(value as u64);
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_source_set_timer(
    source: dispatch_source_t,
    start: dispatch_time_t,
    interval: u64,
    leeway: u64,
) {
    // SAFETY: the client passes a source.
    let s = unsafe { source_arg(source, "dispatch_source_set_timer") };
    if s.kind != SourceKind::Timer {
        sys::abort_with_message(
            "BUG IN CLIENT OF LIBDISPATCH: dispatch_source_set_timer called on a source that is not a timer",
        );
    }
    s.set_timer(start, interval, leeway);
}
