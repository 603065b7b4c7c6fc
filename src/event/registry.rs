//! Which source a descriptor token or a signal belongs to.
//!
//! The table is locked while the event thread delivers to a source, and unregistering
//! takes the same lock: once [`unregister`] returned, the event thread neither touches
//! the source nor will it again, which is what lets a cancel handler close the client's
//! descriptor and the source be freed.

use super::Target;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// A registered target (a source), compared by address.
#[derive(Clone, Copy)]
struct SourcePtr(*const dyn Target);

impl PartialEq for SourcePtr {
    fn eq(&self, other: &Self) -> bool {
        core::ptr::addr_eq(self.0, other.0)
    }
}
// SAFETY: a registered source holds an internal reference for its registration, and is
// only touched under the table lock.
unsafe impl Send for SourcePtr {}

struct Table {
    next_token: u64,
    by_token: BTreeMap<u64, SourcePtr>,
    by_signal: Vec<(i32, SourcePtr)>,
}

static TABLE: Mutex<Table> = Mutex::new(Table {
    next_token: super::FIRST_SOURCE_TOKEN,
    by_token: BTreeMap::new(),
    by_signal: Vec::new(),
});

fn lock() -> std::sync::MutexGuard<'static, Table> {
    TABLE.lock().unwrap_or_else(|e| e.into_inner())
}

/// A fresh token for `source`'s descriptor; readiness of it calls `Target::on_ready`.
pub fn register_token(source: &(dyn Target + 'static)) -> u64 {
    let mut t = lock();
    let token = t.next_token;
    t.next_token += 1;
    t.by_token.insert(token, SourcePtr(source));
    token
}

/// Delivery of `signo` calls `Target::on_signal` with the count. The first source of a
/// signal starts from zero: deliveries counted while no source watched it are dropped.
pub fn register_signal(signo: i32, source: &(dyn Target + 'static)) {
    let mut t = lock();
    if !t.by_signal.iter().any(|&(sig, _)| sig == signo) {
        crate::sys::take_signal_deliveries(signo);
    }
    t.by_signal.push((signo, SourcePtr(source)));
}

/// Forgets every registration of `source` (its token, its signals).
pub fn unregister(source: &(dyn Target + 'static), token: Option<u64>) {
    let mut t = lock();
    if let Some(token) = token {
        t.by_token.remove(&token);
    }
    t.by_signal.retain(|&(_, s)| s != SourcePtr(source));
}

pub(super) fn deliver_ready(token: u64) {
    let t = lock();
    if let Some(&SourcePtr(s)) = t.by_token.get(&token) {
        // SAFETY: registered sources are alive until unregistered, which needs this lock.
        unsafe { &*s }.on_ready();
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
        for &(_, SourcePtr(s)) in t.by_signal.iter().filter(|&&(sig, _)| sig == signo) {
            // SAFETY: as in `deliver_ready`.
            unsafe { &*s }.on_signal(n);
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
        self.0.by_token.clear();
        self.0.by_signal.clear();
    }
}
