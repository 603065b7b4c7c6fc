/*
 * test_data_transform.c: dispatch_data_create_with_transform and the
 * DISPATCH_DATA_FORMAT_TYPE_* objects (private.h), through gcc (no blocks).
 *
 *   copy_relocation   the format types this program uses are its own copies (a copy
 *                     relocation: the address it passes differs from the library's own
 *                     definition, found with dlsym on the library handle), 40 bytes each
 *                     in the library; every other check below passes those copies.
 *   rfc4648           the RFC 4648 section 10 vectors ("", "f", ... "foobar") encode from
 *                     NONE to BASE64, BASE32 and BASE32HEX byte-exactly and decode back to
 *                     NONE; BASE64 -> BASE32 and BASE32HEX -> BASE64 re-encode directly.
 *                     (The reference Linux library crashes on a plain base64 encode.)
 *   regions           input made of one data object per byte (a composite of 1-byte
 *                     regions) encodes and decodes the same as a flat buffer.
 *   whitespace        decoders skip spaces, tabs, CR and LF ("Zm9v\nYmFy" -> "foobar").
 *   random_roundtrip  200 random buffers of 0..299 bytes round-trip through each of the
 *                     three encodings; encoded sizes are 4*ceil(n/3) and 8*ceil(n/5).
 *   identity          NONE -> NONE and valid UTF8 -> UTF8 return the input's bytes (the
 *                     same object, retained: releasing the result leaves the input usable).
 *   utf               a string with 1-, 2-, 3- and 4-byte UTF-8 characters (BMP and
 *                     U+1F600, a surrogate pair in UTF-16): UTF8 -> UTF16LE is FF FE then
 *                     the little-endian units, -> UTF16BE is FE FF then big-endian units;
 *                     UTF16LE/BE (with or without BOM) -> UTF8 gives the string back;
 *                     UTF16LE -> UTF16BE converts; a composite of 1-byte regions converts.
 *   utf_any           detection by BOM: FF FE (UTF-16LE), FE FF (UTF-16BE), EF BB BF
 *                     (UTF-8, the BOM consumed) and none (UTF-8) all give the string as
 *                     UTF-8; UTF_ANY -> UTF16BE writes one BOM; a 1-byte input is UTF-8.
 *   invalid           NULL for: a base64 character outside the alphabet, bad padding
 *                     (short group, '=' inside, data after the padding, 3 pads), base32
 *                     lowercase, a base32hex letter past V, bad base32 padding; unpaired
 *                     high or low surrogates, a reversed BOM, an odd UTF-16 length;
 *                     overlong, surrogate-encoding, truncated and stray-continuation UTF-8;
 *                     a transform across families (BASE64 -> UTF8, UTF8 -> NONE) and
 *                     UTF_ANY as output.
 *   empty             an empty input gives an empty result for every valid pair.
 *   misuse            an invalid format type pointer aborts with "BUG IN CLIENT OF
 *                     LIBDISPATCH: ... invalid format type"; NULL with "NULL format type".
 */
/* Linked as a non-PIE executable, so the format types are certainly copy-relocated
 * (gcc's default PIE code copy-relocates them too; clang's -fPIC code would not):
 * capi-libs-before: -no-pie
 */
#include "check.h"

#include <dispatch/private.h>
#include <dlfcn.h>

static dispatch_data_t mk(const void *p, size_t n)
{
    return dispatch_data_create_f(p, n, NULL, NULL); /* DEFAULT: copied */
}

static dispatch_data_t mks(const char *s)
{
    return mk(s, strlen(s));
}

/* A composite of one region per byte. */
static dispatch_data_t mk_regions(const void *p, size_t n)
{
    dispatch_data_t d = dispatch_data_empty;
    for (size_t i = 0; i < n; i++) {
        dispatch_data_t one = mk((const uint8_t *)p + i, 1);
        dispatch_data_t c = dispatch_data_create_concat(d, one);
        dispatch_release(one);
        dispatch_release(d);
        d = c;
    }
    return d;
}

/* Whether d holds exactly the n bytes at p. */
static bool equals(dispatch_data_t d, const void *p, size_t n)
{
    const void *buf = NULL;
    size_t size = 0;
    dispatch_data_t m = dispatch_data_create_map(d, &buf, &size);
    bool eq = size == n && (n == 0 || memcmp(buf, p, n) == 0);
    dispatch_release(m);
    return eq;
}

static dispatch_data_t tf(dispatch_data_t d, dispatch_data_format_type_t in, dispatch_data_format_type_t out)
{
    return dispatch_data_create_with_transform(d, in, out);
}

/* Transform of a flat buffer; checks the result equals (want, wn); releases everything. */
static void expect(const void *in, size_t n, dispatch_data_format_type_t from, dispatch_data_format_type_t to,
                   const void *want, size_t wn, const char *what)
{
    dispatch_data_t d = mk(in, n);
    dispatch_data_t r = tf(d, from, to);
    CHECK(r != NULL, "%s: NULL result", what);
    CHECK(equals(r, want, wn), "%s: wrong bytes (size %zu, want %zu)", what, dispatch_data_get_size(r), wn);
    dispatch_release(r);
    dispatch_release(d);
}

static void expect_null(const void *in, size_t n, dispatch_data_format_type_t from, dispatch_data_format_type_t to,
                        const char *what)
{
    dispatch_data_t d = mk(in, n);
    dispatch_data_t r = tf(d, from, to);
    CHECK(r == NULL, "%s: expected NULL, got %zu bytes", what, dispatch_data_get_size(r));
    dispatch_release(d);
}

