//! Which source a descriptor token or a signal belongs to.
//!
//! The table is locked while the event thread delivers to a source, and unregistering
//! takes the same lock: once [`unregister`] returned, the event thread neither touches
//! the source nor will it again, which is what lets a cancel handler close the client's
//! descriptor and the source be freed.

use super::target::{Target, TargetRef};
use std::collections::BTreeMap;
use std::sync::Mutex;

pub(super) const TOKEN_WALL: u64 = 2;
pub(super) const TOKEN_WAKE: u64 = 3;
/// Tokens below this are the thread's own descriptors; the registry hands out the rest.
pub const FIRST_SOURCE_TOKEN: u64 = 16;

/// Each registration owns a reference on its source ([`TargetRef`]), dropped when the
/// registration goes.
struct Table {
    next_token: u64,
    by_token: BTreeMap<u64, TargetRef>,
    by_signal: Vec<(i32, TargetRef)>,
}

static TABLE: Mutex<Table> =
    Mutex::new(Table { next_token: FIRST_SOURCE_TOKEN, by_token: BTreeMap::new(), by_signal: Vec::new() });

fn lock() -> std::sync::MutexGuard<'static, Table> {
    TABLE.lock().unwrap_or_else(|e| e.into_inner())
}

/// A fresh token for `source`'s descriptor; readiness of it calls `Target::on_ready`.
/// The registration holds a reference on `source` until [`unregister`].
pub fn register_token(source: &(dyn Target + 'static)) -> u64 {
    let held = TargetRef::retain(source);
    let mut t = lock();
    let token = t.next_token;
    t.next_token += 1;
    t.by_token.insert(token, held);
    token
}

/// Delivery of `signo` calls `Target::on_signal` with the count. The first source of a
/// signal starts from zero: deliveries counted while no source watched it are dropped.
/// The registration holds a reference on `source` until [`unregister`].
pub fn register_signal(signo: i32, source: &(dyn Target + 'static)) {
    let held = TargetRef::retain(source);
    let mut t = lock();
    if !t.by_signal.iter().any(|&(sig, _)| sig == signo) {
        crate::sys::take_signal_deliveries(signo);
    }
    t.by_signal.push((signo, held));
}

/// Forgets every registration of `source` (its token, its signals). Their references are
/// dropped after the lock is released.
pub fn unregister(source: &(dyn Target + 'static), token: Option<u64>) {
    let mut removed = Vec::new();
    {
        let mut t = lock();
        if let Some(held) = token.and_then(|token| t.by_token.remove(&token)) {
            removed.push(held);
        }
        let (gone, kept) = core::mem::take(&mut t.by_signal).into_iter().partition(|(_, s)| s.is(source));
        t.by_signal = kept;
        removed.extend(gone.into_iter().map(|(_, s): (i32, TargetRef)| s));
    }
    drop(removed);
}

pub(super) fn deliver_ready(token: u64) {
    let t = lock();
    if let Some(s) = t.by_token.get(&token) {
        s.on_ready();
    }
}

pub(super) fn deliver_signals() {
    let t = lock();
    let mut signals: Vec<i32> = t.by_signal.iter().map(|&(signo, _)| signo).collect();
    signals.sort_unstable();
    signals.dedup();
    for signo in signals {
        let n = crate::sys::take_signal_deliveries(signo);
        if n == 0 {
            continue;
        }
        for (_, s) in t.by_signal.iter().filter(|&&(sig, _)| sig == signo) {
            s.on_signal(n);
        }
    }
}

/// The table's lock, held across `fork` (see `crate::fork`).
pub(crate) struct ForkHeld(std::sync::MutexGuard<'static, Table>);

pub(crate) fn lock_for_fork() -> ForkHeld {
    ForkHeld(lock())
}

impl ForkHeld {
    /// `fork` child: the parent's sources are cancelled in the child, so their
    /// registrations are forgotten without touching the sources (no callback into them;
    /// the references the registrations held are leaked, not released).
    pub(crate) fn forget_all(&mut self) {
        core::mem::forget(core::mem::take(&mut self.0.by_token));
        core::mem::forget(core::mem::take(&mut self.0.by_signal));
    }
}
