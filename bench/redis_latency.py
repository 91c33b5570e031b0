#!/usr/bin/env python3
"""What the redis latency monitor costs redis-server, in one run.

A private redis-server in a private network namespace (nothing else talks
to it; the lab is untouched). Each round measures every arm, in rotating
order; the result per arm is the median over the rounds:

  baseline   nothing attached
  hook-only  an empty tp_btf/sys_exit program (the floor: the syscall slow
             path that any syscall-tracepoint monitor switches on)
  monitor    redis_latency attached to the redis-server

Per arm: redis-server CPU time per request (from /proc/PID/task/*/schedstat,
nanoseconds, all threads) and requests per second (redis-benchmark SET and
GET, -c 50, no pipelining). redis-server and redis-benchmark are pinned to
different CPUs when there are two. The monitor arm also checks that the
monitor counted exactly the requests sent.

Writes bench/results/redis_latency.json and .md.
    python3 bench/redis_latency.py [--rounds 5] [--requests 100000]
"""

import argparse
import csv
import io
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))

from labctl import bpfsys, build, pins
from labctl.programs import redis_latency
from labrigs.netlab import NetLab
from labrigs.results import require_root, save

PORT = 6399
ARMS = ("baseline", "hook-only", "monitor")


def need(tool: str) -> str:
    path = shutil.which(tool)
    if not path:
        sys.exit(f"bench: {tool} not found (apt-get install redis-server redis-tools)")
    return path


def cpu_ns(pid: int) -> int:
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/schedstat", encoding="utf-8") as f:
            total += int(f.read().split()[0])
    return total


def pin(cpu: int | None) -> list[str]:
    return ["taskset", "-c", str(cpu)] if cpu is not None and shutil.which("taskset") else []


class HookOnly:
    def __init__(self, pin_root: str, build_dir: str):
        self.pins = pins.Pins(pin_root, "noop")
        obj, _ = build.kernel_side("noop", build_dir, source=os.path.join(HERE, "noop_sys_exit.bpf.c"))
        pins.loadall(obj, self.pins)

    def attach(self):
        os.makedirs(self.pins.links, exist_ok=True)
        bpfsys.attach_pinned_tracepoint(self.pins.prog("noop_sys_exit"), self.pins.link("l"))

    def detach(self):
        if os.path.exists(self.pins.link("l")):
            os.remove(self.pins.link("l"))

    def close(self):
        self.detach()
        shutil.rmtree(self.pins.dir, ignore_errors=True)


def bench_once(lab: NetLab, pid: int, requests: int, client_cpu) -> dict:
    before = cpu_ns(pid)
    out = subprocess.run(lab.server_argv(*pin(client_cpu), need("redis-benchmark"), "-p", str(PORT),
                                         "-t", "set,get", "-n", str(requests), "-c", "50", "--csv"),
                         capture_output=True, text=True, check=True, timeout=600).stdout
    used = cpu_ns(pid) - before
    rows = {r["test"]: float(r["rps"]) for r in csv.DictReader(io.StringIO(out))}
    return {"cpu_ns_per_request": used / (2 * requests), "set_rps": rows["SET"], "get_rps": rows["GET"]}


