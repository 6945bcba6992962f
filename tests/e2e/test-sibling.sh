#!/bin/bash
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
#
# e2e: sibling VMs.  One daemon serves three VMs, each with its own
# vhost-user socket, and three QEMU (TCG) guests boot at the same time
# (guest side: guest/scenarios/sibling.sh):
#   A  CID 3, groups g1      listens on 5000; BYTES each way with B
#   B  CID 4, groups g1+g3   connects to 3:5000 with VMADDR_FLAG_TO_HOST,
#                            retrying (bounded) until A listens; checksums
#                            on both ends; then CID 9 (no such VM) and C's
#                            listening port (no shared group) must both be
#                            refused in < 1000 ms
#   C  CID 5, groups g2      listens on 6000; the host tells B to try C only
#                            once C's listener is up (B connects to the host
#                            port 7000 until the host listens there), and
#                            connects to C itself (hybrid vsock) after B's
#                            refusal: proof that C was listening all along
# The daemon must keep running and exit with status 0 on SIGTERM.
#
# Usage: test-sibling.sh DAEMON GUEST_TOOL [BYTES]   (BYTES default 2 MiB)
# Exit: 0 pass, 1 fail, 77 skip (VDV_E2E_ALLOW_SKIP=1 and no kernel/QEMU).
set -euo pipefail

here="$(dirname "${BASH_SOURCE[0]}")"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

