#!/bin/sh
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
#
# Runs tests/forward's test-forward on this host under the AF_VSOCK shim
# (vsock_shim.c, an LD_PRELOAD library): the program and the daemons it
# spawns carry AF_VSOCK over AF_UNIX sockets in a fresh temporary directory,
# so no real AF_VSOCK socket is ever opened here. test-forward checks that
# the shim is loaded in itself and loads for every daemon before it starts
# one; it skips the cases that need real kernel modules.
#
# Usage: run-shim.sh SHIM TEST_FORWARD DAEMON [test-forward options]
# Output: test-forward's, ending with "forward: N passed, N failed, N skipped".
# Exit: test-forward's status (0 iff no case failed).
set -u

die() {
	echo "$0: $*" >&2
	echo "forward: 0 passed, 1 failed"
	exit 1
}

[ $# -ge 3 ] || die "usage: $0 SHIM TEST_FORWARD DAEMON [OPTIONS]"
shim=$1
prog=$2
daemon=$3
shift 3
case $shim in
/*) ;;
*) shim=$(pwd)/$shim ;;
esac
[ -f "$shim" ] || die "$shim: no such shim library"
[ -x "$prog" ] || die "$prog not executable"
[ -x "$daemon" ] || die "$daemon not executable"

dir=$(mktemp -d "${TMPDIR:-/tmp}/vdv-vsock-shim.XXXXXX") || die "mktemp failed"
trap 'rm -rf "$dir"' EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

# Sanitizer builds: libasan is no longer first in the initial library list
# once the shim is preloaded; tell it that is fine (children inherit it).
asan="verify_asan_link_order=0"
LD_PRELOAD="$shim${LD_PRELOAD:+:$LD_PRELOAD}" \
VDV_VSOCK_SHIM_DIR="$dir" \
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}$asan" \
	"$prog" "$daemon" "$@"
rc=$?
exit $rc
