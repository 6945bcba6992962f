#!/bin/bash
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
#
# e2e: SOCK_SEQPACKET through the daemon's hybrid vsock (--uds-path) backend
# between the host and a real guest (one boot, guest side:
# guest/scenarios/seqpacket.sh).  Messages of 1, 4096, 4097, 60000, 65536
# (the guest's largest: our tx-buffer-size) and 200000 bytes (host side,
# held and delivered in parts) and runs of small ones, some sent with
# MSG_EOR; every recv() must return exactly one whole message (size and
# FNV-1a checksum per message, in order, no MSG_TRUNC):
#  - g2h: the guest connects SEQPACKET to CID 2 port 5600, the host listens
#    SOCK_SEQPACKET on <uds-path>_5600; messages both ways;
#  - h2g: the guest listens SEQPACKET on port 1300, the host connects
#    SOCK_SEQPACKET to <uds-path>_seqpacket ("CONNECT 1300\n" -> "OK ...\n");
#    messages both ways; before it, a CONNECT to a guest port nobody
#    listens on is refused in < 1000 ms;
#  - stype: a guest SEQPACKET connect to port 5601, where the host listens
#    SOCK_STREAM, is refused (ECONNRESET) in < 1000 ms and never accepted;
#  - big: the guest listens with SO_VM_SOCKETS_BUFFER_SIZE 16384, the host
#    sends 100 bytes then 20000: the guest gets the 100 and then EOF (the
#    reset), the host EOF or ECONNRESET, and the daemon logs "larger than
#    the guest's buffer";
#  - credit: the guest sends 1, 4096, 4097, then 60000 bytes (nothing comes
#    back): after the first three the guest still sees > half of our 64 KiB
#    buffer free, so the daemon sends no CREDIT_UPDATE; the 60000-byte
#    message then exceeds the guest's stale credit and goes in two parts,
#    and the daemon must tell the guest about the 8194 bytes it freed for
#    the second part to come (it once did not, and the guest's send()
#    hung: Linux waits for an update without asking);
#  - the daemon exits with status 0 on SIGTERM.
# AF_UNIX carries no MSG_EOR, so EOR flags are not compared here (the
# integration tests and siblings cover them).
#
# Usage: test-seqpacket.sh DAEMON GUEST_TOOL
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

FAST_MS=1000 # a refusal must come back well before the 2 s connect timeout
TO=90000     # ms, bound on each host tool command

# Messages (the tool's --msgs): SIZE[e][xCOUNT], e = MSG_EOR.  The guest's
# large messages come first (the "credit" phase is the other order).
GS="65536,60000e,1,4096e,4097,512x20,1e" # guest -> host
GN=26
HS="60000,1e,4097e,4096,300x30,200000,2" # host -> guest
HN=36

vdv_init
vdv_prepare_guest "$XF_TOOL"

sock="$VDV_WORK/vhost.sock"
uds="$VDV_WORK/vm.vsock"
vdv_start_daemon "$VDV_WORK/daemon.log" "$daemon" \
    --guest-cid 3 --socket "$sock" --uds-path "$uds"
vdv_need_sockets seqpacket "$sock"

T="$XF_TOOL"
# Guest -> host: listening before the guest boots.  stype's stream
# listener must never accept; it is stopped after the guest is done.
xf_job g2h "$T" uds-listen "${uds}_5600" --seqpacket --msgs "$HS" --seed 31 \
    --expect-msgs "$GN" --timeout-ms $TO
xf_job stype "$T" uds-listen "${uds}_5601" --timeout-ms $TO
xf_job credit "$T" uds-listen "${uds}_5602" --seqpacket --expect-msgs 4 --timeout-ms $TO

