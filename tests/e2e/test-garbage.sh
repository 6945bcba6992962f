#!/bin/bash
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
#
# e2e: garbage on the daemon's hybrid vsock socket (--uds-path) while a
# transfer runs on another connection (one boot; guest side:
# guest/scenarios/garbage.sh, host side: uds-garbage.py):
#  - random bytes, an overlong line, "CONNECT abc", an out-of-range port,
#    an empty line, a wrong verb, EOF in the middle of the line, NUL bytes,
#    a 1 MiB flood and a connection that sends nothing: each is closed by
#    the daemon without a reply (the silent one by the handshake timeout);
#  - meanwhile BYTES each way on a CONNECT'ed connection keep moving (both
#    directions busy during the garbage) and arrive intact (checksums);
#  - afterwards a new CONNECT still works;
#  - the daemon exits with status 0 on SIGTERM.
#
# Usage: test-garbage.sh DAEMON GUEST_TOOL [BYTES]   (BYTES default 8 MiB)
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
N="${3:-$((8 * 1024 * 1024))}"
[[ -x "$daemon" ]] || { echo "$0: daemon $daemon not executable" >&2; exit 1; }
command -v python3 >/dev/null || vdv_cannot_run "python3 not found"

# Garbage the daemon must close without a reply (uds-garbage.py's names).
cases=(random-bytes overlong-line overlong-no-newline connect-abc port-out-of-range
    empty-line wrong-verb eof-mid-line nul-bytes flood-1MiB silent)
# A malformed line is closed at once; the silent one after the handshake
# timeout (2 s).
FAST_MS=1000
SILENT_MS=5000

vdv_init
vdv_prepare_guest "$XF_TOOL"

sock="$VDV_WORK/vhost.sock"
uds="$VDV_WORK/vm.vsock"
vdv_start_daemon "$VDV_WORK/daemon.log" "$daemon" \
    --guest-cid 3 --socket "$sock" --uds-path "$uds"
vdv_need_sockets garbage "$sock"

"$XF_TOOL" gen "$N" --seed 32 >"$VDV_WORK/payload"
garbage_then_after() {
    local rc=0
    python3 "$here/uds-garbage.py" "$uds" 1234 "$VDV_WORK/payload" "$VDV_WORK/data.recv" \
        --timeout 60 || rc=$?
    # then a fresh, well-formed CONNECT
    "$XF_TOOL" uds-connect "$uds" 1235 --send-bytes 65536 --expect-bytes 65536 --seed 34 \
        --timeout-ms 20000 >"$VDV_WORK/after.out" 2>&1 || echo $? >"$VDV_WORK/after.rc"
    [[ -f "$VDV_WORK/after.rc" ]] || echo 0 >"$VDV_WORK/after.rc"
    return "$rc"
}
xf_job garbage --after garbage garbage 120 garbage_then_after

xf_check "guest ran the garbage scenario" \
    vdv_boot_guest garbage "$sock" \
    "vdv.scenario=run vdv.script=garbage.sh vdv.args=$N vdv.timeout=150"
xf_wait_jobs 15 garbage
out="$VDV_WORK/garbage.out"

# closed_ok NAME LIMIT_MS: the daemon closed NAME's connection, no reply.
closed_ok() {
    local line verdict ms
    line="$(sed -n "s/^GARBAGE $1 //p" "$out")"
    read -r verdict ms _ <<<"$line"
    if [[ "$verdict" != CLOSED ]]; then
        vdv_log "garbage '$1': ${line:-no result} (want CLOSED)"
        return 1
    fi
    if ((ms >= $2)); then
        vdv_log "garbage '$1': closed after $ms ms (want < $2 ms)"
        return 1
    fi
}
for c in "${cases[@]}"; do
    limit=$FAST_MS
    [[ $c == silent ]] && limit=$SILENT_MS
    xf_check "garbage '$c' closed by the daemon without a reply in < $limit ms" \
        closed_ok "$c" "$limit"
done

during_ok() {
    local s r
    read -r s r < <(sed -n 's/^DATA DURING-GARBAGE SENT \([0-9]*\) RECV \([0-9]*\)/\1 \2/p' "$out")
    vdv_log "during the garbage: host sent ${s:-?}, received ${r:-?} bytes"
    [[ -n "$s" && -n "$r" ]] && ((s > 0 && r > 0))
}
xf_check "the transfer moved data both ways while the garbage ran" during_ok

host_data_ok() {
    local want got
    xf_job_ok garbage || return 1
    want="$(xf_sum "$N" 31)"
    got="$("$XF_TOOL" sum <"$VDV_WORK/data.recv" | cut -d' ' -f2-)"
    [[ "$got" == "$want" ]] || { vdv_log "host received '$got', want '$want'"; return 1; }
}
guest_recv_ok() { xf_guest_recv_ok garbage "$@"; } # LABEL BYTES SEED
mib="$((N / 1024 / 1024)) MiB"
xf_check "transfer during the garbage: host received $mib intact" host_data_ok
xf_check "transfer during the garbage: guest received $mib intact" guest_recv_ok data "$N" 32
xf_check "a new CONNECT after the garbage: 64 KiB each way" xf_recv_ok after 65536 33
xf_check "  ... and the guest's side of it" guest_recv_ok after 65536 34
xf_check "daemon exits with status 0 on SIGTERM" xf_daemon_stops_cleanly

vdv_log "host side:"
sed 's/^/    /' "$out" >&2
vdv_log "what the daemon said about them:"
grep -a 'host connection' "$VDV_DAEMON_LOG" | sed 's/^/    /' >&2 || true
xf_summary e2e-garbage
