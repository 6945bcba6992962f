#!/bin/sh
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
#
# Guest side of test-reboot.sh (vdv.script=reboot.sh): a guest reboot under
# the same QEMU.  The guest runs this twice, once per boot; which boot it
# is, the host says (nothing survives a reboot in the guest): port 5001
# sends one byte of the payload of seed 1 on the first boot, of seed 2 on
# the second.
#   boot 1: connect 2:5000 and keep the connection busy (the guest streams,
#           the host reads to EOF), "VDV-READY holding", then reboot -f (no
#           clean shutdown: the guest just goes away);
#   boot 2: wait (60 s at most) until the host says on 2:5003 that it saw
#           the held connection close, then connect 2:5002, 64 KiB each
#           way, checksums checked here.
set -eu
XF_SCEN=reboot # read by xfer-common.sh
# shellcheck source-path=SCRIPTDIR source=xfer-common.sh
. /scenarios/xfer-common.sh

TO=60000

xf_run phase connect 2 5001 --expect-bytes 1 --seed 1 --timeout-ms 20000
phase="$(sed -n 's/^RECV 1 //p' /tmp/phase.out)"
[ -n "$phase" ] || xf_fail "no phase byte from the host: $(cat /tmp/phase.out)"
one="$("$T" gen 1 --seed 1 | "$T" sum | cut -d' ' -f3)"
two="$("$T" gen 1 --seed 2 | "$T" sum | cut -d' ' -f3)"

if [ "$phase" = "$one" ]; then
    echo "reboot: boot 1: holding a connection to the host, then reboot -f"
    # Data in flight at the reboot: the guest streams (far more than it
    # can send before rebooting), the host reads to EOF.
    xf_start hold connect 2 5000 --send-bytes 2000000000 --timeout-ms 150000
    xf_wait_line hold '^CONNECTED' 20
    xf_ready holding
    # Let the host see the READY line before the console goes quiet.
    sleep 1
    reboot -f
    sleep 30
    xf_fail "reboot -f did not reboot"
fi
[ "$phase" = "$two" ] || xf_fail "phase byte $phase is neither boot 1 ($one) nor boot 2 ($two)"

echo "reboot: boot 2: waiting for the host to see the held connection close"
# The host listens on 5003 once it did: nobody listening is refused at once.
i=0
until "$T" connect 2 5003 --expect-bytes 1 --timeout-ms 5000 >/tmp/closed.out 2>&1; do
    i=$((i + 1))
    [ "$i" -le 300 ] || xf_fail "the host never saw the held connection close (port 5003)"
    sleep 0.2
done
echo "0 0" >/tmp/closed.rc
XF_JOBS="$XF_JOBS closed"
xf_report closed

echo "reboot: boot 2: connecting to the host again"
N=65536
xf_run again connect 2 5002 --send-bytes $N --expect-bytes $N --seed 31 --timeout-ms $TO
xf_report again
want="$("$T" gen $N --seed 32 | "$T" sum | cut -d' ' -f2-)"
grep -q "^RECV $want\$" /tmp/again.out || xf_fail "again: expected RECV $want: $(cat /tmp/again.out)"
