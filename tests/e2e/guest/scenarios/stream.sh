#!/bin/sh
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
#
# Guest side of test-stream.sh (vdv.script=stream.sh vdv.args=BYTES):
# BYTES each way through the daemon's hybrid vsock backend, one phase at a
# time, then refused connections.  Labels and ports (the host's side is in
# test-stream.sh; seeds: see there):
#   g2h_bidi  connect 2:5555, BYTES each way on one connection
#   g2h_up    connect 2:5556, guest sends BYTES, host reads to EOF
#   g2h_down  connect 2:5557, host sends BYTES, guest reads to EOF
#   g2h_slow  connect 2:5558, guest sends BYTES, the host reads after a pause
#   h2g_bidi  listen 1234 (host: CONNECT 1234), BYTES each way
#   h2g_up    listen 1235, host sends BYTES, guest reads to EOF
#   h2g_down  listen 1236, guest sends BYTES, host reads to EOF
#   refused   connect 2:5999 (nobody listens on the host)
#   nocid     connect 5:1234 (no such CID behind hybrid vsock)
# The host checks the checksums and the timings from the "XF" lines.
set -eu
XF_SCEN=stream # read by xfer-common.sh
# shellcheck source-path=SCRIPTDIR source=xfer-common.sh
. /scenarios/xfer-common.sh

N="${1:?usage: stream.sh BYTES}"
TO=60000

# Guest -> host: the host's listeners are up before the guest boots.
xf_run g2h_bidi connect 2 5555 --send-bytes "$N" --expect-bytes "$N" --seed 21 --timeout-ms $TO
xf_run g2h_up connect 2 5556 --send-bytes "$N" --expect-bytes 0 --seed 23 --timeout-ms $TO
xf_run g2h_down connect 2 5557 --timeout-ms $TO
xf_run g2h_slow connect 2 5558 --send-bytes "$N" --expect-bytes 0 --seed 25 --timeout-ms $TO

# Host -> guest: one listener per phase, announced on the console.
phase() { # LABEL PORT TOOL_OPTS...
    l="$1"
    p="$2"
    shift 2
    xf_start "$l" listen "$p" "$@" --timeout-ms $TO
    xf_wait_line "$l" '^LISTENING' 10
    xf_ready "$l"
    wait
}
phase h2g_bidi 1234 --send-bytes "$N" --expect-bytes "$N" --seed 11
phase h2g_up 1235
phase h2g_down 1236 --send-bytes "$N" --expect-bytes 0 --seed 14

xf_run refused connect 2 5999 --timeout-ms 5000
xf_run nocid connect 5 1234 --timeout-ms 5000

xf_report_all
echo "stream: done"
