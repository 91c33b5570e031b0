"""Shared fixtures. Tests that touch the host kernel isolate themselves: their
own cgroup, network namespace, bpffs pin root and build directory, removed
even when the test fails."""

import json
import os
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "bpf"))  # labctl without installing

from labctl import system  # noqa: E402
from labctl.sandbox import Sandbox  # noqa: E402

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


@pytest.fixture
def sandbox(tmp_path):
    reason = kernel_ready()
    if reason:
        pytest.skip(f"kernel test: {reason}")
    with Sandbox("dltest", str(tmp_path / "build")) as box:
        yield box


def run_probe(box: Sandbox, port: int, nbytes: str = "100M", listen: str = "ipv4") -> dict:
    """Run the TCP probe inside the sandbox's netns and cgroup."""
    out = box.in_netns(sys.executable, PROBE, "--cgroup", box.cgroup, "--port", str(port),
                       "--bytes", nbytes, "--listen", listen).stdout
    return json.loads(out)
