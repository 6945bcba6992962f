#!/bin/bash
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
#
# e2e: the AF_VSOCK forwarding backend (--forward-cid, --forward-listen).
# AF_VSOCK is never opened on this host (its CID 2 may be a real hypervisor,
# and vsock_loopback need not be loaded): the daemon, tests/forward's
# test-forward (the simulator as VMM + guest driver, AF_VSOCK peers as the
# host's applications) and the peers all run inside ONE QEMU (TCG) guest
# that has vsock_loopback loaded and no vsock device of its own. Both
# programs are packed with their shared libraries (VDV_INITRAMFS_EXTRA), so
# sanitizer builds work too. Scenario script: guest/scenarios/forward.sh.
#
# Cases (tests/forward/test_forward.c; about 15 s under TCG, 25 s with
# ASan+UBSan): start-up errors without AF_VSOCK, without vsock_loopback (the
# "modprobe vsock_loopback" hint), with a forward-listen port in use (bound
# to any / to CID 1); the README's two command lines; guest -> CID 2 and
# "enclave" guest -> CID 77 forwarding (RESPONSE from the CID dialled);
# host -> guest through both forward-listen ports (REQUEST from CID 2, port
# >= 2^30); refusals both ways in < 1 s; 8 MiB each way; 200 concurrent
# connections; slow host reader; small guest credit; a hairpin through the
# daemon's own forward-listen port; abrupt and early closes; an unanswered
# REQUEST; a killed VMM; SIGTERM with open connections; sibling routing next
# to the backend; SOCK_SEQPACKET both ways (boundaries and MSG_EOR;
# forward-listen-seqpacket; on the 6.1 guest kernel the daemon cannot peek a
# message and reads it whole). Every byte is checked against a
# position-keyed pattern.
# peer_cid_refused is skipped here (no socket in this guest can have a CID
# other than 1); it runs on the host, where the integration test
# 'forward_shim' runs the same program under tests/forward/vsock_shim.c
# (AF_VSOCK carried over AF_UNIX; no module cases there).
#
# Usage: test-forward.sh DAEMON GUEST_TOOL TEST_FORWARD
# Environment: VDV_FORWARD_ONLY=case1+case2 runs only those cases; the
# lib.sh variables (VDV_E2E_KEEP, VDV_E2E_ALLOW_SKIP, ...).
# Exit: 0 pass, 1 fail, 77 skip (only with VDV_E2E_ALLOW_SKIP=1 when the
# guest kernel or QEMU cannot be had).
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $# -eq 3 ]] || { echo "usage: $0 DAEMON GUEST_TOOL TEST_FORWARD" >&2; exit 2; }
daemon="$1"
tool="$2"
prog="$3"
for f in "$daemon" "$prog"; do
    [[ -x "$f" ]] || { echo "$0: $f not executable" >&2; echo "forward: 0 passed, 1 failed"; exit 1; }
done

vdv_init
export VDV_INITRAMFS_EXTRA="$daemon $prog"
vdv_prepare_guest "$tool"

args=""
[[ -z "${VDV_FORWARD_ONLY:-}" ]] || args=" vdv.args=--only,$VDV_FORWARD_ONLY"
t0="$(vdv_now_ms)"
ok=0
VDV_DUMP_ON_FAIL=0 vdv_boot_guest forward "" \
    "vdv.scenario=run vdv.script=forward.sh vdv.timeout=120$args" || ok=$?
serial="$VDV_WORK/forward.serial.log"

# The program's case lines and its summary, from the serial console.
tr -d '\r' <"$serial" | grep -E '^(ok|FAIL|SKIP) ' || true
summary="$(tr -d '\r' <"$serial" | grep -E '^forward: [0-9]+ passed, [0-9]+ failed' | tail -n 1 || true)"

if [[ $ok -ne 0 ]]; then
    vdv_dump "$serial" "guest serial console (daemon logs of failed cases included)" 400
    vdv_dump "$VDV_WORK/forward.qemu.log" "QEMU output" 20
fi
vdv_log "guest: /init after ${VDV_BOOT_MS:-?} ms, result after ${VDV_RESULT_MS:-?} ms," \
    "whole run $(($(vdv_now_ms) - t0)) ms (TCG)"
echo "${VDV_RESULT_LINE:-no VDV-RESULT line}"
if [[ $ok -eq 0 && -n "$summary" ]]; then
    echo "PASS e2e-forward"
    echo "$summary"
    exit 0
fi
VDV_FAILED=1 # lib.sh: keep the work dir and its logs
echo "FAIL e2e-forward"
if [[ -n "$summary" ]]; then
    # A guest that reported PASS with failed cases cannot happen; a failed
    # guest with no failed case (crash, timeout) counts one failure more.
    read -r _ _ _ f _ <<<"$summary"
    f="${f%%,*}"
    [[ "$f" -gt 0 ]] || summary="${summary/ 0 failed/ 1 failed}"
    echo "$summary"
else
    echo "forward: 0 passed, 1 failed"
fi
exit 1
