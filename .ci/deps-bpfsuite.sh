#!/usr/bin/env bash
# The eBPF suite's one install step that is not a Debian package: the flame
# graph tool (npm package "flamegraph"), where labctl looks for it (the
# analysis role does the same on lab hosts). The suite's Debian packages are
# in scripts/install-deps.sh. Idempotent: installs only what is missing.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

# node/npm only when absent: an image may ship its own Node.js, which
# conflicts with Debian's npm package.
if ! command -v npm >/dev/null; then
    echo "==> [deps] apt-get install nodejs npm"
    apt-get install -y -q --no-install-recommends nodejs npm </dev/null
fi

PREFIX=/opt/disgrafs-lab/tools/flamegraph
if [ ! -x "$PREFIX/node_modules/.bin/flamegraph" ]; then
    echo "==> [deps] npm install flamegraph@1.3.0 into $PREFIX"
    mkdir -p "$PREFIX"
    npm install --no-audit --no-fund --prefix "$PREFIX" flamegraph@1.3.0 </dev/null
fi
