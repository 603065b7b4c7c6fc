//! `private/data_private.h`: `dispatch_data_create_with_transform` and the
//! `DISPATCH_DATA_FORMAT_TYPE_*` objects (codecs in `crate::data::transform`).
//!
//! A format type is a data object the macros take the address of
//! (`DISPATCH_DATA_FORMAT_TYPE_BASE64` is `&_dispatch_data_format_type_base64`). A non-PIE
//! (or copy-relocating PIE) program holds a copy of each, 40 bytes as in the reference, and
//! passes the copy's address; the copy has our bytes, so a type is recognised by its
//! content: a magic word and the format number. Anything else is a client bug.

use super::super::data::{data_arg, dispatch_data_t, out};
use crate::data::transform::{transform, Format};
use crate::data::{self, Data};
use crate::sys;
use core::ffi::c_void;
use std::borrow::Cow;

/// C's `dispatch_data_format_type_t`.
pub type dispatch_data_format_type_t = *const c_void;

/// "dsptfmt\0": first word of every format type object.
const FORMAT_MAGIC: u64 = 0x6473_7074_666d_7400;

/// A format type object: 40 bytes, the reference's size (a copy relocation has that size).
#[repr(C, align(8))]
pub struct FormatType([u64; 5]);

macro_rules! format_types {
    ($($name:ident => $format:ident,)*) => {
        $(
            #[no_mangle]
            pub static $name: FormatType = FormatType([FORMAT_MAGIC, Format::$format as u64, 0, 0, 0]);
        )*
    };
}

format_types! {
    _dispatch_data_format_type_none => None,
    _dispatch_data_format_type_base32 => Base32,
    _dispatch_data_format_type_base32hex => Base32Hex,
    _dispatch_data_format_type_base64 => Base64,
    _dispatch_data_format_type_utf8 => Utf8,
    _dispatch_data_format_type_utf16le => Utf16Le,
    _dispatch_data_format_type_utf16be => Utf16Be,
    _dispatch_data_format_type_utf_any => UtfAny,
}

/// The format a type pointer names (ours or a relocated copy), or a client-bug abort.
///
/// # Safety
/// `t` must be NULL or point at readable memory of at least 16 bytes (a format type).
unsafe fn format_arg(t: dispatch_data_format_type_t, what: &str) -> Format {
    if t.is_null() {
        sys::abort_with_message(&format!(
            "BUG IN CLIENT OF LIBDISPATCH: {what} called with a NULL format type"
        ));
    }
    // SAFETY: per the contract, the first two words are readable; read unaligned in case a
    // client passes something that is not ours (it is then rejected below).
    let (magic, id) =
        unsafe { ((t as *const u64).read_unaligned(), (t as *const u64).add(1).read_unaligned()) };
    match Format::ALL.iter().find(|&&f| magic == FORMAT_MAGIC && f as u64 == id) {
        Some(&f) => f,
        None => sys::abort_with_message(&format!(
            "BUG IN CLIENT OF LIBDISPATCH: {what} called with an invalid format type"
        )),
    }
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_data_create_with_transform(
    data: dispatch_data_t,
    input_type: dispatch_data_format_type_t,
    output_type: dispatch_data_format_type_t,
) -> dispatch_data_t {
    const WHAT: &str = "dispatch_data_create_with_transform";
    // SAFETY: the client passes a data object and two format types.
    let (d, from, to) =
        unsafe { (data_arg(data, WHAT), format_arg(input_type, WHAT), format_arg(output_type, WHAT)) };
    let (mapped, buffer) = d.map();
    let bytes: &[u8] = if d.size() == 0 {
        &[]
    } else {
        // SAFETY: `map` gives one contiguous buffer of `size` bytes, alive while `mapped` is.
        unsafe { core::slice::from_raw_parts(buffer, d.size()) }
    };
    let result: *const Data = match transform(bytes, from, to) {
        None => core::ptr::null(),
        Some(Cow::Borrowed(_)) => {
            // The output is the input: hand out the input object, retained.
            d.header.retain();
            d
        }
        // SAFETY: `v` is readable for its length.
        Some(Cow::Owned(v)) => unsafe { data::create_copy(v.as_ptr(), v.len()) },
    };
    // SAFETY: the reference `map` gave us.
    unsafe { (*mapped).header.release() };
    if result.is_null() {
        core::ptr::null_mut()
    } else {
        out(result)
    }
}
