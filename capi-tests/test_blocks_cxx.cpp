/*
 * test_blocks_cxx.cpp: blocks in C++ (clang++ -fblocks) with <dispatch/dispatch.h> and
 * <Block.h>. A C++ object captured by a block is copied by its copy constructor and
 * destroyed by its destructor through the block's copy/dispose helpers, which the runtime
 * calls from _Block_copy/_Block_release; Tracked counts them.
 *
 *   capture_cxx_object    a block capturing a Tracked by value: Block_copy runs the copy
 *                         constructor once, the copy sees the captured value, the last
 *                         Block_release runs the destructor; live Tracked count balanced.
 *   async_cxx_object      dispatch_async of blocks capturing a Tracked (waited for through a
 *                         group): dispatch_group_async copy-constructs the object once (the
 *                         library's Block_copy), each block runs once with its value on a
 *                         live object, on a worker thread; once everything was released,
 *                         constructed == destroyed.
 *   byref_cxx_object      a __block Tracked mutated by a heap copy of a block and by the
 *                         frame: both see one object; it is copy-constructed once onto the
 *                         heap, and every instance is destroyed in the end.
 *   sync_std_string       dispatch_sync with a block capturing a std::string by value and
 *                         writing a __block std::string: runs on the caller's thread, the
 *                         result is visible after return; dispatch_apply with a block
 *                         filling a std::vector, each index once.
 *   object_types          dispatch_object_t in C++: dispatch_retain/dispatch_release/
 *                         dispatch_set_context/dispatch_get_context take queues, groups and
 *                         semaphores (derived classes convert to dispatch_object_t).
 *   block_object_cxx      dispatch_block_create of a block capturing a Tracked: submitted,
 *                         dispatch_block_wait returns 0, releasing the object destroys the
 *                         captured copies (balanced).
 */
#include <Block.h>
#include <dispatch/dispatch.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define CHECK(cond, ...)                                                             \
    do {                                                                             \
        if (!(cond)) {                                                               \
            std::fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
            std::fprintf(stderr, __VA_ARGS__);                                       \
            std::fputc('\n', stderr);                                                \
            std::fflush(stdout);                                                     \
            std::fflush(stderr);                                                     \
            std::exit(1);                                                            \
        }                                                                            \
    } while (0)

static const char *volatile current_check = "(startup)";

static void on_alarm(int)
{
    const char *name = current_check;
    ssize_t r = write(2, "TIMEOUT in ", 11);
    r = write(2, name, std::strlen(name));
    r = write(2, "\n", 1);
    (void)r;
    _exit(1);
}

static void test_start(const char *name, unsigned seconds)
{
    static bool installed = false;
    if (!installed) {
        setvbuf(stdout, nullptr, _IOLBF, 0);
        struct sigaction sa;
        std::memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_alarm;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGALRM, &sa, nullptr);
        installed = true;
    }
    current_check = name;
    alarm(seconds);
}

static void ok(const char *name)
{
    alarm(0);
    std::printf("ok %s\n", name);
    std::fflush(stdout);
}

static pid_t my_tid()
{
    return static_cast<pid_t>(syscall(SYS_gettid));
}

