//! The platform switch: the one place that names the backend the facility modules
//! re-export from (`super::imp::<facility>`). A port adds `src/sys/<os>/` and one `cfg` line
//! here. A file of its own (not an alias in `mod.rs`) so that the facility files depend on
//! the backend without depending on `mod.rs`, which re-exports them (no cycle between files:
//! `layers::tests::layers_form_a_dag`).

#[cfg(target_os = "linux")]
pub(super) use super::linux::{abort, fd, file, fork, futex, mem, poll, process, signal, thread, time, tls};
