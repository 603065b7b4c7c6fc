//! `dispatch/data.h`.
//!
//! `DISPATCH_DATA_DESTRUCTOR_FREE` and friends are the *values* of exported block
//! variables: global blocks the library recognises by address and never calls.
//! `dispatch_data_empty` is the address of an exported forwarder to the empty data, so a
//! copy of it (copy relocation) still resolves.

use super::block::dispatch_block_t;
use super::{dispatch_function_t, dispatch_queue_t, queue_arg, size_t};
use crate::blocks::layout::{BlockLayout, Descriptor, IS_GLOBAL};
use crate::blocks::runtime;
use crate::callback::ClientFn;
use crate::data::{self, Data, Destructor};
use crate::object::{Forwarder, Kind, Ref};
use crate::queue::Queue;
use core::ffi::c_void;
use core::sync::atomic::AtomicI32;

pub type dispatch_data_t = *mut c_void;
/// C's `bool (^)(dispatch_data_t region, size_t offset, const void *buffer, size_t size)`.
pub type dispatch_data_applier_t = *mut c_void;
pub type dispatch_data_applier_function_t =
    Option<unsafe extern "C" fn(*mut c_void, dispatch_data_t, size_t, *const c_void, size_t) -> bool>;

/// A global block literal (no captures, never copied or freed).
#[repr(C)]
pub struct MarkerBlock(BlockLayout);
// SAFETY: never written; the flags word is only read (IS_GLOBAL blocks are not counted).
unsafe impl Sync for MarkerBlock {}

/// An exported `dispatch_block_t` variable.
#[repr(C)]
pub struct BlockVariable(*const MarkerBlock);
// SAFETY: immutable pointer to immutable static data.
unsafe impl Sync for BlockVariable {}

unsafe extern "C" fn marker_invoke(_block: *mut c_void) {}

static MARKER_DESCRIPTOR: Descriptor = Descriptor { reserved: 0, size: core::mem::size_of::<BlockLayout>() };

macro_rules! marker_block {
    ($name:ident) => {
        static $name: MarkerBlock = MarkerBlock(BlockLayout {
            isa: core::ptr::addr_of!(super::block_runtime::_NSConcreteGlobalBlock) as *const c_void,
            flags: AtomicI32::new(IS_GLOBAL),
            reserved: 0,
            invoke: marker_invoke as *const c_void,
            descriptor: &MARKER_DESCRIPTOR,
        });
    };
}

marker_block!(FREE_MARKER);
marker_block!(MUNMAP_MARKER);
marker_block!(NONE_MARKER);

#[no_mangle]
pub static _dispatch_data_destructor_free: BlockVariable = BlockVariable(&FREE_MARKER);
#[no_mangle]
pub static _dispatch_data_destructor_munmap: BlockVariable = BlockVariable(&MUNMAP_MARKER);
#[no_mangle]
pub static _dispatch_data_destructor_none: BlockVariable = BlockVariable(&NONE_MARKER);

/// `dispatch_data_empty` is `&_dispatch_data_empty`.
#[no_mangle]
pub static _dispatch_data_empty: Forwarder = Forwarder::new(&data::EMPTY.header);

pub(super) unsafe fn data_arg<'a>(d: dispatch_data_t, what: &str) -> &'a Data {
    // SAFETY: forwarded contract.
    unsafe { super::object_arg(d, Kind::Data, what) }
}

pub(crate) fn out(d: *const Data) -> dispatch_data_t {
    if core::ptr::eq(d, &data::EMPTY) {
        return core::ptr::addr_of!(_dispatch_data_empty) as dispatch_data_t;
    }
    d as dispatch_data_t
}

/// The queue a client destructor runs on (retained), NULL meaning the default queue.
unsafe fn destructor_queue(queue: dispatch_queue_t, what: &str) -> Option<Ref<Queue>> {
    if queue.is_null() {
        return None;
    }
    // SAFETY: the client passes a queue.
    Some(Ref::retain(unsafe { queue_arg(queue, what) }))
}

/// The special destructor a pointer names, if it is one of the exported markers.
fn special_destructor(p: *const c_void) -> Option<Destructor> {
    let is = |m: &MarkerBlock| core::ptr::eq(p, m as *const MarkerBlock as *const c_void);
    if is(&FREE_MARKER) {
        Some(Destructor::Free)
    } else if is(&MUNMAP_MARKER) {
        Some(Destructor::Munmap)
    } else if is(&NONE_MARKER) {
        Some(Destructor::None)
    } else {
        None
    }
}

