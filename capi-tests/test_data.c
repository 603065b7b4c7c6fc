/*
 * test_data.c: dispatch data objects through the function (_f) interface (gcc, no blocks).
 *
 *   default_copies     DISPATCH_DATA_DESTRUCTOR_DEFAULT copies the buffer at creation: after
 *                      the source buffer is overwritten the data (get_size, create_map,
 *                      apply_f) still holds the original bytes, in a buffer other than the
 *                      source's.
 *   destructor_none    DISPATCH_DATA_DESTRUCTOR_NONE does not copy: apply_f visits one region
 *                      whose buffer is the caller's buffer, with the right bytes.
 *   destructor_free    DISPATCH_DATA_DESTRUCTOR_FREE on a malloc'd buffer: no copy (apply_f
 *                      sees the malloc'd pointer), content right, releasing it does not crash
 *                      (free itself is not observable here).
 *   destructor_munmap  DISPATCH_DATA_DESTRUCTOR_MUNMAP on a 3-page anonymous mmap: content
 *                      right while alive; after the last release the pages are unmapped
 *                      (mincore fails with ENOMEM within 5 s).
 *   custom_destructor  dispatch_data_create_f with a function destructor: retained twice and
 *                      released once it is not called (150 ms); after the last release it is
 *                      called exactly once, with the buffer pointer as its argument, on the
 *                      queue given (queue-specific marker); no second call (150 ms).
 *   create_alloc       dispatch_data_create_alloc(1000, &p): p non-NULL and writable, size
 *                      1000, apply_f visits one region at p, create_map returns the bytes.
 *   concat_subrange    four NONE pieces (100, 1000, 1, 4096 bytes) of one position-dependent
 *                      pattern concatenated: size 5197, apply_f visits the four pieces in
 *                      order with contiguous offsets and the original buffers (no copying),
 *                      create_map equals the pattern; subranges crossing piece boundaries
 *                      ((50,100), (99,1002), (0,5197), (1100,1)) and a subrange of a subrange
 *                      are byte-exact via apply_f (offsets contiguous from 0, sizes sum to the
 *                      length) and via create_map; concat(d, d) is twice d.
 *   subrange_bounds    subrange clamps: (size-10, 100) has size 10 with the last 10 bytes;
 *                      (size, 5), (size+100, 5) and (0, 0) are empty.
 *   map                create_map of a composite returns one contiguous buffer equal to the
 *                      content; mapping twice gives equal bytes; the map keeps its buffer valid
 *                      after the source data and the other map are released; map of
 *                      dispatch_data_empty has size 0.
 *   apply_stop         apply_f returning false at the 2nd of 4 regions: apply_f returns false
 *                      after exactly 2 calls; returning true throughout: true, 4 calls; each
 *                      region object's size equals the region size; the context pointer is
 *                      passed; apply_f on an empty object returns true without calling.
 *   copy_region        on the 4-piece concat: locations in each piece (first/last byte) give
 *                      that piece (offset_ptr = its start, size = its size, same bytes); on a
 *                      subrange (50, 1100) the regions are the visible parts of the pieces
 *                      (sizes 50, 1000, 1, 49 at offsets 0, 50, 1050, 1051).
 *   empty              dispatch_data_empty has size 0; retain/release of it is harmless;
 *                      concat with empty on either side keeps size and bytes; a zero-size
 *                      create_f still calls its custom destructor exactly once.
 *   destructor_tree    two pieces with custom destructors, a concat of them, a subrange across
 *                      both and a copy_region result: no destructor runs while any object
 *                      built on a piece is alive (pieces, then concat, released first); when
 *                      the last one goes each destructor runs exactly once.
 *   concurrent         16-way dispatch_apply_f, 2000 iterations, on one shared concat: concat,
 *                      subrange, map, apply_f, retain/release from many threads give right
 *                      bytes; the shared pieces' destructors run exactly once at the end.
 */
#include "check.h"
#include "byte_pattern.h"

#include <dispatch/data.h>
#include <sys/mman.h>

/* the non-block destructor markers, as dispatch_function_t */
#define FN(x) ((dispatch_function_t)(uintptr_t)(x))

static int queue_key;

/* ---- apply_f recorder ---- */

#define MAXREG 64