# Host -> guest, each once the guest's listener is up.  Before h2g, a
# CONNECT to a guest port nobody listens on.
h2g() {
    local rc=0
    "$T" uds-connect "$uds" 4321 --seqpacket --timeout-ms 5000 \
        >"$VDV_WORK/refused_host.out" 2>&1 || rc=$?
    echo "$rc" >"$VDV_WORK/refused_host.rc"
    exec "$T" uds-connect "$uds" 1300 --seqpacket --msgs "$HS" --seed 41 \
        --expect-msgs "$GN" --timeout-ms $TO
}
xf_job h2g --after seqpacket h2g 150 h2g
xf_job big --after seqpacket big 150 \
    "$T" uds-connect "$uds" 1301 --seqpacket --msgs 100,20000 --seed 51 --timeout-ms 30000

xf_check "guest ran the seqpacket scenario" \
    vdv_boot_guest seqpacket "$sock" \
    "vdv.scenario=run vdv.script=seqpacket.sh vdv.args=${GS//,/:},$HN vdv.timeout=140"
kill -TERM "${XF_JOB_PID[stype]}" 2>/dev/null || true
xf_wait_jobs 15 g2h h2g big stype credit

# msgs WHERE LABEL PREFIX: "<n> <size> <checksum>" of LABEL's SMSG or RMSG
# lines (PREFIX), from the host job's output or the guest's console.
msgs() {
    if [[ $1 == host ]]; then
        sed -n "s/^$3 \([0-9]* [0-9]* [0-9a-f]*\) .*/\1/p" "$VDV_WORK/$2.out" 2>/dev/null
    else
        xf_serial seqpacket | sed -n "s/^XF $2 $3 \([0-9]* [0-9]* [0-9a-f]*\) .*/\1/p"
    fi
}
# line WHERE LABEL PREFIX: the rest of LABEL's line PREFIX.
line() {
    if [[ $1 == host ]]; then
        sed -n "s/^$3 //p" "$VDV_WORK/$2.out" 2>/dev/null
    else
        xf_serial seqpacket | sed -n "s/^XF $2 $3 //p"
    fi
}
guest_rc() { line guest "$1" RC | cut -d' ' -f1; }

# msgs_ok FROM LABEL TO LABEL N: FROM's N sent messages are TO's received
# ones, one for one (sizes, checksums, order), and both sides ended well.
msgs_ok() {
    local from="$1" fl="$2" to="$3" tl="$4" n="$5" sent got rc side w l
    sent="$(msgs "$from" "$fl" SMSG)"
    got="$(msgs "$to" "$tl" RMSG)"
    if [[ "$(wc -l <<<"$sent")" != "$n" || "$sent" != "$got" ]]; then
        vdv_log "$from $fl sent $(grep -c . <<<"$sent") messages, $to $tl" \
            "received $(grep -c . <<<"$got") (want $n, the same):"
        diff <(echo "$sent") <(echo "$got") | head -n 20 >&2 || true
        return 1
    fi
    for side in "$from $fl" "$to $tl"; do
        read -r w l <<<"$side"
        if [[ $w == host ]]; then rc="$(xf_job_rc "$l")"; else rc="$(guest_rc "$l")"; fi
        if [[ "$rc" != 0 ]]; then
            vdv_log "$w $l exited '${rc:-?}'"
            if [[ $w == host ]]; then sed 's/^/    /' "$VDV_WORK/$l.out" >&2; fi
            if [[ $w == guest ]]; then xf_guest_lines seqpacket "XF $l " | grep -v MSG >&2; fi
            return 1
        fi
    done
    if [[ "$(line "$to" "$tl" RMSGS)" != "$n "*" DONE" ]]; then
        vdv_log "$to $tl: RMSGS '$(line "$to" "$tl" RMSGS)', want $n ... DONE"
        return 1
    fi
}

xf_check "g2h: the guest's $GN messages reach the host whole" msgs_ok guest g2h host g2h $GN
xf_check "g2h: the host's $HN messages reach the guest whole" msgs_ok host g2h guest g2h $HN
xf_check "h2g: the host's $HN messages reach the guest whole" msgs_ok host h2g guest h2g $HN
xf_check "h2g: the guest's $GN messages reach the host whole" msgs_ok guest h2g host h2g $GN

