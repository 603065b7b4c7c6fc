//! `dispatch/io.h`: channels, and the one-shot `dispatch_read`/`dispatch_write`.

use super::block::dispatch_block_t;
use super::data::data_arg;
use super::data::{dispatch_data_t, out};
use super::{dispatch_queue_t, queue_arg, size_t};
use crate::blocks::layout::BlockLayout;
use crate::blocks::runtime;
use crate::data::Data;
use crate::io::fd::FdEntry;
use crate::io::{callback, Callback, Channel, IoType};
use crate::object::Kind;
use crate::queue::Queue;
use core::ffi::{c_char, c_int, c_void, CStr};
use std::sync::Arc;

pub type dispatch_io_t = *mut c_void;
pub type dispatch_io_type_t = core::ffi::c_ulong;
pub type dispatch_io_close_flags_t = core::ffi::c_ulong;
pub type dispatch_io_interval_flags_t = core::ffi::c_ulong;
pub type dispatch_fd_t = c_int;
/// C's `void (^)(bool done, dispatch_data_t data, int error)`.
pub type dispatch_io_handler_t = *mut c_void;
pub type dispatch_io_handler_function_t =
    Option<unsafe extern "C" fn(*mut c_void, bool, dispatch_data_t, c_int)>;
/// C's `void (^)(int error)` (cleanup handlers).
pub type dispatch_io_cleanup_handler_t = *mut c_void;
/// C's `void (*)(void *context, int error)`.
pub type dispatch_io_cleanup_function_t = Option<unsafe extern "C" fn(*mut c_void, c_int)>;
/// C's `void (^)(dispatch_data_t data, int error)` (`dispatch_read`/`dispatch_write`).
pub type dispatch_io_data_handler_t = *mut c_void;
/// C's `void (*)(void *context, dispatch_data_t data, int error)`.
pub type dispatch_io_data_handler_function_t =
    Option<unsafe extern "C" fn(*mut c_void, dispatch_data_t, c_int)>;
type CleanupFn = dispatch_io_cleanup_function_t;
type DataHandlerFn = dispatch_io_data_handler_function_t;

const DISPATCH_IO_STOP: dispatch_io_close_flags_t = 0x1;

/// Our copy of a client block, released when the last callback holding it goes.
struct BlockHandle(*mut c_void);
// SAFETY: a heap block is immutable and its count is atomic.
unsafe impl Send for BlockHandle {}
// SAFETY: as above.
unsafe impl Sync for BlockHandle {}
impl Drop for BlockHandle {
    fn drop(&mut self) {
        // SAFETY: balances the copy in `BlockHandle::copy`.
        unsafe { runtime::release(self.0) };
    }
}
impl BlockHandle {
    /// # Safety
    /// `block` must be a block literal.
    unsafe fn copy(block: *const c_void) -> BlockHandle {
        // SAFETY: per the contract.
        BlockHandle(unsafe { runtime::copy(block) })
    }
    fn ptr(&self) -> *mut c_void {
        self.0
    }
    fn invoke<F>(&self) -> F {
        // SAFETY: a block's invoke function; the caller names its real type.
        unsafe { core::mem::transmute_copy(&(*(self.0 as *const BlockLayout)).invoke) }
    }
}

struct Context(*mut c_void);
// SAFETY: the client's context, passed back to the client's function only.
unsafe impl Send for Context {}
// SAFETY: as above.
unsafe impl Sync for Context {}
impl Context {
    fn get(&self) -> *mut c_void {
        self.0
    }
}

unsafe fn opt_queue<'a>(queue: dispatch_queue_t, what: &str) -> Option<&'a Queue> {
    // SAFETY: the client passes a queue or NULL.
    (!queue.is_null()).then(|| unsafe { queue_arg(queue, what) })
}

unsafe fn channel_arg<'a>(c: dispatch_io_t, what: &str) -> &'a Channel {
    // SAFETY: forwarded contract.
    unsafe { super::object_arg(c, Kind::Io, what) }
}

