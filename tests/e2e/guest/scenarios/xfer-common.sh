#!/bin/sh
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
#
# Sourced (not run) by the transfer scenarios: stream.sh, concurrent.sh,
# garbage.sh.  Runs guest tool commands in the background and reports
# their output on the console as "XF <label> <line>" for the host to check
# (the host computes the expected checksums, which is cheaper there than
# under TCG):
#   XF <label> RC <exit status> MS <duration>
#   XF <label> RECV <bytes> <checksum>     (and SENT, REFUSED, ...)
# "VDV-READY <tag>" tells the host that the guest's listeners are up.

T="${VDV_TOOL:-/bin/vsock-guest-tool}"
# busybox sh has no portable "local": helpers' variables start with _xf_ so
# that they cannot clobber the caller's.
XF_SCEN="${XF_SCEN:-xfer}"
XF_JOBS=""

xf_fail() {
    echo "$XF_SCEN: $*" >&2
    exit 1
}

# Milliseconds since boot (/proc/uptime has centiseconds).
xf_ms() {
    read -r _xf_up _ </proc/uptime
    _xf_s="${_xf_up%.*}"
    _xf_c="${_xf_up#*.}"
    _xf_c="${_xf_c#0}"
    echo $((_xf_s * 1000 + _xf_c * 10))
}

# xf_start LABEL TOOL_ARGS...: the tool in the background, output to
# /tmp/LABEL.out; its status and duration later go to /tmp/LABEL.rc.
xf_start() {
    _xf_label="$1"
    shift
    (
        _xf_t0="$(xf_ms)"
        _xf_rc=0
        "$T" "$@" >"/tmp/$_xf_label.out" 2>&1 || _xf_rc=$?
        echo "$_xf_rc $(($(xf_ms) - _xf_t0))" >"/tmp/$_xf_label.rc"
    ) &
    XF_JOBS="$XF_JOBS $_xf_label"
}

# xf_run LABEL TOOL_ARGS...: the same in the foreground.
xf_run() {
    _xf_label="$1"
    shift
    _xf_t0="$(xf_ms)"
    _xf_rc=0
    "$T" "$@" >"/tmp/$_xf_label.out" 2>&1 || _xf_rc=$?
    echo "$_xf_rc $(($(xf_ms) - _xf_t0))" >"/tmp/$_xf_label.rc"
    XF_JOBS="$XF_JOBS $_xf_label"
}

# xf_wait_line LABEL PATTERN SECONDS: bounded wait for a line in LABEL's output.
xf_wait_line() {
    _xf_n=0
    while ! grep -q "$2" "/tmp/$1.out" 2>/dev/null; do
        _xf_n=$((_xf_n + 1))
        [ "$_xf_n" -le $(($3 * 10)) ] || xf_fail "$1: no '$2' after $3 s: $(cat "/tmp/$1.out" 2>/dev/null)"
        sleep 0.1
    done
}

# xf_ready TAG: tells the host (console line).
xf_ready() {
    echo "VDV-READY $1"
}

# xf_wait_all: waits for every background job (each is bounded by its
# --timeout-ms).
xf_wait_all() {
    wait
}

# xf_report LABEL: the job's result lines for the host.
xf_report() {
    read -r _xf_rc _xf_ms <"/tmp/$1.rc" || { _xf_rc=none; _xf_ms=0; }
    echo "XF $1 RC $_xf_rc MS $_xf_ms"
    while IFS= read -r _xf_line; do
        echo "XF $1 $_xf_line"
    done <"/tmp/$1.out"
}

# xf_report_all: every job started so far, one after the other (lines from
# concurrent writers could interleave on the console).
xf_report_all() {
    for _xf_l in $XF_JOBS; do
        xf_report "$_xf_l"
    done
}
