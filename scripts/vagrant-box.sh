#!/usr/bin/env bash
# Build a Debian 12 (bookworm) Vagrant box for the libvirt provider from Debian
# packages only (no box registry, no Vagrant Cloud), and `vagrant box add` it.
#
#   scripts/vagrant-box.sh            # build + add only when the box is absent
#   LAB_BOX_REBUILD=1 scripts/vagrant-box.sh
#   LAB_BOX_PRELOAD=1 scripts/vagrant-box.sh   # air-gapped variant (below)
#
# How: debootstrap (minbase + kernel, systemd, openssh, sudo, python3, ifupdown)
# into a directory; a raw disk with one MBR partition (ext4 without 64bit /
# metadata_csum: extlinux cannot read those), extlinux + mbr.bin as boot loader;
# user `vagrant` with the insecure public key that ships in Debian's vagrant
# package (Vagrant replaces it at the first `vagrant up`), passwordless sudo,
# DHCP on eth0, `net.ifnames=0`; `qemu-img convert -c` to qcow2; a box is a tar
# of metadata.json, Vagrantfile and box.img.
#
# LAB_BOX_PRELOAD=1 also installs, at build time and natively on this machine
# (minutes instead of an hour under emulation), every package that site.yml
# installs on Debian (roles/bpf_toolchain, roles/lab_client, the eBPF suite's
# roles), keeps their .deb
# files in a local apt repository inside the box (/var/lib/disgrafs-lab/apt)
# and makes that repository the box's ONLY apt source. `apt-get update` and
# site.yml then work in a VM that cannot reach any mirror (air-gapped labs, an
# isolated libvirt network). Box name: disgrafs-lab/debian-12-preload.
#
# Environment:
#   DEBIAN_MIRROR            default http://deb.debian.org/debian
#   DEBIAN_SECURITY_MIRROR   default http://deb.debian.org/debian-security
#   LAB_BOX_PRELOAD=1        the air-gapped variant (see above)
#   LAB_BOX_NAME             default disgrafs-lab/debian-12[-preload]
#   LAB_BOX_DIR              where the .box is written (default build/vagrant)
#   LAB_BOX_DISK_GB          virtual disk size (default 12)
#   LAB_BOX_REBUILD=1        rebuild and re-add even when the box is present
#   LAB_BOX_KERNEL           backports (default: bookworm-backports' kernel) or
#                            stock (Debian 12's 6.1: the eBPF suite's redis
#                            latency monitor cannot attach there)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SUITE=bookworm
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SEC_MIRROR="${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
PRELOAD="${LAB_BOX_PRELOAD:-0}"
# The box's kernel: Debian 12's own 6.1 lacks what the eBPF suite hooks
# (tp_btf sock_recv_length/sock_send_length arrived in 6.3), so the box boots
# bookworm-backports' LTS kernel (6.12 at the time of writing).
case "${LAB_BOX_KERNEL:-backports}" in
    backports) KERNEL_SUITE="$SUITE-backports" ;;
    stock) KERNEL_SUITE="" ;;
    *) echo "ERROR [box]: LAB_BOX_KERNEL must be backports or stock" >&2; exit 1 ;;
esac
if [ "$PRELOAD" = 1 ]; then
    NAME="${LAB_BOX_NAME:-disgrafs-lab/debian-12-preload}"
else
    NAME="${LAB_BOX_NAME:-disgrafs-lab/debian-12}"
fi
OUT_DIR="${LAB_BOX_DIR:-$ROOT/build/vagrant}"
DISK_GB="${LAB_BOX_DISK_GB:-12}"
BOX_FILE="$OUT_DIR/$(echo "$NAME" | tr '/' '-').box"
BASE_PACKAGES="linux-image-amd64,systemd-sysv,udev,dbus,openssh-server,sudo,python3,python3-apt,ifupdown,isc-dhcp-client,iproute2,netbase,iputils-ping,ca-certificates,kmod,procps,apt-utils,less,rsync"
INSECURE_PUB="$(ls /usr/share/rubygems-integration/all/gems/vagrant-*/keys/vagrant.pub 2>/dev/null | head -n1 || true)"

say() { echo "==> [box] $*"; }
die() { echo "ERROR [box]: $*" >&2; exit 1; }

box_present() { vagrant box list 2>/dev/null | awk '{print $1}' | grep -qx "$NAME"; }

