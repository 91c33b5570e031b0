"""afxdp: a UDP service received through an AF_XDP socket.

`labctl attach afxdp --interface eth0 --port 9200` builds and pins the XDP
program (bpf/afxdp/afxdp.bpf.c) and the receiver (bpf/afxdp/afxdp_rx.c,
libxdp), attaches the program to the interface (or chains it behind the
xdp_cpumap balancer when that holds the interface), and starts the receiver
daemon, which puts its AF_XDP socket in the pinned XSKMAP and counts what it
receives (`labctl status afxdp`).
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

from prometheus_client.core import CounterMetricFamily

from .. import bpfsys, bpftool, build as builder, daemons, files, maps, net, pins as pinning, system
from .. import settings as lab_settings
from ..errors import LabError
from . import xdp_cpumap

NAME = "afxdp"
DESCRIPTION = "UDP packets straight to user space (XDP + XSKMAP, libxdp receiver)"
PROG = "afxdp_redirect"
RX = "afxdp_rx"
XDP_MODES = xdp_cpumap.XDP_MODES

OPTIONS = {
    "interface": {"help": "the lab interface (default: the default route's)"},
    "port": {"type": int, "help": "the UDP service port"},
    "queue": {"type": int, "help": "the interface queue to bind"},
    "mode": {"choices": tuple(XDP_MODES), "help": "XDP mode"},
    "run_dir": {"help": f"pid/state directory (default {lab_settings.RUN_DIR})"},
}


@dataclass
class Settings(lab_settings.ProgramSettings):
    PROGRAM = NAME
    interface: str = ""
    port: int = 9200                  # the UDP service received by AF_XDP
    queue: int = 0                    # interface queue the socket binds to
    mode: str = "native"              # XDP mode when attached to the interface
    pin_root: str = lab_settings.DEFAULT_PIN_ROOT
    build_dir: str = lab_settings.DEFAULT_BUILD_DIR
    source_dir: str = ""               # "": bpf/afxdp/ (course mode: the student's workspace)
    run_dir: str = lab_settings.RUN_DIR


def load_settings(config_file: str | None = None, **overrides) -> Settings:
    settings = lab_settings.load(Settings, NAME, config_file, overrides)
    lab_settings.check_port(settings.port, "the UDP service port")
    if settings.mode not in XDP_MODES:
        raise LabError(f"mode {settings.mode!r}: native or generic")
    return settings


def build(settings: Settings, force: bool = False):
    """The XDP program (kernel side) and the libxdp receiver (user side)."""
    obj, changed = builder.kernel_side(NAME, settings.build_dir, force, directory=settings.source_dir)
    _, changed_rx = receiver(settings, force)
    return obj, changed or changed_rx


def receiver(settings: Settings, force: bool = False):
    return builder.user_side(NAME, RX, settings.build_dir, ["xdp", "bpf"], force,
                             directory=settings.source_dir, hint=" (install libxdp-dev and libbpf-dev, or libxdp-devel on openEuler)")


def is_loaded(settings: Settings) -> bool:
    return os.path.exists(settings.pins.prog(PROG))


def daemon(settings: Settings) -> int | None:
    return daemons.pid_of(settings.pid_path, NAME)


def balancer_settings(settings: Settings) -> xdp_cpumap.Settings:
    return xdp_cpumap.Settings(pin_root=settings.pin_root, build_dir=settings.build_dir)


def _balancer_on_iface(settings: Settings) -> bool:
    """True if the xdp_cpumap balancer (ours, same pin root) holds the
    interface's XDP hook: then we chain behind it."""
    b = balancer_settings(settings)
    if not xdp_cpumap.is_loaded(b):
        return False
    where = xdp_cpumap.attachment(b)
    return bool(where) and where["ifname"] == settings.iface


def _chain_id(settings: Settings) -> int | None:
    path = balancer_settings(settings).pins.map("xdp_chain")
    if not os.path.exists(path):
        return None
    entries = bpftool.map_dump_pinned(path)
    return bpftool.entry_int(entries[0], "value") if entries else None


