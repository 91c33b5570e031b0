"""Network interfaces and their XDP programs, from `ip -j` (JSON)."""

from __future__ import annotations

import json
import socket
import subprocess

from .errors import LabError

# `ip -j -d link` reports the XDP mode as a number (XDP_ATTACHED_*).
IP_XDP_MODE = {1: "native", 2: "generic", 3: "offload", 4: "multi"}


def _ip_json(*args: str) -> list:
    proc = subprocess.run(["ip", "-j", *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return []
    return json.loads(proc.stdout or "[]")


def iface_exists(name: str) -> bool:
    """In this process's network namespace (/sys/class/net may show another
    one under nsenter)."""
    try:
        socket.if_nametoindex(name)
        return True
    except OSError:
        return False


def require_iface(name: str) -> None:
    if not name:
        raise LabError("no interface given: pass --interface (e.g. eth0) or set it in the role")
    if not iface_exists(name):
        have = ", ".join(sorted(n for _, n in socket.if_nameindex()))
        raise LabError(f"network interface {name!r} does not exist here (have: {have}): "
                       "pass --interface or set the role's interface variable")


def default_iface() -> str:
    """The interface of the default route (the lab interface of a lab host)."""
    routes = _ip_json("route", "show", "default")
    return next((r["dev"] for r in routes if r.get("dev")), "eth0")


def xdp_on(iface: str | None = None) -> list[dict]:
    """[{ifname, mode, prog_id, prog_name}] of interfaces with an XDP program
    (bpftool's net list has no name for XDP entries)."""
    found = []
    for link in _ip_json("-d", "link", "show", *(["dev", iface] if iface else [])):
        xdp = link.get("xdp")
        if not xdp:
            continue
        progs = [xdp["prog"]] if "prog" in xdp else [a["prog"] for a in xdp.get("attached", []) if "prog" in a]
        for prog in progs:
            found.append({"ifname": link["ifname"],
                          "mode": IP_XDP_MODE.get(xdp.get("mode"), str(xdp.get("mode"))),
                          "prog_id": prog.get("id"), "prog_name": prog.get("name", "")})
    return found