struct regs {
    void *self; /* the context check */
    int calls;
    int stop_at; /* return false at this call (1-based), 0: never */
    size_t offsets[MAXREG];
    size_t sizes[MAXREG];
    const void *bufs[MAXREG];
    size_t region_sizes[MAXREG];
    bool bad_ctx;
    uint8_t *flat; /* when set, each region is copied at its offset */
    size_t flat_cap;
    bool overflow;
};

static bool rec_applier(void *ctx, dispatch_data_t region, size_t offset, const void *buffer, size_t size)
{
    struct regs *r = ctx;
    if (r->self != r)
        r->bad_ctx = true;
    int i = r->calls++;
    if (i < MAXREG) {
        r->offsets[i] = offset;
        r->sizes[i] = size;
        r->bufs[i] = buffer;
        r->region_sizes[i] = region ? dispatch_data_get_size(region) : (size_t)-1;
    }
    if (r->flat) {
        if (offset + size > r->flat_cap)
            r->overflow = true;
        else
            memcpy(r->flat + offset, buffer, size);
    }
    return !(r->stop_at && r->calls == r->stop_at);
}

static void regs_init(struct regs *r)
{
    memset(r, 0, sizeof *r);
    r->self = r;
}

/* Checks d holds pattern bytes [start, start+n) via apply_f (contiguous regions from offset 0)
 * and via create_map. */
static void check_content(dispatch_data_t d, size_t start, size_t n, const char *what)
{
    CHECK(dispatch_data_get_size(d) == n, "%s: size %zu, expected %zu", what, dispatch_data_get_size(d), n);
    struct regs r;
    regs_init(&r);
    r.flat = malloc(n + 1);
    r.flat_cap = n;
    bool ok = dispatch_data_apply_f(d, &r, rec_applier);
    CHECK(ok, "%s: apply_f returned false", what);
    CHECK(!r.bad_ctx, "%s: apply_f passed the wrong context", what);
    CHECK(!r.overflow, "%s: a region goes past the size", what);
    CHECK(r.calls <= MAXREG, "%s: %d regions", what, r.calls);
    size_t expect_off = 0;
    for (int i = 0; i < r.calls; i++) {
        CHECK(r.offsets[i] == expect_off, "%s: region %d at offset %zu, expected %zu", what, i, r.offsets[i], expect_off);
        CHECK(r.sizes[i] > 0, "%s: region %d is empty", what, i);
        CHECK(r.region_sizes[i] == r.sizes[i], "%s: region %d object has size %zu, region size %zu", what, i,
              r.region_sizes[i], r.sizes[i]);
        expect_off += r.sizes[i];
    }
    CHECK(expect_off == n, "%s: regions sum to %zu, size %zu", what, expect_off, n);
    CHECK(is_pat(r.flat, start, n), "%s: bytes via apply_f differ from the expected content", what);
    free(r.flat);

    const void *buf = NULL;
    size_t sz = 12345;
    dispatch_data_t m = dispatch_data_create_map(d, &buf, &sz);
    CHECK(m != NULL, "%s: create_map returned NULL", what);
    CHECK(sz == n, "%s: map size %zu, expected %zu", what, sz, n);
    CHECK(dispatch_data_get_size(m) == n, "%s: map object size %zu", what, dispatch_data_get_size(m));
    if (n)
        CHECK(buf != NULL && is_pat(buf, start, n), "%s: mapped bytes differ from the expected content", what);
    dispatch_release(m);
}

/* ------------------------------------------------------------------ */

static void test_default_copies(void)
{
    test_start("default_copies", 10);
    uint8_t src[300];
    fill_pat(src, 0, sizeof src);
    dispatch_data_t d = dispatch_data_create_f(src, sizeof src, NULL, FN(DISPATCH_DATA_DESTRUCTOR_DEFAULT));
    CHECK(d != NULL, "create_f returned NULL");
    memset(src, 0xEE, sizeof src);
    check_content(d, 0, 300, "default");
    struct regs r;
    regs_init(&r);
    dispatch_data_apply_f(d, &r, rec_applier);
    for (int i = 0; i < r.calls && i < MAXREG; i++)
        CHECK((const uint8_t *)r.bufs[i] + r.sizes[i] <= src || (const uint8_t *)r.bufs[i] >= src + sizeof src,
              "region %d lies in the caller's buffer: not copied", i);
    dispatch_release(d);
    OK("default_copies");
}

