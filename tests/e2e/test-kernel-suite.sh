#!/bin/bash
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
#
# e2e: the kernel's own vsock test suites (tools/testing/vsock: vsock_test,
# then vsock_diag_test) between two sibling guests of one daemon, on Debian's
# SERIES kernel (6.1 or 6.12), programs built from the same series' source
# (build-kernel-vsock-tests.sh).
#
#   daemon  --vm CID 3 (server guest A) and --vm CID 4 (client guest B), one
#           group, hybrid vsock sockets in the work dir (unused by the suites)
#   guests  booted once, in parallel; each runs guest/scenarios/kernel-suite.sh,
#           which takes commands from the host on its second serial port
#   control the suites' TCP control channel goes guest to guest through QEMU
#           user networking: A's QEMU forwards 127.0.0.1:HOSTBASE+k to A's
#           port 20000+k (hostfwd), B connects to 10.0.2.2:HOSTBASE+k
#
# Every test runs on its own (--skip every other one, so that a failure does
# not hide the tests after it), in lockstep: the host starts the server in A,
# waits until it listens, starts the client in B, waits for both.  Each side
# is killed after LIMIT seconds (VDV_KS_LIMIT, default 60); test k has its
# own control port, so a killed test cannot confuse the next one.  A test is
# ok when both sides exit 0 and both printed "<id> - <name>...ok".
#
# One line per test, e.g.
#   kernel-suite 6.12 vsock_test 17 SOCK_STREAM SHUT_RD: ok
#   kernel-suite 6.12 vsock_test 19 SOCK_SEQPACKET MSG_ZEROCOPY: not ok (known: ...)
# Expected failures are listed in kernel-suite-known-failures.txt (SERIES |
# SUITE | TEST NAME | reason): a listed test that fails is "not ok (known:
# reason)" and does not fail this test; an unlisted failure fails it, and so
# does a listed test that passes (remove it from the list).
#
# Usage: test-kernel-suite.sh SERIES DAEMON GUEST_TOOL
# Environment: VDV_KS_LIMIT (seconds per test and side), VDV_KS_ONLY (a
# grep -E regex on "SUITE ID NAME": run only the matching tests, for
# debugging; every other test is reported "not run"; VDV_KS_REPEAT=N runs
# each of them N times), VDV_KS_KNOWN (another
# list file), VDV_KS_RETRIES (how many failing tests may run a second time,
# in all; default 4, see below), VDV_KS_VM_OPTS (the --vm keys added for both VMs; default
# tx-buffer-size=262144, see below), plus lib.sh's (VDV_LOG=debug reaches the
# daemon).
# Exit: 0 pass, 1 fail, 77 skip (VDV_E2E_ALLOW_SKIP=1 and no kernel/QEMU).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

[[ $# -eq 3 ]] || { echo "usage: $0 SERIES DAEMON GUEST_TOOL" >&2; exit 2; }
series="$1"
daemon="$2"
tool="$3"
[[ -x "$daemon" ]] || { echo "$0: daemon $daemon not executable" >&2; exit 1; }
case "$series" in
6.1 | 6.12) ;;
*) echo "$0: SERIES must be 6.1 or 6.12" >&2; exit 2 ;;
esac

LIMIT="${VDV_KS_LIMIT:-60}"
# The suites were written against Linux's own vhost-vsock, whose peers
# advertise a 256 KiB buf_alloc; ours is tx-buffer-size (64 KiB by default,
# as rust-vmm's daemon). "SOCK_STREAM MSG_ZEROCOPY" sends 192 KiB with
# MSG_ZEROCOPY and expects zerocopy, which the guest kernel gives only when
# the whole send fits the peer's credit (virtio_transport_can_zcopy), else
# it copies: so the VMs get the kernel's buffer size.
KS_VM_OPTS="${VDV_KS_VM_OPTS-tx-buffer-size=262144}"
KNOWN="${VDV_KS_KNOWN:-$here/kernel-suite-known-failures.txt}"
CID_A=3
CID_B=4
GUEST_PORT0=20000
name="kernel-suite-$series"
# Two TCG guests share two cores with the daemon; the whole run is bounded.
export VDV_E2E_QEMU_TIMEOUT="${VDV_E2E_QEMU_TIMEOUT:-1500}"
export VDV_E2E_BOOT_TIMEOUT="${VDV_E2E_BOOT_TIMEOUT:-120}"
export VDV_E2E_KERNEL_SERIES="$series"