fn io_type(t: dispatch_io_type_t) -> Option<IoType> {
    match t {
        0 => Some(IoType::Stream),
        1 => Some(IoType::Random),
        _ => None,
    }
}

// ---- callbacks -------------------------------------------------------------------------

fn cleanup_block(queue: Option<&Queue>, block: *const c_void) -> Option<Arc<Callback>> {
    if block.is_null() {
        return None;
    }
    // SAFETY: a client block.
    let b = unsafe { BlockHandle::copy(block) };
    let invoke: unsafe extern "C" fn(*mut c_void, c_int) = b.invoke();
    // SAFETY: the block's signature is `void (^)(int error)`.
    Some(callback(queue, Box::new(move |_, _, error| unsafe { invoke(b.ptr(), error) })))
}

fn cleanup_function(queue: Option<&Queue>, context: *mut c_void, f: CleanupFn) -> Option<Arc<Callback>> {
    let f = f?;
    let ctx = Context(context);
    // SAFETY: the client's function and context.
    Some(callback(queue, Box::new(move |_, _, error| unsafe { f(ctx.get(), error) })))
}

fn io_handler_block(queue: Option<&Queue>, block: *const c_void) -> Arc<Callback> {
    if block.is_null() {
        return callback(queue, Box::new(|_, _, _| {}));
    }
    // SAFETY: a client block.
    let b = unsafe { BlockHandle::copy(block) };
    let invoke: unsafe extern "C" fn(*mut c_void, bool, dispatch_data_t, c_int) = b.invoke();
    // SAFETY: the block's signature is `void (^)(bool, dispatch_data_t, int)`.
    callback(
        queue,
        Box::new(move |done, data, error| unsafe { invoke(b.ptr(), done, data_out(data), error) }),
    )
}

fn io_handler_function(
    queue: Option<&Queue>,
    context: *mut c_void,
    f: dispatch_io_handler_function_t,
) -> Arc<Callback> {
    let ctx = Context(context);
    match f {
        // SAFETY: the client's function and context.
        Some(f) => callback(
            queue,
            Box::new(move |done, data, error| unsafe { f(ctx.get(), done, data_out(data), error) }),
        ),
        None => callback(queue, Box::new(|_, _, _| {})),
    }
}

/// A handler's data argument: NULL stays NULL (a write that completed), else the object.
fn data_out(d: *const Data) -> dispatch_data_t {
    if d.is_null() {
        core::ptr::null_mut()
    } else {
        out(d)
    }
}

// ---- channels --------------------------------------------------------------------------

fn new_channel(t: dispatch_io_type_t, entry: Arc<FdEntry>, cleanup: Option<Arc<Callback>>) -> dispatch_io_t {
    match io_type(t) {
        Some(t) => Channel::create(t, entry, cleanup) as dispatch_io_t,
        None => core::ptr::null_mut(),
    }
}

unsafe fn path_entry(
    path: *const c_char,
    oflag: c_int,
    mode: libc::mode_t,
    t: IoType,
) -> Option<Arc<FdEntry>> {
    // SAFETY: NULL or a NUL-terminated path, per the API.
    let path = unsafe { path.as_ref() }.map(|_| unsafe { CStr::from_ptr(path) })?;
    // Like the reference: the path must be absolute.
    path.to_bytes()
        .starts_with(b"/")
        .then(|| Arc::new(FdEntry::with_path(path.to_owned(), oflag, mode, t == IoType::Random)))
}

