#!/usr/bin/env bash
# run-fuzz.sh FUZZ_DIR SECONDS HARNESS...: runs each libFuzzer harness for
# SECONDS (-max_total_time) with leak detection, starting from the
# checked-in seeds (tests/fuzz/corpus/<harness>) plus what earlier runs
# found ($FUZZ_DIR/corpus/<harness>, where new inputs go). Prints one line
# of figures per harness and exits non-zero if any harness found a crash,
# a leak, undefined behaviour or a timeout; the input that did it is left
# in $FUZZ_DIR/artifacts/.
#
# run-fuzz.sh --crashes FUZZ_DIR 0 HARNESS...: runs the reproducers kept
# in tests/fuzz/crashes/<harness>/ (open findings; not part of CI).
set -u
crashes=0
if [ "${1:-}" = "--crashes" ]; then
    crashes=1
    shift
fi
dir=$1
seconds=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
# Any UBSan report is fatal, except the open findings listed in
# known.supp (each has its reproducer under crashes/ and an entry in
# crashes/README.md). FUZZ_STRICT=1 tolerates none of them.
ubsan="halt_on_error=1:print_stacktrace=1"
if [ -z "${FUZZ_STRICT:-}" ] || [ "${FUZZ_STRICT}" = 0 ]; then
    ubsan="$ubsan:suppressions=$here/known.supp"
fi
export UBSAN_OPTIONS=$ubsan
mkdir -p "$dir/artifacts" "$dir/logs"
failed=0

if [ $crashes -eq 1 ]; then
    export FUZZ_STRICT=1 UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
    for h in "$@"; do
        repro="$here/crashes/$h"
        [ -d "$repro" ] || continue
        for f in "$repro"/*; do
            [ -e "$f" ] || continue
            echo "== $h $(basename "$f")"
            # A directory is a sequence (its files in name order) that a
            # command harness runs as it starts (FUZZ_WARMUP): a finding
            # that needs records made first.
            if [ -d "$f" ]; then
                mkdir -p "$dir/empty"
                FUZZ_WARMUP=$f "$dir/bin/$h" -runs=0 "$dir/empty" >"$dir/logs/$h.repro" 2>&1
            else
                "$dir/bin/$h" -runs=1 "$f" >"$dir/logs/$h.repro" 2>&1
            fi
            if [ $? -eq 0 ]; then
                echo "   passes now: the finding is fixed; move it to tests/fuzz/corpus/$h"
            else
                grep -m1 -E 'ERROR|runtime error|fuzz:' "$dir/logs/$h.repro" | sed 's/^/   /'
                failed=$((failed + 1))
            fi
        done
    done
    echo "$failed reproducers still fail"
    exit 0
fi

printf '%-22s %10s %8s %8s %8s %8s %s\n' harness execs exec/s cov ft corpus result
for h in "$@"; do
    mkdir -p "$dir/corpus/$h"
    log="$dir/logs/$h.log"
    # A service that has no seeds yet starts from nothing.
    seeds=()
    [ -d "$here/corpus/$h" ] && seeds=("$here/corpus/$h")
    # -timeout: one input running longer than this is a hang.
    "$dir/bin/$h" -max_total_time="$seconds" -detect_leaks=1 -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$dir/artifacts/$h-" \
        "$dir/corpus/$h" "${seeds[@]}" >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    # The last status line: "#N DONE cov: C ft: F corp: K/..." (or pulse).
    status=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
    cov=$(echo "$status" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
    ft=$(echo "$status" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
    corp=$(echo "$status" | sed -n 's/.* corp: \([0-9]*\).*/\1/p')
    result=ok
    if [ $rc -ne 0 ]; then
        result="FAILED (exit $rc, log $log)"
        failed=$((failed + 1))
    fi
    printf '%-22s %10s %8s %8s %8s %8s %s\n' "$h" "${execs:-?}" "${rate:-?}" \
        "${cov:-?}" "${ft:-?}" "${corp:-?}" "$result"
    if [ $rc -ne 0 ]; then
        grep -E 'ERROR: |runtime error|^fuzz: |Test unit written' "$log" | head -n 5 | sed 's/^/    /'
    fi
done
echo "fuzz: $# harnesses, ${seconds}s each, $failed failed"
[ $failed -eq 0 ]
