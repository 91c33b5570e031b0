"""Last check (marked `teardown`: molecule/conftest.py runs it after every
other check): playbooks/teardown-bpf-suite.yml removes every program of the
suite, changes nothing the second time, and leaves no trace in bpftool."""

import json

import pytest

from conftest import PIN_ROOT, lab_interface
from playbook_run import recap_changed, run_playbook

testinfra_hosts = ["ansible://lab_server"]
pytestmark = pytest.mark.teardown
PROGRAMS = ("redis_latency", "http_filter", "xdp_cpumap", "afxdp")


def test_teardown_removes_the_suite_and_is_idempotent(host):
    iface = lab_interface(host)
    ids = []
    for name in PROGRAMS:
        for prog in host.run(f"ls {PIN_ROOT}/{name}/progs").stdout.split():
            ids.append(json.loads(host.check_output(
                f"bpftool -j prog show pinned {PIN_ROOT}/{name}/progs/{prog}"))["id"])
    assert ids
    assert recap_changed(run_playbook("playbooks/teardown-bpf-suite.yml")) > 0
    assert recap_changed(run_playbook("playbooks/teardown-bpf-suite.yml")) == 0
    for name in PROGRAMS:
        assert not host.file(f"{PIN_ROOT}/{name}").exists, name
    live = {p["id"] for p in json.loads(host.check_output("bpftool -j prog show"))}
    assert not live & set(ids), "programs of the suite are still loaded"
    for unit in ("disgrafs-lab-redis-latency.service", "disgrafs-lab-exporter.service",
                 "disgrafs-lab-http-filter.service", "disgrafs-lab-xdp-cpumap.service",
                 "disgrafs-lab-afxdp.service"):
        assert not host.file(f"/etc/systemd/system/{unit}").exists
    assert '"xdp"' not in host.check_output(f"ip -j -d link show dev {iface}")
    status = json.loads(host.check_output("/usr/local/sbin/labctl status --json"))
    assert not any(status[name]["loaded"] for name in PROGRAMS)
