//! [`Data`]: an immutable `dispatch_data_t` as a byte-slice view.
//!
//! The handle owns one client reference. [`Data::as_slice`] maps the object once
//! (`dispatch_data_create_map`: contiguous bytes, flattened if the data is a
//! concatenation) and keeps the mapped object in the handle, so the slice lives as long
//! as `&self`; later calls reuse it.

use crate::ffi::data::{
    dispatch_data_create_concat, dispatch_data_create_f, dispatch_data_create_map,
    dispatch_data_create_subrange, dispatch_data_get_size, dispatch_data_t,
};
use crate::ffi::object::{dispatch_release, dispatch_retain};
use core::ffi::c_void;
use core::ops::Range;
use core::ptr::NonNull;
use std::sync::OnceLock;

/// Immutable bytes in dispatch's representation: cheap to clone (a reference count),
/// concatenated and cut without copying.
///
/// ```
/// use dispatch::Data;
///
/// let hello = Data::from(&b"hello, "[..]);
/// let world = Data::from(b"world".to_vec());
/// let both = hello.concat(&world);
/// assert_eq!(both.len(), 12);
/// assert_eq!(both.as_slice(), b"hello, world");
/// assert_eq!(both.subrange(7..12).as_slice(), b"world");
/// ```
pub struct Data {
    raw: NonNull<c_void>,
    /// The mapped object (one client reference) and its contiguous bytes.
    map: OnceLock<Mapped>,
}

struct Mapped {
    object: NonNull<c_void>,
    bytes: *const u8,
}

// SAFETY: a dispatch data object is immutable and thread-safe (its reference counts are
// atomic; `map` flattens under the runtime's own synchronisation); `Mapped` points into
// such an object's immutable bytes.
unsafe impl Send for Data {}
// SAFETY: as above; `&Data` only reads, and `OnceLock` publishes `Mapped` safely.
unsafe impl Sync for Data {}

impl Data {
    fn from_owned(raw: dispatch_data_t, what: &str) -> Data {
        let raw = NonNull::new(raw).unwrap_or_else(|| panic!("{what} returned NULL"));
        Data { raw, map: OnceLock::new() }
    }

    fn as_raw(&self) -> dispatch_data_t {
        self.raw.as_ptr()
    }

    /// No bytes.
    ///
    /// ```
    /// assert!(dispatch::Data::empty().is_empty());
    /// ```
    pub fn empty() -> Data {
        Data::from(&[][..])
    }

    /// The number of bytes.
    ///
    /// ```
    /// assert_eq!(dispatch::Data::from(&[1u8, 2, 3][..]).len(), 3);
    /// ```
    pub fn len(&self) -> usize {
        // SAFETY: a live data object.
        unsafe { dispatch_data_get_size(self.as_raw()) }
    }

    /// Whether there are no bytes.
    ///
    /// ```
    /// assert!(!dispatch::Data::from(vec![0u8]).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes, contiguous (mapped once, then cached in the handle).
    ///
    /// ```
    /// use dispatch::Data;
    ///
    /// let d = Data::from(&b"ab"[..]).concat(&Data::from(&b"cd"[..]));
    /// assert_eq!(d.as_slice(), b"abcd");
    /// ```
    pub fn as_slice(&self) -> &[u8] {
        let len = self.len();
        if len == 0 {
            return &[];
        }
        let mapped = self.map.get_or_init(|| {
            let mut bytes: *const c_void = core::ptr::null();
            // SAFETY: a live data object; `bytes` is writable and the size is not wanted.
            let object =
                unsafe { dispatch_data_create_map(self.as_raw(), &mut bytes, core::ptr::null_mut()) };
            let object = NonNull::new(object).expect("dispatch_data_create_map returned NULL");
            Mapped { object, bytes: bytes as *const u8 }
        });
        // SAFETY: the mapped object holds `len` contiguous immutable bytes at `bytes` while
        // it lives; `self` owns a reference to it until dropped, which `&self` prevents.
        unsafe { core::slice::from_raw_parts(mapped.bytes, len) }
    }

    /// A copy of the bytes.
    ///
    /// ```
    /// assert_eq!(dispatch::Data::from(&b"xyz"[..]).to_vec(), b"xyz");
    /// ```
    pub fn to_vec(&self) -> Vec<u8> {
        self.as_slice().to_vec()
    }

