#!/usr/bin/env bash
# Start the libvirt daemons when they are not running. Machines without
# systemd as PID 1 (containers, CI runners, this lab's build machine) never
# start them by themselves; where systemd runs, they are socket-activated and
# this script only checks that `virsh` answers.
set -euo pipefail

say() { echo "==> [libvirt] $*"; }

start_daemons() {
    if [ "$(id -u)" -ne 0 ]; then
        echo "libvirtd does not answer at qemu:///system; start it (sudo systemctl start libvirtd)" \
             "or run this script as root." >&2
        exit 1
    fi
    if [ -d /run/systemd/system ]; then
        say "starting libvirtd through systemd"
        systemctl start virtlogd.socket virtlockd.socket libvirtd.service || true
    else
        local d
        for d in virtlogd virtlockd libvirtd; do
            if ! pgrep -x "$d" >/dev/null; then
                say "starting $d -d (no systemd as PID 1)"
                "$d" -d
            fi
        done
    fi
}

virsh -c qemu:///system version >/dev/null 2>&1 || start_daemons
ok=0
for _ in $(seq 1 30); do
    if virsh -c qemu:///system version >/dev/null 2>&1; then
        ok=1
        break
    fi
    sleep 1
done
if [ "$ok" != 1 ]; then
    echo "libvirtd did not answer at qemu:///system within 30 s" >&2
    exit 1
fi
# vagrant-libvirt puts box images and VM disks in the pool "default".
if ! virsh -c qemu:///system pool-info default >/dev/null 2>&1; then
    say "defining the storage pool 'default' (/var/lib/libvirt/images)"
    mkdir -p /var/lib/libvirt/images
    virsh -c qemu:///system pool-define-as default dir --target /var/lib/libvirt/images >/dev/null
    virsh -c qemu:///system pool-autostart default >/dev/null
fi
pool_state="$(virsh -c qemu:///system pool-info default 2>/dev/null | awk '$1 == "State:" {print $2}')"
if [ "$pool_state" != running ]; then
    virsh -c qemu:///system pool-start default >/dev/null
fi
