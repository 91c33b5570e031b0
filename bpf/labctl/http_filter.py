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

import datetime
import ipaddress
import json
import os
import signal
import socket
import struct
import sys
import time
from dataclasses import dataclass

from . import bpfsys, suite, system
from .errors import LabError

NAME = "http_filter"
PROG = "http_filter"
METHODS = ("GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH")
ETH_P_ALL = 0x0003


@dataclass
class Settings(suite.ProgramSettings):
    PROGRAM = NAME
    interface: str = ""               # "": the default route's interface
    port: int = 8080                  # the DisGraFS HTTP port
    pin_root: str = suite.DEFAULT_PIN_ROOT
    build_dir: str = suite.DEFAULT_BUILD_DIR
    run_dir: str = suite.RUN_DIR
    log_file: str = os.path.join(suite.LOG_DIR, "http_filter.log")
    max_log_bytes: int = 8 * 2**20    # then the log is rotated to .1


OVERRIDES = ("interface", "port", "pin_root", "build_dir", "run_dir", "log_file")


def load_settings(config_file=None, **overrides) -> Settings:
    settings = suite.load_settings(Settings, NAME, config_file, overrides)
    if not isinstance(settings.port, int) or not 1 <= settings.port <= 65535:
        raise LabError(f"invalid port {settings.port!r}: the DisGraFS HTTP port, 1-65535")
    return settings


def build(settings: Settings, force: bool = False):
    return suite.build_bpf(NAME, settings.build_dir, force)


def is_loaded(settings: Settings) -> bool:
    return os.path.exists(settings.pins.prog(PROG))


def daemon(settings: Settings) -> int | None:
    return suite.daemon_pid(settings.pid_path, NAME)


def counters(settings: Settings) -> dict[str, int]:
    return suite.percpu_array(settings.pins.map("http_requests"), METHODS + ("request_bytes",))


def status(settings: Settings) -> dict:
    pins = settings.pins
    info = {"name": NAME, "pin_path": pins.dir, "loaded": is_loaded(settings)}
    if not info["loaded"]:
        return info
    pid = daemon(settings)
    state = suite.read_json(settings.state_path) if pid else {}
    info.update({
        "programs": [{"name": PROG, "id": suite.prog_id(pins.prog(PROG)), "pinned": pins.prog(PROG)}],
        "port": suite.array_u32_get(pins.map("http_cfg")),
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
        suite.loadall(obj, settings.pins)
        changed = True
    if suite.array_u32_get(settings.pins.map("http_cfg")) != settings.port:
        suite.array_u32_set(settings.pins.map("http_cfg"), 0, settings.port)
        changed = True
    return changed


def attach(settings: Settings) -> dict:
    """Filter loaded and a daemon holding it on the interface; idempotent.
    Changing the port takes effect at once (a map update); changing the
    interface restarts the daemon."""
    system.require_root()
    system.ensure_mounted(system.BPFFS, "bpf")
    suite.require_iface(settings.iface)
    fresh = not is_loaded(settings)
    try:
        changed = _ensure_loaded(settings)
        pid = daemon(settings)
        state = suite.read_json(settings.state_path) if pid else {}
        if pid and state.get("interface") != settings.iface:
            suite.stop_daemon(settings.pid_path, NAME)
            pid = None
        if not pid:
            argv = suite.labctl_argv("run", NAME, "--config", "", *_args(settings))
            suite.spawn_daemon(NAME, argv, settings.log_file + ".daemon",
                               wait_for=lambda: suite.read_json(settings.state_path).get("attached")
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
    changed = suite.stop_daemon(settings.pid_path, NAME)
    changed |= suite.remove_pins(settings.pins)
    for path in (settings.state_path,):
        try:
            os.remove(path)
        except FileNotFoundError:
            pass
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


class _Log:
    def __init__(self, path: str, max_bytes: int):
        self.path, self.max_bytes = path, max_bytes
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self.f = open(path, "a", encoding="utf-8")

    def write(self, record: dict) -> None:
        self.f.write(json.dumps(record, sort_keys=True) + "\n")
        self.f.flush()
        if self.f.tell() > self.max_bytes:
            self.f.close()
            os.replace(self.path, self.path + ".1")
            self.f = open(self.path, "a", encoding="utf-8")


def run(settings: Settings) -> int:
    """The daemon: hold the filtered AF_PACKET socket, log each request."""
    system.require_root()
    system.ensure_mounted(system.BPFFS, "bpf")
    suite.require_iface(settings.iface)
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
    log = _Log(settings.log_file, settings.max_log_bytes)
    suite.write_pid(settings.pid_path)
    suite.write_json(settings.state_path, {"attached": True, "interface": settings.iface,
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
                log.write(record)
    finally:
        sock.close()
        for path in (settings.pid_path, settings.state_path):
            try:
                os.remove(path)
            except FileNotFoundError:
                pass
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


# --------------------------------------------------------------- prometheus

def prometheus(settings: Settings) -> str:
    if not is_loaded(settings):
        return ""
    c = counters(settings)
    out = ["# HELP disgrafs_http_requests_total HTTP requests to the DisGraFS port seen by the "
           "socket filter, per method.", "# TYPE disgrafs_http_requests_total counter"]
    out += [f'disgrafs_http_requests_total{{method="{m}"}} {c[m]}' for m in METHODS]
    out += ["# HELP disgrafs_http_request_bytes_total Bytes of the request packets (headers "
            "and first body bytes).", "# TYPE disgrafs_http_request_bytes_total counter",
            f"disgrafs_http_request_bytes_total {c['request_bytes']}"]
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- commands

def register(sub, parents) -> None:
    p = sub.add_parser("http-log", parents=parents,
                       help="stream the HTTP requests seen by http_filter (method and URL)")
    p.add_argument("--lines", "-n", type=int, default=10, help="show the last N first (default 10)")
    p.add_argument("--count", type=int, default=0, help="exit after N new requests")
    p.add_argument("--timeout", type=float, default=0, help="exit after S seconds")
    p.set_defaults(func=_cmd_http_log, program=NAME)
    # `run` is generic: the daemon of a program that needs one
    if "run" not in sub.choices:
        r = sub.add_parser("run", parents=parents,
                           help="run a program's daemon in the foreground (systemd units)")
        r.add_argument("program", choices=["http_filter", "afxdp"])
        r.set_defaults(func=_cmd_run)


def _settings_from(args):
    from .cli import suite_settings
    return suite_settings(sys.modules[__name__], args)


def _cmd_http_log(args) -> int:
    settings = _settings_from(args)
    if not os.path.exists(settings.log_file) and not is_loaded(settings):
        raise LabError("http_filter is not attached and has no log yet: "
                       "run `labctl attach http_filter`")
    follow(settings.log_file, sys.stdout, lines=args.lines, count=args.count,
           timeout=args.timeout, as_json=args.json)
    return 0


def _cmd_run(args) -> int:
    from .cli import SUITE, suite_settings
    module = SUITE[args.program]
    return module.run(suite_settings(module, args))
