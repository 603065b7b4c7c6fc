//! `dispatch_data_t`: immutable byte strings built from shared regions.
//!
//! A *leaf* owns (or borrows, with a destructor) one contiguous buffer. A *composite* is a
//! list of records `(leaf, from, len)`; concatenation and subranges only build new record
//! lists over the same leaves (no byte is copied), and records always point at leaves, so
//! trees stay one level deep whatever the client builds. `create_map` flattens a composite
//! once into a new leaf and caches it. Records and the map cache hold references on their
//! leaves ([`Ref`], [`ClientRef`]); a leaf's destructor runs exactly once, when the last
//! reference of any kind goes away (its [`Bytes`] are dropped).
//!
//! A leaf's buffer is a [`Bytes`]: ours (a `Box<[u8]>`: copies, flattened composites, I/O
//! reads) or the client's (a pointer and length that stay readable until the destructor
//! runs: `dispatch_data_create`'s contract, which [`create`] takes as its own safety
//! contract). [`Bytes::as_slice`] is the one place a raw buffer becomes a slice; every
//! reader goes through it.

pub mod transform;

use crate::callback::ClientFn;
pub use crate::object::ClientRef;
use crate::object::{Header, Kind, ObjectKind, ObjectVTable, Ref};
use crate::queue::{self, root, Queue};
use crate::sys;
use core::ffi::c_void;
use core::ptr;
use std::sync::OnceLock;

/// What happens to a client buffer when the leaf over it goes away.
pub enum Destructor {
    /// `DISPATCH_DATA_DESTRUCTOR_FREE` (and `create_alloc`'s buffers): `free`.
    Free,
    /// `DISPATCH_DATA_DESTRUCTOR_MUNMAP`.
    Munmap,
    /// `DISPATCH_DATA_DESTRUCTOR_NONE`: the client keeps the buffer.
    None,
    /// Work submitted to `queue` (`None`: the default queue): the client's function with
    /// the buffer (`dispatch_data_create_f`), or our copy of the client's block, released
    /// after it ran (`dispatch_data_create`).
    Call { work: ClientFn, queue: Option<Ref<Queue>> },
}

/// A leaf's buffer.
///
/// Invariant of `Client`: `ptr` is readable for `len` bytes, and those bytes are not
/// written, until `destructor` runs (when the `Bytes` is dropped). It is constructed only
/// in this file: by [`create`] and [`create_copy`], whose safety contract is exactly this
/// invariant, and by [`create_alloc`] over a fresh allocation of `len` bytes.
enum Bytes {
    Owned(Box<[u8]>),
    Client { ptr: *const u8, len: usize, destructor: Destructor },
}

impl Bytes {
    fn as_slice(&self) -> &[u8] {
        match self {
            Bytes::Owned(b) => b,
            Bytes::Client { len: 0, .. } => &[],
            // SAFETY: the invariant of `Client`; `&self` keeps the destructor from running.
            Bytes::Client { ptr, len, .. } => unsafe { core::slice::from_raw_parts(*ptr, *len) },
        }
    }
}

impl Drop for Bytes {
    fn drop(&mut self) {
        let Bytes::Client { ptr, len, destructor } = self else { return };
        let (ptr, len) = (*ptr, *len);
        match core::mem::replace(destructor, Destructor::None) {
            // SAFETY: a `Free` buffer is from the C heap (`create_alloc`'s, or one the client
            // handed over with `DISPATCH_DATA_DESTRUCTOR_FREE`), freed once, here.
            Destructor::Free => unsafe { sys::c_free(ptr as *mut c_void) },
            Destructor::Munmap => sys::unmap(ptr as *mut c_void, len),
            Destructor::None => {}
            Destructor::Call { work, queue } => {
                let q = queue.as_deref().unwrap_or(root::default_queue());
                queue::async_f(q, work);
            }
        }
    }
}

/// A span of a leaf: `len` bytes from `from`. The leaf is held by the record (or is the
/// data object itself, for a leaf's one span).
struct Record {
    leaf: Ref<Data>,
    from: usize,
    len: usize,
}

/// A borrowed view of a record (or of a leaf as its own single record).
struct Span<'a> {
    leaf: &'a Data,
    from: usize,
    len: usize,
}

impl<'a> Span<'a> {
    fn bytes(&self) -> &'a [u8] {
        &self.leaf.leaf_bytes()[self.from..self.from + self.len]
    }
}

enum Shape {
    Leaf(Bytes),
    Composite(Vec<Record>),
}

#[repr(C)]
pub struct Data {
    pub header: Header,
    size: usize,
    shape: Shape,
    /// A composite's flattened copy (`create_map`), made once; a client reference, so that
    /// it can be handed out again after the client released an earlier copy.
    map_cache: OnceLock<ClientRef<Data>>,
}