static void test_destructor_none(void)
{
    test_start("destructor_none", 10);
    static uint8_t buf[777];
    fill_pat(buf, 0, sizeof buf);
    dispatch_data_t d = dispatch_data_create_f(buf, sizeof buf, NULL, FN(DISPATCH_DATA_DESTRUCTOR_NONE));
    CHECK(d != NULL, "create_f returned NULL");
    check_content(d, 0, sizeof buf, "none");
    struct regs r;
    regs_init(&r);
    dispatch_data_apply_f(d, &r, rec_applier);
    CHECK(r.calls == 1, "%d regions for one buffer", r.calls);
    CHECK(r.bufs[0] == buf, "region buffer %p, caller's %p: copied", r.bufs[0], (void *)buf);
    dispatch_release(d);
    OK("destructor_none");
}

static void test_destructor_free(void)
{
    test_start("destructor_free", 10);
    for (int k = 0; k < 100; k++) {
        size_t n = 1 + (size_t)k * 97;
        uint8_t *p = malloc(n);
        CHECK(p != NULL, "malloc");
        fill_pat(p, 7, n);
        dispatch_data_t d = dispatch_data_create_f(p, n, NULL, FN(DISPATCH_DATA_DESTRUCTOR_FREE));
        CHECK(d != NULL, "create_f returned NULL");
        if (k % 10 == 0) {
            check_content(d, 7, n, "free");
            struct regs r;
            regs_init(&r);
            dispatch_data_apply_f(d, &r, rec_applier);
            CHECK(r.calls == 1 && r.bufs[0] == p, "FREE data copied the buffer (%d regions, %p vs %p)", r.calls,
                  r.bufs[0], (void *)p);
        }
        dispatch_release(d);
    }
    OK("destructor_free");
}

static void test_destructor_munmap(void)
{
    test_start("destructor_munmap", 15);
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    size_t n = 3 * pg;
    uint8_t *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(p != MAP_FAILED, "mmap: %s", strerror(errno));
    fill_pat(p, 3, n);
    dispatch_data_t d = dispatch_data_create_f(p, n, NULL, FN(DISPATCH_DATA_DESTRUCTOR_MUNMAP));
    CHECK(d != NULL, "create_f returned NULL");
    check_content(d, 3, n, "munmap");
    unsigned char vec[3];
    CHECK(mincore(p, n, vec) == 0, "mincore on the live mapping failed: %s", strerror(errno));
    dispatch_release(d);
    uint64_t deadline = now_ns() + 5000ull * 1000000ull;
    bool unmapped = false;
    while (now_ns() < deadline) {
        if (mincore(p, n, vec) != 0 && errno == ENOMEM) {
            unmapped = true;
            break;
        }
        sleep_ms(2);
    }
    CHECK(unmapped, "the pages are still mapped 5 s after the last release");
    OK("destructor_munmap");
}

/* ---- custom destructor ---- */

struct dtor {
    atomic_int calls;
    atomic_int wrong_queue;
    void *expect_arg;
    atomic_int wrong_arg;
    void *marker;
    dispatch_semaphore_t sem;
};

static struct dtor dtors[4];

static void dtor_common(struct dtor *t, void *arg)
{
    if (t->marker && dispatch_get_specific(&queue_key) != t->marker)
        atomic_fetch_add(&t->wrong_queue, 1);
    if (arg != t->expect_arg)
        atomic_fetch_add(&t->wrong_arg, 1);
    atomic_fetch_add(&t->calls, 1);
    dispatch_semaphore_signal(t->sem);
}

static void dtor0(void *arg) { dtor_common(&dtors[0], arg); }
static void dtor1(void *arg) { dtor_common(&dtors[1], arg); }
static void dtor2(void *arg) { dtor_common(&dtors[2], arg); }
static void dtor3(void *arg) { dtor_common(&dtors[3], arg); }

