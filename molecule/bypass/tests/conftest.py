"""Helpers for the testinfra checks on the lab server."""

import json

import pytest

PIN_DIR = "/sys/fs/bpf/disgrafs-lab/sockredir"
PROBE = "/usr/local/bin/lab-tcp-probe"


def out_segs(host) -> int:
    """Tcp OutSegs of the host's network namespace (the container's own)."""
    lines = [l.split() for l in host.file("/proc/net/snmp").content_string.splitlines()
             if l.startswith("Tcp:")]
    return int(lines[1][lines[0].index("OutSegs")])


def labctl_status(host) -> dict:
    return json.loads(host.check_output("/usr/local/sbin/labctl status --json"))["sockredir"]


def cgroup2_root(host) -> str:
    found = json.loads(host.check_output("findmnt --list --json --types cgroup2 --output TARGET"))
    return sorted(fs["target"] for fs in found["filesystems"])[0]


def probe_in_slice(host, port: int, nbytes: str) -> dict:
    """Run the TCP probe as a transient scope inside the lab's slice."""
    out = host.check_output(
        f"systemd-run --quiet --scope --slice=disgrafs.slice "
        f"{PROBE} --port {port} --bytes {nbytes}")
    return json.loads(out)


@pytest.fixture
def trace_pipe(host):
    """Collect trace_pipe for a bounded time in a transient unit; yields a
    function returning the sockredir lines seen so far."""
    unit = "labtest-trace-pipe"
    host.run(f"systemctl stop {unit}; rm -f /tmp/{unit}.txt")
    host.check_output(
        f"systemd-run --quiet --unit={unit} -p StandardOutput=file:/tmp/{unit}.txt "
        f"timeout 60 cat /sys/kernel/tracing/trace_pipe")
    host.run("sleep 0.5")

    def lines():
        text = host.run(f"cat /tmp/{unit}.txt").stdout
        return [l for l in text.splitlines() if "sockredir:" in l]

    yield lines
    host.run(f"systemctl stop {unit}; rm -f /tmp/{unit}.txt")
