//! `dispatch_data_create_with_transform`: the byte-level codecs, on flat buffers.
//!
//! Formats come in two families, and a transform stays inside one (as in the reference's
//! `transform.c`, whose per-type input/output masks say the same thing):
//!
//! - *bytes*: `none` (raw bytes), `base32`, `base32hex`, `base64` (RFC 4648 alphabets,
//!   with padding). A transform decodes the input to raw bytes and encodes them again, so
//!   `base64 → base32` re-encodes and `base64 → base64` validates and normalises.
//! - *text*: `utf8`, `utf16le`, `utf16be`, and `utf_any` (input only: the byte-order mark
//!   decides: `EF BB BF` UTF-8, `FF FE` UTF-16LE, `FE FF` UTF-16BE, none UTF-8). A
//!   transform decodes the input to Unicode scalar values and encodes them again.
//!
//! Choices, following the reference where it is well defined:
//! - UTF-16 output starts with a byte-order mark (the reference writes one); UTF-8 output
//!   has none. A UTF-16 input's leading BOM of its own byte order is dropped, one of the
//!   other byte order makes the input invalid (the reference rejects it too). A UTF-8 BOM
//!   is content for an explicit UTF-8 input (as in the reference) and consumed by `utf_any`
//!   detection (which the reference does not recognise).
//! - Invalid input gives `None` (the C function returns NULL): a character outside the
//!   alphabet, a length that is not a whole number of padded groups, padding anywhere but
//!   at the end or of an impossible length, malformed UTF-8 (overlong forms, encoded
//!   surrogates, truncated sequences: Rust's `str::from_utf8` rules), unpaired UTF-16
//!   surrogates, an odd UTF-16 length. Decoders skip ASCII whitespace (space, tab, CR,
//!   LF), which RFC 4648 §3.3 allows and the reference does (except CR).
//! - Output is never line-wrapped (RFC 4648 §3.1).

use std::borrow::Cow;

/// The eight `DISPATCH_DATA_FORMAT_TYPE_*` formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum Format {
    None = 1,
    Base32 = 2,
    Base32Hex = 3,
    Base64 = 4,
    Utf8 = 5,
    Utf16Le = 6,
    Utf16Be = 7,
    UtfAny = 8,
}

impl Format {
    pub const ALL: [Format; 8] = [
        Format::None,
        Format::Base32,
        Format::Base32Hex,
        Format::Base64,
        Format::Utf8,
        Format::Utf16Le,
        Format::Utf16Be,
        Format::UtfAny,
    ];

    fn is_text(self) -> bool {
        matches!(self, Format::Utf8 | Format::Utf16Le | Format::Utf16Be | Format::UtfAny)
    }
}

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const BASE32HEX: &[u8; 32] = b"0123456789ABCDEFGHIJKLMNOPQRSTUV";
const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Transforms `input` from `from` to `to`. `Cow::Borrowed(input)` means the output is the
/// input unchanged (the caller may hand out the input object itself); `None` means the
/// input is not valid for `from`, or the pair of formats is not a valid transform.
pub fn transform(input: &[u8], from: Format, to: Format) -> Option<Cow<'_, [u8]>> {
    if to == Format::UtfAny || from.is_text() != to.is_text() {
        return None;
    }
    if input.is_empty() {
        return Some(Cow::Borrowed(input));
    }
    if from.is_text() {
        let (from, body) = detect(input, from);
        let text = decode_text(body, from)?;
        Some(match to {
            // Valid UTF-8 read as UTF-8 and written as UTF-8 is the input itself.
            Format::Utf8 if from == Format::Utf8 && body.len() == input.len() => Cow::Borrowed(input),
            Format::Utf8 => Cow::Owned(text.into_bytes()),
            Format::Utf16Le => Cow::Owned(encode_utf16(&text, u16::to_le_bytes)),
            _ => Cow::Owned(encode_utf16(&text, u16::to_be_bytes)),
        })
    } else {
        let raw = match from {
            Format::None => Cow::Borrowed(input),
            Format::Base64 => Cow::Owned(decode_base64(input)?),
            Format::Base32 => Cow::Owned(decode_base32(input, BASE32)?),
            _ => Cow::Owned(decode_base32(input, BASE32HEX)?),
        };
        Some(match to {
            Format::None => raw,
            Format::Base64 => Cow::Owned(encode_base64(&raw)),
            Format::Base32 => Cow::Owned(encode_base32(&raw, BASE32)),
            _ => Cow::Owned(encode_base32(&raw, BASE32HEX)),
        })
    }
}

