#!/usr/bin/env python3
"""Instructions per operation on the hot paths, counted by callgrind (`make bench-instr`).

For each operation, bench/instr.c runs under `valgrind --tool=callgrind` with N and with 2N
operations. Everything else the program does (start-up, set-up, warm-up, waiting until
the work has finished, exit) is the same in both runs, so

    instructions per operation = (Ir(2N) - Ir(N)) / N

where Ir is the total over every thread of the process (callgrind counts them all): for
dispatch_async_f the worker that runs and frees the item is included. Each size runs REPS
times and the medians are used; the range of the per-pair figures is printed next to it,
because the asynchronous paths depend on how producer and workers interleave (glibc's malloc
takes a different path when the worker, not the producer, freed the previous items).

Each line compares the figure with the budget of issue 12. The callgrind files of the median
runs and a profile per operation (the functions that gain the most Ir per operation between
N and 2N, inclusive and self; inlined code counts for the function it was inlined into) are
written to OUTDIR; `callgrind_annotate OUTDIR/OP.2N.out` shows more.
"""
import argparse
import collections
import os
import re
import shutil
import statistics
import subprocess
import sys

# operation -> budget (instructions per operation, issue 12)
BUDGETS = {
    "sync_serial": 60,
    "sync_concurrent": 70,
    "async_serial": 150,
    "group_async_global": 250,
    "group_enter_leave": 25,
    "semaphore_signal_wait": 30,
    "queue_create_release": 400,
}


def callgrind(binary, op, n, out):
    """Runs one operation count under callgrind; returns the total Ir of the run."""
    cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out, binary, op, str(n)]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        sys.exit("bench-instr: %s failed (exit %d):\n%s" % (" ".join(cmd), r.returncode, r.stderr))
    with open(out) as f:
        for line in f:
            if line.startswith("totals:") or line.startswith("summary:"):
                return int(line.split()[1])
    sys.exit("bench-instr: no totals in " + out)


def functions(path):
    """(self, inclusive) Ir per function, read from a callgrind file.

    Self cost is every cost line under the function, whatever source file the line came
    from (inlined code counts for the function it was inlined into); inclusive adds the
    cost of its calls, except direct recursion."""
    ids = {}  # "(id)" -> name; fn= and cfn= share one table, as the format says

    def name(value):
        m = re.match(r"^\((\d+)\)\s*(.*)$", value)
        if not m:
            return value
        if m.group(2):
            ids[m.group(1)] = m.group(2)
        return ids.get(m.group(1), value)

    own, calls = collections.Counter(), collections.Counter()
    fn = callee = None
    in_call = False
    with open(path) as f:
        for line in f:
            if line.startswith("fn="):
                fn = name(line[3:].strip())
            elif line.startswith("cfn="):
                callee = name(line[4:].strip())
            elif line.startswith("calls="):
                in_call = True
            elif fn is not None and line[:1] in "0123456789+-*":
                parts = line.split()
                cost = int(parts[1]) if len(parts) > 1 else 0
                if in_call:
                    if callee != fn:
                        calls[fn] += cost
                    in_call = False
                else:
                    own[fn] += cost
    inclusive = collections.Counter({k: own[k] + calls[k] for k in set(own) | set(calls)})
    return own, inclusive


# Frames that only say "the program" or "a thread": their inclusive cost is everything.
ROOTS = re.compile(r"^(main|\(below main\)|__libc_start_main.*|__libc_start_call_main|start_thread"
                   r"|clone3?|0x[0-9a-f]+)$")


def profile(small, large, n, top):
    """Lines naming the functions that gain the most Ir per operation from N to 2N."""
    (a_self, a_incl), (b_self, b_incl) = functions(small), functions(large)
    lines = []
    for label, a, b in (("inclusive", a_incl, b_incl), ("self", a_self, b_self)):
        per_op = {k: (b.get(k, 0) - a.get(k, 0)) / n for k in set(a) | set(b) if not ROOTS.match(k)}
        best = sorted(per_op.items(), key=lambda kv: -kv[1])[:top]
        lines.append("  %s:" % label)
        lines += ["    %8.1f  %s" % (v, k) for k, v in best if v >= 0.5]
    return lines


