#!/usr/bin/env python3
"""Benchmark the sockredir bypass against plain TCP, in one run.

Everything runs in a private network namespace + cgroup + pin root (the lab
and other work on this kernel are untouched). Each round measures both arms,
baseline (plain TCP over loopback) and bypass (sockredir attached), in
alternating order; the result per case is the median over the rounds.

Cases:
  redis-benchmark SET and GET, -d 64/1024/16384, -c 50       (the lab's traffic)
  ping-pong over one connection, 1 B .. 64 KiB, TCP_NODELAY  (the lab's traffic)
  one-way stream of 1/16/128 KiB writes                       (bulk; NOT lab traffic:
                                                               the object store's port
                                                               is not allowlisted)

Writes bench/results/bypass.json, bypass.md and bypass.png.
    python3 bench/bypass.py [--rounds 3] [--seconds 1.5] [--requests 100000]
"""

import argparse
import csv
import io
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))

from labctl.programs import sockredir
from labrigs.sandbox import Sandbox
from labrigs.results import require_root, save

REDIS_PORT, PINGPONG_PORT, STREAM_PORT = 6379, 7687, 8333
REDIS_SIZES = (64, 1024, 16384)
PINGPONG_SIZES = (1, 64, 1024, 16384, 65536)
STREAM_SIZES = (1024, 16384, 131072)


def need(tool: str) -> str:
    path = shutil.which(tool)
    if not path:
        sys.exit(f"bench: {tool} not found (apt-get install redis-server redis-tools gcc)")
    return path


def build_tcpbench(out_dir: str) -> str:
    binary = os.path.join(out_dir, "tcpbench")
    subprocess.run([need("gcc"), "-O2", "-Wall", "-o", binary, os.path.join(HERE, "tcpbench.c")],
                   check=True)
    return binary


def redis_case(box: Sandbox, test: str, size: int, requests: int) -> dict:
    out = subprocess.run(
        box.command(need("redis-benchmark"), "-p", str(REDIS_PORT), "-t", test.lower(),
                    "-d", str(size), "-c", "50", "-n", str(requests), "--csv"),
        capture_output=True, text=True, check=True, timeout=300).stdout
    row = next(csv.DictReader(io.StringIO(out)))
    return {"value": float(row["rps"]), "p50_ms": float(row["p50_latency_ms"])}


def tcpbench_case(box: Sandbox, binary: str, mode: str, port: int, size: int,
                  seconds: float) -> dict:
    out = subprocess.run(box.command(binary, mode, str(port), str(size), str(seconds)),
                         capture_output=True, text=True, check=True, timeout=seconds + 60).stdout
    data = json.loads(out)
    value = data["ops_per_s"] if mode == "pingpong" else data["mb_per_s"]
    return {"value": value, "recv_calls": data["recv_calls"],
            "bytes_per_recv": round(data["bytes"] / max(1, data["recv_calls"]))}


def cases(args) -> list[tuple[str, str, str, callable]]:
    """(name, metric, group, run(box, binary))"""
    result = []
    for size in REDIS_SIZES:
        for test in ("SET", "GET"):
            result.append((f"redis {test} -d {size}", "requests/s", "lab traffic",
                           lambda box, _b, t=test, s=size: redis_case(box, t, s, args.requests)))
    for size in PINGPONG_SIZES:
        result.append((f"ping-pong {size} B", "round trips/s", "lab traffic",
                       lambda box, b, s=size: tcpbench_case(box, b, "pingpong", PINGPONG_PORT,
                                                            s, args.seconds)))
    for size in STREAM_SIZES:
        result.append((f"stream {size // 1024} KiB writes", "MB/s", "bulk (not redirected in the lab)",
                       lambda box, b, s=size: tcpbench_case(box, b, "stream", STREAM_PORT,
                                                            s, args.seconds)))
    return result