t_start="$(vdv_now_ms)"
vdv_init

# ------------------------------------------------------------ the programs

cache=()
[[ -n "${VDV_E2E_CACHE:-}" ]] && cache=("$VDV_E2E_CACHE")
if ! ktests="$("$here/build-kernel-vsock-tests.sh" "$series" "${cache[@]}")"; then
    vdv_cannot_run "the kernel's vsock tests ($series) could not be built"
fi
vdv_log "kernel vsock tests: $ktests (linux-source-$series $(cat "$ktests/version"))"
progs=""
for p in "$ktests"/bin/*; do
    progs+="$p "
done
export VDV_INITRAMFS_EXTRA="$progs"
export VDV_INITRAMFS_MODULES="virtio_net vsock_diag"
vdv_prepare_guest "$tool"
vdv_log "guest kernel $(cat "$VDV_KERNEL_DIR/version")"

# Tests: T_SUITE[k] T_ID[k] T_NAME[k] for k = 0..NT-1, vsock_test first.
T_SUITE=()
T_ID=()
T_NAME=()
declare -A SUITE_N=()
for suite in vsock_test vsock_diag_test; do
    n=0
    while IFS=$'\t' read -r id tname; do
        n=$((n + 1))
        # VDV_KS_REPEAT: the tests VDV_KS_ONLY selects, that many times each
        r=1
        if [[ -n "${VDV_KS_ONLY:-}" ]] && grep -qE "$VDV_KS_ONLY" <<<"$suite $id $tname"; then
            r="${VDV_KS_REPEAT:-1}"
        fi
        for ((i = 0; i < r; i++)); do
            T_SUITE+=("$suite")
            T_ID+=("$id")
            T_NAME+=("$tname")
        done
    done <"$ktests/list-$suite"
    SUITE_N[$suite]=$n
done
NT=${#T_ID[@]}
# A test that fails is run once more (at most RETRIES times in all), and
# reported as such: the suites' control channel is TCP between the guests,
# through QEMU's user networking, and a test such as "SHUT_RD" assumes the
# vsock path (guest -> daemon -> other guest) is faster than that channel.
# Under TCG on two shared CPUs it is not always: the host may run the
# daemon's thread for the receiving VM a few hundred microseconds after the
# other QEMU has relayed the TCP line (seen with --log-level trace), and in
# the guest the vsock rx worker competes with the woken test program (the
# guest runs the programs under SCHED_IDLE for that). SHUT_RD alone, 6.12:
# 20% of runs lost the race before SCHED_IDLE, 5-8% after (80 runs each).
# Every run has its own control port.
RETRIES="${VDV_KS_RETRIES:-4}"
NSLOT=$((NT + RETRIES))
vdv_log "$NT tests: vsock_test ${SUITE_N[vsock_test]}, vsock_diag_test ${SUITE_N[vsock_diag_test]}"

# Known failures: "SERIES | SUITE | NAME | reason" -> KNOWN_WHY["SERIES|SUITE|NAME"]
declare -A KNOWN_WHY=()
trim() { local s="$1"; s="${s#"${s%%[![:space:]]*}"}"; printf '%s' "${s%"${s##*[![:space:]]}"}"; }
if [[ -f "$KNOWN" ]]; then
    while IFS='|' read -r k_series k_suite k_name k_why; do
        k_series="$(trim "$k_series")"
        [[ -z "$k_series" || "$k_series" == \#* ]] && continue
        KNOWN_WHY["$k_series|$(trim "$k_suite")|$(trim "$k_name")"]="$(trim "$k_why")"
    done <"$KNOWN"
fi

# ------------------------------------------------------------ daemon, guests

declare -A sock=() uds=()
vmargs=()
for g in A B; do
    cid=$CID_A
    [[ $g == B ]] && cid=$CID_B
    sock[$g]="$VDV_WORK/vhost$cid.sock"
    uds[$g]="$VDV_WORK/vm$cid.vsock"
    vmargs+=(--vm "guest-cid=$cid,socket=${sock[$g]},uds-path=${uds[$g]},groups=ks${KS_VM_OPTS:+,$KS_VM_OPTS}")
done
vdv_start_daemon "$VDV_WORK/daemon.log" "$daemon" "${vmargs[@]}"
vdv_need_sockets "$name" "${sock[A]}" "${sock[B]}"

declare -A PID_OF=()
# bg NAME COMMAND...: in the background, output to $VDV_WORK/NAME.out, status
# to NAME.rc; the subshell kills its own QEMU when it is terminated.
bg() {
    local bname="$1"
    shift
    (
        # shellcheck disable=SC2030 # the subshell's own QEMU, killed on exit
        VDV_PIDS=()
        trap 'vdv_kill_all' EXIT
        trap 'exit 143' TERM INT
        rc=0
        "$@" || rc=$?
        echo "$rc" >"$VDV_WORK/$bname.rc"
        exit "$rc"
    ) >"$VDV_WORK/$bname.out" 2>&1 </dev/null &
    PID_OF[$bname]=$!
    # shellcheck disable=SC2031 # the main shell's list, not the subshell's
    VDV_PIDS+=("$!")
}
running() { kill -0 "${PID_OF[$1]}" 2>/dev/null; }
# wait_bg TIMEOUT_S NAME...: bounded wait; what still runs is stopped.
wait_bg() {
    local limit=$(($1 * 10)) i n r
    shift
    for ((i = 0; i < limit; i++)); do
        r=0
        for n in "$@"; do running "$n" && r=1; done
        [[ $r -eq 0 ]] && break
        sleep 0.1
    done
    for n in "$@"; do
        if running "$n"; then
            vdv_log "$n still running after $1 s: stopping it"
            kill -TERM "${PID_OF[$n]}" 2>/dev/null || true
        fi
        wait "${PID_OF[$n]}" 2>/dev/null || true
        vdv_forget_pid "${PID_OF[$n]}"
    done
}

# boot G KARGS QEMU_ARGS...: guest G, the scenario under its own bound.
boot() {
    local g="$1" kargs="$2"
    shift 2
    VDV_BOOT_QEMU_EXTRA=("$@")
    VDV_DUMP_ON_FAIL=0 vdv_boot_guest "$g" "${sock[$g]}" "$kargs"
}

# A host port range for the hostfwd rules that nothing listens on now.
pick_host_base() {
    local base p busy
    local listening
    listening="$(ss -Htln 2>/dev/null | awk '{print $4}' | sed 's/.*://' || true)"
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        base=$((30000 + (RANDOM % 250) * 100))
        busy=0
        for ((p = base; p < base + NSLOT; p++)); do
            if grep -qx "$p" <<<"$listening"; then busy=1; break; fi
        done
        [[ $busy -eq 0 ]] && { echo "$base"; return 0; }
    done
    echo $((30000 + (RANDOM % 250) * 100))
}

declare -A CTL_FD=()
KARGS="vdv.scenario=run vdv.script=kernel-suite.sh vdv.timeout=$((VDV_E2E_QEMU_TIMEOUT - 30)) quiet"
start_guests() {
    local g k fwd="" fd
    HOST_BASE="$(pick_host_base)"
    for ((k = 0; k < NSLOT; k++)); do
        fwd+=",hostfwd=tcp:127.0.0.1:$((HOST_BASE + k))-:$((GUEST_PORT0 + k))"
    done
    for g in A B; do
        rm -f "$VDV_WORK/$g.ks.in" "$VDV_WORK/$g.ks.out" "$VDV_WORK/$g.ks.log" "$VDV_WORK/$g.rc"
        mkfifo "$VDV_WORK/$g.ks.in" "$VDV_WORK/$g.ks.out"
        : >"$VDV_WORK/$g.ks.log"
        # read-write opens of the FIFOs never block, whoever comes first
        cat 0<>"$VDV_WORK/$g.ks.out" >>"$VDV_WORK/$g.ks.log" &
        VDV_PIDS+=("$!")
        exec {fd}<>"$VDV_WORK/$g.ks.in"
        CTL_FD[$g]=$fd
    done
    # shellcheck disable=SC2054 # commas belong to QEMU option values
    bg A boot A "$KARGS" -netdev "user,id=n0$fwd" \
        -device virtio-net-pci,netdev=n0,romfile= -serial "pipe:$VDV_WORK/A.ks"
    # shellcheck disable=SC2054
    bg B boot B "$KARGS" -netdev user,id=n0 \
        -device virtio-net-pci,netdev=n0,romfile= -serial "pipe:$VDV_WORK/B.ks"
}

# wait_ks G REGEX TIMEOUT_S: the line appears in G's control log; gives up
# early when G's QEMU is gone.  Prints the line.
wait_ks() {
    local g="$1" re="$2" limit=$(($3 * 20)) i line
    for ((i = 0; i < limit; i++)); do
        line="$(grep -a -m1 -E "$re" "$VDV_WORK/$g.ks.log" || true)"
        [[ -n "$line" ]] && { printf '%s\n' "$line"; return 0; }
        running "$g" || break
        sleep 0.05
    done
    line="$(grep -a -m1 -E "$re" "$VDV_WORK/$g.ks.log" || true)"
    [[ -n "$line" ]] && { printf '%s\n' "$line"; return 0; }
    return 1
}

send() { printf '%s\n' "$2" >&"${CTL_FD[$1]}"; }

t_boot="$(vdv_now_ms)"
for attempt in 1 2 3; do
    start_guests
    okA=0 okB=0
    wait_ks A '^KS HELLO' "$VDV_E2E_BOOT_TIMEOUT" >/dev/null && okA=1
    wait_ks B '^KS HELLO' "$VDV_E2E_BOOT_TIMEOUT" >/dev/null && okB=1
    [[ $okA -eq 1 && $okB -eq 1 ]] && break
    vdv_log "guests not ready (A: $okA, B: $okB), attempt $attempt"
    vdv_dump "$VDV_WORK/A.qemu.log" "guest A QEMU output" 10
    vdv_dump "$VDV_WORK/B.qemu.log" "guest B QEMU output" 10
    retry=0
    grep -q 'host forwarding rule' "$VDV_WORK/A.qemu.log" 2>/dev/null && retry=1
    wait_bg 20 A B
    if [[ $retry -eq 0 || $attempt -eq 3 ]]; then
        vdv_dump "$VDV_WORK/A.serial.log" "guest A serial console"
        vdv_dump "$VDV_WORK/B.serial.log" "guest B serial console"
        echo "FAIL e2e-$name: the guests did not come up"
        echo "$name: 0 passed, 1 failed"
        exit 1
    fi
    vdv_log "a hostfwd port was taken: new ports"
done
vdv_log "both guests ready after $(($(vdv_now_ms) - t_boot)) ms;" \
    "A: $(grep -a -m1 '^KS HELLO' "$VDV_WORK/A.ks.log"), host ports $HOST_BASE+"

# ------------------------------------------------------------ the tests

# out_of G K: what G printed for test K (its KS OUT lines), without prefix.
out_of() { sed -n "s/^KS OUT $2 //p" "$VDV_WORK/$1.ks.log" | tr -d '\r'; }
rc_of() { sed -n "s/^KS DONE $2 //p" "$VDV_WORK/$1.ks.log" | head -n 1; }

# what_went_wrong G K ID: one line, what side G said about its test ID.
what_went_wrong() {
    local g="$1" k="$2" id="$3" rc text
    rc="$(rc_of "$g" "$k")"
    if [[ -z "$rc" ]]; then
        echo "no answer"
        return
    fi
    # the test's own line ("ID - name...<result>") and what follows it,
    # without the suite's skip and end-of-run lines: "ok" when this side
    # passed its part (and then saw the other side fail)
    text="$(out_of "$g" "$k" | sed -n "/^$id - /,\$p" |
        grep -v -e '^All tests have been executed' -e '^[0-9]* - .*\.\.\.skipped$' |
        sed 's/^[0-9]* - [^.]*\.\.\.//' | tr '\n' ' ' | sed 's/  */ /g; s/ $//')"
    # no line for the test at all: it never got that far
    if ! out_of "$g" "$k" | grep -q "^$id - "; then
        text="$(out_of "$g" "$k" | tail -n 2 | tr '\n' ' ' | sed 's/ $//')"
    fi
    # "ok ..." first: this side passed its part and then saw the other fail
    [[ "$text" == "ok "* ]] && text="its part ok, then ${text#ok }"
    case "$rc" in
    137) echo "timeout: killed after ${LIMIT}s${text:+ ($text)}" ;;
    0) echo "exit 0${text:+ ($text)}" ;;
    *) echo "${text:0:200}${text:+, }exit $rc" ;;
    esac
}

