"""Lab 03: an HTTP request filter (socket filter + a daemon that logs).

Starter: the socket filter keeps every packet (returns skb->len at once) and
counts nothing: it builds, loads, the daemon runs, and its log gets requests
to every port. The checks send known requests from a client namespace to a
server namespace (labrigs.httplab) and compare the log line by line.
"""

from __future__ import annotations

import os
import time
import uuid

from ..grading import Check, Env, Failed, Lab, attach_in, compiled, release_rig
from ..programs import http_filter

PROGRAM = "http_filter"
SOURCE = "http_filter"
FILES = ("http_filter.bpf.c", "http_filter.h")
PORT, OTHER_PORT = 8080, 8081
REQUESTS = [
    ["GET", "/", ""],
    ["GET", "/api/files?path=/docs/a%20b.txt&limit=5", ""],
    ["POST", "/api/upload?name=report.pdf", "x" * 3000],   # the body spans segments
    ["PUT", "/api/tags/42", '{"tag": "os"}'],
    ["DELETE", "/api/files/7", ""],
    ["HEAD", "/health", ""],
    ["PATCH", "/api/files/7", "name=b"],
]
ELSEWHERE = [["GET", "/not-the-disgrafs-port", ""]]

STARTER = {
    "http_filter.bpf.c": [
        ("	if (skb->pkt_type == PACKET_OUTGOING)\n		return 0;\n	port = ",
         "	/* TODO(lab 3): keep only the first segment of each HTTP request to the\n"
         "	 * port in http_cfg: drop outgoing packets, other protocols and ports,\n"
         "	 * segments without payload and payloads that start with no method;\n"
         "	 * count each request by method and its bytes (lab_stat_inc/add).\n"
         "	 * For now every packet is kept. */\n"
         "	return skb->len;\n"
         "	if (skb->pkt_type == PACKET_OUTGOING)\n		return 0;\n	port = "),
    ],
}


def _settings(env: Env) -> http_filter.Settings:
    rig = env.extra["rig"]
    return http_filter.Settings(interface=rig.lab.server_if, port=PORT, pin_root=env.extra["pin_root"],
                                build_dir=env.build_dir, source_dir=env.workspace,
                                run_dir=os.path.join(env.extra["tmp"], "run"),
                                log_file=os.path.join(env.extra["tmp"], "http.log"))


def _cli_args(s: http_filter.Settings) -> list[str]:
    return ["--config", "", "--interface", s.interface, "--port", str(s.port), "--pin-root", s.pin_root,
            "--build-dir", s.build_dir, "--source-dir", s.source_dir, "--run-dir", s.run_dir,
            "--log-file", s.log_file]


def prepare(env: Env) -> None:
    from labrigs.httplab import HttpLab
    tag = uuid.uuid4().hex[:8]
    env.extra.update(pin_root=f"/sys/fs/bpf/grade03-{tag}", tmp=f"/run/disgrafs-lab-grading/03-{tag}")
    env.extra["rig"] = HttpLab("grade03", ports=(PORT, OTHER_PORT))


def cleanup(env: Env) -> None:
    release_rig(env, lambda: env.extra["rig"].labctl("detach", PROGRAM, *_cli_args(_settings(env))),
                "pin_root", "tmp")


def check_builds(env: Env) -> str:
    return compiled(http_filter.build(_settings(env), force=True)[0])


def check_attaches(env: Env) -> str:
    info = attach_in(env.extra["rig"], PROGRAM, *_cli_args(_settings(env)),
                     hint="the program must load as a socket filter (SEC(\"socket\"))")
    if not info.get("attached"):
        raise Failed(f"the daemon does not hold the filter: {info}", "see the daemon's log")
    return f"socket filter on {info['interface']}, daemon pid {info['daemon_pid']}"


def check_requests(env: Env) -> str:
    rig, s = env.extra["rig"], _settings(env)
    rig.send(ELSEWHERE, port=OTHER_PORT)
    rig.send(REQUESTS)
    rig.records(s.log_file, wait_for=len(REQUESTS))
    time.sleep(0.5)  # anything logged late would be logged by now
    got = [(r["method"], r["url"], int(r["src"].rsplit(":", 1)[0] == rig.lab.CLIENT_IP))
           for r in rig.records(s.log_file)]
    want = [(m, u, 1) for m, u, _ in REQUESTS]
    if got != want:
        extra = [g for g in got if g not in want]
        missing = [w for w in want if w not in got]
        raise Failed(f"the log has {len(got)} lines for {len(want)} requests: "
                     f"unexpected {extra[:3]}, missing {missing[:3]}",
                     "one line per request to the DisGraFS port only: not other ports, not body segments, "
                     "not responses")
    return f"{len(got)} requests logged once each, exact method and URL; none for port {OTHER_PORT}"


def check_counts(env: Env) -> str:
    counters = http_filter.counters(_settings(env))
    want = {m: sum(1 for r in REQUESTS if r[0] == m) for m in http_filter.METHODS}
    got = {m: counters[m] for m in http_filter.METHODS}
    if got != want or counters["request_bytes"] <= 0:
        raise Failed(f"counters {counters}, want {want} and request_bytes > 0",
                     "count each request once, by method, in http_requests")
    return f"per-method counters {got}, request_bytes {counters['request_bytes']}"


LAB = Lab(
    number=3, name="http-filter", title="an HTTP request filter",
    prepare=prepare, cleanup=cleanup,
    checks=[
        Check("builds", 2, "the student's http_filter.bpf.c compiles", check_builds),
        Check("attaches", 2, "it loads as a socket filter and the daemon holds it on the server's interface",
              check_attaches, requires=("builds",)),
        Check("exact_requests", 4, f"{len(REQUESTS)} requests from the client appear in the log once each with "
              f"their exact method and URL; a request to port {OTHER_PORT} and every response do not",
              check_requests, requires=("attaches",)),
        Check("counts", 2, "the per-method counters equal the requests sent, request_bytes > 0",
              check_counts, requires=("attaches",)),
    ])
