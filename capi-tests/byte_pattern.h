/*
 * byte_pattern.h: helpers shared by the data and I/O tests. Include after check.h.
 *
 *   pat(i)                       the pattern byte at position i (not periodic over small
 *                                spans, so a shifted or reordered copy is caught)
 *   fill_pat(p, start, n)        p[0..n) = pattern from position `start`
 *   first_mismatch(p, start, n)  index of the first byte that differs, or (size_t)-1
 *   is_pat(p, start, n)          whether p[0..n) is the pattern from `start`
 *   make_q(label), on_q()        a serial queue carrying a marker, and whether the caller
 *                                runs on such a queue (handlers must run on the queue given)
 */
#ifndef CAPI_TESTS_BYTE_PATTERN_H
#define CAPI_TESTS_BYTE_PATTERN_H

#include "check.h"

static inline uint8_t pat(size_t i)
{
    uint32_t x = (uint32_t)i * 2654435761u;
    return (uint8_t)((x >> 24) ^ (uint8_t)i);
}

static inline void fill_pat(uint8_t *p, size_t start, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = pat(start + i);
}

static inline size_t first_mismatch(const uint8_t *p, size_t start, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != pat(start + i))
            return i;
    return (size_t)-1;
}

static inline bool is_pat(const uint8_t *p, size_t start, size_t n)
{
    return first_mismatch(p, start, n) == (size_t)-1;
}

static int marked_queue_key;
static char marked_queue_marker;

static inline dispatch_queue_t make_q(const char *label)
{
    dispatch_queue_t q = dispatch_queue_create(label, NULL);
    CHECK(q != NULL, "queue_create");
    dispatch_queue_set_specific(q, &marked_queue_key, &marked_queue_marker, NULL);
    return q;
}

static inline bool on_q(void)
{
    return dispatch_get_specific(&marked_queue_key) == &marked_queue_marker;
}

#endif /* CAPI_TESTS_BYTE_PATTERN_H */
