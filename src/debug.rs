//! `dispatch_debug`: a one-line description of an object, for logs.
//!
//! The line names the object's kind and address, then its reference counts (`xref` the
//! client's, `ref` the runtime's internal ones, "global" for the immortal global and main
//! queues), then what the kind has to say: a queue's label, suspend count, width
//! (1 serial; the concurrent limit otherwise), whether it is still inactive, and its
//! target's label; a source's type, handle, mask and whether it is cancelled; a data
//! object's size. Values are a snapshot read without synchronisation: good for a log, not
//! for decisions.

use crate::data::Data;
use crate::object::Header;
use crate::queue::Queue;
use crate::source::Source;
use std::fmt::Write;

fn label_of(q: &Queue) -> String {
    q.label_cstr().to_string_lossy().into_owned()
}

/// `kind[0x...] xref=.. ref=.. <kind details>`.
pub fn describe(h: &Header) -> String {
    let Some(kind) = h.kind() else {
        return format!("object[{:p}] (not a dispatch object)", h);
    };
    let mut s = format!("{}[{:p}]", kind.name(), h);
    let (xref, iref) = h.ref_counts();
    if h.is_immortal() {
        s.push_str(" xref=global ref=global");
    } else {
        let _ = write!(s, " xref={xref} ref={iref}");
    }
    if let Some(q) = h.downcast::<Queue>() {
        let word = q.state.snapshot();
        let _ = write!(
            s,
            " label=\"{}\" suspended={} width={}",
            label_of(q),
            word.suspend_count(),
            q.state.width_limit()
        );
        if word.is_inactive() {
            s.push_str(" inactive");
        }
        match q.target() {
            Some(t) => {
                let _ = write!(s, " target=\"{}\"", label_of(t));
            }
            None => s.push_str(" target=none"),
        }
    } else if let Some(src) = h.downcast::<Source>() {
        let _ = write!(
            s,
            " type={:?} handle={} mask={:#x} cancelled={}",
            src.kind,
            src.handle,
            src.mask,
            src.is_cancelled()
        );
    } else if let Some(d) = h.downcast::<Data>() {
        let _ = write!(s, " size={}", d.size());
    }
    s
}
