//! What the event thread delivers to, and the owned references it holds on it (see the
//! module doc of `event`).

use crate::callback::ClientFn;

/// Something the event thread delivers to: a registered descriptor or signal, or a timer
/// heap entry. Implemented by sources (`source/mod.rs`) and queues (`queue/event_target.rs`)
/// so this layer names neither; every call is one indirect call through the vtable.
///
/// The event thread holds its targets as [`TargetRef`]s, each of which took a reference
/// with [`Target::retain_for_event_thread`] and gives it back on drop.
///
/// # Safety
/// `retain_for_event_thread` must keep `self` alive (at the same address) until the
/// matching `release_for_event_thread`: [`TargetRef`] dereferences the target until then.
pub unsafe trait Target: Sync {
    /// The descriptor registered under this target's token is ready.
    fn on_ready(&self) {}
    /// `n` deliveries of a signal this target registered for were counted.
    fn on_signal(&self, _n: u32) {}
    /// A timer heap entry armed with `generation` fired at `deadline`.
    fn timer_fired(&self, _generation: u64, _deadline: u64) {}
    /// A `dispatch_after` entry fired: submit `work` (queues).
    fn submit(&self, _work: ClientFn) {}
    /// Takes the internal reference a registration or a timer heap entry holds.
    fn retain_for_event_thread(&self);
    /// Drops one reference [`Target::retain_for_event_thread`] took; `Release` proves it
    /// (only a dropped [`TargetRef`] makes one).
    fn release_for_event_thread(&self, proof: Release);
}

/// Proof, handed to [`Target::release_for_event_thread`], that the caller gives back one
/// reference it took: only [`TargetRef`]'s `Drop` can make one.
pub struct Release(());

/// The event thread's owned reference on a [`Target`] (a registration, a timer heap
/// entry): taking one retains the target, dropping it releases it, so the registry and
/// the heaps can neither leak nor over-release what they point at.
pub struct TargetRef(core::ptr::NonNull<dyn Target>);

// SAFETY: a `Target` is `Sync`, and the reference this handle owns keeps it alive whichever
// thread drops it.
unsafe impl Send for TargetRef {}

impl TargetRef {
    pub fn retain(target: &(dyn Target + 'static)) -> TargetRef {
        target.retain_for_event_thread();
        TargetRef(core::ptr::NonNull::from(target))
    }

    /// Whether this is a reference on `target` (compared by address).
    pub fn is(&self, target: &dyn Target) -> bool {
        core::ptr::addr_eq(self.0.as_ptr(), target)
    }
}

impl core::ops::Deref for TargetRef {
    type Target = dyn Target + 'static;
    fn deref(&self) -> &(dyn Target + 'static) {
        // SAFETY: `retain` took a reference that, per `Target`'s contract, keeps the target
        // alive until `drop` gives it back.
        unsafe { self.0.as_ref() }
    }
}

impl Drop for TargetRef {
    fn drop(&mut self) {
        self.release_for_event_thread(Release(()));
    }
}