/// Resolves `utf_any` by the byte-order mark: the concrete format and the bytes to decode
/// (a UTF-8 BOM is consumed here; a UTF-16 one is left for the UTF-16 decoder to drop).
fn detect(input: &[u8], from: Format) -> (Format, &[u8]) {
    if from != Format::UtfAny {
        return (from, input);
    }
    match input {
        [0xef, 0xbb, 0xbf, rest @ ..] => (Format::Utf8, rest),
        [0xff, 0xfe, ..] => (Format::Utf16Le, input),
        [0xfe, 0xff, ..] => (Format::Utf16Be, input),
        _ => (Format::Utf8, input),
    }
}

fn decode_text(input: &[u8], from: Format) -> Option<String> {
    match from {
        Format::Utf8 => core::str::from_utf8(input).ok().map(str::to_owned),
        Format::Utf16Le => decode_utf16(input, u16::from_le_bytes),
        _ => decode_utf16(input, u16::from_be_bytes),
    }
}

fn decode_utf16(input: &[u8], unit: fn([u8; 2]) -> u16) -> Option<String> {
    if !input.len().is_multiple_of(2) {
        return None;
    }
    let mut units = input.chunks_exact(2).map(|c| unit([c[0], c[1]])).peekable();
    match units.peek() {
        Some(0xfeff) => {
            units.next();
        }
        Some(0xfffe) => return None, // a BOM of the other byte order: not this format
        _ => {}
    }
    char::decode_utf16(units).collect::<Result<String, _>>().ok()
}

fn encode_utf16(text: &str, bytes: fn(u16) -> [u8; 2]) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + 2 * text.len());
    for u in core::iter::once(0xfeff).chain(text.encode_utf16()) {
        out.extend_from_slice(&bytes(u));
    }
    out
}

/// The input's symbols without the whitespace decoders skip.
fn symbols(input: &[u8]) -> impl Iterator<Item = u8> + '_ {
    input.iter().copied().filter(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
}

/// Decodes groups of `group` symbols of `bits` bits each into whole bytes. `pads_ok` says
/// which numbers of trailing `=` a final group may have.
fn decode_groups(
    input: &[u8],
    alphabet: &[u8],
    bits: u32,
    group: usize,
    pads_ok: &[usize],
) -> Option<Vec<u8>> {
    let mut value = [0xffu8; 256];
    for (i, &c) in alphabet.iter().enumerate() {
        value[c as usize] = i as u8;
    }
    let syms: Vec<u8> = symbols(input).collect();
    if !syms.len().is_multiple_of(group) {
        return None;
    }
    let group_bytes = bits as usize * group / 8;
    let mut out = Vec::with_capacity(syms.len() / group * group_bytes);
    let groups = syms.len() / group;
    for (g, chunk) in syms.chunks_exact(group).enumerate() {
        let pads = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        if pads > 0 && (g + 1 != groups || !pads_ok.contains(&pads)) {
            return None;
        }
        let mut acc: u64 = 0;
        for &c in &chunk[..group - pads] {
            let v = value[c as usize];
            if v == 0xff {
                return None; // outside the alphabet, or '=' before the end of the group
            }
            acc = (acc << bits) | u64::from(v);
        }
        acc <<= bits * pads as u32;
        let keep = (group - pads) * bits as usize / 8;
        let bytes = acc.to_be_bytes();
        out.extend_from_slice(&bytes[8 - group_bytes..8 - group_bytes + keep]);
    }
    Some(out)
}

/// Encodes `input` in groups: each `group_bytes` input bytes become `group` symbols;
/// the final group is padded with `=`.
fn encode_groups(input: &[u8], alphabet: &[u8], bits: u32, group: usize) -> Vec<u8> {
    let group_bytes = bits as usize * group / 8;
    let mut out = Vec::with_capacity(input.len().div_ceil(group_bytes) * group);
    let mask = (1u64 << bits) - 1;
    for chunk in input.chunks(group_bytes) {
        let mut acc: u64 = 0;
        for i in 0..group_bytes {
            acc = (acc << 8) | u64::from(chunk.get(i).copied().unwrap_or(0));
        }
        let used = (chunk.len() * 8).div_ceil(bits as usize);
        for i in 0..group {
            if i < used {
                let shift = bits as usize * (group - 1 - i);
                out.push(alphabet[((acc >> shift) & mask) as usize]);
            } else {
                out.push(b'=');
            }
        }
    }
    out
}

fn decode_base64(input: &[u8]) -> Option<Vec<u8>> {
    // A final group of 2 or 3 symbols carries 1 or 2 bytes.
    decode_groups(input, BASE64, 6, 4, &[1, 2])
}

fn encode_base64(input: &[u8]) -> Vec<u8> {
    encode_groups(input, BASE64, 6, 4)
}

fn decode_base32(input: &[u8], alphabet: &[u8]) -> Option<Vec<u8>> {
    // A final group of 2, 4, 5 or 7 symbols carries 1, 2, 3 or 4 bytes.
    decode_groups(input, alphabet, 5, 8, &[1, 3, 4, 6])
}

fn encode_base32(input: &[u8], alphabet: &[u8]) -> Vec<u8> {
    encode_groups(input, alphabet, 5, 8)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC: [&str; 7] = ["", "f", "fo", "foo", "foob", "fooba", "foobar"];

    fn enc(input: &str, to: Format) -> String {
        String::from_utf8(transform(input.as_bytes(), Format::None, to).unwrap().into_owned()).unwrap()
    }

    fn dec(input: &str, from: Format) -> Option<Vec<u8>> {
        transform(input.as_bytes(), from, Format::None).map(Cow::into_owned)
    }

    #[test]
    fn rfc4648_section_10_vectors() {
        let b64 = ["", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"];
        let b32 = ["", "MY======", "MZXQ====", "MZXW6===", "MZXW6YQ=", "MZXW6YTB", "MZXW6YTBOI======"];
        let b32h = ["", "CO======", "CPNG====", "CPNMU===", "CPNMUOG=", "CPNMUOJ1", "CPNMUOJ1E8======"];
        for i in 0..RFC.len() {
            assert_eq!(enc(RFC[i], Format::Base64), b64[i]);
            assert_eq!(enc(RFC[i], Format::Base32), b32[i]);
            assert_eq!(enc(RFC[i], Format::Base32Hex), b32h[i]);
            assert_eq!(dec(b64[i], Format::Base64).unwrap(), RFC[i].as_bytes());
            assert_eq!(dec(b32[i], Format::Base32).unwrap(), RFC[i].as_bytes());
            assert_eq!(dec(b32h[i], Format::Base32Hex).unwrap(), RFC[i].as_bytes());
        }
    }

    #[test]
    fn invalid_encodings_are_rejected() {
        for bad in ["Zg=", "Zg=a", "Z===", "Zm9v!A==", "=Zm9", "Zg==Zg==", "Zm9vY"] {
            assert_eq!(dec(bad, Format::Base64), None, "{bad}");
        }
        for bad in ["MY=====", "M=======", "MZX=====", "MZXW6Y==", "MY======MY======", "mzxw6ytb"] {
            assert_eq!(dec(bad, Format::Base32), None, "{bad}");
        }
        assert_eq!(dec("CPNMUOJW", Format::Base32Hex), None); // W is not in base32hex
        assert_eq!(dec("Zm9v\nYmFy", Format::Base64).unwrap(), b"foobar");
    }

    #[test]
    fn text_conversions() {
        let s = "a\u{e9}\u{20ac}\u{1f600}";
        let le = transform(s.as_bytes(), Format::Utf8, Format::Utf16Le).unwrap().into_owned();
        let mut want = vec![0xff, 0xfe];
        for u in s.encode_utf16() {
            want.extend_from_slice(&u.to_le_bytes());
        }
        assert_eq!(le, want);
        let be = transform(&le, Format::UtfAny, Format::Utf16Be).unwrap().into_owned();
        assert_eq!(&be[..2], &[0xfe, 0xff]);
        assert_eq!(transform(&be, Format::UtfAny, Format::Utf8).unwrap().as_ref(), s.as_bytes());
        assert_eq!(transform(&le[2..], Format::Utf16Le, Format::Utf8).unwrap().as_ref(), s.as_bytes());
        // Unpaired surrogates, wrong-order BOM, odd length, malformed UTF-8.
        assert!(transform(&[0x00, 0xd8, 0x41, 0x00], Format::Utf16Le, Format::Utf8).is_none());
        assert!(transform(&[0xfe, 0xff, 0x41, 0x00], Format::Utf16Le, Format::Utf8).is_none());
        assert!(transform(&[0x41, 0x00, 0x42], Format::Utf16Le, Format::Utf8).is_none());
        assert!(transform(&[0xc0, 0x80], Format::Utf8, Format::Utf16Le).is_none());
        assert!(transform(&[0xed, 0xa0, 0x80], Format::Utf8, Format::Utf16Be).is_none());
        // Families do not mix; utf_any is input only.
        assert!(transform(b"abc", Format::Utf8, Format::Base64).is_none());
        assert!(transform(b"abc", Format::None, Format::Utf8).is_none());
        assert!(transform(b"abc", Format::Utf8, Format::UtfAny).is_none());
    }
}
