#!/bin/bash
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
#
# e2e: a guest reboot under the same QEMU (guest side:
# guest/scenarios/reboot.sh).  QEMU runs without -no-reboot, so `reboot -f`
# in the guest resets the machine and boots the guest again on the same
# vhost-user session (QEMU stops the rings at the reset and the new driver
# restarts them at index 0):
#  - the host side of a connection the guest held open when it rebooted
#    sees the connection close (EOF or reset) within REBOOT_CLOSE_S of the
#    guest's last console line, while the rebooted guest runs (not when
#    QEMU exits, nor at its own timeout);
#  - the daemon logs the reset with the number of connections (1);
#  - after the reboot the guest connects to the host again, 64 KiB each
#    way checked by checksum on both sides;
#  - the daemon exits with status 0 on SIGTERM.
# Ports: 5001 tells the guest which boot it is in (one byte of the payload
# of seed 1, then of seed 2), 5000 the connection held across the reboot,
# 5003 tells the rebooted guest that the host saw that one close (so that
# it closed while the guest ran, not when QEMU exited), 5002 the
# connection after the reboot.
#
# Usage: test-reboot.sh DAEMON GUEST_TOOL
# Exit: 0 pass, 1 fail, 77 skip (VDV_E2E_ALLOW_SKIP=1 and no kernel/QEMU).
set -euo pipefail

here="$(dirname "${BASH_SOURCE[0]}")"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
# shellcheck source-path=SCRIPTDIR source=lib-xfer.sh
. "$here/lib-xfer.sh"

[[ $# -eq 2 ]] || { echo "usage: $0 DAEMON GUEST_TOOL" >&2; exit 2; }
daemon="$1"
XF_TOOL="$2"
[[ -x "$daemon" ]] || { echo "$0: daemon $daemon not executable" >&2; exit 1; }

# The reset shows once the rebooted guest's driver restarts the rings, a
# kernel boot later (a few seconds under TCG): generous.
REBOOT_CLOSE_S=90
TO=150000 # ms, bound on each host tool command
N=65536

vdv_init
vdv_prepare_guest "$XF_TOOL"

sock="$VDV_WORK/vhost.sock"
uds="$VDV_WORK/vm.vsock"
vdv_start_daemon "$VDV_WORK/daemon.log" "$daemon" \
    --guest-cid 3 --socket "$sock" --uds-path "$uds"
vdv_need_sockets reboot "$sock"

T="$XF_TOOL"
# Which boot: one listener after the other on the same port.
phases() {
    "$T" uds-listen "${uds}_5001" --send-bytes 1 --seed 1 --timeout-ms $TO || return
    exec "$T" uds-listen "${uds}_5001" --send-bytes 1 --seed 2 --timeout-ms $TO
}
# The connection held across the reboot (the guest streams into it): read
# to EOF, note when, then tell the guest on port 5003 (it waits for that
# before its last connection: a daemon that keeps the connection closes it
# only when QEMU exits, so that guest would wait in vain).
hold() {
    local rc=0
    "$T" uds-listen "${uds}_5000" --timeout-ms $TO || rc=$?
    echo "HOLD-END rc $rc at $(vdv_now_ms)"
    exec "$T" uds-listen "${uds}_5003" --send-bytes 1 --seed 3 --timeout-ms $TO
}
xf_job phases phases
xf_job hold hold
xf_job again "$T" uds-listen "${uds}_5002" --send-bytes $N --expect-bytes $N --seed 32 \
    --timeout-ms $TO
# When the guest said it was about to reboot.
ready_at() {
    xf_wait_ready reboot holding 120 && echo "READY at $(vdv_now_ms)"
}
xf_job ready ready_at
jobs=(phases hold again ready)

VDV_BOOT_REBOOT=1 xf_check "guest rebooted and ran the scenario again" \
    vdv_boot_guest reboot "$sock" \
    "vdv.scenario=run vdv.script=reboot.sh vdv.timeout=120"
xf_wait_jobs 15 "${jobs[@]}"

# closed_in_time: the held connection ended by a close (EOF or reset) from
# the daemon, within REBOOT_CLOSE_S of the guest's READY line (that it came
# while the rebooted guest still ran, the guest checked: port 5003).
closed_in_time() {
    local end ready
    end="$(sed -n 's/^HOLD-END rc [0-9]* at //p' "$VDV_WORK/hold.out")"
    ready="$(sed -n 's/^READY at //p' "$VDV_WORK/ready.out")"
    sed 's/^/    hold: /' "$VDV_WORK/hold.out" >&2
    if [[ -z "$end" || -z "$ready" ]] || grep -q '^TIMEOUT' "$VDV_WORK/hold.out"; then
        vdv_log "held connection: end '${end:-none}', guest ready '${ready:-none}'"
        return 1
    fi
    vdv_log "held connection closed $((end - ready)) ms after the guest's READY line"
    ((end - ready >= 0 && end - ready <= REBOOT_CLOSE_S * 1000))
}
xf_check "held connection closed within ${REBOOT_CLOSE_S}s of the reboot" closed_in_time
xf_check "the rebooted guest heard (port 5003) that the host saw the close" \
    xf_guest_recv_ok reboot closed 1 3
xf_check "daemon logged the reset of 1 connection" \
    grep -aq 'vm cid 3: the guest reset its vsock device (rings restarted anew): 1 connection reset' \
    "$VDV_WORK/daemon.log"
xf_check "after the reboot: host received 64 KiB" xf_recv_ok again $N 31
xf_check "after the reboot: guest received 64 KiB" xf_guest_recv_ok reboot again $N 32
xf_check "daemon exits with status 0 on SIGTERM" xf_daemon_stops_cleanly

vdv_log "guest boot: /init after ${VDV_BOOT_MS:-?} ms, result after ${VDV_RESULT_MS:-?} ms"
xf_summary e2e-reboot