if box_present && [ "${LAB_BOX_REBUILD:-0}" != 1 ]; then
    say "$NAME is already added (LAB_BOX_REBUILD=1 to rebuild)"
    exit 0
fi

[ "$(id -u)" -eq 0 ] || die "building the box needs root (debootstrap, loop devices): sudo make box"
for tool in debootstrap sfdisk mkfs.ext4 extlinux qemu-img losetup vagrant; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is missing: apt-get install -y debootstrap fdisk e2fsprogs extlinux syslinux-common qemu-utils mount vagrant"
done
MBR_BIN=""
for f in /usr/lib/EXTLINUX/mbr.bin /usr/lib/syslinux/mbr/mbr.bin; do
    [ -f "$f" ] && { MBR_BIN="$f"; break; }
done
[ -n "$MBR_BIN" ] || die "mbr.bin not found: apt-get install -y extlinux syslinux-common"
[ -n "$INSECURE_PUB" ] || die "Vagrant's insecure public key not found (Debian package vagrant ships it)"

# Packages site.yml installs on Debian, read from the roles so they stay in sync
# (one-line lists in roles/<role>/vars/{Debian,main}.yml; a role task that
# installs a package by a literal name would be missed: keep names in vars). Packages outside Debian (npm modules, JuiceFS, Neo4j)
# cannot be preloaded this way.
preload_packages() {
    python3 - "$ROOT" "$KERNEL_SUITE" <<'EOF'
import glob, re, sys
root = sys.argv[1]
want = []
# every one-line list named *_packages or *_packages_default in a role's
# vars/Debian.yml or vars/main.yml: the foundation, the stack and the suite
for path in sorted(glob.glob(f"{root}/roles/*/vars/Debian.yml") + glob.glob(f"{root}/roles/*/vars/main.yml")):
    for m in re.finditer(r"^\w+_packages(?:_default)?:\s*\[([^\]]*)\]", open(path).read(), re.M):
        want += [p.strip().strip("'\"") for p in m.group(1).split(",") if p.strip()]
if "clang" not in want:
    sys.exit("roles/bpf_toolchain/vars/Debian.yml: bpf_toolchain_packages not found as a one-line list")
# The box kernel's headers (roles/bpf_toolchain/tasks/headers.yml).
want.append(f"linux-headers-amd64/{sys.argv[2]}" if sys.argv[2] else "linux-headers-amd64")
print(" ".join(dict.fromkeys(want)))
EOF
}

