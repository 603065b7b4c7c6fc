#!/usr/bin/env bash
# Runs every test suite and ends with one line: "total: N passed, N failed".
# Cargo's "test result" lines count tests; the C runner counts programs.
set -u
cd "$(dirname "$0")/.."
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT
status=0

echo "== lint (cargo fmt --check, cargo clippy -D warnings)"
cargo fmt --check >/dev/null 2>&1 || { echo "cargo fmt --check: the tree is not formatted"; status=1; }
cargo clippy --release --all-targets -q -- -D warnings 2>&1 | tail -20
[ "${PIPESTATUS[0]}" -eq 0 ] || { echo "clippy found problems"; status=1; }

echo "== cargo test (unit tests)"
cargo test --release --lib 2>&1 | tee "$log/unit" | grep -E '^(test |test result|error|failures)' || true
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1

# Doctests: the Rust API's examples and the README's Rust program. The dev profile: each
# doctest is its own binary, and linking them against the release rlib (thin LTO) is ~10x
# slower.
echo "== cargo test --doc (Rust API examples, README snippet)"
cargo test --doc 2>&1 | tee "$log/doc" | grep -E '^(test result|error|failures)|FAILED' || true
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1

echo "== cargo test (loom models of the lock-free protocols)"
RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 CARGO_TARGET_DIR=target/loom \
  cargo test --release --lib loom 2>&1 | tee "$log/loom" | grep -E '^(test |test result|error|failures)' || true
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1

echo "== headers (each included alone, C99/C11/C++11/C++17; generated file holds prototypes only)"
tools/check_headers.sh 2>&1 | tee "$log/headers" | grep -v '^PASS'
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1

echo "== packaging (make install into a temporary prefix; programs built with pkg-config alone)"
tools/check_install.sh 2>&1 | tee "$log/install"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1

echo "== README snippets (every C and C++ snippet built with the commands under it, and run)"
tools/check_readme.sh 2>&1 | tee "$log/readme"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1

echo "== C API tests"
capi-tests/run.sh target/release 2>&1 | tee "$log/capi"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1

passed=0 failed=0
for f in "$log/unit" "$log/doc" "$log/loom"; do
  while read -r p q; do passed=$((passed + p)); failed=$((failed + q)); done < <(
    sed -nE 's/^test result: [a-zA-Z]+\. ([0-9]+) passed; ([0-9]+) failed.*/\1 \2/p' "$f")
done
for f in "$log/headers" "$log/install" "$log/readme" "$log/capi"; do
  read -r p q < <(sed -nE 's/^([0-9]+) passed, ([0-9]+) failed$/\1 \2/p' "$f" | tail -n 1)
  passed=$((passed + ${p:-0})); failed=$((failed + ${q:-0}))
done

echo "== bench chart (tools/bench_chart.py --self-test: the parser of the bench output)"
if python3 tools/bench_chart.py --self-test; then passed=$((passed + 1)); else failed=$((failed + 1)); status=1; fi

if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi # a suite that did not even run
echo "total: $passed passed, $failed failed"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
