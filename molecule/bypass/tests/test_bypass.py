"""On the lab server: sockredir is built, pinned, attached to the lab's slice,
and really bypasses TCP for allowlisted ports (and only for those)."""

import json
import time

from conftest import PIN_DIR, cgroup2_root, labctl_status, out_segs, probe_in_slice

testinfra_hosts = ["ansible://lab_server"]

ALLOWED_PORT = 7687      # allowlisted (neo4j bolt); nothing listens there in this scenario
NOT_ALLOWED_PORT = 9399
BYPASS_MAX_SEGS = 50


def test_programs_and_maps_are_pinned(host):
    for name in ("progs/sockredir_ops", "progs/sockredir_msg", "maps/sock_hash",
                 "maps/allow_ports", "maps/stats"):
        assert host.file(f"{PIN_DIR}/{name}").exists, name


def test_sockops_is_attached_to_the_lab_slice(host):
    slice_cgroup = f"{cgroup2_root(host)}/disgrafs.slice"
    status = labctl_status(host)
    assert status["attached_cgroups"] == [slice_cgroup]
    assert status["allow_ports"] == [6379, 7687, 8080]
    # cross-check with the kernel, not only with labctl
    attached = json.loads(host.check_output(f"bpftool -j cgroup show {slice_cgroup}"))
    assert any(p["name"] == "sockredir_ops" and p["attach_type"].endswith("sock_ops")
               for p in attached)
    ops_id = json.loads(host.check_output(f"bpftool -j prog show pinned {PIN_DIR}/progs/sockredir_ops"))["id"]
    assert ops_id in [p["id"] for p in attached]


def test_boot_unit_and_slice_are_active(host):
    assert host.service("disgrafs-lab-sockredir.service").is_enabled
    assert host.service("disgrafs-lab-sockredir.service").is_running or \
        host.run("systemctl is-active disgrafs-lab-sockredir.service").stdout.strip() == "active"
    assert host.run("systemctl is-active disgrafs.slice").stdout.strip() == "active"


def test_allowlisted_connection_is_redirected(host, trace_pipe):
    before_counters = labctl_status(host)["counters"]
    before = out_segs(host)
    probe = probe_in_slice(host, ALLOWED_PORT, "100M")
    segs = out_segs(host) - before
    assert probe["received_sha256"] == probe["sent_sha256"]
    assert probe["received_bytes"] == 100 * 2**20
    assert segs < BYPASS_MAX_SEGS, f"{segs} TCP segments for 100 MB: not bypassed"
    counters = labctl_status(host)["counters"]
    assert counters["sockets_added"] - before_counters["sockets_added"] == 2
    assert counters["redirect_ok"] > before_counters["redirect_ok"]
    assert counters["redirect_bytes"] - before_counters["redirect_bytes"] >= 100 * 2**20
    deadline = time.monotonic() + 10
    wanted = ("op = 4", "op = 5", f"remote_port = {ALLOWED_PORT}", f"local_port = {ALLOWED_PORT}")
    while time.monotonic() < deadline:
        lines = trace_pipe()
        if all(any(w in l for l in lines) for w in wanted):
            break
        time.sleep(0.5)
    assert all(any(w in l for l in lines) for w in wanted), lines


def test_port_not_in_allowlist_is_not_redirected(host):
    before_counters = labctl_status(host)["counters"]
    before = out_segs(host)
    probe = probe_in_slice(host, NOT_ALLOWED_PORT, "20M")
    segs = out_segs(host) - before
    assert probe["received_sha256"] == probe["sent_sha256"]
    assert segs > 200, f"only {segs} segments for 20 MB: it was redirected"
    assert labctl_status(host)["counters"]["sockets_added"] == before_counters["sockets_added"]
