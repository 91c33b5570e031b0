#!/usr/bin/env python3
"""AF_XDP receiver vs a plain UDP socket receiver, packets per second, in one run.

A server and a client network namespace joined by a veth pair (nothing else
sees the traffic). Per round, both arms receive the same bounded blast of
64-byte UDP datagrams (C sendmmsg sender, exactly --packets of them), in
alternating order; the result per arm is the median over the rounds:

  socket  a C recvmmsg() receiver on a plain UDP socket (no XDP attached)
  afxdp   the lab's AF_XDP receiver (bpf/afxdp, copy mode, queue 0), its
          XSKMAP program attached by `labctl attach afxdp`

pps = datagrams received / time from the first to the last one received;
loss = sent - received. On a veth both arms get the packets from the same
sender, so the sender's rate bounds what either can show: it is reported.

Writes bench/results/afxdp.json and .md.
    python3 bench/afxdp.py [--rounds 5] [--packets 1000000] [--mode native]
"""

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

from labrigs.netlab import NetLab
from labrigs.results import require_root, save

PORT = 9200
ARMS = ("socket", "afxdp")


def build_udpbench(work: str) -> str:
    binary = os.path.join(work, "udpbench")
    subprocess.run(["gcc", "-O2", "-Wall", "-o", binary, os.path.join(HERE, "udpbench.c")], check=True)
    return binary


class Arms:
    def __init__(self, lab: NetLab, work: str, mode: str):
        self.lab, self.mode = lab, mode
        self.common = ["--config", "", "--pin-root", f"/sys/fs/bpf/dlbench-ax-{uuid.uuid4().hex[:6]}",
                       "--build-dir", os.path.join(work, "build"), "--run-dir", os.path.join(work, "run"),
                       "--interface", lab.server_if, "--port", str(PORT), "--mode", mode]

    def labctl(self, *args) -> dict:
        proc = subprocess.run(self.lab.server_argv(sys.executable, "-m", "labctl", *args, "--json",
                                                   *self.common),
                              capture_output=True, text=True, timeout=120,
                              env={**os.environ, "PYTHONPATH": REPO})
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr)
        return json.loads(proc.stdout)

    def receiver(self) -> dict:
        return self.labctl("status", "afxdp")["afxdp"]["receiver"]


def blast(lab: NetLab, binary: str, packets: int) -> dict:
    return json.loads(lab.client(binary, "send", lab.SERVER_IP, str(PORT), str(packets)).stdout)


def socket_arm(lab: NetLab, binary: str, packets: int) -> dict:
    sink = subprocess.Popen(lab.server_argv(binary, "sink", str(PORT), str(packets), "1000"),
                            stdout=subprocess.PIPE, text=True)
    try:
        assert sink.stdout.readline().strip() == "ready"
        sent = blast(lab, binary, packets)
        got = json.loads(sink.communicate(timeout=120)[0])
    finally:
        sink.kill()
        sink.wait()
    return {"received": got["received"], "seconds": got["seconds"], "sender_pps": sent["pps"]}


def afxdp_arm(lab: NetLab, binary: str, packets: int, arms: Arms) -> dict:
    arms.labctl("attach", "afxdp")
    try:
        sent = blast(lab, binary, packets)
        last, stable_since = -1, time.monotonic()
        while time.monotonic() - stable_since < 1.0:  # until the count stops moving
            rx = arms.receiver()
            if rx.get("rx_packets", 0) != last:
                last, stable_since = rx.get("rx_packets", 0), time.monotonic()
            time.sleep(0.1)
        rx = arms.receiver()
    finally:
        arms.labctl("detach", "afxdp")
    return {"received": rx["rx_packets"], "seconds": rx["seconds"], "sender_pps": sent["pps"],
            "kernel_rx_dropped": rx.get("rx_dropped", 0)}


def run(args) -> dict:
    work = tempfile.mkdtemp(prefix="dlbench-ax-")
    binary = build_udpbench(work)
    samples = {arm: [] for arm in ARMS}
    lab = NetLab("dlbench-ax")
    arms = Arms(lab, work, args.mode)
    try:
        for rnd in range(args.rounds):
            for arm in (ARMS if rnd % 2 == 0 else ARMS[::-1]):
                res = socket_arm(lab, binary, args.packets) if arm == "socket" else \
                    afxdp_arm(lab, binary, args.packets, arms)
                res["pps"] = res["received"] / res["seconds"] if res["seconds"] else 0
                res["loss"] = args.packets - res["received"]
                samples[arm].append(res)
                print(f"round {rnd + 1}/{args.rounds} {arm:>6}: {res['pps']:>10,.0f} pps received, "
                      f"{res['loss']:>8,} lost, sender {res['sender_pps']:>10,.0f} pps", flush=True)
    finally:
        try:
            arms.labctl("detach", "afxdp")
        except RuntimeError:
            pass
        lab.close()
        shutil.rmtree(work, ignore_errors=True)
    result = {arm: {"pps": round(statistics.median(s["pps"] for s in samples[arm])),
                    "loss": statistics.median(s["loss"] for s in samples[arm]),
                    "sender_pps": round(statistics.median(s["sender_pps"] for s in samples[arm]))}
              for arm in ARMS}
    return {"kernel": platform.release(), "cpus": os.cpu_count(), "rounds": args.rounds,
            "packets_per_arm": args.packets, "payload_bytes": 64, "xdp_mode": args.mode,
            "date": time.strftime("%Y-%m-%d %H:%M:%S"), "arms": result,
            "ratio_afxdp_over_socket_pps": round(result["afxdp"]["pps"] / result["socket"]["pps"], 3),
            "rounds_detail": samples}


def write_markdown(report: dict, path: str) -> None:
    r = report["arms"]
    lines = [f"# AF_XDP receiver vs plain UDP socket (kernel {report['kernel']}, {report['cpus']} CPUs, "
             f"veth, {report['xdp_mode']} XDP, copy mode; median of {report['rounds']} alternating rounds, "
             f"{report['packets_per_arm']:,} x 64 B datagrams per arm)", "",
             "| receiver | received pps | ratio | lost | sender pps |", "|---|---:|---:|---:|---:|"]
    for arm in ARMS:
        ratio = r[arm]["pps"] / r["socket"]["pps"] if r["socket"]["pps"] else 0
        lines.append(f"| {arm} | {r[arm]['pps']:,} | {ratio:.2f}x | {r[arm]['loss']:,.0f} | "
                     f"{r[arm]['sender_pps']:,} |")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--packets", type=int, default=1_000_000)
    ap.add_argument("--mode", choices=("native", "generic"), default="native")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    args = ap.parse_args()
    require_root()
    if args.packets > 10_000_000:
        sys.exit("bench: at most 10 million packets per arm (floods stay bounded)")
    report = run(args)
    save(report, args.out, "afxdp", write_markdown)


if __name__ == "__main__":
    main()
