"""A private cgroup v2 + network namespace + bpffs pin root.

Tests and benchmarks attach programs here instead of to the lab's cgroup, so
they never affect other work on the same kernel; `close()` removes it all,
and the context manager calls it even when the body fails.
"""

import json
import os
import subprocess
import time
import uuid

from labctl import system
from labrigs.rig import Rig
from labctl.programs import sockredir


class Sandbox(Rig):
    def __init__(self, prefix: str, build_dir: str):
        self.tag = f"{prefix}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.cgroup = os.path.join(system.cgroup2_root(), self.tag)
        self.netns = self.tag
        self.pin_root = f"/sys/fs/bpf/{self.tag}"
        self.build_dir = build_dir
        system.ensure_mounted(system.BPFFS, "bpf")
        os.makedirs(self.cgroup)
        try:
            subprocess.run(["ip", "netns", "add", self.netns], check=True)
            subprocess.run(["ip", "-n", self.netns, "link", "set", "lo", "up"], check=True)
        except Exception:
            self.close()
            raise

    def settings(self, **overrides) -> sockredir.Settings:
        values = dict(cgroup=self.cgroup, pin_root=self.pin_root,
                      build_dir=self.build_dir, trace=True)
        values.update(overrides)
        return sockredir.Settings(**values)

    def command(self, *argv) -> list[str]:
        """argv run inside the netns and the cgroup. nsenter (unlike `ip netns
        exec`) keeps /sys, and the shell joins the cgroup before exec."""
        return ["nsenter", f"--net=/run/netns/{self.netns}", "sh", "-c",
                'echo $$ > "$0/cgroup.procs" && exec "$@"', self.cgroup, *argv]

    def in_netns(self, *argv, timeout=120) -> subprocess.CompletedProcess:
        """argv inside the netns only (not the cgroup)."""
        return subprocess.run(["nsenter", f"--net=/run/netns/{self.netns}", *argv],
                              capture_output=True, text=True, timeout=timeout, check=True)

    def out_segs(self) -> int:
        """Tcp OutSegs of the sandbox's network namespace (nstat: absolute, no history)."""
        return json.loads(self.in_netns("nstat", "-asz", "-j", "TcpOutSegs").stdout)["kernel"]["TcpOutSegs"]

    def close(self) -> None:
        try:
            sockredir.detach(self.settings())
        finally:
            subprocess.run(["ip", "netns", "del", self.netns], check=False,
                           capture_output=True)
            for _ in range(50):  # processes may still be leaving the cgroup
                try:
                    os.rmdir(self.cgroup)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.1)