// SAFETY: `#[repr(C)]` with its `Header` first; created with the vtable that frees it.
unsafe impl crate::object::Object for Data {
    fn header(&self) -> &crate::object::Header {
        &self.header
    }
}

// SAFETY: immutable after creation except the `OnceLock`; buffers are never written after
// the data was handed out (`create_alloc`'s buffer is the client's to fill first); a client
// destructor may run on any thread (it is submitted to a queue).
unsafe impl Sync for Data {}
// SAFETY: as above.
unsafe impl Send for Data {}

// SAFETY: only `boxed` (in a `Box`) and the immortal `EMPTY` make headers of kind `Data`,
// each the first field of a `Data`.
unsafe impl ObjectKind for Data {
    const KIND: Kind = Kind::Data;

    /// Drops the shape (the leaves' references, a client buffer's destructor); the
    /// finalizer runs on the default queue.
    fn dispose(self: Box<Self>) -> Option<Ref<Header>> {
        Some(Ref::retain(&root::default_queue().header))
    }
}

static DATA_VTABLE: ObjectVTable = ObjectVTable::for_type::<Data>();

/// `dispatch_data_empty`.
pub static EMPTY: Data = Data {
    header: Header::new_immortal(Kind::Data, &DATA_VTABLE),
    size: 0,
    shape: Shape::Composite(Vec::new()),
    map_cache: OnceLock::new(),
};

fn boxed(size: usize, shape: Shape) -> Box<Data> {
    Box::new(Data { header: Header::new(Kind::Data, &DATA_VTABLE), size, shape, map_cache: OnceLock::new() })
}

/// The empty data, with a client reference (a no-op on the immortal object).
pub fn empty() -> *const Data {
    &EMPTY
}

/// A leaf over `buffer` (taking its `destructor`), or the empty data for size 0 (the
/// destructor then runs at once, as the buffer is not needed).
///
/// # Safety
/// `buffer` must be readable for `size` bytes, and not be written, until the destructor
/// runs (the caller hands it over); with `Destructor::Free` it must be a C-heap block.
pub unsafe fn create(buffer: *const u8, size: usize, destructor: Destructor) -> *const Data {
    // The contract above is `Bytes::Client`'s invariant.
    let bytes = Bytes::Client { ptr: buffer, len: size, destructor };
    if size == 0 {
        return empty(); // `bytes` drops: the destructor runs now
    }
    Box::into_raw(boxed(size, Shape::Leaf(bytes)))
}

/// A leaf over a copy of `size` bytes at `buffer` (`DISPATCH_DATA_DESTRUCTOR_DEFAULT`).
///
/// # Safety
/// `buffer` must be readable for `size` bytes.
pub unsafe fn create_copy(buffer: *const u8, size: usize) -> *const Data {
    // Borrowed for the copy only: the contract above is `Bytes::Client`'s invariant for as
    // long as `borrowed` lives, and its destructor does nothing.
    let borrowed = Bytes::Client { ptr: buffer, len: size, destructor: Destructor::None };
    copy_of(borrowed.as_slice()).into_raw()
}

/// A leaf over a copy of `bytes` (the empty data for no bytes), with a client reference.
pub fn copy_of(bytes: &[u8]) -> ClientRef<Data> {
    if bytes.is_empty() {
        return ClientRef::retain(&EMPTY);
    }
    ClientRef::new(boxed(bytes.len(), Shape::Leaf(Bytes::Owned(bytes.into()))))
}

/// `dispatch_data_create_alloc`: a leaf over a fresh buffer the caller fills.
pub fn create_alloc(size: usize) -> (*mut u8, *const Data) {
    if size == 0 {
        return (ptr::null_mut(), empty());
    }
    let buffer = sys::c_malloc(size) as *mut u8;
    if buffer.is_null() {
        sys::abort_with_message("dispatch: out of memory allocating a data buffer");
    }
    // `Bytes::Client`'s invariant: a fresh C-heap block of `size` bytes, ours to free. The
    // client writes it before it reads or shares the data (data.h).
    let bytes = Bytes::Client { ptr: buffer, len: size, destructor: Destructor::Free };
    (buffer, Box::into_raw(boxed(size, Shape::Leaf(bytes))))
}

impl Data {
    pub fn size(&self) -> usize {
        self.size
    }

