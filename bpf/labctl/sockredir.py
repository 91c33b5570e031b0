"""Build, attach, inspect and detach the sockops + sk_msg socket-redirect bypass.

Layout under the pin root (default /sys/fs/bpf/disgrafs-lab):
    sockredir/progs/{sockredir_ops,sockredir_msg}
    sockredir/maps/{sock_hash,allow_ports,stats,sockredir_cfg,...}
The sockops program is attached to ONE cgroup v2 directory; the sk_msg
program to the sock_hash map. Every operation is idempotent and reports
whether it changed anything.
"""

import json
import os
import platform
import shutil
import struct
import subprocess
from dataclasses import asdict, dataclass, field

from . import bpftool, system
from .errors import LabError

NAME = "sockredir"
DEFAULT_PIN_ROOT = "/sys/fs/bpf/disgrafs-lab"
DEFAULT_PORTS = (6379, 7687, 8080)  # redis, neo4j bolt, disgrafs
DEFAULT_CGROUP = "disgrafs.slice"  # the systemd slice the lab's services run in
CONFIG_FILE = "/etc/disgrafs-lab/sockredir.json"
DEFAULT_BUILD_DIR = "/var/lib/disgrafs-lab/build"
SOURCE_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), NAME)

PROG_OPS = "sockredir_ops"
PROG_MSG = "sockredir_msg"
# Order of the counters in the `stats` map (enum stat_index in the C source).
STAT_NAMES = ("sockets_added", "sockets_add_failed", "redirect_ok",
              "redirect_failed", "redirect_bytes")


@dataclass
class Settings:
    cgroup: str = DEFAULT_CGROUP
    ports: list[int] = field(default_factory=lambda: list(DEFAULT_PORTS))
    pin_root: str = DEFAULT_PIN_ROOT
    trace: bool = True
    build_dir: str = DEFAULT_BUILD_DIR
    allow_root_cgroup: bool = False

    @property
    def pin_dir(self) -> str:
        return os.path.join(self.pin_root, NAME)

    @property
    def progs_dir(self) -> str:
        return os.path.join(self.pin_dir, "progs")

    @property
    def maps_dir(self) -> str:
        return os.path.join(self.pin_dir, "maps")

    def prog(self, name: str) -> str:
        return os.path.join(self.progs_dir, name)

    def map(self, name: str) -> str:
        return os.path.join(self.maps_dir, name)


def load_settings(config_file: str = CONFIG_FILE, **overrides) -> Settings:
    """Defaults < config file (written by the role) < command-line overrides."""
    values = {}
    if config_file and os.path.exists(config_file):
        with open(config_file, encoding="utf-8") as f:
            values.update(json.load(f))
    values.update({k: v for k, v in overrides.items() if v is not None})
    known = Settings.__dataclass_fields__
    unknown = set(values) - set(known)
    if unknown:
        raise LabError(f"unknown sockredir setting(s) {sorted(unknown)} in {config_file}")
    settings = Settings(**values)
    validate_ports(settings.ports)
    return settings


def validate_ports(ports) -> None:
    if not ports:
        raise LabError("the port allowlist is empty: give at least one port (e.g. 6379)")
    for port in ports:
        if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
            raise LabError(f"invalid port {port!r} in the allowlist: ports are integers 1-65535")


# --------------------------------------------------------------------- build

def _clang_arch() -> str:
    machine = platform.machine()
    return {"x86_64": "x86", "aarch64": "arm64", "riscv64": "riscv",
            "ppc64le": "powerpc", "s390x": "s390", "loongarch64": "loongarch"}.get(machine, machine)


def object_path(settings: Settings) -> str:
    return os.path.join(settings.build_dir, platform.release(), f"{NAME}.bpf.o")


def build(settings: Settings, force: bool = False) -> tuple[str, bool]:
    """Compile sockredir.bpf.c as CO-RE against a vmlinux.h generated from
    this kernel's BTF. Returns (object path, changed)."""
    system.require_btf()
    source = os.path.join(SOURCE_DIR, f"{NAME}.bpf.c")
    if not os.path.exists(source):
        raise LabError(f"BPF source {source} is missing: reinstall the lab's bpf/ directory")
    obj = object_path(settings)
    if not force and os.path.exists(obj) and os.path.getmtime(obj) >= os.path.getmtime(source):
        return obj, False
    clang = shutil.which("clang")
    if not clang:
        raise LabError("clang not found: install clang and llvm (bpf_toolchain role)")
    out_dir = os.path.dirname(obj)
    os.makedirs(out_dir, exist_ok=True)
    vmlinux_h = os.path.join(out_dir, "vmlinux.h")
    if not os.path.exists(vmlinux_h):
        header = bpftool.run("btf", "dump", "file", system.BTF_PATH, "format", "c", json_out=False)
        _write_atomic(vmlinux_h, header + "\n")
    tmp_obj = obj + ".tmp"
    cmd = [clang, "-g", "-O2", "-target", "bpf", f"-D__TARGET_ARCH_{_clang_arch()}",
           "-I", out_dir, "-c", source, "-o", tmp_obj]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        _remove(tmp_obj)
        raise LabError(f"compiling {source} failed (is libbpf-dev / libbpf-devel installed?):\n"
                       f"{proc.stderr.strip()}")
    os.replace(tmp_obj, obj)  # never leave a half-written object behind
    return obj, True


def _write_atomic(path: str, text: str) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


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
    result = dict.fromkeys(STAT_NAMES, 0)
    for entry in bpftool.map_dump_pinned(settings.map("stats")):
        index = bpftool.entry_int(entry, "key")
        if index < len(STAT_NAMES):
            result[STAT_NAMES[index]] = bpftool.percpu_sum(entry)
    return result


def trace_enabled(settings: Settings) -> bool:
    entries = bpftool.map_dump_pinned(settings.map("sockredir_cfg"))
    return bool(entries) and bpftool.entry_int(entries[0], "value") != 0


def status(settings: Settings) -> dict:
    """What of sockredir is loaded, attached (to what) and pinned, with counters."""
    info = {"name": NAME, "pin_path": settings.pin_dir, "loaded": is_loaded(settings)}
    if not info["loaded"]:
        return info
    ids = prog_ids(settings)
    info.update({
        "programs": [{"name": n, "id": i, "pinned": settings.prog(n)} for n, i in ids.items()],
        "attached_cgroups": attached_cgroups(ids[PROG_OPS]),
        "msg_verdict_map": settings.map("sock_hash"),
        "allow_ports": allowed_ports(settings),
        "trace": trace_enabled(settings),
        "counters": counters(settings),
    })
    return info


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
    os.makedirs(settings.pin_dir, exist_ok=True)  # bpftool needs the parent to exist
    bpftool.run("prog", "loadall", obj, settings.progs_dir, "pinmaps", settings.maps_dir)
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
    shutil.rmtree(settings.pin_dir)  # unpinning drops the last references
    try:
        os.rmdir(settings.pin_root)  # only if no other program of ours is pinned
    except OSError:
        pass
    return {"changed": True, "name": NAME, "loaded": False}


def settings_dict(settings: Settings) -> dict:
    return asdict(settings)
