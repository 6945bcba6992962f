#!/bin/bash
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
#
# Build the e2e guests' initramfs (gzip'ed newc cpio):
#   /bin/busybox (+ applet symlinks), /init (guest/init.sh),
#   /lib/modules/vdv/*.ko (virtio-pci + vsock modules, decompressed) and
#   /etc/vdv/modules (their load order), /bin/vsock-guest-tool,
#   /scenarios/* (any extra scenario scripts given on the command line).
#
# Usage: build-initramfs.sh KERNEL_DIR GUEST_TOOL OUTPUT [SCENARIO_SCRIPT...]
#   KERNEL_DIR  as printed by prepare-guest.sh (holds modules/)
#   GUEST_TOOL  the static vsock-guest-tool
#   OUTPUT      the .cpio.gz to write (atomically replaced)
# Environment: VDV_BUSYBOX (default /bin/busybox, must be statically linked);
#   VDV_INITRAMFS_EXTRA (optional): space-separated programs to add as
#   /bin/<name>, each with every shared library ldd lists for it (the
#   dynamic loader included), copied to the same path (static programs need
#   none); VDV_INITRAMFS_MODULES (optional): space-separated extra modules
#   (with their dependencies), loaded after the vsock ones, e.g.
#   "virtio_net vsock_diag" for the kernel-suite test (init.sh configures
#   eth0 when there is one).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

log() { printf 'build-initramfs: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[[ $# -ge 3 ]] || die "usage: $0 KERNEL_DIR GUEST_TOOL OUTPUT [SCENARIO_SCRIPT...]"
kdir="$1"
tool="$2"
output="$3"
shift 3

busybox="${VDV_BUSYBOX:-/bin/busybox}"
[[ -x "$busybox" ]] || die "$busybox not found (install busybox-static)"
[[ -d "$kdir/modules/kernel" ]] || die "$kdir/modules/kernel missing (run prepare-guest.sh)"
[[ -x "$tool" ]] || die "guest tool $tool not found or not executable"

# A dynamically linked binary would die in the initramfs with a confusing
# "not found"; catch it here.
is_static() {
    local out
    out="$(file -L "$1" 2>/dev/null)" || return 0 # no file(1): trust the caller
    [[ "$out" != *"dynamically linked"* ]]
}
is_static "$busybox" || die "$busybox is dynamically linked (install busybox-static)"
is_static "$tool" || die "$tool is dynamically linked (build it with -static)"

# Modules the guests need; their dependencies are added from each module's
# own .modinfo "depends=" (the package ships no modules.dep).  virtio_pci is
# listed because Debian builds CONFIG_VIRTIO_PCI=m; when a kernel has it
# built in, modules.builtin says so and it is skipped.
wanted=(virtio_pci vsock vmw_vsock_virtio_transport_common vmw_vsock_virtio_transport
    vsock_loopback)
read -r -a extra_modules <<<"${VDV_INITRAMFS_MODULES:-}"
wanted+=("${extra_modules[@]}")

work="$(mktemp -d "${TMPDIR:-/tmp}/vdv-initramfs.XXXXXX")"
trap 'rm -rf "$work"' EXIT
root="$work/root"
mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,run,etc/vdv,lib/modules/vdv,scenarios}

# name -> path of every module file of the kernel
declare -A modpath=()
while IFS= read -r -d '' f; do
    base="${f##*/}"
    name="${base%%.ko*}"
    name="${name//-/_}"
    modpath["$name"]="$f"
done < <(find "$kdir/modules/kernel" -name '*.ko*' -print0)

declare -A builtin=()
if [[ -f "$kdir/modules/modules.builtin" ]]; then
    while IFS= read -r line; do
        base="${line##*/}"
        name="${base%%.ko*}"
        builtin["${name//-/_}"]=1
    done <"$kdir/modules/modules.builtin"
fi

