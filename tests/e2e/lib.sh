# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
# shellcheck shell=bash disable=SC2034 # VDV_* results are read by the tests
#
# Shared helpers for the e2e tests: the daemon under test, QEMU (TCG) guests
# booted from prepare-guest.sh's kernel and build-initramfs.sh's initramfs.
# Source it from a bash script that runs under `set -euo pipefail`, then call
# vdv_init first.
#
# Environment (all optional):
#   VDV_E2E_CACHE         kernel cache dir (default: prepare-guest.sh's,
#                         ${XDG_CACHE_HOME:-~/.cache}/vdv-e2e)
#   VDV_E2E_ALLOW_SKIP=1  exit 77 (skip) when the kernel cannot be obtained
#   VDV_E2E_KEEP=1        keep the work dir (logs, sockets) even on success
#   VDV_E2E_QEMU          QEMU binary (default: qemu-system-x86_64)
#   VDV_E2E_QEMU_TIMEOUT  seconds one guest may run (default: 180)
#   VDV_E2E_BOOT_TIMEOUT  seconds until /init must have started (default: 60)
#   VDV_E2E_KERNEL_ARGS   extra kernel command line arguments
#   VDV_E2E_KERNEL_SERIES 6.1 (default) or 6.12: see prepare-guest.sh
#   VDV_E2E_MEM           guest memory (default: 256M)
# VDV_BOOT_QEMU_EXTRA (an array, set by a test) adds QEMU arguments to
# vdv_boot_guest (a NIC, a second serial port).
#
# Every process started here is remembered by PID and only those are killed
# on exit; every wait is bounded.

VDV_E2E_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VDV_PIDS=()
VDV_WORK=""
VDV_FAILED=0
VDV_DAEMON_PID=""
VDV_DAEMON_LOG=""
VDV_KERNEL_DIR=""
VDV_INITRD=""
VDV_BOOT_QEMU_EXTRA=()

