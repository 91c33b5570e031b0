"""Last (marked `teardown`: molecule/conftest.py runs these after every other
check, in file order): playbooks/teardown-stack.yml removes the stack's
services and mounts cleanly (no juicefs process left) and changes nothing the
second time; the stack then comes back with playbooks/stack.yml and the files
are still there (the in-place equivalent of `make lab` after `make lab-down`)."""

import pytest

from conftest import STACK_UNITS, seconds, tags_in_graph, workload
from playbook_run import recap_changed, run_playbook

# No parametrized `host` fixture here: pytest would reorder the tests around
# it, and these must run in file order. `server` is the lab server.
pytestmark = pytest.mark.teardown


def test_teardown_removes_services_and_mounts_and_is_idempotent(server):
    first = run_playbook("playbooks/teardown-stack.yml")
    assert recap_changed(first) > 0
    assert recap_changed(run_playbook("playbooks/teardown-stack.yml")) == 0
    for unit in STACK_UNITS:
        # gone (exit 4) or, for the packaged redis-server, inactive and disabled
        assert server.run(f"systemctl is-active {unit}").stdout.strip() != "active", unit
        assert server.run(f"systemctl is-enabled {unit}").stdout.strip() != "enabled", unit
    for path in ("/etc/systemd/system/juicefs-disgrafs.service", "/etc/systemd/system/disgrafs.service",
                 "/etc/systemd/system/neo4j.service", "/etc/systemd/system/seaweedfs.service",
                 "/etc/systemd/system/redis-server.service.d/disgrafs-lab.conf",
                 "/etc/juicefs/disgrafs.env", "/etc/disgrafs/token"):
        assert not server.file(path).exists, path
    assert server.run("findmnt --mountpoint /mnt/disgrafs").rc != 0
    assert server.run("findmnt -n -t fuse.juicefs").stdout.strip() == ""
    # "[j]uicefs": the pattern must not match the shell that runs pgrep
    for pattern in ("[j]uicefs mount", "[w]eed server", "[C]ommunityEntryPoint", "[d]isgrafs serve",
                    "[r]edis-server"):
        assert server.run(f"pgrep -f '{pattern}'").rc == 1, f"left running: {pattern}"


def test_the_stack_comes_back_with_the_same_files(server, tester, settings, bolt, files):
    run_playbook("playbooks/stack.yml")
    workload(tester, "health", settings["url"], "--timeout", seconds(180))
    kept = files.kept()
    got = workload(tester, "download", settings["url"], *[r["id"] for r in kept.values()])
    for name, rec in kept.items():
        assert got[rec["id"]]["sha256"] == files.sha[name], name
        assert tags_in_graph(bolt, name)["sha256"] == files.sha[name]
