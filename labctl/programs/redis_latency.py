"""redis_latency: per-command latency histograms of redis-server, in the kernel.

Build (CO-RE), load and pin bpf/redis_latency/redis_latency.bpf.c, point it
at the redis-server's tgid, attach its two tp_btf programs (sock_recv_length,
sock_send_length; the bpf_links are pinned, so they stay attached after
labctl exits), and read the histograms:
`labctl redis-latency` (live view), `--prometheus` (text exposition).
"""

from __future__ import annotations

import json
import os
import struct
import sys
import time
from dataclasses import dataclass

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily

from .. import bpfsys, bpftool, build as builder, maps, pins as pinning, system
from .. import settings as lab_settings
from ..errors import LabError
from ..procs import cmdline, processes_named

NAME = "redis_latency"
DESCRIPTION = "per-command latency histograms of redis-server, in the kernel (BTF tracepoints)"
PROGS = {"rl_sock_recv": "sock_recv_length", "rl_sock_send": "sock_send_length"}  # prog: link
BUCKETS = 32

OPTIONS = {
    "pid": {"type": int, "help": "redis-server pid (0: find it)"},
    "process": {"help": "process name to find (redis-server)"},
    "port": {"type": int, "help": "the redis port to pick the process by"},
}


@dataclass
class Settings(lab_settings.ProgramSettings):
    PROGRAM = NAME
    pid: int = 0                      # 0: find the process by name (and port)
    process: str = "redis-server"
    port: int = 0                     # pick the redis-server serving this port
    pin_root: str = lab_settings.DEFAULT_PIN_ROOT
    build_dir: str = lab_settings.DEFAULT_BUILD_DIR
    source_dir: str = ""               # "": bpf/redis_latency/ (course mode: the student's workspace)


def load_settings(config_file: str | None = None, **overrides) -> Settings:
    settings = lab_settings.load(Settings, NAME, config_file, overrides)
    if not isinstance(settings.pid, int) or settings.pid < 0:
        raise LabError(f"invalid pid {settings.pid!r}: a process id, or 0 to find {settings.process}")
    lab_settings.check_port(settings.port, "the redis port", allow_zero=True)
    return settings


# ------------------------------------------------------------------ target

def find_target(settings: Settings) -> int:
    """The tgid to monitor: --pid, else the process named settings.process
    (redis-server retitles itself `redis-server ADDR:PORT`)."""
    if settings.pid:
        if not os.path.exists(f"/proc/{settings.pid}"):
            raise LabError(f"process {settings.pid} does not exist: give the redis-server's pid "
                           "(pidof redis-server) or 0 to find it")
        return settings.pid
    found = processes_named(settings.process)
    if settings.port:
        found = [p for p in found if cmdline(p).endswith(f":{settings.port}")]
    if not found:
        where = f" serving port {settings.port}" if settings.port else ""
        raise LabError(f"no {settings.process} process{where} is running: start it first "
                       "(systemctl start redis-server) or pass --pid")
    if len(found) > 1:
        listing = "; ".join(f"{p}: {cmdline(p)}" for p in found)
        raise LabError(f"several {settings.process} processes ({listing}): choose one with "
                       "--port or --pid")
    return int(found[0])


# ------------------------------------------------------------------ inspect

def build(settings: Settings, force: bool = False) -> tuple[str, bool]:
    system.require_btf()
    return builder.kernel_side(NAME, settings.build_dir, force, directory=settings.source_dir)


def is_loaded(settings: Settings) -> bool:
    return all(os.path.exists(settings.pins.prog(p)) for p in PROGS)


def is_attached(settings: Settings) -> bool:
    return all(os.path.exists(settings.pins.link(link)) for link in PROGS.values())


INIT_PID_NS_INO = 0xEFFFFFFC  # PROC_PID_INIT_INO: the host's pid namespace


def _pidns() -> tuple[int, int]:
    """(dev, inode) of our pid namespace, dev in the kernel's encoding."""
    st = os.stat("/proc/self/ns/pid")
    return (os.major(st.st_dev) << 20) | os.minor(st.st_dev), st.st_ino


def read_target(settings: Settings) -> dict:
    out = bpftool.run("map", "lookup", "pinned", settings.pins.map("rl_target"),
                      "key", *bpftool.hex_bytes(b"\0\0\0\0"))
    raw = bytes(int(b, 16) for b in out["value"])
    host, ns_tgid, dev, ino = struct.unpack("<IIQQ", raw[:24])
    return {"host_tgid": host, "ns_tgid": ns_tgid, "pidns_dev": dev, "pidns_ino": ino}


def target_pid(settings: Settings) -> int:
    """The monitored pid as labctl sees it (its own pid namespace)."""
    return read_target(settings)["ns_tgid"]


