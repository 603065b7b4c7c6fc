//! Memory for work items: [`SlabBox`], a `Box` whose block comes from a per-thread cache,
//! so that the asynchronous path does not pay `malloc` and a cross-thread `free` per item
//! (continuations live in them, `queue/continuation.rs`).
//!
//! The problem is the direction of the flow: a producer thread allocates continuations and
//! the workers that run them free them. A cache on each side alone does not help (glibc's
//! own per-thread cache is exactly that: the producer's empties, the worker's overflows into
//! the locked arena). So freed blocks travel back in *batches*, the arrangement of
//! tcmalloc's transfer cache:
//!
//! * Each thread has two chains of free blocks: `fresh`, which it allocates from, and
//!   `freed`, which it frees into. A thread that runs what it submitted reuses its own
//!   blocks (a full `freed` chain becomes its `fresh` one when that is empty).
//! * When `freed` holds [`BATCH`] blocks and `fresh` is not empty, the whole chain goes to
//!   the *depot*, a short array of full batches shared by all threads; a thread whose
//!   `fresh` chain is empty takes a batch from the depot. One lock acquisition moves
//!   [`BATCH`] blocks, so the lock costs a fraction of an instruction per item and is
//!   rarely contended.
//! * The depot is only ever `try_lock`ed: a thread never waits for it (a busy depot means
//!   `malloc` or `free` for this one block), and a `fork` while another thread held it only
//!   turns the child's cache off (its `try_lock` then always fails) instead of deadlocking.
//!
//! Bounds: a thread holds at most `2 × BATCH` blocks, the depot at most [`DEPOT_BATCHES`]
//! batches; beyond that blocks go back to the heap. A thread's chains are freed to the heap
//! when it exits (a thread-local destructor, registered on the first slow path, so the
//! fast paths read a thread-local without one: a single `__tls_get_addr` in this shared
//! library, no state check); blocks freed after that go straight to the heap. The depot
//! lives as long as the process.
//!
//! Every block has the layout [`SLOT`], whatever it held, so any block serves any item;
//! [`SlabBox::new`] refuses (at compile time) a type that does not fit.

use core::cell::Cell;
use core::marker::PhantomData;
use core::ops::{Deref, DerefMut};
use core::ptr::{self, NonNull};
use std::alloc::{alloc, dealloc, Layout};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Mutex;

/// The layout of every cached block (a continuation fits).
pub const SLOT: Layout = match Layout::from_size_align(80, 16) {
    Ok(l) => l,
    Err(_) => panic!("a valid layout"),
};
/// Blocks moved to or from the depot at once.
pub const BATCH: u32 = 32;
/// Full batches the depot keeps (256 × 32 blocks of 80 bytes: 640 KiB at most).
pub const DEPOT_BATCHES: usize = 256;

/// A free block: its first word links the next one.
#[repr(C)]
struct Slot {
    next: *mut Slot,
}

/// A singly linked chain of free blocks and its length.
#[derive(Clone, Copy)]
#[repr(C)]
struct Chain {
    head: *mut Slot,
    len: u32,
}

const EMPTY: Chain = Chain { head: ptr::null_mut(), len: 0 };

impl Chain {
    /// Frees every block of the chain to the heap.
    fn release(self) {
        let mut s = self.head;
        while !s.is_null() {
            // SAFETY: every block on a chain is a live heap allocation of layout `SLOT`
            // that nothing else references (it was freed into the chain), so reading its
            // link and deallocating it with that layout is sound.
            unsafe {
                let next = (*s).next;
                dealloc(s.cast(), SLOT);
                s = next;
            }
        }
    }
}

#[repr(C)]
struct Local {
    fresh: Cell<Chain>,
    freed: Cell<Chain>,
    /// The thread's owner frees the cache itself at exit ([`manage_thread_cache`]).
    managed: Cell<bool>,
}

/// `freed.len` of a thread whose cache was torn down ([`Exit`]): above [`BATCH`], so the
/// fast path of [`free_slot`] falls into [`free_slow`], which frees to the heap.
const DEAD: u32 = u32::MAX;

thread_local! {
    // Only the exit hook (registered on the slow paths); the cache itself lives in the
    // initial-exec thread slots (`sys::tls`), one load from the thread pointer away.
    static EXIT: Exit = const { Exit };
}

const _: () = assert!(
    core::mem::size_of::<Local>() == core::mem::size_of::<super::types::SlabStorage>()
        && core::mem::align_of::<Local>() <= core::mem::align_of::<super::types::SlabStorage>(),
    "Local must fit the storage ThreadSlots reserves for it"
);