static void dtor_reset(int i, void *arg, void *marker)
{
    struct dtor *t = &dtors[i];
    atomic_store(&t->calls, 0);
    atomic_store(&t->wrong_queue, 0);
    atomic_store(&t->wrong_arg, 0);
    t->expect_arg = arg;
    t->marker = marker;
    if (!t->sem)
        t->sem = dispatch_semaphore_create(0);
    while (dispatch_semaphore_wait(t->sem, DISPATCH_TIME_NOW) == 0) {
    }
}

static void dtor_expect_once(int i, const char *what)
{
    struct dtor *t = &dtors[i];
    CHECK(sem_wait_ms(t->sem, 5000), "%s: destructor %d not called within 5 s of the last release", what, i);
    sleep_ms(150);
    CHECK(atomic_load(&t->calls) == 1, "%s: destructor %d called %d times", what, i, atomic_load(&t->calls));
    CHECK(atomic_load(&t->wrong_arg) == 0, "%s: destructor %d called with a pointer other than the buffer", what, i);
    CHECK(atomic_load(&t->wrong_queue) == 0, "%s: destructor %d did not run on the queue given", what, i);
}

static void test_custom_destructor(void)
{
    test_start("custom_destructor", 15);
    static char marker;
    dispatch_queue_t q = dispatch_queue_create("test.data.dtor", NULL);
    dispatch_queue_set_specific(q, &queue_key, &marker, NULL);
    static uint8_t buf[500];
    fill_pat(buf, 11, sizeof buf);
    dtor_reset(0, buf, &marker);
    dispatch_data_t d = dispatch_data_create_f(buf, sizeof buf, q, dtor0);
    CHECK(d != NULL, "create_f returned NULL");
    check_content(d, 11, sizeof buf, "custom");
    struct regs r;
    regs_init(&r);
    dispatch_data_apply_f(d, &r, rec_applier);
    CHECK(r.calls == 1 && r.bufs[0] == buf, "data with a custom destructor copied the buffer");
    dispatch_retain(d);
    dispatch_retain(d);
    dispatch_release(d);
    sleep_ms(150);
    CHECK(atomic_load(&dtors[0].calls) == 0, "destructor called with 2 references left");
    dispatch_release(d);
    sleep_ms(150);
    CHECK(atomic_load(&dtors[0].calls) == 0, "destructor called with 1 reference left");
    check_content(d, 11, sizeof buf, "custom, still referenced");
    dispatch_release(d);
    dtor_expect_once(0, "custom");
    dispatch_release(q);
    OK("custom_destructor");
}

static void test_create_alloc(void)
{
    test_start("create_alloc", 10);
    void *p = NULL;
    dispatch_data_t d = dispatch_data_create_alloc(1000, &p);
    CHECK(d != NULL, "create_alloc returned NULL");
    CHECK(p != NULL, "create_alloc gave no buffer");
    fill_pat(p, 5, 1000);
    check_content(d, 5, 1000, "alloc");
    struct regs r;
    regs_init(&r);
    dispatch_data_apply_f(d, &r, rec_applier);
    CHECK(r.calls == 1 && r.bufs[0] == p, "apply_f: %d regions, buffer %p, allocated %p", r.calls, r.bufs[0], p);
    dispatch_release(d);
    OK("create_alloc");
}

/* ---- the four-piece concat ---- */

static const size_t piece_len[4] = { 100, 1000, 1, 4096 };
#define TOTAL 5197
static uint8_t piece_buf[4][4096];

static dispatch_data_t make_four(void)
{
    size_t start = 0;
    dispatch_data_t acc = NULL;
    for (int i = 0; i < 4; i++) {
        fill_pat(piece_buf[i], start, piece_len[i]);
        dispatch_data_t p = dispatch_data_create_f(piece_buf[i], piece_len[i], NULL, FN(DISPATCH_DATA_DESTRUCTOR_NONE));
        CHECK(p != NULL, "create_f returned NULL");
        if (!acc) {
            acc = p;
        } else {
            dispatch_data_t c = dispatch_data_create_concat(acc, p);
            CHECK(c != NULL, "concat returned NULL");
            dispatch_release(acc);
            dispatch_release(p);
            acc = c;
        }
        start += piece_len[i];
    }
    return acc;
}

