"""redis_latency on the lab server: attached to the socket tracepoints, pointed at
the running redis-server, and its per-command counts equal what
redis-benchmark sent (and what redis itself counted in INFO commandstats)."""

import json
import re
import time

from conftest import PIN_ROOT, labctl_json, status

testinfra_hosts = ["ansible://lab_server"]
N_ECHO, N_PFADD = 3000, 2000


def redis_auth(host) -> str:
    """-a PASSWORD when roles/redis set one (the lab), else nothing.
    (redis-benchmark knows no --no-auth-warning; redis-cli calls add it.)"""
    conf = host.run("cat /etc/redis/disgrafs-lab.conf 2>/dev/null").stdout
    m = re.search(r"^requirepass\s+\"?([^\"\s]+)", conf, re.M)
    return f"-a {m.group(1)}" if m else ""


def commandstats(host) -> dict:
    text = host.check_output(f"redis-cli {redis_auth(host)} --no-auth-warning INFO commandstats")
    return {m.group(1).upper(): int(m.group(2))
            for m in re.finditer(r"cmdstat_(\w+):calls=(\d+)", text)}


def monitor_counts(host) -> dict:
    data = labctl_json(host, "redis-latency", "--once")
    return {cmd: s["count"] for cmd, s in data["commands"].items()}


def test_attached_to_the_running_redis_server(host):
    info = status(host, "redis_latency")
    assert info["loaded"] and info["attached"], info
    pid = int(host.check_output("pidof redis-server").split()[0])
    assert info["target_pid"] == pid and info["target_alive"]
    for link in ("sock_recv_length", "sock_send_length"):
        assert host.file(f"{PIN_ROOT}/redis_latency/links/{link}").exists
    # cross-check with the kernel: live raw tracepoint links of our programs
    links = json.loads(host.check_output("bpftool -j link show"))
    ours = {l["tp_name"] for l in links if l["type"] == "raw_tracepoint"
            and l["prog_id"] in {p["id"] for p in info["programs"]}}
    assert ours == {"sock_recv_length", "sock_send_length"}


def batched_firsts(auth: str, clients: int) -> int:
    """Commands the monitor cannot see: with a password, redis-benchmark
    writes AUTH and each connection's first command in one batch, and the
    monitor counts only the first command of a batch (docs/labs/06)."""
    return clients if auth else 0


def test_counts_equal_what_redis_benchmark_sent(host):
    before, redis_before = monitor_counts(host), commandstats(host)
    auth = redis_auth(host)
    host.check_output(f"redis-benchmark {auth} -h 127.0.0.1 -n {N_ECHO} -c 4 -q ECHO labcheck")
    host.check_output(f"redis-benchmark {auth} -h 127.0.0.1 -n {N_PFADD} -c 4 -q PFADD labcheck-hll x")
    after, redis_after = monitor_counts(host), commandstats(host)
    assert after.get("ECHO", 0) - before.get("ECHO", 0) == N_ECHO - batched_firsts(auth, 4)
    assert after.get("PFADD", 0) - before.get("PFADD", 0) == N_PFADD - batched_firsts(auth, 4)
    assert redis_after["ECHO"] - redis_before.get("ECHO", 0) == N_ECHO  # redis agrees
    info = status(host, "redis_latency")
    assert info["commands"]["ECHO"]["p50_us"] > 0
    assert info["counters"]["table_full"] == 0


def test_follows_a_restarted_redis_server(host):
    old = status(host, "redis_latency")["target_pid"]
    host.check_output("systemctl restart redis-server")
    new_pid = int(host.check_output("pidof redis-server").split()[0])
    assert new_pid != old
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and status(host, "redis_latency")["target_pid"] != new_pid:
        time.sleep(0.5)
    assert status(host, "redis_latency")["target_pid"] == new_pid
    before = monitor_counts(host).get("ECHO", 0)
    auth = redis_auth(host)
    host.check_output(f"redis-benchmark {auth} -h 127.0.0.1 -n 500 -c 2 -q ECHO again")
    assert monitor_counts(host)["ECHO"] - before == 500 - batched_firsts(auth, 2)


def test_prometheus_exporter_serves_the_histograms(host):
    assert host.service("disgrafs-lab-exporter.service").is_running
    body = ""
    for _ in range(20):
        body = host.run("python3 -c \"import urllib.request as u; print(u.urlopen('http://127.0.0.1:9435/metrics').read().decode())\"").stdout
        if body:
            break
        time.sleep(0.5)
    assert "# TYPE disgrafs_redis_command_duration_seconds histogram" in body
    m = re.search(r'disgrafs_redis_command_duration_seconds_count\{command="ECHO"\} (\d+)', body)
    # at least what the two tests above counted
    auth = redis_auth(host)
    assert m and int(m.group(1)) >= N_ECHO - batched_firsts(auth, 4) + 500 - batched_firsts(auth, 2)
