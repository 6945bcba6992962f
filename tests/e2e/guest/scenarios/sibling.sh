#!/bin/sh
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
#
# Guest side of test-sibling.sh (vdv.script=sibling.sh vdv.args=ROLE,...):
# guests of one daemon reaching each other by CID (sibling VMs), always
# with VMADDR_FLAG_TO_HOST (--to-host) as Linux 5.10+ guests do.
#
#   listen PORT BYTES SEND_SEED RECV_SEED
#       accept one connection on PORT and move BYTES each way; prints
#       "VDV-READY sibling-listen" once listening (the host waits for it)
#   peer CID PORT BYTES SEND_SEED RECV_SEED RETRY_S NOCID GO_PORT FCID FPORT
#       1. connect to CID:PORT and move BYTES each way; refusals are retried
#          for RETRY_S seconds, since the peer guest boots at the same time
#       2. NOCID (no VM of the daemon) must be refused in < 1000 ms
#       3. wait for the host's go: a connection to the host's GO_PORT
#          succeeds once the host has seen FCID's listener up
#       4. FCID:FPORT (listening, but in no group of ours) must be refused
#          in < 1000 ms
#
# Every tool line goes to the console as "SIB <label> <line>" for the host,
# which checks the checksums again; this script fails on the first wrong one.
set -eu

T="${VDV_TOOL:-/bin/vsock-guest-tool}"
TO=120000  # ms, bound on each tool command (C waits long for the host)
FAST=1000  # ms, a refusal must come well before the 2 s connect timeout

fail() {
    echo "sibling: $*" >&2
    exit 1
}

expect_sum() { # BYTES SEED -> "<bytes> <checksum>"
    "$T" gen "$1" --seed "$2" | "$T" sum | cut -d' ' -f2-
}

report() { # LABEL FILE
    sed "s/^/SIB $1 /" "$2"
}

check_recv() { # LABEL FILE BYTES SEED
    want="$(expect_sum "$3" "$4")"
    got="$(sed -n 's/^RECV //p' "$2")"
    [ "$got" = "$want" ] || fail "$1: received '$got', want '$want'"
}

# connect_retry LABEL RETRY_S TOOL_CONNECT_ARGS...: the tool's connect,
# again while it is refused (exit 3), for at most RETRY_S seconds.
connect_retry() {
    label="$1"
    limit="$2"
    shift 2
    out="/tmp/$label.out"
    n=0
    t0="$(date +%s)"
    while :; do
        n=$((n + 1))
        rc=0
        "$T" connect "$@" >"$out" 2>&1 || rc=$?
        [ "$rc" -eq 3 ] || break
        [ $(($(date +%s) - t0)) -lt "$limit" ] || break
        sleep 0.2
    done
    echo "SIB $label attempts $n"
    report "$label" "$out"
    return "$rc"
}

expect_refused() { # LABEL CID PORT
    out="/tmp/$1.out"
    rc=0
    "$T" connect "$2" "$3" --to-host --timeout-ms 5000 >"$out" 2>&1 || rc=$?
    report "$1" "$out"
    [ "$rc" -eq 3 ] || fail "$1: connect $2:$3 exited $rc, want 3 (refused): $(tail -n 1 "$out")"
    ms="$(sed -n 's/^REFUSED //p' "$out")"
    if [ -z "$ms" ] || [ "$ms" -ge "$FAST" ]; then
        fail "$1: connect $2:$3 refused after ${ms:-?} ms, want < $FAST"
    fi
}

role_listen() { # PORT BYTES SEND_SEED RECV_SEED
    out=/tmp/xfer.out
    "$T" listen "$1" --send-bytes "$2" --expect-bytes "$2" --seed "$3" \
        --timeout-ms $TO >"$out" 2>&1 &
    pid=$!
    i=0
    until grep -q '^LISTENING' "$out"; do
        i=$((i + 1))
        if [ "$i" -ge 100 ] || ! kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null || true
            fail "listener on $1 not up after 10 s: $(cat "$out")"
        fi
        sleep 0.1
    done
    echo "VDV-READY sibling-listen"
    rc=0
    wait "$pid" || rc=$?
    report xfer "$out"
    [ "$rc" -eq 0 ] || fail "listen $1: exit $rc: $(tail -n 1 "$out")"
    check_recv xfer "$out" "$2" "$4"
}

role_peer() { # CID PORT BYTES SEND_SEED RECV_SEED RETRY_S NOCID GO_PORT FCID FPORT
    [ $# -eq 10 ] || fail "peer: 10 arguments expected, got $#"
    connect_retry xfer "$6" "$1" "$2" --to-host --send-bytes "$3" --expect-bytes "$3" \
        --seed "$4" --timeout-ms $TO ||
        fail "connect $1:$2: exit $?: $(tail -n 1 /tmp/xfer.out)"
    check_recv xfer /tmp/xfer.out "$3" "$5"
    expect_refused nocid "$7" "$2"
    connect_retry go "$6" 2 "$8" --expect-bytes 0 --timeout-ms 5000 ||
        fail "no go from the host on port $8: $(tail -n 1 /tmp/go.out)"
    expect_refused forbidden "$9" "${10}"
}

role="${1:-}"
[ $# -gt 0 ] && shift
case "$role" in
listen) role_listen "$@" ;;
peer) role_peer "$@" ;;
*) fail "unknown role '$role' (listen|peer)" ;;
esac
echo "sibling: $role done"