static void test_concat_subrange(void)
{
    test_start("concat_subrange", 15);
    dispatch_data_t d = make_four();
    CHECK(dispatch_data_get_size(d) == TOTAL, "concat size %zu", dispatch_data_get_size(d));
    check_content(d, 0, TOTAL, "concat");
    struct regs r;
    regs_init(&r);
    CHECK(dispatch_data_apply_f(d, &r, rec_applier), "apply_f returned false");
    CHECK(r.calls == 4, "apply_f visited %d regions, expected the 4 pieces", r.calls);
    size_t off = 0;
    for (int i = 0; i < 4; i++) {
        CHECK(r.offsets[i] == off && r.sizes[i] == piece_len[i], "region %d: offset %zu size %zu, expected %zu/%zu", i,
              r.offsets[i], r.sizes[i], off, piece_len[i]);
        CHECK(r.bufs[i] == piece_buf[i], "region %d is not the piece's own buffer: concat copied", i);
        off += piece_len[i];
    }

    static const size_t subs[][2] = { { 50, 100 }, { 99, 1002 }, { 0, TOTAL }, { 1100, 1 }, { 1099, 3 }, { 5000, 197 } };
    for (size_t k = 0; k < sizeof subs / sizeof subs[0]; k++) {
        dispatch_data_t s = dispatch_data_create_subrange(d, subs[k][0], subs[k][1]);
        CHECK(s != NULL, "subrange returned NULL");
        char what[64];
        snprintf(what, sizeof what, "subrange(%zu,%zu)", subs[k][0], subs[k][1]);
        check_content(s, subs[k][0], subs[k][1], what);
        dispatch_release(s);
    }

    /* subrange of a subrange */
    dispatch_data_t s1 = dispatch_data_create_subrange(d, 60, 2000);
    dispatch_data_t s2 = dispatch_data_create_subrange(s1, 30, 1050);
    dispatch_release(s1);
    check_content(s2, 90, 1050, "subrange of subrange");
    dispatch_release(s2);

    /* concat of an object with itself */
    dispatch_data_t s3 = dispatch_data_create_subrange(d, 1000, 300);
    dispatch_data_t dd = dispatch_data_create_concat(s3, s3);
    CHECK(dispatch_data_get_size(dd) == 600, "concat(d, d) size %zu", dispatch_data_get_size(dd));
    const void *buf;
    size_t sz;
    dispatch_data_t m = dispatch_data_create_map(dd, &buf, &sz);
    CHECK(sz == 600 && is_pat(buf, 1000, 300) && is_pat((const uint8_t *)buf + 300, 1000, 300),
          "concat(d, d) is not d twice");
    dispatch_release(m);
    dispatch_release(dd);
    dispatch_release(s3);
    dispatch_release(d);
    OK("concat_subrange");
}

static void test_subrange_bounds(void)
{
    test_start("subrange_bounds", 10);
    dispatch_data_t d = make_four();
    dispatch_data_t s = dispatch_data_create_subrange(d, TOTAL - 10, 100);
    CHECK(s != NULL, "subrange returned NULL");
    check_content(s, TOTAL - 10, 10, "subrange past the end (clamped)");
    dispatch_release(s);
    static const size_t empties[][2] = { { TOTAL, 5 }, { TOTAL + 100, 5 }, { 0, 0 }, { 17, 0 } };
    for (size_t k = 0; k < sizeof empties / sizeof empties[0]; k++) {
        s = dispatch_data_create_subrange(d, empties[k][0], empties[k][1]);
        CHECK(s != NULL, "subrange returned NULL");
        CHECK(dispatch_data_get_size(s) == 0, "subrange(%zu, %zu) of %d bytes has size %zu", empties[k][0],
              empties[k][1], TOTAL, dispatch_data_get_size(s));
        dispatch_release(s);
    }
    dispatch_release(d);
    OK("subrange_bounds");
}

