#!/usr/bin/env bash
# profile.sh BIN_DIR [COUNT] [INFLIGHT]: instructions per patients.Register
# through the whole service (ROUTER, batch, LMDB, reply), counted by
# callgrind: repeatable on a busy machine, unlike wall-clock figures. Run
# it before and after touching the write path.
set -eu
bin=${1:-build/bin}
count=${2:-4000}
inflight=${3:-64}
dir=$(mktemp -d /tmp/praxis-profile.XXXXXX)
trap 'kill $pid 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"' EXIT
export PM_DATA_DIR=$dir/store PM_KEYS_DIR=$dir/keys PM_PATIENTS_ENDPOINT=tcp://127.0.0.1:* PM_PATIENTS_EVENTS=tcp://127.0.0.1:* PM_PATIENTS_METRICS=off
"$bin/pmctl" keys init >/dev/null
valgrind --tool=callgrind --callgrind-out-file="$dir/cg.out" "$bin/pm-patients" 2>"$dir/log" &
pid=$!
for _ in $(seq 1 3000); do [ -f "$dir/store/endpoints" ] && break; sleep 0.01; done
endpoint=$(sed -n 's/^commands=//p' "$dir/store/endpoints")
"$bin/register_load" "$endpoint" 200 8 >/dev/null   # warm: first pages, first map
callgrind_control -z "$pid" >/dev/null              # count from here on
"$bin/register_load" "$endpoint" "$count" "$inflight"
callgrind_control -d "$pid" >/dev/null
kill -TERM "$pid"; wait "$pid" || true
total=$(callgrind_annotate "$dir"/cg.out.* 2>/dev/null | sed -n 's/^ *\([0-9,]*\) .*PROGRAM TOTALS.*/\1/p' | tr -d , | head -1)
echo "instructions per patients.Register (service side, $inflight in flight): $((total / count))"
echo "top functions by own instructions:"
callgrind_annotate --inclusive=no --threshold=100 --auto=no "$dir"/cg.out.* 2>/dev/null \
    | grep -E '^ *[0-9,]+ \(' | grep -v 'PROGRAM TOTALS\|below main\|libc_start\|pm_server_run\|main\.c:main\|0x000000000001ab70' | head -15
