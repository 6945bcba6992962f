#!/bin/sh
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
#
# The AF_VSOCK forwarding backend, all inside this guest: test-forward
# (tests/forward) runs the daemon with --forward-cid 1, plays the VMM and the
# guest driver through the simulator, and plays the host's applications with
# AF_VSOCK sockets on CID 1 (vsock_loopback). Needs /bin/test-forward and
# /bin/vhost-device-vsock (VDV_INITRAMFS_EXTRA); see tests/e2e/test-forward.sh.
# Run with: vdv.scenario=run vdv.script=forward.sh [vdv.args=--only,CASE,...]
set -u

fail() { echo "forward: $*" >&2; exit 1; }

[ -x /bin/test-forward ] || fail "/bin/test-forward missing (VDV_INITRAMFS_EXTRA)"
[ -x /bin/vhost-device-vsock ] || fail "/bin/vhost-device-vsock missing (VDV_INITRAMFS_EXTRA)"

# Sanitizer builds: LSan stops the world with ptrace, which works as root in
# this guest; report leaks and UB with their stacks, fail on the first.
ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:exitcode=66}"
UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export ASAN_OPTIONS UBSAN_OPTIONS

cd /tmp || fail "no /tmp"
/bin/test-forward /bin/vhost-device-vsock --module-checks "$@"
rc=$?
[ "$rc" -eq 0 ] || fail "test-forward exited $rc"