static void test_map(void)
{
    test_start("map", 10);
    dispatch_data_t d = make_four();
    const void *b1 = NULL, *b2 = NULL;
    size_t z1 = 0, z2 = 0;
    dispatch_data_t m1 = dispatch_data_create_map(d, &b1, &z1);
    dispatch_data_t m2 = dispatch_data_create_map(d, &b2, &z2);
    CHECK(m1 && m2, "create_map returned NULL");
    CHECK(z1 == TOTAL && z2 == TOTAL, "map sizes %zu, %zu", z1, z2);
    CHECK(is_pat(b1, 0, TOTAL) && is_pat(b2, 0, TOTAL), "mapped bytes wrong");
    /* the map's own content, via apply_f: one contiguous region at the mapped buffer */
    struct regs r;
    regs_init(&r);
    dispatch_data_apply_f(m1, &r, rec_applier);
    CHECK(r.calls == 1 && r.bufs[0] == b1 && r.sizes[0] == TOTAL, "the map object is not the mapped buffer (%d regions)",
          r.calls);
    dispatch_release(d);
    dispatch_release(m2);
    CHECK(is_pat(b1, 0, TOTAL), "mapped buffer changed after the source and the other map were released");
    check_content(m1, 0, TOTAL, "map after source released");
    dispatch_release(m1);

    /* a map of a map, and of a single contiguous piece */
    uint8_t one[64];
    fill_pat(one, 0, 64);
    dispatch_data_t p = dispatch_data_create_f(one, 64, NULL, FN(DISPATCH_DATA_DESTRUCTOR_DEFAULT));
    const void *pb;
    size_t pz;
    dispatch_data_t pm = dispatch_data_create_map(p, &pb, &pz);
    dispatch_release(p);
    CHECK(pz == 64 && is_pat(pb, 0, 64), "map of a one-piece object");
    dispatch_release(pm);

    const void *eb = (const void *)1;
    size_t ez = 99;
    dispatch_data_t em = dispatch_data_create_map(dispatch_data_empty, &eb, &ez);
    CHECK(em != NULL, "map of empty returned NULL");
    CHECK(ez == 0 && dispatch_data_get_size(em) == 0, "map of empty: size %zu", ez);
    dispatch_release(em);
    /* NULL out-pointers are allowed */
    dispatch_data_t d2 = make_four();
    dispatch_data_t m3 = dispatch_data_create_map(d2, NULL, NULL);
    CHECK(m3 && dispatch_data_get_size(m3) == TOTAL, "map with NULL pointers");
    dispatch_release(m3);
    dispatch_release(d2);
    OK("map");
}

static void test_apply_stop(void)
{
    test_start("apply_stop", 10);
    dispatch_data_t d = make_four();
    struct regs r;
    regs_init(&r);
    r.stop_at = 2;
    bool res = dispatch_data_apply_f(d, &r, rec_applier);
    CHECK(!res, "apply_f returned true although the applier returned false");
    CHECK(r.calls == 2, "applier called %d times after returning false at call 2", r.calls);
    CHECK(!r.bad_ctx, "wrong context");
    regs_init(&r);
    r.stop_at = 1;
    CHECK(!dispatch_data_apply_f(d, &r, rec_applier) && r.calls == 1, "stop at 1: %d calls", r.calls);
    regs_init(&r);
    CHECK(dispatch_data_apply_f(d, &r, rec_applier), "apply_f returned false");
    CHECK(r.calls == 4, "%d calls", r.calls);
    regs_init(&r);
    r.stop_at = 4;
    CHECK(!dispatch_data_apply_f(d, &r, rec_applier), "false at the last region: apply_f returned true");
    regs_init(&r);
    CHECK(dispatch_data_apply_f(dispatch_data_empty, &r, rec_applier), "apply_f on empty returned false");
    CHECK(r.calls == 0, "apply_f on empty called the applier %d times", r.calls);
    dispatch_release(d);
    OK("apply_stop");
}

static void check_region(dispatch_data_t d, size_t loc, size_t exp_off, size_t exp_size, size_t base)
{
    size_t off = 99999;
    dispatch_data_t reg = dispatch_data_copy_region(d, loc, &off);
    CHECK(reg != NULL, "copy_region(%zu) returned NULL", loc);
    CHECK(off == exp_off, "copy_region(%zu): offset %zu, expected %zu", loc, off, exp_off);
    CHECK(dispatch_data_get_size(reg) == exp_size, "copy_region(%zu): size %zu, expected %zu", loc,
          dispatch_data_get_size(reg), exp_size);
    struct regs r;
    regs_init(&r);
    dispatch_data_apply_f(reg, &r, rec_applier);
    CHECK(r.calls == 1, "copy_region(%zu): the region has %d contiguous parts", loc, r.calls);
    CHECK(is_pat(r.bufs[0], base + exp_off, exp_size), "copy_region(%zu): bytes wrong", loc);
    dispatch_release(reg);
}

