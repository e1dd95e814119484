#!/usr/bin/env bash
# run-fault.sh BUILD_DIR: the fault suites of `make test-fault`, then one
# closing line "N passed, N failed, N skipped".
#
#   fault_kill   kill -9 of the producer and its consumer, in turn, under
#                load; the history checker (no root needed)
#   fault_disk   the store on a small tmpfs that fills up, then grows
#                (root: mount)
#   fault_net    producer and consumer in two network namespaces joined by
#                a veth pair; the link is cut and healed (root: ip netns);
#                and itest_patients consumer_slow_recovers, the consumer
#                slower than the PUB high-water mark
#
# What needs root and cannot be had is skipped with the reason, and counted
# as skipped. Everything made here (mounts, namespaces, links, temporary
# directories) is removed on exit, whatever happens (trap).
set -u
build=${1:-build}
bin=$(cd "$build/bin" && pwd)
passed=0
failed=0
skipped=0

tmp=$(mktemp -d /tmp/praxis-fault.XXXXXX)
mnt=""
ns_a=""
ns_b=""
cleanup() {
    if [ -n "$mnt" ] && mountpoint -q "$mnt"; then
        umount "$mnt" || umount -l "$mnt"
    fi
    [ -n "$ns_a" ] && ip netns del "$ns_a" 2>/dev/null
    [ -n "$ns_b" ] && ip netns del "$ns_b" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Runs one suite and adds its "N passed, N failed" to the totals; a suite
# that ends without that line counts as one failure.
suite() {
    local name=$1
    shift
    echo "== $name"
    local out=$tmp/out
    timeout 300 "$@" 2>&1 | tee "$out"
    local line
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
    if [ -z "$line" ]; then
        echo "   (suite ended without a result line: counted as 1 failure)"
        failed=$((failed + 1))
        return
    fi
    local p=${line%% passed*} f=${line#*, }
    f=${f%% failed*}
    passed=$((passed + p))
    failed=$((failed + f))
}

skip() {
    echo "== $1"
    echo "   SKIPPED: $2"
    skipped=$((skipped + 1))
}

# --- kill -9 under load ---------------------------------------------------
suite fault_kill "$bin/fault_kill"

# --- disk full ----------------------------------------------------------------
if [ "$(id -u)" -ne 0 ]; then
    skip fault_disk "mounting a tmpfs needs root"
else
    mnt=$tmp/tmpfs
    mkdir -p "$mnt"
    if err=$(mount -t tmpfs -o size=3M,mode=0700 praxis-fault "$mnt" 2>&1); then
        FAULT_TMPFS=$mnt suite fault_disk "$bin/fault_disk"
        umount "$mnt" || umount -l "$mnt"
    else
        skip fault_disk "cannot mount a tmpfs: $err"
    fi
    mnt=""
fi

# --- network partition --------------------------------------------------------
# Addresses from 10.231.0.0/16 exist only inside the two namespaces made here.
net=$(($$ % 250 + 1))
link_a=pxa$$
link_b=pxb$$
net_setup() {
    ns_a=praxis-fa-$$
    ns_b=praxis-fb-$$
    ip netns add "$ns_a" &&
        ip netns add "$ns_b" &&
        ip link add "$link_a" netns "$ns_a" type veth peer name "$link_b" netns "$ns_b" &&
        ip -n "$ns_a" addr add "10.231.$net.1/24" dev "$link_a" &&
        ip -n "$ns_b" addr add "10.231.$net.2/24" dev "$link_b" &&
        ip -n "$ns_a" link set lo up &&
        ip -n "$ns_b" link set lo up &&
        ip -n "$ns_a" link set "$link_a" up &&
        ip -n "$ns_b" link set "$link_b" up
}
if [ "$(id -u)" -ne 0 ] || ! command -v ip >/dev/null; then
    skip fault_net "network namespaces need root and iproute2"
elif ! net_setup 2>"$tmp/net.err"; then
    skip fault_net "cannot create network namespaces: $(head -n 1 "$tmp/net.err")"
else
    # What the test starts in the other namespace goes through these.
    mkdir -p "$tmp/peer-bin"
    printf '#!/bin/sh\nexec ip netns exec %s "%s/pm_mirror" "$@"\n' "$ns_b" "$bin" \
        >"$tmp/peer-bin/pm_mirror"
    chmod +x "$tmp/peer-bin/pm_mirror"
    suite fault_net ip netns exec "$ns_a" env FAULT_NET_LINK="$link_a" \
        FAULT_NET_SELF="10.231.$net.1" FAULT_NET_PEER="10.231.$net.2" \
        FAULT_NET_PEER_BIN="$tmp/peer-bin" "$bin/fault_net"
fi
# Slower than the PUB high-water mark: the integration test already proves
# the recovery by catch-up; it is part of this suite too.
suite consumer_slow_recovers "$bin/itest_patients" consumer_slow_recovers

echo
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
