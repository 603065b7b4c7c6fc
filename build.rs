//! Generates `include/dispatch/generated/functions.h`, the prototypes of the exported
//! functions (cbindgen; everything else in the headers is hand-written C, see
//! `include/dispatch/dispatch.h`), compiles the C shims (`src/ffi/shims/`), and gives the
//! shared library its SONAME.
//!
//! The generated file is checked in. It is rewritten only when its content changes, so a
//! stale checked-in file shows up as a diff (`make check` fails on it).

use std::path::PathBuf;

fn main() {
    let crate_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    println!("cargo:rerun-if-changed=src/ffi");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libdispatch.so");

    // Architectures whose callee receives a `va_list` argument as one pointer-sized register
    // (`sys::linux::abort::VaListArg` says why for each); elsewhere `dispatch_debugv` does
    // not build until someone checks.
    println!("cargo:rustc-check-cfg=cfg(va_list_in_one_register)");
    const ONE_REGISTER_VA_LIST: &[&str] = &[
        "x86_64",
        "x86",
        "aarch64",
        "arm",
        "riscv64",
        "riscv32",
        "powerpc64",
        "powerpc",
        "s390x",
        "loongarch64",
    ];
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").expect("cargo sets it");
    if ONE_REGISTER_VA_LIST.contains(&arch.as_str()) {
        println!("cargo:rustc-cfg=va_list_in_one_register");
    }

    // The exports stable Rust cannot define (variadic functions), one small C file each, and
    // the initial-exec thread-local of the hot paths (src/sys/linux/tls.c: stable Rust
    // cannot choose a TLS model).
    println!("cargo:rerun-if-changed=src/ffi/shims");
    println!("cargo:rerun-if-changed=src/sys/linux/tls.c");
    cc::Build::new()
        .file("src/ffi/shims/log.c")
        .file("src/ffi/shims/debug.c")
        .file("src/sys/linux/tls.c")
        .warnings(true)
        .extra_warnings(true)
        .compile("dispatch_shims");
    // rustc's version script exports only Rust items (and hides the rest); a second script,
    // merged with it by the linker, exports the shims' names too.
    let map = crate_dir.join("src/ffi/shims/exports.map");
    println!("cargo:rustc-cdylib-link-arg=-Wl,--version-script={}", map.display());

    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml parses");
    let bindings = cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen can read the exported functions");
    let mut generated = Vec::new();
    bindings.write(&mut generated);
    let out = crate_dir.join("include/dispatch/generated/functions.h");
    if std::fs::read(&out).ok().as_deref() != Some(&generated[..]) {
        std::fs::create_dir_all(out.parent().expect("has a parent"))
            .expect("include/dispatch/generated is writable");
        std::fs::write(&out, &generated).expect("include/dispatch/generated/functions.h is writable");
    }
}
