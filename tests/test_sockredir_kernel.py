"""sockredir on the real kernel: attach to a test cgroup, push data through a
connection inside a test network namespace, and check with the kernel's own
TCP counters that the bytes bypassed the TCP/IP stack."""

import glob
import os
import subprocess
import sys
import threading
import time

import pytest

from labctl import bpftool, system
from labctl.programs import sockredir
from labctl.errors import LabError

from lab_helpers import PROBE, run_probe

pytestmark = pytest.mark.kernel

PORT, OTHER_PORT = 9301, 9302
# 100 MB through TCP on loopback is thousands of segments; through the
# bypass only the handshake and FIN remain.
BYPASS_MAX_SEGS = 50


class TracePipe:
    """Collect trace_pipe lines of sockredir for a bounded time."""

    def __init__(self, seconds=15):
        path = os.path.join(system.tracefs_dir(), "trace_pipe")
        self.proc = subprocess.Popen(["timeout", str(seconds), "cat", path],
                                     stdout=subprocess.PIPE, text=True)
        self.lines = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        time.sleep(0.3)

    def _read(self):
        for line in self.proc.stdout:
            if "sockredir:" in line:
                self.lines.append(line.strip())

    def wait_for(self, *needles, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(any(n in line for line in self.lines) for n in needles):
                return True
            time.sleep(0.1)
        return False

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def test_allowlisted_connection_bypasses_tcp(sandbox):
    result = sockredir.attach(sandbox.settings(ports=[PORT]))
    assert result["changed"] is True
    assert result["attached_cgroups"] == [sandbox.cgroup]
    trace = TracePipe()
    try:
        before = sandbox.out_segs()
        probe = run_probe(sandbox, PORT, "100M")
        segs = sandbox.out_segs() - before
        # the sockops lines: active (op 4) and passive (op 5) established, with ports
        assert trace.wait_for("op = 4", "op = 5", f"remote_port = {PORT}",
                              f"local_port = {PORT}"), trace.lines
    finally:
        trace.stop()
    assert probe["received_sha256"] == probe["sent_sha256"]
    assert probe["received_bytes"] == 100 * 2**20
    assert segs < BYPASS_MAX_SEGS, f"{segs} TCP segments: data went through the stack"
    counters = sockredir.counters(sandbox.settings())
    assert counters["sockets_added"] == 2
    assert counters["redirect_ok"] > 0
    assert counters["redirect_bytes"] >= 100 * 2**20
    assert counters["redirect_failed"] == 0


def test_port_not_in_allowlist_uses_tcp(sandbox):
    sockredir.attach(sandbox.settings(ports=[PORT]))
    before = sandbox.out_segs()
    probe = run_probe(sandbox, OTHER_PORT, "20M")
    segs = sandbox.out_segs() - before
    assert probe["received_sha256"] == probe["sent_sha256"]
    assert segs > 200, f"only {segs} segments for 20 MB: it was redirected"
    counters = sockredir.counters(sandbox.settings())
    assert counters["sockets_added"] == 0 and counters["redirect_ok"] == 0


def test_dual_stack_listener_with_ipv4_client_is_redirected(sandbox):
    """An IPv6 listener sees the IPv4 client as ::ffff:127.0.0.1; both ends
    must still produce matching keys."""
    sockredir.attach(sandbox.settings(ports=[PORT]))
    before = sandbox.out_segs()
    probe = run_probe(sandbox, PORT, "20M", listen="dual")
    assert probe["received_sha256"] == probe["sent_sha256"]
    assert sandbox.out_segs() - before < BYPASS_MAX_SEGS
    assert sockredir.counters(sandbox.settings())["redirect_failed"] == 0


def test_process_outside_the_cgroup_is_not_redirected(sandbox):
    sockredir.attach(sandbox.settings(ports=[PORT]))
    before = sandbox.out_segs()
    # same probe, but without --cgroup: it stays in the test runner's cgroup
    out = sandbox.in_netns(sys.executable, PROBE, "--port", str(PORT),
                           "--bytes", "20M").stdout
    assert '"received_bytes": 20971520' in out
    assert sandbox.out_segs() - before > 200
    assert sockredir.counters(sandbox.settings())["sockets_added"] == 0


def test_connection_opened_before_attach_is_not_redirected(sandbox):
    """Documented limit: sockops sees a connection only when it is established."""
    # join the cgroup and open the connection first, then attach
    script = f"""
import os, socket, sys, time
open('{sandbox.cgroup}/cgroup.procs', 'w').write(str(os.getpid()))
srv = socket.create_server(('127.0.0.1', {PORT}))
cli = socket.create_connection(('127.0.0.1', {PORT}))
conn, _ = srv.accept()
print('ready', flush=True)
sys.stdin.readline()
data = b'x' * (1 << 20)
t = __import__('threading').Thread(target=lambda: [conn.recv(1 << 16) for _ in iter(int, 1)], daemon=True)
t.start()
for _ in range(20):
    cli.sendall(data)
print('sent', flush=True)
"""
    proc = subprocess.Popen(["nsenter", f"--net=/run/netns/{sandbox.netns}", sys.executable,
                             "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        sockredir.attach(sandbox.settings(ports=[PORT]))
        before = sandbox.out_segs()
        proc.stdin.write("go\n")
        proc.stdin.flush()
        assert proc.stdout.readline().strip() == "sent"
        assert sandbox.out_segs() - before > 100
        assert sockredir.counters(sandbox.settings())["sockets_added"] == 0
    finally:
        proc.kill()
        proc.wait()


def test_attach_is_idempotent_and_updates_ports(sandbox):
    settings = sandbox.settings(ports=[PORT])
    assert sockredir.attach(settings)["changed"] is True
    again = sockredir.attach(settings)
    assert again["changed"] is False
    moved = sockredir.attach(sandbox.settings(ports=[PORT, OTHER_PORT], trace=False))
    assert moved["changed"] is True
    assert moved["allow_ports"] == [PORT, OTHER_PORT]
    assert moved["trace"] is False
    # same programs, not a reload
    assert [p["id"] for p in moved["programs"]] == [p["id"] for p in again["programs"]]


def test_detach_leaves_nothing_behind(sandbox):
    settings = sandbox.settings(ports=[PORT])
    ids = [p["id"] for p in sockredir.attach(settings)["programs"]]
    assert sockredir.detach(settings)["changed"] is True
    assert sockredir.detach(settings)["changed"] is False
    assert not os.path.exists(settings.pin_dir)
    assert not os.path.exists(settings.pin_root)
    live = {p["id"] for p in bpftool.run("prog", "show")}
    assert not live & set(ids)
    assert bpftool.run("cgroup", "show", sandbox.cgroup) in (None, [])


def test_refuses_root_cgroup_and_leaves_nothing(sandbox):
    settings = sandbox.settings(cgroup=system.cgroup2_root())
    with pytest.raises(LabError, match="root cgroup"):
        sockredir.attach(settings)
    assert not os.path.exists(settings.pin_dir)


def test_missing_cgroup_is_a_clear_error(sandbox):
    settings = sandbox.settings(cgroup=sandbox.cgroup + "-missing")
    with pytest.raises(LabError, match="does not exist"):
        sockredir.attach(settings)
    assert not os.path.exists(settings.pin_dir)


def test_failed_attach_rolls_back(sandbox, monkeypatch):
    """If attaching to the cgroup fails after loading, nothing stays pinned."""
    real_run = bpftool.run

    def failing_cgroup_attach(*args, **kw):
        if args[:2] == ("cgroup", "attach"):
            raise LabError("injected failure")
        return real_run(*args, **kw)

    monkeypatch.setattr(bpftool, "run", failing_cgroup_attach)
    settings = sandbox.settings(ports=[PORT])
    with pytest.raises(LabError, match="injected"):
        sockredir.attach(settings)
    monkeypatch.undo()
    assert not os.path.exists(settings.pin_dir)


def test_broken_source_leaves_no_object(sandbox, tmp_path, monkeypatch):
    src = tmp_path / "src"
    (src / "sockredir").mkdir(parents=True)
    (src / "sockredir" / "sockredir.bpf.c").write_text("this is not C\n")
    monkeypatch.setenv("LABCTL_BPF_DIR", str(src))
    settings = sandbox.settings()
    with pytest.raises(LabError, match="compiling"):
        sockredir.build(settings)
    assert not os.path.exists(sockredir.object_path(settings))
    assert not glob.glob(sockredir.object_path(settings) + "*.tmp")