static dispatch_time_t in_ms(int64_t ms)
{
    return dispatch_time(DISPATCH_TIME_NOW, ms * static_cast<int64_t>(NSEC_PER_MSEC));
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = { static_cast<time_t>(ms / 1000), static_cast<long>(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0) {
    }
}

/* waits (bounded) until f() is true */
template <typename F> static bool eventually(F f, int ms)
{
    for (int i = 0; i < ms; i++) {
        if (f())
            return true;
        sleep_ms(1);
    }
    return f();
}

/* ---- a C++ type that counts its lifetime events ---- */

struct Tracked {
    static std::atomic<int> constructed; /* any constructor */
    static std::atomic<int> copied;      /* copy constructor only */
    static std::atomic<int> destroyed;
    static const int MAGIC = 0x7ac4ed;
    int value;
    int magic;

    explicit Tracked(int v) : value(v), magic(MAGIC) { constructed++; }
    Tracked(const Tracked &o) : value(o.value), magic(MAGIC)
    {
        CHECK(o.magic == MAGIC, "copy constructor from a dead or foreign object (magic %#x)", o.magic);
        constructed++;
        copied++;
    }
    Tracked &operator=(const Tracked &o)
    {
        value = o.value;
        return *this;
    }
    ~Tracked()
    {
        CHECK(magic == MAGIC, "destructor on a dead object (magic %#x)", magic);
        magic = 0;
        destroyed++;
    }
    static int live() { return constructed.load() - destroyed.load(); }
};

std::atomic<int> Tracked::constructed{ 0 };
std::atomic<int> Tracked::copied{ 0 };
std::atomic<int> Tracked::destroyed{ 0 };

typedef int (^int_block)(void);

/* ------------------------------------------------------------------ */

static void test_capture_cxx_object()
{
    test_start("capture_cxx_object", 10);
    int live0 = Tracked::live();
    {
        Tracked t(7);
        int copied0 = Tracked::copied.load();
        int_block b = ^{
            return t.value * 2;
        };
        int copied_by_literal = Tracked::copied.load() - copied0; /* the stack literal's own copy */
        CHECK(copied_by_literal == 1, "the block literal copy-constructed %d objects", copied_by_literal);
        t.value = 100;
        CHECK(b() == 14, "the stack block saw %d", b() / 2);

        int before = Tracked::copied.load();
        int_block h = Block_copy(b);
        CHECK(Tracked::copied.load() - before == 1, "Block_copy copy-constructed %d objects",
              Tracked::copied.load() - before);
        int_block h2 = Block_copy(h);
        CHECK(Tracked::copied.load() - before == 1, "copying the heap block copy-constructed again");
        CHECK(h() == 14 && h2() == 14, "the heap copy returned %d", h());
        int d0 = Tracked::destroyed.load();
        Block_release(h2);
        CHECK(Tracked::destroyed.load() == d0, "the first of two releases destroyed the captured object");
        Block_release(h);
        CHECK(Tracked::destroyed.load() == d0 + 1, "the last release destroyed %d objects",
              Tracked::destroyed.load() - d0);
    }
    CHECK(Tracked::live() == live0, "%d Tracked objects leaked or were destroyed twice", Tracked::live() - live0);
    ok("capture_cxx_object");
}

/* ------------------------------------------------------------------ */

static void test_async_cxx_object()
{
    test_start("async_cxx_object", 15);
    int live0 = Tracked::live();
    dispatch_queue_t q = dispatch_queue_create("test.cxx.async", DISPATCH_QUEUE_CONCURRENT);
    dispatch_group_t g = dispatch_group_create();
    static std::atomic<int> sum{ 0 };
    static std::atomic<int> on_main{ 0 };
    static std::atomic<int> runs{ 0 };
    static std::atomic<int> dead{ 0 };
    pid_t main_tid = my_tid();
    {
        for (int i = 1; i <= 20; i++) {
            Tracked t(i);
            int copied0 = Tracked::copied.load();
            dispatch_group_async(g, q, ^{
                if (t.magic != Tracked::MAGIC)
                    dead++;
                sum += t.value;
                runs++;
                if (my_tid() == main_tid)
                    on_main++;
            });
            /* one copy for the stack literal, one for the library's heap copy */
            CHECK(Tracked::copied.load() - copied0 == 2, "block %d: %d copy constructions, expected 2", i,
                  Tracked::copied.load() - copied0);
        }
        Tracked single(1000);
        int copied0 = Tracked::copied.load();
        dispatch_async(q, ^{
            if (single.magic != Tracked::MAGIC)
                dead++;
            sum += single.value;
            runs++;
        });
        CHECK(Tracked::copied.load() - copied0 == 2, "dispatch_async: %d copy constructions, expected 2",
              Tracked::copied.load() - copied0);
    }
    CHECK(dispatch_group_wait(g, in_ms(5000)) == 0, "the group did not empty");
    CHECK(eventually([] { return runs.load() == 21; }, 5000), "%d of 21 blocks ran", runs.load());
    CHECK(sum.load() == 210 + 1000, "sum %d, expected 1210", sum.load());
    CHECK(on_main.load() == 0, "%d blocks ran on the main thread", on_main.load());
    CHECK(dead.load() == 0, "%d blocks saw a destroyed captured object", dead.load());
    CHECK(eventually([live0] { return Tracked::live() == live0; }, 5000),
          "after every block finished %d captured objects are still alive (library copies not released)",
          Tracked::live() - live0);
    sleep_ms(20);
    CHECK(Tracked::live() == live0, "live objects %d after settling", Tracked::live() - live0);
    dispatch_release(g);
    dispatch_release(q);
    ok("async_cxx_object");
}

/* ------------------------------------------------------------------ */

static void test_byref_cxx_object()
{
    test_start("byref_cxx_object", 10);
    int live0 = Tracked::live();
    {
        __block Tracked t(1);
        void (^bump)(int) = ^(int d) {
            t.value += d;
        };
        bump(1);
        CHECK(t.value == 2, "the frame does not see the block's write (%d)", t.value);
        int copied0 = Tracked::copied.load();
        void (^h)(int) = Block_copy(bump);
        CHECK(Tracked::copied.load() - copied0 == 1, "moving the __block object to the heap copy-constructed %d",
              Tracked::copied.load() - copied0);
        h(10);
        CHECK(t.value == 12, "the frame does not see the heap copy's write (%d)", t.value);
        t.value = 50;
        h(1);
        bump(1);
        CHECK(t.value == 52, "frame/heap/stack do not share the object (%d)", t.value);
        void (^h2)(int) = Block_copy(bump);
        CHECK(Tracked::copied.load() - copied0 == 1, "a second copy copy-constructed the object again");
        Block_release(h);
        h2(3);
        CHECK(t.value == 55, "value %d after the first copy was released", t.value);
        Block_release(h2);
        CHECK(t.value == 55, "the object changed when the copies were released");
    }
    CHECK(Tracked::live() == live0, "%d __block objects leaked (or double destroyed)", Tracked::live() - live0);
    ok("byref_cxx_object");
}

/* ------------------------------------------------------------------ */

static void test_sync_std_string()
{
    test_start("sync_std_string", 10);
    dispatch_queue_t q = dispatch_queue_create("test.cxx.sync", nullptr);
    std::string s = "hello";
    __block std::string out;
    __block pid_t tid = 0;
    dispatch_sync(q, ^{
        out = s + " world";
        tid = my_tid();
    });
    s = "changed";
    CHECK(out == "hello world", "dispatch_sync produced \"%s\"", out.c_str());
    CHECK(tid == my_tid(), "dispatch_sync ran on another thread");

    /* the string is copied into an async block: the original may change or die */
    __block std::string async_out;
    dispatch_semaphore_t done = dispatch_semaphore_create(0);
    {
        std::string local(200, 'x');
        local += "!";
        dispatch_async(q, ^{
            async_out = local;
            dispatch_semaphore_signal(done);
        });
        local.assign("gone");
    }
    CHECK(dispatch_semaphore_wait(done, in_ms(5000)) == 0, "the async block did not run");
    CHECK(async_out.size() == 201 && async_out.back() == '!', "the async block saw a %zu-char string",
          async_out.size());

    std::vector<int> v(1000, 0);
    int *data = v.data();
    dispatch_apply(v.size(), dispatch_get_global_queue(QOS_CLASS_DEFAULT, 0), ^(size_t i) {
        data[i] += static_cast<int>(i) + 1;
    });
    for (size_t i = 0; i < v.size(); i++)
        CHECK(v[i] == static_cast<int>(i) + 1, "apply index %zu holds %d", i, v[i]);
    dispatch_release(done);
    dispatch_release(q);
    ok("sync_std_string");
}

/* ------------------------------------------------------------------ */

static void test_object_types()
{
    test_start("object_types", 10);
    dispatch_queue_t q = dispatch_queue_create("test.cxx.objects", nullptr);
    dispatch_group_t g = dispatch_group_create();
    dispatch_semaphore_t s = dispatch_semaphore_create(0);
    dispatch_object_t o = q; /* derived -> base conversion */
    int ctx = 5;
    dispatch_set_context(o, &ctx);
    CHECK(dispatch_get_context(q) == &ctx, "context set through dispatch_object_t not seen on the queue");
    dispatch_retain(q);
    dispatch_retain(g);
    dispatch_retain(s);
    dispatch_release(s);
    dispatch_release(g);
    dispatch_release(q);
    __block int ran = 0;
    dispatch_group_async(g, q, ^{
        ran = 1;
        dispatch_semaphore_signal(s);
    });
    CHECK(dispatch_semaphore_wait(s, in_ms(5000)) == 0, "the block did not run");
    CHECK(dispatch_group_wait(g, in_ms(5000)) == 0, "the group did not empty");
    CHECK(ran == 1, "ran %d", ran);
    dispatch_release(s);
    dispatch_release(g);
    dispatch_release(q);
    ok("object_types");
}

/* ------------------------------------------------------------------ */

static void test_block_object_cxx()
{
    test_start("block_object_cxx", 10);
    int live0 = Tracked::live();
    dispatch_queue_t q = dispatch_queue_create("test.cxx.blockobj", nullptr);
    __block int seen = 0;
    {
        Tracked t(33);
        dispatch_block_t b = dispatch_block_create(0, ^{
            seen = t.value;
        });
        CHECK(b != nullptr, "dispatch_block_create returned NULL");
        dispatch_async(q, b);
        CHECK(dispatch_block_wait(b, in_ms(5000)) == 0, "dispatch_block_wait did not return 0");
        CHECK(seen == 33, "the object saw %d", seen);
        Block_release(b);
    }
    dispatch_sync(q, ^{
    });
    CHECK(eventually([live0] { return Tracked::live() == live0; }, 5000),
          "%d captured objects alive after the block object was released", Tracked::live() - live0);
    dispatch_release(q);
    ok("block_object_cxx");
}

/* ------------------------------------------------------------------ */

int main()
{
    test_capture_cxx_object();
    test_async_cxx_object();
    test_byref_cxx_object();
    test_sync_std_string();
    test_object_types();
    test_block_object_cxx();
    std::printf("Tracked: constructed %d, destroyed %d\n", Tracked::constructed.load(), Tracked::destroyed.load());
    CHECK(Tracked::constructed.load() == Tracked::destroyed.load(), "constructed %d != destroyed %d",
          Tracked::constructed.load(), Tracked::destroyed.load());
    return 0;
}
