#!/usr/bin/env bash
# Every C and C++ snippet in README.md builds and runs, with the build commands the README
# gives for it. Prints "PASS/FAIL name" per build and ends with one line "N passed, N failed"
# (counted by tools/check.sh).
#
# The README's convention, which this script relies on:
#   - a fenced block opened with ```c or ```cpp is a complete program (`snippet N`);
#   - the ```sh block(s) after it, up to the next snippet, hold its build commands: every
#     line starting with cc, gcc, clang, g++ or clang++ and naming prog.c / prog.cpp. Each
#     such line is one check: it is run from the repository root with prog.c replaced by the
#     snippet and "-Wall -Wextra -Werror -o <exe>" appended, then the program is run (60 s
#     bound) and must exit with status 0;
#   - a snippet with no build command fails (every snippet is compiled).
# `pkg-config ... dispatch` resolves to a dispatch.pc describing this tree (include/ and
# target/release/, as `make install` would lay them out), so the commands a reader uses
# after `make install` are the ones checked; other modules (glib-2.0, libuv) are the
# system's.
set -u
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readme="$root/README.md"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() {
    echo "FAIL $1"
    sed 's/^/    /' "$tmp/log" | tail -n 20
    failed=$((failed + 1))
}

mkdir -p "$tmp/pc"
sed -e "s|@PREFIX@|$root|" -e 's|^libdir=.*|libdir=${prefix}/target/release|' \
    "$root/tools/dispatch.pc.in" >"$tmp/pc/dispatch.pc"
export PKG_CONFIG_PATH="$tmp/pc${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"

n=0           # snippets seen
state=text    # text | code | sh
src=""
cmds=()

finish_snippet() {
    [ "$n" -gt 0 ] || return 0
    local name="snippet $n (README.md line $start_line)"
    if [ "${#cmds[@]}" -eq 0 ]; then
        echo "no build command (a \`\`\`sh block with a cc/gcc/clang/g++/clang++ line naming prog.*) after it" >"$tmp/log"
        fail "$name"
        return
    fi
    local i=0 cmd exe
    for cmd in "${cmds[@]}"; do
        i=$((i + 1))
        exe="$tmp/prog$n.$i"
        : >"$tmp/log"
        # prog.c / prog.cpp -> the snippet's file
        cmd="$(sed -E "s#(^|[[:space:]])prog\.(c|cpp)([[:space:]]|$)#\1$src\3#" <<<"$cmd")"
        if ! (cd "$root" && bash -c "$cmd -Wall -Wextra -Werror -o '$exe'") >"$tmp/log" 2>&1; then
            echo "command: $cmd" >>"$tmp/log"
            fail "$name: build $i"
            continue
        fi
        if (cd "$tmp" && LD_LIBRARY_PATH="$root/target/release" timeout 60 "$exe") >"$tmp/log" 2>&1 </dev/null; then
            pass "$name: build $i ($(cut -c1-60 <<<"${cmds[$((i - 1))]}"))"
        else
            echo "exit status $? (command: $cmd)" >>"$tmp/log"
            fail "$name: build $i, run"
        fi
    done
}

line_no=0
while IFS= read -r line || [ -n "$line" ]; do
    line_no=$((line_no + 1))
    case "$state" in
    text)
        if [[ "$line" =~ ^\`\`\`(c|cpp)([[:space:]].*)?$ ]]; then
            finish_snippet
            n=$((n + 1))
            start_line=$line_no
            src="$tmp/prog$n.${BASH_REMATCH[1]}"
            : >"$src"
            cmds=()
            state=code
        elif [[ "$line" =~ ^\`\`\`(sh|bash|console)[[:space:]]*$ ]]; then
            state=sh
        elif [[ "$line" =~ ^\`\`\` ]]; then
            state=other
        fi
        ;;
    code)
        if [[ "$line" =~ ^\`\`\`[[:space:]]*$ ]]; then state=text; else printf '%s\n' "$line" >>"$src"; fi
        ;;
    sh)
        if [[ "$line" =~ ^\`\`\`[[:space:]]*$ ]]; then
            state=text
        elif [ "$n" -gt 0 ] && [[ "$line" =~ ^(cc|gcc|clang|g\+\+|clang\+\+)[[:space:]] ]] &&
            [[ "$line" =~ (^|[[:space:]])prog\.(c|cpp)([[:space:]]|$) ]]; then
            cmds+=("${line%%#*}") # drop a trailing shell comment
        fi
        ;;
    other)
        [[ "$line" =~ ^\`\`\`[[:space:]]*$ ]] && state=text
        ;;
    esac
done <"$readme"
finish_snippet
[ "$n" -gt 0 ] || { echo "no snippet found" >"$tmp/log"; fail "README.md"; }

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
