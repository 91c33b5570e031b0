#!/usr/bin/env bash
# What tests/test_monitoring_dashboards.py needs on a Debian 12 machine, as
# root: promtool, from the Debian package "prometheus". Installed only when
# missing and NOT started: the package's postinst would start a Prometheus
# on :9090 of this machine, so a policy-rc.d forbids it for this install only
# (as scripts/install-deps.sh does for redis-server).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

if command -v promtool >/dev/null; then
    exit 0
fi
POLICY=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$POLICY" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$POLICY"; chmod +x "$POLICY"; made_policy=1
fi
trap '[ "$made_policy" = 1 ] && rm -f "$POLICY"' EXIT
echo "==> [deps] apt-get install prometheus (promtool; not started)"
apt-get install -y -q --no-install-recommends prometheus </dev/null
