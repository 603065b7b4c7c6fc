//! The safe Rust API: dispatch queues, groups, semaphores, once, sources and data as
//! owned, thread-safe handles, re-exported at the crate root (`dispatch::Queue`, ...).
//!
//! It is the top layer: it calls the exported C functions of `src/ffi/` like any C
//! client (same crate, so plain calls), which keeps it independent of the runtime's
//! internals and makes it exercise exactly the surface C programs use. Closures cross the
//! boundary as described in `callout.rs` (boxed once; a panic aborts with a message). The
//! names follow the `dispatch` crate (bindings to Apple's libdispatch), so a program
//! written against it ports by renaming the dependency.
//!
//! This `mod.rs` only declares and re-exports; `callout.rs` and `time.rs` are the leaves
//! the concept files share, `queue.rs` is named by `group.rs` and `source.rs`.

mod callout;
mod data;
mod group;
mod once;
mod queue;
mod semaphore;
mod source;
mod time;

pub use data::Data;
pub use group::{Group, GroupGuard};
pub use once::Once;
pub use queue::{apply, main, Qos, Queue, QueueAttribute, QueuePriority, SuspendGuard};
pub use semaphore::{Semaphore, SemaphoreGuard};
pub use source::{Source, SourceKind};
pub use time::WaitTimeout;

#[cfg(test)]
mod tests {
    /// The README's Rust program is `examples/rust_hello.rs`, which the crate docs include
    /// as a doctest (`lib.rs`): so the snippet a reader copies is compiled and run.
    #[test]
    fn readme_rust_snippet_is_the_doctested_example() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
        let example = std::fs::read_to_string(root.join("examples/rust_hello.rs")).expect("the example");
        let section = readme.split("\n## Rust\n").nth(1).expect("a \"## Rust\" section in README.md");
        let section = section.split("\n## ").next().expect("non-empty");
        let blocks: Vec<&str> = section
            .split("```rust\n")
            .skip(1)
            .map(|b| b.split("```").next().expect("a closed block"))
            .collect();
        assert_eq!(blocks, [example.as_str()], "README's Rust snippet differs from examples/rust_hello.rs");
        let lib = std::fs::read_to_string(root.join("src/lib.rs")).expect("lib.rs");
        assert!(lib.contains(r#"include_str!("../examples/rust_hello.rs")"#), "lib.rs doctests the example");
    }
}