def attachment(settings: Settings) -> dict | None:
    """{'how': 'interface'|'chained', 'interface', 'mode'} or None."""
    ours = pinning.prog_id(settings.pins.prog(PROG))
    if ours is None:
        return None
    for x in net.xdp_on():
        if x["prog_id"] == ours:
            return {"how": "interface", "interface": x["ifname"], "mode": x["mode"]}
    if _chain_id(settings) == ours:
        where = xdp_cpumap.attachment(balancer_settings(settings))
        return {"how": "chained behind xdp_cpumap", "interface": where and where["ifname"],
                "mode": where and where["mode"]}
    return None


def receiver_stats(settings: Settings) -> dict:
    return files.read_json(settings.stats_path)


def counters(settings: Settings) -> dict:
    return maps.percpu_counters(settings.pins.map("afxdp_stats"), maps.stat_names(NAME))


def status(settings: Settings) -> dict:
    return pinning.status(NAME, settings.pins, is_loaded(settings), lambda: _loaded_status(settings))


def _loaded_status(settings: Settings) -> dict:
    pins = settings.pins
    info = {}
    where = attachment(settings)
    pid = daemon(settings)
    info.update({
        "programs": pinning.programs_info(pins, [PROG]),
        "attached": where is not None,
        "attachment": where,
        "interface": where and where["interface"],
        "mode": where and where["mode"],
        "port": maps.array_u32_get(pins.map("afxdp_cfg")),
        "queue": settings.queue,
        "receiver_pid": pid,
        "receiver": receiver_stats(settings) if pid else {},
        "counters": counters(settings),
    })
    return info


def describe(info: dict) -> str:
    if not info.get("loaded"):
        return f"{NAME}: not loaded ({info.get('pin_path', '')})"
    a = info["attachment"]
    where = f"{a['how']} {a['interface']} ({a['mode']})" if a else "NOT ATTACHED"
    rx = info["receiver"]
    lines = [f"{NAME}: loaded: {PROG} (id {info['programs'][0]['id']}), {where}",
             f"  pinned under {info['pin_path']}", f"  UDP port {info['port']}, queue {info['queue']}",
             "  receiver: " + (f"pid {info['receiver_pid']}, {rx.get('rx_packets', 0)} packets, "
                                f"{rx.get('rx_bytes', 0)} bytes, kernel drops {rx.get('rx_dropped', 0)}"
                                if info["receiver_pid"] else "NOT RUNNING")]
    lines += [f"  {k:>20}: {v}" for k, v in info["counters"].items()]
    return "\n".join(lines)


# ------------------------------------------------------------ attach/detach

def _attach_xdp(settings: Settings) -> bool:
    current = attachment(settings)
    chain = _balancer_on_iface(settings)
    if current and current["interface"] == settings.iface and \
            (current["how"] != "interface" or current["mode"] == settings.mode) and \
            (current["how"] == "interface") != chain:
        return False
    if current:
        _detach_xdp(settings, current)
    if chain:
        map_fd = bpfsys.obj_get(balancer_settings(settings).pins.map("xdp_chain"))
        prog_fd = bpfsys.obj_get(settings.pins.prog(PROG))
        try:
            bpfsys.map_update(map_fd, struct.pack("<I", 0), struct.pack("<I", prog_fd))
        finally:
            os.close(prog_fd)
            os.close(map_fd)
        return True
    here = net.xdp_on(settings.iface)
    if here:
        raise LabError(f"{settings.iface} already has XDP program {here[0]['prog_name']!r} "
                       f"(id {here[0]['prog_id']}): detach it first (ip link set dev "
                       f"{settings.iface} xdp off), or attach xdp_cpumap there (afxdp chains behind it)")
    bpftool.run("net", "attach", XDP_MODES[settings.mode], "pinned", settings.pins.prog(PROG),
                "dev", settings.iface)
    return True


def _detach_xdp(settings: Settings, where: dict) -> None:
    if where["how"] == "interface":
        bpftool.run("net", "detach", XDP_MODES.get(where["mode"], "xdp"), "dev", where["interface"])
    else:
        maps.delete(balancer_settings(settings).pins.map("xdp_chain"), b"\0\0\0\0")


