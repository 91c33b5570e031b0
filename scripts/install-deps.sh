#!/usr/bin/env bash
# What `make lab` and `make test` need on this machine, installed by the one
# installer they (and .ci/run) call. It says what it installs, installs only
# what is missing (a second run installs nothing), and refuses at once where
# it cannot work.
#
#   scripts/install-deps.sh lab     container engine, debootstrap, python3-venv,
#                                   Maven + JDK 17 (Neo4j from Maven Central)
#   scripts/install-deps.sh test    the above, the eBPF toolchain and test tools,
#                                   then .ci/deps-*.sh (each installs only what is missing)
#   scripts/install-deps.sh --list lab|test   print the package list and exit
#
# Supported: Debian 12, Ubuntu 22.04/24.04, as root (or through sudo).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
say() { echo "==> [deps] $*"; }
die() { echo "ERROR [deps]: $*" >&2; exit 2; }

list_only=0
if [ "${1:-}" = "--list" ]; then list_only=1; shift; fi
purpose="${1:-}"
case "$purpose" in lab|test) ;; *) die "usage: $0 [--list] lab|test" ;; esac

# ---- where we are -------------------------------------------------------------
[ -r /etc/os-release ] || die "no /etc/os-release: this installer supports Debian 12 and Ubuntu 22.04/24.04"
# shellcheck disable=SC1091
. /etc/os-release
case "${ID:-}:${VERSION_ID:-}" in
    debian:12|ubuntu:22.04|ubuntu:24.04) ;;
    *) die "${PRETTY_NAME:-this OS} is not supported for the control machine: use Debian 12 or" \
           "Ubuntu 22.04/24.04 (or install the packages of '$0 --list $purpose' yourself" \
           "and run 'make venv image' then 'scripts/lab.sh up')" ;;
esac

# ---- what is needed -------------------------------------------------------------
# The lab: the container engine (+ iptables for its networks), debootstrap for
# the lab image, python3-venv for .venv, Maven + JDK for Neo4j from Maven Central.
LAB=(docker.io iptables debootstrap python3 python3-venv make git ca-certificates curl
     maven openjdk-17-jdk-headless)
# The tests: the eBPF toolchain and what the kernel tests drive.
TEST=(clang llvm libbpf-dev bpftrace python3-bpfcc iproute2 kmod procps util-linux
      redis-tools redis-server iperf3 socat jq ethtool gcc libc6-dev xdp-tools)
# Names that differ between the distributions.
if [ "$ID" = debian ]; then
    TEST+=(bpftool linux-perf libxdp-dev)
else
    # Ubuntu: bpftool and perf come with the running kernel's linux-tools.
    TEST+=(linux-tools-common)
    kernel_tools="linux-tools-$(uname -r)"
    if apt-cache show "$kernel_tools" >/dev/null 2>&1; then TEST+=("$kernel_tools"); fi
    [ "$VERSION_ID" = 22.04 ] || TEST+=(libxdp-dev)   # jammy has no libxdp-dev
fi

wanted=("${LAB[@]}")
[ "$purpose" = test ] && wanted+=("${TEST[@]}")
if [ "$list_only" = 1 ]; then printf '%s\n' "${wanted[@]}"; exit 0; fi

# ---- as root ----------------------------------------------------------------------
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        say "not root: re-running through sudo"
        exec sudo -- "$0" "$purpose"
    fi
    die "installing packages needs root: run as root or install sudo"
fi

missing=()
for pkg in "${wanted[@]}"; do
    status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
    [ "$status" = "install ok installed" ] || missing+=("$pkg")
done

if [ "${#missing[@]}" -eq 0 ]; then
    say "every package for '$purpose' is installed"
else
    say "installing for '$purpose': ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q </dev/null
    # No daemon may start from a package's postinst (redis-server would take
    # port 6379 on this machine): a policy-rc.d that forbids it, for this install only.
    POLICY=/usr/sbin/policy-rc.d
    made_policy=0
    if [ ! -e "$POLICY" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$POLICY"; chmod +x "$POLICY"; made_policy=1
    fi
    trap '[ "$made_policy" = 1 ] && rm -f "$POLICY"' EXIT
    apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
fi

if [ "$purpose" = test ]; then
    # The parts' own install steps (each installs only what is missing).
    for deps in "$ROOT"/.ci/deps-*.sh; do
        say "$(basename "$deps")"
        bash "$deps" </dev/null
    done
fi
