"""Helpers shared by the lab's tests. They live in `lab_helpers`, not in
conftest.py, because `from conftest import` would clash with
tests/disgrafs/conftest.py when pytest collects the whole tree."""

import json
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from labctl import system
from labrigs.sandbox import Sandbox

PROBE = os.path.join(REPO, "labrigs", "tcp_probe.py")


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


def run_probe(box: Sandbox, port: int, nbytes: str = "100M", listen: str = "ipv4") -> dict:
    """Run the TCP probe inside the sandbox's netns and cgroup."""
    out = box.in_netns(sys.executable, PROBE, "--cgroup", box.cgroup, "--port", str(port),
                       "--bytes", nbytes, "--listen", listen).stdout
    return json.loads(out)
