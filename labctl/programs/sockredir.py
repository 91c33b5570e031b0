"""sockredir: the sockops + sk_msg socket-redirect bypass.

Layout under the pin root (default /sys/fs/bpf/disgrafs-lab):
    sockredir/progs/{sockredir_ops,sockredir_msg}
    sockredir/maps/{sock_hash,allow_ports,stats,sockredir_cfg,...}
The sockops program is attached to ONE cgroup v2 directory; the sk_msg
program to the sock_hash map. Every operation is idempotent and reports
whether it changed anything.
"""

from __future__ import annotations

import argparse
import os
import struct
from dataclasses import dataclass, field

from prometheus_client.core import CounterMetricFamily

from .. import bpftool, build as builder, maps, pins as pinning, settings as lab_settings, system
from ..errors import LabError

NAME = "sockredir"
DESCRIPTION = "local request/response traffic skips the TCP/IP stack (sockops + sk_msg)"
DEFAULT_PORTS = (6379, 7687, 8080)  # redis, neo4j bolt, disgrafs
DEFAULT_CGROUP = "disgrafs.slice"  # the systemd slice the lab's services run in

PROG_OPS = "sockredir_ops"
PROG_MSG = "sockredir_msg"


def _port_list(text: str) -> list[int]:
    try:
        return [int(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected comma-separated port numbers") from None


OPTIONS = {
    "cgroup": {"help": "cgroup v2 directory, absolute or relative to the cgroup2 mount "
                       f"(default {DEFAULT_CGROUP})"},
    "ports": {"type": _port_list, "help": "comma-separated port allowlist "
                                          f"(default {','.join(map(str, DEFAULT_PORTS))})"},
    "trace": {"choices": ("on", "off"), "help": "a trace_pipe line per connection"},
    "allow_root_cgroup": {"action": "store_true",
                          "help": "permit attaching to the root cgroup (the whole machine)"},
}


@dataclass
class Settings(lab_settings.ProgramSettings):
    PROGRAM = NAME
    cgroup: str = DEFAULT_CGROUP
    ports: list = field(default_factory=lambda: list(DEFAULT_PORTS))
    pin_root: str = lab_settings.DEFAULT_PIN_ROOT
    trace: bool = True
    build_dir: str = lab_settings.DEFAULT_BUILD_DIR
    source_dir: str = ""               # "": bpf/sockredir/ (course mode: the student's workspace)
    allow_root_cgroup: bool = False

    @property
    def pin_dir(self) -> str:
        return self.pins.dir

    def prog(self, name: str) -> str:
        return self.pins.prog(name)

    def map(self, name: str) -> str:
        return self.pins.map(name)


def load_settings(config_file: str | None = None, **overrides) -> Settings:
    """Defaults < config file (written by the role) < command-line overrides."""
    if isinstance(overrides.get("trace"), str):
        overrides["trace"] = overrides["trace"] == "on"
    if overrides.get("allow_root_cgroup") is False:
        overrides["allow_root_cgroup"] = None  # an absent flag does not override the file
    settings = lab_settings.load(Settings, NAME, config_file, overrides)
    validate_ports(settings.ports)
    return settings


def validate_ports(ports) -> None:
    if not ports:
        raise LabError("the port allowlist is empty: give at least one port (e.g. 6379)")
    for port in ports:
        if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
            raise LabError(f"invalid port {port!r} in the allowlist: ports are integers 1-65535")


def object_path(settings: Settings) -> str:
    return os.path.join(builder.out_dir(settings.build_dir), f"{NAME}.bpf.o")


def build(settings: Settings, force: bool = False) -> tuple[str, bool]:
    """Compile sockredir.bpf.c as CO-RE. Returns (object path, changed)."""
    return builder.kernel_side(NAME, settings.build_dir, force, directory=settings.source_dir)


# ------------------------------------------------------------------ inspect

def is_loaded(settings: Settings) -> bool:
    return all(os.path.exists(settings.prog(p)) for p in (PROG_OPS, PROG_MSG))


def prog_ids(settings: Settings) -> dict[str, int]:
    return {name: bpftool.prog_show_pinned(settings.prog(name))["id"]
            for name in (PROG_OPS, PROG_MSG) if os.path.exists(settings.prog(name))}


def attached_cgroups(prog_id: int) -> list[str]:
    """Every cgroup v2 directory our sockops program is attached to."""
    root = system.cgroup2_root()
    tree = bpftool.run("cgroup", "tree", root) or []
    found = []
    for node in tree:
        for prog in node.get("programs", []):
            # bpftool names it "sock_ops" or "cgroup_sock_ops" depending on version
            if prog.get("id") == prog_id and prog.get("attach_type", "").endswith("sock_ops"):
                path = node["cgroup"]
                found.append(path if path.startswith(root) else os.path.join(root, path.lstrip("/")))
    return sorted(set(found))


def allowed_ports(settings: Settings) -> list[int]:
    return sorted(bpftool.entry_int(e, "key")
                  for e in bpftool.map_dump_pinned(settings.map("allow_ports")))


def counters(settings: Settings) -> dict[str, int]:
    return maps.percpu_counters(settings.map("stats"), maps.stat_names(NAME))


def trace_enabled(settings: Settings) -> bool:
    entries = bpftool.map_dump_pinned(settings.map("sockredir_cfg"))
    return bool(entries) and bpftool.entry_int(entries[0], "value") != 0


def status(settings: Settings) -> dict:
    """What of sockredir is loaded, attached (to what) and pinned, with counters."""
    return pinning.status(NAME, settings.pins, is_loaded(settings), lambda: _loaded_status(settings))


def _loaded_status(settings: Settings) -> dict:
    ids = prog_ids(settings)
    return {
        "programs": [{"name": n, "id": i, "pinned": settings.prog(n)} for n, i in ids.items()],
        "attached_cgroups": attached_cgroups(ids[PROG_OPS]),
        "msg_verdict_map": settings.map("sock_hash"),
        "allow_ports": allowed_ports(settings),
        "trace": trace_enabled(settings),
        "counters": counters(settings),
    }


# ------------------------------------------------------------ attach/detach

def _set_ports(settings: Settings) -> bool:
    path = settings.map("allow_ports")
    current, wanted = set(allowed_ports(settings)), set(settings.ports)
    for port in sorted(current - wanted):
        bpftool.run("map", "delete", "pinned", path, "key", *bpftool.hex_bytes(struct.pack("<I", port)))
    for port in sorted(wanted - current):
        bpftool.run("map", "update", "pinned", path,
                    "key", *bpftool.hex_bytes(struct.pack("<I", port)),
                    "value", *bpftool.hex_bytes(b"\x01"))
    return current != wanted


def _set_trace(settings: Settings) -> bool:
    if trace_enabled(settings) == settings.trace:
        return False
    bpftool.run("map", "update", "pinned", settings.map("sockredir_cfg"),
                "key", *bpftool.hex_bytes(struct.pack("<I", 0)),
                "value", *bpftool.hex_bytes(struct.pack("<I", int(settings.trace))))
    return True


def _load(settings: Settings, obj: str) -> None:
    """Load and pin programs + maps, then attach sk_msg to the sockhash.
    sk_msg goes first, so every socket that sockops adds is covered."""
    pinning.loadall(obj, settings.pins)
    bpftool.run("prog", "attach", "pinned", settings.prog(PROG_MSG), "msg_verdict",
                "pinned", settings.map("sock_hash"))


def attach(settings: Settings) -> dict:
    """Make sockredir attached to settings.cgroup with settings.ports; idempotent."""
    system.require_root()
    system.require_btf()
    system.ensure_mounted(system.BPFFS, "bpf")
    cgroup = system.resolve_cgroup(settings.cgroup)
    if cgroup == system.cgroup2_root() and not settings.allow_root_cgroup:
        raise LabError(f"{cgroup} is the root cgroup: attaching there redirects the whole "
                       "machine. Pick the lab's slice (default disgrafs.slice) or pass "
                       "--allow-root-cgroup if that is really what you want")
    changed = False
    fresh = not is_loaded(settings)
    try:
        if fresh:
            obj, _ = build(settings)
            _load(settings, obj)
            changed = True
        changed |= _set_ports(settings)
        changed |= _set_trace(settings)
        ops_id = prog_ids(settings)[PROG_OPS]
        current = attached_cgroups(ops_id)
        for other in current:
            if other != cgroup:  # one cgroup at a time: move, don't add
                bpftool.run("cgroup", "detach", other, "sock_ops", "id", str(ops_id))
                changed = True
        if cgroup not in current:
            # `multi`: coexist with other sock_ops programs on the same cgroup
            bpftool.run("cgroup", "attach", cgroup, "sock_ops",
                        "pinned", settings.prog(PROG_OPS), "multi")
            changed = True
    except Exception:
        if fresh:  # never leave a half-attached program behind
            detach(settings)
        raise
    return {"changed": changed, **status(settings)}


def detach(settings: Settings) -> dict:
    """Detach from every cgroup and the sockhash, unpin everything; idempotent."""
    system.require_root()
    if not os.path.isdir(settings.pin_dir):
        return {"changed": False, "name": NAME, "loaded": False}
    ids = prog_ids(settings)
    if PROG_OPS in ids:
        for cgroup in attached_cgroups(ids[PROG_OPS]):
            bpftool.run("cgroup", "detach", cgroup, "sock_ops", "id", str(ids[PROG_OPS]))
    if PROG_MSG in ids and os.path.exists(settings.map("sock_hash")):
        try:
            bpftool.run("prog", "detach", "pinned", settings.prog(PROG_MSG), "msg_verdict",
                        "pinned", settings.map("sock_hash"))
        except LabError:
            pass  # not attached (e.g. a load that failed half-way)
    pinning.remove(settings.pins)  # unpinning drops the last references
    return {"changed": True, "name": NAME, "loaded": False}


def describe(info: dict) -> str:
    if not info.get("loaded"):
        return f"{NAME}: not loaded ({info.get('pin_path', '')})"
    progs = ", ".join(f"{p['name']} (id {p['id']})" for p in info["programs"])
    cgroups = ", ".join(info["attached_cgroups"]) or "NOT ATTACHED to any cgroup"
    lines = [f"{NAME}: loaded: {progs}", f"  pinned under {info['pin_path']}",
             f"  sockops attached to: {cgroups}", f"  sk_msg attached to: {info['msg_verdict_map']}",
             f"  allowlisted ports: {', '.join(map(str, info['allow_ports']))}",
             f"  trace_pipe lines: {'on' if info['trace'] else 'off'}"]
    lines += [f"  {counter:>20}: {value}" for counter, value in info["counters"].items()]
    return "\n".join(lines)


def metrics(settings: Settings):
    """Counters of the bypass (sockets added, redirects, bytes)."""
    if not is_loaded(settings):
        return
    family = CounterMetricFamily("disgrafs_sockredir_events_total",
                                 "Events of the socket-redirect bypass (sockops + sk_msg).",
                                 labels=["event"])
    for counter, value in counters(settings).items():
        family.add_metric([counter], value)
    yield family
