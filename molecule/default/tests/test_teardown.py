"""Last check of the scenario: playbooks/teardown.yml detaches and unpins
everything, changes nothing the second time, and leaves no trace in bpftool."""

import json
import os
import subprocess

from conftest import PIN_DIR, cgroup2_root

testinfra_hosts = ["ansible://lab_server"]
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def run_teardown() -> str:
    proc = subprocess.run(
        ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"],
         f"{REPO}/playbooks/teardown.yml"],
        capture_output=True, text=True, check=False,
        env={**os.environ, "ANSIBLE_ROLES_PATH": f"{REPO}/roles",
             "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def recap_changed(output: str) -> int:
    return sum(int(part.split("=")[1]) for line in output.splitlines() if "changed=" in line
               for part in line.split() if part.startswith("changed="))


def test_teardown_detaches_everything_and_is_idempotent(host):
    ids = [json.loads(host.check_output(f"bpftool -j prog show pinned {PIN_DIR}/progs/{p}"))["id"]
           for p in ("sockredir_ops", "sockredir_msg")]
    first = run_teardown()
    assert recap_changed(first) > 0
    assert recap_changed(run_teardown()) == 0
    assert not host.file(PIN_DIR).exists
    assert not host.file("/sys/fs/bpf/disgrafs-lab").exists
    live = {p["id"] for p in json.loads(host.check_output("bpftool -j prog show"))}
    assert not live & set(ids), "our programs are still loaded"
    tree = json.loads(host.check_output(f"bpftool -j cgroup tree {cgroup2_root(host)}") or "[]")
    assert not [p for node in tree for p in node["programs"] if p["name"].startswith("sockredir")]
    assert not host.file("/etc/systemd/system/disgrafs-lab-sockredir.service").exists
    assert host.run("systemctl is-enabled disgrafs-lab-sockredir.service").rc != 0
