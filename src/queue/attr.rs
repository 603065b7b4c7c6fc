//! Queue attributes (`dispatch_queue_attr_t`).
//!
//! An attribute is a small immutable value. `DISPATCH_QUEUE_SERIAL` is NULL and
//! `DISPATCH_QUEUE_CONCURRENT` is the address of the exported `_dispatch_queue_attr_concurrent`,
//! which a binary may hold a copy of (copy relocation): so attributes are recognised by
//! their contents, never by address. Derived attributes are interned: one leaked value per
//! distinct combination, so `make_*` never leaks more than the handful of combinations a
//! program uses.

use crate::sys;
use std::sync::Mutex;

const ATTR_MAGIC: u32 = 0x6174_7472; // "attr"

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueAttr {
    pub(crate) magic: u32,
    pub concurrent: bool,
    pub inactive: bool,
    pub autorelease_frequency: u8,
    /// `dispatch_queue_attr_make_with_overcommit`: 0 as the kind decides (serial queues
    /// target an overcommit root, concurrent ones do not), 1 overcommit, 2 not.
    pub overcommit: u8,
    pub qos: u32,
    pub relative_priority: i32,
}

impl QueueAttr {
    pub const SERIAL: QueueAttr = QueueAttr {
        magic: ATTR_MAGIC,
        concurrent: false,
        inactive: false,
        autorelease_frequency: 0,
        overcommit: 0,
        qos: 0,
        relative_priority: 0,
    };
    pub const CONCURRENT: QueueAttr = QueueAttr { concurrent: true, ..QueueAttr::SERIAL };

    /// Checks the attribute a client passed (`None`, from NULL, is the serial default); the
    /// C surface turns the client's pointer into the reference.
    pub fn from_client(attr: Option<&QueueAttr>) -> QueueAttr {
        let Some(&a) = attr else { return QueueAttr::SERIAL };
        if a.magic != ATTR_MAGIC {
            sys::abort_with_message("BUG IN CLIENT OF LIBDISPATCH: Invalid queue attribute");
        }
        a
    }

    /// Whether a queue made with this attribute targets an overcommit root by default.
    pub fn overcommit(&self) -> bool {
        match self.overcommit {
            0 => !self.concurrent,
            o => o == 1,
        }
    }

    /// The canonical `'static` copy of this combination.
    pub fn intern(self) -> &'static QueueAttr {
        static INTERNED: Mutex<Vec<&'static QueueAttr>> = Mutex::new(Vec::new());
        let mut all = INTERNED.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(a) = all.iter().find(|a| ***a == self) {
            return a;
        }
        let a: &'static QueueAttr = Box::leak(Box::new(self));
        all.push(a);
        a
    }
}
