"""Lab 01: the socket-redirect bypass (sockops + sk_msg).

Starter: sockredir_msg builds the peer's key with the remote port as the
kernel hands it (network order) while sockredir_ops stored host order, so
every lookup misses and nothing is redirected: it builds, loads, attaches,
and the data still goes through TCP. The checks run in a cgroup, network
namespace and pin root of the grader's own (labrigs.Sandbox), on the
student's build, and look at the kernel's TCP counters.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from ..grading import Check, Env, Failed, Lab, compiled, release_rig
from ..programs import sockredir

PROGRAM = "sockredir"
SOURCE = "sockredir"                   # bpf/sockredir/ holds the reference solution
FILES = ("sockredir.bpf.c", "sockredir.h")
PORT, OTHER_PORT = 18079, 18081        # ports no lab service uses
BYTES = "50M"
BYPASS_MAX_SEGS = 50                   # handshake + FIN: about 7; 50M through TCP: thousands

STARTER = {
    "sockredir.bpf.c": [
        ("	__u32 rport = remote_port_host(msg->remote_port);\n	__u32 size = msg->size;",
         "	/* TODO(lab 1): sockredir_ops stored the ports in HOST order. Which\n"
         "	 * order is msg->remote_port in? (see remote_port_host() above) */\n"
         "	__u32 rport = msg->remote_port;\n	__u32 size = msg->size;"),
    ],
}


def _settings(env: Env, **overrides) -> sockredir.Settings:
    box = env.extra["rig"]
    values = dict(cgroup=box.cgroup, pin_root=box.pin_root, build_dir=env.build_dir,
                  source_dir=env.workspace, ports=[PORT], trace=False)
    values.update(overrides)
    return sockredir.Settings(**values)


def _probe(env: Env, port: int) -> int:
    """Tcp OutSegs added by BYTES over one connection in the box (Failed if
    the data did not arrive intact)."""
    box = env.extra["rig"]
    probe = env.extra.get("tcp_probe") or os.path.join(os.path.dirname(_labrigs().__file__), "tcp_probe.py")
    before = box.out_segs()
    proc = subprocess.run(box.command(sys.executable, probe, "--port", str(port), "--bytes", BYTES),
                          capture_output=True, text=True, timeout=120, check=False)
    if proc.returncode != 0:
        raise Failed(f"the traffic probe failed: {proc.stderr.strip()[-300:]}",
                     "did the program drop data? sk_msg must always return SK_PASS")
    result = json.loads(proc.stdout)
    if result["sent_sha256"] != result["received_sha256"]:
        raise Failed(f"{BYTES} over port {port} arrived damaged (sha256 differs)",
                     "every byte must arrive once: sk_msg must always return SK_PASS")
    return box.out_segs() - before


def _labrigs():
    import labrigs  # the grading rigs: shipped beside labctl by the labctl role
    return labrigs


def prepare(env: Env) -> None:
    from labrigs.sandbox import Sandbox
    env.extra["rig"] = Sandbox("grade01", env.build_dir)


def cleanup(env: Env) -> None:
    release_rig(env, lambda: sockredir.detach(_settings(env)))


def check_builds(env: Env) -> str:
    return compiled(sockredir.build(_settings(env), force=True)[0], " (CO-RE)")


def check_attaches(env: Env) -> str:
    info = sockredir.attach(_settings(env))
    box = env.extra["rig"]
    if box.cgroup not in info["attached_cgroups"]:
        raise Failed(f"sockredir_ops is attached to {info['attached_cgroups'] or 'no cgroup'}",
                     "the sockops program must be attachable to a cgroup (SEC(\"sockops\"))")
    return f"sockops on {box.cgroup}, sk_msg on the sockhash"


def check_redirects(env: Env) -> str:
    segs = _probe(env, PORT)
    counters = sockredir.counters(_settings(env))
    if segs >= BYPASS_MAX_SEGS:
        raise Failed(f"{BYTES} over an allowlisted port added {segs} TCP segments (want < {BYPASS_MAX_SEGS}): "
                     f"not redirected; counters {counters}",
                     "sockets are added (sockets_added) but redirect_failed rises: the peer lookup misses. "
                     "Compare the key sockredir_msg builds with the one sockredir_ops stored (byte order)")
    return f"{BYTES} intact with {segs} TCP segments; redirect_ok {counters['redirect_ok']}"


def check_counters(env: Env) -> str:
    c = sockredir.counters(_settings(env))
    if c["sockets_added"] < 2 or c["redirect_bytes"] < 50 * 2**20:
        raise Failed(f"counters {c}: want both sockets added and >= 50 MiB redirect_bytes",
                     "count each socket added and each redirected byte (lab_stat_inc / lab_stat_add)")
    return f"sockets_added {c['sockets_added']}, redirect_bytes {c['redirect_bytes']}"


def check_allowlist(env: Env) -> str:
    segs = _probe(env, OTHER_PORT)
    if segs < 200:
        raise Failed(f"a port that is not allowlisted added only {segs} TCP segments: it was redirected too",
                     "only ports in allow_ports may be put in the sockhash")
    return f"port {OTHER_PORT} (not allowlisted) went through TCP: {segs} segments"


LAB = Lab(
    number=1, name="sockredir", title="the socket-redirect bypass",
    prepare=prepare, cleanup=cleanup,
    checks=[
        Check("builds", 2, "the student's sockredir.bpf.c compiles as CO-RE", check_builds,
              hint="read the compiler's message; make in the workspace shows the same"),
        Check("attaches", 2, "it loads, pins, and attaches to a cgroup and its sockhash", check_attaches,
              requires=("builds",)),
        Check("redirects", 4, f"{BYTES} over an allowlisted port add < {BYPASS_MAX_SEGS} TCP segments "
              "(Tcp OutSegs) and arrive with the same sha256", check_redirects, requires=("attaches",)),
        Check("counts", 1, "sockets_added >= 2 and redirect_bytes >= 50 MiB after the transfer",
              check_counters, requires=("redirects",)),
        Check("allowlist", 1, "a port outside the allowlist still goes through TCP (>= 200 segments), intact",
              check_allowlist, requires=("attaches",)),
    ])
