#!/usr/bin/env bash
# profile-book.sh BIN_DIR: instructions per scheduling.Book inside the
# scheduling service (ROUTER, CURVE, batch, booking checks, LMDB, events,
# reply), counted by callgrind while bench_book's world runs one row of 64
# clients. Repeatable on a busy machine, unlike bench_book's wall-clock
# figures: run it before and after touching the booking path.
set -eu
bin=${1:-build/bin}
dir=$(mktemp -d /tmp/praxis-profile-book.XXXXXX)
trap 'rm -rf "$dir"' EXIT
export ITEST_WRAP_SCHEDULING="valgrind --tool=callgrind --callgrind-out-file=$dir/cg.out"
BENCH_PROFILE=1 BENCH_SECONDS=${BENCH_SECONDS:-8} "$bin/bench_book" | tee "$dir/out"
count=$(sed -n 's/^profile: \([0-9]*\) Book.*/\1/p' "$dir/out")
files=$(ls "$dir"/cg.out* | grep -v 'cg.out$' || true)
[ -n "$files" ] || files="$dir/cg.out"
file=$(ls -t $files | head -1)   # the dump taken at the window's end
total=$(callgrind_annotate "$file" 2>/dev/null | sed -n 's/^ *\([0-9,]*\) .*PROGRAM TOTALS.*/\1/p' | tr -d , | head -1)
echo "instructions per scheduling.Book (service side, 64 in flight): $((total / count))"
echo "top functions by own instructions:"
callgrind_annotate --inclusive=no --threshold=100 --auto=no "$file" 2>/dev/null \
    | grep -E '^ *[0-9,]+ \(' | grep -v 'PROGRAM TOTALS\|below main\|libc_start' | head -25
