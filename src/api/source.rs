//! [`Source`]: an event source (`dispatch_source_t`) with a closure handler, cancelled
//! when its handle is dropped.
//!
//! The handler is boxed once, together with the source pointer it reads the event's data
//! from, and the box is the source's context. The runtime calls the event handler
//! (`on_event::<F>`) with that context on the source's target queue; a source's handler
//! calls never overlap (the source drains through its own serial queue), and the `Mutex`
//! around the closure makes `FnMut` sound without relying on that. Cancelling (dropping
//! the handle) makes the runtime call the cancel handler (`on_cancel::<F>`) exactly once,
//! after the last event handler returned; it frees the box. So the closure lives exactly
//! as long as the runtime can call it, and nothing the caller does can call it after the
//! free.

use super::callout::run_or_abort;
use super::queue::Queue;
use super::time::{deadline_after, nanos, FOREVER};
use crate::ffi::object::{dispatch_activate, dispatch_release, dispatch_set_context};
use crate::ffi::source::{
    _dispatch_source_type_data_add, _dispatch_source_type_data_or, _dispatch_source_type_read,
    _dispatch_source_type_signal, _dispatch_source_type_timer, _dispatch_source_type_write,
    dispatch_source_cancel, dispatch_source_create, dispatch_source_get_data, dispatch_source_merge_data,
    dispatch_source_set_cancel_handler_f, dispatch_source_set_event_handler_f, dispatch_source_set_timer,
    dispatch_source_t, dispatch_source_testcancel, SourceType,
};
use core::ffi::c_void;
use core::ptr::NonNull;
use core::time::Duration;
use std::os::fd::{AsFd, AsRawFd};
use std::sync::{Mutex, PoisonError};

/// What a [`Source`] watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceKind {
    /// A timer ([`Source::timer`]); the data is the number of firings since the last call.
    Timer,
    /// A descriptor readable ([`Source::read`]); the data is an estimate of the bytes
    /// available.
    Read,
    /// A descriptor writable ([`Source::write`]); the data is an estimate of the space.
    Write,
    /// A signal ([`Source::signal`]); the data is the number of deliveries.
    Signal,
    /// Values merged by [`Source::merge_data`], added up ([`Source::data_add`]).
    DataAdd,
    /// Values merged by [`Source::merge_data`], OR-ed ([`Source::data_or`]).
    DataOr,
}

/// An event source whose handler runs on a queue each time the event occurs (events that
/// arrive while the handler is pending coalesce: the handler's argument sums or ORs them).
/// Dropping the handle cancels the source: the handler is not called again and is
/// dropped.
///
/// ```
/// use dispatch::{Queue, QueuePriority, Source};
/// use std::sync::mpsc;
/// use std::time::Duration;
///
/// let (tx, rx) = mpsc::channel();
/// let timer = Source::timer(
///     &Queue::global(QueuePriority::Default),
///     Duration::from_millis(1),       // first firing
///     Some(Duration::from_millis(1)), // then every millisecond
///     Duration::ZERO,                 // leeway
///     move |_fired| {
///         let _ = tx.send(());
///     },
/// );
/// for _ in 0..3 {
///     rx.recv().unwrap();
/// }
/// drop(timer); // cancelled
/// ```
pub struct Source {
    raw: NonNull<c_void>,
    kind: SourceKind,
}

// SAFETY: a dispatch source is a thread-safe object: cancel, merge, set_timer and testcancel
// may be called from any thread, and its reference may be released from any thread.
unsafe impl Send for Source {}
// SAFETY: as above.
unsafe impl Sync for Source {}

/// The context of a source: its handler, and the source to read the data from.
struct Handler<F> {
    source: dispatch_source_t,
    event: Mutex<F>,
}

