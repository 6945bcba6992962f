#!/bin/bash
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
#
# Build (once) the kernel's own vsock test programs, statically linked for
# the e2e guests, from Debian's linux-source-SERIES package:
#   vsock_test, vsock_diag_test (6.1 and 6.12), vsock_perf (6.12 only: it
#   first appeared in 6.2)
# `apt-get download`s linux-source-SERIES (never installs it), extracts from
# its tarball only tools/testing/vsock and what `make headers` needs (top
# Makefile, scripts/, include/uapi, arch/x86, usr/, tools/include), generates
# the uapi headers into the tree's usr/include (`make headers`: unlike
# `make headers_install` it needs no rsync) and builds with LDFLAGS=-static.
#
# Usage: build-kernel-vsock-tests.sh SERIES [CACHE_DIR]
#   SERIES     6.1 or 6.12
#   CACHE_DIR  as prepare-guest.sh's (default $VDV_E2E_CACHE, then
#              ${XDG_CACHE_HOME:-~/.cache}/vdv-e2e)
# On success prints one line: the directory, keyed by the package version
# (CACHE_DIR/vsock-tests-SERIES-VERSION), which holds
#   bin/vsock_test bin/vsock_diag_test [bin/vsock_perf]
#   list-vsock_test list-vsock_diag_test   "ID<TAB>name" lines (--list)
#   src/                                   tools/testing/vsock, net/vmw_vsock
#                                          (for reading; not used to run)
#   version                                the package version
# The source .deb (~150 MB) is deleted once the binaries are built; older
# versions of the same series are pruned.  Exit status: 0 ok, 2 failed.
#
# Host needs: apt, dpkg-deb, xz-utils, make, gcc, libc6-dev (static libc).
set -euo pipefail

