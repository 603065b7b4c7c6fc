//! `dispatch_io_t`: channels that read and write a descriptor in the background.
//!
//! A channel keeps two FIFOs, reads and writes, as the reference does: each runs one
//! operation at a time, in order, on a global queue, and the two directions run
//! independently (a socket's write must not wait behind its own pending read). A barrier
//! enters both FIFOs and runs when both reach it, so it follows every earlier operation
//! and precedes every later one. RANDOM channels address the file by offset; running
//! their operations in order is correct, if less parallel. An operation is a small state machine, *stepped*
//! on a worker: it reads or writes until it is done or the descriptor would block. Regular
//! files never block, so they are plain worker-thread I/O. Pipes and sockets are switched
//! to non-blocking mode (and back at cleanup); on `EAGAIN` the step arms a one-shot READ or
//! WRITE source on the event thread and returns, and the source's cancel handler steps
//! the operation again. `dispatch_io_close(DISPATCH_IO_STOP)` cancels that source, so a
//! waiting operation wakes at once and finishes with `ECANCELED`.
//!
//! `dispatch_read`/`dispatch_read_f` run one read on a one-shot channel, as the reference
//! does with its convenience channel, with one difference from a channel read: on a pipe or
//! socket the read ends as soon as it has at least one byte and the next `read(2)` would
//! block, delivering what is available (Apple's io.h: "only as much data as is currently
//! available"); with nothing read yet it waits like any read. Regular files never block,
//! so there it reads up to the length or end of file.
//!
//! Partial results go to the client's handler queue as they accumulate: at least
//! `low_water` bytes (or anything, once `interval` elapsed), at most `high_water` bytes
//! per delivery, and a final `done` delivery with the rest. The cleanup handler runs once,
//! after the channel was closed and its last operation finished; the descriptor is then
//! restored (and closed, if the channel opened it from a path).

pub mod fd;

use crate::data::{self, Data};
use crate::object::{Header, Kind, ObjectVTable};
use crate::queue::continuation::Continuation;
use crate::queue::{self, root, Queue};
use crate::source::kinds::SourceKind;
use crate::source::{HandlerSlot, Source};
use crate::sys;
use core::ffi::c_void;
use fd::FdEntry;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IoType {
    Stream,
    Random,
}

/// A client callback, with the queue it runs on (retained internally).
pub struct Callback {
    pub call: Box<dyn Fn(bool, *const Data, i32) + Send + Sync>,
    pub queue: *const Queue,
}

// SAFETY: the queue pointer is retained; the closure is Send + Sync.
unsafe impl Send for Callback {}
// SAFETY: as above.
unsafe impl Sync for Callback {}

impl Callback {
    /// Queues `call(done, data, error)` on the callback's queue; the data reference is
    /// released after the call.
    fn deliver(self: &Arc<Self>, done: bool, data: *const Data, error: i32) {
        let cb = self.clone();
        let data = SendPtr(data);
        let c = Continuation::from_closure(Box::new(move || {
            let data = data;
            (cb.call)(done, data.0, error);
            if !data.0.is_null() {
                // SAFETY: the reference this delivery owned.
                unsafe { (*data.0).header.release() };
            }
        }));
        // SAFETY: retained for the callback's lifetime.
        queue::submit(unsafe { &*self.queue }, c);
    }
}

impl Drop for Callback {
    fn drop(&mut self) {
        // SAFETY: the reference taken when the callback was made.
        unsafe { (*self.queue).header.release_internal() };
    }
}

/// Makes a callback on `queue` (NULL: the default global queue).
pub fn callback(
    queue: Option<&Queue>,
    call: Box<dyn Fn(bool, *const Data, i32) + Send + Sync>,
) -> Arc<Callback> {
    let q = queue.unwrap_or(root::default_queue());
    q.header.retain_internal();
    Arc::new(Callback { call, queue: q })
}

