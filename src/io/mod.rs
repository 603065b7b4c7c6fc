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

use crate::data::{self, ClientRef, Data};
use crate::object::{Header, Kind, ObjectVTable, Ref};
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

/// A client callback, with the queue it runs on.
pub struct Callback {
    pub call: Box<dyn Fn(bool, *const Data, i32) + Send + Sync>,
    queue: Ref<Queue>,
}

impl Callback {
    /// Queues `call(done, data, error)` on the callback's queue (NULL data for `None`);
    /// the data is released after the call.
    fn deliver(self: &Arc<Self>, done: bool, data: Option<ClientRef<Data>>, error: i32) {
        let cb = self.clone();
        let c = Continuation::from_closure(Box::new(move || {
            (cb.call)(done, data.as_ref().map_or(core::ptr::null(), ClientRef::as_ptr), error);
        }));
        queue::submit(&self.queue, c);
    }
}

/// Makes a callback on `queue` (NULL: the default global queue).
pub fn callback(
    queue: Option<&Queue>,
    call: Box<dyn Fn(bool, *const Data, i32) + Send + Sync>,
) -> Arc<Callback> {
    Arc::new(Callback { call, queue: Ref::retain(queue.unwrap_or(root::default_queue())) })
}

/// A barrier entered into both directions; it runs when both reach it.
struct BarrierShared {
    arrivals: core::sync::atomic::AtomicUsize,
    handler: Arc<Callback>,
}

enum OpKind {
    Read {
        offset: i64,
        remaining: usize,
    },
    /// The data is held with a client reference: the rest of it, handed to the handler
    /// when the write stops early, may be the object itself.
    Write {
        offset: i64,
        data: ClientRef<Data>,
        written: usize,
    },
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

const READ: usize = 0;
const WRITE: usize = 1;

/// One direction's FIFO: its operations run one at a time, in order.
struct Direction {
    ops: VecDeque<Op>,
    running: bool,
    /// Stopped at a barrier the other direction has not reached yet.
    parked: bool,
    /// The wait of the head operation, cancelled by `DISPATCH_IO_STOP`.
    waiting: Option<Wait>,
}

impl Direction {
    const fn new() -> Direction {
        Direction { ops: VecDeque::new(), running: false, parked: false, waiting: None }
    }
}

/// An operation waiting for its descriptor: the one-shot READ or WRITE source, and a
/// reference on the channel for the source's callouts, which find the channel through the
/// source's context. Both go when the cancel callout takes this record out.
struct Wait {
    source: ClientRef<Source>,
    channel: Ref<Channel>,
}

struct ChannelState {
    dirs: [Direction; 2],
    closed: bool,
    cleanup: Option<Arc<Callback>>,
}

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

/// When the client's last reference goes, nothing happens at once: the operations still
/// running hold references, and the cleanup handler runs when the last of those goes too
/// (`Drop`), just after the channel became idle, as if it had been closed.
// SAFETY: only `Channel::create` makes headers of kind `Io`, the first field of a boxed
// `Channel`.
unsafe impl crate::object::ObjectKind for Channel {
    const KIND: Kind = Kind::Io;

    /// Drops the channel (its `Drop` runs the cleanup handler); the finalizer runs on the
    /// default queue.
    fn dispose(self: Box<Self>) -> Option<Ref<Header>> {
        Some(Ref::retain(&crate::queue::root::default_queue().header))
    }
}

static CHANNEL_VTABLE: ObjectVTable = ObjectVTable::for_type::<Channel>();

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
        let data = ClientRef::retain(data);
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
                    let keep = usize::from(d.waiting.is_some()).min(d.ops.len());
                    cancelled.extend(d.ops.drain(keep..));
                    if let Some(w) = &d.waiting {
                        waiting.push(Ref::retain(w.source.get())); // cancelled below, unlocked
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
            source.cancel(); // cancelling twice is harmless
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
        let me = Ref::retain(self);
        let c = Continuation::from_closure(Box::new(move || me.step(dir)));
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
                    let bytes = data.get().bytes();
                    if *written >= bytes.len() {
                        return Ok(true);
                    }
                    let len = (bytes.len() - *written).min(chunk() * 16);
                    let at =
                        (self.io_type == IoType::Random).then_some(self.entry.initial_offset() + *offset);
                    match sys::write_at(fd, &bytes[*written..*written + len], at) {
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
            let d = data::copy_of(&op.pending[..n]);
            op.pending.drain(..n);
            op.handler.deliver(false, Some(d), 0);
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
        // SAFETY: `create` hands over the new source's client reference, which the handle
        // now owns; the handlers are ours, called with the source's context.
        let source = unsafe {
            let source = ClientRef::adopt(&*source);
            source.get().set_handler(HandlerSlot::Event, Some(wait_callout::<false>));
            source.get().set_handler(HandlerSlot::Cancel, Some(wait_callout::<true>));
            source
        };
        let s = Ref::retain(source.get()); // to activate it below, unlocked
        let ctxt = (self as *const Channel as usize | dir) as *mut c_void;
        s.header.context.store(ctxt, SeqCst);
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
            st.dirs[dir].waiting = Some(Wait { source, channel: Ref::retain(self) });
        }
        s.activate();
        if self.stopped.load(SeqCst) {
            s.cancel(); // closed with STOP while we were arming
        }
        Ok(false)
    }

    /// The wait of `dir` saw its descriptor ready: cancel its source, whose cancel callout
    /// resumes the operation.
    fn end_wait(&self, dir: usize) {
        let source = self.lock().dirs[dir].waiting.as_ref().map(|w| Ref::retain(w.source.get()));
        if let Some(source) = source {
            source.cancel();
        }
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
                op.handler.deliver(true, Some(data::copy_of(&op.pending)), error);
            }
            OpKind::Write { data, written, .. } => {
                let d = data.get();
                let rest = (written < d.size()).then(|| d.range(written, usize::MAX));
                op.handler.deliver(true, rest, error);
            }
        }
    }

    /// Runs the cleanup handler once the channel is closed and idle.
    fn cleanup(&self) {
        let Some(cb) = self.lock().cleanup.take() else { return };
        let error = self.entry.close_error();
        cb.deliver(true, None, error);
    }
}

impl Drop for Channel {
    /// The last reference went: the client released the channel without closing it (or
    /// the cleanup already ran). Its operations all finished, since each running one holds
    /// a reference; run the cleanup handler if it has not run.
    fn drop(&mut self) {
        self.cleanup();
    }
}

/// The event (`CANCEL` false) and cancel (`CANCEL` true) callouts of a wait's source.
///
/// # Safety
/// `ctxt` must be the context `Channel::wait` gave the source.
unsafe extern "C" fn wait_callout<const CANCEL: bool>(ctxt: *mut c_void) {
    let bits = ctxt as usize;
    // SAFETY: the context is the channel (8-aligned) with the direction in bit 0 (`wait`).
    // The channel's `Wait` record holds a reference on it until the cancel callout takes
    // that record out below; the event callout never runs after the cancel callout (both
    // run on the source's serial queue, and a cancelled source delivers no events).
    let ch = unsafe { &*((bits & !1) as *const Channel) };
    let dir = bits & 1;
    if !CANCEL {
        ch.end_wait(dir);
        return;
    }
    let Some(Wait { source, channel }) = ch.lock().dirs[dir].waiting.take() else { return };
    drop(source);
    // Step on the owned reference: it may be the channel's last, dropped only after.
    channel.step(dir);
}
