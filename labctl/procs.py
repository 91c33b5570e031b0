"""Processes by name, from /proc (what pidof does, without its quirks)."""

from __future__ import annotations

import os


def comm(pid) -> str:
    try:
        with open(f"/proc/{pid}/comm", encoding="utf-8") as f:
            return f.read().strip()
    except OSError:
        return ""


def cmdline(pid) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def processes_named(name: str) -> list[int]:
    """PIDs whose comm is `name` (the kernel keeps 15 characters of it)."""
    return sorted(int(p) for p in os.listdir("/proc") if p.isdigit() and comm(p) == name[:15])