# Decompressed copy of module $1 in $work/ko/$1.ko
unpack_module() {
    local name="$1" src="${modpath[$1]}" dst="$work/ko/$1.ko"
    mkdir -p "$work/ko"
    [[ -f "$dst" ]] && return 0
    case "$src" in
    *.ko) cp "$src" "$dst" ;;
    *.ko.xz) xz -dc "$src" >"$dst" ;;
    *.ko.zst) zstd -qdc "$src" >"$dst" ;;
    *.ko.gz) gzip -dc "$src" >"$dst" ;;
    *) die "unknown module compression: $src" ;;
    esac
}

module_deps() {
    local line
    line="$(tr '\0' '\n' <"$work/ko/$1.ko" | grep -a -m1 '^depends=' || true)"
    line="${line#depends=}"
    printf '%s\n' "${line//,/ }"
}

# Depth-first, dependencies first: the resulting order is the insmod order.
declare -A state=()
order=()
visit() {
    local name="$1" dep
    case "${state[$name]:-}" in
    done) return 0 ;;
    active) die "module dependency cycle at $name" ;;
    esac
    if [[ -z "${modpath[$name]:-}" ]]; then
        if [[ -n "${builtin[$name]:-}" ]]; then
            state[$name]="done"
            return 0
        fi
        die "module $name is neither in $kdir/modules nor built in"
    fi
    state[$name]=active
    unpack_module "$name"
    for dep in $(module_deps "$name"); do
        visit "$dep"
    done
    state[$name]="done"
    order+=("$name")
}
for m in "${wanted[@]}"; do
    visit "$m"
done

for m in "${order[@]}"; do
    cp "$work/ko/$m.ko" "$root/lib/modules/vdv/$m.ko"
    printf '%s\n' "$m" >>"$root/etc/vdv/modules"
done
log "modules (load order): ${order[*]}"

cp "$busybox" "$root/bin/busybox"
while IFS= read -r applet; do
    [[ -n "$applet" && "$applet" != busybox ]] || continue
    ln -sf busybox "$root/bin/$applet"
done < <("$busybox" --list)
ln -sf bin/busybox "$root/sbin/busybox"

cp "$tool" "$root/bin/vsock-guest-tool"
cp "$here/guest/init.sh" "$root/init"
chmod 0755 "$root/init" "$root/bin/vsock-guest-tool"
if [[ -f "$kdir/version" ]]; then
    cp "$kdir/version" "$root/etc/vdv/kernel-version"
fi

# Extra (dynamically linked) programs and the libraries they load.
add_with_libs() {
    local prog="$1" lib
    [[ -x "$prog" ]] || die "extra program $prog not found or not executable"
    cp "$prog" "$root/bin/${prog##*/}"
    chmod 0755 "$root/bin/${prog##*/}"
    if ldd "$prog" 2>/dev/null | grep -q 'not found'; then
        die "$prog: ldd cannot find all of its libraries"
    fi
    # "name => /path (addr)", "/path (addr)"; nothing for static programs
    while IFS= read -r lib; do
        [[ -z "$lib" || -e "$root$lib" ]] && continue
        mkdir -p "$root$(dirname "$lib")"
        cp -L "$lib" "$root$lib"
    done < <(ldd "$prog" 2>/dev/null | sed -n -e 's/.*=> \(\/[^ ]*\) (.*/\1/p' \
        -e 's/^[[:space:]]*\(\/[^ ]*\) (.*/\1/p')
}
read -r -a extra <<<"${VDV_INITRAMFS_EXTRA:-}"
for p in "${extra[@]}"; do
    add_with_libs "$p"
done
[[ ${#extra[@]} -eq 0 ]] || log "extra programs: ${extra[*]##*/}"

for s in "$@"; do
    [[ -f "$s" ]] || die "scenario script $s not found"
    cp "$s" "$root/scenarios/"
    chmod 0755 "$root/scenarios/${s##*/}"
done

mkdir -p "$(dirname "$output")"
tmpout="$output.tmp.$$"
(cd "$root" && find . -mindepth 1 | LC_ALL=C sort |
    "$busybox" cpio -o -H newc -R 0:0 2>/dev/null) | gzip -6 >"$tmpout" ||
    { rm -f "$tmpout"; die "cpio/gzip failed"; }
mv -f "$tmpout" "$output"
log "wrote $output ($(wc -c <"$output") bytes)"