def set_target(settings: Settings, tgid: int) -> bool:
    """Point the program at `tgid` (as seen here); True if it changed."""
    dev, ino = _pidns()
    host = tgid if ino == INIT_PID_NS_INO else 0  # in a container: learnt by the program
    current = read_target(settings)
    if current["ns_tgid"] == tgid and current["pidns_ino"] == ino and current["pidns_dev"] == dev \
            and (current["host_tgid"] == host or not host and current["host_tgid"]):
        return False
    bpftool.run("map", "update", "pinned", settings.pins.map("rl_target"),
                "key", *bpftool.hex_bytes(b"\0\0\0\0"),
                "value", *bpftool.hex_bytes(struct.pack("<IIQQ", host, tgid, dev, ino)))
    return True


def counters(settings: Settings) -> dict[str, int]:
    return maps.percpu_counters(settings.pins.map("rl_stats"), maps.stat_names(NAME))


def histograms(settings: Settings) -> dict[str, dict]:
    """{command: {count, sum_ns, buckets[32]}} summed over CPUs."""
    path = settings.pins.map("rl_latency")
    result = {}
    if not os.path.exists(path):
        return result
    for entry in bpftool.map_dump_pinned(path):
        name = entry["formatted"]["key"]["name"]
        if isinstance(name, list):  # older bpftool: char array as numbers
            name = bytes(c & 0xff for c in name).split(b"\0")[0].decode(errors="replace")
        total = {"count": 0, "sum_ns": 0, "buckets": [0] * BUCKETS}
        for value in maps.percpu_values(entry):
            total["count"] += value["count"]
            total["sum_ns"] += value["sum_ns"]
            for i, n in enumerate(value["buckets"][:BUCKETS]):
                total["buckets"][i] += n
        result[name] = total
    return result


def quantile_ns(hist: dict, q: float) -> float:
    """Estimate from log2 buckets: geometric middle of the bucket holding the
    q-quantile (bucket i holds [2^i, 2^(i+1)) ns)."""
    if not hist["count"]:
        return 0.0
    rank, seen = q * hist["count"], 0
    for i, n in enumerate(hist["buckets"]):
        seen += n
        if seen >= rank and n:
            return (2 ** i) * 1.4142
    return 2.0 ** BUCKETS


def summary(hists: dict) -> dict:
    return {cmd: {"count": h["count"],
                  "mean_us": round(h["sum_ns"] / h["count"] / 1000, 2) if h["count"] else 0,
                  "p50_us": round(quantile_ns(h, 0.5) / 1000, 2),
                  "p90_us": round(quantile_ns(h, 0.9) / 1000, 2),
                  "p99_us": round(quantile_ns(h, 0.99) / 1000, 2)}
            for cmd, h in sorted(hists.items())}


def status(settings: Settings) -> dict:
    return pinning.status(NAME, settings.pins, is_loaded(settings), lambda: _loaded_status(settings))


def _loaded_status(settings: Settings) -> dict:
    pins = settings.pins
    info = {}
    target = read_target(settings)
    tgid = target["ns_tgid"]
    info.update({
        "programs": pinning.programs_info(pins, PROGS),
        "attached": is_attached(settings),
        "attach_point": ", ".join(f"tp_btf/{t}" for t in PROGS.values()),
        "links": [pins.link(link) for link in PROGS.values() if os.path.exists(pins.link(link))],
        "target_pid": tgid,
        "target_host_tgid": target["host_tgid"],  # 0 until its first syscall
        "target_alive": bool(tgid) and os.path.exists(f"/proc/{tgid}"),
        "target_cmdline": cmdline(tgid) if tgid else "",
        "counters": counters(settings),
        "commands": summary(histograms(settings)),
    })
    return info


def describe(info: dict) -> str:
    if not info.get("loaded"):
        return f"{NAME}: not loaded ({info.get('pin_path', '')})"
    lines = [f"{NAME}: loaded: " + ", ".join(f"{p['name']} (id {p['id']})" for p in info["programs"]) + ", "
             f"{'attached to ' + info['attach_point'] if info['attached'] else 'NOT ATTACHED'}",
             f"  pinned under {info['pin_path']}",
             f"  monitoring pid {info['target_pid']} ({info['target_cmdline'] or 'NOT RUNNING'})"]
    for counter, value in info["counters"].items():
        lines.append(f"  {counter:>20}: {value}")
    for cmd, s in info["commands"].items():
        lines.append(f"  {cmd:>20}: {s['count']} requests, p50 {s['p50_us']} us, p99 {s['p99_us']} us")
    return "\n".join(lines)


# ------------------------------------------------------------ attach/detach

def attach(settings: Settings) -> dict:
    """Loaded, pointed at the redis-server and attached; idempotent (a new
    redis-server pid after a restart is picked up by attaching again)."""
    system.require_root()
    system.require_btf()
    system.ensure_mounted(system.BPFFS, "bpf")
    tgid = find_target(settings)
    pins = settings.pins
    changed = False
    fresh = not is_loaded(settings)
    try:
        if fresh:
            obj, _ = build(settings)
            pinning.loadall(obj, pins)
            changed = True
        changed |= set_target(settings, tgid)
        os.makedirs(pins.links, exist_ok=True)
        for prog, link in PROGS.items():
            if not os.path.exists(pins.link(link)):
                bpfsys.attach_pinned_tracepoint(pins.prog(prog), pins.link(link))
                changed = True
    except Exception:
        if fresh:
            pinning.remove(pins)
        raise
    return {"changed": changed, **status(settings)}