start=$SECONDS
mkdir -p "$OUT_DIR"
WORK="$(mktemp -d "${TMPDIR:-/var/tmp}/disgrafs-box.XXXXXX")"
ROOTFS="$WORK/rootfs"
MNT="$WORK/mnt"
LOOP=""
cleanup() {
    local m
    for m in $(awk -v r="$WORK" 'index($2, r "/") == 1 { print $2 }' /proc/mounts | sort -r); do
        umount -l "$m" 2>/dev/null || true
    done
    [ -n "$LOOP" ] && losetup -d "$LOOP" 2>/dev/null || true
    rm -rf --one-file-system "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- root file system ---------------------------------------------------------
say "debootstrap --variant=minbase $SUITE from $MIRROR (a few minutes)"
mkdir -p "$ROOTFS" "$MNT"
debootstrap --variant=minbase --include="$BASE_PACKAGES" "$SUITE" "$ROOTFS" "$MIRROR" \
    >"$WORK/debootstrap.log" 2>&1 || {
        tail -n 30 "$WORK/debootstrap.log" >&2
        die "debootstrap failed (log above). Check that $MIRROR is reachable, or set DEBIAN_MIRROR."
    }

in_root() { chroot "$ROOTFS" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 "$@"; }
mount -t proc proc "$ROOTFS/proc"
mount -t sysfs sysfs "$ROOTFS/sys"
mount --bind /dev "$ROOTFS/dev"
mount --bind /dev/pts "$ROOTFS/dev/pts"
cp /etc/resolv.conf "$ROOTFS/etc/resolv.conf"
printf '#!/bin/sh\nexit 101\n' >"$ROOTFS/usr/sbin/policy-rc.d"   # start no service in the chroot
chmod 0755 "$ROOTFS/usr/sbin/policy-rc.d"

cat >"$ROOTFS/etc/apt/sources.list" <<EOF
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb $SEC_MIRROR $SUITE-security main
EOF
[ -n "$KERNEL_SUITE" ] && echo "deb $MIRROR $KERNEL_SUITE main" >>"$ROOTFS/etc/apt/sources.list"
say "apt upgrade (security updates)"
in_root apt-get update -q >/dev/null
in_root apt-get -y -q -o Dpkg::Options::=--force-confold dist-upgrade >"$WORK/upgrade.log" 2>&1 \
    || { tail -n 30 "$WORK/upgrade.log" >&2; die "apt-get dist-upgrade failed in the box"; }
if [ -n "$KERNEL_SUITE" ]; then
    say "kernel from $KERNEL_SUITE (replaces debootstrap's)"
    in_root apt-get install -y -q --no-install-recommends "linux-image-amd64/$KERNEL_SUITE" \
        >"$WORK/kernel.log" 2>&1 || { tail -n 30 "$WORK/kernel.log" >&2; die "installing the $KERNEL_SUITE kernel failed"; }
    newest="$(ls "$ROOTFS/boot" | sed -n 's/^vmlinuz-//p' | sort -V | tail -n1)"
    old="$(in_root dpkg-query -W -f '${Package}\n' 'linux-image-[0-9]*' | grep -vx "linux-image-$newest" || true)"
    # shellcheck disable=SC2086
    [ -z "$old" ] || in_root apt-get purge -y -q $old >>"$WORK/kernel.log" 2>&1 \
        || { tail -n 30 "$WORK/kernel.log" >&2; die "removing debootstrap's kernel failed"; }
fi

if [ "$PRELOAD" = 1 ]; then
    PKGS="$(preload_packages)"
    say "preloading the lab's packages: $PKGS"
    in_root apt-get install -y -q --no-install-recommends $PKGS >"$WORK/preload.log" 2>&1 \
        || { tail -n 30 "$WORK/preload.log" >&2; die "installing the lab's packages in the box failed"; }
    # A local apt repository with every .deb downloaded for the box: the box's
    # only apt source, so `apt-get update` works without any network.
    repo=/var/lib/disgrafs-lab/apt
    mkdir -p "$ROOTFS$repo"
    mv "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS$repo/" 2>/dev/null || true
    in_root sh -c "cd $repo && apt-ftparchive packages . > Packages && apt-ftparchive release . > Release"
    mv "$ROOTFS/etc/apt/sources.list" "$ROOTFS/etc/apt/sources.list.online"
    cat >"$ROOTFS/etc/apt/sources.list" <<EOF
# disgrafs-lab air-gapped box: the packages site.yml needs are installed and
# kept in this local repository. With network access, use the Debian mirrors:
#   mv /etc/apt/sources.list.online /etc/apt/sources.list && apt-get update
deb [trusted=yes] file:$repo ./
EOF
    in_root apt-get update -q >/dev/null
fi
in_root apt-get clean

# ---- configuration ------------------------------------------------------------
say "configuring users, network, ssh and boot loader"
echo vagrant-debian12 >"$ROOTFS/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tvagrant-debian12\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$ROOTFS/etc/hosts"
cat >"$ROOTFS/etc/network/interfaces" <<'EOF'
source /etc/network/interfaces.d/*
auto lo
iface lo inet loopback
allow-hotplug eth0
iface eth0 inet dhcp
EOF
in_root useradd -m -s /bin/bash -G sudo vagrant
echo 'vagrant:vagrant' | in_root chpasswd   # the Vagrant convention; SSH allows keys only (below)
echo 'vagrant ALL=(ALL) NOPASSWD: ALL' >"$ROOTFS/etc/sudoers.d/vagrant"
chmod 0440 "$ROOTFS/etc/sudoers.d/vagrant"
install -d -m 0700 -o 1000 -g 1000 "$ROOTFS/home/vagrant/.ssh"
install -m 0600 -o 1000 -g 1000 "$INSECURE_PUB" "$ROOTFS/home/vagrant/.ssh/authorized_keys"
cat >"$ROOTFS/etc/ssh/sshd_config.d/vagrant.conf" <<'EOF'
UseDNS no
PasswordAuthentication no
EOF
# Host keys are generated at the first boot, never shipped in the box.
rm -f "$ROOTFS"/etc/ssh/ssh_host_*
cat >"$ROOTFS/etc/systemd/system/ssh-hostkeys.service" <<'EOF'
[Unit]
Description=Generate missing SSH host keys
Before=ssh.service
[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A
[Install]
WantedBy=multi-user.target
EOF
in_root systemctl enable ssh-hostkeys.service >/dev/null 2>&1
: >"$ROOTFS/etc/machine-id"
rm -f "$ROOTFS/var/lib/dbus/machine-id"
rm -f "$ROOTFS/usr/sbin/policy-rc.d" "$ROOTFS/etc/resolv.conf"

KVER="$(ls "$ROOTFS/boot" | sed -n 's/^vmlinuz-//p' | sort -V | tail -n1)"
[ -n "$KVER" ] || die "no kernel in the box's /boot"

for m in dev/pts dev sys proc; do umount "$ROOTFS/$m"; done

# ---- disk -----------------------------------------------------------------------
say "raw disk ${DISK_GB}G, one MBR partition, ext4, extlinux (kernel $KVER)"
RAW="$WORK/disk.raw"
truncate -s "${DISK_GB}G" "$RAW"
echo 'start=2048, type=83, bootable' | sfdisk -q "$RAW"
OFFSET=$((2048 * 512))
SIZE=$(( DISK_GB * 1024 * 1024 * 1024 - OFFSET ))
LOOP="$(losetup -f --show -o "$OFFSET" --sizelimit "$SIZE" "$RAW")"
mkfs.ext4 -q -F -L root -O ^64bit,^metadata_csum "$LOOP"
UUID="$(blkid -s UUID -o value "$LOOP")"
mount "$LOOP" "$MNT"
cp -a "$ROOTFS/." "$MNT/"
echo "UUID=$UUID / ext4 errors=remount-ro 0 1" >"$MNT/etc/fstab"
mkdir -p "$MNT/boot/extlinux"
cat >"$MNT/boot/extlinux/extlinux.conf" <<EOF
DEFAULT debian
TIMEOUT 1
PROMPT 0
LABEL debian
  LINUX /boot/vmlinuz-$KVER
  INITRD /boot/initrd.img-$KVER
  APPEND root=UUID=$UUID ro net.ifnames=0 biosdevname=0 console=tty0 console=ttyS0,115200n8
EOF
extlinux --install "$MNT/boot/extlinux" >/dev/null 2>&1 || die "extlinux --install failed"
umount "$MNT"
losetup -d "$LOOP"; LOOP=""
dd if="$MBR_BIN" of="$RAW" bs=440 count=1 conv=notrunc status=none

say "qemu-img convert -c to qcow2"
BOXDIR="$WORK/box"
mkdir -p "$BOXDIR"
qemu-img convert -c -O qcow2 "$RAW" "$BOXDIR/box.img"
rm -f "$RAW"
printf '{"provider":"libvirt","format":"qcow2","virtual_size":%s}\n' "$DISK_GB" >"$BOXDIR/metadata.json"
cat >"$BOXDIR/Vagrantfile" <<'EOF'
# disgrafs-lab Debian 12 box (scripts/vagrant-box.sh), libvirt provider.
Vagrant.configure("2") do |config|
  config.vm.provider :libvirt do |lv|
    lv.disk_bus = "virtio"
  end
end
EOF
tar -C "$BOXDIR" -cf "$BOX_FILE.tmp" metadata.json Vagrantfile box.img
mv "$BOX_FILE.tmp" "$BOX_FILE"
say "wrote $BOX_FILE ($(du -h "$BOX_FILE" | cut -f1)) in $((SECONDS - start)) s"

vagrant box add --force --name "$NAME" "$BOX_FILE" >/dev/null
# A re-added box must not reuse an older image already uploaded to libvirt.
if command -v virsh >/dev/null 2>&1 && virsh -c qemu:///system version >/dev/null 2>&1; then
    for v in $(virsh -c qemu:///system vol-list default 2>/dev/null | awk -v n="$(echo "$NAME" | sed 's#/#-VAGRANTSLASH-#')" 'index($1, n "_vagrant_box_image") == 1 {print $1}'); do
        virsh -c qemu:///system vol-delete --pool default "$v" >/dev/null && say "removed stale libvirt volume $v"
    done
fi
say "added box $NAME (vagrant box list) in $((SECONDS - start)) s"
