#!/bin/bash
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
#
# e2e self-test of the harness alone (no daemon, no vsock device):
#  1. the cid scenario must fail cleanly, with its reason, and power off;
#  2. the guest tool must move data both ways over vsock_loopback and
#     report a refused connect (scenario script loopback.sh).
# When this fails, e2e failures are the harness's (kernel, initramfs, QEMU,
# guest tool), not the daemon's.
#
# Usage: test-infra.sh GUEST_TOOL
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $# -eq 1 ]] || { echo "usage: $0 GUEST_TOOL" >&2; exit 2; }

vdv_init
vdv_prepare_guest "$1"


nodevice_fails_cleanly() {
    if VDV_DUMP_ON_FAIL=0 vdv_boot_guest nodevice "" \
        "vdv.scenario=cid vdv.expect_cid=3 vdv.bind_timeout=2"; then
        vdv_log "a guest without a vsock device reported PASS"
    elif [[ "$VDV_QEMU_RC" -ne 0 ]]; then
        vdv_log "QEMU did not exit cleanly (status $VDV_QEMU_RC): /init never powered off?"
    elif [[ "$VDV_RESULT_LINE" != *"no virtio device bound to vmw_vsock_virtio_transport"* ]]; then
        vdv_log "unexpected result: '${VDV_RESULT_LINE:-none}'"
    else
        return 0
    fi
    vdv_dump "$VDV_WORK/nodevice.serial.log" "guest serial console"
    vdv_dump "$VDV_WORK/nodevice.qemu.log" "QEMU output" 20
    return 1
}

for t in nodevice_fails_cleanly loopback; do
    if [[ $t == loopback ]]; then
        vdv_check "$t" vdv_boot_guest loopback "" "vdv.scenario=run vdv.script=loopback.sh"
    else
        vdv_check "$t" "$t"
    fi
    vdv_log "$t: guest boot time under TCG: /init after ${VDV_BOOT_MS:-?} ms"
done

if [[ $VDV_CHECKS_FAILED -eq 0 ]]; then
    echo "PASS e2e-infra"
else
    echo "FAIL e2e-infra"
fi
echo "infra: $VDV_CHECKS_PASSED passed, $VDV_CHECKS_FAILED failed"
[[ $VDV_CHECKS_FAILED -eq 0 ]]
