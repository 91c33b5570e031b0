"""roles/monitoring on the lab server (playbooks/monitoring.yml, last in
site.yml): Prometheus on the lab address scrapes every part of the lab, every
target is up, each recording rule returns data after this file's own traffic
(uploads and downloads through DisGraFS from the test host, Redis commands on
the server), and a Redis p50 from Prometheus agrees with labctl's own
histogram. Prometheus is queried over its HTTP API from this machine (the
control machine) at the server's lab address, as a student's browser would.
"""

import json
import math
import os
import re
import time
import urllib.parse
import urllib.request

import pytest

from conftest import TIME_FACTOR, workload

TRAFFIC_DIR = "/var/tmp/dgf-monitoring"
JOBS = {"prometheus", "labctl", "disgrafs", "juicefs", "seaweedfs", "node", "redis"}
RATES = ["lab:disgrafs_sockredir_redirects:rate1m", "lab:disgrafs_upload_bytes:rate1m",
         "lab:disgrafs_download_bytes:rate1m", "lab:juicefs_read_bytes:rate1m",
         "lab:juicefs_written_bytes:rate1m", "lab:juicefs_meta_ops:rate1m",
         "command:disgrafs_redis_commands:rate1m"]
QUANTILES = ["command:disgrafs_redis_command_duration_seconds:p50_1m",
             "command:disgrafs_redis_command_duration_seconds:p99_1m"]


@pytest.fixture(scope="module")
def prometheus(settings):
    return f"http://{settings['address']}:9090"


def query(base: str, expr: str) -> list[dict]:
    url = f"{base}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"
    with urllib.request.urlopen(url, timeout=10) as resp:
        body = json.load(resp)
    assert body["status"] == "success", body
    return body["data"]["result"]


def values(base: str, expr: str) -> list[float]:
    return [float(r["value"][1]) for r in query(base, expr)]


def redis_auth(server) -> str:
    conf = server.run("cat /etc/redis/disgrafs-lab.conf").stdout
    return re.search(r"^requirepass\s+\"?([^\"\s]+)", conf, re.M).group(1)


def listeners(server) -> set:
    return {line.split()[3] for line in server.check_output("ss -ltnH").splitlines()}


def test_prometheus_on_the_lab_address_exporters_on_loopback(server, settings):
    ours = listeners(server)
    assert f"{settings['address']}:9090" in ours
    assert "127.0.0.1:9100" in ours and "127.0.0.1:9121" in ours
    for port in ("9090", "9100", "9121"):
        assert not {f"0.0.0.0:{port}", f"*:{port}", f"[::]:{port}"} & ours, port


def test_the_test_host_reaches_prometheus(tester, settings):
    url = f"http://{settings['address']}:9090/-/ready"
    out = tester.run(f"python3 -c 'import urllib.request; print(urllib.request.urlopen(\"{url}\").status)'")
    assert out.rc == 0 and out.stdout.strip() == "200", out.stderr


def test_redis_password_is_in_no_command_line_or_environment(server):
    password = redis_auth(server)
    secret = server.file("/etc/prometheus/redis-exporter-password.json")
    assert secret.user == "root" and secret.group == "prometheus" and secret.mode == 0o640
    assert password not in server.check_output("ps -eo args")
    pid = server.check_output("systemctl show -p MainPID --value prometheus-redis-exporter.service").strip()
    assert pid != "0"
    environ = server.run(f"cat /proc/{pid}/environ").stdout
    assert password not in environ


def test_every_target_is_up(prometheus):
    deadline = time.time() + 120 * TIME_FACTOR
    while True:
        with urllib.request.urlopen(f"{prometheus}/api/v1/targets", timeout=10) as resp:
            active = json.load(resp)["data"]["activeTargets"]
        health = {t["labels"]["job"]: (t["health"], t["lastError"]) for t in active}
        if set(health) >= JOBS and all(h == "up" for h, _ in health.values()):
            return
        if time.time() > deadline:
            pytest.fail(f"targets not all up: {health}")
        time.sleep(3)


