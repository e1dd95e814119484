#!/bin/sh
# The image's entry point: `praxis <service>` runs pm-<service>;
# `praxis pmctl ...` runs the CLI; `praxis --help` lists both.
set -eu
case "${1:---help}" in
    pmctl) shift; exec /usr/local/bin/pmctl "$@" ;;
    --help|-h)
        echo "usage: praxis <service> | praxis pmctl <args>"
        echo "services: $(ls /usr/local/bin | sed -n 's/^pm-//p' | tr '\n' ' ')"
        exit 0 ;;
    *)
        svc=$1; shift
        [ -x "/usr/local/bin/pm-$svc" ] || { echo "praxis: no service '$svc'" >&2; exit 2; }
        exec "/usr/local/bin/pm-$svc" "$@" ;;
esac