static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
static const char *const b64[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
static const char *const b32[] = {"", "MY======", "MZXQ====", "MZXW6===", "MZXW6YQ=", "MZXW6YTB", "MZXW6YTBOI======"};
static const char *const b32h[] = {"", "CO======", "CPNG====", "CPNMU===", "CPNMUOG=", "CPNMUOJ1", "CPNMUOJ1E8======"};

static void copy_relocation(void)
{
    test_start("copy_relocation", 10);
    void *lib = dlopen("libdispatch.so", RTLD_NOW | RTLD_NOLOAD);
    CHECK(lib != NULL, "libdispatch.so is loaded: %s", dlerror());
    const void *theirs = dlsym(lib, "_dispatch_data_format_type_base64");
    CHECK(theirs != NULL, "the library defines _dispatch_data_format_type_base64");
    CHECK((const void *)DISPATCH_DATA_FORMAT_TYPE_BASE64 != theirs,
          "this program passes its own copy (copy relocation), not the library's object");
    const void *utf8 = dlsym(lib, "_dispatch_data_format_type_utf8");
    CHECK((const void *)DISPATCH_DATA_FORMAT_TYPE_UTF8 != utf8, "utf8 copied too");
    dlclose(lib);
    OK("copy_relocation");
}

static void rfc4648(void)
{
    test_start("rfc4648", 10);
    for (size_t i = 0; i < 7; i++) {
        const char *p = plain[i];
        expect(p, strlen(p), DISPATCH_DATA_FORMAT_TYPE_NONE, DISPATCH_DATA_FORMAT_TYPE_BASE64, b64[i], strlen(b64[i]), b64[i]);
        expect(p, strlen(p), DISPATCH_DATA_FORMAT_TYPE_NONE, DISPATCH_DATA_FORMAT_TYPE_BASE32, b32[i], strlen(b32[i]), b32[i]);
        expect(p, strlen(p), DISPATCH_DATA_FORMAT_TYPE_NONE, DISPATCH_DATA_FORMAT_TYPE_BASE32HEX, b32h[i], strlen(b32h[i]),
               b32h[i]);
        expect(b64[i], strlen(b64[i]), DISPATCH_DATA_FORMAT_TYPE_BASE64, DISPATCH_DATA_FORMAT_TYPE_NONE, p, strlen(p), p);
        expect(b32[i], strlen(b32[i]), DISPATCH_DATA_FORMAT_TYPE_BASE32, DISPATCH_DATA_FORMAT_TYPE_NONE, p, strlen(p), p);
        expect(b32h[i], strlen(b32h[i]), DISPATCH_DATA_FORMAT_TYPE_BASE32HEX, DISPATCH_DATA_FORMAT_TYPE_NONE, p, strlen(p), p);
        expect(b64[i], strlen(b64[i]), DISPATCH_DATA_FORMAT_TYPE_BASE64, DISPATCH_DATA_FORMAT_TYPE_BASE32, b32[i],
               strlen(b32[i]), "base64 -> base32");
        expect(b32h[i], strlen(b32h[i]), DISPATCH_DATA_FORMAT_TYPE_BASE32HEX, DISPATCH_DATA_FORMAT_TYPE_BASE64, b64[i],
               strlen(b64[i]), "base32hex -> base64");
    }
    OK("rfc4648");
}

static void regions(void)
{
    test_start("regions", 10);
    dispatch_data_t d = mk_regions("foobar", 6);
    dispatch_data_t e = tf(d, DISPATCH_DATA_FORMAT_TYPE_NONE, DISPATCH_DATA_FORMAT_TYPE_BASE64);
    CHECK(e != NULL && equals(e, "Zm9vYmFy", 8), "composite input encodes");
    dispatch_data_t enc = mk_regions("MZXW6YTBOI======", 16);
    dispatch_data_t dec = tf(enc, DISPATCH_DATA_FORMAT_TYPE_BASE32, DISPATCH_DATA_FORMAT_TYPE_NONE);
    CHECK(dec != NULL && equals(dec, "foobar", 6), "composite input decodes");
    dispatch_release(d);
    dispatch_release(e);
    dispatch_release(enc);
    dispatch_release(dec);
    OK("regions");
}

static void whitespace(void)
{
    test_start("whitespace", 10);
    const char *in = "Zm9v\nYm Fy\r\n\t";
    expect(in, strlen(in), DISPATCH_DATA_FORMAT_TYPE_BASE64, DISPATCH_DATA_FORMAT_TYPE_NONE, "foobar", 6, "whitespace");
    OK("whitespace");
}

static void random_roundtrip(void)
{
    test_start("random_roundtrip", 30);
    unsigned seed = 12345;
    dispatch_data_format_type_t types[] = {DISPATCH_DATA_FORMAT_TYPE_BASE64, DISPATCH_DATA_FORMAT_TYPE_BASE32,
                                           DISPATCH_DATA_FORMAT_TYPE_BASE32HEX};
    for (int round = 0; round < 200; round++) {
        uint8_t buf[300];
        size_t n = (size_t)rand_r(&seed) % 300;
        for (size_t i = 0; i < n; i++) {
            buf[i] = (uint8_t)rand_r(&seed);
        }
        dispatch_data_t d = mk(buf, n);
        for (int t = 0; t < 3; t++) {
            dispatch_data_t e = tf(d, DISPATCH_DATA_FORMAT_TYPE_NONE, types[t]);
            CHECK(e != NULL, "encode %d of %zu bytes", t, n);
            size_t want = t == 0 ? (n + 2) / 3 * 4 : (n + 4) / 5 * 8;
            CHECK(dispatch_data_get_size(e) == want, "encoded size %zu, want %zu", dispatch_data_get_size(e), want);
            dispatch_data_t back = tf(e, types[t], DISPATCH_DATA_FORMAT_TYPE_NONE);
            CHECK(back != NULL && equals(back, buf, n), "round trip %d of %zu bytes", t, n);
            dispatch_release(back);
            dispatch_release(e);
        }
        dispatch_release(d);
    }
    OK("random_roundtrip");
}

static void identity(void)
{
    test_start("identity", 10);
    dispatch_data_t d = mks("raw \x01\x02 bytes");
    dispatch_data_t r = tf(d, DISPATCH_DATA_FORMAT_TYPE_NONE, DISPATCH_DATA_FORMAT_TYPE_NONE);
    CHECK(r != NULL && equals(r, "raw \x01\x02 bytes", 12), "none -> none keeps the bytes");
    dispatch_release(r);
    dispatch_data_t u = mks("gr\xc3\xbc\xc3\x9f");
    dispatch_data_t v = tf(u, DISPATCH_DATA_FORMAT_TYPE_UTF8, DISPATCH_DATA_FORMAT_TYPE_UTF8);
    CHECK(v != NULL && equals(v, "gr\xc3\xbc\xc3\x9f", 6), "utf8 -> utf8 keeps the bytes");
    dispatch_release(v);
    /* The inputs are still usable after the results (maybe the same objects) went. */
    CHECK(equals(d, "raw \x01\x02 bytes", 12) && equals(u, "gr\xc3\xbc\xc3\x9f", 6), "inputs intact");
    dispatch_release(d);
    dispatch_release(u);
    OK("identity");
}

/* "a" U+00E9 U+20AC U+1F600 "z" */
static const char text[] = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z";
static const uint16_t units[] = {0x0061, 0x00e9, 0x20ac, 0xd83d, 0xde00, 0x007a};
#define NUNITS (sizeof(units) / sizeof(units[0]))

/* The UTF-16 bytes of `units`, with a BOM if `bom`, little- or big-endian. */
static size_t utf16_bytes(uint8_t *out, bool le, bool bom)
{
    size_t n = 0;
    for (size_t i = bom ? 0 : 1; i <= NUNITS; i++) {
        uint16_t u = i == 0 ? 0xfeff : units[i - 1];
        out[n++] = (uint8_t)(le ? u & 0xff : u >> 8);
        out[n++] = (uint8_t)(le ? u >> 8 : u & 0xff);
    }
    return n;
}

static void utf(void)
{
    test_start("utf", 10);
    size_t tn = strlen(text);
    uint8_t le[64], be[64], le_nobom[64], be_nobom[64];
    size_t len = utf16_bytes(le, true, true), ben = utf16_bytes(be, false, true);
    size_t len0 = utf16_bytes(le_nobom, true, false), ben0 = utf16_bytes(be_nobom, false, false);
    CHECK(le[0] == 0xff && le[1] == 0xfe && be[0] == 0xfe && be[1] == 0xff, "test data BOMs");
    expect(text, tn, DISPATCH_DATA_FORMAT_TYPE_UTF8, DISPATCH_DATA_FORMAT_TYPE_UTF16LE, le, len, "utf8 -> utf16le");
    expect(text, tn, DISPATCH_DATA_FORMAT_TYPE_UTF8, DISPATCH_DATA_FORMAT_TYPE_UTF16BE, be, ben, "utf8 -> utf16be");
    expect(le, len, DISPATCH_DATA_FORMAT_TYPE_UTF16LE, DISPATCH_DATA_FORMAT_TYPE_UTF8, text, tn, "utf16le -> utf8");
    expect(be, ben, DISPATCH_DATA_FORMAT_TYPE_UTF16BE, DISPATCH_DATA_FORMAT_TYPE_UTF8, text, tn, "utf16be -> utf8");
    expect(le_nobom, len0, DISPATCH_DATA_FORMAT_TYPE_UTF16LE, DISPATCH_DATA_FORMAT_TYPE_UTF8, text, tn,
           "utf16le without BOM -> utf8");
    expect(be_nobom, ben0, DISPATCH_DATA_FORMAT_TYPE_UTF16BE, DISPATCH_DATA_FORMAT_TYPE_UTF8, text, tn,
           "utf16be without BOM -> utf8");
    expect(le, len, DISPATCH_DATA_FORMAT_TYPE_UTF16LE, DISPATCH_DATA_FORMAT_TYPE_UTF16BE, be, ben, "utf16le -> utf16be");
    dispatch_data_t d = mk_regions(text, tn);
    dispatch_data_t r = tf(d, DISPATCH_DATA_FORMAT_TYPE_UTF8, DISPATCH_DATA_FORMAT_TYPE_UTF16LE);
    CHECK(r != NULL && equals(r, le, len), "composite utf8 -> utf16le");
    dispatch_release(r);
    dispatch_release(d);
    OK("utf");
}

static void utf_any(void)
{
    test_start("utf_any", 10);
    size_t tn = strlen(text);
    uint8_t le[64], be[64], u8bom[64];
    size_t len = utf16_bytes(le, true, true), ben = utf16_bytes(be, false, true);
    memcpy(u8bom, "\xef\xbb\xbf", 3);
    memcpy(u8bom + 3, text, tn);
    expect(le, len, DISPATCH_DATA_FORMAT_TYPE_UTF_ANY, DISPATCH_DATA_FORMAT_TYPE_UTF8, text, tn, "any(FF FE) -> utf8");
    expect(be, ben, DISPATCH_DATA_FORMAT_TYPE_UTF_ANY, DISPATCH_DATA_FORMAT_TYPE_UTF8, text, tn, "any(FE FF) -> utf8");
    expect(u8bom, tn + 3, DISPATCH_DATA_FORMAT_TYPE_UTF_ANY, DISPATCH_DATA_FORMAT_TYPE_UTF8, text, tn,
           "any(EF BB BF) -> utf8");
    expect(text, tn, DISPATCH_DATA_FORMAT_TYPE_UTF_ANY, DISPATCH_DATA_FORMAT_TYPE_UTF8, text, tn, "any(no BOM) -> utf8");
    expect(u8bom, tn + 3, DISPATCH_DATA_FORMAT_TYPE_UTF_ANY, DISPATCH_DATA_FORMAT_TYPE_UTF16BE, be, ben,
           "any(EF BB BF) -> utf16be, one BOM");
    expect(le, len, DISPATCH_DATA_FORMAT_TYPE_UTF_ANY, DISPATCH_DATA_FORMAT_TYPE_UTF16BE, be, ben, "any(FF FE) -> utf16be");
    expect("a", 1, DISPATCH_DATA_FORMAT_TYPE_UTF_ANY, DISPATCH_DATA_FORMAT_TYPE_UTF16LE, "\xff\xfe" "a\0", 4,
           "any(one byte) is UTF-8");
    OK("utf_any");
}

static void invalid(void)
{
    test_start("invalid", 10);
    const char *bad64[] = {"Zm9v!A==", "Zg=", "Zm9vY", "Zg=a", "Z===", "=Zm9", "Zg==Zg==", "Zm9vYg=\xff"};
    for (size_t i = 0; i < sizeof(bad64) / sizeof(bad64[0]); i++) {
        expect_null(bad64[i], strlen(bad64[i]), DISPATCH_DATA_FORMAT_TYPE_BASE64, DISPATCH_DATA_FORMAT_TYPE_NONE, bad64[i]);
    }
    const char *bad32[] = {"mzxw6ytb", "MY=====", "M=======", "MZX=====", "MZXW6Y==", "MY======MY======", "MZXW6YT1"};
    for (size_t i = 0; i < sizeof(bad32) / sizeof(bad32[0]); i++) {
        expect_null(bad32[i], strlen(bad32[i]), DISPATCH_DATA_FORMAT_TYPE_BASE32, DISPATCH_DATA_FORMAT_TYPE_NONE, bad32[i]);
    }
    expect_null("CPNMUOJW", 8, DISPATCH_DATA_FORMAT_TYPE_BASE32HEX, DISPATCH_DATA_FORMAT_TYPE_NONE, "base32hex W");
    static const uint8_t high_alone[] = {0x3d, 0xd8, 0x41, 0x00};
    static const uint8_t high_at_end[] = {0x41, 0x00, 0x3d, 0xd8};
    static const uint8_t low_alone[] = {0x00, 0xde, 0x41, 0x00};
    static const uint8_t reversed_bom[] = {0xfe, 0xff, 0x41, 0x00};
    static const uint8_t odd[] = {0x41, 0x00, 0x42};
    expect_null(high_alone, 4, DISPATCH_DATA_FORMAT_TYPE_UTF16LE, DISPATCH_DATA_FORMAT_TYPE_UTF8, "unpaired high");
    expect_null(high_at_end, 4, DISPATCH_DATA_FORMAT_TYPE_UTF16LE, DISPATCH_DATA_FORMAT_TYPE_UTF8, "high at end");
    expect_null(low_alone, 4, DISPATCH_DATA_FORMAT_TYPE_UTF16LE, DISPATCH_DATA_FORMAT_TYPE_UTF8, "lone low");
    expect_null(reversed_bom, 4, DISPATCH_DATA_FORMAT_TYPE_UTF16LE, DISPATCH_DATA_FORMAT_TYPE_UTF8, "reversed BOM");
    expect_null(odd, 3, DISPATCH_DATA_FORMAT_TYPE_UTF16LE, DISPATCH_DATA_FORMAT_TYPE_UTF16BE, "odd length");
    const char *bad8[] = {"\xc0\x80", "\xed\xa0\x80", "ab\xe2\x82", "\x80x", "\xf8\x88\x80\x80\x80", "\xf4\x90\x80\x80"};
    for (size_t i = 0; i < sizeof(bad8) / sizeof(bad8[0]); i++) {
        expect_null(bad8[i], strlen(bad8[i]), DISPATCH_DATA_FORMAT_TYPE_UTF8, DISPATCH_DATA_FORMAT_TYPE_UTF16LE, "bad utf8");
        expect_null(bad8[i], strlen(bad8[i]), DISPATCH_DATA_FORMAT_TYPE_UTF8, DISPATCH_DATA_FORMAT_TYPE_UTF8, "bad utf8");
    }
    expect_null("Zm9v", 4, DISPATCH_DATA_FORMAT_TYPE_BASE64, DISPATCH_DATA_FORMAT_TYPE_UTF8, "base64 -> utf8");
    expect_null("abc", 3, DISPATCH_DATA_FORMAT_TYPE_UTF8, DISPATCH_DATA_FORMAT_TYPE_NONE, "utf8 -> none");
    expect_null("abc", 3, DISPATCH_DATA_FORMAT_TYPE_UTF8, DISPATCH_DATA_FORMAT_TYPE_UTF_ANY, "utf_any output");
    OK("invalid");
}

static void empty(void)
{
    test_start("empty", 10);
    dispatch_data_format_type_t bytes[] = {DISPATCH_DATA_FORMAT_TYPE_NONE, DISPATCH_DATA_FORMAT_TYPE_BASE32,
                                           DISPATCH_DATA_FORMAT_TYPE_BASE32HEX, DISPATCH_DATA_FORMAT_TYPE_BASE64};
    for (int i = 0; i < 4; i++) {
        for (int j = 0; j < 4; j++) {
            dispatch_data_t r = tf(dispatch_data_empty, bytes[i], bytes[j]);
            CHECK(r != NULL && dispatch_data_get_size(r) == 0, "empty %d -> %d", i, j);
            dispatch_release(r);
        }
    }
    dispatch_data_t r = tf(dispatch_data_empty, DISPATCH_DATA_FORMAT_TYPE_UTF_ANY, DISPATCH_DATA_FORMAT_TYPE_UTF16LE);
    CHECK(r != NULL && dispatch_data_get_size(r) == 0, "empty utf_any -> utf16le");
    dispatch_release(r);
    OK("empty");
}

static const uint64_t not_a_format[5] = {1, 2, 3, 4, 5};

static void bad_type(void)
{
    dispatch_data_t d = mks("x");
    (void)tf(d, (dispatch_data_format_type_t)(const void *)not_a_format, DISPATCH_DATA_FORMAT_TYPE_BASE64);
}

static void null_type(void)
{
    dispatch_data_t d = mks("x");
    (void)tf(d, DISPATCH_DATA_FORMAT_TYPE_NONE, NULL);
}

static void misuse(void)
{
    test_start("misuse", 30);
    CHECK(expect_abort(bad_type, "invalid format type"), "invalid type aborts");
    CHECK(expect_abort(null_type, "NULL format type"), "NULL type aborts");
    OK("misuse");
}

int main(void)
{
    copy_relocation();
    rfc4648();
    regions();
    whitespace();
    random_roundtrip();
    identity();
    utf();
    utf_any();
    invalid();
    empty();
    misuse();
    return 0;
}
