"""Facts about the running kernel and the file systems eBPF needs."""

from __future__ import annotations

import json
import os
import subprocess

from .errors import LabError

BTF_PATH = "/sys/kernel/btf/vmlinux"
BPFFS = "/sys/fs/bpf"


def mounts() -> list[tuple[str, str]]:
    """(mount point, fs type) of every mount in this mount namespace."""
    proc = subprocess.run(["findmnt", "-J", "-l", "-o", "TARGET,FSTYPE"],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise LabError(f"findmnt failed: {proc.stderr.strip()} (it comes with util-linux: install it)")
    return [(fs["target"], fs["fstype"]) for fs in json.loads(proc.stdout)["filesystems"]]


def fs_type_at(path: str) -> str | None:
    """Type of the file system mounted exactly at `path`, if any (last mount wins)."""
    found = None
    for point, fstype in mounts():
        if point == path:
            found = fstype
    return found


def cgroup2_root() -> str:
    """Where cgroup v2 is mounted (/sys/fs/cgroup on unified hosts,
    /sys/fs/cgroup/unified on hybrid ones). Detected, never assumed."""
    points = [p for p, t in mounts() if t == "cgroup2"]
    if not points:
        raise LabError("no cgroup v2 file system is mounted: sockops needs cgroup v2. "
                       "Boot with systemd.unified_cgroup_hierarchy=1 or mount it: "
                       "mount -t cgroup2 none /sys/fs/cgroup/unified")
    return min(points, key=len)


def require_root() -> None:
    if os.geteuid() != 0:
        raise LabError("loading eBPF programs needs root: run labctl with sudo")


def require_btf() -> None:
    if not os.path.exists(BTF_PATH):
        raise LabError(f"{BTF_PATH} is missing: this kernel has no BTF, so CO-RE programs "
                       "cannot be built. Use a kernel built with CONFIG_DEBUG_INFO_BTF=y "
                       "(Debian/Ubuntu/openEuler stock kernels have it)")


def ensure_mounted(path: str, fstype: str) -> bool:
    """Mount `fstype` at `path` if it is not mounted there; True if we mounted it."""
    if fs_type_at(path) == fstype:
        return False
    os.makedirs(path, exist_ok=True)
    proc = subprocess.run(["mount", "-t", fstype, fstype, path],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise LabError(f"cannot mount {fstype} at {path}: {proc.stderr.strip()} "
                       "(in a container: give it CAP_SYS_ADMIN)")
    return True


def tracefs_dir() -> str:
    for path in ("/sys/kernel/tracing", "/sys/kernel/debug/tracing"):
        if os.path.exists(os.path.join(path, "trace_pipe")):
            return path
    ensure_mounted("/sys/kernel/tracing", "tracefs")
    return "/sys/kernel/tracing"


def resolve_cgroup(path: str) -> str:
    """Absolute cgroup v2 directory for `path` (absolute, or relative to the
    cgroup2 root); it must exist and be on cgroup2."""
    root = cgroup2_root()
    full = path if path.startswith("/sys/") else os.path.join(root, path.lstrip("/"))
    full = os.path.normpath(full)
    if not (full == root or full.startswith(root + "/")):
        raise LabError(f"cgroup {path!r} is not under the cgroup v2 mount {root}")
    if not os.path.isdir(full):
        raise LabError(f"cgroup {full} does not exist: start the lab's slice first "
                       "(systemctl start disgrafs.slice) or create it (mkdir)")
    return full