def attach(settings: Settings) -> dict:
    """Program loaded and attached (or chained), receiver running; idempotent."""
    system.require_root()
    system.require_btf()
    system.ensure_mounted(system.BPFFS, "bpf")
    net.require_iface(settings.iface)
    fresh = not is_loaded(settings)
    changed = False
    try:
        if fresh:
            obj, _ = builder.kernel_side(NAME, settings.build_dir, directory=settings.source_dir)
            pinning.loadall(obj, settings.pins)
            changed = True
        receiver(settings)
        if maps.array_u32_get(settings.pins.map("afxdp_cfg")) != settings.port:
            maps.array_u32_set(settings.pins.map("afxdp_cfg"), 0, settings.port)
            changed = True
        changed |= _attach_xdp(settings)
        pid = daemon(settings)
        if pid and files.read_json(settings.state_path) != _state(settings):
            daemons.stop(settings.pid_path, NAME)
            pid = None
        if not pid:
            files.remove(settings.stats_path)
            argv = daemons.labctl_argv("run", NAME, "--config", "", *_args(settings))
            daemons.spawn(NAME, argv, settings.log_path,
                               wait_for=lambda: receiver_stats(settings).get("ready"), timeout=15)
            changed = True
    except Exception:
        if fresh:
            detach(settings)
        raise
    return {"changed": changed, **status(settings)}


def _state(settings: Settings) -> dict:
    return {"interface": settings.iface, "queue": settings.queue, "port": settings.port}


def _args(settings: Settings) -> list[str]:
    return ["--interface", settings.iface, "--port", str(settings.port), "--queue", str(settings.queue),
            "--mode", settings.mode, "--pin-root", settings.pin_root, "--build-dir", settings.build_dir,
            "--run-dir", settings.run_dir]


def run(settings: Settings) -> int:
    """The receiver daemon (foreground): exec afxdp_rx with our pins."""
    system.require_root()
    system.ensure_mounted(system.BPFFS, "bpf")
    net.require_iface(settings.iface)
    # under systemd the unit starts here: load and attach first (idempotent)
    if not is_loaded(settings):
        obj, _ = builder.kernel_side(NAME, settings.build_dir, directory=settings.source_dir)
        pinning.loadall(obj, settings.pins)
    if maps.array_u32_get(settings.pins.map("afxdp_cfg")) != settings.port:
        maps.array_u32_set(settings.pins.map("afxdp_cfg"), 0, settings.port)
    _attach_xdp(settings)
    binary, _ = receiver(settings)
    daemons.write_pid(settings.pid_path)
    files.write_json(settings.state_path, _state(settings))
    os.execv(binary, [binary, settings.iface, str(settings.queue), settings.pins.map("xsks_map"),
                      settings.stats_path, "--port", str(settings.port)])
    return 0  # not reached


def detach(settings: Settings) -> dict:
    system.require_root()
    changed = daemons.stop(settings.pid_path, NAME)
    if is_loaded(settings):
        where = attachment(settings)
        if where:
            _detach_xdp(settings, where)
    changed |= pinning.remove(settings.pins)
    files.remove(settings.stats_path, settings.state_path)
    return {"changed": changed, "name": NAME, "loaded": False, "pin_path": settings.pins.dir}


def metrics(settings: Settings):
    if not is_loaded(settings):
        return
    rx = receiver_stats(settings) if daemon(settings) else {}
    outcomes = CounterMetricFamily("disgrafs_afxdp_xdp_packets_total",
                                   "Packets seen by the AF_XDP program, by outcome.", labels=["outcome"])
    for k, v in counters(settings).items():
        outcomes.add_metric([k], v)
    yield outcomes
    yield CounterMetricFamily("disgrafs_afxdp_rx_packets_total", "Packets received by the AF_XDP receiver.",
                              value=rx.get("rx_packets", 0))
    yield CounterMetricFamily("disgrafs_afxdp_rx_dropped_total",
                              "Packets the kernel dropped for the AF_XDP socket.", value=rx.get("rx_dropped", 0))
