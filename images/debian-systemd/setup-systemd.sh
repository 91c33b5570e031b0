#!/bin/sh
# Run once at image build: make systemd boot cleanly inside a container.
set -eu

# Units that cannot work in a container (no real consoles, no udev, /sys is
# read-only, the kernel is the host's) and would only make the system
# "degraded" or slow down the boot.
for unit in \
    getty@tty1.service console-getty.service serial-getty@.service getty.target \
    systemd-udevd.service systemd-udevd-control.socket systemd-udevd-kernel.socket \
    systemd-udev-trigger.service systemd-udev-settle.service \
    systemd-remount-fs.service systemd-firstboot.service \
    systemd-modules-load.service sys-kernel-config.mount \
    dev-hugepages.mount sys-fs-fuse-connections.mount \
    systemd-ask-password-wall.path systemd-ask-password-console.path \
    apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer
do
    ln -sf /dev/null "/etc/systemd/system/$unit"
done

# An empty machine-id: systemd makes a fresh one per container at boot, so
# lab-server and lab-test never share one.
: > /etc/machine-id
rm -f /var/lib/dbus/machine-id

# Boot into the multi-user target (no graphical target, no rescue shells).
ln -sf /lib/systemd/system/multi-user.target /etc/systemd/system/default.target

# Keep the image small: no docs or caches.
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/apt/archives/*.deb
