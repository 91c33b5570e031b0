"""http_filter: log the method and URL of every HTTP request reaching the
DisGraFS port on the lab interface, and count requests per method.

The kernel part (bpf/http_filter/http_filter.bpf.c) is a socket filter; a
socket filter lives as long as the socket it is attached to, so a small
daemon (`labctl run http_filter`, the systemd unit's ExecStart, or spawned
by `labctl attach http_filter`) holds an AF_PACKET socket on the interface
with the pinned filter attached. The filter drops everything but request
starts; the daemon appends one JSON line per request to the log, which
`labctl http-log` streams.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import logging
import logging.handlers
import os
import signal
import socket
import struct
import sys
import time
from dataclasses import dataclass

from prometheus_client.core import CounterMetricFamily

from .. import bpfsys, build as builder, daemons, files, maps, net, pins as pinning, system
from .. import settings as lab_settings
from ..errors import LabError

NAME = "http_filter"
DESCRIPTION = "each HTTP request to the DisGraFS port, once (socket filter + log daemon)"
PROG = "http_filter"
METHODS = ("GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH")
ETH_P_ALL = 0x0003

OPTIONS = {
    "interface": {"help": "the lab interface (default: the default route's)"},
    "port": {"type": int, "help": "the DisGraFS HTTP port"},
    "run_dir": {"help": f"pid/state directory (default {lab_settings.RUN_DIR})"},
    "log_file": {"help": f"the request log (default {lab_settings.LOG_DIR}/http_filter.log)"},
}


@dataclass
class Settings(lab_settings.ProgramSettings):
    PROGRAM = NAME
    interface: str = ""               # "": the default route's interface
    port: int = 8080                  # the DisGraFS HTTP port
    pin_root: str = lab_settings.DEFAULT_PIN_ROOT
    build_dir: str = lab_settings.DEFAULT_BUILD_DIR
    source_dir: str = ""               # "": bpf/http_filter/ (course mode: the student's workspace)
    run_dir: str = lab_settings.RUN_DIR
    log_file: str = os.path.join(lab_settings.LOG_DIR, "http_filter.log")
    max_log_bytes: int = 8 * 2**20    # then the log is rotated to .1


def load_settings(config_file: str | None = None, **overrides) -> Settings:
    settings = lab_settings.load(Settings, NAME, config_file, overrides)
    lab_settings.check_port(settings.port, "the DisGraFS HTTP port")
    return settings


def build(settings: Settings, force: bool = False):
    return builder.kernel_side(NAME, settings.build_dir, force, directory=settings.source_dir)


def is_loaded(settings: Settings) -> bool:
    return os.path.exists(settings.pins.prog(PROG))


def daemon(settings: Settings) -> int | None:
    return daemons.pid_of(settings.pid_path, NAME)


def counters(settings: Settings) -> dict[str, int]:
    """Requests per method (GET, POST, ...) and request_bytes."""
    names = maps.stat_names(NAME)  # get, post, ..., request_bytes
    raw = maps.percpu_counters(settings.pins.map("http_requests"), names)
    return {(n.upper() if n.upper() in METHODS else n): v for n, v in raw.items()}


def status(settings: Settings) -> dict:
    return pinning.status(NAME, settings.pins, is_loaded(settings), lambda: _loaded_status(settings))


def _loaded_status(settings: Settings) -> dict:
    pins = settings.pins
    info = {}
    pid = daemon(settings)
    state = files.read_json(settings.state_path) if pid else {}
    info.update({
        "programs": pinning.programs_info(pins, [PROG]),
        "port": maps.array_u32_get(pins.map("http_cfg")),
        "daemon_pid": pid,
        "attached": bool(pid) and state.get("attached", False),
        "interface": state.get("interface"),
        "log_file": settings.log_file,
        "counters": counters(settings),
    })
    return info


def describe(info: dict) -> str:
    if not info.get("loaded"):
        return f"{NAME}: not loaded ({info.get('pin_path', '')})"
    where = (f"socket filter on {info['interface']} (daemon pid {info['daemon_pid']})"
             if info["attached"] else "NOT ATTACHED (no daemon holds the socket)")
    lines = [f"{NAME}: loaded: {PROG} (id {info['programs'][0]['id']}), {where}",
             f"  pinned under {info['pin_path']}", f"  HTTP port: {info['port']}",
             f"  request log: {info['log_file']} (labctl http-log)"]
    lines += [f"  {k:>20}: {v}" for k, v in info["counters"].items()]
    return "\n".join(lines)


def _ensure_loaded(settings: Settings) -> bool:
    """Load and pin the filter, set the port; True if anything changed."""
    changed = False
    if not is_loaded(settings):
        obj, _ = build(settings)
        pinning.loadall(obj, settings.pins)
        changed = True
    if maps.array_u32_get(settings.pins.map("http_cfg")) != settings.port:
        maps.array_u32_set(settings.pins.map("http_cfg"), 0, settings.port)
        changed = True
    return changed


def attach(settings: Settings) -> dict:
    """Filter loaded and a daemon holding it on the interface; idempotent.
    Changing the port takes effect at once (a map update); changing the
    interface restarts the daemon."""
    system.require_root()
    system.ensure_mounted(system.BPFFS, "bpf")
    net.require_iface(settings.iface)
    fresh = not is_loaded(settings)
    try:
        changed = _ensure_loaded(settings)
        pid = daemon(settings)
        state = files.read_json(settings.state_path) if pid else {}
        if pid and state.get("interface") != settings.iface:
            daemons.stop(settings.pid_path, NAME)
            pid = None
        if not pid:
            argv = daemons.labctl_argv("run", NAME, "--config", "", *_args(settings))
            daemons.spawn(NAME, argv, settings.log_file + ".daemon",
                          wait_for=lambda: files.read_json(settings.state_path).get("attached")
                          and daemon(settings) is not None)
            changed = True
    except Exception:
        if fresh:
            detach(settings)
        raise
    return {"changed": changed, **status(settings)}


def _args(settings: Settings) -> list[str]:
    return ["--interface", settings.iface, "--port", str(settings.port),
            "--pin-root", settings.pin_root, "--build-dir", settings.build_dir,
            "--run-dir", settings.run_dir, "--log-file", settings.log_file]


def detach(settings: Settings) -> dict:
    system.require_root()
    changed = daemons.stop(settings.pid_path, NAME)
    changed |= pinning.remove(settings.pins)
    files.remove(settings.state_path)
    return {"changed": changed, "name": NAME, "loaded": False, "pin_path": settings.pins.dir}


# ------------------------------------------------------------------ daemon

def parse_request(frame: bytes) -> dict | None:
    """Ethernet frame -> {src, method, url, host} of the HTTP request in it."""
    if len(frame) < 14:
        return None
    proto, off = struct.unpack_from("!H", frame, 12)[0], 14
    if proto == 0x8100:
        proto, off = struct.unpack_from("!H", frame, 16)[0], 18
    if proto == 0x0800:
        ihl = (frame[off] & 0x0F) * 4
        src = str(ipaddress.IPv4Address(frame[off + 12:off + 16]))
        l4 = off + ihl
    elif proto == 0x86DD:
        src = f"[{ipaddress.IPv6Address(frame[off + 8:off + 24])}]"
        l4 = off + 40
    else:
        return None
    sport = struct.unpack_from("!H", frame, l4)[0]
    payload = frame[l4 + (frame[l4 + 12] >> 4) * 4:]
    head = payload.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    parts = head[0].decode("latin-1").split(" ")
    if len(parts) < 2 or parts[0] not in METHODS:
        return None
    host = next((line.split(b":", 1)[1].strip().decode("latin-1") for line in head[1:]
                 if line.lower().startswith(b"host:")), "")
    return {"src": f"{src}:{sport}", "method": parts[0], "url": parts[1],
            "version": parts[2] if len(parts) > 2 else "", "host": host}


def _request_log(path: str, max_bytes: int) -> logging.Logger:
    """One JSON line per request, rotated to PATH.1 past max_bytes."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=max_bytes, backupCount=1,
                                                   encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("labctl.http_filter.requests")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.handlers[:] = [handler]
    return logger