# refused_fast WHERE FILE_PREFIX: exit 3 (refused) and "REFUSED <ms>" with
# ms < FAST_MS.  WHERE: host (job files) or guest (console).
refused_fast() {
    local rc ms
    if [[ $1 == host ]]; then
        rc="$(cat "$VDV_WORK/$2.rc" 2>/dev/null || echo none)"
        ms="$(sed -n 's/^REFUSED //p' "$VDV_WORK/$2.out" 2>/dev/null)"
    else
        rc="$(guest_rc "$2")"
        ms="$(line guest "$2" REFUSED)"
    fi
    if [[ "$rc" != 3 || -z "$ms" ]]; then
        vdv_log "$1 $2: exit '${rc:-?}' (want 3, refused), REFUSED line '${ms:-none}'"
        return 1
    fi
    vdv_log "$1 $2: refused after $ms ms"
    ((ms < FAST_MS))
}
never_accepted() {
    if grep -q '^ACCEPTED' "$VDV_WORK/stype.out"; then
        vdv_log "the stream listener accepted a connection:"
        sed 's/^/    /' "$VDV_WORK/stype.out" >&2
        return 1
    fi
}
xf_check "stype: guest SEQPACKET connect to a SOCK_STREAM host listener: refused in < $FAST_MS ms" \
    refused_fast guest stype
xf_check "stype: the host's stream listener never accepted" never_accepted
xf_check "host SEQPACKET CONNECT to a guest port without listener: refused in < $FAST_MS ms" \
    refused_fast host refused_host

# big_ok: the guest got the 100-byte message, then EOF; the host sent both
# and then saw EOF or ECONNRESET; the daemon logged why.
big_ok() {
    local want100 got ok=0
    want100="$(msgs host big SMSG | head -n 1)"
    got="$(msgs guest big RMSG)"
    if [[ "$(guest_rc big)" != 0 || "$got" != "$want100" ||
        "$(line guest big RMSGS)" != "1 100 EOF" ]]; then
        vdv_log "guest big: exit '$(guest_rc big)', received '$got' (want '$want100')," \
            "RMSGS '$(line guest big RMSGS)' (want '1 100 EOF')"
        xf_guest_lines seqpacket "XF big " >&2
        ok=1
    fi
    if [[ "$(xf_job_rc big)" != 0 || "$(line host big SMSGS)" != "2 20100" ||
        ! "$(line host big RMSGS)" =~ ^0\ 0\ (EOF|RESET)$ ]]; then
        vdv_log "host big: exit '$(xf_job_rc big)', SMSGS '$(line host big SMSGS)'" \
            "(want '2 20100'), RMSGS '$(line host big RMSGS)' (want '0 0 EOF|RESET'):"
        sed 's/^/    /' "$VDV_WORK/big.out" >&2
        ok=1
    fi
    if ! grep -q "host message of 20000 bytes is larger than the guest's buffer (16384 bytes)" \
        "$VDV_DAEMON_LOG"; then
        vdv_log "no 'host message of 20000 bytes is larger than the guest's buffer (16384" \
            "bytes)' line in the daemon log"
        ok=1
    fi
    vdv_log "big: host saw $(line host big RMSGS | cut -d' ' -f3); guest done after" \
        "$(line guest big RC | cut -d' ' -f3) ms"
    return $ok
}
xf_check "big: a host message larger than the guest's buffer resets the connection" big_ok

xf_check "credit: 1, 4096, 4097, 60000 bytes reach the host" \
    msgs_ok guest credit host credit 4

xf_check "daemon exits with status 0 on SIGTERM" xf_daemon_stops_cleanly

for l in g2h stype h2g big credit; do
    vdv_log "timing (guest clock, TCG): $l $(line guest "$l" RC | cut -d' ' -f3) ms"
done
vdv_log "guest boot: /init after ${VDV_BOOT_MS:-?} ms, result after ${VDV_RESULT_MS:-?} ms"
xf_summary e2e-seqpacket
