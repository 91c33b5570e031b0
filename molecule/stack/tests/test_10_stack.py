"""The stack on the server: every service runs, in disgrafs.slice, listens
where it should (HTTP checked from the test host), and keeps its secrets to
itself."""

import json
import re
import shlex

import pytest

from conftest import STACK_UNITS, TIME_FACTOR

testinfra_hosts = ["ansible://lab_server"]


@pytest.mark.parametrize("unit", STACK_UNITS)
def test_service_runs_enabled_in_the_lab_slice(host, unit):
    svc = host.service(unit)
    assert svc.is_running, host.run(f"systemctl status --no-pager {unit}").stdout
    assert svc.is_enabled
    assert host.check_output(f"systemctl show -p Slice --value {unit}") == "disgrafs.slice"
    cgroup = host.check_output(f"systemctl show -p ControlGroup --value {unit}")
    assert cgroup == f"/disgrafs.slice/{unit}"


@pytest.mark.parametrize("unit", STACK_UNITS)
def test_service_starts_after_the_bypass(host, unit):
    after = host.check_output(f"systemctl show -p After --value {unit}").split()
    assert "disgrafs-lab-sockredir.service" in after


def test_listeners_are_on_the_lab_network_and_loopback_only(host, settings):
    lab = settings["address"]
    listening = {line.split()[3] for line in host.check_output("ss -Hltn").splitlines()}
    for addr in ("127.0.0.1:6379", f"{lab}:6379", f"{lab}:7687", f"{lab}:7474",
                 f"{lab}:8080", f"{lab}:8333"):
        assert addr in listening, addr
    for port in (6379, 7687, 7474, 8080, 8333, 9333, 8383, 8888):
        for wildcard in (f"0.0.0.0:{port}", f"*:{port}", f"[::]:{port}"):
            assert wildcard not in listening, f"{wildcard}: listening on every interface"


def test_redis_wants_the_password(host, settings):
    out = host.run(f"redis-cli -h {settings['address']} ping")
    assert "NOAUTH" in out.stdout + out.stderr
    conf = host.file("/etc/redis/redis.conf").content_string
    assert "include /etc/redis/disgrafs-lab.conf" in conf
    extra = host.file("/etc/redis/disgrafs-lab.conf")
    assert extra.mode == 0o640 and extra.user == "redis"
    assert "appendonly yes" in extra.content_string


def test_object_store_refuses_anonymous_access(host, tester, settings):
    status = tester.check_output(f"curl -s -o /dev/null -w '%{{http_code}}' http://{settings['address']}:8333/")
    assert status == "403"
    assert host.file("/etc/seaweedfs/s3.json").mode == 0o640


def test_juicefs_is_mounted_with_a_cache_dir(host):
    mount = host.check_output("findmnt --noheadings --output FSTYPE,SOURCE --mountpoint /mnt/disgrafs")
    assert mount.split() == ["fuse.juicefs", "JuiceFS:disgrafs"]
    cmd = host.check_output("systemctl show -p ExecStart --value juicefs-disgrafs.service")
    assert "--cache-dir /var/cache/juicefs" in cmd and " -d " not in cmd
    # the foreground mount is the unit's own process: systemd can stop it
    pids = host.check_output("systemctl show -p MainPID --value juicefs-disgrafs.service")
    assert int(pids) > 0


def test_secrets_stay_off_command_lines_and_out_of_reach(host, settings):
    args = host.check_output("ps -eo args")
    for secret in (settings["token"], settings["neo4j_password"]):
        assert secret not in args
    redis_pw = host.file("/etc/juicefs/disgrafs.env").content_string.split("=", 1)[1].strip()
    assert redis_pw and redis_pw not in args
    for path, mode in (("/etc/juicefs/disgrafs.env", 0o600), ("/etc/disgrafs/token", 0o640),
                       ("/etc/disgrafs/neo4j_password", 0o640), ("/etc/neo4j/neo4j.conf", 0o640)):
        assert host.file(path).mode == mode, path


def test_neo4j_start_check_fails_at_once_when_the_jvm_dies(host):
    """neo4j.service is "started" only when Bolt answers. systemd keeps waiting
    for that check even after the main process died (a JVM crash), so the
    check itself must notice, or a crash costs the whole start timeout. The
    unit's own check runs here in a transient unit whose main process dies
    and whose port never opens."""
    lines = [line for line in host.check_output("systemctl cat neo4j.service").splitlines()
             if line.startswith("ExecStartPost=") and "/dev/tcp/" in line]
    assert lines, "neo4j.service has no Bolt start check"
    check = re.sub(r"/dev/tcp/([^/]+)/\d+\)", r"/dev/tcp/127.0.0.1/9)", lines[-1])  # discard: closed
    unit = "dgf-neo4j-startcheck-test"
    log = f"/run/{unit}.log"
    try:
        out = host.run(f"timeout {int(120 * TIME_FACTOR)} systemd-run --quiet --wait --unit={unit} "
                       f"-p Type=simple -p StandardError=file:{log} -p {shlex.quote(check)} "
                       "/bin/sh -c 'sleep 1; kill -ABRT $$$$'")  # systemd makes $$$$ $$
        assert out.rc not in (0, 124), f"rc={out.rc}: {out.stdout}{out.stderr}"
        assert "exited before Bolt listened" in host.file(log).content_string
    finally:
        host.run(f"systemctl stop {unit}; systemctl reset-failed {unit}; rm -f {log}")


def test_neo4j_browser_is_served(tester, settings):
    status = tester.check_output(
        f"curl -s -o /dev/null -w '%{{http_code}}' http://{settings['address']}:7474/browser/")
    assert status == "200"


def test_disgrafs_is_healthy_with_neo4j(tester, settings):
    body = json.loads(tester.check_output(f"curl -sf {settings['url']}/healthz"))
    assert body["status"] == "ok"
    assert body["backend"] == "neo4j"
