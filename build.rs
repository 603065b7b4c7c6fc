//! Generates `include/dispatch/dispatch.h` from the exported functions (cbindgen), and
//! gives the shared library its SONAME, and compiles the one C file (`src/ffi/debug_shim.c`:
//! the variadic `dispatch_debug`, which stable Rust cannot define).
//!
//! The header is checked in. It is rewritten only when its content changes, so a stale
//! checked-in header shows up as a diff (`make check` fails on it).

use std::path::PathBuf;

fn main() {
    let crate_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    println!("cargo:rerun-if-changed=src/ffi");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libdispatch.so");

    cc::Build::new().file("src/ffi/debug_shim.c").warnings_into_errors(true).compile("dispatch_debug_shim");

    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml parses");
    let bindings = cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen can read the exported functions");
    let mut generated = Vec::new();
    bindings.write(&mut generated);
    let out = crate_dir.join("include/dispatch/dispatch.h");
    if std::fs::read(&out).ok().as_deref() != Some(&generated[..]) {
        std::fs::create_dir_all(out.parent().expect("has a parent")).expect("include/dispatch is writable");
        std::fs::write(&out, &generated).expect("include/dispatch/dispatch.h is writable");
    }
}