def run(settings: Settings) -> int:
    """The daemon: hold the filtered AF_PACKET socket, log each request."""
    system.require_root()
    system.ensure_mounted(system.BPFFS, "bpf")
    net.require_iface(settings.iface)
    _ensure_loaded(settings)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    # protocol 0: the socket receives nothing until bound, so no packet gets
    # in before the filter is attached
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    prog_fd = bpfsys.obj_get(settings.pins.prog(PROG))
    try:
        sock.setsockopt(socket.SOL_SOCKET, bpfsys.SO_ATTACH_BPF, prog_fd)
    finally:
        os.close(prog_fd)
    sock.bind((settings.iface, ETH_P_ALL))
    sock.settimeout(0.5)
    log = _request_log(settings.log_file, settings.max_log_bytes)
    daemons.write_pid(settings.pid_path)
    files.write_json(settings.state_path, {"attached": True, "interface": settings.iface,
                                           "port": settings.port, "pid": os.getpid(),
                                           "started": time.time()})
    print(f"http_filter: logging HTTP requests to port {settings.port} on {settings.iface} "
          f"to {settings.log_file}", flush=True)
    try:
        while not stop:
            try:
                frame = sock.recv(65536)
            except socket.timeout:
                continue
            except InterruptedError:
                continue
            try:
                record = parse_request(frame)
            except (IndexError, struct.error, ValueError):
                record = None
            if record:
                record["ts"] = datetime.datetime.now().isoformat(timespec="milliseconds")
                record["interface"] = settings.iface
                log.info(json.dumps(record, sort_keys=True))
    finally:
        sock.close()
        files.remove(settings.pid_path, settings.state_path)
    return 0


