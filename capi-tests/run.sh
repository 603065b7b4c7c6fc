#!/usr/bin/env bash
# Builds and runs the C API tests against the library.
#
# Usage, from the repository root:  capi-tests/run.sh [LIBDIR]
#   LIBDIR  directory holding libdispatch.so (default: target/release of this repository)
#
# Every capi-tests/test_*.c is compiled into target/capi-tests/ and run with a 60 s
# timeout: test_block*.c with clang -fblocks, test_*.cpp with clang++ -fblocks, the rest
# with gcc. A source may name libraries to link before or after -ldispatch in comment lines
# "capi-libs-before: -lfoo" / "capi-libs-after: -lfoo" (the Blocks-runtime interop tests),
# and pkg-config modules whose --cflags --libs it is built with in a line
# "capi-pkg-config: glib-2.0" (the foreign event loop tests; a missing module is a compile
# failure: .ci/run installs them). Prints "PASS name" or "FAIL name" (with the last 20 lines of its output) per
# program, then one line "N passed, N failed". A compile failure counts as a failure.
# Exit status: 0 only if every program passed.
set -u

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"

# LIBDIR is taken relative to the directory run.sh was started from
libdir="${1:-$root/target/release}"
if [ ! -d "$libdir" ] || [ ! -e "$libdir/libdispatch.so" ]; then
    echo "libdispatch.so not found in: $libdir (build it with: make build)" >&2
    echo "0 passed, 1 failed"
    exit 1
fi
abs_libdir="$(cd "$libdir" && pwd)"
cd "$root" || exit 2
outdir="$root/target/capi-tests"
mkdir -p "$outdir"

CC="${CC:-gcc}"
CFLAGS=(-std=gnu11 -O1 -g -Wall -Wextra -Werror -pthread -I"$root/include")
BLOCKS_CFLAGS=(-std=gnu11 -fblocks -O1 -g -Wall -Wextra -Werror -pthread -I"$root/include")
CXXFLAGS=(-std=c++17 -fblocks -O1 -g -Wall -Wextra -Werror -pthread -I"$root/include")

passed=0
failed=0
failed_names=()

shopt -s nullglob
sources=("$here"/test_*.c "$here"/test_*.cpp)
if [ "${#sources[@]}" -eq 0 ]; then
    echo "no tests found in $here" >&2
    echo "0 passed, 1 failed"
    exit 1
fi

for src in "${sources[@]}"; do
    name="$(basename "$src")"
    name="${name%.*}"
    exe="$outdir/$name"
    log="$outdir/$name.log"
    case "$src" in
    *.cpp) compile=(clang++ "${CXXFLAGS[@]}") ;;
    */test_block*.c) compile=(clang "${BLOCKS_CFLAGS[@]}") ;;
    *) compile=("$CC" "${CFLAGS[@]}") ;;
    esac
    # shellcheck disable=SC2207 # word splitting of the directive is intended
    before=($(sed -n 's/.*capi-libs-before: *//p' "$src"))
    # shellcheck disable=SC2207
    after=($(sed -n 's/.*capi-libs-after: *//p' "$src"))
    ldflags=(-L"$abs_libdir" "${before[@]}" -ldispatch "${after[@]}" -Wl,-rpath,"$abs_libdir")
    pkgs="$(sed -n '/capi-pkg-config: /{s/.*capi-pkg-config: *//;s/ *\*\/.*//;p;}' "$src")"
    pkgflags=()
    # shellcheck disable=SC2207 # word splitting of pkg-config's output is intended
    [ -z "$pkgs" ] || pkgflags=($(pkg-config --cflags --libs $pkgs 2>"$log")) || {
        echo "FAIL $name (pkg-config $pkgs: install libglib2.0-dev libuv1-dev)"
        failed=$((failed + 1))
        failed_names+=("$name")
        continue
    }
    if ! "${compile[@]}" -o "$exe" "$src" "${ldflags[@]}" "${pkgflags[@]}" >"$log" 2>&1; then
        echo "FAIL $name (compile)"
        tail -n 20 "$log" | sed 's/^/    /'
        failed=$((failed + 1))
        failed_names+=("$name")
        continue
    fi
    timeout 60 "$exe" >"$log" 2>&1 </dev/null
    rc=$?
    if [ "$rc" -eq 0 ]; then
        echo "PASS $name"
        passed=$((passed + 1))
    else
        if [ "$rc" -eq 124 ]; then
            echo "FAIL $name (timed out after 60 s)"
        elif [ "$rc" -gt 128 ]; then
            echo "FAIL $name (killed by signal $((rc - 128)))"
        else
            echo "FAIL $name (exit status $rc)"
        fi
        tail -n 20 "$log" | sed 's/^/    /'
        failed=$((failed + 1))
        failed_names+=("$name")
    fi
done

if [ "$failed" -gt 0 ]; then
    echo "failed: ${failed_names[*]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
