#!/bin/bash
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
#
# e2e: data through the daemon's hybrid vsock (--uds-path) backend between
# the host and a real guest (one boot, guest side: guest/scenarios/stream.sh):
#  - guest -> host (the guest connects to CID 2 port P, the host listens on
#    <uds-path>_P) and host -> guest (the host connects to <uds-path> and
#    writes "CONNECT <port>"), each with BYTES both ways on one connection
#    and one way on a connection of its own (read to EOF: half-close);
#    every byte checked by checksum on the receiving side;
#  - guest -> host to a host application that pauses 3 s before reading:
#    the guest is held (its send ends only after the pause) and the host
#    gets every byte;
#  - refused connections fail fast: the guest to a host port nobody listens
#    on and to a CID that does not exist, the host to a guest port nobody
#    listens on: each refused in < 1000 ms (not a 2 s timeout);
#  - the daemon exits with status 0 on SIGTERM.
#
# Usage: test-stream.sh DAEMON GUEST_TOOL [BYTES]   (BYTES default 4 MiB)
# Exit: 0 pass, 1 fail, 77 skip (VDV_E2E_ALLOW_SKIP=1 and no kernel/QEMU).
set -euo pipefail

here="$(dirname "${BASH_SOURCE[0]}")"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
# shellcheck source-path=SCRIPTDIR source=lib-xfer.sh
. "$here/lib-xfer.sh"

