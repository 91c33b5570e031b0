"""Last check of the scenario (marked `teardown`: molecule/conftest.py runs it
after every other check): playbooks/teardown.yml detaches and unpins
everything, changes nothing the second time, and leaves no trace in bpftool."""

import json

import pytest

from conftest import PIN_DIR, cgroup2_root
from playbook_run import recap_changed, run_playbook

testinfra_hosts = ["ansible://lab_server"]
pytestmark = pytest.mark.teardown


def test_teardown_detaches_everything_and_is_idempotent(host):
    ids = [json.loads(host.check_output(f"bpftool -j prog show pinned {PIN_DIR}/progs/{p}"))["id"]
           for p in ("sockredir_ops", "sockredir_msg")]
    first = run_playbook("playbooks/teardown.yml")
    assert recap_changed(first) > 0
    assert recap_changed(run_playbook("playbooks/teardown.yml")) == 0
    assert not host.file(PIN_DIR).exists
    assert not host.file("/sys/fs/bpf/disgrafs-lab").exists
    live = {p["id"] for p in json.loads(host.check_output("bpftool -j prog show"))}
    assert not live & set(ids), "our programs are still loaded"
    tree = json.loads(host.check_output(f"bpftool -j cgroup tree {cgroup2_root(host)}") or "[]")
    assert not [p for node in tree for p in node["programs"] if p["name"].startswith("sockredir")]
    assert not host.file("/etc/systemd/system/disgrafs-lab-sockredir.service").exists
    assert host.run("systemctl is-enabled disgrafs-lab-sockredir.service").rc != 0
