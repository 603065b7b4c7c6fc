//! The in-memory shapes the compiler emits for blocks and `__block` variables.
//!
//! From the Clang Block ABI: a block literal starts with `isa`, a flags word, a reserved
//! word, the invoke function and a descriptor pointer, followed by its captures. The
//! descriptor holds the literal's size, then copy/dispose helpers when
//! `BLOCK_HAS_COPY_DISPOSE` is set, then a signature (and layout string) when
//! `BLOCK_HAS_SIGNATURE` is set. A `__block` variable lives in a `Block_byref` header whose
//! `forwarding` pointer leads to the current copy (stack, then heap once a block holding
//! it is copied).

use core::ffi::{c_char, c_void};
use core::sync::atomic::AtomicI32;

/// Reference count field of `flags` (blocks and byrefs alike).
pub const REFCOUNT_MASK: i32 = 0xffff;
/// Heap copy made by a runtime: counted, freed at zero.
pub const NEEDS_FREE: i32 = 1 << 24;
/// The descriptor has copy/dispose helpers (byref: keep/destroy helpers).
pub const HAS_COPY_DISPOSE: i32 = 1 << 25;
// Bit 26 (HAS_CTOR: the helpers run C++ code) needs no handling: the helpers are called
// the same way. Bit 27 (IS_GC) belonged to the garbage-collected ObjC runtime.
/// A literal with no captures, emitted as a constant: copy and release do nothing.
pub const IS_GLOBAL: i32 = 1 << 28;
/// The invoke function returns a struct through a hidden pointer.
pub const USE_STRET: i32 = 1 << 29;
/// The descriptor has a signature string.
pub const HAS_SIGNATURE: i32 = 1 << 30;
/// The descriptor's layout string is the extended (compressed) layout.
pub const HAS_EXTENDED_LAYOUT: i32 = 1 << 31;

/// `_Block_object_assign`/`_dispose` flags: what kind of capture a helper passes.
pub const FIELD_IS_OBJECT: i32 = 3;
pub const FIELD_IS_BLOCK: i32 = 7;
pub const FIELD_IS_BYREF: i32 = 8;
pub const FIELD_IS_WEAK: i32 = 16;
pub const BYREF_CALLER: i32 = 128;
pub const ALL_FIELD_FLAGS: i32 =
    FIELD_IS_OBJECT | FIELD_IS_BLOCK | FIELD_IS_BYREF | FIELD_IS_WEAK | BYREF_CALLER;

#[repr(C)]
pub struct BlockLayout {
    pub isa: *const c_void,
    pub flags: AtomicI32,
    pub reserved: i32,
    /// `void (*)(void *block, ...)`: callers cast it to the literal's real signature.
    pub invoke: *const c_void,
    pub descriptor: *const Descriptor,
}

#[repr(C)]
pub struct Descriptor {
    pub reserved: usize,
    pub size: usize,
}

pub type CopyHelper = unsafe extern "C" fn(dst: *mut c_void, src: *const c_void);
pub type DisposeHelper = unsafe extern "C" fn(block: *const c_void);

/// Follows [`Descriptor`] when `HAS_COPY_DISPOSE` is set.
#[repr(C)]
pub struct CopyDispose {
    pub copy: CopyHelper,
    pub dispose: DisposeHelper,
}

/// Follows the copy/dispose part (if any) when `HAS_SIGNATURE` is set.
#[repr(C)]
pub struct SignatureInfo {
    pub signature: *const c_char,
    pub layout: *const c_char,
}

/// Header of a `__block` variable; the variable itself follows (after the helpers).
#[repr(C)]
pub struct Byref {
    pub isa: *const c_void,
    pub forwarding: *mut Byref,
    pub flags: AtomicI32,
    pub size: u32,
}

pub type ByrefKeep = unsafe extern "C" fn(dst: *mut Byref, src: *mut Byref);
pub type ByrefDestroy = unsafe extern "C" fn(byref: *mut Byref);

/// Follows [`Byref`] when its flags have `HAS_COPY_DISPOSE`.
#[repr(C)]
pub struct ByrefHelpers {
    pub keep: ByrefKeep,
    pub destroy: ByrefDestroy,
}

impl BlockLayout {
    pub fn flags(&self) -> i32 {
        // Relaxed: the non-count bits never change after the block is visible; the count
        // itself is only changed through the CAS loops in `runtime`.
        self.flags.load(core::sync::atomic::Ordering::Relaxed)
    }

    /// The copy/dispose helpers, if the descriptor has them.
    ///
    /// # Safety
    /// `self` must be a block emitted by a compiler (or built by this crate).
    pub unsafe fn copy_dispose(&self) -> Option<&CopyDispose> {
        if self.flags() & HAS_COPY_DISPOSE == 0 {
            return None;
        }
        // SAFETY: with HAS_COPY_DISPOSE the helpers follow the basic descriptor.
        Some(unsafe { &*(self.descriptor.add(1) as *const CopyDispose) })
    }

    /// The signature part of the descriptor, if present.
    ///
    /// # Safety
    /// As for [`BlockLayout::copy_dispose`].
    pub unsafe fn signature_info(&self) -> Option<&SignatureInfo> {
        if self.flags() & HAS_SIGNATURE == 0 {
            return None;
        }
        let mut p = self.descriptor.wrapping_add(1) as *const u8;
        if self.flags() & HAS_COPY_DISPOSE != 0 {
            p = p.wrapping_add(core::mem::size_of::<CopyDispose>());
        }
        // SAFETY: with HAS_SIGNATURE the signature part follows the earlier parts.
        Some(unsafe { &*(p as *const SignatureInfo) })
    }

    /// Size of the literal, header and captures.
    ///
    /// # Safety
    /// As for [`BlockLayout::copy_dispose`].
    pub unsafe fn size(&self) -> usize {
        // SAFETY: every block has a basic descriptor.
        unsafe { (*self.descriptor).size }
    }
}

impl Byref {
    /// The keep/destroy helpers, if this variable has them.
    ///
    /// # Safety
    /// `self` must be a `__block` variable header emitted by a compiler.
    pub unsafe fn helpers(&self) -> Option<&ByrefHelpers> {
        if self.flags.load(core::sync::atomic::Ordering::Relaxed) & HAS_COPY_DISPOSE == 0 {
            return None;
        }
        // SAFETY: with HAS_COPY_DISPOSE the helpers follow the header.
        Some(unsafe { &*((self as *const Byref).add(1) as *const ByrefHelpers) })
    }
}
