#!/usr/bin/env bash
# Checks the public headers as users include them. Prints "PASS/FAIL name" per check and
# ends with one line "N passed, N failed" (counted by tools/check.sh).
#
#  1. Self-sufficiency: every header in include/dispatch/ (the topic headers, dispatch.h,
#     private.h and the generated prototypes), included ALONE, compiles in a translation
#     unit that uses its topic's API (types, constants, macros, inline functions, one
#     function), as C99, C11, C++11 and C++17 with gcc/g++, and with clang/clang++
#     (-fblocks, where the block half of the API is used too), with -Wall -Wextra -Werror;
#     the header alone (no use) also with -pedantic. (Uses are not -pedantic: passing an
#     object to a dispatch_object_t parameter is a GNU transparent union conversion, which
#     ISO C -pedantic reports, as with the reference headers.)
#  2. C where C belongs: the generated file (include/dispatch/generated/functions.h) holds
#     prototypes only: no typedef, no #define other than its include guard, no inline
#     function; types, macros and inline code are in the hand-written topic headers.
#
# Usage, from anywhere:  tools/check_headers.sh
set -u
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
inc="$root/include"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0

pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); }

# What each header must provide on its own: a C/C++ statement list using its API, and one
# more under __BLOCKS__.
use_of() {
    case "$1" in
    base.h) echo 'dispatch_function_t f = 0; (void)f;' ;;
    object.h) echo 'void (*r)(dispatch_object_t) = dispatch_retain; (void)r; dispatch_set_context(dispatch_get_current_queue(), 0);' ;;
    time.h) echo 'dispatch_time_t t = dispatch_time(DISPATCH_TIME_NOW, (int64_t)NSEC_PER_SEC); (void)t; (void)DISPATCH_TIME_FOREVER;' ;;
    queue.h) echo 'dispatch_queue_t q = dispatch_get_main_queue(); dispatch_queue_attr_t a = DISPATCH_QUEUE_CONCURRENT; (void)a; (void)DISPATCH_QUEUE_SERIAL; (void)DISPATCH_QUEUE_PRIORITY_BACKGROUND; (void)QOS_CLASS_UTILITY; dispatch_async_f(q, 0, 0);' ;;
    group.h) echo 'dispatch_group_t g = dispatch_group_create(); dispatch_group_wait(g, DISPATCH_TIME_FOREVER); dispatch_release(g);' ;;
    semaphore.h) echo 'dispatch_semaphore_t s = dispatch_semaphore_create(0); dispatch_semaphore_signal(s); dispatch_release(s);' ;;
    once.h) echo 'static dispatch_once_t pred; dispatch_once_f(&pred, 0, 0);' ;;
    source.h) echo 'dispatch_source_t s = dispatch_source_create(DISPATCH_SOURCE_TYPE_TIMER, 0, DISPATCH_TIMER_STRICT, 0); dispatch_source_cancel(s); (void)DISPATCH_VNODE_FUNLOCK; (void)DISPATCH_PROC_EXIT;' ;;
    data.h) echo 'dispatch_data_t d = dispatch_data_empty; (void)dispatch_data_get_size(d); const void *f = (const void *)DISPATCH_DATA_DESTRUCTOR_FREE; (void)f;' ;;
    io.h) echo 'dispatch_io_t c = dispatch_io_create_f(DISPATCH_IO_STREAM, (dispatch_fd_t)0, 0, 0, 0); dispatch_io_close(c, DISPATCH_IO_STOP);' ;;
    block.h) echo 'dispatch_block_flags_t f = DISPATCH_BLOCK_BARRIER | DISPATCH_BLOCK_ENFORCE_QOS_CLASS; (void)f;' ;;
    workloop.h) echo 'dispatch_workloop_t w = dispatch_workloop_create("w"); dispatch_queue_t q = w; dispatch_activate(q);' ;;
    dispatch.h) echo 'dispatch_queue_t q = dispatch_queue_create("q", DISPATCH_QUEUE_SERIAL); dispatch_sync_f(q, 0, 0); dispatch_release(q); (void)DISPATCH_API_VERSION;' ;;
    private.h) echo 'dispatch_queue_t q = dispatch_get_global_queue(0, DISPATCH_QUEUE_OVERCOMMIT); (void)q; (void)DISPATCH_DATA_FORMAT_TYPE_BASE64;' ;;
    functions.h) echo 'dispatch_queue_t q = dispatch_get_main_queue(); dispatch_async_f(q, 0, 0);' ;;
    *) echo ';' ;;
    esac
}

