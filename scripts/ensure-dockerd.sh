#!/usr/bin/env bash
# Make sure a Docker engine answers `docker info`; start one if not.
#
# Idempotent: does nothing when the engine already answers.
#  - systemd is PID 1  -> `systemctl start docker`
#  - otherwise (containers, CI sandboxes) -> `dockerd >/var/log/dockerd.log 2>&1 &`
# Waits at most DOCKERD_WAIT seconds (default 60) for the engine to answer.
set -euo pipefail

WAIT="${DOCKERD_WAIT:-60}"
LOG="${DOCKERD_LOG:-/var/log/dockerd.log}"

say() { echo "==> [dockerd] $*"; }
die() { echo "ERROR [dockerd]: $*" >&2; exit 1; }

docker_ok() { docker info >/dev/null 2>&1; }

command -v docker >/dev/null 2>&1 \
    || die "no 'docker' client on PATH. Install it: apt-get install -y docker.io"

if docker_ok; then
    say "engine already running ($(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?'))"
    exit 0
fi

if [ "$(cat /proc/1/comm 2>/dev/null)" = "systemd" ] && command -v systemctl >/dev/null 2>&1; then
    say "starting docker via systemctl"
    systemctl start docker || die "'systemctl start docker' failed; see 'journalctl -u docker'"
else
    command -v dockerd >/dev/null 2>&1 \
        || die "no 'dockerd' on PATH. Install the engine: apt-get install -y docker.io"
    [ "$(id -u)" -eq 0 ] || die "dockerd must be started as root (run this script with sudo)"
    # A stale pid file from a killed daemon makes a new dockerd refuse to start.
    if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
        rm -f /var/run/docker.pid
    fi
    if pgrep -x dockerd >/dev/null 2>&1; then
        say "dockerd process exists but does not answer yet; waiting"
    else
        say "starting dockerd in the background (log: $LOG)"
        # setsid: the daemon must survive the shell (and make job) that started it.
        setsid dockerd >"$LOG" 2>&1 </dev/null &
    fi
fi

for ((i = 0; i < WAIT; i++)); do
    if docker_ok; then
        say "engine ready after ${i}s ($(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?'))"
        exit 0
    fi
    sleep 1
done
echo "---- last lines of $LOG ----" >&2
tail -n 20 "$LOG" >&2 2>/dev/null || true
die "the Docker engine did not answer within ${WAIT}s. Check $LOG, then retry (DOCKERD_WAIT=120 to wait longer)."