@pytest.fixture(scope="module")
def traffic(server, tester, settings):
    """This file's own traffic: uploads and downloads through DisGraFS from the
    test host (JuiceFS reads and writes, metadata), Redis commands on the server."""
    stamp = int(time.time())
    tester.run(f"rm -rf {TRAFFIC_DIR} && mkdir -p {TRAFFIC_DIR}")
    for i in range(3):
        tester.check_output(f"head -c 2M /dev/urandom > {TRAFFIC_DIR}/monitoring-{stamp}-{i}.bin")
    records = workload(tester, "upload", settings["url"], settings["token"], TRAFFIC_DIR)
    ids = [r["id"] for r in records.values()]
    # Downloads go through the JuiceFS mount: drop the page cache so reads
    # reach the FUSE client.
    for _ in range(3):
        server.run("sync; echo 1 > /proc/sys/vm/drop_caches")
        workload(tester, "download", settings["url"], *ids)
    server.check_output(f"redis-benchmark -a {redis_auth(server)} -h 127.0.0.1 -n 20000 -c 4 -q -t get,set")
    yield {"names": list(records), "ids": ids}
    workload(tester, "purge", settings["url"], settings["token"], *records)
    tester.run(f"rm -rf {TRAFFIC_DIR}")


@pytest.mark.parametrize("record", RATES + QUANTILES)
def test_each_recording_rule_returns_data_after_the_traffic(prometheus, traffic, record):
    # Over the last 5 minutes: the traffic may be more than the rule's 1 m ago
    # when this check runs.
    deadline = time.time() + 90 * TIME_FACTOR
    while True:
        got = values(prometheus, f"max_over_time({record}[5m])")
        ok = [v for v in got if not math.isnan(v) and v > 0]
        if ok:
            return
        if time.time() > deadline:
            pytest.fail(f"{record}: {got} (no positive sample within 90 s of the traffic)")
        time.sleep(5)


def test_redis_p50_from_prometheus_agrees_with_labctl(server, prometheus, traffic):
    # No new commands from us; wait for one more scrape so both read the same maps.
    time.sleep(20)
    labctl = json.loads(server.check_output("/usr/local/sbin/labctl redis-latency --json"))["commands"]
    command = max(labctl, key=lambda c: labctl[c]["count"])
    ours = labctl[command]["p50_us"] / 1e6
    expr = f'histogram_quantile(0.5, sum by (le) (disgrafs_redis_command_duration_seconds_bucket{{command="{command}"}}))'
    theirs = values(prometheus, expr)
    assert theirs and theirs[0] > 0, f"{expr}: {theirs}"
    assert ours / 2 <= theirs[0] <= ours * 2, f"{command}: Prometheus p50 {theirs[0]} s, labctl {ours} s"


def test_scrape_overhead_is_small(server):
    """CPU of Prometheus and the exporters over 60 s (utime+stime from /proc)."""
    units = ["prometheus", "prometheus-node-exporter", "prometheus-redis-exporter", "disgrafs-lab-exporter"]
    pids = {u: server.check_output(f"systemctl show -p MainPID --value {u}.service").strip() for u in units}

    def ticks():
        return {u: sum(int(x) for x in server.check_output(f"cat /proc/{p}/stat").rsplit(")", 1)[1].split()[11:13])
                for u, p in pids.items()}

    hz = int(server.check_output("getconf CLK_TCK"))
    before, t0 = ticks(), time.time()
    time.sleep(60)
    after, elapsed = ticks(), time.time() - t0
    share = {u: (after[u] - before[u]) / hz / elapsed for u in units}
    report = {"cores_share": {u: round(v, 4) for u, v in share.items()}, "total": round(sum(share.values()), 4),
              "seconds": round(elapsed, 1)}
    print("scrape overhead:", json.dumps(report))
    out = os.environ.get("LAB_MONITORING_OVERHEAD")
    if out:
        with open(out, "w", encoding="utf-8") as f:
            json.dump(report, f)
    # One scrape every 15 s of seven targets: far below a tenth of one core.
    assert sum(share.values()) < 0.25, report
