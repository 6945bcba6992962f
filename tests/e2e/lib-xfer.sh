# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
# shellcheck shell=bash
#
# Helpers for the e2e tests that move data between the host and a guest
# through the daemon's hybrid vsock (--uds-path) backend.  Source after
# lib.sh.
#
# The host side runs while vdv_boot_guest waits for the guest in the
# foreground, so host jobs are background processes writing to
# $VDV_WORK/<job>.out; the guest says when its listeners are up with a
# "VDV-READY <tag>" line on the serial console (xf_wait_ready).
#
# Host tool output lines: see guest/vsock-guest-tool.c (CONNECTED, SENT,
# RECV, REFUSED, TIMEOUT).  Payloads are the tool's deterministic streams,
# identified by (bytes, seed); checksums are FNV-1a 64.

XF_PASSED=0
XF_FAILED=0
declare -A XF_JOB_PID=()

# check DESCRIPTION COMMAND...: one counted check.
xf_check() {
    local what="$1"
    shift
    if "$@"; then
        vdv_log "ok: $what"
        XF_PASSED=$((XF_PASSED + 1))
    else
        vdv_fail "$what"
        XF_FAILED=$((XF_FAILED + 1))
    fi
}

# xf_sum BYTES SEED: "<bytes> <checksum>" of the payload (host side).
xf_sum() {
    "$XF_TOOL" gen "$1" --seed "$2" | "$XF_TOOL" sum | cut -d' ' -f2-
}

# xf_serial NAME: the guest's serial log without carriage returns.
xf_serial() {
    tr -d '\r' <"$VDV_WORK/$1.serial.log" 2>/dev/null || true
}

# xf_wait_ready GUEST TAG TIMEOUT_S: waits for "VDV-READY TAG" on the
# guest's console.  Gives up early when the guest already reported its
# result (it failed before getting there).
xf_wait_ready() {
    local serial="$VDV_WORK/$1.serial.log" limit=$(($3 * 10)) i
    for ((i = 0; i < limit; i++)); do
        if [[ -f "$serial" ]]; then
            grep -aq "^VDV-READY $2" "$serial" && return 0
            grep -aq 'VDV-RESULT ' "$serial" && break
        fi
        sleep 0.1
    done
    echo "TIMEOUT waiting for VDV-READY $2 on the guest console" >&2
    return 1
}

# xf_job NAME [--after GUEST TAG TIMEOUT_S] COMMAND...: runs COMMAND in the
# background (after "VDV-READY TAG" on GUEST's console, with --after),
# stdout and stderr to $VDV_WORK/NAME.out.  The PID is the command's own
# (exec), so it is the one killed on exit if still running; COMMAND may
# also be a shell function (then the PID is the subshell's).  Call from the
# test's main shell: xf_wait_jobs collects the exit status with wait.
xf_job() {
    local name="$1" guest="" tag="" limit=""
    shift
    if [[ "${1:-}" == --after ]]; then
        guest="$2" tag="$3" limit="$4"
        shift 4
    fi
    (
        if [[ -n "$tag" ]]; then
            xf_wait_ready "$guest" "$tag" "$limit" || exit 98
        fi
        if declare -F "$1" >/dev/null; then
            "$@" # a shell function: its own commands are bounded
            exit
        fi
        exec "$@"
    ) >"$VDV_WORK/$name.out" 2>&1 </dev/null &
    XF_JOB_PID[$name]=$!
    VDV_PIDS+=("$!")
    rm -f "$VDV_WORK/$name.rc"
}

# xf_wait_jobs TIMEOUT_S NAME...: bounded wait for the jobs; a job still
# running after TIMEOUT_S is killed (its status then reads "killed").
# Statuses go to $VDV_WORK/NAME.rc.
xf_wait_jobs() {
    local limit=$(($1 * 10)) i name pid running rc
    shift
    for ((i = 0; i < limit; i++)); do
        running=0
        for name in "$@"; do
            kill -0 "${XF_JOB_PID[$name]}" 2>/dev/null && running=1
        done
        [[ $running -eq 0 ]] && break
        sleep 0.1
    done
    for name in "$@"; do
        pid="${XF_JOB_PID[$name]}"
        rc=0
        if kill -0 "$pid" 2>/dev/null; then
            vdv_log "job $name still running after $1 s: killing it"
            kill -KILL "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
            rc=killed
        else
            wait "$pid" 2>/dev/null || rc=$?
        fi
        echo "$rc" >"$VDV_WORK/$name.rc"
        vdv_forget_pid "$pid"
    done
}

