#!/bin/sh
# install-deps.sh: the Debian (bookworm) packages Praxis needs to build,
# test and run. As root it installs what is missing; otherwise it prints
# the exact apt-get line to run. `--check` only reports (exit 1 = missing).
set -eu

# build: compiler, protobuf-c, ZeroMQ, LMDB, jansson, libical (time zones),
#        libmicrohttpd (metrics), libsodium (audit hashes)
# prometheus: its promtool checks the metrics text in the tests
# tests: python3 (CLI checks; pyzmq + protobuf for the subscriber example),
#        valgrind, clang + its fuzzer runtime,
#        iproute2 (network namespaces), docker-compose (config check)
PACKAGES="build-essential pkg-config protobuf-c-compiler libprotobuf-c-dev
libczmq-dev libzmq3-dev liblmdb-dev lmdb-utils libjansson-dev libical-dev
libmicrohttpd-dev libsodium-dev prometheus
tzdata python3 python3-zmq python3-protobuf protobuf-compiler valgrind clang
libclang-rt-14-dev iproute2"

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing="$missing $p"
    fi
done

if [ -z "$missing" ]; then
    exit 0
fi
if [ "${1:-}" = "--check" ]; then
    echo "missing:$missing"
    exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "Praxis needs these Debian packages:$missing" >&2
    echo "Run as root:  apt-get update && apt-get install -y$missing" >&2
    exit 1
fi
echo "installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing
