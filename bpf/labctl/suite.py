"""What the eBPF program suite (http_filter, xdp_cpumap, afxdp, redis_latency)
shares: settings files, CO-RE build, pinning layout, daemons.

Layout of one program NAME (like sockredir):
  /sys/fs/bpf/disgrafs-lab/NAME/progs/*   pinned programs
  /sys/fs/bpf/disgrafs-lab/NAME/maps/*    pinned maps
  /sys/fs/bpf/disgrafs-lab/NAME/links/*   pinned bpf_links (tracepoints)
  /etc/disgrafs-lab/NAME.json             settings written by the role
  /run/disgrafs-lab/NAME.pid              its user-space daemon, if it has one
"""

import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, fields

from . import bpftool, system
from .errors import LabError

BPF_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_PIN_ROOT = "/sys/fs/bpf/disgrafs-lab"
DEFAULT_BUILD_DIR = "/var/lib/disgrafs-lab/build"
CONFIG_DIR = "/etc/disgrafs-lab"
RUN_DIR = "/run/disgrafs-lab"
LOG_DIR = "/var/log/disgrafs-lab"


class Pins:
    """Pin paths of one program under a pin root."""

    def __init__(self, pin_root: str, name: str):
        self.root = pin_root
        self.name = name
        self.dir = os.path.join(pin_root, name)
        self.progs = os.path.join(self.dir, "progs")
        self.maps = os.path.join(self.dir, "maps")
        self.links = os.path.join(self.dir, "links")

    def prog(self, name: str) -> str:
        return os.path.join(self.progs, name)

    def map(self, name: str) -> str:
        return os.path.join(self.maps, name)

    def link(self, name: str) -> str:
        return os.path.join(self.links, name)


class ProgramSettings:
    """Paths that each program's Settings derives from its own fields.
    Subclasses are dataclasses that set PROGRAM (unannotated: not a field)
    and have pin_root, plus interface and run_dir where the program uses them."""

    PROGRAM = ""

    @property
    def pins(self) -> Pins:
        return Pins(self.pin_root, self.PROGRAM)

    @property
    def iface(self) -> str:
        return self.interface or default_iface()

    def _run_file(self, suffix: str) -> str:
        return os.path.join(self.run_dir, f"{self.PROGRAM}{suffix}")

    @property
    def pid_path(self) -> str:
        return self._run_file(".pid")

    @property
    def state_path(self) -> str:
        return self._run_file(".json")

    @property
    def stats_path(self) -> str:
        return self._run_file(".stats.json")

    @property
    def log_path(self) -> str:
        return self._run_file(".log")


def load_settings(cls, name: str, config_file: str | None, overrides: dict):
    """Defaults < config file (written by the role) < command-line overrides."""
    if config_file is None:
        config_file = os.path.join(CONFIG_DIR, f"{name}.json")
    values = {}
    if config_file and os.path.exists(config_file):
        with open(config_file, encoding="utf-8") as f:
            try:
                values.update(json.load(f))
            except ValueError as exc:
                raise LabError(f"{config_file} is not valid JSON ({exc}): fix it or re-run the role") from None
    values.update({k: v for k, v in overrides.items() if v is not None})
    known = {f.name for f in fields(cls)}
    unknown = set(values) - known
    if unknown:
        raise LabError(f"unknown {name} setting(s) {sorted(unknown)} in {config_file or 'the arguments'}: "
                       f"known are {sorted(known)}")
    return cls(**values)


def settings_dict(settings) -> dict:
    return asdict(settings)


# --------------------------------------------------------------------- build

def clang_arch() -> str:
    machine = platform.machine()
    return {"x86_64": "x86", "aarch64": "arm64", "riscv64": "riscv",
            "ppc64le": "powerpc", "s390x": "s390", "loongarch64": "loongarch"}.get(machine, machine)


def _write_atomic(path: str, text: str) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def out_dir(build_dir: str) -> str:
    return os.path.join(build_dir, platform.release())


def vmlinux_h(build_dir: str) -> str:
    """vmlinux.h generated from this kernel's BTF (CO-RE: no kernel headers)."""
    system.require_btf()
    directory = out_dir(build_dir)
    os.makedirs(directory, exist_ok=True)
    header = os.path.join(directory, "vmlinux.h")
    if not os.path.exists(header):
        text = bpftool.run("btf", "dump", "file", system.BTF_PATH, "format", "c", json_out=False)
        _write_atomic(header, text + "\n")
    return header


def build_bpf(name: str, build_dir: str, force: bool = False, source: str | None = None) -> tuple[str, bool]:
    """Compile bpf/NAME/NAME.bpf.c as CO-RE; returns (object, changed)."""
    source = source or os.path.join(BPF_DIR, name, f"{name}.bpf.c")
    if not os.path.exists(source):
        raise LabError(f"BPF source {source} is missing: reinstall the lab's bpf/ directory "
                       "(the role copies it to /opt/disgrafs-lab/bpf)")
    obj = os.path.join(out_dir(build_dir), os.path.basename(source).replace(".c", ".o"))
    if not force and os.path.exists(obj) and os.path.getmtime(obj) >= os.path.getmtime(source):
        return obj, False
    clang = shutil.which("clang")
    if not clang:
        raise LabError("clang not found: install clang and llvm (bpf_toolchain role)")
    header_dir = os.path.dirname(vmlinux_h(build_dir))
    tmp_obj = f"{obj}.{os.getpid()}.tmp"
    cmd = [clang, "-g", "-O2", "-target", "bpf", f"-D__TARGET_ARCH_{clang_arch()}",
           "-I", header_dir, "-I", os.path.dirname(source), "-c", source, "-o", tmp_obj]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        _remove(tmp_obj)
        raise LabError(f"compiling {source} failed (is libbpf-dev / libbpf-devel installed?):\n"
                       f"{proc.stderr.strip()}")
    os.replace(tmp_obj, obj)
    return obj, True


