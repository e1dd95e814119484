#!/usr/bin/env bash
# run-local.sh BIN_DIR: `make run`. Starts every Praxis service built in
# BIN_DIR on loopback, each with its store under ${PM_DATA_ROOT:-./var},
# and interleaves their JSON log lines on this terminal (one write per
# line, so lines never mix). Ctrl-C or SIGTERM stops them all: each
# finishes the batch in hand, commits, replies and closes.
set -u
bin=${1:-build/bin}
root=${PM_DATA_ROOT:-./var}
mkdir -p "$root"
# CURVE keys: the store and the admin principal on first start; each
# service makes its own key pair when it first starts.
export PM_KEYS_DIR=${PM_KEYS_DIR:-$root/keys}
[ -f "$PM_KEYS_DIR/public/admin.cert" ] || "$bin/pmctl" keys init >&2
pids=()

stop() {
    trap - INT TERM
    echo "praxis: stopping ${#pids[@]} services" >&2
    kill -TERM "${pids[@]}" 2>/dev/null
    wait "${pids[@]}" 2>/dev/null
    echo "praxis: stopped" >&2
    exit 0
}
trap stop INT TERM

for exe in "$bin"/pm-*; do
    [ -x "$exe" ] || continue
    name=${exe##*/pm-}
    PM_DATA_DIR="$root/$name" "$exe" &
    pids+=($!)
done
if [ ${#pids[@]} -eq 0 ]; then
    echo "praxis: no services in $bin (run make first)" >&2
    exit 1
fi
echo "praxis: ${#pids[@]} service(s) running; data in $root; Ctrl-C stops." >&2
echo "praxis: try  $bin/pmctl health patients" >&2
# A service that exits on its own takes the others down with it: a
# half-running network is worse than a stopped one.
wait -n "${pids[@]}"
echo "praxis: a service exited; stopping the rest" >&2
stop