struct SendPtr<T>(*const T);
// SAFETY: used only for objects kept alive by references the closure owns.
unsafe impl<T> Send for SendPtr<T> {}

/// A barrier entered into both directions; it runs when both reach it.
struct BarrierShared {
    arrivals: core::sync::atomic::AtomicUsize,
    handler: Arc<Callback>,
}

enum OpKind {
    Read { offset: i64, remaining: usize },
    Write { offset: i64, data: *const Data, written: usize },
    Barrier(Arc<BarrierShared>),
}

struct Op {
    kind: OpKind,
    handler: Arc<Callback>,
    /// Bytes read and not yet delivered.
    pending: Vec<u8>,
    last_delivery: u64,
    /// One delivery at the end only. Reads and writes are `single` only on the one-shot
    /// channels of `dispatch_read`/`dispatch_write` (one operation, their own descriptor
    /// entry); such a read also ends when it would block after reading something.
    single: bool,
}

// SAFETY: the data pointer is a reference the op owns.
unsafe impl Send for Op {}

const READ: usize = 0;
const WRITE: usize = 1;

/// One direction's FIFO: its operations run one at a time, in order.
struct Direction {
    ops: VecDeque<Op>,
    running: bool,
    /// Stopped at a barrier the other direction has not reached yet.
    parked: bool,
    /// The source the head operation waits on, cancelled by `DISPATCH_IO_STOP`.
    waiting_on: *const Source,
}

impl Direction {
    const fn new() -> Direction {
        Direction { ops: VecDeque::new(), running: false, parked: false, waiting_on: core::ptr::null() }
    }
}

struct ChannelState {
    dirs: [Direction; 2],
    closed: bool,
    cleanup: Option<Arc<Callback>>,
}

// SAFETY: the source pointers are only used under the lock while the sources are alive.
unsafe impl Send for ChannelState {}

#[repr(C, align(8))]
pub struct Channel {
    pub header: Header,
    pub io_type: IoType,
    entry: Arc<FdEntry>,
    state: Mutex<ChannelState>,
    stopped: core::sync::atomic::AtomicBool,
    low_water: core::sync::atomic::AtomicUsize,
    high_water: core::sync::atomic::AtomicUsize,
    interval_ns: core::sync::atomic::AtomicU64,
}

// SAFETY: `#[repr(C)]` with its `Header` first; created with the vtable that frees it.
unsafe impl crate::object::Object for Channel {
    fn header(&self) -> &crate::object::Header {
        &self.header
    }
}

use core::sync::atomic::Ordering::SeqCst;

static CHANNEL_VTABLE: ObjectVTable = ObjectVTable { xref_dispose, dispose, async_f: None };

/// Default bytes per read step (and a sixteenth of a write step).
const DEFAULT_CHUNK: usize = 64 * 1024;
static CHUNK: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(DEFAULT_CHUNK);

/// The I/O step size now (`_dispatch_iocntl(DISPATCH_IOCNTL_CHUNK_PAGES)` changes it).
fn chunk() -> usize {
    // Relaxed: a tuning value; any value read is a valid step size.
    CHUNK.load(core::sync::atomic::Ordering::Relaxed)
}

/// `_dispatch_iocntl(DISPATCH_IOCNTL_CHUNK_PAGES, n)`: later read steps read at most `bytes`
/// (write steps sixteen times that). Operations already started keep their step size.
pub fn set_chunk_size(bytes: usize) {
    // Relaxed: see `chunk`.
    CHUNK.store(bytes.max(1), core::sync::atomic::Ordering::Relaxed);
}

fn new_op(kind: OpKind, handler: Arc<Callback>, single: bool) -> Op {
    Op { kind, handler, pending: Vec::new(), last_delivery: 0, single }
}

