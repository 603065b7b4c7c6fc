//! The source types: what each accepts as handle and mask, how its data merges, and how
//! it is registered with the event thread on Linux.
//!
//! | type | registration | event data |
//! |---|---|---|
//! | DATA_ADD / OR / REPLACE | none (`dispatch_source_merge_data`) | sum / or / last |
//! | TIMER | an entry in the event thread's timer heap (`timer.rs`) | fires since last delivery |
//! | INTERVAL | a TIMER set at creation: every `handle` ms (or 1/60 s frames), phase-aligned | fires since last delivery |
//! | READ / WRITE | a private `dup` of the fd in epoll, one-shot, re-armed after each delivery | bytes readable (FIONREAD) / writable estimate |
//! | SIGNAL | a counting `sigaction` handler that wakes the event thread's eventfd | deliveries since last delivery |
//! | PROC | a pidfd in epoll | `DISPATCH_PROC_EXIT` (the only event Linux reports) |
//! | VNODE | inotify on the open file or directory, plus size and link count | `DISPATCH_VNODE_*` bits |
//! | MEMORYPRESSURE | none: Linux has no portable notification; never fires | — |
//!
//! Every descriptor a source needs (its `dup`, pidfd, inotify instance) is opened by
//! `dispatch_source_create` ([`acquire`]), and the event thread is started there too, so a
//! full descriptor table makes the creation return NULL, as a failed creation does on
//! other platforms, instead of making a source that never fires or reports an event that
//! did not happen. Activation only hands the descriptors to epoll.
//!
//! One-shot epoll registrations make READ/WRITE level-triggered without spinning: the
//! descriptor is reported once, and watched again only after the handler ran. A regular
//! file cannot be polled (`EPERM`); like the reference, it counts as always ready.

use super::object::Source;
pub use super::parts::SourceKind;
use super::parts::{Descriptors, Registration, Watch};
use crate::event::{event_thread, registry};
use crate::sys::{self, Inotify, Interest, OwnedFd};

pub const PROC_EXIT: usize = 0x8000_0000;
pub const VNODE_DELETE: u64 = 0x1;
pub const VNODE_WRITE: u64 = 0x2;
pub const VNODE_EXTEND: u64 = 0x4;
pub const VNODE_ATTRIB: u64 = 0x8;
pub const VNODE_LINK: u64 = 0x10;
pub const VNODE_RENAME: u64 = 0x20;

/// Opens what a source of `kind` on `handle` needs, and starts the event thread for the
/// kinds it serves. `None` when a descriptor cannot be had (the table is full, the
/// process is gone): `dispatch_source_create` then returns NULL.
pub fn acquire(kind: SourceKind, handle: usize) -> Option<Descriptors> {
    let fd = handle as i32;
    let needs_event_thread = !matches!(
        kind,
        SourceKind::DataAdd | SourceKind::DataOr | SourceKind::DataReplace | SourceKind::MemoryPressure
    );
    if needs_event_thread {
        crate::event::try_event_thread().ok()?;
    }
    Some(match kind {
        SourceKind::Read | SourceKind::Write => Descriptors::Dup(sys::dup_cloexec(fd).ok()?),
        SourceKind::Proc => Descriptors::Pidfd(sys::pidfd_open(fd).ok()?),
        SourceKind::Vnode => Descriptors::Vnode {
            file: sys::dup_cloexec(fd).ok()?,
            inotify: Inotify::watching(fd).ok()?.into_fd(),
        },
        _ => Descriptors::None,
    })
}

fn set_watch(s: &Source, w: Watch) {
    *s.watch.lock().unwrap_or_else(|e| e.into_inner()) = w;
}

fn watch(s: &Source) -> Watch {
    *s.watch.lock().unwrap_or_else(|e| e.into_inner())
}

fn ready_data(kind: SourceKind, fd: i32) -> u64 {
    match kind {
        SourceKind::Read => sys::bytes_readable(fd).unwrap_or(1) as u64,
        SourceKind::Write => sys::write_space(fd) as u64,
        _ => 0,
    }
}

