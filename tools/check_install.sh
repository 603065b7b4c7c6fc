#!/usr/bin/env bash
# Packaging test: what `make install` puts is enough to build and run programs with
# pkg-config alone. Prints "PASS/FAIL name" per check and ends with one line
# "N passed, N failed" (counted by tools/check.sh).
#
#   install            `make install PREFIX=<tmp>` into an empty temporary prefix (the library
#                      is already built: make's `build` step is a no-op cargo check) installs
#                      libdispatch.so, libdispatch.a, every header, Block.h and dispatch.pc.
#   pc                 with PKG_CONFIG_PATH=<tmp>/lib/pkgconfig only, `pkg-config dispatch`
#                      points into the prefix and --static adds Libs.private.
#   c-dynamic          a C program (function API) built with
#                      `gcc prog.c $(pkg-config --cflags --libs dispatch)` against the prefix
#                      alone (compiled outside the source tree, no -I/-L of ours) loads
#                      libdispatch.so from the prefix (ldd, LD_LIBRARY_PATH=<tmp>/lib: pkg-config
#                      adds no rpath) and prints the expected result.
#   blocks-dynamic     the same for a blocks program (clang -fblocks; Block_copy/Block_release
#                      of a block that captures a __block variable). Every build checks with
#                      -M that dispatch.h and Block.h were read from the prefix (Debian's
#                      libblocksruntime-dev has a /usr/include/Block.h that must not count).
#   c-static           the C program linked against libdispatch.a with
#                      `pkg-config --static --libs dispatch` (-ldispatch as -l:libdispatch.a):
#                      no DT_NEEDED on libdispatch.so, runs with no library path set.
#   blocks-static      the same for the blocks program.
#   uninstall          `make uninstall` with the same PREFIX removes every file install put
#                      and the include/dispatch directories, and leaves a file it did not
#                      install (in lib/ and include/) alone; a DESTDIR install+uninstall
#                      round trip leaves no file behind either.
set -u
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
prefix="$tmp/prefix"
passed=0
failed=0
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() {
    echo "FAIL $1"
    [ -s "$tmp/log" ] && sed 's/^/    /' "$tmp/log" | tail -n 20
    failed=$((failed + 1))
}

# pkg-config sees the temporary prefix only: no system dispatch.pc can stand in for ours.
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
export PKG_CONFIG_LIBDIR="$prefix/lib/pkgconfig"
unset LD_LIBRARY_PATH

cat >"$tmp/prog.c" <<'EOF'
#include <dispatch/dispatch.h>
#include <stdio.h>

static long total;
static void add(void *ctx) { total += (long)(intptr_t)ctx; }
static void square(void *ctx, size_t i) { ((long *)ctx)[i] = (long)(i * i); }

int main(void)
{
    dispatch_queue_t q = dispatch_queue_create("pkg.test", DISPATCH_QUEUE_SERIAL);
    for (long i = 1; i <= 100; i++)
        dispatch_async_f(q, (void *)(intptr_t)i, add);
    long squares[10];
    dispatch_apply_f(10, DISPATCH_APPLY_AUTO, squares, square);
    dispatch_sync_f(q, NULL, add);
    dispatch_release(q);
    printf("total=%ld squares[9]=%ld\n", total, squares[9]);
    return total == 5050 && squares[9] == 81 ? 0 : 1;
}
EOF
cat >"$tmp/blocks.c" <<'EOF'
#include <Block.h>
#include <dispatch/dispatch.h>
#include <stdio.h>

int main(void)
{
    dispatch_queue_t q = dispatch_queue_create("pkg.blocks", DISPATCH_QUEUE_SERIAL);
    __block long total = 0;
    void (^add)(long) = Block_copy(^(long n) { total += n; });
    for (long i = 1; i <= 100; i++)
        dispatch_async(q, ^{ add(i); });
    dispatch_group_t g = dispatch_group_create();
    dispatch_group_async(g, dispatch_get_global_queue(QOS_CLASS_DEFAULT, 0), ^{
        dispatch_sync(q, ^{ total *= 2; });
    });
    dispatch_group_wait(g, DISPATCH_TIME_FOREVER);
    dispatch_sync(q, ^{});
    Block_release(add);
    dispatch_release(g);
    dispatch_release(q);
    printf("total=%ld\n", total);
    return total == 10100 ? 0 : 1;
}
EOF
expect_c="total=5050 squares[9]=81"
expect_blocks="total=10100"

