//! `dispatch_data_t`: immutable byte strings built from shared regions.
//!
//! A *leaf* owns (or borrows, with a destructor) one contiguous buffer. A *composite* is a
//! list of records `(leaf, from, len)`; concatenation and subranges only build new record
//! lists over the same leaves (no byte is copied), and records always point at leaves, so
//! trees stay one level deep whatever the client builds. `create_map` flattens a composite
//! once into a new leaf and caches it. Records and the map cache hold internal references
//! on their leaves; a leaf's destructor runs exactly once, when the last reference of any
//! kind goes away.

pub mod transform;

use crate::blocks::submit::call_and_release;
use crate::object::{Header, Kind, ObjectVTable};
use crate::queue::continuation::WorkFn;
use crate::queue::{self, root, Queue};
use crate::sys;
use core::ffi::c_void;
use core::ptr;
use std::sync::OnceLock;

/// What happens to a leaf's buffer when the leaf goes away.
pub enum Destructor {
    /// Ours (copied, allocated or flattened) or `DISPATCH_DATA_DESTRUCTOR_FREE`: `free`.
    Free,
    /// `DISPATCH_DATA_DESTRUCTOR_MUNMAP`.
    Munmap,
    /// `DISPATCH_DATA_DESTRUCTOR_NONE`: the client keeps the buffer.
    None,
    /// A client block (our copy), run on `queue`.
    Block { block: *mut c_void, queue: *const Queue },
    /// A client function, called with the buffer on `queue` (`dispatch_data_create_f`).
    Function { func: WorkFn, queue: *const Queue },
}

struct Record {
    leaf: *const Data,
    from: usize,
    len: usize,
}

enum Shape {
    Leaf { buffer: *const u8, destructor: Destructor },
    Composite { records: Vec<Record> },
}

#[repr(C)]
pub struct Data {
    pub header: Header,
    size: usize,
    shape: Shape,
    /// A composite's flattened copy (`create_map`), made once.
    map_cache: OnceLock<usize>,
}

// SAFETY: `#[repr(C)]` with its `Header` first; created with the vtable that frees it.
unsafe impl crate::object::Object for Data {
    fn header(&self) -> &crate::object::Header {
        &self.header
    }
}

// SAFETY: immutable after creation except the `OnceLock`; buffers are never written after
// the data was handed out (`create_alloc`'s buffer is the client's to fill first).
unsafe impl Sync for Data {}
// SAFETY: as above.
unsafe impl Send for Data {}

static DATA_VTABLE: ObjectVTable = ObjectVTable { xref_dispose, dispose, async_f: None };

/// `dispatch_data_empty`.
pub static EMPTY: Data = Data {
    header: Header::new_immortal(Kind::Data, &DATA_VTABLE),
    size: 0,
    shape: Shape::Composite { records: Vec::new() },
    map_cache: OnceLock::new(),
};

fn boxed(size: usize, shape: Shape) -> *const Data {
    Box::into_raw(Box::new(Data {
        header: Header::new(Kind::Data, &DATA_VTABLE),
        size,
        shape,
        map_cache: OnceLock::new(),
    }))
}

/// The empty data, with a client reference (a no-op on the immortal object).
pub fn empty() -> *const Data {
    &EMPTY
}

/// A leaf over `buffer` (taking its `destructor`), or the empty data for size 0 (the
/// destructor then runs at once, as the buffer is not needed).
pub fn create(buffer: *const u8, size: usize, destructor: Destructor) -> *const Data {
    if size == 0 {
        run_destructor(buffer, 0, destructor);
        return empty();
    }
    boxed(size, Shape::Leaf { buffer, destructor })
}

/// A leaf over a copy of `size` bytes at `buffer` (`DISPATCH_DATA_DESTRUCTOR_DEFAULT`).
///
/// # Safety
/// `buffer` must be readable for `size` bytes.
pub unsafe fn create_copy(buffer: *const u8, size: usize) -> *const Data {
    if size == 0 {
        return empty();
    }
    let (copy, data) = create_alloc(size);
    // SAFETY: `copy` has `size` bytes; `buffer` is readable for `size` (contract).
    unsafe { ptr::copy_nonoverlapping(buffer, copy, size) };
    data
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
    (buffer, create(buffer, size, Destructor::Free))
}

impl Data {
    pub fn size(&self) -> usize {
        self.size
    }

    /// The data as records over leaves.
    fn records(&self) -> Vec<Record> {
        match &self.shape {
            Shape::Leaf { .. } => vec![Record { leaf: self, from: 0, len: self.size }],
            Shape::Composite { records } => {
                records.iter().map(|r| Record { leaf: r.leaf, from: r.from, len: r.len }).collect()
            }
        }
    }

    fn leaf_buffer(&self) -> *const u8 {
        match &self.shape {
            Shape::Leaf { buffer, .. } => *buffer,
            Shape::Composite { .. } => ptr::null(),
        }
    }

    /// A data object over `records` (which must each be non-empty), taking references.
    fn from_records(records: Vec<Record>) -> *const Data {
        if records.is_empty() {
            return empty();
        }
        for r in &records {
            // SAFETY: records point at live leaves (the caller holds the data they came from).
            unsafe { &*r.leaf }.header.retain_internal();
        }
        let size = records.iter().map(|r| r.len).sum();
        boxed(size, Shape::Composite { records })
    }

    /// The client holds `self` and gets another client reference on it.
    fn retained(&self) -> *const Data {
        self.header.retain();
        self
    }

    /// `dispatch_data_create_concat`.
    pub fn concat(&self, other: &Data) -> *const Data {
        if other.size == 0 {
            return self.retained();
        }
        if self.size == 0 {
            return other.retained();
        }
        let mut records = self.records();
        records.extend(other.records());
        Data::from_records(records)
    }

