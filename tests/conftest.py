"""Shared fixtures. Tests that touch the host kernel isolate themselves: their
own cgroup, network namespace, bpffs pin root and build directory, removed
even when the test fails."""

import json
import os
import subprocess
import sys
import uuid

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "bpf"))  # labctl without installing

from labctl import sockredir, system  # noqa: E402

PROBE = os.path.join(REPO, "bpf", "sockredir", "tcp_probe.py")


def kernel_ready() -> str | None:
    """Why kernel tests cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root"
    if not os.path.exists(system.BTF_PATH):
        return "needs BTF"
    try:
        system.cgroup2_root()
    except Exception as exc:  # noqa: BLE001
        return str(exc)
    return None


class Sandbox:
    """A private cgroup + netns + pin root for one test."""

    def __init__(self, tmp_path):
        tag = f"dltest-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.tag = tag
        self.cgroup = os.path.join(system.cgroup2_root(), tag)
        self.netns = tag
        self.pin_root = f"/sys/fs/bpf/{tag}"
        self.build_dir = str(tmp_path / "build")
        os.makedirs(self.cgroup)
        subprocess.run(["ip", "netns", "add", self.netns], check=True)
        subprocess.run(["ip", "-n", self.netns, "link", "set", "lo", "up"], check=True)

    def settings(self, **kw) -> sockredir.Settings:
        values = dict(cgroup=self.cgroup, ports=[9301], pin_root=self.pin_root,
                      build_dir=self.build_dir, trace=True)
        values.update(kw)
        return sockredir.Settings(**values)

    def in_netns(self, *argv, timeout=120) -> subprocess.CompletedProcess:
        # nsenter (unlike `ip netns exec`) keeps /sys, so the cgroup stays reachable
        return subprocess.run(["nsenter", f"--net=/run/netns/{self.netns}", *argv],
                              capture_output=True, text=True, timeout=timeout, check=True)

    def out_segs(self) -> int:
        text = self.in_netns("cat", "/proc/net/snmp").stdout
        header, values = [line.split() for line in text.splitlines() if line.startswith("Tcp:")]
        return int(values[header.index("OutSegs")])

    def probe(self, port: int, nbytes: str = "100M", listen: str = "ipv4") -> dict:
        out = self.in_netns(sys.executable, PROBE, "--cgroup", self.cgroup, "--port", str(port),
                            "--bytes", nbytes, "--listen", listen).stdout
        return json.loads(out)

    def cleanup(self):
        try:
            sockredir.detach(self.settings())
        finally:
            subprocess.run(["ip", "netns", "del", self.netns], check=False)
            for _ in range(50):  # probe processes may still be leaving the cgroup
                try:
                    os.rmdir(self.cgroup)
                    break
                except OSError:
                    import time
                    time.sleep(0.1)


@pytest.fixture
def sandbox(tmp_path):
    reason = kernel_ready()
    if reason:
        pytest.skip(f"kernel test: {reason}")
    box = Sandbox(tmp_path)
    try:
        yield box
    finally:
        box.cleanup()