n_ok=0 n_known=0 n_bad=0 n_fixed=0 n_notrun=0 n_retried=0
aborted=""
slot=0
# run_once SUITE ID SKIPS: one run of a test in the next slot; sets passed,
# why, ms, and aborted when a guest stopped answering.
run_once() {
    local suite="$1" id="$2" skips="$3" tname="$4" k=$slot started doneA=0 doneB=0 t0
    slot=$((slot + 1))
    t0="$(vdv_now_ms)"
    send A "run $k $LIMIT WAIT /bin/$suite --mode=server --control-host=0.0.0.0 --control-port=$((GUEST_PORT0 + k)) --peer-cid=$CID_B$skips"
    started=0
    if wait_ks A "^KS (READY|DONE) $k( |\$)" $((LIMIT + 15)) | grep -q READY; then
        send B "run $k $LIMIT NOWAIT /bin/$suite --mode=client --control-host=10.0.2.2 --control-port=$((HOST_BASE + k)) --peer-cid=$CID_A$skips"
        started=1
    fi
    wait_ks A "^KS DONE $k " $((LIMIT + 20)) >/dev/null && doneA=1
    if [[ $started -eq 1 ]]; then
        wait_ks B "^KS DONE $k " $((LIMIT + 20)) >/dev/null && doneB=1
    fi
    ms=$(($(vdv_now_ms) - t0))
    passed=0
    why=""
    local okline="$id - $tname...ok"
    if [[ $doneA -eq 1 && $doneB -eq 1 && "$(rc_of A "$k")" == 0 && "$(rc_of B "$k")" == 0 ]] &&
        out_of A "$k" | grep -qxF "$okline" && out_of B "$k" | grep -qxF "$okline"; then
        passed=1
        return
    fi
    if [[ $started -eq 0 ]]; then
        why="the server did not listen: $(what_went_wrong A "$k" "$id")"
    else
        why="server: $(what_went_wrong A "$k" "$id"); client: $(what_went_wrong B "$k" "$id")"
    fi
    if [[ $doneA -eq 0 || ($started -eq 1 && $doneB -eq 0) ]]; then
        aborted="not run: a guest stopped answering during test $suite $id"
        vdv_log "$aborted"
    fi
}

