"""Lab 06: a per-command latency monitor for redis-server (BTF tracepoints).

Starter: on_write() files every reply under one key "ALL" instead of the
command on_read() parsed: it builds, attaches and counts, but there are no
per-command histograms. The checks run a private redis-server in a network
namespace of the grader's own (labrigs.redislab), send a known mix of
commands, and compare each command's histogram with redis's own
INFO commandstats.
"""

from __future__ import annotations

import uuid

from ..grading import Check, Env, Failed, Lab, compiled, release_rig
from ..programs import redis_latency

PROGRAM = "redis_latency"
SOURCE = "redis_latency"
FILES = ("redis_latency.bpf.c", "redis_latency.h")
PORT = 6393
WORKLOAD = {"SET": 3000, "GET": 2000, "INCR": 1000}

STARTER = {
    "redis_latency.bpf.c": [
        ("	p->start_ns = 0;\n	v = bpf_map_lookup_elem(&rl_latency, &p->key);",
         "	p->start_ns = 0;\n"
         "	/* TODO(lab 6): one histogram per command: p->key holds the command\n"
         "	 * that on_read() parsed. For now every reply is filed under \"ALL\". */\n"
         "	__builtin_memset(&p->key, 0, sizeof(p->key));\n"
         "	__builtin_memcpy(p->key.name, \"ALL\", 3);\n"
         "	v = bpf_map_lookup_elem(&rl_latency, &p->key);"),
    ],
}


def _settings(env: Env) -> redis_latency.Settings:
    return redis_latency.Settings(pid=env.extra["rig"].pid, pin_root=env.extra["pin_root"],
                                  build_dir=env.build_dir, source_dir=env.workspace)


def prepare(env: Env) -> None:
    from labrigs.redislab import RedisLab
    env.extra["pin_root"] = f"/sys/fs/bpf/grade06-{uuid.uuid4().hex[:8]}"
    env.extra["rig"] = RedisLab("grade06", PORT)


def cleanup(env: Env) -> None:
    release_rig(env, lambda: redis_latency.detach(_settings(env)), "pin_root")


def check_builds(env: Env) -> str:
    return compiled(redis_latency.build(_settings(env), force=True)[0], " (CO-RE)")


def check_attaches(env: Env) -> str:
    info = redis_latency.attach(_settings(env))
    if not info["attached"] or info["target_pid"] != env.extra["rig"].pid:
        raise Failed(f"attached {info['attached']}, monitoring pid {info['target_pid']}",
                     "both tp_btf programs must attach (SEC(\"tp_btf/...\"))")
    return f"{info['attach_point']}, monitoring redis-server pid {info['target_pid']}"


def _run_workload(env: Env) -> dict:
    """Send WORKLOAD once (after a CONFIG RESETSTAT); redis's own counts."""
    rig = env.extra["rig"]
    if "stats" not in env.extra:
        rig.cli("config", "resetstat")
        for cmd, n in WORKLOAD.items():
            rig.bench("-t", cmd.lower(), "-n", str(n), "-c", "4")
        env.extra["stats"] = rig.commandstats()
    return env.extra["stats"]


def check_per_command(env: Env) -> str:
    stats = _run_workload(env)
    hists = redis_latency.histograms(_settings(env))
    got = {cmd: hists.get(cmd, {}).get("count", 0) for cmd in WORKLOAD}
    want = {cmd: stats.get(cmd, 0) for cmd in WORKLOAD}
    if got != want:
        raise Failed(f"histogram counts {got} (keys {sorted(hists)[:6]}), redis INFO commandstats {want}",
                     "key rl_latency by the command name parsed from the request")
    return f"per-command counts equal INFO commandstats: {got}"


def check_buckets(env: Env) -> str:
    _run_workload(env)
    hists = redis_latency.histograms(_settings(env))
    for cmd in WORKLOAD:
        h = hists.get(cmd)
        if not h or sum(h["buckets"]) != h["count"] or not 1000 < h["sum_ns"] / h["count"] < 1e9:
            raise Failed(f"{cmd}: {h and {k: h[k] for k in ('count', 'sum_ns')}}, bucket sum "
                         f"{h and sum(h['buckets'])}",
                         "each reply adds 1 to count and to one log2 bucket, and its latency to sum_ns")
    p50 = {cmd: redis_latency.summary(hists)[cmd]["p50_us"] for cmd in WORKLOAD}
    return f"buckets add up to the counts; p50 us {p50}"


LAB = Lab(
    number=6, name="redis-latency", title="a redis per-command latency monitor",
    prepare=prepare, cleanup=cleanup,
    checks=[
        Check("builds", 2, "the student's redis_latency.bpf.c compiles as CO-RE", check_builds),
        Check("attaches", 2, "both tp_btf programs attach and target the grader's redis-server",
              check_attaches, requires=("builds",)),
        Check("per_command", 4, f"histogram counts for {', '.join(WORKLOAD)} equal redis's own "
              "INFO commandstats after a known workload", check_per_command, requires=("attaches",)),
        Check("buckets", 2, "each command's log2 buckets sum to its count; mean latency 1 us..1 s",
              check_buckets, requires=("per_command",)),
    ])
