#!/bin/sh
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
#
# Guest side of scripts/demo.sh (vdv.script=demo.sh; needs socat in the
# initramfs: VDV_INITRAMFS_EXTRA=/usr/bin/socat).  Every line for the
# person watching starts with "guest:"; "DEMO-READY <step>" tells the host
# that the guest is listening.
#   1. host -> guest: `socat VSOCK-LISTEN:1234 -`, answers with a line,
#      prints what the host wrote;
#   2. guest -> host: `socat - VSOCK-CONNECT:2:5000` (the host listens on
#      <uds-path>_5000 once step 1 is done; refused until then, so the guest
#      tries again), writes a line, prints the host's answer.
set -eu

T="${VDV_TOOL:-/bin/vsock-guest-tool}"
fail() {
    echo "guest: FAILED: $*"
    echo "demo: $*" >&2
    exit 1
}

command -v socat >/dev/null || fail "socat is not in the initramfs (VDV_INITRAMFS_EXTRA=/usr/bin/socat)"

# The virtio-vsock driver binds to the daemon's device shortly after the
# modules load.
i=0
until cid="$("$T" cid 2>/dev/null)"; do
    i=$((i + 1))
    [ "$i" -lt 100 ] || fail "no vsock device after 10 s"
    sleep 0.1
done
echo "guest: Linux $(uname -r) is up; the vsock device says: my ${cid}"

# 1. host -> guest
echo "guest: \$ socat VSOCK-LISTEN:1234 -      (waiting for the host)"
printf 'hello from the guest, %s\n' "$cid" |
    socat -d -d -t 10 -T 60 VSOCK-LISTEN:1234 - >/tmp/h2g.txt 2>/tmp/h2g.log &
spid=$!
i=0
until grep -q 'listening on' /tmp/h2g.log 2>/dev/null; do
    i=$((i + 1))
    [ "$i" -lt 100 ] || fail "socat did not listen within 10 s: $(tail -n 2 /tmp/h2g.log)"
    sleep 0.1
done
echo "DEMO-READY h2g"
wait "$spid" || fail "socat VSOCK-LISTEN:1234 failed: $(grep ' E ' /tmp/h2g.log | tail -n 1)"
while IFS= read -r line; do
    echo "guest: received from the host: '$line'"
done </tmp/h2g.txt
[ -s /tmp/h2g.txt ] || fail "nothing received on port 1234"

# 2. guest -> host: the host starts listening once it has seen step 1
# through; until then the daemon refuses the connection at once (nobody
# listens on <uds-path>_5000), so try again for up to 60 s.
echo "guest: \$ socat - VSOCK-CONNECT:2:5000"
i=0
until printf 'hello from the guest, %s\n' "$cid" |
    socat -t 10 -T 60 - VSOCK-CONNECT:2:5000 >/tmp/g2h.txt 2>/tmp/g2h.log; do
    [ "$i" -gt 0 ] || echo "guest: refused: nobody listens on the host's port 5000 yet; retrying"
    i=$((i + 1))
    [ "$i" -lt 300 ] || fail "socat VSOCK-CONNECT:2:5000 failed: $(tail -n 1 /tmp/g2h.log)"
    sleep 0.2
done
while IFS= read -r line; do
    echo "guest: received from the host: '$line'"
done </tmp/g2h.txt
[ -s /tmp/g2h.txt ] || fail "no answer from the host on port 5000"
echo "guest: done, powering off"