/// The one access to this thread's cache: the `slab` words of its thread slots.
#[inline(always)]
fn with_local<R>(f: impl FnOnce(&Local) -> R) -> R {
    let slots = super::tls::thread_slots();
    // SAFETY: `slab` is storage of `Local`'s size and alignment (checked above) that only
    // this module uses; zero-initialised in every thread, which is a valid `Local` (null
    // chains of length 0, not managed); the reference stays on this thread (`ThreadSlots`
    // is not `Sync`) and lives as long as the thread.
    f(unsafe { &*(&slots.slab as *const super::types::SlabStorage as *const Local) })
}

/// Frees the thread's chains when it exits and marks its cache [`DEAD`] (blocks freed by
/// later destructors go to the heap).
struct Exit;

impl Drop for Exit {
    fn drop(&mut self) {
        release_thread_cache();
    }
}

/// For a thread whose owner calls [`release_thread_cache`] when it exits (the pool's
/// workers): no thread-local destructor is registered, because glibc's registration
/// (`__cxa_thread_atexit_impl`) calls `calloc`, which gives the thread a malloc arena of
/// its own (64 MiB of address space) that a worker otherwise never needs.
pub fn manage_thread_cache() {
    with_local(|l| l.managed.set(true));
}

/// Frees this thread's cached blocks and turns its cache off (blocks freed afterwards go
/// to the heap): at thread exit.
pub fn release_thread_cache() {
    with_local(|l| {
        l.fresh.replace(EMPTY).release();
        l.freed.replace(Chain { head: ptr::null_mut(), len: DEAD }).release();
    });
}

/// Whether this thread's cache is still in use; registers [`Exit`] the first time.
fn alive(l: &Local) -> bool {
    if l.freed.get().len == DEAD {
        return false;
    }
    if l.managed.get() {
        return true;
    }
    // `try_with`: fails only while the thread's destructors run (then the cache is
    // about to be torn down, or was: do not cache any more).
    EXIT.try_with(|_| ()).is_ok()
}

struct Depot {
    batches: [Chain; DEPOT_BATCHES],
    len: usize,
}

// SAFETY: the chains are blocks nobody else references; they are only touched under the
// depot's lock.
unsafe impl Send for Depot {}

static DEPOT: Mutex<Depot> = Mutex::new(Depot { batches: [EMPTY; DEPOT_BATCHES], len: 0 });

/// The depot's batch count, readable without the lock: a producer that outruns its workers
/// finds the depot empty on every refill and goes to the heap without touching the lock.
static DEPOT_LEN: AtomicUsize = AtomicUsize::new(0);

/// A block from this thread's `fresh` chain, or null when it is empty: the allocation
/// fast path alone, which makes no call (see [`SlabBox::new_cached`]).
#[inline(always)]
fn alloc_cached() -> *mut u8 {
    with_local(|l| {
        let c = l.fresh.get();
        if c.head.is_null() {
            return ptr::null_mut();
        }
        // SAFETY: `c.head` heads this thread's `fresh` chain: a free block only this
        // thread references, whose first word is its link.
        let next = unsafe { (*c.head).next };
        l.fresh.set(Chain { head: next, len: c.len - 1 });
        c.head.cast::<u8>()
    })
}

/// A block of layout [`SLOT`], from this thread's cache when it has one; null when the heap
/// is exhausted.
#[inline]
fn alloc_slot() -> *mut u8 {
    let p = alloc_cached();
    if !p.is_null() {
        return p;
    }
    with_local(alloc_slow)
}

/// An empty `fresh` chain: reuse our own `freed` chain, else take a batch from the depot,
/// else the heap.
#[cold]
#[inline(never)]
fn alloc_slow(l: &Local) -> *mut u8 {
    if alive(l) {
        let mut c = l.freed.replace(EMPTY);
        // Relaxed: a hint; the count that matters is read again under the lock.
        if c.head.is_null() && DEPOT_LEN.load(Relaxed) > 0 {
            if let Ok(mut d) = DEPOT.try_lock() {
                if d.len > 0 {
                    d.len -= 1;
                    DEPOT_LEN.store(d.len, Relaxed);
                    let i = d.len;
                    c = core::mem::replace(&mut d.batches[i], EMPTY);
                }
            }
        }
        if !c.head.is_null() {
            // SAFETY: as in `alloc_slot`: `c` is a chain of free blocks now only ours.
            let next = unsafe { (*c.head).next };
            l.fresh.set(Chain { head: next, len: c.len - 1 });
            return c.head.cast();
        }
    }
    // SAFETY: `SLOT` has a non-zero size.
    unsafe { alloc(SLOT) }
}

