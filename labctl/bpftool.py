"""Thin wrapper around `bpftool -j` (JSON output: no text parsing)."""

from __future__ import annotations

import json
import shutil
import subprocess

from .errors import LabError


def _binary() -> str:
    path = shutil.which("bpftool") or next(
        (p for p in ("/usr/sbin/bpftool", "/sbin/bpftool") if shutil.which(p)), None)
    if not path:
        raise LabError("bpftool not found: install it (Debian/Ubuntu: apt-get install bpftool; "
                       "openEuler: dnf install bpftool) or run the bpf_toolchain role")
    return path


def run(*args: str, json_out: bool = True):
    """Run bpftool; return parsed JSON (or None when it printed nothing)."""
    cmd = [_binary()] + (["-j"] if json_out else []) + list(args)
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip()
        try:  # bpftool -j reports errors as {"error": "..."}
            detail = json.loads(proc.stdout)["error"]
        except (ValueError, KeyError, TypeError):
            pass
        raise LabError(f"bpftool {' '.join(args)} failed: {detail}")
    out = proc.stdout.strip()
    if not json_out or not out:
        return out or None
    return json.loads(out)


def prog_show_pinned(path: str) -> dict:
    return run("prog", "show", "pinned", path)


def map_dump_pinned(path: str) -> list:
    return run("map", "dump", "pinned", path) or []


def hex_bytes(data: bytes) -> list[str]:
    """bpftool's `hex` argument form: ['hex', 'de', 'ad', ...]."""
    return ["hex"] + [f"{b:02x}" for b in data]


def entry_int(entry: dict, field: str) -> int:
    """Integer value of a map entry's key/value, with or without BTF formatting."""
    formatted = entry.get("formatted")
    if formatted is not None and field in formatted and isinstance(formatted[field], int):
        return formatted[field]
    return int.from_bytes(bytes(int(b, 16) for b in entry[field]), "little")


def percpu_sum(entry: dict) -> int:
    """Sum of a per-CPU map entry's values over all CPUs."""
    formatted = entry.get("formatted")
    if formatted is not None and "values" in formatted:
        return sum(v["value"] for v in formatted["values"])
    return sum(int.from_bytes(bytes(int(b, 16) for b in v["value"]), "little")
               for v in entry["values"])