for ((k = 0; k < NT; k++)); do
    suite="${T_SUITE[$k]}"
    id="${T_ID[$k]}"
    tname="${T_NAME[$k]}"
    label="kernel-suite $series $suite $id $tname"
    key="$series|$suite|$tname"
    if [[ -n "${VDV_KS_ONLY:-}" ]] && ! grep -qE "$VDV_KS_ONLY" <<<"$suite $id $tname"; then
        echo "$label: not run (VDV_KS_ONLY)"
        n_notrun=$((n_notrun + 1))
        continue
    fi
    if [[ -n "$aborted" ]]; then
        echo "$label: not ok ($aborted)"
        n_bad=$((n_bad + 1))
        continue
    fi
    skips=""
    for ((j = 0; j < SUITE_N[$suite]; j++)); do
        [[ $j -ne $id ]] && skips+=" --skip=$j"
    done
    run_once "$suite" "$id" "$skips" "$tname"
    first=""
    if [[ $passed -eq 0 && -z "$aborted" && $n_retried -lt $RETRIES &&
        -z "${KNOWN_WHY[$key]+x}" ]]; then
        first="$why (${ms} ms)"
        n_retried=$((n_retried + 1))
        run_once "$suite" "$id" "$skips" "$tname"
    fi
    if [[ $passed -eq 1 ]]; then
        if [[ -n "${KNOWN_WHY[$key]+x}" ]]; then
            echo "$label: ok, but listed as a known failure: remove it from $(basename "$KNOWN") (${ms} ms)"
            n_fixed=$((n_fixed + 1))
        elif [[ -n "$first" ]]; then
            echo "$label: ok on the second run (${ms} ms); the first: not ok: $first"
            n_ok=$((n_ok + 1))
        else
            echo "$label: ok (${ms} ms)"
            n_ok=$((n_ok + 1))
        fi
        continue
    fi
    [[ -n "$first" ]] && why="$why; the first run too: $first"
    if [[ -n "${KNOWN_WHY[$key]+x}" ]]; then
        echo "$label: not ok (known: ${KNOWN_WHY[$key]}) [$why] (${ms} ms)"
        n_known=$((n_known + 1))
    else
        echo "$label: not ok: $why (${ms} ms)"
        n_bad=$((n_bad + 1))
    fi
