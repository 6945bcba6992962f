#!/bin/bash
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
#
# e2e: a stock Debian 6.1 guest (QEMU, TCG) binds its virtio-vsock driver to
# our daemon's device and reads the CID we configured; then a second guest
# boots on the same daemon socket (a VM reboot / VMM restart) and does the
# same; the daemon must survive both and exit with status 0 on SIGTERM.
#
# Usage: test-boot-cid.sh DAEMON GUEST_TOOL
# Exit: 0 pass, 1 fail, 77 skip (only with VDV_E2E_ALLOW_SKIP=1 when the
# guest kernel or a suitable QEMU cannot be had).
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=lib-xfer.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib-xfer.sh"

[[ $# -eq 2 ]] || { echo "usage: $0 DAEMON GUEST_TOOL" >&2; exit 2; }
daemon="$1"
tool="$2"
[[ -x "$daemon" ]] || { echo "$0: daemon $daemon not executable" >&2; exit 1; }

# Not the default 3, so that a daemon ignoring --guest-cid is caught.
cid=7

vdv_init
vdv_prepare_guest "$tool"

sock="$VDV_WORK/vhost.sock"
vdv_start_daemon "$VDV_WORK/daemon.log" "$daemon" \
    --guest-cid "$cid" --socket "$sock" --uds-path "$VDV_WORK/vm.vsock"
vdv_need_sockets boot-cid "$sock"

boots=()
for n in 1 2; do
    if ! vdv_wait_socket "$sock" 10; then
        vdv_fail "vhost-user socket gone before boot $n"
    fi
    vdv_check "guest $n: virtio-vsock bound, CID $cid" \
        vdv_boot_guest "boot$n" "$sock" \
        "vdv.scenario=cid vdv.expect_cid=$cid vdv.name=cid-boot$n"
    boots+=("boot $n: /init ${VDV_BOOT_MS:-?} ms, result ${VDV_RESULT_MS:-?} ms")
    vdv_check "daemon alive after guest $n powered off" vdv_daemon_alive
done

# The guests above were served under the default sandbox (--sandbox seccomp):
# the filter and no_new_privs are in force (loaded before the first guest
# could attach, so no wait is needed here).
daemon_sandboxed() {
    local st
    st=$(cat "/proc/$VDV_DAEMON_PID/status") || return 1
    grep -q $'^Seccomp:\t2$' <<<"$st" && grep -q $'^NoNewPrivs:\t1$' <<<"$st"
}
vdv_check "daemon runs under its seccomp sandbox (Seccomp: 2, NoNewPrivs: 1)" daemon_sandboxed

# Status 0 within 10 s and no sanitizer report (the ASan build runs this too:
# a report there makes the status non-zero).
vdv_check "daemon exits with status 0 within 10s of SIGTERM" xf_daemon_stops_cleanly

if [[ $VDV_CHECKS_FAILED -ne 0 ]]; then
    vdv_dump "$VDV_WORK/daemon.log" "daemon log" 100
fi
vdv_log "guest boot time under TCG: ${boots[0]}; ${boots[1]}"
if [[ $VDV_CHECKS_FAILED -eq 0 ]]; then
    echo "PASS e2e-boot-cid"
else
    echo "FAIL e2e-boot-cid"
fi
echo "boot-cid: $VDV_CHECKS_PASSED passed, $VDV_CHECKS_FAILED failed"
[[ $VDV_CHECKS_FAILED -eq 0 ]]