#[cfg(feature = "blocks")]
#[no_mangle]
pub unsafe extern "C" fn dispatch_io_create(
    r#type: dispatch_io_type_t,
    fd: dispatch_fd_t,
    queue: dispatch_queue_t,
    cleanup_handler: dispatch_io_cleanup_handler_t,
) -> dispatch_io_t {
    if io_type(r#type).is_none() {
        return core::ptr::null_mut();
    }
    // SAFETY: the client passes a queue or NULL.
    let q = unsafe { opt_queue(queue, "dispatch_io_create") };
    new_channel(r#type, Arc::new(FdEntry::with_fd(fd)), cleanup_block(q, cleanup_handler))
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_io_create_f(
    r#type: dispatch_io_type_t,
    fd: dispatch_fd_t,
    queue: dispatch_queue_t,
    context: *mut c_void,
    cleanup_handler: dispatch_io_cleanup_function_t,
) -> dispatch_io_t {
    if io_type(r#type).is_none() {
        return core::ptr::null_mut();
    }
    // SAFETY: the client passes a queue or NULL.
    let q = unsafe { opt_queue(queue, "dispatch_io_create_f") };
    new_channel(r#type, Arc::new(FdEntry::with_fd(fd)), cleanup_function(q, context, cleanup_handler))
}

#[cfg(feature = "blocks")]
#[no_mangle]
pub unsafe extern "C" fn dispatch_io_create_with_path(
    r#type: dispatch_io_type_t,
    path: *const c_char,
    oflag: c_int,
    mode: libc::mode_t,
    queue: dispatch_queue_t,
    cleanup_handler: dispatch_io_cleanup_handler_t,
) -> dispatch_io_t {
    // SAFETY: forwarded.
    let Some(entry) = io_type(r#type).and_then(|t| unsafe { path_entry(path, oflag, mode, t) }) else {
        return core::ptr::null_mut();
    };
    // SAFETY: the client passes a queue or NULL.
    let q = unsafe { opt_queue(queue, "dispatch_io_create_with_path") };
    new_channel(r#type, entry, cleanup_block(q, cleanup_handler))
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_io_create_with_path_f(
    r#type: dispatch_io_type_t,
    path: *const c_char,
    oflag: c_int,
    mode: libc::mode_t,
    queue: dispatch_queue_t,
    context: *mut c_void,
    cleanup_handler: dispatch_io_cleanup_function_t,
) -> dispatch_io_t {
    // SAFETY: forwarded.
    let Some(entry) = io_type(r#type).and_then(|t| unsafe { path_entry(path, oflag, mode, t) }) else {
        return core::ptr::null_mut();
    };
    // SAFETY: the client passes a queue or NULL.
    let q = unsafe { opt_queue(queue, "dispatch_io_create_with_path_f") };
    new_channel(r#type, entry, cleanup_function(q, context, cleanup_handler))
}

#[cfg(feature = "blocks")]
#[no_mangle]
pub unsafe extern "C" fn dispatch_io_create_with_io(
    r#type: dispatch_io_type_t,
    io: dispatch_io_t,
    queue: dispatch_queue_t,
    cleanup_handler: dispatch_io_cleanup_handler_t,
) -> dispatch_io_t {
    // SAFETY: the client passes a channel and a queue or NULL.
    let (other, q) = unsafe {
        (channel_arg(io, "dispatch_io_create_with_io"), opt_queue(queue, "dispatch_io_create_with_io"))
    };
    new_channel(r#type, other.entry().clone(), cleanup_block(q, cleanup_handler))
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_io_create_with_io_f(
    r#type: dispatch_io_type_t,
    io: dispatch_io_t,
    queue: dispatch_queue_t,
    context: *mut c_void,
    cleanup_handler: dispatch_io_cleanup_function_t,
) -> dispatch_io_t {
    // SAFETY: as above.
    let (other, q) = unsafe {
        (channel_arg(io, "dispatch_io_create_with_io_f"), opt_queue(queue, "dispatch_io_create_with_io_f"))
    };
    new_channel(r#type, other.entry().clone(), cleanup_function(q, context, cleanup_handler))
}

#[cfg(feature = "blocks")]
#[no_mangle]
pub unsafe extern "C" fn dispatch_io_read(
    channel: dispatch_io_t,
    offset: libc::off_t,
    length: size_t,
    queue: dispatch_queue_t,
    io_handler: dispatch_io_handler_t,
) {
    // SAFETY: the client passes a channel and a queue.
    let (ch, q) = unsafe { (channel_arg(channel, "dispatch_io_read"), opt_queue(queue, "dispatch_io_read")) };
    ch.read(offset, length, io_handler_block(q, io_handler), false);
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_io_read_f(
    channel: dispatch_io_t,
    offset: libc::off_t,
    length: size_t,
    queue: dispatch_queue_t,
    context: *mut c_void,
    io_handler: dispatch_io_handler_function_t,
) {
    // SAFETY: as above.
    let (ch, q) =
        unsafe { (channel_arg(channel, "dispatch_io_read_f"), opt_queue(queue, "dispatch_io_read_f")) };
    ch.read(offset, length, io_handler_function(q, context, io_handler), false);
}

#[cfg(feature = "blocks")]
#[no_mangle]
pub unsafe extern "C" fn dispatch_io_write(
    channel: dispatch_io_t,
    offset: libc::off_t,
    data: dispatch_data_t,
    queue: dispatch_queue_t,
    io_handler: dispatch_io_handler_t,
) {
    // SAFETY: the client passes a channel, data and a queue.
    let (ch, d, q) = unsafe {
        (
            channel_arg(channel, "dispatch_io_write"),
            data_arg(data, "dispatch_io_write"),
            opt_queue(queue, "dispatch_io_write"),
        )
    };
    ch.write(offset, d, io_handler_block(q, io_handler), false);
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_io_write_f(
    channel: dispatch_io_t,
    offset: libc::off_t,
    data: dispatch_data_t,
    queue: dispatch_queue_t,
    context: *mut c_void,
    io_handler: dispatch_io_handler_function_t,
) {
    // SAFETY: as above.
    let (ch, d, q) = unsafe {
        (
            channel_arg(channel, "dispatch_io_write_f"),
            data_arg(data, "dispatch_io_write_f"),
            opt_queue(queue, "dispatch_io_write_f"),
        )
    };
    ch.write(offset, d, io_handler_function(q, context, io_handler), false);
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_io_close(channel: dispatch_io_t, flags: dispatch_io_close_flags_t) {
    // SAFETY: the client passes a channel.
    unsafe { channel_arg(channel, "dispatch_io_close") }.close(flags & DISPATCH_IO_STOP != 0);
}

#[cfg(feature = "blocks")]
#[no_mangle]
pub unsafe extern "C" fn dispatch_io_barrier(channel: dispatch_io_t, barrier: dispatch_block_t) {
    // SAFETY: the client passes a channel.
    let ch = unsafe { channel_arg(channel, "dispatch_io_barrier") };
    let b = crate::blocks::submit::block_arg(barrier, "dispatch_io_barrier");
    // SAFETY: a client block, copied.
    let b = unsafe { BlockHandle::copy(b) };
    let invoke: unsafe extern "C" fn(*mut c_void) = b.invoke();
    // SAFETY: a `void (^)(void)` block.
    ch.barrier(callback(None, Box::new(move |_, _, _| unsafe { invoke(b.ptr()) })));
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_io_barrier_f(
    channel: dispatch_io_t,
    context: *mut c_void,
    barrier: super::dispatch_function_t,
) {
    // SAFETY: the client passes a channel.
    let ch = unsafe { channel_arg(channel, "dispatch_io_barrier_f") };
    let f = super::function_arg(barrier, "dispatch_io_barrier_f");
    let ctx = Context(context);
    // SAFETY: the client's function and context.
    ch.barrier(callback(None, Box::new(move |_, _, _| unsafe { f(ctx.get()) })));
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_io_get_descriptor(channel: dispatch_io_t) -> dispatch_fd_t {
    // SAFETY: the client passes a channel.
    unsafe { channel_arg(channel, "dispatch_io_get_descriptor") }.descriptor()
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_io_set_high_water(channel: dispatch_io_t, high_water: size_t) {
    // SAFETY: the client passes a channel.
    unsafe { channel_arg(channel, "dispatch_io_set_high_water") }.set_high_water(high_water);
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_io_set_low_water(channel: dispatch_io_t, low_water: size_t) {
    // SAFETY: the client passes a channel.
    unsafe { channel_arg(channel, "dispatch_io_set_low_water") }.set_low_water(low_water);
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_io_set_interval(
    channel: dispatch_io_t,
    interval: u64,
    _flags: dispatch_io_interval_flags_t,
) {
    // SAFETY: the client passes a channel.
    unsafe { channel_arg(channel, "dispatch_io_set_interval") }.set_interval(interval);
}

// ---- one-shot read and write -----------------------------------------------------------

/// A STREAM channel on `fd` that performs one operation and closes.
fn one_shot(fd: dispatch_fd_t, run: impl FnOnce(&Channel)) {
    let ch = Channel::create(IoType::Stream, Arc::new(FdEntry::with_fd(fd)), None);
    // SAFETY: freshly created; we hold its client reference.
    let ch = unsafe { &*ch };
    run(ch);
    ch.close(false);
    // SAFETY: our client reference; the running operation keeps the channel alive.
    unsafe { ch.header.release() };
}

fn data_block(queue: Option<&Queue>, block: *const c_void) -> Arc<Callback> {
    // SAFETY: a client block.
    let b = unsafe { BlockHandle::copy(block) };
    let invoke: unsafe extern "C" fn(*mut c_void, dispatch_data_t, c_int) = b.invoke();
    // SAFETY: the block's signature is `void (^)(dispatch_data_t, int)`.
    callback(queue, Box::new(move |_, data, error| unsafe { invoke(b.ptr(), data_out(data), error) }))
}

fn data_function(queue: Option<&Queue>, context: *mut c_void, f: DataHandlerFn) -> Arc<Callback> {
    let ctx = Context(context);
    let f = f.unwrap_or_else(|| crate::sys::abort_with_message("BUG IN CLIENT OF LIBDISPATCH: NULL handler"));
    // SAFETY: the client's function and context.
    callback(queue, Box::new(move |_, data, error| unsafe { f(ctx.get(), data_out(data), error) }))
}

#[cfg(feature = "blocks")]
#[no_mangle]
pub unsafe extern "C" fn dispatch_read(
    fd: dispatch_fd_t,
    length: size_t,
    queue: dispatch_queue_t,
    handler: dispatch_io_data_handler_t,
) {
    // SAFETY: the client passes a queue.
    let q = unsafe { opt_queue(queue, "dispatch_read") };
    let cb = data_block(q, crate::blocks::submit::block_arg(handler, "dispatch_read"));
    one_shot(fd, |ch| ch.read(0, length, cb, true));
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_read_f(
    fd: dispatch_fd_t,
    length: size_t,
    queue: dispatch_queue_t,
    context: *mut c_void,
    handler: dispatch_io_data_handler_function_t,
) {
    // SAFETY: the client passes a queue.
    let q = unsafe { opt_queue(queue, "dispatch_read_f") };
    let cb = data_function(q, context, handler);
    one_shot(fd, |ch| ch.read(0, length, cb, true));
}

#[cfg(feature = "blocks")]
#[no_mangle]
pub unsafe extern "C" fn dispatch_write(
    fd: dispatch_fd_t,
    data: dispatch_data_t,
    queue: dispatch_queue_t,
    handler: dispatch_io_data_handler_t,
) {
    // SAFETY: the client passes data and a queue.
    let (d, q) = unsafe { (data_arg(data, "dispatch_write"), opt_queue(queue, "dispatch_write")) };
    let cb = data_block(q, crate::blocks::submit::block_arg(handler, "dispatch_write"));
    one_shot(fd, |ch| ch.write(0, d, cb, true));
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_write_f(
    fd: dispatch_fd_t,
    data: dispatch_data_t,
    queue: dispatch_queue_t,
    context: *mut c_void,
    handler: dispatch_io_data_handler_function_t,
) {
    // SAFETY: as above.
    let (d, q) = unsafe { (data_arg(data, "dispatch_write_f"), opt_queue(queue, "dispatch_write_f")) };
    let cb = data_function(q, context, handler);
    one_shot(fd, |ch| ch.write(0, d, cb, true));
}