def run(args) -> dict:
    work = tempfile.mkdtemp(prefix="dlbench-rl-")
    pin_root = f"/sys/fs/bpf/dlbench-rl-{os.getpid()}"
    cpus = os.sched_getaffinity(0)
    server_cpu, client_cpu = (max(cpus), min(cpus)) if len(cpus) >= 2 else (None, None)
    samples = {arm: [] for arm in ARMS}
    checks = []
    settings = redis_latency.Settings(pin_root=pin_root, build_dir=os.path.join(work, "build"))
    lab = NetLab("dlbench-rl")
    redis = hook = None
    try:
        redis = subprocess.Popen(lab.server_argv(*pin(server_cpu), need("redis-server"), "--port", str(PORT),
                                                 "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                                 "--logfile", ""), stdout=subprocess.DEVNULL)
        time.sleep(0.5)
        pid = redis.pid if not pin(server_cpu) else int(subprocess.run(
            ["pgrep", "-f", f"redis-server 127.0.0.1:{PORT}"], capture_output=True, text=True).stdout.split()[0])
        settings.pid = pid
        hook = HookOnly(pin_root, settings.build_dir)
        redis_latency.build(settings)
        bench_once(lab, pid, min(args.requests, 20000), client_cpu)  # warm-up
        for rnd in range(args.rounds):
            order = ARMS[rnd % 3:] + ARMS[:rnd % 3]
            for arm in order:
                if arm == "hook-only":
                    hook.attach()
                elif arm == "monitor":
                    redis_latency.attach(settings)
                    redis_latency.reset(settings)
                try:
                    res = bench_once(lab, pid, args.requests, client_cpu)
                    if arm == "monitor":
                        counts = {c: h["count"] for c, h in redis_latency.histograms(settings).items()}
                        checks.append({"SET": counts.get("SET", 0), "GET": counts.get("GET", 0),
                                       "sent_each": args.requests})
                finally:
                    hook.detach()
                    redis_latency.detach(settings)
                samples[arm].append(res)
                print(f"round {rnd + 1}/{args.rounds} {arm:>9}: {res['cpu_ns_per_request']:8.0f} ns CPU/request, "
                      f"SET {res['set_rps']:9.0f}/s GET {res['get_rps']:9.0f}/s", flush=True)
    finally:
        if redis:
            redis.terminate()
            redis.wait(timeout=10)
        if hook:
            hook.close()
        redis_latency.detach(settings)
        shutil.rmtree(pin_root, ignore_errors=True)
        lab.close()
        shutil.rmtree(work, ignore_errors=True)

    def med(arm, key):
        return statistics.median(s[key] for s in samples[arm])

    result = {}
    for arm in ARMS:
        result[arm] = {k: round(med(arm, k), 1) for k in ("cpu_ns_per_request", "set_rps", "get_rps")}
    base = result["baseline"]
    ratios = {arm: {"cpu_per_request": round(result[arm]["cpu_ns_per_request"] / base["cpu_ns_per_request"], 3),
                    "set_rps": round(result[arm]["set_rps"] / base["set_rps"], 3),
                    "get_rps": round(result[arm]["get_rps"] / base["get_rps"], 3)}
              for arm in ARMS if arm != "baseline"}
    exact = all(c["SET"] == c["sent_each"] and c["GET"] == c["sent_each"] for c in checks)
    return {"kernel": platform.release(), "cpus": os.cpu_count(), "rounds": args.rounds,
            "requests_per_test": args.requests, "clients": 50, "pinned_cpus":
            {"redis-server": server_cpu, "redis-benchmark": client_cpu},
            "date": time.strftime("%Y-%m-%d %H:%M:%S"), "arms": result, "ratios": ratios,
            "monitor_counts_exact": exact, "monitor_counts": checks, "rounds_detail": samples,
            "prototype_for_comparison": "bcc sys_enter/exit_read/write prototype: 1.29-1.36x CPU/request"}


def write_markdown(report: dict, path: str) -> None:
    r, q = report["arms"], report["ratios"]
    lines = [f"# redis latency monitor: cost to redis-server (kernel {report['kernel']}, "
             f"{report['cpus']} CPUs, median of {report['rounds']} rotating rounds, "
             f"{report['requests_per_test']:,} SET + GET each, -c 50)", "",
             "| arm | CPU ns / request | ratio | SET req/s | ratio | GET req/s | ratio |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for arm in ARMS:
        ratio = q.get(arm, {"cpu_per_request": 1.0, "set_rps": 1.0, "get_rps": 1.0})
        lines.append(f"| {arm} | {r[arm]['cpu_ns_per_request']:,.0f} | {ratio['cpu_per_request']:.3f}x | "
                     f"{r[arm]['set_rps']:,.0f} | {ratio['set_rps']:.3f}x | {r[arm]['get_rps']:,.0f} | "
                     f"{ratio['get_rps']:.3f}x |")
    lines += ["", f"Monitor counted exactly what was sent in every round: {report['monitor_counts_exact']}.",
              "hook-only = an empty tp_btf/sys_exit program: the floor any syscall-tracepoint monitor pays."]
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--requests", type=int, default=100000, help="redis-benchmark -n (per test)")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    args = ap.parse_args()
    require_root()
    report = run(args)
    save(report, args.out, "redis_latency", write_markdown)


if __name__ == "__main__":
    main()
