#!/bin/sh
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
#
# Guest side of test-concurrent.sh (vdv.script=concurrent.sh
# vdv.args=COUNT,BYTES): COUNT host -> guest and COUNT guest -> host
# connections at the same time, BYTES each way on each.
#   in_<i>   listen 2000+i, sends seed 100+i (the host sends seed 200+i)
#   out_<i>  connect 2:3000+i, sends seed 300+i (the host sends seed 400+i)
# The host checks the checksums from the "XF" lines.
set -eu
XF_SCEN=concurrent # read by xfer-common.sh
# shellcheck source-path=SCRIPTDIR source=xfer-common.sh
. /scenarios/xfer-common.sh

COUNT="${1:?usage: concurrent.sh COUNT BYTES}"
N="${2:?usage: concurrent.sh COUNT BYTES}"
TO=60000

i=0
while [ "$i" -lt "$COUNT" ]; do
    xf_start "in_$i" listen $((2000 + i)) --send-bytes "$N" --expect-bytes "$N" \
        --seed $((100 + i)) --timeout-ms $TO
    i=$((i + 1))
done
i=0
while [ "$i" -lt "$COUNT" ]; do
    xf_wait_line "in_$i" '^LISTENING' 10
    i=$((i + 1))
done
# The host connects to all listeners while the guest connects to the host.
xf_ready concurrent
i=0
while [ "$i" -lt "$COUNT" ]; do
    xf_start "out_$i" connect 2 $((3000 + i)) --send-bytes "$N" --expect-bytes "$N" \
        --seed $((300 + i)) --timeout-ms $TO
    i=$((i + 1))
done
xf_wait_all
xf_report_all
echo "concurrent: done"
