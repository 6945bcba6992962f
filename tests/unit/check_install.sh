#!/bin/sh
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
# `meson install --destdir` puts every file where README says, the unit
# names the installed binary, the example configuration is valid, and
# systemd-analyze (when there is one) reads the unit without a complaint.
# Usage: check_install.sh BUILD_DIR
set -eu

build=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

meson install -C "$build" --destdir "$tmp" --no-rebuild --quiet >"$tmp/install.log" 2>&1 ||
	{ cat "$tmp/install.log" >&2; echo "meson install failed" >&2; exit 1; }
prefix=$(meson introspect "$build" --buildoptions |
	python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"] == "prefix"][0])')
root="$tmp$prefix"
status=0
for f in bin/vhost-device-vsock share/man/man1/vhost-device-vsock.1 \
	lib/systemd/system/vhost-device-vsock@.service \
	lib/systemd/system/vhost-device-vsock@.socket lib/sysusers.d/vhost-device-vsock.conf \
	share/doc/vhost-device-vsock/vms.example.yaml \
	share/qemu/vhost-user/50-vhost-device-vsock.json; do
	if [ ! -f "$root/$f" ]; then
		echo "not installed: $prefix/$f" >&2
		status=1
	fi
done
[ $status -eq 0 ] || exit 1
unit="$root/lib/systemd/system/vhost-device-vsock@.service"
if grep -q '@BINDIR@' "$unit" || ! grep -q "^ExecStart=$prefix/bin/vhost-device-vsock " "$unit"; then
	echo "the unit does not name $prefix/bin/vhost-device-vsock:" >&2
	grep '^Exec' "$unit" >&2
	exit 1
fi
"$root/bin/vhost-device-vsock" --config "$root/share/doc/vhost-device-vsock/vms.example.yaml" \
	--print-config >"$tmp/print.out" 2>&1 ||
	{ cat "$tmp/print.out" >&2; echo "the example configuration is not valid" >&2; exit 1; }
grep -q 'guest_cid: 4' "$tmp/print.out" || { echo "example: VM 4 missing" >&2; exit 1; }
# QEMU's backend description: valid JSON naming the installed binary,
# whose --print-capabilities gives the same type.
desc="$root/share/qemu/vhost-user/50-vhost-device-vsock.json"
python3 - "$desc" "$prefix/bin/vhost-device-vsock" "$root/bin/vhost-device-vsock" <<'PY' || exit 1
import json, subprocess, sys
d = json.load(open(sys.argv[1]))
caps = json.loads(subprocess.run([sys.argv[3], "--print-capabilities"], check=True,
                                 capture_output=True, text=True).stdout)
ok = d.get("type") == "vsock" and d.get("binary") == sys.argv[2] and caps == {"type": "vsock"}
if not ok:
    print("backend description or capabilities wrong:", d, caps, file=sys.stderr)
sys.exit(0 if ok else 1)
PY
# The socket unit binds the path the example's first VM serves (so that
# socket activation claims it by path) and triggers the service.
sock="$root/lib/systemd/system/vhost-device-vsock@.socket"
want=$(sed -n 's#^ListenStream=/run/vhost-device-vsock/%i/##p' "$sock")
if [ -z "$want" ] || ! grep -q "socket: /run/vhost-device-vsock/example/$want\$" \
	"$root/share/doc/vhost-device-vsock/vms.example.yaml"; then
	echo "the socket unit's ListenStream ($want) is no socket of the example configuration" >&2
	exit 1
fi
if command -v systemd-analyze >/dev/null 2>&1; then
	# An instance of both units, pointing at the binary in the destdir.
	sed "s#$prefix/bin/#$root/bin/#g" "$unit" >"$tmp/vhost-device-vsock@check.service"
	cp "$sock" "$tmp/vhost-device-vsock@check.socket"
	if ! systemd-analyze verify --man=no "$tmp/vhost-device-vsock@check.service" \
		"$tmp/vhost-device-vsock@check.socket" >"$tmp/verify.out" 2>&1 ||
		[ -s "$tmp/verify.out" ]; then
		cat "$tmp/verify.out" >&2
		echo "systemd-analyze verify complained about the units" >&2
		exit 1
	fi
	echo "systemd-analyze verify: clean (service and socket)"
else
	echo "systemd-analyze not found: unit syntax not verified"
fi
echo "installed: $(cd "$root" && find . -type f | sort | tr '\n' ' ')"
