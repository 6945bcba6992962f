#!/bin/sh
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
#
# Guest side of test-kernel-suite.sh (vdv.script=kernel-suite.sh): runs what
# the host asks for on the second serial port (/dev/ttyS1, a pipe to the
# host), one command at a time, and answers there:
#
#   host:  run ID LIMIT_S WAIT|NOWAIT PROGRAM ARGS...
#   guest: KS READY ID          (WAIT only) PROGRAM printed "Control socket
#                               listening": the host may start the client
#          KS OUT ID <line>     each line PROGRAM printed (stdout+stderr)
#          KS DONE ID RC        PROGRAM ended; RC 137: killed after LIMIT_S
#   host:  quit                 the scenario ends (the guest powers off)
#
# The first line is "KS HELLO <kernel release>" once the guest listens.
# PROGRAM runs under SCHED_IDLE (vsock-guest-tool idle): the suites tell the
# peer "done" over TCP and expect its kernel to have handled the vsock
# packets sent before; in a one-vCPU guest the rx worker that handles them
# must not wait behind the test program that the TCP line woke.
# PROGRAM's output also goes to the console, for the logs.
set -u

CTL=/dev/ttyS1
[ -c "$CTL" ] || { echo "kernel-suite: no $CTL" >&2; exit 1; }
stty -F "$CTL" raw -echo || { echo "kernel-suite: stty $CTL failed" >&2; exit 1; }
exec 3<>"$CTL"

say() { printf '%s\n' "$*" >&3; }

say "KS HELLO $(uname -r)"
echo "kernel-suite: ready, eth0: $(ip -4 -o addr show dev eth0 2>/dev/null | awk '{print $4}')"
while read -r cmd id limit wait prog; do
    case "$cmd" in
    quit) break ;;
    run) ;;
    *)
        say "KS BAD $cmd"
        continue
        ;;
    esac
    out="/tmp/ks-$id.out"
    echo "kernel-suite: [$id] $prog (limit ${limit}s)"
    # shellcheck disable=SC2086 # PROGRAM ARGS split on spaces on purpose
    timeout -s KILL "$limit" /bin/vsock-guest-tool idle $prog >"$out" 2>&1 </dev/null &
    pid=$!
    if [ "$wait" = WAIT ]; then
        while kill -0 "$pid" 2>/dev/null; do
            if grep -q 'Control socket listening' "$out"; then
                say "KS READY $id"
                break
            fi
            sleep 0.05
        done
    fi
    wait "$pid"
    rc=$?
    # a killed program may have left half a line: end it
    if [ -s "$out" ] && [ -n "$(tail -c 1 "$out")" ]; then
        echo >>"$out"
    fi
    sed "s/^/KS OUT $id /" "$out" >&3
    sed "s/^/[$id] /" "$out"
    rm -f "$out"
    say "KS DONE $id $rc"
    echo "kernel-suite: [$id] exit $rc"
done <&3
echo "kernel-suite: quit"
exit 0