done

send A quit || true
send B quit || true
wait_bg 60 A B
vdv_log "guests: A $(cat "$VDV_WORK/A.result" 2>/dev/null || grep -a 'VDV-RESULT' "$VDV_WORK/A.serial.log" | head -n 1 | tr -d '\r'), B $(grep -a 'VDV-RESULT' "$VDV_WORK/B.serial.log" | head -n 1 | tr -d '\r')"

daemon_ok=1
if ! vdv_daemon_alive; then
    vdv_log "FAIL: the daemon died"
    daemon_ok=0
elif ! vdv_stop_daemon 10 || [[ "$VDV_DAEMON_RC" != 0 ]]; then
    vdv_log "FAIL: the daemon did not exit 0 on SIGTERM (${VDV_DAEMON_RC:-?})"
    daemon_ok=0
elif grep -aqE 'ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error:' "$VDV_DAEMON_LOG"; then
    vdv_log "FAIL: the daemon log has a sanitizer report"
    daemon_ok=0
fi
[[ $daemon_ok -eq 1 ]] || vdv_dump "$VDV_DAEMON_LOG" "daemon log" 60

secs=$((($(vdv_now_ms) - t_start) / 1000))
echo "kernel-suite $series: $NT tests in ${secs}s: $n_ok ok ($n_retried run twice)," \
    "$n_known not ok (known), $n_bad not ok (unexpected), $n_fixed ok but listed as known," \
    "$n_notrun not run"
failed=$((n_bad + n_fixed + (1 - daemon_ok)))
if [[ $failed -ne 0 ]]; then
    VDV_FAILED=1
    echo "FAIL e2e-$name"
else
    echo "PASS e2e-$name"
fi
# known failures count as passed checks: they fail as listed
echo "$name: $((n_ok + n_known + daemon_ok)) passed, $failed failed"
[[ $failed -eq 0 ]]
