#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
#
# The whole thing in one command, for newcomers: installs the packages,
# builds, fetches a guest kernel (cached), starts the daemon, boots a Linux
# guest in QEMU (TCG) on it and sends a line of text each way with socat:
#
#   host -> guest  the host connects to the daemon's Unix socket and writes
#                  "CONNECT 1234"; the guest listens with
#                  `socat VSOCK-LISTEN:1234 -`
#   guest -> host  the host listens on <uds-path>_5000 with
#                  `socat UNIX-LISTEN:<uds-path>_5000 -`; the guest runs
#                  `socat - VSOCK-CONNECT:2:5000`
#
# These are the README's "Manual steps with socat".  Everything started
# here is stopped again (by PID); every wait is bounded.  Exit status 0 when
# both exchanges worked, 1 (with the reason) otherwise.
#
# Usage: scripts/demo.sh            (as root on Debian 12; about a minute,
#                                    plus the first kernel download)
# Environment: VDV_LOG=debug shows the daemon's vhost-user messages;
#   VDV_E2E_CACHE: where the guest kernel is cached (see tests/e2e/README.md);
#   DEMO_KEEP=1 keeps the work directory (logs, sockets) even on success.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root="$(pwd)"
build="$root/build/demo"
e2e="$root/tests/e2e"

GUEST_CID=3
H2G_PORT=1234
G2H_PORT=5000
HOST_SAYS="hello from the host"
HOST_ANSWERS="hello back from the host"

t_start="$(date +%s)"
work=""
pids=()
ok=0

step() { printf '\n==> %s\n' "$*"; }
say() { printf '    %s\n' "$*"; }
die() {
    printf '\ndemo: FAILED: %s\n' "$*" >&2
    exit 1
}

