#!/bin/sh
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
#
# /init of the e2e guests (busybox sh).  Mounts the pseudo filesystems,
# loads the vsock modules, runs the scenario named on the kernel command line
# and powers off.  Everything the host looks for is one line on the console:
#
#   VDV-BOOT <uptime-seconds>          /init started
#   VDV-RESULT PASS <name>             scenario passed
#   VDV-RESULT FAIL <name>: <reason>   scenario failed, with the reason
#
# Kernel command line (read from /proc/cmdline; dotted names never reach
# init's environment):
#   vdv.scenario=cid|run|shell   what to run (default: cid)
#   vdv.expect_cid=N             cid: the CID the device must report
#   vdv.bind_timeout=SECONDS     cid: wait this long for the driver to bind (10)
#   vdv.script=NAME              run: /scenarios/NAME, pass if it exits 0
#   vdv.args=A,B,C               run: arguments for the script (comma separated)
#   vdv.timeout=SECONDS          bound on the scenario (default 60)
#   vdv.name=LABEL               name in the result line (default: scenario/script)
# Scripts get VDV_TOOL (the guest tool) and VDV_EXPECT_CID in the environment
# and may print anything; their last line of stderr makes the FAIL reason.

PATH=/bin:/sbin
export PATH

TOOL=/bin/vsock-guest-tool
DRV=/sys/bus/virtio/drivers/vmw_vsock_virtio_transport

# ---------------------------------------------------------------- helpers

cmdline_get() { # NAME DEFAULT
    v="$2"
    read -r cmdline </proc/cmdline
    for w in $cmdline; do
        case "$w" in
        "$1"=*) v="${w#*=}" ;;
        esac
    done
    printf '%s' "$v"
}

result_file=/tmp/vdv-result

# One result per boot: the first one written wins.
result() { # PASS|FAIL TEXT
    [ -e "$result_file" ] && return 0
    printf '%s %s\n' "$1" "$2" >"$result_file"
}

uptime_s() { cut -d' ' -f1 /proc/uptime; }

# Waits up to $1 seconds (in 0.1 s steps) for a virtio device bound to the
# virtio-vsock driver; prints its name.
wait_bound() {
    i=0
    limit=$(($1 * 10))
    while [ "$i" -lt "$limit" ]; do
        for d in "$DRV"/virtio*; do
            if [ -e "$d" ]; then
                basename "$d"
                return 0
            fi
        done
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}

# What virtio/PCI devices the guest sees, for FAIL reasons.
describe_devices() {
    list=""
    for d in /sys/bus/virtio/devices/*; do
        [ -e "$d" ] || continue
        list="$list $(basename "$d"):id=$(cat "$d/device" 2>/dev/null)"
        if [ -e "$d/driver" ]; then
            list="$list->$(basename "$(readlink "$d/driver")")"
        fi
    done
    pci=""
    for d in /sys/bus/pci/devices/*; do
        [ -e "$d" ] || continue
        [ "$(cat "$d/vendor" 2>/dev/null)" = 0x1af4 ] || continue
        pci="$pci $(basename "$d"):$(cat "$d/device" 2>/dev/null)"
    done
    printf 'virtio devices:[%s ] virtio pci functions:[%s ]' "$list" "$pci"
}

# ---------------------------------------------------------------- scenarios

scenario_cid() {
    expect="$(cmdline_get vdv.expect_cid "")"
    if [ -z "$expect" ]; then
        result FAIL "vdv.expect_cid= missing on the kernel command line"
        return
    fi
    bind_timeout="$(cmdline_get vdv.bind_timeout 10)"
    if ! dev="$(wait_bound "$bind_timeout")"; then
        result FAIL "no virtio device bound to vmw_vsock_virtio_transport after ${bind_timeout}s; $(describe_devices)"
        return
    fi
    echo "vdv: $dev bound to vmw_vsock_virtio_transport"
    if [ ! -c /dev/vsock ]; then
        result FAIL "/dev/vsock missing although $dev is bound"
        return
    fi
    if ! out="$("$TOOL" cid 2>/tmp/cid.err)"; then
        result FAIL "vsock-guest-tool cid failed: $(tail -n 1 /tmp/cid.err)"
        return
    fi
    echo "vdv: $out"
    if [ "$out" != "CID $expect" ]; then
        result FAIL "expected 'CID $expect', got '$out'"
        return
    fi
    result PASS ""
}

scenario_run() {
    script="$(cmdline_get vdv.script "")"
    args="$(cmdline_get vdv.args "")"
    if [ -z "$script" ] || [ ! -x "/scenarios/$script" ]; then
        have=""
        for f in /scenarios/*; do
            [ -e "$f" ] && have="$have ${f##*/}"
        done
        result FAIL "vdv.script='$script' is not in /scenarios (have:$have)"
        return
    fi
    VDV_TOOL="$TOOL"
    VDV_EXPECT_CID="$(cmdline_get vdv.expect_cid "")"
    export VDV_TOOL VDV_EXPECT_CID
    old_ifs="$IFS"
    IFS=,
    # shellcheck disable=SC2086 # split vdv.args on commas on purpose
    set -- $args
    IFS="$old_ifs"
    "/scenarios/$script" "$@" 2>/tmp/script.err
    rc=$?
    cat /tmp/script.err >&2
    if [ "$rc" -eq 0 ]; then
        result PASS ""
    else
        result FAIL "/scenarios/$script exited $rc: $(tail -n 1 /tmp/script.err)"
    fi
}