/// # Safety
/// `ctx` is the `Handler<F>` installed by `Source::create`, not yet freed (the runtime
/// calls the event handler only before the cancel handler).
unsafe extern "C" fn on_event<F: FnMut(usize) + Send + 'static>(ctx: *mut c_void) {
    // SAFETY: the caller's contract.
    let h = unsafe { &*(ctx as *const Handler<F>) };
    // SAFETY: the source is alive while its handler runs.
    let data = unsafe { dispatch_source_get_data(h.source) };
    run_or_abort::<F, ()>(|| (h.event.lock().unwrap_or_else(PoisonError::into_inner))(data))
}

/// # Safety
/// `ctx` is the `Handler<F>` installed by `Source::create`; the runtime calls this once,
/// after the last `on_event`.
unsafe extern "C" fn on_cancel<F: FnMut(usize) + Send + 'static>(ctx: *mut c_void) {
    // SAFETY: the caller's contract: the box is ours to free, and no one uses it again.
    let h = unsafe { Box::from_raw(ctx as *mut Handler<F>) };
    run_or_abort::<F, ()>(|| drop(h))
}

impl Source {
    fn create<F: FnMut(usize) + Send + 'static>(
        kind: SourceKind,
        handle: usize,
        mask: usize,
        queue: &Queue,
        timer: Option<(u64, u64, u64)>,
        handler: F,
    ) -> Option<Source> {
        let ty: &SourceType = match kind {
            SourceKind::Timer => &_dispatch_source_type_timer,
            SourceKind::Read => &_dispatch_source_type_read,
            SourceKind::Write => &_dispatch_source_type_write,
            SourceKind::Signal => &_dispatch_source_type_signal,
            SourceKind::DataAdd => &_dispatch_source_type_data_add,
            SourceKind::DataOr => &_dispatch_source_type_data_or,
        };
        // SAFETY: one of the exported source types and a live queue; the handle and mask
        // are checked by the runtime, which returns NULL for ones it refuses.
        let raw = unsafe {
            dispatch_source_create(ty as *const SourceType as *const c_void, handle, mask, queue.as_raw())
        };
        let raw = NonNull::new(raw)?;
        let source = raw.as_ptr();
        let ctx = Box::into_raw(Box::new(Handler { source, event: Mutex::new(handler) })) as *mut c_void;
        // SAFETY: a new, inactive source we hold the only reference to: nothing runs its
        // handlers before `dispatch_activate`, so the context and both handlers are in
        // place first. The cancel handler frees `ctx` (see `on_cancel`).
        unsafe {
            dispatch_set_context(source, ctx);
            dispatch_source_set_event_handler_f(source, Some(on_event::<F>));
            dispatch_source_set_cancel_handler_f(source, Some(on_cancel::<F>));
            if let Some((start, interval, leeway)) = timer {
                dispatch_source_set_timer(source, start, interval, leeway);
            }
            dispatch_activate(source);
        }
        Some(Source { raw, kind })
    }

    fn expect_created(source: Option<Source>, what: &str) -> Source {
        source.unwrap_or_else(|| {
            panic!("{what}: the runtime could not create the source (no descriptors left?)")
        })
    }

    /// A timer: fires `start` from now, then every `interval` (once if `None`), each
    /// firing at most `leeway` late if that saves wake-ups. The handler gets the number
    /// of firings since its last call.
    ///
    /// # Panics
    /// If the runtime cannot start its event thread (no file descriptors left).
    ///
    /// ```
    /// use dispatch::{Queue, QueueAttribute, Source};
    /// use std::sync::mpsc;
    /// use std::time::Duration;
    ///
    /// let q = Queue::create("com.example.timer", QueueAttribute::Serial);
    /// let (tx, rx) = mpsc::channel();
    /// let _once = Source::timer(&q, Duration::from_millis(5), None, Duration::ZERO, move |n| {
    ///     tx.send(n).unwrap();
    /// });
    /// assert_eq!(rx.recv().unwrap(), 1);
    /// ```
    pub fn timer<F: FnMut(usize) + Send + 'static>(
        queue: &Queue,
        start: Duration,
        interval: Option<Duration>,
        leeway: Duration,
        handler: F,
    ) -> Source {
        let settings = (deadline_after(start), interval.map_or(FOREVER, nanos), nanos(leeway));
        Source::expect_created(
            Source::create(SourceKind::Timer, 0, 0, queue, Some(settings), handler),
            "Source::timer",
        )
    }

    /// A source whose handler runs while `fd` has data to read (or is at end of file);
    /// it gets an estimate of the bytes available. The runtime watches its own duplicate
    /// of the descriptor. `None` if the runtime refuses the descriptor.
    ///
    /// ```
    /// use dispatch::{Queue, QueueAttribute, Source};
    /// use std::io::{Read, Write};
    /// use std::os::unix::net::UnixStream;
    /// use std::sync::{mpsc, Arc};
    ///
    /// let (mut tx, rx) = UnixStream::pair().unwrap();
    /// let rx = Arc::new(rx);
    /// let (got_tx, got) = mpsc::channel();
    /// let q = Queue::create("com.example.reader", QueueAttribute::Serial);
    /// let reader = rx.clone();
    /// let _source = Source::read(&q, &*rx, move |_available| {
    ///     let mut buf = [0u8; 16];
    ///     let n = (&*reader).read(&mut buf).unwrap();
    ///     let _ = got_tx.send(buf[..n].to_vec());
    /// })
    /// .unwrap();
    /// tx.write_all(b"ping").unwrap();
    /// assert_eq!(got.recv().unwrap(), b"ping");
    /// ```
    pub fn read<F: FnMut(usize) + Send + 'static>(
        queue: &Queue,
        fd: impl AsFd,
        handler: F,
    ) -> Option<Source> {
        let fd = fd.as_fd().as_raw_fd();
        Source::create(SourceKind::Read, fd as usize, 0, queue, None, handler)
    }

    /// A source whose handler runs while `fd` has room to write; it gets an estimate of
    /// the space. `None` if the runtime refuses the descriptor.
    ///
    /// ```
    /// use dispatch::{Queue, QueueAttribute, Source};
    /// use std::os::unix::net::UnixStream;
    /// use std::sync::mpsc;
    ///
    /// let (a, _b) = UnixStream::pair().unwrap();
    /// let (tx, rx) = mpsc::channel();
    /// let q = Queue::create("com.example.writer", QueueAttribute::Serial);
    /// let _source = Source::write(&q, &a, move |space| {
    ///     let _ = tx.send(space);
    /// })
    /// .unwrap();
    /// assert!(rx.recv().unwrap() > 0);
    /// ```
    pub fn write<F: FnMut(usize) + Send + 'static>(
        queue: &Queue,
        fd: impl AsFd,
        handler: F,
    ) -> Option<Source> {
        let fd = fd.as_fd().as_raw_fd();
        Source::create(SourceKind::Write, fd as usize, 0, queue, None, handler)
    }

    /// A source whose handler runs after `signal` is delivered to the process; it gets the
    /// number of deliveries since its last call. The runtime installs a counting handler
    /// (chained to any existing one) when the source is created, so the signal no longer
    /// takes its default action. `None` for an invalid signal number or one that cannot
    /// be caught.
    ///
    /// ```
    /// use dispatch::{Queue, QueueAttribute, Source};
    /// use std::sync::mpsc;
    ///
    /// const SIGUSR1: i32 = 10; // on Linux
    /// let (tx, rx) = mpsc::channel();
    /// let q = Queue::create("com.example.signals", QueueAttribute::Serial);
    /// let _source = Source::signal(&q, SIGUSR1, move |n| {
    ///     let _ = tx.send(n);
    /// })
    /// .unwrap();
    /// std::process::Command::new("kill")
    ///     .args(["-USR1", &std::process::id().to_string()])
    ///     .status()
    ///     .unwrap();
    /// assert!(rx.recv().unwrap() >= 1);
    /// ```
    pub fn signal<F: FnMut(usize) + Send + 'static>(
        queue: &Queue,
        signal: i32,
        handler: F,
    ) -> Option<Source> {
        let signo = usize::try_from(signal).ok()?;
        Source::create(SourceKind::Signal, signo, 0, queue, None, handler)
    }

    /// A source for the program's own events: [`merge_data`](Source::merge_data) adds a
    /// value, and the handler gets the sum of the values merged since its last call.
    ///
    /// # Panics
    /// As [`Source::timer`].
    ///
    /// ```
    /// use dispatch::{Queue, QueueAttribute, Source};
    /// use std::sync::mpsc;
    ///
    /// let q = Queue::create("com.example.progress", QueueAttribute::Serial);
    /// let (tx, rx) = mpsc::channel();
    /// let progress = Source::data_add(&q, move |n| tx.send(n).unwrap());
    /// progress.merge_data(3);
    /// progress.merge_data(4);
    /// let mut total = 0;
    /// while total < 7 {
    ///     total += rx.recv().unwrap();
    /// }
    /// assert_eq!(total, 7);
    /// ```
    pub fn data_add<F: FnMut(usize) + Send + 'static>(queue: &Queue, handler: F) -> Source {
        Source::expect_created(
            Source::create(SourceKind::DataAdd, 0, 0, queue, None, handler),
            "Source::data_add",
        )
    }

    /// As [`data_add`](Source::data_add), but merged values are OR-ed.
    ///
    /// # Panics
    /// As [`Source::timer`].
    ///
    /// ```
    /// use dispatch::{Queue, QueueAttribute, Source};
    /// use std::sync::mpsc;
    ///
    /// let q = Queue::create("com.example.flags", QueueAttribute::Serial);
    /// let (tx, rx) = mpsc::channel();
    /// let flags = Source::data_or(&q, move |bits| tx.send(bits).unwrap());
    /// flags.merge_data(0b01);
    /// flags.merge_data(0b10);
    /// let mut seen = 0;
    /// while seen != 0b11 {
    ///     seen |= rx.recv().unwrap();
    /// }
    /// ```
    pub fn data_or<F: FnMut(usize) + Send + 'static>(queue: &Queue, handler: F) -> Source {
        Source::expect_created(
            Source::create(SourceKind::DataOr, 0, 0, queue, None, handler),
            "Source::data_or",
        )
    }

    /// What the source watches.
    ///
    /// ```
    /// use dispatch::{Queue, QueueAttribute, Source, SourceKind};
    ///
    /// let q = Queue::create("com.example.k", QueueAttribute::Serial);
    /// assert_eq!(Source::data_add(&q, |_| {}).kind(), SourceKind::DataAdd);
    /// ```
    pub fn kind(&self) -> SourceKind {
        self.kind
    }

    /// Merges `value` into a data source's pending data and schedules its handler.
    ///
    /// # Panics
    /// If the source is not a [`data_add`](Source::data_add) or
    /// [`data_or`](Source::data_or) source.
    ///
    /// ```
    /// use dispatch::{Queue, QueueAttribute, Source};
    ///
    /// let q = Queue::create("com.example.m", QueueAttribute::Serial);
    /// Source::data_add(&q, |_| {}).merge_data(1);
    /// ```
    pub fn merge_data(&self, value: usize) {
        assert!(
            matches!(self.kind, SourceKind::DataAdd | SourceKind::DataOr),
            "Source::merge_data on a {:?} source",
            self.kind
        );
        // SAFETY: a live data source.
        unsafe { dispatch_source_merge_data(self.raw.as_ptr(), value) }
    }

    /// Reprograms a timer, as in [`Source::timer`].
    ///
    /// # Panics
    /// If the source is not a timer.
    ///
    /// ```
    /// use dispatch::{Queue, QueueAttribute, Source};
    /// use std::time::Duration;
    ///
    /// let q = Queue::create("com.example.t", QueueAttribute::Serial);
    /// let t = Source::timer(&q, Duration::from_secs(3600), None, Duration::ZERO, |_| {});
    /// t.set_timer(Duration::from_millis(1), Some(Duration::from_secs(1)), Duration::from_millis(10));
    /// ```
    pub fn set_timer(&self, start: Duration, interval: Option<Duration>, leeway: Duration) {
        assert_eq!(self.kind, SourceKind::Timer, "Source::set_timer on a {:?} source", self.kind);
        // SAFETY: a live timer source.
        unsafe {
            dispatch_source_set_timer(
                self.raw.as_ptr(),
                deadline_after(start),
                interval.map_or(FOREVER, nanos),
                nanos(leeway),
            )
        }
    }

    /// Cancels the source now (dropping the handle does too): its handler is not called
    /// again (one already running finishes) and is then dropped on the target queue.
    ///
    /// ```
    /// use dispatch::{Queue, QueueAttribute, Source};
    ///
    /// let q = Queue::create("com.example.c", QueueAttribute::Serial);
    /// let s = Source::data_add(&q, |_| {});
    /// s.cancel();
    /// assert!(s.is_cancelled());
    /// ```
    pub fn cancel(&self) {
        // SAFETY: a live source.
        unsafe { dispatch_source_cancel(self.raw.as_ptr()) }
    }

    /// Whether the source was cancelled.
    ///
    /// ```
    /// use dispatch::{Queue, QueueAttribute, Source};
    ///
    /// let q = Queue::create("com.example.c", QueueAttribute::Serial);
    /// assert!(!Source::data_or(&q, |_| {}).is_cancelled());
    /// ```
    pub fn is_cancelled(&self) -> bool {
        // SAFETY: a live source.
        unsafe { dispatch_source_testcancel(self.raw.as_ptr()) != 0 }
    }
}

