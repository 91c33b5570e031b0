#!/usr/bin/env bash
# CI dependencies of the eBPF program suite's host tests (tests/test_*_kernel.py
# for redis_latency, http_filter, xdp_cpumap, afxdp) and benchmarks: libxdp
# (the AF_XDP receiver), xdp-tools, ethtool (veth offloads), redis-server and
# redis-tools (the monitored server, redis-benchmark), gcc, bpftrace, perf,
# and node/npm (the flame graph tool, npm package "flamegraph").
# Run as root on a fresh Debian 12 by .ci/run, before `make test`.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

PACKAGES=(libxdp-dev xdp-tools libbpf-dev ethtool gcc libc6-dev redis-server redis-tools
          bpftrace linux-perf util-linux iproute2)
# node/npm only when absent: an image may ship its own Node.js, which
# conflicts with Debian's npm package.
command -v npm >/dev/null || PACKAGES+=(nodejs npm)

# No daemon may start from a package's postinst (redis-server would take port
# 6379 on the host): forbid it for this install only.
POLICY=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$POLICY" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$POLICY"; chmod +x "$POLICY"; made_policy=1
fi
trap '[ "$made_policy" = 1 ] && rm -f "$POLICY"' EXIT
apt-get install -y -q --no-install-recommends "${PACKAGES[@]}" </dev/null

# The flame graph tool, where labctl looks for it (the analysis role does the same).
PREFIX=/opt/disgrafs-lab/tools/flamegraph
if [ ! -x "$PREFIX/node_modules/.bin/flamegraph" ]; then
    mkdir -p "$PREFIX"
    npm install --no-audit --no-fund --prefix "$PREFIX" flamegraph@1.3.0 </dev/null
fi
