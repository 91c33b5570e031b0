"""Lab 04: spread UDP packets over CPUs by weight (XDP + CPUMAP).

Starter: the XDP program picks the CPU as key % 2 instead of looking the
slot up in cpu_slots (which labctl fills from the weights): it builds,
attaches and redirects, but ignores the weights. The checks attach it to the
server veth of a namespace pair of the grader's own (labrigs.netlab), flood
it from the client, and compare each CPU's share with its weight.
"""

from __future__ import annotations

import json
import uuid

from ..grading import Check, Env, Failed, Lab, attach_in, compiled, release_rig
from ..programs import xdp_cpumap

PROGRAM = "xdp_cpumap"
SOURCE = "xdp_cpumap"
FILES = ("xdp_cpumap.bpf.c", "xdp_cpumap.h")
PORT = 9100
WEIGHTS = {0: 1, 1: 3}
FLOWS, PER_FLOW = 2048, 10
TOLERANCE = 0.05  # |arrived share - weight share|, flow balancing over 2048 flows (sd ~1 pp)

STARTER = {
    "xdp_cpumap.bpf.c": [
        ("	slot = key % cfg->nslots;\n	cpu = bpf_map_lookup_elem(&cpu_slots, &slot);",
         "	/* TODO(lab 4): take the CPU from cpu_slots (labctl fills its cfg->nslots\n"
         "	 * entries from the weights: slot = key % cfg->nslots). For now every\n"
         "	 * other CPU, whatever the weights say. */\n"
         "	slot = key % 2;\n	cpu = &slot;"),
    ],
}


def _args(env: Env) -> list[str]:
    return ["--config", "", "--pin-root", env.extra["pin_root"], "--build-dir", env.build_dir,
            "--source-dir", env.workspace]


def _status(env: Env) -> dict:
    proc = env.extra["rig"].labctl("status", PROGRAM, "--json", *_args(env))
    return json.loads(proc.stdout)[PROGRAM]


def prepare(env: Env) -> None:
    from labrigs.netlab import NetLab
    if len(xdp_cpumap.online_cpus()) < 2:
        raise Failed(f"this host has {len(xdp_cpumap.online_cpus())} online CPU: spreading over CPUs needs 2",
                     "grade lab 4 on a server with 2 vCPUs")
    env.extra["pin_root"] = f"/sys/fs/bpf/grade04-{uuid.uuid4().hex[:8]}"
    env.extra["rig"] = NetLab("grade04")


def cleanup(env: Env) -> None:
    release_rig(env, lambda: env.extra["rig"].labctl("detach", PROGRAM, *_args(env)), "pin_root")


def check_builds(env: Env) -> str:
    settings = xdp_cpumap.Settings(build_dir=env.build_dir, source_dir=env.workspace)
    return compiled(xdp_cpumap.build(settings, force=True)[0], " (CO-RE)")


def check_attaches(env: Env) -> str:
    rig = env.extra["rig"]
    weights = ",".join(f"{c}:{w}" for c, w in WEIGHTS.items())
    info = attach_in(rig, PROGRAM, "--interface", rig.server_if, "--mode", "native", "--balance", "flow",
                     "--udp-port", str(PORT), "--weights", weights, *_args(env),
                     hint="both programs must load: SEC(\"xdp\") and SEC(\"xdp/cpumap\")")
    if not info["attached"]:
        raise Failed(f"not attached to {rig.server_if}", "")
    return f"XDP (native) on {info['interface']}, weights {info['weights']}"


def _flood(env: Env):
    if "flood" not in env.extra:
        env.extra["flood"] = env.extra["rig"].udp_flood(PORT, FLOWS, PER_FLOW)
    return env.extra["flood"]


def check_delivers(env: Env) -> str:
    sent, received, udp = _flood(env)
    if not sent == received == FLOWS * PER_FLOW or udp.get("InCsumErrors", 0):
        raise Failed(f"sent {sent}, the socket received {received}, InCsumErrors {udp.get('InCsumErrors')}",
                     "every balanced packet must still reach its socket (return the redirect's verdict)")
    return f"{received} of {sent} packets reached the socket, no checksum errors"


def check_shares(env: Env) -> str:
    _flood(env)
    info = _status(env)
    arrived = {int(c): n for c, n in info["counters"]["arrived_on_cpu"].items()}
    total = sum(arrived.values()) or 1
    wsum = sum(WEIGHTS.values())
    shares = {c: round(arrived.get(c, 0) / total, 3) for c in WEIGHTS}
    want = {c: round(w / wsum, 3) for c, w in WEIGHTS.items()}
    if any(abs(shares[c] - want[c]) > TOLERANCE for c in WEIGHTS):
        raise Failed(f"packets per CPU {arrived}: shares {shares}, weights want {want} (+-{TOLERANCE:.0%})",
                     "the CPU must come from cpu_slots, which labctl fills in proportion to the weights")
    return f"shares {shares} for weights {want}"


LAB = Lab(
    number=4, name="xdp-cpumap", title="UDP packets spread over CPUs by weight",
    prepare=prepare, cleanup=cleanup,
    checks=[
        Check("builds", 2, "the student's xdp_cpumap.bpf.c compiles as CO-RE", check_builds),
        Check("attaches", 2, "both programs load; XDP attaches to the server's veth (native) with weights 1:3",
              check_attaches, requires=("builds",)),
        Check("delivers", 2, f"a flood of {FLOWS * PER_FLOW} UDP packets all reach the socket, no checksum "
              "errors", check_delivers, requires=("attaches",)),
        Check("shares", 4, f"the packets each CPU processed follow the weights within {TOLERANCE:.0%}",
              check_shares, requires=("delivers",)),
    ])