[[ $# -eq 2 || $# -eq 3 ]] || { echo "usage: $0 DAEMON GUEST_TOOL [BYTES]" >&2; exit 2; }
daemon="$1"
tool="$2"
N="${3:-$((2 * 1024 * 1024))}"
[[ -x "$daemon" ]] || { echo "$0: daemon $daemon not executable" >&2; exit 1; }

FAST_MS=1000 # a refusal must come back well before the 2 s connect timeout
C_BYTES=65536
GO_PORT=7000
# Three TCG guests share two cores here: give each room.
export VDV_E2E_QEMU_TIMEOUT="${VDV_E2E_QEMU_TIMEOUT:-240}"
export VDV_E2E_BOOT_TIMEOUT="${VDV_E2E_BOOT_TIMEOUT:-120}"


sum_of() { # BYTES SEED -> "<bytes> <checksum>"
    "$tool" gen "$1" --seed "$2" | "$tool" sum | cut -d' ' -f2-
}

serial() { # GUEST: its console without carriage returns
    tr -d '\r' <"$VDV_WORK/$1.serial.log" 2>/dev/null || true
}

# sib_line GUEST LABEL WORD: the rest of the guest's "SIB LABEL WORD ..." line.
sib_line() {
    serial "$1" | sed -n "s/^SIB $2 $3 //p" | head -n 1
}

# wait_serial GUEST REGEX TIMEOUT_S: the line shows up on the guest's
# console; gives up early once the guest reported its result.
wait_serial() {
    local f="$VDV_WORK/$1.serial.log" limit=$(($3 * 10)) i
    for ((i = 0; i < limit; i++)); do
        if [[ -f "$f" ]]; then
            grep -aqE "$2" "$f" && return 0
            grep -aq 'VDV-RESULT ' "$f" && break
        fi
        sleep 0.1
    done
    echo "TIMEOUT waiting for /$2/ on $1's console" >&2
    return 1
}

declare -A PID_OF=()

# bg NAME COMMAND...: COMMAND (a function or a program) in the background,
# output to $VDV_WORK/NAME.out, status to $VDV_WORK/NAME.rc.  A subshell
# that boots a guest kills its QEMU when it is itself terminated.
bg() {
    local name="$1"
    shift
    (
        # shellcheck disable=SC2030 # the subshell's own QEMU, killed on exit
        VDV_PIDS=()
        trap 'vdv_kill_all' EXIT
        trap 'exit 143' TERM INT
        rc=0
        "$@" || rc=$?
        echo "$rc" >"$VDV_WORK/$name.rc"
        exit "$rc"
    ) >"$VDV_WORK/$name.out" 2>&1 </dev/null &
    PID_OF[$name]=$!
    # shellcheck disable=SC2031 # the main shell's list, not the subshell's
    VDV_PIDS+=("$!")
}

# wait_bg TIMEOUT_S NAME...: bounded wait; what still runs is killed.
wait_bg() {
    local limit=$(($1 * 10)) i name running
    shift
    for ((i = 0; i < limit; i++)); do
        running=0
        for name in "$@"; do
            kill -0 "${PID_OF[$name]}" 2>/dev/null && running=1
        done
        [[ $running -eq 0 ]] && break
        sleep 0.1
    done
    for name in "$@"; do
        if kill -0 "${PID_OF[$name]}" 2>/dev/null; then
            vdv_log "$name still running after $1 s: stopping it"
            kill -TERM "${PID_OF[$name]}" 2>/dev/null || true
        fi
        wait "${PID_OF[$name]}" 2>/dev/null || true
        vdv_forget_pid "${PID_OF[$name]}"
    done
}

bg_rc() { cat "$VDV_WORK/$1.rc" 2>/dev/null || echo none; }

# boot NAME SOCK ARGS: one guest running sibling.sh with ARGS; its summary
# ("RESULT QEMU_RC BOOT_MS RESULT_MS") goes to $VDV_WORK/NAME.result.
boot() {
    local name="$1" sock="$2" args="$3" rc=0
    vdv_boot_guest "$name" "$sock" \
        "vdv.scenario=run vdv.script=sibling.sh vdv.args=$args vdv.timeout=180" || rc=$?
    echo "$VDV_RESULT $VDV_QEMU_RC ${VDV_BOOT_MS:-?} ${VDV_RESULT_MS:-?}" \
        >"$VDV_WORK/$name.result"
    return "$rc"
}

# The host's go for B: listen on B's GO_PORT once C listens.
go_signal() {
    wait_serial C '^VDV-READY sibling-listen' 200 || return 1
    "$tool" uds-listen "${uds[B]}_$GO_PORT" --timeout-ms 120000
}

# After B's attempt on C, the host itself reaches C's listener.
host_to_c() {
    wait_serial B '^SIB forbidden ' 220 || return 1
    "$tool" uds-connect "${uds[C]}" 6000 --send-bytes "$C_BYTES" \
        --expect-bytes "$C_BYTES" --seed 61 --timeout-ms 60000
}

vdv_init
vdv_prepare_guest "$tool"

declare -A cid=([A]=3 [B]=4 [C]=5) groups=([A]=g1 [B]=g1+g3 [C]=g2) sock=() uds=()
vmargs=()
for g in A B C; do
    sock[$g]="$VDV_WORK/vhost${cid[$g]}.sock"
    uds[$g]="$VDV_WORK/vm${cid[$g]}.vsock"
    vmargs+=(--vm "guest-cid=${cid[$g]},socket=${sock[$g]},uds-path=${uds[$g]},groups=${groups[$g]}")
done
vdv_start_daemon "$VDV_WORK/daemon.log" "$daemon" "${vmargs[@]}"
vdv_need_sockets sibling "${sock[A]}" "${sock[B]}" "${sock[C]}"

bg go go_signal
bg host_c host_to_c
t0="$(vdv_now_ms)"
bg A boot A "${sock[A]}" "listen,5000,$N,30,40"
bg B boot B "${sock[B]}" "peer,${cid[A]},5000,$N,40,30,120,9,$GO_PORT,${cid[C]},6000"
bg C boot C "${sock[C]}" "listen,6000,$C_BYTES,60,61"
wait_bg $((VDV_E2E_QEMU_TIMEOUT + 20)) A B C
vdv_log "all three guests done after $(($(vdv_now_ms) - t0)) ms"
wait_bg 10 go host_c

guest_ok() { # NAME
    local r
    read -r r _ <"$VDV_WORK/$1.result" 2>/dev/null || r=NONE
    if [[ "$(bg_rc "$1")" == 0 ]]; then
        vdv_log "guest $1: $(cat "$VDV_WORK/$1.result") (result qemu_rc boot_ms result_ms)"
        return 0
    fi
    vdv_log "guest $1: ${r}; its boot log:"
    sed 's/^/    /' "$VDV_WORK/$1.out" >&2 || true
    vdv_dump "$VDV_WORK/$1.serial.log" "guest $1 serial console" 40
    return 1
}

recv_is() { # GUEST BYTES SEED: its "SIB xfer RECV" line is that payload
    local got want
    got="$(sib_line "$1" xfer RECV)"
    want="$(sum_of "$2" "$3")"
    [[ "$got" == "$want" ]] && return 0
    vdv_log "guest $1 received '${got:-nothing}', want '$want'"
    return 1
}

accepted_from() { # GUEST CID: the listener's peer was that CID
    local got
    got="$(sib_line "$1" xfer ACCEPTED | cut -d' ' -f1)"
    [[ "$got" == "$2" ]] && return 0
    vdv_log "guest $1 accepted a connection from CID '${got:-none}', want $2"
    return 1
}

refused_fast() { # LABEL
    local ms
    ms="$(sib_line B "$1" REFUSED)"
    vdv_log "B's $1 connect: REFUSED after ${ms:-?} ms"
    [[ -n "$ms" && "$ms" -lt $FAST_MS ]]
}

host_c_ok() {
    local want got
    [[ "$(bg_rc host_c)" == 0 ]] || {
        vdv_log "host -> C: exit $(bg_rc host_c): $(tail -n 3 "$VDV_WORK/host_c.out")"
        return 1
    }
    want="$(sum_of "$C_BYTES" 60)"
    got="$(sed -n 's/^RECV //p' "$VDV_WORK/host_c.out")"
    [[ "$got" == "$want" ]] || { vdv_log "host got '$got' from C, want '$want'"; return 1; }
}

vdv_check "guest A (CID 3, g1) listened and moved $N bytes each way" guest_ok A
vdv_check "guest B (CID 4, g1+g3) reached A, refused on CID 9 and on C" guest_ok B
vdv_check "guest C (CID 5, g2) listened" guest_ok C
vdv_check "A's listener accepted CID 4" accepted_from A 4
vdv_check "A received B's $N bytes intact" recv_is A "$N" 40
vdv_check "B received A's $N bytes intact" recv_is B "$N" 30
vdv_check "B -> CID 9 (no such VM) refused in < $FAST_MS ms" refused_fast nocid
vdv_check "B -> C (no shared group, listening) refused in < $FAST_MS ms" refused_fast forbidden
vdv_check "the host's go reached B" test "$(bg_rc go)" == 0
vdv_check "C was listening: the host reached it after B's refusal" host_c_ok
vdv_log "B connected to A after $(sib_line B xfer attempts) attempt(s);" \
    "$(serial B | grep -a '^SIB xfer CONNECTED' | head -n 1)"
vdv_check "daemon alive after the three guests" vdv_daemon_alive

daemon_stops() {
    vdv_stop_daemon 10 || { vdv_log "daemon needed SIGKILL"; return 1; }
    [[ "$VDV_DAEMON_RC" == 0 ]] || { vdv_log "daemon exited $VDV_DAEMON_RC"; return 1; }
    if grep -aqE 'ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error:' \
        "$VDV_DAEMON_LOG"; then
        vdv_log "daemon log has a sanitizer report"
        return 1
    fi
}
vdv_check "daemon exits with status 0 on SIGTERM" daemon_stops

if [[ $VDV_CHECKS_FAILED -ne 0 ]]; then
    vdv_dump "$VDV_WORK/daemon.log" "daemon log" 100
    echo "FAIL e2e-sibling"
else
    echo "PASS e2e-sibling"
fi
echo "sibling: $VDV_CHECKS_PASSED passed, $VDV_CHECKS_FAILED failed"
[[ $VDV_CHECKS_FAILED -eq 0 ]]
