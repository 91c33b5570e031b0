"""analysis: bpftrace syscall counts, uprobes on redis-server, perf + flame graph.

    labctl analyze syscalls  [--process redis-server] [--seconds 5]
    labctl analyze uprobes   [--binary /usr/bin/redis-server] [--seconds 5]
    labctl flamegraph        [--process redis-server] [--seconds 5] [--output DIR]
    labctl analyze all       --output DIR [--load "redis-benchmark -q -n 200000"]

Nothing stays attached: each tool runs for --seconds and exits. `--load`
runs a command during each capture (stopped afterwards) so that there is
something to see. playbooks/analyze.yml runs `analyze all` on the lab
server and fetches the files to the control machine.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass

from .. import build as builder, system
from .. import settings as lab_settings
from ..errors import LabError
from ..procs import processes_named

NAME = "analysis"
DESCRIPTION = "bpftrace syscall counts, uprobes on redis-server, perf flame graph (nothing stays attached)"
OPTIONS: dict = {}  # its commands (labctl analyze, labctl flamegraph) have their own
FLAMEGRAPH_CANDIDATES = ("/opt/disgrafs-lab/tools/flamegraph/node_modules/.bin/flamegraph",)
UNISTD = ("/usr/include/x86_64-linux-gnu/asm/unistd_64.h", "/usr/include/asm/unistd_64.h",
          "/usr/include/aarch64-linux-gnu/asm/unistd.h", "/usr/include/asm-generic/unistd.h")


def tools() -> dict:
    flame = shutil.which("flamegraph") or next((p for p in FLAMEGRAPH_CANDIDATES if os.path.exists(p)), None)
    return {"bpftrace": shutil.which("bpftrace"), "perf": shutil.which("perf"), "flamegraph": flame}


@dataclass
class Settings(lab_settings.ProgramSettings):
    PROGRAM = NAME
    pin_root: str = lab_settings.DEFAULT_PIN_ROOT
    build_dir: str = lab_settings.DEFAULT_BUILD_DIR
    source_dir: str = ""               # "": bpf/analysis/ (course mode: the student's workspace)


def load_settings(config_file: str | None = None, **overrides) -> Settings:
    return lab_settings.load(Settings, NAME, config_file, overrides)


def scripts_dir() -> str:
    return builder.source_dir(NAME)


def build(settings: Settings, force: bool = False):
    """bpftrace compiles its scripts when it runs: nothing to build ahead."""
    return scripts_dir(), False


def attach(settings: Settings) -> dict:
    raise LabError("analysis attaches nothing that stays: run `labctl analyze syscalls|uprobes|all` "
                   "or `labctl flamegraph`, which attach for --seconds and detach")


def detach(settings: Settings) -> dict:
    return {"changed": False, **status(settings)}


def status(_settings=None) -> dict:
    return {"name": NAME, "loaded": False, "attached": False, "tools": tools(),
            "note": "nothing stays attached: labctl analyze / labctl flamegraph run for --seconds"}


def describe(info: dict) -> str:
    return "analysis: " + ", ".join(f"{t} {p or 'MISSING'}" for t, p in info["tools"].items())


def metrics(settings: Settings):
    return iter(())


def need(tool: str) -> str:
    path = tools()[tool]
    if not path:
        hint = {"bpftrace": "apt-get install bpftrace (dnf install bpftrace)",
                "perf": "apt-get install linux-perf (Ubuntu: linux-tools-$(uname -r); dnf install perf)",
                "flamegraph": "npm install --prefix /opt/disgrafs-lab/tools/flamegraph flamegraph@1.3.0 "
                              "(the analysis role does it)"}[tool]
        raise LabError(f"{tool} not found: {hint}")
    return path


def syscall_names() -> dict[int, str]:
    for path in UNISTD:
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                return {int(m.group(2)): m.group(1) for m in
                        re.finditer(r"#define __NR3?2?_(\w+)\s+(\d+)\s*$", f.read(), re.M)}
    return {}


def find_pid(process: str) -> int:
    pids = processes_named(process)
    if not pids:
        raise LabError(f"no {process} process is running: start it, or pass --process NAME / --pid")
    if len(pids) > 1:
        raise LabError(f"several {process} processes ({', '.join(map(str, pids))}): choose one with --pid")
    return pids[0]


class Load:
    """A command run during a capture, stopped afterwards (bounded)."""

    def __init__(self, command: str | None):
        self.proc = None
        if command:
            self.proc = subprocess.Popen(shlex.split(command), stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL, start_new_session=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _bpftrace(script_text: str, *params: str, seconds: float) -> str:
    system.require_root()
    proc = subprocess.run([need("bpftrace"), "-e", script_text, *params], capture_output=True,
                          text=True, timeout=seconds + 120, check=False)
    if proc.returncode != 0:
        raise LabError(f"bpftrace failed: {proc.stderr.strip()[-800:]}")
    return proc.stdout


def syscalls(process: str, seconds: int, load: str | None = None) -> dict:
    """{syscall name: count} of the processes named `process`."""
    with open(os.path.join(scripts_dir(), "syscalls.bt"), encoding="utf-8") as f:
        script = f.read()
    with Load(load):
        out = _bpftrace(script, process[:15], str(seconds), seconds=seconds)
    names = syscall_names()
    counts = {names.get(int(n), f"syscall_{n}"): int(c)
              for n, c in re.findall(r"@syscalls\[(\d+)\]: (\d+)", out)}
    return {"process": process, "seconds": seconds,
            "syscalls": dict(sorted(counts.items(), key=lambda kv: -kv[1]))}


def uprobes(binary: str, seconds: int, load: str | None = None) -> dict:
    """Counts of redis-server's call(), readQueryFromClient(), writeToClient()
    and the latency histogram of call(), from uprobes on the binary."""
    given, binary = binary, os.path.realpath(binary)
    if not os.path.exists(binary):
        raise LabError(f"{binary} does not exist: pass --binary (the redis-server executable)")
    with open(os.path.join(scripts_dir(), "redis_uprobes.bt"), encoding="utf-8") as f:
        script = f.read().replace("REDIS_BINARY", binary).replace("SECONDS", str(int(seconds)))
    with Load(load):
        out = _bpftrace(script, seconds=seconds)
    # "binary": the path given (redis-server is often a link to redis-check-rdb,
    # the same executable); "resolved": what the uprobes attached to.
    result = {"binary": given, "resolved": binary, "seconds": seconds}
    for name in ("calls", "reads", "writes"):
        m = re.search(rf"@{name}: (\d+)", out)
        result[name] = int(m.group(1)) if m else 0
    result["call_us_histogram"] = histogram_buckets(out)
    result["text"] = out.strip()
    return result


def histogram_buckets(text: str) -> dict[str, int]:
    """bpftrace's hist() lines ("[2, 4)   17 |@@@   |", "[0]  3 |", "[1K, 2K) ...")
    as {"[2, 4)": 17, ...}, in order."""
    return {m.group(1): int(m.group(2)) for m in
            re.finditer(r"^(\[\d+[KMG]?(?:, \d+[KMG]?\))?\]?|\[\d+[KMG]?\])\s+(\d+) \|", text, re.M)}


def flamegraph(process: str, pid: int | None, seconds: int, out_dir: str,
               load: str | None = None, frequency: int = 99) -> dict:
    """perf record -g of one process, then an SVG flame graph."""
    system.require_root()
    perf, flame = need("perf"), need("flamegraph")
    pid = pid or find_pid(process)
    os.makedirs(out_dir, exist_ok=True)
    data = os.path.join(out_dir, "perf.data")
    script = os.path.join(out_dir, "perf.script.txt")
    svg = os.path.join(out_dir, "flamegraph.svg")
    with Load(load):
        proc = subprocess.run([perf, "record", "-F", str(frequency), "-g", "-p", str(pid), "-o", data,
                               "--", "sleep", str(seconds)], capture_output=True, text=True,
                              timeout=seconds + 120, check=False)
    if proc.returncode != 0:
        raise LabError(f"perf record failed: {proc.stderr.strip()[-800:]} (in a container: it needs "
                       "CAP_PERFMON or CAP_SYS_ADMIN; kernel.perf_event_paranoid may forbid it)")
    with open(script, "w", encoding="utf-8") as out:
        subprocess.run([perf, "script", "-i", data], stdout=out, stderr=subprocess.DEVNULL,
                       timeout=300, check=True)
    if os.path.getsize(script) == 0:
        raise LabError(f"perf recorded no samples of pid {pid} in {seconds} s: was it busy? "
                       "give it work during the capture (--load \"redis-benchmark -q -n 1000000\")")
    with open(script, encoding="utf-8") as src, open(svg, "w", encoding="utf-8") as out:
        proc = subprocess.run([flame, "-t", "perf"], stdin=src, stdout=out, stderr=subprocess.PIPE,
                              text=True, timeout=300, check=False)
    if proc.returncode != 0 or os.path.getsize(svg) == 0:
        raise LabError(f"the flame graph tool failed: {proc.stderr.strip()[-800:]}")
    samples = sum(1 for line in open(script, encoding="utf-8", errors="replace")
                  if line and not line[0].isspace() and line.strip())
    return {"pid": pid, "process": process, "seconds": seconds, "frequency_hz": frequency,
            "samples": samples, "perf_data": data, "perf_script": script, "svg": svg}


def analyze_all(process: str, binary: str, seconds: int, out_dir: str, load: str | None,
                pid: int | None = None) -> dict:
    os.makedirs(out_dir, exist_ok=True)
    summary = {"host": os.uname().nodename, "kernel": os.uname().release,
               "date": time.strftime("%Y-%m-%d %H:%M:%S"), "load": load}
    summary["syscalls"] = syscalls(process, seconds, load)
    summary["uprobes"] = uprobes(binary, seconds, load)
    summary["flamegraph"] = flamegraph(process, pid, seconds, out_dir, load)
    with open(os.path.join(out_dir, "syscalls.txt"), "w", encoding="utf-8") as f:
        for name, count in summary["syscalls"]["syscalls"].items():
            f.write(f"{name:<24}{count:>12}\n")
    with open(os.path.join(out_dir, "uprobes.txt"), "w", encoding="utf-8") as f:
        f.write(summary["uprobes"].pop("text") + "\n")
    with open(os.path.join(out_dir, "summary.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2)
    return summary


# ---------------------------------------------------------------- commands

def register(sub, parents) -> None:
    p = sub.add_parser("analyze", parents=parents[:1],
                       help="bpftrace syscall counts, redis uprobes, perf flame graph")
    p.add_argument("what", choices=("syscalls", "uprobes", "flamegraph", "all"))
    _options(p)
    p.set_defaults(handler=_cmd_analyze, program=NAME)
    p = sub.add_parser("flamegraph", parents=parents[:1], help="perf record + flame graph SVG")
    _options(p)
    p.set_defaults(handler=_cmd_analyze, what="flamegraph", program=NAME)


def _options(p) -> None:
    p.add_argument("--process", default="redis-server", help="process name (default %(default)s)")
    p.add_argument("--pid", type=int, help="flamegraph: this pid instead of --process")
    p.add_argument("--binary", default="/usr/bin/redis-server", help="uprobes: the executable")
    p.add_argument("--seconds", type=int, default=5, help="capture length (default %(default)s)")
    p.add_argument("--output", default="/var/lib/disgrafs-lab/analysis",
                   help="where files go (default %(default)s)")
    p.add_argument("--load", help="command run during each capture, e.g. "
                   "\"redis-benchmark -q -n 1000000 -t get\"")


def _cmd_analyze(_settings: Settings, args) -> int:
    if not 1 <= args.seconds <= 300:
        raise LabError("--seconds: 1 to 300")
    if args.what == "syscalls":
        result = syscalls(args.process, args.seconds, args.load)
    elif args.what == "uprobes":
        result = uprobes(args.binary, args.seconds, args.load)
    elif args.what == "flamegraph":
        result = flamegraph(args.process, args.pid, args.seconds, args.output, args.load)
    else:
        result = analyze_all(args.process, args.binary, args.seconds, args.output, args.load, args.pid)
    if args.json:
        print(json.dumps(result, indent=2))
    elif args.what == "syscalls":
        for name, count in result["syscalls"].items():
            print(f"{name:<24}{count:>12}")
    elif args.what == "uprobes":
        print(result["text"])
    elif args.what == "flamegraph":
        print(f"{result['samples']} samples of pid {result['pid']}: {result['svg']}")
    else:
        print(f"wrote {args.output}/summary.json, syscalls.txt, uprobes.txt, flamegraph.svg")
    sys.stdout.flush()
    return 0