/// Gives back a block [`alloc_slot`] returned, whose contents were dropped.
///
/// # Safety
/// `p` came from [`alloc_slot`] (or is a heap block of layout [`SLOT`]) and is not used
/// again.
#[inline]
unsafe fn free_slot(p: *mut u8) {
    let s = p.cast::<Slot>();
    with_local(|l| {
        let c = l.freed.get();
        // One compare for both slow cases: the chain is full (32), or empty (0, where the
        // thread's exit destructor is registered, so that even a thread that only frees
        // gives its blocks back to the heap when it exits).
        if c.len.wrapping_sub(1) >= BATCH - 1 {
            // SAFETY: forwarded contract.
            return unsafe { free_slow(l, p) };
        }
        // SAFETY: the block is ours (contract) and at least one word long.
        unsafe { s.write(Slot { next: c.head }) };
        l.freed.set(Chain { head: s, len: c.len + 1 });
    })
}

/// An empty or full `freed` chain (or a dead cache): a full chain becomes `fresh` if that
/// is empty, else goes to the depot, else (depot full or busy) back to the heap; `p` starts
/// a new chain.
///
/// # Safety
/// As for [`free_slot`].
#[cold]
#[inline(never)]
unsafe fn free_slow(l: &Local, p: *mut u8) {
    if !alive(l) {
        // SAFETY: per the contract, a heap block of layout `SLOT` nobody uses any more.
        unsafe { dealloc(p, SLOT) };
        return;
    }
    let full = l.freed.replace(EMPTY);
    if !full.head.is_null() {
        // To the depot first, where the thread that allocates (usually another: a
        // producer's items are freed by workers) finds it; kept as our own `fresh` chain
        // only when the depot is full or busy, since a thread that never allocates (a
        // worker) would strand it there.
        let mut kept = false;
        if let Ok(mut d) = DEPOT.try_lock() {
            if d.len < DEPOT_BATCHES {
                let i = d.len;
                d.batches[i] = full;
                d.len += 1;
                // Relaxed: a hint for `alloc_slow` (the batch itself is handed over under
                // the lock).
                DEPOT_LEN.store(d.len, Relaxed);
                kept = true;
            }
        }
        if !kept {
            if l.fresh.get().head.is_null() {
                l.fresh.set(full);
            } else {
                full.release();
            }
        }
    }
    // (An empty `full` is the first block of a chain: `alive` registered the exit
    // destructor.)
    let s = p.cast::<Slot>();
    // SAFETY: the block is ours (contract) and at least one word long.
    unsafe { s.write(Slot { next: ptr::null_mut() }) };
    l.freed.set(Chain { head: s, len: 1 });
}

/// An owned `T` in a cached block: what `Box<T>` is, with the block going back to this
/// thread's cache instead of to `free`.
pub struct SlabBox<T> {
    ptr: NonNull<T>,
    _owns: PhantomData<T>,
}

// SAFETY: the box owns its `T` (as `Box<T>` does); the block may be freed on any thread.
unsafe impl<T: Send> Send for SlabBox<T> {}

impl<T> SlabBox<T> {
    const FITS: () =
        assert!(core::mem::size_of::<T>() <= SLOT.size() && core::mem::align_of::<T>() <= SLOT.align());

    /// Moves `value` into a block; `Err(value)` when the heap is exhausted.
    #[inline]
    pub fn new(value: T) -> Result<SlabBox<T>, T> {
        #[allow(clippy::let_unit_value)]
        let () = Self::FITS;
        let Some(ptr) = NonNull::new(alloc_slot().cast::<T>()) else { return Err(value) };
        // SAFETY: a fresh block of layout `SLOT`, which fits a `T` (`FITS`).
        unsafe { ptr.as_ptr().write(value) };
        Ok(SlabBox { ptr, _owns: PhantomData })
    }

    /// [`SlabBox::new`] when this thread's cache has a block at hand, `None`
    /// otherwise (the caller then takes its slow path, which calls `new`): for entry points
    /// whose fast path must make no call, so that it needs no stack frame.
    /// The value is made by `make` only once a block is at hand, so that nothing is built
    /// (on the stack) for the slow path.
    #[inline(always)]
    pub fn new_cached(make: impl FnOnce() -> T) -> Option<SlabBox<T>> {
        #[allow(clippy::let_unit_value)]
        let () = Self::FITS;
        let ptr = NonNull::new(alloc_cached().cast::<T>())?;
        // SAFETY: a fresh block of layout `SLOT`, which fits a `T` (`FITS`).
        unsafe { ptr.as_ptr().write(make()) };
        Some(SlabBox { ptr, _owns: PhantomData })
    }