# The scenario runs in a child of PID 1 so that a hung one can be killed.
if [ "${1:-}" = "--scenario" ]; then
    case "$2" in
    cid) scenario_cid ;;
    run) scenario_run ;;
    *) result FAIL "unknown vdv.scenario='$2'" ;;
    esac
    exit 0
fi

# ---------------------------------------------------------------- PID 1

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null || true
mkdir -p /dev/pts /tmp
mount -t tmpfs tmpfs /tmp
echo "VDV-BOOT $(uptime_s)"

scenario="$(cmdline_get vdv.scenario cid)"
name="$(cmdline_get vdv.name "")"
if [ -z "$name" ]; then
    name="$scenario"
    [ "$scenario" = run ] && name="$(cmdline_get vdv.script run)"
fi
timeout_s="$(cmdline_get vdv.timeout 60)"

modfail=""
while read -r m; do
    [ -n "$m" ] || continue
    if ! insmod "/lib/modules/vdv/$m.ko" 2>/tmp/insmod.err; then
        modfail="insmod $m: $(tail -n 1 /tmp/insmod.err)"
        break
    fi
done </etc/vdv/modules
echo "vdv: kernel $(uname -r), modules: $(tr '\n' ' ' </etc/vdv/modules)"

# A NIC (only when the initramfs has virtio_net and QEMU gave one): QEMU
# user networking (slirp), static: the guest is 10.0.2.15, the host 10.0.2.2.
if [ -z "$modfail" ] && [ -e /sys/class/net/eth0 ]; then
    ip link set lo up
    ip addr add 10.0.2.15/24 dev eth0
    ip link set eth0 up
    ip route add default via 10.0.2.2
    echo "vdv: eth0 10.0.2.15/24 gw 10.0.2.2"
fi

if [ -n "$modfail" ]; then
    result FAIL "$modfail"
elif [ "$scenario" = shell ]; then
    # interactive debugging: vdv.scenario=shell, exit the shell to power off
    setsid sh -c 'exec sh </dev/ttyS0 >/dev/ttyS0 2>&1'
    result PASS ""
else
    /bin/timeout "$timeout_s" /bin/sh /init --scenario "$scenario"
    result FAIL "scenario did not finish within ${timeout_s}s (vdv.timeout)"
fi

read -r status reason <"$result_file"
echo
if [ "$status" = PASS ]; then
    echo "VDV-RESULT PASS $name (uptime $(uptime_s)s)"
else
    echo "VDV-RESULT FAIL $name: $reason"
fi
echo
poweroff -f
# not reached unless poweroff failed: exiting PID 1 panics, and with
# panic=-1 and QEMU's -no-reboot that ends the VM as well
sleep 1
exit 1
