#!/usr/bin/env python3
"""Compares what two header trees give a program, modulo order.

Usage: tools/header_diff.py OLD_INCLUDE_DIR NEW_INCLUDE_DIR [HEADER...]

For each HEADER (default dispatch/dispatch.h and dispatch/private.h) and each compiler
mode (C99, GNU C11, clang -fblocks, C++17, clang++ -fblocks), preprocesses a file that
includes it against either tree and prints the difference of
  - the macros defined at the end (`-E -dM`: name and replacement text), and
  - the top-level declarations and definitions (`-E -P`, split at top-level `;` and at
    the `}` that closes a function body, whitespace collapsed, `extern "C" {` unwrapped),
both as sorted multisets. Exit status 0 when every difference is an include guard
(a macro named __DISPATCH_*__ with an empty value) and 1 otherwise.
"""
import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile

MODES = [
    ("c99", ["gcc", "-std=c99"]),
    ("gnu11", ["gcc", "-std=gnu11"]),
    ("clang-blocks", ["clang", "-std=gnu11", "-fblocks"]),
    ("c++17", ["g++", "-std=c++17", "-x", "c++"]),
    ("clang++-blocks", ["clang++", "-std=c++17", "-fblocks", "-x", "c++"]),
]
GUARD = re.compile(r"^__DISPATCH_[A-Z_]+__ $")


def run(cmd):
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def macros(cc, inc, src):
    out = run(cc + ["-E", "-dM", "-I", inc, src])
    return collections.Counter(l[len("#define "):] for l in out.splitlines() if l.startswith("#define "))


def declarations(cc, inc, src):
    text = run(cc + ["-E", "-P", "-I", inc, src])
    text = re.sub(r"\s+", " ", text)
    decls, cur, depth, externc = [], [], 0, []
    i = 0
    while i < len(text):
        if text.startswith('extern "C" {', i) and depth == len(externc) and not "".join(cur).strip():
            externc.append(depth)
            depth += 1
            i += len('extern "C" {')
            continue
        c = text[i]
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if externc and externc[-1] == depth:
                externc.pop()
                i += 1
                continue
        cur.append(c)
        top = len(externc)
        if depth == top and c == ";":
            decls.append("".join(cur).strip())
            cur = []
        elif depth == top and c == "}":
            # a function body ends here; a struct/union body is followed by a declarator and `;`
            rest = text[i + 1:].lstrip()
            if not re.match(r"[A-Za-z_*;(]|__attribute__", rest) or rest.startswith("static") \
                    or rest.startswith("typedef") or rest.startswith("extern"):
                decls.append("".join(cur).strip())
                cur = []
        i += 1
    if "".join(cur).strip():
        decls.append("".join(cur).strip())
    return collections.Counter(d for d in decls if d)


def show(kind, old, new):
    lines = []
    for d in sorted((old - new).elements()):
        lines.append(f"  - {kind}: {d}")
    for d in sorted((new - old).elements()):
        lines.append(f"  + {kind}: {d}")
    return lines


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    old_inc, new_inc = sys.argv[1], sys.argv[2]
    headers = sys.argv[3:] or ["dispatch/dispatch.h", "dispatch/private.h"]
    tmp = tempfile.mkdtemp()
    bad = False
    try:
        for header in headers:
            src = os.path.join(tmp, "t.c")
            with open(src, "w") as f:
                f.write(f"#include <{header}>\n")
            for name, cc in MODES:
                if shutil.which(cc[0]) is None:
                    print(f"{header} [{name}]: skipped ({cc[0]} not found)")
                    continue
                mo, mn = macros(cc, old_inc, src), macros(cc, new_inc, src)
                do, dn = declarations(cc, old_inc, src), declarations(cc, new_inc, src)
                lines = show("macro", mo, mn) + show("decl", do, dn)
                real = [l for l in lines if not (l.startswith("  + macro: ") and GUARD.match(l[len("  + macro: "):]))
                        and not (l.startswith("  - macro: ") and GUARD.match(l[len("  - macro: "):]))]
                print(f"{header} [{name}]: {len(mn)} macros, {sum(dn.values())} declarations; "
                      f"{len(lines) - len(real)} include-guard lines differ, {len(real)} other lines differ")
                for l in lines:
                    print(l)
                bad = bad or bool(real)
    finally:
        shutil.rmtree(tmp)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
