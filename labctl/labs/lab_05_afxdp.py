"""Lab 05: UDP packets straight to user space (XDP + an AF_XDP socket).

Starter: the XDP program returns XDP_PASS where it should hand the packet
to the AF_XDP socket in xsks_map: it builds, attaches, the receiver runs,
and receives nothing. The checks flood the server veth of a namespace pair
of the grader's own and count exactly.
"""

from __future__ import annotations

import json
import time
import uuid

from ..grading import Check, Env, Failed, Lab, attach_in, compiled, release_rig
from ..programs import afxdp

PROGRAM = "afxdp"
SOURCE = "afxdp"
FILES = ("afxdp.bpf.c", "afxdp.h", "afxdp_rx.c")
PORT, OTHER_PORT = 9200, 9201
FLOWS, PER_FLOW = 16, 250

STARTER = {
    "afxdp.bpf.c": [
        ("	ret = bpf_redirect_map(&xsks_map, queue, XDP_PASS);",
         "	/* TODO(lab 5): hand the packet to the AF_XDP socket bound to this\n"
         "	 * queue (xsks_map, falling back to XDP_PASS). For now: the stack. */\n"
         "	ret = XDP_PASS;"),
    ],
}


def _args(env: Env) -> list[str]:
    rig = env.extra["rig"]
    return ["--config", "", "--pin-root", env.extra["pin_root"], "--build-dir", env.build_dir,
            "--source-dir", env.workspace, "--run-dir", env.extra["run_dir"], "--interface", rig.server_if]


def _status(env: Env) -> dict:
    return json.loads(env.extra["rig"].labctl("status", PROGRAM, "--json", *_args(env)).stdout)[PROGRAM]


def prepare(env: Env) -> None:
    from labrigs.netlab import NetLab
    tag = uuid.uuid4().hex[:8]
    env.extra.update(pin_root=f"/sys/fs/bpf/grade05-{tag}", run_dir=f"/run/disgrafs-lab-grading/05-{tag}")
    env.extra["rig"] = NetLab("grade05")


def cleanup(env: Env) -> None:
    release_rig(env, lambda: env.extra["rig"].labctl("detach", PROGRAM, *_args(env)), "pin_root", "run_dir")


def check_builds(env: Env) -> str:
    settings = afxdp.Settings(build_dir=env.build_dir, source_dir=env.workspace)
    return compiled(afxdp.build(settings, force=True)[0], " and the receiver")


def check_attaches(env: Env) -> str:
    info = attach_in(env.extra["rig"], PROGRAM, "--mode", "native", "--port", str(PORT), *_args(env))
    if not (info["attached"] and info["receiver_pid"]):
        raise Failed(f"attached {info['attached']}, receiver {info['receiver_pid']}", "")
    return f"XDP on {info['interface']} ({info['mode']}), receiver pid {info['receiver_pid']}"


def _received(env: Env, expect: int, timeout: float = 10) -> int:
    deadline = time.monotonic() + timeout
    while _status(env)["receiver"].get("rx_packets", 0) < expect and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.3)  # anything extra would show up now
    return _status(env)["receiver"].get("rx_packets", 0)


def check_exact(env: Env) -> str:
    sent = env.extra["rig"].udp_send(PORT, FLOWS, PER_FLOW)
    got = _received(env, sent)
    counters = _status(env)["counters"]
    if got != sent or counters["redirected"] != sent:
        raise Failed(f"sent {sent} to port {PORT}; the AF_XDP receiver got {got}; counters {counters}",
                     "packets for the service must be redirected into xsks_map at this queue")
    return f"{got} of {sent} packets reached the AF_XDP socket, redirected {counters['redirected']}"


def check_others(env: Env) -> str:
    before = _status(env)["receiver"].get("rx_packets", 0)
    sent, received, _ = env.extra["rig"].udp_flood(OTHER_PORT, flows=5, per_flow=100, seconds=20)
    after = _status(env)["receiver"].get("rx_packets", 0)
    if received != sent or after != before:
        raise Failed(f"port {OTHER_PORT}: the kernel socket got {received} of {sent}; the AF_XDP receiver "
                     f"{after - before}", "only the service's port goes to the AF_XDP socket")
    return f"port {OTHER_PORT}: all {sent} packets reached the kernel stack, none the AF_XDP socket"


LAB = Lab(
    number=5, name="afxdp", title="UDP packets straight to user space (AF_XDP)",
    prepare=prepare, cleanup=cleanup,
    checks=[
        Check("builds", 2, "the XDP program (CO-RE) and the libxdp receiver compile", check_builds),
        Check("attaches", 2, "XDP attaches to the server's veth and the receiver starts", check_attaches,
              requires=("builds",)),
        Check("exact_count", 4, f"{FLOWS * PER_FLOW} UDP packets to port {PORT} all reach the AF_XDP receiver",
              check_exact, requires=("attaches",)),
        Check("others_pass", 2, f"packets to port {OTHER_PORT} reach the kernel stack, none the receiver",
              check_others, requires=("attaches",)),
    ])