[[ $# -eq 2 || $# -eq 3 ]] || { echo "usage: $0 DAEMON GUEST_TOOL [BYTES]" >&2; exit 2; }
daemon="$1"
XF_TOOL="$2"
N="${3:-$((4 * 1024 * 1024))}"
[[ -x "$daemon" ]] || { echo "$0: daemon $daemon not executable" >&2; exit 1; }

FAST_MS=1000 # a refusal must come back well before the 2 s connect timeout
TO=90000     # ms, bound on each host tool command
SLOW_MS=3000 # the slow host reader's pause

vdv_init
vdv_prepare_guest "$XF_TOOL"

sock="$VDV_WORK/vhost.sock"
uds="$VDV_WORK/vm.vsock"
vdv_start_daemon "$VDV_WORK/daemon.log" "$daemon" \
    --guest-cid 3 --socket "$sock" --uds-path "$uds"
vdv_need_sockets stream "$sock"

T="$XF_TOOL"
# Guest -> host: listening before the guest boots.
xf_job g2h_bidi "$T" uds-listen "${uds}_5555" --send-bytes "$N" --expect-bytes "$N" \
    --seed 22 --timeout-ms $TO
xf_job g2h_up "$T" uds-listen "${uds}_5556" --timeout-ms $TO
xf_job g2h_down "$T" uds-listen "${uds}_5557" --send-bytes "$N" --expect-bytes 0 \
    --seed 24 --timeout-ms $TO
# A host application that reads nothing for SLOW_MS: the guest must be held
# on its credit (the daemon's tx buffer and the socket's room, which the
# daemon lends the guest while the socket has it) and lose nothing.
xf_job g2h_slow "$T" uds-listen "${uds}_5558" --read-delay-ms $SLOW_MS --timeout-ms $TO

# Host -> guest: each once the guest's listener is up.  Before the first,
# a CONNECT to a guest port nobody listens on.
h2g_bidi() {
    local rc=0
    "$T" uds-connect "$uds" 4321 --timeout-ms 5000 >"$VDV_WORK/refused_host.out" 2>&1 || rc=$?
    echo "$rc" >"$VDV_WORK/refused_host.rc"
    exec "$T" uds-connect "$uds" 1234 --send-bytes "$N" --expect-bytes "$N" --seed 12 \
        --timeout-ms $TO
}
xf_job h2g_bidi --after stream h2g_bidi 120 h2g_bidi
xf_job h2g_up --after stream h2g_up 120 \
    "$T" uds-connect "$uds" 1235 --send-bytes "$N" --expect-bytes 0 --seed 13 --timeout-ms $TO
xf_job h2g_down --after stream h2g_down 120 \
    "$T" uds-connect "$uds" 1236 --timeout-ms $TO
jobs=(g2h_bidi g2h_up g2h_down g2h_slow h2g_bidi h2g_up h2g_down)

xf_check "guest ran the stream scenario" \
    vdv_boot_guest stream "$sock" \
    "vdv.scenario=run vdv.script=stream.sh vdv.args=$N vdv.timeout=150"
xf_wait_jobs 15 "${jobs[@]}"

# guest_recv_ok LABEL BYTES SEED: see xf_guest_recv_ok (lib-xfer.sh).
guest_recv_ok() { xf_guest_recv_ok stream "$@"; }
# guest_ms LABEL: the guest-measured duration of LABEL.
guest_ms() {
    xf_serial stream | sed -n "s/^XF $1 RC [^ ]* MS //p"
}

mib="$((N / 1024 / 1024)) MiB"
xf_check "guest -> host, one connection: host received $mib" xf_recv_ok g2h_bidi "$N" 21
xf_check "guest -> host, one connection: guest received $mib" guest_recv_ok g2h_bidi "$N" 22
xf_check "guest -> host, guest sends only: host received $mib to EOF" xf_recv_ok g2h_up "$N" 23
xf_check "guest -> host, host sends only: guest received $mib to EOF" guest_recv_ok g2h_down "$N" 24
xf_check "guest -> host, host reads after $SLOW_MS ms: host received $mib to EOF" \
    xf_recv_ok g2h_slow "$N" 25
# The guest's send can only have ended once the host read: it was held, not
# given credit the daemon could not keep (then data would be lost above).
slow_held() {
    local ms
    ms="$(guest_ms g2h_slow)"
    vdv_log "g2h_slow: guest sent $mib in ${ms:-?} ms (host paused $SLOW_MS ms)"
    [[ -n "$ms" ]] && ((ms >= SLOW_MS * 2 / 3))
}
xf_check "guest -> host, slow host reader: the guest was held until the host read" slow_held
xf_check "host -> guest, one connection: guest received $mib" guest_recv_ok h2g_bidi "$N" 12
xf_check "host -> guest, one connection: host received $mib" xf_recv_ok h2g_bidi "$N" 11
xf_check "host -> guest, host sends only: guest received $mib to EOF" guest_recv_ok h2g_up "$N" 13
xf_check "host -> guest, guest sends only: host received $mib to EOF" xf_recv_ok h2g_down "$N" 14

# refused_fast WHERE FILE_PREFIX: exit 3 (refused) and "REFUSED <ms>" with
# ms < FAST_MS.  WHERE: host (job files) or guest (console).
refused_fast() {
    local rc ms
    if [[ $1 == host ]]; then
        rc="$(cat "$VDV_WORK/$2.rc" 2>/dev/null || echo none)"
        ms="$(sed -n 's/^REFUSED //p' "$VDV_WORK/$2.out" 2>/dev/null)"
    else
        rc="$(xf_serial stream | sed -n "s/^XF $2 RC \([^ ]*\) .*/\1/p")"
        ms="$(xf_serial stream | sed -n "s/^XF $2 REFUSED //p")"
    fi
    if [[ "$rc" != 3 || -z "$ms" ]]; then
        vdv_log "$1 $2: exit '${rc:-?}' (want 3, refused), REFUSED line '${ms:-none}'"
        return 1
    fi
    vdv_log "$1 $2: refused after $ms ms"
    ((ms < FAST_MS))
}
xf_check "guest connect to host port without listener: refused in < $FAST_MS ms" \
    refused_fast guest refused
xf_check "guest connect to CID 5 (no such VM): refused in < $FAST_MS ms" \
    refused_fast guest nocid
xf_check "host CONNECT to guest port without listener: refused in < $FAST_MS ms" \
    refused_fast host refused_host

xf_check "daemon exits with status 0 on SIGTERM" xf_daemon_stops_cleanly

for l in g2h_bidi g2h_up g2h_down g2h_slow h2g_bidi h2g_up h2g_down; do
    vdv_log "timing (guest clock, TCG): $l $(guest_ms "$l") ms"
done
vdv_log "guest boot: /init after ${VDV_BOOT_MS:-?} ms, result after ${VDV_RESULT_MS:-?} ms"
xf_summary e2e-stream
