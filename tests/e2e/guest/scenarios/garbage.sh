#!/bin/sh
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
#
# Guest side of test-garbage.sh (vdv.script=garbage.sh vdv.args=BYTES):
#   data   listen 1234: the transfer that runs while the host throws
#          garbage at the daemon's socket; sends BYTES (seed 31), reads
#          the host's BYTES (seed 32) to EOF
#   after  listen 1235: a fresh CONNECT once the garbage is done, 64 KiB
#          each way (seeds 33 guest, 34 host)
# The host checks the checksums from the "XF" lines.
set -eu
XF_SCEN=garbage # read by xfer-common.sh
# shellcheck source-path=SCRIPTDIR source=xfer-common.sh
. /scenarios/xfer-common.sh

N="${1:?usage: garbage.sh BYTES}"
TO=60000

xf_start data listen 1234 --send-bytes "$N" --seed 31 --timeout-ms $TO
xf_start after listen 1235 --send-bytes 65536 --expect-bytes 65536 --seed 33 --timeout-ms $TO
xf_wait_line data '^LISTENING' 10
xf_wait_line after '^LISTENING' 10
xf_ready garbage
xf_wait_all
xf_report_all
echo "garbage: done"