def library(binary):
    r = subprocess.run(["ldd", binary], stdout=subprocess.PIPE, text=True)
    for line in r.stdout.splitlines():
        if "libdispatch" in line:
            return line.split("=>")[-1].split("(")[0].strip()
    return "?"


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--binary", default="target/bench/instr")
    p.add_argument("--n", type=int, default=50000, help="operations in the smaller run")
    p.add_argument("--reps", type=int, default=5, help="runs of each size")
    p.add_argument("--max-reps", type=int, default=15,
                   help="runs of each size when the pairs of the first REPS differ by more than 4%%")
    p.add_argument("--outdir", default="target/bench/instr-out")
    p.add_argument("--top", type=int, default=10, help="functions per profile")
    p.add_argument("ops", nargs="*", default=list(BUDGETS))
    args = p.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("bench-instr: valgrind not found: apt-get install valgrind")
    for op in args.ops:
        if op not in BUDGETS:
            sys.exit("bench-instr: unknown operation %s (one of %s)" % (op, ", ".join(BUDGETS)))
    os.makedirs(args.outdir, exist_ok=True)
    n = args.n
    print("# library: %s" % library(args.binary))
    print("# Ir per operation = (Ir(2N) - Ir(N)) / N, all threads; N = %d; medians of %d runs"
          " per size (%d if the pairs differ by more than 4%%); range over the pairs"
          % (n, args.reps, args.max_reps))
    met = missed = 0
    notes = []
    for op in args.ops:
        runs = {n: [], 2 * n: []}
        while True:
            for size in (n, 2 * n):
                i = len(runs[size])
                out = os.path.join(args.outdir, "%s.%d.%d.out" % (op, size, i))
                runs[size].append((callgrind(args.binary, op, size, out), out))
            small = [ir for ir, _ in runs[n]]
            large = [ir for ir, _ in runs[2 * n]]
            per_op = (statistics.median(large) - statistics.median(small)) / n
            pairs = [(b - a) / n for a, b in zip(small, large)]
            done = len(pairs) >= args.reps and (
                max(pairs) - min(pairs) <= 0.04 * per_op or len(pairs) >= args.max_reps)
            if done:
                break
        budget = BUDGETS[op]
        ok = per_op <= budget
        met, missed = met + ok, missed + (not ok)
        print("%-22s %7.1f Ir/op  (%2d pairs: %.1f-%.1f)  budget <= %d: %s"
              % (op, per_op, len(pairs), min(pairs), max(pairs), budget, "met" if ok else "not met"))
        # keep the median runs, named by size, for the profile and callgrind_annotate
        kept = []
        for size, values in ((n, small), (2 * n, large)):
            med = sorted(runs[size])[len(values) // 2][1]  # the median run (or next above)
            dest = os.path.join(args.outdir, "%s.%d.out" % (op, size))
            os.replace(med, dest)
            kept.append(dest)
            for _, out in runs[size]:
                if os.path.exists(out):
                    os.remove(out)
        notes.append("%s (%.1f Ir/op):" % (op, per_op))
        notes += profile(kept[0], kept[1], n, args.top)
    path = os.path.join(args.outdir, "profile.txt")
    with open(path, "w") as f:
        f.write("Ir per operation by function, median runs of N = %d and 2N\n" % n)
        f.write("\n".join(notes) + "\n")
    print("# profiles (Ir/op by function): %s" % path)
    print("# budgets: %d met, %d not met" % (met, missed))
    return 0  # like `make bench`: a missed budget is a finding, not a failed run


if __name__ == "__main__":
    sys.exit(main())
