#!/usr/bin/env bash
# Build the local lab image disgrafs-lab/debian-systemd:bookworm, only when absent.
#
# No container registry is needed:
#   1. debootstrap --variant=minbase bookworm into a temporary rootfs
#   2. docker import it as disgrafs-lab/debian-base:bookworm
#   3. docker build images/debian-systemd/Dockerfile FROM that base
# With LAB_BASE_IMAGE set (e.g. LAB_BASE_IMAGE=debian:bookworm, when a registry
# is reachable), step 3 builds FROM that image and steps 1-2 are skipped.
#
# Environment:
#   DEBIAN_MIRROR           mirror for debootstrap and the image's apt sources
#                           (default http://deb.debian.org/debian)
#   DEBIAN_SECURITY_MIRROR  default http://deb.debian.org/debian-security
#   LAB_BASE_IMAGE          use this image as base instead of debootstrap
#   LAB_IMAGE_REBUILD=1     rebuild even if the image is present
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
IMAGE="${LAB_IMAGE:-disgrafs-lab/debian-systemd:bookworm}"
BASE="disgrafs-lab/debian-base:bookworm"
SUITE=bookworm
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SEC_MIRROR="${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
CONTEXT="$ROOT/images/debian-systemd"
# Keep in sync with LAB_PACKAGES in images/debian-systemd/Dockerfile.
PACKAGES="systemd,systemd-sysv,dbus,python3,python3-apt,sudo,iproute2,iputils-ping,ca-certificates,procps,kmod,apt-utils"

say() { echo "==> [image] $*"; }
die() { echo "ERROR [image]: $*" >&2; exit 1; }
have_image() { docker image inspect "$1" >/dev/null 2>&1; }

docker info >/dev/null 2>&1 || "$ROOT/scripts/ensure-dockerd.sh"

if have_image "$IMAGE" && [ "${LAB_IMAGE_REBUILD:-0}" != 1 ]; then
    say "$IMAGE is present (LAB_IMAGE_REBUILD=1 to rebuild)"
    exit 0
fi

start=$SECONDS

# ---- base image -------------------------------------------------------------
if [ -n "${LAB_BASE_IMAGE:-}" ]; then
    BASE="$LAB_BASE_IMAGE"
    if ! have_image "$BASE"; then
        say "pulling $BASE"
        docker pull "$BASE" || die "cannot pull $BASE. Unset LAB_BASE_IMAGE to build the base with debootstrap instead."
    fi
    say "using base image $BASE"
elif have_image "$BASE" && [ "${LAB_IMAGE_REBUILD:-0}" != 1 ]; then
    say "base $BASE is present"
else
    command -v debootstrap >/dev/null 2>&1 \
        || die "debootstrap is missing: apt-get install -y debootstrap (or set LAB_BASE_IMAGE=debian:bookworm when a registry is reachable)"
    [ "$(id -u)" -eq 0 ] || die "debootstrap needs root: run as root (sudo make image)"

    ROOTFS="$(mktemp -d "${TMPDIR:-/var/tmp}/disgrafs-rootfs.XXXXXX")"
    # Always remove the temporary rootfs, also on failure or Ctrl-C. debootstrap
    # may leave /proc, /sys or a bind-mounted /dev mounted inside it: unmount
    # those first, and never let rm cross into another file system.
    cleanup() {
        local m
        if [ -n "${ROOTFS:-}" ] && [ -d "$ROOTFS" ]; then
            for m in $(awk -v r="$ROOTFS" '$2 == r || index($2, r "/") == 1 { print $2 }' /proc/mounts | sort -r); do
                umount -l "$m" 2>/dev/null || true
            done
            rm -rf --one-file-system "$ROOTFS"
        fi
        [ -n "${ROOTFS:-}" ] && rm -f "$ROOTFS.log"
        return 0
    }
    trap cleanup EXIT
    trap 'exit 130' INT TERM

    say "debootstrap --variant=minbase $SUITE from $MIRROR (about a minute)"
    debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$ROOTFS" "$MIRROR" \
        >"$ROOTFS.log" 2>&1 || {
            tail -n 30 "$ROOTFS.log" >&2
            rm -f "$ROOTFS.log"
            die "debootstrap failed (log above). Check that $MIRROR is reachable, or set DEBIAN_MIRROR."
        }
    rm -f "$ROOTFS.log"

    # The image's apt sources: the same mirror plus updates and security.
    rm -f "$ROOTFS/etc/apt/sources.list"
    cat >"$ROOTFS/etc/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: $MIRROR
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $SEC_MIRROR
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
    rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/*

    say "docker import -> $BASE"
    tar -C "$ROOTFS" --numeric-owner --one-file-system \
        --exclude=./proc/* --exclude=./sys/* --exclude=./dev/* -c . \
        | docker import -c 'CMD ["/bin/bash"]' - "$BASE" >/dev/null
    cleanup
    trap - EXIT INT TERM
fi

# ---- lab image ----------------------------------------------------------------
say "docker build $IMAGE from $BASE"
BUILD_LOG="$(mktemp "${TMPDIR:-/tmp}/disgrafs-build.XXXXXX")"
# The classic builder: the engine (20.10) has no buildx, and it never pulls.
if ! DOCKER_BUILDKIT=0 docker build --pull=false \
        --build-arg "BASE_IMAGE=$BASE" \
        --label "org.disgrafs-lab.base=$BASE" \
        -t "$IMAGE" "$CONTEXT" >"$BUILD_LOG" 2>&1; then
    tail -n 30 "$BUILD_LOG" >&2
    rm -f "$BUILD_LOG"
    die "docker build of $IMAGE failed (log above)"
fi
rm -f "$BUILD_LOG"
say "$IMAGE built in $((SECONDS - start))s ($(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%d MB", $1/1e6}'))"
