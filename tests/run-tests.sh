#!/usr/bin/env bash
# run-tests.sh BUILD_DIR: every suite of `make test`, then one closing line
# "N passed, N failed" summed over all of them. Each suite prints its own
# "N passed, N failed"; a suite that dies without printing one counts as
# one failure. Suites run one after another: each starts its own services
# on kernel-chosen loopback ports with temporary stores.
set -u
build=${1:-build}
bin=$build/bin
total_passed=0
total_failed=0
suites=("$bin/pm_selftest")
for t in "$bin"/itest_*; do
    [ -x "$t" ] && suites+=("$t")
done
for t in tests/cli/test_*.sh; do
    [ -f "$t" ] && suites+=("$t")
done

for suite in "${suites[@]}"; do
    echo "== $(basename "$suite")"
    out=$(mktemp)
    # Each suite is bounded; its cases bound themselves more tightly.
    if [[ $suite == *.sh ]]; then
        PM_BIN="$bin" timeout 900 bash "$suite" 2>&1 | tee "$out"
    else
        timeout 900 "$suite" 2>&1 | tee "$out"
    fi
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
    rm -f "$out"
    if [ -z "$line" ]; then
        echo "   (suite ended without a result line: counted as 1 failure)"
        total_failed=$((total_failed + 1))
        continue
    fi
    p=${line%% passed*}
    f=${line#*, }
    f=${f%% failed*}
    total_passed=$((total_passed + p))
    total_failed=$((total_failed + f))
done
echo
echo "$total_passed passed, $total_failed failed"
[ "$total_failed" -eq 0 ]
