#!/bin/sh
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
#
# Guest-only self-test of the guest tool over vsock_loopback (CID 1): a
# bidirectional transfer with checksums, and a refused connect.  Needs no
# virtio-vsock device, so it tests the harness, not the daemon.
# Run with: vdv.scenario=run vdv.script=loopback.sh
set -eu

T="${VDV_TOOL:-/bin/vsock-guest-tool}"
fail() { echo "loopback: $*" >&2; exit 1; }

expect_sum() { # BYTES SEED -> "<bytes> <checksum>"
    "$T" gen "$1" --seed "$2" | "$T" sum | cut -d' ' -f2-
}

"$T" listen 5000 --send-bytes 300000 --expect-bytes 700000 --seed 2 \
    --timeout-ms 30000 >/tmp/listen.out 2>&1 &
lpid=$!
i=0
until grep -q '^LISTENING' /tmp/listen.out; do
    i=$((i + 1))
    [ "$i" -lt 100 ] || fail "listener not ready after 10s: $(cat /tmp/listen.out)"
    sleep 0.1
done

"$T" connect 1 5000 --send-bytes 700000 --expect-bytes 300000 --seed 3 \
    --timeout-ms 30000 >/tmp/connect.out 2>&1 || fail "connect: $(cat /tmp/connect.out)"
wait "$lpid" || fail "listen: $(cat /tmp/listen.out)"
cat /tmp/listen.out /tmp/connect.out

want_l="$(expect_sum 700000 3)"
want_c="$(expect_sum 300000 2)"
got_l="$(sed -n 's/^RECV //p' /tmp/listen.out)"
got_c="$(sed -n 's/^RECV //p' /tmp/connect.out)"
[ "$got_l" = "$want_l" ] || fail "listener got '$got_l', want '$want_l'"
[ "$got_c" = "$want_c" ] || fail "connector got '$got_c', want '$want_c'"

rc=0
"$T" connect 1 5999 --timeout-ms 5000 >/tmp/refused.out 2>&1 || rc=$?
cat /tmp/refused.out
[ "$rc" -eq 3 ] || fail "connect to a closed port: exit $rc, want 3 ($(cat /tmp/refused.out))"
grep -q '^REFUSED ' /tmp/refused.out || fail "no REFUSED line"
echo "loopback: ok"
