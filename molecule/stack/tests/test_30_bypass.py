"""With the socket-redirect bypass attached to disgrafs.slice, the JuiceFS
client <-> Redis and DisGraFS <-> Neo4j connections are redirected (sockhash,
counters and trace_pipe show it) and the file workload still verifies."""

import time

from conftest import SAMPLES, labctl_status, seconds, sockhash_ports, workload

# No parametrized `host` fixture here: pytest would reorder the tests around
# it, and these must run in file order. `server` is the lab server.

TRACE_UNIT = "dgf-trace-pipe"


def start_trace(server):
    """Collect trace_pipe (global to the kernel) for a bounded time."""
    server.run(f"systemctl stop {TRACE_UNIT}; systemctl reset-failed {TRACE_UNIT}; rm -f /tmp/{TRACE_UNIT}.txt")
    server.check_output(
        f"systemd-run --quiet --unit={TRACE_UNIT} -p StandardOutput=file:/tmp/{TRACE_UNIT}.txt "
        f"timeout 120 cat /sys/kernel/tracing/trace_pipe")
    time.sleep(0.5)


def trace_lines(server):
    return [line for line in server.run(f"cat /tmp/{TRACE_UNIT}.txt").stdout.splitlines()
            if "sockredir:" in line]


def stop_trace(server):
    server.run(f"systemctl stop {TRACE_UNIT}; rm -f /tmp/{TRACE_UNIT}.txt")


def test_the_bypass_is_attached_to_the_stack_slice(server):
    status = labctl_status(server)
    assert any(c.endswith("/disgrafs.slice") for c in status["attached_cgroups"]), status
    assert {6379, 7687} <= set(status["allow_ports"])


def test_stack_connections_are_in_the_sockhash(server):
    pairs = sockhash_ports(server)
    # both ends of JuiceFS -> Redis and of DisGraFS -> Neo4j are ours
    for port in (6379, 7687):
        assert any(r == port for _, r in pairs), f"no client socket to {port} in the sockhash: {pairs}"
        assert any(l == port for l, _ in pairs), f"no server socket on {port} in the sockhash: {pairs}"


def test_new_connections_are_redirected_and_the_workload_verifies(server, tester, settings, files):
    start_trace(server)
    try:
        before = labctl_status(server)["counters"]
        # new connections: the mount (-> Redis) and, with it, DisGraFS (-> Neo4j)
        server.check_output("systemctl restart juicefs-disgrafs.service")
        server.check_output("systemctl restart disgrafs.service")
        workload(tester, "health", settings["url"], "--timeout", seconds(180))
        # the workload again, through redirected connections
        workload(tester, "purge", settings["url"], settings["token"], "lab-notes-2.txt")
        tester.check_output(f"rm -rf /var/tmp/dgf-one && mkdir -p /var/tmp/dgf-one && "
                            f"cp {SAMPLES}/lab-notes.txt /var/tmp/dgf-one/lab-notes-2.txt")
        up = workload(tester, "upload", settings["url"], settings["token"], "/var/tmp/dgf-one")
        rec = up["lab-notes-2.txt"]
        assert rec["sha256"] == files.sha["lab-notes.txt"]
        tagged = workload(tester, "wait", settings["url"], rec["id"], "--timeout", seconds(120))
        assert tagged[rec["id"]]["tag_status"] == "done"
        got = workload(tester, "download", settings["url"], rec["id"])
        assert got[rec["id"]]["sha256"] == files.sha["lab-notes.txt"]
        assert workload(tester, "delete", settings["url"], settings["token"], rec["id"])["status"] == 204
        after = labctl_status(server)["counters"]
        assert after["sockets_added"] > before["sockets_added"]
        assert after["redirect_ok"] > before["redirect_ok"]
        assert after["redirect_bytes"] > before["redirect_bytes"]
        deadline = time.monotonic() + 15
        wanted = ["remote_port = 6379", "local_port = 6379", "remote_port = 7687", "local_port = 7687"]
        while time.monotonic() < deadline:
            lines = trace_lines(server)
            if all(any(w in line for line in lines) for w in wanted):
                break
            time.sleep(1)
        missing = [w for w in wanted if not any(w in line for line in lines)]
        assert not missing, f"trace_pipe lacks {missing}; sockredir lines: {lines[:20]}"
    finally:
        stop_trace(server)
        tester.run("rm -rf /var/tmp/dgf-one")