/// Puts `fd` into epoll for `s`. A descriptor epoll refuses (a regular file) is always
/// ready: it gets one event now, and another after each delivery.
fn watch_fd(s: &Source, fd: OwnedFd, interest: Interest, vnode_file: Option<OwnedFd>) -> Registration {
    let token = registry::register_token(s);
    let file = vnode_file.as_ref().map_or(-1, |f| f.fd());
    let last = vnode_file.as_ref().and_then(|f| sys::file_size_and_links(f.fd())).unwrap_or((0, 0));
    set_watch(s, Watch { fd: fd.fd(), token, interest: Some(interest), always_ready: false, file, last });
    match event_thread().epoll.add_oneshot(fd.fd(), token, interest) {
        Ok(()) => Registration::Watched { fd, _file: vnode_file, token },
        Err(_) => {
            registry::unregister(s, Some(token));
            set_watch(s, Watch { fd: fd.fd(), token: 0, interest: None, always_ready: true, file: -1, last });
            s.merge(ready_data(s.kind, fd.fd()));
            Registration::AlwaysReady { _fd: fd }
        }
    }
}

/// Registers `s` with the event thread (from `Source::activate`, on the activating
/// thread), handing it the descriptors [`acquire`] opened. The event thread's registry
/// holds a reference on `s` (a `TargetRef`) until [`unregister`].
pub fn register(s: &Source, descriptors: Descriptors) -> Registration {
    match (s.kind, descriptors) {
        (SourceKind::Read, Descriptors::Dup(dup)) => watch_fd(s, dup, Interest::Read, None),
        (SourceKind::Write, Descriptors::Dup(dup)) => watch_fd(s, dup, Interest::Write, None),
        (SourceKind::Signal, _) => {
            let signo = s.handle as i32;
            registry::register_signal(signo, s);
            sys::watch_signal(signo, &event_thread().wake);
            Registration::Signal
        }
        // A process that exited (even if already reaped) leaves its pidfd readable.
        (SourceKind::Proc, Descriptors::Pidfd(pidfd)) => watch_fd(s, pidfd, Interest::Read, None),
        (SourceKind::Vnode, Descriptors::Vnode { file, inotify }) => {
            watch_fd(s, inotify, Interest::Read, Some(file))
        }
        _ => Registration::None,
    }
}

/// Undoes [`register`]: after this the event thread no longer reaches `s`.
pub fn unregister(s: &Source, r: Registration) {
    let token = match &r {
        Registration::Watched { fd, token, .. } => {
            event_thread().epoll.delete(fd.fd());
            Some(*token)
        }
        _ => None,
    };
    registry::unregister(s, token);
    drop(r); // closes our descriptors
}

/// The event thread saw a registered descriptor of `s` ready (under the registry lock).
pub fn on_ready(s: &Source) {
    let w = watch(s);
    match s.kind {
        SourceKind::Read | SourceKind::Write => s.merge(ready_data(s.kind, w.fd)),
        SourceKind::Proc => {
            if let Some(status) = sys::exit_status_of_pidfd(w.fd) {
                s.status.store(status as u64, core::sync::atomic::Ordering::SeqCst);
            }
            s.merge((s.mask & PROC_EXIT) as u64);
        }
        SourceKind::Vnode => {
            let changes = sys::read_inotify_changes(w.fd);
            let now = sys::file_size_and_links(w.file).unwrap_or(w.last);
            let mut bits = 0;
            if changes & (sys::IN_MODIFY | sys::IN_DIRECTORY_CHANGED) != 0 {
                bits |= VNODE_WRITE; // a file's data, or a directory's entries
            }
            if now.0 > w.last.0 {
                bits |= VNODE_EXTEND;
            }
            if changes & sys::IN_ATTRIB != 0 {
                bits |= if now.1 != w.last.1 { VNODE_LINK } else { VNODE_ATTRIB };
                if now.1 == 0 {
                    bits |= VNODE_DELETE; // the last link went
                }
            }
            if changes & sys::IN_DELETE_SELF != 0 {
                bits |= VNODE_DELETE;
            }
            if changes & sys::IN_MOVE_SELF != 0 {
                bits |= VNODE_RENAME;
            }
            set_watch(s, Watch { last: now, ..w });
            s.merge(bits & s.mask as u64);
            // inotify was drained above: watch it again at once (no handler to wait for).
            if let Some(interest) = w.interest {
                event_thread().epoll.rearm(w.fd, w.token, interest);
            }
        }
        _ => {}
    }
}

/// After a delivery ran its handler (on the source's queue): watch the descriptor again.
pub fn after_delivery(s: &Source) {
    let w = watch(s);
    match (s.kind, w.interest) {
        (SourceKind::Read | SourceKind::Write, Some(interest)) => {
            event_thread().epoll.rearm(w.fd, w.token, interest)
        }
        (SourceKind::Read | SourceKind::Write, None) if w.always_ready => s.merge(ready_data(s.kind, w.fd)),
        _ => {}
    }
}
