//! The data a source keeps: its kind and the small records its registration and timer
//! fill. The lowest file of `source/`: it names no other file of the directory but
//! `coalesce.rs`, so `object.rs` (the `Source` struct), `kinds.rs` and `timer.rs` can
//! all build on it (`docs/ARCHITECTURE.md`, "Layers").

use super::coalesce::Merge;
use crate::sys::{self, Clock, Interest, OwnedFd};

const PROC_MASK: usize = 0x8000_0000 | 0x4000_0000 | 0x2000_0000 | 0x0800_0000;
const VNODE_MASK: usize = 0x1ff;
const TIMER_STRICT: usize = 0x1;
/// `DISPATCH_INTERVAL_UI_ANIMATION`: the interval counts animation frames (1/60 s).
pub const INTERVAL_UI_ANIMATION: usize = 0x20;
const MEMORYPRESSURE_MASK: usize = 0x37;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceKind {
    DataAdd,
    DataOr,
    DataReplace,
    Timer,
    /// `DISPATCH_SOURCE_TYPE_INTERVAL` (private): a timer whose interval is its handle.
    Interval,
    Read,
    Write,
    Signal,
    Proc,
    Vnode,
    MemoryPressure,
}

impl SourceKind {
    pub fn merge_rule(self) -> Merge {
        match self {
            SourceKind::DataAdd | SourceKind::Timer | SourceKind::Interval | SourceKind::Signal => Merge::Add,
            SourceKind::DataOr | SourceKind::Proc | SourceKind::Vnode | SourceKind::MemoryPressure => {
                Merge::Or
            }
            SourceKind::DataReplace | SourceKind::Read | SourceKind::Write => Merge::Replace,
        }
    }

    /// Whether the source fires from the timer heap (TIMER, INTERVAL).
    pub fn is_timer(self) -> bool {
        matches!(self, SourceKind::Timer | SourceKind::Interval)
    }

    /// Whether an event with data 0 is still an event: readiness (0 bytes readable is
    /// end of file). These kinds have one merger at a time (the event thread, re-armed
    /// only after a delivery), so a 0 is never a stale leftover.
    pub fn delivers_zero(self) -> bool {
        matches!(self, SourceKind::Read | SourceKind::Write)
    }

    pub fn is_data(self) -> bool {
        matches!(self, SourceKind::DataAdd | SourceKind::DataOr | SourceKind::DataReplace)
    }

    /// Whether `dispatch_source_create` accepts this handle and mask.
    pub fn accepts(self, handle: usize, mask: usize) -> bool {
        let fd_ok = || i32::try_from(handle).is_ok_and(sys::fd_is_open);
        match self {
            SourceKind::DataAdd | SourceKind::DataOr | SourceKind::DataReplace => handle == 0 && mask == 0,
            SourceKind::Timer => handle == 0 && mask & !TIMER_STRICT == 0,
            SourceKind::Interval => handle > 0 && mask & !INTERVAL_UI_ANIMATION == 0,
            SourceKind::Read | SourceKind::Write => mask == 0 && fd_ok(),
            SourceKind::Signal => mask == 0 && i32::try_from(handle).is_ok_and(sys::signal_can_be_watched),
            SourceKind::Proc => {
                mask != 0 && mask & !PROC_MASK == 0 && i32::try_from(handle).is_ok_and(sys::process_exists)
            }
            SourceKind::Vnode => mask != 0 && mask & !VNODE_MASK == 0 && fd_ok(),
            SourceKind::MemoryPressure => handle == 0 && mask & !MEMORYPRESSURE_MASK == 0,
        }
    }
}

/// The descriptors a source opened at creation, waiting for its activation.
pub enum Descriptors {
    None,
    /// READ/WRITE: our duplicate of the client's descriptor.
    Dup(OwnedFd),
    /// PROC: a pidfd of the process.
    Pidfd(OwnedFd),
    /// VNODE: our duplicate of the file and an inotify instance watching it.
    Vnode {
        file: OwnedFd,
        inotify: OwnedFd,
    },
}

/// What a registered source owns (its descriptors); dropped by `kinds::unregister`.
pub enum Registration {
    /// Nothing to watch (DATA_*, TIMER, MEMORYPRESSURE).
    None,
    /// A descriptor in epoll under `token` (READ/WRITE: our dup; PROC: a pidfd; VNODE: an
    /// inotify instance, with `file` our dup of the watched file).
    Watched {
        fd: OwnedFd,
        _file: Option<OwnedFd>,
        token: u64,
    },
    /// A descriptor that cannot be polled (a regular file): always ready.
    AlwaysReady {
        _fd: OwnedFd,
    },
    Signal,
}

/// What the event thread and the deliveries need to look at a registered source. Filled
/// before the descriptor enters epoll, so an event that fires at once finds it; kept apart
/// from [`Registration`] so the event thread (which holds the registry lock) never waits
/// for a lock held across a registration.
#[derive(Clone, Copy, Default)]
pub struct Watch {
    pub(super) fd: i32,
    pub(super) token: u64,
    pub(super) interest: Option<Interest>,
    pub(super) always_ready: bool,
    /// VNODE: our dup of the file, and its size and link count at the last look.
    pub(super) file: i32,
    pub(super) last: (u64, u64),
}

/// `dispatch_source_set_timer`'s settings.
#[derive(Default)]
pub struct TimerConfig {
    /// The next deadline; `None` before the first `set_timer`, for a start of
    /// `DISPATCH_TIME_FOREVER`, and after a one-shot fired.
    pub(super) next: Option<(Clock, u64)>,
    /// Nanoseconds between fires; `None` for a one-shot (`DISPATCH_TIME_FOREVER`).
    pub(super) interval: Option<u64>,
    /// How much later than `next` the fire may come, so the event thread can batch it
    /// with other timers' (at most half the interval, see `timer.rs`).
    pub(super) leeway: u64,
    /// The key of the live heap entry, if one is armed: re-setting or cancelling removes
    /// it by key (O(log n)), not by a scan of the heap.
    pub(super) armed: Option<crate::event::timer::TimerKey>,
    pub(super) generation: u64,
    pub(super) registered: bool,
    /// Not armed until the pending delivery runs (see the module doc).
    pub(super) parked: bool,
}