use_of_blocks() {
    case "$1" in
    object.h) echo 'dispatch_block_t b = ^{}; (void)b;' ;;
    queue.h | dispatch.h | private.h | workloop.h | functions.h) echo 'dispatch_async(dispatch_get_main_queue(), ^{}); dispatch_apply(1, DISPATCH_APPLY_AUTO, ^(size_t i) { (void)i; });' ;;
    once.h) echo 'static dispatch_once_t pred2; dispatch_once(&pred2, ^{});' ;;
    data.h) echo 'dispatch_data_t d = dispatch_data_create("x", 1, 0, DISPATCH_DATA_DESTRUCTOR_DEFAULT); dispatch_data_apply(d, ^bool(dispatch_data_t r, size_t o, const void *b, size_t s) { (void)r; (void)o; (void)b; (void)s; return true; });' ;;
    block.h) echo 'dispatch_block_t b = dispatch_block_create(DISPATCH_BLOCK_DETACHED, ^{}); dispatch_block_cancel(b);' ;;
    source.h) echo 'dispatch_source_t s = dispatch_source_create(DISPATCH_SOURCE_TYPE_DATA_ADD, 0, 0, 0); dispatch_source_set_event_handler(s, ^{});' ;;
    io.h) echo 'dispatch_read(0, 1, 0, ^(dispatch_data_t d, int e) { (void)d; (void)e; });' ;;
    *) echo ';' ;;
    esac
}

modes=(
    "gcc -std=c99" "gcc -std=c11"
    "g++ -x c++ -std=c++11" "g++ -x c++ -std=c++17"
    "clang -std=c99" "clang -std=c11 -fblocks"
    "clang++ -x c++ -std=c++11 -fblocks" "clang++ -x c++ -std=c++17 -fblocks"
)

headers=()
shopt -s nullglob
for h in "$inc"/dispatch/*.h "$inc"/dispatch/generated/*.h; do headers+=("${h#"$inc"/}"); done

for mode in "${modes[@]}"; do
    read -r -a cc <<<"$mode"
    if ! command -v "${cc[0]}" >/dev/null; then
        echo "skip $mode (${cc[0]} not installed)"
        continue
    fi
    for header in "${headers[@]}"; do
        base="$(basename "$header")"
        src="$tmp/t.c"
        {
            echo "#include <$header>"
            echo "static void use(void) { $(use_of "$base") }"
            echo "#ifdef __BLOCKS__"
            echo "static void use_blocks(void) { $(use_of_blocks "$base") }"
            echo "#endif"
            echo "int main(void) {"
            echo "    use();"
            echo "#ifdef __BLOCKS__"
            echo "    use_blocks();"
            echo "#endif"
            echo "    return 0;"
            echo "}"
        } >"$src"
        echo "#include <$header>" >"$tmp/alone.c"
        echo "int main(void) { return 0; }" >>"$tmp/alone.c"
        name="$header [$mode]"
        if "${cc[@]}" -Wall -Wextra -Werror -pedantic -I"$inc" -fsyntax-only "$tmp/alone.c" >"$tmp/log" 2>&1 &&
            "${cc[@]}" -Wall -Wextra -Werror -I"$inc" -fsyntax-only "$src" >"$tmp/log" 2>&1; then
            pass "$name"
        else
            fail "$name"
            sed 's/^/    /' "$tmp/log" | head -n 20
            sed 's/^/    | /' "$src"
        fi
    done
done

generated="$inc/dispatch/generated/functions.h"
offending="$([ -f "$generated" ] || echo "missing: $generated"; grep -nE '^[[:space:]]*(typedef|#[[:space:]]*define|static|DISPATCH_INLINE)' "$generated" |
    grep -v '#define __DISPATCH_GENERATED_FUNCTIONS__$')"
if [ -z "$offending" ]; then
    pass "generated/functions.h holds prototypes only"
else
    fail "generated/functions.h holds prototypes only (hand-written C belongs in the topic headers):"
    echo "$offending" | sed 's/^/    /' | head -n 20
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