# ---- install ----
if make -s -C "$root" install PREFIX="$prefix" >"$tmp/log" 2>&1; then
    missing=""
    for f in lib/libdispatch.so lib/libdispatch.a lib/pkgconfig/dispatch.pc include/Block.h \
        include/dispatch/dispatch.h include/dispatch/generated/functions.h; do
        [ -f "$prefix/$f" ] || missing="$missing $f"
    done
    for h in "$root"/include/dispatch/*.h; do
        [ -f "$prefix/include/dispatch/$(basename "$h")" ] || missing="$missing include/dispatch/$(basename "$h")"
    done
    if [ -z "$missing" ]; then pass install; else echo "missing:$missing" >"$tmp/log"; fail install; fi
else
    fail install
fi

# ---- pc ----
# (echo $(...) drops pkg-config's trailing blank)
# shellcheck disable=SC2046,SC2005
cflags="$(echo $(pkg-config --cflags dispatch 2>"$tmp/log"))"
# shellcheck disable=SC2046,SC2005
libs="$(echo $(pkg-config --libs dispatch 2>>"$tmp/log"))"
# shellcheck disable=SC2046,SC2005
static_libs="$(echo $(pkg-config --static --libs dispatch 2>>"$tmp/log"))"
if [ "$cflags" = "-I$prefix/include" ] && [ "$libs" = "-L$prefix/lib -ldispatch" ] &&
    [[ "$static_libs" == "-L$prefix/lib -ldispatch "*-lpthread* ]]; then
    pass pc
else
    echo "cflags=[$cflags] libs=[$libs] static=[$static_libs]" >>"$tmp/log"
    fail pc
fi

# Builds $2 (C source) with compiler $3 into $1, flags from pkg-config only; then runs it
# with the given environment and compares its output.
# The tree's own include/ must not be found: compile from an empty directory, no -I of ours.
build_and_run() {
    local name="$1" src="$2" cc="$3" link="$4" expect="$5"
    local exe="$tmp/$name"
    : >"$tmp/log"
    # shellcheck disable=SC2086 # pkg-config output is a list of words
    if ! (cd "$tmp" && $cc -std=gnu11 -Wall -Wextra -Werror -pthread $cflags "$src" -o "$exe" $link) >"$tmp/log" 2>&1; then
        fail "$name (compile)"
        return
    fi
    # Headers come from the prefix, Block.h included (a system one, e.g. libblocksruntime-dev's,
    # must not be what makes the blocks program build).
    local deps
    # shellcheck disable=SC2086
    deps="$(cd "$tmp" && $cc $cflags -M "$src" 2>&1)"
    if ! grep -q "$prefix/include/dispatch/dispatch.h" <<<"$deps" ||
        { grep -q 'Block.h' <<<"$deps" && ! grep -q "$prefix/include/Block.h" <<<"$deps"; }; then
        echo "$deps" >>"$tmp/log"
        fail "$name (headers not from the prefix)"
        return
    fi
    local out
    if [ "$link" = "$libs" ]; then
        # Dynamic: the loader finds the prefix's libdispatch.so (the prefix is not on any
        # default path, pkg-config does not add an rpath).
        if ! LD_LIBRARY_PATH="$prefix/lib" ldd "$exe" 2>&1 | tee -a "$tmp/log" |
            grep -q "libdispatch.so => $prefix/lib/libdispatch.so"; then
            fail "$name (does not load the prefix's libdispatch.so)"
            return
        fi
        out="$(LD_LIBRARY_PATH="$prefix/lib" timeout 30 "$exe" 2>>"$tmp/log")"
    else
        if readelf -d "$exe" | grep -q 'NEEDED.*libdispatch'; then
            readelf -d "$exe" >>"$tmp/log"
            fail "$name (still needs libdispatch.so)"
            return
        fi
        out="$(timeout 30 "$exe" 2>>"$tmp/log")"
    fi
    local rc=$?
    if [ "$rc" -eq 0 ] && [ "$out" = "$expect" ]; then
        pass "$name"
    else
        echo "exit $rc, output [$out], want [$expect]" >>"$tmp/log"
        fail "$name"
    fi
}

# Static: the same pkg-config flags, with the archive named explicitly, since both
# libdispatch.so and libdispatch.a sit in libdir and -ldispatch would take the .so.
static_link="${static_libs/-ldispatch/-l:libdispatch.a}"
build_and_run c-dynamic "$tmp/prog.c" gcc "$libs" "$expect_c"
build_and_run c-static "$tmp/prog.c" gcc "$static_link" "$expect_c"
if command -v clang >/dev/null; then
    build_and_run blocks-dynamic "$tmp/blocks.c" "clang -fblocks" "$libs" "$expect_blocks"
    build_and_run blocks-static "$tmp/blocks.c" "clang -fblocks" "$static_link" "$expect_blocks"
else
    echo "clang not installed" >"$tmp/log"
    fail "blocks-dynamic"
    fail "blocks-static"
fi

# ---- uninstall ----
: >"$tmp/log"
echo keep >"$prefix/lib/other.txt"
echo keep >"$prefix/include/other.h"
ok=1
make -s -C "$root" uninstall PREFIX="$prefix" >>"$tmp/log" 2>&1 || ok=0
left="$(cd "$prefix" && find . -type f ! -name other.txt ! -name other.h | sort)"
[ -z "$left" ] || { echo "left behind: $left" >>"$tmp/log"; ok=0; }
[ -f "$prefix/lib/other.txt" ] && [ -f "$prefix/include/other.h" ] || { echo "removed a file it did not install" >>"$tmp/log"; ok=0; }
[ ! -e "$prefix/include/dispatch" ] || { echo "include/dispatch left behind" >>"$tmp/log"; ok=0; }
stage="$tmp/stage"
make -s -C "$root" install DESTDIR="$stage" PREFIX=/usr/local >>"$tmp/log" 2>&1 || ok=0
grep -q '^prefix=/usr/local$' "$stage/usr/local/lib/pkgconfig/dispatch.pc" 2>/dev/null || { echo "DESTDIR: dispatch.pc prefix is not PREFIX" >>"$tmp/log"; ok=0; }
make -s -C "$root" uninstall DESTDIR="$stage" PREFIX=/usr/local >>"$tmp/log" 2>&1 || ok=0
left="$(find "$stage" -type f)"
[ -z "$left" ] || { echo "DESTDIR: left behind: $left" >>"$tmp/log"; ok=0; }
if [ "$ok" -eq 1 ]; then pass uninstall; else fail uninstall; fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