static void test_copy_region(void)
{
    test_start("copy_region", 10);
    dispatch_data_t d = make_four();
    check_region(d, 0, 0, 100, 0);
    check_region(d, 99, 0, 100, 0);
    check_region(d, 100, 100, 1000, 0);
    check_region(d, 1099, 100, 1000, 0);
    check_region(d, 1100, 1100, 1, 0);
    check_region(d, 1101, 1101, 4096, 0);
    check_region(d, TOTAL - 1, 1101, 4096, 0);
    dispatch_data_t s = dispatch_data_create_subrange(d, 50, 1100);
    dispatch_release(d);
    check_region(s, 0, 0, 50, 50);
    check_region(s, 49, 0, 50, 50);
    check_region(s, 50, 50, 1000, 50);
    check_region(s, 1049, 50, 1000, 50);
    check_region(s, 1050, 1050, 1, 50);
    check_region(s, 1051, 1051, 49, 50);
    check_region(s, 1099, 1051, 49, 50);
    dispatch_release(s);
    OK("copy_region");
}

static void test_empty(void)
{
    test_start("empty", 10);
    CHECK(dispatch_data_get_size(dispatch_data_empty) == 0, "dispatch_data_empty has size %zu",
          dispatch_data_get_size(dispatch_data_empty));
    dispatch_retain(dispatch_data_empty);
    dispatch_release(dispatch_data_empty);
    CHECK(dispatch_data_get_size(dispatch_data_empty) == 0, "empty changed after retain/release");
    dispatch_data_t d = make_four();
    dispatch_data_t a = dispatch_data_create_concat(dispatch_data_empty, d);
    dispatch_data_t b = dispatch_data_create_concat(d, dispatch_data_empty);
    dispatch_data_t e = dispatch_data_create_concat(dispatch_data_empty, dispatch_data_empty);
    dispatch_release(d);
    check_content(a, 0, TOTAL, "concat(empty, d)");
    check_content(b, 0, TOTAL, "concat(d, empty)");
    CHECK(dispatch_data_get_size(e) == 0, "concat(empty, empty) size %zu", dispatch_data_get_size(e));
    dispatch_release(a);
    dispatch_release(b);
    dispatch_release(e);

    static uint8_t zbuf[8];
    dtor_reset(1, zbuf, NULL);
    dispatch_data_t z = dispatch_data_create_f(zbuf, 0, NULL, dtor1);
    CHECK(z != NULL, "zero-size create_f returned NULL");
    CHECK(dispatch_data_get_size(z) == 0, "zero-size create_f has size %zu", dispatch_data_get_size(z));
    dispatch_release(z);
    dtor_expect_once(1, "zero-size create_f");
    OK("empty");
}

static void test_destructor_tree(void)
{
    test_start("destructor_tree", 20);
    static char marker;
    dispatch_queue_t q = dispatch_queue_create("test.data.tree", DISPATCH_QUEUE_CONCURRENT);
    dispatch_queue_set_specific(q, &queue_key, &marker, NULL);
    static uint8_t b0[300], b1[400];
    fill_pat(b0, 0, 300);
    fill_pat(b1, 300, 400);
    dtor_reset(2, b0, &marker);
    dtor_reset(3, b1, &marker);
    dispatch_data_t p0 = dispatch_data_create_f(b0, 300, q, dtor2);
    dispatch_data_t p1 = dispatch_data_create_f(b1, 400, q, dtor3);
    dispatch_data_t c = dispatch_data_create_concat(p0, p1);
    dispatch_data_t s = dispatch_data_create_subrange(c, 250, 100); /* 50 of p0, 50 of p1 */
    dispatch_data_t inner = dispatch_data_create_subrange(c, 10, 20); /* p0 only */
    size_t off = 0;
    dispatch_data_t reg = dispatch_data_copy_region(c, 5, &off);    /* p0 */
    CHECK(off == 0 && dispatch_data_get_size(reg) == 300, "copy_region: offset %zu size %zu", off,
          dispatch_data_get_size(reg));
    dispatch_release(p0);
    dispatch_release(p1);
    sleep_ms(100);
    CHECK(atomic_load(&dtors[2].calls) == 0 && atomic_load(&dtors[3].calls) == 0,
          "a piece's destructor ran while a concat built on it is alive");
    check_content(c, 0, 700, "concat after pieces released");
    dispatch_release(c);
    sleep_ms(100);
    CHECK(atomic_load(&dtors[2].calls) == 0 && atomic_load(&dtors[3].calls) == 0,
          "a piece's destructor ran while a subrange built on it is alive");
    check_content(s, 250, 100, "subrange after concat released");
    dispatch_release(s);
    sleep_ms(100);
    CHECK(atomic_load(&dtors[2].calls) == 0, "piece 0's destructor ran while a subrange inside it is alive");
    check_content(inner, 10, 20, "inner subrange");
    dispatch_release(inner);
    sleep_ms(100);
    CHECK(atomic_load(&dtors[2].calls) == 0, "piece 0's destructor ran while a copy_region result is alive");
    check_content(reg, 0, 300, "copy_region result");
    dispatch_release(reg);
    dtor_expect_once(2, "tree piece 0");
    dtor_expect_once(3, "tree piece 1");
    dispatch_release(q);
    OK("destructor_tree");
}

