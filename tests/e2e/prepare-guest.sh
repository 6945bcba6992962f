#!/bin/bash
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
#
# Fetch (once) a Debian stock kernel for the e2e guests, without installing
# it: `apt-get download` the image package that a metapackage currently
# points at and unpack it with dpkg-deb -x into the cache.  Later runs reuse
# the cache.  Two series (VDV_E2E_KERNEL_SERIES):
#   6.1   (default) linux-image-6.1.0-N-amd64, what linux-image-amd64 points at
#   6.12  linux-image-6.12.N+deb12-amd64-unsigned, the unsigned twin of what
#         linux-image-6.12-amd64 (bookworm-backports/-security) points at
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
# Environment: VDV_E2E_KERNEL_SERIES (6.1 or 6.12, default 6.1);
# VDV_E2E_KERNEL_PKG forces a package name (e.g. an older ABI that is still
# in the cache) instead of asking apt.  Pruning of older kernels is per
# series: fetching a new 6.12 never deletes the 6.1 kernel and vice versa.
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

series="${VDV_E2E_KERNEL_SERIES:-6.1}"
case "$series" in
6.1)
    meta=linux-image-amd64
    dep_re='linux-image-6\.1\.0-[0-9]*-amd64'
    suffix=""
    glob='linux-image-6.1.0-*-amd64'
    ;;
6.12)
    meta=linux-image-6.12-amd64
    dep_re='linux-image-6\.12\.[0-9]*+deb[0-9]*-amd64'
    suffix="-unsigned" # the signed package only wraps the same image
    glob='linux-image-6.12.*-amd64-unsigned'
    ;;
*) die "VDV_E2E_KERNEL_SERIES=$series: expected 6.1 or 6.12" ;;
esac

resolve_pkg() {
    local dep
    if [[ -n "${VDV_E2E_KERNEL_PKG:-}" ]]; then
        printf '%s\n' "$VDV_E2E_KERNEL_PKG"
        return 0
    fi
    # The metapackage depends on exactly one versioned image; skip the
    # -cloud/-rt/-dbg/-unsigned flavours should they ever appear.
    dep="$(apt-cache depends "$meta" 2>/dev/null |
        sed -n "s/^ *Depends: *\\($dep_re\\) *\$/\\1/p" |
        head -n 1)" || true
    if [[ -z "$dep" ]]; then
        return 1
    fi
    printf '%s%s\n' "$dep" "$suffix"
}

# Newest kernel already in the cache, for when apt has no answer (no list,
# no network): a cached kernel is better than none.
newest_cached() {
    local d best=""
    for d in "$cache"/kernel-$glob; do
        [[ -f "$d/.complete" ]] || continue
        best="$d"
    done
    [[ -n "$best" ]] || return 1
    basename "$best" | sed 's/^kernel-//'
}

pkg="$(resolve_pkg)" || pkg=""
if [[ -z "$pkg" && -z "$(newest_cached || true)" && "$(id -u)" -eq 0 ]]; then
    # a fresh machine whose package lists were never fetched
    log "no package lists know $meta: running apt-get update"
    timeout 600 apt-get update -q >&2 || log "apt-get update failed"
    pkg="$(resolve_pkg)" || pkg=""
fi
if [[ -z "$pkg" ]]; then
    log "apt-cache knows no $glob (run apt-get update?)"
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

# Debian replaces the ABI (6.1.0-N, 6.12.N) now and then: drop older kernels
# of the same series so the cache does not grow without bound (the other
# series is kept: other tests use it).
for d in "$cache"/kernel-$glob; do
    [[ "$d" == "$kdir" || ! -d "$d" ]] && continue
    log "pruning $d"
    rm -rf "$d"
done
# shellcheck disable=SC2231 # $glob is a glob on purpose
for f in "$cache"/debs/${glob}_*.deb; do
    [[ "$f" == "$deb" || ! -f "$f" ]] && continue
    rm -f "$f"
done
printf '%s\n' "$kdir"