# xf_job_rc NAME: the job's exit status ("killed", "none" if not waited).
xf_job_rc() {
    cat "$VDV_WORK/$1.rc" 2>/dev/null || echo none
}

# xf_job_ok NAME: the job exited 0; otherwise shows its output.
xf_job_ok() {
    local rc
    rc="$(xf_job_rc "$1")"
    [[ "$rc" == 0 ]] && return 0
    vdv_log "job $1 exited $rc; its output:"
    sed 's/^/    /' "$VDV_WORK/$1.out" >&2 2>/dev/null || true
    return 1
}

# xf_recv_ok NAME BYTES SEED: the job ran fine and its RECV line matches
# the payload (BYTES, SEED).
xf_recv_ok() {
    local want got
    xf_job_ok "$1" || return 1
    want="$(xf_sum "$2" "$3")"
    got="$(sed -n 's/^RECV //p' "$VDV_WORK/$1.out")"
    if [[ "$got" != "$want" ]]; then
        vdv_log "job $1 received '$got', want '$want'"
        return 1
    fi
}

# xf_sent_ok NAME BYTES: the job sent BYTES (its own SENT line).
xf_sent_ok() {
    local got
    got="$(sed -n 's/^SENT \([0-9]*\) .*/\1/p' "$VDV_WORK/$1.out")"
    if [[ "$got" != "$2" ]]; then
        vdv_log "job $1 sent '${got:-nothing}', want $2 bytes"
        return 1
    fi
}

# xf_guest_lines GUEST PREFIX: the guest's console lines starting with
# PREFIX (a scenario's own report).
xf_guest_lines() {
    xf_serial "$1" | grep -a "^$2" || true
}

# xf_daemon_stops_cleanly: SIGTERM, exit within 10 s with status 0 and no
# sanitizer report in its log.  Under ASan/UBSan a report makes the exit
# status non-zero (or aborts); the log check names it.
xf_daemon_stops_cleanly() {
    if ! vdv_stop_daemon 10; then
        vdv_log "daemon ignored SIGTERM for 10 s and was killed"
        return 1
    fi
    if [[ "$VDV_DAEMON_RC" != 0 ]]; then
        vdv_log "daemon exited with status $VDV_DAEMON_RC on SIGTERM (want 0)"
        vdv_dump "$VDV_DAEMON_LOG" "daemon log" 80
        return 1
    fi
    if grep -aqE 'ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error:' \
        "$VDV_DAEMON_LOG"; then
        vdv_log "daemon log has a sanitizer report"
        vdv_dump "$VDV_DAEMON_LOG" "daemon log" 80
        return 1
    fi
}

# xf_summary TEST: the result lines scripts/test.sh counts; exit status.
xf_summary() {
    if [[ $XF_FAILED -ne 0 ]]; then
        vdv_dump "$VDV_DAEMON_LOG" "daemon log" 100
        echo "FAIL $1"
    else
        echo "PASS $1"
    fi
    echo "${1#e2e-}: $XF_PASSED passed, $XF_FAILED failed"
    [[ $XF_FAILED -eq 0 ]]
}

# xf_guest_recv_ok SCENARIO LABEL BYTES SEED: in the guest console of
# SCENARIO, the side LABEL received the BYTES-long payload of SEED and its
# tool exited 0.
xf_guest_recv_ok() {
    local scen="$1" label="$2" want got rc
    rc="$(xf_serial "$scen" | sed -n "s/^XF $label RC \([^ ]*\) .*/\1/p")"
    got="$(xf_serial "$scen" | sed -n "s/^XF $label RECV //p")"
    want="$(xf_sum "$3" "$4")"
    if [[ "$rc" != 0 || "$got" != "$want" ]]; then
        vdv_log "guest $label: exit '${rc:-?}', received '${got:-nothing}', want '$want'"
        xf_guest_lines "$scen" "XF $label " | sed 's/^/    /' >&2
        return 1
    fi
}
