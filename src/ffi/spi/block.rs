//! Dispatch blocks with vouchers (`os/voucher_private.h`) and the reference's internal
//! `_dispatch_block_create`. There are no vouchers on Linux: the voucher argument (NULL or
//! anything else) is ignored, and each function is its voucher-less counterpart.

use super::super::block::{
    dispatch_block_create, dispatch_block_create_with_qos_class, dispatch_block_flags_t, dispatch_block_t,
};
use super::super::dispatch_qos_class_t;
use super::queue::voucher_t;
use crate::blocks::dispatch_block;
use core::ffi::{c_int, c_ulong};

/// `pthread_priority_t`.
pub type pthread_priority_t = c_ulong;

/// `dispatch_block_create`, voucher ignored.
#[no_mangle]
pub unsafe extern "C" fn dispatch_block_create_with_voucher(
    flags: dispatch_block_flags_t,
    _voucher: voucher_t,
    block: dispatch_block_t,
) -> dispatch_block_t {
    // SAFETY: forwarded contract.
    unsafe { dispatch_block_create(flags, block) }
}

/// `dispatch_block_create_with_qos_class`, voucher ignored.
#[no_mangle]
pub unsafe extern "C" fn dispatch_block_create_with_voucher_and_qos_class(
    flags: dispatch_block_flags_t,
    _voucher: voucher_t,
    qos_class: dispatch_qos_class_t,
    relative_priority: c_int,
    block: dispatch_block_t,
) -> dispatch_block_t {
    // SAFETY: forwarded contract.
    unsafe { dispatch_block_create_with_qos_class(flags, qos_class, relative_priority, block) }
}

/// The reference's internal constructor: `priority` is a `pthread_priority_t`; its QoS
/// class bits (`0x003fff00`: one bit per class from bit 8) give the block's class, and its
/// low byte the relative priority minus one. A priority naming no class (0 included) makes
/// a block without a class of its own, as `dispatch_block_create`.
#[no_mangle]
pub unsafe extern "C" fn _dispatch_block_create(
    flags: dispatch_block_flags_t,
    _voucher: voucher_t,
    priority: pthread_priority_t,
    block: dispatch_block_t,
) -> dispatch_block_t {
    let qos = dispatch_block::decode_priority(priority & 0x003f_ff00);
    if qos == 0 {
        // SAFETY: forwarded contract.
        return unsafe { dispatch_block_create(flags, block) };
    }
    let relative = ((priority & 0xff) as u8 as i8 as c_int + 1).clamp(-15, 0);
    // SAFETY: forwarded contract.
    unsafe { dispatch_block_create_with_qos_class(flags, qos, relative, block) }
}