impl Drop for Source {
    fn drop(&mut self) {
        // SAFETY: a live, active source whose one client reference the handle owns: cancel
        // it (the cancel handler then frees the closure) and give the reference up.
        unsafe {
            dispatch_source_cancel(self.raw.as_ptr());
            dispatch_release(self.raw.as_ptr());
        }
    }
}

impl core::fmt::Debug for Source {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Source").field("kind", &self.kind).field("cancelled", &self.is_cancelled()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::queue::{QueueAttribute, QueuePriority};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{mpsc, Arc};
    use std::thread;

    /// Sends on drop: proves when the runtime dropped a handler.
    struct DropSignal(mpsc::Sender<&'static str>);
    impl Drop for DropSignal {
        fn drop(&mut self) {
            let _ = self.0.send("dropped");
        }
    }

    const BOUND: Duration = Duration::from_secs(30); // a hang guard, not a timing assertion

    #[test]
    fn repeating_timer_fires_on_its_queue_until_dropped_then_drops_its_handler() {
        let q = Queue::create("t.timer", QueueAttribute::Serial);
        let (tx, rx) = mpsc::channel();
        let (dtx, drx) = mpsc::channel();
        let guard = DropSignal(dtx);
        let timer =
            Source::timer(&q, Duration::ZERO, Some(Duration::from_millis(1)), Duration::ZERO, move |n| {
                let _ = &guard;
                let _ = tx.send((n, thread::current().id()));
            });
        let mut fired = 0;
        while fired < 5 {
            let (n, _) = rx.recv_timeout(BOUND).unwrap();
            assert!(n >= 1);
            fired += n;
        }
        drop(timer);
        assert_eq!(drx.recv_timeout(BOUND).unwrap(), "dropped");
        // After the handler was dropped nothing can call it: the channel's sender is gone.
        while rx.recv_timeout(BOUND).is_ok() {}
    }

    #[test]
    fn one_shot_timer_fires_once() {
        let q = Queue::create("t.oneshot", QueueAttribute::Serial);
        let count = Arc::new(AtomicUsize::new(0));
        let c = count.clone();
        let (tx, rx) = mpsc::channel();
        let _t = Source::timer(&q, Duration::from_millis(1), None, Duration::ZERO, move |n| {
            c.fetch_add(n, Ordering::SeqCst);
            tx.send(()).unwrap();
        });
        rx.recv_timeout(BOUND).unwrap();
        thread::sleep(Duration::from_millis(20));
        q.exec_sync(|| {});
        assert_eq!(count.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn data_add_sums_and_data_or_ors_every_merge() {
        let q = Queue::global(QueuePriority::Default);
        let (tx, rx) = mpsc::channel();
        let add = Source::data_add(&q, move |n| tx.send(n).unwrap());
        // Merged from several threads through a shared reference (`Source: Sync`).
        thread::scope(|s| {
            for i in 1..=4 {
                let add = &add;
                s.spawn(move || add.merge_data(i));
            }
        });
        let mut total = 0;
        while total < 10 {
            total += rx.recv_timeout(BOUND).unwrap();
        }
        assert_eq!(total, 10);

        let (tx, rx) = mpsc::channel();
        let or = Source::data_or(&q, move |bits| tx.send(bits).unwrap());
        for bit in [1, 4, 16] {
            or.merge_data(bit);
        }
        let mut seen = 0;
        while seen != 21 {
            let bits = rx.recv_timeout(BOUND).unwrap();
            assert_eq!(bits & !21, 0);
            seen |= bits;
        }
    }

    #[test]
    fn read_source_sees_written_bytes_and_write_source_sees_space() {
        use std::io::{Read, Write};
        use std::os::unix::net::UnixStream;
        let (mut w, r) = UnixStream::pair().unwrap();
        let r = Arc::new(r);
        let q = Queue::create("t.read", QueueAttribute::Serial);
        let (tx, rx) = mpsc::channel();
        let reader = r.clone();
        let src = Source::read(&q, &*r, move |available| {
            let mut buf = vec![0u8; available.max(1)];
            let n = (&*reader).read(&mut buf).unwrap();
            let _ = tx.send(buf[..n].to_vec());
        })
        .unwrap();
        assert_eq!(src.kind(), SourceKind::Read);
        w.write_all(b"hello").unwrap();
        let mut got = Vec::new();
        while got.len() < 5 {
            got.extend(rx.recv_timeout(BOUND).unwrap());
        }
        assert_eq!(got, b"hello");
        drop(src);

        let (tx, rx) = mpsc::channel();
        let ws = Source::write(&q, &w, move |space| {
            let _ = tx.send(space);
        })
        .unwrap();
        assert!(rx.recv_timeout(BOUND).unwrap() > 0);
        drop(ws);
    }

    #[test]
    fn invalid_descriptors_and_signals_are_refused() {
        let q = Queue::create("t.refuse", QueueAttribute::Serial);
        assert!(Source::signal(&q, -1, |_| {}).is_none());
        assert!(Source::signal(&q, 100_000, |_| {}).is_none());
    }

    #[test]
    fn signal_source_counts_a_delivery() {
        const SIGUSR2: i32 = 12;
        let q = Queue::create("t.signal", QueueAttribute::Serial);
        let (tx, rx) = mpsc::channel();
        let _s = Source::signal(&q, SIGUSR2, move |n| {
            let _ = tx.send(n);
        })
        .unwrap();
        let status = std::process::Command::new("kill")
            .args(["-USR2", &std::process::id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        assert!(rx.recv_timeout(BOUND).unwrap() >= 1);
    }

    #[test]
    #[should_panic(expected = "merge_data on a Timer source")]
    fn merge_data_on_a_timer_panics() {
        let q = Queue::create("t.misuse", QueueAttribute::Serial);
        Source::timer(&q, Duration::from_secs(3600), None, Duration::ZERO, |_| {}).merge_data(1);
    }
}