vdv_log() { printf '[e2e %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# Records a failure (the test goes on so that later checks still report).
vdv_fail() {
    vdv_log "FAIL: $*"
    VDV_FAILED=1
}

# Runs one check (COMMAND...) and counts it under DESCRIPTION; the test
# goes on either way and ends with "$VDV_CHECKS_PASSED passed, ...".
VDV_CHECKS_PASSED=0
VDV_CHECKS_FAILED=0
vdv_check() { # DESCRIPTION COMMAND...
    local what="$1"
    shift
    if "$@"; then
        vdv_log "ok: $what"
        VDV_CHECKS_PASSED=$((VDV_CHECKS_PASSED + 1))
    else
        vdv_fail "$what"
        VDV_CHECKS_FAILED=$((VDV_CHECKS_FAILED + 1))
    fi
}

vdv_now_ms() { date +%s%3N; }

# Kills (TERM, then KILL after a bounded wait) every PID we started that is
# still running.
vdv_kill_all() {
    local pid i
    for pid in "${VDV_PIDS[@]}"; do
        kill -0 "$pid" 2>/dev/null || continue
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${VDV_PIDS[@]}"; do
        for ((i = 0; i < 50; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            vdv_log "PID $pid ignored SIGTERM for 5s, sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
        wait "$pid" 2>/dev/null || true
    done
    VDV_PIDS=()
}

# Drops a PID that has been reaped from the kill list.
vdv_forget_pid() {
    local p keep=()
    for p in "${VDV_PIDS[@]}"; do
        [[ "$p" == "$1" ]] || keep+=("$p")
    done
    VDV_PIDS=("${keep[@]}")
}

vdv_cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    vdv_kill_all
    if [[ -n "$VDV_WORK" && -d "$VDV_WORK" ]]; then
        if [[ $rc -ne 0 && $rc -ne 77 ]] || [[ $VDV_FAILED -ne 0 ]] ||
            [[ "${VDV_E2E_KEEP:-0}" == 1 ]]; then
            vdv_log "logs kept in $VDV_WORK"
        else
            rm -rf "$VDV_WORK"
        fi
    fi
    exit "$rc"
}

# vdv_init: work dir (short path: it holds UNIX sockets), traps.
vdv_init() {
    VDV_WORK="$(mktemp -d "${TMPDIR:-/tmp}/vdv-e2e.XXXXXX")"
    trap vdv_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    vdv_log "work dir $VDV_WORK"
}

# Exit code for "the environment cannot run this test": 77 (skip) only when
# the user allowed it, else a failure.
vdv_cannot_run() {
    vdv_log "cannot run: $*"
    if [[ "${VDV_E2E_ALLOW_SKIP:-0}" == 1 ]]; then
        # Last line: scripts/summarize.py shows it as the skip's reason.
        vdv_log "SKIP (VDV_E2E_ALLOW_SKIP=1): $*"
        exit 77
    fi
    exit 1
}

# vdv_prepare_guest GUEST_TOOL [SCENARIO_SCRIPT...]
# Gets the kernel (cached) and builds the initramfs with guest/scenarios/*.sh
# and the given scripts in /scenarios; sets VDV_KERNEL_DIR and VDV_INITRD.
vdv_prepare_guest() {
    local tool="$1"
    shift
    local -a cache=()
    [[ -n "${VDV_E2E_CACHE:-}" ]] && cache=("$VDV_E2E_CACHE")
    local qemu="${VDV_E2E_QEMU:-qemu-system-x86_64}"

    command -v "$qemu" >/dev/null || vdv_cannot_run "$qemu not found (install qemu-system-x86)"
    if ! "$qemu" -device help 2>/dev/null | grep -q '"vhost-user-vsock-pci"'; then
        vdv_cannot_run "$qemu has no vhost-user-vsock-pci device"
    fi
    if ! VDV_KERNEL_DIR="$("$VDV_E2E_DIR/prepare-guest.sh" "${cache[@]}")"; then
        vdv_cannot_run "the Debian ${VDV_E2E_KERNEL_SERIES:-6.1} guest kernel could not be obtained"
    fi
    VDV_INITRD="$VDV_WORK/initramfs.cpio.gz"
    local -a scripts=("$VDV_E2E_DIR"/guest/scenarios/*.sh)
    "$VDV_E2E_DIR/build-initramfs.sh" "$VDV_KERNEL_DIR" "$tool" "$VDV_INITRD" \
        "${scripts[@]}" "$@"
}

# vdv_start_daemon LOG DAEMON [ARGS...]: starts the daemon in the background,
# output to LOG; sets VDV_DAEMON_PID.
vdv_start_daemon() {
    VDV_DAEMON_LOG="$1"
    shift
    vdv_log "starting daemon: $*"
    "$@" >"$VDV_DAEMON_LOG" 2>&1 </dev/null &
    VDV_DAEMON_PID=$!
    VDV_PIDS+=("$VDV_DAEMON_PID")
}

vdv_daemon_alive() {
    [[ -n "$VDV_DAEMON_PID" ]] && kill -0 "$VDV_DAEMON_PID" 2>/dev/null
}

# vdv_wait_socket PATH [TIMEOUT_S]: waits for the UNIX socket to appear;
# fails early if the daemon exits meanwhile.
vdv_wait_socket() {
    local path="$1" limit=$((${2:-10} * 10)) i
    for ((i = 0; i < limit; i++)); do
        [[ -S "$path" ]] && return 0
        if ! vdv_daemon_alive; then
            vdv_log "daemon exited before creating $path"
            vdv_dump "$VDV_DAEMON_LOG" "daemon log"
            return 1
        fi
        sleep 0.1
    done
    vdv_log "timeout: $path did not appear within ${2:-10}s"
    return 1
}

# vdv_need_sockets NAME PATH...: waits (10 s each) for the daemon's sockets;
# if one does not appear, prints the daemon log, NAME's FAIL line and its
# "0 passed, 1 failed" summary, and exits 1.
vdv_need_sockets() {
    local name="$1" path
    shift
    for path in "$@"; do
        vdv_wait_socket "$path" 10 && continue
        vdv_dump "$VDV_DAEMON_LOG" "daemon log"
        echo "FAIL e2e-$name: daemon did not create $path"
        echo "$name: 0 passed, 1 failed"
        exit 1
    done
}

# vdv_stop_daemon [TIMEOUT_S]: SIGTERM and a bounded wait; sets
# VDV_DAEMON_RC (exit status, or "killed" when it had to be SIGKILLed).
vdv_stop_daemon() {
    local limit=$((${1:-10} * 10)) i
    VDV_DAEMON_RC=""
    vdv_daemon_alive || return 0
    kill -TERM "$VDV_DAEMON_PID" 2>/dev/null || true
    for ((i = 0; i < limit; i++)); do
        kill -0 "$VDV_DAEMON_PID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$VDV_DAEMON_PID" 2>/dev/null; then
        kill -KILL "$VDV_DAEMON_PID" 2>/dev/null || true
        wait "$VDV_DAEMON_PID" 2>/dev/null || true
        VDV_DAEMON_RC=killed
        vdv_forget_pid "$VDV_DAEMON_PID"
        return 1
    fi
    VDV_DAEMON_RC=0
    wait "$VDV_DAEMON_PID" 2>/dev/null || VDV_DAEMON_RC=$?
    vdv_forget_pid "$VDV_DAEMON_PID"
}

# vdv_dump FILE TITLE [LINES]: tail of a log to stderr (meson keeps it).
vdv_dump() {
    local f="$1" title="$2" n="${3:-60}"
    [[ -f "$f" ]] || return 0
    printf -- '----- %s (%s, last %s lines) -----\n' "$title" "$f" "$n" >&2
    tail -n "$n" "$f" | tr -d '\r' >&2 || true
    printf -- '----- end of %s -----\n' "$title" >&2
}

# vdv_boot_guest NAME VHOST_SOCK KERNEL_ARGS
#   NAME        label; logs go to $VDV_WORK/NAME.serial.log and NAME.qemu.log
#   VHOST_SOCK  the daemon's vhost-user socket, or "" for a guest without
#               the vsock device
#   KERNEL_ARGS scenario arguments (vdv.scenario=... etc.)
# Boots one guest, waits (bounded) for it to power off and sets:
#   VDV_RESULT       PASS | FAIL | NONE (no result line)
#   VDV_RESULT_LINE  the VDV-RESULT line
#   VDV_BOOT_MS      QEMU start -> /init started (VDV-BOOT line), or ""
#   VDV_RESULT_MS    QEMU start -> result line, or ""
#   VDV_QEMU_RC      QEMU's exit status (124 = killed by the timeout)
# Returns 0 iff the guest reported PASS and QEMU exited cleanly; otherwise
# dumps the serial console and QEMU's output unless VDV_DUMP_ON_FAIL=0.
vdv_boot_guest() {
    local name="$1" sock="$2" kargs="$3"
    local qemu="${VDV_E2E_QEMU:-qemu-system-x86_64}"
    local limit="${VDV_E2E_QEMU_TIMEOUT:-180}"
    local serial="$VDV_WORK/$name.serial.log" qlog="$VDV_WORK/$name.qemu.log"
    local t0 pid line
    local -a dev=() noreboot=(-no-reboot)

    # VDV_BOOT_REBOOT=1: a reboot in the guest boots it again in the same
    # QEMU (a guest reboot under a running VMM); the scenario's last boot
    # ends with poweroff as usual.
    [[ "${VDV_BOOT_REBOOT:-0}" == 1 ]] && noreboot=()
    if [[ -n "$sock" ]]; then
        # shellcheck disable=SC2054 # commas belong to QEMU option values
        dev=(-chardev "socket,id=char0,path=$sock"
            -device vhost-user-vsock-pci,chardev=char0)
    fi
    : >"$serial"
    VDV_RESULT=NONE
    VDV_RESULT_LINE=""
    VDV_BOOT_MS=""
    VDV_RESULT_MS=""
    VDV_QEMU_RC=""

    vdv_log "booting guest '$name' (${sock:-no vsock device}): $kargs"
    t0="$(vdv_now_ms)"
    local mem="${VDV_E2E_MEM:-256M}"
    timeout --kill-after=10 "$limit" "$qemu" \
        -machine q35,accel=tcg,memory-backend=mem \
        -object "memory-backend-memfd,id=mem,size=$mem,share=on" -m "$mem" \
        -smp 1 -nodefaults -nographic "${noreboot[@]}" -monitor none \
        -serial "file:$serial" \
        "${dev[@]}" "${VDV_BOOT_QEMU_EXTRA[@]}" \
        -kernel "$VDV_KERNEL_DIR/vmlinuz" -initrd "$VDV_INITRD" \
        -append "console=ttyS0 panic=-1 ${VDV_E2E_KERNEL_ARGS:-} $kargs" \
        </dev/null >"$qlog" 2>&1 &
    pid=$!
    VDV_PIDS+=("$pid")

    # Watch the serial log to time the boot; QEMU's own timeout bounds this.
    # A guest that never reaches /init (QEMU stuck in vhost-user set-up
    # before the guest runs) is stopped sooner.
    local boot_limit=$((${VDV_E2E_BOOT_TIMEOUT:-60} * 1000)) stuck=0
    while kill -0 "$pid" 2>/dev/null; do
        if [[ -z "$VDV_BOOT_MS" ]] && grep -aq 'VDV-BOOT ' "$serial"; then
            VDV_BOOT_MS=$(($(vdv_now_ms) - t0))
        fi
        if [[ -z "$VDV_BOOT_MS" && $stuck -eq 0 ]] &&
            (($(vdv_now_ms) - t0 > boot_limit)); then
            vdv_log "guest '$name' did not reach /init within" \
                "${VDV_E2E_BOOT_TIMEOUT:-60}s (VDV_E2E_BOOT_TIMEOUT): stopping QEMU"
            kill -TERM "$pid" 2>/dev/null || true
            stuck=1
        fi
        if [[ -z "$VDV_RESULT_MS" ]] && grep -aq 'VDV-RESULT ' "$serial"; then
            VDV_RESULT_MS=$(($(vdv_now_ms) - t0))
        fi
        sleep 0.1
    done
    VDV_QEMU_RC=0
    wait "$pid" || VDV_QEMU_RC=$?
    vdv_forget_pid "$pid"

    line="$(grep -a -o 'VDV-RESULT .*' "$serial" | tr -d '\r' | head -n 1 || true)"
    if [[ -n "$line" ]]; then
        VDV_RESULT_LINE="$line"
        read -r _ VDV_RESULT _ <<<"$line"
        [[ -n "$VDV_RESULT_MS" ]] || VDV_RESULT_MS=$(($(vdv_now_ms) - t0))
    fi
    if [[ -z "$VDV_BOOT_MS" ]] && grep -aq 'VDV-BOOT ' "$serial"; then
        VDV_BOOT_MS=$(($(vdv_now_ms) - t0))
    fi

    vdv_log "guest '$name': ${VDV_RESULT_LINE:-no VDV-RESULT line}"
    vdv_log "guest '$name': QEMU exit $VDV_QEMU_RC, /init after ${VDV_BOOT_MS:-?} ms," \
        "result after ${VDV_RESULT_MS:-?} ms (TCG)"
    if [[ ! -s "$serial" ]]; then
        vdv_log "guest '$name': serial console empty: QEMU never ran the guest" \
            "(stuck in vhost-user set-up with the daemon?)"
    fi
    if [[ "$VDV_QEMU_RC" -eq 124 || "$VDV_QEMU_RC" -eq 137 ]]; then
        vdv_log "guest '$name': QEMU killed after ${limit}s (VDV_E2E_QEMU_TIMEOUT)"
    fi
    if [[ "$VDV_RESULT" == PASS && "$VDV_QEMU_RC" -eq 0 ]]; then
        return 0
    fi
    if [[ "${VDV_DUMP_ON_FAIL:-1}" == 1 ]]; then
        vdv_dump "$serial" "guest '$name' serial console"
        vdv_dump "$qlog" "guest '$name' QEMU output" 20
    fi
    return 1
}
