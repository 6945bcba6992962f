#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
# Installs every Debian 12 package the build, the tests and the demo need.
# Idempotent: does nothing when everything is already there. Run as root.
set -euo pipefail

packages=(
	gcc libc6-dev pkg-config meson ninja-build python3   # build
	libyaml-dev libcmocka-dev libseccomp-dev             # libraries
	qemu-system-x86 busybox-static cpio xz-utils zstd    # real-guest tests and demo
	kmod socat                                           # demo and manual steps
	make iproute2                                        # kernel vsock suites (build, ss)
	clang libclang-rt-14-dev                             # fuzz regression (libFuzzer)
)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "setup: all ${#packages[@]} packages already installed"
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "setup: missing packages: ${missing[*]}; run this script as root" >&2
	exit 1
fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done"
