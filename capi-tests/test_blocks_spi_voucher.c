/*
 * Dispatch blocks with vouchers (none on Linux: ignored) and _dispatch_block_create with a
 * pthread_priority_t.
 */
#include "check.h"
#include <dispatch/private.h>
#include <Block.h>

int main(void)
{
    test_start("voucher variants are the voucher-less functions", 10);
    __block int runs = 0;
    dispatch_block_t b = dispatch_block_create_with_voucher(0, NULL, ^{ runs++; });
    CHECK(b != NULL, "created");
    b();
    CHECK(runs == 1 && dispatch_block_wait(b, DISPATCH_TIME_NOW) == 0, "ran and waitable");
    Block_release(b);
    b = dispatch_block_create_with_voucher(0, (voucher_t)0x1234, ^{ runs++; }); /* any voucher */
    dispatch_queue_t q = dispatch_queue_create("v", NULL);
    dispatch_async(q, b);
    CHECK(dispatch_block_wait(b, in_ms(5000)) == 0 && runs == 2, "async voucher block");
    Block_release(b);
    CHECK(dispatch_block_create_with_voucher(0x1000, NULL, ^{}) == NULL, "invalid flags give NULL");

    __block unsigned seen = 0;
    b = dispatch_block_create_with_voucher_and_qos_class(DISPATCH_BLOCK_ENFORCE_QOS_CLASS, NULL,
            QOS_CLASS_USER_INITIATED, -2, ^{ seen = qos_class_self(); });
    dispatch_async(q, b);
    CHECK(dispatch_block_wait(b, in_ms(5000)) == 0, "ran");
    CHECK(seen == QOS_CLASS_USER_INITIATED, "ran at 0x%x", seen);
    Block_release(b);
    CHECK(dispatch_block_create_with_voucher_and_qos_class(0, NULL, 0x99, 0, ^{}) == NULL, "bad class: NULL");
    OK("voucher variants are the voucher-less functions");

    test_start("_dispatch_block_create decodes the pthread priority", 10);
    /* user-initiated is thread QoS 5: bit (5 - 1) + 8; relative priority 0 is 0xff */
    pthread_priority_t pp = (1ul << (4 + 8)) | 0xff;
    b = _dispatch_block_create(DISPATCH_BLOCK_ENFORCE_QOS_CLASS, NULL, pp, ^{ seen = qos_class_self(); });
    dispatch_async(q, b);
    CHECK(dispatch_block_wait(b, in_ms(5000)) == 0, "ran");
    CHECK(seen == QOS_CLASS_USER_INITIATED, "ran at 0x%x", seen);
    Block_release(b);
    b = _dispatch_block_create(0, NULL, 0, ^{ runs++; }); /* 0: no class of its own */
    b();
    CHECK(runs == 3, "ran");
    Block_release(b);
    dispatch_release(q);
    OK("_dispatch_block_create decodes the pthread priority");
    return 0;
}