/* ---- concurrent use of one shared object ---- */

static dispatch_data_t shared;
static atomic_int conc_bad;

static void conc_iter(void *ctx, size_t i)
{
    UNUSED(ctx);
    dispatch_retain(shared);
    size_t a = (i * 37) % 700, len = 1 + (i * 53) % 600;
    dispatch_data_t cc = dispatch_data_create_concat(shared, shared);
    dispatch_data_t s = dispatch_data_create_subrange(cc, a, len);
    const void *buf;
    size_t sz;
    dispatch_data_t m = dispatch_data_create_map(s, &buf, &sz);
    if (sz != len)
        atomic_fetch_add(&conc_bad, 1);
    else
        for (size_t k = 0; k < len; k++)
            if (((const uint8_t *)buf)[k] != pat((a + k) % 700)) {
                atomic_fetch_add(&conc_bad, 1);
                break;
            }
    struct regs r;
    regs_init(&r);
    dispatch_data_apply_f(s, &r, rec_applier);
    size_t sum = 0;
    for (int k = 0; k < r.calls && k < MAXREG; k++)
        sum += r.sizes[k];
    if (sum != len)
        atomic_fetch_add(&conc_bad, 1);
    dispatch_release(m);
    dispatch_release(s);
    dispatch_release(cc);
    dispatch_release(shared);
}

static void test_concurrent(void)
{
    test_start("concurrent", 30);
    static uint8_t b0[300], b1[400];
    fill_pat(b0, 0, 300);
    fill_pat(b1, 300, 400);
    dtor_reset(2, b0, NULL);
    dtor_reset(3, b1, NULL);
    dispatch_data_t p0 = dispatch_data_create_f(b0, 300, NULL, dtor2);
    dispatch_data_t p1 = dispatch_data_create_f(b1, 400, NULL, dtor3);
    shared = dispatch_data_create_concat(p0, p1);
    dispatch_release(p0);
    dispatch_release(p1);
    dispatch_queue_t cq = dispatch_queue_create("test.data.conc", DISPATCH_QUEUE_CONCURRENT);
    dispatch_apply_f(2000, cq, NULL, conc_iter);
    CHECK(atomic_load(&conc_bad) == 0, "%d iterations saw wrong bytes or sizes", atomic_load(&conc_bad));
    CHECK(atomic_load(&dtors[2].calls) == 0 && atomic_load(&dtors[3].calls) == 0, "destructor ran while shared is alive");
    dispatch_release(shared);
    dtor_expect_once(2, "shared piece 0");
    dtor_expect_once(3, "shared piece 1");
    dispatch_release(cq);
    OK("concurrent");
}

int main(void)
{
    test_default_copies();
    test_destructor_none();
    test_destructor_free();
    test_destructor_munmap();
    test_custom_destructor();
    test_create_alloc();
    test_concat_subrange();
    test_subrange_bounds();
    test_map();
    test_apply_stop();
    test_copy_region();
    test_empty();
    test_destructor_tree();
    test_concurrent();
    printf("all data checks passed\n");
    return 0;
}