    /// The data as spans of leaves, in order.
    fn spans(&self) -> impl Iterator<Item = Span<'_>> {
        let (own, records): (Option<Span<'_>>, &[Record]) = match &self.shape {
            Shape::Leaf(_) => (Some(Span { leaf: self, from: 0, len: self.size }), &[]),
            Shape::Composite(records) => (None, records),
        };
        own.into_iter().chain(records.iter().map(|r| Span { leaf: &r.leaf, from: r.from, len: r.len }))
    }

    /// A leaf's whole buffer (empty for a composite: records only point at leaves).
    fn leaf_bytes(&self) -> &[u8] {
        match &self.shape {
            Shape::Leaf(bytes) => bytes.as_slice(),
            Shape::Composite(_) => &[],
        }
    }

    /// A data object over `spans` (which must each be non-empty), taking references.
    fn from_spans<'a>(spans: impl IntoIterator<Item = Span<'a>>) -> ClientRef<Data> {
        let records: Vec<Record> = spans
            .into_iter()
            .map(|s| Record { leaf: Ref::retain(s.leaf), from: s.from, len: s.len })
            .collect();
        if records.is_empty() {
            return ClientRef::retain(&EMPTY);
        }
        let size = records.iter().map(|r| r.len).sum();
        ClientRef::new(boxed(size, Shape::Composite(records)))
    }

    /// `dispatch_data_create_concat` (a client reference).
    pub fn concat(&self, other: &Data) -> *const Data {
        if other.size == 0 {
            return ClientRef::retain(self).into_raw();
        }
        if self.size == 0 {
            return ClientRef::retain(other).into_raw();
        }
        Data::from_spans(self.spans().chain(other.spans())).into_raw()
    }

    /// `dispatch_data_create_subrange` (a client reference).
    pub fn subrange(&self, offset: usize, length: usize) -> *const Data {
        self.range(offset, length).into_raw()
    }

    /// The bytes `offset..offset + length`, clamped to the data (empty past its end).
    pub fn range(&self, offset: usize, length: usize) -> ClientRef<Data> {
        if offset >= self.size || length == 0 {
            return ClientRef::retain(&EMPTY);
        }
        let end = offset.saturating_add(length).min(self.size);
        if offset == 0 && end == self.size {
            return ClientRef::retain(self);
        }
        let mut at = 0;
        let mut spans = Vec::new();
        for s in self.spans() {
            let (start, stop) = (at.max(offset), (at + s.len).min(end));
            if start < stop {
                spans.push(Span { leaf: s.leaf, from: s.from + (start - at), len: stop - start });
            }
            at += s.len;
        }
        Data::from_spans(spans)
    }

    /// The object whose buffer holds `self`'s bytes contiguously (`self`, for a leaf or a
    /// single record; else the cached flattened copy), and those bytes.
    fn contiguous(&self) -> (&Data, &[u8]) {
        let records = match &self.shape {
            Shape::Leaf(bytes) => return (self, bytes.as_slice()),
            Shape::Composite(records) => records,
        };
        match records.as_slice() {
            [] => (self, &[]),
            [r] => (self, Span { leaf: &r.leaf, from: r.from, len: r.len }.bytes()),
            _ => {
                let flat = self.map_cache.get_or_init(|| {
                    let mut bytes = Vec::with_capacity(self.size);
                    for s in self.spans() {
                        bytes.extend_from_slice(s.bytes());
                    }
                    ClientRef::new(boxed(self.size, Shape::Leaf(Bytes::Owned(bytes.into()))))
                });
                (flat.get(), flat.get().leaf_bytes())
            }
        }
    }

    /// All the bytes, in one slice (flattening a composite once, as `create_map` does).
    pub fn bytes(&self) -> &[u8] {
        self.contiguous().1
    }

    /// `dispatch_data_create_map`: a data object with the same bytes in one contiguous
    /// buffer (a client reference), and that buffer.
    pub fn map(&self) -> (*const Data, *const u8) {
        if self.size == 0 {
            return (empty(), ptr::null());
        }
        let (object, bytes) = self.contiguous();
        (ClientRef::retain(object).into_raw(), bytes.as_ptr())
    }

    /// A data object for one span, with a client reference: `self` when the span is all
    /// of `self`, else a new one-record object. (A leaf reached through records may have no
    /// client references left, only the records' internal ones, so it is never handed out
    /// itself: a client retaining it would resurrect a released object.)
    fn region(&self, s: &Span<'_>) -> ClientRef<Data> {
        if core::ptr::eq(s.leaf, self) {
            ClientRef::retain(self)
        } else {
            Data::from_spans([Span { leaf: s.leaf, from: s.from, len: s.len }])
        }
    }

    /// `dispatch_data_apply`: `f(region, offset, buffer, size)` for each contiguous
    /// region in order, until it returns `false`. Returns whether every call returned true.
    pub fn apply(&self, mut f: impl FnMut(*const Data, usize, *const u8, usize) -> bool) -> bool {
        let mut at = 0;
        for s in self.spans() {
            let region = self.region(&s);
            if !f(region.as_ptr(), at, s.bytes().as_ptr(), s.len) {
                return false;
            }
            at += s.len;
        }
        true
    }

    /// `dispatch_data_copy_region`: the region holding byte `location` (a new reference),
    /// and where that region starts in `self`.
    pub fn copy_region(&self, location: usize) -> (*const Data, usize) {
        let mut at = 0;
        for s in self.spans() {
            if location < at + s.len {
                return (self.region(&s).into_raw(), at);
            }
            at += s.len;
        }
        (empty(), self.size)
    }
}