log() { printf 'build-kernel-vsock-tests: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 2; }

[[ $# -ge 1 ]] || die "usage: $0 SERIES [CACHE_DIR]"
series="$1"
case "$series" in
6.1 | 6.12) ;;
*) die "SERIES must be 6.1 or 6.12, not '$series'" ;;
esac

default_cache="${XDG_CACHE_HOME:-${HOME:-/nonexistent}/.cache}/vdv-e2e"
if [[ -z "${XDG_CACHE_HOME:-}" && -z "${HOME:-}" ]]; then
    default_cache="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/.cache/e2e"
fi
cache="${2:-${VDV_E2E_CACHE:-$default_cache}}"
mkdir -p "$cache/debs"
cache="$(cd "$cache" && pwd)"

pkg="linux-source-$series"
ver="$(apt-cache policy "$pkg" 2>/dev/null | sed -n 's/^ *Candidate: *//p' | head -n 1)" || true
[[ "$ver" == "(none)" ]] && ver=""
if [[ -z "$ver" && "$(id -u)" -eq 0 ]] &&
    ! compgen -G "$cache/vsock-tests-$series-*/.complete" >/dev/null; then
    log "apt knows no $pkg: running apt-get update"
    timeout 600 apt-get update -q >&2 || log "apt-get update failed"
    ver="$(apt-cache policy "$pkg" 2>/dev/null | sed -n 's/^ *Candidate: *//p' | head -n 1)" || true
    [[ "$ver" == "(none)" ]] && ver=""
fi
if [[ -z "$ver" ]]; then
    # no answer from apt (no lists, no network): a cached build will do
    out=""
    for d in "$cache/vsock-tests-$series-"*; do
        [[ -f "$d/.complete" ]] && out="$d"
    done
    [[ -n "$out" ]] || die "apt-cache knows no $pkg and nothing is cached in $cache"
    log "apt-cache knows no $pkg: using cached $out"
    printf '%s\n' "$out"
    exit 0
fi

out="$cache/vsock-tests-$series-$ver"
if [[ -f "$out/.complete" ]]; then
    printf '%s\n' "$out"
    exit 0
fi

deb=""
for f in "$cache/debs/${pkg}_${ver}_"*.deb; do
    [[ -f "$f" ]] && deb="$f"
done
if [[ -z "$deb" ]]; then
    log "downloading $pkg=$ver (~150 MB)"
    dl="$(mktemp -d "$cache/debs/dl.XXXXXX")"
    chmod 0755 "$dl"
    # as root apt-get download drops to _apt, which must be able to write
    if [[ "$(id -u)" -eq 0 ]] && id _apt >/dev/null 2>&1; then
        chown _apt "$dl" 2>/dev/null || true
    fi
    if ! (cd "$dl" && timeout 1200 apt-get download -q "$pkg=$ver" >&2); then
        rm -rf "$dl"
        die "apt-get download $pkg=$ver failed"
    fi
    for f in "$dl/${pkg}_"*.deb; do
        [[ -f "$f" ]] && deb="$f"
    done
    [[ -n "$deb" ]] || { rm -rf "$dl"; die "apt-get download produced no .deb for $pkg"; }
    mv "$deb" "$cache/debs/"
    deb="$cache/debs/$(basename "$deb")"
    rm -rf "$dl"
fi

tmp="$(mktemp -d "$cache/vsock-build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
top="linux-source-$series"
log "extracting the vsock tests and the uapi headers' sources from $(basename "$deb")"
# Only the needed parts of the ~1.4 GB tree are written (~35 MB).
dpkg-deb --fsys-tarfile "$deb" | tar -xO "./usr/src/$top.tar.xz" | xz -dc |
    tar -x -C "$tmp" --wildcards \
        "$top/Makefile" "$top/scripts" "$top/include/uapi" "$top/arch/x86" \
        "$top/usr" "$top/tools/include" "$top/tools/testing/vsock" \
        "$top/net/vmw_vsock" ||
    die "extracting $top.tar.xz from $deb failed"
src="$tmp/$top"
[[ -f "$src/tools/testing/vsock/vsock_test.c" ]] || die "no tools/testing/vsock in $deb"

log "make headers ($series)"
make -C "$src" -s ARCH=x86_64 headers >"$tmp/headers.log" 2>&1 ||
    { tail -n 20 "$tmp/headers.log" >&2; die "make headers failed"; }

progs=(vsock_test vsock_diag_test)
[[ -f "$src/tools/testing/vsock/vsock_perf.c" ]] && progs+=(vsock_perf)
log "building ${progs[*]} (static)"
make -C "$src/tools/testing/vsock" -j2 LDFLAGS=-static "${progs[@]}" \
    >"$tmp/build.log" 2>&1 ||
    { tail -n 30 "$tmp/build.log" >&2; die "building ${progs[*]} failed"; }

mkdir -p "$tmp/out/bin" "$tmp/out/src"
for p in "${progs[@]}"; do
    cp "$src/tools/testing/vsock/$p" "$tmp/out/bin/"
done
for p in vsock_test vsock_diag_test; do
    # --list prints "ID<TAB>name" after a header and exits 1; it opens no
    # socket, so it is safe to run here on the host
    "$tmp/out/bin/$p" --list 2>/dev/null | sed -n 's/^\([0-9][0-9]*\)\t/\1\t/p' \
        >"$tmp/out/list-$p" || true
    [[ -s "$tmp/out/list-$p" ]] || die "$p --list printed no test"
done
cp -r "$src/tools/testing/vsock" "$src/net/vmw_vsock" "$tmp/out/src/"
find "$tmp/out/src" \( -name '*.o' -o -name '*.d' \) -delete
for p in "${progs[@]}"; do rm -f "$tmp/out/src/vsock/$p"; done
printf '%s\n' "$ver" >"$tmp/out/version"
touch "$tmp/out/.complete"
rm -rf "$out"
mv "$tmp/out" "$out"
log "$series ($ver): ${progs[*]} in $out/bin"

# The binaries are what is kept; the source package is not needed again.
rm -f "$deb"
for d in "$cache/vsock-tests-$series-"*; do
    [[ "$d" == "$out" || ! -d "$d" ]] && continue
    log "pruning $d"
    rm -rf "$d"
done
printf '%s\n' "$out"