# ---------------------------------------------------------------- http-log

def follow(path: str, out, lines: int = 0, count: int = 0, timeout: float = 0,
           as_json: bool = False) -> int:
    """Stream the request log (like tail -F): the last `lines` lines, then
    each new one; stop after `count` new lines or `timeout` s (0: never)."""
    deadline = time.monotonic() + timeout if timeout else None
    shown = 0

    def emit(line: str) -> None:
        if as_json:
            out.write(line if line.endswith("\n") else line + "\n")
        else:
            try:
                r = json.loads(line)
                out.write(f"{r['ts']}  {r['src']:<22} {r['method']:<7} {r['url']}"
                          f"{'  (Host: ' + r['host'] + ')' if r.get('host') else ''}\n")
            except (ValueError, KeyError):
                return
        out.flush()

    f, inode = None, None
    if os.path.exists(path):
        f = open(path, encoding="utf-8", errors="replace")
        inode = os.fstat(f.fileno()).st_ino
        if lines:
            for line in f.readlines()[-lines:]:
                emit(line)
        f.seek(0, os.SEEK_END)
    buffer = ""
    while True:
        if f is None and os.path.exists(path):
            f = open(path, encoding="utf-8", errors="replace")
            inode = os.fstat(f.fileno()).st_ino
        chunk = f.read() if f else ""
        if chunk:
            buffer += chunk
            *complete, buffer = buffer.split("\n")
            for line in complete:
                if line:
                    emit(line)
                    shown += 1
                    if count and shown >= count:
                        return shown
            continue
        try:  # rotated?
            if f and os.stat(path).st_ino != inode:
                f.close()
                f = None
                continue
        except FileNotFoundError:
            pass
        if deadline and time.monotonic() > deadline:
            return shown
        time.sleep(0.1)


# ------------------------------------------------------------------ metrics

def metrics(settings: Settings):
    if not is_loaded(settings):
        return
    c = counters(settings)
    requests = CounterMetricFamily("disgrafs_http_requests_total", "HTTP requests to the DisGraFS port "
                                   "seen by the socket filter, per method.", labels=["method"])
    for method in METHODS:
        requests.add_metric([method], c[method])
    yield requests
    yield CounterMetricFamily("disgrafs_http_request_bytes_total", "Bytes of the request packets "
                              "(headers and first body bytes).", value=c["request_bytes"])


# ---------------------------------------------------------------- commands

def register(sub, parents) -> None:
    p = sub.add_parser("http-log", parents=parents,
                       help="stream the HTTP requests seen by http_filter (method and URL); "
                            "follows the log until --count or --timeout")
    p.add_argument("--lines", "-n", type=int, default=10, help="show the last N first (default 10)")
    p.add_argument("--count", type=int, default=0, help="exit after N new requests")
    p.add_argument("--timeout", type=float, default=0, help="exit after S seconds")
    p.set_defaults(handler=_cmd_http_log, program=NAME)


def _cmd_http_log(settings: Settings, args) -> int:
    if not os.path.exists(settings.log_file) and not is_loaded(settings):
        raise LabError("http_filter is not attached and has no log yet: "
                       "run `labctl attach http_filter`")
    follow(settings.log_file, sys.stdout, lines=args.lines, count=args.count,
           timeout=args.timeout, as_json=args.json)
    return 0
