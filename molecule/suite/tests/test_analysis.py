"""playbooks/analyze.yml: bpftrace syscall counts and uprobes on redis-server,
perf + flame graph on the server, fetched to the control machine."""

import json
import os
import subprocess

from conftest import REPO

testinfra_hosts = ["ansible://lab_server"]


def test_analyze_playbook_fetches_syscalls_uprobes_and_a_flame_graph(host, tmp_path):
    proc = subprocess.run(
        ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], f"{REPO}/playbooks/analyze.yml",
         "-e", f"analysis_fetch_dir={tmp_path}", "-e", "analysis_seconds=3"],
        capture_output=True, text=True, check=False,
        env={**os.environ, "ANSIBLE_ROLES_PATH": f"{REPO}/roles", "ANSIBLE_NOCOLOR": "1"})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    got = tmp_path / host.backend.host  # one folder per host: its inventory name
    summary = json.loads((got / "summary.json").read_text())
    calls = summary["syscalls"]["syscalls"]
    assert calls.get("read", 0) > 100 and calls.get("write", 0) > 100, calls
    assert summary["uprobes"]["calls"] > 100 and summary["uprobes"]["reads"] > 0
    assert summary["flamegraph"]["samples"] > 10
    svg = (got / "flamegraph.svg").read_text()
    assert svg.startswith("<?xml") and "<svg" in svg and "redis-server" in svg
    assert "read" in (got / "syscalls.txt").read_text()