impl Channel {
    pub fn create(io_type: IoType, entry: Arc<FdEntry>, cleanup: Option<Arc<Callback>>) -> *const Channel {
        Box::into_raw(Box::new(Channel {
            header: Header::new(Kind::Io, &CHANNEL_VTABLE),
            io_type,
            entry,
            state: Mutex::new(ChannelState {
                dirs: [Direction::new(), Direction::new()],
                closed: false,
                cleanup,
            }),
            stopped: core::sync::atomic::AtomicBool::new(false),
            low_water: core::sync::atomic::AtomicUsize::new(0),
            high_water: core::sync::atomic::AtomicUsize::new(usize::MAX),
            interval_ns: core::sync::atomic::AtomicU64::new(0),
        }))
    }

    pub fn entry(&self) -> &Arc<FdEntry> {
        &self.entry
    }

    /// `dispatch_io_get_descriptor`: -1 once the channel is closed, or if the descriptor
    /// is not (successfully) open.
    pub fn descriptor(&self) -> i32 {
        if self.lock().closed {
            return -1;
        }
        self.entry.descriptor()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ChannelState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn set_low_water(&self, n: usize) {
        self.low_water.store(n, SeqCst);
    }
    pub fn set_high_water(&self, n: usize) {
        self.high_water.store(n.max(1), SeqCst);
    }
    pub fn set_interval(&self, ns: u64) {
        self.interval_ns.store(ns, SeqCst);
    }

    pub fn read(&self, offset: i64, length: usize, handler: Arc<Callback>, single: bool) {
        self.submit(vec![(READ, new_op(OpKind::Read { offset, remaining: length }, handler, single))]);
    }

    pub fn write(&self, offset: i64, data: &Data, handler: Arc<Callback>, single: bool) {
        data.header.retain();
        self.submit(vec![(WRITE, new_op(OpKind::Write { offset, data, written: 0 }, handler, single))]);
    }

    /// `dispatch_io_barrier`: after every earlier operation of both directions, before
    /// every later one.
    pub fn barrier(&self, handler: Arc<Callback>) {
        let shared = Arc::new(BarrierShared {
            arrivals: core::sync::atomic::AtomicUsize::new(0),
            handler: handler.clone(),
        });
        self.submit(vec![
            (READ, new_op(OpKind::Barrier(shared.clone()), handler.clone(), true)),
            (WRITE, new_op(OpKind::Barrier(shared), handler, true)),
        ]);
    }

    fn submit(&self, ops: Vec<(usize, Op)>) {
        let mut start = Vec::new();
        let rejected = {
            let mut st = self.lock();
            if st.closed {
                Some(ops)
            } else {
                for (dir, op) in ops {
                    st.dirs[dir].ops.push_back(op);
                    if !core::mem::replace(&mut st.dirs[dir].running, true) {
                        start.push(dir);
                    }
                }
                None
            }
        };
        for (_, op) in rejected.into_iter().flatten() {
            self.finish(op, libc::ECANCELED);
        }
        for dir in start {
            self.run_next(dir);
        }
    }

    /// `dispatch_io_close`.
    pub fn close(&self, stop: bool) {
        let mut cancelled = Vec::new();
        let mut waiting = Vec::new();
        let mut unparked = Vec::new();
        let idle = {
            let mut st = self.lock();
            if st.closed {
                return;
            }
            st.closed = true;
            if stop {
                self.stopped.store(true, SeqCst);
                for (i, d) in st.dirs.iter_mut().enumerate() {
                    // A waiting operation sits at the head of its FIFO (a running one is
                    // not in it) and is woken below; the rest are cancelled now.
                    let keep = usize::from(!d.waiting_on.is_null()).min(d.ops.len());
                    cancelled.extend(d.ops.drain(keep..));
                    if !d.waiting_on.is_null() {
                        // SAFETY: alive while it is `waiting_on` (under the lock); kept
                        // alive for the cancel below, made after the lock is released.
                        unsafe { (*d.waiting_on).header.retain_internal() };
                        waiting.push(d.waiting_on);
                    }
                    if core::mem::replace(&mut d.parked, false) {
                        unparked.push(i); // its barrier's other half was just cancelled
                    }
                }
            }
            st.dirs.iter().all(|d| !d.running)
        };
        for op in cancelled {
            self.finish(op, libc::ECANCELED);
        }
        for source in waiting {
            // SAFETY: retained above; cancelling twice is harmless.
            unsafe {
                (*source).cancel();
                (*source).header.release_internal();
            }
        }
        for dir in unparked {
            self.next_or_idle(dir);
        }
        if idle {
            self.cleanup();
        }
    }

    /// Steps the head operation of `dir` on a worker.
    fn run_next(&self, dir: usize) {
        self.header.retain_internal();
        let me = SendPtr(self as *const Channel);
        let c = Continuation::from_closure(Box::new(move || {
            let me = me;
            // SAFETY: the reference taken above.
            let ch = unsafe { &*me.0 };
            ch.step(dir);
            // SAFETY: as above.
            unsafe { ch.header.release_internal() };
        }));
        queue::submit(root::default_queue(), c);
    }

    /// Runs the head operation of `dir` until it finishes or must wait.
    fn step(&self, dir: usize) {
        let Some(mut op) = self.lock().dirs[dir].ops.pop_front() else { return };
        if let OpKind::Barrier(shared) = &op.kind {
            if shared.arrivals.fetch_add(1, SeqCst) == 0 {
                self.lock().dirs[dir].parked = true; // the other direction runs it
                return;
            }
            if !self.stopped.load(SeqCst) {
                (shared.handler.call)(true, core::ptr::null(), 0);
            }
            let other = 1 - dir;
            let resume_other = core::mem::replace(&mut self.lock().dirs[other].parked, false);
            if resume_other {
                self.next_or_idle(other);
            }
            self.complete(dir, op, 0);
            return;
        }
        let result = match self.entry.fd() {
            Err(errno) => Err(errno),
            Ok(_) if self.stopped.load(SeqCst) => Err(libc::ECANCELED),
            Ok(fd) => self.perform(dir, &mut op, fd),
        };
        match result {
            Ok(true) => self.complete(dir, op, 0),
            Ok(false) => {} // waiting: `wait` put it back at the head
            Err(errno) => self.complete(dir, op, errno),
        }
    }

    /// Does the I/O of `op`. `Ok(true)`: done; `Ok(false)`: waiting for readiness.
    fn perform(&self, dir: usize, op: &mut Op, fd: i32) -> Result<bool, i32> {
        loop {
            if self.stopped.load(SeqCst) {
                return Err(libc::ECANCELED);
            }
            match &mut op.kind {
                OpKind::Barrier(_) => return Ok(true),
                OpKind::Read { offset, remaining } => {
                    if *remaining == 0 {
                        return Ok(true);
                    }
                    let want = (*remaining).min(chunk()).min(self.high_water.load(SeqCst));
                    let at =
                        (self.io_type == IoType::Random).then_some(self.entry.initial_offset() + *offset);
                    // Read straight into the undelivered bytes.
                    let start = op.pending.len();
                    op.pending.resize(start + want, 0);
                    let r = sys::read_at(fd, &mut op.pending[start..], at);
                    op.pending.truncate(start + *r.as_ref().unwrap_or(&0));
                    match r {
                        Ok(0) => return Ok(true), // end of file
                        Ok(n) => {
                            *remaining -= n;
                            *offset += n as i64;
                            self.deliver_partials(op);
                        }
                        // `dispatch_read` takes what is there: once it has a byte, a read
                        // that would block ends it (a one-shot op delivers nothing early, so
                        // `pending` holds every byte it read).
                        Err(e) if e == libc::EAGAIN && op.single && !op.pending.is_empty() => {
                            return Ok(true)
                        }
                        Err(e) if e == libc::EAGAIN => return self.wait(dir, op, fd, SourceKind::Read),
                        Err(e) if e == libc::EINTR => {}
                        Err(e) => return Err(e),
                    }
                }
                OpKind::Write { offset, data, written } => {
                    // SAFETY: the op holds a reference on its data.
                    let d = unsafe { &**data };
                    if *written >= d.size() {
                        return Ok(true);
                    }
                    let (mapped, bytes) = d.map();
                    let len = (d.size() - *written).min(chunk() * 16);
                    // SAFETY: the mapped buffer holds `d.size()` bytes while `mapped` lives.
                    let slice = unsafe { core::slice::from_raw_parts(bytes.add(*written), len) };
                    let at =
                        (self.io_type == IoType::Random).then_some(self.entry.initial_offset() + *offset);
                    let r = sys::write_at(fd, slice, at);
                    // SAFETY: the map's reference.
                    unsafe { (*mapped).header.release() };
                    match r {
                        Ok(n) => {
                            *written += n;
                            *offset += n as i64;
                        }
                        Err(e) if e == libc::EAGAIN => return self.wait(dir, op, fd, SourceKind::Write),
                        Err(e) if e == libc::EINTR => {}
                        Err(e) => return Err(e),
                    }
                }
            }
        }
    }

    /// Sends partial read results the water marks and interval allow.
    fn deliver_partials(&self, op: &mut Op) {
        if op.single {
            return;
        }
        let high = self.high_water.load(SeqCst);
        let low = self.low_water.load(SeqCst).min(high);
        let interval = self.interval_ns.load(SeqCst);
        let now = sys::now_ns(sys::Clock::Monotonic);
        if op.last_delivery == 0 {
            op.last_delivery = now;
        }
        let interval_due = interval != 0 && now.saturating_sub(op.last_delivery) >= interval;
        while !op.pending.is_empty() && (op.pending.len() >= low.max(1) || interval_due) {
            let n = op.pending.len().min(high);
            // SAFETY: `pending` holds at least `n` readable bytes.
            let d = unsafe { data::create_copy(op.pending.as_ptr(), n) };
            op.pending.drain(..n);
            op.handler.deliver(false, d, 0);
            op.last_delivery = now;
            if op.pending.len() < low.max(1) {
                break;
            }
        }
    }

    /// Puts `op` back at the head of `dir` and waits for the descriptor on the event
    /// thread. The source's context is the channel with the direction in its low bit.
    fn wait(&self, dir: usize, op: &mut Op, fd: i32, kind: SourceKind) -> Result<bool, i32> {
        let Some(source) = Source::create(kind, fd as usize, 0, Some(root::default_queue())) else {
            return Err(libc::EBADF);
        };
        // SAFETY: freshly created; we hold its client reference.
        let s = unsafe { &*source };
        self.header.retain_internal(); // for the source's handlers
        let ctxt = (self as *const Channel as usize | dir) as *mut c_void;
        s.header.context.store(ctxt, SeqCst);
        // SAFETY: functions, no blocks.
        unsafe {
            s.set_handler(HandlerSlot::Event, Some(cancel_source_on_event), core::ptr::null());
            s.set_handler(HandlerSlot::Cancel, Some(resume_after_wait), core::ptr::null());
        }
        let waiting = Op {
            kind: core::mem::replace(&mut op.kind, OpKind::Read { offset: 0, remaining: 0 }),
            handler: op.handler.clone(),
            pending: core::mem::take(&mut op.pending),
            last_delivery: op.last_delivery,
            single: op.single,
        };
        {
            let mut st = self.lock();
            st.dirs[dir].ops.push_front(waiting);
            st.dirs[dir].waiting_on = source;
        }
        s.activate();
        if self.stopped.load(SeqCst) {
            s.cancel(); // closed with STOP while we were arming
        }
        Ok(false)
    }

    /// After a wait of `dir` ended (readiness, or a STOP): step its operation again.
    fn resume(&self, dir: usize) {
        let source = core::mem::replace(&mut self.lock().dirs[dir].waiting_on, core::ptr::null());
        if !source.is_null() {
            // SAFETY: the client reference `wait` kept.
            unsafe { (*source).header.release() };
        }
        self.step(dir);
    }

    /// The head operation of `dir` finished with `error` (0: success).
    fn complete(&self, dir: usize, op: Op, error: i32) {
        self.finish(op, error);
        self.next_or_idle(dir);
    }

    /// Runs the next operation of `dir`, or marks it idle (and cleans up if the channel
    /// is closed and both directions are idle).
    fn next_or_idle(&self, dir: usize) {
        let (next, cleanup) = {
            let mut st = self.lock();
            if st.dirs[dir].ops.is_empty() {
                st.dirs[dir].running = false;
                (false, st.closed && st.dirs.iter().all(|d| !d.running))
            } else {
                (true, false)
            }
        };
        if next {
            self.run_next(dir);
        } else if cleanup {
            self.cleanup();
        }
    }

    /// Sends an operation's last delivery.
    fn finish(&self, op: Op, error: i32) {
        if op.single && !matches!(op.kind, OpKind::Barrier(_)) {
            // A one-shot channel's only operation: hand the descriptor back first.
            self.entry.relinquish();
        }
        match op.kind {
            OpKind::Barrier(_) => {}
            OpKind::Read { .. } => {
                // SAFETY: `pending` is readable for its length.
                let d = unsafe { data::create_copy(op.pending.as_ptr(), op.pending.len()) };
                op.handler.deliver(true, d, error);
            }
            OpKind::Write { data, written, .. } => {
                // SAFETY: the op's reference on its data.
                let d = unsafe { &*data };
                let rest =
                    if written >= d.size() { core::ptr::null() } else { d.subrange(written, usize::MAX) };
                op.handler.deliver(true, rest, error);
                // SAFETY: as above.
                unsafe { d.header.release() };
            }
        }
    }

    /// Runs the cleanup handler once the channel is closed and idle.
    fn cleanup(&self) {
        let Some(cb) = self.lock().cleanup.take() else { return };
        let error = self.entry.close_error();
        cb.deliver(true, core::ptr::null(), error);
    }
}

/// The channel and direction a wait source's context names.
///
/// # Safety
/// `ctxt` must be a context set by `Channel::wait`.
unsafe fn channel_and_dir<'a>(ctxt: *mut c_void) -> (&'a Channel, usize) {
    let bits = ctxt as usize;
    // SAFETY: the channel (8-aligned) with the direction in bit 0, retained by `wait`.
    (unsafe { &*((bits & !1) as *const Channel) }, bits & 1)
}

unsafe extern "C" fn cancel_source_on_event(ctxt: *mut c_void) {
    // SAFETY: set by `wait`.
    let (ch, dir) = unsafe { channel_and_dir(ctxt) };
    let source = ch.lock().dirs[dir].waiting_on;
    if !source.is_null() {
        // SAFETY: alive until its cancel handler ran (which is what this triggers).
        unsafe { (*source).cancel() };
    }
}

unsafe extern "C" fn resume_after_wait(ctxt: *mut c_void) {
    // SAFETY: as above.
    let (ch, dir) = unsafe { channel_and_dir(ctxt) };
    ch.resume(dir);
    // SAFETY: the reference `wait` took for the source's handlers.
    unsafe { ch.header.release_internal() };
}

unsafe fn xref_dispose(h: *const Header) {
    // SAFETY: installed only on channels.
    let ch = unsafe { &*(h as *const Channel) };
    // The client let go: close (without stopping) so the cleanup handler still runs.
    ch.close(false);
}

unsafe fn dispose(h: *const Header) -> *const Header {
    // SAFETY: no reference remains.
    drop(unsafe { Box::from_raw(h as *mut Channel) });
    &root::default_queue().header
}
