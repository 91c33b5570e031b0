"""xdp_cpumap: spread UDP packets over CPUs by weight through a CPUMAP.

`labctl attach xdp_cpumap --interface eth0 --weights 0:1,1:3 --mode native`
loads bpf/xdp_cpumap/xdp_cpumap.bpf.c, writes the weights (cpu_weights), the
slot table derived from them (cpu_slots), the CPUMAP entries (queue size +
the per-CPU counting program) and attaches the XDP program to the interface
in native (driver) or generic (skb) mode. Changing the weights of an
attached program is a map update: no reload, no packet lost.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from .. import bpfsys, bpftool, build as builder, maps, net, pins as pinning, system
from .. import settings as lab_settings
from ..errors import LabError
from ..net import xdp_on

NAME = "xdp_cpumap"
DESCRIPTION = "UDP packets spread over CPUs by weights held in a map (XDP + CPUMAP)"
PROG = "xdp_cpumap_balance"
PROG_ARRIVE = "xdp_cpumap_arrive"
MAX_CPUS = 64
SLOTS = 1024
BALANCE = ("flow", "packet")
XDP_MODES = {"native": "xdpdrv", "generic": "xdpgeneric"}

OPTIONS = {
    "interface": {"help": "the lab interface (default: the default route's)"},
    "mode": {"choices": tuple(XDP_MODES), "help": "XDP mode"},
    "weights": {"help": "CPU weights, e.g. 0:1,1:3"},
    "balance": {"choices": BALANCE, "help": "per flow (hash) or per packet (random)"},
    "udp_port": {"type": int, "help": "only UDP to this port is spread (0: all IPv4)"},
}


@dataclass
class Settings(lab_settings.ProgramSettings):
    PROGRAM = NAME
    interface: str = ""
    mode: str = "native"              # native (driver) or generic (skb) XDP
    weights: dict = field(default_factory=lambda: {"0": 1, "1": 3})
    balance: str = "flow"             # flow: hash of the 4-tuple; packet: random
    udp_port: int = 9100              # 0: every IPv4 UDP packet
    qsize: int = 2048                 # CPUMAP queue per CPU (frames)
    pin_root: str = lab_settings.DEFAULT_PIN_ROOT
    build_dir: str = lab_settings.DEFAULT_BUILD_DIR
    source_dir: str = ""               # "": bpf/xdp_cpumap/ (course mode: the student's workspace)


def parse_weights(value) -> dict[int, int]:
    """{cpu: weight} from a dict (JSON keys are strings) or "0:1,1:3"."""
    if isinstance(value, str):
        try:
            pairs = [p.split(":") for p in value.split(",") if p.strip()]
            value = {int(c): int(w) for c, w in pairs}
        except ValueError:
            raise LabError(f"weights {value!r}: expected CPU:WEIGHT pairs, e.g. 0:1,1:3") from None
    try:
        weights = {int(c): int(w) for c, w in dict(value).items()}
    except (TypeError, ValueError):
        raise LabError(f"weights {value!r}: expected a mapping CPU -> weight") from None
    if any(c < 0 or c >= MAX_CPUS for c in weights):
        raise LabError(f"weights {weights}: CPU numbers are 0-{MAX_CPUS - 1}")
    if any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
        raise LabError(f"weights {weights}: weights are >= 0 and at least one is > 0")
    return {c: w for c, w in sorted(weights.items()) if w > 0}


def load_settings(config_file: str | None = None, **overrides) -> Settings:
    settings = lab_settings.load(Settings, NAME, config_file, overrides)
    settings.weights = {str(c): w for c, w in parse_weights(settings.weights).items()}
    if settings.mode not in XDP_MODES:
        raise LabError(f"mode {settings.mode!r}: native or generic")
    if settings.balance not in BALANCE:
        raise LabError(f"balance {settings.balance!r}: flow or packet")
    lab_settings.check_port(settings.udp_port, "the balanced UDP port", allow_zero=True)
    return settings


def online_cpus() -> list[int]:
    with open("/sys/devices/system/cpu/online", encoding="utf-8") as f:
        cpus = []
        for part in f.read().strip().split(","):
            lo, _, hi = part.partition("-")
            cpus += range(int(lo), int(hi or lo) + 1)
    return cpus


def slot_table(weights: dict[int, int], slots: int = SLOTS) -> list[int]:
    """Each CPU in `slots` entries in proportion to its weight (largest
    remainder), interleaved so that consecutive slots differ."""
    total = sum(weights.values())
    exact = {c: slots * w / total for c, w in weights.items()}
    count = {c: int(x) for c, x in exact.items()}
    for c in sorted(exact, key=lambda c: exact[c] - count[c], reverse=True)[:slots - sum(count.values())]:
        count[c] += 1
    # interleave: deal slots like a weighted round robin (smooth)
    table, credit = [], dict.fromkeys(count, 0.0)
    for _ in range(slots):
        for c in credit:
            credit[c] += count[c]
        best = max(credit, key=lambda c: credit[c])
        credit[best] -= slots
        table.append(best)
    return table


# ------------------------------------------------------------------ inspect

def build(settings: Settings, force: bool = False):
    return builder.kernel_side(NAME, settings.build_dir, force, directory=settings.source_dir)


def is_loaded(settings: Settings) -> bool:
    return os.path.exists(settings.pins.prog(PROG))


def read_weights(settings: Settings) -> dict[int, int]:
    result = {}
    for entry in bpftool.map_dump_pinned(settings.pins.map("cpu_weights")):
        w = bpftool.entry_int(entry, "value")
        if w:
            result[bpftool.entry_int(entry, "key")] = w
    return result


def read_cfg(settings: Settings) -> dict:
    out = bpftool.run("map", "lookup", "pinned", settings.pins.map("xcfg"), "key", *maps.u32_key(0))
    value = out["formatted"]["value"] if "formatted" in out else None
    if value is None:
        raw = bytes(int(b, 16) for b in out["value"])
        port, bal, nslots, _ = struct.unpack("<IIII", raw)
        value = {"udp_port": port, "balance": bal, "nslots": nslots}
    return {"udp_port": value["udp_port"], "balance": BALANCE[value["balance"] % 2],
            "nslots": value["nslots"]}


def per_cpu(settings: Settings, map_name: str) -> dict[int, int]:
    """arrived: the per-CPU values of entry 0 (where the packets ran)."""
    entries = bpftool.map_dump_pinned(settings.pins.map(map_name))
    if not entries:
        return {}
    return {v["cpu"]: v["value"] for v in entries[0]["formatted"]["values"]}


def per_destination(settings: Settings) -> dict[int, int]:
    """redirected: per destination CPU, summed over the CPUs that sent."""
    result = {}
    for entry in bpftool.map_dump_pinned(settings.pins.map("redirected")):
        n = bpftool.percpu_sum(entry)
        if n:
            result[bpftool.entry_int(entry, "key")] = n
    return result


def counters(settings: Settings) -> dict:
    return {"stats": maps.percpu_counters(settings.pins.map("xstats"), maps.stat_names(NAME)),
            "redirected_to_cpu": {str(c): n for c, n in per_destination(settings).items()},
            "arrived_on_cpu": {str(c): n for c, n in per_cpu(settings, "arrived").items() if n}}


def chained(settings: Settings) -> bool:
    """True if a program (AF_XDP) is chained behind us in xdp_chain[0]."""
    path = settings.pins.map("xdp_chain")
    return os.path.exists(path) and bool(bpftool.map_dump_pinned(path))


def attachment(settings: Settings) -> dict | None:
    pid = pinning.prog_id(settings.pins.prog(PROG))
    return next((x for x in xdp_on() if x["prog_id"] == pid), None)


def status(settings: Settings) -> dict:
    return pinning.status(NAME, settings.pins, is_loaded(settings), lambda: _loaded_status(settings))


def _loaded_status(settings: Settings) -> dict:
    pins = settings.pins
    info = {}
    where = attachment(settings)
    weights = read_weights(settings)
    total = sum(weights.values()) or 1
    c = counters(settings)
    arrived_total = sum(c["arrived_on_cpu"].values()) or 1
    info.update({
        "programs": pinning.programs_info(pins, [PROG, PROG_ARRIVE]),
        "attached": where is not None,
        "interface": where["ifname"] if where else None,
        "mode": where["mode"] if where else None,
        "weights": {str(k): v for k, v in weights.items()},
        **read_cfg(settings),
        "chained": chained(settings),
        "counters": c,
        "shares": {str(cpu): {"weight": round(w / total, 4),
                              "arrived": round(c["arrived_on_cpu"].get(str(cpu), 0) / arrived_total, 4)}
                   for cpu, w in weights.items()},
    })
    return info


def describe(info: dict) -> str:
    if not info.get("loaded"):
        return f"{NAME}: not loaded ({info.get('pin_path', '')})"
    where = (f"attached to {info['interface']} ({info['mode']})" if info["attached"]
             else "NOT ATTACHED to any interface")
    lines = [f"{NAME}: loaded: {PROG} (id {info['programs'][0]['id']}), {where}",
             f"  pinned under {info['pin_path']}",
             f"  balancing UDP port {info['udp_port'] or 'any'} by {info['balance']}"
             f"{', AF_XDP chained behind' if info['chained'] else ''}"]
    for cpu, s in info["shares"].items():
        lines.append(f"  cpu {cpu}: weight {info['weights'][cpu]} ({s['weight']:.0%}), "
                     f"arrived {info['counters']['arrived_on_cpu'].get(cpu, 0)} ({s['arrived']:.0%})")
    lines += [f"  {k:>20}: {v}" for k, v in info["counters"]["stats"].items()]
    return "\n".join(lines)


# ------------------------------------------------------------ attach/detach

def _apply_maps(settings: Settings, weights: dict[int, int]) -> bool:
    """Weights, CPUMAP entries, slot table, config; True if anything changed."""
    pins = settings.pins
    current = read_weights(settings)
    cfg = read_cfg(settings)
    wanted_cfg = {"udp_port": settings.udp_port, "balance": settings.balance, "nslots": SLOTS}
    if current == weights and cfg == wanted_cfg:
        return False
    map_fd = bpfsys.obj_get(pins.map("cpu_map"))
    prog_fd = bpfsys.obj_get(pins.prog(PROG_ARRIVE))
    try:
        for cpu in weights:  # new CPUs first: a slot never points to a missing entry
            try:
                bpfsys.map_update(map_fd, struct.pack("<I", cpu), struct.pack("<Ii", settings.qsize, prog_fd))
            except OSError as exc:
                raise LabError(f"cannot add CPU {cpu} to the CPUMAP: {exc.strerror} "
                               f"(online CPUs: {online_cpus()})") from None
    finally:
        os.close(prog_fd)
        os.close(map_fd)
    for cpu in range(MAX_CPUS):
        if current.get(cpu, 0) != weights.get(cpu, 0):
            maps.array_u32_set(pins.map("cpu_weights"), cpu, weights.get(cpu, 0))
    table = slot_table(weights)
    # slots are rewritten with one batch file (1024 updates through bpftool
    # one by one would take seconds)
    _write_slots(settings, table)
    maps.update_raw(pins.map("xcfg"), 0, struct.pack("<IIII", settings.udp_port,
                                                      BALANCE.index(settings.balance), SLOTS, 0))
    for cpu in current:
        if cpu not in weights:
            try:
                maps.delete(pins.map("cpu_map"), struct.pack("<I", cpu))
            except LabError:
                pass
    return True


def _write_slots(settings: Settings, table: list[int]) -> None:
    fd = bpfsys.obj_get(settings.pins.map("cpu_slots"))
    try:
        for slot, cpu in enumerate(table):
            bpfsys.map_update(fd, struct.pack("<I", slot), struct.pack("<I", cpu))
    finally:
        os.close(fd)


def attach(settings: Settings) -> dict:
    """Loaded, weights applied, attached to the interface in the mode asked;
    idempotent. New weights or port: map updates only."""
    system.require_root()
    system.require_btf()
    system.ensure_mounted(system.BPFFS, "bpf")
    net.require_iface(settings.iface)
    weights = parse_weights(settings.weights)
    missing = [c for c in weights if c not in online_cpus()]
    if missing:
        raise LabError(f"weights name CPU(s) {missing} but this host's online CPUs are "
                       f"{online_cpus()}: fix bpf_xdp_cpumap_weights / --weights")
    fresh = not is_loaded(settings)
    changed = False
    try:
        if fresh:
            obj, _ = build(settings)
            pinning.loadall(obj, settings.pins)
            changed = True
        changed |= _apply_maps(settings, weights)
        ours = pinning.prog_id(settings.pins.prog(PROG))
        here = xdp_on(settings.iface)
        current = here[0] if here else None
        if current and current["prog_id"] == ours and current["mode"] == settings.mode:
            pass
        else:
            if current and current["prog_id"] != ours:
                raise LabError(f"{settings.iface} already has XDP program {current['prog_name']!r} "
                               f"(id {current['prog_id']}, {current['mode']}): detach it first "
                               "(labctl detach afxdp, or ip link set dev IF xdp off); AF_XDP chains "
                               "behind xdp_cpumap when attached after it")
            elsewhere = attachment(settings)
            if elsewhere:  # other interface or other mode: move
                _net_detach(elsewhere["ifname"], elsewhere["mode"])
            bpftool.run("net", "attach", XDP_MODES[settings.mode], "pinned",
                        settings.pins.prog(PROG), "dev", settings.iface)
            changed = True
    except Exception:
        if fresh:
            detach(settings)
        raise
    return {"changed": changed, **status(settings)}


def _net_detach(iface: str, mode: str) -> None:
    bpftool.run("net", "detach", XDP_MODES.get(mode, "xdp"), "dev", iface)


def detach(settings: Settings) -> dict:
    system.require_root()
    if not is_loaded(settings):
        return {"changed": pinning.remove(settings.pins), "name": NAME, "loaded": False,
                "pin_path": settings.pins.dir}
    if chained(settings):
        raise LabError("the AF_XDP program is chained behind xdp_cpumap: detach it first "
                       "(labctl detach afxdp), then xdp_cpumap")
    where = attachment(settings)
    if where:
        _net_detach(where["ifname"], where["mode"])
    pinning.remove(settings.pins)
    return {"changed": True, "name": NAME, "loaded": False, "pin_path": settings.pins.dir}


# ------------------------------------------------------------------ metrics

def metrics(settings: Settings):
    if not is_loaded(settings):
        return
    c = counters(settings)
    weight = GaugeMetricFamily("disgrafs_xdp_cpumap_weight", "Weight of each CPU in the XDP CPU balancing.",
                               labels=["cpu"])
    for cpu, w in read_weights(settings).items():
        weight.add_metric([str(cpu)], w)
    yield weight
    packets = CounterMetricFamily("disgrafs_xdp_cpumap_packets_total",
                                  "Packets redirected to / processed on each CPU.", labels=["cpu", "stage"])
    for cpu, n in c["redirected_to_cpu"].items():
        packets.add_metric([cpu, "redirected"], n)
    for cpu, n in c["arrived_on_cpu"].items():
        packets.add_metric([cpu, "arrived"], n)
    yield packets
    events = CounterMetricFamily("disgrafs_xdp_cpumap_events_total", "Events of the XDP CPU balancer.",
                                 labels=["event"])
    for k, v in c["stats"].items():
        events.add_metric([k], v)
    yield events
