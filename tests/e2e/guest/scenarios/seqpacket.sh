#!/bin/sh
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
#
# Guest side of test-seqpacket.sh (vdv.script=seqpacket.sh
# vdv.args=GUEST_SPEC,HOST_N): SOCK_SEQPACKET through the
# daemon's hybrid vsock backend, one phase at a time.  The message specs
# (the tool's --msgs, with ':' for ',' since vdv.args splits on commas) and
# the number of messages the host sends come from the host.  Labels and ports
# (the host's side and the seeds: see test-seqpacket.sh):
#   g2h    connect 2:5600 SEQPACKET, GUEST_SPEC sent, HOST_N messages received
#   stype  connect 2:5601 SEQPACKET: the host listens SOCK_STREAM there, so
#          the connection is refused (ECONNRESET)
#   h2g    listen 1300 SEQPACKET (host: CONNECT via <uds>_seqpacket), both ways
#   big    listen 1301 SEQPACKET with a 16 KiB buffer; the host sends a
#          small message, then a larger one than the buffer: the
#          connection is reset, the guest reads to EOF
#   credit connect 2:5602 SEQPACKET, sends 1, 4096, 4097 and 60000 bytes
#          (the order that needs a CREDIT_UPDATE from the daemon while the
#          60000-byte message is half sent; a known daemon bug hangs it:
#          see test-seqpacket.sh); last, bounded by 10 s
# Each phase reports its "XF" lines when it ends (one at a time, so that a
# later phase's hang cannot hide them); the host checks every message.
set -eu
XF_SCEN=seqpacket # read by xfer-common.sh
# shellcheck source-path=SCRIPTDIR source=xfer-common.sh
. /scenarios/xfer-common.sh

[ $# -eq 2 ] || xf_fail "usage: seqpacket.sh GUEST_SPEC HOST_N"
GS="$(echo "$1" | tr ':' ',')"
HN="$2"
TO=30000

# Guest -> host: the host's listeners are up before the guest boots.
xf_run g2h connect 2 5600 --seqpacket --msgs "$GS" --seed 32 --expect-msgs "$HN" \
    --timeout-ms $TO
xf_report g2h
xf_run stype connect 2 5601 --seqpacket --timeout-ms 5000
xf_report stype

# Host -> guest: one listener per phase, announced on the console.
phase() { # LABEL PORT TOOL_OPTS...
    l="$1"
    p="$2"
    shift 2
    xf_start "$l" listen "$p" --seqpacket "$@" --timeout-ms $TO
    xf_wait_line "$l" '^LISTENING' 10
    xf_ready "$l"
    wait
    xf_report "$l"
}
phase h2g 1300 --msgs "$GS" --seed 42 --expect-msgs "$HN"
phase big 1301 --rcvbuf 16384

xf_run credit connect 2 5602 --seqpacket --msgs 1,4096e,4097,60000e --expect-msgs 0 \
    --timeout-ms 10000
xf_report credit

echo "seqpacket: done"
