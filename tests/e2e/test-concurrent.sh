#!/bin/bash
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
#
# e2e: COUNT host -> guest (CONNECT) and COUNT guest -> host (<uds-path>_P)
# connections running at the same time through the daemon's hybrid vsock
# backend, BYTES each way on each, every stream checked by checksum on its
# receiving side (one boot; guest side: guest/scenarios/concurrent.sh).
# Then the daemon must exit with status 0 on SIGTERM.
#
# Usage: test-concurrent.sh DAEMON GUEST_TOOL [COUNT [BYTES]]
#   (default 8 connections each way, 1 MiB each way on each)
# Exit: 0 pass, 1 fail, 77 skip (VDV_E2E_ALLOW_SKIP=1 and no kernel/QEMU).
set -euo pipefail

here="$(dirname "${BASH_SOURCE[0]}")"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
# shellcheck source-path=SCRIPTDIR source=lib-xfer.sh
. "$here/lib-xfer.sh"

[[ $# -ge 2 && $# -le 4 ]] || {
    echo "usage: $0 DAEMON GUEST_TOOL [COUNT [BYTES]]" >&2
    exit 2
}
daemon="$1"
XF_TOOL="$2"
COUNT="${3:-8}"
N="${4:-$((1024 * 1024))}"
[[ -x "$daemon" ]] || { echo "$0: daemon $daemon not executable" >&2; exit 1; }
TO=90000

vdv_init
vdv_prepare_guest "$XF_TOOL"

sock="$VDV_WORK/vhost.sock"
uds="$VDV_WORK/vm.vsock"
vdv_start_daemon "$VDV_WORK/daemon.log" "$daemon" \
    --guest-cid 3 --socket "$sock" --uds-path "$uds"
vdv_need_sockets concurrent "$sock"

T="$XF_TOOL"
jobs=()
for ((i = 0; i < COUNT; i++)); do
    # guest -> host: listening before the guest boots
    xf_job "out_$i" "$T" uds-listen "${uds}_$((3000 + i))" --send-bytes "$N" \
        --expect-bytes "$N" --seed $((400 + i)) --timeout-ms $TO
    # host -> guest: once all the guest's listeners are up
    xf_job "in_$i" --after concurrent concurrent 120 \
        "$T" uds-connect "$uds" $((2000 + i)) --send-bytes "$N" --expect-bytes "$N" \
        --seed $((200 + i)) --timeout-ms $TO
    jobs+=("out_$i" "in_$i")
done

xf_check "guest ran the concurrent scenario" \
    vdv_boot_guest concurrent "$sock" \
    "vdv.scenario=run vdv.script=concurrent.sh vdv.args=$COUNT,$N vdv.timeout=150"
xf_wait_jobs 15 "${jobs[@]}"

# guest_recv_ok LABEL BYTES SEED: see xf_guest_recv_ok (lib-xfer.sh).
guest_recv_ok() { xf_guest_recv_ok concurrent "$@"; }

# all_ok KIND: every connection of KIND (in/out) checked on both ends.
all_ok() {
    local i bad=0 gseed hseed
    for ((i = 0; i < COUNT; i++)); do
        if [[ $1 == in ]]; then
            gseed=$((100 + i)) hseed=$((200 + i))
        else
            gseed=$((300 + i)) hseed=$((400 + i))
        fi
        xf_recv_ok "$1_$i" "$N" "$gseed" || bad=$((bad + 1))
        guest_recv_ok "$1_$i" "$N" "$hseed" || bad=$((bad + 1))
    done
    [[ $bad -eq 0 ]]
}

size="$((N / 1024)) KiB"
xf_check "$COUNT concurrent host -> guest connections: $size each way, checksums match" \
    all_ok in
xf_check "$COUNT concurrent guest -> host connections: $size each way, checksums match" \
    all_ok out
xf_check "daemon exits with status 0 on SIGTERM" xf_daemon_stops_cleanly

slowest="$(xf_serial concurrent | sed -n 's/^XF [a-z_0-9]* RC [^ ]* MS //p' | sort -n | tail -n 1)"
vdv_log "timing (guest clock, TCG): slowest of $((2 * COUNT)) connections ${slowest:-?} ms"
xf_summary e2e-concurrent