    /// Moves the value out; the block goes back to the cache at once.
    #[inline]
    pub fn into_inner(self) -> T {
        let p = SlabBox::into_raw(self).as_ptr();
        // SAFETY: we owned the value: it is moved out once, and the block, no longer
        // referenced, goes back to the cache it came from.
        unsafe {
            let value = p.read();
            free_slot(p.cast());
            value
        }
    }

    /// Frees the block without dropping the value, as `mem::forget` would leave it: for
    /// a caller that has taken out (copied) everything the value owns.
    #[inline]
    pub fn free_forgetting(b: SlabBox<T>) {
        let p = SlabBox::into_raw(b).as_ptr();
        // SAFETY: we owned the block; the value in it is forgotten (never dropped, which
        // is safe), so nothing references the block any more.
        unsafe { free_slot(p.cast()) };
    }

    /// Gives up ownership (the value and its block), for an intrusive list.
    pub fn into_raw(b: SlabBox<T>) -> NonNull<T> {
        let p = b.ptr;
        core::mem::forget(b);
        p
    }

    /// Takes back what [`SlabBox::into_raw`] gave up.
    ///
    /// # Safety
    /// `p` came from `into_raw` of a `SlabBox<T>` and nobody else owns it now.
    pub unsafe fn from_raw(p: NonNull<T>) -> SlabBox<T> {
        SlabBox { ptr: p, _owns: PhantomData }
    }
}

impl<T> Deref for SlabBox<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the box owns a live, initialised value until it is dropped or moved out.
        unsafe { self.ptr.as_ref() }
    }
}

impl<T> DerefMut for SlabBox<T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, and the box is the only owner.
        unsafe { self.ptr.as_mut() }
    }
}

impl<T> Drop for SlabBox<T> {
    fn drop(&mut self) {
        // SAFETY: the box owns the initialised value (dropped once, here) and its block,
        // which nothing uses afterwards.
        unsafe {
            ptr::drop_in_place(self.ptr.as_ptr());
            free_slot(self.ptr.as_ptr().cast());
        }
    }
}

/// What this thread's cache holds (`fresh`, `freed`) and the depot's batch count, for tests.
#[cfg(test)]
pub fn counts() -> (u32, u32, usize) {
    let (a, b) = with_local(|l| (l.fresh.get().len, l.freed.get().len));
    (a, b, DEPOT.lock().unwrap().len)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// The depot is shared: the tests that look at it take turns.
    static SERIAL: Mutex<()> = Mutex::new(());

    /// A thread that frees what it allocated reuses the same blocks, and its chains stay
    /// within `2 × BATCH` however many blocks pass through.
    #[test]
    fn local_reuse_and_bounds() {
        let _turn = SERIAL.lock().unwrap();
        std::thread::spawn(|| {
            let blocks: Vec<*mut u8> = (0..200).map(|_| alloc_slot()).collect();
            for &b in &blocks {
                // SAFETY: from `alloc_slot`, not used again.
                unsafe { free_slot(b) };
            }
            let (fresh, freed, _) = counts();
            assert!(fresh + freed <= 2 * BATCH, "{fresh} + {freed}");
            let again = alloc_slot();
            assert!(blocks.contains(&again), "a freed block is reused");
            // SAFETY: as above.
            unsafe { free_slot(again) };
        })
        .join()
        .unwrap();
    }

    /// Blocks freed on one thread reach another through the depot.
    #[test]
    fn batches_cross_threads() {
        let _turn = SERIAL.lock().unwrap();
        let blocks: Vec<usize> = (0..BATCH as usize * 3).map(|_| alloc_slot() as usize).collect();
        let b2 = blocks.clone();
        std::thread::spawn(move || {
            // Something to keep: `flush` moves a full chain to the depot only when
            // `fresh` is not empty.
            let keep = alloc_slot();
            // SAFETY: as above.
            unsafe { free_slot(keep) };
            let keep = alloc_slot();
            for &b in &b2 {
                // SAFETY: from `alloc_slot`, not used again.
                unsafe { free_slot(b as *mut u8) };
            }
            // SAFETY: as above.
            unsafe { free_slot(keep) };
        })
        .join()
        .unwrap();
        std::thread::spawn(move || {
            let got: Vec<usize> = (0..BATCH as usize).map(|_| alloc_slot() as usize).collect();
            assert!(got.iter().any(|g| blocks.contains(g)), "a batch came through the depot");
            for &g in &got {
                // SAFETY: as above.
                unsafe { free_slot(g as *mut u8) };
            }
        })
        .join()
        .unwrap();
    }
}