# Stops what we started, by PID: SIGTERM, then SIGKILL after 5 s.
cleanup() {
    local rc=$? pid i
    trap - EXIT INT TERM
    for pid in "${pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        for ((i = 0; i < 50; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [[ -n "$work" && -d "$work" ]]; then
        if [[ $ok -eq 1 && "${DEMO_KEEP:-0}" != 1 ]]; then
            rm -rf "$work"
        else
            printf 'demo: logs and sockets kept in %s\n' "$work" >&2
        fi
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

forget() { # PID: drop a reaped PID from the list
    local p keep=()
    for p in "${pids[@]}"; do
        [[ "$p" == "$1" ]] || keep+=("$p")
    done
    pids=("${keep[@]}")
}

# Prints the lines of the daemon's log and the guest's console that arrived
# since the last call (the console filtered to the demo's own lines).
daemon_seen=0
guest_seen=0
show_news() {
    local n
    if [[ -f "$work/daemon.log" ]]; then
        n="$(wc -l <"$work/daemon.log")"
        if ((n > daemon_seen)); then
            sed -n "$((daemon_seen + 1)),${n}p" "$work/daemon.log" |
                sed 's/^[0-9T:.-]*Z //; s/^vhost-device-vsock: //; s/^/    daemon | /'
            daemon_seen=$n
        fi
    fi
    if [[ -f "$work/serial.log" ]]; then
        n="$(wc -l <"$work/serial.log")"
        if ((n > guest_seen)); then
            sed -n "$((guest_seen + 1)),${n}p" "$work/serial.log" | tr -d '\r' |
                grep -a -E '^(guest:|VDV-RESULT)' | sed 's/^guest: //; s/^/    guest  | /' || true
            guest_seen=$n
        fi
    fi
}

# wait_for WHAT SECONDS COMMAND...: polls COMMAND every 0.1 s, showing news
# (unless QUIET=1).
wait_for() {
    local what="$1" limit=$(($2 * 10)) i
    shift 2
    for ((i = 0; i < limit; i++)); do
        "$@" && { [[ "${QUIET:-0}" == 1 ]] || show_news; return 0; }
        [[ "${QUIET:-0}" == 1 ]] || show_news
        sleep 0.1
    done
    die "timed out after $((limit / 10)) s waiting for $what"
}

running() { kill -0 "$1" 2>/dev/null; }
not_running() { ! kill -0 "$1" 2>/dev/null; }

# ------------------------------------------------------------------ setup
step "1/7 Installing the Debian packages (scripts/setup.sh)"
bash scripts/setup.sh || die "scripts/setup.sh failed (run the demo as root on Debian 12)"

step "2/7 Building into build/demo (meson + ninja)"
mkdir -p "$root/build"
if [[ ! -f "$build/build.ninja" ]]; then
    say "\$ meson setup build/demo"
    meson setup "$build" >"$root/build/demo-setup.log" 2>&1 ||
        { tail -n 30 "$root/build/demo-setup.log" >&2; die "meson setup failed (build/demo-setup.log)"; }
fi
say "\$ ninja -C build/demo"
ninja -C "$build" >"$root/build/demo-build.log" 2>&1 ||
    { tail -n 30 "$root/build/demo-build.log" >&2; die "the build failed (build/demo-build.log)"; }
daemon="$build/src/vhost-device-vsock"
tool="$build/tests/e2e/vsock-guest-tool"
[[ -x "$daemon" && -x "$tool" ]] || die "the build did not produce $daemon and $tool"
say "built $("$daemon" --version 2>/dev/null | head -n 1)"

work="$(mktemp -d /tmp/vdv-demo.XXXXXX)" # short: it holds Unix sockets
sock="$work/vhost-user.sock"
uds="$work/vm.vsock"

step "3/7 Getting the guest: Debian's stock kernel (cached) + a busybox initramfs with socat"
kdir="$(timeout 900 "$e2e/prepare-guest.sh")" ||
    die "could not get the Debian 6.1 kernel (network? apt-get update?)"
say "kernel $(cat "$kdir/version" 2>/dev/null || echo "?") from $kdir"
initrd="$work/initramfs.cpio.gz"
VDV_INITRAMFS_EXTRA=/usr/bin/socat timeout 300 "$e2e/build-initramfs.sh" \
    "$kdir" "$tool" "$initrd" "$e2e/guest/scenarios/demo.sh" >"$work/initramfs.log" 2>&1 ||
    { cat "$work/initramfs.log" >&2; die "building the initramfs failed"; }
if ! gzip -dc "$initrd" | cpio -it --quiet 2>/dev/null | grep -qx 'bin/socat'; then
    # an initramfs builder without VDV_INITRAMFS_EXTRA: append socat and
    # its libraries as a second archive (the kernel unpacks both)
    extra="$work/extra"
    mkdir -p "$extra/bin"
    cp /usr/bin/socat "$extra/bin/socat"
    while IFS= read -r lib; do
        mkdir -p "$extra$(dirname "$lib")"
        cp -L "$lib" "$extra$lib"
    done < <(ldd /usr/bin/socat | sed -n -e 's/.*=> \(\/[^ ]*\) (.*/\1/p' \
        -e 's/^[[:space:]]*\(\/[^ ]*\) (.*/\1/p')
    (cd "$extra" && find . -mindepth 1 | cpio -o -H newc -R 0:0 --quiet) | gzip >>"$initrd"
fi
say "initramfs $initrd ($(($(wc -c <"$initrd") / 1024)) KiB)"

# ------------------------------------------------------------------ daemon
step "4/7 Starting the daemon"
say "\$ vhost-device-vsock --guest-cid $GUEST_CID --socket $sock --uds-path $uds"
"$daemon" --guest-cid "$GUEST_CID" --socket "$sock" --uds-path "$uds" \
    >"$work/daemon.log" 2>&1 </dev/null &
dpid=$!
pids+=("$dpid")
daemon_up() {
    [[ -S "$sock" && -s "$work/daemon.log" ]] && return 0
    running "$dpid" || die "the daemon exited: $(tail -n 3 "$work/daemon.log")"
    return 1
}
wait_for "the daemon's socket $sock" 10 daemon_up


# ------------------------------------------------------------------ guest
step "5/7 Booting the guest (QEMU, TCG: ~10 s)"
# One display line per group of arguments, printed as a command to copy.
qemu=(qemu-system-x86_64)
shown=()
q() {
    qemu+=("$@")
    local a l=""
    for a in "$@"; do
        [[ "$a" == *" "* ]] && a="'$a'"
        l+="$a "
    done
    shown+=("$l")
}
q -machine q35,accel=tcg,memory-backend=mem
q -object memory-backend-memfd,id=mem,size=256M,share=on -m 256M
q -chardev "socket,id=char0,path=$sock"
q -device vhost-user-vsock-pci,chardev=char0
q -smp 1 -nodefaults -nographic -no-reboot -monitor none
q -serial "file:$work/serial.log"
q -kernel "$kdir/vmlinuz" -initrd "$initrd"
q -append "console=ttyS0 quiet panic=-1 vdv.scenario=run vdv.script=demo.sh vdv.timeout=120"
say "\$ ${qemu[0]} \\"
for ((i = 0; i < ${#shown[@]}; i++)); do
    line="${shown[i]% }"
    ((i + 1 < ${#shown[@]})) && line+=" \\"
    say "      $line"
done
say "(memfd memory shared with the daemon, which reads and writes the guest's"
say " vrings directly; vhost-user-vsock-pci is the device, its backend our socket)"
: >"$work/serial.log"
timeout --kill-after=5 180 "${qemu[@]}" </dev/null >"$work/qemu.log" 2>&1 &
qpid=$!
pids+=("$qpid")
guest_listens() {
    grep -aq '^DEMO-READY h2g' "$work/serial.log" && return 0
    running "$qpid" || die "QEMU exited before the guest listened: $(tail -n 3 "$work/qemu.log")"
    grep -aq '^VDV-RESULT' "$work/serial.log" && die "the guest gave up (see above)"
    return 1
}
wait_for "the guest to listen on vsock port $H2G_PORT" 90 guest_listens

step "6/7 host -> guest: CONNECT $H2G_PORT through $uds"
say "\$ socat - UNIX-CONNECT:$uds     then typing: CONNECT $H2G_PORT  and  $HOST_SAYS"
{
    printf 'CONNECT %s\n' "$H2G_PORT"
    sleep 1 # as if typed: the line after the handshake
    printf '%s\n' "$HOST_SAYS"
} | timeout 60 socat -t 10 -T 30 - "UNIX-CONNECT:$uds" >"$work/h2g.host.txt" 2>"$work/h2g.host.log" ||
    die "host socat UNIX-CONNECT failed: $(tail -n 2 "$work/h2g.host.log")"
while IFS= read -r line; do
    say "host   | received: '$line'"
done <"$work/h2g.host.txt"
reply="$(head -n 1 "$work/h2g.host.txt")"
[[ "$reply" == "OK "* ]] || die "the daemon did not answer 'OK <port>' (got '${reply:-nothing}')"
grep -q "^hello from the guest" "$work/h2g.host.txt" || die "no answer from the guest on port $H2G_PORT"
say "(the daemon answered '$reply' once the guest accepted: the guest's port, as"
say " rust-vmm's daemon does; everything after that line is the guest's stream)"
guest_got_it() { tr -d '\r' <"$work/serial.log" | grep -aq "received from the host: '$HOST_SAYS'"; }
wait_for "the guest to print '$HOST_SAYS'" 30 guest_got_it

step "7/7 guest -> host: the guest connects to CID 2 port $G2H_PORT = ${uds}_$G2H_PORT"
say "(the daemon connects the guest's connection to the Unix socket <uds-path>_<port>,"
say " which nobody listened on so far: the guest's attempts were refused)"
say "\$ socat UNIX-LISTEN:${uds}_$G2H_PORT -         (answers '$HOST_ANSWERS')"
printf '%s\n' "$HOST_ANSWERS" |
    timeout 120 socat -t 10 -T 90 "UNIX-LISTEN:${uds}_$G2H_PORT" - >"$work/g2h.host.txt" 2>"$work/g2h.host.log" &
lpid=$!
pids+=("$lpid")
QUIET=1 wait_for "the guest to connect and the host's socat to finish" 60 not_running "$lpid"
wait "$lpid" 2>/dev/null || true
forget "$lpid"
while IFS= read -r line; do
    say "host   | received: '$line'"
done <"$work/g2h.host.txt"
grep -q "^hello from the guest" "$work/g2h.host.txt" ||
    die "the host listener on ${uds}_$G2H_PORT got nothing: $(tail -n 2 "$work/g2h.host.log")"
wait_for "the guest to finish and power off" 60 not_running "$qpid"
qrc=0
wait "$qpid" || qrc=$?
forget "$qpid"
show_news
tr -d '\r' <"$work/serial.log" | grep -aq '^VDV-RESULT PASS' ||
    die "the guest did not finish its part (QEMU exit $qrc)"
grep -aq "received from the host: '$HOST_ANSWERS'" "$work/serial.log" ||
    die "the guest did not print '$HOST_ANSWERS'"

step "Stopping the daemon (SIGTERM)"
kill -TERM "$dpid"
wait_for "the daemon to exit" 10 not_running "$dpid"
drc=0
wait "$dpid" || drc=$?
forget "$dpid"
show_news
[[ $drc -eq 0 ]] || die "the daemon exited with status $drc"

ok=1
[[ "${VDV_LOG:-}" == debug ]] ||
    say "(VDV_LOG=debug scripts/demo.sh also shows the vhost-user set-up QEMU does)"
printf '\ndemo: OK in %s s: text went host -> guest (CONNECT %s) and guest -> host (%s_%s)\n' \
    "$(($(date +%s) - t_start))" "$H2G_PORT" "$uds" "$G2H_PORT"