    /// `dispatch_data_create_subrange` (clamped to the data; empty past its end).
    pub fn subrange(&self, offset: usize, length: usize) -> *const Data {
        if offset >= self.size || length == 0 {
            return empty();
        }
        let end = offset.saturating_add(length).min(self.size);
        if offset == 0 && end == self.size {
            return self.retained();
        }
        let mut records = Vec::new();
        let mut at = 0;
        for r in self.records() {
            let (start, stop) = (at.max(offset), (at + r.len).min(end));
            if start < stop {
                records.push(Record { leaf: r.leaf, from: r.from + (start - at), len: stop - start });
            }
            at += r.len;
        }
        Data::from_records(records)
    }

    /// `dispatch_data_create_map`: a data object with the same bytes in one contiguous
    /// buffer, and that buffer.
    pub fn map(&self) -> (*const Data, *const u8) {
        let records = self.records();
        match records.as_slice() {
            [] => (empty(), ptr::null()),
            // Already contiguous: the same object, pointing into its one leaf.
            // SAFETY: the record's leaf is alive while `self` is.
            [r] => (self.retained(), unsafe { (*r.leaf).leaf_buffer().add(r.from) }),
            _ => {
                let leaf = *self.map_cache.get_or_init(|| {
                    let (buffer, leaf) = create_alloc(self.size);
                    let mut at = 0;
                    for r in &records {
                        // SAFETY: each record lies inside its live leaf; `buffer` has
                        // `self.size` bytes, the sum of the records.
                        unsafe {
                            ptr::copy_nonoverlapping(
                                (*r.leaf).leaf_buffer().add(r.from),
                                buffer.add(at),
                                r.len,
                            )
                        };
                        at += r.len;
                    }
                    leaf as usize
                }) as *const Data;
                // SAFETY: the cache holds a reference until `self` is disposed.
                let leaf = unsafe { &*leaf };
                (leaf.retained(), leaf.leaf_buffer())
            }
        }
    }

    /// A data object for one record, with a client reference: `self` when the record is
    /// all of `self`, else a new one-record object. (A leaf reached through records may
    /// have no client references left, only the records' internal ones, so it is never
    /// handed out itself: a client retaining it would resurrect a released object.)
    fn region(&self, r: &Record) -> *const Data {
        if core::ptr::eq(r.leaf, self) {
            self.retained()
        } else {
            Data::from_records(vec![Record { leaf: r.leaf, from: r.from, len: r.len }])
        }
    }

    /// `dispatch_data_apply`: `f(region, offset, buffer, size)` for each contiguous
    /// region in order, until it returns `false`. Returns whether every call returned true.
    pub fn apply(&self, mut f: impl FnMut(*const Data, usize, *const u8, usize) -> bool) -> bool {
        let mut at = 0;
        for r in self.records() {
            // SAFETY: the record's leaf is alive while `self` is; the record lies inside it.
            let buffer = unsafe { (*r.leaf).leaf_buffer().add(r.from) };
            let region = self.region(&r);
            let go_on = f(region, at, buffer, r.len);
            // SAFETY: the reference `region` gave us.
            unsafe { (*region).header.release() };
            if !go_on {
                return false;
            }
            at += r.len;
        }
        true
    }

    /// `dispatch_data_copy_region`: the region holding byte `location` (a new reference),
    /// and where that region starts in `self`.
    pub fn copy_region(&self, location: usize) -> (*const Data, usize) {
        let mut at = 0;
        for r in self.records() {
            if location < at + r.len {
                return (self.region(&r), at);
            }
            at += r.len;
        }
        (empty(), self.size)
    }
}

fn run_destructor(buffer: *const u8, size: usize, destructor: Destructor) {
    match destructor {
        // SAFETY: the buffer came from malloc (ours, or the client's for FREE).
        Destructor::Free => unsafe { sys::c_free(buffer as *mut c_void) },
        Destructor::Munmap => sys::unmap(buffer as *mut c_void, size),
        Destructor::None => {}
        Destructor::Block { block, queue } => {
            // SAFETY: a retained queue or NULL; `call_and_release` consumes our block copy.
            let q = unsafe { queue.as_ref() }.unwrap_or(root::default_queue());
            queue::async_f(q, block, call_and_release);
            // SAFETY: the reference taken at creation.
            unsafe { q.header.release_internal() };
        }
        Destructor::Function { func, queue } => {
            // SAFETY: as above.
            let q = unsafe { queue.as_ref() }.unwrap_or(root::default_queue());
            queue::async_f(q, buffer as *mut c_void, func);
            // SAFETY: as above.
            unsafe { q.header.release_internal() };
        }
    }
}

unsafe fn xref_dispose(_h: *const Header) {}

unsafe fn dispose(h: *const Header) -> *const Header {
    // SAFETY: installed only on data objects; no reference remains.
    let d = unsafe { Box::from_raw(h as *mut Data) };
    let Data { size, shape, map_cache, .. } = *d;
    if let Some(&leaf) = map_cache.get() {
        // SAFETY: the cache's reference.
        unsafe { (*(leaf as *const Data)).header.release() };
    }
    match shape {
        Shape::Leaf { buffer, destructor } => run_destructor(buffer, size, destructor),
        Shape::Composite { records } => {
            for r in records {
                // SAFETY: each record holds an internal reference on its leaf.
                unsafe { (*r.leaf).header.release_internal() };
            }
        }
    }
    &root::default_queue().header // finalizers of data objects run on the default queue (immortal)
}