def build_user(name: str, source: str, build_dir: str, libs: list[str],
               force: bool = False, hint: str = "") -> tuple[str, bool]:
    """Compile a user-space C helper (e.g. the AF_XDP receiver)."""
    binary = os.path.join(out_dir(build_dir), name)
    if not force and os.path.exists(binary) and os.path.getmtime(binary) >= os.path.getmtime(source):
        return binary, False
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if not cc:
        raise LabError(f"no C compiler to build {name}: install gcc")
    os.makedirs(os.path.dirname(binary), exist_ok=True)
    tmp = f"{binary}.{os.getpid()}.tmp"
    proc = subprocess.run([cc, "-O2", "-Wall", "-o", tmp, source] + [f"-l{lib}" for lib in libs],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        _remove(tmp)
        raise LabError(f"compiling {source} failed{hint}:\n{proc.stderr.strip()}")
    os.replace(tmp, binary)
    return binary, True


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


# -------------------------------------------------------------------- pins

def loadall(obj: str, pins: Pins) -> None:
    os.makedirs(pins.dir, exist_ok=True)
    bpftool.run("prog", "loadall", obj, pins.progs, "pinmaps", pins.maps)


def remove_pins(pins: Pins) -> bool:
    """Unpin everything of the program (drops links: detaches tracepoints)."""
    if not os.path.isdir(pins.dir):
        return False
    shutil.rmtree(pins.dir)
    try:
        os.rmdir(pins.root)  # only if no other program of ours is pinned
    except OSError:
        pass
    return True


def prog_id(path: str) -> int | None:
    if not os.path.exists(path):
        return None
    return bpftool.prog_show_pinned(path)["id"]


def percpu_array(path: str, names: tuple[str, ...]) -> dict[str, int]:
    result = dict.fromkeys(names, 0)
    if not os.path.exists(path):
        return result
    for entry in bpftool.map_dump_pinned(path):
        index = bpftool.entry_int(entry, "key")
        if index < len(names):
            result[names[index]] = bpftool.percpu_sum(entry)
    return result


def percpu_values(entry: dict) -> list:
    """Per-CPU values of a map entry as bpftool formats them (BTF)."""
    return [v["value"] for v in entry["formatted"]["values"]]


def array_u32_set(path: str, index: int, value: int) -> None:
    bpftool.run("map", "update", "pinned", path,
                "key", *bpftool.hex_bytes(index.to_bytes(4, "little")),
                "value", *bpftool.hex_bytes(value.to_bytes(4, "little")))


def array_u32_get(path: str, index: int = 0) -> int:
    out = bpftool.run("map", "lookup", "pinned", path,
                      "key", *bpftool.hex_bytes(index.to_bytes(4, "little")))
    return bpftool.entry_int(out, "value")


# ----------------------------------------------------------------- daemons

def daemon_pid(pid_path: str, token: str) -> int | None:
    """PID in `pid_path` if that process is alive and its command line
    contains `token` (a recycled PID is not ours)."""
    try:
        with open(pid_path, encoding="utf-8") as f:
            pid = int(f.read().strip())
    except (FileNotFoundError, ValueError):
        return None
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            if token.encode() not in f.read():
                return None
        with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                return None
    except OSError:
        return None
    return pid


def write_pid(pid_path: str) -> None:
    os.makedirs(os.path.dirname(pid_path), exist_ok=True)
    _write_atomic(pid_path, f"{os.getpid()}\n")


def write_json(path: str, data: dict) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    _write_atomic(path, json.dumps(data, sort_keys=True) + "\n")


def read_json(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def spawn_daemon(name: str, argv: list[str], log: str, wait_for=None, timeout: float = 10) -> int:
    """Start `argv` detached (own session, stdio to `log`); wait until
    `wait_for()` is true or the process dies. Returns its PID."""
    os.makedirs(os.path.dirname(log), exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                start_new_session=True, close_fds=True, env=labctl_env())
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = _tail(log)
            raise LabError(f"the {name} daemon exited with status {proc.returncode}; "
                           f"its log {log} ends with:\n{tail}")
        if wait_for is None or wait_for():
            return proc.pid
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    raise LabError(f"the {name} daemon did not become ready in {timeout:.0f} s: see {log}")


def stop_daemon(pid_path: str, token: str, timeout: float = 10) -> bool:
    pid = daemon_pid(pid_path, token)
    if pid is None:
        _remove(pid_path)
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        _reap(pid)
        time.sleep(0.05)
    else:
        os.kill(pid, signal.SIGKILL)
    _reap(pid)
    _remove(pid_path)
    return True


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def _tail(path: str, lines: int = 15) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return "".join(f.readlines()[-lines:]).rstrip()
    except OSError:
        return "(no log)"


def labctl_argv(*args: str) -> list[str]:
    """Run labctl again (same interpreter, same package) as a daemon."""
    return [sys.executable, "-m", "labctl", *args]


def labctl_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = BPF_DIR + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


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
    try:
        with open("/proc/net/route", encoding="utf-8") as f:
            for line in f.readlines()[1:]:
                parts = line.split()
                if parts[1] == "00000000":
                    return parts[0]
    except OSError:
        pass
    return "eth0"