#[cfg(feature = "blocks")]
#[no_mangle]
pub unsafe extern "C" fn dispatch_data_create(
    buffer: *const c_void,
    size: size_t,
    queue: dispatch_queue_t,
    destructor: dispatch_block_t,
) -> dispatch_data_t {
    if destructor.is_null() {
        // SAFETY: DEFAULT: the client's buffer is readable for `size` bytes now.
        return out(unsafe { data::create_copy(buffer as *const u8, size) });
    }
    let d = match special_destructor(destructor) {
        Some(d) => d,
        None => Destructor::Call {
            // SAFETY: a client block, copied; `call_and_release` calls the copy once and
            // releases it, and a data destructor runs once.
            work: unsafe {
                ClientFn::new(crate::blocks::submit::call_and_release, runtime::copy(destructor))
            },
            // SAFETY: the client passes a queue or NULL.
            queue: unsafe { destructor_queue(queue, "dispatch_data_create") },
        },
    };
    // SAFETY: data.h: the buffer stays readable and unchanged until the destructor runs
    // (for DISPATCH_DATA_DESTRUCTOR_FREE, a malloc'd block).
    out(unsafe { data::create(buffer as *const u8, size, d) })
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_data_create_f(
    buffer: *const c_void,
    size: size_t,
    queue: dispatch_queue_t,
    destructor: dispatch_function_t,
) -> dispatch_data_t {
    let Some(f) = destructor else {
        // SAFETY: DEFAULT: as in `dispatch_data_create`.
        return out(unsafe { data::create_copy(buffer as *const u8, size) });
    };
    let d = match special_destructor(f as *const c_void) {
        Some(d) => d,
        None => Destructor::Call {
            // SAFETY: dispatch_data_create_f's contract: the destructor is called once with
            // the buffer, on any thread of the queue, when the data goes.
            work: unsafe { ClientFn::new(f, buffer as *mut c_void) },
            // SAFETY: the client passes a queue or NULL.
            queue: unsafe { destructor_queue(queue, "dispatch_data_create_f") },
        },
    };
    // SAFETY: as in `dispatch_data_create`.
    out(unsafe { data::create(buffer as *const u8, size, d) })
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_data_create_alloc(
    size: size_t,
    buffer_ptr: *mut *mut c_void,
) -> dispatch_data_t {
    let (buffer, d) = data::create_alloc(size);
    if !buffer_ptr.is_null() {
        // SAFETY: the client passes a writable pointer or NULL.
        unsafe { *buffer_ptr = buffer as *mut c_void };
    }
    out(d)
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_data_get_size(data: dispatch_data_t) -> size_t {
    // SAFETY: the client passes a data object.
    unsafe { data_arg(data, "dispatch_data_get_size") }.size()
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_data_create_map(
    data: dispatch_data_t,
    buffer_ptr: *mut *const c_void,
    size_ptr: *mut size_t,
) -> dispatch_data_t {
    // SAFETY: the client passes a data object.
    let d = unsafe { data_arg(data, "dispatch_data_create_map") };
    let (mapped, buffer) = d.map();
    // SAFETY: the client passes writable pointers or NULL.
    unsafe {
        if !buffer_ptr.is_null() {
            *buffer_ptr = buffer as *const c_void;
        }
        if !size_ptr.is_null() {
            *size_ptr = d.size();
        }
    }
    out(mapped)
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_data_create_concat(
    data1: dispatch_data_t,
    data2: dispatch_data_t,
) -> dispatch_data_t {
    // SAFETY: the client passes data objects.
    let (a, b) = unsafe {
        (data_arg(data1, "dispatch_data_create_concat"), data_arg(data2, "dispatch_data_create_concat"))
    };
    out(a.concat(b))
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_data_create_subrange(
    data: dispatch_data_t,
    offset: size_t,
    length: size_t,
) -> dispatch_data_t {
    // SAFETY: the client passes a data object.
    out(unsafe { data_arg(data, "dispatch_data_create_subrange") }.subrange(offset, length))
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_data_apply_f(
    data: dispatch_data_t,
    context: *mut c_void,
    applier: dispatch_data_applier_function_t,
) -> bool {
    // SAFETY: the client passes a data object.
    let d = unsafe { data_arg(data, "dispatch_data_apply_f") };
    let applier = super::function_arg(
        // SAFETY: only the NULL check; the function is called with its own signature.
        applier.map(|f| unsafe { core::mem::transmute::<_, unsafe extern "C" fn(*mut c_void)>(f) }),
        "dispatch_data_apply_f",
    );
    // SAFETY: restores the real signature of the function checked above.
    let applier: unsafe extern "C" fn(*mut c_void, dispatch_data_t, size_t, *const c_void, size_t) -> bool =
        unsafe { core::mem::transmute(applier) };
    // SAFETY: the client's applier, called with regions alive for the call.
    d.apply(|region, offset, buffer, size| unsafe {
        applier(context, out(region), offset, buffer as *const c_void, size)
    })
}

#[cfg(feature = "blocks")]
#[no_mangle]
pub unsafe extern "C" fn dispatch_data_apply(
    data: dispatch_data_t,
    applier: dispatch_data_applier_t,
) -> bool {
    // SAFETY: the client passes a data object.
    let d = unsafe { data_arg(data, "dispatch_data_apply") };
    let block = crate::blocks::submit::block_arg(applier, "dispatch_data_apply");
    // SAFETY: a block's invoke takes the block first, then the applier's arguments.
    let invoke: unsafe extern "C" fn(*const c_void, dispatch_data_t, size_t, *const c_void, size_t) -> bool =
        unsafe { core::mem::transmute((*(block as *const BlockLayout)).invoke) };
    // SAFETY: the client's block, called in place with regions alive for the call.
    d.apply(|region, offset, buffer, size| unsafe {
        invoke(block, out(region), offset, buffer as *const c_void, size)
    })
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_data_copy_region(
    data: dispatch_data_t,
    location: size_t,
    offset_ptr: *mut size_t,
) -> dispatch_data_t {
    // SAFETY: the client passes a data object.
    let (region, offset) = unsafe { data_arg(data, "dispatch_data_copy_region") }.copy_region(location);
    if !offset_ptr.is_null() {
        // SAFETY: the client passes a writable pointer or NULL.
        unsafe { *offset_ptr = offset };
    }
    out(region)
}
