#!/bin/bash
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
#
# Fetch (once) Debian's stock 6.1 kernel for the e2e guests, without
# installing it: `apt-get download` the linux-image-6.1.0-N-amd64 package that
# the linux-image-amd64 metapackage currently points at and unpack it with
# dpkg-deb -x into the cache.  Later runs reuse the cache.
#
# Usage: prepare-guest.sh [CACHE_DIR]
#   CACHE_DIR defaults to $VDV_E2E_CACHE, then ${XDG_CACHE_HOME:-~/.cache}/vdv-e2e
#   (outside the work tree on purpose: CI runs in a fresh clone each time, on
#   a machine that is kept, so a cache in the tree would never be reused).
#
# On success prints one line: the kernel directory, which holds
#   vmlinuz        the kernel image
#   modules/       lib/modules/<version> of that kernel
#   config         the kernel's .config
#   version        the kernel release string
# Exit status: 0 ok, 2 the kernel could not be obtained.
#
# Environment: VDV_E2E_KERNEL_PKG forces a package name (e.g. an older ABI
# that is still in the cache) instead of asking apt.
set -euo pipefail

log() { printf 'prepare-guest: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 2; }

default_cache="${XDG_CACHE_HOME:-${HOME:-/nonexistent}/.cache}/vdv-e2e"
if [[ -z "${XDG_CACHE_HOME:-}" && -z "${HOME:-}" ]]; then
    default_cache="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/.cache/e2e"
fi
cache="${1:-${VDV_E2E_CACHE:-$default_cache}}"
mkdir -p "$cache/debs"
cache="$(cd "$cache" && pwd)"

resolve_pkg() {
    local dep
    if [[ -n "${VDV_E2E_KERNEL_PKG:-}" ]]; then
        printf '%s\n' "$VDV_E2E_KERNEL_PKG"
        return 0
    fi
    # The metapackage depends on exactly one versioned image; skip the
    # -cloud/-rt/-dbg/-unsigned flavours should they ever appear.
    dep="$(apt-cache depends linux-image-amd64 2>/dev/null |
        sed -n 's/^ *Depends: *\(linux-image-6\.1\.0-[0-9]*-amd64\) *$/\1/p' |
        head -n 1)" || true
    if [[ -z "$dep" ]]; then
        return 1
    fi
    printf '%s\n' "$dep"
}

# Newest kernel already in the cache, for when apt has no answer (no list,
# no network): a cached kernel is better than none.
newest_cached() {
    local d best=""
    for d in "$cache"/kernel-linux-image-6.1.0-*-amd64; do
        [[ -f "$d/.complete" ]] || continue
        best="$d"
    done
    [[ -n "$best" ]] || return 1
    basename "$best" | sed 's/^kernel-//'
}

pkg="$(resolve_pkg)" || pkg=""
if [[ -z "$pkg" && -z "$(newest_cached || true)" && "$(id -u)" -eq 0 ]]; then
    # a fresh machine whose package lists were never fetched
    log "no package lists know linux-image-amd64: running apt-get update"
    timeout 600 apt-get update -q >&2 || log "apt-get update failed"
    pkg="$(resolve_pkg)" || pkg=""
fi
if [[ -z "$pkg" ]]; then
    log "apt-cache knows no linux-image-6.1.0-*-amd64 (run apt-get update?)"
    pkg="$(newest_cached)" || die "no kernel package name and nothing cached in $cache"
    log "using cached $pkg"
fi

kdir="$cache/kernel-$pkg"
if [[ -f "$kdir/.complete" ]]; then
    printf '%s\n' "$kdir"
    exit 0
fi

# apt-get download writes into the current directory; as root it drops to
# the _apt user, which must be able to write there, else it warns and
# downloads unsandboxed.  Give _apt the directory when that user exists.
deb=""
for f in "$cache/debs/${pkg}_"*.deb; do
    [[ -f "$f" ]] && deb="$f"
done
if [[ -z "$deb" ]]; then
    log "downloading $pkg"
    dl="$(mktemp -d "$cache/debs/dl.XXXXXX")"
    chmod 0755 "$dl"
    if [[ "$(id -u)" -eq 0 ]] && id _apt >/dev/null 2>&1; then
        chown _apt "$dl" 2>/dev/null || true
    fi
    if ! (cd "$dl" && timeout 900 apt-get download -q "$pkg" >&2); then
        rm -rf "$dl"
        die "apt-get download $pkg failed"
    fi
    for f in "$dl/${pkg}_"*.deb; do
        [[ -f "$f" ]] && deb="$f"
    done
    [[ -n "$deb" ]] || { rm -rf "$dl"; die "apt-get download produced no .deb for $pkg"; }
    mv "$deb" "$cache/debs/"
    deb="$cache/debs/$(basename "$deb")"
    rm -rf "$dl"
fi

log "unpacking $(basename "$deb")"
tmp="$(mktemp -d "$cache/unpack.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
dpkg-deb -x "$deb" "$tmp/root" || die "dpkg-deb -x $deb failed"

vmlinuz=""
for f in "$tmp"/root/boot/vmlinuz-*; do
    [[ -f "$f" ]] && vmlinuz="$f"
done
[[ -n "$vmlinuz" ]] || die "no /boot/vmlinuz-* in $deb"
kver="${vmlinuz##*/vmlinuz-}"
[[ -d "$tmp/root/lib/modules/$kver" ]] || die "no lib/modules/$kver in $deb"

mkdir -p "$tmp/out"
mv "$vmlinuz" "$tmp/out/vmlinuz"
mv "$tmp/root/lib/modules/$kver" "$tmp/out/modules"
if [[ -f "$tmp/root/boot/config-$kver" ]]; then
    mv "$tmp/root/boot/config-$kver" "$tmp/out/config"
fi
printf '%s\n' "$kver" >"$tmp/out/version"
touch "$tmp/out/.complete"

rm -rf "$kdir"
mv "$tmp/out" "$kdir"
log "kernel $kver ready in $kdir"

# Debian replaces the ABI (6.1.0-N) now and then: drop older kernels so the
# cache does not grow without bound.
for d in "$cache"/kernel-linux-image-*; do
    [[ "$d" == "$kdir" || ! -d "$d" ]] && continue
    log "pruning $d"
    rm -rf "$d"
done
for f in "$cache"/debs/linux-image-*.deb; do
    [[ "$f" == "$deb" || ! -f "$f" ]] && continue
    rm -f "$f"
done
printf '%s\n' "$kdir"