def run(args) -> dict:
    work = tempfile.mkdtemp(prefix="dlbench-")
    binary = build_tcpbench(work)
    all_cases = cases(args)
    samples = {name: {"baseline": [], "bypass": []} for name, *_ in all_cases}
    extra = {name: {"baseline": [], "bypass": []} for name, *_ in all_cases}
    with Sandbox("dlbench", os.path.join(work, "build")) as box:
        settings = box.settings(ports=[REDIS_PORT, PINGPONG_PORT, STREAM_PORT], trace=False)
        sockredir.build(settings)
        redis = subprocess.Popen(box.command(need("redis-server"), "--port", str(REDIS_PORT),
                                             "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                             "--daemonize", "no", "--logfile", ""),
                                 stdout=subprocess.DEVNULL)
        try:
            time.sleep(0.5)
            for rnd in range(args.rounds):
                # alternate which arm goes first, so drift hurts both equally
                arms = ("baseline", "bypass") if rnd % 2 == 0 else ("bypass", "baseline")
                for arm in arms:
                    if arm == "bypass":
                        sockredir.attach(settings)
                    else:
                        sockredir.detach(settings)
                    for name, _metric, _group, fn in all_cases:
                        res = fn(box, binary)
                        samples[name][arm].append(res.pop("value"))
                        extra[name][arm].append(res)
                        print(f"round {rnd + 1}/{args.rounds} {arm:>8} {name:<28} "
                              f"{samples[name][arm][-1]:>12.1f}", flush=True)
                    if arm == "bypass":
                        counters = sockredir.counters(settings)
                        if counters["redirect_ok"] == 0:
                            sys.exit("bench: the bypass arm redirected nothing: aborting")
                        sockredir.detach(settings)
        finally:
            redis.terminate()
            redis.wait(timeout=10)
    shutil.rmtree(work, ignore_errors=True)

    results = []
    for name, metric, group, _fn in all_cases:
        base = statistics.median(samples[name]["baseline"])
        byp = statistics.median(samples[name]["bypass"])
        results.append({"case": name, "metric": metric, "group": group,
                        "baseline": round(base, 2), "bypass": round(byp, 2),
                        "ratio": round(byp / base, 3) if base else None,
                        "rounds": samples[name], "details": extra[name]})
    return {"kernel": platform.release(), "cpus": os.cpu_count(), "rounds": args.rounds,
            "seconds_per_tcpbench": args.seconds, "redis_requests": args.requests,
            "date": time.strftime("%Y-%m-%d %H:%M:%S"), "cases": results}


def write_markdown(report: dict, path: str) -> None:
    lines = [f"# sockredir bypass vs plain TCP (kernel {report['kernel']}, {report['cpus']} CPUs, "
             f"median of {report['rounds']} interleaved rounds)", "",
             "| case | group | metric | baseline | bypass | ratio |", "|---|---|---|---:|---:|---:|"]
    for c in report["cases"]:
        lines.append(f"| {c['case']} | {c['group']} | {c['metric']} | {c['baseline']:,.1f} | "
                     f"{c['bypass']:,.1f} | {c['ratio']:.2f}x |")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def write_chart(report: dict, path: str) -> None:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("bench: matplotlib missing, no chart (pip install '.[bench]')")
        return
    cases = report["cases"][::-1]  # first case on top
    positions = range(len(cases))
    fig, ax = plt.subplots(figsize=(9, 6))
    ax.barh(positions, [c["ratio"] for c in cases],
            color=["tab:green" if c["group"] == "lab traffic" else "tab:gray" for c in cases])
    ax.set_yticks(list(positions), [c["case"] for c in cases])
    ax.axvline(1.0, color="black", linewidth=1)
    ax.set_xlabel("bypass / baseline (higher is better)")
    ax.set_title(f"sockredir bypass, kernel {report['kernel']}, median of {report['rounds']} rounds\n"
                 "green: lab traffic (redirected); gray: bulk stream (not allowlisted in the lab)")
    for y, c in zip(positions, cases):
        ax.text(c["ratio"], y, f" {c['ratio']:.2f}x", va="center")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=1.5, help="duration of each tcpbench run")
    ap.add_argument("--requests", type=int, default=100000, help="redis-benchmark -n")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    args = ap.parse_args()
    require_root("it loads eBPF programs in a private sandbox")
    report = run(args)
    save(report, args.out, "bypass", write_markdown)
    write_chart(report, os.path.join(args.out, "bypass.png"))


if __name__ == "__main__":
    main()