    /// `self` followed by `other`, sharing both buffers.
    ///
    /// ```
    /// use dispatch::Data;
    ///
    /// let d = Data::from(&b"1"[..]).concat(&Data::from(&b"2"[..]));
    /// assert_eq!(d.as_slice(), b"12");
    /// ```
    pub fn concat(&self, other: &Data) -> Data {
        // SAFETY: two live data objects; the result is a new reference we own.
        let raw = unsafe { dispatch_data_create_concat(self.as_raw(), other.as_raw()) };
        Data::from_owned(raw, "dispatch_data_create_concat")
    }

    /// The bytes in `range`, sharing the buffer.
    ///
    /// # Panics
    /// If the range is decreasing or ends past [`len`](Data::len).
    ///
    /// ```
    /// use dispatch::Data;
    ///
    /// assert_eq!(Data::from(&b"abcdef"[..]).subrange(1..4).as_slice(), b"bcd");
    /// ```
    pub fn subrange(&self, range: Range<usize>) -> Data {
        let len = self.len();
        assert!(
            range.start <= range.end && range.end <= len,
            "Data::subrange: range {range:?} out of bounds for {len} bytes"
        );
        // SAFETY: a live data object and an in-bounds range; the result is ours.
        let raw =
            unsafe { dispatch_data_create_subrange(self.as_raw(), range.start, range.end - range.start) };
        Data::from_owned(raw, "dispatch_data_create_subrange")
    }
}

impl From<&[u8]> for Data {
    /// Copies the bytes (`DISPATCH_DATA_DESTRUCTOR_DEFAULT`).
    fn from(bytes: &[u8]) -> Data {
        // SAFETY: `bytes` is readable for its length during the call, which copies it (a
        // NULL destructor is DISPATCH_DATA_DESTRUCTOR_DEFAULT).
        let raw = unsafe {
            dispatch_data_create_f(bytes.as_ptr() as *const c_void, bytes.len(), core::ptr::null_mut(), None)
        };
        Data::from_owned(raw, "dispatch_data_create_f")
    }
}

impl From<Vec<u8>> for Data {
    /// Copies the bytes (a destructor gets only the buffer pointer, not the `Vec`'s
    /// capacity it would need to free it).
    fn from(bytes: Vec<u8>) -> Data {
        Data::from(bytes.as_slice())
    }
}

impl AsRef<[u8]> for Data {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl Default for Data {
    fn default() -> Data {
        Data::empty()
    }
}

impl PartialEq for Data {
    fn eq(&self, other: &Data) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for Data {}

impl Clone for Data {
    fn clone(&self) -> Data {
        // SAFETY: a live data object; the new handle owns the reference taken here.
        unsafe { dispatch_retain(self.as_raw()) };
        Data { raw: self.raw, map: OnceLock::new() }
    }
}

impl Drop for Data {
    fn drop(&mut self) {
        // SAFETY: the handle owns one reference on the data and, once mapped, one on the
        // mapped object; no slice outlives `&self`.
        unsafe {
            if let Some(m) = self.map.take() {
                dispatch_release(m.object.as_ptr());
            }
            dispatch_release(self.as_raw());
        }
    }
}

impl core::fmt::Debug for Data {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Data").field("len", &self.len()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_concat_and_subrange_keep_the_bytes() {
        let a = Data::from(&b"abc"[..]);
        let b = Data::from(b"defgh".to_vec());
        let ab = a.concat(&b);
        assert_eq!(ab.len(), 8);
        assert_eq!(ab.as_slice(), b"abcdefgh");
        // The mapping is cached: the same bytes twice.
        assert_eq!(ab.as_slice().as_ptr(), ab.as_slice().as_ptr());
        assert_eq!(ab.subrange(2..6).as_slice(), b"cdef");
        assert_eq!(ab.subrange(8..8).len(), 0);
        assert_eq!(ab.clone(), ab);
        assert_ne!(a, b);
        // Dropping the parts leaves the concatenation intact.
        drop((a, b));
        assert_eq!(ab.to_vec(), b"abcdefgh");
        assert_eq!(Data::empty().as_slice(), b"");
        assert_eq!(Data::default(), Data::from(Vec::new()));
    }

    #[test]
    fn data_moves_between_threads() {
        let d = Data::from(vec![7u8; 4096]);
        let sum = std::thread::spawn(move || d.as_slice().iter().map(|&x| x as usize).sum::<usize>())
            .join()
            .unwrap();
        assert_eq!(sum, 7 * 4096);
    }

    #[test]
    #[should_panic(expected = "out of bounds")]
    fn subrange_past_the_end_panics() {
        Data::from(&b"ab"[..]).subrange(1..3);
    }
}