def detach(settings: Settings) -> dict:
    system.require_root()
    changed = pinning.remove(settings.pins)
    return {"changed": changed, "name": NAME, "loaded": False, "pin_path": settings.pins.dir}


def reset(settings: Settings) -> dict:
    """Forget every histogram (the next samples start from zero)."""
    if not is_loaded(settings):
        raise LabError("redis_latency is not attached: run `labctl attach redis_latency`")
    path = settings.pins.map("rl_latency")
    entries = bpftool.map_dump_pinned(path)
    for entry in entries:
        bpftool.run("map", "delete", "pinned", path, "key",
                    *(["hex"] + [b.replace("0x", "") for b in entry["key"]]))
    return {"changed": bool(entries), **status(settings)}


# ------------------------------------------------------------------ metrics

def metrics(settings: Settings):
    """One histogram per command (seconds, log2 buckets), and the events."""
    if not is_loaded(settings):
        return
    family = HistogramMetricFamily("disgrafs_redis_command_duration_seconds",
                                   "Time from the read() that delivered a redis command to the "
                                   "write() of its reply, measured in the kernel.", labels=["command"])
    for cmd, h in sorted(histograms(settings).items()):
        cumulative, buckets = 0, []
        for i, n in enumerate(h["buckets"]):
            cumulative += n
            buckets.append((f"{(2 ** (i + 1)) / 1e9:.9g}", cumulative))
        buckets.append(("+Inf", h["count"]))
        family.add_metric([cmd], buckets, h["sum_ns"] / 1e9)
    yield family
    events = CounterMetricFamily("disgrafs_redis_latency_events_total",
                                 "Events of the redis latency monitor.", labels=["event"])
    for counter, value in counters(settings).items():
        events.add_metric([counter], value)
    yield events


# ---------------------------------------------------------------- live view

def live(settings: Settings, interval: float, count: int, out) -> None:
    """Print a table every `interval` s: totals, rate, mean and quantiles."""
    if not is_loaded(settings):
        raise LabError("redis_latency is not attached: run `labctl attach redis_latency`")
    previous = {c: h["count"] for c, h in histograms(settings).items()}
    shown = 0
    while count <= 0 or shown < count:
        time.sleep(interval)
        hists = histograms(settings)
        tgid = target_pid(settings)
        alive = os.path.exists(f"/proc/{tgid}")
        out.write(f"\n{time.strftime('%H:%M:%S')}  redis-server pid {tgid}"
                  f"{'' if alive else ' (GONE: run labctl attach redis_latency again)'}\n")
        out.write(f"{'command':<16}{'total':>12}{'/s':>10}{'mean us':>10}{'p50 us':>10}"
                  f"{'p90 us':>10}{'p99 us':>10}\n")
        for cmd, s in summary(hists).items():
            rate = (hists[cmd]["count"] - previous.get(cmd, 0)) / interval
            out.write(f"{cmd:<16}{s['count']:>12}{rate:>10.0f}{s['mean_us']:>10}{s['p50_us']:>10}"
                      f"{s['p90_us']:>10}{s['p99_us']:>10}\n")
        out.flush()
        previous = {c: h["count"] for c, h in hists.items()}
        shown += 1


# -------------------------------------------------------------- commands

def register(sub, parents) -> None:
    p = sub.add_parser("redis-latency", parents=parents,
                       help="live per-command latency of redis-server (from the kernel maps)")
    p.add_argument("--interval", type=float, default=1.0, help="seconds between tables")
    p.add_argument("--count", type=int, default=0, help="stop after N tables (0: until Ctrl-C)")
    p.add_argument("--once", action="store_true", help="print the totals now and exit")
    p.add_argument("--prometheus", action="store_true", help="Prometheus text exposition")
    p.add_argument("--reset", action="store_true", help="clear the histograms first")
    p.set_defaults(handler=_cmd_redis_latency, program=NAME)


def _cmd_redis_latency(settings: Settings, args) -> int:
    if not is_loaded(settings):
        raise LabError("redis_latency is not attached: run `labctl attach redis_latency`")
    if args.reset:
        reset(settings)
    if args.prometheus:
        from ..exporter import text  # the exposition format, for this program only
        sys.stdout.write(text(lambda _module: settings, only=NAME))
    elif args.once or args.json:
        data = {"target_pid": target_pid(settings), "counters": counters(settings),
                "commands": summary(histograms(settings))}
        if args.json:
            print(json.dumps(data, indent=2, sort_keys=True))
        else:
            for cmd, s in data["commands"].items():
                print(f"{cmd:<16} {s['count']:>10} requests  mean {s['mean_us']} us  "
                      f"p50 {s['p50_us']} us  p99 {s['p99_us']} us")
    else:
        live(settings, args.interval, args.count, sys.stdout)
    return 0
